// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TC ingress object loaded by hand, as pfd-tc(8) documents:
 *   tc qdisc add dev X clsact
 *   tc filter add dev X ingress bpf da obj pfd_tc_fwd.bpf.o sec tc
 * in a private mount namespace with its own bpffs on /sys/fs/bpf and a
 * private network namespace. tc's libbpf pins the maps by name under
 * /sys/fs/bpf/tc/globals; pfd, opening its objects over the same root,
 * must get the very same maps (by id), and what one side writes the other
 * sees: the hand-loaded program counts into the stats pfd reads, and obeys
 * the device records pfd writes.
 */
#include "lab.h"
#include "pkt.h"

static __u32 pinned_id(const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), id = 0;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", LAB_PIN_ROOT, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		id = info.id;
	close(fd);
	return id;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* The id tc reports for the filter it attached. */
static __u32 tc_prog_id(const char *dev)
{
	char cmd[128], line[512], *p;
	__u32 id = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "timeout 10 tc filter show dev %s ingress", dev);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, " id ")) && strstr(line, "pfd_tc_fwd"))
			id = strtoul(p + 4, NULL, 10);
	pclose(f);
	return id;
}

int main(void)
{
	static const char *const names[] = { "pfd_flows", "pfd_ctl", "pfd_devs", "pfd_stats" };
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	__u32 ids[4], prog_id, map_ids[16] = {}, ifindex;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct pfd_tc_fwd *tc = NULL;
	struct pfd_counter before, after;
	struct lab lab = {};
	int err, prog_fd = -1;

	if (geteuid() != 0) {
		t_skip("tc hand load", "needs root (tc, BPF, namespaces)");
		return t_done();
	}
	err = lab_enter();
	T_OK(err, "private bpffs and netns");
	if (err)
		return t_done();
	rmdir(LAB_PIN_ROOT); /* tc creates its own directory */
	rmdir("/sys/fs/bpf/tc");

	T_OK(lab_sh("ip link add hl0 type veth peer name hl0p && ip link set hl0 up && "
		    "ip link set hl0p up"),
	     "devices");
	ifindex = if_nametoindex("hl0");
	err = lab_sh("timeout 10 tc qdisc add dev hl0 clsact && timeout 20 tc filter add dev hl0 "
		     "ingress bpf da obj %s/tc-bpf/pfd_tc_fwd.bpf.o sec tc",
		     build);
	T_OK(err, "tc filter add ... obj pfd_tc_fwd.bpf.o sec tc");
	if (err)
		return t_done();

	for (int i = 0; i < 4; i++) {
		ids[i] = pinned_id(names[i]);
		T_TRUE(ids[i] != 0, names[i]);
	}

	/* The attached program uses the pinned maps. */
	prog_id = tc_prog_id("hl0");
	T_TRUE(prog_id != 0, "tc reports the program id");
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	T_TRUE(prog_fd >= 0, "program by id");
	info.nr_map_ids = 16;
	info.map_ids = (__u64)(unsigned long)map_ids;
	T_OK(bpf_obj_get_info_by_fd(prog_fd, &info, &len), "program info");
	for (int i = 0; i < 4; i++) {
		int found = 0;

		for (__u32 j = 0; j < info.nr_map_ids && j < 16; j++)
			found |= map_ids[j] == ids[i];
		T_TRUE(found, "hand-loaded program uses the pinned map");
	}

	/* pfd opens its objects over the same root and adopts them. */
	{
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);

		tc = pfd_tc_fwd__open_opts(&opts);
		T_TRUE(tc != NULL, "pfd opens the tc object");
		T_OK(tc ? pfd_tc_fwd__load(tc) : -1, "pfd loads it over tc's pins");
	}
	lab.xdp = lab_xdp_open();
	T_TRUE(lab.xdp != NULL, "pfd loads the xdp object over tc's pins");
	if (!tc || !lab.xdp)
		return t_done();
	T_EQ(map_id(bpf_map__fd(tc->maps.pfd_flows)), ids[0], "pfd_flows shared");
	T_EQ(map_id(bpf_map__fd(lab.xdp->maps.pfd_ctl)), ids[1], "pfd_ctl shared");
	T_EQ(map_id(bpf_map__fd(lab.xdp->maps.pfd_devs)), ids[2], "pfd_devs shared");
	T_EQ(map_id(bpf_map__fd(lab.xdp->maps.pfd_stats)), ids[3], "pfd_stats shared");

	/* Both ways: run the hand-loaded program, read pfd's view. */
	lab.stats_fd = bpf_map__fd(lab.xdp->maps.pfd_stats);
	lab.devs_fd = bpf_map__fd(lab.xdp->maps.pfd_devs);
	lab.ncpus = libbpf_num_possible_cpus();
	{
		struct pkt_spec s = { .src = "192.0.2.10",
				      .dst = "198.51.100.2",
				      .sport = 1,
				      .dport = 2,
				      .payload = 10 };
		struct __sk_buff skb = { .ifindex = ifindex };
		__u8 in[2048], out[2048];
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_out = out,
			    .data_size_out = sizeof(out), .ctx_in = &skb,
			    .ctx_size_in = sizeof(skb), .repeat = 1);
		struct pfd_dev dev = { .slot = 5, .flags = PFD_DEV_F_TC };

		opts.data_size_in = pkt_build(&s, in);
		before = lab_stat(&lab, 0, PFD_HOOK_TC, PFD_R_NO_DEV);
		T_OK(bpf_prog_test_run_opts(prog_fd, &opts), "hand-loaded program runs");
		T_EQ(opts.retval, 0, "unregistered device: TC_ACT_OK");
		after = lab_stat(&lab, 0, PFD_HOOK_TC, PFD_R_NO_DEV);
		T_EQ(after.packets - before.packets, 1, "its count shows in pfd's stats (no_dev)");

		T_OK(bpf_map_update_elem(lab.devs_fd, &ifindex, &dev, BPF_ANY),
		     "pfd registers hl0");
		before = lab_stat(&lab, dev.slot, PFD_HOOK_TC, PFD_R_ABI);
		opts.data_size_out = sizeof(out);
		T_OK(bpf_prog_test_run_opts(prog_fd, &opts), "hand-loaded program runs again");
		after = lab_stat(&lab, dev.slot, PFD_HOOK_TC, PFD_R_ABI);
		T_EQ(after.packets - before.packets, 1,
		     "it sees pfd's device record (slot 5) and the empty control block (abi)");
		T_EQ(opts.retval, 0, "no control block: TC_ACT_OK");
	}

	close(prog_fd);
	pfd_tc_fwd__destroy(tc);
	pfd_xdp__destroy(lab.xdp);
	lab_sh("tc qdisc del dev hl0 clsact");
	return t_done();
}
