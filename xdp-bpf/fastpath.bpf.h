/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-packet core of pfd's fast path, written once and compiled for XDP
 * (xdp-bpf/pfd_xdp.bpf.c) and TC ingress (tc-bpf/pfd_tc_fwd.bpf.c). It applies
 * the per-packet rules of docs/design.md (1-14, 3a and 3b) in their order and
 * returns an enum pfd_reason: PFD_R_FORWARDED when the packet was rewritten
 * and its redirect armed, PFD_R_BLOCKED when a block prefix drops it,
 * PFD_R_SYN_COOKIE (XDP) when a SYN became its SYN-ACK, otherwise why it
 * goes to the kernel untouched. Only the entries map reasons to actions.
 *
 * The including entry defines the context shim first:
 *   pfd_ctx                       struct xdp_md or struct __sk_buff
 *   PFD_HOOK                      PFD_HOOK_XDP or PFD_HOOK_TC (counter slot)
 *   pfd_ctx_redirect(ctx, oif)    arm the redirect; true on success
 *   pfd_ctx_mtu_len(ctx, pkt)     the length the egress MTU must hold
 *   pfd_ctx_rewrite(ctx, pkt, flow, dmac, smac)  NAT, TTL, MACs; 0, or
 *                                 non-zero if it could not start (nothing
 *                                 was changed: the packet passes)
 *   pfd_ctx_l2_check(ctx)         what the hook knows about L2 beyond the
 *                                 frame (skb: VLAN tag taken out, pkt_type)
 *   PFD_HOOK_XDP_ONLY             defined for XDP: VIA_TC flows and the
 *                                 devmap check apply
 */
#ifndef PFD_FASTPATH_BPF_H
#define PFD_FASTPATH_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <pfd/abi.h>
#include <pfd/compat.h>
#include <pfd/reasons.h>
#include "helpers.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "nat.bpf.h"

#if !defined(PFD_HOOK) || !defined(pfd_ctx)
#error "define the context shim (PFD_HOOK, pfd_ctx, ...) before including fastpath.bpf.h"
#endif

#define PFD_TCP_FIN	       0x01
#define PFD_TCP_SYN	       0x02
#define PFD_TCP_RST	       0x04
#define PFD_IPV6_FLOWINFO_MASK bpf_htonl(0x0fffffff)

#define pfd_barrier() asm volatile("" ::: "memory")

#ifdef PFD_HOOK_XDP_ONLY
#include "synproxy.bpf.h"
#endif

/* A cut point of the bench's per-stage breakdown (tests/bench/bench_stages.bpf.c
 * returns there); nothing in the product. */
#ifndef PFD_STAGE
#define PFD_STAGE(n)
#endif

/* Counted in the entry, once per packet, whatever the outcome. */
static __always_inline void pfd_count(const struct pfd_pkt *pkt, enum pfd_reason why)
{
	__u32 idx = PFD_STATS_INDEX(pkt->slot, PFD_HOOK, why);
	struct pfd_counter *c = bpf_map_lookup_elem(&pfd_stats, &idx);

	if (c) { /* per CPU: no atomics needed */
		c->packets++;
		c->bytes += pkt->frame_len;
	}
}

static __always_inline void pfd_flow_key_fill(struct pfd_flow_key *key, const struct pfd_pkt *pkt)
{
	__be16 *ports = pkt->tcp ? (__be16 *)pkt->tcp : (__be16 *)pkt->udp;

	key->ifindex = pkt->ifindex;
	key->family = pkt->family;
	key->l4proto = pkt->l4proto;
	if (pkt->ip4) {
		key->saddr[0] = pkt->ip4->saddr;
		key->daddr[0] = pkt->ip4->daddr;
	} else if (pkt->ip6) {
		__builtin_memcpy(key->saddr, &pkt->ip6->saddr, sizeof(key->saddr));
		__builtin_memcpy(key->daddr, &pkt->ip6->daddr, sizeof(key->daddr));
	}
	if (ports) {
		key->sport = ports[0];
		key->dport = ports[1];
	}
}

