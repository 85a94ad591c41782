/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wrappers for every helper whose result depends on kernel state outside the
 * packet (clock, FIB). A test object defines the macro before including
 * fastpath.bpf.h to substitute a recorder or a scripted result; the product
 * objects get the real helper. Included by fastpath.bpf.h.
 */
#ifndef PFD_HELPERS_BPF_H
#define PFD_HELPERS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* CLOCK_MONOTONIC's base, like pfd's heartbeat; the coarse clock costs a
 * load instead of a clocksource read, and a jiffy of error is nothing
 * against heartbeat limits of seconds. */
#ifndef pfd_now_ns
#define pfd_now_ns() bpf_ktime_get_coarse_ns()
#endif

#ifndef pfd_fib_lookup
#define pfd_fib_lookup(ctx, params, flags) \
	bpf_fib_lookup((ctx), (params), sizeof(*(params)), (flags))
#endif

#endif /* PFD_HELPERS_BPF_H */
