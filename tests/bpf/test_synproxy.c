// SPDX-License-Identifier: GPL-2.0-only
/*
 * syn-protect (docs/design.md rule 3b, xdp-bpf/synproxy.bpf.h) through
 * BPF_PROG_TEST_RUN of the XDP program in the lab (tests/bpf/lab.h): the
 * services are written straight into pfd_synp4/pfd_synp6 and pfd_ctl, as
 * pfd/synp.c would. Each row gives a client's SYN (built here, options
 * byte by byte), the synproxy statement the services carry, the control
 * block, and expects the verdict, the output frame, one count of one
 * reason, and the per-rule count of pfd_synp_stats.
 *
 * An answer is checked against a SYN-ACK built from scratch here: MACs,
 * addresses and ports swapped, the entry's TTL, DF, window 0, SYN|ACK,
 * ack = seq + 1, the options laid out as nf_synproxy's
 * synproxy_build_options() does (the options both sides offer, none but
 * MSS without timestamps), the client's wscale/SACK/ECN in tsval's low 6
 * bits, checksums computed by this file's own routine. The two values the
 * test cannot know are taken from the output and proved: the cookie by
 * the kernel (tests/bpf/synp_cookie.bpf.c: bpf_tcp_raw_check_syncookie on
 * the ACK the client would send, and the same cookie with the right MSS
 * from bpf_tcp_raw_gen_syncookie on the SYN), tsval's upper bits by the
 * clock (milliseconds of CLOCK_MONOTONIC, taken around the run).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lab.h"
#include "pfd/block.h"
#include "synp_cookie.skel.h"

#pragma GCC diagnostic ignored "-Woverride-init"

#define BUF_LEN 2048

#define C4  "192.0.2.10"
#define S4  "198.51.100.2" /* in 198.51.100.0/24 port 80: rule 3 */
#define S4B "198.51.100.7" /* 198.51.100.7/32 port 22: rule 7 */
#define C6  "2001:db8:1::10"
#define S6  "2001:db8:2::2" /* in 2001:db8:2::/64 port 443: rule 5 */

#define TTL_R3 61 /* the entries' TTL / hop limit */
#define TTL_R7 62
#define TTL_R5 99

#define CLIENT_SEQ   0xffffffffu /* ack_seq wraps to 0 */
#define CLIENT_SEQ6  0x01020304u
#define CLIENT_TSVAL 0x11223344u

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_ECE 0x40
#define TH_CWR 0x80

static const __u8 client_mac[6] = { 0x02, 0, 0, 0, 0, 0x0a };

/* TCP options of the client's SYN, as sent on the wire. */
#define TS_BYTES 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0 /* tsval CLIENT_TSVAL, tsecr 0 */
/* Linux: MSS 1460, SACK-perm, timestamps, NOP, wscale 7 */
static const __u8 opt_linux[] = { 2, 4, 0x05, 0xb4, 4, 2, TS_BYTES, 1, 3, 3, 7 };
/* Linux with net.ipv4.tcp_timestamps=0 */
static const __u8 opt_nots[] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 };
/* MSS and timestamps only */
static const __u8 opt_mss_ts[] = { 2, 4, 0x05, 0xb4, 1, 1, TS_BYTES };
/* Linux, but wscale 15 (the kernel takes at most 14) */
static const __u8 opt_ws15[] = { 2, 4, 0x05, 0xb4, 4, 2, TS_BYTES, 1, 3, 3, 15 };
/* MSS, then a wscale of length 1: the walk ends there, as
 * tcp_parse_options() and synproxy_parse_options() stop, and the
 * timestamps after it are never seen */
static const __u8 opt_bad[] = { 2, 4, 0x05, 0xb4, 1, 3, 1, 7, TS_BYTES, 1, 1 };
#define OPTS(o) .opts = (o), .opts_len = sizeof(o)

struct syn_spec {
	int v6;
	const char *src, *dst;
	__u16 sport, dport;
	__u32 seq, ack;
	__u8 flags; /* 0: SYN */
	const __u8 *opts;
	__u8 opts_len; /* a multiple of 4 */
	__u16 payload;
	int ip_opts;  /* IPv4: 4 bytes of options */
	int frag;     /* IPv4: MF */
	int ext;      /* IPv6: a hop-by-hop header first */
	int bad_csum; /* TCP checksum off by one */
	int pad_to;   /* Ethernet padding up to this frame length */
};