/* TC behind pfd's XDP sees what XDP let through: the block was applied. */
#ifdef PFD_HOOK_XDP_ONLY
#define PFD_BLOCK_CHECKED(pkt) false
#else
#define PFD_BLOCK_CHECKED(pkt) ((pkt)->quiet)
#endif

static __always_inline bool pfd_block_count(const struct pfd_block *b, const struct pfd_pkt *pkt)
{
	__u32 idx = b->index;
	struct pfd_counter *c = bpf_map_lookup_elem(&pfd_block_stats, &idx);

	if (c) { /* per CPU */
		c->packets++;
		c->bytes += pkt->frame_len;
	}
	return !(b->flags & PFD_BLOCK_F_DRY_RUN);
}

/* Whether some block prefix may cover the address whose first 16 bits are
 * top16 (pfd_block_bits); only then is the trie walked. */
static __always_inline bool pfd_block_maybe(bool v6, __u32 top16)
{
	__u32 word = PFD_BLOCK_BITS_WORD(v6, top16);
	__u64 *bits = bpf_map_lookup_elem(&pfd_block_bits, &word);

	return bits && ((*bits >> (top16 % 64)) & 1);
}

/*
 * Block prefixes (pfd.conf `block`): PFD_R_BLOCKED when the source or the
 * destination lies in a dropping prefix, else PFD_R_FORWARDED ("go on").
 * Every packet with an IP header, whatever follows it (fragments, options,
 * ICMP): only the addresses are read, so the rest is parse's business. A
 * matching prefix counts the packet once even when both addresses are in
 * it. A frame too short for its IP header goes on, and parse passes it.
 */
static __always_inline enum pfd_reason pfd_block_check(const struct pfd_pkt *pkt,
						       const struct pfd_ctl *ctl)
{
	const struct pfd_block *src = NULL, *dst = NULL;
	struct ethhdr *eth = pkt->data;
	bool drop = false;

	if (!(ctl->flags & PFD_CTL_F_BLOCK))
		return PFD_R_FORWARDED;
	if ((void *)(eth + 1) > pkt->data_end)
		return PFD_R_FORWARDED;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		struct pfd_block_key4 key = { .prefixlen = 32 };

		if ((void *)(iph + 1) > pkt->data_end)
			return PFD_R_FORWARDED;
		if (pfd_block_maybe(false, bpf_ntohl(iph->saddr) >> 16)) {
			key.addr = iph->saddr;
			src = bpf_map_lookup_elem(&pfd_block4, &key);
		}
		if (pfd_block_maybe(false, bpf_ntohl(iph->daddr) >> 16)) {
			key.addr = iph->daddr;
			dst = bpf_map_lookup_elem(&pfd_block4, &key);
		}
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct pfd_block_key6 key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > pkt->data_end)
			return PFD_R_FORWARDED;
		if (pfd_block_maybe(true, bpf_ntohs(ip6->saddr.in6_u.u6_addr16[0]))) {
			__builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
			src = bpf_map_lookup_elem(&pfd_block6, &key);
		}
		if (pfd_block_maybe(true, bpf_ntohs(ip6->daddr.in6_u.u6_addr16[0]))) {
			__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
			dst = bpf_map_lookup_elem(&pfd_block6, &key);
		}
	}
	if (src)
		drop |= pfd_block_count(src, pkt);
	if (dst && dst != src)
		drop |= pfd_block_count(dst, pkt);
	if (drop && !(ctl->flags & PFD_CTL_F_BLOCK_DRY_RUN))
		return PFD_R_BLOCKED;
	return PFD_R_FORWARDED;
}

/*
 * The route as the kernel would choose it for this packet: after DNAT (so
 * the post-DNAT destination and port), before SNAT (so the packet's own
 * source and port), from the ingress device, with the IP length for the MTU
 * check and the flow's mark when policy routing by fwmark applies.
 */
