// SPDX-License-Identifier: GPL-2.0-only
/*
 * Property test of the fast path: seeded random frames of installed flows
 * (random flags, TTL 0 to 255, lengths, IPv4 options and fragments, IPv6
 * extension headers, VLAN tags) and mutations of them (bit flips, so bad
 * checksums; byte overwrites; truncation; trailing bytes; IP and UDP length
 * fields that disagree with the frame) and wholly random frames, run
 * through the XDP and TC programs. Whatever comes in, the answer is PASS with
 * the frame byte-identical, or REDIRECT with exactly the rewrite an
 * independent model of the rules (below, on the raw bytes) predicts: every
 * byte outside the checksums, and each checksum valid iff it was valid on
 * input. Never a drop, an abort, or a forward the model does not expect.
 * PFD_TEST_SEED=N replays a run; PFD_TEST_ITERS=N sets its length.
 */
#include "lab.h"
#include "pkt.h"

#pragma GCC diagnostic ignored "-Woverride-init"

struct pflow {
	struct pkt_spec base;
	__u32 flags;
	const char *nat_src, *nat_dst;
	__u16 nat_sport, nat_dport;
	int oif;
	__u8 key[44]; /* struct pfd_flow_key, as installed */
	__u8 nsrc[16], ndst[16];
};

static struct pflow flows[] = {
	{ .base = { .src = "192.0.2.10", .dst = "198.51.100.2", .sport = 40000, .dport = 80 },
	  .oif = OUT0 },
	{ .base = { .proto = IPPROTO_UDP,
		    .src = "192.0.2.10",
		    .dst = "203.0.113.9",
		    .sport = 40001,
		    .dport = 53 },
	  .flags = PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT,
	  .nat_src = "198.51.100.1",
	  .nat_dst = "198.51.100.2",
	  .nat_sport = 1024,
	  .nat_dport = 5353,
	  .oif = OUT0 },
	{ .base = { .v6 = 1,
		    .src = "2001:db8:1::10",
		    .dst = "2001:db8:3::2",
		    .sport = 40000,
		    .dport = 443 },
	  .flags = PFD_FLOW_F_SNAT,
	  .nat_src = "2001:db8:3::1",
	  .nat_sport = 50000,
	  .oif = OUT1 },
	{ .base = { .v6 = 1,
		    .proto = IPPROTO_UDP,
		    .src = "2001:db8:1::10",
		    .dst = "2001:db8:2::2",
		    .sport = 40001,
		    .dport = 53 },
	  .flags = PFD_FLOW_F_DNAT,
	  .nat_dst = "2001:db8:2::2",
	  .nat_dport = 5353,
	  .oif = OUT0 },
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

static __u64 rng_state;

static __u64 rnd(void) /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static __u32 rndn(__u32 n)
{
	return n ? (__u32)(rnd() % n) : 0;
}

static int install(struct lab *lab, struct pflow *p)
{
	struct pfd_flow_key key = {};
	struct pfd_flow val = {};
	int v6 = p->base.v6, af = v6 ? AF_INET6 : AF_INET;

	key.ifindex = lab->ifindex[IN0];
	key.family = af;
	key.l4proto = p->base.proto ? p->base.proto : IPPROTO_TCP;
	inet_pton(af, p->base.src, key.saddr);
	inet_pton(af, p->base.dst, key.daddr);
	key.sport = htons(p->base.sport);
	key.dport = htons(p->base.dport);
	val.flags = p->flags;
	val.oif = lab->ifindex[p->oif];
	inet_pton(af, p->nat_src ? p->nat_src : p->base.src, val.nat_saddr);
	inet_pton(af, p->nat_dst ? p->nat_dst : p->base.dst, val.nat_daddr);
	val.nat_sport = htons(p->nat_sport ? p->nat_sport : p->base.sport);
	val.nat_dport = htons(p->nat_dport ? p->nat_dport : p->base.dport);
	memcpy(p->key, &key, sizeof(key));
	memcpy(p->nsrc, val.nat_saddr, 16);
	memcpy(p->ndst, val.nat_daddr, 16);
	return bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY);
}

/* The model's view of a frame it would forward. */
struct fwd {
	const struct pflow *flow;
	size_t l3, l4;
	__u32 l4len;
	__u8 proto;
	int v6;
};

