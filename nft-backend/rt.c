// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink and xfrm for pfd (see rt.h): change events that invalidate the
 * fast path's view of routing, the kernel's own route choice for a flow, and
 * detection of policy that an XDP redirect would skip (fwmark rules, xfrm
 * policies, tc filters, tcx programs, non-default egress qdiscs). Answers come
 * from the kernel each time they are asked; pfd caches them and drops its
 * cache on the events delivered here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/netconf.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "nft-backend/netdev.h"
#include "nft-backend/nl.h"
#include "nft-backend/rt.h"

#define RT_EVENT_RCVBUF (4 << 20) /* a route flap or table load is bursty */
#define RT_READ_BUDGET	1024

/* enum bpf_attach_type values of Linux 6.6 (tcx, commit e420bed02507):
 * enumerators, so they cannot be tested with #ifndef like compat.h does. */
#define PFD_BPF_TCX_INGRESS 46
#define PFD_BPF_TCX_EGRESS  47

struct pfd_rt {
	struct pfd_nl ev;
	struct pfd_nl req;
	pfd_rt_cb cb;
	void *arg;
	/* xfrm policies, asked for per flow: a snapshot of their selectors,
	 * reused until XFRMNLGRP_POLICY reports a change. */
	struct pfd_nl xfrm_req, xfrm_ev; /* opened on first use */
	struct xfrm_selector *xfrm;
	unsigned int nxfrm;
	bool xfrm_valid;
	bool xfrm_none;		   /* no NETLINK_XFRM in this kernel */
	bool xfrm_owned;	   /* the daemon polls xfrm_ev (pfd_rt_xfrm_events_fd) */
	struct pfd_netdev *netdev; /* NULL: no netdev family (before 6.3) */
	int netdev_err;
};

int pfd_rt_open(struct pfd_rt **out, pfd_rt_cb cb, void *arg)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK,
		RTNLGRP_NEIGH,
		RTNLGRP_TC,
		RTNLGRP_IPV4_IFADDR,
		RTNLGRP_IPV4_ROUTE,
		RTNLGRP_IPV4_RULE,
		RTNLGRP_IPV6_IFADDR,
		RTNLGRP_IPV6_ROUTE,
		RTNLGRP_IPV6_RULE,
		/* forwarding (and rp_filter) switched per device or for all:
		 * the kernel stops forwarding, so must a cached fast path */
		RTNLGRP_IPV4_NETCONF,
		RTNLGRP_IPV6_NETCONF,
		/* nexthop objects (5.3+): routes by `nhid` change with them */
		RTNLGRP_NEXTHOP,
	};
	struct pfd_rt *rt = calloc(1, sizeof(*rt));
	unsigned int i;
	int err;

	if (!rt)
		return -ENOMEM;
	rt->cb = cb;
	rt->arg = arg;
	err = pfd_nl_open(&rt->ev, NETLINK_ROUTE, RT_EVENT_RCVBUF, true);
	if (err)
		goto err_free;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		err = pfd_nl_join(&rt->ev, groups[i]);
		/* A kernel without IPv6 has no IPv6 groups to join. */
		if (err && !(groups[i] == RTNLGRP_IPV6_IFADDR || groups[i] == RTNLGRP_IPV6_ROUTE ||
			     groups[i] == RTNLGRP_IPV6_RULE || groups[i] == RTNLGRP_IPV6_NETCONF ||
			     groups[i] == RTNLGRP_NEXTHOP))
			goto err_close_ev;
	}
	err = pfd_nl_open(&rt->req, NETLINK_ROUTE, 0, false);
	if (err)
		goto err_close_ev;
	/* Without it every device's XDP transmit capability is unknown, and
	 * flows take the TC datapath or stay in the kernel. */
	rt->netdev_err = pfd_netdev_open(&rt->netdev);
	*out = rt;
	return 0;

err_close_ev:
	pfd_nl_close(&rt->ev);
