// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-stage breakdown of pfd's XDP program (pfd_bench stages): the
 * product's entry and core, compiled unchanged except that the core returns
 * at the cut point stage_stop (the PFD_STAGE() marks in fastpath.bpf.h) as if
 * the packet were forwarded. Timing the program cut at each stage with
 * BPF_PROG_TEST_RUN gives the cost of every stage as a difference.
 * bench_empty only returns: the test-run loop's own cost per packet.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PFD_STAGE_NONE 255
const volatile __u32 stage_stop = PFD_STAGE_NONE;

#define PFD_STAGE(n)                            \
	do {                                    \
		if (stage_stop == (n))          \
			return PFD_R_FORWARDED; \
	} while (0)

#include "xdp-bpf/pfd_xdp.bpf.c"

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return ctx->data ? XDP_PASS : XDP_ABORTED;
}
