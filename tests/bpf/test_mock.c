// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path core against scripted helpers (tests/bpf/fastpath_mock.bpf.c):
 * every bpf_fib_lookup() return code maps to its reason and passes the frame
 * untouched; a failed redirect passes the frame untouched (the redirect is
 * armed before the first byte changes) and leaves the flow's counters alone;
 * the lookup gets the post-DNAT destination, the pre-SNAT source, the
 * ingress ifindex, the IP length and the mark; and the FIB cache skips the
 * lookup exactly while the generation holds.
 */
#include "fastpath_mock.skel.h"
#include "lab.h"
#include "pkt.h"

static struct fastpath_mock *mock;

/* Runs frame through the mock program; returns the reason counted. */
static int run(struct lab *lab, const __u8 *in, size_t len, __u8 *out, __u32 *out_len,
	       __u32 *retval)
{
	struct pfd_counter b[PFD_REASON_SLOTS], a[PFD_REASON_SLOTS];
	struct xdp_md md = { .data_end = len, .ingress_ifindex = lab->ifindex[IN0] };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = *out_len, .ctx_in = &md, .ctx_size_in = sizeof(md),
		    .repeat = 1);
	int why = -1;

	lab_stats_snap(lab, lab_dev_slot[IN0], PFD_HOOK_XDP, b);
	if (bpf_prog_test_run_opts(bpf_program__fd(mock->progs.pfd_xdp_mock), &opts))
		return -1;
	lab_stats_snap(lab, lab_dev_slot[IN0], PFD_HOOK_XDP, a);
	*out_len = opts.data_size_out;
	*retval = opts.retval;
	for (int i = 0; i < PFD_REASON_SLOTS; i++)
		if (a[i].packets != b[i].packets)
			why = why < 0 ? i : -2;
	return why;
}

static void install(struct lab *lab, const struct pkt_spec *s, __u32 flags, const char *nat_src,
		    __u16 nat_sport, const char *nat_dst, __u16 nat_dport, __u32 mark,
		    struct pfd_flow_key *key)
{
	struct pfd_flow val = {};

	memset(key, 0, sizeof(*key));
	key->ifindex = lab->ifindex[IN0];
	key->family = AF_INET;
	key->l4proto = s->proto ? s->proto : IPPROTO_TCP;
	inet_pton(AF_INET, s->src, key->saddr);
	inet_pton(AF_INET, s->dst, key->daddr);
	key->sport = htons(s->sport);
	key->dport = htons(s->dport);
	val.flags = flags;
	val.oif = lab->ifindex[OUT0];
	val.fib_mark = mark;
	inet_pton(AF_INET, nat_src ? nat_src : s->src, val.nat_saddr);
	inet_pton(AF_INET, nat_dst ? nat_dst : s->dst, val.nat_daddr);
	val.nat_sport = htons(nat_sport ? nat_sport : s->sport);
	val.nat_dport = htons(nat_dport ? nat_dport : s->dport);
	bpf_map_update_elem(lab->flows_fd, key, &val, BPF_ANY);
}

