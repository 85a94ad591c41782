// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd_bench: the benchmark's BPF side, driven by tests/bench/run. It attaches
 * the sink, pass, drop and XDP-limit programs (tests/bench/bench_*.bpf.c) to
 * the lab's veths, reads the sink's counters, and runs the generator: XDP live
 * frames (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES) redirected into
 * the generator's veth, whose peer processes them inline on this core, so
 * the wall time of the run divided by the packets the sink received is the
 * per-packet cost of everything between generator and sink. Programs stay
 * attached after pfd_bench exits (plain netlink attach, not a bpf_link), the
 * sink's counter is pinned on the bench's private bpffs.
 *
 *   pfd_bench attach NETNS DEV sink PIN
 *   pfd_bench attach NETNS DEV pass
 *   pfd_bench attach NETNS DEV drop      XDP_DROP only (the drop limit)
 *   pfd_bench attach NETNS DEV limit OUTDEV DST_MAC SRC_MAC
 *   pfd_bench detach NETNS DEV
 *   pfd_bench count PIN
 *   pfd_bench mapmem ENTRIES       memory of a pfd_flows-shaped map
 *   pfd_bench gen NETNS DEV --dmac M --smac M --src IP --dst IP [options]
 *   pfd_bench pfd-attach NETNS BPFFS DEV...
 *   pfd_bench pfd-flows NETNS BPFFS IN OUT SRC DST SPORT DPORT FLOWS [NAT_ADDR]
 *   pfd_bench pfd-synp BPFFS PREFIX/LEN PORT MSS WSCALE
 *                                    a syn-protect service in pfd_synp4/6 and
 *                                    PFD_CTL_F_SYNP set (the daemon's job)
 *   pfd_bench pfd-reason BPFFS REASON  pfd_stats' XDP count of a verdict
 *                                    reason, per device slot (JSON)
 *   pfd_bench mapcount PIN            entries in a pinned hash map
 *   pfd_bench ctload NETNS SRC DST N DPORT   N conntrack entries, fast
 *   pfd_bench latency NETNS PIN IN SRC DST SPORT DPORT SAMPLES
 *                                    conntrack event -> pfd flow map entry
 *   pfd_bench ctparse ROUNDS          ctnetlink message parse: pfd_ct_parse
 *                                    against libnetfilter_conntrack
 *
 * gen prints one JSON line: frames sent, frames the sinks counted, wall ns.
 * gen --syn sends TCP SYNs instead of UDP (see build_syn_frame()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "pfd/abi.h"
#include "nft-backend/ct.h"

#include "bench_gen.skel.h"
#include "pfd_xdp.skel.h"
#include "bench_limit.skel.h"
#include "bench_sink.skel.h"

#define GEN_MAX_FRAME 9000
#define GEN_CHUNK     32768 /* frames per syscall when unpaced */
#define GEN_CHUNK_PACED \
	(1 << 20) /* invocations per syscall when paced: each
					 * call costs ~300 us of page-pool setup,
					 * a gap the pacing must not see often */
#define MAX_SINKS 4

struct sink_count { /* bench_sink.bpf.c's value */
	uint64_t packets;
	uint64_t bytes;
};

static void die_usage(void)
{
	fprintf(stderr, "usage: pfd_bench attach NETNS DEV sink PIN\n"
			"       pfd_bench attach NETNS DEV pass\n"
			"       pfd_bench attach NETNS DEV drop\n"
			"       pfd_bench attach NETNS DEV limit OUTDEV DST_MAC SRC_MAC\n"
			"       pfd_bench detach NETNS DEV\n"
			"       pfd_bench count PIN\n"
			"       pfd_bench mapmem ENTRIES\n"
			"       pfd_bench pfd-attach NETNS BPFFS DEV...\n"
			"       pfd_bench pfd-flows NETNS BPFFS IN OUT SRC DST SPORT DPORT FLOWS "
			"[NAT_ADDR]\n"
			"       pfd_bench pfd-synp BPFFS PREFIX/LEN PORT MSS WSCALE\n"
			"       pfd_bench pfd-reason BPFFS REASON\n"
			"       pfd_bench mapcount PIN\n"
			"       pfd_bench ctload NETNS SRC DST N DPORT\n"
			"       pfd_bench latency NETNS PIN IN SRC DST SPORT DPORT SAMPLES\n"
			"       pfd_bench ctparse ROUNDS\n"
			"       pfd_bench gen NETNS DEV --dmac MAC --smac MAC --src IP --dst IP\n"
			"                 [--sport N] [--dport N] [--flows N] [--size BYTES]\n"
			"                 [--duration SEC] [--count N] [--rate PPS] [--batch N]\n"
			"                 [--sink PIN]... [--vary-dport] [--syn]\n");
	exit(2);
}

static int err_out(const char *fmt, const char *arg, int err)
{
	fprintf(stderr, "pfd_bench: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (%s)\n", strerror(err < 0 ? -err : err));
	return 1;
}

/* Enter the named network namespace (ip netns add NAME). The mount namespace
 * stays, so the bench's bpffs pins remain reachable. */
static int enter_netns(const char *name)
{
	char path[256];
	int fd, err = 0;

	if (!strcmp(name, "-"))
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_out("cannot open netns %s", name, errno);
	if (setns(fd, CLONE_NEWNET))
		err = err_out("cannot enter netns %s", name, errno);
	close(fd);
	return err;
}

static int dev_index(const char *dev, unsigned int *ifindex)
{
	*ifindex = if_nametoindex(dev);
	if (!*ifindex)
		return err_out("no device %s", dev, errno);
	return 0;
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) !=
	    6) {
		fprintf(stderr, "pfd_bench: error: bad MAC address \"%s\"\n", s);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff) {
			fprintf(stderr, "pfd_bench: error: bad MAC address \"%s\"\n", s);
			return -EINVAL;
		}
		mac[i] = b[i];
	}
	return 0;
}

