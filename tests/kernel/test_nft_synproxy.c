// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd_nft_read_synproxy (nft-backend/nft.c) against the real kernel, in a
 * private network namespace: rulesets loaded with `nft -f`, and the synproxy
 * statements read back exactly as the kernel dumps them (mss, wscale, the
 * NF_SYNPROXY_OPT_* flags nft(8) sent): none; one; equal ones counted once
 * across chains, tables and families; different ones; named objects, used by
 * a rule or not; each option alone; max smaller than the count; other
 * objects and expressions ignored.
 *
 * What nft(8) sends (and the kernel dumps back unchanged): the flags carry
 * NF_SYNPROXY_OPT_MSS when `mss` was written, _WSCALE when `wscale` was,
 * _TIMESTAMP and _SACK_PERM for their keywords; mss and wscale are 0 when
 * left out. A named object's syntax requires both mss and wscale.
 */
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <linux/netfilter/nf_synproxy.h>

#include "kt.h"
#include "nft-backend/nft.h"

#define MSS  NF_SYNPROXY_OPT_MSS
#define WS   NF_SYNPROXY_OPT_WSCALE
#define SACK NF_SYNPROXY_OPT_SACK_PERM
#define TS   NF_SYNPROXY_OPT_TIMESTAMP

#define MAXSP 8

/* Replaces the ruleset with text (flush ruleset first); 0 or nft's status. */
static int load(const char *text)
{
	char path[] = "/tmp/pfd-kt-synp-XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	fprintf(f, "flush ruleset\n%s\n", text);
	fclose(f);
	rc = kt_sh("nft -f %s", path);
	unlink(path);
	return rc;
}

/* Some statement equals (mss, wscale, flags). */
static bool has(const struct pfd_nft_synproxy *sp, int n, unsigned int mss, unsigned int wscale,
		uint32_t flags)
{
	int i;

	for (i = 0; i < n && i < MAXSP; i++)
		if (sp[i].mss == mss && sp[i].wscale == wscale && sp[i].flags == flags)
			return true;
	return false;
}

/* Loads text, reads, expects exactly one statement (mss, wscale, flags). */
static void one(struct pfd_nft *nft, const char *name, const char *text, unsigned int mss,
		unsigned int wscale, uint32_t flags)
{
	struct pfd_nft_synproxy sp[MAXSP];
	char what[160];
	int n;

	snprintf(what, sizeof(what), "%s: nft -f", name);
	T_OK(load(text), what);
	memset(sp, 0xa5, sizeof(sp));
	n = pfd_nft_read_synproxy(nft, sp, MAXSP);
	snprintf(what, sizeof(what), "%s: one statement", name);
	T_EQ(n, 1, what);
	snprintf(what, sizeof(what), "%s: mss", name);
	T_EQ(sp[0].mss, mss, what);
	snprintf(what, sizeof(what), "%s: wscale", name);
	T_EQ(sp[0].wscale, wscale, what);
	snprintf(what, sizeof(what), "%s: flags", name);
	T_EQ(sp[0].flags, flags, what);
	if (getenv("T_VERBOSE"))
		printf("note: %s -> mss %u wscale %u flags 0x%x\n", name, sp[0].mss, sp[0].wscale,
		       sp[0].flags);
}

#define CHAIN_IN "chain in { type filter hook input priority filter; policy accept;\n"

static void test_none(struct pfd_nft *nft)
{
	struct pfd_nft_synproxy sp[MAXSP];

	T_OK(load(""), "empty ruleset");
	T_EQ(pfd_nft_read_synproxy(nft, sp, MAXSP), 0, "empty ruleset: 0");
	/* Rules, sets and objects of other kinds: still 0. */
	T_OK(load("table inet t { counter c1 { }\n  quota q1 { over 10 mbytes }\n"
		  "  set s { type ipv4_addr; elements = { 10.0.0.1 }; }\n" CHAIN_IN
		  "  tcp dport 80 ct state invalid,untracked counter name c1 accept\n"
		  "  ip saddr @s tcp flags syn notrack\n"
		  "  meta l4proto tcp ct state invalid drop\n}\n}"),
	     "no synproxy: nft -f");
	T_EQ(pfd_nft_read_synproxy(nft, sp, MAXSP), 0, "no synproxy: 0");
	T_EQ(pfd_nft_read_synproxy(nft, NULL, 0), 0, "no synproxy, max 0: 0");
}

