/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between pfd and its two TC egress programs, the TCP MSS clamp
 * (tc-bpf/pfd_tc_mss.bpf.c) and the egress jitter (tc-bpf/pfd_tc_jitter.bpf.c):
 * map names, keys, values and counter ids. Their settings live in maps pinned
 * by name under <bpffs>/tc/globals/ (LIBBPF_PIN_BY_NAME), because a tc-loaded
 * object cannot have its .rodata set: pfd writes them from pfd.conf, an
 * operator who loads the objects by hand writes them with bpftool (see
 * man/pfd-tc.8). An empty map means "not configured": the packet leaves
 * unchanged. Included by the BPF programs and by userspace (pfd/egress.c,
 * tests/); the same rules as abi.h apply: <linux/types.h> types only, no
 * implicit padding, sizes asserted, and a layout change renames the map
 * (libbpf reuses a pin when only the sizes match).
 */
#ifndef PFD_EGRESS_H
#define PFD_EGRESS_H

#include <linux/types.h>

#define PFD_EGRESS_CHECK(expr) _Static_assert(expr, #expr)

/* Map names (<= 15 characters: BPF_OBJ_NAME_LEN keeps 16 with the NUL). */
#define PFD_MAP_MSS_CFG	  "pfd_mss_cfg"	  /* ifindex (0 = every device) -> ceiling */
#define PFD_MAP_MSS_PFX	  "pfd_mss_pfx"	  /* LPM: device, direction, prefix -> ceiling */
#define PFD_MAP_MSS_STATS "pfd_mss_stats" /* per-CPU counters, PFD_MSS_S_* */
#define PFD_MAP_JIT_CFG	  "pfd_jit_cfg"	  /* ifindex (0 = every device) -> delay range */
#define PFD_MAP_JIT_PFX	  "pfd_jit_pfx"	  /* LPM: device, prefix -> selected */
#define PFD_MAP_JIT_PORT  "pfd_jit_port"  /* device, L4 port -> selected */
#define PFD_MAP_JIT_DIST  "pfd_jit_dist"  /* distribution tables */
#define PFD_MAP_JIT_FLOWS "pfd_jit_flows" /* LRU: 5-tuple -> last departure time */
#define PFD_MAP_JIT_STATS "pfd_jit_stats" /* per-CPU counters, PFD_JIT_S_* */

/* Object files (installed to /usr/lib/bpf/pfd/) and their program names. */
#define PFD_TC_MSS_OBJ	   "pfd_tc_mss.bpf.o"
#define PFD_TC_JITTER_OBJ  "pfd_tc_jitter.bpf.o"
#define PFD_TC_MSS_PROG	   "pfd_tc_mss"
#define PFD_TC_JITTER_PROG "pfd_tc_jitter"

/* TC filter priorities pfd uses on the egress hook, so it finds (and replaces)
 * its own filters and leaves an operator's alone. The MSS clamp runs first. */
#define PFD_TC_MSS_PRIO	   0xc001
#define PFD_TC_JITTER_PRIO 0xc002

/* ---- MSS clamp ---------------------------------------------------------- */

/* Valid ceilings: TCP_MIN_MSS (include/net/tcp.h) .. the field's maximum. */
#define PFD_MSS_MIN 88
#define PFD_MSS_MAX 65535

/* struct pfd_mss_conf.flags */
#define PFD_MSS_F_MTU \
	(1U << 0)		   /* ceiling = egress MTU - IP - TCP headers,
						 * read per packet (bpf_check_mtu), so an MTU
						 * change applies at once; mss is ignored */
#define PFD_MSS_F_EXEMPT (1U << 1) /* matching packets are never clamped */

/* A ceiling: the value of pfd_mss_cfg and of pfd_mss_pfx. */
struct pfd_mss_conf {
	__u16 mss;  /* bytes; 0 with no flag: entry ignored */
	__u8 flags; /* PFD_MSS_F_* */
	__u8 plen;  /* pfd_mss_pfx only: the entry's prefix length (LPM
				 * lookups do not return it; precedence needs it) */
};
PFD_EGRESS_CHECK(sizeof(struct pfd_mss_conf) == 4);

/* Header bytes between the MTU and the MSS: IPv4 20 + TCP 20, IPv6 40 + 20. */
#define PFD_MSS_MTU_OVERHEAD4 40
#define PFD_MSS_MTU_OVERHEAD6 60

/* pfd_mss_pfx and pfd_jit_pfx key: one trie for both families and both
 * directions. The LPM prefix covers ifindex and sel in full (64 bits) and then
 * plen bits of addr: prefixlen = 64 + plen. ifindex 0 = any device. */
struct pfd_egress_pfx_key {
	__u32 prefixlen; /* LPM: 64 + prefix length */
	__u32 ifindex;	 /* egress device, 0 = any */
	__u8 family;	 /* AF_INET (2) or AF_INET6 (10) */
	__u8 dir;	 /* PFD_PFX_*; pfd_jit_pfx uses PFD_PFX_ANY */
	__u16 pad;	 /* always 0 */
	__be32 addr[4];	 /* IPv4 uses [0]; host bits zero */
};
PFD_EGRESS_CHECK(sizeof(struct pfd_egress_pfx_key) == 28);
#define PFD_EGRESS_PFX_BASE 64 /* prefixlen bits before addr */