/* The synproxy statement the row's services carry (pfd_synp.flags). */
struct svc_spec {
	__u8 flags;
	__u16 mss;
	__u8 wscale;
};

#define F_MSS  PFD_SYNP_F_MSS
#define F_WS   PFD_SYNP_F_WSCALE
#define F_SACK PFD_SYNP_F_SACK_PERM
#define F_TS   PFD_SYNP_F_TIMESTAMP
#define F_ECN  PFD_SYNP_F_ECN
#define F_DRY  PFD_SYNP_F_DRY_RUN
#define F_ALL  (F_MSS | F_WS | F_SACK | F_TS)

/* Options expected in the SYN-ACK (this file's names, not the BPF's). */
#define W_MSS  0x01
#define W_WS   0x02
#define W_SACK 0x04
#define W_TS   0x08

enum { C_SYNP, C_SYNP_DRY, C_NO_SYNP, C_STALE };

struct synp_row {
	const char *name;
	int tc; /* run the TC ingress program instead */
	struct syn_spec in;
	struct svc_spec svc; /* flags 0: F_ALL, mss 1460, wscale 7 */
	int ctl;
	int ingress;	   /* lab device (0 = IN0) */
	const char *block; /* a block prefix */
	int block_dry;
	/* expected */
	int answer;	   /* XDP_REDIRECT with the SYN-ACK */
	int reason;	   /* otherwise: the reason counted */
	int rule;	   /* the pfd_synp_stats slot counted (0: none) */
	__u32 out_len;	   /* the SYN-ACK's frame length */
	__u8 want;	   /* its options, W_* */
	__u8 ts_bits;	   /* tsval's low 6 bits */
	__u8 out_ttl;	   /* its TTL / hop limit */
	__u16 cookie_mss;  /* the MSS its cookie encodes: the client's (536
			    * without one) rounded down to the kernel's table,
			    * v4 536 1300 1440 1460, v6 1220 1420 1440 8940
			    * (never below the first entry) */
	int ece;	   /* SYN|ACK|ECE */
	__u16 mss, wscale; /* of its options, when not 1460 and 7 */
};

#define SYN4(...)                                                                     \
	{                                                                             \
		.src = C4, .dst = S4, .sport = 40000, .dport = 80, .seq = CLIENT_SEQ, \
		OPTS(opt_linux), __VA_ARGS__                                          \
	}
#define SYN6(...)                                                                                \
	{                                                                                        \
		.v6 = 1, .src = C6, .dst = S6, .sport = 40001, .dport = 443, .seq = CLIENT_SEQ6, \
		OPTS(opt_linux), __VA_ARGS__                                                     \
	}
#define SVC(f, m, w)                                    \
	{                                               \
		.flags = (f), .mss = (m), .wscale = (w) \
	}
/* Answered: frame length, options, tsval bits, TTL, the cookie's MSS. */
#define ANSWER(len, w, bits, ttl, cmss)                                                            \
	.answer = 1, .reason = PFD_R_SYN_COOKIE, .out_len = (len), .want = (w), .ts_bits = (bits), \
	.out_ttl = (ttl), .cookie_mss = (cmss)
#define PASS(r, slot) .reason = PFD_R_##r, .rule = (slot)
#define W_ALL	      (W_MSS | W_WS | W_SACK | W_TS)
#define TS_SACK	      0x10
#define TS_ECN	      0x20
#define TS_NO_WS      0x0f

