// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's TC ingress fast path, from the same core as the XDP program
 * (xdp-bpf/fastpath.bpf.h). For devices where XDP does not fit, and for flows
 * whose egress has policy an XDP redirect would skip (PFD_FLOW_F_VIA_TC):
 * bpf_redirect() goes through the egress device's qdisc and egress hooks.
 * Loadable by pfd, or by hand, sharing pfd's pinned maps:
 *   tc qdisc add dev X clsact
 *   tc filter add dev X ingress bpf da obj pfd_tc_fwd.bpf.o sec tc
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define pfd_ctx			   struct __sk_buff
#define PFD_HOOK		   PFD_HOOK_TC
#define pfd_ctx_redirect(ctx, oif) (bpf_redirect((oif), 0) == TC_ACT_REDIRECT)
/* A GRO/GSO packet leaves as segments of gso_size payload each: that, not
 * the aggregate, must fit the egress MTU (ip_forward()'s
 * skb_gso_validate_network_len()). */
#define pfd_ctx_mtu_len(ctx, pkt) \
	((ctx)->gso_size ? (pkt)->hdr_len + (ctx)->gso_size : (pkt)->ip_len)
/* Through the checksum helpers: skbs carry CHECKSUM_PARTIAL/COMPLETE state. */
#define pfd_ctx_rewrite(ctx, pkt, flow, dmac, smac) pfd_rewrite_skb(ctx, pkt, flow, dmac, smac)

/*
 * The stack takes a VLAN tag out of the frame before TC ingress
 * (skb_vlan_untag(), or the NIC did): a tagged packet looks untagged here
 * and must pass like a tagged frame in XDP, or a VLAN's traffic would match
 * the flows of the untagged network. pkt_type is exact where XDP can only
 * test the group bit: ip_forward() drops anything but PACKET_HOST.
 */
#define pfd_ctx_l2_check(ctx)                                  \
	((ctx)->vlan_present		    ? PFD_R_NOT_IP :   \
	 (ctx)->pkt_type != PFD_PACKET_HOST ? PFD_R_NOT_HOST : \
					      PFD_R_FORWARDED)
#define PFD_PACKET_HOST 0 /* linux/if_packet.h PACKET_HOST */

#include "../xdp-bpf/fastpath.bpf.h"

char _license[] SEC("license") = "GPL"; /* bpf_fib_lookup is GPL-only */

/* Ethernet + IPv6 + TCP: the most the core reads directly. */
#define PFD_TC_PULL_LEN (14 + 40 + 20)

SEC("tc")
int pfd_tc_fwd(struct __sk_buff *skb)
{
	struct pfd_pkt pkt = {};
	enum pfd_reason why;
	__u32 want;

	/* Headers of a non-linear skb may sit in fragments; pulling them
	 * into the linear part changes no byte of the packet. */
	want = skb->len < PFD_TC_PULL_LEN ? skb->len : PFD_TC_PULL_LEN;
	if (skb->data_end - skb->data < want)
		bpf_skb_pull_data(skb, want);

	pkt.data = (void *)(long)skb->data;
	pkt.data_end = (void *)(long)skb->data_end;
	pkt.ifindex = skb->ifindex; /* at ingress: the receiving device */
	pkt.frame_len = skb->len;
	why = pfd_fastpath(skb, &pkt);

	if (!pkt.quiet)
		pfd_count(&pkt, why);
	if (why == PFD_R_FORWARDED)
		return TC_ACT_REDIRECT;
	return why == PFD_R_BLOCKED ? TC_ACT_SHOT : TC_ACT_OK;
}
