// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path's rules, one or more table rows each (docs/design.md,
 * "Per-packet rules of the fast path"), run through BPF_PROG_TEST_RUN against the XDP program and the TC
 * ingress program (the same maps, pinned in a private bpffs), with real FIB
 * lookups in a lab network namespace (tests/bpf/lab.h). Each row gives the
 * input frame, the flow installed, the control block, and expects an
 * action, exactly one count of one reason (packets and bytes), per-flow
 * counters, and exact output bytes: the input itself for every pass, or a
 * frame built from scratch with fully recomputed checksums for a forward.
 * Then scripted sequences for the FIB cache and the flowtable keep-alive.
 */
#include "lab.h"
#include "pkt.h"
#include "pfd/block.h"

/* Rows override the defaults of TCP4() and friends field by field. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define H_XDP 1
#define H_TC  2

#define C4  "192.0.2.10"
#define S4  "198.51.100.2" /* behind out0 */
#define S4B "203.0.113.2"  /* behind out1 */
#define C6  "2001:db8:1::10"
#define S6  "2001:db8:2::2"
#define S6B "2001:db8:3::2"

static const __u8 bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 mcast_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
static const __u8 other_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x77 };

struct flow_spec {
	int set;
	__u32 flags;
	const char *nat_src, *nat_dst; /* with SNAT / DNAT */
	__u16 nat_sport, nat_dport;    /* 0: unchanged */
	int oif;		       /* lab device */
	__u32 mark;
	int key_dev;	 /* lab device of the key (0 = IN0) */
	__u16 key_sport; /* nonzero: a key that does not match */
	__u32 policy_gen;
};

enum { CTL_LIVE, CTL_STALE, CTL_ABI, CTL_DRY, CTL_NONE };

/* Block prefixes installed for a row (through pfd/block.c, as the daemon
 * does), and how many packets each must count. */
#define ROW_BLOCKS 3
struct block_spec {
	const char *prefix; /* "ADDR/LEN" */
	int dry_run;
	int hits;
};

struct fp_row {
	const char *name;
	int hooks; /* H_XDP | H_TC; 0 = both */
	struct pkt_spec in;
	struct flow_spec flow;
	int ingress; /* lab device (0 = IN0) */
	int ctl;
	__u32 ctl_policy_gen; /* pfd_ctl.policy_gen: the ruleset's generation */
	int dev_dry;
	__u32 dev_flags; /* more PFD_DEV_F_* of the ingress (IN0) */
	int vlan_parent; /* flow.oif is a VLAN device on this lab device
			  * (pfd_vlans: ID 100, 802.1Q) */
	int fwd;	 /* expect a forward through egress */
	int egress;
	int reason;
	int out_zero_csum; /* the rewritten L4 checksum computes to 0 */
	struct block_spec blocks[ROW_BLOCKS];
	int block_dry; /* PFD_CTL_F_BLOCK_DRY_RUN (pfd.conf dry-run) */
};

#define TCP4(...)                                                                             \
	{                                                                                     \
		.src = C4, .dst = S4, .sport = 40000, .dport = 80, .payload = 64, __VA_ARGS__ \
	}
#define UDP4(...)                                                                        \
	{                                                                                \
		.proto = IPPROTO_UDP, .src = C4, .dst = S4, .sport = 40000, .dport = 53, \
		.payload = 64, __VA_ARGS__                                               \
	}
#define TCP6(...)                                                                          \
	{                                                                                  \
		.v6 = 1, .src = C6, .dst = S6, .sport = 40000, .dport = 80, .payload = 64, \
		__VA_ARGS__                                                                \
	}
#define UDP6(...)                                                                                 \
	{                                                                                         \
		.v6 = 1, .proto = IPPROTO_UDP, .src = C6, .dst = S6, .sport = 40000, .dport = 53, \
		.payload = 64, __VA_ARGS__                                                        \
	}
#define FLOW(...)                                  \
	{                                          \
		.set = 1, .oif = OUT0, __VA_ARGS__ \
	}
#define FWD(dev)    .fwd = 1, .egress = (dev), .reason = PFD_R_FORWARDED
#define PASS(r)	    .reason = PFD_R_##r
#define DROP	    .reason = PFD_R_BLOCKED
#define BLOCKS(...) .blocks = { __VA_ARGS__ }