static const struct synp_row rows[] = {
	/* answered */
	{ "v4 linux syn: every option", 0, SYN4(), .rule = 3,
	  ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK, TTL_R3, 1460) },
	{ "v6 linux syn: every option", 0, SYN6(), .rule = 5,
	  ANSWER(14 + 40 + 40, W_ALL, 7 | TS_SACK, TTL_R5, 1440) },
	{ "v4 no timestamps in the syn: mss only", 0, SYN4(OPTS(opt_nots)), .rule = 3,
	  ANSWER(14 + 20 + 24, W_MSS, 0, TTL_R3, 1460) },
	{ "v6 no timestamps in the syn: mss only", 0, SYN6(OPTS(opt_nots)), .rule = 5,
	  ANSWER(14 + 40 + 24, W_MSS, 0, TTL_R5, 1440) },
	{ "statement without timestamp: mss only", 0, SYN4(), SVC(F_MSS | F_WS | F_SACK, 1460, 7),
	  .rule = 3, ANSWER(14 + 20 + 24, W_MSS, 0, TTL_R3, 1460) },
	{ "the statement's mss and wscale, not the client's", 0, SYN4(), SVC(F_ALL, 1400, 9),
	  .rule = 3, ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK, TTL_R3, 1460), .mss = 1400,
	  .wscale = 9 },
	{ "statement without sack-perm: nop nop timestamp", 0, SYN4(),
	  SVC(F_MSS | F_WS | F_TS, 1460, 7), .rule = 3,
	  ANSWER(14 + 20 + 40, W_MSS | W_WS | W_TS, 7, TTL_R3, 1460) },
	{ "statement without mss: none offered, the cookie keeps the client's", 0, SYN4(),
	  SVC(F_WS | F_SACK | F_TS, 0, 7), .rule = 3,
	  ANSWER(14 + 20 + 36, W_WS | W_SACK | W_TS, 7 | TS_SACK, TTL_R3, 1460) },
	{ "client without sack and wscale: tsval says none", 0, SYN4(OPTS(opt_mss_ts)), .rule = 3,
	  ANSWER(14 + 20 + 36, W_MSS | W_TS, TS_NO_WS, TTL_R3, 1460) },
	{ "client wscale 15 encoded as 14", 0, SYN6(OPTS(opt_ws15)), .rule = 5,
	  ANSWER(14 + 40 + 40, W_ALL, 14 | TS_SACK, TTL_R5, 1440) },
	{ "malformed option ends the walk: mss only", 0, SYN4(OPTS(opt_bad)), .rule = 3,
	  ANSWER(14 + 20 + 24, W_MSS, 0, TTL_R3, 1460) },
	/* nf_synproxy offers only what the client had: no MSS either */
	{ "v4 syn without options (hping): none in the syn-ack", 0, SYN4(.opts_len = 0), .rule = 3,
	  ANSWER(14 + 20 + 20, 0, 0, TTL_R3, 536) },
	{ "v4 syn without options padded to 60: the frame shrinks", 0,
	  SYN4(.opts_len = 0, .pad_to = 60), .rule = 3, ANSWER(14 + 20 + 20, 0, 0, TTL_R3, 536) },
	{ "v6 syn without options", 0, SYN6(.opts_len = 0), .rule = 5,
	  ANSWER(14 + 40 + 20, 0, 0, TTL_R5, 1220) },
	/* ECN: no nft synproxy statement has it (nft_synproxy refuses the
	 * flag), but the value can: then as nf_synproxy, for ECE|CWR only */
	{ "ecn statement, ece|cwr syn: ece in the syn-ack, tsval bit 5", 0,
	  SYN4(.flags = TH_SYN | TH_ECE | TH_CWR), SVC(F_ALL | F_ECN, 1460, 7), .rule = 3,
	  ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK | TS_ECN, TTL_R3, 1460), .ece = 1 },
	{ "ece|cwr syn, statement without ecn: plain syn-ack", 0,
	  SYN4(.flags = TH_SYN | TH_ECE | TH_CWR), .rule = 3,
	  ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK, TTL_R3, 1460) },
	{ "ece without cwr is no ecn request", 0, SYN6(.flags = TH_SYN | TH_ECE),
	  SVC(F_ALL | F_ECN, 1460, 7), .rule = 5,
	  ANSWER(14 + 40 + 40, W_ALL, 7 | TS_SACK, TTL_R5, 1440) },
	{ "second rule (a /32, port 22): its slot, its ttl", 0, SYN4(.dst = S4B, .dport = 22),
	  .rule = 7, ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK, TTL_R7, 1460) },
	{ "dry-run block prefix: counted, then answered", 0, SYN4(), .block = "192.0.2.0/24",
	  .block_dry = 1, .rule = 3, ANSWER(14 + 20 + 40, W_ALL, 7 | TS_SACK, TTL_R3, 1460) },

	/* not answered: the frame goes to the kernel as it came */
	{ "unprotected port", 0, SYN4(.dport = 81), PASS(NO_FLOW, 0) },
	{ "protected port, other address", 0, SYN4(.dst = "198.51.101.2"), PASS(NO_FLOW, 0) },
	{ "the /32 rule does not cover its neighbour", 0, SYN4(.dst = "198.51.100.8", .dport = 22),
	  PASS(NO_FLOW, 0) },
	{ "v6 protected address, other port", 0, SYN6(.dport = 80), PASS(NO_FLOW, 0) },
	{ "syn+ack", 0, SYN4(.flags = TH_SYN | TH_ACK), PASS(NO_FLOW, 0) },
	{ "syn|fin", 0, SYN4(.flags = TH_SYN | TH_FIN), PASS(NO_FLOW, 0) },
	{ "syn|rst", 0, SYN6(.flags = TH_SYN | TH_RST), PASS(NO_FLOW, 0) },
	{ "ack", 0, SYN4(.flags = TH_ACK, .opts_len = 0), PASS(NO_FLOW, 0) },
	{ "v4 syn with payload (tfo)", 0, SYN4(.payload = 16), PASS(NO_FLOW, 3) },
	{ "v6 syn with payload", 0, SYN6(.payload = 1), PASS(NO_FLOW, 5) },
	{ "v4 bad tcp checksum", 0, SYN4(.bad_csum = 1), PASS(NO_FLOW, 3) },
	{ "v6 bad tcp checksum", 0, SYN6(.bad_csum = 1), PASS(NO_FLOW, 5) },
	{ "v4 ip options", 0, SYN4(.ip_opts = 1), PASS(IP_SPECIAL, 0) },
	{ "v4 fragment", 0, SYN4(.frag = 1), PASS(IP_SPECIAL, 0) },
	{ "v6 hop-by-hop header", 0, SYN6(.ext = 1), PASS(NOT_TCP_UDP, 0) },
	{ "dry-run rule: counted, not answered", 0, SYN4(), SVC(F_ALL | F_DRY, 1460, 7),
	  PASS(NO_FLOW, 3) },
	{ "dry-run (ctl): counted, not answered", 0, SYN6(), .ctl = C_SYNP_DRY, PASS(NO_FLOW, 5) },
	{ "ctl without syn-protect: not looked up", 0, SYN4(), .ctl = C_NO_SYNP, PASS(NO_FLOW, 0) },
	{ "ingress not in pfd_tx_ports: counted, not answered", 0, SYN4(), .ingress = OUT2,
	  PASS(NO_FLOW, 3) },
	{ "stale heartbeat", 0, SYN4(), .ctl = C_STALE, PASS(STALE, 0) },
	{ "blocked source dropped before syn-protect", 0, SYN4(), .block = "192.0.2.0/24",
	  PASS(BLOCKED, 0) },
	{ "v6 blocked destination dropped before syn-protect", 0, SYN6(),
	  .block = "2001:db8:2::/64", PASS(BLOCKED, 0) },
	{ "tc ingress passes it untouched", 1, SYN4(), PASS(NO_FLOW, 0) },
	{ "tc ingress passes a v6 one untouched", 1, SYN6(), PASS(NO_FLOW, 0) },
};

