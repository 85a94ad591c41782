// SPDX-License-Identifier: GPL-2.0-only
/*
 * nft-backend/ct.c against the real kernel, in a private network namespace:
 * entries created with conntrack(8) arrive as events and in dumps with the
 * fields conntrack(8) shows; timeout, TCP flags and mark updates take effect
 * (read back with `conntrack -L` and our own dump) and respect the zone; a
 * status-filtered dump leaves out what the filter excludes; a tiny receive
 * buffer and a batch of inserts produce ENOBUFS, after which a dump sees
 * every entry; a message from a process instead of the kernel is ignored.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include "kt.h"
#include "nft-backend/ct.h"

#define MAXSEEN 4096

struct seen {
	unsigned int n, new, update, destroy;
	struct pfd_ct_entry e[MAXSEEN];
	enum pfd_ct_event ev[MAXSEEN];
};

static struct seen seen;

/* test_dump_cancel: the dump is cancelled from the callback after this
 * many entries (0: never) */
static struct pfd_ct *cancel_ct;
static unsigned int cancel_after;

static void collect(void *arg, enum pfd_ct_event ev, const struct pfd_ct_entry *e)
{
	struct seen *s = arg;

	if (cancel_after && s->n + 1 == cancel_after)
		pfd_ct_dump_cancel(cancel_ct);

	if (ev == PFD_CT_EV_NEW)
		s->new ++;
	else if (ev == PFD_CT_EV_UPDATE)
		s->update++;
	else
		s->destroy++;
	if (s->n < MAXSEEN) {
		s->e[s->n] = *e;
		s->ev[s->n++] = ev;
	}
}

static void reset(void)
{
	memset(&seen, 0, sizeof(seen));
}

/* Reads events until one matching (ev, orig sport) arrives or 2 s pass. */
static const struct pfd_ct_entry *wait_event(struct pfd_ct *ct, enum pfd_ct_event ev, __u8 proto,
					     __u16 sport)
{
	int i;
	unsigned int k;

	for (i = 0; i < 20; i++) {
		for (k = 0; k < seen.n; k++)
			if (seen.ev[k] == ev && seen.e[k].orig.l4proto == proto &&
			    seen.e[k].orig.sport == htons(sport))
				return &seen.e[k];
		kt_readable(pfd_ct_events_fd(ct), 100);
		pfd_ct_events_read(ct);
	}
	return NULL;
}

static const struct pfd_ct_entry *find(__u8 family, __u8 proto, __u16 sport, __u16 zone)
{
	unsigned int k;

	for (k = 0; k < seen.n; k++)
		if (seen.e[k].orig.family == family && seen.e[k].orig.l4proto == proto &&
		    seen.e[k].orig.sport == htons(sport) && seen.e[k].zone == zone)
			return &seen.e[k];
	return NULL;
}

/* The entry as a fresh dump reports it (copied: the table is reused). */
static int redump(struct pfd_ct *ct, __u8 family, __u8 proto, __u16 sport, __u16 zone,
		  struct pfd_ct_entry *out)
{
	const struct pfd_ct_entry *e;

	reset();
	if (pfd_ct_dump(ct, 0, 0))
		return -1;
	e = find(family, proto, sport, zone);
	if (!e)
		return -1;
	*out = *e;
	return 0;
}

/* `conntrack -L` timeout column of the entry with this source port. */
static long cli_timeout(const char *filter)
{
	char out[4096];
	long t = -1;

	kt_out(out, sizeof(out), "conntrack -L %s", filter);
	if (sscanf(out, "%*s %*d %ld", &t) != 1)
		return -1;
	return t;
}

static bool cli_has(const char *filter, const char *needle)
{
	char out[4096];

	kt_out(out, sizeof(out), "conntrack -L %s", filter);
	return strstr(out, needle) != NULL;
}