static __always_inline __u32 pfd_fib_params(struct bpf_fib_lookup *fib, const struct pfd_pkt *pkt,
					    const struct pfd_flow *flow, __u16 tot_len)
{
	__be16 *ports = pkt->tcp ? (__be16 *)pkt->tcp : (__be16 *)pkt->udp;
	bool dnat = flow->flags & PFD_FLOW_F_DNAT;
	__u32 flags = 0;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = pkt->family;
	fib->l4_protocol = pkt->l4proto;
	if (ports) {
		fib->sport = ports[0];
		fib->dport = dnat ? flow->nat_dport : ports[1];
	}
	fib->tot_len = tot_len;
	fib->ifindex = pkt->ifindex;
	if (pkt->ip4) {
		fib->tos = pkt->ip4->tos;
		fib->ipv4_src = pkt->ip4->saddr;
		fib->ipv4_dst = dnat ? flow->nat_daddr[0] : pkt->ip4->daddr;
	} else if (pkt->ip6) {
		fib->flowinfo = *(__be32 *)pkt->ip6 & PFD_IPV6_FLOWINFO_MASK;
		__builtin_memcpy(fib->ipv6_src, &pkt->ip6->saddr, sizeof(fib->ipv6_src));
		if (dnat)
			__builtin_memcpy(fib->ipv6_dst, flow->nat_daddr, sizeof(fib->ipv6_dst));
		else
			__builtin_memcpy(fib->ipv6_dst, &pkt->ip6->daddr, sizeof(fib->ipv6_dst));
	}
	if (flow->flags & PFD_FLOW_F_FIB_MARK) {
		/* The 6.10 `mark` input overlays smac[0..3]. */
		__builtin_memcpy(fib->smac, &flow->fib_mark, sizeof(flow->fib_mark));
		flags |= BPF_FIB_LOOKUP_MARK;
	}
	return flags;
}

static __always_inline enum pfd_reason pfd_fib_reason(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return PFD_R_FORWARDED;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return PFD_R_FIB_NO_NEIGH; /* the kernel resolves it */
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return PFD_R_FIB_FRAG; /* the kernel fragments or sends the ICMP */
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return PFD_R_FIB_DENIED; /* the kernel's policy and ICMP apply */
	default:
		return PFD_R_FIB_OTHER;
	}
}

/* The egress must be a device pfd attached to: in pfd_devs, and for XDP in
 * the devmap (an XDP redirect elsewhere would be dropped by the driver); a
 * VLAN device's parent is checked where the tag is pushed, per packet. */
static __always_inline bool pfd_egress_ok(__u32 oif, const struct pfd_flow *flow)
{
	(void)flow;
	if (!bpf_map_lookup_elem(&pfd_devs, &oif))
		return false;
#ifdef PFD_HOOK_XDP_ONLY
	if (!(flow->flags & PFD_FLOW_F_VLAN_TX) && !bpf_map_lookup_elem(&pfd_tx_ports, &oif))
		return false;
#endif
	return true;
}

#ifdef PFD_HOOK_XDP_ONLY
/*
 * The egress is a VLAN device: the frame leaves by its parent with the tag
 * in front of the IP header, as the VLAN device's xmit would put it. The
 * frame grows by 4 bytes at the front, where the old EtherType lands
 * exactly where the tag's encapsulated protocol goes; only the TPID and TCI
 * are written here, the MACs by the rewrite. Nothing else is written before
 * every pointer is valid again, so a failure leaves the frame as it came.
 */
