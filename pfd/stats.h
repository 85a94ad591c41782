/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading the fast path's counters and flow map from userspace: per-CPU
 * pfd_stats summed per (device slot, hook, reason), reason names, pfd_flows
 * iteration with both directions of a conntrack entry paired. Used by the
 * daemon (metrics, circuit breaker) and the CLI (status, stats, flows).
 */
#ifndef PFD_STATS_H
#define PFD_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "pfd/abi.h"
#include "pfd/reasons.h"

/* Sums over CPUs. ~64 KiB: allocate it, do not put it on the stack. */
struct pfd_stats_sum {
	struct pfd_counter c[PFD_MAX_DEVS][PFD_HOOKS][PFD_REASON_SLOTS];
};

/* Reads every per-CPU slot of the pfd_stats map fd. 0 or -errno. */
int pfd_stats_read(int stats_fd, struct pfd_stats_sum *out);
/* Reads only one device slot's counters into out->c[slot] (the rest of out
 * is left alone): the daemon's breaker reads its devices every heartbeat. */
int pfd_stats_read_slot(int stats_fd, unsigned int slot, struct pfd_stats_sum *out);

/* One slot of a per-CPU array of struct pfd_counter (pfd_block_stats,
 * pfd_synp_stats): zeroed on every CPU, or summed over them. 0 or -errno. */
int pfd_counter_zero(int fd, __u32 index);
int pfd_counter_sum(int fd, __u32 index, struct pfd_counter *sum);
/* Sum of one reason over every slot and hook. */
struct pfd_counter pfd_stats_reason_total(const struct pfd_stats_sum *s, unsigned int reason);

/* "forwarded", "no_flow", ... (metric/JSON label) and the human text; NULL
 * for a value with no name (a reason newer than this binary). */
const char *pfd_reason_label(unsigned int reason);
const char *pfd_reason_text(unsigned int reason);
const char *pfd_hook_name(unsigned int hook); /* "xdp", "tc" */

/* Iterates pfd_flows. cb returns 0 to go on, non-zero to stop (returned). */
typedef int (*pfd_flow_cb)(void *arg, const struct pfd_flow_key *k, const struct pfd_flow *v);
int pfd_flows_foreach(int flows_fd, pfd_flow_cb cb, void *arg);

/* A walk of pfd_flows in parts, so that a long one does not hold the
 * daemon's loop: each call reads whole batches until it has given at least
 * `budget` entries to cb, and keeps its place in the cursor; `done` says
 * the map was read to its end. As with any batch walk, an entry added or
 * deleted meanwhile may be seen once, twice or not at all. Returns 0, cb's
 * non-zero value, or -errno. */
union pfd_flows_token {
	__u32 bucket; /* hash maps: the next bucket */
	struct pfd_flow_key key;
};
struct pfd_flows_cursor {
	bool started, done;
	union pfd_flows_token token;
};
int pfd_flows_foreach_part(int flows_fd, struct pfd_flows_cursor *c, unsigned int budget,
			   pfd_flow_cb cb, void *arg);

/* The key the other direction of the same conntrack entry was installed
 * under, derived from this direction's key and NAT (pfd installs both). */
void pfd_flow_peer_key(const struct pfd_flow_key *k, const struct pfd_flow *v,
		       struct pfd_flow_key *peer);

/* Both directions of one offloaded conntrack entry. orig is the original
 * direction (PFD_FLOW_F_REPLY clear); has_reply false if its peer is missing
 * (being installed or removed). */
struct pfd_flow_pair {
	struct pfd_flow_key orig_key, reply_key;
	struct pfd_flow orig, reply;
	bool has_reply;
};
typedef int (*pfd_flow_pair_cb)(void *arg, const struct pfd_flow_pair *p);
/* Iterates every original-direction entry with its reply. */
int pfd_flow_pairs_foreach(int flows_fd, pfd_flow_pair_cb cb, void *arg);

/* CLOCK_MONOTONIC in ns (the clock of heartbeat_ns and last_seen_ns). */
uint64_t pfd_now_ns(void);

#endif /* PFD_STATS_H */
