/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between pfd and its BPF programs: map names, keys and values,
 * the control block, per-device records and limits. Included by the BPF
 * programs (xdp-bpf/, tc-bpf/) and by userspace (pfd/, tests/); nothing else
 * may define these layouts. Any change to a struct or to the meaning of a
 * field bumps PFD_ABI_VERSION: the fast path passes every packet unless the
 * control block carries the version it was built with, because libbpf only
 * compares map sizes when it reuses a pin.
 *
 * Must compile in both worlds: <linux/types.h> types only, no libc, no BPF
 * helpers.
 */
#ifndef PFD_ABI_H
#define PFD_ABI_H

#include <linux/types.h>

#define PFD_ABI_VERSION	    5
#define PFD_ABI_CHECK(expr) _Static_assert(expr, #expr)

/* Map names: <= 15 characters (BPF_OBJ_NAME_LEN keeps 16 with the NUL). Maps
 * shared with hand-loaded tc objects are pinned by name under
 * <bpffs>/tc/globals/, the directory iproute2 uses for LIBBPF_PIN_BY_NAME. */
#define PFD_MAP_FLOWS	   "pfd_flows"
#define PFD_MAP_TX_PORTS   "pfd_tx_ports"
#define PFD_MAP_CTL	   "pfd_ctl"
#define PFD_MAP_DEVS	   "pfd_devs"
#define PFD_MAP_STATS	   "pfd_stats"
#define PFD_MAP_BLOCK4	   "pfd_block4"
#define PFD_MAP_BLOCK6	   "pfd_block6"
#define PFD_MAP_BLOCK_ST   "pfd_block_stats"
#define PFD_MAP_BLOCK_BITS "pfd_block_bits"
#define PFD_MAP_SYNP4	   "pfd_synp4"
#define PFD_MAP_SYNP6	   "pfd_synp6"
#define PFD_MAP_SYNP_ST	   "pfd_synp_stats"
#define PFD_MAP_VLANS	   "pfd_vlans"

#ifndef PFD_MAX_FLOWS
/* Map entries, one per direction: 2 per offloaded conntrack entry. pfd
 * sizes the map from pfd.conf (flow-map-size) when it creates it; this is
 * the default and what a hand-loaded tc object would create. */
#define PFD_MAX_FLOWS 262144
#endif

/* Devices with a per-device counter slot. Slot 0 counts packets seen on a
 * device pfd has no record for (a hand-loaded object on a stray device). */
#define PFD_MAX_DEVS 64
/* Reason slots per device and hook; room to append reasons without
 * changing the stats map's size. */
#define PFD_REASON_SLOTS 32

enum pfd_hook {
	PFD_HOOK_XDP = 0,
	PFD_HOOK_TC = 1,
	PFD_HOOKS = 2,
};

/* Index into pfd_stats (a per-CPU array of struct pfd_counter). */
#define PFD_STATS_INDEX(slot, hook, reason) \
	(((slot)*PFD_HOOKS + (hook)) * PFD_REASON_SLOTS + (reason))
#define PFD_STATS_ENTRIES (PFD_MAX_DEVS * PFD_HOOKS * PFD_REASON_SLOTS)

/* One entry per direction of an offloaded conntrack entry: the packet as it
 * arrives, before any rewrite. */
struct pfd_flow_key {
	__u32 ifindex;	 /* ingress device */
	__u8 family;	 /* AF_INET or AF_INET6 */
	__u8 l4proto;	 /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 pad;	 /* hashed: always 0 */
	__be32 saddr[4]; /* IPv4 uses [0]; the rest stay 0 */
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
};
PFD_ABI_CHECK(sizeof(struct pfd_flow_key) == 44);

/* struct pfd_flow.flags */
#define PFD_FLOW_F_SNAT (1U << 0) /* rewrite source to nat_saddr:nat_sport */
#define PFD_FLOW_F_DNAT (1U << 1) /* rewrite destination to nat_daddr:nat_dport */
#define PFD_FLOW_F_VIA_TC \
	(1U << 2) /* egress has policy XDP would skip: XDP passes,
						 * TC ingress forwards (through the egress qdisc) */
