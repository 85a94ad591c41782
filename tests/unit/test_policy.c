// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the offload decision and the NAT derivation (pfd/policy.c):
 * a table of conntrack entries and environments with the expected verdict
 * and a word of its reason, then the map entries built for plain, SNAT
 * (masquerade), DNAT (port forward), SNAT+DNAT and IPv6 flows, checked
 * field by field against what the kernel's NAT writes. No root, no kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "t.h"
#include "pfd/config.h"
#include "pfd/policy.h"
#include "pfd/stats.h"

#define IN_DEV	2
#define OUT_DEV 3

static void addr(int family, const char *s, __be32 *out)
{
	memset(out, 0, 16);
	inet_pton(family, s, out);
}

static void tuple(struct pfd_ct_tuple *t, int family, int proto, const char *src, int sport,
		  const char *dst, int dport)
{
	memset(t, 0, sizeof(*t));
	t->family = (__u8)family;
	t->l4proto = (__u8)proto;
	addr(family, src, t->src);
	addr(family, dst, t->dst);
	t->sport = htons((uint16_t)sport);
	t->dport = htons((uint16_t)dport);
}

/* An established, assured TCP entry client:40000 -> server:80, no NAT,
 * carrying the offload mark. */
static void base_entry(struct pfd_ct_entry *e)
{
	memset(e, 0, sizeof(*e));
	tuple(&e->orig, AF_INET, IPPROTO_TCP, "192.0.2.10", 40000, "198.51.100.20", 80);
	tuple(&e->reply, AF_INET, IPPROTO_TCP, "198.51.100.20", 80, "192.0.2.10", 40000);
	e->status = IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY;
	e->has_tcp_state = 1;
	e->tcp_state = TCP_CONNTRACK_ESTABLISHED;
	e->mark = 0x1;
}

static void base_env(struct pfd_policy_env *env)
{
	memset(env, 0, sizeof(*env));
	env->mode = PFD_MODE_MARK;
	env->in[0].ifindex = env->out[1].ifindex = IN_DEV;
	env->out[0].ifindex = env->in[1].ifindex = OUT_DEV;
	env->in[0].attached = env->in[1].attached = true;
	env->out[0].attached = env->out[1].attached = true;
	env->in[0].has_xdp = env->in[1].has_xdp = true;
	/* both devices take XDP-redirected frames (netdev xdp-features) */
	env->in[0].xdp_xmit = env->in[1].xdp_xmit = 1;
	env->out[0].xdp_xmit = env->out[1].xdp_xmit = 1;
}

enum mut {
	M_NONE,
	M_MARK_MISS,
	M_MARK_OTHER_BITS,
	M_NOT_ASSURED,
	M_NOT_CONFIRMED,
	M_SYN_SENT,
	M_FIN_WAIT,
	M_NO_TCP_STATE,
	M_HELPER,
	M_MASTER,
	M_SEQADJ,
	M_STATUS_SEQADJ,
	M_NAT_CLASH,
	M_DYING,
	M_ICMP,
	M_UDP_ASSURED,
	M_UDP_UNASSURED,
	M_FT_OFFLOAD,
	M_FT_NO_OFFLOAD,
	M_FT_OTHER_TABLE,
	M_FT_NO_PROTOINFO,
	M_FT_UDP_UNASSURED,
	M_DENY,
	M_ALLOW_MISS,
	M_ALLOW_HIT,
	M_MINPKTS_LOW,
	M_MINPKTS_OK,
	M_ROUTE_ERR,
	M_ASYM,
	M_NOT_ATTACHED,
	M_XFRM,
	M_FWMARK_NO_FIB,
	M_FWMARK_FIB,
	M_NETDEV_CHAIN,
	M_INGRESS_TC,
	M_EGRESS_POLICY_NO_TC,
	M_EGRESS_POLICY_TC,
	M_IPV6,
	M_EGRESS_CHAIN,
	M_EGRESS_CHAIN_TC,
	M_NO_XMIT_NO_TC,
	M_NO_XMIT_TC,
	M_XMIT_UNKNOWN_TC,
	M_XMIT_UNKNOWN_NO_TC,
	M_NO_XMIT_TC_ONLY,
	M_VLAN_XDP,
	M_VLAN_XDP_TC_ONLY,
	M_VLAN_PARENT_POLICY_TC,
};

