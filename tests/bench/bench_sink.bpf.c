// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's sink: attached by tests/bench/pfd_bench.c to the veth that
 * receives the forwarded frames (and to the generator's veth, for the replies
 * that prime conntrack), it counts packets and bytes per CPU and drops them,
 * so that nothing past the measured path costs time.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct sink_count {
	__u64	packets;
	__u64	bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sink_count);
	__uint(max_entries, 1);
} sink_cnt SEC(".maps");

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	struct sink_count *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&sink_cnt, &key);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
