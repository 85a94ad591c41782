// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_TEST_RUN table for the TC egress MSS clamp (tc-bpf/pfd_tc_mss.bpf.c):
 * each row is a packet, the ceilings in the pinned maps, and the expected
 * result: the MSS bytes after the program, every other byte unchanged, the
 * TCP checksum valid by an independent full recomputation, and exactly one
 * counter moved (or none, for packets that are not SYNs). Runs in a private
 * network and mount namespace with its own bpffs (tests/bpf/egress_lab.h).
 */
#include <time.h>
#include <linux/pkt_cls.h>

#include "egress_lab.h"
#include "pfd_tc_mss.skel.h"

/* Table rows leave trailing fields (unchanged, truncate) at zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MAX_RULES 4
#define NONE	  (-1) /* no counter expected (not a SYN) */
#define DEV	  (-2) /* in a rule: the lab's veth */

/* A ceiling: for a device (pfx NULL) or a prefix. */
struct rule {
	const char *pfx; /* "ADDR/LEN" or NULL for pfd_mss_cfg */
	int ifindex;	 /* 0 = any/default, DEV = the lab veth */
	uint8_t dir;	 /* PFD_PFX_SRC / PFD_PFX_DST */
	uint16_t mss;
	uint8_t flags; /* PFD_MSS_F_* */
};

struct mss_case {
	const char *name;
	const char *src, *dst;
	int flags; /* TCP flags; -1 = UDP */
	unsigned char opts[44];
	size_t optlen;
	int on_dev; /* run with the lab veth as the skb's device */
	struct rule rules[MAX_RULES];
	int want_mss[2]; /* expected value of the MSS option(s); 0 = no check */
	int stat;	 /* PFD_MSS_S_*, or NONE */
	int unchanged;	 /* the output must equal the input byte for byte */
	int truncate;	 /* cut the packet to this length (malformed) */
};

/* Usual SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7 */
#define OPTS_LINUX(...) { 2, 4, __VA_ARGS__, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 }, 20
#define M1460		0x05, 0xb4
#define M1440		0x05, 0xa0
#define M1300		0x05, 0x14

