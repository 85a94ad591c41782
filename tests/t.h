/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C test harness: each test program includes this, checks with T_*()
 * and ends with t_done(), which prints "N passed, N failed, N skipped" as its
 * last line (tests/run adds these up) and returns the exit code.
 * A check that fails prints the case name, file:line and both values.
 */
#ifndef PFD_T_H
#define PFD_T_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_skipped;

static inline void t_result(int ok, const char *name, const char *file, int line, const char *fmt,
			    ...)
{
	if (ok) {
		t_passed++;
		if (getenv("T_VERBOSE"))
			printf("ok   %s\n", name);
		return;
	}
	t_failed++;
	printf("FAIL %s (%s:%d): ", name, file, line);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define T_TRUE(cond, name) t_result(!!(cond), (name), __FILE__, __LINE__, "%s", #cond)
#define T_EQ(got, want, name)                                                                  \
	do {                                                                                   \
		long long t_g_ = (long long)(got), t_w_ = (long long)(want);                   \
		t_result(t_g_ == t_w_, (name), __FILE__, __LINE__, "%s = %lld, expected %lld", \
			 #got, t_g_, t_w_);                                                    \
	} while (0)
#define T_OK(err, name) T_EQ((err), 0, (name))
#define T_STR(got, want, name)                                                           \
	do {                                                                             \
		const char *t_g_ = (got), *t_w_ = (want);                                \
		t_result(t_g_ &&t_w_ && !strcmp(t_g_, t_w_), (name), __FILE__, __LINE__, \
			 "\"%s\", expected \"%s\"", t_g_ ? t_g_ : "(null)",              \
			 t_w_ ? t_w_ : "(null)");                                        \
	} while (0)

/* Byte comparison; on mismatch prints the first differing offset. */
static inline void t_bytes(const void *got, size_t glen, const void *want, size_t wlen,
			   const char *name, const char *file, int line)
{
	size_t i, n = glen < wlen ? glen : wlen;

	for (i = 0; i < n; i++)
		if (((const unsigned char *)got)[i] != ((const unsigned char *)want)[i])
			break;
	if (i == n && glen == wlen) {
		t_result(1, name, file, line, "");
		return;
	}
	t_result(0, name, file, line,
		 "bytes differ at offset %zu (got %02x, want %02x; len %zu vs %zu)", i,
		 i < glen ? ((const unsigned char *)got)[i] : 0,
		 i < wlen ? ((const unsigned char *)want)[i] : 0, glen, wlen);
}
#define T_BYTES(got, glen, want, wlen, name) \
	t_bytes(got, glen, want, wlen, name, __FILE__, __LINE__)

static inline void t_skip(const char *name, const char *why)
{
	t_skipped++;
	printf("SKIP %s: %s\n", name, why);
}

static inline int t_done(void)
{
	printf("%d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
	return t_failed ? 1 : 0;
}

#endif /* PFD_T_H */