static struct synp_cookie *ck;
static int synp4_fd, synp6_fd, synp_stats_fd;

/* This file's own Internet checksum: big-endian 16-bit words. */
static __u32 sum16(const __u8 *p, size_t len, __u32 s)
{
	for (size_t i = 0; i < len; i += 2)
		s += (__u32)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __u32 pseudo(int v6, const __u8 *src, const __u8 *dst, __u32 len)
{
	int alen = v6 ? 16 : 4;

	return sum16(dst, alen, sum16(src, alen, 0)) + IPPROTO_TCP + len;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = (__u8)v;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, (__u16)v);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 get32(const __u8 *p)
{
	return (__u32)get16(p) << 16 | get16(p + 2);
}

static void addr(int v6, const char *s, __u8 *out)
{
	memset(out, 0, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, s, out) != 1)
		abort();
}

/* The client's segment: a SYN unless flags say otherwise. */
static size_t syn_build(const struct syn_spec *s, __u8 *b)
{
	__u8 src[16], dst[16];
	__u32 tcp_len = 20 + s->opts_len, l4_len = tcp_len + s->payload;
	size_t l3 = 14, l4, end;

	addr(s->v6, s->src, src);
	addr(s->v6, s->dst, dst);
	memset(b, 0, BUF_LEN);
	memcpy(b, lab_dev_mac[IN0], 6);
	memcpy(b + 6, client_mac, 6);
	put16(b + 12, s->v6 ? 0x86dd : 0x0800);
	if (!s->v6) {
		__u32 ihl = s->ip_opts ? 6 : 5;

		l4 = l3 + ihl * 4;
		b[l3] = 0x40 | ihl;
		put16(b + l3 + 2, ihl * 4 + l4_len);
		put16(b + l3 + 4, 0x1234);
		put16(b + l3 + 6, s->frag ? 0x2000 : 0x4000); /* MF, or DF */
		b[l3 + 8] = 64;
		b[l3 + 9] = IPPROTO_TCP;
		memcpy(b + l3 + 12, src, 4);
		memcpy(b + l3 + 16, dst, 4);
		if (s->ip_opts)
			memcpy(b + l3 + 20, (const __u8[]){ 1, 1, 1, 0 }, 4);
		put16(b + l3 + 10, ~fold(sum16(b + l3, ihl * 4, 0)));
	} else {
		__u32 ext = s->ext ? 8 : 0;

		l4 = l3 + 40 + ext;
		put32(b + l3, 0x60012345);
		put16(b + l3 + 4, ext + l4_len);
		b[l3 + 6] = s->ext ? 0 : IPPROTO_TCP;
		b[l3 + 7] = 64;
		memcpy(b + l3 + 8, src, 16);
		memcpy(b + l3 + 24, dst, 16);
		if (s->ext) { /* next header, length 0, PadN of 4 */
			b[l3 + 40] = IPPROTO_TCP;
			b[l3 + 42] = 1;
			b[l3 + 43] = 4;
		}
	}
	put16(b + l4, s->sport);
	put16(b + l4 + 2, s->dport);
	put32(b + l4 + 4, s->seq);
	put32(b + l4 + 8, s->ack);
	b[l4 + 12] = (tcp_len / 4) << 4;
	b[l4 + 13] = s->flags ? s->flags : TH_SYN;
	put16(b + l4 + 14, 64240);
	memcpy(b + l4 + 20, s->opts, s->opts_len);
	end = l4 + l4_len;
	for (size_t i = l4 + tcp_len; i < end; i++)
		b[i] = (__u8)(i * 7 + 3);
	put16(b + l4 + 16, (__u16)(~fold(sum16(b + l4, l4_len, pseudo(s->v6, src, dst, l4_len))) +
				   (s->bad_csum ? 1 : 0)));
	if (s->pad_to && end < (size_t)s->pad_to)
		end = s->pad_to;
	return end;
}