/* The per-packet rules of docs/design.md on raw bytes, written apart from the BPF code.
 * Returns 1 and fills f when the frame must be forwarded. */
static int model(const __u8 *p, size_t len, __u32 ifindex, int hook, struct fwd *f)
{
	struct pfd_flow_key key = {};
	size_t l3 = 14, l4;
	__u32 l4len;
	__u8 proto;
	int v6;

	if (len < 14 || (p[0] & 1))
		return 0;
	/* TC knows the skb's pkt_type: only frames to the device's MAC. */
	if (hook == PFD_HOOK_TC && memcmp(p, lab_dev_mac[IN0], 6))
		return 0;
	if (get16(p + 12) == 0x0800) {
		if (len < l3 + 20 || p[l3] >> 4 != 4 || (p[l3] & 15) != 5)
			return 0;
		if (get16(p + l3 + 6) & 0x3fff)
			return 0;
		/* a header whose checksum is wrong: ip_rcv() drops it */
		if (pkt_fold(pkt_sum(p + l3, 20, 0)) != 0xffff)
			return 0;
		proto = p[l3 + 9];
		if (get16(p + l3 + 2) < 20 || get16(p + l3 + 2) > len - 14)
			return 0;
		l4len = get16(p + l3 + 2) - 20;
		l4 = l3 + 20;
		v6 = 0;
		memcpy(key.saddr, p + l3 + 12, 4);
		memcpy(key.daddr, p + l3 + 16, 4);
		if (p[l3 + 8] <= 1 && (proto == 6 || proto == 17))
			goto ttl;
	} else if (get16(p + 12) == 0x86dd) {
		if (len < l3 + 40 || p[l3] >> 4 != 6)
			return 0;
		proto = p[l3 + 6];
		l4len = get16(p + l3 + 4);
		if (l4len + 40 > len - 14)
			return 0;
		l4 = l3 + 40;
		v6 = 1;
		memcpy(key.saddr, p + l3 + 8, 16);
		memcpy(key.daddr, p + l3 + 24, 16);
	} else {
		return 0;
	}
	if (proto != 6 && proto != 17)
		return 0;
	if (proto == 6) {
		if (l4 + 20 > len || (p[l4 + 12] >> 4) < 5 || (p[l4 + 12] >> 4) * 4u > l4len)
			return 0;
	} else {
		if (l4 + 8 > len || get16(p + l4 + 4) < 8 || get16(p + l4 + 4) > l4len)
			return 0;
		if (v6 && !get16(p + l4 + 6))
			return 0;
	}
	key.ifindex = ifindex;
	key.family = v6 ? AF_INET6 : AF_INET;
	key.l4proto = proto;
	key.sport = htons(get16(p + l4));
	key.dport = htons(get16(p + l4 + 2));
	for (size_t i = 0; i < NFLOWS; i++) {
		if (memcmp(flows[i].key, &key, sizeof(key)))
			continue;
		if (proto == 6 && (p[l4 + 13] & 7))
			return 0; /* FIN, SYN, RST */
		if ((v6 ? p[l3 + 7] : p[l3 + 8]) <= 1)
			return 0;
		if (l4len + (v6 ? 40 : 20) > (flows[i].oif == OUT1 ? 1280u : 1500u))
			return 0; /* the egress MTU (lab.h) */
		*f = (struct fwd){ &flows[i], l3, l4, l4len, proto, v6 };
		return 1;
	}
	return 0;
ttl:
	return 0;
}

static int l4_valid(const __u8 *p, const struct fwd *f)
{
	int alen = f->v6 ? 16 : 4;
	const __u8 *src = p + f->l3 + (f->v6 ? 8 : 12);
	__u32 s = pkt_pseudo(f->v6, src, src + alen, f->proto, f->l4len);

	return pkt_fold(pkt_sum(p + f->l4, f->l4len, s)) == 0xffff;
}

static int ip_valid(const __u8 *p)
{
	return pkt_fold(pkt_sum(p + 14, 20, 0)) == 0xffff;
}