static const struct fp_row rows[] = {
	/* 5, 10, 12-14: established flows are forwarded, rewritten, counted */
	{ "v4 tcp ack forwarded", 0, TCP4(), FLOW(), FWD(OUT0) },
	{ "v4 udp forwarded", 0, UDP4(), FLOW(), FWD(OUT0) },
	{ "v6 tcp forwarded", 0, TCP6(), FLOW(), FWD(OUT0) },
	{ "v6 udp forwarded", 0, UDP6(), FLOW(), FWD(OUT0) },
	{ "v4 udp tos and ethernet padding kept", 0, UDP4(.tos = 0x10, .payload = 4, .pad_to = 60),
	  FLOW(), FWD(OUT0) },
	{ "v4 tcp snat", 0, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = "198.51.100.1", .nat_sport = 50000),
	  FWD(OUT0) },
	{ "v4 tcp dnat routes by the post-dnat destination", 0, TCP4(.dst = "203.0.113.9"),
	  FLOW(.flags = PFD_FLOW_F_DNAT, .nat_dst = S4, .nat_dport = 8080), FWD(OUT0) },
	{ "v4 udp snat+dnat with ports", 0, UDP4(.dst = "203.0.113.9"),
	  FLOW(.flags = PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT, .nat_src = "198.51.100.1",
	       .nat_sport = 1024, .nat_dst = S4, .nat_dport = 5353),
	  FWD(OUT0) },
	{ "v4 tcp port-only dnat", 0, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_DNAT, .nat_dst = S4, .nat_dport = 8443), FWD(OUT0) },
	{ "v6 tcp snat+dnat", 0, TCP6(.dst = "2001:db8:3::9"),
	  FLOW(.flags = PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT, .nat_src = "2001:db8:2::1",
	       .nat_sport = 61000, .nat_dst = S6, .nat_dport = 8080),
	  FWD(OUT0) },
	{ "v6 udp port-only snat", 0, UDP6(),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = C6, .nat_sport = 1), FWD(OUT0) },
	{ "v4 udp checksum 0 stays 0 through nat", 0, UDP4(.udp_csum0 = 1),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = "198.51.100.1", .nat_sport = 50000),
	  FWD(OUT0) },
	{ "v4 udp rewrite computing 0 sends 0xffff", 0, UDP4(),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = "198.51.100.1", .nat_sport = 50000), FWD(OUT0),
	  .out_zero_csum = 1 },
	{ "v6 udp rewrite computing 0 sends 0xffff", 0, UDP6(),
	  FLOW(.flags = PFD_FLOW_F_DNAT, .nat_dst = S6, .nat_dport = 5353), FWD(OUT0),
	  .out_zero_csum = 1 },
	{ "v4 tcp rewrite computing 0 sends 0", 0, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = "198.51.100.1", .nat_sport = 50000), FWD(OUT0),
	  .out_zero_csum = 1 },
	{ "v4 ttl 2 forwarded as 1", 0, TCP4(.ttl = 2), FLOW(), FWD(OUT0) },

	/* 4: parse */
	{ "arp passes", 0, { .arp = 1 }, FLOW(), PASS(NOT_IP) },
	{ "broadcast destination mac passes", 0, TCP4(.dmac = bcast_mac), FLOW(), PASS(NOT_HOST) },
	{ "multicast destination mac passes", 0, UDP6(.dmac = mcast_mac), FLOW(), PASS(NOT_HOST) },
	{ "unicast to another host: tc passes (pkt_type)", H_TC, TCP4(.dmac = other_mac), FLOW(),
	  PASS(NOT_HOST) },
	{ "vlan tagged v4 passes", 0, TCP4(.vlan = 1), FLOW(), PASS(NOT_IP) },
	{ "v4 options pass", 0, TCP4(.opts = 1), FLOW(), PASS(IP_SPECIAL) },
	{ "v4 first fragment (MF) passes", 0, UDP4(.frag = 0x2000), FLOW(), PASS(IP_SPECIAL) },
	{ "v4 later fragment passes", 0, UDP4(.frag = 0x0010), FLOW(), PASS(IP_SPECIAL) },
	{ "v4 icmp passes",
	  0,
	  { .proto = IPPROTO_ICMP, .src = C4, .dst = S4, .payload = 32 },
	  FLOW(),
	  PASS(NOT_TCP_UDP) },
	{ "v6 hop-by-hop header passes", 0, TCP6(.ext = 1), FLOW(), PASS(NOT_TCP_UDP) },
	{ "v6 icmp passes",
	  0,
	  { .v6 = 1, .proto = IPPROTO_ICMP, .src = C6, .dst = S6, .payload = 8 },
	  FLOW(),
	  PASS(NOT_TCP_UDP) },
	/* BPF_PROG_TEST_RUN refuses skbs without a whole IP header (so the
	 * TC rows of these three cannot run); the core is the same. */
	{ "ethernet header only", H_XDP, TCP4(.trunc = 64 + 20 + 20), FLOW(), PASS(MALFORMED) },
	{ "v4 truncated inside the ip header", H_XDP, TCP4(.trunc = 64 + 20 + 10), FLOW(),
	  PASS(MALFORMED) },
	{ "v4 truncated inside the tcp header", 0,
	  TCP4(.payload = 0, .trunc = 10, .bad_ip_len = -10), FLOW(), PASS(MALFORMED) },
	{ "v4 ip length beyond the frame", 0, TCP4(.trunc = 1), FLOW(), PASS(MALFORMED) },
	{ "v4 ip length below the header", 0, TCP4(.bad_ip_len = -(20 + 64 + 1)), FLOW(),
	  PASS(MALFORMED) },
	{ "v4 version 5", 0, TCP4(.ipver = 5), FLOW(), PASS(MALFORMED) },
	/* ip_rcv() drops it: forwarding it would spread the corruption */
	{ "v4 header checksum wrong", 0, TCP4(.bad_ip_csum = 1), FLOW(), PASS(MALFORMED) },
	{ "v4 tcp doff 4", 0, TCP4(.doff = 4), FLOW(), PASS(MALFORMED) },
	{ "v4 tcp doff beyond the segment", 0, TCP4(.doff = 15, .payload = 8), FLOW(),
	  PASS(MALFORMED) },
	{ "v4 udp length beyond the datagram", 0, UDP4(.bad_ip_len = -4), FLOW(), PASS(MALFORMED) },
	{ "v6 truncated inside the ip header", H_XDP, TCP6(.trunc = 64 + 20 + 1), FLOW(),
	  PASS(MALFORMED) },
	{ "v6 payload length beyond the frame", 0, UDP6(.trunc = 2), FLOW(), PASS(MALFORMED) },
	{ "v6 udp checksum 0 is invalid", 0, UDP6(.udp_csum0 = 1), FLOW(), PASS(MALFORMED) },

	/* 5: lookup by ingress and 5-tuple */
	{ "v4 no flow", 0, TCP4(), FLOW(.key_sport = 40001), PASS(NO_FLOW) },
	{ "v6 no flow", 0, UDP6(), FLOW(.key_sport = 40001), PASS(NO_FLOW) },
	{ "flow of another ingress device", 0, TCP4(), FLOW(.key_dev = OUT0), PASS(NO_FLOW) },

	/* 6: TCP control */
	{ "tcp syn passes", 0, TCP4(.tcp_flags = TH_SYN), FLOW(), PASS(TCP_CONTROL) },
	{ "tcp fin passes", 0, TCP4(.tcp_flags = TH_FIN | TH_ACK), FLOW(), PASS(TCP_CONTROL) },
	{ "tcp rst passes", 0, TCP6(.tcp_flags = TH_RST), FLOW(), PASS(TCP_CONTROL) },
	{ "tcp psh ack forwarded", 0, TCP6(.tcp_flags = TH_PSH | TH_ACK), FLOW(), FWD(OUT0) },

	/* 7: TTL */
	{ "v4 ttl 1 passes", 0, TCP4(.ttl = 1), FLOW(), PASS(TTL) },
	{ "v6 hop limit 1 passes", 0, UDP6(.ttl = 1), FLOW(), PASS(TTL) },

	/* 10: FIB and egress */
	{ "v4 no neighbour", 0, TCP4(.dst = "198.51.100.3"), FLOW(), PASS(FIB_NO_NEIGH) },
	{ "v6 no neighbour", 0, TCP6(.dst = "2001:db8:2::3"), FLOW(), PASS(FIB_NO_NEIGH) },
	{ "v4 exceeds the egress mtu", 0, TCP4(.dst = S4B, .payload = 1300), FLOW(.oif = OUT1),
	  PASS(FIB_FRAG) },
	{ "v4 at the egress mtu forwarded", 0, TCP4(.dst = S4B, .payload = 1240), FLOW(.oif = OUT1),
	  FWD(OUT1) },
	{ "v6 exceeds the egress mtu", 0, UDP6(.dst = S6B, .payload = 1300), FLOW(.oif = OUT1),
	  PASS(FIB_FRAG) },
	{ "v4 blackhole", 0, TCP4(.dst = "203.0.113.70"), FLOW(), PASS(FIB_DENIED) },
	{ "v4 unreachable", 0, UDP4(.dst = "203.0.113.130"), FLOW(), PASS(FIB_DENIED) },
	{ "v4 prohibit", 0, TCP4(.dst = "203.0.113.200"), FLOW(), PASS(FIB_DENIED) },
	{ "v6 blackhole", 0, TCP6(.dst = "2001:db8:a::1"), FLOW(), PASS(FIB_DENIED) },
	{ "v6 unreachable", 0, UDP6(.dst = "2001:db8:b::1"), FLOW(), PASS(FIB_DENIED) },
	{ "v4 to a local address (not forwarded)", 0, TCP4(.dst = "198.51.100.1"), FLOW(),
	  PASS(FIB_OTHER) },
	{ "v6 to a local address (not forwarded)", 0, TCP6(.dst = "2001:db8:2::1"), FLOW(),
	  PASS(FIB_OTHER) },
	{ "v6 prohibit", 0, TCP6(.dst = "2001:db8:c::1"), FLOW(), PASS(FIB_DENIED) },
	{ "v4 dnat to a blackhole", 0, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_DNAT, .nat_dst = "203.0.113.70", .nat_dport = 80),
	  PASS(FIB_DENIED) },
	{ "v4 route leaves by another device than the flow's", 0, TCP4(), FLOW(.oif = OUT1),
	  PASS(EGRESS) },
	{ "v6 route leaves by another device than the flow's", 0, TCP6(.dst = S6B), FLOW(),
	  PASS(EGRESS) },
	{ "v4 egress not registered", 0, TCP4(.dst = "198.51.100.130"), FLOW(.oif = OUT3),
	  PASS(EGRESS) },
	{ "v4 egress not in the devmap: xdp passes", H_XDP, TCP4(.dst = "198.51.100.66"),
	  FLOW(.oif = OUT2), PASS(EGRESS) },
	{ "v4 egress not in the devmap: tc forwards", H_TC, TCP4(.dst = "198.51.100.66"),
	  FLOW(.oif = OUT2), FWD(OUT2) },
	{ "v4 source rule: the pre-snat source decides (out1)", 0, TCP4(.src = "192.0.2.99"),
	  FLOW(.oif = OUT1, .flags = PFD_FLOW_F_SNAT, .nat_src = "203.0.113.1", .nat_sport = 40000),
	  FWD(OUT1) },
	{ "v4 source rule: snat to the ruled source does not change the route", 0, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_SNAT, .nat_src = "192.0.2.99", .nat_sport = 40000), FWD(OUT0) },
	{ "v4 source rule: flow expecting main table route", 0, TCP4(.src = "192.0.2.99"), FLOW(),
	  PASS(EGRESS) },
	{ "v6 source rule", 0, UDP6(.src = "2001:db8:1::99"), FLOW(.oif = OUT1), FWD(OUT1) },
	{ "v4 fwmark rule with the flow's mark", 0, TCP4(),
	  FLOW(.oif = OUT1, .flags = PFD_FLOW_F_FIB_MARK, .mark = 0x42), FWD(OUT1) },
	{ "v4 without the mark flag the mark rule does not apply", 0, TCP4(),
	  FLOW(.oif = OUT1, .mark = 0x42), PASS(EGRESS) },
	{ "v6 fwmark rule with the flow's mark", 0, TCP6(),
	  FLOW(.oif = OUT1, .flags = PFD_FLOW_F_FIB_MARK, .mark = 0x42), FWD(OUT1) },

	/* VIA_TC: XDP leaves the flow to TC, which forwards it */
	{ "via-tc flow: xdp passes", H_XDP, TCP4(), FLOW(.flags = PFD_FLOW_F_VIA_TC),
	  PASS(VIA_TC) },
	{ "via-tc flow: tc forwards", H_TC, TCP4(), FLOW(.flags = PFD_FLOW_F_VIA_TC), FWD(OUT0) },
	/* The egress is a VLAN device (OUT2 stands for one: the FIB leaves
	 * by it, it is not in the devmap) on OUT0, which is: XDP pushes the
	 * tag and leaves by OUT0, TC redirects to the VLAN device. */
	{ "v4 vlan egress: tag pushed, out by the parent", 0, TCP4(.dst = "198.51.100.66"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX), .vlan_parent = OUT0, FWD(OUT2) },
	{ "v6 udp vlan egress: tag pushed", 0, UDP6(.dst = "2001:db8:5::2"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX), .vlan_parent = OUT0, FWD(OUT2) },
	{ "v4 vlan egress with snat and dnat", 0, TCP4(.dst = "198.51.100.70"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX | PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT,
	       .nat_src = "203.0.113.1", .nat_sport = 40000, .nat_dst = "198.51.100.66",
	       .nat_dport = 8080),
	  .vlan_parent = OUT0, FWD(OUT2) },
	{ "v6 tcp vlan egress with snat", 0, TCP6(.dst = "2001:db8:5::2"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX | PFD_FLOW_F_SNAT,
	       .nat_src = "2001:db8:2::1", .nat_sport = 40000),
	  .vlan_parent = OUT0, FWD(OUT2) },
	{ "vlan egress whose parent is not in the devmap: xdp passes", H_XDP,
	  TCP4(.dst = "198.51.100.66"), FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX),
	  .vlan_parent = OUT3, PASS(EGRESS) },
	{ "vlan flow without its pfd_vlans entry: xdp passes", H_XDP, TCP4(.dst = "198.51.100.66"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX), PASS(EGRESS) },
	{ "vlan egress, ttl 1: the kernel answers", 0, TCP4(.dst = "198.51.100.66", .ttl = 1),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX), .vlan_parent = OUT0, PASS(TTL) },
	{ "vlan egress in dry run: untouched", H_XDP, TCP4(.dst = "198.51.100.66"),
	  FLOW(.oif = OUT2, .flags = PFD_FLOW_F_VLAN_TX), .vlan_parent = OUT0, .ctl = CTL_DRY,
	  PASS(DRY_RUN) },
	/* VLAN devices on the ingress: XDP cannot see a tag the driver kept
	 * outside the frame, so it hands everything to TC, which decides all
	 * of it (not only VIA_TC flows) */
	{ "vlan uppers: xdp hands a plain flow to tc", H_XDP, TCP4(), FLOW(),
	  .dev_flags = PFD_DEV_F_VLAN_UPPERS, PASS(VIA_TC) },
	{ "vlan uppers: xdp hands a v6 flow to tc", H_XDP, UDP6(), FLOW(),
	  .dev_flags = PFD_DEV_F_VLAN_UPPERS, PASS(VIA_TC) },
	{ "vlan uppers: tc behind xdp forwards a plain flow", H_TC, TCP4(), FLOW(),
	  .dev_flags = PFD_DEV_F_TC | PFD_DEV_F_TC_VIA_ONLY | PFD_DEV_F_VLAN_UPPERS, FWD(OUT0) },
	{ "vlan uppers: tc behind xdp passes what has no flow", H_TC, TCP4(),
	  FLOW(.key_sport = 40001),
	  .dev_flags = PFD_DEV_F_TC | PFD_DEV_F_TC_VIA_ONLY | PFD_DEV_F_VLAN_UPPERS,
	  PASS(NO_FLOW) },

	/* the ruleset changed since the flow was accepted: the kernel decides */
	{ "flow from an older ruleset passes", 0, TCP4(), FLOW(.policy_gen = 6),
	  .ctl_policy_gen = 7, PASS(RULESET_CHANGED) },
	{ "v6 udp flow from an older ruleset passes", 0, UDP6(), FLOW(), .ctl_policy_gen = 1,
	  PASS(RULESET_CHANGED) },
	{ "flow stamped again by the current ruleset forwards", 0, TCP4(), FLOW(.policy_gen = 7),
	  .ctl_policy_gen = 7, FWD(OUT0) },
	{ "via-tc flow from an older ruleset: tc passes", H_TC, TCP4(),
	  FLOW(.flags = PFD_FLOW_F_VIA_TC, .policy_gen = 1), .ctl_policy_gen = 2,
	  PASS(RULESET_CHANGED) },
	{ "fin of a flow from an older ruleset passes", 0, TCP4(.tcp_flags = TH_FIN | TH_ACK),
	  FLOW(), .ctl_policy_gen = 3, PASS(RULESET_CHANGED) },

	/* 3a: block prefixes drop before anything else, flow or not */
	{ "block: v4 source in a prefix", 0, TCP4(), FLOW(), BLOCKS({ "192.0.2.0/24", 0, 1 }),
	  DROP },
	{ "block: v4 destination in a prefix", 0, UDP4(), FLOW(),
	  BLOCKS({ "198.51.100.0/24", 0, 1 }), DROP },
	{ "block: v4 /32 with no flow (a new connection)",
	  0,
	  TCP4(.tcp_flags = TH_SYN),
	  {},
	  BLOCKS({ "198.51.100.2/32", 0, 1 }),
	  DROP },
	{ "block: v6 source in a prefix", 0, TCP6(), FLOW(), BLOCKS({ "2001:db8:1::/48", 0, 1 }),
	  DROP },
	{ "block: v6 destination /128", 0, UDP6(), FLOW(), BLOCKS({ "2001:db8:2::2/128", 0, 1 }),
	  DROP },
	{ "block: v4 icmp",
	  0,
	  { .proto = IPPROTO_ICMP, .src = C4, .dst = S4, .payload = 32 },
	  {},
	  BLOCKS({ "198.51.100.0/24", 0, 1 }),
	  DROP },
	{ "block: v4 fragment", 0, UDP4(.frag = 0x0010), FLOW(), BLOCKS({ "192.0.2.0/24", 0, 1 }),
	  DROP },
	{ "block: v4 options", 0, TCP4(.opts = 1), FLOW(), BLOCKS({ "192.0.2.0/24", 0, 1 }), DROP },
	{ "block: v6 extension header", 0, TCP6(.ext = 1), FLOW(),
	  BLOCKS({ "2001:db8:2::/64", 0, 1 }), DROP },
	{ "block: v4 header checksum wrong still dropped", 0, TCP4(.bad_ip_csum = 1), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 1 }), DROP },
	{ "block: both addresses in one prefix count once",
	  0,
	  TCP4(.dst = "192.0.2.77"),
	  {},
	  BLOCKS({ "192.0.2.0/24", 0, 1 }),
	  DROP },
	{ "block: source and destination in two prefixes count in each", 0, UDP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 1 }, { "198.51.100.0/24", 0, 1 }), DROP },
	{ "block: outside every prefix forwards", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.128/25", 0, 0 }, { "198.51.100.4/30", 0, 0 },
		 { "2001:db8:1::/48", 0, 0 }),
	  FWD(OUT0) },
	/* bits clear for the packet's /16s: the trie is not even walked */
	{ "block: prefixes only elsewhere forward", 0, UDP4(), FLOW(),
	  BLOCKS({ "10.0.0.0/8", 0, 0 }, { "192.1.0.0/16", 0, 0 }, { "2001:db8:1::/48", 0, 0 }),
	  FWD(OUT0) },
	{ "block: a /15 covers the /16 next to its first",
	  0,
	  TCP4(.src = "192.3.2.10"),
	  {},
	  BLOCKS({ "192.2.0.0/15", 0, 1 }),
	  DROP },
	{ "block: v4 0.0.0.0/0 does not match v6", 0, UDP6(), FLOW(), BLOCKS({ "0.0.0.0/0", 0, 0 }),
	  FWD(OUT0) },
	{ "block: v6 ::/0 does not match v4", 0, UDP4(), FLOW(), BLOCKS({ "::/0", 0, 0 }),
	  FWD(OUT0) },
	{ "block: v6 ::/0 matches v6", 0, TCP6(), FLOW(), BLOCKS({ "::/0", 0, 1 }), DROP },
	{ "block: dry-run prefix counts and forwards", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 1, 1 }), FWD(OUT0) },
	{ "block: dry-run prefix counts, no flow passes",
	  0,
	  TCP4(.tcp_flags = TH_SYN),
	  {},
	  BLOCKS({ "192.0.2.0/24", 1, 1 }),
	  PASS(NO_FLOW) },
	{ "block: longer dry-run prefix inside a dropping one decides", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 0 }, { "192.0.2.10/32", 1, 1 }), FWD(OUT0) },
	{ "block: longer dropping prefix inside a dry-run one decides", 0, UDP6(), FLOW(),
	  BLOCKS({ "2001:db8:2::/48", 1, 0 }, { "2001:db8:2::/64", 0, 1 }), DROP },
	{ "block: a dropping destination beats a dry-run source", 0, UDP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 1, 1 }, { "198.51.100.0/24", 0, 1 }), DROP },
	{ "block: dry-run (pfd.conf) counts and forwards", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 1 }), .block_dry = 1, FWD(OUT0) },
	{ "block: not applied with a stale heartbeat", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 0 }), .ctl = CTL_STALE, PASS(STALE) },
	{ "block: not applied under another abi", 0, TCP4(), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 0 }), .ctl = CTL_ABI, PASS(ABI) },
	{ "block: arp is not ip",
	  0,
	  { .arp = 1 },
	  {},
	  BLOCKS({ "0.0.0.0/0", 0, 0 }),
	  PASS(NOT_IP) },
	{ "block: vlan tagged frame is not looked at", 0, TCP4(.vlan = 1), FLOW(),
	  BLOCKS({ "192.0.2.0/24", 0, 0 }), PASS(NOT_IP) },
	{ "block: v4 truncated inside the ip header passes", H_XDP, TCP4(.trunc = 64 + 20 + 10),
	  FLOW(), BLOCKS({ "0.0.0.0/0", 0, 0 }), PASS(MALFORMED) },

	/* keep-alive */
	{ "keepalive due passes", 0, TCP4(), FLOW(.flags = PFD_FLOW_F_KEEPALIVE), PASS(KEEPALIVE) },

	/* 11, 1-2: dry-run, fail open */
	{ "dry-run (global)", 0, TCP4(), FLOW(), .ctl = CTL_DRY, PASS(DRY_RUN) },
	{ "dry-run (ingress device)", 0, UDP6(), FLOW(), .dev_dry = 1, PASS(DRY_RUN) },
	{ "dry-run still reports fib failures", 0, TCP4(.dst = "203.0.113.70"), FLOW(),
	  .ctl = CTL_DRY, PASS(FIB_DENIED) },
	{ "stale heartbeat", 0, TCP4(), FLOW(), .ctl = CTL_STALE, PASS(STALE) },
	{ "abi mismatch", 0, TCP4(), FLOW(), .ctl = CTL_ABI, PASS(ABI) },
	{ "zeroed control block", 0, TCP4(), FLOW(), .ctl = CTL_NONE, PASS(ABI) },
	{ "ingress device not registered", 0, TCP4(), FLOW(.key_dev = IN1), .ingress = IN1,
	  PASS(NO_DEV) },
};