static void test_events_and_dump(struct pfd_ct *ct)
{
	const struct pfd_ct_entry *e;
	struct in_addr a;
	struct in6_addr a6;

	reset();
	/* IPv4 TCP through DNAT (reply tuple from the real server), marked. */
	T_OK(kt_sh("conntrack -I -p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 "
		   "-r 198.51.100.3 -q 192.0.2.1 --reply-port-src 8080 --reply-port-dst 40000 "
		   "--state ESTABLISHED -u ASSURED,SEEN_REPLY -t 300 -m 0x11"),
	     "conntrack -I tcp4");
	e = wait_event(ct, PFD_CT_EV_NEW, IPPROTO_TCP, 40000);
	T_TRUE(e, "tcp4: NEW event");
	if (e) {
		inet_pton(AF_INET, "198.51.100.3", &a);
		T_EQ(e->orig.family, AF_INET, "tcp4 event: family");
		T_EQ(e->orig.dport, htons(80), "tcp4 event: orig dport");
		T_EQ(e->reply.src[0], a.s_addr, "tcp4 event: reply src (DNAT target)");
		T_EQ(e->reply.sport, htons(8080), "tcp4 event: reply sport");
		T_EQ(e->mark, 0x11, "tcp4 event: mark");
		T_EQ(e->status & (IPS_ASSURED | IPS_SEEN_REPLY), IPS_ASSURED | IPS_SEEN_REPLY,
		     "tcp4 event: status");
		T_TRUE(e->has_tcp_state && e->tcp_state == TCP_CONNTRACK_ESTABLISHED,
		       "tcp4 event: ESTABLISHED");
		T_TRUE(e->has_timeout && e->timeout > 290 && e->timeout <= 300,
		       "tcp4 event: timeout");
		T_TRUE(e->id != 0, "tcp4 event: id");
	}

	/* IPv6 UDP. */
	T_OK(kt_sh("conntrack -I -p udp -s 2001:db8::1 -d 2001:db8::2 --sport 5000 --dport 53 "
		   "-t 100 -u ASSURED"),
	     "conntrack -I udp6");
	e = wait_event(ct, PFD_CT_EV_NEW, IPPROTO_UDP, 5000);
	T_TRUE(e, "udp6: NEW event");
	if (e) {
		inet_pton(AF_INET6, "2001:db8::2", &a6);
		T_EQ(e->orig.family, AF_INET6, "udp6 event: family");
		T_BYTES(e->orig.dst, 16, &a6, 16, "udp6 event: orig dst");
		T_TRUE(!e->has_tcp_state, "udp6 event: no TCP state");
	}

	/* Same tuple in zone 5, and an entry that is not ASSURED. */
	T_OK(kt_sh("conntrack -I -p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 "
		   "--state ESTABLISHED -u ASSURED -t 300 -w 5"),
	     "conntrack -I zone 5");
	T_OK(kt_sh("conntrack -I -p udp -s 192.0.2.7 -d 198.51.100.7 --sport 7000 --dport 7 -t 60"),
	     "conntrack -I unassured");

	reset();
	T_OK(pfd_ct_dump(ct, 0, 0), "dump all");
	T_EQ(seen.n, 4, "dump all: 4 entries, both families");
	T_EQ(seen.new, 4, "dump all: delivered as NEW");
	T_TRUE(find(AF_INET6, IPPROTO_UDP, 5000, 0), "dump all: the IPv6 entry");
	T_TRUE(find(AF_INET, IPPROTO_TCP, 40000, 5), "dump all: the zone 5 entry");
	T_TRUE(find(AF_INET, IPPROTO_TCP, 40000, 0), "dump all: the zone 0 entry");

	reset();
	T_OK(pfd_ct_dump(ct, IPS_ASSURED, IPS_ASSURED), "dump ASSURED only");
	T_EQ(seen.n, 3, "dump ASSURED only: the unassured entry left out");
	T_TRUE(!find(AF_INET, IPPROTO_UDP, 7000, 0), "dump ASSURED only: not 7000");
	reset();
	T_OK(pfd_ct_dump(ct, IPS_ASSURED, 0), "dump not ASSURED");
	T_EQ(seen.n, 1, "dump not ASSURED: exactly the unassured one");
	T_EQ(pfd_ct_dump(ct, 0, IPS_ASSURED), -EINVAL, "dump: value outside mask refused");
	T_TRUE(pfd_ct_get_stats(ct)->dumps >= 3, "dump: counted");
}

