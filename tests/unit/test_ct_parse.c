// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of pfd_ct_parse (nft-backend/ct.c): ctnetlink messages built in
 * memory with libmnl, shaped like the kernel's (ctnetlink_fill_info and
 * ctnetlink_conntrack_event), then broken on purpose. Valid messages must be
 * decoded field by field; every malformed one must be refused with -EINVAL,
 * other message types with -EOPNOTSUPP, and nothing may read out of bounds
 * (the random mutation pass runs each message from an exactly sized heap
 * buffer, so valgrind or `make SANITIZE=1` catch an overread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "t.h"
#include "nft-backend/ct.h"

/* What a test message contains; the builder follows the kernel's layout. */
struct spec {
	__u16 type;  /* IPCTNL_MSG_CT_NEW or _DELETE */
	__u16 flags; /* NLM_F_CREATE, NLM_F_MULTI or 0 */
	__u8 family;
	__u8 proto;
	const char *osrc, *odst, *rsrc, *rdst;
	__u16 osport, odport, rsport, rdport; /* host order */
	__u32 status, mark, timeout, id;
	__u16 zone;
	bool tcp_info;
	__u8 tcp_state, flags_orig, flags_reply;
	bool counters, counters32;
	bool helper, master, seqadj;
	/* Deliberate damage. */
	bool no_orig, no_reply, no_ports, no_protonum, unknown_attrs;
	int bad_len; /* 1 status, 2 ipv4 src, 3 tcp flags, 4 zone, 5 protonum */
};

static void put_addr(struct nlmsghdr *nlh, int type, __u8 family, const char *s, int bad)
{
	unsigned char a[16] = { 0 };

	inet_pton(family, s, a);
	mnl_attr_put(nlh, type, bad ? 16 : family == AF_INET ? 4 : 16, a);
}

static void put_tuple(struct nlmsghdr *nlh, const struct spec *s, int type, const char *src,
		      const char *dst, __u16 sport, __u16 dport)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, type), *n;
	bool v4 = s->family == AF_INET;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	put_addr(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, s->family, src,
		 s->bad_len == 2 && type == CTA_TUPLE_ORIG && v4);
	put_addr(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, s->family, dst, 0);
	if (s->unknown_attrs)
		mnl_attr_put_u32(nlh, 99, 0xdeadbeef);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	if (!s->no_protonum) {
		if (s->bad_len == 5)
			mnl_attr_put_u16(nlh, CTA_PROTO_NUM, s->proto);
		else
			mnl_attr_put_u8(nlh, CTA_PROTO_NUM, s->proto);
	}
	if (s->proto == IPPROTO_ICMP) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(7));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, 8);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, 0);
	} else if (!s->no_ports) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	}
	mnl_attr_nest_end(nlh, n);
	if (s->zone)
		mnl_attr_put_u16(nlh, CTA_TUPLE_ZONE, htons(s->zone));
	mnl_attr_nest_end(nlh, t);
}

static void put_counters(struct nlmsghdr *nlh, int type, __u64 packets, __u64 bytes, bool c32)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	if (c32) {
		mnl_attr_put_u32(nlh, CTA_COUNTERS32_PACKETS, htonl((__u32)packets));
		mnl_attr_put_u32(nlh, CTA_COUNTERS32_BYTES, htonl((__u32)bytes));
	} else {
		mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(packets));
		mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(bytes));
	}
	mnl_attr_nest_end(nlh, n);
}