static const struct {
	const char *name;
	enum mut mut;
	bool offload;
	const char *reason_has; /* substring of the reason */
	uint32_t flags;		/* expected decision flags (common) */
	uint32_t dir0_flags;
} cases[] = {
	{ "established assured marked tcp", M_NONE, true, "eligible", 0, 0 },
	{ "mark does not match", M_MARK_MISS, false, "does not match", 0, 0 },
	{ "other mark bits are ignored", M_MARK_OTHER_BITS, true, "eligible", 0, 0 },
	{ "not assured", M_NOT_ASSURED, false, "assured", 0, 0 },
	{ "unconfirmed", M_NOT_CONFIRMED, false, "confirmed", 0, 0 },
	{ "tcp syn_sent", M_SYN_SENT, false, "ESTABLISHED", 0, 0 },
	{ "tcp fin_wait", M_FIN_WAIT, false, "ESTABLISHED", 0, 0 },
	{ "tcp without protoinfo in mark mode", M_NO_TCP_STATE, false, "unknown", 0, 0 },
	{ "helper attached", M_HELPER, false, "helper", 0, 0 },
	{ "expectation master", M_MASTER, false, "master", 0, 0 },
	{ "seqadj attribute", M_SEQADJ, false, "SEQ_ADJUST", 0, 0 },
	{ "IPS_SEQ_ADJUST status", M_STATUS_SEQADJ, false, "SEQ_ADJUST", 0, 0 },
	{ "nat clash", M_NAT_CLASH, false, "clash", 0, 0 },
	{ "dying", M_DYING, false, "dying", 0, 0 },
	{ "icmp", M_ICMP, false, "TCP/UDP", 0, 0 },
	{ "udp assured", M_UDP_ASSURED, true, "eligible", 0, 0 },
	{ "udp not assured", M_UDP_UNASSURED, false, "assured", 0, 0 },
	{ "flowtable: IPS_OFFLOAD, one flowtable", M_FT_OFFLOAD, true, "eligible", 0, 0 },
	{ "flowtable: no IPS_OFFLOAD", M_FT_NO_OFFLOAD, false, "IPS_OFFLOAD", 0, 0 },
	{ "flowtable: devices in different flowtables", M_FT_OTHER_TABLE, false, "flowtable", 0,
	  0 },
	{ "flowtable: offloaded dump without protoinfo", M_FT_NO_PROTOINFO, true, "eligible", 0,
	  0 },
	/* offloaded before conntrack's stream test: never ASSURED, nor SEEN_REPLY */
	{ "flowtable: offloaded udp, unassured, unreplied", M_FT_UDP_UNASSURED, true, "eligible", 0,
	  0 },
	{ "deny prefix", M_DENY, false, "deny", 0, 0 },
	{ "allow prefix missed", M_ALLOW_MISS, false, "allow", 0, 0 },
	{ "allow prefix hit", M_ALLOW_HIT, true, "eligible", 0, 0 },
	{ "min-packets not reached", M_MINPKTS_LOW, false, "min-packets", 0, 0 },
	{ "min-packets reached", M_MINPKTS_OK, true, "eligible", 0, 0 },
	{ "no route", M_ROUTE_ERR, false, "no route", 0, 0 },
	{ "asymmetric routing", M_ASYM, false, "asymmetric", 0, 0 },
	{ "egress device not attached", M_NOT_ATTACHED, false, "not attached", 0, 0 },
	{ "xfrm policy covers it", M_XFRM, false, "xfrm", 0, 0 },
	{ "fwmark rules, no BPF_FIB_LOOKUP_MARK", M_FWMARK_NO_FIB, false, "fwmark", 0, 0 },
	/* the packet's mark is the ruleset's, not the ct mark: still refused */
	{ "fwmark rules, BPF_FIB_LOOKUP_MARK", M_FWMARK_FIB, false, "fwmark", 0, 0 },
	{ "netdev ingress chain", M_NETDEV_CHAIN, false, "netdev", 0, 0 },
	{ "tc ingress filter", M_INGRESS_TC, false, "tc ingress", 0, 0 },
	{ "egress qdisc, ingress without TC", M_EGRESS_POLICY_NO_TC, false, "egress policy", 0, 0 },
	{ "egress qdisc, ingress with TC", M_EGRESS_POLICY_TC, true, "TC datapath", 0,
	  PFD_FLOW_F_VIA_TC },
	{ "ipv6 established", M_IPV6, true, "eligible", 0, 0 },
	/* a tc redirect skips netdev egress chains too (nf_skip_egress) */
	{ "netdev egress chain, ingress without TC", M_EGRESS_CHAIN, false, "netdev egress", 0, 0 },
	{ "netdev egress chain, ingress with TC", M_EGRESS_CHAIN_TC, false, "netdev egress", 0, 0 },
	{ "egress cannot take XDP frames, ingress without TC", M_NO_XMIT_NO_TC, false,
	  "cannot take XDP", 0, 0 },
	{ "egress cannot take XDP frames, ingress with TC", M_NO_XMIT_TC, true,
	  "cannot take XDP frames", 0, PFD_FLOW_F_VIA_TC },
	{ "egress XDP features unknown, ingress with TC", M_XMIT_UNKNOWN_TC, true,
	  "cannot take XDP frames", 0, PFD_FLOW_F_VIA_TC },
	{ "egress XDP features unknown, ingress without TC", M_XMIT_UNKNOWN_NO_TC, false, "unknown",
	  0, 0 },
	/* TC-only ingress never XDP-redirects: nothing to route around */
	{ "egress cannot take XDP frames, TC-only ingress", M_NO_XMIT_TC_ONLY, true, "eligible", 0,
	  0 },
	/* the egress is a VLAN device on an XDP parent: XDP pushes the tag */
	{ "vlan egress on an xdp parent", M_VLAN_XDP, true, "eligible", 0, PFD_FLOW_F_VLAN_TX },
	{ "vlan egress, TC-only ingress: the VLAN device's xmit tags", M_VLAN_XDP_TC_ONLY, true,
	  "eligible", 0, 0 },
	/* the parent's qdisc: XDP would skip it, TC ingress goes through
	 * the VLAN device and the parent */
	{ "vlan egress, parent with a qdisc, ingress with TC", M_VLAN_PARENT_POLICY_TC, true,
	  "cannot take XDP frames", 0, PFD_FLOW_F_VIA_TC },
};

