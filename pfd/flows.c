// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's flow table (see flows.h). One record per offloaded conntrack
 * entry, indexed by conntrack identity (zone + original tuple) and by both
 * map keys, so events, reconcile and map sweeps are O(1) per entry. The map
 * is written only here. Installs and removals are idempotent: events racing
 * a dump arrive twice at worst. Used by pfd/daemon.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "nft-backend/nft.h"
#include "nft-backend/rt.h"
#include "pfd/flows.h"
#include "pfd/util.h"
#include "pfd/log.h"
#include "pfd/stats.h"

/* The part of struct pfd_flow pfd writes at install (NAT, oif, flags); the
 * rest is the fast path's (FIB cache, counters). */
#define FLOW_TMPL_LEN offsetof(struct pfd_flow, cache_gen)

struct rec {
	struct rec *next_id;
	struct rec *next_key[2];
	uint32_t key_bucket[2]; /* by_key bucket of key[0], key[1] */
	struct pfd_ct_entry e;
	struct pfd_flow_key key[2];
	/* byte arrays (FLOW_TMPL_LEN is not a multiple of 8): read them
	 * through memcpy, never a cast */
	unsigned char tmpl[2][FLOW_TMPL_LEN];
	uint64_t refreshed_seen; /* max last_seen_ns at the last refresh */
	uint32_t refresh_round;	 /* the refresh round that last looked at it */
	uint64_t active_ns;	 /* pfd_now_ns() of its install, or of the last
				  * refresh that saw fast-path packets */
	uint32_t cleared_gen;	 /* policy_gen under which its offload mark
				  * is known cleared (see hold_installs) */
	__be32 gw[2][4];	 /* each direction's next hop; 0: on-link */
	uint32_t seen_gen;
	uint32_t env_gen;   /* f->env_gen when last decided */
	bool fixed_timeout; /* IPS_FIXED_TIMEOUT: EPERM on refresh */
};

/* Cached route resolution (RTM_GETROUTE costs a round trip; a burst of
 * flows between the same hosts asks the same questions). Direct-mapped,
 * cleared on every route, rule, address and link event. */
#define RT_CACHE_SIZE 4096
struct rt_cache_ent {
	bool valid;
	uint8_t family;
	int iif;
	__be32 dst[4], src[4];
	struct pfd_rt_l4 l4; /* zero: asked without ports */
	int err, oif;
	__be32 gw[4];
};

/* xfrm coverage per address pair: no change events exist for it, so the
 * cache lives from one reconcile (or invalidation) to the next. */
#define XFRM_CACHE_SIZE 1024
struct xfrm_cache_ent {
	bool valid;
	uint8_t family;
	int covered;
	__be32 src[4], dst[4];
};

/* Per-device policy probes (tc filters, qdiscs, netdev chains), cached until
 * a TC or link event on the device or a ruleset change. The XDP transmit
 * capability is not kept here: rt.c caches it and follows its notifications. */
struct dev_probe {
	int ifindex;
	bool valid;
	struct pfd_policy_dev facts;
};

struct pfd_flows {
	struct pfd_flows_ctx ctx;
	struct pfd_flows_stats st;
	struct rec **by_id;
	struct rec **by_key;
	size_t nbuckets; /* power of two, both tables */
	uint32_t gen;	 /* reconcile generation */
	bool reconciling;
	bool serving_events; /* events read between the reconcile dump's datagrams */
	bool full_logged;
	struct rt_cache_ent *rtc;
	struct xfrm_cache_ent *xfc;
	struct dev_probe probes[PFD_MAX_DEVS];
	int fwmark[2];		    /* [v4, v6]: -1 unknown, 0/1 */
	struct pfd_flow_key *sweep; /* reconcile: map keys to delete */
	size_t nsweep, sweep_steps;
	uint64_t repairs_before; /* st.repairs at reconcile begin */
	uint32_t env_gen;	 /* bumped by every invalidation */
	uint64_t verify_until;	 /* see pfd_flows_verify_until() */
	uint32_t policy_gen;	 /* pfd_ctl.policy_gen: stamped at install */
	bool walk_cancel;	 /* see pfd_flows_walk_cancel() */
	uint32_t refresh_round;	 /* rounds of pfd_flows_refresh */
	struct refresh_walk {
		struct pfd_flows_cursor cursor; /* where the round goes on */
		bool in_round;
		uint32_t tcp_to, udp_to; /* the round's sysctls */
		size_t steps;
	} refresh;
	bool installs_held; /* see pfd_flows_hold_installs() */
	/* Map keys two conntrack entries share (the same tuple on the same
	 * device in two zones): the fast path cannot tell their packets
	 * apart, so neither is offloaded. Rare; rebuilt by every reconcile. */
	struct pfd_flow_key *ambiguous;
	uint32_t *ambiguous_seen; /* entries a reconcile mapped to it */
	size_t nambiguous;
};

/* The inputs are small fixed-size tuples, hashed at every install, lookup
 * and walk step: 8 bytes a multiply (a byte at a time cost 10% of the
 * daemon's time at 300k flows), then murmur3's finaliser. */