/* The options of nf_synproxy's SYN-ACK, as synproxy_build_options() lays
 * them out (none of the rows wants SACK-perm without timestamps: without
 * them, nf_synproxy offers neither SACK nor wscale). */
static size_t synack_options(__u8 *p, __u8 want, __u16 mss, __u8 ws, __u32 tsval, __u32 tsecr)
{
	size_t n = 0;

	if (want & W_MSS) {
		memcpy(p + n, (const __u8[]){ 2, 4, mss >> 8, (__u8)mss }, 4);
		n += 4;
	}
	if (want & W_TS) {
		if (want & W_SACK)
			memcpy(p + n, (const __u8[]){ 4, 2, 8, 10 }, 4);
		else
			memcpy(p + n, (const __u8[]){ 1, 1, 8, 10 }, 4);
		put32(p + n + 4, tsval);
		put32(p + n + 8, tsecr);
		n += 12;
	}
	if (want & W_WS) {
		memcpy(p + n, (const __u8[]){ 1, 3, 3, ws }, 4);
		n += 4;
	}
	return n;
}

static __u16 row_mss(const struct synp_row *r)
{
	return r->mss ? r->mss : 1460;
}

static __u8 row_wscale(const struct synp_row *r)
{
	return r->wscale ? (__u8)r->wscale : 7;
}

/* The SYN-ACK the row must produce, given its cookie and tsval. */
static size_t synack_build(const struct synp_row *r, __u32 cookie, __u32 tsval, __u8 *b)
{
	const struct syn_spec *s = &r->in;
	__u8 cli[16], srv[16], opts[40];
	size_t optlen =
		synack_options(opts, r->want, row_mss(r), row_wscale(r), tsval, CLIENT_TSVAL);
	__u32 tcp_len = 20 + optlen;
	size_t l4;
	__u8 *t;

	addr(s->v6, s->src, cli);
	addr(s->v6, s->dst, srv);
	memset(b, 0, BUF_LEN);
	memcpy(b, client_mac, 6);
	memcpy(b + 6, lab_dev_mac[IN0], 6);
	put16(b + 12, s->v6 ? 0x86dd : 0x0800);
	if (!s->v6) {
		b[14] = 0x45;
		put16(b + 16, 20 + tcp_len);
		put16(b + 20, 0x4000); /* DF; id 0, tos 0 */
		b[22] = r->out_ttl;
		b[23] = IPPROTO_TCP;
		memcpy(b + 26, srv, 4);
		memcpy(b + 30, cli, 4);
		put16(b + 24, ~fold(sum16(b + 14, 20, 0)));
		l4 = 34;
	} else {
		b[14] = 0x60; /* traffic class 0, flow label 0 */
		put16(b + 18, tcp_len);
		b[20] = IPPROTO_TCP;
		b[21] = r->out_ttl;
		memcpy(b + 22, srv, 16);
		memcpy(b + 38, cli, 16);
		l4 = 54;
	}
	t = b + l4;
	put16(t, s->dport);
	put16(t + 2, s->sport);
	put32(t + 4, cookie);
	put32(t + 8, s->seq + 1);
	t[12] = (tcp_len / 4) << 4;
	t[13] = TH_SYN | TH_ACK | (r->ece ? TH_ECE : 0);
	/* window 0, urgent pointer 0 */
	memcpy(t + 20, opts, optlen);
	put16(t + 16, ~fold(sum16(t, tcp_len, pseudo(s->v6, srv, cli, tcp_len))));
	return l4 + tcp_len;
}

