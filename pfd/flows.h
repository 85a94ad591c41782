/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's flow table: which conntrack entries are offloaded, kept equal
 * to the pfd_flows map. Fed by conntrack events and dumps (pfd_flows_ct_cb),
 * decides with pfd/policy.c, installs and removes both directions, refreshes
 * conntrack timeouts and neighbours, repairs differences (reconcile), and
 * revalidates on ruleset changes. Used by pfd/daemon.c.
 */
#ifndef PFD_FLOWS_H
#define PFD_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nft-backend/ct.h"
#include "pfd/config.h"
#include "pfd/policy.h"

struct pfd_rt;
struct pfd_nft;
struct pfd_ft_list;

/* What the flow table needs from the daemon; pointers stay owned by it and
 * may be swapped between calls (reload). */
struct pfd_flows_ctx {
	const struct pfd_config *cfg;
	enum pfd_mode mode; /* resolved */
	struct pfd_ct *ct;
	struct pfd_rt *rt;
	struct pfd_nft *nft;		    /* may be NULL */
	const struct pfd_ft_list *ft;	    /* flowtable mode */
	const struct pfd_policy_devs *devs; /* attached devices */
	int flows_fd;
	bool fib_mark_ok;
	/* called every PFD_FLOWS_PULSE_EVERY records of a walk over the
	 * table, so that a ruleset commit is not kept waiting (may be NULL) */
	void (*pulse)(void *arg);
	void *pulse_arg;
	/* instead of pulse during the reconcile's sweep of the map (seconds
	 * at 1M flows), where no record is in hand: it may deliver conntrack
	 * events (pfd_flows_ct_cb) */
	void (*sweep_pulse)(void *arg);
};
#define PFD_FLOWS_PULSE_EVERY 1024

struct pfd_flows_stats {
	uint64_t flows; /* offloaded conntrack entries now */
	uint64_t installs;
	uint64_t removals;
	uint64_t map_full;  /* installs refused: map full */
	uint64_t repairs;   /* reconcile: differences fixed */
	uint64_t refreshes; /* conntrack timeouts refreshed */
	uint64_t refresh_errors;
	uint64_t revalidations;	 /* ruleset generations handled */
	uint64_t install_ns_sum; /* event-to-map latency sum (installs) */
	uint64_t verified;	 /* installs confirmed by reading conntrack back */
	uint64_t stale_events;	 /* ... of which conntrack no longer agreed */
	uint64_t ambiguous;	 /* installs refused: a tuple two zones share */
	uint64_t stale;		 /* entries accepted under an older ruleset,
				  * waiting for the current one to mark them */
	uint64_t readmitted;	 /* ... that it marked again: fast path again */
};

struct pfd_flows;

int pfd_flows_new(struct pfd_flows **out, const struct pfd_flows_ctx *ctx);
void pfd_flows_free(struct pfd_flows *f);
void pfd_flows_set_ctx(struct pfd_flows *f, const struct pfd_flows_ctx *ctx);
const struct pfd_flows_stats *pfd_flows_get_stats(const struct pfd_flows *f);

/* The conntrack callback (events and dump entries). arg: struct pfd_flows. */
void pfd_flows_ct_cb(void *arg, enum pfd_ct_event ev, const struct pfd_ct_entry *e);

/* Reconcile: begin, run a full dump through pfd_flows_ct_cb, end. end()
 * removes entries the dump did not show and map entries pfd does not know;
 * returns the number of differences repaired. */
void pfd_flows_reconcile_begin(struct pfd_flows *f);
uint64_t pfd_flows_reconcile_end(struct pfd_flows *f);
/* Conntrack events read between the reconcile dump's datagrams (on) and
 * done (off): they are events, not dump records, though what they install
 * counts as seen by the reconcile. */
void pfd_flows_serving_events(struct pfd_flows *f, bool on);