static int parse_addr(int v6, const char *s, __be32 *out)
{
	memset(out, 0, 16);
	return inet_pton(v6 ? AF_INET6 : AF_INET, s, out) == 1 ? 0 : -EINVAL;
}

static int flow_install(struct lab *lab, const struct pkt_spec *in, const struct flow_spec *f,
			struct pfd_flow_key *key_out)
{
	struct pfd_flow_key key = {};
	struct pfd_flow val = {};
	int v6 = in->v6;

	key.ifindex = lab->ifindex[f->key_dev ? f->key_dev : IN0];
	key.family = v6 ? AF_INET6 : AF_INET;
	key.l4proto = in->proto ? in->proto : IPPROTO_TCP;
	if (parse_addr(v6, in->src, key.saddr) || parse_addr(v6, in->dst, key.daddr))
		return -EINVAL;
	key.sport = htons(f->key_sport ? f->key_sport : in->sport);
	key.dport = htons(in->dport);

	val.flags = f->flags;
	val.oif = lab->ifindex[f->oif];
	val.fib_mark = f->mark;
	val.policy_gen = f->policy_gen;
	parse_addr(v6, f->nat_src ? f->nat_src : in->src, val.nat_saddr);
	parse_addr(v6, f->nat_dst ? f->nat_dst : in->dst, val.nat_daddr);
	val.nat_sport = htons(f->nat_sport ? f->nat_sport : in->sport);
	val.nat_dport = htons(f->nat_dport ? f->nat_dport : in->dport);
	*key_out = key;
	return bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY);
}

