// SPDX-License-Identifier: GPL-2.0-only
/*
 * The netdev generic-netlink family (see netdev.h): resolve the family and
 * its "mgmt" group through the genl controller, ask a device's XDP features
 * (NETDEV_CMD_DEV_GET), follow DEV_ADD/DEL/CHANGE notifications. All traffic
 * goes through nl.c (kernel-only sender, sequence check, bounded waits).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nft-backend/netdev.h"
#include "nft-backend/nl.h"

/* include/uapi/linux/netdev.h (Linux 6.3, "netdev-genl: create a simple
 * family for netdev stuff"); absent from Debian 12's headers. */
#define PFD_NETDEV_FAMILY	   "netdev"
#define PFD_NETDEV_MCGRP_MGMT	   "mgmt"
#define PFD_NETDEV_CMD_DEV_GET	   1
#define PFD_NETDEV_CMD_DEV_ADD_NTF 2
#define PFD_NETDEV_CMD_DEV_DEL_NTF 3
#define PFD_NETDEV_CMD_DEV_CHG_NTF 4
#define PFD_NETDEV_A_DEV_IFINDEX   1
#define PFD_NETDEV_A_DEV_XDP_FEATS 3

#define NETDEV_READ_BUDGET 256
/* Devices whose answer is kept; a router has a handful, more only cost a
 * netlink round trip on a miss. */
#define NETDEV_CACHE_SIZE 256

struct netdev_cache_ent {
	int ifindex; /* 0: empty */
	int err;
	__u64 features;
};

struct pfd_netdev {
	struct pfd_nl req, ev;
	__u16 family;
	__u32 mgmt_group;
	struct netdev_cache_ent cache[NETDEV_CACHE_SIZE];
};

struct family_arg {
	__u16 id;
	__u32 mgmt;
};

static int mcast_group_cb(const struct nlattr *grp, struct family_arg *fa)
{
	const struct nlattr *a, *name = NULL, *id = NULL;

	mnl_attr_for_each_nested (a, grp) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = a;
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
			 !mnl_attr_validate(a, MNL_TYPE_U32))
			id = a;
	}
	if (name && id && !strcmp(mnl_attr_get_str(name), PFD_NETDEV_MCGRP_MGMT))
		fa->mgmt = mnl_attr_get_u32(id);
	return 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct family_arg *fa = arg;
	const struct nlattr *a, *g;

	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EINVAL;
	mnl_attr_for_each (a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    !mnl_attr_validate(a, MNL_TYPE_U16))
			fa->id = mnl_attr_get_u16(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS) {
			mnl_attr_for_each_nested (g, a) {
				mcast_group_cb(g, fa);
			}
		}
	}
	return 0;
}

static struct nlmsghdr *genl_put(char *buf, __u16 type, __u8 cmd, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

int pfd_netdev_open(struct pfd_netdev **out)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct family_arg fa = { 0 };
	struct pfd_netdev *nd;
	struct nlmsghdr *nlh;
	int err;

	nd = calloc(1, sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	err = pfd_nl_open(&nd->req, NETLINK_GENERIC, 0, false);
	if (err)
		goto err_free;
	nlh = genl_put(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, PFD_NETDEV_FAMILY);
	err = pfd_nl_request(&nd->req, nlh, family_cb, &fa);
	if (err == -ENOENT || (!err && !fa.id))
		err = -EOPNOTSUPP; /* a kernel before 6.3 */
	if (err)
		goto err_close_req;
	nd->family = fa.id;
	nd->mgmt_group = fa.mgmt;
	/* A large buffer: a driver reload or a veth storm notifies every
	 * device at once, and a lost notification costs a full re-ask. */
	err = pfd_nl_open(&nd->ev, NETLINK_GENERIC, 1 << 20, true);
	if (err)
		goto err_close_req;
	if (!nd->mgmt_group) {
		err = -EOPNOTSUPP;
		goto err_close_ev;
	}
	err = pfd_nl_join(&nd->ev, nd->mgmt_group);
	if (err)
		goto err_close_ev;
	*out = nd;
	return 0;

err_close_ev:
	pfd_nl_close(&nd->ev);
err_close_req:
	pfd_nl_close(&nd->req);
err_free:
	free(nd);
	return err;
}

void pfd_netdev_close(struct pfd_netdev *nd)
{
	if (!nd)
		return;
	pfd_nl_close(&nd->ev);
	pfd_nl_close(&nd->req);
	free(nd);
}

int pfd_netdev_events_fd(const struct pfd_netdev *nd)
{
	return nd ? nd->ev.fd : -1;
}

int pfd_netdev_parse(const struct nlmsghdr *nlh, __u16 family, int *ifindex, __u64 *features,
		     bool *gone)
{
	const struct genlmsghdr *g;
	const struct nlattr *a;
	bool have_ifindex = false;

	if (nlh->nlmsg_type != family)
		return -EOPNOTSUPP;
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EINVAL;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->cmd != PFD_NETDEV_CMD_DEV_GET && g->cmd != PFD_NETDEV_CMD_DEV_ADD_NTF &&
	    g->cmd != PFD_NETDEV_CMD_DEV_DEL_NTF && g->cmd != PFD_NETDEV_CMD_DEV_CHG_NTF)
		return -EOPNOTSUPP;
	*features = 0;
	*gone = g->cmd == PFD_NETDEV_CMD_DEV_DEL_NTF;
	mnl_attr_for_each (a, nlh, GENL_HDRLEN) {
		switch (mnl_attr_get_type(a)) {
		case PFD_NETDEV_A_DEV_IFINDEX:
			if (mnl_attr_validate(a, MNL_TYPE_U32))
				return -EINVAL;
			*ifindex = (int)mnl_attr_get_u32(a);
			have_ifindex = *ifindex > 0;
			break;
		case PFD_NETDEV_A_DEV_XDP_FEATS:
			if (mnl_attr_validate(a, MNL_TYPE_U64))
				return -EINVAL;
			*features = mnl_attr_get_u64(a);
			break;
		default:
			break; /* newer attributes */
		}
	}
	return have_ifindex ? 0 : -EINVAL;
}

