/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Verdict reasons of the fast path: why a packet was forwarded, passed to
 * the kernel, dropped (a block prefix only) or answered (a syn-protect SYN).
 * Used by the BPF counters and by pfd's CLI and metrics. Values are ABI:
 * append only; retire an entry by renaming it UNUSED_<value>, never by
 * reusing its number. At most PFD_REASON_SLOTS entries.
 *
 * X(name, value, metric-label, text)
 */
#ifndef PFD_REASONS_H
#define PFD_REASONS_H

/* Tables, aligned by column. */
/* clang-format off */
#define PFD_REASONS(X)								\
	X(FORWARDED,	 0, "forwarded",	"forwarded")			\
	X(NOT_IP,	 1, "not_ip",		"not IPv4/IPv6")		\
	X(IP_SPECIAL,	 2, "ip_special",	"IPv4 options or fragment")	\
	X(NOT_TCP_UDP,	 3, "not_tcp_udp",	"not TCP/UDP (or IPv6 extension header)") \
	X(MALFORMED,	 4, "malformed",	"truncated or malformed headers") \
	X(NO_FLOW,	 5, "no_flow",		"no flow entry")		\
	X(TCP_CONTROL,	 6, "tcp_control",	"TCP SYN/FIN/RST")		\
	X(TTL,		 7, "ttl",		"TTL/hop limit <= 1")		\
	X(FIB_NO_NEIGH,	 8, "fib_no_neigh",	"FIB: no neighbour entry")	\
	X(FIB_FRAG,	 9, "fib_frag_needed",	"FIB: packet exceeds egress MTU") \
	X(FIB_DENIED,	10, "fib_denied",	"FIB: blackhole/unreachable/prohibit") \
	X(FIB_OTHER,	11, "fib_other",	"FIB: not forwarded or lookup failed") \
	X(EGRESS,	12, "egress",		"egress device not allowed for the flow") \
	X(VIA_TC,	13, "via_tc",		"handed to TC (egress policy, VLAN)") \
	X(DRY_RUN,	14, "dry_run",		"dry run")			\
	X(STALE,	15, "stale",		"daemon heartbeat stale")	\
	X(ABI,		16, "abi",		"control block missing or ABI mismatch") \
	X(REDIRECT,	17, "redirect_failed",	"redirect failed")		\
	X(NO_DEV,	18, "no_dev",		"ingress device not registered") \
	X(KEEPALIVE,	19, "keepalive",	"flowtable keep-alive: left to the kernel") \
	X(NOT_HOST,	20, "not_host",		"destination MAC not this host (XDP: group bit only)") \
	X(RULESET_CHANGED, 21, "ruleset_changed", "ruleset changed since the flow was accepted") \
	X(BLOCKED,	22, "blocked",		"dropped: source or destination in a block prefix") \
	X(SYN_COOKIE,	23, "syn_cookie",	"answered: SYN-ACK with a SYN cookie (syn-protect)")

enum pfd_reason {
#define PFD_REASON_ENUM(name, value, label, text)	PFD_R_##name = value,
	PFD_REASONS(PFD_REASON_ENUM)
#undef PFD_REASON_ENUM
	PFD_R__COUNT
};
/* clang-format on */

#endif /* PFD_REASONS_H */