static struct pfd_prefix prefix(int family, const char *a, int len)
{
	struct pfd_prefix p = { .family = (uint8_t)family, .len = (uint8_t)len };

	addr(family, a, p.addr);
	return p;
}

static void run_cases(void)
{
	struct pfd_prefix allow, deny;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pfd_config cfg;
		struct pfd_ct_entry e;
		struct pfd_policy_env env;
		struct pfd_policy_decision d;
		char name[400];

		pfd_config_defaults(&cfg);
		cfg.mode = PFD_MODE_MARK;
		cfg.mark_value = 0x1;
		cfg.mark_mask = 0x1;
		base_entry(&e);
		base_env(&env);
		switch (cases[i].mut) {
		case M_NONE:
			break;
		case M_MARK_MISS:
			e.mark = 0x2;
			break;
		case M_MARK_OTHER_BITS:
			e.mark = 0xff01;
			break;
		case M_NOT_ASSURED:
			e.status &= ~IPS_ASSURED;
			break;
		case M_NOT_CONFIRMED:
			e.status &= ~IPS_CONFIRMED;
			break;
		case M_SYN_SENT:
			e.tcp_state = TCP_CONNTRACK_SYN_SENT;
			break;
		case M_FIN_WAIT:
			e.tcp_state = TCP_CONNTRACK_FIN_WAIT;
			break;
		case M_NO_TCP_STATE:
			e.has_tcp_state = 0;
			e.tcp_state = 0;
			break;
		case M_HELPER:
			e.has_helper = true;
			break;
		case M_MASTER:
			e.has_master = true;
			break;
		case M_SEQADJ:
			e.has_seqadj = true;
			break;
		case M_STATUS_SEQADJ:
			e.status |= IPS_SEQ_ADJUST;
			break;
		case M_NAT_CLASH:
			e.status |= 1U << 12;
			break;
		case M_DYING:
			e.status |= IPS_DYING;
			break;
		case M_ICMP:
			e.orig.l4proto = e.reply.l4proto = IPPROTO_ICMP;
			break;
		case M_UDP_ASSURED:
			e.orig.l4proto = e.reply.l4proto = IPPROTO_UDP;
			e.has_tcp_state = 0;
			break;
		case M_UDP_UNASSURED:
			e.orig.l4proto = e.reply.l4proto = IPPROTO_UDP;
			e.has_tcp_state = 0;
			e.status &= ~IPS_ASSURED;
			break;
		case M_FT_OFFLOAD:
		case M_FT_OTHER_TABLE:
		case M_FT_NO_PROTOINFO:
			cfg.mode = env.mode = PFD_MODE_FLOWTABLE;
			e.status |= IPS_OFFLOAD;
			e.mark = 0;
			env.same_flowtable = cases[i].mut != M_FT_OTHER_TABLE;
			if (cases[i].mut == M_FT_NO_PROTOINFO)
				e.has_tcp_state = 0;
			break;
		case M_FT_UDP_UNASSURED:
			cfg.mode = env.mode = PFD_MODE_FLOWTABLE;
			e.orig.l4proto = e.reply.l4proto = IPPROTO_UDP;
			e.has_tcp_state = 0;
			e.status = (e.status | IPS_OFFLOAD) & ~(IPS_ASSURED | IPS_SEEN_REPLY);
			e.mark = 0;
			env.same_flowtable = true;
			break;
		case M_FT_NO_OFFLOAD:
			cfg.mode = env.mode = PFD_MODE_FLOWTABLE;
			env.same_flowtable = true;
			break;
		case M_DENY:
			deny = prefix(AF_INET, "198.51.100.0", 24);
			cfg.deny = &deny;
			cfg.n_deny = 1;
			break;
		case M_ALLOW_MISS:
			allow = prefix(AF_INET, "203.0.113.0", 24);
			cfg.allow = &allow;
			cfg.n_allow = 1;
			break;
		case M_ALLOW_HIT:
			allow = prefix(AF_INET, "192.0.2.0", 24);
			cfg.allow = &allow;
			cfg.n_allow = 1;
			break;
		case M_MINPKTS_LOW:
			cfg.min_packets = 100;
			e.orig_packets = 40;
			e.reply_packets = 59;
			break;
		case M_MINPKTS_OK:
			cfg.min_packets = 100;
			e.orig_packets = 40;
			e.reply_packets = 60;
			break;
		case M_ROUTE_ERR:
			env.route_err[1] = -ENETUNREACH;
			break;
		case M_ASYM:
			env.in[1].ifindex = 7;
			break;
		case M_NOT_ATTACHED:
			env.in[1].attached = false;
			break;
		case M_XFRM:
			env.xfrm = 1;
			break;
		case M_FWMARK_NO_FIB:
			env.fwmark_rules = 1;
			break;
		case M_FWMARK_FIB:
			env.fwmark_rules = 1;
			env.fib_mark_ok = true;
			break;
		case M_NETDEV_CHAIN:
			env.in[1].netdev_chain = true;
			break;
		case M_INGRESS_TC:
			env.in[0].ingress_policy = true;
			break;
		case M_EGRESS_POLICY_NO_TC:
			env.out[0].egress_policy = true;
			break;
		case M_EGRESS_POLICY_TC:
			env.out[0].egress_policy = true;
			env.in[0].has_tc = true;
			break;
		case M_EGRESS_CHAIN:
			env.out[0].egress_chain = true;
			break;
		case M_EGRESS_CHAIN_TC:
			env.out[0].egress_chain = true;
			env.in[0].has_tc = true;
			break;
		case M_NO_XMIT_NO_TC:
			env.out[0].xdp_xmit = 0;
			break;
		case M_NO_XMIT_TC:
			env.out[0].xdp_xmit = 0;
			env.in[0].has_tc = true;
			break;
		case M_XMIT_UNKNOWN_TC:
			env.out[0].xdp_xmit = -EOPNOTSUPP;
			env.in[0].has_tc = true;
			break;
		case M_XMIT_UNKNOWN_NO_TC:
			env.out[0].xdp_xmit = -EOPNOTSUPP;
			break;
		case M_NO_XMIT_TC_ONLY:
			env.out[0].xdp_xmit = 0;
			env.in[0].has_xdp = false;
			env.in[0].has_tc = true;
			break;
		case M_VLAN_XDP:
		case M_VLAN_XDP_TC_ONLY:
		case M_VLAN_PARENT_POLICY_TC: {
			struct pfd_policy_dev parent = {
				.ifindex = 9, .attached = true, .has_xdp = true, .xdp_xmit = 1
			};

			env.out[0].xdp_xmit = 0; /* VLAN devices have no ndo_xdp_xmit */
			env.out[0].vlan_parent = 9;
			parent.egress_policy = cases[i].mut == M_VLAN_PARENT_POLICY_TC;
			pfd_policy_vlan_parent(&env.out[0], &parent);
			if (cases[i].mut != M_VLAN_XDP)
				env.in[0].has_tc = true;
			if (cases[i].mut == M_VLAN_XDP_TC_ONLY)
				env.in[0].has_xdp = false;
			break;
		}
		case M_IPV6:
			tuple(&e.orig, AF_INET6, IPPROTO_TCP, "2001:db8:1::10", 40000,
			      "2001:db8:2::20", 80);
			tuple(&e.reply, AF_INET6, IPPROTO_TCP, "2001:db8:2::20", 80,
			      "2001:db8:1::10", 40000);
			break;
		}
		pfd_policy_decide(&cfg, &e, &env, &d);
		snprintf(name, sizeof(name), "%s: verdict", cases[i].name);
		T_EQ(d.offload, cases[i].offload, name);
		snprintf(name, sizeof(name), "%s: reason \"%s\" has \"%s\"", cases[i].name,
			 d.reason, cases[i].reason_has);
		T_TRUE(strstr(d.reason, cases[i].reason_has) != NULL, name);
		if (cases[i].offload) {
			snprintf(name, sizeof(name), "%s: flags", cases[i].name);
			T_EQ(d.flags, cases[i].flags, name);
			snprintf(name, sizeof(name), "%s: original direction flags", cases[i].name);
			T_EQ(d.dir_flags[0], cases[i].dir0_flags, name);
			T_EQ(d.dir_flags[1], 0, name);
		}
		/* stage 1 alone never offloads what the whole decision refuses
		 * for entry reasons */
		if (!cases[i].offload && cases[i].mut < M_ROUTE_ERR &&
		    cases[i].mut != M_FT_OTHER_TABLE) {
			snprintf(name, sizeof(name), "%s: stage 1 refuses", cases[i].name);
			T_TRUE(!pfd_policy_check_entry(&cfg, env.mode, &e, &d), name);
		}
	}
}