/* The frame the forward must produce, built from scratch. */
static size_t expected_frame(const struct fp_row *r, int hook, __u8 *buf, __u16 *tail)
{
	struct pkt_spec o = r->in;
	size_t len;

	if (r->flow.flags & PFD_FLOW_F_SNAT) {
		o.src = r->flow.nat_src;
		o.sport = r->flow.nat_sport;
	}
	if (r->flow.flags & PFD_FLOW_F_DNAT) {
		o.dst = r->flow.nat_dst;
		o.dport = r->flow.nat_dport;
	}
	o.ttl = (r->in.ttl ? r->in.ttl : 64) - 1;
	o.smac = lab_dev_mac[r->egress];
	o.dmac = lab_nb_mac[r->egress];
	o.zero_csum = r->out_zero_csum;
	len = pkt_build_tail(&o, buf, tail);
	/* XDP pushes the VLAN device's tag after the MACs (the payload
	 * pattern follows the offset, so the tag goes in afterwards); TC
	 * leaves the tag to the VLAN device's xmit. */
	if (r->vlan_parent && hook == PFD_HOOK_XDP) {
		memmove(buf + 16, buf + 12, len - 12);
		put16(buf + 12, 0x8100);
		put16(buf + 14, 100);
		len += 4;
	}
	return len;
}

