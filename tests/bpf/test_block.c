// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd/block.c against real maps of the fast path's layout (an LPM trie and
 * a per-CPU array created here, no program): the configured list becomes
 * the trie's contents, a prefix keeps its counter slot and its counters
 * across syncs (reloads, restarts), a slot given to a new prefix starts at
 * zero, flags follow the configuration, and reading back gives every prefix
 * with its summed counters. The datapath side is in test_fastpath's rows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "t.h"
#include "pfd/block.h"

static int ncpus;

static struct pfd_block_rule rule(const char *addr, int len, bool dry_run)
{
	struct pfd_block_rule r = { .dry_run = dry_run };

	r.prefix.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	r.prefix.len = len;
	inet_pton(r.prefix.family, addr, r.prefix.addr);
	return r;
}

/* The slot the trie gives prefix, or -1. */
static int slot_of(const struct pfd_maps *m, const struct pfd_block_rule *r, __u32 *flags)
{
	struct pfd_block val;

	if (pfd_block_lookup(m, &r->prefix, &val))
		return -1;
	if (flags)
		*flags = val.flags;
	return (int)val.index;
}

/* As the fast path would count: packets on CPU 0, one more on the last. */
static void hit(int stats_fd, __u32 slot, __u64 packets)
{
	struct pfd_counter c[ncpus];

	memset(c, 0, sizeof(c));
	bpf_map_lookup_elem(stats_fd, &slot, c);
	c[0].packets += packets;
	c[0].bytes += packets * 100;
	c[ncpus - 1].packets += 1;
	c[ncpus - 1].bytes += 100;
	bpf_map_update_elem(stats_fd, &slot, c, BPF_ANY);
}

static __u64 packets_of(const struct pfd_maps *m, const char *text)
{
	struct pfd_block_stat *st = NULL;
	char buf[INET6_ADDRSTRLEN + 8];
	int n = pfd_block_read(m, &st);
	__u64 v = ~0ULL;

	for (int i = 0; i < n; i++) {
		pfd_prefix_format(&st[i].prefix, buf, sizeof(buf));
		if (!strcmp(buf, text))
			v = st[i].packets;
	}
	free(st);
	return v;
}

/* Each family's trie holds its own keys: 4 bytes of address for IPv4. */
static void test_tries(const struct pfd_maps *m)
{
	struct pfd_block_rule list[2] = { rule("192.0.2.0", 24, false), rule("::", 0, false) };
	struct pfd_block_key4 k4 = { .prefixlen = 32 };
	struct pfd_block_key6 k6 = { .prefixlen = 128 };
	struct pfd_block val;

	T_OK(pfd_block_sync(m, list, 2), "one prefix per family");
	inet_pton(AF_INET, "192.0.2.77", &k4.addr);
	T_OK(bpf_map_lookup_elem(m->block4, &k4, &val), "v4 trie: an address inside matches");
	inet_pton(AF_INET, "192.0.3.1", &k4.addr);
	T_TRUE(bpf_map_lookup_elem(m->block4, &k4, &val) != 0, "v4 trie: one outside does not");
	inet_pton(AF_INET6, "::ffff:192.0.3.1", k6.addr);
	T_OK(bpf_map_lookup_elem(m->block6, &k6, &val), "v6 trie: ::/0 matches any v6 address");
	T_EQ(slot_of(m, &list[1], NULL), 1, "::/0 found by its prefix");
	T_OK(pfd_block_sync(m, NULL, 0), "emptied");
}

