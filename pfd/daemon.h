/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `pfd run`: the daemon. Called by pfd/main.c. Init order: config -> log ->
 * lock (<state-dir>/pfd.lock) -> BPF (load, adopt pins, control block,
 * devices) -> attach -> netlink subscriptions (ct, nft, rt) -> dump ->
 * install, then the event loop until SIGTERM/SIGINT. SIGHUP, or a reload on
 * the control socket (pfd/control.h), reloads.
 * On exit programs, links and maps stay pinned: forwarding continues under
 * the heartbeat guard and a restart adopts them.
 */
#ifndef PFD_DAEMON_H
#define PFD_DAEMON_H

/* The release (`pfd --version`, the control socket's version command). */
#ifndef PFD_VERSION
#define PFD_VERSION "0.1.0"
#endif

/* verbosity: number of -v (each raises the configured log level by one).
 * Returns the process exit code: 0 after a clean stop, 1 on a failure to
 * start (already logged). */
int pfd_daemon_run(const char *config_path, int verbosity);

#endif /* PFD_DAEMON_H */
