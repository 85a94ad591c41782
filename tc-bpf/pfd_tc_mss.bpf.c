// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP MSS clamp at TC egress: lowers the MSS option of SYN and SYN-ACK
 * segments leaving a device to a configured ceiling, IPv4 and IPv6, with the
 * TCP checksum updated incrementally. It never raises an MSS, never touches
 * another option or another packet, and leaves a segment whose options do not
 * parse exactly as it found it. Every outcome for a SYN is counted in
 * pfd_mss_stats. Loaded by pfd (mss* keys in pfd.conf), or by hand:
 *   tc qdisc add dev wan0 clsact
 *   tc filter add dev wan0 egress bpf da obj pfd_tc_mss.bpf.o sec tc
 * Its settings are maps pinned by name under /sys/fs/bpf/tc/globals (tc
 * cannot set .rodata); with none, it changes nothing. See man/pfd-tc.8.
 * SYNs always take the kernel path, so pfd's XDP fast path never hides one
 * from this program.
 */
#include "egress.bpf.h"

char _license[] SEC("license") = "GPL";

/* Ceiling per egress device; key 0 is the default for every device. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct pfd_mss_conf);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_mss_cfg SEC(".maps");

/* Ceiling per source or destination prefix, for one device or any. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pfd_egress_pfx_key);
	__type(value, struct pfd_mss_conf);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_mss_pfx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PFD_MSS_STAT_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pfd_mss_stats SEC(".maps");

#define TCP_OPT_EOL	0
#define TCP_OPT_NOP	1
#define TCP_OPT_MSS	2
#define TCP_OPT_MSS_LEN 4
#define TCP_OPTS_MAX	40 /* doff 15 */

/* The options of one segment, as read from the packet; zero past their end.
 * 64 bytes: an index masked with 63 stays inside. */
struct mss_opts {
	__u8 b[64];
};

/* A ceiling that no clamp reaches: what "exempt" and "none" resolve to. */
#define MSS_NONE 0x10000

/* The ceiling an entry stands for on this packet (MSS_NONE: do not clamp). */
static __always_inline __u32 mss_resolve(struct __sk_buff *skb, const struct pfd_mss_conf *c,
					 __u8 family)
{
	__u32 mtu = 0, over;

	if (c->flags & PFD_MSS_F_EXEMPT)
		return MSS_NONE;
	if (!(c->flags & PFD_MSS_F_MTU))
		return c->mss ? c->mss : MSS_NONE;
	/* ifindex 0: skb->dev, the egress device. The helper fills mtu_len
	 * with the device MTU whatever its verdict on the packet length. */
	if (bpf_check_mtu(skb, 0, &mtu, 0, 0) < 0 || !mtu)
		return MSS_NONE;
	over = family == PFD_AF_INET ? PFD_MSS_MTU_OVERHEAD4 : PFD_MSS_MTU_OVERHEAD6;
	if (mtu <= over + PFD_MSS_MIN)
		return PFD_MSS_MIN;
	return mtu - over < PFD_MSS_MAX ? mtu - over : PFD_MSS_MAX;
}

struct mss_pick {
	__u32 rank; /* tier * 256 + prefix length; 0 = nothing yet */
	__u32 ceiling;
};

/* Keeps c if it is more specific than what p holds; at equal specificity
 * the lower ceiling wins (the safe side for a path MTU). */
static __always_inline void mss_consider(struct __sk_buff *skb, struct mss_pick *p,
					 const struct pfd_mss_conf *c, __u32 rank, __u8 family)
{
	__u32 ceiling;

	if (!c || (!c->mss && !c->flags))
		return;
	ceiling = mss_resolve(skb, c, family);
	if (rank > p->rank || (rank == p->rank && ceiling < p->ceiling)) {
		p->rank = rank;
		p->ceiling = ceiling;
	}
}

/*
 * Precedence, most specific first: prefix + device, prefix (any device),
 * device, default. Among prefixes of one tier the longest wins, whether it
 * matched the source or the destination address. Returns the ceiling, or 0
 * if no entry applies. A global function, like mss_walk().
 */
