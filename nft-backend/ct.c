// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conntrack over ctnetlink (see ct.h): the event socket, dumps, and the three
 * updates pfd makes (timeout, TCP flags, mark). Messages are walked attribute
 * by attribute with bounds checks of our own rather than with
 * libnetfilter_conntrack's parser, because that library exit()s on what it
 * considers ABI breakage and hides truncation: here a bad message is counted
 * and skipped, never fatal, and unknown attributes are ignored so that newer
 * kernels keep working.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "nft-backend/ct.h"
#include "nft-backend/nl.h"

/* Datagrams read per pfd_ct_events_read call: a flood of events must not
 * starve the rest of the daemon's loop; the fd stays readable and the loop
 * comes back. */
#define CT_READ_BUDGET 1024

struct pfd_ct {
	struct pfd_nl ev;   /* NEW/UPDATE/DESTROY groups, non-blocking */
	struct pfd_nl dump; /* dumps: the callback may issue updates */
	struct pfd_nl req;  /* updates */
	struct pfd_ct_opts opts;
	struct pfd_ct_stats stats;
	bool no_kernel_filter; /* the kernel refused CTA_STATUS_MASK */
	bool dump_cancel;      /* pfd_ct_dump_cancel() */
};

/* Attribute table of one nest or message payload: tb[type] for each type up
 * to max (the last one wins, as in the kernel), unknown types skipped. A
 * length field that points past the end is malformed. */
static int attr_table(const void *data, size_t len, const struct nlattr **tb, unsigned int max)
{
	const struct nlattr *a = data;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while (len >= sizeof(*a)) {
		size_t step;
		unsigned int type = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < sizeof(*a) || a->nla_len > len)
			return -EINVAL;
		if (type <= max)
			tb[type] = a;
		step = MNL_ALIGN(a->nla_len);
		if (step > len)
			step = len;
		len -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return len ? -EINVAL : 0;
}

static int nest_table(const struct nlattr *nest, const struct nlattr **tb, unsigned int max)
{
	return attr_table(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb, max);
}

/* Fixed-size payloads: anything but the exact size is malformed. */
static int attr_copy(const struct nlattr *a, void *dst, size_t size)
{
	if (mnl_attr_get_payload_len(a) != size)
		return -EINVAL;
	memcpy(dst, mnl_attr_get_payload(a), size); /* 64-bit values may be unaligned */
	return 0;
}

static int attr_be32(const struct nlattr *a, __u32 *v)
{
	__be32 be;
	int err = attr_copy(a, &be, sizeof(be));

	if (!err)
		*v = ntohl(be);
	return err;
}

static int attr_be64(const struct nlattr *a, __u64 *v)
{
	__u64 be;
	int err = attr_copy(a, &be, sizeof(be));

	if (!err)
		*v = be64toh(be);
	return err;
}

static int parse_ip(const struct nlattr *nest, struct pfd_ct_tuple *t)
{
	const struct nlattr *tb[CTA_IP_MAX + 1];
	int err = nest_table(nest, tb, CTA_IP_MAX);

	if (err)
		return err;
	if (t->family == AF_INET) {
		if (!tb[CTA_IP_V4_SRC] || !tb[CTA_IP_V4_DST])
			return -EINVAL;
		err = attr_copy(tb[CTA_IP_V4_SRC], t->src, 4);
		if (!err)
			err = attr_copy(tb[CTA_IP_V4_DST], t->dst, 4);
		return err;
	}
	if (!tb[CTA_IP_V6_SRC] || !tb[CTA_IP_V6_DST])
		return -EINVAL;
	err = attr_copy(tb[CTA_IP_V6_SRC], t->src, 16);
	if (!err)
		err = attr_copy(tb[CTA_IP_V6_DST], t->dst, 16);
	return err;
}

static bool proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

static int parse_proto(const struct nlattr *nest, struct pfd_ct_tuple *t)
{
	const struct nlattr *tb[CTA_PROTO_MAX + 1];
	int err = nest_table(nest, tb, CTA_PROTO_MAX);

	if (err)
		return err;
	if (!tb[CTA_PROTO_NUM])
		return -EINVAL;
	err = attr_copy(tb[CTA_PROTO_NUM], &t->l4proto, 1);
	if (err)
		return err;
	if (!proto_has_ports(t->l4proto))
		return 0; /* ICMP id/type/code are not pfd's business */
	/* The kernel always reports both ports for these protocols; an
	 * entry without them cannot be matched against packets. */
	if (!tb[CTA_PROTO_SRC_PORT] || !tb[CTA_PROTO_DST_PORT])
		return -EINVAL;
	err = attr_copy(tb[CTA_PROTO_SRC_PORT], &t->sport, 2);
	if (!err)
		err = attr_copy(tb[CTA_PROTO_DST_PORT], &t->dport, 2);
	return err;
}

