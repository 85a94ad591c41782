// SPDX-License-Identifier: GPL-2.0-only
/*
 * Block prefixes: the configured list into the pfd_block LPM trie, and the
 * counters back out. pfd/block.h says why it keeps no state of its own.
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

#define V4_MAPPED_BITS 96

void pfd_block_key_of(const struct pfd_prefix *p, struct pfd_block_key *k)
{
	memset(k, 0, sizeof(*k));
	if (p->family == AF_INET) {
		k->addr[2] = htonl(0xffff);
		k->addr[3] = p->addr[0];
		k->prefixlen = V4_MAPPED_BITS + p->len;
	} else {
		memcpy(k->addr, p->addr, sizeof(k->addr));
		k->prefixlen = p->len;
	}
}

int pfd_block_prefix_of(const struct pfd_block_key *k, struct pfd_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (k->prefixlen > 128)
		return -EINVAL;
	if (!k->addr[0] && !k->addr[1] && k->addr[2] == htonl(0xffff) &&
	    k->prefixlen >= V4_MAPPED_BITS) {
		p->family = AF_INET;
		p->addr[0] = k->addr[3];
		p->len = k->prefixlen - V4_MAPPED_BITS;
	} else {
		p->family = AF_INET6;
		memcpy(p->addr, k->addr, sizeof(p->addr));
		p->len = k->prefixlen;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pfd_block_key));
}

/* Every key in the trie, sorted (bsearch); the number or -errno. */
static int read_keys(int block_fd, struct pfd_block_key **out)
{
	struct pfd_block_key *keys = NULL, key, *prev = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	/* A trie holds at most PFD_MAX_BLOCKS: more is a walk restarted by
	 * a concurrent delete; stop there. */
	while (n <= PFD_MAX_BLOCKS && !bpf_map_get_next_key(block_fd, prev, &key)) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pfd_block_key *grown = reallocarray(keys, ncap, sizeof(*keys));

			if (!grown) {
				free(keys);
				return -ENOMEM;
			}
			keys = grown;
			cap = ncap;
		}
		keys[n] = key;
		prev = &keys[n++];
	}
	if (n <= PFD_MAX_BLOCKS && errno != ENOENT) {
		int err = -errno;

		free(keys);
		return err;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	*out = keys;
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

int pfd_block_sync(int block_fd, int stats_fd, int bits_fd, const struct pfd_block_rule *rules,
		   unsigned int n)
{
	static __u64 cur[PFD_BLOCK_BITS_WORDS], next[PFD_BLOCK_BITS_WORDS],
		both[PFD_BLOCK_BITS_WORDS];
	static uint8_t used[PFD_MAX_BLOCKS];
	struct pfd_block_key *have = NULL, key;
	struct pfd_block val;
	unsigned int i, next_free = 0;
	int n_have, j, err = 0;
	uint8_t *keep;

	n_have = read_keys(block_fd, &have);
	if (n_have < 0)
		return n_have;
	keep = calloc((size_t)n_have + 1, sizeof(*keep));
	if (!keep) {
		free(have);
		return -ENOMEM;
	}
	memset(used, 0, sizeof(used));
	for (j = 0; j < n_have; j++)
		if (!bpf_map_lookup_elem(block_fd, &have[j], &val) && val.index < PFD_MAX_BLOCKS)
			used[val.index] = 1;
	/* The bits first cover old and new prefixes, then only the new: a
	 * prefix is never in the trie with its bits clear. */
	memset(next, 0, sizeof(next));
	for (i = 0; i < n; i++)
		bits_add(next, &rules[i].prefix);
	for (__u32 w = 0; w < PFD_BLOCK_BITS_WORDS; w++) {
		if (bpf_map_lookup_elem(bits_fd, &w, &cur[w]))
			cur[w] = ~0ULL; /* unknown: rewritten below */
		both[w] = cur[w] | next[w];
	}
	err = bits_write(bits_fd, cur, both);

	for (i = 0; i < n; i++) {
		struct pfd_block_key *found;
		int at = -1;

		pfd_block_key_of(&rules[i].prefix, &key);
		found = n_have ? bsearch(&key, have, n_have, sizeof(*have), key_cmp) : NULL;
		if (found) {
			at = (int)(found - have);
			keep[at] = 1;
		}
		if (at < 0 || bpf_map_lookup_elem(block_fd, &key, &val) ||
		    val.index >= PFD_MAX_BLOCKS) {
			while (next_free < PFD_MAX_BLOCKS && used[next_free])
				next_free++;
			if (next_free == PFD_MAX_BLOCKS) {
				err = err ?: -ENOSPC;
				continue;
			}
			val.index = next_free;
			used[next_free] = 1;
			/* a slot another prefix used before */
			if (zero_counters(stats_fd, val.index))
				pr_warn("block: cannot zero the counters of slot %u", val.index);
		}
		val.flags = rules[i].dry_run ? PFD_BLOCK_F_DRY_RUN : 0;
		if (rules[i].prefix.family == AF_INET6)
			val.flags |= PFD_BLOCK_F_IPV6;
		if (bpf_map_update_elem(block_fd, &key, &val, BPF_ANY)) {
			char text[INET6_ADDRSTRLEN + 8];

			err = err ?: -errno;
			pfd_prefix_format(&rules[i].prefix, text, sizeof(text));
			pr_err("block %s: cannot install it (%s)", text, strerror(errno));
		}
	}
	for (j = 0; j < n_have; j++)
		if (!keep[j] && bpf_map_delete_elem(block_fd, &have[j]) && errno != ENOENT)
			err = err ?: -errno;
	if (!err) /* after a failure the wider bits stay: a lookup too many */
		err = bits_write(bits_fd, cur, next);
	free(keep);
	free(have);
	return err;
}

static int stat_cmp(const void *a, const void *b)
{
	const struct pfd_block_stat *x = a, *y = b;
	int c;

	if (x->prefix.family != y->prefix.family)
		return x->prefix.family < y->prefix.family ? -1 : 1;
	c = memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));
	if (c)
		return c;
	return (int)x->prefix.len - (int)y->prefix.len;
}

