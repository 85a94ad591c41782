// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the daemon's flow table (pfd/flows.c) against a real BPF
 * hash map and stubbed netlink backends: install of both directions with
 * BE_LIBERAL, idempotent re-install keeping the fast path's counters,
 * removal on DESTROY / mark change / state change (with MAXACK_SET cleared),
 * reconcile both ways, map full, revalidation clearing the offload mark,
 * ruleset generations (a change makes every flow stale without a write),
 * link-down flush, timeout refresh (and IPS_FIXED_TIMEOUT), a route change
 * moving the keys. Needs CAP_BPF for the map; skips without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "t.h"
#include "../../pfd/flows.c"

/* ---- stubbed backends ----------------------------------------------- */

static int route_iface_v4[2] = { 2, 3 }; /* 192.0.2.0/24 -> [0], else [1] */
static int timeout_ret;
static unsigned int n_timeout, n_flags, n_mark, n_neigh;
static __u8 last_set, last_clear;
static __u32 last_mark_mask, last_timeout;

/* 192.0.2.0/24 is on-link; everything else is behind 198.51.100.1 */
int pfd_rt_route_l4(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		    __u32 mark, const struct pfd_rt_l4 *l4, int *oif, __be32 *gw)
{
	bool local = (ntohl(dst[0]) >> 8) == 0xc00002;

	(void)rt, (void)src, (void)iif, (void)mark;
	(void)l4;
	if (family != AF_INET)
		return -ENETUNREACH;
	*oif = local ? route_iface_v4[0] : route_iface_v4[1];
	if (gw) {
		memset(gw, 0, 16);
		if (!local)
			inet_pton(AF_INET, "198.51.100.1", gw);
	}
	return 0;
}

int pfd_rt_route(struct pfd_rt *rt, int family, const __be32 *dst, const __be32 *src, int iif,
		 __u32 mark, int *oif, __be32 *gw)
{
	return pfd_rt_route_l4(rt, family, dst, src, iif, mark, NULL, oif, gw);
}

int pfd_rt_dev_has_egress_policy(struct pfd_rt *rt, int ifindex)
{
	(void)rt, (void)ifindex;
	return 0;
}

static int xdp_xmit_ret = 1; /* every device takes XDP frames unless a case says not */

int pfd_rt_dev_xdp_xmit(struct pfd_rt *rt, int ifindex)
{
	(void)rt, (void)ifindex;
	return xdp_xmit_ret;
}

int pfd_rt_dev_has_ingress_policy(struct pfd_rt *rt, int ifindex)
{
	(void)rt, (void)ifindex;
	return 0;
}

int pfd_rt_has_fwmark_rules(struct pfd_rt *rt, int family)
{
	(void)rt, (void)family;
	return 0;
}

int pfd_rt_xfrm_covers(struct pfd_rt *rt, int family, const __be32 *src, const __be32 *dst)
{
	(void)rt, (void)family, (void)src, (void)dst;
	return 0;
}

static __be32 neigh_addr[2];

int pfd_rt_neigh_use(struct pfd_rt *rt, int family, const __be32 *addr, int ifindex)
{
	(void)rt, (void)family, (void)ifindex;
	neigh_addr[n_neigh++ % 2] = addr[0];
	return 0;
}

int pfd_nft_read_netdev_chains(struct pfd_nft *nft, struct pfd_nft_netdev_chain **out,
			       unsigned int *count)
{
	(void)nft;
	*out = NULL;
	*count = 0;
	return 0;
}

static __u8 last_refresh_clear;

int pfd_ct_refresh(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 seconds, __u8 clear)
{
	(void)ct, (void)e;
	last_refresh_clear = clear;
	n_timeout++;
	last_timeout = seconds;
	return timeout_ret;
}

int pfd_ct_set_tcp_flags(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u8 set, __u8 clear)
{
	(void)ct, (void)e;
	n_flags++;
	last_set = set;
	last_clear = clear;
	return 0;
}

/* conntrack as it is now, for installs read back after a revalidation */
static int get_ret = -ENOENT;
static struct pfd_ct_entry get_entry;

int pfd_ct_get(struct pfd_ct *ct, const struct pfd_ct_entry *e, struct pfd_ct_entry *out)
{
	(void)ct, (void)e;
	if (!get_ret)
		*out = get_entry;
	return get_ret;
}