static int parse_tuple(const struct nlattr *nest, __u8 family, struct pfd_ct_tuple *t)
{
	const struct nlattr *tb[CTA_TUPLE_MAX + 1];
	int err = nest_table(nest, tb, CTA_TUPLE_MAX);

	if (err)
		return err;
	if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO])
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->family = family;
	err = parse_ip(tb[CTA_TUPLE_IP], t);
	if (!err)
		err = parse_proto(tb[CTA_TUPLE_PROTO], t);
	return err;
}

static int parse_counters(const struct nlattr *nest, __u64 *packets, __u64 *bytes)
{
	const struct nlattr *tb[CTA_COUNTERS_MAX + 1];
	__u32 v32;
	int err = nest_table(nest, tb, CTA_COUNTERS_MAX);

	if (err)
		return err;
	if (tb[CTA_COUNTERS_PACKETS])
		err = attr_be64(tb[CTA_COUNTERS_PACKETS], packets);
	else if (tb[CTA_COUNTERS32_PACKETS] && !(err = attr_be32(tb[CTA_COUNTERS32_PACKETS], &v32)))
		*packets = v32;
	if (err)
		return err;
	if (tb[CTA_COUNTERS_BYTES])
		err = attr_be64(tb[CTA_COUNTERS_BYTES], bytes);
	else if (tb[CTA_COUNTERS32_BYTES] && !(err = attr_be32(tb[CTA_COUNTERS32_BYTES], &v32)))
		*bytes = v32;
	return err;
}

static int parse_protoinfo(const struct nlattr *nest, struct pfd_ct_entry *e)
{
	const struct nlattr *tb[CTA_PROTOINFO_MAX + 1], *tcp[CTA_PROTOINFO_TCP_MAX + 1];
	struct nf_ct_tcp_flags f;
	int err = nest_table(nest, tb, CTA_PROTOINFO_MAX);

	if (err)
		return err;
	if (!tb[CTA_PROTOINFO_TCP])
		return 0; /* SCTP, DCCP: not offloaded, nothing to read */
	err = nest_table(tb[CTA_PROTOINFO_TCP], tcp, CTA_PROTOINFO_TCP_MAX);
	if (err)
		return err;
	if (tcp[CTA_PROTOINFO_TCP_STATE]) {
		err = attr_copy(tcp[CTA_PROTOINFO_TCP_STATE], &e->tcp_state, 1);
		if (err)
			return err;
		e->has_tcp_state = 1;
	}
	if (tcp[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL]) {
		err = attr_copy(tcp[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL], &f, sizeof(f));
		if (err)
			return err;
		e->tcp_flags_orig = f.flags;
	}
	if (tcp[CTA_PROTOINFO_TCP_FLAGS_REPLY]) {
		err = attr_copy(tcp[CTA_PROTOINFO_TCP_FLAGS_REPLY], &f, sizeof(f));
		if (err)
			return err;
		e->tcp_flags_reply = f.flags;
	}
	return 0;
}