int main(void)
{
	static const struct {
		long rc;
		int reason;
	} codes[] = {
		{ BPF_FIB_LKUP_RET_SUCCESS, PFD_R_FORWARDED },
		{ BPF_FIB_LKUP_RET_BLACKHOLE, PFD_R_FIB_DENIED },
		{ BPF_FIB_LKUP_RET_UNREACHABLE, PFD_R_FIB_DENIED },
		{ BPF_FIB_LKUP_RET_PROHIBIT, PFD_R_FIB_DENIED },
		{ BPF_FIB_LKUP_RET_NOT_FWDED, PFD_R_FIB_OTHER },
		{ BPF_FIB_LKUP_RET_FWD_DISABLED, PFD_R_FIB_OTHER },
		{ BPF_FIB_LKUP_RET_UNSUPP_LWT, PFD_R_FIB_OTHER },
		{ BPF_FIB_LKUP_RET_NO_NEIGH, PFD_R_FIB_NO_NEIGH },
		{ BPF_FIB_LKUP_RET_FRAG_NEEDED, PFD_R_FIB_FRAG },
		{ BPF_FIB_LKUP_RET_NO_SRC_ADDR, PFD_R_FIB_OTHER },
		{ 11, PFD_R_FIB_OTHER },      /* a code from a newer kernel */
		{ -EINVAL, PFD_R_FIB_OTHER }, /* e.g. BPF_FIB_LOOKUP_MARK before 6.10 */
	};
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);
	struct pkt_spec s = { .src = "192.0.2.10",
			      .dst = "203.0.113.9",
			      .sport = 40000,
			      .dport = 80,
			      .payload = 64 };
	struct pfd_flow_key key;
	struct pfd_flow flow;
	struct pfd_ctl ctl;
	struct lab lab;
	__u8 in[2048], out[4096];
	__u32 out_len, retval, calls;
	size_t len;
	char name[128];
	__u32 a;
	int err;

	if (geteuid() != 0) {
		t_skip("mock", "needs root (BPF_PROG_TEST_RUN, namespaces)");
		return t_done();
	}
	err = lab_init(&lab);
	T_OK(err, "lab set up");
	if (err)
		return t_done();
	mock = fastpath_mock__open_opts(&opts);
	T_TRUE(mock != NULL, "mock object opens");
	if (!mock)
		return t_done();
	/* The devmap pin exists: adopt it as lab_xdp_open() does. */
	bpf_map__set_pin_path(mock->maps.pfd_tx_ports, NULL);
	bpf_map__reuse_fd(mock->maps.pfd_tx_ports, lab.tx_fd);
	err = fastpath_mock__load(mock);
	T_OK(err, "mock object loads over the pins");
	if (err)
		return t_done();

	lab_devs_reset(&lab, 0);
	lab_ctl_live(&ctl);
	lab_ctl_set(&lab, &ctl);
	len = pkt_build(&s, in);
	install(&lab, &s, PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT | PFD_FLOW_F_FIB_MARK, "198.51.100.1",
		50000, "198.51.100.2", 8080, 0x42, &key);
	mock->bss->mock_fib_oif = lab.ifindex[OUT0];

	/* Every return code: its reason, and the frame untouched unless forwarded. */
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(name, sizeof(name), "fib rc %ld -> %s", codes[i].rc,
			 lab_reason_name(codes[i].reason));
		mock->bss->mock_fib_rc = codes[i].rc;
		out_len = sizeof(out);
		T_EQ(run(&lab, in, len, out, &out_len, &retval), codes[i].reason, name);
		T_EQ(retval, codes[i].reason == PFD_R_FORWARDED ? XDP_REDIRECT : XDP_PASS, name);
		if (codes[i].reason != PFD_R_FORWARDED)
			T_BYTES(out, out_len, in, len, name);
	}

	/* What the lookup was asked. */
	{
		struct bpf_fib_lookup *f = &mock->bss->mock_fib_last;
		__u32 mark;

		inet_pton(AF_INET, "192.0.2.10", &a);
		T_EQ(f->ipv4_src, a, "lookup: pre-snat source");
		inet_pton(AF_INET, "198.51.100.2", &a);
		T_EQ(f->ipv4_dst, a, "lookup: post-dnat destination");
		T_EQ(ntohs(f->sport), 40000, "lookup: pre-snat source port");
		T_EQ(ntohs(f->dport), 8080, "lookup: post-dnat destination port");
		T_EQ(f->ifindex, lab.ifindex[IN0], "lookup: ingress ifindex");
		T_EQ(f->tot_len, len - 14, "lookup: IP total length");
		T_EQ(f->l4_protocol, IPPROTO_TCP, "lookup: l4 protocol");
		memcpy(&mark, f->smac, 4);
		T_EQ(mark, 0x42, "lookup: mark overlays smac[0..3]");
		T_EQ(mock->bss->mock_fib_last_flags, 1U << 5, "lookup: BPF_FIB_LOOKUP_MARK");
	}

	/* A failed redirect passes the frame untouched and counts nothing
	 * on the flow. */
	mock->bss->mock_fib_rc = BPF_FIB_LKUP_RET_SUCCESS;
	mock->bss->mock_redirect_fail = 1;
	bpf_map_lookup_elem(lab.flows_fd, &key, &flow);
	out_len = sizeof(out);
	T_EQ(run(&lab, in, len, out, &out_len, &retval), PFD_R_REDIRECT, "redirect failure");
	T_EQ(retval, XDP_PASS, "redirect failure: XDP_PASS");
	T_BYTES(out, out_len, in, len, "redirect failure: frame untouched");
	{
		struct pfd_flow after;

		bpf_map_lookup_elem(lab.flows_fd, &key, &after);
		T_EQ(after.packets, flow.packets, "redirect failure: flow not counted");
	}
	mock->bss->mock_redirect_fail = 0;

	/* The cache: one lookup and one MTU probe to fill, none on a hit. */
	mock->bss->mock_fib_mtu = 1400;
	ctl.fib_gen = 3;
	lab_ctl_set(&lab, &ctl);
	calls = mock->bss->mock_fib_calls;
	out_len = sizeof(out);
	T_EQ(run(&lab, in, len, out, &out_len, &retval), PFD_R_FORWARDED, "cache fill");
	T_EQ(mock->bss->mock_fib_calls - calls, 2, "cache fill: lookup and mtu probe");
	bpf_map_lookup_elem(lab.flows_fd, &key, &flow);
	T_EQ(flow.cache_gen, 3, "cache fill: generation");
	T_EQ(flow.cache_mtu, 1400, "cache fill: mtu from the probe");
	calls = mock->bss->mock_fib_calls;
	for (int i = 0; i < 5; i++) {
		out_len = sizeof(out);
		T_EQ(run(&lab, in, len, out, &out_len, &retval), PFD_R_FORWARDED, "cache hit");
	}
	T_EQ(mock->bss->mock_fib_calls - calls, 0, "cache hit: no lookup");
	mock->bss->mock_fib_rc = BPF_FIB_LKUP_RET_BLACKHOLE; /* a route changed ... */
	out_len = sizeof(out);
	T_EQ(run(&lab, in, len, out, &out_len, &retval), PFD_R_FORWARDED,
	     "cache hit: a change pfd has not signalled is not seen");
	ctl.fib_gen = 4; /* ... pfd saw it */
	lab_ctl_set(&lab, &ctl);
	out_len = sizeof(out);
	T_EQ(run(&lab, in, len, out, &out_len, &retval), PFD_R_FIB_DENIED,
	     "cache: a new generation looks up again");
	T_EQ(mock->bss->mock_fib_calls - calls, 1, "cache: one lookup after the bump");
	T_BYTES(out, out_len, in, len, "cache: the denied frame untouched");

	fastpath_mock__destroy(mock);
	lab_fini(&lab);
	return t_done();
}
