/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the two TC egress programs (pfd_tc_mss.bpf.c, pfd_tc_jitter.bpf.c)
 * share: a header parser that reads through bpf_skb_load_bytes() (so a
 * non-linear skb is handled like a linear one, and no packet pointer has to be
 * revalidated after a write), the prefix lookup in their LPM tries, and the
 * per-CPU counter increment. BPF only; the map layouts are in
 * include/pfd/egress.h.
 */
#ifndef PFD_EGRESS_BPF_H
#define PFD_EGRESS_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pfd/egress.h"

#define PFD_AF_INET  2
#define PFD_AF_INET6 10

/* IPv4 frag_off: more fragments, and the offset bits */
#define PFD_IP_MF     0x2000
#define PFD_IP_OFFSET 0x1fff

/* A parsed packet: where its headers start and its addresses. */
struct pfd_eg_pkt {
	__u32 l4off;  /* from the start of the frame */
	__u8 family;  /* PFD_AF_INET or PFD_AF_INET6 */
	__u8 l4proto; /* IPPROTO_*; 0 for a non-first fragment */
	__u16 pad;
	__be32 saddr[4];
	__be32 daddr[4];
};

/*
 * Ethernet + IPv4 or IPv6. Returns 0 when pkt is filled, -1 for anything else
 * (not Ethernet-framed IP, truncated): the caller leaves such packets alone.
 * The programs expect Ethernet framing: they are attached to Ethernet-like
 * devices (veth, physical NICs), as pfd's XDP program is. An IPv4 fragment
 * other than the first, and an IPv6 packet whose first next header is not TCP
 * or UDP (extension headers), get l4proto 0: there is no L4 header to read.
 */
static __always_inline int pfd_eg_parse(struct __sk_buff *skb, struct pfd_eg_pkt *pkt)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	/* skb->protocol and the frame must agree: a VLAN-tagged frame (whose
	 * h_proto is 802.1Q) is not parsed, like in the XDP program. */
	if (eth.h_proto != skb->protocol)
		return -1;

	if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return -1;
		if (ip.version != 4 || ip.ihl < 5)
			return -1;
		pkt->family = PFD_AF_INET;
		pkt->l4off = ETH_HLEN + ip.ihl * 4;
		pkt->l4proto = (ip.frag_off & bpf_htons(PFD_IP_OFFSET)) ? 0 : ip.protocol;
		pkt->saddr[0] = ip.saddr;
		pkt->daddr[0] = ip.daddr;
		return 0;
	}
	if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return -1;
		if (ip6.version != 6)
			return -1;
		pkt->family = PFD_AF_INET6;
		pkt->l4off = ETH_HLEN + sizeof(ip6);
		pkt->l4proto = ip6.nexthdr;
		__builtin_memcpy(pkt->saddr, &ip6.saddr, 16);
		__builtin_memcpy(pkt->daddr, &ip6.daddr, 16);
		return 0;
	}
	return -1;
}

/* A host-length lookup of one address in a pfd_*_pfx trie, for one device
 * (0 = the entries for any device) and direction. */
static __always_inline void *pfd_eg_pfx_lookup(void *trie, __u32 ifindex, __u8 dir,
					       const struct pfd_eg_pkt *pkt, const __be32 *addr)
{
	struct pfd_egress_pfx_key key = {
		.prefixlen = PFD_EGRESS_PFX_BASE + (pkt->family == PFD_AF_INET ? 32 : 128),
		.ifindex = ifindex,
		.family = pkt->family,
		.dir = dir,
	};

	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(trie, &key);
}

/* Adds n to slot id of a per-CPU __u64 array. */
static __always_inline void pfd_eg_count(void *stats, __u32 id, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(stats, &id);

	if (c)
		*c += n; /* per CPU: no atomics needed */
}

#endif /* PFD_EGRESS_BPF_H */
