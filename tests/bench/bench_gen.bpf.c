// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's traffic generator: run by tests/bench/pfd_bench.c through
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (the technique of
 * xdp-trafficgen), it redirects every frame into the generator's veth, whose
 * peer (the router, or the sink for the baseline) processes it inline, in the
 * softirq that local_bh_enable() runs on the generator's own core. Live-frame
 * pages are recycled with whatever the path downstream wrote into them (a
 * forwarded frame comes back with the sink's MAC and a decremented TTL, a
 * NATed one with rewritten addresses), so the headers of every frame are
 * restored from a template here; the payload is never written downstream and
 * is initialised once by the kernel from data_in. Flows differ by UDP source
 * port, base_port + (n mod nflows), or by destination port for the replies
 * that prime conntrack; the UDP checksum is adjusted incrementally.
 *
 * SYN mode (pfd_synflood): every frame is a TCP SYN with Linux's options
 * (MSS, SACK-permitted, timestamp, window scale) and no payload, so the
 * template is the whole frame, and a router that turns it into its
 * SYN-ACK in place rewrites all of it: all of it is restored. Frame n of
 * nflows differs from the others by source address and port: the low 16
 * bits of the source address are n mod 65536 (the template's are 0), the
 * source port is base_port + n / 65536; IPv4 header and TCP checksums are
 * adjusted incrementally.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_HDR_V4 42 /* Ethernet + IPv4 + UDP */
#define GEN_HDR_V6 62 /* Ethernet + IPv6 + UDP */

#define GEN_SYN_V4 74 /* Ethernet + IPv4 + TCP with 20 bytes of options */
#define GEN_SYN_V6 94 /* Ethernet + IPv6 + TCP with 20 bytes of options */

#define GEN_UDP_MIN 64 /* UDP frames are >= 64 bytes: the words copied */
#define GEN_TMPL    96 /* template bytes: the frame's start */

const volatile __u64 tmpl[GEN_TMPL / 8]; /* the first bytes of flow 0's frame */
const volatile __u32 hdr_len = GEN_HDR_V4;
const volatile __u32 nflows = 1;
const volatile __u16 base_port = 10000; /* host order */
const volatile __u32 vary_dport;	/* vary the destination port (replies) */
const volatile __u32 syn;		/* SYN mode: hdr_len is GEN_SYN_V4/V6 */

__u32 next_flow; /* reset by pfd_bench before each run */

/* Pacing (split-core runs): a BPF_PROG_TEST_RUN call sets up a page pool and
 * costs ~300 us, so a paced generator cannot make one call per batch; the
 * program paces itself instead: a frame whose transmit time has not come is
 * dropped (recycled at once) and the next invocation tries again. */
__u64 pace_ns; /* 0: unpaced */
__u64 next_tx_ns;
__u64 sent;		 /* frames redirected while paced */
#define GEN_MAX_BURST 32 /* catch up by at most this many frames */

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} gen_tx SEC(".maps");

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in network byte order. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	return ~csum_fold32(sum);
}

static __always_inline void copy_words(void *dst, const volatile __u64 *src, int n)
{
	__u64 *d = dst;

#pragma unroll
	for (int i = 0; i < n; i++)
		d[i] = src[i];
}

/* SYN mode: the whole frame from the template, then frame idx's source
 * address and port. */
static __always_inline int gen_syn(void *data, void *data_end, __u32 idx)
{
	const volatile __u16 *t16 = (const volatile __u16 *)tmpl;
	__u16 *saddr_lo, *sport, *tcheck, *ipcheck = NULL, lo, port;

	if (hdr_len == GEN_SYN_V6) {
		if (data + GEN_SYN_V6 > data_end)
			return XDP_DROP;
		copy_words(data, tmpl, 11);
		*(__u16 *)(data + 88) = t16[44];
		saddr_lo = data + 14 + 8 + 14; /* IPv6 source, last 16 bits */
		sport = data + 54;
		tcheck = data + 54 + 16;
	} else {
		if (data + GEN_SYN_V4 > data_end)
			return XDP_DROP;
		copy_words(data, tmpl, 9);
		*(__u16 *)(data + 72) = t16[36];
		saddr_lo = data + 14 + 12 + 2; /* IPv4 source, last 16 bits */
		ipcheck = data + 14 + 10;
		sport = data + 34;
		tcheck = data + 34 + 16;
	}
	lo = bpf_htons(idx & 0xffff);
	if (lo) {
		*tcheck = csum_replace16(*tcheck, 0, lo);
		if (ipcheck)
			*ipcheck = csum_replace16(*ipcheck, 0, lo);
		*saddr_lo = lo;
	}
	if (idx >> 16) {
		port = bpf_htons(base_port + (idx >> 16));
		*tcheck = csum_replace16(*tcheck, *sport, port);
		*sport = port;
	}
	return bpf_redirect_map(&gen_tx, 0, 0);
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *port_p, *check, port, c;
	__u32 idx;

	if (pace_ns) {
		__u64 now = bpf_ktime_get_ns();

		if (now < next_tx_ns)
			return XDP_DROP;
		if (now - next_tx_ns > GEN_MAX_BURST * pace_ns)
			next_tx_ns = now;
		next_tx_ns += pace_ns;
		sent++;
	}
	idx = next_flow;
	if (syn) {
		next_flow = idx + 1 >= nflows ? 0 : idx + 1;
		return gen_syn(data, data_end, idx);
	}

	/* Whole 8-byte words: a byte-wise memcpy (the verifier cannot prove
	 * packet alignment to clang) costs ~40 ns more per IPv6 frame. The
	 * words are the frame's first 64 bytes, so copying past the
	 * headers only rewrites the payload's own (zero) bytes. */
	if (data + GEN_UDP_MIN > data_end)
		return XDP_DROP;
	if (hdr_len == GEN_HDR_V6) {
		copy_words(data, tmpl, 8);
		port_p = data + GEN_HDR_V6 - (vary_dport ? 6 : 8);
		check = data + GEN_HDR_V6 - 2;
	} else {
		copy_words(data, tmpl, 6);
		port_p = data + GEN_HDR_V4 - (vary_dport ? 6 : 8);
		check = data + GEN_HDR_V4 - 2;
	}

	next_flow = idx + 1 >= nflows ? 0 : idx + 1;
	if (idx) {
		port = bpf_htons(base_port + idx);
		c = *check;
		/* an IPv4 UDP checksum of 0 means "none" and stays 0 */
		if (c || hdr_len == GEN_HDR_V6) {
			c = csum_replace16(c, *port_p, port);
			*check = c ? c : 0xffff;
		}
		*port_p = port;
	}
	return bpf_redirect_map(&gen_tx, 0, 0);
}

char _license[] SEC("license") = "GPL";
