/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pfd's logger, used by the daemon, the CLI and the netlink backend. Messages
 * go to stderr with syslog priorities: under systemd (JOURNAL_STREAM set) as
 * "<N>message" so journald keeps the priority, otherwise iproute2-style
 * ("pfd: error: message"). libbpf's output is routed through the same logger
 * (pfd_log_libbpf), one level quieter, except a failed load's verifier log.
 * Subject first in every message ("eth0: XDP attach failed (...)"), and the
 * pfd.conf key to change named when there is one.
 */
#ifndef PFD_LOG_H
#define PFD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* level: LOG_ERR .. LOG_DEBUG (messages above it are dropped). systemd: emit
 * "<N>" prefixes instead of "pfd: error: ". */
void pfd_log_init(int level, bool systemd);
/* Same, deciding systemd from the environment (JOURNAL_STREAM). */
void pfd_log_init_auto(int level);
void pfd_log_set_level(int level);

void pfd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Installs pfd's libbpf print callback (libbpf_set_print). While
 * pfd_log_libbpf_verbose(true), libbpf warnings (the verifier log of a failed
 * load) keep their level; otherwise every libbpf line is demoted one level. */
void pfd_log_libbpf(void);
void pfd_log_libbpf_verbose(bool on);

/* Collects every error-level message into buf ("; "-separated, truncated)
 * until pfd_log_capture_end(): the daemon keeps why a reload was refused
 * for `pfd reload` to print. One capture at a time. */
void pfd_log_capture_begin(char *buf, size_t len);
void pfd_log_capture_end(void);

#define pr_err(fmt, ...)    pfd_log(LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)   pfd_log(LOG_WARNING, fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...) pfd_log(LOG_NOTICE, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)   pfd_log(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)  pfd_log(LOG_DEBUG, fmt, ##__VA_ARGS__)

/* Log a condition once per call site (a full map, a missing feature). */
#define pr_once(prio, fmt, ...)                            \
	do {                                               \
		static bool pfd_logged_;                   \
		if (!pfd_logged_) {                        \
			pfd_logged_ = true;                \
			pfd_log(prio, fmt, ##__VA_ARGS__); \
		}                                          \
	} while (0)

/* Rate-limited per call site: at most one line per interval_s seconds; the
 * next line that gets through says how many were suppressed. */
#define pr_ratelimited(prio, interval_s, fmt, ...)                                             \
	do {                                                                                   \
		static struct pfd_ratelimit pfd_rl_;                                           \
		unsigned long pfd_n_ = pfd_ratelimit_pass(&pfd_rl_, interval_s);               \
		if (pfd_n_ == 1)                                                               \
			pfd_log(prio, fmt, ##__VA_ARGS__);                                     \
		else if (pfd_n_ > 1)                                                           \
			pfd_log(prio, fmt " (%lu similar messages suppressed)", ##__VA_ARGS__, \
				pfd_n_ - 1);                                                   \
	} while (0)

struct pfd_ratelimit {
	long long last_ms;
	unsigned long suppressed;
};
/* 0: suppress; otherwise 1 + the number suppressed since the last pass. */
unsigned long pfd_ratelimit_pass(struct pfd_ratelimit *rl, unsigned int interval_s);

#endif /* PFD_LOG_H */
