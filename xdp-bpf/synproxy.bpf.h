/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SYN-flood protection (pfd.conf `syn-protect`, docs/design.md rule 3b), XDP
 * only. A pure SYN to a protected service is answered here with the SYN-ACK
 * the ruleset's nft synproxy statement would send: its sequence number is a
 * SYN cookie from bpf_tcp_raw_gen_syncookie_ipv4/6 (the kernel's secret and
 * MSS table, so nf_synproxy validates it), its options are the statement's
 * (mss, wscale, sack-perm, timestamp), and its timestamp carries the
 * client's options the way nf_synproxy encodes them. The client's ACK then
 * reaches the kernel like any packet: the synproxy rule checks the cookie
 * and opens the connection to the server, and nothing but a completed
 * handshake ever creates conntrack state. A flood of SYNs costs one
 * SYN-ACK each, before the stack allocates anything.
 *
 * Whatever this code cannot answer exactly goes on to the kernel, whose
 * synproxy answers it instead: a SYN with data, a multi-buffer frame, a bad
 * checksum, an ingress device that cannot transmit XDP frames (a veth whose
 * peer takes none would drop the reply), a kernel without the
 * cookie helpers (pfd_synp_helpers, set by the loader), and IPv4 options
 * or IPv6 extension headers (parse passes those before this runs).
 *
 * The reply leaves by a devmap redirect into the ingress device, not by
 * XDP_TX: a veth flushes XDP_TX frames to its peer only when the peer runs
 * an XDP program, so behind a peer that takes XDP frames through GRO they
 * would wait for the next unrelated packet; a redirect flushes them.
 *
 * Included by fastpath.bpf.h after parse; uses pkt->ip4/ip6/tcp and the
 * entry's pfd_ctx_redirect().
 */
#ifndef PFD_SYNPROXY_BPF_H
#define PFD_SYNPROXY_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <pfd/abi.h>
#include <pfd/reasons.h>
#include "csum.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* The loader sets it when the kernel has the cookie helpers (6.0): on an
 * older kernel the verifier never reaches the calls, and SYNs pass. */
const volatile bool pfd_synp_helpers = false;

#define PFD_TCPOPT_EOL	     0
#define PFD_TCPOPT_NOP	     1
#define PFD_TCPOPT_MSS	     2
#define PFD_TCPOPT_WINDOW    3
#define PFD_TCPOPT_SACK_PERM 4
#define PFD_TCPOPT_TIMESTAMP 8
#define PFD_TCP_MAX_WSCALE   14
/* nf_synproxy's timestamp cookie: the low 6 bits of the SYN-ACK's tsval
 * carry the client's wscale (0xf: none), SACK and ECN. */
#define PFD_TS_WSCALE_NONE 0xf
#define PFD_TS_SACK	   (1U << 4)
#define PFD_TS_ECN	   (1U << 5)
#define PFD_TS_BITS	   0x3f

#define PFD_TCP_HDR_MAX 60
/* 2 bytes of alignment, then Ethernet + IPv6 + a TCP header with 20 bytes
 * of options (the most the SYN-ACK carries): the verifier wants aligned
 * stack words, and the IP header after a 14-byte Ethernet header is only
 * aligned at an offset of 2. */
#define PFD_SYNACK_PAD 2
#define PFD_SYNACK_MAX (PFD_SYNACK_PAD + 14 + 40 + 40)

struct pfd_syn_opts {
	__u32 tsval;  /* the client's, host order */
	__u16 mss;    /* the client's MSS option, 0 if none */
	__u8 wscale;  /* the client's, PFD_TS_WSCALE_NONE if none */
	__u8 present; /* PFD_SYNP_F_* the client offered */
};

/* The client's SYN header, copied off the frame, and what its options
 * offer: bpf_loop()'s context, one option per call, so that the verifier
 * checks one walk step instead of every path through 40 bytes. */