static const struct mss_case cases[] = {
	{ "v4 SYN 1460 clamped to the default 1400",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1400 },
	  PFD_MSS_S_CLAMPED },
	{ "v4 SYN-ACK 1460 clamped",
	  "198.51.100.1",
	  "192.0.2.1",
	  TH_SYN | TH_ACK,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1400 },
	  PFD_MSS_S_CLAMPED },
	{ "v6 SYN 1440 clamped",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN,
	  OPTS_LINUX(M1440),
	  0,
	  { { NULL, 0, 0, 1380, 0 } },
	  { 1380 },
	  PFD_MSS_S_CLAMPED },
	{ "v6 SYN-ACK 1440 clamped",
	  "2001:db8:1::1",
	  "2001:db8::1",
	  TH_SYN | TH_ACK,
	  OPTS_LINUX(M1440),
	  0,
	  { { NULL, 0, 0, 1380, 0 } },
	  { 1380 },
	  PFD_MSS_S_CLAMPED },
	{ "v4 SYN with payload (TFO) clamped",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460 },
	  4,
	  0,
	  { { NULL, 0, 0, 536, 0 } },
	  { 536 },
	  PFD_MSS_S_CLAMPED },
	{ "already lower: never raised",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1300),
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1300 },
	  PFD_MSS_S_BELOW,
	  1 },
	{ "equal to the ceiling: unchanged",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, 0x05, 0x78 },
	  4,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1400 },
	  PFD_MSS_S_BELOW,
	  1 },
	{ "v6 already lower",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN | TH_ACK,
	  OPTS_LINUX(M1300),
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1300 },
	  PFD_MSS_S_BELOW,
	  1 },
	{ "no MSS option (timestamps only)",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0 },
	  12,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_NO_OPTION,
	  1 },
	{ "no options at all",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 0 },
	  0,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_NO_OPTION,
	  1 },
	{ "MSS after EOL is padding, not an option",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 0, 0, 0, 0, 2, 4, M1460 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_NO_OPTION,
	  1 },
	{ "odd offset (NOP, MSS, NOP...): checksum over swapped bytes",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 1, 2, 4, M1460, 1, 1, 1 },
	  8,
	  0,
	  { { NULL, 0, 0, 1220, 0 } },
	  { 1220 },
	  PFD_MSS_S_CLAMPED },
	{ "v6 odd offset",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN,
	  { 1, 2, 4, 0xff, 0xff, 1, 1, 1 },
	  8,
	  0,
	  { { NULL, 0, 0, 1220, 0 } },
	  { 1220 },
	  PFD_MSS_S_CLAMPED },
	{ "two MSS options: both clamped",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460, 2, 4, M1440 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1400, 1400 },
	  PFD_MSS_S_CLAMPED },
	{ "malformed: option length 0",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 8, 0, 2, 4, M1460, 0, 0 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_MALFORMED,
	  1 },
	{ "malformed: option length 1",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460, 4, 1, 0, 0 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1460 },
	  PFD_MSS_S_MALFORMED,
	  1 },
	{ "malformed: option runs past the header",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460, 1, 1, 8, 10 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1460 },
	  PFD_MSS_S_MALFORMED,
	  1 },
	{ "malformed: MSS of length 3",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 3, 0x05, 1, 1, 1, 1, 1 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_MALFORMED,
	  1 },
	{ "malformed: length byte missing at the end",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460, 1, 1, 1, 3 },
	  8,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1460 },
	  PFD_MSS_S_MALFORMED,
	  1 },
	{ "malformed: doff beyond the packet",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  { 2, 4, M1460, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
	  16,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  PFD_MSS_S_MALFORMED,
	  1,
	  14 + 20 + 28 },
	{ "not a SYN: an ACK is left alone",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_ACK,
	  { 2, 4, M1460 },
	  4,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1460 },
	  NONE,
	  1 },
	{ "SYN with RST is left alone",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN | TH_RST,
	  { 2, 4, M1460 },
	  4,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 1460 },
	  NONE,
	  1 },
	{ "UDP is left alone",
	  "192.0.2.1",
	  "198.51.100.1",
	  -1,
	  { 0 },
	  0,
	  0,
	  { { NULL, 0, 0, 1400, 0 } },
	  { 0 },
	  NONE,
	  1 },
	{ "nothing configured: unchanged",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL } },
	  { 1460 },
	  PFD_MSS_S_NO_CEILING,
	  1 },
	/* precedence */
	{ "device beats default",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  1,
	  { { NULL, 0, 0, 1400, 0 }, { NULL, DEV, 0, 1300, 0 } },
	  { 1300 },
	  PFD_MSS_S_CLAMPED },
	{ "another device's ceiling does not apply",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { NULL, DEV, 0, 1300, 0 } },
	  { 1400 },
	  PFD_MSS_S_CLAMPED },
	{ "destination prefix beats device",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  1,
	  { { NULL, DEV, 0, 1300, 0 }, { "198.51.100.0/24", 0, PFD_PFX_DST, 1350, 0 } },
	  { 1350 },
	  PFD_MSS_S_CLAMPED },
	{ "source prefix matches the source only",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { "198.51.100.0/24", 0, PFD_PFX_SRC, 1200, 0 } },
	  { 1400 },
	  PFD_MSS_S_CLAMPED },
	{ "source prefix",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { "192.0.2.0/24", 0, PFD_PFX_SRC, 1200, 0 } },
	  { 1200 },
	  PFD_MSS_S_CLAMPED },
	{ "prefix+device beats prefix",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  1,
	  { { "198.51.100.0/24", 0, PFD_PFX_DST, 1000, 0 },
	    { "198.51.100.0/24", DEV, PFD_PFX_DST, 1250, 0 } },
	  { 1250 },
	  PFD_MSS_S_CLAMPED },
	{ "prefix+device of another device does not apply",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { "198.51.100.0/24", 0, PFD_PFX_DST, 1000, 0 },
	    { "198.51.100.0/24", DEV, PFD_PFX_DST, 1250, 0 } },
	  { 1000 },
	  PFD_MSS_S_CLAMPED },
	{ "longer prefix wins in a tier (dst /25 over src /24)",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { "192.0.2.0/24", 0, PFD_PFX_SRC, 1000, 0 },
	    { "198.51.100.0/25", 0, PFD_PFX_DST, 1300, 0 } },
	  { 1300 },
	  PFD_MSS_S_CLAMPED },
	{ "equal prefixes: the lower ceiling wins",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { "192.0.2.0/24", 0, PFD_PFX_SRC, 1100, 0 },
	    { "198.51.100.0/24", 0, PFD_PFX_DST, 1300, 0 } },
	  { 1100 },
	  PFD_MSS_S_CLAMPED },
	{ "exempt prefix beats the default",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { "198.51.100.0/24", 0, PFD_PFX_DST, 0, PFD_MSS_F_EXEMPT } },
	  { 1460 },
	  PFD_MSS_S_EXEMPT,
	  1 },
	{ "v6 destination prefix",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN,
	  OPTS_LINUX(M1440),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { "2001:db8:1::/48", 0, PFD_PFX_DST, 1280, 0 } },
	  { 1280 },
	  PFD_MSS_S_CLAMPED },
	{ "v4 prefix does not match v6",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN,
	  OPTS_LINUX(M1440),
	  0,
	  { { NULL, 0, 0, 1400, 0 }, { "0.0.0.0/0", 0, PFD_PFX_DST, 1000, 0 } },
	  { 1400 },
	  PFD_MSS_S_CLAMPED },
	/* derived from the MTU (the lab veth has MTU 1400) */
	{ "v4 mtu: 1400 - 40",
	  "192.0.2.1",
	  "198.51.100.1",
	  TH_SYN,
	  OPTS_LINUX(M1460),
	  1,
	  { { NULL, DEV, 0, 0, PFD_MSS_F_MTU } },
	  { 1360 },
	  PFD_MSS_S_CLAMPED },
	{ "v6 mtu: 1400 - 60",
	  "2001:db8::1",
	  "2001:db8:1::1",
	  TH_SYN,
	  OPTS_LINUX(M1440),
	  1,
	  { { NULL, 0, 0, 0, PFD_MSS_F_MTU } },
	  { 1340 },
	  PFD_MSS_S_CLAMPED },
};

