/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')).
 * Callers accumulate the difference of every rewritten 32-bit word in a
 * 64-bit sum (no carry is lost), then apply it to each checksum the words
 * are covered by. Values are summed as they lie in memory: the one's
 * complement sum is byte-order independent as long as loads and stores agree.
 * Included by nat.bpf.h and fastpath.bpf.h.
 */
#ifndef PFD_CSUM_BPF_H
#define PFD_CSUM_BPF_H

#include <linux/types.h>

static __always_inline __u64 pfd_csum_diff32(__u64 acc, __u32 from, __u32 to)
{
	return acc + (__u32)~from + to;
}

static __always_inline __u64 pfd_csum_diff16(__u64 acc, __u16 from, __u16 to)
{
	return acc + (__u16)~from + to;
}

static __always_inline __u16 pfd_csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* The checksum after adding diff to the data it covers. */
static __always_inline __u16 pfd_csum_apply(__u16 csum, __u64 diff)
{
	return (__u16)~pfd_csum_fold((__u16)~csum + diff);
}

#endif /* PFD_CSUM_BPF_H */