static struct netdev_cache_ent *cache_slot(struct pfd_netdev *nd, int ifindex)
{
	return &nd->cache[(unsigned int)ifindex % NETDEV_CACHE_SIZE];
}

struct dev_arg {
	__u16 family;
	int ifindex;
	__u64 features;
	bool found;
};

static int dev_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dev_arg *d = arg;
	int ifindex = 0;
	__u64 f;
	bool gone;

	if (pfd_netdev_parse(nlh, d->family, &ifindex, &f, &gone) || ifindex != d->ifindex)
		return 0;
	d->features = f;
	d->found = true;
	return 0;
}

int pfd_netdev_xdp_features(struct pfd_netdev *nd, int ifindex, __u64 *features)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct dev_arg d = { .ifindex = ifindex };
	struct netdev_cache_ent *c;
	struct nlmsghdr *nlh;
	int err;

	if (!nd)
		return -EOPNOTSUPP;
	if (ifindex <= 0)
		return -ENODEV;
	c = cache_slot(nd, ifindex);
	if (c->ifindex == ifindex) {
		*features = c->features;
		return c->err;
	}
	d.family = nd->family;
	nlh = genl_put(buf, nd->family, PFD_NETDEV_CMD_DEV_GET, 0);
	mnl_attr_put_u32(nlh, PFD_NETDEV_A_DEV_IFINDEX, (__u32)ifindex);
	err = pfd_nl_request(&nd->req, nlh, dev_cb, &d);
	if (!err && !d.found)
		err = -ENODEV;
	if (err && err != -ENODEV)
		return err; /* not cached: the next question asks again */
	c->ifindex = ifindex;
	c->err = err;
	c->features = err ? 0 : d.features;
	*features = c->features;
	return err;
}

int pfd_netdev_events_read(struct pfd_netdev *nd, void (*cb)(void *arg, int ifindex), void *arg)
{
	int ret = 0, i;

	for (i = 0; i < NETDEV_READ_BUDGET; i++) {
		const struct nlmsghdr *nlh;
		bool foreign;
		ssize_t n = pfd_nl_recv(&nd->ev, nd->ev.buf, PFD_NL_BUF_SIZE, &foreign);
		size_t left;

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			memset(nd->cache, 0, sizeof(nd->cache));
			ret = -ENOBUFS;
			if (cb)
				cb(arg, 0);
			continue;
		}
		if (n == -EMSGSIZE || foreign)
			continue;
		if (n < 0)
			return (int)n;
		for (nlh = (const struct nlmsghdr *)nd->ev.buf, left = (size_t)n;
		     pfd_nl_msg_ok(nlh, left); nlh = pfd_nl_next(nlh, &left)) {
			struct netdev_cache_ent *c;
			int ifindex = 0;
			__u64 f;
			bool gone, changed;

			if (pfd_netdev_parse(nlh, nd->family, &ifindex, &f, &gone))
				continue;
			c = cache_slot(nd, ifindex);
			changed = c->ifindex != ifindex || c->err || c->features != f || gone;
			/* the notification carries the new answer: keep it */
			c->ifindex = ifindex;
			c->err = gone ? -ENODEV : 0;
			c->features = gone ? 0 : f;
			if (changed && cb)
				cb(arg, ifindex);
		}
	}
	return ret;
}
