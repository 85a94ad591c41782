// SPDX-License-Identifier: GPL-2.0-only
/*
 * nft-backend/rt.c against the real kernel, in a private network namespace
 * with two veth pairs (this kernel has no dummy driver) as a router's two
 * sides: link, address, route, rule, neighbour and tc changes arrive as
 * events with the right device; RTM_GETROUTE answers the device the kernel
 * forwards by (with iif, src and fwmark); fwmark rules, xfrm policies, tc
 * filters (pfd's own BPF filters excepted), tcx programs and non-default
 * qdiscs are detected; NTF_USE moves a STALE neighbour to DELAY; a route
 * storm larger than the event buffer yields -ENOBUFS.
 */
#include <stdbool.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "kt.h"
#include "nft-backend/rt.h"

#define MAXEV 256

struct evlog {
	unsigned int n;
	enum pfd_rt_event ev[MAXEV];
	int ifindex[MAXEV];
	bool up[MAXEV];
};

static struct evlog evlog;

static void record(void *arg, enum pfd_rt_event ev, int ifindex, bool up)
{
	struct evlog *l = arg;

	if (l->n < MAXEV) {
		l->ev[l->n] = ev;
		l->ifindex[l->n] = ifindex;
		l->up[l->n++] = up;
	}
}

/* Runs cmd, then reads events for up to 1 s until (ev, ifindex[, up])
 * shows up; ifindex -1 matches any. */
static bool saw_after(struct pfd_rt *rt, const char *cmd, enum pfd_rt_event ev, int ifindex, int up)
{
	unsigned int k;
	int i;

	while (kt_readable(pfd_rt_events_fd(rt), 50))
		pfd_rt_events_read(rt);
	evlog.n = 0;
	if (kt_sh("%s", cmd))
		return false;
	for (i = 0; i < 10; i++) {
		kt_readable(pfd_rt_events_fd(rt), 100);
		pfd_rt_events_read(rt);
		for (k = 0; k < evlog.n; k++)
			if (evlog.ev[k] == ev && (ifindex < 0 || evlog.ifindex[k] == ifindex) &&
			    (up < 0 || evlog.up[k] == up))
				return true;
	}
	return false;
}

static __be32 *a4(const char *s, __be32 *buf)
{
	memset(buf, 0, 16);
	inet_pton(AF_INET, s, buf);
	return buf;
}

static __be32 *a6(const char *s, __be32 *buf)
{
	inet_pton(AF_INET6, s, buf);
	return buf;
}

static int r0, s0;

