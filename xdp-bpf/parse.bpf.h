/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsing for the fast path: plain Ethernet, then IPv4 without
 * options and not a fragment, or IPv6 whose next header is TCP or UDP, then
 * the TCP or UDP header. Anything else gets a reason that passes it to the
 * kernel. A VLAN tag is not skipped: VLAN is not supported yet, so a tagged
 * frame must reach the kernel (xdp-forward's VLAN bugs came from skipping).
 * Lengths come from the IP header, never from data_end - data, which is only
 * the first buffer of a multi-buffer XDP frame. Included by fastpath.bpf.h.
 */
#ifndef PFD_PARSE_BPF_H
#define PFD_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <pfd/reasons.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define PFD_IP_MF     0x2000
#define PFD_IP_OFFSET 0x1fff

/* One packet's view, filled by the entry (ctx fields) and by parsing. */
struct pfd_pkt {
	void *data;
	void *data_end;
	struct ethhdr *eth;
	struct iphdr *ip4; /* exactly one of ip4, ip6 */
	struct ipv6hdr *ip6;
	struct tcphdr *tcp; /* exactly one of tcp, udp */
	struct udphdr *udp;
	__u32 ifindex;	 /* ingress */
	__u32 slot;	 /* counter slot of the ingress device */
	__u32 frame_len; /* whole frame, all buffers: stats bytes */
	__u32 ip_len;	 /* IP total length: flow bytes, MTU check */
	__u32 hdr_len;	 /* IP + L4 header length (GSO MTU check) */
	__u32 oif;	 /* egress, once the FIB agreed */
	__u8 family;
	__u8 l4proto;
	__u8 quiet; /* TC behind pfd's XDP: XDP counted this packet already */
};

static __always_inline enum pfd_reason pfd_parse_l4(struct pfd_pkt *pkt, void *l4, __u32 l4_len)
{
	void *data_end = pkt->data_end;

	if (pkt->l4proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return PFD_R_MALFORMED;
		if (th->doff < 5 || (__u32)th->doff * 4 > l4_len)
			return PFD_R_MALFORMED;
		pkt->tcp = th;
		pkt->hdr_len += th->doff * 4;
	} else {
		struct udphdr *uh = l4;
		__u32 ulen;

		if ((void *)(uh + 1) > data_end)
			return PFD_R_MALFORMED;
		ulen = bpf_ntohs(uh->len);
		/* The kernel drops what udp_rcv() would: never forward it. */
		if (ulen < sizeof(*uh) || ulen > l4_len)
			return PFD_R_MALFORMED;
		/* IPv6 forbids a zero UDP checksum (RFC 8200 8.1); an
		 * incremental update of one would forge a wrong value. */
		if (pkt->family == AF_INET6 && !uh->check)
			return PFD_R_MALFORMED;
		pkt->udp = uh;
		pkt->hdr_len += sizeof(*uh);
	}
	return PFD_R_FORWARDED;
}

/* Whether a 20-byte IPv4 header's checksum is right (its ones' complement
 * sum is 0xffff). ip_rcv() drops a header whose checksum is wrong; the fast
 * path, which only updates the checksum incrementally, would otherwise
 * forward the corruption with a checksum that now matches it. */
static __always_inline bool pfd_ip4_csum_ok(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Returns PFD_R_FORWARDED (meaning "parsed, go on") or why the packet
 * passes. */
static __always_inline enum pfd_reason pfd_parse(struct pfd_pkt *pkt)
{
	void *data_end = pkt->data_end;
	struct ethhdr *eth = pkt->data;
	__u32 l4_len;

	if ((void *)(eth + 1) > data_end)
		return PFD_R_MALFORMED;
	pkt->eth = eth;
	/* ip_forward() drops what is not PACKET_HOST; a flow's tuple behind a
	 * group address must not be forwarded here either. */
	if (eth->h_dest[0] & 1)
		return PFD_R_NOT_HOST;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return PFD_R_MALFORMED;
		if (iph->version != 4)
			return PFD_R_MALFORMED;
		/* Options and fragments: the kernel's flowtable does not
		 * offload them either (nf_flow_table_ip.c). */
		if (iph->ihl != 5)
			return PFD_R_IP_SPECIAL;
		if (!pfd_ip4_csum_ok(iph))
			return PFD_R_MALFORMED;
		if (iph->frag_off & bpf_htons(PFD_IP_MF | PFD_IP_OFFSET))
			return PFD_R_IP_SPECIAL;
		if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
			return PFD_R_NOT_TCP_UDP;
		pkt->ip_len = bpf_ntohs(iph->tot_len);
		if (pkt->ip_len < sizeof(*iph) || pkt->ip_len > pkt->frame_len - sizeof(*eth))
			return PFD_R_MALFORMED;
		pkt->ip4 = iph;
		pkt->family = AF_INET;
		pkt->l4proto = iph->protocol;
		pkt->hdr_len = sizeof(*iph);
		l4_len = pkt->ip_len - sizeof(*iph);
		return pfd_parse_l4(pkt, iph + 1, l4_len);
	}

	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return PFD_R_MALFORMED;
		if (ip6->version != 6)
			return PFD_R_MALFORMED;
		/* Extension headers (hop-by-hop, routing, fragment, ...)
		 * are the kernel's business. */
		if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP)
			return PFD_R_NOT_TCP_UDP;
		l4_len = bpf_ntohs(ip6->payload_len);
		pkt->ip_len = l4_len + sizeof(*ip6);
		if (pkt->ip_len > pkt->frame_len - sizeof(*eth))
			return PFD_R_MALFORMED;
		pkt->ip6 = ip6;
		pkt->family = AF_INET6;
		pkt->l4proto = ip6->nexthdr;
		pkt->hdr_len = sizeof(*ip6);
		return pfd_parse_l4(pkt, ip6 + 1, l4_len);
	}

	return PFD_R_NOT_IP;
}

#endif /* PFD_PARSE_BPF_H */
