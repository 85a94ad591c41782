/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet rewrite of a forwarded packet: NAT of addresses and ports as
 * the flow entry says (derived by pfd from the conntrack tuples, as the
 * kernel's nf_flow_table does), MACs from the FIB result, TTL / hop limit
 * minus one, with incremental IPv4 header and TCP/UDP checksum updates
 * (pseudo-header included). Called only after every check that can still
 * pass the packet: a passed packet must reach the kernel as it arrived.
 * Included by fastpath.bpf.h.
 */
#ifndef PFD_NAT_BPF_H
#define PFD_NAT_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <pfd/abi.h>
#include "csum.bpf.h"
#include "parse.bpf.h"

/* Ports are the first two fields of both TCP and UDP headers. */
static __always_inline __u64 pfd_nat_port(__be16 *port, __be16 to, __u64 l4)
{
	__be16 from = *port;

	*port = to;
	return pfd_csum_diff16(l4, from, to);
}

/* Adds to l4 the pseudo-header difference, fixes the L4 checksum. */
static __always_inline void pfd_nat_l4_csum(struct pfd_pkt *pkt, __u64 l4)
{
	if (pkt->tcp) {
		pkt->tcp->check = pfd_csum_apply(pkt->tcp->check, l4);
	} else if (pkt->udp) {
		__u16 c;

		/* IPv4 UDP without a checksum stays without one
		 * (RFC 768); a computed 0 is sent as all ones. */
		if (!pkt->udp->check)
			return;
		c = pfd_csum_apply(pkt->udp->check, l4);
		pkt->udp->check = c ? c : 0xffff;
	}
}

static __always_inline void pfd_rewrite4(struct pfd_pkt *pkt, const struct pfd_flow *flow)
{
	struct iphdr *iph = pkt->ip4;
	__be16 *ports = pkt->tcp ? (__be16 *)pkt->tcp : (__be16 *)pkt->udp;
	__u64 l3 = 0, l4 = 0;
	__u16 ttl_old, ttl_new;

	if (!iph || !ports)
		return;
	if (flow->flags & PFD_FLOW_F_SNAT) {
		l3 = pfd_csum_diff32(l3, iph->saddr, flow->nat_saddr[0]);
		iph->saddr = flow->nat_saddr[0];
		l4 = pfd_nat_port(&ports[0], flow->nat_sport, l4);
	}
	if (flow->flags & PFD_FLOW_F_DNAT) {
		l3 = pfd_csum_diff32(l3, iph->daddr, flow->nat_daddr[0]);
		iph->daddr = flow->nat_daddr[0];
		l4 = pfd_nat_port(&ports[1], flow->nat_dport, l4);
	}
	/* The pseudo-header carries the addresses: same difference. */
	if (flow->flags & (PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT))
		pfd_nat_l4_csum(pkt, l4 + l3);

	/* TTL shares a 16-bit checksum word with the protocol. */
	ttl_old = *(__u16 *)&iph->ttl;
	iph->ttl--;
	ttl_new = *(__u16 *)&iph->ttl;
	l3 = pfd_csum_diff16(l3, ttl_old, ttl_new);
	iph->check = pfd_csum_apply(iph->check, l3);
}

static __always_inline __u64 pfd_nat_addr6(__be32 *addr, const __be32 *to, __u64 l4)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		l4 = pfd_csum_diff32(l4, addr[i], to[i]);
		addr[i] = to[i];
	}
	return l4;
}

static __always_inline void pfd_rewrite6(struct pfd_pkt *pkt, const struct pfd_flow *flow)
{
	struct ipv6hdr *ip6 = pkt->ip6;
	__be16 *ports = pkt->tcp ? (__be16 *)pkt->tcp : (__be16 *)pkt->udp;
	__u64 l4 = 0;

	if (!ip6 || !ports)
		return;
	if (flow->flags & PFD_FLOW_F_SNAT) {
		l4 = pfd_nat_addr6(ip6->saddr.in6_u.u6_addr32, flow->nat_saddr, l4);
		l4 = pfd_nat_port(&ports[0], flow->nat_sport, l4);
	}
	if (flow->flags & PFD_FLOW_F_DNAT) {
		l4 = pfd_nat_addr6(ip6->daddr.in6_u.u6_addr32, flow->nat_daddr, l4);
		l4 = pfd_nat_port(&ports[1], flow->nat_dport, l4);
	}
	if (flow->flags & (PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT))
		pfd_nat_l4_csum(pkt, l4);
	ip6->hop_limit--; /* IPv6 has no header checksum */
}

