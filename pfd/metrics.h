/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus textfile metrics (node_exporter's textfile collector format),
 * written atomically by the daemon on its metrics timer. Used by
 * pfd/daemon.c.
 */
#ifndef PFD_METRICS_H
#define PFD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "pfd/block.h"
#include "pfd/synp.h"
#include "pfd/state.h"
#include "pfd/stats.h"

struct pfd_metrics_in {
	const struct pfd_state *state;	 /* control counters and devices */
	const struct pfd_stats_sum *sum; /* fast path counters */
	uint64_t heartbeat_age_ns;
	uint64_t repairs, refreshes, refresh_errors, revalidations;
	uint64_t stale, readmitted;	     /* see struct pfd_flows_stats */
	const struct pfd_block_stat *blocks; /* block prefixes, n_blocks of them */
	unsigned int n_blocks;
	bool blocks_dry_run;		  /* pfd.conf dry-run: every prefix counts only */
	const struct pfd_synp_stat *synp; /* armed syn-protect lines, n_synp */
	unsigned int n_synp;
	bool synp_dry_run; /* every line counts only (dry-run, or a commit pending) */
};

/* Writes path (temp file + rename). 0 or -errno. */
int pfd_metrics_write(const char *path, const struct pfd_metrics_in *in);

#endif /* PFD_METRICS_H */