int pfd_ct_parse(const struct nlmsghdr *nlh, struct pfd_ct_entry *e, enum pfd_ct_event *ev)
{
	const struct nlattr *tb[CTA_MAX + 1];
	const struct nfgenmsg *nfg;
	__be16 zone;
	int err;

	memset(e, 0, sizeof(*e));
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)))
		return -EINVAL;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -EOPNOTSUPP;
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case IPCTNL_MSG_CT_DELETE:
		*ev = PFD_CT_EV_DESTROY;
		break;
	case IPCTNL_MSG_CT_NEW:
		/* Events for new entries carry CREATE; dump parts carry
		 * MULTI; an event with neither is an update
		 * (ctnetlink_conntrack_event). */
		*ev = nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_MULTI) ? PFD_CT_EV_NEW :
									PFD_CT_EV_UPDATE;
		break;
	default:
		return -EOPNOTSUPP; /* expectations, stats, ... */
	}
	nfg = mnl_nlmsg_get_payload(nlh);
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return -EOPNOTSUPP;

	err = attr_table(mnl_nlmsg_get_payload_offset(nlh, sizeof(*nfg)),
			 nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*nfg)), tb, CTA_MAX);
	if (err)
		return err;
	if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY])
		return -EINVAL;
	err = parse_tuple(tb[CTA_TUPLE_ORIG], nfg->nfgen_family, &e->orig);
	if (!err)
		err = parse_tuple(tb[CTA_TUPLE_REPLY], nfg->nfgen_family, &e->reply);
	if (err)
		return err;
	/* Both directions of one entry always have the same protocol. */
	if (e->orig.l4proto != e->reply.l4proto)
		return -EINVAL;

	if (tb[CTA_ID] && (err = attr_be32(tb[CTA_ID], &e->id)))
		return err;
	if (tb[CTA_ZONE]) {
		err = attr_copy(tb[CTA_ZONE], &zone, sizeof(zone));
		if (err)
			return err;
		e->zone = ntohs(zone);
	}
	if (tb[CTA_STATUS] && (err = attr_be32(tb[CTA_STATUS], &e->status)))
		return err;
	if (tb[CTA_MARK] && (err = attr_be32(tb[CTA_MARK], &e->mark)))
		return err;
	if (tb[CTA_TIMEOUT]) {
		err = attr_be32(tb[CTA_TIMEOUT], &e->timeout);
		if (err)
			return err;
		e->has_timeout = true;
	}
	if (tb[CTA_PROTOINFO] && (err = parse_protoinfo(tb[CTA_PROTOINFO], e)))
		return err;
	if (tb[CTA_COUNTERS_ORIG] &&
	    (err = parse_counters(tb[CTA_COUNTERS_ORIG], &e->orig_packets, &e->orig_bytes)))
		return err;
	if (tb[CTA_COUNTERS_REPLY] &&
	    (err = parse_counters(tb[CTA_COUNTERS_REPLY], &e->reply_packets, &e->reply_bytes)))
		return err;
	/* Presence is what matters for these; their content is the helper's. */
	e->has_helper = tb[CTA_HELP] != NULL;
	e->has_master = tb[CTA_TUPLE_MASTER] != NULL;
	e->has_seqadj = tb[CTA_SEQ_ADJ_ORIG] || tb[CTA_SEQ_ADJ_REPLY];
	return 0;
}

/* Parses and delivers one message; counts what is skipped. */
static void ct_deliver(struct pfd_ct *ct, const struct nlmsghdr *nlh, __u32 status_mask,
		       __u32 status_value)
{
	struct pfd_ct_entry e;
	enum pfd_ct_event ev;
	int err;

	if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return; /* NOOP, ERROR, DONE, OVERRUN: not events */
	err = pfd_ct_parse(nlh, &e, &ev);
	if (err == -EOPNOTSUPP) {
		ct->stats.unknown++;
		return;
	}
	if (err) {
		ct->stats.malformed++;
		return;
	}
	/* Re-checked here: the kernel may not know the status filter. */
	if ((e.status & status_mask) != status_value)
		return;
	ct->stats.events++;
	if (ct->opts.cb)
		ct->opts.cb(ct->opts.arg, ev, &e);
}

/* Every update pfd makes comes back as an UPDATE event: ctnetlink reports
 * the change to all listeners, with the requester's port id in nlmsg_pid
 * (ctnetlink_conntrack_event; packet-driven events carry 0). Refreshing the
 * timeouts of tens of thousands of flows would then fill the event socket
 * with pfd's own echoes and overflow it (ENOBUFS, a full resync) on every
 * refresh round. A socket filter drops them in the kernel, before they take
 * buffer space; pfd knows what it changed. */
