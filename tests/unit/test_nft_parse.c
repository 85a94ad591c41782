// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the nftables message parsers (nft-backend/nft.c): flowtable
 * and chain messages built with libnftnl, as the kernel would send them in a
 * dump, and NEWGEN messages built with libmnl. Checks every field pfd uses,
 * the netdev-chain rows (one per device, inet ingress included, other chains
 * none), the synproxy statements of rules and objects (libnftnl's encoding,
 * and hand-built ones libnftnl would not parse), and refusal of damaged
 * messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
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

/* A rule: tcp dport 80, then one synproxy expression per entry of sp
 * (mss 0: a counter instead), as nft(8) would send it. */
static struct nlmsghdr *build_rule(char *buf, const struct pfd_nft_synproxy *sp, int n)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	int i;

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "in");
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, 4);
	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set_u16(e, NFTNL_EXPR_CMP_DATA, htons(80));
	nftnl_rule_add_expr(r, e);
	for (i = 0; i < n; i++) {
		if (!sp[i].mss) {
			nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
			continue;
		}
		e = nftnl_expr_alloc("synproxy");
		nftnl_expr_set_u16(e, NFTNL_EXPR_SYNPROXY_MSS, sp[i].mss);
		nftnl_expr_set_u8(e, NFTNL_EXPR_SYNPROXY_WSCALE, sp[i].wscale);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SYNPROXY_FLAGS, sp[i].flags);
		nftnl_rule_add_expr(r, e);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_MULTI, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlh;
}

static struct nlmsghdr *build_obj(char *buf, uint32_t type, const struct pfd_nft_synproxy *sp)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, "t");
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "o1");
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, type);
	if (type == NFT_OBJECT_SYNPROXY) {
		nftnl_obj_set_u16(o, NFTNL_OBJ_SYNPROXY_MSS, sp->mss);
		nftnl_obj_set_u8(o, NFTNL_OBJ_SYNPROXY_WSCALE, sp->wscale);
		nftnl_obj_set_u32(o, NFTNL_OBJ_SYNPROXY_FLAGS, sp->flags);
	} else {
		nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, 5);
		nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, 500);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_MULTI, 1);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	return nlh;
}

static bool sp_eq(const struct pfd_nft_synproxy *a, unsigned int mss, unsigned int wscale,
		  uint32_t flags)
{
	return a->mss == mss && a->wscale == wscale && a->flags == flags;
}

static void test_synproxy(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct pfd_nft_synproxy full = { 1460, 7, 0xf }, two[3] = {
		{ 1460, 7, 0xf },
		{ 0, 0, 0 }, /* a counter between */
		{ 1400, 5, NF_SYNPROXY_OPT_MSS | NF_SYNPROXY_OPT_WSCALE },
	};
	struct pfd_nft_synproxy rows[4];
	struct nlmsghdr *nlh;
	unsigned int n;

	T_OK(pfd_nft_parse_synproxy(build_rule(buf, &full, 1), rows, 4, &n),
	     "synproxy rule: parses");
	T_EQ(n, 1, "synproxy rule: one row");
	T_TRUE(sp_eq(&rows[0], 1460, 7, 0xf), "synproxy rule: mss, wscale, flags");

	T_OK(pfd_nft_parse_synproxy(build_rule(buf, two, 3), rows, 4, &n),
	     "two synproxy expressions: parse");
	T_EQ(n, 2, "two synproxy expressions: two rows");
	T_TRUE(sp_eq(&rows[0], 1460, 7, 0xf) && sp_eq(&rows[1], 1400, 5, 3),
	       "two synproxy expressions: in rule order");
	T_EQ(pfd_nft_parse_synproxy(build_rule(buf, two, 3), rows, 1, &n), -E2BIG,
	     "two synproxy expressions, room for one: -E2BIG");
	T_EQ(n, 1, "-E2BIG: the first row filled");
	T_EQ(pfd_nft_parse_synproxy(build_rule(buf, two, 3), NULL, 0, &n), -E2BIG,
	     "two synproxy expressions, no room: -E2BIG");
	T_OK(pfd_nft_parse_synproxy(build_rule(buf, NULL, 0), rows, 4, &n),
	     "rule without synproxy: parses");
	T_EQ(n, 0, "rule without synproxy: no row");

	T_OK(pfd_nft_parse_synproxy(build_obj(buf, NFT_OBJECT_SYNPROXY, &two[2]), rows, 4, &n),
	     "synproxy object: parses");
	T_EQ(n, 1, "synproxy object: one row");
	T_TRUE(sp_eq(&rows[0], 1400, 5, 3), "synproxy object: mss, wscale, flags");
	T_OK(pfd_nft_parse_synproxy(build_obj(buf, NFT_OBJECT_COUNTER, NULL), rows, 4, &n),
	     "counter object: parses");
	T_EQ(n, 0, "counter object: no row (its u64 data is not synproxy's)");

	nlh = build_rule(buf, &full, 1);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN;
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "synproxy: a chain refused");
	nlh = build_rule(buf, &full, 1);
	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | NFT_MSG_NEWRULE;
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL,
	     "synproxy: another subsystem refused");
	nlh = build_rule(buf, &full, 1);
	nlh->nlmsg_len = NLMSG_LENGTH(2);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "synproxy: no nfgenmsg refused");
	nlh = build_rule(buf, &full, 1);
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	T_OK(pfd_nft_parse_synproxy(nlh, rows, 4, &n), "rule without attributes: parses");
	T_EQ(n, 0, "rule without attributes: no row");
}

