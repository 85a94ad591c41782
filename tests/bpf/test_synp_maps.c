// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd/synp.c against real maps of the fast path's layout (two LPM tries and
 * a per-CPU array created here as xdp-bpf/maps.bpf.h declares them, no
 * program): the armed lines' services become exactly the tries' entries
 * (prefixes x ports, key prefixlen 16 + the prefix's, port first), with the
 * line's slot, options and the TTL of the entry's family; unarmed lines
 * install nothing; a slot keeps its counters while its services stay and
 * starts from zero when they change; reading back gives per-line services
 * and counters summed over CPUs; and the lookup the XDP program makes
 * (prefixlen 48 or 144, the packet's port and address) finds the service.
 * The datapath side is tests/bpf/test_synproxy.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "t.h"
#include "pfd/synp.h"

#define TS   PFD_SYNP_F_TIMESTAMP
#define SACK PFD_SYNP_F_SACK_PERM
#define MSS  PFD_SYNP_F_MSS
#define WS   PFD_SYNP_F_WSCALE

#define TTL4 64
#define TTL6 255

static int ncpus;

/* A rule from "PREFIX ..." and "PORT ...". */
static struct pfd_synp_rule rule(const char *prefixes, const char *ports)
{
	struct pfd_synp_rule r = { .line = 1 };
	char buf[512], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", prefixes);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct pfd_prefix *p = &r.prefixes[r.n_prefixes++];
		char *slash = strchr(tok, '/');

		*slash = '\0';
		p->family = strchr(tok, ':') ? AF_INET6 : AF_INET;
		p->len = atoi(slash + 1);
		inet_pton(p->family, tok, p->addr);
	}
	snprintf(buf, sizeof(buf), "%s", ports);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		r.ports[r.n_ports++] = atoi(tok);
	return r;
}

static struct pfd_synp opts(uint32_t flags, uint16_t mss, uint8_t wscale)
{
	/* index and ttl are pfd_synp_sync's to set: garbage here */
	return (struct pfd_synp){
		.index = 0x7777, .mss = mss, .wscale = wscale, .ttl = 1, .flags = flags
	};
}

/* ---- the tries' contents ---- */

struct entry {
	int family;
	union {
		struct pfd_synp_key4 k4;
		struct pfd_synp_key6 k6;
	} key;
	struct pfd_synp val;
};

static int dump_trie(int fd, int family, struct entry *v, int n, int max)
{
	union {
		struct pfd_synp_key4 k4;
		struct pfd_synp_key6 k6;
	} cur, prev;
	bool first = true;

	memset(&prev, 0, sizeof(prev));
	while (n < max) {
		memset(&cur, 0, sizeof(cur));
		if (bpf_map_get_next_key(fd, first ? NULL : &prev, &cur))
			break;
		first = false;
		prev = cur;
		memset(&v[n], 0, sizeof(v[n]));
		v[n].family = family;
		memcpy(&v[n].key, &cur, sizeof(cur));
		if (bpf_map_lookup_elem(fd, &cur, &v[n].val))
			memset(&v[n].val, 0xee, sizeof(v[n].val));
		n++;
	}
	return n;
}

static struct entry *dump(const struct pfd_maps *m, int *n)
{
	struct entry *v = calloc(2 * PFD_MAX_SYNP + 2, sizeof(*v));

	*n = dump_trie(m->synp4, AF_INET, v, 0, 2 * PFD_MAX_SYNP + 2);
	*n = dump_trie(m->synp6, AF_INET6, v, *n, 2 * PFD_MAX_SYNP + 2);
	return v;
}

static int entries(const struct pfd_maps *m)
{
	int n;

	free(dump(m, &n));
	return n;
}

/*
 * The tries hold exactly the armed rules' prefixes x ports: key
 * {16 + len, port (big endian), address, zero padding}, value {index i,
 * the rule's mss/wscale/flags, TTL4 or TTL6 by family, pad 0}.
 */
static void check_tries(const char *name, const struct pfd_maps *m,
			const struct pfd_synp_rule *rules, const struct pfd_synp *vals,
			const bool *armed, unsigned int n)
{
	unsigned int i, a, b, want = 0, found = 0, right = 0;
	char what[256];
	struct entry *v;
	int got, j;

	v = dump(m, &got);
	for (i = 0; i < n; i++) {
		if (!armed[i])
			continue;
		for (a = 0; a < rules[i].n_prefixes; a++)
			for (b = 0; b < rules[i].n_ports; b++) {
				const struct pfd_prefix *p = &rules[i].prefixes[a];
				struct entry e;
				size_t klen;

				memset(&e, 0, sizeof(e));
				e.family = p->family;
				if (p->family == AF_INET) {
					e.key.k4.prefixlen = 16 + p->len;
					e.key.k4.dport = htons(rules[i].ports[b]);
					memcpy(e.key.k4.addr, p->addr, 4);
					klen = sizeof(e.key.k4);
				} else {
					e.key.k6.prefixlen = 16 + p->len;
					e.key.k6.dport = htons(rules[i].ports[b]);
					memcpy(e.key.k6.addr, p->addr, 16);
					klen = sizeof(e.key.k6);
				}
				e.val.index = i;
				e.val.mss = vals[i].mss;
				e.val.wscale = vals[i].wscale;
				e.val.flags = vals[i].flags;
				e.val.ttl = p->family == AF_INET ? TTL4 : TTL6;
				want++;
				for (j = 0; j < got; j++) {
					if (v[j].family != e.family ||
					    memcmp(&v[j].key, &e.key, klen))
						continue;
					found++;
					right += !memcmp(&v[j].val, &e.val, sizeof(e.val));
					break;
				}
			}
	}
	snprintf(what, sizeof(what), "%s: %u entries, no other", name, want);
	T_EQ(got, want, what);
	snprintf(what, sizeof(what), "%s: every service has its entry", name);
	T_EQ(found, want, what);
	snprintf(what, sizeof(what), "%s: with its value (slot, options, ttl)", name);
	T_EQ(right, want, what);
	free(v);
}

/* ---- the XDP program's lookup ---- */

/* What the program finds for a SYN to addr:port: the entry's slot, or -1
 * (no entry, ENOENT), or -2 (another error). */
static int lookup(const struct pfd_maps *m, const char *addr, uint16_t port, struct pfd_synp *out)
{
	struct pfd_synp val;
	int err;

	if (strchr(addr, ':')) {
		struct pfd_synp_key6 k = { .prefixlen = 144, .dport = htons(port) };

		inet_pton(AF_INET6, addr, k.addr);
		err = bpf_map_lookup_elem(m->synp6, &k, &val);
	} else {
		struct pfd_synp_key4 k = { .prefixlen = 48, .dport = htons(port) };

		inet_pton(AF_INET, addr, k.addr);
		err = bpf_map_lookup_elem(m->synp4, &k, &val);
	}
	if (err)
		return errno == ENOENT ? -1 : -2;
	if (out)
		*out = val;
	return val.index;
}

/* ---- counters ---- */

/* As the fast path would count: packets on CPU 0, one more on the last. */
static void hit(const struct pfd_maps *m, __u32 slot, __u64 packets)
{
	struct pfd_counter c[ncpus];

	memset(c, 0, sizeof(c));
	bpf_map_lookup_elem(m->synp_stats, &slot, c);
	c[0].packets += packets;
	c[0].bytes += packets * 60;
	c[ncpus - 1].packets += 1;
	c[ncpus - 1].bytes += 60;
	bpf_map_update_elem(m->synp_stats, &slot, c, BPF_ANY);
}

/* The slot's packets summed over CPUs, from the map itself. */
static __u64 raw_packets(const struct pfd_maps *m, __u32 slot)
{
	struct pfd_counter c[ncpus];
	__u64 v = 0;

	memset(c, 0, sizeof(c));
	bpf_map_lookup_elem(m->synp_stats, &slot, c);
	for (int i = 0; i < ncpus; i++)
		v += c[i].packets;
	return v;
}

/* The slot's packets as pfd_synp_read gives them, ~0 if it is not there. */
static __u64 read_packets(const struct pfd_maps *m, unsigned int slot)
{
	struct pfd_synp_stat *st = NULL;
	int n = pfd_synp_read(m, &st);
	__u64 v = ~0ULL;

	for (int i = 0; i < n; i++)
		if (st[i].index == slot)
			v = st[i].packets;
	free(st);
	return v;
}

/* ---- tests ---- */

static void test_entries(const struct pfd_maps *m)
{
	struct pfd_synp_rule rules[4] = {
		rule("192.0.2.0/24 2001:db8:1::/48", "80 443"),
		rule("198.51.100.7/32", "22"),
		rule("203.0.113.0/24", "25"),
		rule("::/0 0.0.0.0/0", "8080"),
	};
	struct pfd_synp vals[4] = { opts(MSS | WS | TS | SACK, 1460, 7),
				    opts(TS | PFD_SYNP_F_DRY_RUN, 0, 0), opts(TS, 0, 0),
				    opts(0, 0, 0) };
	bool armed[4] = { true, true, false, true };
	struct pfd_synp val;

	T_OK(pfd_synp_sync(m, rules, vals, armed, 4, TTL4, TTL6), "sync four lines, one unarmed");
	check_tries("three armed lines", m, rules, vals, armed, 4);

	/* the key's bytes, as the BPF side lays them out: prefixlen (host
	 * order), the port big endian, the address, two bytes never compared */
	{
		struct pfd_synp_key4 k = { .prefixlen = 40, .dport = htons(80) };
		unsigned char want[12] = { 0, 0, 0, 0, 0x00, 0x50, 192, 0, 2, 0, 0, 0 };
		__u32 pl = 40;

		memcpy(want, &pl, 4);
		inet_pton(AF_INET, "192.0.2.0", k.addr);
		T_BYTES(&k, sizeof(k), want, sizeof(want), "struct pfd_synp_key4 layout");
		T_OK(bpf_map_lookup_elem(m->synp4, want, &val),
		     "key 40 | 00 50 | c0 00 02 00 | 00 00 is 192.0.2.0/24 port 80");
		T_TRUE(val.index == 0 && val.mss == 1460 && val.wscale == 7 && val.ttl == TTL4 &&
			       val.flags == (MSS | WS | TS | SACK) && val.pad == 0,
		       "with line 0's value");
	}

	/* the program's lookup: the packet's address and port, full length */
	T_EQ(lookup(m, "192.0.2.77", 80, &val), 0, "v4: an address inside, the port: found");
	T_EQ(val.ttl, TTL4, "v4: the IPv4 TTL");
	T_EQ(lookup(m, "192.0.2.255", 443, NULL), 0, "v4: the other port of the line");
	T_EQ(lookup(m, "192.0.3.1", 80, NULL), -1, "v4: an address outside: not found");
	T_EQ(lookup(m, "192.0.2.77", 81, NULL), -1, "v4: another port: not found");
	T_EQ(lookup(m, "192.0.2.77", 22, NULL), -1, "v4: another line's port: not found");
	T_EQ(lookup(m, "198.51.100.7", 22, &val), 1, "v4 /32: the address");
	T_EQ(val.flags, TS | PFD_SYNP_F_DRY_RUN, "the line's flags as given, dry-run too");
	T_EQ(lookup(m, "198.51.100.6", 22, NULL), -1, "v4 /32: its neighbour: not found");
	T_EQ(lookup(m, "203.0.113.5", 25, NULL), -1, "an unarmed line: not found");
	T_EQ(lookup(m, "8.8.8.8", 8080, NULL), 3, "v4 0.0.0.0/0: any address on its port");
	T_EQ(lookup(m, "8.8.8.8", 8081, NULL), -1, "v4 0.0.0.0/0: not another port");
	T_EQ(lookup(m, "192.0.2.77", 8080, NULL), 3, "v4: 192.0.2.77:8080 is line 3's");
	T_EQ(lookup(m, "2001:db8:1:ffff::1", 443, &val), 0, "v6: an address inside: found");
	T_EQ(val.ttl, TTL6, "v6: the IPv6 hop limit");
	T_EQ(lookup(m, "2001:db8:2::1", 443, NULL), -1, "v6: an address outside: not found");
	T_EQ(lookup(m, "2001:db8:1::1", 444, NULL), -1, "v6: another port: not found");
	T_EQ(lookup(m, "2001:db8:2::1", 8080, NULL), 3, "v6 ::/0: any address on its port");
	T_EQ(lookup(m, "::ffff:192.0.2.77", 80, NULL), -1, "v6: no IPv4 service in the v6 trie");

	/* the longest prefix wins: a /25 on line 1 inside line 0's /24 */
	{
		struct pfd_synp_rule nested[2] = { rule("192.0.2.0/24", "80"),
						   rule("192.0.2.128/25", "80") };
		struct pfd_synp nv[2] = { opts(MSS, 1460, 0), opts(MSS, 1400, 0) };
		bool both[2] = { true, true };

		T_OK(pfd_synp_sync(m, nested, nv, both, 2, TTL4, TTL6), "sync nested prefixes");
		check_tries("nested prefixes", m, nested, nv, both, 2);
		T_EQ(lookup(m, "192.0.2.200", 80, &val), 1, "inside the /25: the /25's line");
		T_EQ(val.mss, 1400, "with its mss");
		T_EQ(lookup(m, "192.0.2.5", 80, &val), 0, "outside the /25: the /24's line");
		T_EQ(val.mss, 1460, "with its mss");
	}

	T_OK(pfd_synp_sync(m, rules, vals, (bool[4]){ false, false, false, false }, 4, TTL4, TTL6),
	     "sync with no line armed");
	T_EQ(entries(m), 0, "nothing installed");
	T_OK(pfd_synp_sync(m, NULL, NULL, NULL, 0, TTL4, TTL6), "sync to none");
}

static void test_counters(const struct pfd_maps *m)
{
	struct pfd_synp_rule rules[3] = {
		rule("192.0.2.0/24", "80 443"),
		rule("2001:db8::/32", "22"),
		rule("198.51.100.0/24 2001:db8:5::/64", "25"),
	};
	struct pfd_synp vals[3] = { opts(MSS | WS | TS | SACK, 1460, 7), opts(TS | SACK, 0, 0),
				    opts(MSS, 536, 0) };
	bool armed[3] = { true, true, true };
	struct pfd_synp_stat *st = NULL;
	int n;

	/* counts left over from something else in the slots */
	hit(m, 0, 1000);
	hit(m, 1, 1000);
	hit(m, 2, 1000);
	hit(m, 3, 1000);
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync three lines");
	check_tries("three lines", m, rules, vals, armed, 3);
	T_EQ(raw_packets(m, 0), 0, "a newly armed slot starts at zero");
	T_EQ(raw_packets(m, 1), 0, "slot 1 too");
	T_EQ(raw_packets(m, 2), 0, "slot 2 too");
	T_EQ(raw_packets(m, 3), 1001, "a slot with no line is left alone");

	hit(m, 0, 41);
	hit(m, 1, 9);
	hit(m, 2, 4);
	n = pfd_synp_read(m, &st);
	T_EQ(n, 3, "three lines read back");
	if (n == 3) {
		T_TRUE(st[0].index == 0 && st[1].index == 1 && st[2].index == 2, "in slot order");
		T_EQ(st[0].services, 2, "line 0: 1 prefix x 2 ports");
		T_EQ(st[1].services, 1, "line 1: 1 service");
		T_EQ(st[2].services, 2, "line 2: a prefix of each family x 1 port");
		T_EQ(st[0].packets, 42, "line 0: packets summed over CPUs");
		T_EQ(st[0].bytes, 42 * 60, "line 0: bytes summed over CPUs");
		T_EQ(st[1].packets, 10, "line 1 packets");
		T_EQ(st[2].packets, 5, "line 2 packets");
		T_TRUE(st[0].val.index == 0 && st[0].val.mss == 1460 && st[0].val.wscale == 7 &&
			       st[0].val.flags == (MSS | WS | TS | SACK) && st[0].val.ttl == TTL4,
		       "line 0: the value as installed");
		T_TRUE(st[1].val.index == 1 && st[1].val.flags == (TS | SACK) &&
			       st[1].val.ttl == TTL6,
		       "line 1: the value as installed, IPv6 hop limit");
		T_TRUE(st[2].val.index == 2 && st[2].val.mss == 536 && st[2].val.flags == MSS,
		       "line 2: the value as installed");
	}
	free(st);

	/* a reload with the same lines: counts kept */
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync the same lines again");
	check_tries("the same lines", m, rules, vals, armed, 3);
	T_EQ(read_packets(m, 0), 42, "line 0 keeps its counts");
	T_EQ(read_packets(m, 1), 10, "line 1 keeps its counts");
	T_EQ(read_packets(m, 2), 5, "line 2 keeps its counts");

	/* options and dry-run changed, services not: counts kept */
	vals[1] = opts(MSS | WS | PFD_SYNP_F_DRY_RUN, 1200, 3);
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 1's new options");
	check_tries("line 1's new options", m, rules, vals, armed, 3);
	T_EQ(read_packets(m, 1), 10, "line 1 keeps its counts with new options");

	/* a port added to line 0: its counts start over, the others' stay */
	rules[0] = rule("192.0.2.0/24", "80 443 8443");
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 0 with a port more");
	check_tries("a port more", m, rules, vals, armed, 3);
	T_EQ(read_packets(m, 0), 0, "line 0 with a port more: zeroed");
	T_EQ(read_packets(m, 1), 10, "line 1 untouched");
	T_EQ(read_packets(m, 2), 5, "line 2 untouched");

	/* a port removed: zeroed too */
	hit(m, 0, 6);
	rules[0] = rule("192.0.2.0/24", "80 8443");
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 0 with a port less");
	check_tries("a port less", m, rules, vals, armed, 3);
	T_EQ(lookup(m, "192.0.2.1", 443, NULL), -1, "the removed port's entry is gone");
	T_EQ(read_packets(m, 0), 0, "line 0 with a port less: zeroed");

	/* a prefix replaced by another of the same family and length */
	hit(m, 2, 6);
	T_EQ(read_packets(m, 2), 12, "line 2 counted");
	rules[2] = rule("198.51.101.0/24 2001:db8:5::/64", "25");
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 2, a prefix moved");
	check_tries("a prefix moved", m, rules, vals, armed, 3);
	T_EQ(lookup(m, "198.51.100.1", 25, NULL), -1, "the old prefix's entry is gone");
	T_EQ(lookup(m, "198.51.101.1", 25, NULL), 2, "the new one is there");
	T_EQ(read_packets(m, 2), 0, "line 2 with another prefix: zeroed");

	/* line 1 unarmed (the ruleset changed): its entries go */
	hit(m, 2, 2);
	armed[1] = false;
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 1 unarmed");
	check_tries("line 1 unarmed", m, rules, vals, armed, 3);
	T_EQ(lookup(m, "2001:db8::1", 22, NULL), -1, "an unarmed line's entries are gone");
	n = pfd_synp_read(m, &st);
	T_EQ(n, 2, "two lines read back");
	T_TRUE(n == 2 && st[0].index == 0 && st[1].index == 2,
	       "the unarmed line is not among them");
	T_TRUE(n == 2 && st[1].packets == 3, "line 2 keeps its counts");
	free(st);
	/* armed again: its old counts do not come back */
	armed[1] = true;
	T_OK(pfd_synp_sync(m, rules, vals, armed, 3, TTL4, TTL6), "sync line 1 armed again");
	check_tries("line 1 armed again", m, rules, vals, armed, 3);
	T_EQ(read_packets(m, 1), 0, "line 1 armed again: from zero");
	T_EQ(read_packets(m, 2), 3, "line 2 still keeps its counts");

	/* line 2 removed from the configuration: its entries go */
	hit(m, 1, 7);
	T_OK(pfd_synp_sync(m, rules, vals, armed, 2, TTL4, TTL6), "sync without line 2");
	check_tries("without line 2", m, rules, vals, armed, 2);
	T_EQ(lookup(m, "198.51.101.1", 25, NULL), -1, "a removed line's IPv4 entry is gone");
	T_EQ(lookup(m, "2001:db8:5::1", 25, NULL), -1, "and its IPv6 one");
	T_EQ(read_packets(m, 2), ~0ULL, "a removed line is not read back");
	T_EQ(read_packets(m, 1), 8, "line 1 keeps its counts");

	/* lines swapped: each slot now holds other services, both start over */
	{
		struct pfd_synp_rule swapped[2] = { rules[1], rules[0] };
		struct pfd_synp sv[2] = { vals[1], vals[0] };

		T_OK(pfd_synp_sync(m, swapped, sv, armed, 2, TTL4, TTL6), "sync lines swapped");
		check_tries("lines swapped", m, swapped, sv, armed, 2);
		T_EQ(lookup(m, "192.0.2.1", 80, NULL), 1, "192.0.2.0/24 is slot 1 now");
		T_EQ(lookup(m, "2001:db8::1", 22, NULL), 0, "2001:db8::/32 is slot 0 now");
		T_EQ(read_packets(m, 0), 0, "slot 0: zeroed");
		T_EQ(read_packets(m, 1), 0, "slot 1: zeroed");
	}

	/* swapped again, lines of one service each: the slots' numbers of
	 * services stay, what they are does not */
	{
		struct pfd_synp_rule one[2] = { rule("192.0.2.0/24", "80"),
						rule("2001:db8::/32", "22") };
		struct pfd_synp_rule swapped[2] = { one[1], one[0] };
		struct pfd_synp ov[2] = { opts(TS, 0, 0), opts(TS, 0, 0) };

		T_OK(pfd_synp_sync(m, one, ov, armed, 2, TTL4, TTL6), "sync two single services");
		hit(m, 0, 4);
		hit(m, 1, 8);
		T_OK(pfd_synp_sync(m, one, ov, armed, 2, TTL4, TTL6), "and again");
		T_TRUE(read_packets(m, 0) == 5 && read_packets(m, 1) == 9, "counts kept");
		T_OK(pfd_synp_sync(m, swapped, ov, armed, 2, TTL4, TTL6), "sync them swapped");
		check_tries("single services swapped", m, swapped, ov, armed, 2);
		T_EQ(read_packets(m, 0), 0, "slot 0, one service before and after: zeroed");
		T_EQ(read_packets(m, 1), 0, "slot 1, one service before and after: zeroed");
	}

	T_OK(pfd_synp_sync(m, NULL, NULL, NULL, 0, TTL4, TTL6), "sync to none");
	T_EQ(entries(m), 0, "both tries empty");
	st = (struct pfd_synp_stat *)1;
	T_EQ(pfd_synp_read(m, &st), 0, "nothing read back");
	T_TRUE(st == NULL, "no array for none");
}

/* 4096 services in all, 64 lines at most. */
static void test_limits(const struct pfd_maps *m)
{
	static struct pfd_synp_rule rules[PFD_MAX_SYNP_RULES + 1];
	static struct pfd_synp vals[PFD_MAX_SYNP_RULES + 1];
	static bool armed[PFD_MAX_SYNP_RULES + 1];
	struct pfd_synp_stat *st = NULL;
	unsigned int r, a, b, services = 0;
	int n;

	/* 20 lines of 14 x 14, one of 14 x 12, one of 8 x 1: 4096 */
	for (r = 0; r < 22; r++) {
		unsigned int np = r < 21 ? 14 : 8, nq = r < 20 ? 14 : r == 20 ? 12 : 1;

		memset(&rules[r], 0, sizeof(rules[r]));
		for (a = 0; a < np; a++) {
			rules[r].prefixes[a].family = AF_INET;
			rules[r].prefixes[a].len = 24;
			rules[r].prefixes[a].addr[0] = htonl(0x0a000000 | r << 16 | a << 8);
		}
		for (b = 0; b < nq; b++)
			rules[r].ports[b] = 1 + b;
		rules[r].n_prefixes = np;
		rules[r].n_ports = nq;
		vals[r] = opts(TS, 0, 0);
		armed[r] = true;
	}
	T_OK(pfd_synp_sync(m, rules, vals, armed, 22, TTL4, TTL6), "4096 services fit");
	T_EQ(entries(m), PFD_MAX_SYNP, "4096 entries");
	n = pfd_synp_read(m, &st);
	T_EQ(n, 22, "22 lines read back");
	for (int i = 0; i < n; i++)
		services += st[i].services;
	T_EQ(services, PFD_MAX_SYNP, "their services add up to 4096");
	free(st);

	rules[21].ports[1] = 2;
	rules[21].n_ports = 2;
	T_EQ(pfd_synp_sync(m, rules, vals, armed, 22, TTL4, TTL6), -E2BIG, "4104 services: -E2BIG");
	T_EQ(entries(m), PFD_MAX_SYNP, "and the installed ones stay");
	T_EQ(lookup(m, "10.21.7.1", 1, NULL), 21, "the last line's entries too");
	T_EQ(lookup(m, "10.21.7.1", 2, NULL), -1, "and none of the refused ones");
	armed[21] = false;
	T_OK(pfd_synp_sync(m, rules, vals, armed, 22, TTL4, TTL6), "the last line unarmed: fits");
	T_EQ(entries(m), PFD_MAX_SYNP - 8, "4088 entries");

	/* The most a configuration holds (64 lines of 7 prefixes x 7 ports),
	 * every service replaced by another: old and new do not fit in a
	 * trie together, the new ones still all get in. */
	for (unsigned int round = 0; round < 2; round++) {
		for (r = 0; r < PFD_MAX_SYNP_RULES; r++) {
			memset(&rules[r], 0, sizeof(rules[r]));
			for (a = 0; a < 7; a++) {
				rules[r].prefixes[a].family = AF_INET;
				rules[r].prefixes[a].len = 32;
				rules[r].prefixes[a].addr[0] =
					htonl((round ? 0xc0000000 : 0x0a000000) | r << 8 | a);
			}
			for (b = 0; b < 7; b++)
				rules[r].ports[b] = 1000 + b;
			rules[r].n_prefixes = rules[r].n_ports = 7;
			vals[r] = opts(TS, 0, 0);
			armed[r] = true;
		}
		T_OK(pfd_synp_sync(m, rules, vals, armed, PFD_MAX_SYNP_RULES, TTL4, TTL6),
		     round ? "3136 services replaced by 3136 others" : "3136 services");
		check_tries(round ? "3136 others" : "3136 services", m, rules, vals, armed,
			    PFD_MAX_SYNP_RULES);
	}

	for (r = 0; r <= PFD_MAX_SYNP_RULES; r++) {
		rules[r] = rule("192.0.2.0/24", "80");
		rules[r].ports[0] = 1 + r;
		vals[r] = opts(0, 0, 0);
		armed[r] = true;
	}
	T_OK(pfd_synp_sync(m, rules, vals, armed, PFD_MAX_SYNP_RULES, TTL4, TTL6), "64 lines fit");
	T_EQ(lookup(m, "192.0.2.1", 64, NULL), 63, "the 64th line is slot 63");
	T_EQ(pfd_synp_sync(m, rules, vals, armed, PFD_MAX_SYNP_RULES + 1, TTL4, TTL6), -E2BIG,
	     "65 lines: -E2BIG");
	T_EQ(entries(m), PFD_MAX_SYNP_RULES, "and the installed ones stay");
	T_OK(pfd_synp_sync(m, NULL, NULL, NULL, 0, TTL4, TTL6), "emptied again");
	T_EQ(entries(m), 0, "both tries empty");
}

int main(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
	struct pfd_maps m = { .flows = -1,
			      .tx_ports = -1,
			      .ctl = -1,
			      .devs = -1,
			      .stats = -1,
			      .block4 = -1,
			      .block6 = -1,
			      .block_stats = -1,
			      .block_bits = -1 };

	if (geteuid() != 0) {
		t_skip("syn-protect maps", "needs root (BPF maps)");
		return t_done();
	}
	ncpus = libbpf_num_possible_cpus();
	m.synp4 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "pfd_synp4", sizeof(struct pfd_synp_key4),
				 sizeof(struct pfd_synp), PFD_MAX_SYNP, &lpm);
	m.synp6 = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "pfd_synp6", sizeof(struct pfd_synp_key6),
				 sizeof(struct pfd_synp), PFD_MAX_SYNP, &lpm);
	m.synp_stats = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "pfd_synp_stats", sizeof(__u32),
				      sizeof(struct pfd_counter), PFD_MAX_SYNP_RULES, NULL);
	T_TRUE(m.synp4 >= 0 && m.synp6 >= 0 && m.synp_stats >= 0 && ncpus > 0, "maps created");
	if (m.synp4 < 0 || m.synp6 < 0 || m.synp_stats < 0 || ncpus <= 0)
		return t_done();
	test_entries(&m);
	test_counters(&m);
	test_limits(&m);
	close(m.synp4);
	close(m.synp6);
	close(m.synp_stats);
	return t_done();
}