static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	uint64_t w;

	for (; n >= sizeof(w); n -= sizeof(w), b += sizeof(w)) {
		memcpy(&w, b, sizeof(w));
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	}
	if (n) {
		w = 0;
		memcpy(&w, b, n);
		h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9e3779b97f4a7c15ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static size_t id_hash(const struct pfd_flows *f, const struct pfd_ct_entry *e)
{
	uint64_t h = hash_bytes(&e->zone, sizeof(e->zone), 0xcbf29ce484222325ULL);

	h = hash_bytes(&e->orig, sizeof(e->orig), h);
	return (size_t)h & (f->nbuckets - 1);
}

static size_t key_hash(const struct pfd_flows *f, const struct pfd_flow_key *k)
{
	return (size_t)hash_bytes(k, sizeof(*k), 0xcbf29ce484222325ULL) & (f->nbuckets - 1);
}

static bool same_id(const struct pfd_ct_entry *a, const struct pfd_ct_entry *b)
{
	return a->zone == b->zone && !memcmp(&a->orig, &b->orig, sizeof(a->orig));
}

static struct rec *find_id(struct pfd_flows *f, const struct pfd_ct_entry *e)
{
	struct rec *r;

	for (r = f->by_id[id_hash(f, e)]; r; r = r->next_id)
		if (same_id(&r->e, e))
			return r;
	return NULL;
}

/* A record is on two key chains, one per direction; its keys' buckets are
 * kept (key_bucket) so that a walk knows which link to follow without
 * hashing again. */
static struct rec *find_key(struct pfd_flows *f, const struct pfd_flow_key *k)
{
	struct rec *r;
	size_t h = key_hash(f, k);

	for (r = f->by_key[h]; r;) {
		int d = r->key_bucket[0] == h ? 0 : 1;

		if (!memcmp(&r->key[d], k, sizeof(*k)))
			return r;
		/* both keys in this bucket: the other may be the one */
		if (d == 0 && r->key_bucket[1] == h && !memcmp(&r->key[1], k, sizeof(*k)))
			return r;
		r = r->next_key[d];
	}
	return NULL;
}

static void link_keys(struct pfd_flows *f, struct rec *r)
{
	int d;

	for (d = 0; d < 2; d++) {
		size_t h = key_hash(f, &r->key[d]);

		r->key_bucket[d] = (uint32_t)h;
		r->next_key[d] = f->by_key[h];
		f->by_key[h] = r;
	}
}

static void unlink_keys(struct pfd_flows *f, struct rec *r)
{
	int d;

	for (d = 0; d < 2; d++) {
		size_t h = r->key_bucket[d];
		struct rec **pp = &f->by_key[h];

		while (*pp) {
			struct rec *c = *pp;
			int cd = c == r ? d : (c->key_bucket[0] == h ? 0 : 1);

			if (c == r) {
				*pp = c->next_key[cd];
				break;
			}
			pp = &c->next_key[cd];
		}
	}
}

static void unlink_id(struct pfd_flows *f, struct rec *r)
{
	struct rec **pp = &f->by_id[id_hash(f, &r->e)];

	while (*pp && *pp != r)
		pp = &(*pp)->next_id;
	if (*pp)
		*pp = r->next_id;
}

int pfd_flows_new(struct pfd_flows **out, const struct pfd_flows_ctx *ctx)
{
	struct pfd_flows *f = calloc(1, sizeof(*f));
	size_t n = 1024;

	if (!f)
		return -ENOMEM;
	while (n < ctx->cfg->flow_map_size && n < (1U << 22))
		n <<= 1;
	f->nbuckets = n;
	f->by_id = calloc(n, sizeof(*f->by_id));
	f->by_key = calloc(n, sizeof(*f->by_key));
	f->rtc = calloc(RT_CACHE_SIZE, sizeof(*f->rtc));
	f->xfc = calloc(XFRM_CACHE_SIZE, sizeof(*f->xfc));
	if (!f->by_id || !f->by_key || !f->rtc || !f->xfc) {
		pfd_flows_free(f);
		return -ENOMEM;
	}
	f->ctx = *ctx;
	f->fwmark[0] = f->fwmark[1] = -1;
	*out = f;
	return 0;
}

void pfd_flows_free(struct pfd_flows *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; f->by_id && i < f->nbuckets; i++) {
		struct rec *r = f->by_id[i], *n;

		for (; r; r = n) {
			n = r->next_id;
			free(r);
		}
	}
	free(f->by_id);
	free(f->by_key);
	free(f->rtc);
	free(f->xfc);
	free(f->ambiguous);
	free(f->ambiguous_seen);
	free(f);
}

void pfd_flows_set_ctx(struct pfd_flows *f, const struct pfd_flows_ctx *ctx)
{
	f->ctx = *ctx;
}

const struct pfd_flows_stats *pfd_flows_get_stats(const struct pfd_flows *f)
{
	return &f->st;
}

/* A record whose map entries carry an older ruleset generation: the fast
 * path passes its packets to the kernel, which decides them again. */
static bool rec_stale(const struct pfd_flows *f, const struct rec *r)
{
	__u32 gen;

	memcpy(&gen, r->tmpl[0] + offsetof(struct pfd_flow, policy_gen), sizeof(gen));
	return gen != f->policy_gen;
}

void pfd_flows_set_policy_gen(struct pfd_flows *f, uint32_t gen)
{
	if (gen == f->policy_gen)
		return;
	/* every record becomes stale at once; none is touched */
	f->st.stale += f->st.flows;
	f->st.flows = 0;
	f->policy_gen = gen;
}

void pfd_flows_hold_installs(struct pfd_flows *f, bool hold)
{
	f->installs_held = hold;
}

void pfd_flows_walk_cancel(struct pfd_flows *f)
{
	f->walk_cancel = true;
}

/* A min-heap on active_ns: the PFD_FLOWS_STALE_FIRST most active flows. */
struct stale_ref {
	uint64_t active_ns;
	struct pfd_ct_ref ref;
};

