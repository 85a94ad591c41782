// SPDX-License-Identifier: GPL-2.0-only
/*
 * syn-protect: which lines the ruleset arms, their services into the
 * pfd_synp4/pfd_synp6 tries, and the per-line counters back out. pfd/synp.h
 * says why it keeps no state of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pfd/synp.h"
#include "pfd/stats.h"

#define SYNP_OPTIONS                                                                        \
	(PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_SACK_PERM | PFD_SYNP_F_TIMESTAMP | \
	 PFD_SYNP_F_ECN)

/* What a statement makes the SYN-ACK carry: mss and wscale count only
 * where their flag is set. */
static bool same_statement(uint32_t fa, uint16_t ma, uint8_t wa, uint32_t fb, uint16_t mb,
			   uint8_t wb)
{
	fa &= SYNP_OPTIONS;
	fb &= SYNP_OPTIONS;
	if (fa != fb)
		return false;
	if ((fa & PFD_SYNP_F_MSS) && ma != mb)
		return false;
	if ((fa & PFD_SYNP_F_WSCALE) && wa != wb)
		return false;
	return true;
}

bool pfd_synp_resolve(const struct pfd_synp_rule *r, const struct pfd_nft_synproxy *st,
		      unsigned int n, struct pfd_synp *val, const char **why)
{
	unsigned int i;

	if (!n) {
		*why = "the ruleset has no synproxy statement to complete the handshake";
		return false;
	}
	if (r->has_options) {
		for (i = 0; i < n; i++)
			if (same_statement(r->flags, r->mss, r->wscale, st[i].flags, st[i].mss,
					   st[i].wscale))
				break;
		if (i == n) {
			*why = "no synproxy statement of the ruleset has the line's options";
			return false;
		}
	} else {
		for (i = 1; i < n; i++)
			if (!same_statement(st[0].flags, st[0].mss, st[0].wscale, st[i].flags,
					    st[i].mss, st[i].wscale))
				break;
		if (i < n) {
			*why = "the ruleset's synproxy statements differ: give the line the "
			       "options of its own (mss N wscale N timestamp sack-perm)";
			return false;
		}
		i = 0;
	}
	val->flags = (uint8_t)(st[i].flags & SYNP_OPTIONS);
	val->mss = val->flags & PFD_SYNP_F_MSS ? st[i].mss : 0;
	val->wscale = val->flags & PFD_SYNP_F_WSCALE ? st[i].wscale : 0;
	return true;
}

/* One trie entry, either family. */
struct entry {
	int family;
	union {
		struct pfd_synp_key4 k4;
		struct pfd_synp_key6 k6;
	} key;
	struct pfd_synp val;
	bool later; /* did not fit beside the old entries: once they are out */
};

static int trie_fd(const struct pfd_maps *m, int family)
{
	return family == AF_INET ? m->synp4 : m->synp6;
}

static void key_of(const struct pfd_prefix *p, uint16_t port, struct entry *e)
{
	memset(&e->key, 0, sizeof(e->key));
	e->family = p->family;
	if (p->family == AF_INET) {
		e->key.k4.prefixlen = 16 + p->len;
		e->key.k4.dport = htons(port);
		memcpy(e->key.k4.addr, p->addr, sizeof(e->key.k4.addr));
	} else {
		e->key.k6.prefixlen = 16 + p->len;
		e->key.k6.dport = htons(port);
		memcpy(e->key.k6.addr, p->addr, sizeof(e->key.k6.addr));
	}
}

static bool same_key(const struct entry *a, const struct entry *b)
{
	size_t len = a->family == AF_INET ? sizeof(a->key.k4) : sizeof(a->key.k6);

	return a->family == b->family && !memcmp(&a->key, &b->key, len);
}

/* Appends one trie's entries to v (at most PFD_MAX_SYNP each: more is a
 * walk restarted by a concurrent delete, stopped there). */
static int read_trie(const struct pfd_maps *m, int family, struct entry *v, unsigned int *n)
{
	struct entry cur, prev;
	bool first = true;
	unsigned int count = 0;
	int fd = trie_fd(m, family);

	memset(&prev, 0, sizeof(prev));
	while (count < PFD_MAX_SYNP) {
		memset(&cur, 0, sizeof(cur));
		cur.family = family;
		if (bpf_map_get_next_key(fd, first ? NULL : &prev.key, &cur.key)) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		first = false;
		prev = cur;
		if (bpf_map_lookup_elem(fd, &cur.key, &cur.val))
			continue; /* deleted meanwhile */
		v[(*n)++] = cur;
		count++;
	}
	return 0;
}