static void test_updates(struct pfd_ct *ct)
{
	struct pfd_ct_entry e, z, now, gone;
	const struct pfd_ct_entry *ev;
	struct pfd_ct *other = NULL;
	long t;

	if (redump(ct, AF_INET, IPPROTO_TCP, 40000, 0, &e) ||
	    redump(ct, AF_INET, IPPROTO_TCP, 40000, 5, &z)) {
		T_TRUE(0, "updates: entries present");
		return;
	}

	/* Timeout: zone 0 changes, the same tuple in zone 5 does not. */
	T_OK(pfd_ct_set_timeout(ct, &e, 1234), "set timeout");
	t = cli_timeout("-p tcp --sport 40000 -w 0");
	T_TRUE(t >= 1230 && t <= 1234, "set timeout: conntrack -L shows ~1234");
	t = cli_timeout("-p tcp --sport 40000 -w 5");
	T_TRUE(t > 200 && t <= 300, "set timeout: zone 5 entry untouched");
	T_OK(pfd_ct_set_timeout(ct, &z, 777), "set timeout zone 5");
	t = cli_timeout("-p tcp --sport 40000 -w 5");
	T_TRUE(t >= 773 && t <= 777, "set timeout zone 5: conntrack -L shows ~777");

	/* TCP flags on both directions: first MAXACK_SET, then BE_LIBERAL
	 * with MAXACK_SET cleared (what pfd does at offload / teardown). */
	T_OK(pfd_ct_set_tcp_flags(ct, &e, IP_CT_TCP_FLAG_MAXACK_SET, 0), "set MAXACK_SET");
	T_OK(redump(ct, AF_INET, IPPROTO_TCP, 40000, 0, &now), "redump");
	T_TRUE((now.tcp_flags_orig & IP_CT_TCP_FLAG_MAXACK_SET) &&
		       (now.tcp_flags_reply & IP_CT_TCP_FLAG_MAXACK_SET),
	       "MAXACK_SET set on both directions");
	T_OK(pfd_ct_set_tcp_flags(ct, &e, IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_MAXACK_SET),
	     "set BE_LIBERAL, clear MAXACK_SET");
	T_OK(redump(ct, AF_INET, IPPROTO_TCP, 40000, 0, &now), "redump");
	T_EQ(now.tcp_flags_orig & (IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_MAXACK_SET),
	     IP_CT_TCP_FLAG_BE_LIBERAL, "orig: BE_LIBERAL set, MAXACK_SET clear");
	T_EQ(now.tcp_flags_reply & (IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_MAXACK_SET),
	     IP_CT_TCP_FLAG_BE_LIBERAL, "reply: BE_LIBERAL set, MAXACK_SET clear");
	T_TRUE(now.has_tcp_state && now.tcp_state == TCP_CONNTRACK_ESTABLISHED,
	       "flags: state untouched");
	T_EQ(pfd_ct_set_tcp_flags(ct, &e, 0x8, 0x8), -EINVAL, "flags: set and clear overlap");

	/* Mark under a mask: 0x11 -> (0x11 & ~0xf00) | 0x100 = 0x111. The
	 * updates above queued events of their own: drain them first. */
	while (kt_readable(pfd_ct_events_fd(ct), 100))
		pfd_ct_events_read(ct);
	reset();
	T_OK(pfd_ct_set_mark(ct, &e, 0x100, 0xf00), "set mark 0x100/0xf00");
	T_TRUE(cli_has("-p tcp --sport 40000 -w 0", "mark=273 "), "mark: conntrack -L 273");
	/* pfd's own change is not echoed back as an event; a change by
	 * another netlink socket (a second handle: conntrack -U fails with
	 * EOPNOTSUPP on entries it did not create with NAT) is. */
	ev = wait_event(ct, PFD_CT_EV_UPDATE, IPPROTO_TCP, 40000);
	T_TRUE(!ev, "mark: our own update is not an event");
	T_OK(pfd_ct_open(&other, NULL), "second handle");
	if (other) {
		T_OK(pfd_ct_set_mark(other, &e, 0x1000, 0x1000), "mark set by the second handle");
		ev = wait_event(ct, PFD_CT_EV_UPDATE, IPPROTO_TCP, 40000);
		T_TRUE(ev && ev->mark == 0x1111, "mark: another socket's update is an event");
		T_OK(pfd_ct_set_mark(other, &e, 0, 0x1000), "second handle restores the mark");
		pfd_ct_close(other);
	}
	T_OK(pfd_ct_set_mark(ct, &e, 0, 0x1), "clear mark bit 0x1");
	T_TRUE(cli_has("-p tcp --sport 40000 -w 0", "mark=272 "), "mark: conntrack -L 272");
	T_TRUE(cli_has("-p tcp --sport 40000 -w 5", "mark=0 "), "mark: zone 5 untouched");

	/* A gone entry: ENOENT, counted. */
	gone = e;
	gone.orig.sport = htons(1);
	T_EQ(pfd_ct_set_timeout(ct, &gone, 10), -ENOENT, "update of a missing entry: ENOENT");
	T_TRUE(pfd_ct_get_stats(ct)->update_errors >= 1, "update error counted");

	/* IPS_FIXED_TIMEOUT: the kernel keeps the entry's timeout. */
	T_OK(kt_sh("conntrack -I -p udp -s 192.0.2.8 -d 198.51.100.8 --sport 8000 --dport 8 "
		   "-t 300 -u ASSURED,FIXED_TIMEOUT"),
	     "conntrack -I fixed timeout");
	if (!redump(ct, AF_INET, IPPROTO_UDP, 8000, 0, &now)) {
		__u64 before = pfd_ct_get_stats(ct)->update_errors;
		int err = pfd_ct_set_timeout(ct, &now, 5);

		T_TRUE(now.status & IPS_FIXED_TIMEOUT, "fixed timeout: status bit");
		/* ctnetlink refuses it (checked on 6.18); pfd leaves such
		 * entries' timeouts to the kernel. */
		T_EQ(err, -EPERM, "fixed timeout: EPERM");
		T_EQ(pfd_ct_get_stats(ct)->update_errors, before,
		     "fixed timeout: EPERM not counted as an error");
		T_TRUE(cli_timeout("-p udp --sport 8000") > 200, "fixed timeout: unchanged");
	}

	/* Destroy: the event carries the tuple. */
	reset();
	T_OK(kt_sh("conntrack -D -p udp --orig-src 2001:db8::1 --sport 5000"), "conntrack -D udp6");
	ev = wait_event(ct, PFD_CT_EV_DESTROY, IPPROTO_UDP, 5000);
	T_TRUE(ev && ev->orig.family == AF_INET6, "udp6: DESTROY event");
}