static __u32 frame_ip_len(const __u8 *f)
{
	return get16(f + 12) == 0x0800 ? get16(f + 16) : get16(f + 18) + 40u;
}

static int prefix_parse(const char *text, struct pfd_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	p->len = atoi(slash + 1);
	p->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	return inet_pton(p->family, buf, p->addr) == 1 ? 0 : -EINVAL;
}

/* Installs the row's block prefixes the daemon's way; how many. */
static unsigned int blocks_install(struct lab *lab, const struct fp_row *r, const char *name)
{
	struct pfd_block_rule rules[ROW_BLOCKS] = {};
	unsigned int n = 0;

	for (; n < ROW_BLOCKS && r->blocks[n].prefix; n++) {
		T_OK(prefix_parse(r->blocks[n].prefix, &rules[n].prefix), name);
		rules[n].dry_run = r->blocks[n].dry_run;
	}
	T_OK(pfd_block_sync(&lab->blocks, rules, n), name);
	return n;
}

static __u64 block_hits(struct lab *lab, const char *prefix)
{
	struct pfd_block_stat *st = NULL;
	char text[INET6_ADDRSTRLEN + 8];
	struct pfd_prefix want;
	__u64 hits = ~0ULL;
	int n = pfd_block_read(&lab->blocks, &st);

	if (prefix_parse(prefix, &want))
		return hits;
	for (int i = 0; i < n; i++) {
		pfd_prefix_format(&st[i].prefix, text, sizeof(text));
		if (!strcmp(text, prefix))
			hits = st[i].packets;
	}
	free(st);
	return hits;
}

