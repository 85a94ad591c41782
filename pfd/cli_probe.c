// SPDX-License-Identifier: GPL-2.0-only
/*
 * `pfd probe --iface X`: attaches xdp-bpf/pfd_probe.bpf.c to X for a few
 * frames or seconds, prints the first bytes the driver handed to XDP, and a
 * verdict: whether they start with a plain Ethernet header carrying IPv4 or
 * IPv6, which is what pfd's fast path expects. For drivers whose native XDP
 * mode delivers odd frames (VLAN tags left in, no Ethernet header, data
 * offset). The probe passes every frame and refuses to replace another XDP
 * program (pfd's own included): it detaches only its own.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "pfd/cli.h"
#include "pfd/log.h"
#include "pfd/probe.h"
#include "pfd_probe.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct probe_ctx {
	unsigned int frames, ethernet, odd;
};

static const char *classify(const struct pfd_probe_frame *f, char *buf, size_t len)
{
	const unsigned char *d = f->data;
	unsigned int proto;

	if (f->cap < 14)
		return "shorter than an Ethernet header";
	proto = d[12] << 8 | d[13];
	if ((d[0] & 0xf0) == 0x40 && (d[0] & 0x0f) >= 5 && proto > 0x0600 && proto != 0x0800 &&
	    proto != 0x86dd && proto != 0x0806)
		return "looks like a bare IPv4 header, not Ethernet (an L3 device: XDP frames "
		       "have no MAC header)";
	switch (proto) {
	case 0x0800:
		return f->cap > 14 && (d[14] >> 4) == 4 ?
			       "Ethernet, IPv4" :
			       "Ethernet, IPv4 ethertype but no IPv4 header";
	case 0x86dd:
		return f->cap > 14 && (d[14] >> 4) == 6 ?
			       "Ethernet, IPv6" :
			       "Ethernet, IPv6 ethertype but no IPv6 header";
	case 0x0806:
		return "Ethernet, ARP";
	case 0x8100:
	case 0x88a8:
		return "Ethernet with a VLAN tag still in the frame (pfd passes these to the "
		       "kernel)";
	}
	if (proto < 0x0600)
		return "802.3 length field, not an ethertype";
	snprintf(buf, len, "Ethernet, ethertype 0x%04x", proto);
	return buf;
}

static int on_frame(void *arg, void *data, size_t size)
{
	const struct pfd_probe_frame *f = data;
	struct probe_ctx *c = arg;
	char buf[64], hex[3 * PFD_PROBE_BYTES + 1];
	const char *what;
	unsigned int i;

	if (size < sizeof(*f))
		return 0;
	what = classify(f, buf, sizeof(buf));
	c->frames++;
	if (!strncmp(what, "Ethernet, IPv", 13) || !strcmp(what, "Ethernet, ARP"))
		c->ethernet++;
	else if (strncmp(what, "Ethernet,", 9))
		c->odd++;
	for (i = 0; i < f->cap && i < 64; i++)
		snprintf(hex + 3 * i, 4, "%02x ", f->data[i]);
	hex[i ? 3 * i - 1 : 0] = '\0';

	pfd_out_open_obj(NULL);
	pfd_print_u64(PFD_PRINT_ANY, "frame", "frame %llu:", c->frames);
	pfd_print_u64(PFD_PRINT_ANY, "len", " %llu bytes", f->len);
	if (f->buff_len != f->len)
		pfd_print_u64(PFD_PRINT_ANY, "buff_len", " (%llu with fragments)", f->buff_len);
	pfd_print_u64(PFD_PRINT_ANY, "rx_queue", ", queue %llu", f->rx_queue);
	pfd_print_str(PFD_PRINT_ANY, "kind", ": %s\n", what);
	pfd_print_str(PFD_PRINT_ANY, "bytes", "  %s\n", hex);
	pfd_out_close_obj();
	return 0;
}

int pfd_cmd_probe(struct pfd_cli *cli)
{
	const char *iface = pfd_cli_opt(cli, "--iface"), *count_s = pfd_cli_opt(cli, "--count");
	const char *timeout_s = pfd_cli_opt(cli, "--timeout"), *mode = pfd_cli_opt(cli, "--mode");
	struct probe_ctx ctx = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct ring_buffer *rb = NULL;
	struct pfd_probe *skel;
	long count = 4, timeout = 10;
	unsigned int ifindex;
	__u32 flags;
	char *end;
	time_t deadline;
	int err, rc = PFD_EXIT_FAIL;

	if (!iface)
		return pfd_cli_usage_error("probe: --iface is required");
	if (count_s) {
		count = strtol(count_s, &end, 10);
		if (!*count_s || *end || count < 1 || count > PFD_PROBE_MAX_FRAMES)
			return pfd_cli_usage_error("--count: expected 1-%d, got \"%s\"",
						   PFD_PROBE_MAX_FRAMES, count_s);
	}
	if (timeout_s) {
		timeout = strtol(timeout_s, &end, 10);
		if (!*timeout_s || *end || timeout < 1 || timeout > 600)
			return pfd_cli_usage_error("--timeout: expected 1-600 seconds, got \"%s\"",
						   timeout_s);
	}
	if (!mode || !strcmp(mode, "native"))
		flags = XDP_FLAGS_DRV_MODE;
	else if (!strcmp(mode, "generic"))
		flags = XDP_FLAGS_SKB_MODE;
	else
		return pfd_cli_usage_error("--mode: expected native or generic, got \"%s\"", mode);
	ifindex = if_nametoindex(iface);
	if (!ifindex) {
		pr_err("%s: no such device", iface);
		return PFD_EXIT_FAIL;
	}

	skel = pfd_probe__open();
	if (!skel) {
		pr_err("probe: cannot open the probe program (%s)", strerror(errno));
		return PFD_EXIT_FAIL;
	}
	skel->rodata->probe_max = count;
	err = pfd_probe__load(skel);
	if (err) {
		pr_err("probe: cannot load the probe program (%s)%s", strerror(-err),
		       err == -EPERM || err == -EACCES ? ": loading XDP needs root (CAP_BPF, "
							 "CAP_NET_ADMIN); run this as root" :
							 "");
		goto out;
	}
	/* UPDATE_IF_NOEXIST: never replace someone's program, pfd's included */
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.pfd_probe_xdp),
			     flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err == -EBUSY || err == -EEXIST) {
		pr_err("%s: already has an XDP program; probe refuses to replace it (pfd detach "
		       "--all removes pfd's)",
		       iface);
		goto out;
	}
	if (err) {
		pr_err("%s: %s XDP attach failed (%s)%s", iface, mode ? mode : "native",
		       strerror(-err), flags == XDP_FLAGS_DRV_MODE ? "; try --mode generic" : "");
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.pfd_probe_rb), on_frame, &ctx, NULL);
	if (!rb) {
		pr_err("probe: ring buffer: %s", strerror(errno));
		goto detach;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pfd_print_text("probing %s (%s XDP) for %ld frames or %ld s...\n", iface,
		       flags == XDP_FLAGS_DRV_MODE ? "native" : "generic", count, timeout);
	pfd_out_open_obj(NULL);
	pfd_print_str(PFD_PRINT_JSON, "iface", NULL, iface);
	pfd_out_open_arr("frames");
	deadline = time(NULL) + timeout;
	while (!stop && ctx.frames < count && time(NULL) < deadline) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR)
			break;
	}
	ring_buffer__consume(rb);
	pfd_out_close_arr();
	if (!ctx.frames) {
		pfd_print_str(PFD_PRINT_ANY, "verdict", "verdict: %s\n",
			      "no frames arrived; send traffic to the device while probing");
	} else if (ctx.odd) {
		pfd_print_str(PFD_PRINT_ANY, "verdict", "verdict: %s\n",
			      "ODD: some frames do not start with an Ethernet header; use attach "
			      "IFACE tc for this device");
		rc = PFD_EXIT_FAIL;
	} else {
		pfd_print_str(PFD_PRINT_ANY, "verdict", "verdict: %s\n",
			      "OK: frames start with a plain Ethernet header");
		rc = PFD_EXIT_OK;
	}
	pfd_out_close_obj();
	pfd_out_end();
	if (!ctx.frames)
		rc = PFD_EXIT_FAIL;
detach : {
	LIBBPF_OPTS(bpf_xdp_attach_opts, dopts,
		    .old_prog_fd = bpf_program__fd(skel->progs.pfd_probe_xdp));

	/* REPLACE with old_prog_fd: removes ours only, not a program
		 * someone attached meanwhile */
	err = bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &dopts);
	if (err)
		pr_warn("%s: detaching the probe: %s", iface, strerror(-err));
}
	ring_buffer__free(rb);
out:
	pfd_probe__destroy(skel);
	return rc;
}