/* A batch of `conntrack -I` lines in a temp file (path: a mkstemp
 * template), loaded in one `conntrack -R`: a burst the kernel reports
 * back to back. NULL (a failed check) if the file cannot be made. */
static FILE *batch_open(char *path, const char *what)
{
	int fd = mkstemp(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		if (fd >= 0)
			close(fd);
		T_TRUE(0, what);
	}
	return f;
}

static int batch_load(FILE *f, const char *path)
{
	int err;

	fclose(f);
	err = kt_sh("conntrack -R %s", path);
	unlink(path);
	return err;
}

static void test_enobufs(void)
{
	struct pfd_ct_opts o = { .rcvbuf = 1, .cb = collect, .arg = &seen };
	struct pfd_ct *small;
	FILE *f;
	int i, err, ret = 0;
	unsigned int k, burst = 0, refreshed;
	__u64 before;
	char path[] = "/tmp/pfd-kt-ct-XXXXXX";

	f = batch_open(path, "enobufs: temp file");
	if (!f)
		return;
	T_OK(pfd_ct_open(&small, &o), "open with a tiny buffer");
	if (!small) {
		fclose(f);
		unlink(path);
		return;
	}
	T_TRUE(pfd_ct_events_rcvbuf(small) < 16384, "tiny buffer: kernel minimum");
	for (i = 0; i < 2000; i++)
		fprintf(f,
			"-I -p udp -s 203.0.113.%d -d 198.51.100.9 --sport %d --dport 53 "
			"-t 600 -u ASSURED\n",
			1 + i % 200, 10000 + i);
	T_OK(batch_load(f, path), "conntrack -R: 2000 inserts in one batch");

	reset();
	for (i = 0; i < 50; i++) {
		err = pfd_ct_events_read(small);
		if (err == -ENOBUFS)
			ret = err;
		if (!kt_readable(pfd_ct_events_fd(small), 20))
			break;
	}
	T_EQ(ret, -ENOBUFS, "events read: -ENOBUFS");
	T_TRUE(pfd_ct_get_stats(small)->overruns >= 1, "overrun counted");
	T_TRUE(seen.new < 2000, "events were lost");

	/* The resync a caller does: a dump has every entry. */
	reset();
	T_OK(pfd_ct_dump(small, 0, 0), "resync dump");
	for (k = 0; k < seen.n; k++)
		if (seen.e[k].orig.l4proto == IPPROTO_UDP && seen.e[k].orig.dport == htons(53) &&
		    ntohs(seen.e[k].orig.sport) >= 10000 && ntohs(seen.e[k].orig.sport) < 12000)
			burst++;
	T_EQ(burst, 2000, "resync dump: all 2000 entries");

	/* 500 timeout refreshes through the tiny-buffer handle: without the
	 * filter on our own echoes they would overflow it at once. */
	while (kt_readable(pfd_ct_events_fd(small), 50))
		pfd_ct_events_read(small);
	before = pfd_ct_get_stats(small)->overruns;
	for (k = 0, refreshed = 0; k < seen.n && refreshed < 500; k++)
		if (seen.e[k].orig.dport == htons(53) &&
		    !pfd_ct_set_timeout(small, &seen.e[k], 500))
			refreshed++;
	T_EQ(refreshed, 500, "500 timeout refreshes");
	reset();
	ret = kt_readable(pfd_ct_events_fd(small), 300) ? pfd_ct_events_read(small) : 0;
	T_EQ(ret, 0, "refreshes: no overrun");
	T_EQ(pfd_ct_get_stats(small)->overruns, before, "refreshes: overrun count unchanged");
	T_EQ(seen.n, 0, "refreshes: no echo events");
	pfd_ct_close(small);
}

