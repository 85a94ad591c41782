// SPDX-License-Identifier: GPL-2.0-only
/*
 * The offload decision (see policy.h): which conntrack entries the fast path
 * may carry, and the map entries for both directions. Pure functions of
 * (config, entry, environment) so that the daemon and `pfd explain` agree and
 * the unit tests can drive every branch; pfd_policy_env_probe() is the one
 * place that asks the kernel. The rules follow what nf_flow_table's
 * `flow add` accepts (net/netfilter/nft_flow_offload.c), narrowed by
 * pfd.conf, plus policy the XDP path would skip (docs/design.md, "Policy outside the forward chain").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "nft-backend/nft.h"
#include "nft-backend/rt.h"
#include "pfd/policy.h"
#include "pfd/util.h"

/* IPS_NAT_CLASH shares its bit with IPS_UNTRACKED (kernel 5.8,
 * include/uapi/linux/netfilter/nf_conntrack_common.h under __KERNEL__): an
 * entry that lost a NAT clash race; nft_flow_offload refuses it. */
#define PFD_IPS_NAT_CLASH (1U << 12)

static void say(struct pfd_policy_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct pfd_policy_decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static bool refuse(struct pfd_policy_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool refuse(struct pfd_policy_decision *d, const char *fmt, ...)
{
	va_list ap;

	d->offload = false;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return false;
}

#define DEVNAME_LEN 24 /* a name, or "ifindex N" for a vanished one */

static const char *devname(int ifindex, char *buf)
{
	if (ifindex > 0 && if_indextoname((unsigned int)ifindex, buf))
		return buf;
	snprintf(buf, DEVNAME_LEN, "ifindex %d", ifindex);
	return buf;
}

static bool addr_in(const struct pfd_prefix *p, unsigned int n, const struct pfd_ct_entry *e)
{
	int f = e->orig.family;

	return pfd_prefix_match(p, n, f, e->orig.src) || pfd_prefix_match(p, n, f, e->orig.dst) ||
	       pfd_prefix_match(p, n, f, e->reply.src) || pfd_prefix_match(p, n, f, e->reply.dst);
}

bool pfd_policy_check_entry(const struct pfd_config *cfg, enum pfd_mode mode,
			    const struct pfd_ct_entry *e, struct pfd_policy_decision *out)
{
	bool tcp = e->orig.l4proto == IPPROTO_TCP;

	memset(out, 0, sizeof(*out));
	if (e->orig.family != AF_INET && e->orig.family != AF_INET6)
		return refuse(out, "not IPv4/IPv6");
	if (e->orig.l4proto != IPPROTO_TCP && e->orig.l4proto != IPPROTO_UDP)
		return refuse(out, "not TCP/UDP");
	if (e->reply.family != e->orig.family || e->reply.l4proto != e->orig.l4proto)
		return refuse(out, "tuples disagree on family or protocol");

	if (mode == PFD_MODE_MARK) {
		if ((e->mark & cfg->mark_mask) != cfg->mark_value)
			return refuse(out,
				      "ct mark 0x%x does not match the offload mark 0x%x/0x%x "
				      "(set by the nft offload rule)",
				      e->mark, cfg->mark_value, cfg->mark_mask);
	} else if (mode == PFD_MODE_FLOWTABLE) {
		if (!(e->status & IPS_OFFLOAD))
			return refuse(out, "not offloaded by the kernel (no `flow add` hit, "
					   "IPS_OFFLOAD clear)");
	} else {
		return refuse(out, "mode not resolved");
	}

	if (!(e->status & IPS_CONFIRMED))
		return refuse(out, "conntrack entry not confirmed yet");
	if (e->status & IPS_DYING)
		return refuse(out, "conntrack entry is dying");
	if (e->status & (IPS_TEMPLATE | PFD_IPS_NAT_CLASH))
		return refuse(out, "conntrack entry is a template or lost a NAT clash");
	if (e->has_helper || (e->status & IPS_HELPER))
		return refuse(out, "a conntrack helper is attached (ftp, sip, ...): the kernel "
				   "must see every packet");
	if (e->has_master || (e->status & IPS_EXPECTED))
		return refuse(out, "expected connection of a helper (has a master)");
	if (e->has_seqadj || (e->status & IPS_SEQ_ADJUST))
		return refuse(out, "sequence numbers are adjusted by a helper (IPS_SEQ_ADJUST)");
	/* In flowtable mode IPS_OFFLOAD is the firewall's decision, and from
	 * then on the kernel's flowtable, not conntrack, sees the packets: a
	 * UDP entry offloaded before conntrack's 2 s stream test never turns
	 * ASSURED, and under a `flow add` rule without `ct state established`
	 * never SEEN_REPLY either. */
	if (mode == PFD_MODE_MARK && !(e->status & IPS_ASSURED))
		return refuse(out, "not assured yet (conntrack has not seen both directions)");
	if (tcp) {
		/* Offloaded flowtable entries carry no protoinfo: the kernel
		 * only offloads ESTABLISHED TCP (docs/kernel-notes.md, "IPS_OFFLOAD flips silently"). */
		if (e->has_tcp_state && e->tcp_state != TCP_CONNTRACK_ESTABLISHED)
			return refuse(out, "TCP state is not ESTABLISHED");
		if (!e->has_tcp_state && mode == PFD_MODE_MARK)
			return refuse(out, "TCP state unknown (no protoinfo)");
	}

	if (cfg->n_deny && addr_in(cfg->deny, cfg->n_deny, e))
		return refuse(out, "an endpoint is in a `deny` prefix");
	if (cfg->n_allow && !addr_in(cfg->allow, cfg->n_allow, e))
		return refuse(out, "no endpoint is in an `allow` prefix");
	if (cfg->min_packets) {
		unsigned long long n = e->orig_packets + e->reply_packets;

		if (n < cfg->min_packets)
			return refuse(out,
				      "%llu packets so far, min-packets is %llu (needs "
				      "net.netfilter.nf_conntrack_acct=1)",
				      n, (unsigned long long)cfg->min_packets);
	}
	out->offload = true;
	say(out, "eligible");
	return true;
}

void pfd_policy_decide(const struct pfd_config *cfg, const struct pfd_ct_entry *e,
		       const struct pfd_policy_env *env, struct pfd_policy_decision *out)
{
	static const char *const dir_name[2] = { "original", "reply" };
	char n1[DEVNAME_LEN], n2[DEVNAME_LEN], n3[DEVNAME_LEN];
	int d;

	if (!pfd_policy_check_entry(cfg, env->mode, e, out))
		return;
	out->offload = false;

	for (d = 0; d < 2; d++) {
		if (env->route_err[d]) {
			refuse(out, "%s direction: no route (%s)", dir_name[d],
			       strerror(-env->route_err[d]));
			return;
		}
		if (env->in[d].ifindex <= 0 || env->out[d].ifindex <= 0) {
			refuse(out, "%s direction: devices not resolved", dir_name[d]);
			return;
		}
	}
	/* One device pair for both directions: with asymmetric routing the
	 * reply would leave by a device the original never entered by, and
	 * the kernel's route for one direction could not be checked against
	 * the other's. */
	if (env->in[0].ifindex != env->out[1].ifindex ||
	    env->out[0].ifindex != env->in[1].ifindex) {
		refuse(out, "asymmetric routing (original %s -> %s, reply %s -> ...)",
		       devname(env->in[0].ifindex, n1), devname(env->out[0].ifindex, n2),
		       devname(env->in[1].ifindex, n3));
		return;
	}
	for (d = 0; d < 2; d++) {
		if (!env->in[d].attached) {
			refuse(out, "%s is not attached (add `attach %s` to pfd.conf)",
			       devname(env->in[d].ifindex, n1), n1);
			return;
		}
	}
	if (env->mode == PFD_MODE_FLOWTABLE && !env->same_flowtable) {
		refuse(out, "%s and %s are not in one nft flowtable",
		       devname(env->in[0].ifindex, n1), devname(env->out[0].ifindex, n2));
		return;
	}
	if (env->xfrm > 0) {
		refuse(out, "an xfrm (IPsec) policy covers the flow; the kernel must "
			    "encrypt it");
		return;
	}
	for (d = 0; d < 2; d++) {
		if (env->in[d].netdev_chain) {
			refuse(out, "an nft netdev chain hooks %s; XDP would skip it",
			       devname(env->in[d].ifindex, n1));
			return;
		}
		if (env->in[d].ingress_policy) {
			refuse(out, "a tc ingress filter on %s; XDP would skip it",
			       devname(env->in[d].ifindex, n1));
			return;
		}
		/* The kernel runs netdev egress chains in __dev_queue_xmit,
		 * but skips them for a packet that tc redirected
		 * (nf_skip_egress): neither datapath of pfd would apply
		 * them. */
		if (env->out[d].egress_chain) {
			refuse(out,
			       "an nft netdev egress chain hooks %s; neither an XDP nor a TC "
			       "redirect passes it",
			       devname(env->out[d].ifindex, n1));
			return;
		}
	}
	if (env->fwmark_rules > 0) {
		/* The kernel routed this flow with skb->mark, which the ruleset
		 * may set from anything (meta mark set ...), and XDP cannot know
		 * it. BPF_FIB_LOOKUP_MARK (6.10) could pass the ct mark, but that
		 * is the packet's mark only where the ruleset restores it from
		 * the ct mark: passing it blindly sends marked flows out of the
		 * main table's route (the fwmark integration test). */
		refuse(out,
		       "fwmark routing rules exist (ip rule ... fwmark): the fast path cannot "
		       "know the packet mark the ruleset sets%s",
		       env->fib_mark_ok ? "" : " (and bpf_fib_lookup ignores marks before 6.10)");
		return;
	}
	for (d = 0; d < 2; d++) {
		/* An XDP redirect into a device that cannot transmit XDP
		 * frames is dropped by the driver (a veth whose peer has no
		 * XDP program and no GRO): bpf_redirect from TC works for
		 * every device. Unknown counts as cannot. */
		bool xmit = env->out[d].xdp_xmit == 1 || env->out[d].vlan_xdp;
		bool no_xmit = env->in[d].has_xdp && !xmit;

		out->dir_flags[d] = 0;
		if (!env->out[d].egress_policy && !no_xmit) {
			/* a VLAN device: XDP pushes its tag and leaves by
			 * its parent, as the device's xmit would */
			if (env->in[d].has_xdp && env->out[d].xdp_xmit != 1)
				out->dir_flags[d] |= PFD_FLOW_F_VLAN_TX;
			continue;
		}
		/* An egress qdisc or tc egress filter: bpf_redirect from TC
		 * ingress goes through it, XDP redirect does not. */
		if (!env->in[d].has_tc) {
			if (env->out[d].egress_policy)
				refuse(out,
				       "%s has egress policy (tc filter or qdisc) that XDP would "
				       "skip, and %s has no TC program (`attach %s auto` or `tc`)",
				       devname(env->out[d].ifindex, n1),
				       devname(env->in[d].ifindex, n2), n2);
			else
				refuse(out,
				       "%s cannot take XDP-redirected frames (%s), and %s has no "
				       "TC program (`attach %s auto` or `tc`)",
				       devname(env->out[d].ifindex, n1),
				       env->out[d].xdp_xmit < 0 ? "its XDP features are unknown" :
								  "no NDO_XMIT in its XDP features",
				       devname(env->in[d].ifindex, n2), n2);
			return;
		}
		out->dir_flags[d] |= PFD_FLOW_F_VIA_TC;
		if (!env->out[d].egress_policy)
			out->via_tc_xmit = true;
	}
	out->offload = true;
	if ((out->dir_flags[0] | out->dir_flags[1]) & PFD_FLOW_F_VIA_TC)
		say(out, "offloaded via the TC datapath (%s)",
		    out->via_tc_xmit ? "an egress device cannot take XDP frames" :
				       "egress policy on the way out");
	else if ((out->dir_flags[0] | out->dir_flags[1]) & PFD_FLOW_F_VLAN_TX)
		say(out, "eligible: offloaded (XDP pushes the VLAN tag, out by the parent)");
	else
		say(out, "eligible: offloaded");
}

static bool addr_eq(const __be32 *a, const __be32 *b)
{
	return !memcmp(a, b, 16);
}

/* One direction: packets arrive as `in` and leave as the reverse of the
 * opposite direction's tuple `opp` (the kernel's NAT: nf_nat_manip_pkt
 * rewrites to the inverted other tuple). */
static void build_dir(const struct pfd_ct_tuple *in, const struct pfd_ct_tuple *opp, int iif,
		      int oif, uint32_t flags, uint32_t fib_mark, struct pfd_flow_key *k,
		      struct pfd_flow *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->ifindex = (__u32)iif;
	k->family = in->family;
	k->l4proto = in->l4proto;
	memcpy(k->saddr, in->src, sizeof(k->saddr));
	memcpy(k->daddr, in->dst, sizeof(k->daddr));
	if (in->family == AF_INET) {
		/* IPv4 uses [0]; the rest must be 0, the key is hashed whole */
		k->saddr[1] = k->saddr[2] = k->saddr[3] = 0;
		k->daddr[1] = k->daddr[2] = k->daddr[3] = 0;
	}
	k->sport = in->sport;
	k->dport = in->dport;

	/* leaves as opp.dst:opp.dport -> opp.src:opp.sport */
	memcpy(v->nat_saddr, k->saddr, sizeof(v->nat_saddr));
	memcpy(v->nat_daddr, k->daddr, sizeof(v->nat_daddr));
	v->nat_sport = k->sport;
	v->nat_dport = k->dport;
	if (!addr_eq(opp->dst, in->src) || opp->dport != in->sport) {
		flags |= PFD_FLOW_F_SNAT;
		memcpy(v->nat_saddr, opp->dst, sizeof(v->nat_saddr));
		v->nat_sport = opp->dport;
	}
	if (!addr_eq(opp->src, in->dst) || opp->sport != in->dport) {
		flags |= PFD_FLOW_F_DNAT;
		memcpy(v->nat_daddr, opp->src, sizeof(v->nat_daddr));
		v->nat_dport = opp->sport;
	}
	if (in->family == AF_INET) {
		v->nat_saddr[1] = v->nat_saddr[2] = v->nat_saddr[3] = 0;
		v->nat_daddr[1] = v->nat_daddr[2] = v->nat_daddr[3] = 0;
	}
	v->oif = (__u32)oif;
	v->flags = flags;
	v->fib_mark = (flags & PFD_FLOW_F_FIB_MARK) ? fib_mark : 0;
}

void pfd_policy_build(const struct pfd_ct_entry *e, const struct pfd_policy_env *env,
		      const struct pfd_policy_decision *d, struct pfd_flow_key key[2],
		      struct pfd_flow val[2])
{
	uint32_t common = d->flags;

	if (env->mode == PFD_MODE_FLOWTABLE)
		common |= PFD_FLOW_F_KEEPALIVE;
	build_dir(&e->orig, &e->reply, env->in[0].ifindex, env->out[0].ifindex,
		  common | d->dir_flags[0], d->fib_mark, &key[0], &val[0]);
	build_dir(&e->reply, &e->orig, env->in[1].ifindex, env->out[1].ifindex,
		  common | d->dir_flags[1] | PFD_FLOW_F_REPLY, d->fib_mark, &key[1], &val[1]);
}

int pfd_policy_devs_load(int devs_fd, int vlans_fd, struct pfd_policy_devs *devs)
{
	__u32 key, next, *prev = NULL;
	struct pfd_vlan vlan;
	struct pfd_dev dev;

	memset(devs, 0, sizeof(*devs));
	while (devs->n < PFD_MAX_DEVS && !bpf_map_get_next_key(devs_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(devs_fd, &key, &dev))
			continue;
		devs->d[devs->n].ifindex = (int)key;
		devs->d[devs->n].flags = dev.flags;
		devs->d[devs->n].vlan_parent =
			vlans_fd >= 0 && !bpf_map_lookup_elem(vlans_fd, &key, &vlan) ?
				(int)vlan.parent :
				0;
		devs->n++;
	}
	return 0;
}

const uint32_t *pfd_policy_devs_find(const struct pfd_policy_devs *devs, int ifindex)
{
	unsigned int i;

	for (i = 0; i < devs->n; i++)
		if (devs->d[i].ifindex == ifindex)
			return &devs->d[i].flags;
	return NULL;
}

void pfd_policy_dev_attached(const struct pfd_policy_devs *devs, struct pfd_policy_dev *dev)
{
	const uint32_t *f = pfd_policy_devs_find(devs, dev->ifindex);
	unsigned int i;

	dev->has_xdp = f && (*f & PFD_DEV_F_XDP);
	dev->has_tc = f && (*f & PFD_DEV_F_TC);
	dev->attached = dev->has_xdp || dev->has_tc;
	dev->vlan_parent = 0;
	dev->vlan_xdp = false; /* pfd_policy_vlan_parent() decides, with the parent */
	for (i = 0; f && i < devs->n; i++)
		if (devs->d[i].ifindex == dev->ifindex)
			dev->vlan_parent = devs->d[i].vlan_parent;
}

void pfd_policy_vlan_parent(struct pfd_policy_dev *vlan, const struct pfd_policy_dev *parent)
{
	vlan->vlan_xdp = vlan->vlan_parent > 0 && parent->ifindex == vlan->vlan_parent &&
			 parent->has_xdp && parent->xdp_xmit == 1 && !parent->egress_policy &&
			 !parent->egress_chain;
}

bool pfd_policy_same_flowtable(const struct pfd_ft_list *ft, int a, int b)
{
	char na[IF_NAMESIZE], nb[IF_NAMESIZE];
	unsigned int i, j;

	if (!ft || !if_indextoname((unsigned int)a, na) || !if_indextoname((unsigned int)b, nb))
		return false;
	for (i = 0; i < ft->count; i++) {
		const struct pfd_flowtable *t = &ft->items[i];
		bool ha = false, hb = false;

		for (j = 0; j < t->ndevs && j < PFD_FT_MAX_DEVS; j++) {
			ha |= !strncmp(t->devs[j], na, IFNAMSIZ);
			hb |= !strncmp(t->devs[j], nb, IFNAMSIZ);
		}
		if (ha && hb)
			return true;
	}
	return false;
}

/* Whether family's multipath hash reads the ports. Any policy but 0 counts
 * (2 and 3 may; asking with ports where they do not matter costs nothing
 * but route-cache hits). No sysctl (a kernel without multipath): no. */
static bool multipath_l4(int family)
{
	static uint64_t read_at[2];
	static bool l4[2];
	int i = family == AF_INET6;
	struct timespec ts;
	uint64_t now;
	uint32_t v;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (!read_at[i] || now - read_at[i] >= 1000000000ULL) {
		l4[i] = !pfd_read_sysctl_u32(i ? "/proc/sys/net/ipv6/fib_multipath_hash_policy" :
						 "/proc/sys/net/ipv4/fib_multipath_hash_policy",
					     &v) &&
			v != 0;
		read_at[i] = now;
	}
	return l4[i];
}

/* The transport fields the egress route question of direction dir (0
 * original, 1 reply) must carry: the packet's pre-SNAT source port and
 * post-DNAT destination port, when the family's multipath hash reads them.
 * NULL when it does not (or the protocol has no ports): the answer cannot
 * depend on them, and route caches keyed by addresses stay valid. */
static const struct pfd_rt_l4 *route_l4(const struct pfd_ct_entry *e, int dir,
					struct pfd_rt_l4 *buf)
{
	const struct pfd_ct_tuple *from = dir ? &e->reply : &e->orig;
	const struct pfd_ct_tuple *to = dir ? &e->orig : &e->reply;

	if (from->l4proto != IPPROTO_TCP && from->l4proto != IPPROTO_UDP)
		return NULL;
	if (!multipath_l4(from->family))
		return NULL;
	buf->proto = from->l4proto;
	buf->sport = from->sport;
	buf->dport = to->sport; /* the other side's source: after DNAT */
	return buf;
}

int pfd_policy_resolve_by(pfd_policy_route_fn route, void *arg, const struct pfd_ct_entry *e,
			  struct pfd_policy_env *env)
{
	const struct pfd_ct_tuple *o = &e->orig, *r = &e->reply;
	int f = o->family, oif, err;
	struct pfd_rt_l4 l4;

	/* Original direction: arrives by the route back to its source, leaves
	 * by the route the kernel gives its post-DNAT destination (reply.src)
	 * from its pre-SNAT source, entering by that device, with its ports
	 * when a multipath hash reads them. */
	err = route(arg, f, o->src, NULL, 0, NULL, &oif, NULL);
	if (!err) {
		env->in[0].ifindex = oif;
		err = route(arg, f, r->src, o->src, oif, route_l4(e, 0, &l4), &oif, env->gw[0]);
		if (!err)
			env->out[0].ifindex = oif;
	}
	env->route_err[0] = err;
	/* Reply direction: arrives where the original leaves (the kernel
	 * flowtable's model too): a plain route back to reply.src would miss
	 * the next hop a multipath route or a source rule chose. The route
	 * question from there checks that the kernel takes such a reply.
	 * Without an original egress, the plain route, for explain. */
	if (env->out[0].ifindex) {
		oif = env->out[0].ifindex;
		err = 0;
	} else {
		err = route(arg, f, r->src, NULL, 0, NULL, &oif, NULL);
	}
	if (!err) {
		env->in[1].ifindex = oif;
		err = route(arg, f, o->src, r->src, oif, route_l4(e, 1, &l4), &oif, env->gw[1]);
		if (!err)
			env->out[1].ifindex = oif;
	}
	env->route_err[1] = err;
	return env->route_err[0] ? env->route_err[0] : env->route_err[1];
}

static int route_uncached(void *arg, int family, const __be32 *dst, const __be32 *src, int iif,
			  const struct pfd_rt_l4 *l4, int *oif, __be32 *gw)
{
	return pfd_rt_route_l4(arg, family, dst, src, iif, 0, l4, oif, gw);
}

int pfd_policy_resolve(struct pfd_rt *rt, const struct pfd_ct_entry *e, struct pfd_policy_env *env)
{
	return pfd_policy_resolve_by(route_uncached, rt, e, env);
}

void pfd_policy_probe_dev(struct pfd_rt *rt, const struct pfd_nft_netdev_chain *chains,
			  unsigned int nchains, int chains_err, struct pfd_policy_dev *dv)
{
	char name[IF_NAMESIZE];
	unsigned int i;

	/* a failed probe counts as policy present: when in doubt, the kernel */
	dv->egress_policy = pfd_rt_dev_has_egress_policy(rt, dv->ifindex) != 0;
	dv->ingress_policy = pfd_rt_dev_has_ingress_policy(rt, dv->ifindex) != 0;
	dv->xdp_xmit = pfd_rt_dev_xdp_xmit(rt, dv->ifindex);
	dv->netdev_chain = dv->egress_chain = false;
	if (chains_err || !if_indextoname((unsigned int)dv->ifindex, name)) {
		dv->netdev_chain = dv->egress_chain = true;
		return;
	}
	for (i = 0; i < nchains; i++) {
		if (strncmp(chains[i].dev, name, IFNAMSIZ))
			continue;
		if (chains[i].hooknum == NF_NETDEV_EGRESS)
			dv->egress_chain = true;
		else
			dv->netdev_chain = true;
	}
}

int pfd_policy_env_probe(struct pfd_rt *rt, struct pfd_nft *nft, const struct pfd_ft_list *ft,
			 const struct pfd_policy_devs *devs, enum pfd_mode mode, bool fib_mark_ok,
			 const struct pfd_ct_entry *e, struct pfd_policy_env *env)
{
	struct pfd_nft_netdev_chain *chains = NULL;
	unsigned int nchains = 0;
	int d, r, chains_err = 0;

	memset(env, 0, sizeof(*env));
	env->mode = mode;
	env->fib_mark_ok = fib_mark_ok;
	pfd_policy_resolve(rt, e, env);
	if (nft)
		chains_err = pfd_nft_read_netdev_chains(nft, &chains, &nchains);
	if (chains_err)
		nchains = 0;
	for (d = 0; d < 2; d++) {
		struct pfd_policy_dev *devp[2] = { &env->in[d], &env->out[d] };
		int k;

		for (k = 0; k < 2; k++) {
			if (devp[k]->ifindex <= 0)
				continue;
			pfd_policy_dev_attached(devs, devp[k]);
			pfd_policy_probe_dev(rt, chains, nchains, chains_err, devp[k]);
		}
		if (env->out[d].vlan_parent > 0) {
			struct pfd_policy_dev parent = { .ifindex = env->out[d].vlan_parent };

			pfd_policy_dev_attached(devs, &parent);
			pfd_policy_probe_dev(rt, chains, nchains, chains_err, &parent);
			pfd_policy_vlan_parent(&env->out[d], &parent);
		}
	}
	free(chains);
	if (mode == PFD_MODE_FLOWTABLE)
		env->same_flowtable =
			pfd_policy_same_flowtable(ft, env->in[0].ifindex, env->out[0].ifindex);
	/* one error rule with the daemon (pfd/flows.c): could not tell
	 * counts as present */
	r = pfd_rt_has_fwmark_rules(rt, e->orig.family);
	env->fwmark_rules = r != 0;
	r = pfd_rt_xfrm_covers(rt, e->orig.family, e->orig.src, e->orig.dst);
	if (!r)
		r = pfd_rt_xfrm_covers(rt, e->orig.family, e->reply.src, e->reply.dst);
	env->xfrm = r != 0;
	return 0;
}
