/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Block prefixes (pfd.conf `block`): the configured list written into the
 * pfd_block4 and pfd_block6 LPM tries and their /16 prefilter
 * (pfd_block_bits), and the per-prefix counters read back from
 * pfd_block_stats for `pfd stats` and the metrics. Everything is derived
 * from the maps, so that the CLI reads the same list from the pins while
 * the daemon is down, and a restart or reload keeps a prefix's counters.
 */
#ifndef PFD_BLOCK_H
#define PFD_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "pfd/abi.h"
#include "pfd/bpf.h"
#include "pfd/config.h"

/* Makes the tries hold exactly rules[0..n): a prefix already there keeps
 * its counter slot (its flags are updated), a new one takes the lowest free
 * slot with its counters zeroed, and a prefix no longer configured is
 * removed. New entries go in before old ones go out, and pfd_block_bits
 * covers both meanwhile. Uses m->block4, block6, block_stats, block_bits.
 * 0 or -errno (the first failure; the rest is still tried). */
int pfd_block_sync(const struct pfd_maps *m, const struct pfd_block_rule *rules, unsigned int n);

/* The trie entry of exactly this prefix: 0, or -ENOENT. */
int pfd_block_lookup(const struct pfd_maps *m, const struct pfd_prefix *p, struct pfd_block *val);

struct pfd_block_stat {
	struct pfd_prefix prefix;
	bool dry_run;
	uint32_t index;
	uint64_t packets, bytes; /* summed over CPUs */
};

/* Every installed block prefix with its counters, sorted by family, then
 * address, then length. *out is malloc()ed (NULL when n is 0). The number,
 * or -errno. */
int pfd_block_read(const struct pfd_maps *m, struct pfd_block_stat **out);

#endif /* PFD_BLOCK_H */