/* 2000 UDP entries in one conntrack -R batch, source ports from sport0. */
static int burst_insert(unsigned int sport0, const char *what)
{
	char path[] = "/tmp/pfd-kt-ct-XXXXXX";
	FILE *f = batch_open(path, what);

	if (!f)
		return -EIO;
	for (int i = 0; i < 2000; i++)
		fprintf(f,
			"-I -p udp -s 203.0.113.%d -d 198.51.100.9 --sport %u --dport 53 "
			"-t 600 -u ASSURED\n",
			1 + i % 200, sport0 + i);
	return batch_load(f, path);
}

/*
 * A resync empties the event socket before its dump: the kernel reports
 * one ENOBUFS per congestion, and until a read finds the queue empty it
 * drops further events without a word. After pfd_ct_events_flush, the
 * socket is empty and the next loss is reported again.
 */
static void test_events_flush(void)
{
	struct pfd_ct_opts o = { .rcvbuf = 1, .cb = collect, .arg = &seen };
	const struct pfd_ct_stats *st;
	struct pfd_ct *small;
	int i, err, ret = 0;

	T_OK(pfd_ct_open(&small, &o), "flush: open with a tiny buffer");
	if (!small)
		return;
	st = pfd_ct_get_stats(small);
	T_OK(burst_insert(30000, "flush: first burst"), "flush: 2000 inserts overflow the socket");
	T_OK(pfd_ct_events_flush(small, 1000000000ULL), "flush: the socket emptied within 1 s");
	T_TRUE(st->discarded > 0, "flush: queued events discarded");
	T_TRUE(st->overruns >= 1, "flush: the overrun it met is counted");
	T_TRUE(!kt_readable(pfd_ct_events_fd(small), 0), "flush: nothing left to read");

	T_OK(burst_insert(32000, "flush: second burst"), "flush: 2000 more inserts");
	reset();
	for (i = 0; i < 50; i++) {
		err = pfd_ct_events_read(small);
		if (err == -ENOBUFS)
			ret = err;
		if (!kt_readable(pfd_ct_events_fd(small), 20))
			break;
	}
	T_EQ(ret, -ENOBUFS, "flush: the second loss is reported too");
	pfd_ct_close(small);
}