static __always_inline int pfd_vlan_push(struct xdp_md *ctx, struct pfd_pkt *pkt,
					 const struct pfd_vlan *vlan)
{
	bool v4 = pkt->family == AF_INET, tcp = pkt->l4proto == IPPROTO_TCP;
	void *data, *data_end, *l4;
	__be16 *tag;

	if (bpf_xdp_adjust_head(ctx, -4))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* Every packet pointer is stale now, the NULL ones too (the
	 * verifier forgets they were NULL): all of them again, each case
	 * checked on its own so that the verifier keeps the ranges apart. */
	tag = data + 2 * ETH_ALEN;
	if (v4) {
		struct iphdr *ip = data + sizeof(struct ethhdr) + 4;

		if ((void *)(ip + 1) > data_end)
			goto undo;
		pkt->ip4 = ip;
		pkt->ip6 = NULL;
		l4 = ip + 1;
	} else {
		struct ipv6hdr *ip = data + sizeof(struct ethhdr) + 4;

		if ((void *)(ip + 1) > data_end)
			goto undo;
		pkt->ip6 = ip;
		pkt->ip4 = NULL;
		l4 = ip + 1;
	}
	if (tcp) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			goto undo;
		pkt->tcp = th;
		pkt->udp = NULL;
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			goto undo;
		pkt->udp = uh;
		pkt->tcp = NULL;
	}
	pkt->data = data;
	pkt->data_end = data_end;
	pkt->eth = data;
	tag[0] = vlan->proto;
	tag[1] = bpf_htons(vlan->tci);
	return 0;
undo:
	bpf_xdp_adjust_head(ctx, 4);
	return -1;
}
#endif

/*
 * Fill the flow's FIB cache. A successful lookup does not report the MTU it
 * checked against, so ask again with the largest length: FRAG_NEEDED then
 * carries the route MTU (ip_mtu_from_fib_result(), as the kernel forwards).
 * Once per flow and FIB generation. The generation is cleared first and
 * written last so that a reader never pairs a valid generation with half
 * written MACs (readers re-check it after copying).
 */
static __always_inline void pfd_cache_fill(pfd_ctx *ctx, const struct pfd_pkt *pkt,
					   struct pfd_flow *flow, __u32 gen, const __u8 *dmac,
					   const __u8 *smac)
{
	struct bpf_fib_lookup fib;
	__u32 flags = pfd_fib_params(&fib, pkt, flow, 0xffff);
	long rc = pfd_fib_lookup(ctx, &fib, flags);
	__u16 mtu;

	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		mtu = fib.mtu_result;
	else if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		mtu = 0xffff;
	else
		return;
	flow->cache_gen = 0;
	pfd_barrier();
	flow->cache_mtu = mtu;
	__builtin_memcpy(flow->cache_dmac, dmac, ETH_ALEN);
	__builtin_memcpy(flow->cache_smac, smac, ETH_ALEN);
	pfd_barrier();
	flow->cache_gen = gen;
}