/* A dump failed: forget the reconcile (nothing is removed). */
void pfd_flows_reconcile_abort(struct pfd_flows *f);
/* The ruleset generation new installs are stamped with (pfd_ctl.policy_gen).
 * A change makes every installed flow stale at once without touching it:
 * the fast path passes its packets to the kernel, the record stays, and
 * the next event that shows the current ruleset's mark stamps it again
 * (one map write); conntrack's destroy event removes it. */
void pfd_flows_set_policy_gen(struct pfd_flows *f, uint32_t gen);
/* hold: no flow is installed or stamped again (offload marks an older
 * ruleset may have set are still in conntrack); removals go on. */
void pfd_flows_hold_installs(struct pfd_flows *f, bool hold);
/* The stale records whose offload mark is not known cleared yet: the
 * PFD_FLOWS_STALE_FIRST most recently active first (installed, or
 * refreshed for fast-path traffic), in order, then the others in table
 * order; one pass, no sort (*out: malloc'd; the count, or -ENOMEM). */
#define PFD_FLOWS_STALE_FIRST 4096
ssize_t pfd_flows_stale_refs(struct pfd_flows *f, struct pfd_ct_ref **out);
/* pfd cleared these entries' marks: a mark set from now on is the current
 * ruleset's, and stamps the flow again even while installs are held. */
void pfd_flows_marks_cleared(struct pfd_flows *f, const struct pfd_ct_ref *refs, size_t n);
/* pfd_ct_skip_cb (arg: the table): the entry's mark was cleared under the
 * current generation already (and any mark it has now is the current
 * ruleset's). */
bool pfd_flows_mark_known_cleared(void *arg, const struct pfd_ct_entry *e);
/* From the pulse: the refresh or reconcile sweep under way stops at the
 * next record (a ruleset commit waits); the next round of each starts
 * over. */
void pfd_flows_walk_cancel(struct pfd_flows *f);
/* Counts one ruleset revalidation (stats). */
void pfd_flows_count_revalidation(struct pfd_flows *f);

/* Removes every offloaded flow; clear_mark: also clear the offload mark bits
 * in conntrack (mark-mode revalidation: the ruleset decides again). */
void pfd_flows_remove_all(struct pfd_flows *f, bool clear_mark);

/* Mark mode: until until_ns (pfd_now_ns() clock; 0 = never), an event that
 * would install a new flow is confirmed first by reading the entry back
 * from conntrack. An event queued before a ruleset change carries a mark
 * the old ruleset set and pfd has cleared since; the entry as conntrack
 * has it now is what the current ruleset decided. */
void pfd_flows_verify_until(struct pfd_flows *f, uint64_t until_ns);
/* Removes the flows entering or leaving by ifindex (link down). */
void pfd_flows_flush_dev(struct pfd_flows *f, int ifindex);

/* Routing changed: forget cached route resolutions and policy probes
 * (fwmark rules). ifindex > 0: also that device's tc/netdev probes; -1:
 * every device's. */
void pfd_flows_invalidate(struct pfd_flows *f, int ifindex);

/* A device's tc policy changed (qdisc or filter added or removed): the
 * installed flows entering or leaving by ifindex (-1: all) are decided again
 * from their last conntrack state, now, not at their next event or the
 * reconcile: a flow that now needs VIA_TC must not bypass the new policy. */
void pfd_flows_redecide(struct pfd_flows *f, int ifindex);

/* Runs the policy probes (tc, netdev chains, fwmark rules) that are not
 * cached, for every attached device: after startup and invalidations, so a
 * flow's install pays only for its routes. */
void pfd_flows_warm(struct pfd_flows *f);

/* Timer work: conntrack timeouts of flows whose last_seen advanced (mark
 * mode), neighbour confirmation of their next hops. One call does part of a
 * round (about PFD_FLOWS_REFRESH_PART map entries); true: the round is not
 * done, call again soon. pfd_flows_walk_cancel() ends the round. */
#define PFD_FLOWS_REFRESH_PART 16384
bool pfd_flows_refresh(struct pfd_flows *f);

#endif /* PFD_FLOWS_H */