static int ignore_own_updates(struct pfd_ct *ct)
{
	struct sock_filter code[] = {
		/* A = nlmsg_pid; classic BPF loads words big-endian. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(ct->req.portid), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),	       /* ours: drop */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff), /* everything else */
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (setsockopt(ct->ev.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return -errno;
	return 0;
}

int pfd_ct_open(struct pfd_ct **out, const struct pfd_ct_opts *opts)
{
	static const unsigned int groups[] = {
		NFNLGRP_CONNTRACK_NEW,
		NFNLGRP_CONNTRACK_UPDATE,
		NFNLGRP_CONNTRACK_DESTROY,
	};
	struct pfd_ct *ct;
	unsigned int i;
	int err;

	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	if (opts)
		ct->opts = *opts;
	if (ct->opts.rcvbuf < 0) {
		err = -EINVAL;
		goto err_free;
	}
	err = pfd_nl_open(&ct->ev, NETLINK_NETFILTER, ct->opts.rcvbuf, true);
	if (err)
		goto err_free;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		err = pfd_nl_join(&ct->ev, groups[i]);
		if (err)
			goto err_close_ev;
	}
	err = pfd_nl_open(&ct->dump, NETLINK_NETFILTER, 0, false);
	if (err)
		goto err_close_ev;
	err = pfd_nl_open(&ct->req, NETLINK_NETFILTER, 0, false);
	if (err)
		goto err_close_dump;
	err = ignore_own_updates(ct);
	if (err)
		goto err_close_req;
	*out = ct;
	return 0;

err_close_req:
	pfd_nl_close(&ct->req);
err_close_dump:
	pfd_nl_close(&ct->dump);
err_close_ev:
	pfd_nl_close(&ct->ev);
err_free:
	free(ct);
	return err;
}

void pfd_ct_close(struct pfd_ct *ct)
{
	if (!ct)
		return;
	pfd_nl_close(&ct->req);
	pfd_nl_close(&ct->dump);
	pfd_nl_close(&ct->ev);
	free(ct);
}

int pfd_ct_events_fd(const struct pfd_ct *ct)
{
	return ct->ev.fd;
}

int pfd_ct_events_rcvbuf(const struct pfd_ct *ct)
{
	return ct->ev.rcvbuf;
}

const struct pfd_ct_stats *pfd_ct_get_stats(const struct pfd_ct *ct)
{
	return &ct->stats;
}

int pfd_ct_events_read(struct pfd_ct *ct)
{
	int ret = 0, i;

	for (i = 0; i < CT_READ_BUDGET; i++) {
		const struct nlmsghdr *nlh;
		bool foreign;
		ssize_t n = pfd_nl_recv(&ct->ev, ct->ev.buf, PFD_NL_BUF_SIZE, &foreign);
		size_t left;

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			/* Events were lost; the socket itself is fine. Keep
			 * reading what is queued, the caller resyncs. */
			ct->stats.overruns++;
			ret = -ENOBUFS;
			continue;
		}
		if (n == -EMSGSIZE) {
			ct->stats.malformed++;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (foreign) {
			ct->stats.foreign++;
			continue;
		}
		for (nlh = (const struct nlmsghdr *)ct->ev.buf, left = (size_t)n;
		     pfd_nl_msg_ok(nlh, left); nlh = pfd_nl_next(nlh, &left))
			ct_deliver(ct, nlh, 0, 0);
		if (left)
			ct->stats.malformed++; /* a truncated trailing message */
	}
	return ret;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int pfd_ct_events_flush(struct pfd_ct *ct, __u64 budget_ns)
{
	__u64 until = mono_ns() + budget_ns;
	unsigned int n = 0;

	for (;;) {
		/* MSG_TRUNC: the datagram is dropped whatever its size */
		ssize_t r = recv(ct->ev.fd, ct->ev.buf, PFD_NL_BUF_SIZE, MSG_DONTWAIT | MSG_TRUNC);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS)
				ct->stats.overruns++;
			else if (errno != EINTR)
				return -errno;
			continue;
		}
		ct->stats.discarded++;
		if (++n % 256 == 0 && mono_ns() > until)
			return -EBUSY;
	}
}

struct ct_dump_arg {
	struct pfd_ct *ct;
	__u32 mask, value;
};

static int ct_dump_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct ct_dump_arg *d = arg;

	/* pfd_nl_request stops at once; pfd_ct_dump opens the socket anew */
	if (d->ct->dump_cancel)
		return -ECANCELED;
	if (nlh->nlmsg_type >= NLMSG_MIN_TYPE)
		d->ct->stats.dumped++;
	ct_deliver(d->ct, nlh, d->mask, d->value);
	return 0;
}