struct pfd_syn_walk {
	__u32 th[PFD_TCP_HDR_MAX / 4]; /* zero beyond len */
	__u32 len;
	__u32 off;
	struct pfd_syn_opts o;
};

/* One option; 1 ends the walk. Malformed options end it, as
 * tcp_parse_options() stops at them. */
static long pfd_syn_opt_step(__u32 i, void *arg)
{
	struct pfd_syn_walk *w = arg;
	const __u8 *th = (const __u8 *)w->th;
	__u32 off = w->off;
	__u8 kind, size;

	(void)i;
	if (off >= w->len || off >= PFD_TCP_HDR_MAX - 1)
		return 1;
	kind = th[off];
	if (kind == PFD_TCPOPT_EOL)
		return 1;
	if (kind == PFD_TCPOPT_NOP) {
		w->off = off + 1;
		return 0;
	}
	size = th[off + 1];
	if (size < 2 || off + size > w->len)
		return 1;
	if (kind == PFD_TCPOPT_MSS && size == 4 && off + 3 < PFD_TCP_HDR_MAX) {
		w->o.mss = (__u16)th[off + 2] << 8 | th[off + 3];
		w->o.present |= PFD_SYNP_F_MSS;
	} else if (kind == PFD_TCPOPT_WINDOW && size == 3 && off + 2 < PFD_TCP_HDR_MAX) {
		w->o.wscale = th[off + 2] < PFD_TCP_MAX_WSCALE ? th[off + 2] : PFD_TCP_MAX_WSCALE;
		w->o.present |= PFD_SYNP_F_WSCALE;
	} else if (kind == PFD_TCPOPT_SACK_PERM && size == 2) {
		w->o.present |= PFD_SYNP_F_SACK_PERM;
	} else if (kind == PFD_TCPOPT_TIMESTAMP && size == 10 && off + 5 < PFD_TCP_HDR_MAX) {
		w->o.tsval = (__u32)th[off + 2] << 24 | (__u32)th[off + 3] << 16 |
			     (__u32)th[off + 4] << 8 | th[off + 5];
		w->o.present |= PFD_SYNP_F_TIMESTAMP;
	}
	w->off = off + size;
	return 0;
}

/* The options in the order and alignment Linux writes them in a SYN
 * (tcp_options_write(): MSS, SACK-permitted with the timestamp, NOP and
 * window scale), read at fixed offsets: most SYNs, and a flood's, need no
 * walk. False (w untouched) for any other layout. */
static __always_inline bool pfd_syn_opts_linux(struct pfd_syn_walk *w)
{
	__u32 mss = bpf_ntohl(w->th[5]), ws = bpf_ntohl(w->th[9]);

	if (w->len != 40 || (mss >> 16) != (PFD_TCPOPT_MSS << 8 | 4) ||
	    w->th[6] != bpf_htonl(PFD_TCPOPT_SACK_PERM << 24 | 2 << 16 | PFD_TCPOPT_TIMESTAMP << 8 |
				  10) ||
	    (ws >> 8) != (PFD_TCPOPT_NOP << 16 | PFD_TCPOPT_WINDOW << 8 | 3))
		return false;
	w->o.mss = (__u16)mss;
	w->o.tsval = bpf_ntohl(w->th[7]);
	w->o.wscale = (ws & 0xff) < PFD_TCP_MAX_WSCALE ? (ws & 0xff) : PFD_TCP_MAX_WSCALE;
	w->o.present =
		PFD_SYNP_F_MSS | PFD_SYNP_F_SACK_PERM | PFD_SYNP_F_TIMESTAMP | PFD_SYNP_F_WSCALE;
	return true;
}

/* The ones' complement sum of n 32-bit words as they lie in memory. */
static __always_inline __u64 pfd_sum32(const __u32 *w, int n)
{
	__u64 s = 0;

	for (int i = 0; i < n; i++)
		s += w[i];
	return s;
}