static struct nlmsghdr *build(char *buf, const struct spec *s)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nlattr *n, *m;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | s->type;
	nlh->nlmsg_flags = s->flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = s->family;
	nfg->version = NFNETLINK_V0;

	if (!s->no_orig)
		put_tuple(nlh, s, CTA_TUPLE_ORIG, s->osrc, s->odst, s->osport, s->odport);
	if (!s->no_reply)
		put_tuple(nlh, s, CTA_TUPLE_REPLY, s->rsrc, s->rdst, s->rsport, s->rdport);
	if (s->zone) {
		if (s->bad_len == 4)
			mnl_attr_put_u32(nlh, CTA_ZONE, htonl(s->zone));
		else
			mnl_attr_put_u16(nlh, CTA_ZONE, htons(s->zone));
	}
	if (s->bad_len == 1)
		mnl_attr_put_u16(nlh, CTA_STATUS, 1);
	else
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl(s->status));
	if (s->timeout)
		mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(s->timeout));
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(s->mark));
	if (s->counters) {
		put_counters(nlh, CTA_COUNTERS_ORIG, 10, 1000, s->counters32);
		put_counters(nlh, CTA_COUNTERS_REPLY, 20, 3000000000ULL * (s->counters32 ? 1 : 3),
			     s->counters32);
	}
	mnl_attr_put_u32(nlh, CTA_USE, htonl(1));
	mnl_attr_put_u32(nlh, CTA_ID, htonl(s->id));
	if (s->tcp_info) {
		struct nf_ct_tcp_flags fo = { .flags = s->flags_orig, .mask = 0xff };
		struct nf_ct_tcp_flags fr = { .flags = s->flags_reply, .mask = 0xff };

		n = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		m = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, s->tcp_state);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, 7);
		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_REPLY, 7);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL,
			     s->bad_len == 3 ? 1 : sizeof(fo), &fo);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(fr), &fr);
		mnl_attr_nest_end(nlh, m);
		mnl_attr_nest_end(nlh, n);
	}
	if (s->helper) {
		n = mnl_attr_nest_start(nlh, CTA_HELP);
		mnl_attr_put_strz(nlh, CTA_HELP_NAME, "ftp");
		mnl_attr_nest_end(nlh, n);
	}
	if (s->master) {
		struct spec ms = *s;

		put_tuple(nlh, &ms, CTA_TUPLE_MASTER, s->osrc, s->odst, 40000, 21);
	}
	if (s->seqadj) {
		n = mnl_attr_nest_start(nlh, CTA_SEQ_ADJ_ORIG);
		mnl_attr_put_u32(nlh, CTA_SEQADJ_CORRECTION_POS, htonl(1));
		mnl_attr_nest_end(nlh, n);
	}
	if (s->unknown_attrs) {
		mnl_attr_put_u32(nlh, 250, 1); /* from a future kernel */
		mnl_attr_put_strz(nlh, CTA_SECCTX, "whatever");
	}
	return nlh;
}

static const struct spec tcp4 = {
	.type = IPCTNL_MSG_CT_NEW,
	.flags = NLM_F_CREATE | NLM_F_EXCL,
	.family = AF_INET,
	.proto = IPPROTO_TCP,
	.osrc = "192.0.2.10",
	.odst = "198.51.100.20",
	.osport = 40000,
	.odport = 80,
	.rsrc = "198.51.100.20",
	.rdst = "192.0.2.10",
	.rsport = 80,
	.rdport = 40000,
	.status = IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY,
	.mark = 0x11,
	.timeout = 431999,
	.id = 0xabcdef,
	.tcp_info = true,
	.tcp_state = TCP_CONNTRACK_ESTABLISHED,
	.flags_orig = IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_WINDOW_SCALE,
	.flags_reply = IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_MAXACK_SET,
	.counters = true,
};