static int xdp_attach(unsigned int ifindex, int prog_fd, const char *dev)
{
	int err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);

	if (err)
		return err_out("cannot attach XDP to %s", dev, err);
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	unsigned int ifindex, out;
	int err;

	if (argc < 3)
		die_usage();
	if (enter_netns(argv[0]) || dev_index(argv[1], &ifindex))
		return 1;

	if (!strcmp(argv[2], "sink") && argc == 4) {
		struct bench_sink *s = bench_sink__open_and_load();

		if (!s)
			return err_out("cannot load %s", "bench_sink", errno);
		unlink(argv[3]);
		err = bpf_map__pin(s->maps.sink_cnt, argv[3]);
		if (err) {
			err_out("cannot pin the sink counter at %s", argv[3], err);
			bench_sink__destroy(s);
			return 1;
		}
		err = xdp_attach(ifindex, bpf_program__fd(s->progs.bench_sink), argv[1]);
		bench_sink__destroy(s);
		return err;
	}
	if ((!strcmp(argv[2], "pass") || !strcmp(argv[2], "drop")) && argc == 3) {
		struct bench_limit *l = bench_limit__open_and_load();

		if (!l)
			return err_out("cannot load %s", "bench_limit", errno);
		err = xdp_attach(ifindex,
				 bpf_program__fd(!strcmp(argv[2], "drop") ? l->progs.bench_drop :
									    l->progs.bench_pass),
				 argv[1]);
		bench_limit__destroy(l);
		return err;
	}
	if (!strcmp(argv[2], "limit") && argc == 6) {
		struct bench_limit *l = bench_limit__open();
		__u32 key = 0;

		if (!l)
			return err_out("cannot open %s", "bench_limit", errno);
		if (dev_index(argv[3], &out) ||
		    parse_mac(argv[4], (unsigned char *)l->rodata->mac_dst) ||
		    parse_mac(argv[5], (unsigned char *)l->rodata->mac_src)) {
			bench_limit__destroy(l);
			return 1;
		}
		err = bench_limit__load(l);
		if (!err)
			err = bpf_map_update_elem(bpf_map__fd(l->maps.limit_tx), &key, &out, 0);
		if (err) {
			err_out("cannot load %s", "bench_limit", err);
			bench_limit__destroy(l);
			return 1;
		}
		err = xdp_attach(ifindex, bpf_program__fd(l->progs.bench_limit), argv[1]);
		bench_limit__destroy(l);
		return err;
	}
	die_usage();
	return 2;
}

static int cmd_detach(int argc, char **argv)
{
	unsigned int ifindex;
	int err;

	if (argc != 2)
		die_usage();
	if (enter_netns(argv[0]) || dev_index(argv[1], &ifindex))
		return 1;
	err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		return err_out("cannot detach XDP from %s", argv[1], err);
	return 0;
}

static int sink_read(int fd, uint64_t *packets)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sink_count *v;
	__u32 key = 0;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return -errno;
	}
	*packets = 0;
	for (int i = 0; i < ncpu; i++)
		*packets += v[i].packets;
	free(v);
	return 0;
}

static int cmd_count(int argc, char **argv)
{
	uint64_t n;
	int fd, err;

	if (argc != 1)
		die_usage();
	fd = bpf_obj_get(argv[0]);
	if (fd < 0)
		return err_out("cannot open %s", argv[0], errno);
	err = sink_read(fd, &n);
	close(fd);
	if (err)
		return err_out("cannot read %s", argv[0], err);
	printf("%" PRIu64 "\n", n);
	return 0;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

struct gen_opts {
	unsigned char dmac[6], smac[6];
	int family;
	unsigned char src[16], dst[16];
	unsigned int sport, dport, flows, size, batch;
	double duration, rate;
	uint64_t count;
	const char *sinks[MAX_SINKS];
	int n_sinks;
	int vary_dport;
	int syn;
};

/* The first frame: Ethernet, IP, UDP with a correct checksum (conntrack
 * checks it at PREROUTING), zero payload. Returns the header length. */
static unsigned int build_frame(const struct gen_opts *o, unsigned char *f)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	struct udphdr *udp;
	unsigned int l3, ulen;
	uint32_t sum;

	memset(f, 0, o->size);
	memcpy(eth->h_dest, o->dmac, 6);
	memcpy(eth->h_source, o->smac, 6);
	if (o->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)(f + sizeof(*eth));

		l3 = sizeof(*eth) + sizeof(*ip);
		ulen = o->size - l3;
		eth->h_proto = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(o->size - sizeof(*eth));
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		memcpy(&ip->saddr, o->src, 4);
		memcpy(&ip->daddr, o->dst, 4);
		ip->check = htons(~csum_fold(csum_add(0, ip, sizeof(*ip))));
		sum = csum_add(0, &ip->saddr, 8);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + sizeof(*eth));

		l3 = sizeof(*eth) + sizeof(*ip6);
		ulen = o->size - l3;
		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons(ulen);
		ip6->nexthdr = IPPROTO_UDP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, o->src, 16);
		memcpy(&ip6->daddr, o->dst, 16);
		sum = csum_add(0, &ip6->saddr, 32);
	}
	udp = (struct udphdr *)(f + l3);
	udp->source = htons(o->sport);
	udp->dest = htons(o->dport);
	udp->len = htons(ulen);
	sum += IPPROTO_UDP + ulen;
	sum = csum_add(sum, udp, ulen);
	udp->check = htons(~csum_fold(sum));
	if (!udp->check)
		udp->check = 0xffff;
	return l3 + sizeof(*udp);
}