static void test_sync(const struct pfd_maps *m)
{
	struct pfd_block_rule a = rule("203.0.113.0", 24, false),
			      b = rule("2001:db8:bad::", 48, false);
	struct pfd_block_rule c = rule("198.51.100.128", 25, true),
			      d = rule("192.0.2.7", 32, false);
	struct pfd_block_rule list[4];
	struct pfd_block_stat *st = NULL;
	__u32 flags = 0;
	int slot_a, n;

	list[0] = a;
	list[1] = b;
	T_OK(pfd_block_sync(m, list, 2), "sync two prefixes");
	slot_a = slot_of(m, &a, &flags);
	T_EQ(slot_a, 0, "first prefix: slot 0");
	T_EQ(flags, 0, "drop, IPv4: no flags");
	T_EQ(slot_of(m, &b, &flags), 1, "second prefix: slot 1");
	T_EQ(flags, 0, "IPv6, drop: no flags");
	hit(m->block_stats, 0, 41);
	T_EQ(packets_of(m, "203.0.113.0/24"), 42, "counters summed over CPUs");

	/* a reload: order changed, one added, one now dry-run */
	a.dry_run = true;
	list[0] = b;
	list[1] = c;
	list[2] = a;
	T_OK(pfd_block_sync(m, list, 3), "sync again, reordered");
	T_EQ(slot_of(m, &a, &flags), slot_a, "a kept prefix keeps its slot");
	T_EQ(flags, PFD_BLOCK_F_DRY_RUN, "its flags follow the configuration");
	T_EQ(packets_of(m, "203.0.113.0/24"), 42, "and its counters");
	T_EQ(slot_of(m, &c, NULL), 2, "a new prefix takes the lowest free slot");

	n = pfd_block_read(m, &st);
	T_EQ(n, 3, "three prefixes read back");
	if (n == 3) {
		T_TRUE(st[0].prefix.family == AF_INET && st[1].prefix.family == AF_INET &&
			       st[2].prefix.family == AF_INET6,
		       "sorted: IPv4 first");
		T_TRUE(st[0].prefix.len == 25 && st[0].dry_run, "198.51.100.128/25 dry-run first");
	}
	free(st);

	/* removed prefixes go; their slots are reused from zero */
	list[0] = c;
	T_OK(pfd_block_sync(m, list, 1), "sync down to one prefix");
	T_EQ(slot_of(m, &a, NULL), -1, "a removed prefix is gone from the trie");
	T_EQ(slot_of(m, &b, NULL), -1, "the other one too");
	list[1] = d;
	T_OK(pfd_block_sync(m, list, 2), "sync a new prefix in");
	T_EQ(slot_of(m, &d, NULL), slot_a, "the freed slot is given again");
	T_EQ(packets_of(m, "192.0.2.7/32"), 0,
	     "and starts at zero, not with the old prefix's counts");

	T_OK(pfd_block_sync(m, NULL, 0), "sync to none");
	T_EQ(pfd_block_read(m, &st), 0, "nothing read back");
	T_TRUE(st == NULL, "no array for none");
}

/* Whether the bit of family v6's /16 top16 is set. */
static int bit(int bits_fd, bool v6, __u32 top16)
{
	__u32 w = PFD_BLOCK_BITS_WORD(v6, top16);
	__u64 v = 0;

	bpf_map_lookup_elem(bits_fd, &w, &v);
	return (v >> (top16 % 64)) & 1;
}

static unsigned int bits_set(int bits_fd)
{
	unsigned int n = 0;

	for (__u32 w = 0; w < PFD_BLOCK_BITS_WORDS; w++) {
		__u64 v = 0;

		bpf_map_lookup_elem(bits_fd, &w, &v);
		n += __builtin_popcountll(v);
	}
	return n;
}

/* The prefilter: every /16 a prefix overlaps, and no other. */
static void test_bits(const struct pfd_maps *m)
{
	struct pfd_block_rule list[4] = {
		rule("203.0.113.0", 24, false),	  /* one /16: 203.0 */
		rule("10.0.0.0", 14, false),	  /* four: 10.0 .. 10.3 */
		rule("2001:db8:bad::", 48, true), /* v6 0x2001 */
		rule("fc00::", 7, false),	  /* v6 0xfc00 .. 0xfdff: 512 */
	};

	T_OK(pfd_block_sync(m, list, 4), "sync for the bits");
	T_EQ(bit(m->block_bits, false, (203 << 8) | 0), 1, "v4 /24: its /16 set");
	T_EQ(bit(m->block_bits, false, (203 << 8) | 1), 0, "v4 /24: the next /16 clear");
	T_EQ(bit(m->block_bits, false, (10 << 8) | 3), 1, "v4 /14: its last /16 set");
	T_EQ(bit(m->block_bits, false, (10 << 8) | 4), 0, "v4 /14: the one after clear");
	T_EQ(bit(m->block_bits, true, 0x2001), 1, "v6 /48: its /16 set");
	T_EQ(bit(m->block_bits, true, (203 << 8) | 0), 0, "v6 table apart from v4");
	T_EQ(bit(m->block_bits, true, 0xfdff), 1, "v6 /7: its last /16 set");
	T_EQ(bits_set(m->block_bits), 1 + 4 + 1 + 512, "no other bit set");
	list[0] = rule("0.0.0.0", 0, false);
	T_OK(pfd_block_sync(m, list, 1), "sync to 0.0.0.0/0");
	T_EQ(bits_set(m->block_bits), 65536, "every v4 /16, nothing left of the others");
	T_OK(pfd_block_sync(m, NULL, 0), "sync to none");
	T_EQ(bits_set(m->block_bits), 0, "no bit left");
}

