// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes the seed corpora of the libFuzzer targets (tests/fuzz/fuzz_*.c):
 * valid messages shaped like the kernel's, built with libmnl and libnftnl as
 * the unit tests build theirs, state files written by pfd_state_write()
 * itself, and argument lists for the CLI. `make fuzz-seeds` runs it into
 * tests/fuzz/corpus/<target>/; the output is committed, so that a fuzzing
 * run starts from every message type instead of rediscovering the framing.
 * The pfd.conf target's seeds are files (tests/fixtures/config and
 * tests/fuzz/corpus/config), not written here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <linux/fib_rules.h>
#include <linux/genetlink.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/nexthop.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "pfd/state.h"

#define BUF_SIZE 8192

static const char *outdir;
static char buf[BUF_SIZE];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		die(path);
}

static void write_msg(const char *target, const char *name, const struct nlmsghdr *nlh)
{
	write_seed(target, name, nlh, nlh->nlmsg_len);
}

static struct nlmsghdr *msg_start(__u16 type, __u16 flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = 4;
	return nlh;
}

/* ---- conntrack: ctnetlink_fill_info's layout ---- */

struct ct_spec {
	__u8 type, family, proto;
	__u16 flags;
	const char *src, *dst; /* original direction; reply is its mirror */
	__u16 sport, dport;
	bool tcp_info, counters32, extras;
};

static void put_tuple(struct nlmsghdr *nlh, const struct ct_spec *s, int type, const char *src,
		      const char *dst, __u16 sport, __u16 dport)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, type), *n;
	unsigned char a[16] = { 0 };
	bool v4 = s->family == AF_INET;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	inet_pton(s->family, src, a);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, v4 ? 4 : 16, a);
	inet_pton(s->family, dst, a);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, v4 ? 4 : 16, a);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, s->proto);
	if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(7));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, 8);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, 0);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	}
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, t);
}

static void put_counters(struct nlmsghdr *nlh, int type, bool c32)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	if (c32) {
		mnl_attr_put_u32(nlh, CTA_COUNTERS32_PACKETS, htonl(10));
		mnl_attr_put_u32(nlh, CTA_COUNTERS32_BYTES, htonl(1500));
	} else {
		mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(10));
		mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(15000));
	}
	mnl_attr_nest_end(nlh, n);
}

static void ct_seed(const char *name, const struct ct_spec *s)
{
	struct nlmsghdr *nlh = msg_start((NFNL_SUBSYS_CTNETLINK << 8) | s->type, s->flags);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	struct nlattr *n, *m;

	nfg->nfgen_family = s->family;
	nfg->version = NFNETLINK_V0;
	put_tuple(nlh, s, CTA_TUPLE_ORIG, s->src, s->dst, s->sport, s->dport);
	put_tuple(nlh, s, CTA_TUPLE_REPLY, s->dst, s->src, s->dport, s->sport);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(431999));
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(0x10));
	if (s->tcp_info) {
		struct nf_ct_tcp_flags f = { .flags = IP_CT_TCP_FLAG_SACK_PERM, .mask = 0 };

		n = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		m = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, 7);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_REPLY, 7);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(f), &f);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(f), &f);
		mnl_attr_nest_end(nlh, m);
		mnl_attr_nest_end(nlh, n);
	}
	put_counters(nlh, CTA_COUNTERS_ORIG, s->counters32);
	put_counters(nlh, CTA_COUNTERS_REPLY, s->counters32);
	mnl_attr_put_u32(nlh, CTA_USE, htonl(1));
	mnl_attr_put_u32(nlh, CTA_ID, htonl(0x1234));
	if (s->extras) {
		/* rarer attributes: a zone, a helper, a master tuple, seqadj */
		mnl_attr_put_u16(nlh, CTA_ZONE, htons(3));
		n = mnl_attr_nest_start(nlh, CTA_HELP);
		mnl_attr_put_strz(nlh, CTA_HELP_NAME, "ftp");
		mnl_attr_nest_end(nlh, n);
		put_tuple(nlh, s, CTA_TUPLE_MASTER, s->src, s->dst, s->sport, 21);
		n = mnl_attr_nest_start(nlh, CTA_SEQ_ADJ_ORIG);
		mnl_attr_put_u32(nlh, CTA_SEQADJ_CORRECTION_POS, htonl(100));
		mnl_attr_nest_end(nlh, n);
	}
	write_msg("ct", name, nlh);
}