static void run_row(struct lab *lab, const struct fp_row *r, int hook)
{
	__u8 in[2048], want[2048], out[4096];
	__u32 out_len = sizeof(out), retval = ~0u, slot = lab_dev_slot[r->ingress];
	struct pfd_counter before[PFD_REASON_SLOTS], after[PFD_REASON_SLOTS];
	struct pfd_flow fb = {}, fa = {};
	struct pfd_flow_key key;
	struct pfd_ctl ctl;
	struct pkt_spec ins = r->in;
	size_t in_len, want_len = 0;
	__u64 total = 0;
	char name[200];
	__u16 tail = 0;
	int have_flow = 0;
	__u64 blocks_before[ROW_BLOCKS] = {};
	unsigned int n_blocks;

	snprintf(name, sizeof(name), "%s [%s]", r->name, hook == PFD_HOOK_XDP ? "xdp" : "tc");

	if (r->fwd) {
		want_len = expected_frame(r, hook, want, &tail);
		if (r->out_zero_csum) {
			ins.tail_set = 1;
			ins.tail_word = tail;
		}
	}
	in_len = pkt_build(&ins, in);

	lab_flows_clear(lab);
	T_OK(lab_devs_reset(lab, (r->dev_dry ? PFD_DEV_F_DRY_RUN : 0) | r->dev_flags), name);
	lab_ctl_live(&ctl);
	switch (r->ctl) {
	case CTL_STALE:
		ctl.heartbeat_ns = 1;
		ctl.heartbeat_max_ns = 1000;
		break;
	case CTL_ABI:
		ctl.abi_version = PFD_ABI_VERSION + 1;
		break;
	case CTL_DRY:
		ctl.flags = PFD_CTL_F_DRY_RUN;
		break;
	case CTL_NONE:
		memset(&ctl, 0, sizeof(ctl));
		break;
	}
	if (r->flow.flags & PFD_FLOW_F_KEEPALIVE)
		ctl.keepalive_ms = 1000;
	ctl.policy_gen = r->ctl_policy_gen;
	/* every row starts with an empty block list: sync it to this row's */
	n_blocks = blocks_install(lab, r, name);
	for (unsigned int b = 0; b < n_blocks; b++)
		blocks_before[b] = block_hits(lab, r->blocks[b].prefix);
	if (n_blocks && r->ctl != CTL_NONE)
		ctl.flags |= PFD_CTL_F_BLOCK | (r->block_dry ? PFD_CTL_F_BLOCK_DRY_RUN : 0);
	T_OK(lab_ctl_set(lab, &ctl), name);
	T_OK(lab_vlan_set(lab, r->flow.oif, r->vlan_parent), name);
	if (r->flow.set && !r->in.arp) {
		T_OK(flow_install(lab, &r->in, &r->flow, &key), name);
		have_flow = !bpf_map_lookup_elem(lab->flows_fd, &key, &fb);
	}

	lab_stats_snap(lab, slot, hook, before);
	T_OK(lab_run(lab, hook, r->ingress, in, in_len, out, &out_len, &retval), name);
	lab_stats_snap(lab, slot, hook, after);

	if (hook == PFD_HOOK_XDP)
		T_EQ(retval,
		     r->fwd			? XDP_REDIRECT :
		     r->reason == PFD_R_BLOCKED ? XDP_DROP :
						  XDP_PASS,
		     name);
	else
		T_EQ(retval,
		     r->fwd			? 7 /* TC_ACT_REDIRECT */ :
		     r->reason == PFD_R_BLOCKED ? 2 /* TC_ACT_SHOT */ :
						  0 /* TC_ACT_OK */,
		     name);
	for (unsigned int b = 0; b < n_blocks; b++)
		T_EQ(block_hits(lab, r->blocks[b].prefix) - blocks_before[b],
		     (__u64)r->blocks[b].hits, name);

	for (int i = 0; i < PFD_REASON_SLOTS; i++) {
		__u64 d = after[i].packets - before[i].packets;

		total += d;
		if (d && i != r->reason)
			printf("     %s: counted as %s\n", name, lab_reason_name(i));
	}
	T_EQ(after[r->reason].packets - before[r->reason].packets, 1, name);
	T_EQ(after[r->reason].bytes - before[r->reason].bytes, in_len, name);
	T_EQ(total, 1, name);

	if (r->fwd)
		T_BYTES(out, out_len, want, want_len, name);
	else
		T_BYTES(out, out_len, in, in_len, name); /* untouched */

	if (r->vlan_parent && r->fwd) {
		/* again, from the FIB cache the first packet filled */
		out_len = sizeof(out);
		T_OK(lab_run(lab, hook, r->ingress, in, in_len, out, &out_len, &retval), name);
		T_EQ(retval, hook == PFD_HOOK_XDP ? XDP_REDIRECT : 7, name);
		T_BYTES(out, out_len, want, want_len, name);
		fb.packets++;
		fb.bytes += frame_ip_len(in);
	}
	T_OK(lab_vlan_set(lab, r->flow.oif, 0), name);

	if (have_flow) {
		T_OK(bpf_map_lookup_elem(lab->flows_fd, &key, &fa), name);
		T_EQ(fa.packets - fb.packets, r->fwd ? 1 : 0, name);
		T_EQ(fa.bytes - fb.bytes, r->fwd ? frame_ip_len(in) : 0, name);
		if (r->fwd)
			T_TRUE(fa.last_seen_ns != 0, name);
	}
}