static __be32 ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void test_valid(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pfd_ct_entry e;
	enum pfd_ct_event ev;
	struct spec s;
	struct in6_addr a6;

	/* NEW event, IPv4 TCP, every field the daemon uses. */
	T_OK(pfd_ct_parse(build(buf, &tcp4), &e, &ev), "tcp4 new: parses");
	T_EQ(ev, PFD_CT_EV_NEW, "tcp4 new: event");
	T_EQ(e.orig.family, AF_INET, "tcp4 new: family");
	T_EQ(e.orig.l4proto, IPPROTO_TCP, "tcp4 new: proto");
	T_EQ(e.orig.src[0], ip4("192.0.2.10"), "tcp4 new: orig src");
	T_EQ(e.orig.dst[0], ip4("198.51.100.20"), "tcp4 new: orig dst");
	T_EQ(e.orig.src[1] | e.orig.src[2] | e.orig.src[3], 0, "tcp4 new: v4 tail zero");
	T_EQ(e.orig.sport, htons(40000), "tcp4 new: orig sport");
	T_EQ(e.orig.dport, htons(80), "tcp4 new: orig dport");
	T_EQ(e.reply.src[0], ip4("198.51.100.20"), "tcp4 new: reply src");
	T_EQ(e.reply.dport, htons(40000), "tcp4 new: reply dport");
	T_EQ(e.status, IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY, "tcp4 new: status");
	T_EQ(e.mark, 0x11, "tcp4 new: mark");
	T_TRUE(e.has_timeout && e.timeout == 431999, "tcp4 new: timeout");
	T_EQ(e.id, 0xabcdef, "tcp4 new: id");
	T_EQ(e.zone, 0, "tcp4 new: zone");
	T_TRUE(e.has_tcp_state && e.tcp_state == TCP_CONNTRACK_ESTABLISHED, "tcp4 new: state");
	T_EQ(e.tcp_flags_orig, IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_WINDOW_SCALE,
	     "tcp4 new: flags orig");
	T_EQ(e.tcp_flags_reply, IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_MAXACK_SET,
	     "tcp4 new: flags reply");
	T_EQ(e.orig_packets, 10, "tcp4 new: orig packets");
	T_EQ(e.orig_bytes, 1000, "tcp4 new: orig bytes");
	T_EQ(e.reply_packets, 20, "tcp4 new: reply packets");
	T_EQ(e.reply_bytes, 9000000000ULL, "tcp4 new: 64-bit reply bytes");
	T_TRUE(!e.has_helper && !e.has_master && !e.has_seqadj,
	       "tcp4 new: no helper/master/seqadj");

	/* The event type follows the message type and flags. */
	s = tcp4;
	s.flags = 0;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "update: parses");
	T_EQ(ev, PFD_CT_EV_UPDATE, "update: event");
	s.flags = NLM_F_MULTI;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "dump part: parses");
	T_EQ(ev, PFD_CT_EV_NEW, "dump part: reported as NEW");
	s.type = IPCTNL_MSG_CT_DELETE;
	s.flags = 0;
	s.timeout = 0;
	s.tcp_info = false;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "destroy: parses");
	T_EQ(ev, PFD_CT_EV_DESTROY, "destroy: event");
	T_TRUE(!e.has_timeout && !e.has_tcp_state, "destroy: no timeout, no state");

	/* IPv6 UDP through DNAT: the reply tuple names the real server and
	 * port; zone and 32-bit counters. */
	s = (struct spec){
		.type = IPCTNL_MSG_CT_NEW,
		.flags = 0,
		.family = AF_INET6,
		.proto = IPPROTO_UDP,
		.osrc = "2001:db8:1::10",
		.odst = "2001:db8:ffff::1",
		.osport = 5353,
		.odport = 53,
		.rsrc = "2001:db8:2::53",
		.rdst = "2001:db8:1::10",
		.rsport = 5300,
		.rdport = 5353,
		.status = IPS_CONFIRMED | IPS_ASSURED | IPS_DST_NAT | IPS_DST_NAT_DONE,
		.mark = 0xffffffff,
		.timeout = 120,
		.zone = 7,
		.counters = true,
		.counters32 = true,
	};
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "udp6 dnat: parses");
	T_EQ(ev, PFD_CT_EV_UPDATE, "udp6 dnat: event");
	T_EQ(e.orig.family, AF_INET6, "udp6 dnat: family");
	inet_pton(AF_INET6, "2001:db8:2::53", &a6);
	T_BYTES(e.reply.src, 16, &a6, 16, "udp6 dnat: reply src is the real server");
	inet_pton(AF_INET6, "2001:db8:ffff::1", &a6);
	T_BYTES(e.orig.dst, 16, &a6, 16, "udp6 dnat: orig dst is the public address");
	T_EQ(e.reply.sport, htons(5300), "udp6 dnat: reply sport is the real port");
	T_EQ(e.zone, 7, "udp6 dnat: zone");
	T_EQ(e.mark, 0xffffffff, "udp6 dnat: mark");
	T_EQ(e.status & IPS_DST_NAT, IPS_DST_NAT, "udp6 dnat: status");
	T_EQ(e.reply_bytes, 3000000000ULL, "udp6 dnat: 32-bit counters");
	T_TRUE(!e.has_tcp_state, "udp6 dnat: no tcp state");

	/* SNAT (masquerade): reply dst is the router's address and port. */
	s = tcp4;
	s.rdst = "198.51.100.1";
	s.rdport = 61000;
	s.status |= IPS_SRC_NAT | IPS_SRC_NAT_DONE;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "tcp4 snat: parses");
	T_EQ(e.reply.dst[0], ip4("198.51.100.1"), "tcp4 snat: reply dst");
	T_EQ(e.reply.dport, htons(61000), "tcp4 snat: reply dport");

	/* Helper, expectation master, sequence adjustment: presence flags. */
	s = tcp4;
	s.helper = s.master = s.seqadj = true;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "helper/master/seqadj: parses");
	T_TRUE(e.has_helper, "helper: flagged");
	T_TRUE(e.has_master, "master: flagged");
	T_TRUE(e.has_seqadj, "seqadj: flagged");

	/* Unknown attributes, at the top and inside a nest: ignored. */
	s = tcp4;
	s.unknown_attrs = true;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "unknown attributes: ignored");
	T_EQ(e.orig.dst[0], ip4("198.51.100.20"), "unknown attributes: fields still read");

	/* ICMP: no ports, still a valid entry. */
	s = tcp4;
	s.proto = IPPROTO_ICMP;
	s.tcp_info = false;
	T_OK(pfd_ct_parse(build(buf, &s), &e, &ev), "icmp: parses");
	T_TRUE(e.orig.l4proto == IPPROTO_ICMP && !e.orig.sport && !e.orig.dport, "icmp: no ports");
}

