/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * UAPI constants newer than the build machine's kernel headers (Debian's
 * linux-libc-dev may be years behind the running kernel). Each one is
 * defined only if the headers lack it, with the kernel version that added
 * it; code using one must tolerate the kernel refusing it (the fast path
 * passes the packet when bpf_fib_lookup() returns an error). Included by
 * BPF programs and userspace alike, after the UAPI header it extends.
 */
#ifndef PFD_COMPAT_H
#define PFD_COMPAT_H

#include <linux/bpf.h>

/*
 * Linux 6.10 (commit 5311591fbb6d "bpf: Add support for BPF_FIB_LOOKUP_MARK"):
 * policy routing by fwmark from bpf_fib_lookup(). The input `mark` is a
 * __u32 that overlays smac[0..3] of struct bpf_fib_lookup (an anonymous
 * union older headers do not have). An older kernel fails the lookup with
 * -EINVAL, which the fast path treats as "pass".
 */
#ifndef BPF_FIB_LOOKUP_MARK
#define BPF_FIB_LOOKUP_MARK (1U << 5)
#endif

#endif /* PFD_COMPAT_H */