/* SYN mode: a TCP SYN as Linux sends it (options MSS, SACK-permitted,
 * timestamp, NOP, window scale 7: 20 bytes; window 64240; IPv4 with DF),
 * no payload, correct checksums, so that it is the whole frame (74 bytes
 * over IPv4, 94 over IPv6). The source address's last 16 bits are
 * cleared: the generator puts the frame's number there (bench_gen.bpf.c).
 * Returns the frame's length. */
static unsigned int build_syn_frame(const struct gen_opts *o, unsigned char *f)
{
	static const unsigned char opts[20] = {
		2, 4,  0x05, 0xb4,			   /* MSS 1460 (IPv6: set below) */
		4, 2,					   /* SACK permitted */
		8, 10, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, /* timestamp */
		1,					   /* NOP */
		3, 3,  7,				   /* window scale 7 */
	};
	struct ethhdr *eth = (struct ethhdr *)f;
	unsigned int l3, tlen = sizeof(struct tcphdr) + sizeof(opts);
	struct tcphdr *th;
	uint32_t sum;

	memset(f, 0, GEN_MAX_FRAME);
	memcpy(eth->h_dest, o->dmac, 6);
	memcpy(eth->h_source, o->smac, 6);
	if (o->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)(f + sizeof(*eth));

		l3 = sizeof(*eth) + sizeof(*ip);
		eth->h_proto = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + tlen);
		ip->frag_off = htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		memcpy(&ip->saddr, o->src, 4);
		((unsigned char *)&ip->saddr)[2] = ((unsigned char *)&ip->saddr)[3] = 0;
		memcpy(&ip->daddr, o->dst, 4);
		ip->check = htons(~csum_fold(csum_add(0, ip, sizeof(*ip))));
		sum = csum_add(0, &ip->saddr, 8);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + sizeof(*eth));

		l3 = sizeof(*eth) + sizeof(*ip6);
		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons(tlen);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, o->src, 16);
		ip6->saddr.s6_addr[14] = ip6->saddr.s6_addr[15] = 0;
		memcpy(&ip6->daddr, o->dst, 16);
		sum = csum_add(0, &ip6->saddr, 32);
	}
	th = (struct tcphdr *)(f + l3);
	th->source = htons(o->sport);
	th->dest = htons(o->dport);
	th->seq = htonl(0x5eed0001);
	th->doff = tlen / 4;
	th->syn = 1;
	th->window = htons(64240);
	memcpy(th + 1, opts, sizeof(opts));
	if (o->family == AF_INET6) { /* MSS 1440 */
		((unsigned char *)(th + 1))[2] = 0x05;
		((unsigned char *)(th + 1))[3] = 0xa0;
	}
	sum += IPPROTO_TCP + tlen;
	sum = csum_add(sum, th, tlen);
	th->check = htons(~csum_fold(sum));
	return l3 + tlen;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int parse_gen(int argc, char **argv, struct gen_opts *o)
{
	static const struct option lo[] = { { "dmac", required_argument, NULL, 'D' },
					    { "smac", required_argument, NULL, 'S' },
					    { "src", required_argument, NULL, 's' },
					    { "dst", required_argument, NULL, 'd' },
					    { "sport", required_argument, NULL, 'p' },
					    { "dport", required_argument, NULL, 'P' },
					    { "flows", required_argument, NULL, 'f' },
					    { "size", required_argument, NULL, 'z' },
					    { "duration", required_argument, NULL, 't' },
					    { "count", required_argument, NULL, 'n' },
					    { "rate", required_argument, NULL, 'r' },
					    { "batch", required_argument, NULL, 'b' },
					    { "sink", required_argument, NULL, 'k' },
					    { "vary-dport", no_argument, NULL, 'V' },
					    { "syn", no_argument, NULL, 'Y' },
					    { 0 } };
	int c, have = 0, fam_dst = 0;
	char *end;

	*o = (struct gen_opts){
		.sport = 10000, .dport = 9, .flows = 1, .size = 64, .batch = 64, .duration = 1.0
	};
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		errno = 0;
		end = NULL;
		switch (c) {
		case 'D':
			if (parse_mac(optarg, o->dmac))
				return -EINVAL;
			have |= 1;
			break;
		case 'S':
			if (parse_mac(optarg, o->smac))
				return -EINVAL;
			have |= 2;
			break;
		case 's':
			o->family = strchr(optarg, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(o->family, optarg, o->src) != 1)
				goto bad;
			have |= 4;
			break;
		case 'd':
			fam_dst = strchr(optarg, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(fam_dst, optarg, o->dst) != 1)
				goto bad;
			have |= 8;
			break;
		case 'p':
			o->sport = strtoul(optarg, &end, 0);
			break;
		case 'P':
			o->dport = strtoul(optarg, &end, 0);
			break;
		case 'f':
			o->flows = strtoul(optarg, &end, 0);
			break;
		case 'z':
			o->size = strtoul(optarg, &end, 0);
			break;
		case 't':
			o->duration = strtod(optarg, &end);
			break;
		case 'n':
			o->count = strtoull(optarg, &end, 0);
			break;
		case 'r':
			o->rate = strtod(optarg, &end);
			break;
		case 'b':
			o->batch = strtoul(optarg, &end, 0);
			break;
		case 'V':
			o->vary_dport = 1;
			break;
		case 'Y':
			o->syn = 1;
			break;
		case 'k':
			if (o->n_sinks == MAX_SINKS)
				goto bad;
			o->sinks[o->n_sinks++] = optarg;
			break;
		default:
			return -EINVAL;
		}
		if (end && (*end || errno))
			goto bad;
	}
	if (have != 15 || fam_dst != o->family) {
		fprintf(stderr, "pfd_bench: error: gen needs --dmac, --smac, --src and --dst "
				"of one family\n");
		return -EINVAL;
	}
	if (o->syn) { /* frame n: source port sport + n / 65536 */
		if (o->vary_dport || o->sport < 1 || o->dport < 1 || o->dport > 65535 ||
		    o->flows < 1 || o->sport + (o->flows - 1) / 65536 > 65535) {
			fprintf(stderr, "pfd_bench: error: --syn: sport + (flows - 1) / 65536 "
					"and dport must be 1..65535, no --vary-dport\n");
			return -EINVAL;
		}
	} else if (o->sport < 1 || o->dport < 1 || o->dport > 65535 || o->flows < 1 ||
		   o->sport > 65535 ||
		   (o->vary_dport ? o->dport : o->sport) + o->flows - 1 > 65535) {
		fprintf(stderr, "pfd_bench: error: ports: sport + flows - 1 and dport must be "
				"1..65535\n");
		return -EINVAL;
	}
	if (o->size < 64 || o->size > GEN_MAX_FRAME) {
		fprintf(stderr, "pfd_bench: error: --size must be 64..%u\n", GEN_MAX_FRAME);
		return -EINVAL;
	}
	if (o->batch < 1 || o->batch > 256 || o->duration <= 0 || o->duration > 600 ||
	    o->rate < 0) {
		fprintf(stderr, "pfd_bench: error: --batch 1..256, --duration 0..600 s, "
				"--rate >= 0\n");
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "pfd_bench: error: bad value \"%s\"\n", optarg);
	return -EINVAL;
}