static void heap_down(struct stale_ref *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct stale_ref t;

		if (l < n && h[l].active_ns < h[m].active_ns)
			m = l;
		if (l + 1 < n && h[l + 1].active_ns < h[m].active_ns)
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_up(struct stale_ref *h, size_t i)
{
	while (i && h[(i - 1) / 2].active_ns > h[i].active_ns) {
		struct stale_ref t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

ssize_t pfd_flows_stale_refs(struct pfd_flows *f, struct pfd_ct_ref **out)
{
	size_t cap = f->st.stale, first = 0, rest = 0, i;
	struct stale_ref *top;
	struct pfd_ct_ref *refs;

	*out = NULL;
	if (!cap)
		return 0;
	top = malloc(PFD_FLOWS_STALE_FIRST * sizeof(*top));
	refs = malloc((cap + PFD_FLOWS_STALE_FIRST) * sizeof(*refs));
	if (!top || !refs) {
		free(top);
		free(refs);
		return -ENOMEM;
	}
	/* One pass: the most active flows into a bounded heap, the rest in
	 * table order behind room for them. At 800k flows a full sort by
	 * activity took 300 ms, and the whole ordering 750 ms, while every
	 * active flow waited in the kernel. */
	for (i = 0; i < f->nbuckets && first + rest < cap; i++) {
		struct rec *r;

		for (r = f->by_id[i]; r && first + rest < cap; r = r->next_id) {
			struct stale_ref e;

			if (!rec_stale(f, r) || r->cleared_gen == f->policy_gen)
				continue;
			e.active_ns = r->active_ns;
			e.ref.orig = r->e.orig;
			e.ref.zone = r->e.zone;
			if (first < PFD_FLOWS_STALE_FIRST) {
				top[first] = e;
				heap_up(top, first++);
				continue;
			}
			if (e.active_ns > top[0].active_ns) {
				struct stale_ref t = top[0];

				top[0] = e;
				heap_down(top, first, 0);
				e = t;
			}
			refs[PFD_FLOWS_STALE_FIRST + rest++] = e.ref;
		}
	}
	/* the heap, most active first, then the rest right behind it */
	for (i = first; i > 0; i--) {
		refs[i - 1] = top[0].ref;
		top[0] = top[i - 1];
		heap_down(top, i - 1, 0);
	}
	memmove(refs + first, refs + PFD_FLOWS_STALE_FIRST, rest * sizeof(*refs));
	free(top);
	*out = refs;
	return (ssize_t)(first + rest);
}

static struct rec *find_ref(struct pfd_flows *f, const struct pfd_ct_ref *ref)
{
	struct pfd_ct_entry e;

	memset(&e, 0, sizeof(e));
	e.orig = ref->orig;
	e.zone = ref->zone;
	return find_id(f, &e);
}

void pfd_flows_marks_cleared(struct pfd_flows *f, const struct pfd_ct_ref *refs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct rec *r = find_ref(f, &refs[i]);

		if (r && rec_stale(f, r))
			r->cleared_gen = f->policy_gen;
	}
}

bool pfd_flows_mark_known_cleared(void *arg, const struct pfd_ct_entry *e)
{
	struct pfd_flows *f = arg;
	struct rec *r = find_id(f, e);

	return r && r->cleared_gen == f->policy_gen;
}

/* -------------------------------------------------------------------- */
/* Environment: routes and device probes, cached                        */

static int route_oif(void *arg, int family, const __be32 *dst, const __be32 *src, int iif,
		     const struct pfd_rt_l4 *l4, int *oif, __be32 *gw)
{
	struct pfd_flows *f = arg;
	struct pfd_rt_l4 no_l4 = { 0 };
	__be32 zero[4] = { 0 };
	struct rt_cache_ent *c;
	uint64_t h;

	if (!src)
		src = zero;
	if (!l4)
		l4 = &no_l4;
	h = hash_bytes(&family, sizeof(family), 0xcbf29ce484222325ULL);
	h = hash_bytes(dst, 16, h);
	h = hash_bytes(src, 16, h);
	h = hash_bytes(&iif, sizeof(iif), h);
	h = hash_bytes(&l4->proto, sizeof(l4->proto), h);
	h = hash_bytes(&l4->sport, sizeof(l4->sport), h);
	h = hash_bytes(&l4->dport, sizeof(l4->dport), h);
	c = &f->rtc[h % RT_CACHE_SIZE];
	if (c->valid && c->family == family && c->iif == iif && !memcmp(c->dst, dst, 16) &&
	    !memcmp(c->src, src, 16) && c->l4.proto == l4->proto && c->l4.sport == l4->sport &&
	    c->l4.dport == l4->dport) {
		*oif = c->oif;
		if (gw)
			memcpy(gw, c->gw, sizeof(c->gw));
		return c->err;
	}
	memset(c->gw, 0, sizeof(c->gw));
	c->err = pfd_rt_route_l4(f->ctx.rt, family, dst, src == zero ? NULL : src, iif, 0,
				 l4->proto ? l4 : NULL, &c->oif, c->gw);
	c->valid = true;
	c->l4 = *l4;
	c->family = (uint8_t)family;
	c->iif = iif;
	memcpy(c->dst, dst, 16);
	memcpy(c->src, src, 16);
	*oif = c->oif;
	if (gw)
		memcpy(gw, c->gw, sizeof(c->gw));
	return c->err;
}

static int xfrm_covers(struct pfd_flows *f, int family, const __be32 *src, const __be32 *dst)
{
	struct xfrm_cache_ent *c;
	uint64_t h;

	h = hash_bytes(src, 16, 0xcbf29ce484222325ULL);
	h = hash_bytes(dst, 16, h);
	c = &f->xfc[h % XFRM_CACHE_SIZE];
	if (c->valid && c->family == family && !memcmp(c->src, src, 16) && !memcmp(c->dst, dst, 16))
		return c->covered;
	/* an error counts as covered: the kernel keeps the flow */
	c->covered = pfd_rt_xfrm_covers(f->ctx.rt, family, src, dst) != 0;
	c->valid = true;
	c->family = (uint8_t)family;
	memcpy(c->src, src, 16);
	memcpy(c->dst, dst, 16);
	return c->covered;
}

/* Probes every device slot that needs it, with one nft netdev-chain dump
 * for all of them. */
static void probe_devs(struct pfd_flows *f)
{
	struct pfd_nft_netdev_chain *chains = NULL;
	unsigned int j, n = 0;
	int chains_err = 0;
	bool any = false;

	for (j = 0; j < PFD_MAX_DEVS; j++)
		any |= f->probes[j].ifindex && !f->probes[j].valid;
	if (!any)
		return;
	if (f->ctx.nft)
		chains_err = pfd_nft_read_netdev_chains(f->ctx.nft, &chains, &n);
	if (chains_err)
		n = 0;
	for (j = 0; j < PFD_MAX_DEVS; j++) {
		struct dev_probe *p = &f->probes[j];

		if (!p->ifindex || p->valid)
			continue;
		memset(&p->facts, 0, sizeof(p->facts));
		p->facts.ifindex = p->ifindex;
		pfd_policy_probe_dev(f->ctx.rt, chains, n, chains_err, &p->facts);
		p->valid = true;
	}
	free(chains);
}

/* The slot of a device, allocated (and reused round robin when all are
 * taken) but not probed. */
static struct dev_probe *dev_slot(struct pfd_flows *f, int ifindex)
{
	struct dev_probe *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < PFD_MAX_DEVS; i++) {
		if (f->probes[i].ifindex == ifindex)
			return &f->probes[i];
		if (!free_slot && !f->probes[i].ifindex)
			free_slot = &f->probes[i];
	}
	if (!free_slot)
		free_slot = &f->probes[(unsigned int)ifindex % PFD_MAX_DEVS];
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->ifindex = ifindex;
	return free_slot;
}

static struct dev_probe *dev_probe(struct pfd_flows *f, int ifindex)
{
	struct dev_probe *p = dev_slot(f, ifindex);

	if (!p->valid)
		probe_devs(f);
	return p;
}

void pfd_flows_warm(struct pfd_flows *f)
{
	unsigned int i;

	/* every attached device gets a slot; the probes run now, not in the
	 * middle of the first flow's install */
	for (i = 0; i < f->ctx.devs->n; i++)
		dev_slot(f, f->ctx.devs->d[i].ifindex);
	probe_devs(f);
	for (i = 0; i < 2; i++)
		if (f->fwmark[i] < 0)
			f->fwmark[i] =
				pfd_rt_has_fwmark_rules(f->ctx.rt, i ? AF_INET6 : AF_INET) != 0;
}

static void fill_env(struct pfd_flows *f, const struct pfd_ct_entry *e, struct pfd_policy_env *env)
{
	int d, k, fi = e->orig.family == AF_INET6;

	memset(env, 0, sizeof(*env));
	env->mode = f->ctx.mode;
	env->fib_mark_ok = f->ctx.fib_mark_ok;
	/* pfd_policy_resolve()'s questions, through the cache */
	pfd_policy_resolve_by(route_oif, f, e, env);
	for (d = 0; d < 2; d++) {
		struct pfd_policy_dev *devp[2] = { &env->in[d], &env->out[d] };

		for (k = 0; k < 2; k++) {
			struct dev_probe *p;

			if (devp[k]->ifindex <= 0)
				continue;
			pfd_policy_dev_attached(f->ctx.devs, devp[k]);
			p = dev_probe(f, devp[k]->ifindex);
			devp[k]->egress_policy = p->facts.egress_policy;
			devp[k]->ingress_policy = p->facts.ingress_policy;
			devp[k]->netdev_chain = p->facts.netdev_chain;
			devp[k]->egress_chain = p->facts.egress_chain;
			/* rt.c keeps it current from the netdev notifications */
			devp[k]->xdp_xmit = pfd_rt_dev_xdp_xmit(f->ctx.rt, devp[k]->ifindex);
		}
		if (env->out[d].vlan_parent > 0) {
			struct pfd_policy_dev parent = { .ifindex = env->out[d].vlan_parent };
			struct dev_probe *p = dev_probe(f, parent.ifindex);

			pfd_policy_dev_attached(f->ctx.devs, &parent);
			parent.egress_policy = p->facts.egress_policy;
			parent.egress_chain = p->facts.egress_chain;
			parent.xdp_xmit = pfd_rt_dev_xdp_xmit(f->ctx.rt, parent.ifindex);
			pfd_policy_vlan_parent(&env->out[d], &parent);
		}
	}
	if (env->mode == PFD_MODE_FLOWTABLE)
		env->same_flowtable = pfd_policy_same_flowtable(f->ctx.ft, env->in[0].ifindex,
								env->out[0].ifindex);
	if (f->fwmark[fi] < 0)
		f->fwmark[fi] = pfd_rt_has_fwmark_rules(f->ctx.rt, e->orig.family) != 0;
	env->fwmark_rules = f->fwmark[fi];
	/* xfrm has no change events here: asked per flow (and again on every
	 * reconcile), an error counts as covered (the kernel keeps the flow).
	 * Without NAT the reply tuple is the original reversed: one question. */
	k = xfrm_covers(f, e->orig.family, e->orig.src, e->orig.dst);
	if (!k && (memcmp(e->orig.src, e->reply.dst, 16) || memcmp(e->orig.dst, e->reply.src, 16)))
		k = xfrm_covers(f, e->orig.family, e->reply.src, e->reply.dst);
	env->xfrm = k;
}

void pfd_flows_invalidate(struct pfd_flows *f, int ifindex)
{
	unsigned int i;

	memset(f->rtc, 0, RT_CACHE_SIZE * sizeof(*f->rtc));
	memset(f->xfc, 0, XFRM_CACHE_SIZE * sizeof(*f->xfc));
	f->fwmark[0] = f->fwmark[1] = -1;
	f->env_gen++;
	for (i = 0; i < PFD_MAX_DEVS; i++)
		if (ifindex < 0 || (ifindex > 0 && f->probes[i].ifindex == ifindex))
			f->probes[i].valid = false;
}

/* -------------------------------------------------------------------- */
/* Install and remove                                                   */

static bool mark_mode(const struct pfd_flows *f)
{
	return f->ctx.mode == PFD_MODE_MARK;
}

/* The record in hand came from the reconcile dump (not from an event read
 * between its datagrams, see pfd_flows_serving_events). */
static bool from_dump(const struct pfd_flows *f)
{
	return f->reconciling && !f->serving_events;
}

/* Every PFD_FLOWS_PULSE_EVERY steps of a long walk: see ctx.pulse. */
static void walk_pulse(struct pfd_flows *f, size_t *steps)
{
	if (++*steps % PFD_FLOWS_PULSE_EVERY == 0 && f->ctx.pulse)
		f->ctx.pulse(f->ctx.pulse_arg);
}

static void map_delete_keys(struct pfd_flows *f, const struct pfd_flow_key key[2])
{
	bpf_map_delete_elem(f->ctx.flows_fd, &key[0]);
	bpf_map_delete_elem(f->ctx.flows_fd, &key[1]);
}

/* The entry leaves the fast path. gone: conntrack already destroyed it (no
 * conntrack update possible). */
static void remove_rec(struct pfd_flows *f, struct rec *r, bool gone, bool clear_mark,
		       const char *why)
{
	bool stale = rec_stale(f, r);

	map_delete_keys(f, r->key);
	unlink_keys(f, r);
	unlink_id(f, r);
	f->st.removals++;
	if (stale)
		f->st.stale--;
	else
		f->st.flows--;
	pr_debug("flow removed: %s", why);
	/* a stale record is already the kernel's: the revalidation's batched
	 * clear reset its mark and MAXACK_SET */
	if (!gone && !stale && mark_mode(f)) {
		/* Returning to the kernel: td_maxack froze while the fast path
		 * carried the flow; with MAXACK_SET a legitimate RST can be
		 * judged invalid (nf_flow_table clears it at teardown too). */
		if (r->e.orig.l4proto == IPPROTO_TCP)
			pfd_ct_set_tcp_flags(f->ctx.ct, &r->e, 0, IP_CT_TCP_FLAG_MAXACK_SET);
		if (clear_mark)
			pfd_ct_set_mark(f->ctx.ct, &r->e, 0, f->ctx.cfg->mark_mask);
	}
	free(r);
}

/* Writes one direction, keeping the fast path's counters of an entry that
 * is already there (a re-install after a reload or restart). A flow pfd
 * has no record of usually has no entry either (likely_new): one system
 * call instead of two, the common case of a burst of new flows. */
static int map_write(struct pfd_flows *f, const struct pfd_flow_key *k, const struct pfd_flow *v,
		     bool likely_new)
{
	struct pfd_flow cur, val = *v;

	if (likely_new) {
		if (!bpf_map_update_elem(f->ctx.flows_fd, k, v, BPF_NOEXIST))
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	if (!bpf_map_lookup_elem(f->ctx.flows_fd, k, &cur)) {
		if (!memcmp(&cur, v, FLOW_TMPL_LEN))
			return 0; /* same decision: leave it (and its FIB cache) */
		val.packets = cur.packets;
		val.bytes = cur.bytes;
		val.last_seen_ns = cur.last_seen_ns;
		val.kernel_pass_ns = cur.kernel_pass_ns;
	}
	if (bpf_map_update_elem(f->ctx.flows_fd, k, &val, BPF_ANY))
		return -errno;
	return 0;
}

static void install(struct pfd_flows *f, struct rec *r, const struct pfd_ct_entry *e,
		    const struct pfd_policy_env *env, const struct pfd_policy_decision *d)
{
	struct pfd_flow_key key[2];
	struct pfd_flow val[2];
	bool fresh = !r, readmitted = r && rec_stale(f, r);
	int err, i;

	pfd_policy_build(e, env, d, key, val);
	val[0].policy_gen = val[1].policy_gen = f->policy_gen;
	if (r && !memcmp(r->key, key, sizeof(key)) && !memcmp(r->tmpl[0], &val[0], FLOW_TMPL_LEN) &&
	    !memcmp(r->tmpl[1], &val[1], FLOW_TMPL_LEN)) {
		/* unchanged; on reconcile make sure the map still agrees */
		if (from_dump(f)) {
			struct pfd_flow cur;

			for (i = 0; i < 2; i++)
				if (bpf_map_lookup_elem(f->ctx.flows_fd, &key[i], &cur)) {
					if (!map_write(f, &key[i], &val[i], true))
						f->st.repairs++;
				}
		}
		r->e = *e;
		memcpy(r->gw, env->gw, sizeof(r->gw));
		r->seen_gen = f->gen;
		r->env_gen = f->env_gen;
		return;
	}
	for (i = 0; i < 2; i++) {
		struct rec *other = find_key(f, &key[i]);
		size_t j;

		for (j = 0; j < f->nambiguous; j++)
			if (!memcmp(&f->ambiguous[j], &key[i], sizeof(key[i])))
				break;
		if (j == f->nambiguous && (!other || other == r))
			continue;
		if (j < f->nambiguous) {
			f->ambiguous_seen[j]++;
		} else {
			struct pfd_flow_key *a =
				realloc(f->ambiguous, (f->nambiguous + 1) * sizeof(*a));
			uint32_t *c =
				a ? realloc(f->ambiguous_seen, (f->nambiguous + 1) * sizeof(*c)) :
				    NULL;

			if (a)
				f->ambiguous = a;
			if (c) {
				f->ambiguous_seen = c;
				f->ambiguous[f->nambiguous] = key[i];
				f->ambiguous_seen[f->nambiguous++] = 2;
			}
			pr_ratelimited(LOG_WARNING, 60,
				       "two conntrack entries (zones %u and %u) share a tuple on "
				       "one device: both stay in the kernel",
				       other->e.zone, e->zone);
			remove_rec(f, other, false, false, "tuple shared with another zone");
		}
		f->st.ambiguous++;
		if (r)
			remove_rec(f, r, false, false, "tuple shared with another zone");
		return;
	}
	if (r && memcmp(r->key, key, sizeof(key))) {
		/* the keys moved (route change): old ones go first */
		map_delete_keys(f, r->key);
	}
	for (i = 0; i < 2; i++) {
		err = map_write(f, &key[i], &val[i], fresh);
		if (!err)
			continue;
		if (i == 1)
			bpf_map_delete_elem(f->ctx.flows_fd, &key[0]);
		if (err == -E2BIG || err == -ENOMEM) {
			f->st.map_full++;
			if (!f->full_logged) {
				f->full_logged = true;
				pr_warn("flow map full (%u entries): new flows stay on the kernel "
					"path (raise flow-map-size)",
					f->ctx.cfg->flow_map_size);
			}
		} else {
			pr_ratelimited(LOG_ERR, 10, "flow map update failed (%s)", strerror(-err));
		}
		if (r)
			remove_rec(f, r, false, false, "re-install failed");
		return;
	}
	f->full_logged = false;

	if (fresh) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			map_delete_keys(f, key);
			return;
		}
		r->e = *e;
		r->active_ns = pfd_now_ns();
		size_t h = id_hash(f, e);

		r->next_id = f->by_id[h];
		f->by_id[h] = r;
		f->st.flows++;
		f->st.installs++;
		if (from_dump(f))
			f->st.repairs++;
	} else {
		unlink_keys(f, r);
		r->e = *e;
		if (readmitted) {
			/* the current ruleset marked it again */
			f->st.stale--;
			f->st.flows++;
			f->st.readmitted++;
		}
	}
	memcpy(r->gw, env->gw, sizeof(r->gw));
	memcpy(r->key, key, sizeof(key));
	memcpy(r->tmpl[0], &val[0], FLOW_TMPL_LEN);
	memcpy(r->tmpl[1], &val[1], FLOW_TMPL_LEN);
	link_keys(f, r);
	r->seen_gen = f->gen;
	r->env_gen = f->env_gen;
	if (fresh && mark_mode(f) && e->orig.l4proto == IPPROTO_TCP)
		/* Packets that come back to the kernel after a fast-path gap
		 * must not be judged out of window (nf_flow_table does the
		 * same: flow_offload_fixup_tcp()). td_maxack freezes while the
		 * fast path carries the flow: with MAXACK_SET an RST after 2
		 * GiB of fast-pathed data compares as before it and is judged
		 * invalid, so it goes too (and again at every refresh). */
		pfd_ct_set_tcp_flags(f->ctx.ct, e, IP_CT_TCP_FLAG_BE_LIBERAL,
				     IP_CT_TCP_FLAG_MAXACK_SET);
	if (fresh)
		pr_debug("flow installed (%s)", d->reason);
}