err_free:
	free(rt);
	return err;
}

void pfd_rt_close(struct pfd_rt *rt)
{
	if (!rt)
		return;
	pfd_nl_close(&rt->xfrm_ev);
	pfd_nl_close(&rt->xfrm_req);
	free(rt->xfrm);
	pfd_netdev_close(rt->netdev);
	pfd_nl_close(&rt->req);
	pfd_nl_close(&rt->ev);
	free(rt);
}

int pfd_rt_events_fd(const struct pfd_rt *rt)
{
	return rt->ev.fd;
}

int pfd_rt_netdev_events_fd(const struct pfd_rt *rt)
{
	return pfd_netdev_events_fd(rt->netdev);
}

static bool xfrm_drain(struct pfd_rt *rt);

static void xdp_changed(void *arg, int ifindex)
{
	struct pfd_rt *rt = arg;

	if (rt->cb)
		rt->cb(rt->arg, PFD_RT_EV_XDP, ifindex, false);
}

int pfd_rt_dev_xdp_xmit(struct pfd_rt *rt, int ifindex)
{
	__u64 f;
	int err;

	if (!rt->netdev)
		return rt->netdev_err ? rt->netdev_err : -EOPNOTSUPP;
	err = pfd_netdev_xdp_features(rt->netdev, ifindex, &f);
	if (err)
		return err;
	return !!(f & PFD_XDP_ACT_NDO_XMIT);
}

/* The payload header of each event type, checked for length before use. */
static bool has_hdr(const struct nlmsghdr *nlh, size_t size)
{
	return nlh->nlmsg_len >= NLMSG_LENGTH(size);
}

int pfd_rt_parse_event(const struct nlmsghdr *nlh, enum pfd_rt_event *ev, int *ifindex, bool *up)
{
	*ifindex = 0;
	*up = false;
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const struct rtmsg *r = NLMSG_DATA(nlh);
		const struct nlattr *a;

		if (!has_hdr(nlh, sizeof(*r)))
			return -EINVAL;
		mnl_attr_for_each (a, nlh, sizeof(*r))
			if (mnl_attr_get_type(a) == RTA_OIF &&
			    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				*ifindex = (int)mnl_attr_get_u32(a);
		*ev = PFD_RT_EV_ROUTE;
		return 0;
	}
	case RTM_NEWRULE:
	case RTM_DELRULE:
		if (!has_hdr(nlh, sizeof(struct fib_rule_hdr)))
			return -EINVAL;
		*ev = PFD_RT_EV_RULE;
		return 0;
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		/* A replaced nexthop object changes the routes that use it,
		 * and for IPv4 the kernel sends no route event for them. */
		if (!has_hdr(nlh, sizeof(struct nhmsg)))
			return -EINVAL;
		*ev = PFD_RT_EV_ROUTE;
		return 0;
	case RTM_NEWNETCONF:
	case RTM_DELNETCONF: {
		/* A forwarding switch changes what bpf_fib_lookup answers
		 * (FWD_DISABLED) without any route event: treat it as one, so
		 * the FIB cache generation moves. */
		const struct netconfmsg *c = NLMSG_DATA(nlh);
		const struct nlattr *a;

		if (!has_hdr(nlh, sizeof(*c)))
			return -EINVAL;
		mnl_attr_for_each (a, nlh, sizeof(*c))
			if (mnl_attr_get_type(a) == NETCONFA_IFINDEX &&
			    mnl_attr_validate(a, MNL_TYPE_U32) == 0 && (int)mnl_attr_get_u32(a) > 0)
				*ifindex = (int)mnl_attr_get_u32(a);
		*ev = PFD_RT_EV_NETCONF;
		return 0;
	}
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH: {
		const struct ndmsg *n = NLMSG_DATA(nlh);

		if (!has_hdr(nlh, sizeof(*n)))
			return -EINVAL;
		*ifindex = n->ndm_ifindex;
		*ev = PFD_RT_EV_NEIGH;
		return 0;
	}
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		const struct ifaddrmsg *a = NLMSG_DATA(nlh);

		if (!has_hdr(nlh, sizeof(*a)))
			return -EINVAL;
		*ifindex = (int)a->ifa_index;
		*ev = PFD_RT_EV_ADDR;
		return 0;
	}
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		const struct ifinfomsg *i = NLMSG_DATA(nlh);

		if (!has_hdr(nlh, sizeof(*i)))
			return -EINVAL;
		*ifindex = i->ifi_index;
		/* Administratively up and with carrier: otherwise nothing
		 * can leave through it and its flows must go. */
		*up = nlh->nlmsg_type == RTM_NEWLINK && (i->ifi_flags & IFF_UP) &&
		      (i->ifi_flags & IFF_RUNNING);
		*ev = PFD_RT_EV_LINK;
		return 0;
	}
	case RTM_NEWQDISC:
	case RTM_DELQDISC:
	case RTM_NEWTFILTER:
	case RTM_DELTFILTER:
	case RTM_NEWCHAIN:
	case RTM_DELCHAIN: {
		const struct tcmsg *t = NLMSG_DATA(nlh);

		if (!has_hdr(nlh, sizeof(*t)))
			return -EINVAL;
		*ifindex = t->tcm_ifindex;
		*ev = PFD_RT_EV_TC;
		return 0;
	}
	default:
		return -EOPNOTSUPP;
	}
}