static int ct_dump_family_cb(struct pfd_ct *ct, __u8 family, __u32 mask, __u32 value, bool filter,
			     pfd_nl_msg_cb cb, void *arg)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family; /* the kernel filters by l3 family */
	nfg->version = NFNETLINK_V0;
	if (filter && mask) {
		/* ctnetlink_alloc_filter (5.19+): (status & mask) == value. */
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl(value & mask));
		mnl_attr_put_u32(nlh, CTA_STATUS_MASK, htonl(mask));
	}
	return pfd_nl_request(&ct->dump, nlh, cb, arg);
}

static int ct_dump_family(struct pfd_ct *ct, __u8 family, __u32 mask, __u32 value, bool filter)
{
	struct ct_dump_arg d = { .ct = ct, .mask = mask, .value = value };

	return ct_dump_family_cb(ct, family, mask, value, filter, ct_dump_cb, &d);
}

void pfd_ct_dump_cancel(struct pfd_ct *ct)
{
	ct->dump_cancel = true;
}

void pfd_ct_set_pulse(struct pfd_ct *ct, void (*fn)(void *arg), void *arg)
{
	ct->dump.pulse = ct->req.pulse = fn;
	ct->dump.pulse_arg = ct->req.pulse_arg = arg;
}

void pfd_ct_set_dump_pulse(struct pfd_ct *ct, void (*fn)(void *arg), void *arg)
{
	ct->dump.pulse = fn;
	ct->dump.pulse_arg = arg;
}

/* A cancelled dump left the rest of its reply in the socket: a new socket
 * drops it with the old one (reading 100k entries to the end takes
 * hundreds of milliseconds). -ECANCELED, or the error of the new socket
 * (the next dump then fails with -EBADF until pfd restarts). */
static int dump_socket_renew(struct pfd_ct *ct)
{
	void (*pulse)(void *) = ct->dump.pulse;
	void *pulse_arg = ct->dump.pulse_arg;
	int err;

	pfd_nl_close(&ct->dump);
	err = pfd_nl_open(&ct->dump, NETLINK_NETFILTER, 0, false);
	if (err) {
		ct->dump.fd = -1;
		return err;
	}
	ct->dump.pulse = pulse;
	ct->dump.pulse_arg = pulse_arg;
	return -ECANCELED;
}

int pfd_ct_dump(struct pfd_ct *ct, __u32 status_mask, __u32 status_value)
{
	static const __u8 families[] = { AF_INET, AF_INET6 };
	unsigned int i;
	int err;

	/* A value bit outside the mask could never match. */
	if (status_value & ~status_mask)
		return -EINVAL;
	ct->dump_cancel = false;
	for (i = 0; i < sizeof(families); i++) {
		if (ct->dump_cancel)
			return -ECANCELED;
		err = ct_dump_family(ct, families[i], status_mask, status_value,
				     !ct->no_kernel_filter);
		if ((err == -EINVAL || err == -EOPNOTSUPP) && status_mask &&
		    !ct->no_kernel_filter) {
			/* An older kernel refuses the filter: filter here. */
			ct->no_kernel_filter = true;
			err = ct_dump_family(ct, families[i], status_mask, status_value, false);
		}
		if (err == -ECANCELED)
			return dump_socket_renew(ct);
		/* Conntrack changes during any dump; the events subscribed
		 * before it carry those changes, so a dump the kernel flags
		 * as interrupted is still complete enough (every entry that
		 * lived through it was delivered). */
		if (err == -EINTR)
			ct->stats.dumps_intr++;
		else if (err)
			return err;
	}
	ct->stats.dumps++;
	return 0;
}

/* An update request for e's original tuple and zone; the caller adds the
 * attributes to change. Only TCP and UDP: pfd offloads nothing else, and
 * other protocols' tuples need attributes (ICMP id/type/code) it does not
 * keep. */
