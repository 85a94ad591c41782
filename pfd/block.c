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
#include "pfd/stats.h"

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

/* Slots and trie room, shared by the two install passes of a sync. */
struct block_sync {
	const struct pfd_maps *m;
	struct pfd_prefix *have; /* installed before the sync, sorted */
	int n_have;
	uint8_t *keep;	      /* have[j] is still configured */
	uint32_t *have_index; /* have[j]'s slot, or PFD_MAX_BLOCKS */
	uint8_t *used;	      /* slots taken */
	unsigned int next_free;
};

/* Installs one prefix: 0, -EAGAIN when there is no slot or trie room
 * yet and last is false (the old prefixes still hold them), or -errno. */
static int block_install(struct block_sync *b, const struct pfd_block_rule *rule, bool last)
{
	const struct pfd_prefix *p = &rule->prefix;
	struct pfd_prefix *found;
	struct pfd_block val;
	union trie_key key;
	bool fresh = false;
	int at = -1;

	found = b->n_have ? bsearch(p, b->have, b->n_have, sizeof(*b->have), prefix_cmp) : NULL;
	if (found) {
		at = (int)(found - b->have);
		b->keep[at] = 1;
	}
	if (at < 0 || pfd_block_lookup(b->m, p, &val) || val.index >= PFD_MAX_BLOCKS) {
		while (b->next_free < PFD_MAX_BLOCKS && b->used[b->next_free])
			b->next_free++;
		if (b->next_free == PFD_MAX_BLOCKS)
			return last ? -ENOSPC : -EAGAIN;
		val.index = b->next_free;
		b->used[val.index] = 1;
		fresh = true;
		/* a slot another prefix used before */
		if (pfd_counter_zero(b->m->block_stats, val.index))
			pr_warn("block: cannot zero the counters of slot %u", val.index);
	}
	val.flags = rule->dry_run ? PFD_BLOCK_F_DRY_RUN : 0;
	key_of(p, &key);
	if (bpf_map_update_elem(trie_fd(b->m, p->family), &key, &val, BPF_ANY)) {
		char text[INET6_ADDRSTRLEN + 8];
		int err = -errno;

		if (fresh)
			b->used[val.index] = 0;
		if (err == -ENOSPC && !last)
			return -EAGAIN;
		pfd_prefix_format(p, text, sizeof(text));
		pr_err("block %s: cannot install it (%s)", text, strerror(-err));
		return err;
	}
	return 0;
}

int pfd_block_sync(const struct pfd_maps *m, const struct pfd_block_rule *rules, unsigned int n)
{
	static __u64 cur[PFD_BLOCK_BITS_WORDS], next[PFD_BLOCK_BITS_WORDS],
		both[PFD_BLOCK_BITS_WORDS];
	static uint8_t used[PFD_MAX_BLOCKS];
	struct block_sync b = { .m = m, .used = used };
	unsigned int i, n_later = 0, *later;
	struct pfd_block val;
	int j, err, e;

	b.n_have = read_prefixes(m, &b.have);
	if (b.n_have < 0)
		return b.n_have;
	b.keep = calloc((size_t)b.n_have + 1, sizeof(*b.keep));
	b.have_index = calloc((size_t)b.n_have + 1, sizeof(*b.have_index));
	later = calloc((size_t)n + 1, sizeof(*later));
	if (!b.keep || !b.have_index || !later) {
		err = -ENOMEM;
		goto out;
	}
	memset(used, 0, sizeof(used));
	for (j = 0; j < b.n_have; j++) {
		b.have_index[j] = PFD_MAX_BLOCKS;
		if (!pfd_block_lookup(m, &b.have[j], &val) && val.index < PFD_MAX_BLOCKS) {
			used[val.index] = 1;
			b.have_index[j] = val.index;
		}
	}
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

	/* New before old out; what finds no slot or trie room while the old
	 * prefixes hold them goes in once they are out. */
	for (i = 0; i < n; i++) {
		e = block_install(&b, &rules[i], false);
		if (e == -EAGAIN)
			later[n_later++] = i;
		else if (e)
			err = err ?: e;
	}
	for (j = 0; j < b.n_have; j++) {
		union trie_key key;

		if (b.keep[j])
			continue;
		key_of(&b.have[j], &key);
		if (bpf_map_delete_elem(trie_fd(m, b.have[j].family), &key) && errno != ENOENT) {
			err = err ?: -errno;
			continue;
		}
		if (b.have_index[j] < PFD_MAX_BLOCKS)
			used[b.have_index[j]] = 0;
	}
	b.next_free = 0;
	for (i = 0; i < n_later; i++) {
		e = block_install(&b, &rules[later[i]], true);
		if (e)
			err = err ?: e;
	}
	if (!err) /* after a failure the wider bits stay: a lookup too many */
		err = bits_write(m->block_bits, cur, next);
out:
	free(later);
	free(b.have_index);
	free(b.keep);
	free(b.have);
	return err;
}

int pfd_block_read(const struct pfd_maps *m, struct pfd_block_stat **out)
{
	struct pfd_block_stat *st = NULL;
	struct pfd_prefix *pfx;
	int n_pfx, j, n = 0;

	*out = NULL;
	n_pfx = read_prefixes(m, &pfx);
	if (n_pfx <= 0)
		return n_pfx;
	st = calloc((size_t)n_pfx, sizeof(*st));
	if (!st) {
		free(pfx);
		return -ENOMEM;
	}
	for (j = 0; j < n_pfx; j++) {
		struct pfd_block_stat *s = &st[n];
		struct pfd_counter sum;
		struct pfd_block val;

		if (pfd_block_lookup(m, &pfx[j], &val) || val.index >= PFD_MAX_BLOCKS)
			continue; /* gone meanwhile */
		s->prefix = pfx[j];
		s->dry_run = val.flags & PFD_BLOCK_F_DRY_RUN;
		s->index = val.index;
		if (!pfd_counter_sum(m->block_stats, val.index, &sum)) {
			s->packets = sum.packets;
			s->bytes = sum.bytes;
		}
		n++;
	}
	free(pfx);
	if (!n) {
		free(st);
		return 0;
	}
	*out = st; /* already in prefix order */
	return n;
}