static void test_one(struct pfd_nft *nft)
{
	one(nft, "mss 1460 wscale 7 timestamp sack-perm",
	    "table inet synp {\n"
	    "  chain pre { type filter hook prerouting priority raw; tcp dport 80 tcp flags syn "
	    "notrack; }\n" CHAIN_IN "  tcp dport 80 ct state invalid,untracked synproxy mss 1460 "
	    "wscale 7 timestamp sack-perm\n"
	    "  ct state invalid drop\n}\n}",
	    1460, 7, MSS | WS | TS | SACK);
	/* Each option alone: what nft(8) sends for it. */
	one(nft, "bare synproxy", "table inet t { " CHAIN_IN "tcp dport 80 synproxy\n}\n}", 0, 0,
	    0);
	one(nft, "mss only", "table inet t { " CHAIN_IN "tcp dport 80 synproxy mss 1400\n}\n}",
	    1400, 0, MSS);
	one(nft, "wscale only", "table inet t { " CHAIN_IN "tcp dport 80 synproxy wscale 9\n}\n}",
	    0, 9, WS);
	one(nft, "timestamp only",
	    "table inet t { " CHAIN_IN "tcp dport 80 synproxy timestamp\n}\n}", 0, 0, TS);
	one(nft, "sack-perm only",
	    "table inet t { " CHAIN_IN "tcp dport 80 synproxy sack-perm\n}\n}", 0, 0, SACK);
	one(nft, "forward chain, ip family",
	    "table ip t { chain fw { type filter hook forward priority filter; "
	    "tcp dport 443 synproxy mss 1380 wscale 2 sack-perm\n}\n}",
	    1380, 2, MSS | WS | SACK);
	one(nft, "ip6 family",
	    "table ip6 t { " CHAIN_IN "tcp dport 443 synproxy mss 1440 wscale 14 timestamp\n}\n}",
	    1440, 14, MSS | WS | TS);
}

static void test_dedup(struct pfd_nft *nft)
{
	struct pfd_nft_synproxy sp[MAXSP], small[2];
	int n;

	/* Equal statements in two chains of one table, another table and
	 * other families: one. */
	one(nft, "equal statements",
	    "table inet a { " CHAIN_IN
	    "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n"
	    "  tcp dport 81 synproxy mss 1460 wscale 7 timestamp sack-perm\n}\n"
	    "  chain fw { type filter hook forward priority filter; "
	    "tcp dport 82 synproxy mss 1460 wscale 7 sack-perm timestamp\n}\n}\n"
	    "table ip b { " CHAIN_IN
	    "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n}\n}\n"
	    "table ip6 c { " CHAIN_IN
	    "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n}\n}",
	    1460, 7, MSS | WS | TS | SACK);

	T_OK(load("table inet a { " CHAIN_IN
		  "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n"
		  "  tcp dport 81 synproxy mss 1460 wscale 7 timestamp\n}\n}"),
	     "two different: nft -f");
	memset(sp, 0, sizeof(sp));
	n = pfd_nft_read_synproxy(nft, sp, MAXSP);
	T_EQ(n, 2, "two different: 2");
	T_TRUE(has(sp, n, 1460, 7, MSS | WS | TS | SACK), "two different: the first");
	T_TRUE(has(sp, n, 1460, 7, MSS | WS | TS), "two different: the second (no sack-perm)");

	/* Differing in one field each, and one repeated: 4 distinct. */
	T_OK(load("table inet a { " CHAIN_IN "tcp dport 80 synproxy mss 1460 wscale 7\n"
		  "  tcp dport 81 synproxy mss 1461 wscale 7\n"
		  "  tcp dport 82 synproxy mss 1460 wscale 8\n"
		  "  tcp dport 83 synproxy mss 1460 wscale 7 timestamp\n"
		  "  tcp dport 84 synproxy mss 1460 wscale 7\n}\n}"),
	     "four different: nft -f");
	n = pfd_nft_read_synproxy(nft, sp, MAXSP);
	T_EQ(n, 4, "four different, one repeated: 4");
	T_TRUE(has(sp, n, 1460, 7, MSS | WS) && has(sp, n, 1461, 7, MSS | WS) &&
		       has(sp, n, 1460, 8, MSS | WS) && has(sp, n, 1460, 7, MSS | WS | TS),
	       "four different: each one");

	/* max below the count: the count, max rows filled, nothing past. */
	memset(small, 0xa5, sizeof(small));
	T_EQ(pfd_nft_read_synproxy(nft, small, 1), 4, "max 1: still the count");
	T_TRUE(has(small, 1, sp[0].mss, sp[0].wscale, sp[0].flags), "max 1: the first row");
	T_EQ(small[1].mss, 0xa5a5, "max 1: row 2 untouched");
	T_EQ(pfd_nft_read_synproxy(nft, NULL, 0), 4, "max 0, out NULL: the count");
}

