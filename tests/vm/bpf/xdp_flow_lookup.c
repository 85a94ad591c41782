// SPDX-License-Identifier: GPL-2.0-only
/*
 * Measurement program for the bpf_xdp_flow_lookup kfunc (Linux >= 6.10, in
 * nf_flow_table): looks every IPv4 TCP/UDP packet up in the kernel's own
 * flowtable from XDP and counts lookups and hits in "stats" (0: lookups,
 * 1: hits). Passes every packet: it only answers whether the kfunc finds the
 * flows the kernel offloaded, and what it costs the verifier. Modelled on the
 * kernel selftest progs/xdp_flowtable.c; built against the guest kernel's
 * BTF (vmlinux + nf_flow_table) by tests/vm/run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP  0x0800
#define IP_MF	  0x2000
#define IP_OFFSET 0x1fff
#define AF_INET	  2

struct bpf_flowtable_opts___local {
	s32 error;
};

extern struct flow_offload_tuple_rhash *bpf_xdp_flow_lookup(struct xdp_md *,
							    struct bpf_fib_lookup *,
							    struct bpf_flowtable_opts___local *,
							    u32) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} stats SEC(".maps");

struct flow_ports___local {
	__be16 source, dest;
};

static __always_inline void bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_flow_lookup(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct bpf_flowtable_opts___local opts = {};
	struct flow_offload_tuple_rhash *th;
	struct bpf_fib_lookup tuple = {
		.ifindex = ctx->ingress_ifindex,
	};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct flow_ports___local *ports;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	ports = (void *)(iph + 1);
	if ((void *)(ports + 1) > data_end)
		return XDP_PASS;
	if (iph->ihl != 5 || (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)) || iph->ttl <= 1)
		return XDP_PASS;
	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *tcph = (void *)ports;

		if ((void *)(tcph + 1) > data_end || tcph->fin || tcph->rst)
			return XDP_PASS;
	} else if (iph->protocol != IPPROTO_UDP) {
		return XDP_PASS;
	}

	tuple.family = AF_INET;
	tuple.tos = iph->tos;
	tuple.l4_protocol = iph->protocol;
	tuple.tot_len = bpf_ntohs(iph->tot_len);
	tuple.ipv4_src = iph->saddr;
	tuple.ipv4_dst = iph->daddr;
	tuple.sport = ports->source;
	tuple.dport = ports->dest;

	bump(0);
	th = bpf_xdp_flow_lookup(ctx, &tuple, &opts, sizeof(opts));
	if (th)
		bump(1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