/* Runs one frame of a flow; returns the reason counted. */
static int run_one(struct lab *lab, int hook, const struct pkt_spec *s, __u8 *out, __u32 *out_len)
{
	struct pfd_counter before[PFD_REASON_SLOTS], after[PFD_REASON_SLOTS];
	__u8 in[2048];
	size_t len = pkt_build(s, in);
	__u32 retval;
	int why = -1;

	*out_len = 4096;
	lab_stats_snap(lab, lab_dev_slot[IN0], hook, before);
	if (lab_run(lab, hook, IN0, in, len, out, out_len, &retval))
		return -1;
	lab_stats_snap(lab, lab_dev_slot[IN0], hook, after);
	for (int i = 0; i < PFD_REASON_SLOTS; i++)
		if (after[i].packets != before[i].packets)
			why = why < 0 ? i : -2;
	return why;
}

/*
 * The FIB cache (docs/design.md, rule 10): filled by a lookup when pfd_ctl.fib_gen
 * is set, used while it is unchanged (a changed neighbour is not seen: that
 * proves the lookup is skipped), dropped by a generation bump (a changed
 * neighbour and a changed route are followed at once), with its own MTU
 * check.
 */
static void test_cache(struct lab *lab, int hook)
{
	const char *hn = hook == PFD_HOOK_XDP ? "xdp" : "tc";
	static const __u8 new_mac[6] = { 2, 0, 0, 0, 2, 0x99 };
	struct pkt_spec s = TCP4(.dst = S4);
	struct flow_spec f = FLOW();
	struct pfd_flow_key key;
	struct pfd_flow val;
	struct pfd_ctl ctl;
	__u8 out[4096];
	__u32 out_len;
	char name[160];

	lab_flows_clear(lab);
	lab_devs_reset(lab, 0);
	lab_ctl_live(&ctl);
	ctl.fib_gen = 0;
	lab_ctl_set(lab, &ctl);
	flow_install(lab, &s, &f, &key);

	snprintf(name, sizeof(name), "cache: generation 0 never fills [%s]", hn);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_EQ(val.cache_gen, 0, name);

	snprintf(name, sizeof(name), "cache: filled by a lookup [%s]", hn);
	ctl.fib_gen = 7;
	lab_ctl_set(lab, &ctl);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_EQ(val.cache_gen, 7, name);
	T_EQ(val.cache_mtu, 1500, name);
	T_BYTES(val.cache_dmac, 6, lab_nb_mac[OUT0], 6, name);
	T_BYTES(val.cache_smac, 6, lab_dev_mac[OUT0], 6, name);

	snprintf(name, sizeof(name), "cache: hit skips the lookup (old neighbour MAC) [%s]", hn);
	lab_sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:00:02:99 nud permanent dev out0");
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	T_BYTES(out, 6, lab_nb_mac[OUT0], 6, name);

	snprintf(name, sizeof(name), "cache: generation bump follows the new neighbour [%s]", hn);
	ctl.fib_gen = 8;
	lab_ctl_set(lab, &ctl);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	T_BYTES(out, 6, new_mac, 6, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_EQ(val.cache_gen, 8, name);

	snprintf(name, sizeof(name), "cache: generation bump follows a changed route [%s]", hn);
	lab_sh("ip route add 198.51.100.2/32 via 203.0.113.2 dev out1");
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name); /* still cached */
	ctl.fib_gen = 9;
	lab_ctl_set(lab, &ctl);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_EGRESS, name);
	lab_sh("ip route del 198.51.100.2/32 via 203.0.113.2 dev out1");
	lab_sh("ip neigh replace 198.51.100.2 lladdr 02:00:00:00:02:02 nud permanent dev out0");

	/* A hit does not re-check the egress device: pfd bumps the generation
	 * whenever its device set changes (daemon.c devices_sync), and the
	 * lookup after the bump refuses an egress pfd no longer holds. */
	snprintf(name, sizeof(name), "cache: egress device removed, generation bump refuses [%s]",
		 hn);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name); /* filled at 9 */
	{
		__u32 ifx = (__u32)lab->ifindex[OUT0];

		T_OK(bpf_map_delete_elem(lab->devs_fd, &ifx), name);
		bpf_map_delete_elem(lab->tx_fd, &ifx);
	}
	ctl.fib_gen = 10;
	lab_ctl_set(lab, &ctl);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_EGRESS, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_EQ(val.cache_gen, 9, name); /* not refilled for a refused egress */
	lab_devs_reset(lab, 0);

	snprintf(name, sizeof(name), "cache: route mtu cached and enforced [%s]", hn);
	lab_flows_clear(lab);
	s = (struct pkt_spec)TCP4(.dst = S4B, .payload = 100);
	f.oif = OUT1;
	flow_install(lab, &s, &f, &key);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_EQ(val.cache_gen, 10, name);
	T_EQ(val.cache_mtu, 1280, name);
	s.payload = 1300;
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FIB_FRAG, name);
	s.payload = 1240;
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
}

