// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the nftables message parsers (nft-backend/nft.c): flowtable
 * and chain messages built with libnftnl, as the kernel would send them in a
 * dump, and NEWGEN messages built with libmnl. Checks every field pfd uses,
 * the netdev-chain rows (one per device, inet ingress included, other chains
 * none), and refusal of damaged messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/flowtable.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "t.h"
#include "nft-backend/nft.h"

static struct nlmsghdr *build_ft(char *buf, uint16_t family, const char *table, const char *name,
				 const char **devs, uint32_t flags)
{
	struct nftnl_flowtable *ft = nftnl_flowtable_alloc();
	struct nlmsghdr *nlh;

	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_TABLE, table);
	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_NAME, name);
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_flowtable_set_s32(ft, NFTNL_FLOWTABLE_PRIO, -10);
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_FLAGS, flags);
	if (devs)
		nftnl_flowtable_set_array(ft, NFTNL_FLOWTABLE_DEVICES, devs);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWFLOWTABLE, family, NLM_F_MULTI, 1);
	nftnl_flowtable_nlmsg_build_payload(nlh, ft);
	nftnl_flowtable_free(ft);
	return nlh;
}

static void test_flowtable(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 2];
	const char *devs[] = { "eth0", "eth1", "veth-x", NULL };
	const char *many[40];
	char names[40][IFNAMSIZ];
	struct pfd_flowtable ft;
	struct nlmsghdr *nlh;
	int i;

	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0x2 /* COUNTER */);
	T_OK(pfd_nft_parse_flowtable(nlh, &ft), "flowtable: parses");
	T_STR(ft.table, "filter", "flowtable: table");
	T_STR(ft.name, "ft", "flowtable: name");
	T_EQ(ft.family, NFPROTO_INET, "flowtable: family from nfgenmsg");
	T_EQ(ft.hooknum, NF_NETDEV_INGRESS, "flowtable: hook");
	T_EQ(ft.prio, -10, "flowtable: negative priority");
	T_EQ(ft.flags, 0x2, "flowtable: flags");
	T_EQ(ft.ndevs, 3, "flowtable: device count");
	T_STR(ft.devs[0], "eth0", "flowtable: dev 0");
	T_STR(ft.devs[2], "veth-x", "flowtable: dev 2");

	nlh = build_ft(buf, NFPROTO_IPV6, "t6", "f6", NULL, 0);
	T_OK(pfd_nft_parse_flowtable(nlh, &ft), "flowtable without devices: parses");
	T_EQ(ft.ndevs, 0, "flowtable without devices: none");
	T_EQ(ft.family, NFPROTO_IPV6, "flowtable without devices: family");

	/* More devices than pfd keeps: the first PFD_FT_MAX_DEVS. */
	for (i = 0; i < 39; i++) {
		snprintf(names[i], IFNAMSIZ, "d%d", i);
		many[i] = names[i];
	}
	many[39] = NULL;
	nlh = build_ft(buf, NFPROTO_INET, "t", "big", many, 0);
	T_OK(pfd_nft_parse_flowtable(nlh, &ft), "39 devices: parses");
	T_EQ(ft.ndevs, PFD_FT_MAX_DEVS, "39 devices: capped");
	T_STR(ft.devs[PFD_FT_MAX_DEVS - 1], "d31", "39 devices: order kept");

	/* Damage: wrong message type, a cut message, no nfgenmsg. */
	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN;
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: wrong type refused");
	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	nlh->nlmsg_len = NLMSG_LENGTH(2);
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: no nfgenmsg refused");
	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: no table/name refused");
}

static struct nlmsghdr *build_chain(char *buf, uint16_t family, const char *name, int hooknum,
				    const char *dev, const char **devs)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hooknum >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hooknum);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	}
	if (dev)
		nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
	if (devs)
		nftnl_chain_set_array(c, NFTNL_CHAIN_DEVICES, devs);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, family, NLM_F_MULTI, 1);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nlh;
}

static void test_chains(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const char *devs[] = { "eth0", "eth1", "eth2", NULL };
	struct pfd_nft_netdev_chain rows[4];
	unsigned int n;

	T_OK(pfd_nft_parse_chain(
		     build_chain(buf, NFPROTO_NETDEV, "in", NF_NETDEV_INGRESS, "eth0", NULL), rows,
		     4, &n),
	     "netdev ingress chain: parses");
	T_EQ(n, 1, "netdev ingress chain: one row");
	T_STR(rows[0].dev, "eth0", "netdev ingress chain: device");
	T_STR(rows[0].chain, "in", "netdev ingress chain: name");
	T_STR(rows[0].table, "t", "netdev ingress chain: table");
	T_EQ(rows[0].hooknum, NF_NETDEV_INGRESS, "netdev ingress chain: hook");

	T_OK(pfd_nft_parse_chain(
		     build_chain(buf, NFPROTO_NETDEV, "out", NF_NETDEV_EGRESS, NULL, devs), rows, 4,
		     &n),
	     "netdev egress chain, 3 devices: parses");
	T_EQ(n, 3, "netdev egress chain: one row per device");
	T_STR(rows[2].dev, "eth2", "netdev egress chain: third device");
	T_EQ(rows[1].hooknum, NF_NETDEV_EGRESS, "netdev egress chain: hook");
	T_EQ(pfd_nft_parse_chain(
		     build_chain(buf, NFPROTO_NETDEV, "out", NF_NETDEV_EGRESS, NULL, devs), rows, 2,
		     &n),
	     -E2BIG, "netdev egress chain: too many rows for the room");

	T_OK(pfd_nft_parse_chain(
		     build_chain(buf, NFPROTO_INET, "ing", NF_INET_INGRESS, "eth1", NULL), rows, 4,
		     &n),
	     "inet ingress chain: parses");
	T_EQ(n, 1, "inet ingress chain: counted (XDP skips it too)");
	T_EQ(rows[0].hooknum, NF_NETDEV_INGRESS, "inet ingress chain: reported as netdev ingress");

	T_OK(pfd_nft_parse_chain(build_chain(buf, NFPROTO_INET, "fwd", NF_INET_FORWARD, NULL, NULL),
				 rows, 4, &n),
	     "inet forward chain: parses");
	T_EQ(n, 0, "inet forward chain: not policy outside the forward path");
	T_OK(pfd_nft_parse_chain(build_chain(buf, NFPROTO_NETDEV, "reg", -1, NULL, NULL), rows, 4,
				 &n),
	     "regular netdev chain: parses");
	T_EQ(n, 0, "regular netdev chain: no hook, no row");
}