/* ---- NAT derivation -------------------------------------------------- */

struct nat_case {
	const char *name;
	int family, proto;
	/* orig: src sport -> dst dport; reply: src sport -> dst dport */
	const char *os, *od, *rs, *rd;
	int osp, odp, rsp, rdp;
	uint32_t flags0, flags1; /* NAT flags per direction */
	/* expected rewrite, original direction: leaves as ns:nsp -> nd:ndp */
	const char *ns0, *nd0;
	int nsp0, ndp0;
	const char *ns1, *nd1;
	int nsp1, ndp1;
};

static const struct nat_case nat_cases[] = {
	{ "no nat",
	  AF_INET,
	  IPPROTO_TCP,
	  "192.0.2.10",
	  "198.51.100.20",
	  "198.51.100.20",
	  "192.0.2.10",
	  40000,
	  80,
	  80,
	  40000,
	  0,
	  0,
	  "192.0.2.10",
	  "198.51.100.20",
	  40000,
	  80,
	  "198.51.100.20",
	  "192.0.2.10",
	  80,
	  40000 },
	/* masquerade: the router's 198.51.100.1 replaces the client, port kept */
	{ "masquerade",
	  AF_INET,
	  IPPROTO_TCP,
	  "192.0.2.10",
	  "198.51.100.20",
	  "198.51.100.20",
	  "198.51.100.1",
	  40000,
	  80,
	  80,
	  40000,
	  PFD_FLOW_F_SNAT,
	  PFD_FLOW_F_DNAT,
	  "198.51.100.1",
	  "198.51.100.20",
	  40000,
	  80,
	  "198.51.100.20",
	  "192.0.2.10",
	  80,
	  40000 },
	/* masquerade with port translation */
	{ "snat with port",
	  AF_INET,
	  IPPROTO_UDP,
	  "192.0.2.10",
	  "198.51.100.20",
	  "198.51.100.20",
	  "198.51.100.1",
	  5353,
	  53,
	  53,
	  61000,
	  PFD_FLOW_F_SNAT,
	  PFD_FLOW_F_DNAT,
	  "198.51.100.1",
	  "198.51.100.20",
	  61000,
	  53,
	  "198.51.100.20",
	  "192.0.2.10",
	  53,
	  5353 },
	/* port forward: client -> router:8080 goes to server:80 */
	{ "dnat port forward",
	  AF_INET,
	  IPPROTO_TCP,
	  "192.0.2.10",
	  "192.0.2.1",
	  "198.51.100.20",
	  "192.0.2.10",
	  40000,
	  8080,
	  80,
	  40000,
	  PFD_FLOW_F_DNAT,
	  PFD_FLOW_F_SNAT,
	  "192.0.2.10",
	  "198.51.100.20",
	  40000,
	  80,
	  "192.0.2.1",
	  "192.0.2.10",
	  8080,
	  40000 },
	/* both: port forward through a masquerading router */
	{ "dnat and snat",
	  AF_INET,
	  IPPROTO_TCP,
	  "192.0.2.10",
	  "192.0.2.1",
	  "198.51.100.20",
	  "198.51.100.1",
	  40000,
	  8080,
	  80,
	  45134,
	  PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT,
	  PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT,
	  "198.51.100.1",
	  "198.51.100.20",
	  45134,
	  80,
	  "192.0.2.1",
	  "192.0.2.10",
	  8080,
	  40000 },
	{ "ipv6 snat",
	  AF_INET6,
	  IPPROTO_TCP,
	  "2001:db8:1::10",
	  "2001:db8:2::20",
	  "2001:db8:2::20",
	  "2001:db8:2::1",
	  40000,
	  443,
	  443,
	  40000,
	  PFD_FLOW_F_SNAT,
	  PFD_FLOW_F_DNAT,
	  "2001:db8:2::1",
	  "2001:db8:2::20",
	  40000,
	  443,
	  "2001:db8:2::20",
	  "2001:db8:1::10",
	  443,
	  40000 },
};

