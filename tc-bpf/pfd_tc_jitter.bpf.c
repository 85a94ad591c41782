// SPDX-License-Identifier: GPL-2.0-only
/*
 * Egress jitter at TC egress: gives each selected packet leaving a device an
 * earliest departure time (skb->tstamp, EDT) of now plus a random delay
 * between a configured min and max, drawn uniformly or from a distribution
 * table. The fq qdisc on the device holds the packet until then; without fq
 * the timestamp is ignored and nothing is delayed (pfd refuses to attach
 * jitter where it cannot set up fq). Per flow the departure times never go
 * backwards, so fq never reorders a flow, and a packet is never held more
 * than max after it reached this hook:
 *	t = max(now + delay, last departure of the flow)
 * and last <= (an earlier now) + max <= now + max. (Delaying from the last
 * departure instead, max(now, last) + delay, would let a burst accumulate
 * delay far past max.) The per-flow memory is an LRU hash keyed by 5-tuple.
 * Loaded by pfd (jitter* keys in pfd.conf), or by hand with tc, its settings
 * in maps pinned under /sys/fs/bpf/tc/globals. See man/pfd-tc.8.
 */
#include "egress.bpf.h"

char _license[] SEC("license") = "GPL";

/* Delay range per egress device; key 0 is the default for every device. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct pfd_jit_conf);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_cfg SEC(".maps");

/* Selected prefixes (PFD_JIT_F_SEL_PFX): either address inside. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_egress_pfx_key);
	__type(value, __u8);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_pfx SEC(".maps");

/* Selected ports (PFD_JIT_F_SEL_PORT): either port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pfd_jit_port_key);
	__type(value, __u8);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pfd_jit_dist);
	__uint(max_entries, PFD_JIT_DISTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_dist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct pfd_jit_flow_key);
	__type(value, __u64); /* departure time of the flow's last packet */
	__uint(max_entries, PFD_JIT_MAX_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PFD_JIT_STAT_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_jit_stats SEC(".maps");

/* Tests replace the clock and the random source (tests/bpf/test_jitter.c
 * runs the real ones; the macros are the seam for a mock). */
#ifndef pfd_jit_now
#define pfd_jit_now() bpf_ktime_get_ns() /* CLOCK_MONOTONIC, what fq compares */
#endif
#ifndef pfd_jit_random
#define pfd_jit_random() bpf_get_prandom_u32()
#endif
/* Sees every departure handed out (tests/bpf/jitter_trace.bpf.c records them
 * per CPU). */
#ifndef pfd_jit_committed
#define pfd_jit_committed(t) ((void)(t))
#endif

/* Longest delay span the arithmetic below handles: 2^32 ns, 4.29 s (fq's
 * default horizon drops packets stamped more than 10 s ahead). */
#define JIT_SPAN_MAX 0xffffffffULL

static __always_inline __u64 jit_delay(const struct pfd_jit_conf *c)
{
	__u64 span = c->max_ns - c->min_ns;
	__u32 r = pfd_jit_random();

	if (c->max_ns <= c->min_ns)
		return c->min_ns;
	if (span > JIT_SPAN_MAX)
		span = JIT_SPAN_MAX;
	if (c->dist != PFD_JIT_UNIFORM) {
		__u32 d = c->dist;
		struct pfd_jit_dist *t = bpf_map_lookup_elem(&pfd_jit_dist, &d);

		/* A missing table degrades to uniform, never to no delay. */
		if (t)
			return c->min_ns + span * t->q[r & (PFD_JIT_DIST_POINTS - 1)] / 65535;
	}
	/* Uniform on [0, span]: the high half of a 32x33-bit product, which
	 * cannot overflow 64 bits for span < 2^32. */
	return c->min_ns + (((__u64)r * (span + 1)) >> 32);
}

static __always_inline bool jit_selected_pfx(__u32 ifindex, const struct pfd_eg_pkt *pkt)
{
	return pfd_eg_pfx_lookup(&pfd_jit_pfx, ifindex, PFD_PFX_ANY, pkt, pkt->saddr) ||
	       pfd_eg_pfx_lookup(&pfd_jit_pfx, ifindex, PFD_PFX_ANY, pkt, pkt->daddr) ||
	       pfd_eg_pfx_lookup(&pfd_jit_pfx, 0, PFD_PFX_ANY, pkt, pkt->saddr) ||
	       pfd_eg_pfx_lookup(&pfd_jit_pfx, 0, PFD_PFX_ANY, pkt, pkt->daddr);
}

static __always_inline bool jit_port_in(__u32 ifindex, __u8 l4proto, __be16 port)
{
	struct pfd_jit_port_key k = { .ifindex = ifindex, .l4proto = l4proto, .port = port };

	if (bpf_map_lookup_elem(&pfd_jit_port, &k))
		return true;
	k.ifindex = 0;
	return bpf_map_lookup_elem(&pfd_jit_port, &k) != NULL;
}

/* max(t, min(last, horizon)): a packet's departure given its flow's last. */
static __always_inline __u64 jit_after(__u64 last, __u64 t, __u64 horizon)
{
	__u64 floor = last < horizon ? last : horizon;

	return floor > t ? floor : t;
}

/* Attempts at moving a flow's last departure forward before giving up; each
 * failed one means another CPU moved it in between. */
#define JIT_COMMIT_TRIES 8

/*
 * Moves the flow's last departure to max(t, last) and returns it: the
 * departure of this packet. A compare-and-swap, not a read and a write: two
 * CPUs sending one flow at once (threads on one socket, a retransmit from a
 * timer) would otherwise both read the same last, and the later write could
 * put it back below a departure already handed out; the next packet would
 * then leave before that one.
 *
 * The bound now + max wins over order only after max was lowered. Its now is
 * read after last: another CPU may have stored a departure from a clock read
 * later than this packet's now, and a bound from the earlier read would cut
 * that departure back. Out of attempts (sustained contention from many CPUs),
 * the packet takes the latest departure seen without storing it: later than
 * every departure stored so far.
 */
static __always_inline __u64 jit_commit(__u64 *last, __u64 t, __u64 max_ns, enum pfd_jit_stat *why)
{
	__u64 seen = *(volatile __u64 *)last, want;
	int i;

	for (i = 0; i < JIT_COMMIT_TRIES; i++) {
		__u64 prev;

		want = jit_after(seen, t, pfd_jit_now() + max_ns);
		prev = __sync_val_compare_and_swap(last, seen, want);
		if (prev == seen)
			goto done;
		seen = prev;
	}
	want = jit_after(seen, t, pfd_jit_now() + max_ns);
done:
	if (want > t)
		*why = PFD_JIT_S_HELD;
	return want;
}

static __always_inline enum pfd_jit_stat jit_stamp(struct __sk_buff *skb, __u64 *added)
{
	struct pfd_jit_flow_key key = {};
	struct pfd_eg_pkt pkt = {};
	const struct pfd_jit_conf *c;
	__u32 ifindex = skb->ifindex, zero = 0;
	enum pfd_jit_stat why = PFD_JIT_S_DELAYED;
	__u64 now, t, *last;

	c = bpf_map_lookup_elem(&pfd_jit_cfg, &ifindex);
	if (!c)
		c = bpf_map_lookup_elem(&pfd_jit_cfg, &zero);
	if (!c)
		return PFD_JIT_S_NO_CONFIG;
	if (pfd_eg_parse(skb, &pkt))
		return PFD_JIT_S_NOT_IP;

	key.ifindex = ifindex;
	key.family = pkt.family;
	key.l4proto = pkt.l4proto;
	__builtin_memcpy(key.saddr, pkt.saddr, 16);
	__builtin_memcpy(key.daddr, pkt.daddr, 16);
	if (pkt.l4proto == IPPROTO_TCP || pkt.l4proto == IPPROTO_UDP) {
		__be16 ports[2];

		/* sport and dport lead both headers */
		if (!bpf_skb_load_bytes(skb, pkt.l4off, ports, sizeof(ports))) {
			key.sport = ports[0];
			key.dport = ports[1];
		}
	}

	if ((c->flags & PFD_JIT_F_SEL_PFX) && !jit_selected_pfx(ifindex, &pkt))
		return PFD_JIT_S_UNSELECTED;
	if (c->flags & PFD_JIT_F_SEL_PORT) {
		if (pkt.l4proto != IPPROTO_TCP && pkt.l4proto != IPPROTO_UDP)
			return PFD_JIT_S_UNSELECTED;
		if (!jit_port_in(ifindex, pkt.l4proto, key.sport) &&
		    !jit_port_in(ifindex, pkt.l4proto, key.dport))
			return PFD_JIT_S_UNSELECTED;
	}

	now = pfd_jit_now();
	t = now + jit_delay(c);
	last = bpf_map_lookup_elem(&pfd_jit_flows, &key);
	/* The flow's first packet. NOEXIST: of two CPUs that both missed, the
	 * second must not overwrite the first's departure; it goes on below. */
	if (!last && !bpf_map_update_elem(&pfd_jit_flows, &key, &t, BPF_NOEXIST))
		goto stamp;
	if (!last)
		last = bpf_map_lookup_elem(&pfd_jit_flows, &key);
	if (last)
		t = jit_commit(last, t, c->max_ns, &why);
stamp:
	pfd_jit_committed(t);
	/* A mono delivery time is what fq schedules by (5.18+). */
	if (bpf_skb_set_tstamp(skb, t, BPF_SKB_TSTAMP_DELIVERY_MONO) < 0)
		return PFD_JIT_S_ERROR;
	*added = t - now;
	return why;
}

SEC("tc")
int pfd_tc_jitter(struct __sk_buff *skb)
{
	__u64 added = 0;
	enum pfd_jit_stat why = jit_stamp(skb, &added);

	pfd_eg_count(&pfd_jit_stats, why, 1);
	if (why == PFD_JIT_S_HELD) /* held packets are delayed too */
		pfd_eg_count(&pfd_jit_stats, PFD_JIT_S_DELAYED, 1);
	if (added)
		pfd_eg_count(&pfd_jit_stats, PFD_JIT_S_DELAY_NS, added);
	return TC_ACT_OK; /* never drops: a packet it cannot stamp leaves now */
}