static int ct_msg_start(struct nlmsghdr **out, char *buf, __u16 msg_type,
			const struct pfd_ct_entry *e)
{
	const struct pfd_ct_tuple *t = &e->orig;
	struct nlattr *tuple, *ip, *proto;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	size_t alen;

	if ((t->family != AF_INET && t->family != AF_INET6) ||
	    (t->l4proto != IPPROTO_TCP && t->l4proto != IPPROTO_UDP))
		return -EOPNOTSUPP;
	alen = t->family == AF_INET ? 4 : 16;

	nlh = mnl_nlmsg_put_header(buf);
	/* CT_NEW without NLM_F_CREATE changes an existing entry, or fails
	 * with ENOENT: it never creates one. CT_GET reads it. */
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg_type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = t->family;
	nfg->version = NFNETLINK_V0;

	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, t->family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, alen, t->src);
	mnl_attr_put(nlh, t->family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST, alen, t->dst);
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->l4proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t->sport);
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t->dport);
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tuple);
	/* The same tuple can exist in several zones. */
	mnl_attr_put_u16(nlh, CTA_ZONE, htons(e->zone));
	*out = nlh;
	return 0;
}

static int ct_update_start(struct nlmsghdr **out, char *buf, const struct pfd_ct_entry *e)
{
	return ct_msg_start(out, buf, IPCTNL_MSG_CT_NEW, e);
}

/* TCP: protoinfo that sets and clears IP_CT_TCP_FLAG_* bits on both
 * directions (nlattr_to_tcp: seen[dir].flags = (flags & ~mask) | (f.flags &
 * mask)). */
static void put_tcp_flags(struct nlmsghdr *nlh, __u8 set, __u8 clear)
{
	struct nf_ct_tcp_flags f = { .flags = set, .mask = set | clear };
	struct nlattr *pinfo, *tcp;

	pinfo = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
	mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(f), &f);
	mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(f), &f);
	mnl_attr_nest_end(nlh, tcp);
	mnl_attr_nest_end(nlh, pinfo);
}

int pfd_ct_set_timeout(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 seconds)
{
	return pfd_ct_refresh(ct, e, seconds, 0);
}

int pfd_ct_refresh(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 seconds, __u8 clear_tcp)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	int err = ct_update_start(&nlh, buf, e);

	if (err)
		return err;
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(seconds));
	if (clear_tcp && e->orig.l4proto == IPPROTO_TCP)
		put_tcp_flags(nlh, 0, clear_tcp);
	err = pfd_nl_request(&ct->req, nlh, NULL, NULL);
	/* EPERM: IPS_FIXED_TIMEOUT, the entry's timeout is not ours to move;
	 * an answer for the caller, not a failure. */
	if (err && err != -EPERM)
		ct->stats.update_errors++;
	return err;
}

int pfd_ct_set_tcp_flags(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u8 set, __u8 clear)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	int err;

	if (e->orig.l4proto != IPPROTO_TCP || (set & clear))
		return -EINVAL;
	err = ct_update_start(&nlh, buf, e);
	if (err)
		return err;
	put_tcp_flags(nlh, set, clear);
	err = pfd_nl_request(&ct->req, nlh, NULL, NULL);
	if (err)
		ct->stats.update_errors++;
	return err;
}

int pfd_ct_set_mark(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 value, __u32 mask)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	int err = ct_update_start(&nlh, buf, e);

	if (err)
		return err;
	/* ctnetlink_change_mark: new = (old & ~mask) ^ value, so the value is
	 * masked here to make that (old & ~mask) | (value & mask). */
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(value & mask));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	err = pfd_nl_request(&ct->req, nlh, NULL, NULL);
	if (err)
		ct->stats.update_errors++;
	return err;
}

struct get_arg {
	struct pfd_ct_entry *out;
	bool found;
};

static int ct_get_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct get_arg *g = arg;
	enum pfd_ct_event ev;

	if (!pfd_ct_parse(nlh, g->out, &ev))
		g->found = true;
	return 0;
}

int pfd_ct_get(struct pfd_ct *ct, const struct pfd_ct_entry *e, struct pfd_ct_entry *out)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct get_arg g = { .out = out };
	struct nlmsghdr *nlh;
	int err = ct_msg_start(&nlh, buf, IPCTNL_MSG_CT_GET, e);

	if (err)
		return err;
	err = pfd_nl_request(&ct->req, nlh, ct_get_cb, &g);
	if (!err && !g.found)
		err = -ENOENT;
	return err;
}

struct marked_arg {
	__u32 mask;
	pfd_ct_skip_cb skip;
	void *skip_arg;
	struct pfd_ct_ref *refs;
	size_t n, cap;
	int err;
};