static struct nlmsghdr *build_gen(char *buf, bool with_id, uint32_t id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->res_id = htons(id & 0xffff);
	if (with_id) {
		mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(1234));
		mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(id));
		mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, "nft");
	}
	return nlh;
}

static void test_gen(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t gen = 0;

	T_OK(pfd_nft_parse_gen(build_gen(buf, true, 0x12345678), &gen), "newgen: parses");
	T_EQ(gen, 0x12345678, "newgen: id");
	T_EQ(pfd_nft_parse_gen(build_gen(buf, false, 1), &gen), -EINVAL, "newgen without id");
	nlh = build_gen(buf, true, 1);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE;
	T_EQ(pfd_nft_parse_gen(nlh, &gen), -EINVAL, "newtable is not newgen");
	nlh = build_gen(buf, true, 1);
	nlh->nlmsg_len -= 6; /* cuts into the attribute after the id */
	T_EQ(pfd_nft_parse_gen(nlh, &gen), 0, "newgen cut after the id: id still read");
	nlh = build_gen(buf, false, 1);
	mnl_attr_put_u16(nlh, NFTA_GEN_ID, 1);
	T_EQ(pfd_nft_parse_gen(nlh, &gen), -EINVAL, "newgen with a 2-byte id");
}

/* Attributes libnftnl would exit() on or read past: refused instead. */
static void test_hostile(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const char *devs[] = { "eth0", NULL };
	struct pfd_flowtable ft;
	struct pfd_nft_netdev_chain rows[4];
	struct nlmsghdr *nlh;
	struct nlattr *a;
	unsigned int n;

	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	mnl_attr_put_u16(nlh, NFTA_FLOWTABLE_FLAGS, 1); /* libnftnl: abi_breakage() */
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: 2-byte flags refused");
	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	mnl_attr_put(nlh, NFTA_FLOWTABLE_HANDLE, 4, "abcd");
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: 4-byte handle refused");
	/* The table name is the first attribute: drop its NUL. */
	nlh = build_ft(buf, NFPROTO_INET, "filter", "ft", devs, 0);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	((char *)mnl_attr_get_payload(a))[mnl_attr_get_payload_len(a) - 1] = 'x';
	T_EQ(pfd_nft_parse_flowtable(nlh, &ft), -EINVAL, "flowtable: unterminated name refused");
	nlh = build_chain(buf, NFPROTO_NETDEV, "in", NF_NETDEV_INGRESS, "eth0", NULL);
	mnl_attr_put(nlh, NFTA_CHAIN_POLICY, 0, NULL);
	T_EQ(pfd_nft_parse_chain(nlh, rows, 4, &n), -EINVAL, "chain: empty policy refused");
}

/* Seeded random damage to valid flowtable and chain messages: 0 or
 * -EINVAL, never an exit, a crash or a read past nlmsg_len (exactly sized
 * heap copies, for valgrind and SANITIZE=1). */
static void test_random(void)
{
	const char *env = getenv("T_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	const char *devs[] = { "eth0", "eth1", NULL };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int i, ok = 0, refused = 0, other = 0;

	srandom(seed);
	for (i = 0; i < 20000; i++) {
		struct nlmsghdr *nlh;
		unsigned int len, k, flips = 1 + random() % 4;
		struct pfd_nft_netdev_chain rows[4];
		struct pfd_flowtable ft;
		unsigned int n;
		char *copy;
		int err;

		/* libnftnl leaves attribute padding as it was: start clean. */
		memset(buf, 0, sizeof(buf));
		nlh = i % 2 ? build_ft(buf, NFPROTO_INET, "t", "f", devs, 1) :
			      build_chain(buf, NFPROTO_NETDEV, "c", NF_NETDEV_INGRESS, NULL, devs);
		len = nlh->nlmsg_len;
		for (k = 0; k < flips; k++)
			buf[sizeof(*nlh) + random() % (len - sizeof(*nlh))] = (char)random();
		if (random() % 2)
			len = sizeof(*nlh) + random() % (len - sizeof(*nlh) + 1);
		nlh->nlmsg_len = len;
		copy = malloc(len);
		if (!copy)
			break;
		memcpy(copy, buf, len);
		err = i % 2 ? pfd_nft_parse_flowtable((struct nlmsghdr *)copy, &ft) :
			      pfd_nft_parse_chain((struct nlmsghdr *)copy, rows, 4, &n);
		free(copy);
		if (!err)
			ok++;
		else if (err == -EINVAL)
			refused++;
		else
			other++;
	}
	if (other)
		printf("random: seed %u (rerun with T_SEED=%u)\n", seed, seed);
	T_EQ(other, 0, "random damage: only 0 or -EINVAL");
	T_TRUE(ok > 0 && refused > 0, "random damage: both outcomes seen");
}

int main(void)
{
	test_flowtable();
	test_hostile();
	test_random();
	test_chains();
	test_gen();
	return t_done();
}