struct bad_case {
	const char *name;
	void (*mutate)(struct spec *s);
	int want;
};

static void m_no_orig(struct spec *s)
{
	s->no_orig = true;
}
static void m_no_reply(struct spec *s)
{
	s->no_reply = true;
}
static void m_no_ports(struct spec *s)
{
	s->no_ports = true;
}
static void m_no_protonum(struct spec *s)
{
	s->no_protonum = true;
}
static void m_bad_status(struct spec *s)
{
	s->bad_len = 1;
}
static void m_bad_v4(struct spec *s)
{
	s->bad_len = 2;
}
static void m_bad_flags(struct spec *s)
{
	s->bad_len = 3;
}
static void m_bad_zone(struct spec *s)
{
	s->zone = 3;
	s->bad_len = 4;
}
static void m_bad_protonum(struct spec *s)
{
	s->bad_len = 5;
}
static void m_family(struct spec *s)
{
	s->family = AF_BRIDGE;
}
static void m_type(struct spec *s)
{
	s->type = IPCTNL_MSG_CT_GET_STATS_CPU;
}

static const struct bad_case bad_cases[] = {
	{ "missing orig tuple", m_no_orig, -EINVAL },
	{ "missing reply tuple", m_no_reply, -EINVAL },
	{ "tcp without ports", m_no_ports, -EINVAL },
	{ "tuple without protonum", m_no_protonum, -EINVAL },
	{ "status of 2 bytes", m_bad_status, -EINVAL },
	{ "ipv4 address of 16 bytes", m_bad_v4, -EINVAL },
	{ "tcp flags of 1 byte", m_bad_flags, -EINVAL },
	{ "zone of 4 bytes", m_bad_zone, -EINVAL },
	{ "protonum of 2 bytes", m_bad_protonum, -EINVAL },
	{ "bridge family", m_family, -EOPNOTSUPP },
	{ "stats message", m_type, -EOPNOTSUPP },
};

