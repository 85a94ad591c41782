// SPDX-License-Identifier: GPL-2.0-only
/*
 * Block prefixes: the configured list into the pfd_block4/pfd_block6 LPM
 * tries and their /16 bitmap, and the counters back out. pfd/block.h says
 * why it keeps no state of its own. Prefixes are handled as struct
 * pfd_prefix (config.h, host bits clear) and turned into a family's trie
 * key only at the map.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pfd/block.h"
#include "pfd/log.h"

union trie_key {
	struct pfd_block_key4 k4;
	struct pfd_block_key6 k6;
};

static int trie_fd(const struct pfd_maps *m, int family)
{
	return family == AF_INET ? m->block4 : m->block6;
}

static void key_of(const struct pfd_prefix *p, union trie_key *k)
{
	memset(k, 0, sizeof(*k));
	if (p->family == AF_INET) {
		k->k4.prefixlen = p->len;
		k->k4.addr = p->addr[0];
	} else {
		k->k6.prefixlen = p->len;
		memcpy(k->k6.addr, p->addr, sizeof(k->k6.addr));
	}
}

int pfd_block_lookup(const struct pfd_maps *m, const struct pfd_prefix *p, struct pfd_block *val)
{
	union trie_key k;

	key_of(p, &k);
	return bpf_map_lookup_elem(trie_fd(m, p->family), &k, val) ? -errno : 0;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct pfd_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return (int)x->len - (int)y->len;
}

static int grow(struct pfd_prefix **v, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	struct pfd_prefix *g = reallocarray(*v, ncap, sizeof(**v));

	if (!g)
		return -ENOMEM;
	*v = g;
	*cap = ncap;
	return 0;
}

/* Appends one trie's prefixes to *v; -errno on a failed walk. A trie holds
 * at most PFD_MAX_BLOCKS: more is a walk restarted by a concurrent delete,
 * stopped there. */
static int read_trie(int fd, int family, struct pfd_prefix **v, size_t *n, size_t *cap)
{
	union trie_key key, prev;
	size_t start = *n;
	bool first = true;

	while (*n - start <= PFD_MAX_BLOCKS &&
	       !bpf_map_get_next_key(fd, first ? NULL : &prev, &key)) {
		struct pfd_prefix *p;

		if (*n == *cap && grow(v, cap))
			return -ENOMEM;
		p = &(*v)[(*n)++];
		memset(p, 0, sizeof(*p));
		p->family = (uint8_t)family;
		if (family == AF_INET) {
			p->len = (uint8_t)(key.k4.prefixlen <= 32 ? key.k4.prefixlen : 32);
			p->addr[0] = key.k4.addr;
		} else {
			p->len = (uint8_t)(key.k6.prefixlen <= 128 ? key.k6.prefixlen : 128);
			memcpy(p->addr, key.k6.addr, sizeof(p->addr));
		}
		prev = key;
		first = false;
	}
	if (*n - start <= PFD_MAX_BLOCKS && errno != ENOENT)
		return -errno;
	return 0;
}

/* Every prefix in both tries, sorted (bsearch); the number or -errno. */
static int read_prefixes(const struct pfd_maps *m, struct pfd_prefix **out)
{
	struct pfd_prefix *v = NULL;
	size_t n = 0, cap = 0;
	int err;

	*out = NULL;
	err = read_trie(m->block4, AF_INET, &v, &n, &cap);
	if (!err)
		err = read_trie(m->block6, AF_INET6, &v, &n, &cap);
	if (err) {
		free(v);
		return err;
	}
	if (n)
		qsort(v, n, sizeof(*v), prefix_cmp);
	*out = v;
	return (int)n;
}