int pfd_rt_events_read(struct pfd_rt *rt)
{
	int ret = 0, i;

	if (rt->netdev && pfd_netdev_events_read(rt->netdev, xdp_changed, rt) == -ENOBUFS)
		ret = -ENOBUFS;
	if (rt->xfrm_owned && xfrm_drain(rt)) {
		rt->xfrm_valid = false;
		if (rt->cb)
			rt->cb(rt->arg, PFD_RT_EV_XFRM, 0, false);
	}

	for (i = 0; i < RT_READ_BUDGET; i++) {
		const struct nlmsghdr *nlh;
		bool foreign;
		ssize_t n = pfd_nl_recv(&rt->ev, rt->ev.buf, PFD_NL_BUF_SIZE, &foreign);
		size_t left;

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			ret = -ENOBUFS; /* lost: the caller treats it as "all changed" */
			continue;
		}
		if (n == -EMSGSIZE || foreign)
			continue;
		if (n < 0)
			return (int)n;
		for (nlh = (const struct nlmsghdr *)rt->ev.buf, left = (size_t)n;
		     pfd_nl_msg_ok(nlh, left); nlh = pfd_nl_next(nlh, &left)) {
			enum pfd_rt_event ev;
			int ifindex;
			bool up;

			if (pfd_rt_parse_event(nlh, &ev, &ifindex, &up))
				continue;
			if (rt->cb)
				rt->cb(rt->arg, ev, ifindex, up);
		}
	}
	return ret;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -EAFNOSUPPORT;
}

static bool addr_is_zero(const __be32 *a, int len)
{
	int i;

	for (i = 0; i < len / 4; i++)
		if (a[i])
			return false;
	return true;
}

struct route_reply {
	int oif;
	__u8 type;
	bool seen;
	int alen;
	__be32 gw[4]; /* RTA_GATEWAY of the family; zero: on-link */
};

static int route_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct route_reply *r = arg;
	const struct rtmsg *rtm = NLMSG_DATA(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE || !has_hdr(nlh, sizeof(*rtm)))
		return -EBADMSG;
	r->seen = true;
	r->type = rtm->rtm_type;
	mnl_attr_for_each (a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->oif = (int)mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_GATEWAY &&
			 mnl_attr_get_payload_len(a) == (uint16_t)r->alen)
			memcpy(r->gw, mnl_attr_get_payload(a), (size_t)r->alen);
	}
	return 0;
}

