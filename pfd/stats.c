// SPDX-License-Identifier: GPL-2.0-only
/*
 * Userspace readers of the fast path's maps (see stats.h): per-CPU counter
 * sums, reason names from reasons.h, flow map iteration and pairing of the
 * two directions of each offloaded conntrack entry. Used by the daemon
 * (metrics, breaker) and the CLI.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pfd/stats.h"

static const char *const reason_label[PFD_R__COUNT] = {
#define PFD_REASON_LABEL(name, value, label, text) [PFD_R_##name] = label,
	PFD_REASONS(PFD_REASON_LABEL)
#undef PFD_REASON_LABEL
};

static const char *const reason_text[PFD_R__COUNT] = {
#define PFD_REASON_TEXT(name, value, label, text) [PFD_R_##name] = text,
	PFD_REASONS(PFD_REASON_TEXT)
#undef PFD_REASON_TEXT
};

_Static_assert(PFD_R__COUNT <= PFD_REASON_SLOTS, "more reasons than counter slots");

const char *pfd_reason_label(unsigned int reason)
{
	return reason < PFD_R__COUNT ? reason_label[reason] : NULL;
}

const char *pfd_reason_text(unsigned int reason)
{
	return reason < PFD_R__COUNT ? reason_text[reason] : NULL;
}

const char *pfd_hook_name(unsigned int hook)
{
	return hook == PFD_HOOK_XDP ? "xdp" : hook == PFD_HOOK_TC ? "tc" : "?";
}

uint64_t pfd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_range(int stats_fd, struct pfd_stats_sum *out, __u32 first, __u32 end)
{
	struct pfd_counter *percpu;
	int ncpu, err = 0;
	__u32 i;

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	/* The per-CPU array is small (64 devices x 2 hooks x 32 reasons): one
	 * lookup per index is simpler than a batch and fast enough for a CLI
	 * and a 15 s metrics timer. */
	for (i = first; i < end; i++) {
		struct pfd_counter *dst;
		int cpu;

		if (bpf_map_lookup_elem(stats_fd, &i, percpu)) {
			err = -errno;
			break;
		}
		dst = &out->c[i / (PFD_HOOKS * PFD_REASON_SLOTS)]
			     [(i / PFD_REASON_SLOTS) % PFD_HOOKS][i % PFD_REASON_SLOTS];
		dst->packets = dst->bytes = 0;
		for (cpu = 0; cpu < ncpu; cpu++) {
			dst->packets += percpu[cpu].packets;
			dst->bytes += percpu[cpu].bytes;
		}
	}
	free(percpu);
	return err;
}

int pfd_counter_zero(int fd, __u32 index)
{
	int ncpus = libbpf_num_possible_cpus();
	struct pfd_counter *zero;
	int err = 0;

	if (ncpus <= 0)
		return -EINVAL;
	zero = calloc((size_t)ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &index, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

int pfd_counter_sum(int fd, __u32 index, struct pfd_counter *sum)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	struct pfd_counter *percpu;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return -EINVAL;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &index, percpu))
		err = -errno;
	else
		for (int i = 0; i < ncpus; i++) {
			sum->packets += percpu[i].packets;
			sum->bytes += percpu[i].bytes;
		}
	free(percpu);
	return err;
}

int pfd_stats_read(int stats_fd, struct pfd_stats_sum *out)
{
	memset(out, 0, sizeof(*out));
	return read_range(stats_fd, out, 0, PFD_STATS_ENTRIES);
}

int pfd_stats_read_slot(int stats_fd, unsigned int slot, struct pfd_stats_sum *out)
{
	if (slot >= PFD_MAX_DEVS)
		return -EINVAL;
	return read_range(stats_fd, out, PFD_STATS_INDEX(slot, 0, 0),
			  PFD_STATS_INDEX(slot + 1, 0, 0));
}

struct pfd_counter pfd_stats_reason_total(const struct pfd_stats_sum *s, unsigned int reason)
{
	struct pfd_counter t = { 0, 0 };
	unsigned int slot, hook;

	if (reason >= PFD_REASON_SLOTS)
		return t;
	for (slot = 0; slot < PFD_MAX_DEVS; slot++)
		for (hook = 0; hook < PFD_HOOKS; hook++) {
			t.packets += s->c[slot][hook][reason].packets;
			t.bytes += s->c[slot][hook][reason].bytes;
		}
	return t;
}

/* One entry at a time: two syscalls an entry (kernels without batch
 * lookups). */
