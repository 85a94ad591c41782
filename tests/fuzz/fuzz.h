/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/fuzz_*.c (one target
 * per parser of untrusted input; `make fuzz` builds and runs them, see
 * docs/CONTRIBUTING.md). The sanitizers find memory errors and undefined
 * behaviour; FUZZ_CHECK adds the parsers' documented promises about their
 * output, which no sanitizer can see, and turns a broken one into a crash
 * that libFuzzer saves and reports like any other.
 */
#ifndef PFD_FUZZ_H
#define PFD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>

/* The largest message the harnesses build: a netlink datagram from the
 * kernel is at most a page or two, and a message past 64 KiB cannot be
 * described by the 16-bit attribute lengths inside it anyway. */
#define FUZZ_NL_MAX 65536

/* abort(), not assert(): the check must stay when NDEBUG is set. The
 * message goes to fd 2 itself: fuzz_cli.c points stderr elsewhere. */
#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			dprintf(2, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* Whether a fixed-size string field is NUL-terminated inside its size. */
#define FUZZ_TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/*
 * The input as one netlink message: its first bytes are the header (type,
 * flags, seq and pid fuzzed), nlmsg_len is set to the input's size, as
 * libmnl's walk (mnl_nlmsg_ok) guarantees before any parser sees a message.
 * The copy is exactly that long and on the heap, so that ASan reports a read
 * of even one byte past the message. NULL if too short or too long; the
 * caller frees.
 */
static inline struct nlmsghdr *fuzz_nlmsg(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;

	if (size < sizeof(*nlh) || size > FUZZ_NL_MAX)
		return NULL;
	nlh = malloc(size);
	if (!nlh)
		return NULL;
	memcpy(nlh, data, size);
	nlh->nlmsg_len = (uint32_t)size;
	return nlh;
}

#endif /* PFD_FUZZ_H */
