// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_TEST_RUN tests for the TC egress jitter (tc-bpf/pfd_tc_jitter.bpf.c):
 * the departure time (skb->tstamp, read back from ctx_out) of every packet
 * lies within [now + min, now + max] as bracketed by CLOCK_MONOTONIC reads
 * around the run, never goes backwards within a flow over many packets,
 * follows the configured distribution table, honours prefix and port
 * selection and per-device settings, and leaves unselected and non-IP
 * packets unstamped. The real delay (fq holding packets until then) needs
 * sch_fq, which this machine's kernel lacks: tests/vm/jitter-test.sh
 * measures it in the VM.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "egress_lab.h"
#include "pfd_tc_jitter.skel.h"
#include "jitter_trace.skel.h"

#define MS 1000000ULL

static struct pfd_tc_jitter *skel;
static int dev;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void reset(void)
{
	lab_map_clear(bpf_map__fd(skel->maps.pfd_jit_cfg), sizeof(uint32_t));
	lab_map_clear(bpf_map__fd(skel->maps.pfd_jit_pfx), sizeof(struct pfd_egress_pfx_key));
	lab_map_clear(bpf_map__fd(skel->maps.pfd_jit_port), sizeof(struct pfd_jit_port_key));
	lab_map_clear(bpf_map__fd(skel->maps.pfd_jit_flows), sizeof(struct pfd_jit_flow_key));
}

static void set_conf(uint32_t ifindex, uint64_t min, uint64_t max, uint32_t dist, uint32_t flags)
{
	struct pfd_jit_conf c = { .min_ns = min, .max_ns = max, .dist = dist, .flags = flags };

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_cfg), &ifindex, &c, BPF_ANY))
		T_TRUE(0, "pfd_jit_cfg update");
}

static uint64_t jstat(enum pfd_jit_stat id)
{
	return lab_percpu_sum(bpf_map__fd(skel->maps.pfd_jit_stats), id);
}

/* One packet: returns its departure time, and the clock before and after. */
static uint64_t send1(const char *src, const char *dst, int sport, int dport, int flags,
		      int ifindex, uint64_t *t0, uint64_t *t1)
{
	struct lab_pkt in, out;
	uint64_t ts = 0;
	int rc;

	lab_build(&in, src, dst, sport, dport, flags, NULL, 0, 32);
	*t0 = mono_ns();
	rc = lab_run(bpf_program__fd(skel->progs.pfd_tc_jitter), &in, ifindex, &out, &ts);
	*t1 = mono_ns();
	if (rc != TC_ACT_OK || out.len != in.len || memcmp(out.b, in.b, in.len))
		T_TRUE(0, "jitter returns TC_ACT_OK and leaves the bytes alone");
	return ts;
}

/* Many flows, uniform [min, max]: each stamp within bounds; the sample
 * covers the range (no constant delay passes this). */
static void test_uniform(uint64_t min, uint64_t max, int v6)
{
	uint64_t t0, t1, ts, lo = UINT64_MAX, hi = 0;
	double sum = 0;
	int i, n = 2000, out_of_bounds = 0;
	char name[128];

	reset();
	set_conf(0, min, max, PFD_JIT_UNIFORM, 0);
	for (i = 0; i < n; i++) {
		ts = send1(v6 ? "2001:db8::1" : "192.0.2.1", v6 ? "2001:db8:1::1" : "198.51.100.1",
			   10000 + i, 443, TH_ACK, 0, &t0, &t1);
		if (ts < t0 + min || ts > t1 + max)
			out_of_bounds++;
		uint64_t d = ts - t0; /* t0 <= the program's now <= t1 */
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += (double)d;
	}
	double span = (double)(max - min), mean = sum / n;
	snprintf(name, sizeof(name), "uniform %s [%llu, %llu] ns: %d stamps, all within bounds",
		 v6 ? "v6" : "v4", (unsigned long long)min, (unsigned long long)max, n);
	T_EQ(out_of_bounds, 0, name);
	snprintf(name, sizeof(name), "uniform %s: smallest delay in the lowest 5%%",
		 v6 ? "v6" : "v4");
	T_TRUE(lo <= min + (uint64_t)(span * 0.05), name);
	snprintf(name, sizeof(name), "uniform %s: largest delay in the top 5%%", v6 ? "v6" : "v4");
	T_TRUE(hi >= min + (uint64_t)(span * 0.95), name);
	snprintf(name, sizeof(name), "uniform %s: mean %.0f ns near the middle", v6 ? "v6" : "v4",
		 mean);
	T_TRUE(mean > (double)min + span * 0.4 && mean < (double)min + span * 0.6, name);
}

/* One flow, many packets back to back with a delay range far larger than the
 * gap between them: departure times never go backwards, and the flow's order
 * really constrained them (HELD moved), yet none passes now + max. */