static void ct_seeds(void)
{
	static const struct ct_spec specs[] = {
		{ IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_TCP, NLM_F_CREATE, "192.0.2.10",
		  "198.51.100.20", 40000, 443, true, false, false },
		{ IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_UDP, 0, "192.0.2.10", "198.51.100.20", 5353,
		  53, false, true, false },
		{ IPCTNL_MSG_CT_NEW, AF_INET6, IPPROTO_TCP, NLM_F_MULTI, "2001:db8::1",
		  "2001:db8:1::2", 50000, 22, true, false, true },
		{ IPCTNL_MSG_CT_DELETE, AF_INET6, IPPROTO_UDP, 0, "2001:db8::1", "2001:db8:1::2",
		  1000, 2000, false, false, false },
		{ IPCTNL_MSG_CT_NEW, AF_INET, IPPROTO_ICMP, NLM_F_CREATE, "192.0.2.10",
		  "198.51.100.20", 0, 0, false, false, false },
	};
	static const char *const names[] = { "new-tcp4", "update-udp4-counters32",
					     "dump-tcp6-helper-zone", "destroy-udp6", "new-icmp4" };
	unsigned int i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		ct_seed(names[i], &specs[i]);
}

/* ---- rtnetlink and xfrm ---- */

static void rt_seeds(void)
{
	struct nlmsghdr *nlh;
	struct rtmsg *r;
	struct ifinfomsg *ifi;
	struct ndmsg *nd;
	struct ifaddrmsg *ifa;
	struct tcmsg *tc;
	struct fib_rule_hdr *frh;
	struct nhmsg *nh;
	struct netconfmsg *nc;
	struct xfrm_userpolicy_info *p;
	unsigned char *q;
	__be32 a4;

	nlh = msg_start(RTM_NEWROUTE, NLM_F_CREATE);
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->rtm_family = AF_INET;
	r->rtm_dst_len = 24;
	r->rtm_table = RT_TABLE_MAIN;
	r->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	inet_pton(AF_INET, "198.51.100.0", &a4);
	mnl_attr_put(nlh, RTA_DST, 4, &a4);
	inet_pton(AF_INET, "192.0.2.1", &a4);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, &a4);
	mnl_attr_put_u32(nlh, RTA_OIF, 3);
	write_msg("rt", "newroute4-oif", nlh);

	nlh = msg_start(RTM_DELROUTE, 0);
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->rtm_family = AF_INET6;
	r->rtm_dst_len = 64;
	mnl_attr_put_u32(nlh, RTA_PRIORITY, 1024);
	write_msg("rt", "delroute6", nlh);

	nlh = msg_start(RTM_NEWLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 2;
	ifi->ifi_flags = IFF_UP | IFF_RUNNING;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
	write_msg("rt", "newlink-up", nlh);

	nlh = msg_start(RTM_NEWLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 9;
	ifi->ifi_flags = IFF_UP | IFF_RUNNING;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0.100");
	mnl_attr_put_u32(nlh, IFLA_LINK, 2);
	{
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO), *data;

		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vlan");
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		mnl_attr_put_u16(nlh, IFLA_VLAN_ID, 100);
		mnl_attr_nest_end(nlh, data);
		mnl_attr_nest_end(nlh, info);
	}
	write_msg("rt", "newlink-vlan", nlh);

	nlh = msg_start(RTM_DELLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 7;
	write_msg("rt", "dellink", nlh);

	nlh = msg_start(RTM_NEWNEIGH, 0);
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = 3;
	nd->ndm_state = NUD_REACHABLE;
	write_msg("rt", "newneigh", nlh);

	nlh = msg_start(RTM_NEWADDR, 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 64;
	ifa->ifa_index = 4;
	write_msg("rt", "newaddr6", nlh);

	nlh = msg_start(RTM_NEWQDISC, 0);
	tc = mnl_nlmsg_put_extra_header(nlh, sizeof(*tc));
	tc->tcm_ifindex = 3;
	tc->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, "fq_codel");
	write_msg("rt", "newqdisc", nlh);

	nlh = msg_start(RTM_NEWTFILTER, 0);
	tc = mnl_nlmsg_put_extra_header(nlh, sizeof(*tc));
	tc->tcm_ifindex = 3;
	tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
	mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
	write_msg("rt", "newtfilter", nlh);

	nlh = msg_start(RTM_NEWRULE, 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_FWMARK, 0x10);
	write_msg("rt", "newrule-fwmark", nlh);

	nlh = msg_start(RTM_NEWNEXTHOP, 0);
	nh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nh));
	nh->nh_family = AF_INET;
	mnl_attr_put_u32(nlh, NHA_ID, 1);
	write_msg("rt", "newnexthop", nlh);

	nlh = msg_start(RTM_NEWNETCONF, 0);
	nc = mnl_nlmsg_put_extra_header(nlh, sizeof(*nc));
	nc->ncm_family = AF_INET;
	mnl_attr_put_u32(nlh, NETCONFA_IFINDEX, 3);
	mnl_attr_put_u32(nlh, NETCONFA_FORWARDING, 1);
	write_msg("rt", "newnetconf", nlh);

	/* An xfrm policy dump part; the 33 bytes after the header are the
	 * flow fuzz_rt.c matches it against (family selector, a, b). */
	nlh = msg_start(XFRM_MSG_NEWPOLICY, NLM_F_MULTI);
	p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
	p->sel.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.0", &p->sel.saddr);
	inet_pton(AF_INET, "198.51.100.0", &p->sel.daddr);
	p->sel.prefixlen_s = 24;
	p->sel.prefixlen_d = 25;
	p->dir = XFRM_POLICY_OUT;
	q = mnl_nlmsg_put_extra_header(nlh, 36);
	q[0] = 0; /* AF_INET */
	inet_pton(AF_INET, "192.0.2.77", q + 1);
	inet_pton(AF_INET, "198.51.100.9", q + 17);
	write_msg("rt", "xfrm-policy4", nlh);

	nlh = msg_start(XFRM_MSG_NEWPOLICY, NLM_F_MULTI);
	p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
	p->sel.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::", &p->sel.saddr);
	p->sel.prefixlen_s = 35;
	p->dir = XFRM_POLICY_FWD;
	q = mnl_nlmsg_put_extra_header(nlh, 36);
	q[0] = 1; /* AF_INET6 */
	inet_pton(AF_INET6, "2001:db8::1", q + 1);
	inet_pton(AF_INET6, "2001:db8:1::2", q + 17);
	write_msg("rt", "xfrm-policy6", nlh);
}