static void test_events(struct pfd_rt *rt)
{
	T_TRUE(saw_after(rt, "ip link set r0 down", PFD_RT_EV_LINK, r0, 0), "link down event");
	T_TRUE(saw_after(rt, "ip link set r0 up", PFD_RT_EV_LINK, r0, 1), "link up event");
	T_TRUE(saw_after(rt, "ip addr add 192.0.2.2/24 dev r0", PFD_RT_EV_ADDR, r0, -1),
	       "address event");
	T_TRUE(saw_after(rt, "ip -6 addr add 2001:db8:1::2/64 dev r0 nodad", PFD_RT_EV_ADDR, r0,
			 -1),
	       "IPv6 address event");
	T_TRUE(saw_after(rt, "ip route add 203.0.113.64/26 via 198.51.100.2", PFD_RT_EV_ROUTE, s0,
			 -1),
	       "IPv4 route event names its device");
	T_TRUE(saw_after(rt, "ip -6 route add 2001:db8:5::/64 via 2001:db8:2::2", PFD_RT_EV_ROUTE,
			 s0, -1),
	       "IPv6 route event");
	T_TRUE(saw_after(rt, "ip rule add to 203.0.113.99 table 200", PFD_RT_EV_RULE, -1, -1),
	       "IPv4 rule event");
	T_TRUE(saw_after(rt, "ip -6 rule add to 2001:db8:9::/64 table 200", PFD_RT_EV_RULE, -1, -1),
	       "IPv6 rule event");
	/* a replaced nexthop object moves the routes that use it, with no
	 * IPv4 route event: the nexthop group must reach pfd */
	kt_sh("ip nexthop add id 77 via 198.51.100.2 dev s0");
	kt_sh("ip route add 203.0.113.128/26 nhid 77");
	T_TRUE(saw_after(rt, "ip nexthop replace id 77 via 198.51.100.3 dev s0", PFD_RT_EV_ROUTE,
			 -1, -1),
	       "nexthop replaced event");
	kt_sh("ip route del 203.0.113.128/26");
	kt_sh("ip nexthop del id 77");
	/* an xfrm policy: reported once the caller owns the notifications
	 * (a handle of its own: test_xfrm asks without owning them) */
	{
		struct pfd_rt *own = NULL;

		T_OK(pfd_rt_open(&own, record, &evlog), "open a second handle");
		T_TRUE(own && pfd_rt_xfrm_events_fd(own) >= 0, "xfrm notifications");
		if (own)
			T_TRUE(saw_after(own,
					 "ip xfrm policy add src 192.0.2.0/24 dst 203.0.113.0/24 "
					 "dir out tmpl src 198.51.100.1 dst 198.51.100.2 proto esp "
					 "mode tunnel",
					 PFD_RT_EV_XFRM, -1, -1),
			       "xfrm policy event");
		kt_sh("ip xfrm policy flush");
		pfd_rt_close(own);
	}
	T_TRUE(saw_after(rt, "ip neigh add 198.51.100.50 lladdr 02:00:00:00:00:50 dev s0",
			 PFD_RT_EV_NEIGH, s0, -1),
	       "neighbour event");
	T_TRUE(saw_after(rt, "tc qdisc add dev s0 clsact", PFD_RT_EV_TC, s0, -1), "qdisc event");
	T_TRUE(saw_after(rt, "tc filter add dev s0 egress protocol all prio 1 u32 match u32 0 0",
			 PFD_RT_EV_TC, s0, -1),
	       "filter event");
	/* forwarding switched off changes bpf_fib_lookup's answer with no
	 * route event: it must still reach pfd (FIB cache generation) */
	T_TRUE(saw_after(rt, "sysctl -qw net.ipv4.conf.r0.forwarding=0", PFD_RT_EV_NETCONF, r0, -1),
	       "IPv4 forwarding switch event");
	T_TRUE(saw_after(rt, "sysctl -qw net.ipv6.conf.r0.forwarding=0", PFD_RT_EV_NETCONF, r0, -1),
	       "IPv6 forwarding switch event");
	kt_sh("sysctl -qw net.ipv4.conf.r0.forwarding=1 net.ipv6.conf.r0.forwarding=1");
	kt_sh("tc qdisc del dev s0 clsact");
	kt_sh("ip rule del to 203.0.113.99 table 200");
	kt_sh("ip -6 rule del to 2001:db8:9::/64 table 200");
}

static void test_enobufs(struct pfd_rt *rt)
{
	char path[] = "/tmp/pfd-kt-rt-XXXXXX";
	int fd = mkstemp(path), i, ret = 0, small = 1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		T_TRUE(0, "enobufs: temp file");
		return;
	}
	for (i = 0; i < 3000; i++)
		fprintf(f, "route add 2001:db8:4::%x/128 via 2001:db8:2::2\n", i + 1);
	fclose(f);
	while (kt_readable(pfd_rt_events_fd(rt), 50))
		pfd_rt_events_read(rt);
	/* Shrunk to the minimum (the default 4 MiB takes ~9000 routes, slow
	 * to add on an emulated VM), the socket overflows with 3000. */
	T_OK(setsockopt(pfd_rt_events_fd(rt), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
	     "shrink the event buffer");
	T_OK(kt_sh("ip -6 -batch %s", path), "ip -batch: 3000 routes");
	unlink(path);
	for (i = 0; i < 400 && kt_readable(pfd_rt_events_fd(rt), 100); i++) {
		int r = pfd_rt_events_read(rt);

		if (r < 0)
			ret = r;
	}
	T_EQ(ret, -ENOBUFS, "route storm: -ENOBUFS");
	kt_sh("ip -6 route flush 2001:db8:4::/64");
	while (kt_readable(pfd_rt_events_fd(rt), 50))
		pfd_rt_events_read(rt);
}

