// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd_stages: where the XDP program's time goes, stage by stage (`make
 * bench` runs it; tests/bench/run puts the table in its results). The
 * datapath tests' lab (tests/bpf/lab.h: a private namespace and bpffs)
 * holds one offloaded TCP flow per family with its FIB cache filled; the
 * product's program, compiled again with a cut point (bench_stages.bpf.c),
 * is loaded once per stage over the same maps, and BPF_PROG_TEST_RUN times
 * each in interleaved rounds. A stage's cost is the difference between the
 * median of its cut and the median of the cut before it; "empty" (a program
 * that only returns) is the test-run loop itself, so "full - empty" is the
 * program's own cost per forwarded packet. Prog run only: the redirect's
 * transmit, which the XDP limit pays too, is not in these figures.
 *
 *   pfd_stages [ROUNDS]     prints a text table, then one JSON line
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_stages.skel.h"
#include "bpf/lab.h"
#include "bpf/pkt.h"

#define STAGE_FULL 255 /* no cut: the product program */
#define CALLS	   400 /* test runs per round and stage */
#define REPEAT	   250 /* below the TTL of 255: every repetition forwards */

static const struct {
	int stop; /* -1: bench_empty */
	const char *name, *what;
} stages[] = {
	{ -1, "empty", "the test-run loop: a program that only returns" },
	{ 0, "entry", "frame bounds, buff length, the verdict counter" },
	{ 1, "device", "pfd_devs lookup (hash, ifindex)" },
	{ 2, "control", "pfd_ctl, ABI version, coarse clock, heartbeat" },
	{ 3, "parse", "Ethernet, IP, L4 header checks" },
	{ 4, "flow", "flow key, pfd_flows lookup (hash, 44-byte key)" },
	{ 5, "checks", "ruleset generation, TCP flags, TTL, via-TC, keep-alive" },
	{ 6, "route", "FIB cache hit: generation, MACs, MTU" },
	{ 7, "redirect", "dry-run flags, bpf_redirect_map (devmap hash)" },
	{ 8, "rewrite", "TTL, checksum, MACs (no NAT)" },
	{ STAGE_FULL, "full", "flow counters (plain adds), last seen" },
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

struct family {
	const char *name;
	struct pkt_spec spec;
	__u8 frame[PKT_BUF_LEN];
	size_t len;
	double ns[NSTAGES]; /* median per stage */
};

static int addr(int v6, const char *s, __be32 *out)
{
	memset(out, 0, 16);
	return inet_pton(v6 ? AF_INET6 : AF_INET, s, out) == 1 ? 0 : -EINVAL;
}

static int flow_put(struct lab *lab, const struct pkt_spec *s)
{
	struct pfd_flow_key key = { .ifindex = lab->ifindex[IN0],
				    .family = s->v6 ? AF_INET6 : AF_INET,
				    .l4proto = IPPROTO_TCP,
				    .sport = htons(s->sport),
				    .dport = htons(s->dport) };
	struct pfd_flow val = { .oif = lab->ifindex[OUT0] };

	if (addr(s->v6, s->src, key.saddr) || addr(s->v6, s->dst, key.daddr))
		return -EINVAL;
	return bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY) ? -errno : 0;
}

/* The stage's program over the lab's pinned maps (the devmap adopted by
 * hand, as lab_xdp_open does). */
static struct bench_stages *stage_open(int stop)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);
	struct bench_stages *o = bench_stages__open_opts(&opts);
	int fd, err;

	if (!o)
		return NULL;
	o->rodata->stage_stop = stop < 0 ? STAGE_FULL : (__u32)stop;
	fd = bpf_obj_get(LAB_PIN_ROOT "/pfd_tx_ports");
	err = fd < 0 ? -errno : bpf_map__set_pin_path(o->maps.pfd_tx_ports, NULL);
	if (!err)
		err = bpf_map__reuse_fd(o->maps.pfd_tx_ports, fd);
	if (fd >= 0)
		close(fd);
	if (!err)
		err = bench_stages__load(o);
	if (err) {
		bench_stages__destroy(o);
		errno = -err;
		return NULL;
	}
	return o;
}

/* Average ns per run over CALLS test runs; the last run's verdict. */
static int time_prog(struct lab *lab, int prog_fd, struct family *f, double *ns, __u32 *retval)
{
	__u64 sum = 0;

	for (int i = 0; i < CALLS; i++) {
		struct xdp_md md = { .data_end = f->len, .ingress_ifindex = lab->ifindex[IN0] };
		__u8 out[512];
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->frame, .data_size_in = f->len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &md,
			    .ctx_size_in = sizeof(md), .repeat = REPEAT);

		if (bpf_prog_test_run_opts(prog_fd, &opts))
			return -errno;
		sum += opts.duration;
		*retval = opts.retval;
	}
	*ns = (double)sum / CALLS;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct family fam[2] = {
		{ .name = "ipv4",
		  .spec = { .src = "192.0.2.10",
			    .dst = "198.51.100.2",
			    .sport = 40000,
			    .dport = 80,
			    .ttl = 255,
			    .payload = 18 } },
		{ .name = "ipv6",
		  .spec = { .v6 = 1,
			    .src = "2001:db8:1::10",
			    .dst = "2001:db8:2::2",
			    .sport = 40000,
			    .dport = 80,
			    .ttl = 255,
			    .payload = 18 } },
	};
	int rounds = argc > 1 ? atoi(argv[1]) : 9;
	struct bench_stages *obj[NSTAGES] = {};
	struct pfd_ctl ctl;
	struct lab lab;
	int err, rc = 1;

	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: pfd_stages [ROUNDS 1-1000]\n");
		return 2;
	}
	err = lab_init(&lab);
	if (err) {
		fprintf(stderr, "pfd_stages: lab: %s\n", strerror(-err));
		return 1;
	}
	lab_devs_reset(&lab, 0);
	lab_ctl_live(&ctl);
	ctl.fib_gen = 1; /* the FIB cache in use, as pfd runs it */
	lab_ctl_set(&lab, &ctl);
	for (size_t s = 0; s < NSTAGES; s++) {
		obj[s] = stage_open(stages[s].stop);
		if (!obj[s]) {
			fprintf(stderr, "pfd_stages: load stage %s: %s\n", stages[s].name,
				strerror(errno));
			goto out;
		}
	}
	for (int fi = 0; fi < 2; fi++) {
		struct family *f = &fam[fi];
		double(*samples)[NSTAGES] = calloc(rounds, sizeof(*samples));
		__u8 out[512];
		__u32 out_len = sizeof(out), retval;

		if (!samples)
			goto out;
		f->len = pkt_build(&f->spec, f->frame);
		/* The first packet fills the flow's FIB cache; it must forward,
		 * or every figure below would time a pass. */
		if (flow_put(&lab, &f->spec) ||
		    lab_run(&lab, PFD_HOOK_XDP, IN0, f->frame, f->len, out, &out_len, &retval) ||
		    retval != XDP_REDIRECT) {
			fprintf(stderr, "pfd_stages: %s: the lab's flow does not forward\n",
				f->name);
			free(samples);
			goto out;
		}
		for (int r = 0; r < rounds; r++)
			for (size_t s = 0; s < NSTAGES; s++) {
				struct bpf_program *p = stages[s].stop < 0 ?
								obj[s]->progs.bench_empty :
								obj[s]->progs.pfd_xdp_fwd;
				__u32 want = stages[s].stop < 0 ? XDP_PASS : XDP_REDIRECT;

				if (time_prog(&lab, bpf_program__fd(p), f, &samples[r][s],
					      &retval) ||
				    retval != want) {
					fprintf(stderr, "pfd_stages: %s %s: verdict %u, want %u\n",
						f->name, stages[s].name, retval, want);
					free(samples);
					goto out;
				}
			}
		for (size_t s = 0; s < NSTAGES; s++) {
			double col[rounds];

			for (int r = 0; r < rounds; r++)
				col[r] = samples[r][s];
			qsort(col, rounds, sizeof(col[0]), cmp_double);
			f->ns[s] = col[rounds / 2];
		}
		free(samples);
	}

	printf("XDP program cost by stage (BPF_PROG_TEST_RUN, prog run only; median of %d "
	       "interleaved rounds x %d runs; cumulative ns per packet, and the stage's share)\n",
	       rounds, CALLS * REPEAT);
	printf("%-9s %8s %6s %8s %6s  %s\n", "stage", "ipv4", "+ns", "ipv6", "+ns", "what it adds");
	for (size_t s = 0; s < NSTAGES; s++)
		printf("%-9s %8.1f %+6.1f %8.1f %+6.1f  %s\n", stages[s].name, fam[0].ns[s],
		       s ? fam[0].ns[s] - fam[0].ns[s - 1] : 0.0, fam[1].ns[s],
		       s ? fam[1].ns[s] - fam[1].ns[s - 1] : 0.0, stages[s].what);
	printf("program  %8.1f        %8.1f         full - empty\n",
	       fam[0].ns[NSTAGES - 1] - fam[0].ns[0], fam[1].ns[NSTAGES - 1] - fam[1].ns[0]);
	printf("{\"rounds\": %d, \"stages\": [", rounds);
	for (size_t s = 0; s < NSTAGES; s++)
		printf("%s{\"stage\": \"%s\", \"ipv4_ns\": %.2f, \"ipv6_ns\": %.2f}", s ? ", " : "",
		       stages[s].name, fam[0].ns[s], fam[1].ns[s]);
	printf("]}\n");
	rc = 0;
out:
	for (size_t s = 0; s < NSTAGES; s++)
		bench_stages__destroy(obj[s]);
	lab_fini(&lab);
	return rc;
}