static __always_inline void pfd_rewrite(struct pfd_pkt *pkt, const struct pfd_flow *flow,
					const __u8 *dmac, const __u8 *smac)
{
	if (pkt->family == AF_INET)
		pfd_rewrite4(pkt, flow);
	else
		pfd_rewrite6(pkt, flow);
	__builtin_memcpy(pkt->eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(pkt->eth->h_source, smac, ETH_ALEN);
}

/*
 * The same rewrite for the TC hook, through the kernel's checksum helpers
 * rather than by hand: an skb may carry CHECKSUM_PARTIAL (the L4 field then
 * holds only the pseudo-header sum, which port changes must not touch) or
 * CHECKSUM_COMPLETE (skb->csum must follow the pseudo-header change), and
 * bpf_l3/l4_csum_replace() do what nf_flow_table's inet_proto_csum_replace*()
 * do in each case. BPF_F_MARK_MANGLED_0 keeps a zero UDP checksum zero and
 * sends a computed zero as 0xffff. The helpers may reallocate the packet:
 * every original value is read before the first call, and no packet
 * pointer is used after it.
 *
 * The helpers fail only when the bytes they touch are not linear or not
 * writable (a cloned skb: a tap on the device), and allocating then can
 * fail. So the headers are made linear and writable first, and a failure
 * there leaves the packet untouched for the kernel (non-zero return).
 * After it, every helper works on linear, private bytes; one that failed
 * anyway would leave a half-rewritten packet whose checksums no longer
 * match, which the kernel drops as it would any corrupt packet.
 */
static __always_inline int pfd_rewrite_skb(struct __sk_buff *skb, struct pfd_pkt *pkt,
					   const struct pfd_flow *flow, const __u8 *dmac,
					   const __u8 *smac)
{
	bool v4 = pkt->family == AF_INET, snat = flow->flags & PFD_FLOW_F_SNAT;
	bool dnat = flow->flags & PFD_FLOW_F_DNAT;
	__u32 l3 = sizeof(struct ethhdr),
	      l4 = l3 + (v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr));
	__u32 csum_off =
		l4 + (pkt->tcp ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check));
	__u64 l4f = pkt->udp ? BPF_F_MARK_MANGLED_0 : 0;
	__be32 saddr[4] = {}, daddr[4] = {};
	__be16 *ports = pkt->tcp ? (__be16 *)pkt->tcp : (__be16 *)pkt->udp;
	__be16 sport, dport, ttl_old, ttl_new;
	__s64 diff;

	if (!ports || (!pkt->ip4 && !pkt->ip6))
		return -1;
	sport = ports[0];
	dport = ports[1];
	if (pkt->ip4) {
		saddr[0] = pkt->ip4->saddr;
		daddr[0] = pkt->ip4->daddr;
		ttl_old = *(__be16 *)&pkt->ip4->ttl;
		ttl_new = ttl_old;
		((__u8 *)&ttl_new)[0]--; /* ttl is the first byte of the word */
	} else {
		__builtin_memcpy(saddr, &pkt->ip6->saddr, sizeof(saddr));
		__builtin_memcpy(daddr, &pkt->ip6->daddr, sizeof(daddr));
		ttl_old = pkt->ip6->hop_limit;
		ttl_new = ttl_old - 1;
	}
	/* From here on the packet may move: offsets only. */
	if (bpf_skb_pull_data(skb, csum_off + sizeof(__be16)))
		return -1;

	if (snat) {
		if (v4) {
			bpf_l4_csum_replace(skb, csum_off, saddr[0], flow->nat_saddr[0],
					    l4f | BPF_F_PSEUDO_HDR | sizeof(__be32));
			bpf_l3_csum_replace(skb, l3 + offsetof(struct iphdr, check), saddr[0],
					    flow->nat_saddr[0], sizeof(__be32));
			bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, saddr),
					    &flow->nat_saddr[0], sizeof(__be32), 0);
		} else {
			diff = bpf_csum_diff(saddr, sizeof(saddr), (__be32 *)flow->nat_saddr,
					     sizeof(saddr), 0);
			bpf_l4_csum_replace(skb, csum_off, 0, diff, l4f | BPF_F_PSEUDO_HDR);
			bpf_skb_store_bytes(skb, l3 + offsetof(struct ipv6hdr, saddr),
					    flow->nat_saddr, sizeof(saddr), 0);
		}
		bpf_l4_csum_replace(skb, csum_off, sport, flow->nat_sport, l4f | sizeof(__be16));
		bpf_skb_store_bytes(skb, l4, &flow->nat_sport, sizeof(__be16), 0);
	}
	if (dnat) {
		if (v4) {
			bpf_l4_csum_replace(skb, csum_off, daddr[0], flow->nat_daddr[0],
					    l4f | BPF_F_PSEUDO_HDR | sizeof(__be32));
			bpf_l3_csum_replace(skb, l3 + offsetof(struct iphdr, check), daddr[0],
					    flow->nat_daddr[0], sizeof(__be32));
			bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, daddr),
					    &flow->nat_daddr[0], sizeof(__be32), 0);
		} else {
			diff = bpf_csum_diff(daddr, sizeof(daddr), (__be32 *)flow->nat_daddr,
					     sizeof(daddr), 0);
			bpf_l4_csum_replace(skb, csum_off, 0, diff, l4f | BPF_F_PSEUDO_HDR);
			bpf_skb_store_bytes(skb, l3 + offsetof(struct ipv6hdr, daddr),
					    flow->nat_daddr, sizeof(daddr), 0);
		}
		bpf_l4_csum_replace(skb, csum_off, dport, flow->nat_dport, l4f | sizeof(__be16));
		bpf_skb_store_bytes(skb, l4 + sizeof(__be16), &flow->nat_dport, sizeof(__be16), 0);
	}

	if (v4) {
		bpf_l3_csum_replace(skb, l3 + offsetof(struct iphdr, check), ttl_old, ttl_new,
				    sizeof(__be16));
		bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, ttl), &ttl_new, 1, 0);
	} else {
		bpf_skb_store_bytes(skb, l3 + offsetof(struct ipv6hdr, hop_limit), &ttl_new, 1, 0);
	}
	bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), dmac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), smac, ETH_ALEN, 0);
	return 0;
}

#endif /* PFD_NAT_BPF_H */