void pfd_flows_ct_cb(void *arg, enum pfd_ct_event ev, const struct pfd_ct_entry *e)
{
	struct pfd_flows *f = arg;
	struct pfd_policy_decision d;
	struct pfd_policy_env env;
	struct rec *r = find_id(f, e);

	if (ev == PFD_CT_EV_DESTROY) {
		if (r)
			remove_rec(f, r, true, false, "conntrack entry destroyed");
		return;
	}
	if (!pfd_policy_check_entry(f->ctx.cfg, f->ctx.mode, e, &d)) {
		if (r && rec_stale(f, r)) {
			/* off the fast path already, waiting for the current
			 * ruleset to mark it again (this is likely the event
			 * of the revalidation's own mark clear): a removal
			 * would cost map deletes and conntrack round trips
			 * for nothing; conntrack's destroy event ends it.
			 * Events are read after the commit, so a mark set
			 * after this one is the current ruleset's. */
			r->e = *e;
			r->seen_gen = f->gen;
			if (mark_mode(f) &&
			    (e->mark & f->ctx.cfg->mark_mask) != f->ctx.cfg->mark_value)
				r->cleared_gen = f->policy_gen;
			return;
		}
		/* left ESTABLISHED/ASSURED, mark cleared, IPS_OFFLOAD gone */
		if (r)
			remove_rec(f, r, false, false, d.reason);
		return;
	}
	if (f->installs_held && (!r || (rec_stale(f, r) && r->cleared_gen != f->policy_gen))) {
		/* a mark an older ruleset may have set: no new flow takes
		 * the fast path until the marks are cleared, and no stale
		 * one until its own mark is */
		if (r)
			r->seen_gen = f->gen;
		return;
	}
	if ((!r || rec_stale(f, r)) && !from_dump(f) && mark_mode(f) && f->verify_until &&
	    pfd_now_ns() < f->verify_until) {
		struct pfd_ct_entry now;

		/* the event may predate a ruleset change: believe conntrack
		 * as it is now (gone or unmarked: nothing to install) */
		f->st.verified++;
		if (pfd_ct_get(f->ctx.ct, e, &now)) {
			f->st.stale_events++;
			pr_debug("flow not offloaded: gone from conntrack since its event");
			return;
		}
		if (!pfd_policy_check_entry(f->ctx.cfg, f->ctx.mode, &now, &d)) {
			f->st.stale_events++;
			pr_debug("flow not offloaded: its event predates the ruleset (now: %s)",
				 d.reason);
			return;
		}
		e = &now;
		fill_env(f, e, &env);
		pfd_policy_decide(f->ctx.cfg, e, &env, &d);
		if (d.offload)
			install(f, r, e, &env, &d);
		return;
	}
	if (r && r->env_gen == f->env_gen && !from_dump(f) && !rec_stale(f, r)) {
		/* Still eligible, and nothing it was decided on has changed
		 * (routes, devices, policy probes): an UPDATE for a counter,
		 * a timeout, our own BE_LIBERAL. Reconcile re-decides all. */
		r->e = *e;
		return;
	}
	fill_env(f, e, &env);
	pfd_policy_decide(f->ctx.cfg, e, &env, &d);
	if (!d.offload) {
		if (r)
			remove_rec(f, r, false, false, d.reason);
		else
			pr_debug("flow not offloaded: %s", d.reason);
		return;
	}
	install(f, r, e, &env, &d);
}