/* The revalidation of a new ruleset generation: every entry with any
 * offload mark bit loses those bits (others keep theirs), in batches. */
static bool skip_sport_20002(void *arg, const struct pfd_ct_entry *e)
{
	(void)arg;
	return e->orig.sport == htons(20002);
}

static void test_clear_marks(struct pfd_ct *ct)
{
	static const __u32 marks[] = { 0, 1, 2, 3, 4, 7 };
	char path[] = "/tmp/pfd-kt-ct-XXXXXX";
	int i;
	unsigned int k, left = 0, high = 0, want = 0;
	unsigned int maxack_marked = 99, maxack_unmarked = 99;
	struct pfd_ct_ref ref = { 0 };
	__u64 cleared = 0;
	FILE *f = batch_open(path, "clear marks: temp file");

	if (!f)
		return;
	kt_sh("conntrack -F");
	for (i = 0; i < 1200; i++) {
		__u32 m = marks[i % 6];

		fprintf(f,
			"-I -p %s -s 203.0.113.%d -d 198.51.100.10 --sport %d --dport 443 "
			"-t 600 --mark %u\n",
			i % 2 ? "udp" : "tcp --state ESTABLISHED", 1 + i % 200, 20000 + i, m);
		want += (m & 3) != 0;
	}
	T_OK(batch_load(f, path), "clear marks: 1200 entries");
	/* MAXACK_SET on a marked TCP entry (sport 20002, mark 2) and an
	 * unmarked one (20000): the clear hands the first back to the
	 * kernel, and must leave the second alone */
	reset();
	T_OK(pfd_ct_dump(ct, 0, 0), "clear marks: dump before");
	for (k = 0; k < seen.n; k++)
		if (seen.e[k].orig.dport == htons(443) &&
		    (seen.e[k].orig.sport == htons(20000) || seen.e[k].orig.sport == htons(20002)))
			T_OK(pfd_ct_set_tcp_flags(ct, &seen.e[k], IP_CT_TCP_FLAG_MAXACK_SET, 0),
			     "clear marks: MAXACK_SET set");
	/* the dump-based clear leaves one entry to its skip callback (pfd
	 * cleared it already, by reference), the by-reference clear does it */
	T_OK(pfd_ct_clear_marks(ct, 0x3, skip_sport_20002, NULL, &cleared), "clear marks");
	T_EQ(cleared, want - 1,
	     "clear marks: every entry with an offload bit, once, but the skipped");
	reset();
	T_OK(pfd_ct_dump(ct, 0, 0), "clear marks: dump after");
	for (k = 0; k < seen.n; k++) {
		if (seen.e[k].orig.dport != htons(443) || seen.e[k].orig.sport != htons(20002))
			continue;
		T_EQ(seen.e[k].mark, 2, "clear marks: the skipped entry keeps its mark");
		ref.orig = seen.e[k].orig;
		ref.zone = seen.e[k].zone;
	}
	T_OK(pfd_ct_clear_marks_of(ct, &ref, 1, 0x3, &cleared), "clear marks: by reference");
	T_EQ(cleared, 1, "clear marks: by reference, one entry");
	reset();
	T_OK(pfd_ct_dump(ct, 0, 0), "clear marks: dump");
	for (k = 0; k < seen.n; k++) {
		if (seen.e[k].orig.dport != htons(443))
			continue;
		left += (seen.e[k].mark & 3) != 0;
		high += seen.e[k].mark == 4;
		if (seen.e[k].orig.sport == htons(20002))
			maxack_marked = seen.e[k].tcp_flags_orig & IP_CT_TCP_FLAG_MAXACK_SET;
		if (seen.e[k].orig.sport == htons(20000))
			maxack_unmarked = seen.e[k].tcp_flags_orig & IP_CT_TCP_FLAG_MAXACK_SET;
	}
	T_EQ(maxack_marked, 0, "clear marks: MAXACK_SET cleared on the marked TCP entry");
	T_EQ(maxack_unmarked, IP_CT_TCP_FLAG_MAXACK_SET,
	     "clear marks: MAXACK_SET kept on the unmarked TCP entry");
	T_EQ(left, 0, "clear marks: no offload bit left");
	T_EQ(high, 400, "clear marks: bits outside the mask kept (4 and 7 -> 4)");
	kt_sh("conntrack -F");
}