/* Offsets of the MSS options in a TCP header (first two), -1 if absent. */
static void find_mss(const struct lab_pkt *p, long at[2])
{
	const unsigned char *th = p->b + p->l4off;
	size_t optlen = (size_t)(th[12] >> 4) * 4, i = 20;
	int n = 0;

	at[0] = at[1] = -1;
	if (p->l4proto != IPPROTO_TCP || p->l4off + optlen > p->len)
		return;
	while (i < optlen && n < 2) {
		if (th[i] == 0)
			break;
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= optlen || th[i + 1] < 2)
			break;
		if (th[i] == 2 && th[i + 1] == 4)
			at[n++] = (long)(p->l4off + i + 2);
		i += th[i + 1];
	}
}

static int resolve_if(int ifindex, int dev)
{
	return ifindex == DEV ? dev : ifindex;
}

static int install(struct pfd_tc_mss *skel, const struct rule *r, int dev)
{
	struct pfd_mss_conf v = { .mss = r->mss, .flags = r->flags };
	int err;

	if (!r->pfx) {
		uint32_t k = (uint32_t)resolve_if(r->ifindex, dev);

		return bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_mss_cfg), &k, &v, BPF_ANY);
	}
	char a[64];
	int plen;
	const char *slash = strchr(r->pfx, '/');

	snprintf(a, sizeof(a), "%.*s", (int)(slash - r->pfx), r->pfx);
	plen = atoi(slash + 1);
	struct pfd_egress_pfx_key k =
		lab_pfx(a, plen, (uint32_t)resolve_if(r->ifindex, dev), r->dir);
	v.plen = (uint8_t)plen;
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_mss_pfx), &k, &v, BPF_ANY);
	return err;
}

static void run_case(struct pfd_tc_mss *skel, const struct mss_case *c, int dev)
{
	int prog = bpf_program__fd(skel->progs.pfd_tc_mss);
	int stats = bpf_map__fd(skel->maps.pfd_mss_stats);
	uint64_t before[PFD_MSS_S__COUNT], after;
	struct lab_pkt in, out;
	char name[160];
	long at_in[2], at_out[2];
	int i, rc;

	lab_map_clear(bpf_map__fd(skel->maps.pfd_mss_cfg), sizeof(uint32_t));
	lab_map_clear(bpf_map__fd(skel->maps.pfd_mss_pfx), sizeof(struct pfd_egress_pfx_key));
	for (i = 0; i < MAX_RULES && (c->rules[i].mss || c->rules[i].flags); i++)
		if (install(skel, &c->rules[i], dev)) {
			snprintf(name, sizeof(name), "%s: install rule %d", c->name, i);
			T_TRUE(0, name);
			return;
		}

	lab_build(&in, c->src, c->dst, 40000, 443, c->flags, c->opts, c->optlen,
		  c->flags >= 0 && c->optlen == 4 && c->want_mss[0] == 536 ? 100 : 0);
	if (c->truncate)
		in.len = (size_t)c->truncate;
	for (i = 0; i < PFD_MSS_S__COUNT; i++)
		before[i] = lab_percpu_sum(stats, (uint32_t)i);

	rc = lab_run(prog, &in, c->on_dev ? dev : 0, &out, NULL);
	snprintf(name, sizeof(name), "%s: TC_ACT_OK", c->name);
	T_EQ(rc, TC_ACT_OK, name);
	snprintf(name, sizeof(name), "%s: length kept", c->name);
	T_EQ(out.len, in.len, name);

	if (c->unchanged) {
		snprintf(name, sizeof(name), "%s: packet unchanged", c->name);
		T_BYTES(out.b, out.len, in.b, in.len, name);
	} else {
		/* Only the MSS bytes and the TCP checksum may differ. */
		struct lab_pkt masked_in = in, masked_out = out;
		size_t co = lab_csum_off(&in);

		find_mss(&in, at_in);
		for (i = 0; i < 2; i++)
			if (at_in[i] >= 0)
				masked_in.b[at_in[i]] = masked_in.b[at_in[i] + 1] = 0,
				masked_out.b[at_in[i]] = masked_out.b[at_in[i] + 1] = 0;
		masked_in.b[co] = masked_in.b[co + 1] = masked_out.b[co] = masked_out.b[co + 1] = 0;
		snprintf(name, sizeof(name), "%s: other bytes unchanged", c->name);
		T_BYTES(masked_out.b, out.len, masked_in.b, in.len, name);
	}
	find_mss(&out, at_out);
	for (i = 0; i < 2; i++) {
		if (!c->want_mss[i])
			continue;
		snprintf(name, sizeof(name), "%s: MSS option %d", c->name, i + 1);
		T_EQ(at_out[i] >= 0 ? (out.b[at_out[i]] << 8 | out.b[at_out[i] + 1]) : -1,
		     c->want_mss[i], name);
	}
	if (!c->truncate && out.len == in.len) {
		snprintf(name, sizeof(name), "%s: checksum valid (full recomputation)", c->name);
		T_EQ(lab_l4_sum(&out), 0xffff, name);
	}

	for (i = 0; i < PFD_MSS_S__COUNT; i++) {
		after = lab_percpu_sum(stats, (uint32_t)i);
		snprintf(name, sizeof(name), "%s: counter %d", c->name, i);
		T_EQ(after - before[i], i == c->stat ? 1 : 0, name);
	}
}