static int sinks_sum(int *fds, int n, uint64_t *sum)
{
	uint64_t v;

	*sum = 0;
	for (int i = 0; i < n; i++) {
		int err = sink_read(fds[i], &v);

		if (err)
			return err;
		*sum += v;
	}
	return 0;
}

static int cmd_gen(int argc, char **argv)
{
	static unsigned char frame[GEN_MAX_FRAME];
	int sink_fds[MAX_SINKS], n_fds = 0, err, ret = 1;
	uint64_t sent = 0, t0, t1, deadline, before = 0, after = 0;
	struct bench_gen *g = NULL;
	struct gen_opts o;
	unsigned int ifindex;
	__u32 key = 0;

	if (argc < 2)
		die_usage();
	if (parse_gen(argc - 1, argv + 1, &o))
		return 2;
	if (enter_netns(argv[0]) || dev_index(argv[1], &ifindex))
		return 1;
	for (int i = 0; i < o.n_sinks; i++) {
		sink_fds[n_fds] = bpf_obj_get(o.sinks[i]);
		if (sink_fds[n_fds] < 0) {
			err_out("cannot open %s", o.sinks[i], errno);
			goto out;
		}
		n_fds++;
	}

	g = bench_gen__open();
	if (!g) {
		err_out("cannot open %s", "bench_gen", errno);
		goto out;
	}
	if (o.syn) /* the frame is the SYN, whatever --size said */
		o.size = g->rodata->hdr_len = build_syn_frame(&o, frame);
	else
		g->rodata->hdr_len = build_frame(&o, frame);
	g->rodata->syn = o.syn;
	memcpy((void *)g->rodata->tmpl, frame, sizeof(g->rodata->tmpl));
	g->rodata->nflows = o.flows;
	g->rodata->base_port = o.vary_dport ? o.dport : o.sport;
	g->rodata->vary_dport = o.vary_dport;
	err = bench_gen__load(g);
	if (!err)
		err = bpf_map_update_elem(bpf_map__fd(g->maps.gen_tx), &key, &ifindex, 0);
	if (err) {
		err_out("cannot load %s", "bench_gen", err);
		goto out;
	}
	g->bss->next_flow = 0;

	if (sinks_sum(sink_fds, n_fds, &before)) {
		err_out("cannot read %s", "the sink counters", errno);
		goto out;
	}
	/* Paced: the program drops the frames whose time has not come (see
	 * bench_gen.bpf.c), so invocations outnumber frames sent. */
	if (o.rate > 0) {
		g->bss->pace_ns = (uint64_t)(1e9 / o.rate) ? (uint64_t)(1e9 / o.rate) : 1;
		g->bss->next_tx_ns = 0;
		g->bss->sent = 0;
	}
	t0 = now_ns();
	deadline = t0 + (uint64_t)(o.duration * 1e9);
	for (t1 = t0; t1 < deadline && (!o.count || sent < o.count);) {
		uint64_t n = o.rate > 0 ? GEN_CHUNK_PACED : GEN_CHUNK;

		if (o.count && o.rate <= 0 && o.count - sent < n)
			n = o.count - sent;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = o.size,
			    .repeat = n, .batch_size = o.batch,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		err = bpf_prog_test_run_opts(bpf_program__fd(g->progs.bench_gen), &opts);
		if (err) {
			err_out("live-frames run failed on %s", argv[1], err);
			goto out;
		}
		sent = o.rate > 0 ? g->bss->sent : sent + n;
		t1 = now_ns();
	}
	/* Inline processing has finished when the syscall returns; a frame the
	 * router handed to another CPU (split-core runs) may still be on its
	 * way: give it a moment before reading the sinks. */
	if (o.rate > 0)
		usleep(50000);
	if (sinks_sum(sink_fds, n_fds, &after)) {
		err_out("cannot read %s", "the sink counters", errno);
		goto out;
	}
	printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"ns\": %" PRIu64
	       ", \"size\": %u, \"flows\": %u, \"rate\": %.0f}\n",
	       sent, after - before, t1 - t0, o.size, o.flows, o.rate);
	ret = 0;
out:
	bench_gen__destroy(g);
	for (int i = 0; i < n_fds; i++)
		close(sink_fds[i]);
	return ret;
}

/* The kernel's accounting of a map shaped like pfd_flows (include/pfd/abi.h
 * and xdp-bpf/maps.bpf.h: a preallocated hash), from fdinfo's memlock. */
