/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's state file, <state-dir>/state: written atomically (temp file +
 * rename) by the daemon on every heartbeat, read by the CLI (status, reload).
 * Text, one `key value` per line:
 *   pid 1234
 *   mode mark|flowtable
 *   config /etc/pfd/pfd.conf
 *   started 1700000000          (Unix time)
 *   heartbeat 123456789         (CLOCK_MONOTONIC ns of the write)
 *   flows N                     (offloaded conntrack entries)
 *   installs N / removals N / resyncs N / ct_overruns N / map_full N
 *   reloads N                   (successful reloads)
 *   reload_attempts N           (SIGHUPs handled, successful or not)
 *   reload_error TEXT           (last refused reload's reason; empty if the last one worked)
 *   ruleset_gen N               (mark mode: the nftables generation pfd revalidated)
 *   dev NAME ifindex N slot N attach native|generic|tc breaker ok|tripped
 * Unknown keys are ignored by the reader (newer daemon, older CLI).
 * Also here: the pid file (<state-dir>/pfd.pid) and the lock (pfd.lock).
 */
#ifndef PFD_STATE_H
#define PFD_STATE_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pfd/abi.h"

struct pfd_state_dev {
	char name[IFNAMSIZ];
	int ifindex;
	unsigned int slot;
	char attach[16]; /* native|generic|tc */
	bool tripped;	 /* circuit breaker */
};

struct pfd_state {
	pid_t pid;
	char mode[16];
	char config[PATH_MAX];
	int64_t started;
	uint64_t heartbeat_ns;
	uint64_t flows;
	uint64_t installs;
	uint64_t removals;
	uint64_t resyncs;
	uint64_t ct_overruns;
	uint64_t map_full;
	uint64_t reloads;
	uint64_t reload_attempts;
	char reload_error[512];
	/* mark mode: the nftables generation whose marks pfd has revalidated
	 * (every offload mark set by an older ruleset cleared) */
	bool ruleset_gen_valid;
	uint32_t ruleset_gen;
	unsigned int n_devs;
	struct pfd_state_dev devs[PFD_MAX_DEVS];
};

/* Atomic write of <dir>/state. 0 or -errno. */
int pfd_state_write(const char *dir, const struct pfd_state *s);
/* Parses <dir>/state into *s (zeroed first). -ENOENT if absent, -EINVAL if
 * unreadable garbage. */
int pfd_state_read(const char *dir, struct pfd_state *s);

/* The running daemon's pid from <dir>/pfd.pid if that process is alive and
 * holds the lock, else 0. */
pid_t pfd_state_daemon_pid(const char *dir);

/* Takes the daemon lock (flock on <dir>/pfd.lock, creating dir). Returns the
 * lock fd, -EBUSY if another daemon holds it (its pid in *holder when
 * known), or -errno. */
int pfd_state_lock(const char *dir, pid_t *holder);
/* Writes <dir>/pfd.pid. */
int pfd_state_write_pid(const char *dir);
/* Removes the pid and state files (clean stop). */
void pfd_state_remove(const char *dir);

#endif /* PFD_STATE_H */