static int read_all(const struct pfd_maps *m, struct entry **out, unsigned int *n)
{
	struct entry *v = calloc(2 * PFD_MAX_SYNP, sizeof(*v));
	int err;

	*n = 0;
	if (!v)
		return -ENOMEM;
	err = read_trie(m, AF_INET, v, n);
	if (!err)
		err = read_trie(m, AF_INET6, v, n);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

int pfd_synp_sync(const struct pfd_maps *m, const struct pfd_synp_rule *rules,
		  const struct pfd_synp *vals, const bool *armed, unsigned int n, uint8_t ttl4,
		  uint8_t ttl6)
{
	struct entry *have = NULL, *want;
	unsigned int n_have = 0, n_want = 0, i, j, a, b;
	unsigned int kept[PFD_MAX_SYNP_RULES] = { 0 }, had[PFD_MAX_SYNP_RULES] = { 0 },
		     wanted[PFD_MAX_SYNP_RULES] = { 0 };
	int err = 0;

	if (n > PFD_MAX_SYNP_RULES)
		return -E2BIG;
	want = calloc(PFD_MAX_SYNP, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!armed[i])
			continue;
		for (a = 0; a < rules[i].n_prefixes; a++)
			for (b = 0; b < rules[i].n_ports; b++) {
				if (n_want == PFD_MAX_SYNP) {
					free(want);
					return -E2BIG;
				}
				key_of(&rules[i].prefixes[a], rules[i].ports[b], &want[n_want]);
				want[n_want].val = vals[i];
				want[n_want].val.index = (uint16_t)i;
				want[n_want].val.ttl = want[n_want].family == AF_INET ? ttl4 : ttl6;
				wanted[i]++;
				n_want++;
			}
	}
	err = read_all(m, &have, &n_have);
	if (err) {
		free(want);
		return err;
	}
	/* A slot keeps its counts only while it holds the same services. */
	for (j = 0; j < n_have; j++) {
		uint32_t slot = have[j].val.index;

		if (slot >= PFD_MAX_SYNP_RULES)
			continue;
		had[slot]++;
		for (i = 0; i < n_want; i++)
			if (same_key(&have[j], &want[i]) && want[i].val.index == slot) {
				kept[slot]++;
				break;
			}
	}
	for (i = 0; i < PFD_MAX_SYNP_RULES; i++)
		if ((had[i] != kept[i] || wanted[i] != kept[i]) && wanted[i]) {
			int e = pfd_counter_zero(m->synp_stats, i);

			if (e && !err)
				err = e;
		}
	for (i = 0; i < n_want; i++)
		if (bpf_map_update_elem(trie_fd(m, want[i].family), &want[i].key, &want[i].val,
					BPF_ANY)) {
			/* a trie holds PFD_MAX_SYNP: old and new together may not fit */
			if (errno == ENOSPC)
				want[i].later = true;
			else if (!err)
				err = -errno;
		}
	for (j = 0; j < n_have; j++) {
		for (i = 0; i < n_want; i++)
			if (same_key(&have[j], &want[i]))
				break;
		if (i == n_want && bpf_map_delete_elem(trie_fd(m, have[j].family), &have[j].key) &&
		    errno != ENOENT && !err)
			err = -errno;
	}
	for (i = 0; i < n_want; i++)
		if (want[i].later &&
		    bpf_map_update_elem(trie_fd(m, want[i].family), &want[i].key, &want[i].val,
					BPF_ANY) &&
		    !err)
			err = -errno;
	free(have);
	free(want);
	return err;
}

int pfd_synp_read(const struct pfd_maps *m, struct pfd_synp_stat **out)
{
	struct pfd_synp_stat slots[PFD_MAX_SYNP_RULES];
	struct entry *have = NULL;
	unsigned int n_have = 0, i;
	int err, n = 0;

	*out = NULL;
	err = read_all(m, &have, &n_have);
	if (err)
		return err;
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < n_have; i++) {
		uint32_t slot = have[i].val.index;

		if (slot >= PFD_MAX_SYNP_RULES)
			continue;
		if (!slots[slot].services++)
			slots[slot].val = have[i].val;
	}
	free(have);
	for (i = 0; i < PFD_MAX_SYNP_RULES; i++) {
		struct pfd_synp_stat *s = &slots[i];
		struct pfd_counter sum;

		if (!s->services)
			continue;
		s->index = i;
		if (!pfd_counter_sum(m->synp_stats, i, &sum)) {
			s->packets = sum.packets;
			s->bytes = sum.bytes;
		}
		slots[n++] = *s;
	}
	if (!n)
		return 0;
	*out = malloc((size_t)n * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, slots, (size_t)n * sizeof(**out));
	return n;
}

void pfd_synp_format_options(uint32_t flags, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", flags & PFD_SYNP_F_TIMESTAMP ? " timestamp" : "",
			 flags & PFD_SYNP_F_SACK_PERM ? " sack-perm" : "");

	if (n > 0 && buf[0] == ' ')
		memmove(buf, buf + 1, strlen(buf));
}
