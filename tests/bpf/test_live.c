// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path with real frames on real devices, both hooks: a frame sent
 * into the lab's in0 (through its veth peer) is taken by the program attached
 * to in0 (native XDP, then TC ingress), rewritten and redirected out of out0,
 * and must arrive on out0's peer exactly as built from scratch (NAT, MACs,
 * TTL, fully recomputed checksums), with the forwarded counter and the
 * flow's counters moved. A frame of no flow is passed (counted no_flow) and
 * the kernel forwards it, unchanged but for MACs and TTL. Bounded: one frame
 * per case, one second of waiting at most.
 */
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "lab.h"
#include "pkt.h"

static int packet_socket(const char *dev)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -errno;
	sll.sll_ifindex = if_nametoindex(dev);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int send_frame(int fd, const char *dev, const __u8 *frame, size_t len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };

	sll.sll_ifindex = if_nametoindex(dev);
	memcpy(sll.sll_addr, frame, 6);
	return sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len ?
		       0 :
		       -errno;
}

/* Waits up to wait_ms for a frame to dst_mac; returns its length or 0. */
static size_t recv_frame_wait(int fd, const __u8 *dst_mac, __u8 *buf, size_t cap, int wait_ms)
{
	__u64 deadline = lab_now_ns() + wait_ms * 1000000ULL;

	while (lab_now_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n >= 14 && !memcmp(buf, dst_mac, 6))
			return n;
	}
	return 0;
}

static size_t recv_frame(int fd, const __u8 *dst_mac, __u8 *buf, size_t cap)
{
	return recv_frame_wait(fd, dst_mac, buf, cap, 1000);
}

static void drain(int fd)
{
	__u8 buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int attach(struct lab *lab, int hook, struct bpf_tc_hook *tch)
{
	int in0 = lab->ifindex[IN0], err;

	if (hook == PFD_HOOK_XDP)
		return bpf_xdp_attach(in0, bpf_program__fd(lab->xdp->progs.pfd_xdp_fwd),
				      XDP_FLAGS_DRV_MODE, NULL);
	tch->ifindex = in0;
	tch->attach_point = BPF_TC_INGRESS;
	err = bpf_tc_hook_create(tch);
	if (err && err != -EEXIST)
		return err;
	{
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = bpf_program__fd(lab->tc->progs.pfd_tc_fwd));

		return bpf_tc_attach(tch, &o);
	}
}

static void detach(struct lab *lab, int hook, struct bpf_tc_hook *tch)
{
	if (hook == PFD_HOOK_XDP) {
		bpf_xdp_detach(lab->ifindex[IN0], XDP_FLAGS_DRV_MODE, NULL);
		return;
	}
	tch->attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(tch);
}

struct live_case {
	const char *name;
	struct pkt_spec in;
	struct pkt_spec out; /* NAT'd fields; TTL and MACs filled below */
	__u32 flags;
	int fwd;
};