static int cmd_mapmem(int argc, char **argv)
{
	unsigned long long memlock = 0;
	char path[64], line[256];
	unsigned long entries;
	int fd, ret = 1;
	char *end;
	FILE *f;

	if (argc != 1)
		die_usage();
	entries = strtoul(argv[0], &end, 0);
	if (*end || !entries || entries > (1ul << 24)) {
		fprintf(stderr, "pfd_bench: error: mapmem: entries must be 1..16777216\n");
		return 2;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "pfd_flows", sizeof(struct pfd_flow_key),
			    sizeof(struct pfd_flow), entries, NULL);
	if (fd < 0)
		return err_out("cannot create a %s-shaped map", "pfd_flows", errno);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		err_out("cannot read %s", path, errno);
		goto out;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &memlock) == 1)
			break;
	fclose(f);
	printf("{\"entries\": %lu, \"memlock\": %llu}\n", entries, memlock);
	ret = 0;
out:
	close(fd);
	return ret;
}

/*
 * Fallback for router configurations 3 and 4 while the daemon cannot run:
 * pfd's own XDP object (xdp-bpf/pfd_xdp.bpf.c), its maps pinned under
 * BPFFS/tc/globals as pfd pins them, a control block that passes the version
 * and heartbeat checks, and the flows installed by the bench (pfd-flows) the
 * way pfd derives them from a conntrack entry. Labelled as such in results.
 */
static int cmd_pfd_attach(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct pfd_ctl ctl = {
		.abi_version = PFD_ABI_VERSION,
		.heartbeat_max_ns = 1ull << 62, /* no daemon to beat */
		.fib_gen = 1,			/* no route changes in a run */
	};
	char root[PATH_MAX];
	struct pfd_xdp *x;
	__u32 zero = 0;
	int err, ret = 1;

	if (argc < 3)
		die_usage();
	if (enter_netns(argv[0]))
		return 1;
	snprintf(root, sizeof(root), "%s/tc", argv[1]);
	mkdir(root, 0700);
	snprintf(root, sizeof(root), "%s/tc/globals", argv[1]);
	mkdir(root, 0700);
	oo.pin_root_path = root;
	x = pfd_xdp__open_opts(&oo);
	if (!x)
		return err_out("cannot open %s", "pfd_xdp", errno);
	x->rodata->pfd_synp_helpers = true;
	err = pfd_xdp__load(x);
	if (err) {
		err_out("cannot load %s", "pfd_xdp", err);
		goto out;
	}
	err = bpf_map_update_elem(bpf_map__fd(x->maps.pfd_ctl), &zero, &ctl, 0);
	for (int i = 2; i < argc && !err; i++) {
		struct pfd_dev dev = { .slot = i - 1, .flags = PFD_DEV_F_XDP };
		unsigned int ifindex;

		if (dev_index(argv[i], &ifindex))
			goto out;
		err = bpf_map_update_elem(bpf_map__fd(x->maps.pfd_devs), &ifindex, &dev, 0);
		if (!err)
			err = bpf_map_update_elem(bpf_map__fd(x->maps.pfd_tx_ports), &ifindex,
						  &ifindex, 0);
		if (err) {
			err_out("cannot fill pfd's maps for %s", argv[i], err);
			goto out;
		}
		if (xdp_attach(ifindex, bpf_program__fd(x->progs.pfd_xdp_fwd), argv[i]))
			goto out;
	}
	if (err) {
		err_out("cannot write %s", "pfd_ctl", err);
		goto out;
	}
	ret = 0;
out:
	pfd_xdp__destroy(x);
	return ret;
}

static int parse_addr(const char *s, __u8 *family, __be32 addr[4])
{
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	memset(addr, 0, 16);
	if (inet_pton(*family, s, addr) != 1) {
		fprintf(stderr, "pfd_bench: error: bad address \"%s\"\n", s);
		return -EINVAL;
	}
	return 0;
}