__noinline __u32 mss_ceiling(struct __sk_buff *skb, const struct pfd_eg_pkt *pkt)
{
	struct mss_pick p = { .rank = 0, .ceiling = MSS_NONE };
	const struct pfd_mss_conf *c;
	__u32 ifindex = skb->ifindex, zero = 0;

	if (!pkt)
		return 0;
	c = pfd_eg_pfx_lookup(&pfd_mss_pfx, ifindex, PFD_PFX_SRC, pkt, pkt->saddr);
	mss_consider(skb, &p, c, c ? 4 * 256 + c->plen : 0, pkt->family);
	c = pfd_eg_pfx_lookup(&pfd_mss_pfx, ifindex, PFD_PFX_DST, pkt, pkt->daddr);
	mss_consider(skb, &p, c, c ? 4 * 256 + c->plen : 0, pkt->family);
	c = pfd_eg_pfx_lookup(&pfd_mss_pfx, 0, PFD_PFX_SRC, pkt, pkt->saddr);
	mss_consider(skb, &p, c, c ? 3 * 256 + c->plen : 0, pkt->family);
	c = pfd_eg_pfx_lookup(&pfd_mss_pfx, 0, PFD_PFX_DST, pkt, pkt->daddr);
	mss_consider(skb, &p, c, c ? 3 * 256 + c->plen : 0, pkt->family);
	if (!p.rank) {
		c = bpf_map_lookup_elem(&pfd_mss_cfg, &ifindex);
		mss_consider(skb, &p, c, 2 * 256, pkt->family);
	}
	if (!p.rank) {
		c = bpf_map_lookup_elem(&pfd_mss_cfg, &zero);
		mss_consider(skb, &p, c, 1 * 256, pkt->family);
	}
	return p.rank ? p.ceiling : 0;
}

/*
 * Walks the options (RFC 9293 3.1: kind; length including kind and length
 * byte, except EOL and NOP) and returns 1 if there is an MSS option, 0 if
 * not, or -1 if any option is malformed: a length below 2, running past the
 * header, or an MSS whose length is not 4. The loop is bounded: each step
 * consumes at least one byte.
 *
 * Shaped for the verifier, which explored 904k instructions for the first
 * version of this walk. This one, mss_ceiling() and mss_apply() are global
 * functions, each verified once on its own rather than once for every path
 * that reaches it (IPv4 or IPv6, each way to a ceiling). The loop keeps off
 * and found only: no step counter, no mask of where the MSS options are, and
 * no comparison with optlen, which would narrow it differently on each path.
 * That works because the options are zero past optlen: the walk meets an EOL
 * where they end, reads a length of 0 for a last byte that has no room for
 * one, and an option running past the end leaves off beyond optlen, which
 * the last line checks.
 */
__noinline int mss_walk(const struct mss_opts *o, __u32 optlen)
{
	const __u8 *opts;
	__u32 off = 0;
	int found = 0;

	if (!o) /* a global function's pointer may be NULL to the verifier */
		return -1;
	opts = o->b;

	while (off < TCP_OPTS_MAX) {
		__u8 kind, len;

		kind = opts[off & 63];
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			off++;
			/* Not "off += kind", as clang may emit: Linux 6.1's
			 * verifier does not know that the copy of kind added
			 * is 1, sees off stay put: "infinite loop detected". */
			barrier_var(off);
			continue;
		}
		len = opts[(off + 1) & 63];
		if (len < 2)
			return -1;
		if (kind == TCP_OPT_MSS) {
			if (len != TCP_OPT_MSS_LEN)
				return -1;
			found = 1;
		}
		off += len;
	}
	return off > optlen ? -1 : found;
}

/*
 * Lowers every MSS option above ceiling to it, in the packet and in the TCP
 * checksum (Linux's tcp_parse_options() uses the last one; another stack may
 * use the first), and returns the PFD_MSS_S_* outcome. It walks again the
 * options mss_walk() accepted (remembering where their MSS options are would
 * be verifier state again); its check of len only bounds the loop.
 */