void pfd_flows_verify_until(struct pfd_flows *f, uint64_t until_ns)
{
	f->verify_until = until_ns;
}

void pfd_flows_redecide(struct pfd_flows *f, int ifindex)
{
	size_t i, steps = 0;

	for (i = 0; i < f->nbuckets; i++) {
		struct rec *r, *next;

		for (r = f->by_id[i]; r; r = next) {
			struct pfd_policy_decision dec;
			struct pfd_policy_env env;
			struct pfd_ct_entry e;

			next = r->next_id; /* remove_rec() frees r */
			walk_pulse(f, &steps);
			if (ifindex >= 0 && r->key[0].ifindex != (__u32)ifindex &&
			    r->key[1].ifindex != (__u32)ifindex)
				continue;
			if (rec_stale(f, r))
				continue; /* the ruleset decides it first */
			e = r->e;
			fill_env(f, &e, &env);
			pfd_policy_decide(f->ctx.cfg, &e, &env, &dec);
			if (dec.offload)
				install(f, r, &e, &env, &dec);
			else
				remove_rec(f, r, false, false, dec.reason);
		}
	}
}

/* -------------------------------------------------------------------- */
/* Reconcile, revalidation, link down                                   */

void pfd_flows_reconcile_begin(struct pfd_flows *f)
{
	size_t i;

	/* the dump counts the entries that still share each tuple */
	for (i = 0; i < f->nambiguous; i++)
		f->ambiguous_seen[i] = 0;
	f->repairs_before = f->st.repairs;
	memset(f->xfc, 0, XFRM_CACHE_SIZE * sizeof(*f->xfc));
	f->gen++;
	f->reconciling = true;
}