static int cmd_pfd_flows(int argc, char **argv)
{
	unsigned long sport, dport, flows;
	__be32 src[4], dst[4], nat[4];
	unsigned int in, out;
	__u8 fam, f2, f3;
	char path[PATH_MAX], *e1, *e2, *e3;
	int fd, ret = 1;

	if (argc != 9 && argc != 10)
		die_usage();
	if (enter_netns(argv[0]) || dev_index(argv[2], &in) || dev_index(argv[3], &out))
		return 1;
	if (parse_addr(argv[4], &fam, src) || parse_addr(argv[5], &f2, dst) ||
	    (argc == 10 && parse_addr(argv[9], &f3, nat)))
		return 2;
	sport = strtoul(argv[6], &e1, 0);
	dport = strtoul(argv[7], &e2, 0);
	flows = strtoul(argv[8], &e3, 0);
	if (*e1 || *e2 || *e3 || f2 != fam || (argc == 10 && f3 != fam) || !sport || !dport ||
	    dport > 65535 || !flows || sport + flows - 1 > 65535) {
		fprintf(stderr, "pfd_bench: error: pfd-flows: bad ports, flow count or family\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/tc/globals/%s", argv[1], PFD_MAP_FLOWS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return err_out("cannot open %s", path, errno);

	for (unsigned long i = 0; i < flows; i++) {
		__be16 port = htons(sport + i);
		struct pfd_flow_key ko = { .ifindex = in,
					   .family = fam,
					   .l4proto = IPPROTO_UDP,
					   .sport = port,
					   .dport = htons(dport) };
		struct pfd_flow_key kr = { .ifindex = out,
					   .family = fam,
					   .l4proto = IPPROTO_UDP,
					   .sport = htons(dport),
					   .dport = port };
		struct pfd_flow vo = { .oif = out }, vr = { .oif = in };

		/* As pfd derives them from the tuples: the original direction
		 * is source-NATed to the router's address, the reply arrives
		 * for that address and is destination-NATed back. */
		memcpy(ko.saddr, src, 16);
		memcpy(ko.daddr, dst, 16);
		memcpy(kr.saddr, dst, 16);
		memcpy(kr.daddr, argc == 10 ? nat : src, 16);
		if (argc == 10) {
			vo.flags = PFD_FLOW_F_SNAT;
			memcpy(vo.nat_saddr, nat, 16);
			vo.nat_sport = port;
			vr.flags = PFD_FLOW_F_DNAT;
			memcpy(vr.nat_daddr, src, 16);
			vr.nat_dport = port;
		}
		if (bpf_map_update_elem(fd, &ko, &vo, 0) || bpf_map_update_elem(fd, &kr, &vr, 0)) {
			err_out("cannot install flows in %s", path, errno);
			goto out;
		}
	}
	printf("%lu\n", 2 * flows);
	ret = 0;
out:
	close(fd);
	return ret;
}

static int open_pin(const char *bpffs, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/tc/globals/%s", bpffs, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		err_out("cannot open %s", path, errno);
	return fd;
}

/*
 * pfd_synflood's stand-in for the daemon's syn-protect (pfd.conf
 * `syn-protect PREFIX tcp PORT mss MSS wscale WSCALE timestamp sack-perm`,
 * armed): the service in pfd_synp4/6 as rule slot 0, with the options of
 * nft's `synproxy mss MSS wscale WSCALE timestamp sack-perm` and the
 * default TTL 64, and PFD_CTL_F_SYNP set in the control block that
 * pfd-attach wrote (nothing else rewrites it: no daemon runs).
 */
static int cmd_pfd_synp(int argc, char **argv)
{
	struct pfd_synp val = { .index = 0,
				.ttl = 64,
				.flags = PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_SACK_PERM |
					 PFD_SYNP_F_TIMESTAMP };
	unsigned long plen, port, mss, wscale;
	char addr[INET6_ADDRSTRLEN], *slash, *e1, *e2, *e3, *e4;
	int fd = -1, ctl_fd = -1, ret = 1, err;
	struct pfd_ctl ctl;
	__be32 a[4];
	__u32 zero = 0;
	__u8 fam;

	if (argc != 5)
		die_usage();
	slash = strchr(argv[1], '/');
	if (!slash || (size_t)(slash - argv[1]) >= sizeof(addr))
		die_usage();
	memcpy(addr, argv[1], slash - argv[1]);
	addr[slash - argv[1]] = 0;
	plen = strtoul(slash + 1, &e1, 0);
	port = strtoul(argv[2], &e2, 0);
	mss = strtoul(argv[3], &e3, 0);
	wscale = strtoul(argv[4], &e4, 0);
	if (parse_addr(addr, &fam, a))
		return 2;
	if (*e1 || *e2 || *e3 || *e4 || plen > (fam == AF_INET ? 32u : 128u) || !port ||
	    port > 65535 || !mss || mss > 65535 || wscale > 14) {
		fprintf(stderr, "pfd_bench: error: pfd-synp: bad prefix, port, mss or wscale\n");
		return 2;
	}
	val.mss = mss;
	val.wscale = wscale;
	fd = open_pin(argv[0], fam == AF_INET ? PFD_MAP_SYNP4 : PFD_MAP_SYNP6);
	ctl_fd = open_pin(argv[0], PFD_MAP_CTL);
	if (fd < 0 || ctl_fd < 0)
		goto out;
	if (fam == AF_INET) {
		struct pfd_synp_key4 k = { .prefixlen = 16 + plen, .dport = htons(port) };

		memcpy(k.addr, a, sizeof(k.addr));
		err = bpf_map_update_elem(fd, &k, &val, 0);
	} else {
		struct pfd_synp_key6 k = { .prefixlen = 16 + plen, .dport = htons(port) };

		memcpy(k.addr, a, sizeof(k.addr));
		err = bpf_map_update_elem(fd, &k, &val, 0);
	}
	if (err) {
		err_out("cannot write the syn-protect service %s", argv[1], errno);
		goto out;
	}
	if (bpf_map_lookup_elem(ctl_fd, &zero, &ctl)) {
		err_out("cannot read %s", PFD_MAP_CTL, errno);
		goto out;
	}
	ctl.flags |= PFD_CTL_F_SYNP;
	if (bpf_map_update_elem(ctl_fd, &zero, &ctl, 0)) {
		err_out("cannot write %s", PFD_MAP_CTL, errno);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ctl_fd >= 0)
		close(ctl_fd);
	return ret;
}

/* pfd_stats' XDP packets of one verdict reason, summed over CPUs, per
 * device slot with any: {"SLOT": packets, ...}. */
static int cmd_pfd_reason(int argc, char **argv)
{
	int ncpu = libbpf_num_possible_cpus(), fd, n = 0, ret = 1;
	struct pfd_counter *v = NULL;
	unsigned long reason;
	char *end;

	if (argc != 2)
		die_usage();
	reason = strtoul(argv[1], &end, 0);
	if (*end || reason >= PFD_REASON_SLOTS) {
		fprintf(stderr, "pfd_bench: error: pfd-reason: bad reason \"%s\"\n", argv[1]);
		return 2;
	}
	fd = open_pin(argv[0], PFD_MAP_STATS);
	if (fd < 0)
		return 1;
	v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	if (!v) {
		err_out("%s", "calloc", ENOMEM);
		goto out;
	}
	printf("{");
	for (__u32 slot = 0; slot < PFD_MAX_DEVS; slot++) {
		__u32 idx = PFD_STATS_INDEX(slot, PFD_HOOK_XDP, reason);
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &idx, v)) {
			err_out("cannot read %s", PFD_MAP_STATS, errno);
			goto out;
		}
		for (int i = 0; i < ncpu; i++)
			sum += v[i].packets;
		if (sum)
			printf("%s\"%u\": %" PRIu64, n++ ? ", " : "", slot, sum);
	}
	printf("}\n");
	ret = 0;
out:
	free(v);
	close(fd);
	return ret;
}