int pfd_ct_set_mark(struct pfd_ct *ct, const struct pfd_ct_entry *e, __u32 value, __u32 mask)
{
	(void)ct, (void)e, (void)value;
	n_mark++;
	last_mark_mask = mask;
	return 0;
}

/* ---- fixtures -------------------------------------------------------- */

static struct pfd_config cfg;
static struct pfd_policy_devs devs;

static void entry(struct pfd_ct_entry *e, int sport)
{
	memset(e, 0, sizeof(*e));
	e->orig.family = e->reply.family = AF_INET;
	e->orig.l4proto = e->reply.l4proto = IPPROTO_TCP;
	inet_pton(AF_INET, "192.0.2.10", e->orig.src);
	inet_pton(AF_INET, "198.51.100.20", e->orig.dst);
	e->orig.sport = htons((uint16_t)sport);
	e->orig.dport = htons(80);
	e->reply.src[0] = e->orig.dst[0];
	e->reply.dst[0] = e->orig.src[0];
	e->reply.sport = e->orig.dport;
	e->reply.dport = e->orig.sport;
	e->status = IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY;
	e->has_tcp_state = 1;
	e->tcp_state = TCP_CONNTRACK_ESTABLISHED;
	e->mark = 1;
}

static int map_count(int fd)
{
	struct pfd_flow_key k, n;
	void *prev = NULL;
	int c = 0;

	while (!bpf_map_get_next_key(fd, prev, &n)) {
		k = n;
		prev = &k;
		c++;
	}
	return c;
}

static int new_map(unsigned int max)
{
	return bpf_map_create(BPF_MAP_TYPE_HASH, "pfd_test_flows", sizeof(struct pfd_flow_key),
			      sizeof(struct pfd_flow), max, NULL);
}

static struct pfd_flows *new_table(int fd, enum pfd_mode mode)
{
	struct pfd_flows_ctx ctx = { .cfg = &cfg, .mode = mode, .devs = &devs, .flows_fd = fd };
	struct pfd_flows *f = NULL;

	T_OK(pfd_flows_new(&f, &ctx), "table");
	return f;
}

static void key_of(const struct pfd_ct_entry *e, int dir, struct pfd_flow_key *k)
{
	const struct pfd_ct_tuple *t = dir ? &e->reply : &e->orig;

	memset(k, 0, sizeof(*k));
	k->ifindex = dir ? 3 : 2;
	k->family = AF_INET;
	k->l4proto = IPPROTO_TCP;
	k->saddr[0] = t->src[0];
	k->daddr[0] = t->dst[0];
	k->sport = t->sport;
	k->dport = t->dport;
}

/* ---- cases ----------------------------------------------------------- */