static void test_monotonic(void)
{
	uint64_t t0, t1, ts, prev[2] = { 0, 0 }, held = jstat(PFD_JIT_S_HELD);
	int i, back = 0, oob = 0, n = 1000;

	reset();
	set_conf(0, 0, 20 * MS, PFD_JIT_UNIFORM, 0);
	for (i = 0; i < n; i++) {
		int f = i & 1; /* two interleaved flows */

		ts = send1("192.0.2.1", "198.51.100.1", 40000 + f, 443, TH_ACK, 0, &t0, &t1);
		if (ts < prev[f])
			back++;
		if (ts < t0 || ts > t1 + 20 * MS)
			oob++;
		prev[f] = ts;
	}
	T_EQ(back, 0, "1000 packets of 2 interleaved flows: departure times monotonic per flow");
	T_EQ(oob, 0, "... and every one within [now, now + max]");
	T_TRUE(jstat(PFD_JIT_S_HELD) - held > 100,
	       "... held back to keep order (HELD counter moved)");

	/* v6 and UDP are flows too */
	reset();
	set_conf(0, 0, 20 * MS, PFD_JIT_UNIFORM, 0);
	back = 0;
	prev[0] = 0;
	for (i = 0; i < 300; i++) {
		ts = send1("2001:db8::1", "2001:db8:1::1", 5353, 53, -1, 0, &t0, &t1);
		if (ts < prev[0] || ts > t1 + 20 * MS)
			back++;
		prev[0] = ts;
	}
	T_EQ(back, 0, "v6 UDP flow: 300 packets monotonic and within bounds");
}

static void test_table(void)
{
	struct pfd_jit_dist d;
	uint32_t k = PFD_JIT_TABLE;
	uint64_t t0, t1, ts;
	int i, bad = 0;

	/* A table whose every point is 1/4 of the span: delay = min + span/4 */
	for (i = 0; i < PFD_JIT_DIST_POINTS; i++)
		d.q[i] = 65535 / 4;
	bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_dist), &k, &d, BPF_ANY);
	reset();
	set_conf(0, 2 * MS, 6 * MS, PFD_JIT_TABLE, 0);
	for (i = 0; i < 200; i++) {
		ts = send1("192.0.2.1", "198.51.100.1", 20000 + i, 443, TH_ACK, 0, &t0, &t1);
		/* 2 ms + 4 ms * 16383 / 65535 = 2999969 ns */
		if (ts < t0 + 2999969 || ts > t1 + 2999969)
			bad++;
	}
	T_EQ(bad, 0, "distribution table: every delay is the table's value");
}

static void test_select(void)
{
	struct pfd_egress_pfx_key k = lab_pfx("198.51.100.0", 24, 0, PFD_PFX_ANY);
	struct pfd_jit_port_key pk = { .ifindex = 0, .l4proto = IPPROTO_TCP, .port = htons(443) };
	uint64_t t0, t1, ts, un = jstat(PFD_JIT_S_UNSELECTED);
	uint8_t one = 1;

	reset();
	set_conf(0, 5 * MS, 5 * MS, PFD_JIT_UNIFORM, PFD_JIT_F_SEL_PFX);
	bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_pfx), &k, &one, BPF_ANY);
	ts = send1("192.0.2.1", "198.51.100.7", 1000, 80, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts >= t0 + 5 * MS && ts <= t1 + 5 * MS,
	       "prefix selection: destination inside: delayed 5 ms");
	ts = send1("198.51.100.7", "192.0.2.1", 80, 1000, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts >= t0 + 5 * MS && ts <= t1 + 5 * MS, "prefix selection: source inside: delayed");
	ts = send1("192.0.2.1", "203.0.113.1", 1000, 80, TH_ACK, 0, &t0, &t1);
	T_EQ(ts, 0, "prefix selection: neither inside: not stamped");
	ts = send1("2001:db8::1", "2001:db8:1::1", 1000, 80, TH_ACK, 0, &t0, &t1);
	T_EQ(ts, 0, "prefix selection: v6 packet vs v4 prefix: not stamped");

	reset();
	set_conf(0, 5 * MS, 5 * MS, PFD_JIT_UNIFORM, PFD_JIT_F_SEL_PORT);
	bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_port), &pk, &one, BPF_ANY);
	ts = send1("192.0.2.1", "198.51.100.1", 1000, 443, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts >= t0 + 5 * MS && ts <= t1 + 5 * MS, "port selection: dport 443: delayed");
	ts = send1("198.51.100.1", "192.0.2.1", 443, 1000, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts >= t0 + 5 * MS, "port selection: sport 443: delayed");
	ts = send1("192.0.2.1", "198.51.100.1", 1000, 80, TH_ACK, 0, &t0, &t1);
	T_EQ(ts, 0, "port selection: port 80: not stamped");
	ts = send1("192.0.2.1", "198.51.100.1", 1000, 443, -1, 0, &t0, &t1);
	T_EQ(ts, 0, "port selection: UDP 443 when TCP 443 is selected: not stamped");
	T_EQ(jstat(PFD_JIT_S_UNSELECTED) - un, 4, "UNSELECTED counted 4 times");

	/* prefix for one device only */
	reset();
	k = lab_pfx("198.51.100.0", 24, (uint32_t)dev, PFD_PFX_ANY);
	set_conf(0, 5 * MS, 5 * MS, PFD_JIT_UNIFORM, PFD_JIT_F_SEL_PFX);
	bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_pfx), &k, &one, BPF_ANY);
	ts = send1("192.0.2.1", "198.51.100.7", 1000, 80, TH_ACK, dev, &t0, &t1);
	T_TRUE(ts >= t0 + 5 * MS, "device prefix: on that device: delayed");
	ts = send1("192.0.2.1", "198.51.100.7", 1000, 80, TH_ACK, 0, &t0, &t1);
	T_EQ(ts, 0, "device prefix: on another device: not stamped");
}