static int cmd_mapcount(int argc, char **argv)
{
	struct pfd_flow_key key, next;
	unsigned long n = 0;
	void *prev = NULL;
	int fd;

	if (argc != 1)
		die_usage();
	fd = bpf_obj_get(argv[0]);
	if (fd < 0)
		return err_out("cannot open %s", argv[0], errno);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	close(fd);
	printf("%lu\n", n);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* An accepted, replied, assured UDP entry carrying both of pfd's direction
 * mark bits (0x3, mode mark 0x3/0x3): what the bench's ruleset makes of a
 * real flow. */
static void ct_fill(struct nf_conntrack *ct, __be32 src, __be32 dst, unsigned int sport,
		    unsigned int dport)
{
	nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_IPV4_SRC, src);
	nfct_set_attr_u32(ct, ATTR_IPV4_DST, dst);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(sport));
	nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(dport));
	nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, 600);
	nfct_set_attr_u32(ct, ATTR_MARK, 3);
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_ASSURED | IPS_SEEN_REPLY);
}

/* Creates N such entries as fast as ctnetlink takes them: sources
 * SRC + i / 50000, source ports 10000 + i % 50000. Prints the seconds it
 * took, so the caller can tell the injector's limit from the daemon's. */
static int cmd_ctload(int argc, char **argv)
{
	struct nf_conntrack *ct = NULL;
	struct nfct_handle *h = NULL;
	struct in_addr src, dst;
	unsigned long n, dport;
	int ret = 1;
	char *e1, *e2;
	uint64_t t0;

	if (argc != 5)
		die_usage();
	n = strtoul(argv[3], &e1, 0);
	dport = strtoul(argv[4], &e2, 0);
	if (*e1 || *e2 || !n || n > 10000000 || !dport || dport > 65535 ||
	    inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "pfd_bench: error: ctload: bad addresses, count or port\n");
		return 2;
	}
	if (enter_netns(argv[0]))
		return 1;
	h = nfct_open(CONNTRACK, 0);
	ct = nfct_new();
	if (!h || !ct) {
		err_out("cannot open %s", "ctnetlink", errno);
		goto out;
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		__be32 s = htonl(ntohl(src.s_addr) + i / 50000);

		ct_fill(ct, s, dst.s_addr, 10000 + i % 50000, dport);
		if (nfct_query(h, NFCT_Q_CREATE, ct)) {
			err_out("conntrack create failed (%s entries in)", argv[3], errno);
			goto out;
		}
	}
	printf("%.6f\n", (now_ns() - t0) / 1e9);
	ret = 0;
out:
	if (ct)
		nfct_destroy(ct);
	if (h)
		nfct_close(h);
	return ret;
}

/* Creates conntrack entries one at a time, as an accepted, replied and
 * assured UDP flow with pfd's mark, and times each from just before the
 * create (the kernel emits the event inside it) to the moment its
 * original-direction entry is in pfd's flow map (busy polling). */
static int cmd_latency(int argc, char **argv)
{
	unsigned long sport, dport, samples, done = 0, timeouts = 0;
	struct nfct_handle *h = NULL;
	struct nf_conntrack *ct = NULL;
	struct in_addr src, dst;
	uint64_t *lat = NULL;
	unsigned int in;
	int fd = -1, ret = 1;
	char *e1, *e2, *e3;

	if (argc != 8)
		die_usage();
	sport = strtoul(argv[5], &e1, 0);
	dport = strtoul(argv[6], &e2, 0);
	samples = strtoul(argv[7], &e3, 0);
	if (*e1 || *e2 || *e3 || !sport || !dport || dport > 65535 || !samples || samples > 10000 ||
	    sport + samples - 1 > 65535 || inet_pton(AF_INET, argv[3], &src) != 1 ||
	    inet_pton(AF_INET, argv[4], &dst) != 1) {
		fprintf(stderr,
			"pfd_bench: error: latency: bad addresses, ports or sample count\n");
		return 2;
	}
	if (enter_netns(argv[0]) || dev_index(argv[2], &in))
		return 1;
	fd = bpf_obj_get(argv[1]);
	if (fd < 0)
		return err_out("cannot open %s", argv[1], errno);
	lat = calloc(samples, sizeof(*lat));
	h = nfct_open(CONNTRACK, 0);
	ct = nfct_new();
	if (!lat || !h || !ct) {
		err_out("cannot open %s", "ctnetlink", errno);
		goto out;
	}
	for (unsigned long i = 0; i < samples; i++) {
		struct pfd_flow_key key = { .ifindex = in,
					    .family = AF_INET,
					    .l4proto = IPPROTO_UDP,
					    .sport = htons(sport + i),
					    .dport = htons(dport) };
		struct pfd_flow val;
		uint64_t t0, t;

		key.saddr[0] = src.s_addr;
		key.daddr[0] = dst.s_addr;
		ct_fill(ct, src.s_addr, dst.s_addr, sport + i, dport);
		t0 = now_ns();
		if (nfct_query(h, NFCT_Q_CREATE, ct)) {
			err_out("cannot create a conntrack entry in %s", argv[0], errno);
			goto out;
		}
		for (;;) {
			t = now_ns();
			if (!bpf_map_lookup_elem(fd, &key, &val))
				break;
			if (t - t0 > 5000000000ull) {
				timeouts++;
				break;
			}
		}
		if (t - t0 <= 5000000000ull)
			lat[done++] = t - t0;
		/* pfd is not installing these (wrong mark, not running): say so
		 * now, not after 5 s for every sample */
		if (timeouts >= 3) {
			fprintf(stderr,
				"pfd_bench latency: %lu entries never reached the map; "
				"giving up\n",
				timeouts);
			break;
		}
		usleep(2000); /* one event at a time, not a burst */
	}
	qsort(lat, done, sizeof(*lat), cmp_u64);
	printf("{\"samples\": %lu, \"timeouts\": %lu", done, timeouts);
	if (done)
		printf(", \"median_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f",
		       lat[done / 2] / 1e3,
		       lat[(done * 99) / 100 < done ? (done * 99) / 100 : done - 1] / 1e3,
		       lat[done - 1] / 1e3);
	printf("}\n");
	ret = 0;
out:
	if (ct)
		nfct_destroy(ct);
	if (h)
		nfct_close(h);
	free(lat);
	close(fd);
	return ret;
}

