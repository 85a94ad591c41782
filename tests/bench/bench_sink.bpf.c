// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's sink: attached by tests/bench/pfd_bench.c to the veth that
 * receives the forwarded frames (and to the generator's veth, for the replies
 * that prime conntrack), it counts packets and bytes per CPU and drops them,
 * so that nothing past the measured path costs time. ARP and ICMPv6 go to
 * the kernel: the lab's hosts answer neighbour resolution as real ones do
 * (a router whose neighbour entry expires must be able to resolve it again).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct sink_count {
	__u64 packets;
	__u64 bytes;
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
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct sink_count *c;
	__u32 key = 0;

	if (data + sizeof(*eth) + sizeof(struct ipv6hdr) <= data_end) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if (eth->h_proto == bpf_htons(ETH_P_ARP) ||
		    (eth->h_proto == bpf_htons(ETH_P_IPV6) && ip6->nexthdr == IPPROTO_ICMPV6))
			return XDP_PASS;
	} else if (data + sizeof(*eth) <= data_end && eth->h_proto == bpf_htons(ETH_P_ARP)) {
		return XDP_PASS;
	}

	c = bpf_map_lookup_elem(&sink_cnt, &key);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