static int marked_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct marked_arg *m = arg;
	struct pfd_ct_entry e;
	enum pfd_ct_event ev;

	if (pfd_ct_parse(nlh, &e, &ev) || !(e.mark & m->mask))
		return 0;
	if (e.orig.l4proto != IPPROTO_TCP && e.orig.l4proto != IPPROTO_UDP)
		return 0; /* pfd never offloads them; their marks are not its */
	if (m->skip && m->skip(m->skip_arg, &e))
		return 0;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct pfd_ct_ref *r = realloc(m->refs, cap * sizeof(*r));

		if (!r) {
			m->err = -ENOMEM;
			return -ENOMEM;
		}
		m->refs = r;
		m->cap = cap;
	}
	m->refs[m->n].orig = e.orig;
	m->refs[m->n].zone = e.zone;
	m->n++;
	return 0;
}

#define CT_CLEAR_BATCH 64

int pfd_ct_clear_marks_of(struct pfd_ct *ct, const struct pfd_ct_ref *refs, size_t n, __u32 mask,
			  __u64 *cleared)
{
	char *batch;
	size_t len = 0, i;
	unsigned int count = 0;
	__u32 first = 0;
	int err = 0, e;

	*cleared = 0;
	if (!mask || !n)
		return 0;
	batch = malloc(PFD_NL_BUF_SIZE);
	if (!batch)
		return -ENOMEM;
	for (i = 0; i <= n; i++) {
		struct pfd_ct_entry ent;
		struct nlmsghdr *nlh;

		/* CT_CLEAR_BATCH messages a datagram: their acks must fit
		 * the request socket's receive buffer, or they are lost */
		if (i < n && count < CT_CLEAR_BATCH && len + PFD_NL_REQ_SIZE <= PFD_NL_BUF_SIZE) {
			memset(&ent, 0, sizeof(ent));
			ent.orig = refs[i].orig;
			ent.zone = refs[i].zone;
			memset(batch + len, 0, PFD_NL_REQ_SIZE);
			if (ct_msg_start(&nlh, batch + len, IPCTNL_MSG_CT_NEW, &ent))
				continue;
			mnl_attr_put_u32(nlh, CTA_MARK, 0);
			mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
			/* the flow returns to the kernel: td_maxack froze
			 * while the fast path carried it, and with
			 * MAXACK_SET a legitimate RST could be judged
			 * invalid (one message does both) */
			if (ent.orig.l4proto == IPPROTO_TCP)
				put_tcp_flags(nlh, 0, IP_CT_TCP_FLAG_MAXACK_SET);
			nlh->nlmsg_flags |= NLM_F_ACK;
			nlh->nlmsg_seq = ++ct->req.seq;
			nlh->nlmsg_pid = ct->req.portid;
			if (!count)
				first = nlh->nlmsg_seq;
			count++;
			len += NLMSG_ALIGN(nlh->nlmsg_len);
			continue;
		}
		if (count) {
			/* ENOENT: the entry went meanwhile, nothing to clear */
			e = pfd_nl_batch(&ct->req, batch, len, first, count, -ENOENT, cleared);
			if (e && !err)
				err = e;
			if (e == -ETIMEDOUT || e == -EBADF)
				break;
		}
		len = 0;
		count = 0;
		if (i < n)
			i--; /* this entry did not fit: it opens the next batch */
	}
	if (err)
		ct->stats.update_errors++;
	free(batch);
	return err;
}

int pfd_ct_clear_marks(struct pfd_ct *ct, __u32 mask, pfd_ct_skip_cb skip, void *skip_arg,
		       __u64 *cleared)
{
	static const __u8 families[] = { AF_INET, AF_INET6 };
	struct marked_arg m = { .mask = mask, .skip = skip, .skip_arg = skip_arg };
	size_t i;
	int err = 0, e;

	*cleared = 0;
	if (!mask)
		return 0;
	/* The kernel's dump filter matches (mark & mask) == value; any bit
	 * of the mask is wanted here, so filter in userspace. */
	for (i = 0; i < sizeof(families); i++) {
		e = ct_dump_family_cb(ct, families[i], 0, 0, false, marked_cb, &m);
		if (m.err) {
			err = m.err;
			break;
		}
		if (e && e != -EINTR) {
			err = e;
			break;
		}
	}
	if (err)
		ct->stats.update_errors++;
	else
		err = pfd_ct_clear_marks_of(ct, m.refs, m.n, mask, cleared);
	free(m.refs);
	return err;
}
