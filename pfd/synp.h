/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SYN-flood protection (pfd.conf `syn-protect`): which lines are armed
 * under the ruleset's nft synproxy statements, the armed services written
 * into the pfd_synp4/pfd_synp6 tries, and the per-line counters read back
 * from pfd_synp_stats. Line i of the configuration is counter slot i. As
 * with block prefixes, everything shown is derived from the maps, so the
 * CLI reads it from the pins while the daemon is down.
 */
#ifndef PFD_SYNP_H
#define PFD_SYNP_H

#include <stdbool.h>
#include <stdint.h>

#include "pfd/abi.h"
#include "pfd/bpf.h"
#include "pfd/config.h"
#include "nft-backend/nft.h"

/*
 * Whether rule r may be answered at XDP under the ruleset's synproxy
 * statements st[0..n): the SYN-ACK must carry what the statement that
 * checks the cookie would have sent. With options in pfd.conf, some
 * statement must have exactly those; without, there must be statements
 * and all must agree. On success fills val's mss, wscale and flags (the
 * options; dry-run, index and ttl are the caller's) and returns true;
 * else *why says why not.
 */
bool pfd_synp_resolve(const struct pfd_synp_rule *r, const struct pfd_nft_synproxy *st,
		      unsigned int n, struct pfd_synp *val, const char **why);

/*
 * Makes the tries hold exactly the services of the rules with armed[i]
 * set, with value vals[i] (index i; ttl4 or ttl6, the SYN-ACK's TTL or hop
 * limit, by the entry's family). A slot whose services changed since
 * the last sync has its counters zeroed; one that kept them keeps its
 * counts across reloads and restarts. New entries go in before old ones
 * go out, where the tries have room (the rest once the old are out).
 * 0 or -errno (the first failure; the rest is still tried).
 */
int pfd_synp_sync(const struct pfd_maps *m, const struct pfd_synp_rule *rules,
		  const struct pfd_synp *vals, const bool *armed, unsigned int n, uint8_t ttl4,
		  uint8_t ttl6);

struct pfd_synp_stat {
	uint32_t index;		 /* the rule's slot: its line among syn-protect lines */
	unsigned int services;	 /* trie entries: prefixes x ports */
	struct pfd_synp val;	 /* as installed (one entry's value) */
	uint64_t packets, bytes; /* SYNs that matched, summed over CPUs */
};

/* Every slot with installed services, in slot order. *out is malloc()ed
 * (NULL when n is 0). The number, or -errno. */
int pfd_synp_read(const struct pfd_maps *m, struct pfd_synp_stat **out);

/* "timestamp sack-perm" etc. for val's flags, into buf. */
void pfd_synp_format_options(uint32_t flags, char *buf, size_t len);

#endif /* PFD_SYNP_H */