/*
 * The conntrack parse, side by side: 1024 distinct IPCTNL_MSG_CT_NEW messages
 * (built by libnetfilter_conntrack, as the kernel lays them out: tuples,
 * status, timeout, mark), each parsed ROUNDS times by pfd_ct_parse (what
 * nft-backend/ct.c does with every event and dump entry) and by
 * nfct_nlmsg_parse into a reused object, reading the same fields back. Both
 * must agree on every message, or the result is invalid. One JSON line: ns
 * per message for each, and their ratio.
 */
static int cmd_ctparse(int argc, char **argv)
{
	enum { K = 1024 };
	static char bufs[K][512];
	struct nf_conntrack *ct, *out;
	unsigned long rounds, r, i, disagree = 0;
	uint64_t t0, t_pfd, t_nfct, sum_pfd = 0, sum_nfct = 0;
	char *end;

	if (argc != 1)
		die_usage();
	rounds = strtoul(argv[0], &end, 0);
	if (*end || !rounds)
		die_usage();
	ct = nfct_new();
	out = nfct_new();
	if (!ct || !out)
		return err_out("%s", "nfct_new", ENOMEM);
	for (i = 0; i < K; i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(bufs[i]);
		struct nfgenmsg *g;

		nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->nfgen_family = AF_INET;
		g->version = NFNETLINK_V0;
		ct_fill(ct, htonl(0xc0000200 + (i & 255)), htonl(0xc6336400 + (i >> 8)), 10000 + i,
			7000);
		nfct_set_attr_u32(ct, ATTR_MARK, (uint32_t)i);
		if (nfct_nlmsg_build(nlh, ct) < 0)
			return err_out("%s", "nfct_nlmsg_build", errno);
	}
	/* the same answer from both, message by message */
	for (i = 0; i < K; i++) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)bufs[i];
		struct pfd_ct_entry e;
		enum pfd_ct_event ev;

		if (pfd_ct_parse(nlh, &e, &ev) || nfct_nlmsg_parse(nlh, out) < 0 ||
		    e.orig.sport != nfct_get_attr_u16(out, ATTR_ORIG_PORT_SRC) ||
		    e.orig.dst[0] != nfct_get_attr_u32(out, ATTR_ORIG_IPV4_DST) ||
		    e.reply.sport != nfct_get_attr_u16(out, ATTR_REPL_PORT_SRC) ||
		    e.mark != nfct_get_attr_u32(out, ATTR_MARK) ||
		    e.status != nfct_get_attr_u32(out, ATTR_STATUS))
			disagree++;
	}
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < K; i++) {
			struct pfd_ct_entry e;
			enum pfd_ct_event ev;

			if (!pfd_ct_parse((const struct nlmsghdr *)bufs[i], &e, &ev))
				sum_pfd += e.mark + e.orig.sport + e.reply.sport + e.status;
		}
	}
	t_pfd = now_ns() - t0;
	t0 = now_ns();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < K; i++) {
			if (nfct_nlmsg_parse((const struct nlmsghdr *)bufs[i], out) < 0)
				continue;
			sum_nfct += nfct_get_attr_u32(out, ATTR_MARK) +
				    nfct_get_attr_u16(out, ATTR_ORIG_PORT_SRC) +
				    nfct_get_attr_u16(out, ATTR_REPL_PORT_SRC) +
				    nfct_get_attr_u32(out, ATTR_STATUS);
		}
	}
	t_nfct = now_ns() - t0;
	nfct_destroy(ct);
	nfct_destroy(out);
	printf("{\"messages\": %lu, \"disagree\": %lu, \"same_sum\": %s, \"pfd_ns\": %.1f, "
	       "\"nfct_ns\": %.1f, \"ratio\": %.2f}\n",
	       rounds * K, disagree, sum_pfd == sum_nfct ? "true" : "false",
	       (double)t_pfd / (double)(rounds * K), (double)t_nfct / (double)(rounds * K),
	       (double)t_nfct / (double)t_pfd);
	return disagree || sum_pfd != sum_nfct;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage();
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "detach"))
		return cmd_detach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "count"))
		return cmd_count(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pfd-attach"))
		return cmd_pfd_attach(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pfd-flows"))
		return cmd_pfd_flows(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pfd-synp"))
		return cmd_pfd_synp(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pfd-reason"))
		return cmd_pfd_reason(argc - 2, argv + 2);
	if (!strcmp(argv[1], "mapcount"))
		return cmd_mapcount(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ctload"))
		return cmd_ctload(argc - 2, argv + 2);
	if (!strcmp(argv[1], "latency"))
		return cmd_latency(argc - 2, argv + 2);
	if (!strcmp(argv[1], "mapmem"))
		return cmd_mapmem(argc - 2, argv + 2);
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ctparse"))
		return cmd_ctparse(argc - 2, argv + 2);
	die_usage();
	return 2;
}