void pfd_flows_serving_events(struct pfd_flows *f, bool on)
{
	f->serving_events = on;
}

void pfd_flows_reconcile_abort(struct pfd_flows *f)
{
	f->reconciling = false;
	/* records the partial dump did not reach must not look unseen later */
	f->gen--;
}

void pfd_flows_count_revalidation(struct pfd_flows *f)
{
	f->st.revalidations++;
}

static int sweep_cb(void *arg, const struct pfd_flow_key *k, const struct pfd_flow *v)
{
	struct pfd_flows *f = arg;
	struct pfd_flow_key *stale;

	(void)v;
	if (!f->ctx.sweep_pulse)
		walk_pulse(f, &f->sweep_steps);
	else if (++f->sweep_steps % PFD_FLOWS_PULSE_EVERY == 0)
		f->ctx.sweep_pulse(f->ctx.pulse_arg);
	if (f->walk_cancel)
		return -ECANCELED; /* the next reconcile sweeps the rest */
	if (find_key(f, k))
		return 0;
	/* deleting while iterating restarts get_next_key: collect instead */
	stale = realloc(f->sweep, (f->nsweep + 1) * sizeof(*stale));
	if (!stale)
		return -ENOMEM;
	f->sweep = stale;
	f->sweep[f->nsweep++] = *k;
	return 0;
}

