// SPDX-License-Identifier: GPL-2.0-only
/*
 * `pfd probe --iface X`: what does this driver hand to XDP? Copies the first
 * PFD_PROBE_BYTES of the first few frames into a ring buffer and passes
 * every frame on unchanged (the probe never changes traffic). Loaded and
 * attached for a few seconds by pfd/cli_probe.c. Also carries
 * pfd_probe_fib, run only with BPF_PROG_TEST_RUN by `pfd feasibility`, to
 * learn whether bpf_fib_lookup() accepts BPF_FIB_LOOKUP_MARK (Linux 6.10)
 * on this kernel: an older one answers -EINVAL.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pfd/compat.h"
#include "pfd/probe.h"

char _license[] SEC("license") = "GPL"; /* bpf_fib_lookup is GPL-only */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} pfd_probe_rb SEC(".maps");

const volatile __u32 probe_max = 4; /* set by pfd before load */
__u32 probe_seen;
__u32 probe_lost;
long fib_rc = 1; /* 1: pfd_probe_fib has not run */

/* xdp.frags: a large-MTU veth refuses a program without it, and the probe
 * must attach wherever the fast path would. */
SEC("xdp.frags")
int pfd_probe_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pfd_probe_frame *f;
	__u32 len = data_end - data, cap;

	if (__sync_fetch_and_add(&probe_seen, 1) >= probe_max)
		return XDP_PASS;
	f = bpf_ringbuf_reserve(&pfd_probe_rb, sizeof(*f), 0);
	if (!f) {
		__sync_fetch_and_add(&probe_lost, 1);
		return XDP_PASS;
	}
	f->len = len;
	f->buff_len = bpf_xdp_get_buff_len(ctx);
	f->ifindex = ctx->ingress_ifindex;
	f->rx_queue = ctx->rx_queue_index;
	f->pad = 0;
	cap = 0;
	/* bpf_xdp_load_bytes() wants a length the verifier knows is in
	 * [1, PFD_PROBE_BYTES]; 6.1 learns no lower bound from a `!= 0` test,
	 * so the bounds come from the arithmetic (PFD_PROBE_BYTES is 2^n). */
	if (len) {
		__u32 n = len < PFD_PROBE_BYTES ? len : PFD_PROBE_BYTES;

		n = ((n - 1) & (PFD_PROBE_BYTES - 1)) + 1;
		if (!bpf_xdp_load_bytes(ctx, 0, f->data, n))
			cap = n;
	}
	f->cap = cap;
	bpf_ringbuf_submit(f, 0);
	return XDP_PASS;
}

SEC("xdp")
int pfd_probe_fib(struct xdp_md *ctx)
{
	struct bpf_fib_lookup p = {
		.family = 2,		/* AF_INET */
		.ifindex = 1,		/* loopback of the test run's netns */
		.ipv4_dst = 0x0100007f, /* 127.0.0.1, network order on LE */
	};

	fib_rc = bpf_fib_lookup(ctx, &p, sizeof(p), BPF_FIB_LOOKUP_MARK);
	return XDP_PASS;
}