static void install_remove(int fd)
{
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	struct pfd_ct_entry e, e2;
	struct pfd_flow_key k0, k1;
	struct pfd_flow v;

	entry(&e, 40000);
	key_of(&e, 0, &k0);
	key_of(&e, 1, &k1);
	n_flags = 0;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e);
	T_EQ(map_count(fd), 2, "install: two map entries");
	T_OK(bpf_map_lookup_elem(fd, &k0, &v), "install: original key present");
	T_EQ(v.oif, 3, "install: original leaves by the server side");
	T_EQ(v.flags & PFD_FLOW_F_REPLY, 0, "install: original not flagged reply");
	T_OK(bpf_map_lookup_elem(fd, &k1, &v), "install: reply key present");
	T_EQ(v.oif, 2, "install: reply leaves by the client side");
	T_EQ(pfd_flows_get_stats(f)->installs, 1, "install counted");
	T_EQ(pfd_flows_get_stats(f)->flows, 1, "one flow");
	T_EQ(n_flags, 1, "BE_LIBERAL set once");
	T_EQ(last_set, IP_CT_TCP_FLAG_BE_LIBERAL, "the flag is BE_LIBERAL");
	T_EQ(last_clear, IP_CT_TCP_FLAG_MAXACK_SET, "MAXACK_SET cleared at install");

	/* the fast path counts; a repeated event must not reset it */
	v.packets = 5;
	v.bytes = 500;
	bpf_map_lookup_elem(fd, &k0, &v);
	v.packets = 5;
	v.bytes = 500;
	v.cache_gen = 7;
	bpf_map_update_elem(fd, &k0, &v, BPF_EXIST);
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e);
	bpf_map_lookup_elem(fd, &k0, &v);
	T_EQ(v.packets, 5, "repeat event keeps packets");
	T_EQ(v.cache_gen, 7, "repeat event keeps the FIB cache");
	T_EQ(pfd_flows_get_stats(f)->installs, 1, "repeat event is no install");
	T_EQ(n_flags, 1, "no second BE_LIBERAL");

	/* mark cleared by the ruleset: back to the kernel, MAXACK cleared */
	e2 = e;
	e2.mark = 0;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e2);
	T_EQ(map_count(fd), 0, "mark cleared: entries removed");
	T_EQ(last_clear, IP_CT_TCP_FLAG_MAXACK_SET, "MAXACK_SET cleared on return");
	T_EQ(pfd_flows_get_stats(f)->removals, 1, "removal counted");

	/* FIN seen: leaves ESTABLISHED */
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e);
	T_EQ(map_count(fd), 2, "re-install after the mark came back");
	e2 = e;
	e2.tcp_state = TCP_CONNTRACK_FIN_WAIT;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e2);
	T_EQ(map_count(fd), 0, "FIN_WAIT: removed");

	/* DESTROY: removed, conntrack not touched (the entry is gone) */
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &e);
	n_flags = 0;
	pfd_flows_ct_cb(f, PFD_CT_EV_DESTROY, &e);
	T_EQ(map_count(fd), 0, "destroy: removed");
	T_EQ(n_flags, 0, "destroy: no conntrack update");
	T_EQ(pfd_flows_get_stats(f)->flows, 0, "no flows left");

	/* a DESTROY for something never offloaded is harmless */
	pfd_flows_ct_cb(f, PFD_CT_EV_DESTROY, &e);
	T_EQ(pfd_flows_get_stats(f)->flows, 0, "destroy of unknown entry");

	/* not eligible from the start: nothing installed */
	e2 = e;
	e2.has_helper = true;
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &e2);
	T_EQ(map_count(fd), 0, "helper: not installed");
	pfd_flows_free(f);
}

static void reconcile(int fd)
{
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	struct pfd_ct_entry a, b;
	struct pfd_flow_key stray;
	struct pfd_flow v = {};
	uint64_t fixed;

	entry(&a, 41000);
	entry(&b, 41001);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &b);
	T_EQ(map_count(fd), 4, "reconcile: two flows installed");
	/* a stray entry (a previous run's, or a lost DESTROY's) */
	key_of(&a, 0, &stray);
	stray.sport = htons(9);
	bpf_map_update_elem(fd, &stray, &v, BPF_ANY);
	/* and a map entry lost behind pfd's back */
	key_of(&a, 1, &stray);
	bpf_map_delete_elem(fd, &stray);

	pfd_flows_reconcile_begin(f);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a); /* the dump shows only a */
	fixed = pfd_flows_reconcile_end(f);
	T_EQ(map_count(fd), 2, "reconcile: b removed, stray swept, a repaired");
	T_OK(bpf_map_lookup_elem(fd, &stray, &v), "reconcile: a's lost reply entry restored");
	T_EQ(fixed, 3, "reconcile: three differences repaired");
	T_EQ(pfd_flows_get_stats(f)->flows, 1, "reconcile: one flow");

	/* revalidation: everything goes, mark bits cleared with the mask */
	n_mark = 0;
	cfg.mark_mask = 0x3;
	pfd_flows_remove_all(f, true);
	T_EQ(map_count(fd), 0, "revalidation: map empty");
	T_EQ(n_mark, 1, "revalidation: offload mark cleared");
	T_EQ(last_mark_mask, 0x3, "revalidation: with the configured mask");
	cfg.mark_mask = 0x1;
	pfd_flows_free(f);
}

/* A revalidation's order at scale: the PFD_FLOWS_STALE_FIRST most
 * recently active flows first, newest first; then every other one, once. */