/* Flowtable keep-alive: one packet per interval goes to the kernel. */
static void test_keepalive(struct lab *lab, int hook)
{
	const char *hn = hook == PFD_HOOK_XDP ? "xdp" : "tc";
	struct pkt_spec s = UDP4();
	struct flow_spec f = FLOW(.flags = PFD_FLOW_F_KEEPALIVE);
	struct pfd_flow_key key;
	struct pfd_flow val;
	struct pfd_ctl ctl;
	__u8 out[4096];
	__u32 out_len;
	__u64 t0;
	char name[160];

	lab_flows_clear(lab);
	lab_devs_reset(lab, 0);
	lab_ctl_live(&ctl);
	ctl.keepalive_ms = 500; /* wide: a loaded CI machine must not stall past it */
	lab_ctl_set(lab, &ctl);
	flow_install(lab, &s, &f, &key);

	snprintf(name, sizeof(name), "keepalive: first packet to the kernel, then forwarded [%s]",
		 hn);
	t0 = lab_now_ns();
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_KEEPALIVE, name);
	bpf_map_lookup_elem(lab->flows_fd, &key, &val);
	T_TRUE(val.kernel_pass_ns != 0 && val.kernel_pass_ns <= lab_now_ns(), name);
	T_TRUE(val.kernel_pass_ns + 20000000ULL >= t0, name); /* coarse clock: a few ms */
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);

	snprintf(name, sizeof(name), "keepalive: due again after the interval [%s]", hn);
	usleep(600 * 1000);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_KEEPALIVE, name);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);

	snprintf(name, sizeof(name), "keepalive: interval 0 turns it off [%s]", hn);
	ctl.keepalive_ms = 0;
	lab_ctl_set(lab, &ctl);
	usleep(600 * 1000);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);

	snprintf(name, sizeof(name), "keepalive: flows without the flag unaffected [%s]", hn);
	ctl.keepalive_ms = 1;
	lab_ctl_set(lab, &ctl);
	f.flags = 0;
	flow_install(lab, &s, &f, &key);
	T_EQ(run_one(lab, hook, &s, out, &out_len), PFD_R_FORWARDED, name);
}

/*
 * Not a check: the average run time of the program per packet as
 * BPF_PROG_TEST_RUN measures it (prog run only, no driver), for the README
 * and the benchmark's expectations. repeat runs the same buffer: no NAT, so
 * the key stays, and TTL 255 leaves room for every repetition to forward.
 */
static void report_cost(struct lab *lab)
{
	static const struct {
		const char *what;
		__u32 gen;
		int flow;
	} cases[] = {
		{ "forward, FIB lookup", 0, 1 },
		{ "forward, FIB cache hit", 1, 1 },
		{ "pass, no flow", 0, 0 },
	};
	struct pkt_spec s = TCP4(.ttl = 255);
	struct flow_spec f = FLOW();
	struct pfd_flow_key key;
	struct pfd_ctl ctl;
	__u8 in[2048], out[4096];
	size_t len = pkt_build(&s, in);

	for (int hook = 0; hook < 2; hook++)
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			__u64 sum = 0;
			int n = 0;

			lab_flows_clear(lab);
			lab_devs_reset(lab, 0);
			lab_ctl_live(&ctl);
			ctl.fib_gen = cases[c].gen;
			lab_ctl_set(lab, &ctl);
			if (cases[c].flow)
				flow_install(lab, &s, &f, &key);
			for (int i = 0; i < 200; i++) {
				struct xdp_md md = { .data_end = len,
						     .ingress_ifindex = lab->ifindex[IN0] };
				struct __sk_buff skb = { .ifindex = lab->ifindex[IN0] };
				LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
					    .data_size_in = len, .data_out = out,
					    .data_size_out = sizeof(out), .repeat = 250);

				if (hook == PFD_HOOK_XDP) {
					opts.ctx_in = &md;
					opts.ctx_size_in = sizeof(md);
				} else {
					opts.ctx_in = &skb;
					opts.ctx_size_in = sizeof(skb);
				}
				if (bpf_prog_test_run_opts(
					    hook == PFD_HOOK_XDP ?
						    bpf_program__fd(lab->xdp->progs.pfd_xdp_fwd) :
						    bpf_program__fd(lab->tc->progs.pfd_tc_fwd),
					    &opts))
					continue;
				sum += opts.duration;
				n++;
			}
			printf("cost: %-3s %-24s %4llu ns per packet (test_run average)\n",
			       hook == PFD_HOOK_XDP ? "xdp" : "tc", cases[c].what,
			       n ? (unsigned long long)(sum / n) : 0ULL);
		}
}

int main(void)
{
	struct lab lab;
	int err;

	if (geteuid() != 0) {
		t_skip("fastpath", "needs root (BPF_PROG_TEST_RUN, namespaces)");
		return t_done();
	}
	err = lab_init(&lab);
	T_OK(err, "lab set up");
	if (err)
		return t_done();

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!rows[i].hooks || rows[i].hooks & H_XDP)
			run_row(&lab, &rows[i], PFD_HOOK_XDP);
		if (!rows[i].hooks || rows[i].hooks & H_TC)
			run_row(&lab, &rows[i], PFD_HOOK_TC);
	}
	test_cache(&lab, PFD_HOOK_XDP);
	test_cache(&lab, PFD_HOOK_TC);
	test_keepalive(&lab, PFD_HOOK_XDP);
	test_keepalive(&lab, PFD_HOOK_TC);
	printf("fastpath: %zu table rows, xdp and tc\n", sizeof(rows) / sizeof(rows[0]));
	report_cost(&lab);
	lab_fini(&lab);
	return t_done();
}
