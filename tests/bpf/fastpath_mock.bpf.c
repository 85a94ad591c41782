// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XDP fast path core with its kernel-state helpers replaced by scripted
 * ones (xdp-bpf/helpers.bpf.h's wrappers): bpf_fib_lookup() returns what
 * the test sets in .bss and counts its calls, and the redirect can be made
 * to fail. Lets tests/bpf/test_mock.c reach the results a lab netns cannot
 * produce on demand (every FIB return code, a failed redirect) and count
 * lookups exactly (the FIB cache must skip them). Built by the Makefile
 * rule for BPF objects under tests/bpf; shares the pinned maps of the product
 * objects.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

long mock_fib_rc;   /* BPF_FIB_LKUP_RET_* or -errno */
__u32 mock_fib_oif; /* egress reported on success */
__u16 mock_fib_mtu; /* reported by FRAG_NEEDED */
__u32 mock_fib_calls;
__u32 mock_fib_last_flags;
__u32 mock_redirect_fail;
struct bpf_fib_lookup mock_fib_last; /* the last lookup's input */

static const __u8 mock_dmac[6] = { 0x02, 0, 0, 0, 0x0d, 0x0d };
static const __u8 mock_smac[6] = { 0x02, 0, 0, 0, 0x05, 0x05 };

static __always_inline long mock_fib(struct bpf_fib_lookup *p, __u32 flags)
{
	mock_fib_calls++;
	mock_fib_last = *p;
	mock_fib_last_flags = flags;
	/* The cache's MTU probe asks with the largest length. */
	if (mock_fib_mtu && p->tot_len > mock_fib_mtu) {
		p->mtu_result = mock_fib_mtu;
		return BPF_FIB_LKUP_RET_FRAG_NEEDED;
	}
	if (mock_fib_rc == BPF_FIB_LKUP_RET_SUCCESS) {
		p->ifindex = mock_fib_oif;
		__builtin_memcpy(p->dmac, mock_dmac, 6);
		__builtin_memcpy(p->smac, mock_smac, 6);
	}
	return mock_fib_rc;
}

#define pfd_fib_lookup(ctx, params, flags) ((void)(ctx), mock_fib((params), (flags)))

#define pfd_ctx			   struct xdp_md
#define PFD_HOOK		   PFD_HOOK_XDP
#define PFD_HOOK_XDP_ONLY	   1
#define pfd_ctx_redirect(ctx, oif) ((void)(oif), !mock_redirect_fail)
#define pfd_ctx_mtu_len(ctx, pkt)  ((pkt)->ip_len)
/* direct packet access: the rewrite cannot fail */
#define pfd_ctx_rewrite(ctx, pkt, flow, dmac, smac) (pfd_rewrite(pkt, flow, dmac, smac), 0)
#define pfd_ctx_l2_check(ctx)			    PFD_R_FORWARDED

#include "../../xdp-bpf/fastpath.bpf.h"

char _license[] SEC("license") = "GPL";

SEC("xdp")
int pfd_xdp_mock(struct xdp_md *ctx)
{
	struct pfd_pkt pkt = {
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
		.ifindex = ctx->ingress_ifindex,
		.frame_len = bpf_xdp_get_buff_len(ctx),
	};
	enum pfd_reason why = pfd_fastpath(ctx, &pkt);

	pfd_count(&pkt, why);
	return why == PFD_R_FORWARDED ? XDP_REDIRECT : XDP_PASS;
}