/* Checks a redirected frame against the model's rewrite of the input. */
static int check_forward(const __u8 *in, size_t len, const __u8 *out, size_t out_len,
			 const struct fwd *f, char *why, size_t whylen)
{
	const struct pflow *fl = f->flow;
	size_t co = f->l4 + (f->proto == 6 ? 16 : 6);
	__u8 want[4096];
	int alen = f->v6 ? 16 : 4;
	size_t sa = f->l3 + (f->v6 ? 8 : 12);

	if (out_len != len) {
		snprintf(why, whylen, "length %zu, expected %zu", out_len, len);
		return 0;
	}
	memcpy(want, in, len);
	memcpy(want, lab_nb_mac[fl->oif], 6);
	memcpy(want + 6, lab_dev_mac[fl->oif], 6);
	if (fl->flags & PFD_FLOW_F_SNAT) {
		memcpy(want + sa, fl->nsrc, alen);
		put16(want + f->l4, fl->nat_sport);
	}
	if (fl->flags & PFD_FLOW_F_DNAT) {
		memcpy(want + sa + alen, fl->ndst, alen);
		put16(want + f->l4 + 2, fl->nat_dport);
	}
	want[f->l3 + (f->v6 ? 7 : 8)]--;
	/* Checksums: compared for validity below, not bytes. */
	if (!f->v6)
		memcpy(want + f->l3 + 10, out + f->l3 + 10, 2);
	memcpy(want + co, out + co, 2);
	for (size_t i = 0; i < len; i++)
		if (want[i] != out[i]) {
			snprintf(why, whylen, "byte %zu is %02x, expected %02x", i, out[i],
				 want[i]);
			return 0;
		}
	if (!f->v6 && (!ip_valid(in) || !ip_valid(out))) {
		snprintf(why, whylen, "IPv4 header checksum not valid");
		return 0;
	}
	if (f->proto == 17 && !f->v6 && !get16(in + co)) {
		if (get16(out + co)) {
			snprintf(why, whylen, "UDP checksum 0 not kept");
			return 0;
		}
		return 1;
	}
	if (f->proto == 17 && !get16(out + co)) {
		snprintf(why, whylen, "UDP checksum computed as 0 not sent as 0xffff");
		return 0;
	}
	if (l4_valid(in, f) != l4_valid(out, f)) {
		snprintf(why, whylen, "L4 checksum validity changed (%d -> %d)", l4_valid(in, f),
			 l4_valid(out, f));
		return 0;
	}
	return 1;
}

static size_t gen_frame(__u8 *buf)
{
	static const __u8 tcp_flags[] = { TH_ACK, TH_ACK | TH_PSH, TH_SYN,	   TH_FIN | TH_ACK,
					  TH_RST, TH_ACK,	   TH_ACK | TH_PSH };
	struct pkt_spec s;
	size_t len;

	if (rndn(10) == 0) { /* wholly random */
		len = 14 + rndn(200);
		for (size_t i = 0; i < len; i++)
			buf[i] = rnd();
		if (rndn(2))
			put16(buf + 12, rndn(2) ? 0x0800 : 0x86dd);
		return len;
	}
	s = flows[rndn(NFLOWS)].base;
	s.tcp_flags = tcp_flags[rndn(sizeof(tcp_flags))];
	s.ttl = rndn(4) ? 2 + rndn(254) : rndn(3); /* 0, 1, 2: expiry */
	s.tos = rndn(4) ? 0 : rnd();
	s.payload = rndn(3) ? rndn(300) : rndn(1200);
	s.udp_csum0 = !s.v6 && rndn(8) == 0;
	s.opts = !s.v6 && rndn(16) == 0;
	s.frag = !s.v6 && rndn(16) == 0 ? rnd() & 0x3fff : 0;
	s.ext = s.v6 && rndn(16) == 0;
	s.vlan = rndn(32) == 0;
	s.pad_to = rndn(8) == 0 ? 60 + rndn(64) : 0;
	s.dmac = lab_dev_mac[IN0];
	len = pkt_build(&s, buf);

	if (rndn(2)) { /* mutate */
		int n = 1 + rndn(4);

		for (int i = 0; i < n; i++) {
			switch (rndn(5)) {
			case 0:
				buf[rndn(len)] ^= 1 << rndn(8);
				break;
			case 4: {
				/* a length field that disagrees with the frame:
				 * IPv4 total length, IPv6 payload length or UDP
				 * length, near the truth or anywhere */
				size_t l3 = 14 + (s.vlan ? 4 : 0), at;
				__u16 v;

				if (len < l3 + 40)
					break;
				at = s.v6 ? l3 + 4 : rndn(2) ? l3 + 2 : l3 + 20 + 4;
				v = get16(buf + at);
				put16(buf + at, rndn(2) ? (__u16)(v + rndn(9) - 4) : (__u16)rnd());
				break;
			}
			case 1:
				buf[rndn(len)] = rnd();
				break;
			case 2:
				len = 14 + rndn(len - 13);
				break;
			default: {
				size_t extra = rndn(64);

				for (size_t j = 0; j < extra && len < 1500; j++)
					buf[len++] = rnd();
			}
			}
		}
	}
	return len;
}

