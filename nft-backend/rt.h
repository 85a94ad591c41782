/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rtnetlink: what pfd needs from routing to keep the fast path honest.
 * - events: any route, rule, neighbour, address or link change (the FIB
 *   cache generation is bumped on each), link down (flush that device's flows);
 * - route resolution for a flow (which device a tuple enters and leaves by);
 * - policy XDP would skip: fwmark rules, xfrm policies, tc filters and
 *   non-default qdiscs on a device;
 * - neighbour refresh (fast-pathed packets do not confirm neighbours).
 */
#ifndef PFD_RT_H
#define PFD_RT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

enum pfd_rt_event {
	PFD_RT_EV_ROUTE = 0, /* route or nexthop object added/changed/removed */
	PFD_RT_EV_NEIGH,     /* neighbour entry changed */
	PFD_RT_EV_ADDR,	     /* address added/removed */
	PFD_RT_EV_LINK,	     /* link changed (ifindex; up tells the state) */
	PFD_RT_EV_TC,	     /* qdisc or filter changed on ifindex */
	PFD_RT_EV_NETCONF,   /* forwarding or another per-device IP setting changed
				 * (ifindex, or 0 for all devices): like a route change */
	PFD_RT_EV_XDP,	     /* a device's XDP features changed (ifindex, or 0:
				 * notifications were lost, any device) */
	PFD_RT_EV_RULE,	     /* a policy routing rule added/removed (v4 or v6):
				 * fwmark rules decide flows, not only packets */
	PFD_RT_EV_XFRM,	     /* an xfrm (IPsec) policy changed */
};

typedef void (*pfd_rt_cb)(void *arg, enum pfd_rt_event ev, int ifindex, bool up);

struct pfd_rt;

int pfd_rt_open(struct pfd_rt **out, pfd_rt_cb cb, void *arg);
void pfd_rt_close(struct pfd_rt *rt);
int pfd_rt_events_fd(const struct pfd_rt *rt);
/* The netdev family's notification socket (XDP features), -1 when this
 * kernel has none (before 6.3); pfd_rt_events_read drains it too. */
int pfd_rt_netdev_events_fd(const struct pfd_rt *rt);
/* The xfrm policy notification socket, -1 without NETLINK_XFRM. The
 * caller that asks for it must poll it and call pfd_rt_events_read, which
 * then reports PFD_RT_EV_XFRM; until it does, the xfrm snapshot is kept. */
int pfd_rt_xfrm_events_fd(struct pfd_rt *rt);
/* Drains pending events (at most 1024 datagrams per call); -ENOBUFS when
 * events were lost (treat as "all changed"). The callback must not call
 * pfd_rt_events_read. */
int pfd_rt_events_read(struct pfd_rt *rt);

/* RTM_GETROUTE for family/dst with src and iif (0 = none) and mark:
 * the output device the kernel would pick. 0 or -errno: the kernel's
 * (-ENETUNREACH, -EHOSTUNREACH, -EINVAL for a martian ...), -EADDRNOTAVAIL
 * for a local destination, -ENETUNREACH for a non-unicast route. */
int pfd_rt_route_oif(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		     __u32 mark, int *oif);
/* The same, and the gateway (16 bytes, IPv4 in [0]; all zero when the
 * destination is on-link): the neighbour the kernel sends to. gw may be
 * NULL. */
int pfd_rt_route(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		 __u32 mark, int *oif, __be32 *gw);

/* The transport fields of a route question: a multipath route whose hash
 * reads the ports (fib_multipath_hash_policy 1 or 3) picks the next hop of
 * a flow by them, so the question must carry the packet's own. */
struct pfd_rt_l4 {
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP */
	__be16 sport, dport;
};
/* pfd_rt_route() with l4 (NULL: no transport fields, as pfd_rt_route). */
int pfd_rt_route_l4(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		    __u32 mark, const struct pfd_rt_l4 *l4, int *oif, __be32 *gw);

/* Policy checks; each returns 1 (present), 0 (absent) or -errno. */
int pfd_rt_has_fwmark_rules(struct pfd_rt *rt, int family);
/* An xfrm policy whose selector covers src->dst (either direction's
 * policies, any of in/out/fwd; ports not considered). The policies are
 * kept between calls and re-read after an XFRMNLGRP_POLICY event. */
int pfd_rt_xfrm_covers(struct pfd_rt *rt, int family, const __be32 *src, const __be32 *dst);
/* Egress policy XDP redirect would skip: a tc egress filter (other than
 * pfd's own, recognised by the pfd_ name prefix) or a root qdisc other than
 * the defaults (noqueue, mq, pfifo_fast, fq_codel as a default). */
int pfd_rt_dev_has_egress_policy(struct pfd_rt *rt, int ifindex);
/* Whether the device takes frames that an XDP program redirects to it
 * (netdev xdp-features NDO_XMIT): 1, 0, or -errno when it cannot be told
 * (-EOPNOTSUPP: no netdev family in this kernel). Cached until the
 * device's next notification (PFD_RT_EV_XDP). */
int pfd_rt_dev_xdp_xmit(struct pfd_rt *rt, int ifindex);
/* An ingress tc filter other than pfd's own. */
int pfd_rt_dev_has_ingress_policy(struct pfd_rt *rt, int ifindex);
/* A VLAN device: its index, its parent's (in this namespace), VLAN ID and
 * TPID (host order), and whether its egress priority map sets a PCP. */
struct pfd_rt_vlan {
	int ifindex;
	int parent;
	__u16 id;
	__u16 proto;
	bool egress_qos;
};
/* The VLAN devices of this namespace whose parent is here too, from one
 * link dump: how many (at most max kept in out), or -errno. */
int pfd_rt_vlans(struct pfd_rt *rt, struct pfd_rt_vlan *out, unsigned int max);

/* Marks the neighbour of addr on ifindex for confirmation (NTF_USE), as
 * traffic through the kernel would. -ENOENT if there is no entry (none is
 * created: the kernel resolves it when the fast path passes a packet). */
int pfd_rt_neigh_use(struct pfd_rt *rt, int family, const __be32 *addr, int ifindex);

/* Exposed for the unit tests. */
struct nlmsghdr;
struct xfrm_selector;
/* One rtnetlink event message: 0 (ev, ifindex, up filled), -EINVAL if
 * short, -EOPNOTSUPP for a type pfd does not watch. */
int pfd_rt_parse_event(const struct nlmsghdr *nlh, enum pfd_rt_event *ev, int *ifindex, bool *up);
/* One RTM_NEWLINK message: 0 with v filled when it is a VLAN device whose
 * parent is in this namespace; -ENOENT when it is not a VLAN device (or its
 * parent is elsewhere); -EINVAL if malformed. Exposed for the unit tests. */
int pfd_rt_parse_vlan_link(const struct nlmsghdr *nlh, struct pfd_rt_vlan *v);
/* Whether an xfrm selector's addresses cover a->b (ports ignored). */
bool pfd_rt_xfrm_selector_covers(const struct xfrm_selector *sel, int family, const __be32 *a,
				 const __be32 *b);

#endif /* PFD_RT_H */