static void stale_refs_most_active_first(void)
{
	enum { N = PFD_FLOWS_STALE_FIRST + 1904, FIRST_PORT = 10000 };
	int fd = new_map(2 * N);
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	static unsigned char seen[N];
	struct pfd_ct_ref *refs = NULL;
	unsigned int i, in_order = 0, once = 0;
	struct pfd_ct_entry e;
	ssize_t n;

	for (i = 0; i < N; i++) {
		entry(&e, FIRST_PORT + (int)i); /* active_ns: its install, later each */
		pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &e);
	}
	T_EQ(pfd_flows_get_stats(f)->flows, N, "stale order: every flow installed");
	pfd_flows_set_policy_gen(f, 1);
	n = pfd_flows_stale_refs(f, &refs);
	T_EQ(n, N, "stale order: every flow listed");
	for (i = 0; n == N && i < N; i++) {
		unsigned int port = ntohs(refs[i].orig.sport) - FIRST_PORT;

		if (port < N && !seen[port]++)
			once++;
		if (i < PFD_FLOWS_STALE_FIRST && port == N - 1 - i)
			in_order++;
	}
	T_EQ(once, N, "stale order: each flow once");
	T_EQ(in_order, PFD_FLOWS_STALE_FIRST,
	     "stale order: the latest installs first, newest first");
	free(refs);
	pfd_flows_free(f);
	close(fd);
}

static void map_full(void)
{
	int fd = new_map(2);
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	struct pfd_ct_entry a, b;

	entry(&a, 42000);
	entry(&b, 42001);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &b);
	T_EQ(pfd_flows_get_stats(f)->flows, 1, "map full: the second flow stays slow");
	T_EQ(pfd_flows_get_stats(f)->map_full, 1, "map full: counted");
	T_EQ(map_count(fd), 2, "map full: no half-installed flow");
	pfd_flows_ct_cb(f, PFD_CT_EV_DESTROY, &a);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &b);
	T_EQ(pfd_flows_get_stats(f)->flows, 1, "map full: room again, b installed");
	pfd_flows_free(f);
	close(fd);
}

static void refresh_and_routes(int fd)
{
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	struct pfd_flow_key k0, k1;
	struct pfd_ct_entry a;
	struct pfd_flow v;

	entry(&a, 43000);
	key_of(&a, 0, &k0);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	n_timeout = n_neigh = 0;
	T_TRUE(!pfd_flows_refresh(f), "refresh: a small map in one part");
	T_EQ(n_timeout, 0, "refresh: idle flow left to expire");

	bpf_map_lookup_elem(fd, &k0, &v);
	v.last_seen_ns = 1000;
	bpf_map_update_elem(fd, &k0, &v, BPF_EXIST);
	pfd_flows_refresh(f);
	T_EQ(n_timeout, 1, "refresh: active flow's timeout refreshed");
	T_EQ(last_refresh_clear, IP_CT_TCP_FLAG_MAXACK_SET, "refresh: MAXACK_SET cleared with it");
	T_TRUE(last_timeout > 0, "refresh: with the established timeout");
	T_EQ(n_neigh, 2, "refresh: both next hops confirmed");
	{
		__be32 gw, cli;

		inet_pton(AF_INET, "198.51.100.1", &gw);
		inet_pton(AF_INET, "192.0.2.10", &cli);
		T_TRUE(neigh_addr[0] == gw || neigh_addr[1] == gw,
		       "refresh: the gateway, not the server behind it");
		T_TRUE(neigh_addr[0] == cli || neigh_addr[1] == cli,
		       "refresh: an on-link client itself");
	}
	pfd_flows_refresh(f);
	T_EQ(n_timeout, 1, "refresh: no new packets, no refresh");

	v.last_seen_ns = 2000;
	bpf_map_update_elem(fd, &k0, &v, BPF_EXIST);
	timeout_ret = -EPERM;
	pfd_flows_refresh(f);
	T_EQ(n_timeout, 2, "refresh: tried once more");
	v.last_seen_ns = 3000;
	bpf_map_update_elem(fd, &k0, &v, BPF_EXIST);
	pfd_flows_refresh(f);
	T_EQ(n_timeout, 2, "refresh: IPS_FIXED_TIMEOUT (EPERM) respected");
	timeout_ret = 0;

	/* the server side moves to ifindex 4 (attached too) */
	route_iface_v4[1] = 4;
	pfd_flows_invalidate(f, 0);
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	key_of(&a, 1, &k1);
	T_TRUE(bpf_map_lookup_elem(fd, &k1, &v) != 0, "route change: old reply key gone");
	k1.ifindex = 4;
	T_OK(bpf_map_lookup_elem(fd, &k1, &v), "route change: reply key on the new device");
	bpf_map_lookup_elem(fd, &k0, &v);
	T_EQ(v.oif, 4, "route change: original leaves by the new device");
	T_EQ(map_count(fd), 2, "route change: still two entries");

	pfd_flows_flush_dev(f, 4);
	T_EQ(map_count(fd), 0, "link down: flows through the device flushed");
	route_iface_v4[1] = 3;
	pfd_flows_free(f);
}