#define PFD_FLOW_F_FIB_MARK \
	(1U << 3) /* look up the route with fib_mark
						 * (BPF_FIB_LOOKUP_MARK, kernel >= 6.10) */
#define PFD_FLOW_F_KEEPALIVE \
	(1U << 4) /* flowtable mode: pass one packet per
						 * pfd_ctl.keepalive_ms to the kernel, whose
						 * software flowtable forwards it and so keeps
						 * its own entry (and IPS_OFFLOAD) alive */
#define PFD_FLOW_F_REPLY \
	(1U << 5) /* userspace bookkeeping: this entry is the
						 * reply direction (pairs the two entries for
						 * `pfd flows`); the fast path ignores it */
#define PFD_FLOW_F_VLAN_TX \
	(1U << 6) /* oif is a VLAN device in pfd_vlans: XDP pushes
						 * its tag and redirects to its parent (TC
						 * redirects to oif, whose xmit pushes it) */

/*
 * The value for one direction. pfd writes the first part at install and never
 * changes it in place (a changed decision is a new install); the fast path
 * writes the FIB cache and the counters.
 */
struct pfd_flow {
	/* NAT for this direction, derived from the conntrack tuples */
	__be32 nat_saddr[4];
	__be32 nat_daddr[4];
	__be16 nat_sport;
	__be16 nat_dport;
	__u32 oif;	/* the only egress device allowed */
	__u32 flags;	/* PFD_FLOW_F_* */
	__u32 fib_mark; /* with PFD_FLOW_F_FIB_MARK */
	/* The pfd_ctl.policy_gen the flow was accepted under. Any other value:
	 * the ruleset changed since, and the kernel decides the packet (and
	 * marks the flow again if the new ruleset still offloads it). */
	__u32 policy_gen;
	/* Cached FIB result: valid only while cache_gen == pfd_ctl.fib_gen and
	 * cache_gen != 0 (0 = empty). pfd bumps fib_gen on every route, rule,
	 * neighbour and link change and whenever its device set changes (the
	 * fast path then skips the egress device check). */
	__u32 cache_gen;
	__u16 cache_mtu; /* egress MTU the lookup checked against */
	__u8 cache_dmac[6];
	__u8 cache_smac[6];
	__u16 pad; /* always 0 */
	/* Written by the fast path with plain stores: exact while one CPU
	 * carries the direction (RSS keeps a flow on one queue); CPUs racing
	 * on one direction can lose increments. Display only: conntrack
	 * keeps its own counters. Two atomics cost 9 ns a packet. */
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns;   /* bpf_ktime_get_coarse_ns() of the last packet */
	__u64 kernel_pass_ns; /* PFD_FLOW_F_KEEPALIVE: last packet left to the kernel */
};
PFD_ABI_CHECK(sizeof(struct pfd_flow) == 104);

/* struct pfd_ctl.flags */
#define PFD_CTL_F_DRY_RUN (1U << 0) /* check and count, then pass */
#define PFD_CTL_F_BLOCK	  (1U << 1) /* pfd_block holds prefixes: look them up */
#define PFD_CTL_F_BLOCK_DRY_RUN \
	(1U << 2)		 /* count block matches, drop nothing
						 * (pfd.conf dry-run) */
#define PFD_CTL_F_SYNP (1U << 3) /* pfd_synp4/6 hold services: answer their SYNs */
#define PFD_CTL_F_SYNP_DRY_RUN \
	(1U << 4) /* count those SYNs, answer none (dry-run,
						 * or a ruleset commit pfd has
						 * not read yet) */

/* The single entry of pfd_ctl. Read by the fast path on every packet; written
 * only by pfd. A zeroed block (a fresh map, a hand-loaded object without pfd)
 * fails the version check: everything passes. */