static void test_malformed(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pfd_ct_entry e;
	enum pfd_ct_event ev;
	struct nlmsghdr *nlh;
	struct nlattr *a;
	unsigned int i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct spec s = tcp4;

		bad_cases[i].mutate(&s);
		T_EQ(pfd_ct_parse(build(buf, &s), &e, &ev), bad_cases[i].want, bad_cases[i].name);
	}

	/* Another subsystem (expectations) is not a conntrack entry. */
	nlh = build(buf, &tcp4);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW;
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EOPNOTSUPP, "expectation subsystem");

	/* Shorter than the nfgenmsg header. */
	nlh = build(buf, &tcp4);
	nlh->nlmsg_len = NLMSG_LENGTH(2);
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EINVAL, "no room for nfgenmsg");

	/* Cut in the middle of the last attribute. */
	nlh = build(buf, &tcp4);
	nlh->nlmsg_len -= 3;
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EINVAL, "truncated last attribute");

	/* An attribute whose length runs past the message. */
	nlh = build(buf, &tcp4);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	a->nla_len = (__u16)(nlh->nlmsg_len + 8);
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EINVAL, "attribute longer than the message");

	/* An attribute shorter than its own header. */
	nlh = build(buf, &tcp4);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	a->nla_len = 2;
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EINVAL, "attribute shorter than its header");

	/* A nested attribute whose inner length overruns the nest. */
	nlh = build(buf, &tcp4);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)); /* CTA_TUPLE_ORIG */
	((struct nlattr *)mnl_attr_get_payload(a))->nla_len = (__u16)(a->nla_len + 4);
	T_EQ(pfd_ct_parse(nlh, &e, &ev), -EINVAL, "nested length overruns its nest");
}

/* Seeded random damage: random bytes flipped and random truncation of valid
 * messages. The parser must return 0, -EINVAL or -EOPNOTSUPP, and read only
 * inside nlmsg_len (the copy is exactly that long, on the heap). */
static void test_random(void)
{
	const char *env = getenv("T_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct spec specs[3] = { tcp4, tcp4, tcp4 };
	int i, bad = 0, ok = 0, refused = 0;

	specs[1].family = AF_INET6;
	specs[1].osrc = specs[1].rdst = "2001:db8::1";
	specs[1].odst = specs[1].rsrc = "2001:db8::2";
	specs[2].helper = specs[2].master = specs[2].seqadj = true;
	srandom(seed);
	for (i = 0; i < 30000; i++) {
		struct nlmsghdr *nlh = build(buf, &specs[i % 3]);
		unsigned int len = nlh->nlmsg_len, flips = 1 + random() % 4, k;
		struct pfd_ct_entry e;
		enum pfd_ct_event ev;
		char *copy;
		int err;

		for (k = 0; k < flips; k++) {
			unsigned int off =
				sizeof(struct nlmsghdr) + random() % (len - sizeof(*nlh));

			buf[off] = (char)random();
		}
		if (random() % 2)
			len = sizeof(struct nlmsghdr) + random() % (len - sizeof(*nlh) + 1);
		nlh->nlmsg_len = len;
		copy = malloc(len);
		if (!copy)
			break;
		memcpy(copy, buf, len);
		err = pfd_ct_parse((struct nlmsghdr *)copy, &e, &ev);
		free(copy);
		if (err == 0)
			ok++;
		else if (err == -EINVAL || err == -EOPNOTSUPP)
			refused++;
		else
			bad++;
	}
	if (bad)
		printf("random: seed %u (rerun with T_SEED=%u)\n", seed, seed);
	T_EQ(bad, 0, "random damage: only 0, -EINVAL or -EOPNOTSUPP");
	T_TRUE(refused > 0 && ok + refused == 30000, "random damage: all 30000 handled");
}

int main(void)
{
	test_valid();
	test_malformed();
	test_random();
	return t_done();
}