/* ---- netdev genl ---- */

static void netdev_seed(const char *name, __u8 cmd, __u32 ifindex, bool feats, bool newer)
{
	/* a family id as the kernel assigns them dynamically */
	struct nlmsghdr *nlh = msg_start(0x1d, 0);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->cmd = cmd;
	g->version = 1;
	mnl_attr_put_u32(nlh, 1 /* NETDEV_A_DEV_IFINDEX */, ifindex);
	if (feats)
		mnl_attr_put_u64(nlh, 3 /* NETDEV_A_DEV_XDP_FEATS */, 0x7f);
	if (newer) {
		mnl_attr_put_u32(nlh, 4 /* NETDEV_A_DEV_XDP_ZC_MAX_SEGS */, 1);
		mnl_attr_put_u64(nlh, 5 /* NETDEV_A_DEV_XDP_RX_METADATA_FEATURES */, 3);
	}
	write_msg("netdev", name, nlh);
}

static void netdev_seeds(void)
{
	netdev_seed("dev-get", 1, 2, true, false);
	netdev_seed("dev-add-ntf", 2, 5, true, true);
	netdev_seed("dev-del-ntf", 3, 5, false, false);
	netdev_seed("dev-chg-ntf", 4, 9, true, true);
}

/* ---- nftables ---- */

static void nft_gen_seed(void)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWGEN, AF_UNSPEC, 0, 4);
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(42));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(1234));
	mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, "nft");
	write_msg("nft", "newgen", nlh);
}