__noinline int mss_apply(struct __sk_buff *skb, __u32 l4off, const struct mss_opts *o,
			 __u32 ceiling)
{
	bool clamped = false;
	const __u8 *opts;
	__u32 off = 0;

	if (!o)
		return PFD_MSS_S_ERROR;
	opts = o->b;

	while (off < TCP_OPTS_MAX) {
		__u16 old, new, csum_old, csum_new;
		__u8 kind, len;
		__be16 wire;
		__u32 at;

		kind = opts[off & 63];
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			off++;
			barrier_var(off); /* see mss_walk() */
			continue;
		}
		len = opts[(off + 1) & 63];
		if (len < 2)
			break;
		if (kind != TCP_OPT_MSS)
			goto next;
		old = (__u16)opts[(off + 2) & 63] << 8 | opts[(off + 3) & 63];
		if (old <= ceiling)
			goto next;
		new = ceiling;
		at = l4off + sizeof(struct tcphdr) + off + 2;
		csum_old = bpf_htons(old);
		csum_new = bpf_htons(new);
		/* An MSS after a single NOP sits at an odd offset: the 16-bit
		 * words of the checksum see its two bytes swapped, and the
		 * ones' complement sum of swapped words is the swapped sum. */
		if (off & 1) {
			csum_old = __builtin_bswap16(csum_old);
			csum_new = __builtin_bswap16(csum_new);
		}
		/* Store first: it makes the skb writable up to the option, so
		 * the checksum update (whose field lies before it) cannot
		 * fail on writability after the option has changed. */
		wire = bpf_htons(new);
		if (bpf_skb_store_bytes(skb, at, &wire, sizeof(wire), 0) < 0)
			return PFD_MSS_S_ERROR;
		if (bpf_l4_csum_replace(skb, l4off + offsetof(struct tcphdr, check), csum_old,
					csum_new, sizeof(__u16)) < 0)
			return PFD_MSS_S_ERROR;
		clamped = true;
	next:
		off += len;
	}
	return clamped ? PFD_MSS_S_CLAMPED : PFD_MSS_S_BELOW;
}

static __always_inline enum pfd_mss_stat
mss_clamp(struct __sk_buff *skb, const struct pfd_eg_pkt *pkt, const struct tcphdr *th)
{
	struct mss_opts opts = {}; /* zero past optlen: the walks rely on it */
	__u32 optlen, ceiling;
	int found;

	/* doff < 5 is malformed; doff 5 has no options at all. A range test
	 * on doff, not "!optlen": Linux 6.1's verifier learns no bound from
	 * "!=" and would see a load of 0 bytes below. */
	if (th->doff <= 5)
		return th->doff < 5 ? PFD_MSS_S_MALFORMED : PFD_MSS_S_NO_OPTION;
	optlen = (th->doff - 5) * 4;
	if (optlen > TCP_OPTS_MAX)
		return PFD_MSS_S_MALFORMED;
	/* Options cut off by the end of the packet */
	if (bpf_skb_load_bytes(skb, pkt->l4off + sizeof(*th), opts.b, optlen))
		return PFD_MSS_S_MALFORMED;

	found = mss_walk(&opts, optlen);
	if (found < 0)
		return PFD_MSS_S_MALFORMED;
	if (!found)
		return PFD_MSS_S_NO_OPTION;

	ceiling = mss_ceiling(skb, pkt);
	if (!ceiling)
		return PFD_MSS_S_NO_CEILING;
	if (ceiling >= MSS_NONE)
		return PFD_MSS_S_EXEMPT;
	return mss_apply(skb, pkt->l4off, &opts, ceiling);
}

SEC("tc")
int pfd_tc_mss(struct __sk_buff *skb)
{
	struct pfd_eg_pkt pkt = {};
	struct tcphdr th;
	enum pfd_mss_stat why;

	if (pfd_eg_parse(skb, &pkt) || pkt.l4proto != IPPROTO_TCP)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, pkt.l4off, &th, sizeof(th)))
		return TC_ACT_OK;
	/* SYN and SYN-ACK carry the MSS option; a SYN with RST is nonsense
	 * that the receiver drops, left alone. */
	if (!th.syn || th.rst)
		return TC_ACT_OK;

	why = mss_clamp(skb, &pkt, &th);
	pfd_eg_count(&pfd_mss_stats, why, 1);
	return TC_ACT_OK; /* always: the clamp never drops */
}