/* After a ruleset change, an event that would install is read back from
 * conntrack first: the mark it carries may be the old ruleset's. */
static void stale_events(int fd)
{
	static const struct {
		const char *name;
		int get_ret;
		__u32 mark_now;
		bool window;
		int entries;
	} cases[] = {
		{ "read back, mark cleared since: not installed", 0, 0, true, 0 },
		{ "read back, re-marked by the new ruleset: installed", 0, 1, true, 2 },
		{ "read back, gone: not installed", -ENOENT, 0, true, 0 },
		{ "read back fails: not installed", -ETIMEDOUT, 1, true, 0 },
		{ "window over: installed from the event", -ENOENT, 0, false, 2 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
		struct pfd_ct_entry e;

		entry(&e, 44000);
		get_entry = e;
		get_entry.mark = cases[i].mark_now;
		get_ret = cases[i].get_ret;
		pfd_flows_verify_until(f, cases[i].window ? UINT64_MAX : 1);
		pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &e);
		T_EQ(map_count(fd), cases[i].entries, cases[i].name);
		T_EQ(pfd_flows_get_stats(f)->verified, cases[i].window ? 1 : 0, cases[i].name);
		pfd_flows_remove_all(f, false);
		pfd_flows_free(f);
	}
	get_ret = -ENOENT;
}

/* The same tuple on the same device in two conntrack zones: the fast path
 * cannot tell their packets apart, so neither may be offloaded. */
static void zones_sharing_a_tuple(int fd)
{
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	struct pfd_ct_entry a, b;

	entry(&a, 45000);
	b = a;
	a.zone = 1;
	b.zone = 2;
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	T_EQ(map_count(fd), 2, "zones: the first entry is offloaded");
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &b);
	T_EQ(map_count(fd), 0, "zones: a second zone with the tuple: neither offloaded");
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	T_EQ(map_count(fd), 0, "zones: still ambiguous at the next event");
	T_TRUE(pfd_flows_get_stats(f)->ambiguous >= 2, "zones: refusals counted");
	/* b ends: a reconcile that sees only a makes it offloadable again */
	pfd_flows_reconcile_begin(f);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	pfd_flows_reconcile_end(f);
	T_EQ(map_count(fd), 0, "zones: not within the reconcile that found it alone");
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	T_EQ(map_count(fd), 2, "zones: alone again, offloaded at its next event");
	pfd_flows_remove_all(f, false);
	pfd_flows_free(f);
}

static __u32 map_policy_gen(int fd, const struct pfd_ct_entry *e, int dir)
{
	struct pfd_flow_key k;
	struct pfd_flow v;

	key_of(e, dir, &k);
	if (bpf_map_lookup_elem(fd, &k, &v))
		return 0xffffffff;
	return v.policy_gen;
}

/* A ruleset change (pfd_flows_set_policy_gen): every flow leaves the fast
 * path without a map write or a conntrack round trip; the current
 * ruleset's mark stamps it again with one write that keeps its counters;
 * nothing else (the mark clear's own event, tc changes, an event that
 * predates the change, held installs) puts it back. */