/* A large, seeded sweep: random option soup never breaks a checksum, never
 * raises an MSS and never changes anything but MSS bytes and the checksum. */
static void fuzz(struct pfd_tc_mss *skel)
{
	int prog = bpf_program__fd(skel->progs.pfd_tc_mss);
	unsigned int seed = (unsigned int)time(NULL), n, bad = 0;
	struct pfd_mss_conf v = { .mss = 1000 };
	uint32_t k = 0;

	lab_map_clear(bpf_map__fd(skel->maps.pfd_mss_cfg), sizeof(uint32_t));
	lab_map_clear(bpf_map__fd(skel->maps.pfd_mss_pfx), sizeof(struct pfd_egress_pfx_key));
	bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_mss_cfg), &k, &v, BPF_ANY);
	srand(seed);
	for (n = 0; n < 3000 && !bad; n++) {
		unsigned char opts[40];
		size_t optlen = (size_t)(rand() % 11) * 4, i;
		struct lab_pkt in, out;
		long a[2];

		for (i = 0; i < optlen; i++) {
			int r = rand() % 8;
			opts[i] = r < 3 ? (unsigned char)r : r < 5 ? 4 : (unsigned char)rand();
		}
		lab_build(&in, n & 1 ? "2001:db8::1" : "192.0.2.1",
			  n & 1 ? "2001:db8:1::1" : "198.51.100.1", 1, 2, TH_SYN, opts, optlen, 0);
		if (lab_run(prog, &in, 0, &out, NULL) != TC_ACT_OK || out.len != in.len ||
		    lab_l4_sum(&out) != 0xffff)
			bad = 1;
		find_mss(&out, a);
		for (i = 0; i < 2 && !bad; i++)
			if (a[i] >= 0 && (out.b[a[i]] << 8 | out.b[a[i] + 1]) >
						 (in.b[a[i]] << 8 | in.b[a[i] + 1]))
				bad = 2;
		if (bad)
			printf("  fuzz seed %u, packet %u: %s\n", seed, n,
			       bad == 1 ? "bad checksum or verdict" : "MSS raised");
	}
	T_EQ(bad, 0, "random options: checksum always valid, MSS never raised");
}

int main(void)
{
	struct pfd_tc_mss *skel = NULL;
	const char *why = lab_enter();
	size_t i;
	int dev, err;

	if (why) {
		t_skip("test_mss", why);
		return t_done();
	}
	dev = lab_veth("pfdm0", "pfdm1", 1400);
	T_TRUE(dev > 0, "lab veth created");

	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = lab_pin_root());
	skel = pfd_tc_mss__open_opts(&oo);
	T_TRUE(skel != NULL, "open pfd_tc_mss");
	if (!skel)
		goto out;
	err = pfd_tc_mss__load(skel);
	T_OK(err, "load pfd_tc_mss (verifier)");
	if (err)
		goto out;
	/* the verifier accepted the program: the kernel gave it an fd */
	T_TRUE(bpf_program__fd(skel->progs.pfd_tc_mss) >= 0, "pfd_tc_mss has a program fd");
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/" PFD_MAP_MSS_CFG, lab_pin_root());
		T_TRUE(access(path, F_OK) == 0, "pfd_mss_cfg pinned by name under tc/globals");
	}

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(skel, &cases[i], dev);
	fuzz(skel);
out:
	pfd_tc_mss__destroy(skel);
	lab_leave();
	return t_done();
}