static void test_misc(void)
{
	uint64_t t0, t1, ts, nc = jstat(PFD_JIT_S_NO_CONFIG), ni = jstat(PFD_JIT_S_NOT_IP);
	struct pfd_jit_flow_key fk = { 0 };
	struct lab_pkt arp, out;
	int rc;

	reset();
	ts = send1("192.0.2.1", "198.51.100.1", 1, 2, TH_ACK, 0, &t0, &t1);
	T_EQ(ts, 0, "nothing configured: not stamped");
	T_EQ(jstat(PFD_JIT_S_NO_CONFIG) - nc, 1, "NO_CONFIG counted");

	set_conf(0, 1 * MS, 1 * MS, PFD_JIT_UNIFORM, 0);
	set_conf((uint32_t)dev, 30 * MS, 30 * MS, PFD_JIT_UNIFORM, 0);
	ts = send1("192.0.2.1", "198.51.100.1", 1, 2, TH_ACK, dev, &t0, &t1);
	T_TRUE(ts >= t0 + 30 * MS && ts <= t1 + 30 * MS,
	       "device setting beats the default (30 ms)");
	ts = send1("192.0.2.1", "198.51.100.1", 1, 2, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts >= t0 + 1 * MS && ts <= t1 + 1 * MS, "other devices get the default (1 ms)");

	/* ARP: not IP, never delayed */
	memset(&arp, 0, sizeof(arp));
	memcpy(arp.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	arp.len = 60;
	rc = lab_run(bpf_program__fd(skel->progs.pfd_tc_jitter), &arp, 0, &out, &ts);
	T_EQ(rc, TC_ACT_OK, "ARP: TC_ACT_OK");
	T_EQ(ts, 0, "ARP: not stamped");
	T_EQ(jstat(PFD_JIT_S_NOT_IP) - ni, 1, "NOT_IP counted");

	/* max lowered while a flow's last departure lies 1 s ahead: the bound
	 * wins (this is the only case that may reorder, documented) */
	reset();
	set_conf(0, 0, 2 * MS, PFD_JIT_UNIFORM, 0);
	ts = send1("192.0.2.1", "198.51.100.1", 7, 8, TH_ACK, 0, &t0, &t1);
	while (bpf_map_get_next_key(bpf_map__fd(skel->maps.pfd_jit_flows), NULL, &fk) == 0) {
		uint64_t far = mono_ns() + 1000 * MS;

		bpf_map_update_elem(bpf_map__fd(skel->maps.pfd_jit_flows), &fk, &far, BPF_EXIST);
		break;
	}
	ts = send1("192.0.2.1", "198.51.100.1", 7, 8, TH_ACK, 0, &t0, &t1);
	T_TRUE(ts <= t1 + 2 * MS, "after max was lowered: never beyond the new max");
}

/* tests/bpf/jitter_trace.bpf.c's record of one CPU's departures. */
#define TRACE_LEN 32768
struct jit_trace {
	uint32_t n;
	uint32_t pad;
	uint64_t t[TRACE_LEN];
};

struct cpu_sender {
	int cpu, prog_fd, calls, repeat, failed;
	pthread_barrier_t *start;
};

/* Runs the program from one CPU (a test run executes on the calling CPU),
 * repeat runs per call. No T_ macros here: they are not thread safe. */
static void *send_from_cpu(void *arg)
{
	struct cpu_sender *s = arg;
	struct lab_pkt in;
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		s->failed = -1;
	lab_build(&in, "192.0.2.1", "198.51.100.1", 40000, 443, TH_ACK, NULL, 0, 32);
	pthread_barrier_wait(s->start);
	for (i = 0; i < s->calls && !s->failed; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.b, .data_size_in = (uint32_t)in.len,
			    .repeat = (uint32_t)s->repeat);

		if (bpf_prog_test_run_opts(s->prog_fd, &o) || o.retval != TC_ACT_OK)
			s->failed = i + 1;
	}
	return NULL;
}