int pfd_rt_route_oif(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		     __u32 mark, int *oif)
{
	return pfd_rt_route(rt, family, dst, src, iif, mark, oif, NULL);
}

int pfd_rt_route(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		 __u32 mark, int *oif, __be32 *gw)
{
	return pfd_rt_route_l4(rt, family, dst, src, iif, mark, NULL, oif, gw);
}

int pfd_rt_route_l4(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		    __u32 mark, const struct pfd_rt_l4 *l4, int *oif, __be32 *gw)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct route_reply r = { .alen = addr_len(family) };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int alen = addr_len(family), err;

	if (alen < 0)
		return alen;
	if (!dst || iif < 0)
		return -EINVAL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = alen * 8;
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (src && !addr_is_zero(src, alen)) {
		rtm->rtm_src_len = alen * 8;
		mnl_attr_put(nlh, RTA_SRC, alen, src);
	}
	/* With an input interface the kernel resolves the route as for a
	 * packet received there (ip_route_input, rp_filter included). */
	if (iif)
		mnl_attr_put_u32(nlh, RTA_IIF, (__u32)iif);
	if (mark)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	/* The kernel builds a packet with these headers (inet_rtm_getroute)
	 * or fills the flow key (inet6_rtm_getroute): the multipath hash
	 * then sees what the flow's packets carry. */
	if (l4 && l4->proto) {
		mnl_attr_put_u8(nlh, RTA_IP_PROTO, l4->proto);
		mnl_attr_put(nlh, RTA_SPORT, sizeof(l4->sport), &l4->sport);
		mnl_attr_put(nlh, RTA_DPORT, sizeof(l4->dport), &l4->dport);
	}
	err = pfd_nl_request(&rt->req, nlh, route_cb, &r);
	if (err)
		return err;
	if (!r.seen)
		return -ENODATA;
	if (r.type == RTN_LOCAL)
		return -EADDRNOTAVAIL; /* delivered to this host, not forwarded */
	if (r.type != RTN_UNICAST)
		return -ENETUNREACH; /* blackhole, prohibit, broadcast, ... */
	if (r.oif <= 0)
		return -ENODATA;
	*oif = r.oif;
	if (gw)
		memcpy(gw, r.gw, sizeof(r.gw));
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	int *found = arg;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWRULE || !has_hdr(nlh, sizeof(struct fib_rule_hdr)))
		return 0;
	/* The kernel reports FRA_FWMARK only when the rule matches a mark
	 * (fib_nl_fill_rule): presence is the answer. */
	mnl_attr_for_each (a, nlh, sizeof(struct fib_rule_hdr))
		if (mnl_attr_get_type(a) == FRA_FWMARK || mnl_attr_get_type(a) == FRA_FWMASK)
			*found = 1;
	return 0;
}

int pfd_rt_has_fwmark_rules(struct pfd_rt *rt, int family)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;
	int found = 0, err;

	if (family != AF_UNSPEC && addr_len(family) < 0)
		return -EAFNOSUPPORT;
	nlh->nlmsg_type = RTM_GETRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = family; /* AF_UNSPEC: every family */
	err = pfd_nl_request(&rt->req, nlh, rule_cb, &found);
	/* A kernel without IPv6 policy routing has no IPv6 rules. */
	if (err == -EAFNOSUPPORT && family == AF_INET6)
		return 0;
	return err ? err : found;
}

static bool prefix_match(const __be32 *addr, const xfrm_address_t *sel, unsigned int plen, int alen)
{
	const __u8 *a = (const __u8 *)addr, *s = (const __u8 *)sel;
	unsigned int bytes = plen / 8, bits = plen % 8;

	if (plen > (unsigned int)alen * 8)
		return false;
	if (memcmp(a, s, bytes))
		return false;
	if (bits) {
		__u8 m = (__u8)(0xff << (8 - bits));

		if ((a[bytes] & m) != (s[bytes] & m))
			return false;
	}
	return true;
}