enum pfd_pfx_dir {
	PFD_PFX_SRC = 0, /* the packet's source address */
	PFD_PFX_DST = 1, /* the packet's destination address */
	PFD_PFX_ANY = 2, /* either (jitter selection) */
};

/* pfd_mss_stats: per-CPU __u64 packet counts, one slot per outcome for TCP
 * SYN and SYN-ACK segments (every other packet is not counted). Append only. */
#define PFD_MSS_STATS(X)                               \
	X(CLAMPED, 0, "clamped")                       \
	X(BELOW, 1, "already at or below the ceiling") \
	X(NO_OPTION, 2, "no MSS option")               \
	X(MALFORMED, 3, "malformed TCP options")       \
	X(NO_CEILING, 4, "no ceiling configured")      \
	X(EXEMPT, 5, "exempt by prefix")               \
	X(ERROR, 6, "packet rewrite failed")

enum pfd_mss_stat {
#define PFD_MSS_STAT_ENUM(name, value, text) PFD_MSS_S_##name = value,
	PFD_MSS_STATS(PFD_MSS_STAT_ENUM)
#undef PFD_MSS_STAT_ENUM
		PFD_MSS_S__COUNT
};
#define PFD_MSS_STAT_SLOTS 16 /* map size: room to append */

/* ---- jitter ------------------------------------------------------------- */

/* Distributions of the delay between min and max. */
enum pfd_jit_distribution {
	PFD_JIT_UNIFORM = 0, /* computed in the program */
	PFD_JIT_NORMAL = 1,  /* table: mean at the middle, +-3 sigma at min/max */
	PFD_JIT_PARETO = 2,  /* table: heavy tail toward max (alpha 1.5) */
	PFD_JIT_TABLE = 3,   /* table written by the operator */
	PFD_JIT_DISTS = 4,
};

/* struct pfd_jit_conf.flags */
#define PFD_JIT_F_SEL_PFX \
	(1U << 0) /* only packets with an address in
						 * pfd_jit_pfx (this device or any) */
#define PFD_JIT_F_SEL_PORT \
	(1U << 1) /* only TCP/UDP packets with a port in
						 * pfd_jit_port (this device or any) */

/* pfd_jit_cfg value. A device without an entry (and no entry 0) is left
 * alone. max_ns >= min_ns; the delay is never above max_ns. */
struct pfd_jit_conf {
	__u64 min_ns;
	__u64 max_ns;
	__u32 dist;  /* enum pfd_jit_distribution */
	__u32 flags; /* PFD_JIT_F_* */
};
PFD_EGRESS_CHECK(sizeof(struct pfd_jit_conf) == 24);

/* pfd_jit_dist: an array indexed by enum pfd_jit_distribution. A table maps a
 * uniform random index to a fraction of (max - min), in 1/65535 units; it is
 * the inverse CDF of the distribution sampled at 256 points. */
#define PFD_JIT_DIST_POINTS 256
struct pfd_jit_dist {
	__u16 q[PFD_JIT_DIST_POINTS];
};
PFD_EGRESS_CHECK(sizeof(struct pfd_jit_dist) == 512);

/* pfd_jit_port key: a TCP or UDP port on either side, per device (0 = any). */
struct pfd_jit_port_key {
	__u32 ifindex;
	__u8 l4proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;     /* always 0 */
	__be16 port;
};
PFD_EGRESS_CHECK(sizeof(struct pfd_jit_port_key) == 8);

/* pfd_jit_flows key: the flow whose packets must keep their order. Ports are
 * 0 for protocols without them. */
struct pfd_jit_flow_key {
	__u32 ifindex; /* egress device */
	__u8 family;
	__u8 l4proto;
	__u16 pad; /* hashed: always 0 */
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
};
PFD_EGRESS_CHECK(sizeof(struct pfd_jit_flow_key) == 44);

#ifndef PFD_JIT_MAX_FLOWS
/* Flows remembered for ordering. An evicted flow only loses its ordering
 * memory; its next packet is scheduled from "now", which can reorder it only
 * against its own packets still queued (at most max_ns old). */
#define PFD_JIT_MAX_FLOWS 65536
#endif

/* pfd_jit_stats: per-CPU __u64, one slot per id. Append only. */
#define PFD_JIT_STATS(X)                           \
	X(DELAYED, 0, "delayed")                   \
	X(HELD, 1, "held back to keep flow order") \
	X(UNSELECTED, 2, "not selected")           \
	X(NOT_IP, 3, "not IPv4/IPv6")              \
	X(NO_CONFIG, 4, "no jitter configured")    \
	X(ERROR, 5, "timestamp not set")           \
	X(DELAY_NS, 6, "total delay added (ns)")

enum pfd_jit_stat {
#define PFD_JIT_STAT_ENUM(name, value, text) PFD_JIT_S_##name = value,
	PFD_JIT_STATS(PFD_JIT_STAT_ENUM)
#undef PFD_JIT_STAT_ENUM
		PFD_JIT_S__COUNT
};
#define PFD_JIT_STAT_SLOTS 16

#endif /* PFD_EGRESS_H */
