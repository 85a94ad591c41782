/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the kernel suite (#included by tests/kernel/test_*.c): every
 * program moves itself into a private network namespace first, so that the
 * conntrack table, nftables ruleset, routes, rules and xfrm policies it
 * creates exist only there and vanish with it; commands (conntrack, nft, ip,
 * tc) run with a timeout inside that namespace; waits are bounded.
 */
#ifndef PFD_KT_H
#define PFD_KT_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"

/* Enters a fresh network namespace with lo up; 0, or -1 after printing
 * why the suite cannot run (then the program skips and ends). */
static int kt_netns(const char *suite)
{
	if (geteuid() != 0) {
		t_skip(suite, "needs root (unshare CLONE_NEWNET, netlink writes)");
		return -1;
	}
	if (unshare(CLONE_NEWNET)) {
		t_skip(suite, "unshare(CLONE_NEWNET) failed");
		return -1;
	}
	if (system("ip link set lo up")) {
		t_skip(suite, "cannot bring lo up in the new namespace");
		return -1;
	}
	return 0;
}

/* Runs a shell command (bounded by timeout(1)); its exit status. Output is
 * discarded unless T_VERBOSE is set. */
__attribute__((format(printf, 1, 2))) static int kt_sh(const char *fmt, ...)
{
	char cmd[4096], full[4200];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "timeout 20 sh -c '%s' %s", cmd,
		 getenv("T_VERBOSE") ? "" : ">/dev/null 2>&1");
	rc = system(full);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Runs a command and returns its stdout (first size-1 bytes). */
__attribute__((format(printf, 3, 4))) static int kt_out(char *out, size_t size, const char *fmt,
							...)
{
	char cmd[4096], full[4200];
	va_list ap;
	size_t n = 0;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "timeout 20 sh -c '%s' 2>/dev/null", cmd);
	out[0] = '\0';
	p = popen(full, "r");
	if (!p)
		return -1;
	while (n + 1 < size) {
		size_t r = fread(out + n, 1, size - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

/* Waits up to ms for fd to become readable: 1 readable, 0 timeout. */
static int kt_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

#endif /* PFD_KT_H */