/* Whether a policy's selector covers a->b. Ports and protocol are left out
 * on purpose: pfd's answer may be "covered" too often, never too rarely. */
bool pfd_rt_xfrm_selector_covers(const struct xfrm_selector *sel, int family, const __be32 *a,
				 const __be32 *b)
{
	int alen = addr_len(family);

	if (alen < 0)
		return false;
	if (sel->family != AF_UNSPEC && sel->family != family)
		return false;
	if (sel->family == AF_UNSPEC && (sel->prefixlen_s || sel->prefixlen_d))
		return false; /* addresses without a family cannot match */
	return prefix_match(a, &sel->saddr, sel->prefixlen_s, alen) &&
	       prefix_match(b, &sel->daddr, sel->prefixlen_d, alen);
}

struct xfrm_snap {
	struct xfrm_selector *sel;
	unsigned int n, cap;
};

static int xfrm_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct xfrm_snap *x = arg;
	const struct xfrm_userpolicy_info *p = NLMSG_DATA(nlh);
	struct xfrm_selector *sel;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY || !has_hdr(nlh, sizeof(*p)))
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		sel = realloc(x->sel, x->cap * sizeof(*sel));
		if (!sel)
			return -ENOMEM;
		x->sel = sel;
	}
	/* netlink aligns to 4 bytes, the struct (its u64 lifetimes) wants
	 * 8: copy the bytes rather than dereference the member */
	memcpy(&x->sel[x->n++], (const char *)p + offsetof(struct xfrm_userpolicy_info, sel),
	       sizeof(*sel));
	return 0;
}

/* Whether the policy snapshot may be reused: nothing arrived on the
 * XFRMNLGRP_POLICY socket since it was taken (any message, or a lost one,
 * means a policy changed). Without that socket nothing is reused. */
static bool xfrm_snapshot_fresh(struct pfd_rt *rt)
{
	bool fresh = rt->xfrm_valid && rt->xfrm_ev.buf;

	/* the event loop drains the notifications and drops the snapshot */
	if (rt->xfrm_owned)
		return fresh;
	return !xfrm_drain(rt) && fresh;
}

/* The request socket and the policy notifications: subscribed before the
 * first dump, so that no change falls between the two; without permission
 * to join, the snapshot is dumped every time. */
static int xfrm_open(struct pfd_rt *rt)
{
	int err;

	if (rt->xfrm_req.buf || rt->xfrm_none)
		return 0;
	err = pfd_nl_open(&rt->xfrm_req, NETLINK_XFRM, 0, false);
	if (err == -EPROTONOSUPPORT) {
		/* A kernel without CONFIG_XFRM_USER has no policies. */
		rt->xfrm_none = true;
		rt->nxfrm = 0;
		return 0;
	}
	if (err)
		return err;
	if (!pfd_nl_open(&rt->xfrm_ev, NETLINK_XFRM, 0, true) &&
	    pfd_nl_join(&rt->xfrm_ev, XFRMNLGRP_POLICY))
		pfd_nl_close(&rt->xfrm_ev);
	return 0;
}

int pfd_rt_xfrm_events_fd(struct pfd_rt *rt)
{
	if (xfrm_open(rt) || !rt->xfrm_ev.buf)
		return -1;
	rt->xfrm_owned = true;
	return rt->xfrm_ev.fd;
}

/* Drains the policy notifications (the event loop's job once it owns
 * them); true if the policies changed or changes were lost. */
static bool xfrm_drain(struct pfd_rt *rt)
{
	bool changed = false;
	int i;

	for (i = 0; rt->xfrm_ev.buf && i < RT_READ_BUDGET; i++) {
		bool foreign;
		ssize_t n = pfd_nl_recv(&rt->xfrm_ev, rt->xfrm_ev.buf, PFD_NL_BUF_SIZE, &foreign);

		if (n == -EAGAIN)
			break;
		if (!foreign)
			changed = true;
		if (n < 0 && n != -ENOBUFS && n != -EMSGSIZE)
			break;
	}
	return changed;
}

