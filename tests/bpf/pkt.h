/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small frame builder for the datapath tests: Ethernet (optionally VLAN
 * tagged), IPv4 (optionally with options or fragment bits) or IPv6
 * (optionally with a hop-by-hop header), TCP, UDP or ICMP, a deterministic
 * payload. Checksums are computed here by full recomputation over the
 * finished bytes, independently of the fast path's incremental updates, so
 * an expected frame built from scratch checks them. #included by
 * tests/bpf/test_fastpath.c and test_property.c.
 */
#ifndef PFD_TEST_PKT_H
#define PFD_TEST_PKT_H

#include <arpa/inet.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

struct pkt_spec {
	int v6;	    /* 0: IPv4, 1: IPv6 */
	__u8 proto; /* IPPROTO_TCP, _UDP, _ICMP; 0 = TCP */
	const char *src, *dst;
	__u16 sport, dport;
	__u8 ttl;	/* 0 = 64 */
	__u8 tcp_flags; /* 0 = ACK */
	__u8 tos;
	const __u8 *smac, *dmac; /* NULL = defaults below */
	__u16 payload;		 /* payload bytes */
	int opts;		 /* IPv4: 4 bytes of options */
	__u16 frag;		 /* IPv4 frag_off, host order */
	int ext;		 /* IPv6: hop-by-hop header first */
	int vlan;		 /* 802.1Q tag */
	int arp;		 /* an ARP request instead */
	int udp_csum0;		 /* UDP sent without checksum (invalid for IPv6) */
	int zero_csum;		 /* pick the last payload word so the L4 checksum is 0 */
	int tail_set;		 /* force the last payload word to tail_word */
	__u16 tail_word;
	int trunc;	 /* cut this many bytes off the end */
	int pad_to;	 /* Ethernet padding up to this frame size */
	int doff;	 /* TCP data offset override (words) */
	int ipver;	 /* IP version nibble override */
	int bad_ip_len;	 /* add this to the IP length field */
	int bad_ip_csum; /* IPv4 header checksum off by one */
};

static const __u8 pkt_default_smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const __u8 pkt_default_dmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };

static inline __u32 pkt_sum(const __u8 *p, size_t len, __u32 s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (__u32)p[len - 1] << 8;
	return s;
}

static inline __u16 pkt_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* The pseudo-header sum for an L4 segment of len bytes. */
static inline __u32 pkt_pseudo(int v6, const __u8 *src, const __u8 *dst, __u8 proto, __u32 len)
{
	int alen = v6 ? 16 : 4;
	__u32 s = pkt_sum(src, alen, 0);

	s = pkt_sum(dst, alen, s);
	s += proto;
	s += len >> 16;
	s += len & 0xffff;
	return s;
}

/* Builds into buf (at least 2048 bytes); returns the frame length. With
 * zero_csum, *tail_out receives the payload word chosen. */
/* Every frame buffer passed in holds PKT_BUF_LEN bytes: all are cleared. */
#define PKT_BUF_LEN 2048