/* An expression as the kernel could send it, built by hand: name (NULL:
 * none), then data (ndata < 0: no data attribute). */
static void put_expr(struct nlmsghdr *nlh, const char *name, const struct nlattr *const *data,
		     int ndata)
{
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d;
	int i;

	if (name)
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	if (ndata >= 0) {
		d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA | NLA_F_NESTED);
		for (i = 0; i < ndata; i++)
			mnl_attr_put(nlh, mnl_attr_get_type(data[i]),
				     mnl_attr_get_payload_len(data[i]),
				     mnl_attr_get_payload(data[i]));
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, elem);
}

static struct nlmsghdr *rule_hdr(char *buf)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_MULTI, 1);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	return nlh;
}

/* Attributes of the kind libnftnl would exit() on or crash over, and
 * expressions it does not know: refused, or skipped, never fatal. */
static void test_synproxy_hostile(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], abuf[256];
	struct pfd_nft_synproxy rows[4];
	const struct nlattr *data[3];
	struct nlattr *mss, *ws, *ws2, *fl, *fl2, *l, *e;
	struct nlmsghdr *nlh, *a;
	unsigned int n;

	/* Attributes to copy from: a scratch message. */
	memset(abuf, 0, sizeof(abuf));
	a = mnl_nlmsg_put_header(abuf);
	mss = mnl_nlmsg_get_payload_tail(a);
	mnl_attr_put_u16(a, NFTA_SYNPROXY_MSS, htons(1460));
	ws = mnl_nlmsg_get_payload_tail(a);
	mnl_attr_put_u8(a, NFTA_SYNPROXY_WSCALE, 7);
	ws2 = mnl_nlmsg_get_payload_tail(a);
	mnl_attr_put_u16(a, NFTA_SYNPROXY_WSCALE, 7);
	fl = mnl_nlmsg_get_payload_tail(a);
	mnl_attr_put_u32(a, NFTA_SYNPROXY_FLAGS, htonl(0xf));
	fl2 = mnl_nlmsg_get_payload_tail(a);
	mnl_attr_put_u16(a, NFTA_SYNPROXY_FLAGS, htons(0xf));

	/* The kernel's shape (NLA_F_NESTED), after an expression libnftnl
	 * does not know (its rule parser refuses the whole rule then) and an
	 * element without a name (which libnftnl dereferences). */
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
	data[0] = mss;
	put_expr(nlh, "frobnicate-from-2031", data, 1);
	put_expr(nlh, NULL, data, 1);
	data[0] = mss, data[1] = ws, data[2] = fl;
	put_expr(nlh, "synproxy", data, 3);
	mnl_attr_nest_end(nlh, l);
	T_OK(pfd_nft_parse_synproxy(nlh, rows, 4, &n), "unknown and nameless expressions: parse");
	T_EQ(n, 1, "unknown and nameless expressions: skipped, synproxy found");
	T_TRUE(sp_eq(&rows[0], 1460, 7, 0xf), "kernel-shaped synproxy: values");

	/* synproxy with no data, and with only flags: the rest 0. */
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	put_expr(nlh, "synproxy", NULL, -1);
	data[0] = fl;
	put_expr(nlh, "synproxy", data, 1);
	mnl_attr_nest_end(nlh, l);
	T_OK(pfd_nft_parse_synproxy(nlh, rows, 4, &n), "synproxy without data: parses");
	T_EQ(n, 2, "synproxy without data: two rows");
	T_TRUE(sp_eq(&rows[0], 0, 0, 0) && sp_eq(&rows[1], 0, 0, 0xf),
	       "synproxy without data: missing reads as 0");

	/* Wrong sizes: refused. */
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	data[0] = mss, data[1] = ws2, data[2] = fl;
	put_expr(nlh, "synproxy", data, 3);
	mnl_attr_nest_end(nlh, l);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "2-byte wscale refused");
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	data[0] = mss, data[1] = ws, data[2] = fl2;
	put_expr(nlh, "synproxy", data, 3);
	mnl_attr_nest_end(nlh, l);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "2-byte flags refused");
	/* ... but only for synproxy: another expression's data is its own. */
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	put_expr(nlh, "counter", data, 3);
	mnl_attr_nest_end(nlh, l);
	T_OK(pfd_nft_parse_synproxy(nlh, rows, 4, &n), "other expression, odd data: parses");
	T_EQ(n, 0, "other expression, odd data: no row");

	/* An unterminated expression name; parts that are not a nest. */
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put(nlh, NFTA_EXPR_NAME, 8, "synproxy");
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, l);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "unterminated name refused");
	nlh = rule_hdr(buf);
	mnl_attr_put_u16(nlh, NFTA_RULE_EXPRESSIONS, 1);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "2-byte expression list refused");
	nlh = rule_hdr(buf);
	l = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	mnl_attr_put_u16(nlh, NFTA_LIST_ELEM, 1);
	mnl_attr_nest_end(nlh, l);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "2-byte list element refused");

	/* Objects: a 2-byte type; synproxy data with a 2-byte wscale. */
	nlh = build_obj(buf, NFT_OBJECT_COUNTER, NULL);
	mnl_attr_put_u16(nlh, NFTA_OBJ_TYPE, 1);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL, "object: 2-byte type refused");
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_MULTI, 1);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_SYNPROXY));
	l = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u16(nlh, NFTA_SYNPROXY_WSCALE, 7);
	mnl_attr_nest_end(nlh, l);
	T_EQ(pfd_nft_parse_synproxy(nlh, rows, 4, &n), -EINVAL,
	     "synproxy object: 2-byte wscale refused");
}