uint64_t pfd_flows_reconcile_end(struct pfd_flows *f)
{
	uint64_t before = f->repairs_before;
	size_t i, n = 0;

	f->reconciling = false;
	/* a tuple only one entry still has is offloadable again (at its next
	 * event or the next reconcile) */
	for (i = 0; i < f->nambiguous; i++) {
		if (f->ambiguous_seen[i] < 2)
			continue;
		f->ambiguous[n] = f->ambiguous[i];
		f->ambiguous_seen[n++] = f->ambiguous_seen[i];
	}
	f->nambiguous = n;
	for (i = 0; i < f->nbuckets; i++) {
		struct rec *r = f->by_id[i], *n;

		for (; r; r = n) {
			n = r->next_id;
			if (r->seen_gen != f->gen) {
				f->st.repairs++;
				remove_rec(f, r, false, false, "not in the conntrack dump");
			}
		}
	}
	/* map entries nobody owns: a previous run's leftovers, or lost events */
	f->nsweep = 0;
	f->walk_cancel = false;
	pfd_flows_foreach(f->ctx.flows_fd, sweep_cb, f);
	for (i = 0; i < f->nsweep; i++) {
		/* an event the sweep's pulse delivered may have installed it */
		if (find_key(f, &f->sweep[i]))
			continue;
		bpf_map_delete_elem(f->ctx.flows_fd, &f->sweep[i]);
		f->st.repairs++;
	}
	free(f->sweep);
	f->sweep = NULL;
	f->nsweep = 0;
	return f->st.repairs - before;
}