static void run_case(struct lab *lab, int hook, const struct live_case *c, int tx, int rx)
{
	struct pfd_flow_key key = {};
	struct pfd_flow val = {}, after;
	struct pfd_counter b, a;
	struct pkt_spec o = c->out;
	__u8 in[2048], want[2048], got[4096];
	size_t in_len = pkt_build(&c->in, in), want_len, got_len;
	int af = c->in.v6 ? AF_INET6 : AF_INET;
	char name[160];
	__u32 reason = c->fwd ? PFD_R_FORWARDED : PFD_R_NO_FLOW;

	snprintf(name, sizeof(name), "live: %s [%s]", c->name, hook == PFD_HOOK_XDP ? "xdp" : "tc");
	lab_flows_clear(lab);
	key.ifindex = lab->ifindex[IN0];
	key.family = af;
	key.l4proto = c->in.proto ? c->in.proto : IPPROTO_TCP;
	inet_pton(af, c->in.src, key.saddr);
	inet_pton(af, c->in.dst, key.daddr);
	key.sport = htons(c->in.sport);
	key.dport = htons(c->fwd ? c->in.dport : c->in.dport + 1);
	val.flags = c->flags;
	val.oif = lab->ifindex[OUT0];
	inet_pton(af, o.src, val.nat_saddr);
	inet_pton(af, o.dst, val.nat_daddr);
	val.nat_sport = htons(o.sport);
	val.nat_dport = htons(o.dport);
	T_OK(bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY), name);

	o.ttl = (c->in.ttl ? c->in.ttl : 64) - 1;
	o.smac = lab_dev_mac[OUT0];
	o.dmac = lab_nb_mac[OUT0];
	want_len = pkt_build(&o, want);

	drain(rx);
	b = lab_stat(lab, lab_dev_slot[IN0], hook, reason);
	T_OK(send_frame(tx, "in0p", in, in_len), name);
	got_len = recv_frame(rx, lab_nb_mac[OUT0], got, sizeof(got));
	/* Forwarded by the program, or passed and forwarded by the kernel
	 * (same route, no NAT): the same bytes arrive; the counters say who. */
	T_TRUE(got_len > 0, name);
	T_BYTES(got, got_len, want, want_len, name);
	/* Counters are updated before the redirect completes. */
	a = lab_stat(lab, lab_dev_slot[IN0], hook, reason);
	T_EQ(a.packets - b.packets, 1, name);
	if (c->fwd) {
		T_OK(bpf_map_lookup_elem(lab->flows_fd, &key, &after), name);
		T_EQ(after.packets, 1, name);
		T_EQ(after.bytes, in_len - 14, name);
	}
}

/*
 * CHECKSUM_PARTIAL through TC: a client in its own netns sends a UDP datagram
 * from a socket over a veth with checksum offload on, so the skb reaches TC
 * ingress with only the pseudo-header sum in the UDP field. The program SNATs
 * it; out0 has tx offload off, so the kernel completes the checksum in
 * software on the way out, from what the program left: the datagram on the
 * wire is valid only if the pseudo-header was updated and the ports were
 * not added (bpf_l4_csum_replace() with BPF_F_PSEUDO_HDR, as nf_flow_table).
 */
