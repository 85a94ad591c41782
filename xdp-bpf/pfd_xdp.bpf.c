// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's XDP fast path: the entry over the shared core in fastpath.bpf.h.
 * Frags-aware (SEC("xdp.frags")) so that drivers accept it on large-MTU
 * devices (veth refuses plain XDP above one page); the core takes every
 * length from the IP header, and the headers it needs must be in the first
 * buffer (otherwise: MALFORMED, pass). Attached by pfd; maps are pinned by
 * name and shared with the TC ingress program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define pfd_ctx		  struct xdp_md
#define PFD_HOOK	  PFD_HOOK_XDP
#define PFD_HOOK_XDP_ONLY 1
/* Unattached egress: XDP_PASS from the devmap, never a drop. */
#define pfd_ctx_redirect(ctx, oif) \
	(bpf_redirect_map(&pfd_tx_ports, (oif), XDP_PASS) == XDP_REDIRECT)
#define pfd_ctx_mtu_len(ctx, pkt) ((pkt)->ip_len)
/* An xdp_buff has no checksum state: rewrite in place. */
/* direct packet access: the rewrite cannot fail */
#define pfd_ctx_rewrite(ctx, pkt, flow, dmac, smac) (pfd_rewrite(pkt, flow, dmac, smac), 0)

/* A VLAN tag is in the frame (EtherType 0x8100: not_ip); no pkt_type. */
#define pfd_ctx_l2_check(ctx) PFD_R_FORWARDED

#include "fastpath.bpf.h"

char _license[] SEC("license") = "GPL"; /* bpf_fib_lookup is GPL-only */

SEC("xdp.frags")
int pfd_xdp_fwd(struct xdp_md *ctx)
{
	struct pfd_pkt pkt = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
		.ifindex = ctx->ingress_ifindex,
		.frame_len = bpf_xdp_get_buff_len(ctx),
	};
	enum pfd_reason why = pfd_fastpath(ctx, &pkt);

	pfd_count(&pkt, why);
	/* Anything but a forward goes to the kernel; only the operator's
	 * block prefixes drop, and only syn-protect answers (a SYN-ACK). */
	switch (why) {
	case PFD_R_FORWARDED:
		return XDP_REDIRECT;
	case PFD_R_BLOCKED:
		return XDP_DROP;
	case PFD_R_SYN_COOKIE: /* into the ingress device, through the devmap */
		return XDP_REDIRECT;
	default:
		return XDP_PASS;
	}
}