static void test_routes(struct pfd_rt *rt)
{
	__be32 d[4], s[4];
	int oif = 0;

	T_OK(pfd_rt_route_oif(rt, AF_INET, a4("203.0.113.70", d), NULL, 0, 0, &oif),
	     "v4 route: resolves");
	T_EQ(oif, s0, "v4 route: via s0");
	oif = 0;
	T_OK(pfd_rt_route_oif(rt, AF_INET, a4("203.0.113.70", d), a4("192.0.2.10", s), r0, 0, &oif),
	     "v4 route from r0 (forwarded): resolves");
	T_EQ(oif, s0, "v4 route from r0: via s0");
	oif = 0;
	T_OK(pfd_rt_route_oif(rt, AF_INET, a4("192.0.2.10", d), a4("198.51.100.2", s), s0, 0, &oif),
	     "v4 reply direction: resolves");
	T_EQ(oif, r0, "v4 reply direction: via r0");
	{
		__be32 gw[4], want[4];

		/* the neighbour pfd keeps fresh for it: the gateway */
		T_OK(pfd_rt_route(rt, AF_INET, a4("203.0.113.70", d), NULL, 0, 0, &oif, gw),
		     "v4 route with its gateway");
		T_TRUE(!memcmp(gw, a4("198.51.100.2", want), 16), "v4 gateway 198.51.100.2");
		T_OK(pfd_rt_route(rt, AF_INET, a4("192.0.2.10", d), NULL, 0, 0, &oif, gw),
		     "v4 on-link route");
		T_TRUE(!memcmp(gw, a4("0.0.0.0", want), 16), "v4 on-link: no gateway");
	}

	/* A fwmark rule sends marked packets elsewhere. */
	T_OK(kt_sh("ip route add 203.0.113.64/26 dev r0 table 100 && ip rule add fwmark 0x7 table "
		   "100"),
	     "fwmark rule and table");
	oif = 0;
	T_OK(pfd_rt_route_oif(rt, AF_INET, a4("203.0.113.70", d), a4("192.0.2.10", s), r0, 0x7,
			      &oif),
	     "marked: resolves");
	T_EQ(oif, r0, "marked: table 100's device");
	oif = 0;
	T_OK(pfd_rt_route_oif(rt, AF_INET, a4("203.0.113.70", d), a4("192.0.2.10", s), r0, 0, &oif),
	     "unmarked: resolves");
	T_EQ(oif, s0, "unmarked: main table's device");

	T_OK(pfd_rt_route_oif(rt, AF_INET6, a6("2001:db8:5::1", d), NULL, 0, 0, &oif),
	     "v6 route: resolves");
	T_EQ(oif, s0, "v6 route: via s0");
	oif = 0;
	T_OK(pfd_rt_route_oif(rt, AF_INET6, a6("2001:db8:5::1", d), a6("2001:db8:1::10", s), r0, 0,
			      &oif),
	     "v6 route from r0: resolves");
	T_EQ(oif, s0, "v6 route from r0: via s0");

	T_EQ(pfd_rt_route_oif(rt, AF_INET6, a6("2001:db8:77::1", d), NULL, 0, 0, &oif),
	     -ENETUNREACH, "v6 no route: -ENETUNREACH");
	T_OK(kt_sh("ip route add blackhole 203.0.113.128/25"), "blackhole route");
	T_TRUE(pfd_rt_route_oif(rt, AF_INET, a4("203.0.113.200", d), a4("192.0.2.10", s), r0, 0,
				&oif) < 0,
	       "blackhole from r0: an error, not a device");
	T_EQ(pfd_rt_route_oif(rt, AF_INET, a4("192.0.2.1", d), NULL, 0, 0, &oif), -EADDRNOTAVAIL,
	     "own address: local, not forwarded");
	T_EQ(pfd_rt_route_oif(rt, AF_PACKET, d, NULL, 0, 0, &oif), -EAFNOSUPPORT, "bad family");
}