static int zero_counters(int stats_fd, __u32 index)
{
	int ncpus = libbpf_num_possible_cpus();
	struct pfd_counter *zero;
	int err = 0;

	if (ncpus <= 0)
		return -EINVAL;
	zero = calloc((size_t)ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(stats_fd, &index, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

/* Sets the pfd_block_bits bits a prefix covers: every /16 it overlaps. */
static void bits_add(__u64 *bits, const struct pfd_prefix *p)
{
	bool v6 = p->family == AF_INET6;
	unsigned int len = p->len < 16 ? p->len : 16;
	uint32_t top16 = ntohl(p->addr[0]) >> 16; /* IPv4 and IPv6 alike */
	uint32_t span = 1U << (16 - len), first = top16 & ~(span - 1), t;

	for (t = first; t < first + span; t++)
		bits[PFD_BLOCK_BITS_WORD(v6, t)] |= 1ULL << (t % 64);
}

/* Writes the words of want that differ from have (then have == want). */
static int bits_write(int bits_fd, __u64 *have, const __u64 *want)
{
	int err = 0;

	for (__u32 w = 0; w < PFD_BLOCK_BITS_WORDS; w++) {
		if (have[w] == want[w])
			continue;
		if (bpf_map_update_elem(bits_fd, &w, &want[w], BPF_ANY))
			err = err ?: -errno;
		else
			have[w] = want[w];
	}
	return err;
}

int pfd_block_sync(const struct pfd_maps *m, const struct pfd_block_rule *rules, unsigned int n)
{
	static __u64 cur[PFD_BLOCK_BITS_WORDS], next[PFD_BLOCK_BITS_WORDS],
		both[PFD_BLOCK_BITS_WORDS];
	static uint8_t used[PFD_MAX_BLOCKS];
	struct pfd_prefix *have = NULL;
	unsigned int i, next_free = 0;
	struct pfd_block val;
	int n_have, j, err;
	uint8_t *keep;

	n_have = read_prefixes(m, &have);
	if (n_have < 0)
		return n_have;
	keep = calloc((size_t)n_have + 1, sizeof(*keep));
	if (!keep) {
		free(have);
		return -ENOMEM;
	}
	memset(used, 0, sizeof(used));
	for (j = 0; j < n_have; j++)
		if (!pfd_block_lookup(m, &have[j], &val) && val.index < PFD_MAX_BLOCKS)
			used[val.index] = 1;
	/* The bits first cover old and new prefixes, then only the new: a
	 * prefix is never in a trie with its bits clear. */
	memset(next, 0, sizeof(next));
	for (i = 0; i < n; i++)
		bits_add(next, &rules[i].prefix);
	for (__u32 w = 0; w < PFD_BLOCK_BITS_WORDS; w++) {
		if (bpf_map_lookup_elem(m->block_bits, &w, &cur[w]))
			cur[w] = ~0ULL; /* unknown: rewritten below */
		both[w] = cur[w] | next[w];
	}
	err = bits_write(m->block_bits, cur, both);

	for (i = 0; i < n; i++) {
		const struct pfd_prefix *p = &rules[i].prefix;
		struct pfd_prefix *found;
		union trie_key key;
		int at = -1;

		found = n_have ? bsearch(p, have, n_have, sizeof(*have), prefix_cmp) : NULL;
		if (found) {
			at = (int)(found - have);
			keep[at] = 1;
		}
		if (at < 0 || pfd_block_lookup(m, p, &val) || val.index >= PFD_MAX_BLOCKS) {
			while (next_free < PFD_MAX_BLOCKS && used[next_free])
				next_free++;
			if (next_free == PFD_MAX_BLOCKS) {
				err = err ?: -ENOSPC;
				continue;
			}
			val.index = next_free;
			used[next_free] = 1;
			/* a slot another prefix used before */
			if (zero_counters(m->block_stats, val.index))
				pr_warn("block: cannot zero the counters of slot %u", val.index);
		}
		val.flags = rules[i].dry_run ? PFD_BLOCK_F_DRY_RUN : 0;
		key_of(p, &key);
		if (bpf_map_update_elem(trie_fd(m, p->family), &key, &val, BPF_ANY)) {
			char text[INET6_ADDRSTRLEN + 8];

			err = err ?: -errno;
			pfd_prefix_format(p, text, sizeof(text));
			pr_err("block %s: cannot install it (%s)", text, strerror(errno));
		}
	}
	for (j = 0; j < n_have; j++) {
		union trie_key key;

		if (keep[j])
			continue;
		key_of(&have[j], &key);
		if (bpf_map_delete_elem(trie_fd(m, have[j].family), &key) && errno != ENOENT)
			err = err ?: -errno;
	}
	if (!err) /* after a failure the wider bits stay: a lookup too many */
		err = bits_write(m->block_bits, cur, next);
	free(keep);
	free(have);
	return err;
}

int pfd_block_read(const struct pfd_maps *m, struct pfd_block_stat **out)
{
	int ncpus = libbpf_num_possible_cpus(), n_pfx, j, n = 0;
	struct pfd_block_stat *st = NULL;
	struct pfd_prefix *pfx;
	struct pfd_counter *percpu;

	*out = NULL;
	if (ncpus <= 0)
		return -EINVAL;
	n_pfx = read_prefixes(m, &pfx);
	if (n_pfx <= 0)
		return n_pfx;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	st = calloc((size_t)n_pfx, sizeof(*st));
	if (!percpu || !st) {
		free(percpu);
		free(st);
		free(pfx);
		return -ENOMEM;
	}
	for (j = 0; j < n_pfx; j++) {
		struct pfd_block_stat *s = &st[n];
		struct pfd_block val;

		if (pfd_block_lookup(m, &pfx[j], &val) || val.index >= PFD_MAX_BLOCKS)
			continue; /* gone meanwhile */
		s->prefix = pfx[j];
		s->dry_run = val.flags & PFD_BLOCK_F_DRY_RUN;
		s->index = val.index;
		if (!bpf_map_lookup_elem(m->block_stats, &val.index, percpu))
			for (int c = 0; c < ncpus; c++) {
				s->packets += percpu[c].packets;
				s->bytes += percpu[c].bytes;
			}
		n++;
	}
	free(percpu);
	free(pfx);
	if (!n) {
		free(st);
		return 0;
	}
	*out = st; /* already in prefix order */
	return n;
}