/* Seeded random damage to synproxy rules and objects: 0 or -EINVAL, never
 * anything else, a crash or a read past nlmsg_len. */
static void test_synproxy_random(void)
{
	const char *env = getenv("T_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	const struct pfd_nft_synproxy sp[3] = { { 1460, 7, 0xf }, { 0, 0, 0 }, { 1400, 5, 3 } };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int i, ok = 0, refused = 0, other = 0;

	srandom(seed);
	for (i = 0; i < 20000; i++) {
		struct pfd_nft_synproxy rows[4];
		struct nlmsghdr *nlh;
		unsigned int len, k, n, flips = 1 + random() % 4;
		char *copy;
		int err;

		memset(buf, 0, sizeof(buf));
		nlh = i % 2 ? build_obj(buf, NFT_OBJECT_SYNPROXY, &sp[0]) : build_rule(buf, sp, 3);
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
		err = pfd_nft_parse_synproxy((struct nlmsghdr *)copy, rows, 4, &n);
		free(copy);
		if (!err && n <= 4)
			ok++;
		else if (err == -EINVAL)
			refused++;
		else
			other++;
	}
	if (other)
		printf("synproxy random: seed %u (rerun with T_SEED=%u)\n", seed, seed);
	T_EQ(other, 0, "synproxy random damage: only 0 or -EINVAL");
	T_TRUE(ok > 0 && refused > 0, "synproxy random damage: both outcomes seen");
}

int main(void)
{
	test_flowtable();
	test_hostile();
	test_random();
	test_chains();
	test_gen();
	test_synproxy();
	test_synproxy_hostile();
	test_synproxy_random();
	return t_done();
}