static void test_full(const struct pfd_maps *m)
{
	static struct pfd_block_rule many[PFD_MAX_BLOCKS + 1];

	for (unsigned int i = 0; i <= PFD_MAX_BLOCKS; i++) {
		many[i].prefix.family = AF_INET;
		many[i].prefix.len = 32;
		many[i].prefix.addr[0] = htonl(0x0a000000 + i);
	}
	T_EQ(pfd_block_sync(m, many, PFD_MAX_BLOCKS), 0, "4096 prefixes fit");
	T_EQ(pfd_block_read(m, &(struct pfd_block_stat *){ NULL }), PFD_MAX_BLOCKS,
	     "4096 read back");
	T_TRUE(pfd_block_sync(m, many, PFD_MAX_BLOCKS + 1) < 0,
	       "one more than the maps hold is an error");
	T_EQ(slot_of(m, &many[0], NULL), 0, "and the installed ones stay");

	/* A reload that replaces every prefix of a full list: the new ones
	 * find no slot and no trie room until the old ones are out. */
	static struct pfd_block_rule other[PFD_MAX_BLOCKS];
	struct pfd_block_stat *st = NULL;
	int n;

	for (unsigned int i = 0; i < PFD_MAX_BLOCKS; i++) {
		other[i] = many[i];
		other[i].prefix.addr[0] = htonl(0x0b000000 + i);
	}
	T_EQ(pfd_block_sync(m, other, PFD_MAX_BLOCKS), 0, "a full list replaced by another fits");
	n = pfd_block_read(m, &st);
	T_EQ(n, PFD_MAX_BLOCKS, "4096 read back after the swap");
	T_TRUE(n > 0 && st[0].prefix.addr[0] == htonl(0x0b000000) &&
		       st[n - 1].prefix.addr[0] == htonl(0x0b000000 + PFD_MAX_BLOCKS - 1),
	       "and they are the new ones");
	T_EQ(slot_of(m, &many[0], NULL), -1, "the old ones are gone");
	free(st);
	T_OK(pfd_block_sync(m, NULL, 0), "emptied again");
}

int main(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
	struct pfd_maps m = { .flows = -1, .tx_ports = -1, .ctl = -1, .devs = -1, .stats = -1 };

	if (geteuid() != 0) {
		t_skip("block maps", "needs root (BPF maps)");
		return t_done();
	}
	ncpus = libbpf_num_possible_cpus();
	m.block4 =
		bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "pfd_block4", sizeof(struct pfd_block_key4),
			       sizeof(struct pfd_block), PFD_MAX_BLOCKS, &lpm);
	m.block6 =
		bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "pfd_block6", sizeof(struct pfd_block_key6),
			       sizeof(struct pfd_block), PFD_MAX_BLOCKS, &lpm);
	m.block_stats = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "pfd_block_stats", sizeof(__u32),
				       sizeof(struct pfd_counter), PFD_MAX_BLOCKS, NULL);
	m.block_bits = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pfd_block_bits", sizeof(__u32),
				      sizeof(__u64), PFD_BLOCK_BITS_WORDS, NULL);
	T_TRUE(m.block4 >= 0 && m.block6 >= 0 && m.block_stats >= 0 && m.block_bits >= 0 &&
		       ncpus > 0,
	       "maps created");
	if (m.block4 < 0 || m.block6 < 0 || m.block_stats < 0 || m.block_bits < 0)
		return t_done();
	test_tries(&m);
	test_sync(&m);
	test_bits(&m);
	test_full(&m);
	close(m.block4);
	close(m.block6);
	close(m.block_stats);
	close(m.block_bits);
	return t_done();
}