static void ruleset_generation(int fd)
{
	struct pfd_flows *f = new_table(fd, PFD_MODE_MARK);
	const struct pfd_flows_stats *st = pfd_flows_get_stats(f);
	struct pfd_ct_entry a, b, cleared;
	struct pfd_ct_ref *refs = NULL;
	struct pfd_flow_key k;
	struct pfd_flow v;
	ssize_t n;

	entry(&a, 46000);
	entry(&b, 46001);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	usleep(1000); /* b installed later: more recently active */
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &b);
	T_EQ(map_count(fd), 4, "generation: two flows installed");
	T_EQ(map_policy_gen(fd, &a, 0), 0, "generation: stamped with the current generation");
	key_of(&a, 0, &k);
	bpf_map_lookup_elem(fd, &k, &v);
	v.packets = 9;
	bpf_map_update_elem(fd, &k, &v, BPF_EXIST);

	n_flags = n_mark = 0;
	pfd_flows_set_policy_gen(f, 1);
	T_EQ(map_count(fd), 4, "generation: a change deletes nothing");
	T_EQ(map_policy_gen(fd, &b, 1), 0, "generation: and writes nothing");
	T_EQ(st->flows, 0, "generation: no flow on the fast path");
	T_EQ(st->stale, 2, "generation: both await the ruleset");

	/* the revalidation clears the stale flows' marks, the most recently
	 * active first, whatever their place in the table */
	n = pfd_flows_stale_refs(f, &refs);
	T_EQ(n, 2, "generation: two marks to clear");
	T_EQ(n == 2 ? refs[0].orig.sport : 0, b.orig.sport, "generation: the later install first");
	T_EQ(n == 2 ? refs[1].orig.sport : 0, a.orig.sport, "generation: then the earlier one");
	free(refs);

	/* marked while installs are held, the mark not known cleared: it may
	 * be the old ruleset's */
	pfd_flows_hold_installs(f, true);
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	T_EQ(map_policy_gen(fd, &a, 0), 0, "generation: held, not stamped");

	/* the revalidation's own mark clear comes back as an event */
	cleared = a;
	cleared.mark = 0;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &cleared);
	T_EQ(map_count(fd), 4, "generation: the clear's event removes nothing");
	T_EQ(n_flags + n_mark, 0, "generation: no conntrack round trip per flow");
	T_TRUE(pfd_flows_mark_known_cleared(f, &a), "generation: a's mark known cleared");
	T_TRUE(!pfd_flows_mark_known_cleared(f, &b), "generation: b's not yet");

	/* an event that predates the change: conntrack, read back, says the
	 * mark is gone */
	pfd_flows_verify_until(f, UINT64_MAX);
	get_ret = 0;
	get_entry = cleared;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	T_EQ(map_policy_gen(fd, &a, 0), 0, "generation: an old event does not stamp it");
	T_EQ(st->stale_events, 1, "generation: the old event counted");
	/* the current ruleset marked it: stamped again though installs are
	 * held (its own mark was cleared), counters kept */
	get_entry = a;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &a);
	pfd_flows_verify_until(f, 0);
	get_ret = -ENOENT;
	T_EQ(map_policy_gen(fd, &a, 0), 1, "generation: re-marked: original stamped");
	T_EQ(map_policy_gen(fd, &a, 1), 1, "generation: re-marked: reply stamped");
	bpf_map_lookup_elem(fd, &k, &v);
	T_EQ(v.packets, 9, "generation: the fast path's counters kept");
	T_EQ(st->flows, 1, "generation: one flow back on the fast path");
	T_EQ(st->stale, 1, "generation: one still waiting");
	T_EQ(st->readmitted, 1, "generation: readmission counted");
	T_EQ(st->installs, 2, "generation: a readmission is no new install");
	T_EQ(n_flags, 0, "generation: no BE_LIBERAL again");

	/* b's mark cleared by reference: only b is left to clear */
	n = pfd_flows_stale_refs(f, &refs);
	T_EQ(n, 1, "generation: one mark left to clear");
	if (n == 1)
		pfd_flows_marks_cleared(f, refs, 1);
	free(refs);
	T_TRUE(pfd_flows_mark_known_cleared(f, &b), "generation: b's mark known cleared");
	n = pfd_flows_stale_refs(f, &refs);
	T_EQ(n, 0, "generation: nothing left to clear");
	free(refs);
	pfd_flows_hold_installs(f, false);

	/* a tc change re-decides installed flows, not stale ones */
	pfd_flows_redecide(f, -1);
	T_EQ(map_policy_gen(fd, &b, 0), 0, "generation: redecide leaves a stale flow stale");

	/* b left ESTABLISHED while stale: the kernel has it, nothing to do */
	cleared = b;
	cleared.tcp_state = TCP_CONNTRACK_FIN_WAIT;
	pfd_flows_ct_cb(f, PFD_CT_EV_UPDATE, &cleared);
	T_EQ(map_count(fd), 4, "generation: a stale flow's state change removes nothing");
	/* a dump that no longer shows b: its entries go, still no round trip */
	pfd_flows_reconcile_begin(f);
	pfd_flows_ct_cb(f, PFD_CT_EV_NEW, &a);
	pfd_flows_reconcile_end(f);
	T_EQ(map_count(fd), 2, "generation: reconcile removes the stale flow it did not see");
	T_EQ(st->stale, 0, "generation: none waiting");
	T_EQ(n_flags + n_mark, 0, "generation: its removal touched no conntrack entry");
	/* and a's destroy while stale after the next change */
	pfd_flows_set_policy_gen(f, 2);
	pfd_flows_ct_cb(f, PFD_CT_EV_DESTROY, &a);
	T_EQ(map_count(fd), 0, "generation: destroy removes a stale flow");
	T_EQ(st->flows + st->stale, 0, "generation: nothing left");
	pfd_flows_free(f);
}