static void nft_ft_seed(const char *name, const char *const *devs)
{
	struct nftnl_flowtable *ft = nftnl_flowtable_alloc();
	struct nlmsghdr *nlh;

	if (!ft)
		die("nftnl_flowtable_alloc");
	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_TABLE, "filter");
	nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_NAME, "ft");
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_flowtable_set_s32(ft, NFTNL_FLOWTABLE_PRIO, -10);
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_FLAGS, 0x2);
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_USE, 1);
	nftnl_flowtable_set_u64(ft, NFTNL_FLOWTABLE_HANDLE, 7);
	if (devs)
		nftnl_flowtable_set_array(ft, NFTNL_FLOWTABLE_DEVICES, (const char **)devs);
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWFLOWTABLE, NFPROTO_INET, NLM_F_MULTI, 4);
	nftnl_flowtable_nlmsg_build_payload(nlh, ft);
	nftnl_flowtable_free(ft);
	write_msg("nft", name, nlh);
}

static void nft_chain_seed(const char *name, __u16 family, int hooknum, const char *dev,
			   const char *const *devs, __u32 seq)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		die("nftnl_chain_alloc");
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u64(c, NFTNL_CHAIN_HANDLE, 3);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_USE, 1);
	if (hooknum >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hooknum);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	if (dev)
		nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
	if (devs)
		nftnl_chain_set_array(c, NFTNL_CHAIN_DEVICES, (const char **)devs);
	memset(buf, 0, sizeof(buf));
	/* seq: the row capacity fuzz_nft.c gives the parser (seq % 8) */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, family, NLM_F_MULTI, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	write_msg("nft", name, nlh);
}

/* A rule with n synproxy expressions after tcp dport 80 (seq: the row
 * capacity, as for the chains). */
static void nft_rule_seed(const char *name, int n, __u32 seq)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	int i;

	if (!r)
		die("nftnl_rule_alloc");
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "synp");
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
		e = nftnl_expr_alloc("synproxy");
		nftnl_expr_set_u16(e, NFTNL_EXPR_SYNPROXY_MSS, (uint16_t)(1460 - i));
		nftnl_expr_set_u8(e, NFTNL_EXPR_SYNPROXY_WSCALE, 7);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SYNPROXY_FLAGS, 0xf);
		nftnl_rule_add_expr(r, e);
	}
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_MULTI, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	write_msg("nft", name, nlh);
}

static void nft_obj_seed(void)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	if (!o)
		die("nftnl_obj_alloc");
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, "synp");
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "obj1");
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_SYNPROXY);
	nftnl_obj_set_u16(o, NFTNL_OBJ_SYNPROXY_MSS, 1400);
	nftnl_obj_set_u8(o, NFTNL_OBJ_SYNPROXY_WSCALE, 5);
	nftnl_obj_set_u32(o, NFTNL_OBJ_SYNPROXY_FLAGS, 0x3);
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_MULTI, 4);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	write_msg("nft", "obj-synproxy", nlh);
}

static void nft_seeds(void)
{
	static const char *const two[] = { "eth0", "veth-lab1", NULL };
	static const char *const three[] = { "lan0", "wan0", "dmz0", NULL };

	nft_gen_seed();
	nft_ft_seed("flowtable-devs", three);
	nft_ft_seed("flowtable-nodevs", NULL);
	nft_chain_seed("chain-netdev-dev", NFPROTO_NETDEV, NF_NETDEV_INGRESS, "eth0", NULL, 4);
	nft_chain_seed("chain-netdev-devs", NFPROTO_NETDEV, NF_NETDEV_EGRESS, NULL, two, 4);
	/* two devices, room for one: -E2BIG */
	nft_chain_seed("chain-netdev-e2big", NFPROTO_NETDEV, NF_NETDEV_INGRESS, NULL, two, 1);
	nft_chain_seed("chain-inet-ingress", NFPROTO_INET, NF_INET_INGRESS, "wan0", NULL, 4);
	nft_chain_seed("chain-ip-forward", NFPROTO_IPV4, NF_INET_FORWARD, NULL, NULL, 4);
	nft_chain_seed("chain-regular", NFPROTO_INET, -1, NULL, NULL, 4);
	nft_rule_seed("rule-synproxy", 1, 4);
	nft_rule_seed("rule-nosynproxy", 0, 4);
	/* two statements, room for one: -E2BIG */
	nft_rule_seed("rule-synproxy-e2big", 2, 1);
	nft_obj_seed();
}

