// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's own word on a syn-protect SYN cookie, for
 * tests/bpf/test_synproxy.c, run by BPF_PROG_TEST_RUN on frames the test
 * builds: synp_cookie_check hands the client's ACK (IPv4 or IPv6, no IP
 * options or extension headers) to bpf_tcp_raw_check_syncookie_ipv4/6,
 * the check nf_synproxy makes of the ACK (__cookie_v4/v6_check), and
 * synp_cookie_gen hands the client's SYN to bpf_tcp_raw_gen_syncookie_ipv4/6
 * (cookie | the MSS it encodes << 32). The helper's answer goes to
 * `result`; the verdict is always XDP_PASS. Built by the Makefile rule for
 * BPF objects under tests/bpf; no maps.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Not a frame this program understands: no helper called. */
#define SYNP_COOKIE_NO_FRAME (-100000)

__s64 result;

char _license[] SEC("license") = "GPL"; /* the cookie helpers are GPL-only */

SEC("xdp")
int synp_cookie_check(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;

	result = SYNP_COOKIE_NO_FRAME;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		result = bpf_tcp_raw_check_syncookie_ipv4(ip, th);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip6 + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		result = bpf_tcp_raw_check_syncookie_ipv6(ip6, th);
	}
	return XDP_PASS;
}

SEC("xdp")
int synp_cookie_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 th_buf[60 / 4] = {};
	struct tcphdr *th;
	__u32 len;

	result = SYNP_COOKIE_NO_FRAME;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		len = th->doff * 4;
		if (len < 20 || len > sizeof(th_buf) ||
		    bpf_xdp_load_bytes(ctx, sizeof(*eth) + sizeof(*ip), th_buf, len))
			return XDP_PASS;
		result = bpf_tcp_raw_gen_syncookie_ipv4(ip, (struct tcphdr *)th_buf, len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip6 + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		len = th->doff * 4;
		if (len < 20 || len > sizeof(th_buf) ||
		    bpf_xdp_load_bytes(ctx, sizeof(*eth) + sizeof(*ip6), th_buf, len))
			return XDP_PASS;
		result = bpf_tcp_raw_gen_syncookie_ipv6(ip6, (struct tcphdr *)th_buf, len);
	}
	return XDP_PASS;
}