static int xfrm_snapshot(struct pfd_rt *rt)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct xfrm_snap x = { 0 };
	struct nlmsghdr *nlh;
	int err;

	if (xfrm_snapshot_fresh(rt))
		return 0;
	rt->xfrm_valid = false;
	if (rt->xfrm_none)
		return 0;
	err = xfrm_open(rt);
	if (err)
		return err;
	if (rt->xfrm_none)
		return 0;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct xfrm_userpolicy_info));
	err = pfd_nl_request(&rt->xfrm_req, nlh, xfrm_cb, &x);
	if (err) {
		free(x.sel);
		return err;
	}
	free(rt->xfrm);
	rt->xfrm = x.sel;
	rt->nxfrm = x.n;
	rt->xfrm_valid = true;
	return 0;
}

int pfd_rt_xfrm_covers(struct pfd_rt *rt, int family, const __be32 *src, const __be32 *dst)
{
	unsigned int i;
	int err;

	if (addr_len(family) < 0)
		return -EAFNOSUPPORT;
	if (!src || !dst)
		return -EINVAL;
	err = xfrm_snapshot(rt);
	if (err)
		return err;
	/* in, out and fwd policies, in both orientations: the reply
	 * direction of the flow is covered by the reverse selector. */
	for (i = 0; i < rt->nxfrm; i++)
		if (pfd_rt_xfrm_selector_covers(&rt->xfrm[i], family, src, dst) ||
		    pfd_rt_xfrm_selector_covers(&rt->xfrm[i], family, dst, src))
			return 1;
	return 0;
}

/* pfd's own programs are named pfd_*: by tc ("pfd_tc_fwd.bpf.o:[tc]") or by
 * libbpf ("pfd_tc_fwd:[42]"), and the kernel's name of the program too. */
static bool prog_id_is_pfd(__u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), err;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return !err && !strncmp(info.name, "pfd_", 4);
}

static bool bpf_filter_is_pfd(const struct nlattr *opts)
{
	const struct nlattr *a;
	const char *name = NULL;
	__u32 id = 0;

	mnl_attr_for_each_nested (a, opts) {
		if (mnl_attr_get_type(a) == TCA_BPF_NAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == TCA_BPF_ID &&
			 mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			id = mnl_attr_get_u32(a);
	}
	if (name && !strncmp(name, "pfd_", 4))
		return true;
	return id && prog_id_is_pfd(id);
}

struct tc_arg {
	int ifindex;
	int found;
	char default_qdisc[32];
};

static int filter_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct tc_arg *t = arg;
	const struct tcmsg *tcm = NLMSG_DATA(nlh);
	const struct nlattr *a, *opts = NULL;
	const char *kind = NULL;

	if (nlh->nlmsg_type != RTM_NEWTFILTER || !has_hdr(nlh, sizeof(*tcm)) ||
	    tcm->tcm_ifindex != t->ifindex)
		return 0;
	mnl_attr_for_each (a, nlh, sizeof(*tcm)) {
		if (mnl_attr_get_type(a) == TCA_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			kind = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == TCA_OPTIONS)
			opts = a;
	}
	if (kind && !strcmp(kind, "bpf")) {
		/* The dump lists each classifier head (no options) before
		 * its filters; only the filters say whose they are. */
		if (!opts || bpf_filter_is_pfd(opts))
			return 0;
	}
	t->found = 1;
	return 0;
}

static int dump_filters(struct pfd_rt *rt, int ifindex, __u32 parent, struct tc_arg *t)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;
	int err;

	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	err = pfd_nl_request(&rt->req, nlh, filter_cb, t);
	/* No clsact/ingress qdisc on the device: no filters there. */
	if (err == -EINVAL || err == -ENOENT)
		err = 0;
	return err;
}