/* The device `ip route get` names for one flow (iproute2 asks the same
 * RTM_GETROUTE with RTA_IP_PROTO/SPORT/DPORT: a check of our encoding, the
 * ports' byte order above all); 0 when it cannot tell. */
static int ip_route_get_dev(int v6, const char *dst, const char *src, int sport, int dport)
{
	char out[512], *dev;

	if (kt_out(out, sizeof(out),
		   "ip %s route get %s from %s iif r0 ipproto udp sport %d dport %d",
		   v6 ? "-6" : "", dst, src, sport, dport))
		return 0;
	dev = strstr(out, " dev ");
	return dev ? (int)if_nametoindex(strtok(dev + 5, " \n")) : 0;
}

/* A multipath route: with fib_multipath_hash_policy 1 the kernel picks a
 * flow's next hop by its ports, so the question must carry them; with
 * policy 0 the ports do not matter. */
static void test_multipath(struct pfd_rt *rt, int v6)
{
	const char *dst = v6 ? "2001:db8:9::5" : "203.0.113.5",
		   *src = v6 ? "2001:db8:1::10" : "192.0.2.10";
	int fam = v6 ? AF_INET6 : AF_INET, per_dev[2][2] = { { 0 } }, agree = 0, stable = 0;
	char what[96];
	__be32 d[4], s[4];

	snprintf(what, sizeof(what), "v%d multipath route", v6 ? 6 : 4);
	T_OK(kt_sh(v6 ? "ip -6 route add 2001:db8:9::/64 nexthop via 2001:db8:2::2 dev s0 "
			"nexthop via 2001:db8:1::3 dev r0" :
			"ip route add 203.0.113.0/28 nexthop via 198.51.100.2 dev s0 "
			"nexthop via 192.0.2.2 dev r0"),
	     what);
	if (v6) {
		inet_pton(AF_INET6, dst, d);
		inet_pton(AF_INET6, src, s);
	} else {
		a4(dst, d);
		a4(src, s);
	}
	for (int policy = 0; policy <= 1; policy++) {
		kt_sh("sysctl -qw net.ipv%d.fib_multipath_hash_policy=%d", v6 ? 6 : 4, policy);
		for (int sport = 40000; sport < 40064; sport++) {
			struct pfd_rt_l4 l4 = { IPPROTO_UDP, htons(sport), htons(53) };
			int oif = 0, again = 0;

			if (pfd_rt_route_l4(rt, fam, d, s, r0, 0, &l4, &oif, NULL))
				continue;
			per_dev[policy][oif == s0] += 1;
			pfd_rt_route_l4(rt, fam, d, s, r0, 0, &l4, &again, NULL);
			stable += again == oif;
			if (policy == 1 && sport < 40016)
				agree += ip_route_get_dev(v6, dst, src, sport, 53) == oif;
		}
	}
	snprintf(what, sizeof(what), "v%d policy 0: 64 flows, one next hop", v6 ? 6 : 4);
	T_TRUE(per_dev[0][0] == 64 || per_dev[0][1] == 64, what);
	snprintf(what, sizeof(what), "v%d policy 1: 64 flows over both next hops", v6 ? 6 : 4);
	T_TRUE(per_dev[1][0] > 0 && per_dev[1][1] > 0 && per_dev[1][0] + per_dev[1][1] == 64, what);
	snprintf(what, sizeof(what), "v%d: the same question, the same answer", v6 ? 6 : 4);
	T_EQ(stable, 128, what);
	snprintf(what, sizeof(what), "v%d policy 1: 16 flows agree with ip route get", v6 ? 6 : 4);
	T_EQ(agree, 16, what);
	kt_sh("sysctl -qw net.ipv%d.fib_multipath_hash_policy=0", v6 ? 6 : 4);
}