static void remove_where(struct pfd_flows *f, int ifindex, bool clear_mark, const char *why)
{
	size_t i, steps = 0;

	for (i = 0; i < f->nbuckets; i++) {
		struct rec *r = f->by_id[i], *n;

		for (; r; r = n) {
			n = r->next_id;
			walk_pulse(f, &steps);
			if (ifindex > 0 && (int)r->key[0].ifindex != ifindex &&
			    (int)r->key[1].ifindex != ifindex)
				continue;
			remove_rec(f, r, false, clear_mark, why);
		}
	}
}

void pfd_flows_remove_all(struct pfd_flows *f, bool clear_mark)
{
	remove_where(f, 0, clear_mark && mark_mode(f), "revalidation");
}

void pfd_flows_flush_dev(struct pfd_flows *f, int ifindex)
{
	if (ifindex > 0)
		remove_where(f, ifindex, false, "link down");
}

/* -------------------------------------------------------------------- */
/* Refresh: conntrack timeouts and neighbours                           */

static uint32_t read_sysctl(const char *name, uint32_t dflt)
{
	char path[128];
	uint32_t v = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	return pfd_read_sysctl_u32(path, &v) || !v ? dflt : v;
}

/* One flow the fast path carried since the last round: its conntrack
 * timeout and its neighbours, as the kernel would have refreshed them. */
static void refresh_rec(struct pfd_flows *f, struct rec *r, uint64_t seen, uint32_t tcp_to,
			uint32_t udp_to)
{
	int d, err;

	r->refreshed_seen = seen;
	r->active_ns = pfd_now_ns();
	/* fast-pathed packets confirm no neighbour: do it, for the next hop
	 * they go to (the gateway, or the destination itself when it is
	 * on-link) */
	for (d = 0; d < 2; d++) {
		static const __be32 none[4];
		struct pfd_flow t;
		const __be32 *nh;

		/* a copy: tmpl[1] is not 8-byte aligned */
		memcpy(&t, r->tmpl[d], FLOW_TMPL_LEN);
		nh = memcmp(r->gw[d], none, sizeof(none)) ? r->gw[d] : t.nat_daddr;
		pfd_rt_neigh_use(f->ctx.rt, r->key[d].family, nh, (int)t.oif);
	}
	/* flowtable mode: the kernel owns the timeout (its GC extends
	 * offloaded entries) */
	if (!mark_mode(f) || r->fixed_timeout)
		return;
	/* a packet the kernel saw since may have set MAXACK_SET again, with
	 * an ack the fast path has long passed */
	err = pfd_ct_refresh(f->ctx.ct, &r->e, r->e.orig.l4proto == IPPROTO_TCP ? tcp_to : udp_to,
			     IP_CT_TCP_FLAG_MAXACK_SET);
	if (err == -EPERM) {
		r->fixed_timeout = true; /* IPS_FIXED_TIMEOUT */
	} else if (err && err != -ENOENT) {
		f->st.refresh_errors++;
		pr_ratelimited(LOG_WARNING, 30, "conntrack timeout refresh failed (%s)",
			       strerror(-err));
	} else if (!err) {
		f->st.refreshes++;
	}
}

static int refresh_cb(void *arg, const struct pfd_flow_key *k, const struct pfd_flow *v)
{
	struct pfd_flows *f = arg;
	struct refresh_walk *w = &f->refresh;
	struct pfd_flow other;
	uint64_t seen = v->last_seen_ns;
	struct rec *r;
	int d;

	/* between entries no record is in hand: events may be served */
	if (f->ctx.sweep_pulse) {
		if (++w->steps % PFD_FLOWS_PULSE_EVERY == 0)
			f->ctx.sweep_pulse(f->ctx.pulse_arg);
	} else {
		walk_pulse(f, &w->steps);
	}
	if (f->walk_cancel)
		return -ECANCELED; /* the round starts again, at the next interval */
	r = find_key(f, k);
	/* idle, unknown, or the kernel carries it (a stale flow: its timeout
	 * and neighbours are the kernel's to keep) */
	if (!r || seen <= r->refreshed_seen || r->refresh_round == f->refresh_round ||
	    rec_stale(f, r))
		return 0;
	r->refresh_round = f->refresh_round;
	/* the flow's last packet, in either direction */
	d = !memcmp(&r->key[0], k, sizeof(*k));
	if (!bpf_map_lookup_elem(f->ctx.flows_fd, &r->key[d], &other) && other.last_seen_ns > seen)
		seen = other.last_seen_ns;
	refresh_rec(f, r, seen, w->tcp_to, w->udp_to);
	return 0;
}

/* Walks the map, not the table: a batch read of every entry costs far less
 * than two lookups a flow (1M flows: 2M system calls), and only the flows
 * the fast path carried since the last round cost more. A round of 1M
 * flows (2M entries) takes seconds: it goes in parts, and the loop serves
 * its timers and sockets in between. */
bool pfd_flows_refresh(struct pfd_flows *f)
{
	struct refresh_walk *w = &f->refresh;
	int err;

	if (!w->in_round) {
		memset(w, 0, sizeof(*w));
		w->in_round = true;
		f->walk_cancel = false;
		f->refresh_round++;
		/* read each round: the operator may change them (and tests do) */
		w->tcp_to = read_sysctl("nf_conntrack_tcp_timeout_established", 432000);
		w->udp_to = read_sysctl("nf_conntrack_udp_timeout_stream", 120);
	}
	err = pfd_flows_foreach_part(f->ctx.flows_fd, &w->cursor, PFD_FLOWS_REFRESH_PART,
				     refresh_cb, f);
	if (err || w->cursor.done)
		w->in_round = false; /* done, cancelled or failed: a new round next time */
	return w->in_round;
}