/* ---- state file, as the daemon writes it ---- */

static void state_seeds(void)
{
	struct pfd_state s = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 8], text[8192];
	size_t len;
	FILE *f;
	int err;

	s.pid = 4242;
	snprintf(s.mode, sizeof(s.mode), "mark");
	snprintf(s.config, sizeof(s.config), "/etc/pfd/pfd.conf");
	s.started = 1700000000;
	s.heartbeat_ns = 123456789012ULL;
	s.flows = 7;
	s.installs = 9;
	s.removals = 2;
	s.resyncs = 1;
	s.ct_overruns = 3;
	s.map_full = 4;
	s.reloads = 5;
	s.reload_attempts = 6;
	snprintf(s.reload_error, sizeof(s.reload_error), "pfd.conf:3:1: mode: bad");
	s.ruleset_gen_valid = true;
	s.ruleset_gen = 99;
	s.n_devs = 2;
	snprintf(s.devs[0].name, IFNAMSIZ, "eth0");
	s.devs[0].ifindex = 2;
	s.devs[0].slot = 1;
	snprintf(s.devs[0].attach, sizeof(s.devs[0].attach), "native");
	snprintf(s.devs[1].name, IFNAMSIZ, "wan-1");
	s.devs[1].ifindex = 17;
	s.devs[1].slot = 3;
	snprintf(s.devs[1].attach, sizeof(s.devs[1].attach), "tc");
	s.devs[1].tripped = true;

	snprintf(dir, sizeof(dir), "%s/state.tmp", outdir);
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	err = pfd_state_write(dir, &s);
	if (err) {
		errno = -err;
		die("pfd_state_write");
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "r");
	if (!f)
		die(path);
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	remove(path);
	remove(dir);
	write_seed("state", "daemon-mark", text, len);

	/* flowtable mode, no devices, last reload fine */
	memset(&s, 0, sizeof(s));
	s.pid = 1;
	snprintf(s.mode, sizeof(s.mode), "flowtable");
	snprintf(s.config, sizeof(s.config), "/run/pfd test/pfd.conf");
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	if (pfd_state_write(dir, &s))
		die("pfd_state_write");
	f = fopen(path, "r");
	if (!f)
		die(path);
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	remove(path);
	remove(dir);
	write_seed("state", "daemon-flowtable", text, len);
}

/* ---- command lines: arguments NUL-separated ---- */

static void cli_seed(const char *name, ...)
{
	char out[1024];
	size_t len = 0, n;
	const char *a;
	va_list ap;

	va_start(ap, name);
	while ((a = va_arg(ap, const char *))) {
		n = strlen(a);
		if (len + n + 1 > sizeof(out))
			break;
		if (len)
			out[len++] = '\0';
		memcpy(out + len, a, n);
		len += n;
	}
	va_end(ap);
	write_seed("cli", name, out, len);
}

static void cli_seeds(void)
{
	cli_seed("status-json", "-c", "/etc/pfd/pfd.conf", "status", "-j", NULL);
	cli_seed("flows-filter", "flows", "--addr", "192.0.2.1", "--port=443", "--json", NULL);
	cli_seed("explain", "-v", "explain", "tcp", "192.0.2.1", "1234", "198.51.100.2", "80",
		 NULL);
	cli_seed("probe", "probe", "--iface", "eth0", "--count", "4", "--timeout=5", "--mode",
		 "generic", NULL);
	cli_seed("detach-all", "--config=/tmp/x.conf", "detach", "--all", NULL);
	cli_seed("run-verbose", "-v", "-v", "run", "-v", NULL);
	cli_seed("help-cmd", "help", "flows", NULL);
	cli_seed("cmd-help", "feasibility", "--help", NULL);
	cli_seed("typo", "stauts", NULL);
	cli_seed("dashdash", "version", "--", "-x", NULL);
	cli_seed("json-global", "-j", "stats", NULL);
	cli_seed("reload", "reload", NULL);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR (writes OUTDIR/<target>/<seed>)\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST)
		die(outdir);
	ct_seeds();
	rt_seeds();
	netdev_seeds();
	nft_seeds();
	state_seeds();
	cli_seeds();
	return 0;
}
