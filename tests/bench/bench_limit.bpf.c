// SPDX-License-Identifier: GPL-2.0-only
/*
 * Router programs of the benchmark. bench_limit is the XDP limit (router
 * configuration 5): the least a forwarder can do at XDP, rewrite both MACs
 * and redirect through a devmap, with no parsing, lookup or check, so
 * nothing can forward faster at XDP on this machine. bench_drop is the XDP
 * limit for dropping (configuration drop_limit): XDP_DROP and nothing else,
 * the least any program that drops at the router's ingress can cost; pfd's
 * block prefixes (configuration pfd_block) are measured against it.
 * bench_pass only returns XDP_PASS: the kernel configurations attach it to
 * the router's veths because a veth receiving XDP_REDIRECT frames needs an
 * XDP program on it, and pfd's own program sits in the same place (a miss
 * costs the same).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

const volatile __u8 mac_dst[6]; /* the sink's veth */
const volatile __u8 mac_src[6]; /* the router's egress veth */

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} limit_tx SEC(".maps");

SEC("xdp")
int bench_limit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 12 > data_end)
		return XDP_PASS;
	__builtin_memcpy(data, (const void *)mac_dst, 6);
	__builtin_memcpy(data + 6, (const void *)mac_src, 6);
	return bpf_redirect_map(&limit_tx, 0, XDP_PASS);
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