static int foreach_one_by_one(int flows_fd, pfd_flow_cb cb, void *arg)
{
	struct pfd_flow_key key, next;
	struct pfd_flow val;
	void *prev = NULL;
	int ret;

	while (!bpf_map_get_next_key(flows_fd, prev, &next)) {
		key = next;
		prev = &key;
		/* deleted between the two calls: go on from it anyway */
		if (bpf_map_lookup_elem(flows_fd, &key, &val))
			continue;
		ret = cb(arg, &key, &val);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

#define FOREACH_BATCH 1024
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's own, seen by userspace */
#endif

int pfd_flows_foreach_part(int flows_fd, struct pfd_flows_cursor *c, unsigned int budget,
			   pfd_flow_cb cb, void *arg)
{
	__u32 cap = FOREACH_BATCH, n, i;
	struct pfd_flow_key *keys;
	struct pfd_flow *vals;
	unsigned int given = 0;
	int ret = 0;

	if (c->done)
		return 0;
	keys = malloc(cap * sizeof(*keys));
	vals = malloc(cap * sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		if (c->started)
			return -ENOMEM; /* the one-by-one walk cannot resume */
		c->done = true;
		return foreach_one_by_one(flows_fd, cb, arg);
	}
	/* a batch a syscall: listing or sweeping 200k entries takes
	 * milliseconds, not the seconds two syscalls an entry take */
	while (!c->done && !ret && given < budget) {
		union pfd_flows_token out;

		n = cap;
		if (bpf_map_lookup_batch(flows_fd, c->started ? &c->token : NULL, &out, keys, vals,
					 &n, NULL)) {
			if (errno == ENOENT) {
				c->done = true; /* the last batch, maybe empty */
			} else if (errno == ENOSPC && cap < (1U << 16)) {
				/* one bucket holds more than cap entries */
				struct pfd_flow_key *k = realloc(keys, 2 * cap * sizeof(*keys));
				struct pfd_flow *v =
					k ? realloc(vals, 2 * cap * sizeof(*vals)) : NULL;

				if (k)
					keys = k;
				if (!v) {
					ret = -ENOMEM;
					break;
				}
				vals = v;
				cap *= 2;
				continue;
			} else if (!c->started &&
				   (errno == EINVAL || errno == EOPNOTSUPP || errno == ENOTSUPP)) {
				free(keys);
				free(vals);
				c->done = true; /* no batches: the whole walk at once */
				return foreach_one_by_one(flows_fd, cb, arg);
			} else {
				ret = -errno;
				break;
			}
		}
		c->started = true;
		c->token = out;
		for (i = 0; i < n && !ret; i++)
			ret = cb(arg, &keys[i], &vals[i]);
		given += n;
	}
	free(keys);
	free(vals);
	return ret;
}

int pfd_flows_foreach(int flows_fd, pfd_flow_cb cb, void *arg)
{
	struct pfd_flows_cursor c = { 0 };

	return pfd_flows_foreach_part(flows_fd, &c, UINT_MAX, cb, arg);
}

void pfd_flow_peer_key(const struct pfd_flow_key *k, const struct pfd_flow *v,
		       struct pfd_flow_key *peer)
{
	/* The reply of a packet src:sport -> dst:dport that leaves rewritten
	 * as nsrc:nsport -> ndst:ndport comes back as ndst -> nsrc, on the
	 * device it left by. */
	memset(peer, 0, sizeof(*peer));
	peer->ifindex = v->oif;
	peer->family = k->family;
	peer->l4proto = k->l4proto;
	if (v->flags & PFD_FLOW_F_DNAT) {
		memcpy(peer->saddr, v->nat_daddr, sizeof(peer->saddr));
		peer->sport = v->nat_dport;
	} else {
		memcpy(peer->saddr, k->daddr, sizeof(peer->saddr));
		peer->sport = k->dport;
	}
	if (v->flags & PFD_FLOW_F_SNAT) {
		memcpy(peer->daddr, v->nat_saddr, sizeof(peer->daddr));
		peer->dport = v->nat_sport;
	} else {
		memcpy(peer->daddr, k->saddr, sizeof(peer->daddr));
		peer->dport = k->sport;
	}
}

struct pair_ctx {
	int fd;
	pfd_flow_pair_cb cb;
	void *arg;
};

static int pair_one(void *arg, const struct pfd_flow_key *k, const struct pfd_flow *v)
{
	struct pair_ctx *ctx = arg;
	struct pfd_flow_pair p;

	if (v->flags & PFD_FLOW_F_REPLY)
		return 0;
	memset(&p, 0, sizeof(p));
	p.orig_key = *k;
	p.orig = *v;
	pfd_flow_peer_key(k, v, &p.reply_key);
	p.has_reply = !bpf_map_lookup_elem(ctx->fd, &p.reply_key, &p.reply);
	return ctx->cb(ctx->arg, &p);
}

int pfd_flow_pairs_foreach(int flows_fd, pfd_flow_pair_cb cb, void *arg)
{
	struct pair_ctx ctx = { .fd = flows_fd, .cb = cb, .arg = arg };

	return pfd_flows_foreach(flows_fd, pair_one, &ctx);
}
