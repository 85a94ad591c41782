// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TC egress jitter (tc-bpf/pfd_tc_jitter.bpf.c) with every departure it
 * hands out recorded, in order, per CPU: tests/bpf/test_jitter.c runs it on
 * two CPUs at once, many runs per test-run call (no syscall between two
 * packets, so the CPUs really race on the flow), and checks that each CPU's
 * departures never go backwards. A lost update of the flow's last departure
 * shows as a CPU's next packet leaving before its previous one. Built by the
 * Makefile rule for BPF objects under tests/bpf; shares the pinned maps of
 * the product object.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TRACE_CPUS 4
#define TRACE_LEN  32768 /* departures per CPU */

struct jit_trace {
	__u32 n;
	__u32 pad;
	__u64 t[TRACE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct jit_trace);
	__uint(max_entries, TRACE_CPUS);
} jit_trace SEC(".maps");

static __always_inline void trace_departure(__u64 t)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct jit_trace *tr = bpf_map_lookup_elem(&jit_trace, &cpu);
	__u32 n;

	/* only this CPU writes its slot; runs on one CPU do not nest */
	if (!tr)
		return;
	n = tr->n;
	if (n >= TRACE_LEN)
		return;
	tr->t[n] = t;
	tr->n = n + 1;
}

#define pfd_jit_committed(t) trace_departure(t)

#include "../../tc-bpf/pfd_tc_jitter.bpf.c"