struct pfd_ctl {
	__u32 abi_version;	/* != PFD_ABI_VERSION: pass everything */
	__u32 flags;		/* PFD_CTL_F_* */
	__u64 heartbeat_ns;	/* CLOCK_MONOTONIC of pfd's last beat */
	__u64 heartbeat_max_ns; /* older than this: pass everything */
	__u32 fib_gen;		/* FIB cache generation; never 0 once pfd runs */
	__u32 keepalive_ms;	/* PFD_FLOW_F_KEEPALIVE interval; 0 = off */
	__u32 policy_gen;	/* bumped when the ruleset changes: a flow
				 * stamped with another value goes to the
				 * kernel (one write revalidates every flow) */
	__u32 reserved;		/* always 0 */
};
PFD_ABI_CHECK(sizeof(struct pfd_ctl) == 40);

/* struct pfd_dev.flags */
#define PFD_DEV_F_DRY_RUN (1U << 0) /* circuit breaker tripped: pass all */
#define PFD_DEV_F_XDP	  (1U << 1) /* pfd's XDP program is attached */
#define PFD_DEV_F_TC	  (1U << 2) /* pfd's TC ingress program is attached */
#define PFD_DEV_F_TC_VIA_ONLY \
	(1U << 3) /* TC ingress runs behind pfd's XDP: it
						 * carries only VIA_TC flows, XDP
						 * decided (and counted) the rest */
/* VLAN devices sit on this device. A driver may keep a frame's tag outside
 * the frame (veth when its peer inserts tags in hardware, a NIC's rx-vlan
 * offload, generic XDP), so XDP cannot tell a tagged frame from an untagged
 * one: it hands every packet to TC ingress, which the kernel tells. */
#define PFD_DEV_F_VLAN_UPPERS (1U << 4)

/* pfd_devs: ifindex -> record, for every device pfd attached to. */
struct pfd_dev {
	__u32 slot;  /* counter slot, 1 .. PFD_MAX_DEVS - 1 */
	__u32 flags; /* PFD_DEV_F_* */
};
PFD_ABI_CHECK(sizeof(struct pfd_dev) == 8);

/* pfd_vlans: VLAN device ifindex -> how XDP transmits on it, for the VLAN
 * devices pfd attached whose parent it attached too (and whose egress
 * priority map is empty: the tag's PCP is 0, as the kernel would send). */
struct pfd_vlan {
	__u32 parent; /* ifindex the tagged frame leaves by (in pfd_tx_ports) */
	__be16 proto; /* ETH_P_8021Q or ETH_P_8021AD */
	__u16 tci;    /* VLAN ID, host order */
};
PFD_ABI_CHECK(sizeof(struct pfd_vlan) == 8);

/* Block prefixes (pfd.conf `block`): packets from or to them are dropped
 * before anything else looks at them, an explicit operator decision taken
 * ahead of nftables. One LPM trie per family (pfd_block4, pfd_block6): a
 * walk compares a node's whole key, so IPv4 keys kept apart are 4 bytes,
 * not 16, and an IPv4 walk does not wade through IPv6 nodes. At most
 * PFD_MAX_BLOCKS prefixes in all, sharing pfd_block_stats. */
#define PFD_MAX_BLOCKS 4096

struct pfd_block_key4 {
	__u32 prefixlen; /* LPM trie: bits of addr that count */
	__be32 addr;
};
PFD_ABI_CHECK(sizeof(struct pfd_block_key4) == 8);

struct pfd_block_key6 {
	__u32 prefixlen;
	__be32 addr[4];
};
PFD_ABI_CHECK(sizeof(struct pfd_block_key6) == 20);

/* pfd_block_bits: one bit per family and first 16 address bits, set when
 * some block prefix covers part of that /16. An address whose bit is clear
 * is in no prefix, and costs one array lookup instead of an LPM walk (tens
 * of ns with a few thousand prefixes): most traffic is not blocked. Word
 * PFD_BLOCK_BITS_WORD(family6, top16), bit top16 % 64. */
