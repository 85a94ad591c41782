// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the netdev generic-netlink decoder (nft-backend/netdev.c) on
 * messages built in memory: a DEV_GET reply and each notification give the
 * device and its XDP features, a deletion says so, and a message of another
 * family or command, a short one, one without an ifindex or with an
 * attribute of the wrong size is refused rather than believed.
 */
#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "t.h"
#include "nft-backend/netdev.h"

#define FAMILY 0x1f

enum { A_IFINDEX = 1, A_PAD = 2, A_XDP = 3, A_ZC = 4 };

static struct nlmsghdr *msg(char *buf, __u16 type, __u8 cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

int main(void)
{
	static const struct {
		__u8 cmd;
		bool gone;
		const char *name;
	} cmds[] = {
		{ 1, false, "DEV_GET reply" },
		{ 2, false, "DEV_ADD_NTF" },
		{ 3, true, "DEV_DEL_NTF" },
		{ 4, false, "DEV_CHANGE_NTF" },
	};
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	__u64 features;
	unsigned int i;
	int ifindex;
	bool gone;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		nlh = msg(buf, FAMILY, cmds[i].cmd);
		mnl_attr_put_u32(nlh, A_IFINDEX, 7);
		mnl_attr_put_u64(nlh, A_XDP, PFD_XDP_ACT_BASIC | PFD_XDP_ACT_NDO_XMIT);
		mnl_attr_put_u32(nlh, A_ZC, 1); /* a newer attribute: ignored */
		ifindex = 0;
		T_OK(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), cmds[i].name);
		T_EQ(ifindex, 7, cmds[i].name);
		T_EQ(features, PFD_XDP_ACT_BASIC | PFD_XDP_ACT_NDO_XMIT, cmds[i].name);
		T_EQ(gone, cmds[i].gone, cmds[i].name);
	}

	/* a veth whose peer cannot receive: no NDO_XMIT */
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u32(nlh, A_IFINDEX, 9);
	mnl_attr_put_u64(nlh, A_XDP, PFD_XDP_ACT_BASIC | PFD_XDP_ACT_REDIRECT);
	T_OK(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), "no NDO_XMIT");
	T_EQ(!!(features & PFD_XDP_ACT_NDO_XMIT), 0, "no NDO_XMIT: bit clear");

	/* no XDP features attribute at all: none */
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u32(nlh, A_IFINDEX, 9);
	T_OK(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), "no features attr");
	T_EQ(features, 0, "no features attr: 0");

	nlh = msg(buf, FAMILY + 1, 4);
	mnl_attr_put_u32(nlh, A_IFINDEX, 9);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EOPNOTSUPP,
	     "another family");
	nlh = msg(buf, FAMILY, 9);
	mnl_attr_put_u32(nlh, A_IFINDEX, 9);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EOPNOTSUPP,
	     "page-pool or other command");
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u64(nlh, A_XDP, PFD_XDP_ACT_NDO_XMIT);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EINVAL, "no ifindex");
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u32(nlh, A_IFINDEX, 0);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EINVAL, "ifindex 0");
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u16(nlh, A_IFINDEX, 9);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EINVAL,
	     "ifindex of the wrong size");
	nlh = msg(buf, FAMILY, 4);
	mnl_attr_put_u32(nlh, A_IFINDEX, 9);
	mnl_attr_put_u32(nlh, A_XDP, 4);
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EINVAL,
	     "features of the wrong size");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = FAMILY;
	T_EQ(pfd_netdev_parse(nlh, FAMILY, &ifindex, &features, &gone), -EINVAL, "no genl header");
	return t_done();
}