/* tcx programs (6.6+) are not tc filters and do not show in the dump. */
static int query_tcx(int ifindex, int attach_type, struct tc_arg *t)
{
	__u32 ids[64], i;
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = 64);
	int err = bpf_prog_query_opts(ifindex, attach_type, &q);

	if (err) {
		err = -errno;
		/* Older kernels do not know the attach type; no BPF
		 * permission means no tcx to see either way. */
		if (err == -EINVAL || err == -EOPNOTSUPP || err == -EPERM || err == -ENODEV)
			return 0;
		return err;
	}
	for (i = 0; i < q.prog_cnt && i < 64; i++)
		if (!prog_id_is_pfd(ids[i]))
			t->found = 1;
	return 0;
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct tc_arg *t = arg;
	const struct tcmsg *tcm = NLMSG_DATA(nlh);
	const struct nlattr *a;
	const char *kind = NULL;

	if (nlh->nlmsg_type != RTM_NEWQDISC || !has_hdr(nlh, sizeof(*tcm)) ||
	    tcm->tcm_ifindex != t->ifindex)
		return 0;
	/* ingress and clsact carry filters, checked on their own. */
	if (tcm->tcm_parent == TC_H_INGRESS)
		return 0;
	mnl_attr_for_each (a, nlh, sizeof(*tcm))
		if (mnl_attr_get_type(a) == TCA_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			kind = mnl_attr_get_str(a);
	if (!kind)
		return 0;
	if (!strcmp(kind, "noqueue") || !strcmp(kind, "pfifo_fast") ||
	    !strcmp(kind, t->default_qdisc) ||
	    (tcm->tcm_parent == TC_H_ROOT && !strcmp(kind, "mq")))
		return 0;
	t->found = 1;
	return 0;
}

static void read_default_qdisc(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/net/core/default_qdisc", "re");

	snprintf(buf, size, "pfifo_fast");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

int pfd_rt_dev_has_egress_policy(struct pfd_rt *rt, int ifindex)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct tc_arg t = { .ifindex = ifindex };
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	/* fq_codel (or whatever default_qdisc names) is what the kernel
	 * attached by itself, not a policy the operator chose. */
	read_default_qdisc(t.default_qdisc, sizeof(t.default_qdisc));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	err = pfd_nl_request(&rt->req, nlh, qdisc_cb, &t);
	if (!err)
		err = dump_filters(rt, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &t);
	if (!err)
		err = query_tcx(ifindex, PFD_BPF_TCX_EGRESS, &t);
	return err ? err : t.found;
}

int pfd_rt_dev_has_ingress_policy(struct pfd_rt *rt, int ifindex)
{
	struct tc_arg t = { .ifindex = ifindex };
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	err = dump_filters(rt, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &t);
	if (!err)
		err = query_tcx(ifindex, PFD_BPF_TCX_INGRESS, &t);
	return err ? err : t.found;
}

static int neigh_state_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct ndmsg *ndm = NLMSG_DATA(nlh);

	if (nlh->nlmsg_type != RTM_NEWNEIGH || !has_hdr(nlh, sizeof(*ndm)))
		return 0;
	*(int *)arg = ndm->ndm_state;
	return 0;
}