int main(void)
{
	__u64 seed = getenv("PFD_TEST_SEED") ? strtoull(getenv("PFD_TEST_SEED"), NULL, 0) :
					       (__u64)time(NULL) ^ ((__u64)getpid() << 32);
	long iters = getenv("PFD_TEST_ITERS") ? atol(getenv("PFD_TEST_ITERS")) : 40000;
	long fwd[2] = {}, pass[2] = {}, refused = 0, bad = 0;
	struct pfd_ctl ctl;
	struct lab lab;
	int err;

	if (geteuid() != 0) {
		t_skip("property", "needs root (BPF_PROG_TEST_RUN, namespaces)");
		return t_done();
	}
	printf("property: seed %llu (PFD_TEST_SEED=%llu replays), %ld frames per hook\n",
	       (unsigned long long)seed, (unsigned long long)seed, iters);
	rng_state = seed ? seed : 1;

	err = lab_init(&lab);
	T_OK(err, "lab set up");
	if (err)
		return t_done();
	T_OK(lab_devs_reset(&lab, 0), "devices registered");
	lab_ctl_live(&ctl);
	ctl.fib_gen = 1; /* half the runs below go through the FIB cache */
	T_OK(lab_ctl_set(&lab, &ctl), "control block");
	for (size_t i = 0; i < NFLOWS; i++)
		T_OK(install(&lab, &flows[i]), "flow installed");

	for (long i = 0; i < iters; i++) {
		__u8 in[2048], out[4096];
		size_t len = gen_frame(in);
		struct fwd f;
		int expect;

		if (i == iters / 2) { /* second half: cache cold every time */
			ctl.fib_gen = 0;
			lab_ctl_set(&lab, &ctl);
		}
		for (int hook = 0; hook < 2; hook++) {
			__u32 out_len = sizeof(out), retval;
			char why[128] = "";
			int ok;

			expect = model(in, len, lab.ifindex[IN0], hook, &f);
			err = lab_run(&lab, hook, IN0, in, len, out, &out_len, &retval);
			if (err && hook == PFD_HOOK_TC) {
				refused++; /* test_run wants a whole IP header in an skb */
				continue;
			}
			if (hook == PFD_HOOK_XDP)
				ok = !err && (retval == XDP_PASS || retval == XDP_REDIRECT) &&
				     ((retval == XDP_REDIRECT) == expect);
			else
				ok = !err && (retval == 0 || retval == 7) &&
				     ((retval == 7) == expect);
			if (ok && !expect)
				ok = out_len == len && !memcmp(in, out, len);
			else if (ok)
				ok = check_forward(in, len, out, out_len, &f, why, sizeof(why));
			if (ok) {
				(expect ? fwd : pass)[hook]++;
				continue;
			}
			if (bad++ < 10) {
				printf("     frame %ld [%s]: err %d retval %u, model %s %s\n     ",
				       i, hook ? "tc" : "xdp", err, retval,
				       expect ? "forward" : "pass", why);
				for (size_t j = 0; j < len && j < 96; j++)
					printf("%02x", in[j]);
				printf("\n");
			}
		}
	}
	printf("property: xdp %ld forwarded, %ld passed; tc %ld forwarded, %ld passed, %ld refused "
	       "by test_run\n",
	       fwd[0], pass[0], fwd[1], pass[1], refused);
	T_EQ(bad, 0, "random and mutated frames: pass untouched or the right redirect");
	T_TRUE(fwd[0] > iters / 20 && pass[0] > iters / 20, "the mix exercises both outcomes");
	lab_fini(&lab);
	return t_done();
}