static inline size_t pkt_build_tail(const struct pkt_spec *s, __u8 *buf, __u16 *tail_out)
{
	__u8 proto = s->proto ? s->proto : IPPROTO_TCP;
	__u8 saddr[16] = {}, daddr[16] = {};
	size_t off = 0, l3, l4, end;
	__u32 l4len, hlen;

	memset(buf, 0, PKT_BUF_LEN);
	memcpy(buf, s->dmac ? s->dmac : pkt_default_dmac, 6);
	memcpy(buf + 6, s->smac ? s->smac : pkt_default_smac, 6);
	off = 12;
	if (s->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, 100);
		off += 4;
	}
	if (s->arp) {
		static const __u8 arp[28] = { 0,   1, 8, 0,  6, 4, 0, 1, 2, 0, 0,   0, 0, 0x0a,
					      192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1 };
		put16(buf + off, 0x0806);
		memcpy(buf + off + 2, arp, sizeof(arp));
		return off + 2 + sizeof(arp);
	}
	put16(buf + off, s->v6 ? 0x86dd : 0x0800);
	off += 2;
	l3 = off;
	inet_pton(s->v6 ? AF_INET6 : AF_INET, s->src, saddr);
	inet_pton(s->v6 ? AF_INET6 : AF_INET, s->dst, daddr);

	hlen = proto == IPPROTO_TCP ? 20 : 8;
	l4len = hlen + s->payload;
	if (!s->v6) {
		__u32 ihl = s->opts ? 6 : 5;

		l4 = l3 + ihl * 4;
		buf[l3] = (s->ipver ? s->ipver : 4) << 4 | ihl;
		buf[l3 + 1] = s->tos;
		put16(buf + l3 + 2, ihl * 4 + l4len + s->bad_ip_len);
		put16(buf + l3 + 4, 0x1234);
		put16(buf + l3 + 6, s->frag);
		buf[l3 + 8] = s->ttl ? s->ttl : 64;
		buf[l3 + 9] = proto;
		memcpy(buf + l3 + 12, saddr, 4);
		memcpy(buf + l3 + 16, daddr, 4);
		if (s->opts) { /* NOP NOP NOP EOL */
			buf[l3 + 20] = 1;
			buf[l3 + 21] = 1;
			buf[l3 + 22] = 1;
			buf[l3 + 23] = 0;
		}
		put16(buf + l3 + 10,
		      (~pkt_fold(pkt_sum(buf + l3, ihl * 4, 0)) + s->bad_ip_csum) & 0xffff);
	} else {
		__u32 ext = s->ext ? 8 : 0;
		__u32 w = (__u32)(s->ipver ? s->ipver : 6) << 28 | (__u32)s->tos << 20 | 0x12345;

		l4 = l3 + 40 + ext;
		buf[l3] = w >> 24;
		buf[l3 + 1] = w >> 16;
		buf[l3 + 2] = w >> 8;
		buf[l3 + 3] = w;
		put16(buf + l3 + 4, ext + l4len + s->bad_ip_len);
		buf[l3 + 6] = s->ext ? 0 : proto; /* 0: hop-by-hop */
		buf[l3 + 7] = s->ttl ? s->ttl : 64;
		memcpy(buf + l3 + 8, saddr, 16);
		memcpy(buf + l3 + 24, daddr, 16);
		if (s->ext) { /* next header, length 0, PadN of 4 */
			buf[l3 + 40] = proto;
			buf[l3 + 42] = 1;
			buf[l3 + 43] = 4;
		}
	}
	end = l4 + l4len;
	for (size_t i = l4 + hlen; i < end; i++)
		buf[i] = (__u8)(i * 7 + 3);

	if (proto == IPPROTO_TCP) {
		put16(buf + l4, s->sport);
		put16(buf + l4 + 2, s->dport);
		put16(buf + l4 + 4, 0x0001);  /* seq */
		put16(buf + l4 + 10, 0x0002); /* ack */
		buf[l4 + 12] = (s->doff ? s->doff : 5) << 4;
		buf[l4 + 13] = s->tcp_flags ? s->tcp_flags : TH_ACK;
		put16(buf + l4 + 14, 0xffff);
	} else if (proto == IPPROTO_UDP) {
		put16(buf + l4, s->sport);
		put16(buf + l4 + 2, s->dport);
		put16(buf + l4 + 4, l4len);
	} else { /* ICMP echo request */
		buf[l4] = s->v6 ? 128 : 8;
	}

	if (s->tail_set)
		put16(buf + end - 2, s->tail_word);
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || s->v6) {
		__u32 sum = pkt_sum(buf + l4, l4len, 0);
		size_t co = l4 + (proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2);
		__u16 c;

		if (proto != IPPROTO_ICMP || s->v6)
			sum += pkt_pseudo(s->v6, saddr, daddr,
					  proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : proto, l4len);
		if (s->zero_csum) {
			/* The payload's last word completes the sum to 0xffff:
			 * the checksum computes to 0. */
			__u16 w;

			sum -= get16(buf + end - 2);
			w = ~pkt_fold(sum) & 0xffff;
			put16(buf + end - 2, w);
			sum += w;
			if (tail_out)
				*tail_out = w;
		}
		c = ~pkt_fold(sum) & 0xffff;
		if (proto == IPPROTO_UDP && !c)
			c = 0xffff; /* RFC 768 */
		if (proto == IPPROTO_UDP && s->udp_csum0)
			c = 0;
		put16(buf + co, c);
	} else {
		put16(buf + l4 + 2, ~pkt_fold(pkt_sum(buf + l4, l4len, 0)) & 0xffff);
	}

	if (s->pad_to && end < (size_t)s->pad_to)
		end = s->pad_to; /* zeroed by the memset */
	if (s->trunc)
		end = (size_t)s->trunc < end ? end - s->trunc : 0;
	return end;
}

static inline size_t pkt_build(const struct pkt_spec *s, __u8 *buf)
{
	return pkt_build_tail(s, buf, NULL);
}

#endif /* PFD_TEST_PKT_H */