static void check_addr(int family, const __be32 *got, const char *want, const char *name)
{
	__be32 w[4];

	addr(family, want, w);
	T_BYTES(got, 16, w, 16, name);
}

static void run_nat(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(nat_cases) / sizeof(nat_cases[0]); i++) {
		const struct nat_case *c = &nat_cases[i];
		struct pfd_policy_decision d = { .offload = true };
		struct pfd_flow_key key[2], peer;
		struct pfd_flow val[2];
		struct pfd_policy_env env;
		struct pfd_ct_entry e;
		char name[160];
		int dir;

		memset(&e, 0, sizeof(e));
		tuple(&e.orig, c->family, c->proto, c->os, c->osp, c->od, c->odp);
		tuple(&e.reply, c->family, c->proto, c->rs, c->rsp, c->rd, c->rdp);
		base_env(&env);
		pfd_policy_build(&e, &env, &d, key, val);

		for (dir = 0; dir < 2; dir++) {
			const struct pfd_ct_tuple *t = dir ? &e.reply : &e.orig;

#define NAME(what) \
	(snprintf(name, sizeof(name), "%s: %s %s", c->name, dir ? "reply" : "original", what), name)
			T_EQ(key[dir].ifindex, dir ? OUT_DEV : IN_DEV, NAME("key ifindex"));
			T_EQ(val[dir].oif, dir ? IN_DEV : OUT_DEV, NAME("oif"));
			T_EQ(key[dir].family, c->family, NAME("key family"));
			T_EQ(key[dir].l4proto, c->proto, NAME("key proto"));
			T_EQ(key[dir].pad, 0, NAME("key pad"));
			T_BYTES(key[dir].saddr, 16, t->src, 16, NAME("key saddr = tuple src"));
			T_BYTES(key[dir].daddr, 16, t->dst, 16, NAME("key daddr = tuple dst"));
			T_EQ(key[dir].sport, t->sport, NAME("key sport"));
			T_EQ(key[dir].dport, t->dport, NAME("key dport"));
			T_EQ(val[dir].flags & (PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT),
			     dir ? c->flags1 : c->flags0, NAME("nat flags"));
			T_EQ(!!(val[dir].flags & PFD_FLOW_F_REPLY), dir, NAME("reply flag"));
			check_addr(c->family, val[dir].nat_saddr, dir ? c->ns1 : c->ns0,
				   NAME("rewritten source"));
			check_addr(c->family, val[dir].nat_daddr, dir ? c->nd1 : c->nd0,
				   NAME("rewritten destination"));
			T_EQ(ntohs(val[dir].nat_sport), dir ? c->nsp1 : c->nsp0,
			     NAME("rewritten sport"));
			T_EQ(ntohs(val[dir].nat_dport), dir ? c->ndp1 : c->ndp0,
			     NAME("rewritten dport"));
			T_EQ(val[dir].packets + val[dir].bytes + val[dir].cache_gen, 0,
			     NAME("counters and cache start empty"));
			/* `pfd flows` pairs the directions by this derivation */
			pfd_flow_peer_key(&key[dir], &val[dir], &peer);
			T_BYTES(&peer, sizeof(peer), &key[!dir], sizeof(key[0]),
				NAME("peer key is the other direction's key"));
#undef NAME
		}
	}
}