/*
 * One flow sent from both CPUs at once (threads writing one socket, a TCP
 * retransmit from a timer on another CPU). Each CPU's packets are in order,
 * so each CPU's departures must never go backwards, whatever the other CPU
 * does to the flow meanwhile. jitter_trace.bpf.c records every departure per
 * CPU; many runs per call keep both CPUs inside the program at once. The
 * range is short (0..2 us) so that most packets move the flow's departure:
 * every such move is a chance for a lost update. The read-then-write the
 * program had before its compare-and-swap failed this in 7 runs of 8, with
 * 300 to 1500 departures gone backwards per run.
 */
static void test_two_cpus(void)
{
	enum { CALLS = 30, REPEAT = 1000 };
	struct jit_trace *tr = calloc(1, sizeof(*tr));
	struct jitter_trace *ts;
	struct cpu_sender s[2];
	pthread_barrier_t start;
	pthread_t th[2];
	int i, c, back = 0, held_between = 0, ncpu = libbpf_num_possible_cpus();
	uint32_t cpu;

	if (ncpu < 2) {
		t_skip("two CPUs sending one flow", "machine lacks: a second CPU");
		free(tr);
		return;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = lab_pin_root());
	ts = jitter_trace__open_opts(&oo);
	if (!ts || jitter_trace__load(ts) || !tr) {
		T_TRUE(0, "load jitter_trace (the program with its departures recorded)");
		jitter_trace__destroy(ts);
		free(tr);
		return;
	}
	reset();
	set_conf(0, 0, 2000, PFD_JIT_UNIFORM, 0);
	pthread_barrier_init(&start, NULL, 2);
	for (i = 0; i < 2; i++) {
		s[i] = (struct cpu_sender){ .cpu = i,
					    .calls = CALLS,
					    .repeat = REPEAT,
					    .prog_fd = bpf_program__fd(ts->progs.pfd_tc_jitter),
					    .start = &start };
		if (pthread_create(&th[i], NULL, send_from_cpu, &s[i]))
			s[i].failed = -2;
	}
	for (i = 0; i < 2; i++)
		if (s[i].failed != -2)
			pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	T_EQ(s[0].failed, 0, "CPU 0 ran the program 30000 times (pinned, TC_ACT_OK)");
	T_EQ(s[1].failed, 0, "CPU 1 ran the program 30000 times (pinned, TC_ACT_OK)");

	for (cpu = 0; cpu < 2; cpu++) {
		int n;

		if (bpf_map_lookup_elem(bpf_map__fd(ts->maps.jit_trace), &cpu, tr)) {
			T_TRUE(0, "read the departures of one CPU");
			break;
		}
		n = (int)tr->n;
		T_EQ(n, CALLS * REPEAT, "every departure recorded");
		for (c = 1; c < n; c++) {
			if (tr->t[c] < tr->t[c - 1])
				back++;
			/* a departure equal to the previous one: the other
			 * CPU's packets moved the flow in between */
			if (tr->t[c] == tr->t[c - 1])
				held_between++;
		}
	}
	printf("  two CPUs, %d packets of one flow each: %d departures before the same CPU's "
	       "previous one, %d held at it\n",
	       CALLS * REPEAT, back, held_between);
	T_EQ(back, 0, "one flow from two CPUs at once: no CPU's departures go backwards");
	jitter_trace__destroy(ts);
	free(tr);
}

int main(void)
{
	const char *why = lab_enter();
	int err;

	if (why) {
		t_skip("test_jitter", why);
		return t_done();
	}
	dev = lab_veth("pfdj0", "pfdj1", 1500);
	T_TRUE(dev > 0, "lab veth created");

	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = lab_pin_root());
	skel = pfd_tc_jitter__open_opts(&oo);
	T_TRUE(skel != NULL, "open pfd_tc_jitter");
	if (!skel)
		goto out;
	err = pfd_tc_jitter__load(skel);
	T_OK(err, "load pfd_tc_jitter (verifier)");
	if (err)
		goto out;
	/* the verifier accepted the program: the kernel gave it an fd */
	T_TRUE(bpf_program__fd(skel->progs.pfd_tc_jitter) >= 0, "pfd_tc_jitter has a program fd");

	test_uniform(1 * MS, 5 * MS, 0);
	test_uniform(200000, 50 * MS, 1);
	test_monotonic();
	test_two_cpus();
	test_table();
	test_select();
	test_misc();
out:
	pfd_tc_jitter__destroy(skel);
	lab_leave();
	return t_done();
}