static void test_tc_partial(struct lab *lab, int rx)
{
	struct bpf_tc_hook tch = { .sz = sizeof(tch), .attach_point = BPF_TC_INGRESS };
	struct pfd_dev dev = { .slot = 6, .flags = PFD_DEV_F_TC };
	const char *name = "live: tc snat of a CHECKSUM_PARTIAL udp datagram";
	int ready[2], go[2], status, err;
	struct pfd_flow_key key = {};
	struct pfd_flow val = {};
	struct pfd_counter b, a;
	__u8 got[4096], src[4];
	size_t got_len;
	__u32 ifindex;
	char c = 0;
	pid_t pid;

	if (lab_sh("ip link add cl0 type veth peer name cl0p && "
		   "ip link set cl0 address 02:00:00:00:01:03 up") ||
	    pipe(ready) || pipe(go)) {
		T_TRUE(0, name);
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(40000) };
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(53) };
		__u8 payload[100];
		int fd;

		if (unshare(CLONE_NEWNET) || write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		if (system("ip link set lo up && ip link set cl0p up && "
			   "ip addr add 192.0.2.10/24 dev cl0p && "
			   "ip neigh add 192.0.2.1 lladdr 02:00:00:00:01:03 dev cl0p nud permanent "
			   "&& "
			   "ip route add 198.51.100.0/24 via 192.0.2.1"))
			_exit(2);
		inet_pton(AF_INET, "192.0.2.10", &me.sin_addr);
		inet_pton(AF_INET, "198.51.100.2", &to.sin_addr);
		memset(payload, 0x5a, sizeof(payload));
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
		    sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)) !=
			    sizeof(payload))
			_exit(3);
		_exit(0);
	}
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		T_TRUE(0, name);
		return;
	}
	err = lab_sh("ip link set cl0p netns %d && timeout 10 ethtool -K out0 tx off >/dev/null",
		     (int)pid);
	ifindex = if_nametoindex("cl0");
	tch.ifindex = ifindex;
	err = err ?: bpf_tc_hook_create(&tch);
	if (!err) {
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = bpf_program__fd(lab->tc->progs.pfd_tc_fwd));

		err = bpf_tc_attach(&tch, &o);
	}
	err = err ?: bpf_map_update_elem(lab->devs_fd, &ifindex, &dev, BPF_ANY);
	key.ifindex = ifindex;
	key.family = AF_INET;
	key.l4proto = IPPROTO_UDP;
	inet_pton(AF_INET, "192.0.2.10", key.saddr);
	inet_pton(AF_INET, "198.51.100.2", key.daddr);
	key.sport = htons(40000);
	key.dport = htons(53);
	val.flags = PFD_FLOW_F_SNAT;
	val.oif = lab->ifindex[OUT0];
	inet_pton(AF_INET, "198.51.100.1", val.nat_saddr);
	val.nat_daddr[0] = key.daddr[0];
	val.nat_sport = htons(1024);
	val.nat_dport = key.dport;
	err = err ?: bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY);
	T_OK(err, name);

	drain(rx);
	b = lab_stat(lab, dev.slot, PFD_HOOK_TC, PFD_R_FORWARDED);
	if (write(go[1], &c, 1) != 1)
		T_TRUE(0, name);
	T_TRUE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status), name);
	got_len = recv_frame(rx, lab_nb_mac[OUT0], got, sizeof(got));
	a = lab_stat(lab, dev.slot, PFD_HOOK_TC, PFD_R_FORWARDED);
	T_EQ(a.packets - b.packets, 1, name);
	T_EQ(got_len, 14 + 20 + 8 + 100, name);
	if (got_len == 14 + 20 + 8 + 100) {
		inet_pton(AF_INET, "198.51.100.1", src);
		T_BYTES(got + 26, 4, src, 4, name);
		T_EQ(get16(got + 34), 1024, name);
		T_EQ(pkt_fold(pkt_sum(got + 14, 20, 0)), 0xffff, "live: ip header checksum valid");
		T_EQ(pkt_fold(pkt_sum(got + 34, 108, pkt_pseudo(0, got + 26, got + 30, 17, 108))),
		     0xffff, "live: udp checksum valid after software completion");
	}
	tch.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&tch);
	lab_sh("timeout 10 ethtool -K out0 tx on >/dev/null"); /* cl0 left with the netns */
}

/*
 * A VLAN-tagged frame carrying a flow's tuple. XDP sees the tag in the frame;
 * at TC ingress the stack has already moved it out of the frame
 * (skb_vlan_untag() in __netif_receive_skb_core()), so only the skb's
 * vlan_present tells. Both must pass it (not_ip), and nothing may leave out0
 * (the lab has no VLAN device: the kernel drops it).
 */
static void run_vlan(struct lab *lab, int hook, int tx, int rx)
{
	struct pkt_spec s = { .src = "192.0.2.10",
			      .dst = "198.51.100.2",
			      .sport = 40000,
			      .dport = 80,
			      .payload = 20,
			      .vlan = 1,
			      .dmac = lab_dev_mac[IN0] };
	struct pfd_flow_key key = {};
	struct pfd_flow val = {};
	struct pfd_counter b, a;
	__u8 in[2048], got[4096];
	size_t len = pkt_build(&s, in);
	char name[96];

	snprintf(name, sizeof(name), "live: vlan tagged frame of a flow passes [%s]",
		 hook == PFD_HOOK_XDP ? "xdp" : "tc");
	lab_flows_clear(lab);
	key.ifindex = lab->ifindex[IN0];
	key.family = AF_INET;
	key.l4proto = IPPROTO_TCP;
	inet_pton(AF_INET, s.src, key.saddr);
	inet_pton(AF_INET, s.dst, key.daddr);
	key.sport = htons(s.sport);
	key.dport = htons(s.dport);
	val.oif = lab->ifindex[OUT0];
	val.nat_saddr[0] = key.saddr[0];
	val.nat_daddr[0] = key.daddr[0];
	val.nat_sport = key.sport;
	val.nat_dport = key.dport;
	T_OK(bpf_map_update_elem(lab->flows_fd, &key, &val, BPF_ANY), name);
	drain(rx);
	b = lab_stat(lab, lab_dev_slot[IN0], hook, PFD_R_NOT_IP);
	T_OK(send_frame(tx, "in0p", in, len), name);
	T_EQ(recv_frame_wait(rx, lab_nb_mac[OUT0], got, sizeof(got), 300), 0, name);
	a = lab_stat(lab, lab_dev_slot[IN0], hook, PFD_R_NOT_IP);
	T_EQ(a.packets - b.packets, 1, name);
}