/* Flowtable mode sets the keep-alive flag on both directions; the FIB mark
 * and VIA_TC flags land where the decision put them. */
static void run_flags(void)
{
	struct pfd_policy_decision d = { .offload = true,
					 .flags = PFD_FLOW_F_FIB_MARK,
					 .fib_mark = 0x42,
					 .dir_flags = { PFD_FLOW_F_VIA_TC, 0 } };
	struct pfd_flow_key key[2];
	struct pfd_flow val[2];
	struct pfd_policy_env env;
	struct pfd_ct_entry e;

	base_entry(&e);
	base_env(&env);
	pfd_policy_build(&e, &env, &d, key, val);
	T_EQ(val[0].flags, PFD_FLOW_F_FIB_MARK | PFD_FLOW_F_VIA_TC, "mark mode: orig flags");
	T_EQ(val[1].flags, PFD_FLOW_F_FIB_MARK | PFD_FLOW_F_REPLY, "mark mode: reply flags");
	T_EQ(val[0].fib_mark, 0x42, "fib mark carried");
	env.mode = PFD_MODE_FLOWTABLE;
	d.flags = 0;
	d.dir_flags[0] = 0;
	pfd_policy_build(&e, &env, &d, key, val);
	T_EQ(val[0].flags, PFD_FLOW_F_KEEPALIVE, "flowtable mode: keep-alive, orig");
	T_EQ(val[1].flags, PFD_FLOW_F_KEEPALIVE | PFD_FLOW_F_REPLY, "flowtable mode: reply");
	T_EQ(val[0].fib_mark, 0, "no fib mark without the flag");
}