/* The TCP pseudo header's sum, given its addresses' sum. */
static __always_inline __u64 pfd_tcp_pseudo(__u64 addrs, __u32 tcp_len)
{
	return addrs + bpf_htons(IPPROTO_TCP) + bpf_htons(tcp_len);
}

/* The options nf_synproxy's SYN-ACK carries (synproxy_build_options()),
 * written at opt; their length. */
static __always_inline __u32 pfd_synack_options(__u32 *opt, __u32 options,
						const struct pfd_synp *svc, __u32 tsval,
						__u32 tsecr)
{
	__u32 n = 0;

	if (options & PFD_SYNP_F_MSS)
		opt[n++] = bpf_htonl(PFD_TCPOPT_MSS << 24 | 4 << 16 | svc->mss);
	if (options & PFD_SYNP_F_TIMESTAMP) {
		if (options & PFD_SYNP_F_SACK_PERM)
			opt[n++] = bpf_htonl(PFD_TCPOPT_SACK_PERM << 24 | 2 << 16 |
					     PFD_TCPOPT_TIMESTAMP << 8 | 10);
		else
			opt[n++] = bpf_htonl(PFD_TCPOPT_NOP << 24 | PFD_TCPOPT_NOP << 16 |
					     PFD_TCPOPT_TIMESTAMP << 8 | 10);
		opt[n++] = bpf_htonl(tsval);
		opt[n++] = bpf_htonl(tsecr);
	}
	if (options & PFD_SYNP_F_WSCALE)
		opt[n++] = bpf_htonl(PFD_TCPOPT_NOP << 24 | PFD_TCPOPT_WINDOW << 16 | 3 << 8 |
				     svc->wscale);
	return n * 4;
}

static __always_inline const struct pfd_synp *pfd_synp_lookup(const struct pfd_pkt *pkt)
{
	if (pkt->ip4) {
		struct pfd_synp_key4 k = { .prefixlen = 48, .dport = pkt->tcp->dest };

		__builtin_memcpy(k.addr, &pkt->ip4->daddr, sizeof(k.addr));
		return bpf_map_lookup_elem(&pfd_synp4, &k);
	}
	if (pkt->ip6) {
		struct pfd_synp_key6 k = { .prefixlen = 144, .dport = pkt->tcp->dest };

		__builtin_memcpy(k.addr, &pkt->ip6->daddr, sizeof(k.addr));
		return bpf_map_lookup_elem(&pfd_synp6, &k);
	}
	return NULL;
}

/*
 * PFD_R_SYN_COOKIE when the frame was turned into the SYN-ACK and its
 * redirect into the ingress device armed, else PFD_R_FORWARDED ("go on";
 * nothing was changed), or, once the frame was resized, the reason it
 * passes as it is. Only pure SYNs (ECE/CWR allowed) to a protected
 * service, which are counted per rule whether answered or not.
 */