static void test_fwmark_rules(struct pfd_rt *rt)
{
	/* test_routes left "fwmark 0x7" in place. */
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_INET), 1, "v4 fwmark rule found");
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_INET6), 0, "no v6 fwmark rule");
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_UNSPEC), 1, "any family: found");
	kt_sh("ip rule del fwmark 0x7 table 100");
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_INET), 0, "v4 fwmark rule removed");
	kt_sh("ip -6 rule add fwmark 0x10/0xf0 table 100");
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_INET6), 1, "v6 fwmark/mask rule found");
	T_EQ(pfd_rt_has_fwmark_rules(rt, AF_INET), 0, "v4 still none");
	kt_sh("ip -6 rule del fwmark 0x10/0xf0 table 100");
}

static void test_xfrm(struct pfd_rt *rt)
{
	__be32 c[4], srv[4], other[4];

	a4("192.0.2.10", c);
	a4("203.0.113.5", srv);
	a4("198.51.100.5", other);
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET, c, srv), 0, "no policy: not covered");
	T_OK(kt_sh("ip xfrm policy add src 192.0.2.0/24 dst 203.0.113.0/24 dir fwd "
		   "tmpl src 192.0.2.1 dst 198.51.100.2 proto esp mode tunnel"),
	     "ip xfrm policy add");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET, c, srv), 1, "policy covers client->server");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET, srv, c), 1, "policy covers the reply direction");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET, c, other), 0, "other destination: not covered");
	/* The snapshot of policies is reused until the kernel reports a
	 * change: a deletion must be seen by the very next query. */
	T_OK(kt_sh("ip xfrm policy delete src 192.0.2.0/24 dst 203.0.113.0/24 dir fwd"),
	     "ip xfrm policy delete");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET, c, srv), 0, "deleted: no longer covered");
	a6("2001:db8:1::10", c);
	a6("2001:db8:5::1", srv);
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET6, c, srv), 0, "v6 flow: not covered by a v4 policy");
	T_OK(kt_sh("ip xfrm policy add src 2001:db8:1::/64 dst 2001:db8:5::/64 dir out "
		   "tmpl src 2001:db8:1::1 dst 2001:db8:2::2 proto esp mode tunnel"),
	     "ip xfrm policy add v6");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET6, c, srv), 1, "v6 policy covers");
	kt_sh("ip xfrm policy flush");
	T_EQ(pfd_rt_xfrm_covers(rt, AF_INET6, c, srv), 0, "flushed: not covered");
}

/* A SCHED_CLS program named name: r0 = TC_ACT_UNSPEC; exit. */
static int load_prog(const char *name)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_UNSPEC },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", insns, 2, NULL);
}