static void run_names(void)
{
	unsigned int r;

	for (r = 0; r < PFD_R__COUNT; r++) {
		T_TRUE(pfd_reason_label(r) && *pfd_reason_label(r), "every reason has a label");
		T_TRUE(pfd_reason_text(r) && *pfd_reason_text(r), "every reason has a text");
	}
	T_TRUE(pfd_reason_label(PFD_R__COUNT) == NULL, "no label past the end");
	T_STR(pfd_reason_label(PFD_R_FORWARDED), "forwarded", "forwarded label");
}

/* When XDP may transmit on a VLAN device through its parent. */
static void test_vlan_parent(void)
{
	const struct {
		const char *name;
		int vlan_parent;
		struct pfd_policy_dev parent;
		bool want;
	} c[] = {
		{ "xdp parent taking xdp frames",
		  9,
		  { .ifindex = 9, .has_xdp = true, .xdp_xmit = 1 },
		  true },
		{ "no pfd_vlans entry",
		  0,
		  { .ifindex = 9, .has_xdp = true, .xdp_xmit = 1 },
		  false },
		{ "another device than the parent",
		  9,
		  { .ifindex = 8, .has_xdp = true, .xdp_xmit = 1 },
		  false },
		{ "parent with TC only",
		  9,
		  { .ifindex = 9, .has_tc = true, .xdp_xmit = 1 },
		  false },
		{ "parent cannot take xdp frames", 9, { .ifindex = 9, .has_xdp = true }, false },
		{ "parent's xdp features unknown",
		  9,
		  { .ifindex = 9, .has_xdp = true, .xdp_xmit = -EOPNOTSUPP },
		  false },
		{ "parent with egress policy",
		  9,
		  { .ifindex = 9, .has_xdp = true, .xdp_xmit = 1, .egress_policy = true },
		  false },
		{ "parent with a netdev egress chain",
		  9,
		  { .ifindex = 9, .has_xdp = true, .xdp_xmit = 1, .egress_chain = true },
		  false },
	};

	for (unsigned int i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct pfd_policy_dev vlan = { .ifindex = 12,
					       .vlan_parent = c[i].vlan_parent,
					       .vlan_xdp = !c[i].want };

		pfd_policy_vlan_parent(&vlan, &c[i].parent);
		T_EQ(vlan.vlan_xdp, c[i].want, c[i].name);
	}
}

int main(void)
{
	test_vlan_parent();
	run_cases();
	run_nat();
	run_flags();
	run_names();
	return t_done();
}