static void test_objects(struct pfd_nft *nft)
{
	struct pfd_nft_synproxy sp[MAXSP];
	int n;

	one(nft, "named object",
	    "table inet t { synproxy obj1 { mss 1400 wscale 5 }\n" CHAIN_IN
	    "tcp dport 80 synproxy name obj1\n}\n}",
	    1400, 5, MSS | WS);
	one(nft, "named object with timestamp sack-perm",
	    "table ip t { synproxy obj1 { mss 1400 wscale 5 timestamp sack-perm }\n" CHAIN_IN
	    "tcp dport 80 synproxy name obj1\n}\n}",
	    1400, 5, MSS | WS | TS | SACK);
	one(nft, "named object, no rule uses it",
	    "table inet t { synproxy lonely { mss 1300 wscale 3 sack-perm }\n}", 1300, 3,
	    MSS | WS | SACK);
	/* An object through a map: found as an object. */
	one(nft, "named object through a map",
	    "table inet t { synproxy o1 { mss 1400 wscale 5 }\n" CHAIN_IN
	    "synproxy name tcp dport map { 80 : \"o1\" }\n}\n}",
	    1400, 5, MSS | WS);

	/* An object equal to a rule's statement: one; two objects, one
	 * equal: two; rules first. */
	one(nft, "object equal to an expression",
	    "table inet t { synproxy o1 { mss 1460 wscale 7 timestamp sack-perm }\n" CHAIN_IN
	    "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n"
	    "tcp dport 81 synproxy name o1\n}\n}",
	    1460, 7, MSS | WS | TS | SACK);
	T_OK(load("table inet t { synproxy o1 { mss 1460 wscale 7 timestamp sack-perm }\n"
		  "  synproxy o2 { mss 1200 wscale 0 }\n"
		  "  counter c { }\n" CHAIN_IN
		  "tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm\n"
		  "tcp dport 81 synproxy name o1\ntcp dport 82 synproxy name o2\n}\n}"),
	     "objects and an expression: nft -f");
	memset(sp, 0, sizeof(sp));
	n = pfd_nft_read_synproxy(nft, sp, MAXSP);
	T_EQ(n, 2, "objects and an expression: 2");
	T_EQ(sp[0].mss, 1460, "objects and an expression: the rule's first");
	T_TRUE(has(sp, n, 1200, 0, MSS | WS), "objects and an expression: o2 (wscale 0)");
}

/* The snapshot belongs to the ruleset at the time: after a change the next
 * read sees it, and after flush nothing is left. */
static void test_changes(struct pfd_nft *nft)
{
	struct pfd_nft_synproxy sp[MAXSP];

	T_OK(load("table inet t { " CHAIN_IN "tcp dport 80 synproxy mss 1460 wscale 7\n}\n}"),
	     "change: load");
	T_EQ(pfd_nft_read_synproxy(nft, sp, MAXSP), 1, "change: 1 before");
	T_OK(kt_sh("nft add rule inet t in tcp dport 81 synproxy mss 1400 wscale 7"),
	     "change: add a rule");
	T_EQ(pfd_nft_read_synproxy(nft, sp, MAXSP), 2, "change: 2 after add rule");
	T_OK(kt_sh("nft flush ruleset"), "change: flush");
	T_EQ(pfd_nft_read_synproxy(nft, sp, MAXSP), 0, "change: 0 after flush");
}