static __always_inline enum pfd_reason pfd_synp_check(struct xdp_md *ctx, struct pfd_pkt *pkt,
						      const struct pfd_ctl *ctl)
{
	struct pfd_syn_walk w = { .off = 20, .o.wscale = PFD_TS_WSCALE_NONE };
	__u32 frame[PFD_SYNACK_MAX / 4] = {};
	__u32 tcp_len, l4_off, ip_hlen, out_len, len, options, tsval = 0, idx;
	const struct pfd_synp *svc;
	struct pfd_counter *c;
	__u8 *base = (__u8 *)frame + PFD_SYNACK_PAD;
	struct tcphdr *out;
	__u64 addrs;
	__u8 flags;
	__s64 cookie;

	if (!(ctl->flags & PFD_CTL_F_SYNP) || !pkt->tcp)
		return PFD_R_FORWARDED;
	flags = ((__u8 *)pkt->tcp)[13];
	if ((flags & (PFD_TCP_SYN | PFD_TCP_FIN | PFD_TCP_RST | 0x10 /* ACK */)) != PFD_TCP_SYN)
		return PFD_R_FORWARDED;
	svc = pfd_synp_lookup(pkt);
	if (!svc)
		return PFD_R_FORWARDED;
	idx = svc->index;
	c = bpf_map_lookup_elem(&pfd_synp_stats, &idx);
	if (c) { /* per CPU */
		c->packets++;
		c->bytes += pkt->frame_len;
	}
	if ((svc->flags & PFD_SYNP_F_DRY_RUN) || (ctl->flags & PFD_CTL_F_SYNP_DRY_RUN) ||
	    !pfd_synp_helpers)
		return PFD_R_FORWARDED;
	/* The reply leaves by the ingress device: only one that takes XDP
	 * frames (the devmap holds exactly those). */
	if (!bpf_map_lookup_elem(&pfd_tx_ports, &pkt->ifindex))
		return PFD_R_FORWARDED;
	if (pkt->frame_len != (__u32)(pkt->data_end - pkt->data))
		return PFD_R_FORWARDED; /* multi-buffer */

	/* Either family, spelled out: the verifier does not know that one
	 * of ip4 and ip6 is set. */
	if (pkt->ip4) {
		ip_hlen = sizeof(struct iphdr);
		addrs = (__u64)pkt->ip4->saddr + pkt->ip4->daddr;
	} else if (pkt->ip6) {
		ip_hlen = sizeof(struct ipv6hdr);
		addrs = pfd_sum32(pkt->ip6->saddr.in6_u.u6_addr32, 4) +
			pfd_sum32(pkt->ip6->daddr.in6_u.u6_addr32, 4);
	} else {
		return PFD_R_FORWARDED;
	}
	tcp_len = pkt->tcp->doff * 4;
	if (tcp_len < 20 || tcp_len > PFD_TCP_HDR_MAX || pkt->ip_len != ip_hlen + tcp_len)
		return PFD_R_FORWARDED; /* data on the SYN (TFO): the kernel's */
	l4_off = (void *)pkt->tcp - pkt->data;
	if (l4_off > 64 || bpf_xdp_load_bytes(ctx, l4_off, w.th, tcp_len))
		return PFD_R_FORWARDED;
	/* The kernel drops a SYN with a bad checksum: never answer one. */
	if (pfd_csum_fold(pfd_tcp_pseudo(addrs, tcp_len) + pfd_sum32(w.th, PFD_TCP_HDR_MAX / 4)) !=
	    0xffff)
		return PFD_R_FORWARDED;

	if (pkt->ip4)
		cookie = bpf_tcp_raw_gen_syncookie_ipv4(pkt->ip4, (struct tcphdr *)w.th, tcp_len);
	else if (pkt->ip6)
		cookie = bpf_tcp_raw_gen_syncookie_ipv6(pkt->ip6, (struct tcphdr *)w.th, tcp_len);
	else
		return PFD_R_FORWARDED;
	if (cookie < 0)
		return PFD_R_FORWARDED;

	/* The options as nf_synproxy settles them: what both sides offer;
	 * without timestamps, nowhere to keep wscale and SACK. */
	w.len = tcp_len;
	if (!pfd_syn_opts_linux(&w))
		bpf_loop(PFD_TCP_HDR_MAX - 20, pfd_syn_opt_step, &w, 0);
	if ((flags & 0xc0) == 0xc0) /* ECE and CWR: the client asks for ECN */
		w.o.present |= PFD_SYNP_F_ECN;
	options = w.o.present & svc->flags &
		  (PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_SACK_PERM |
		   PFD_SYNP_F_TIMESTAMP | PFD_SYNP_F_ECN);
	if (options & PFD_SYNP_F_TIMESTAMP) {
		tsval = (__u32)(bpf_ktime_get_ns() / 1000000) & ~PFD_TS_BITS;
		tsval |= options & PFD_SYNP_F_WSCALE ? w.o.wscale : PFD_TS_WSCALE_NONE;
		if (options & PFD_SYNP_F_SACK_PERM)
			tsval |= PFD_TS_SACK;
		if (options & PFD_SYNP_F_ECN)
			tsval |= PFD_TS_ECN;
	} else {
		options &= ~(PFD_SYNP_F_WSCALE | PFD_SYNP_F_SACK_PERM | PFD_SYNP_F_ECN);
	}

	/* The whole reply on the stack first: the frame is changed only
	 * once nothing can fail any more. */
	{
		struct ethhdr *eth = (struct ethhdr *)base;

		__builtin_memcpy(eth->h_dest, pkt->eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, pkt->eth->h_dest, ETH_ALEN);
		eth->h_proto = pkt->eth->h_proto;
	}
	out = (struct tcphdr *)(base + sizeof(struct ethhdr) + ip_hlen);
	if (pkt->ip4) {
		struct iphdr *ip = (struct iphdr *)(base + sizeof(struct ethhdr));

		out_len =
			20 + pfd_synack_options((__u32 *)(out + 1), options, svc, tsval, w.o.tsval);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = bpf_htons(sizeof(*ip) + out_len);
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = svc->ttl;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = pkt->ip4->daddr;
		ip->daddr = pkt->ip4->saddr;
		ip->check = ~pfd_csum_fold(pfd_sum32((__u32 *)ip, 5));
	} else if (pkt->ip6) {
		struct ipv6hdr *ip = (struct ipv6hdr *)(base + sizeof(struct ethhdr));

		out_len =
			20 + pfd_synack_options((__u32 *)(out + 1), options, svc, tsval, w.o.tsval);
		*(__be32 *)ip = bpf_htonl(0x60000000);
		ip->payload_len = bpf_htons(out_len);
		ip->nexthdr = IPPROTO_TCP;
		ip->hop_limit = svc->ttl;
		ip->saddr = pkt->ip6->daddr;
		ip->daddr = pkt->ip6->saddr;
	} else {
		return PFD_R_FORWARDED;
	}
	out->source = pkt->tcp->dest;
	out->dest = pkt->tcp->source;
	out->seq = bpf_htonl((__u32)cookie);
	out->ack_seq = bpf_htonl(bpf_ntohl(pkt->tcp->seq) + 1);
	out->doff = out_len / 4;
	out->syn = 1;
	out->ack = 1;
	/* ECN agreed: nf_synproxy's SYN-ACK says so (synproxy_send_client_synack) */
	if (options & PFD_SYNP_F_ECN)
		out->ece = 1;
	/* window 0: nf_synproxy opens it once the server has answered */
	out->check = ~pfd_csum_fold(pfd_tcp_pseudo(addrs, out_len) +
				    pfd_sum32((__u32 *)out, PFD_TCP_HDR_MAX / 4 - 5));

	len = sizeof(struct ethhdr) + ip_hlen + out_len;
	if (len > PFD_SYNACK_MAX - PFD_SYNACK_PAD)
		return PFD_R_FORWARDED;
	/* Armed before any byte changes, as a forward is. */
	if (!pfd_ctx_redirect(ctx, pkt->ifindex))
		return PFD_R_FORWARDED;
	/* The helper invalidates every packet pointer, pkt's too: from here
	 * on, only final verdicts (anything but the redirect cancels it). A
	 * frame with no room to grow is untouched: the kernel's synproxy
	 * answers the SYN. */
	if (bpf_xdp_adjust_tail(ctx, (int)len - (int)pkt->frame_len))
		return PFD_R_TCP_CONTROL;
	/* The frame is now exactly len long: the store cannot fail. */
	if (bpf_xdp_store_bytes(ctx, 0, base, len))
		return PFD_R_MALFORMED;
	return PFD_R_SYN_COOKIE;
}

#endif /* PFD_SYNPROXY_BPF_H */