#define PFD_BLOCK_BITS_WORDS	       (2 * 65536 / 64)
#define PFD_BLOCK_BITS_WORD(v6, top16) ((((v6) ? 65536U : 0U) + (top16)) / 64)

/* struct pfd_block.flags */
#define PFD_BLOCK_F_DRY_RUN (1U << 0) /* count matches, drop nothing */

struct pfd_block {
	__u32 index; /* pfd_block_stats slot, < PFD_MAX_BLOCKS; pfd keeps
		      * it for as long as the prefix stays configured */
	__u32 flags; /* PFD_BLOCK_F_* */
};
PFD_ABI_CHECK(sizeof(struct pfd_block) == 8);

/*
 * SYN-flood protection (pfd.conf `syn-protect`): XDP answers a SYN to a
 * protected service with the SYN-ACK the kernel's synproxy would send (a
 * SYN cookie from bpf_tcp_raw_gen_syncookie_ipv4/6, the same secret and
 * encoding nf_synproxy checks), and leaves the client's ACK to the
 * synproxy rule of the ruleset, which validates the cookie and opens the
 * connection to the server. One LPM trie per family, keyed by destination
 * port first and address after, so that a service is one entry of
 * prefixlen 16 + the address prefix, whatever the number of ports or
 * prefixes. Addresses are bytes: the key has no padding inside the bits
 * it compares.
 */
#define PFD_MAX_SYNP	   4096 /* trie entries: prefixes x ports, all rules */
#define PFD_MAX_SYNP_RULES 64	/* syn-protect lines: pfd_synp_stats slots */

struct pfd_synp_key4 {
	__u32 prefixlen; /* 16 (the port) + the address prefix's length */
	__be16 dport;
	__u8 addr[4];
	__u8 pad[2]; /* never compared (prefixlen <= 48); always 0 */
};
PFD_ABI_CHECK(sizeof(struct pfd_synp_key4) == 12);

struct pfd_synp_key6 {
	__u32 prefixlen; /* 16 + the prefix's length, at most 144 */
	__be16 dport;
	__u8 addr[16];
	__u8 pad[2];
};
PFD_ABI_CHECK(sizeof(struct pfd_synp_key6) == 24);

/* struct pfd_synp.flags: the nft synproxy statement's options (values of
 * NF_SYNPROXY_OPT_*), which the SYN-ACK must offer exactly as the rule
 * that checks the cookie would have. */
#define PFD_SYNP_F_MSS	     (1U << 0)
#define PFD_SYNP_F_WSCALE    (1U << 1)
#define PFD_SYNP_F_SACK_PERM (1U << 2)
#define PFD_SYNP_F_TIMESTAMP (1U << 3)
#define PFD_SYNP_F_ECN	     (1U << 4)
#define PFD_SYNP_F_DRY_RUN   (1U << 7) /* count matching SYNs, answer none */

struct pfd_synp {
	__u16 index; /* pfd_synp_stats slot: the rule, < PFD_MAX_SYNP_RULES */
	__u16 mss;   /* the synproxy statement's mss (PFD_SYNP_F_MSS) */
	__u8 wscale; /* its wscale (PFD_SYNP_F_WSCALE) */
	__u8 ttl;    /* of the SYN-ACK: the host's default TTL/hop limit */
	__u8 flags;  /* PFD_SYNP_F_* */
	__u8 pad;    /* always 0 */
};
PFD_ABI_CHECK(sizeof(struct pfd_synp) == 8);

/* pfd_stats, pfd_block_stats and pfd_synp_stats value (per CPU). */
struct pfd_counter {
	__u64 packets;
	__u64 bytes;
};
PFD_ABI_CHECK(sizeof(struct pfd_counter) == 16);

#endif /* PFD_ABI_H */