/* Reads while another process swaps, one transaction at a time, between
 * two rulesets whose rule and object agree within each (1 statement) but
 * not across them: a read that took the rules from one and the object
 * from the other would count 2. Every read must give 1 (or -EAGAIN when the
 * ruleset kept changing through all its tries). */
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void test_consistency(struct pfd_nft *nft)
{
	static const char *const rs[2] = {
		"table inet t { synproxy o { mss 1000 wscale 1 }\n" CHAIN_IN
		"tcp dport 80 synproxy mss 1000 wscale 1\ntcp dport 81 synproxy name o\n}\n}",
		"table inet t { synproxy o { mss 2000 wscale 2 }\n" CHAIN_IN
		"tcp dport 80 synproxy mss 2000 wscale 2\ntcp dport 81 synproxy name o\n}\n}",
	};
	struct pfd_nft_synproxy sp[MAXSP];
	int i, n, seen[2] = { 0, 0 }, again = 0, other = 0, status;
	struct timespec t0, t;
	pid_t pid;

	T_OK(load(rs[0]), "consistency: load");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* until told to stop, ending with a whole transaction */
		signal(SIGTERM, on_term);
		for (i = 0; !stop && i < 100000; i++)
			load(rs[i % 2]);
		_exit(0);
	}
	T_TRUE(pid > 0, "consistency: fork");
	if (pid < 0)
		return;
	/* 2 s of reads: each ruleset seen several times over */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		n = pfd_nft_read_synproxy(nft, sp, MAXSP);
		if (n == 1 && sp[0].mss == 1000 && sp[0].wscale == 1 && sp[0].flags == (MSS | WS))
			seen[0]++;
		else if (n == 1 && sp[0].mss == 2000 && sp[0].wscale == 2 &&
			 sp[0].flags == (MSS | WS))
			seen[1]++;
		else if (n == -EAGAIN)
			again++;
		else
			other++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	printf("note: consistency: %d + %d reads of the two rulesets, %d -EAGAIN, %d other\n",
	       seen[0], seen[1], again, other);
	T_EQ(other, 0, "consistency: never a mix of two rulesets");
	T_TRUE(seen[0] > 0 && seen[1] > 0, "consistency: both rulesets read while they change");
	kt_sh("nft flush ruleset");
}

/* Whether this kernel can load a synproxy rule: 1 yes, 0 it lacks
 * nft_synproxy (nft says ENOENT: no such expression), -1 other failure. */
static int probe(char *why, size_t size)
{
	char out[1024];

	if (!load("table inet probe { " CHAIN_IN "tcp dport 80 synproxy\n}\n}"))
		return 1;
	kt_out(out, sizeof(out),
	       "nft add table inet probe2 && nft add chain inet probe2 in "
	       "\"{ type filter hook input priority 0; }\" && "
	       "nft add rule inet probe2 in tcp dport 80 synproxy 2>&1");
	snprintf(why, size, "%s", out);
	return strstr(out, "No such file or directory") ? 0 : -1;
}

int main(void)
{
	struct pfd_nft *nft = NULL;
	char why[1024], msg[1200];
	int p;

	(void)kt_readable; /* a kt.h helper this program does not need */
	if (kt_netns("nft_synproxy"))
		return t_done();
	if (kt_sh("nft --version")) {
		t_skip("nft_synproxy", "nft(8) not installed");
		return t_done();
	}
	p = probe(why, sizeof(why));
	if (p <= 0) {
		snprintf(msg, sizeof(msg), "%s%s", p == 0 ? "kernel lacks: nft_synproxy " : "",
			 why);
		t_skip("nft_synproxy", msg);
		return t_done();
	}
	T_OK(pfd_nft_open(&nft), "open");
	if (!nft)
		return t_done();
	test_none(nft);
	test_one(nft);
	test_dedup(nft);
	test_objects(nft);
	test_changes(nft);
	test_consistency(nft);
	kt_sh("nft flush ruleset");
	pfd_nft_close(nft);
	return t_done();
}