static void trie_clear(int fd, size_t key_size)
{
	__u8 key[32], next[32];

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* The lab's services, with the row's statement: 198.51.100.0/24 port 80
 * (rule 3), 198.51.100.7/32 port 22 (rule 7), 2001:db8:2::/64 port 443
 * (rule 5). */
static int services_install(const struct synp_row *r)
{
	struct svc_spec d = { F_ALL, 1460, 7 }, s = r->svc.flags ? r->svc : d;
	struct pfd_synp v = { .mss = s.mss, .wscale = s.wscale, .flags = s.flags };
	struct pfd_synp_key4 k4 = {};
	struct pfd_synp_key6 k6 = {};
	__u8 a[16];
	int err = 0;

	trie_clear(synp4_fd, sizeof(k4));
	trie_clear(synp6_fd, sizeof(k6));
	k4.prefixlen = 16 + 24;
	k4.dport = htons(80);
	addr(0, "198.51.100.0", a);
	memcpy(k4.addr, a, 4);
	v.index = 3;
	v.ttl = TTL_R3;
	err |= bpf_map_update_elem(synp4_fd, &k4, &v, BPF_ANY);
	k4.prefixlen = 16 + 32;
	k4.dport = htons(22);
	addr(0, S4B, a);
	memcpy(k4.addr, a, 4);
	v.index = 7;
	v.ttl = TTL_R7;
	err |= bpf_map_update_elem(synp4_fd, &k4, &v, BPF_ANY);
	k6.prefixlen = 16 + 64;
	k6.dport = htons(443);
	addr(1, "2001:db8:2::", k6.addr);
	v.index = 5;
	v.ttl = TTL_R5;
	err |= bpf_map_update_elem(synp6_fd, &k6, &v, BPF_ANY);
	return err ? -EIO : 0;
}

static int blocks_install(struct lab *lab, const struct synp_row *r)
{
	struct pfd_block_rule b = { .dry_run = r->block_dry };
	char text[64], *slash;

	if (!r->block)
		return pfd_block_sync(&lab->blocks, NULL, 0);
	snprintf(text, sizeof(text), "%s", r->block);
	slash = strchr(text, '/');
	*slash = '\0';
	b.prefix.len = atoi(slash + 1);
	b.prefix.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	inet_pton(b.prefix.family, text, b.prefix.addr);
	return pfd_block_sync(&lab->blocks, &b, 1);
}

static __u64 block_hits(struct lab *lab)
{
	struct pfd_block_stat *st = NULL;
	int n = pfd_block_read(&lab->blocks, &st);
	__u64 hits = n == 1 ? st[0].packets : ~0ULL;

	free(st);
	return hits;
}

/* pfd_synp_stats, summed over CPUs. */
static void synp_snap(struct lab *lab, struct pfd_counter out[PFD_MAX_SYNP_RULES])
{
	struct pfd_counter vals[lab->ncpus];

	for (__u32 i = 0; i < PFD_MAX_SYNP_RULES; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (bpf_map_lookup_elem(synp_stats_fd, &i, vals))
			continue;
		for (int c = 0; c < lab->ncpus; c++) {
			out[i].packets += vals[c].packets;
			out[i].bytes += vals[c].bytes;
		}
	}
}

/* One run of a synp_cookie program: the helper's answer. */
static __s64 cookie_prog(struct bpf_program *prog, const __u8 *frame, size_t len)
{
	__u8 out[BUF_LEN];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	ck->bss->result = 424242;
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		return -100001;
	return ck->bss->result;
}

/* The client's ACK to the SYN-ACK: what nf_synproxy checks the cookie of. */
static __s64 cookie_check(const struct synp_row *r, __u32 ack)
{
	struct syn_spec a = r->in;
	__u8 frame[BUF_LEN];

	a.flags = TH_ACK;
	a.seq = r->in.seq + 1;
	a.ack = ack;
	a.opts_len = 0;
	a.payload = 0;
	a.pad_to = 0;
	return cookie_prog(ck->progs.synp_cookie_check, frame, syn_build(&a, frame));
}

static __u32 now_ms(void)
{
	return (__u32)(lab_now_ns() / 1000000);
}

/* The answer: the cookie and tsval proved, then every byte. */
static void check_answer(const struct synp_row *r, const char *name, const __u8 *out, __u32 out_len,
			 __u32 t0, __u32 t1, __s64 gen0, __s64 gen1)
{
	size_t l4 = r->in.v6 ? 54 : 34, want_len;
	__u8 want[BUF_LEN];
	__u32 cookie = 0, tsval = 0, hi;
	__s64 ok, bad;

	T_EQ(out_len, r->out_len, name);
	if (out_len < l4 + 20)
		return;
	cookie = get32(out + l4 + 4);

	/* the kernel's word on the cookie */
	ok = cookie_check(r, cookie + 1);
	bad = cookie_check(r, (cookie ^ 0x00800000) + 1);
	T_EQ(ok, 0, name); /* valid for the client's ACK */
	/* and the check can fail: bit 23 lies in the hashed MSS index */
	T_EQ(bad, -EACCES, name);
	T_TRUE(gen0 >= 0 && gen1 >= 0, name);
	/* the cookie of this SYN, whichever minute the run fell in */
	T_TRUE(cookie == (__u32)gen0 || cookie == (__u32)gen1, name);
	T_EQ(gen0 >> 32, r->cookie_mss, name); /* the MSS it encodes */

	if (r->want & W_TS) {
		size_t at = l4 + 20 + (r->want & W_MSS ? 4 : 0) + 4;

		if (out_len >= at + 8)
			tsval = get32(out + at);
		T_EQ(tsval & 0x3f, r->ts_bits, name);
		/* the clock's milliseconds, low 6 bits cleared */
		hi = tsval & ~0x3fu;
		T_TRUE((__u32)(hi - (t0 & ~0x3fu)) <= (__u32)(t1 - (t0 & ~0x3fu)), name);
	}

	/* a few fields by name, for readable failures; the bytes decide */
	if (!r->in.v6) {
		T_EQ(out[22], r->out_ttl, name);
		T_EQ(get16(out + 20), 0x4000, name); /* DF */
		T_EQ(fold(sum16(out + 14, 20, 0)), 0xffff, name);
	} else {
		T_EQ(out[21], r->out_ttl, name);
	}
	T_EQ(out[l4 + 13], TH_SYN | TH_ACK | (r->ece ? TH_ECE : 0), name);
	T_EQ(get32(out + l4 + 8), r->in.seq + 1, name);
	T_EQ(get16(out + l4 + 14), 0, name); /* window */
	{
		__u8 cli[16], srv[16];
		__u32 tl = out_len - l4;

		addr(r->in.v6, r->in.src, cli);
		addr(r->in.v6, r->in.dst, srv);
		T_EQ(fold(sum16(out + l4, tl, pseudo(r->in.v6, srv, cli, tl))), 0xffff, name);
	}

	want_len = synack_build(r, cookie, tsval, want);
	T_BYTES(out, out_len, want, want_len, name);
}

static void run_row(struct lab *lab, const struct synp_row *r, bool helpers)
{
	int hook = r->tc ? PFD_HOOK_TC : PFD_HOOK_XDP;
	__u8 in[BUF_LEN], out[4096];
	__u32 out_len = sizeof(out), retval = ~0u, slot = lab_dev_slot[r->ingress], t0, t1;
	struct pfd_counter before[PFD_REASON_SLOTS], after[PFD_REASON_SLOTS];
	struct pfd_counter sb[PFD_MAX_SYNP_RULES], sa[PFD_MAX_SYNP_RULES];
	__u64 total = 0, blocked = 0;
	__s64 gen0 = -1, gen1 = -1;
	struct pfd_ctl ctl;
	size_t in_len;
	char name[200];

	snprintf(name, sizeof(name), "%s [%s]", r->name, r->tc ? "tc" : "xdp");
	if (r->answer && !helpers) {
		t_skip(name, "kernel lacks: bpf_tcp_raw_gen_syncookie_ipv4 for XDP (probed)");
		return;
	}
	in_len = syn_build(&r->in, in);

	lab_flows_clear(lab);
	T_OK(lab_devs_reset(lab, 0), name);
	T_OK(services_install(r), name);
	T_OK(blocks_install(lab, r), name);
	lab_ctl_live(&ctl);
	ctl.flags = PFD_CTL_F_SYNP;
	switch (r->ctl) {
	case C_SYNP_DRY:
		ctl.flags |= PFD_CTL_F_SYNP_DRY_RUN;
		break;
	case C_NO_SYNP:
		ctl.flags = 0;
		break;
	case C_STALE:
		ctl.heartbeat_ns = 1;
		ctl.heartbeat_max_ns = 1000;
		break;
	}
	if (r->block)
		ctl.flags |= PFD_CTL_F_BLOCK;
	T_OK(lab_ctl_set(lab, &ctl), name);
	if (r->block)
		blocked = block_hits(lab);

	lab_stats_snap(lab, slot, hook, before);
	synp_snap(lab, sb);
	if (r->answer)
		gen0 = cookie_prog(ck->progs.synp_cookie_gen, in, in_len);
	t0 = now_ms();
	T_OK(lab_run(lab, hook, r->ingress, in, in_len, out, &out_len, &retval), name);
	t1 = now_ms();
	if (r->answer)
		gen1 = cookie_prog(ck->progs.synp_cookie_gen, in, in_len);
	lab_stats_snap(lab, slot, hook, after);
	synp_snap(lab, sa);

	if (r->tc)
		T_EQ(retval, 0 /* TC_ACT_OK */, name);
	else
		T_EQ(retval,
		     r->answer			? XDP_REDIRECT :
		     r->reason == PFD_R_BLOCKED ? XDP_DROP :
						  XDP_PASS,
		     name);

	/* one count of one reason, in the ingress device's slot */
	for (int i = 0; i < PFD_REASON_SLOTS; i++) {
		__u64 d = after[i].packets - before[i].packets;

		total += d;
		if (d && i != r->reason)
			printf("     %s: counted as %s\n", name, lab_reason_name(i));
	}
	T_EQ(after[r->reason].packets - before[r->reason].packets, 1, name);
	T_EQ(after[r->reason].bytes - before[r->reason].bytes, in_len, name);
	T_EQ(total, 1, name);

	/* the rule's count, and no other */
	for (int i = 0; i < PFD_MAX_SYNP_RULES; i++) {
		__u64 dp = sa[i].packets - sb[i].packets, db = sa[i].bytes - sb[i].bytes;

		if (i == r->rule && r->rule) {
			T_EQ(dp, 1, name);
			T_EQ(db, in_len, name);
		} else if (dp || db) {
			printf("     %s: counted in pfd_synp_stats[%d]\n", name, i);
			T_EQ(dp, 0, name);
		}
	}
	if (r->block)
		T_EQ(block_hits(lab) - blocked, 1, name);

	if (r->answer)
		check_answer(r, name, out, out_len, t0, t1, gen0, gen1);
	else
		T_BYTES(out, out_len, in, in_len, name); /* untouched */
}

int main(void)
{
	struct lab lab;
	bool helpers;
	int err;

	if (geteuid() != 0) {
		t_skip("synproxy", "needs root (BPF_PROG_TEST_RUN, namespaces)");
		return t_done();
	}
	err = lab_init(&lab);
	T_OK(err, "lab set up");
	if (err)
		return t_done();
	synp4_fd = bpf_map__fd(lab.xdp->maps.pfd_synp4);
	synp6_fd = bpf_map__fd(lab.xdp->maps.pfd_synp6);
	synp_stats_fd = bpf_map__fd(lab.xdp->maps.pfd_synp_stats);
	lab.blocks.synp4 = synp4_fd;
	lab.blocks.synp6 = synp6_fd;
	lab.blocks.synp_stats = synp_stats_fd;

	helpers = pfd_bpf_have_syncookie_helpers();
	if (helpers) {
		ck = synp_cookie__open_and_load();
		T_TRUE(ck != NULL, "cookie checker loaded");
		if (!ck)
			return t_done();
	}

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&lab, &rows[i], helpers);
	printf("synproxy: %zu table rows\n", sizeof(rows) / sizeof(rows[0]));
	synp_cookie__destroy(ck);
	lab_fini(&lab);
	return t_done();
}