int main(void)
{
	static const struct live_case cases[] = {
		{ "v4 tcp snat+dnat arrives rewritten",
		  { .src = "192.0.2.10",
		    .dst = "203.0.113.9",
		    .sport = 40000,
		    .dport = 80,
		    .payload = 200,
		    .dmac = lab_dev_mac[IN0] },
		  { .src = "198.51.100.1",
		    .dst = "198.51.100.2",
		    .sport = 50000,
		    .dport = 8080,
		    .payload = 200 },
		  PFD_FLOW_F_SNAT | PFD_FLOW_F_DNAT,
		  1 },
		{ "v6 udp dnat arrives rewritten",
		  { .v6 = 1,
		    .proto = IPPROTO_UDP,
		    .src = "2001:db8:1::10",
		    .dst = "2001:db8:2::2",
		    .sport = 40001,
		    .dport = 53,
		    .payload = 100,
		    .dmac = lab_dev_mac[IN0] },
		  { .v6 = 1,
		    .proto = IPPROTO_UDP,
		    .src = "2001:db8:1::10",
		    .dst = "2001:db8:2::2",
		    .sport = 40001,
		    .dport = 5353,
		    .payload = 100 },
		  PFD_FLOW_F_DNAT,
		  1 },
		{ "no flow: the kernel forwards it",
		  { .src = "192.0.2.10",
		    .dst = "198.51.100.2",
		    .sport = 40000,
		    .dport = 80,
		    .payload = 20,
		    .dmac = lab_dev_mac[IN0] },
		  { .src = "192.0.2.10",
		    .dst = "198.51.100.2",
		    .sport = 40000,
		    .dport = 80,
		    .payload = 20 },
		  0,
		  0 },
	};
	struct bpf_tc_hook tch = { .sz = sizeof(tch) };
	struct pfd_ctl ctl;
	struct lab lab;
	int err, tx, rx;

	if (geteuid() != 0) {
		t_skip("live", "needs root (XDP, TC, namespaces)");
		return t_done();
	}
	err = lab_init(&lab);
	T_OK(err, "lab set up");
	if (err)
		return t_done();
	T_OK(lab_devs_reset(&lab, 0), "devices registered");
	lab_ctl_live(&ctl);
	T_OK(lab_ctl_set(&lab, &ctl), "control block");
	/* A veth receiving XDP_REDIRECT frames needs XDP on its peer. */
	T_OK(bpf_xdp_attach(if_nametoindex("out0p"), bpf_program__fd(lab.xdp->progs.pfd_xdp_fwd),
			    XDP_FLAGS_DRV_MODE, NULL),
	     "xdp on out0p");
	tx = packet_socket("in0p");
	rx = packet_socket("out0p");
	T_TRUE(tx >= 0 && rx >= 0, "packet sockets");
	if (tx < 0 || rx < 0)
		return t_done();

	for (int hook = 0; hook < PFD_HOOKS; hook++) {
		err = attach(&lab, hook, &tch);
		T_OK(err, hook == PFD_HOOK_XDP ? "attach xdp to in0" : "attach tc to in0");
		if (err)
			continue;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_case(&lab, hook, &cases[i], tx, rx);
		run_vlan(&lab, hook, tx, rx);
		detach(&lab, hook, &tch);
	}
	test_tc_partial(&lab, rx);
	close(tx);
	close(rx);
	lab_fini(&lab);
	return t_done();
}
