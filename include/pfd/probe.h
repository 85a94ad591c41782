/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `pfd probe`: the record xdp-bpf/pfd_probe.bpf.c puts in its ring buffer for
 * each captured frame, read by pfd/cli_probe.c. Shared by both sides, like
 * abi.h; only the probe uses it.
 */
#ifndef PFD_PROBE_H
#define PFD_PROBE_H

#include <linux/types.h>

#define PFD_PROBE_BYTES	     128 /* bytes of each frame copied; a power of 2 */
#define PFD_PROBE_MAX_FRAMES 64

struct pfd_probe_frame {
	__u32 len;	/* data_end - data: the first buffer */
	__u32 buff_len; /* bpf_xdp_get_buff_len(): all buffers (multi-buf) */
	__u32 ifindex;	/* ingress_ifindex */
	__u32 rx_queue; /* rx_queue_index */
	__u32 cap;	/* bytes valid in data[] */
	__u32 pad;
	__u8 data[PFD_PROBE_BYTES];
};

_Static_assert((PFD_PROBE_BYTES & (PFD_PROBE_BYTES - 1)) == 0, "PFD_PROBE_BYTES: a power of 2");
_Static_assert(sizeof(struct pfd_probe_frame) == 24 + PFD_PROBE_BYTES, "pfd_probe_frame size");

#endif /* PFD_PROBE_H */