static void test_tc(struct pfd_rt *rt)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = s0, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, own, .priority = 5);
	LIBBPF_OPTS(bpf_tc_opts, other, .priority = 6);
	int mine = load_prog("pfd_test"), theirs = load_prog("shaper"), err;
	__u32 cnt = 0;

	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "veth default (noqueue): no egress policy");
	T_EQ(pfd_rt_dev_has_ingress_policy(rt, s0), 0, "no ingress policy");

	T_OK(kt_sh("tc qdisc add dev s0 root handle 1: htb"), "htb root qdisc");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 1, "htb: egress policy");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, r0), 0, "htb on s0: r0 unaffected");
	kt_sh("tc qdisc del dev s0 root");
	T_OK(kt_sh("tc qdisc add dev s0 root pfifo_fast"), "pfifo_fast root");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "pfifo_fast: a default, no policy");
	kt_sh("tc qdisc del dev s0 root");

	T_OK(kt_sh("tc qdisc add dev s0 clsact && "
		   "tc filter add dev s0 egress protocol all prio 1 u32 match u32 0 0"),
	     "u32 egress filter");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 1, "u32 egress filter: policy");
	T_EQ(pfd_rt_dev_has_ingress_policy(rt, s0), 0, "egress filter: not ingress");
	kt_sh("tc filter del dev s0 egress");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "filter removed: no policy");
	T_OK(kt_sh("tc filter add dev s0 ingress protocol all prio 1 u32 match u32 0 0"),
	     "u32 ingress filter");
	T_EQ(pfd_rt_dev_has_ingress_policy(rt, s0), 1, "u32 ingress filter: policy");
	kt_sh("tc qdisc del dev s0 clsact");

	/* SCHED_CLS is as old as tc BPF itself: as root, a refused load is a
	 * failure, not a missing feature. */
	T_TRUE(mine >= 0, "load SCHED_CLS program pfd_test");
	T_TRUE(theirs >= 0, "load SCHED_CLS program shaper");
	if (mine < 0 || theirs < 0)
		goto out;
	/* BPF filters: pfd's own (pfd_ name) are not policy, others are. */
	err = bpf_tc_hook_create(&hook);
	T_TRUE(!err || err == -EEXIST, "clsact via libbpf");
	own.prog_fd = mine;
	T_OK(bpf_tc_attach(&hook, &own), "attach pfd_test egress");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "pfd's own bpf filter: no policy");
	other.prog_fd = theirs;
	T_OK(bpf_tc_attach(&hook, &other), "attach shaper egress");
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 1, "someone else's bpf filter: policy");
	hook.attach_point = BPF_TC_EGRESS | BPF_TC_INGRESS;
	bpf_tc_hook_destroy(&hook);
	T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "clsact removed: no policy");

	/* tcx (6.6+): not visible to tc, still skipped by XDP redirect.
	 * Feature probe first: BPF_PROG_QUERY knows the tcx attach types only
	 * on kernels that have tcx, older ones answer -EINVAL for an unknown
	 * attach type (kernel/bpf/syscall.c, bpf_prog_query()). Only that is a
	 * skip; a kernel that has tcx and refuses the attach is a failure. */
	err = bpf_prog_query(s0, 46 /* BPF_TCX_INGRESS */, 0, NULL, NULL, &cnt);
	if (err == -EINVAL) {
		t_skip("tcx", "kernel lacks: tcx (BPF_PROG_QUERY BPF_TCX_INGRESS: EINVAL; 6.6+)");
		goto out;
	}
	T_OK(err, "tcx probe: BPF_PROG_QUERY BPF_TCX_INGRESS");
	T_EQ(cnt, 0, "tcx probe: no tcx ingress program yet");
	err = bpf_prog_attach(theirs, s0, 46 /* BPF_TCX_INGRESS */, 0);
	T_OK(err, "tcx ingress shaper (the kernel has tcx)");
	if (!err) {
		T_EQ(pfd_rt_dev_has_ingress_policy(rt, s0), 1, "tcx ingress program: policy");
		bpf_prog_detach2(theirs, s0, 46);
		T_EQ(pfd_rt_dev_has_ingress_policy(rt, s0), 0, "tcx detached: no policy");
	}
	err = bpf_prog_attach(mine, s0, 47 /* BPF_TCX_EGRESS */, 0);
	T_OK(err, "tcx egress pfd_test");
	if (!err) {
		T_EQ(pfd_rt_dev_has_egress_policy(rt, s0), 0, "pfd's own tcx program: no policy");
		bpf_prog_detach2(mine, s0, 47);
	}
out:
	if (mine >= 0)
		close(mine);
	if (theirs >= 0)
		close(theirs);
	T_EQ(pfd_rt_dev_has_egress_policy(rt, 0), -EINVAL, "ifindex 0: -EINVAL");
}