struct count_arg {
	unsigned int n, sport_sum, stop_at;
};

static int count_cb(void *arg, const struct pfd_flow_key *k, const struct pfd_flow *v)
{
	struct count_arg *c = arg;

	c->n++;
	c->sport_sum += ntohs(k->sport);
	if (v->oif != ntohs(k->sport))
		return -EBADMSG; /* the value is not the key's */
	return c->n == c->stop_at ? 7 : 0;
}

/* pfd_flows_foreach reads the map in batches: every entry once, each with
 * its own value, across several batches; a callback's non-zero stops it. */
static void foreach_batches(void)
{
	int fd = new_map(4096);
	struct count_arg c = { 0 };
	unsigned int i, want = 0;

	for (i = 1; i <= 3000; i++) {
		struct pfd_flow_key k = { .ifindex = 2, .family = AF_INET, .l4proto = IPPROTO_TCP };
		struct pfd_flow v = { .oif = i };

		k.sport = htons((uint16_t)i);
		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		want += i;
	}
	T_EQ(pfd_flows_foreach(fd, count_cb, &c), 0, "foreach: completes");
	T_EQ(c.n, 3000, "foreach: every entry of three batches once");
	T_EQ(c.sport_sum, want, "foreach: no entry twice, none left out");
	memset(&c, 0, sizeof(c));
	c.stop_at = 1500;
	T_EQ(pfd_flows_foreach(fd, count_cb, &c), 7, "foreach: the callback's value stops it");
	T_EQ(c.n, 1500, "foreach: nothing after the stop");

	/* in parts: each call stops after a batch once its budget is
	 * spent, and the next goes on from there */
	{
		struct pfd_flows_cursor cur = { 0 };
		unsigned int calls = 0;

		memset(&c, 0, sizeof(c));
		while (!cur.done && calls < 100) {
			T_EQ(pfd_flows_foreach_part(fd, &cur, 1, count_cb, &c), 0,
			     "foreach in parts: each part completes");
			calls++;
		}
		T_TRUE(cur.done, "foreach in parts: reaches the end");
		T_TRUE(calls >= 3, "foreach in parts: 3000 entries take several parts");
		T_EQ(c.n, 3000, "foreach in parts: every entry once");
		T_EQ(c.sport_sum, want, "foreach in parts: no entry twice, none left out");
		T_EQ(pfd_flows_foreach_part(fd, &cur, 1, count_cb, &c), 0,
		     "foreach in parts: a call after the end");
		T_EQ(c.n, 3000, "foreach in parts: gives nothing more");
	}
	close(fd);
}

int main(void)
{
	int fd;

	pfd_config_defaults(&cfg);
	cfg.mode = PFD_MODE_MARK;
	cfg.mark_value = 1;
	cfg.mark_mask = 1;
	cfg.flow_map_size = 1024;
	devs.n = 3;
	devs.d[0].ifindex = 2;
	devs.d[1].ifindex = 3;
	devs.d[2].ifindex = 4;
	devs.d[0].flags = devs.d[1].flags = devs.d[2].flags = PFD_DEV_F_XDP;

	fd = new_map(64);
	if (fd < 0) {
		t_skip("flow table", "cannot create a BPF map (needs CAP_BPF)");
		return t_done();
	}
	install_remove(fd);
	stale_events(fd);
	zones_sharing_a_tuple(fd);
	ruleset_generation(fd);
	foreach_batches();
	stale_refs_most_active_first();
	reconcile(fd);
	map_full();
	refresh_and_routes(fd);
	close(fd);
	return t_done();
}
