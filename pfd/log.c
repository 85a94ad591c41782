// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's logger (see log.h): syslog priorities on stderr, "<N>" prefixes for
 * journald under systemd, iproute2-style prefixes on a terminal, and libbpf's
 * output routed through it. Used by every part of pfd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "pfd/log.h"

static int log_level = LOG_INFO;
static bool log_systemd;
static bool libbpf_verbose;
static char *capture_buf;
static size_t capture_len;

void pfd_log_capture_begin(char *buf, size_t len)
{
	capture_buf = len ? buf : NULL;
	capture_len = len;
	if (capture_buf)
		capture_buf[0] = '\0';
}

void pfd_log_capture_end(void)
{
	capture_buf = NULL;
	capture_len = 0;
}

static void capture(const char *msg)
{
	size_t used = strlen(capture_buf);

	if (used + 3 >= capture_len)
		return;
	snprintf(capture_buf + used, capture_len - used, "%s%s", used ? "; " : "", msg);
}

void pfd_log_init(int level, bool systemd)
{
	pfd_log_set_level(level);
	log_systemd = systemd;
}

void pfd_log_init_auto(int level)
{
	const char *js = getenv("JOURNAL_STREAM");

	pfd_log_init(level, js && *js);
}

void pfd_log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

static const char *prio_prefix(int prio)
{
	if (prio <= LOG_ERR)
		return "error: ";
	if (prio == LOG_WARNING)
		return "warning: ";
	return "";
}

static void pfd_vlog(int prio, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t len;

	if (prio > log_level && !(capture_buf && prio <= LOG_ERR))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* one message, one line: drop a trailing newline (libbpf adds them) */
	len = strlen(buf);
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (capture_buf && prio <= LOG_ERR)
		capture(buf);
	if (prio > log_level)
		return;
	if (log_systemd)
		fprintf(stderr, "<%d>%s\n", prio, buf);
	else
		fprintf(stderr, "pfd: %s%s\n", prio_prefix(prio), buf);
}

void pfd_log(int prio, const char *fmt, ...)
{
	int saved = errno; /* callers log, then use errno */
	va_list ap;

	va_start(ap, fmt);
	pfd_vlog(prio, fmt, ap);
	va_end(ap);
	errno = saved;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int prio;

	switch (level) {
	case LIBBPF_WARN:
		/* A failed load's verifier log comes as warnings: keep them
		 * when asked to, else one level quieter (libbpf warns about
		 * things pfd handles, like a missing pin it then creates). */
		prio = libbpf_verbose ? LOG_WARNING : LOG_NOTICE;
		break;
	case LIBBPF_INFO:
		prio = LOG_DEBUG;
		break;
	default:
		return 0; /* LIBBPF_DEBUG is too chatty even for -vv */
	}
	pfd_vlog(prio, fmt, ap);
	return 0;
}

void pfd_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void pfd_log_libbpf_verbose(bool on)
{
	libbpf_verbose = on;
}

unsigned long pfd_ratelimit_pass(struct pfd_ratelimit *rl, unsigned int interval_s)
{
	struct timespec ts;
	long long now;
	unsigned long n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	if (rl->last_ms && now - rl->last_ms < (long long)interval_s * 1000) {
		rl->suppressed++;
		return 0;
	}
	rl->last_ms = now ? now : 1;
	n = rl->suppressed + 1;
	rl->suppressed = 0;
	return n;
}