int pfd_block_read(int block_fd, int stats_fd, struct pfd_block_stat **out)
{
	int ncpus = libbpf_num_possible_cpus(), n_keys, j, n = 0;
	struct pfd_block_stat *st = NULL;
	struct pfd_block_key *keys;
	struct pfd_counter *percpu;

	*out = NULL;
	if (ncpus <= 0)
		return -EINVAL;
	n_keys = read_keys(block_fd, &keys);
	if (n_keys <= 0)
		return n_keys;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	st = calloc((size_t)n_keys, sizeof(*st));
	if (!percpu || !st) {
		free(percpu);
		free(st);
		free(keys);
		return -ENOMEM;
	}
	for (j = 0; j < n_keys; j++) {
		struct pfd_block_stat *s = &st[n];
		struct pfd_block val;

		if (bpf_map_lookup_elem(block_fd, &keys[j], &val) || val.index >= PFD_MAX_BLOCKS ||
		    pfd_block_prefix_of(&keys[j], &s->prefix))
			continue; /* gone meanwhile, or not pfd's */
		s->dry_run = val.flags & PFD_BLOCK_F_DRY_RUN;
		s->index = val.index;
		if (!bpf_map_lookup_elem(stats_fd, &val.index, percpu))
			for (int c = 0; c < ncpus; c++) {
				s->packets += percpu[c].packets;
				s->bytes += percpu[c].bytes;
			}
		n++;
	}
	free(percpu);
	free(keys);
	qsort(st, n, sizeof(*st), stat_cmp);
	*out = st;
	if (!n) {
		free(st);
		*out = NULL;
	}
	return n;
}