static __always_inline enum pfd_reason pfd_route(pfd_ctx *ctx, struct pfd_pkt *pkt,
						 const struct pfd_ctl *ctl, struct pfd_flow *flow,
						 __u8 *dmac, __u8 *smac)
{
	__u32 gen = ctl->fib_gen, mtu_len = pfd_ctx_mtu_len(ctx, pkt);
	struct bpf_fib_lookup fib;
	enum pfd_reason why;
	__u32 flags;
	__u16 mtu;

	/* Cache hit: valid only while pfd has seen no route, rule,
	 * neighbour or link change since it was filled (docs/design.md, rule 10),
	 * nor changed its own device set: the fill checked the egress
	 * (pfd_egress_ok), and pfd bumps fib_gen whenever pfd_devs or the
	 * devmap change, so the check is not repeated per packet. */
	if (gen && flow->cache_gen == gen) {
		mtu = flow->cache_mtu;
		__builtin_memcpy(dmac, flow->cache_dmac, ETH_ALEN);
		__builtin_memcpy(smac, flow->cache_smac, ETH_ALEN);
		pfd_barrier();
		if (flow->cache_gen == gen) {
			if (mtu_len > mtu)
				return PFD_R_FIB_FRAG;
			pkt->oif = flow->oif;
			return PFD_R_FORWARDED;
		}
	}

	flags = pfd_fib_params(&fib, pkt, flow, mtu_len > 0xffff ? 0xffff : mtu_len);
	why = pfd_fib_reason(pfd_fib_lookup(ctx, &fib, flags));
	if (why != PFD_R_FORWARDED)
		return why;
	if (fib.ifindex != flow->oif || !pfd_egress_ok(fib.ifindex, flow))
		return PFD_R_EGRESS;
	pkt->oif = fib.ifindex;
	__builtin_memcpy(dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(smac, fib.smac, ETH_ALEN);
	if (gen)
		pfd_cache_fill(ctx, pkt, flow, gen, dmac, smac);
	return PFD_R_FORWARDED;
}

static __always_inline enum pfd_reason pfd_fastpath(pfd_ctx *ctx, struct pfd_pkt *pkt)
{
	struct pfd_flow_key key = {};
	__u8 dmac[ETH_ALEN], smac[ETH_ALEN];
#ifdef PFD_HOOK_XDP_ONLY
	const struct pfd_vlan *vlan = NULL;
#endif
	struct pfd_flow *flow;
	struct pfd_ctl *ctl;
	struct pfd_dev *dev;
	enum pfd_reason why;
	__u32 zero = 0, tx;
	__u64 now;

	PFD_STAGE(0);
	dev = bpf_map_lookup_elem(&pfd_devs, &pkt->ifindex);
	if (!dev)
		return PFD_R_NO_DEV; /* counted in slot 0 */
	pkt->slot = dev->slot < PFD_MAX_DEVS ? dev->slot : 0;
	PFD_STAGE(1);
#ifndef PFD_HOOK_XDP_ONLY
	/* TC ingress on a device that also runs pfd's XDP program: XDP has
	 * decided and counted every packet that reaches TC, and TC carries
	 * only the flows XDP handed over (VIA_TC, below); counting the rest
	 * again would show every passed packet twice. Unless XDP handed
	 * over every packet (VLAN_UPPERS): then TC decides them all. */
	pkt->quiet = (dev->flags & (PFD_DEV_F_TC_VIA_ONLY | PFD_DEV_F_VLAN_UPPERS)) ==
		     PFD_DEV_F_TC_VIA_ONLY;
#endif

	/* Fail open: a control block from another build, or none. */
	ctl = bpf_map_lookup_elem(&pfd_ctl, &zero);
	if (!ctl || ctl->abi_version != PFD_ABI_VERSION)
		return PFD_R_ABI;
	/* A dead daemon must not leave forwarding conntrack cannot see. */
	now = pfd_now_ns();
	if (ctl->heartbeat_ns + ctl->heartbeat_max_ns < now)
		return PFD_R_STALE;
	PFD_STAGE(2);

#ifdef PFD_HOOK_XDP_ONLY
	/* A VLAN's tag may be outside the frame here: only the skb tells,
	 * in TC ingress behind XDP (or the kernel, without it). */
	if (dev->flags & PFD_DEV_F_VLAN_UPPERS)
		return PFD_R_VIA_TC;
#endif
	why = pfd_ctx_l2_check(ctx);
	if (why != PFD_R_FORWARDED)
		return why;
	/* Before the flow is looked up: the operator's block holds for
	 * flows conntrack accepted too. TC behind XDP: XDP checked. */
	if (!PFD_BLOCK_CHECKED(pkt)) {
		why = pfd_block_check(pkt, ctl);
		if (why != PFD_R_FORWARDED)
			return why;
	}
	why = pfd_parse(pkt);
	if (why != PFD_R_FORWARDED)
		return why;
#ifdef PFD_HOOK_XDP_ONLY
	/* A SYN to a syn-protect service: answered here, or on to the
	 * kernel's synproxy (TC ingress leaves them all to it). */
	why = pfd_synp_check(ctx, pkt, ctl);
	if (why != PFD_R_FORWARDED)
		return why;
#endif
	PFD_STAGE(3);

	pfd_flow_key_fill(&key, pkt);
	flow = bpf_map_lookup_elem(&pfd_flows, &key);
	if (!flow)
		return PFD_R_NO_FLOW;
	PFD_STAGE(4);
	/* Accepted under an older ruleset: the current one decides again,
	 * in the kernel, until pfd sees it mark the flow once more. */
	if (flow->policy_gen != ctl->policy_gen)
		return PFD_R_RULESET_CHANGED;

	/* Conntrack must see every state change. */
	if (pkt->tcp && (((__u8 *)pkt->tcp)[13] & (PFD_TCP_FIN | PFD_TCP_SYN | PFD_TCP_RST)))
		return PFD_R_TCP_CONTROL;

	/* The kernel sends the ICMP time exceeded. */
	if ((pkt->ip4 && pkt->ip4->ttl <= 1) || (pkt->ip6 && pkt->ip6->hop_limit <= 1))
		return PFD_R_TTL;

#ifdef PFD_HOOK_XDP_ONLY
	/* Egress policy (qdisc, tc filters) that XDP would skip: TC ingress
	 * forwards this flow through the egress qdisc. Before the keep-alive,
	 * which TC then applies once instead of both hooks in a row. */
	if (flow->flags & PFD_FLOW_F_VIA_TC)
		return PFD_R_VIA_TC;
#else
	/* Behind XDP, any other flow was XDP's to forward: it passed it for
	 * a reason (keep-alive, FIB, dry run) that TC must not overrule. */
	if (pkt->quiet) {
		if (!(flow->flags & PFD_FLOW_F_VIA_TC))
			return PFD_R_NO_FLOW;
		pkt->quiet = 0;
	}
#endif

	/* Flowtable mode: one packet per interval goes through the kernel,
	 * whose software flowtable refreshes its own entry. A second CPU
	 * racing here passes one extra packet: harmless. */
	if ((flow->flags & PFD_FLOW_F_KEEPALIVE) && ctl->keepalive_ms &&
	    now - flow->kernel_pass_ns >= (__u64)ctl->keepalive_ms * 1000000) {
		flow->kernel_pass_ns = now;
		return PFD_R_KEEPALIVE;
	}

	PFD_STAGE(5);
	why = pfd_route(ctx, pkt, ctl, flow, dmac, smac);
	if (why != PFD_R_FORWARDED)
		return why;
	tx = pkt->oif;
	PFD_STAGE(6);
#ifdef PFD_HOOK_XDP_ONLY
	/* A VLAN device: out by its parent, which must take XDP frames now
	 * (the FIB cache does not know the parent). */
	if (flow->flags & PFD_FLOW_F_VLAN_TX) {
		vlan = bpf_map_lookup_elem(&pfd_vlans, &pkt->oif);
		if (!vlan || !bpf_map_lookup_elem(&pfd_tx_ports, &vlan->parent))
			return PFD_R_EGRESS;
		tx = vlan->parent;
	}
#endif

	if ((ctl->flags & PFD_CTL_F_DRY_RUN) || (dev->flags & PFD_DEV_F_DRY_RUN))
		return PFD_R_DRY_RUN;

	/* Armed before the rewrite, so a failure passes an untouched packet. */
	if (!pfd_ctx_redirect(ctx, tx))
		return PFD_R_REDIRECT;
	PFD_STAGE(7);

	/* Returning anything but the redirect verdict cancels the redirect. */
#ifdef PFD_HOOK_XDP_ONLY
	if (vlan && pfd_vlan_push(ctx, pkt, vlan))
		return PFD_R_REDIRECT;
#endif
	if (pfd_ctx_rewrite(ctx, pkt, flow, dmac, smac))
		return PFD_R_REDIRECT;
	PFD_STAGE(8);
	/* Plain adds (abi.h says when they can lose one); as conntrack
	 * counts bytes. */
	flow->packets++;
	flow->bytes += pkt->ip_len;
	flow->last_seen_ns = now;
	return PFD_R_FORWARDED;
}

#endif /* PFD_FASTPATH_BPF_H */