/* A process (not the kernel) sends a conntrack message to our event port. */
static void test_foreign(struct pfd_ct *ct)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	struct sockaddr_nl me;
	socklen_t len = sizeof(me);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	__u64 before = pfd_ct_get_stats(ct)->foreign;
	int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);

	pfd_ct_events_read(ct); /* drain */
	reset();
	if (getsockname(pfd_ct_events_fd(ct), (struct sockaddr *)&me, &len) || s < 0) {
		T_TRUE(0, "foreign: sockets");
		return;
	}
	to.nl_pid = me.nl_pid;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	T_TRUE(sendto(s, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) > 0,
	       "foreign: sent to the event socket");
	close(s);
	kt_readable(pfd_ct_events_fd(ct), 500);
	T_OK(pfd_ct_events_read(ct), "foreign: read");
	T_EQ(pfd_ct_get_stats(ct)->foreign, before + 1, "foreign: counted");
	T_EQ(seen.n, 0, "foreign: not delivered");
}

/* A dump cancelled part way (a ruleset commit waits behind it) returns
 * -ECANCELED at once, with the entries delivered so far; the next dump,
 * on the renewed socket, is whole, and requests still work. */
static void test_dump_cancel(struct pfd_ct *ct)
{
	char path[] = "/tmp/pfd-kt-ct-XXXXXX";
	FILE *f = batch_open(path, "cancel: temp file");
	unsigned int k, ours = 0;
	int i;

	if (!f)
		return;
	kt_sh("conntrack -F");
	for (i = 0; i < 3000; i++)
		fprintf(f,
			"-I -p udp -s 203.0.113.%d -d 198.51.100.11 --sport %d --dport 53 -t 600\n",
			1 + i % 200, 30000 + i);
	T_OK(batch_load(f, path), "cancel: 3000 entries");
	reset();
	cancel_ct = ct;
	cancel_after = 100;
	T_EQ(pfd_ct_dump(ct, 0, 0), -ECANCELED, "cancel: the dump says it was cancelled");
	cancel_after = 0;
	T_TRUE(seen.n >= 100 && seen.n < 3000, "cancel: it stopped part way");
	reset();
	T_OK(pfd_ct_dump(ct, 0, 0), "cancel: the next dump runs");
	for (k = 0; k < seen.n; k++)
		ours += seen.e[k].orig.dport == htons(53);
	T_EQ(ours, 3000, "cancel: the next dump is whole");
	T_OK(kt_sh("conntrack -D -p udp --dport 53 >/dev/null 2>&1 || true"), "cancel: cleanup");
}

int main(void)
{
	struct pfd_ct_opts o = { .rcvbuf = 1 << 20, .cb = collect, .arg = &seen };
	struct pfd_ct *ct = NULL;

	if (kt_netns("ct"))
		return t_done();
	if (kt_sh("conntrack -L")) {
		t_skip("ct", "conntrack(8) missing or conntrack not available");
		return t_done();
	}
	T_OK(pfd_ct_open(&ct, &o), "open");
	if (!ct)
		return t_done();
	T_TRUE(pfd_ct_events_rcvbuf(ct) >= 1 << 20, "rcvbuf: 1 MiB or more (SO_RCVBUFFORCE)");
	test_events_and_dump(ct);
	test_updates(ct);
	test_foreign(ct);
	test_clear_marks(ct);
	test_dump_cancel(ct);
	test_enobufs();
	test_events_flush();
	T_EQ(pfd_ct_get_stats(ct)->malformed, 0, "no malformed message from the kernel");
	pfd_ct_close(ct);
	return t_done();
}