int pfd_rt_neigh_use(struct pfd_rt *rt, int family, const __be32 *addr, int ifindex)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	int alen = addr_len(family), state = -1, err;

	if (alen < 0)
		return alen;
	if (!addr || ifindex <= 0)
		return -EINVAL;

	/* Only a STALE entry needs what a transmitted packet would do. An
	 * NTF_USE request goes through neigh_add(), which also rewrites the
	 * entry's state: it turned an operator's PERMANENT entry into a
	 * dynamic one that then aged out (tests/kernel/test_rt). */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, alen, addr);
	err = pfd_nl_request(&rt->req, nlh, neigh_state_cb, &state);
	if (err)
		return err; /* -ENOENT: resolved by the kernel on the next passed packet */
	if (state < 0 || !(state & NUD_STALE))
		return 0;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWNEIGH;
	/* No NLM_F_CREATE: refresh an existing entry (-ENOENT if it went
	 * away meanwhile). */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_REPLACE;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	/* neigh_add: NTF_USE calls neigh_event_send() as a transmitted
	 * packet would: the STALE entry moves to DELAY and gets confirmed. */
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, alen, addr);
	return pfd_nl_request(&rt->req, nlh, NULL, NULL);
}

int pfd_rt_parse_vlan_link(const struct nlmsghdr *nlh, struct pfd_rt_vlan *v)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	const struct nlattr *a, *info = NULL, *data = NULL;
	bool vlan = false, other_ns = false;

	memset(v, 0, sizeof(*v));
	v->proto = ETH_P_8021Q; /* the kernel's default when none is given */
	/* libmnl's walk ends at NLMSG_ALIGN(nlmsg_len): with an unaligned
	 * length its last attribute may reach past the message (the kernel
	 * pads every attribute, so its messages are aligned; fuzz_rt found
	 * the read) */
	if (nlh->nlmsg_type != RTM_NEWLINK || !has_hdr(nlh, sizeof(*ifi)) ||
	    nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
		return -EINVAL;
	mnl_attr_for_each (a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_LINK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				v->parent = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINK_NETNSID: /* the parent's index is another namespace's */
			other_ns = true;
			break;
		case IFLA_LINKINFO:
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
				info = a;
			break;
		}
	}
	if (info) {
		mnl_attr_for_each_nested (a, info) {
			if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				vlan = !strcmp(mnl_attr_get_str(a), "vlan");
			else if (mnl_attr_get_type(a) == IFLA_INFO_DATA &&
				 mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
				data = a;
		}
	}
	v->ifindex = ifi->ifi_index;
	if (!vlan || other_ns || v->parent <= 0 || v->parent == v->ifindex)
		return -ENOENT;
	if (data) {
		mnl_attr_for_each_nested (a, data) {
			const struct nlattr *m;

			switch (mnl_attr_get_type(a)) {
			case IFLA_VLAN_ID:
				if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
					v->id = mnl_attr_get_u16(a);
				break;
			case IFLA_VLAN_PROTOCOL:
				if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
					v->proto = ntohs(mnl_attr_get_u16(a));
				break;
			case IFLA_VLAN_EGRESS_QOS:
				/* a priority -> PCP mapping other than to 0
				 * makes the tag depend on skb->priority */
				if (mnl_attr_validate(a, MNL_TYPE_NESTED))
					break;
				mnl_attr_for_each_nested (m, a) {
					const struct ifla_vlan_qos_mapping *q;

					if (mnl_attr_get_type(m) != IFLA_VLAN_QOS_MAPPING ||
					    mnl_attr_get_payload_len(m) < sizeof(*q))
						continue;
					q = mnl_attr_get_payload(m);
					v->egress_qos |= q->to != 0;
				}
				break;
			}
		}
	}
	return 0;
}

struct vlan_arg {
	struct pfd_rt_vlan *out;
	unsigned int max, n;
};

static int vlan_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct vlan_arg *va = arg;
	struct pfd_rt_vlan v;

	if (!pfd_rt_parse_vlan_link(nlh, &v) && va->n < va->max)
		va->out[va->n++] = v;
	return 0;
}

int pfd_rt_vlans(struct pfd_rt *rt, struct pfd_rt_vlan *out, unsigned int max)
{
	char buf[PFD_NL_REQ_SIZE] = { 0 };
	struct vlan_arg va = { .out = out, .max = max };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int err;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	err = pfd_nl_request(&rt->req, nlh, vlan_cb, &va);
	return err ? err : (int)va.n;
}
