// SPDX-License-Identifier: GPL-2.0-only
/*
 * Passes every packet. Attached to the far ends of the test veths (the
 * client's and the server's), because a veth only accepts XDP_REDIRECTed
 * frames (ndo_xdp_xmit) when its peer runs an XDP program or has GRO on.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