static void test_neigh(struct pfd_rt *rt)
{
	__be32 a[4];
	char out[512];

	T_OK(kt_sh("ip neigh replace 198.51.100.9 lladdr 02:00:00:00:00:09 nud stale dev s0"),
	     "stale neighbour");
	T_OK(pfd_rt_neigh_use(rt, AF_INET, a4("198.51.100.9", a), s0), "neigh use");
	kt_out(out, sizeof(out), "ip neigh show 198.51.100.9 dev s0");
	T_TRUE(strstr(out, "DELAY") || strstr(out, "PROBE") || strstr(out, "REACHABLE"),
	       "neigh use: STALE -> DELAY (being confirmed)");
	T_OK(kt_sh("ip -6 neigh replace 2001:db8:2::9 lladdr 02:00:00:00:00:09 nud stale dev s0"),
	     "stale v6 neighbour");
	T_OK(pfd_rt_neigh_use(rt, AF_INET6, a6("2001:db8:2::9", a), s0), "neigh use v6");
	kt_out(out, sizeof(out), "ip -6 neigh show 2001:db8:2::9 dev s0");
	T_TRUE(strstr(out, "DELAY") || strstr(out, "PROBE") || strstr(out, "REACHABLE"),
	       "neigh use v6: STALE -> DELAY");
	T_EQ(pfd_rt_neigh_use(rt, AF_INET, a4("198.51.100.99", a), s0), -ENOENT,
	     "neigh use of a missing entry: -ENOENT (not created)");

	/* An operator's static entry must stay exactly as configured. */
	T_OK(kt_sh("ip neigh replace 198.51.100.10 lladdr 02:00:00:00:00:0a nud permanent dev s0"),
	     "permanent neighbour");
	pfd_rt_neigh_use(rt, AF_INET, a4("198.51.100.10", a), s0);
	kt_out(out, sizeof(out), "ip neigh show 198.51.100.10 dev s0");
	T_TRUE(strstr(out, "PERMANENT") != NULL, "neigh use leaves a PERMANENT IPv4 entry alone");
	T_OK(kt_sh("ip -6 neigh replace 2001:db8:2::10 lladdr 02:00:00:00:00:0a nud permanent dev "
		   "s0"),
	     "permanent v6 neighbour");
	pfd_rt_neigh_use(rt, AF_INET6, a6("2001:db8:2::10", a), s0);
	kt_out(out, sizeof(out), "ip -6 neigh show 2001:db8:2::10 dev s0");
	T_TRUE(strstr(out, "PERMANENT") != NULL, "neigh use leaves a PERMANENT IPv6 entry alone");
}

int main(void)
{
	struct pfd_rt *rt = NULL;

	if (kt_netns("rt"))
		return t_done();
	if (kt_sh("ip link add r0 type veth peer name r1 && ip link add s0 type veth peer name s1 "
		  "&& "
		  "ip link set r0 up && ip link set r1 up && ip link set s0 up && ip link set s1 "
		  "up && "
		  "ip addr add 192.0.2.1/24 dev r0 && ip addr add 198.51.100.1/24 dev s0 && "
		  "ip -6 addr add 2001:db8:1::1/64 dev r0 nodad && "
		  "ip -6 addr add 2001:db8:2::1/64 dev s0 nodad && "
		  "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
		  "ip neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev s0 nud permanent && "
		  "ip -6 neigh add 2001:db8:2::2 lladdr 02:00:00:00:00:02 dev s0 nud permanent")) {
		T_TRUE(0, "lab setup");
		return t_done();
	}
	r0 = (int)if_nametoindex("r0");
	s0 = (int)if_nametoindex("s0");
	T_OK(pfd_rt_open(&rt, record, &evlog), "open");
	if (!rt)
		return t_done();
	test_events(rt);
	test_routes(rt);
	test_multipath(rt, 0);
	test_multipath(rt, 1);
	test_fwmark_rules(rt);
	test_xfrm(rt);
	test_tc(rt);
	test_neigh(rt);
	test_enobufs(rt);
	pfd_rt_close(rt);
	return t_done();
}
