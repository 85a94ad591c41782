// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's attach of the TC egress programs (pfd/egress.c), against the real
 * kernel in a private network and mount namespace with its own bpffs: a
 * configuration becomes filters at pfd's priorities on the right devices and
 * exactly the right map entries under <bpffs>/tc/globals; a reload moves and
 * removes them without touching an operator's filter; jitter sets up fq or,
 * on a kernel without sch_fq (this machine's), refuses with -EOPNOTSUPP and
 * attaches nothing; detach-all removes filters and pins.
 */
#include <linux/pkt_cls.h>

#include "egress_lab.h"
#include "../../pfd/tc_egress.h"
#include "pfd/log.h"

static int feed(struct pfd_egress_config *ec, const char *line)
{
	char buf[256], err[256], *args[8], *key, *save = NULL;
	int n = 0, rc;

	snprintf(buf, sizeof(buf), "%s", line);
	key = strtok_r(buf, " ", &save);
	while (n < 8 && (args[n] = strtok_r(NULL, " ", &save)))
		n++;
	rc = pfd_egress_config_line(ec, key, args, n, err, sizeof(err));
	if (rc != 1)
		printf("  %s: %s\n", line, err);
	return rc;
}

/* Name of the program at (handle 1, prio) on dev's egress hook, "" if none. */
static void egress_prog(const char *dev, uint32_t prio, char *name, size_t len)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex(dev),
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio);
	struct bpf_prog_info info = {};
	uint32_t ilen = sizeof(info);
	int fd;

	libbpf_print_fn_t print = libbpf_set_print(NULL); /* "no such filter" is an answer */
	int err = bpf_tc_query(&hook, &opts);

	libbpf_set_print(print);
	name[0] = 0;
	if (err)
		return;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(name, len, "%s", info.name);
	if (fd >= 0)
		close(fd);
}

static int pinned_fd(const char *map)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/tc/globals/%s", lab_bpffs, map);
	return bpf_obj_get(path);
}

static int count_entries(int fd, size_t ksz)
{
	unsigned char key[64], next[64];
	int n = 0, rc;

	for (rc = bpf_map_get_next_key(fd, NULL, next); !rc && n < 10000;
	     rc = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, ksz);
		n++;
	}
	return n;
}

int main(void)
{
	static struct pfd_egress_config ec;
	const char *why = lab_enter(), *attach[] = { "pfda2" };
	struct pfd_egress *eg = NULL;
	struct pfd_mss_conf v;
	char name[32], msg[256];
	uint32_t k;
	int fd, rc, fq;

	if (why) {
		t_skip("test_egress_attach", why);
		return t_done();
	}
	pfd_log_init(LOG_WARNING, false);
	lab_veth("pfda0", "pfda1", 1500);
	lab_veth("pfda2", "pfda3", 1500);
	lab_veth("pfda4", "pfda5", 1500);
	/* An operator's own egress filter that pfd must leave alone. */
	T_OK(system("tc qdisc add dev pfda0 clsact && tc filter add dev pfda0 egress prio 7 "
		    "bpf bytecode '1,6 0 0 0,'"),
	     "operator's filter on pfda0");

	pfd_egress_config_init(&ec);
	T_EQ(feed(&ec, "mss 1400"), 1, "mss 1400");
	T_EQ(feed(&ec, "mss-device pfda0 1300"), 1, "mss-device pfda0 1300");
	T_EQ(feed(&ec, "mss-prefix 198.51.100.0/24 dst 1200 pfda0"), 1, "mss-prefix ... pfda0");
	rc = pfd_egress_apply(&eg, &ec, lab_bpffs, attach, 1);
	T_OK(rc, "apply: mss on pfda0 (device) and pfda2 (attach device, default)");

	egress_prog("pfda0", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, PFD_TC_MSS_PROG, "pfda0: clamp at pfd's priority");
	egress_prog("pfda2", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, PFD_TC_MSS_PROG, "pfda2: clamp (default ceiling applies to attach devices)");
	egress_prog("pfda4", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, "", "pfda4: nothing");

	fd = pinned_fd(PFD_MAP_MSS_CFG);
	T_TRUE(fd >= 0, "pfd_mss_cfg pinned under <bpffs>/tc/globals");
	k = 0;
	T_OK(bpf_map_lookup_elem(fd, &k, &v), "default entry");
	T_EQ(v.mss, 1400, "default 1400");
	k = if_nametoindex("pfda0");
	T_OK(bpf_map_lookup_elem(fd, &k, &v), "pfda0 entry");
	T_EQ(v.mss, 1300, "pfda0 1300");
	T_EQ(count_entries(fd, 4), 2, "pfd_mss_cfg: exactly 2 entries");
	close(fd);
	fd = pinned_fd(PFD_MAP_MSS_PFX);
	{
		struct pfd_egress_pfx_key pk =
			lab_pfx("198.51.100.0", 24, if_nametoindex("pfda0"), PFD_PFX_DST);
		T_OK(bpf_map_lookup_elem(fd, &pk, &v), "prefix+device entry");
		T_EQ(v.mss, 1200, "prefix 1200");
		T_EQ(v.plen, 24, "prefix entry carries its length");
	}
	close(fd);

	/* Reload: the clamp moves from pfda0/pfda2 to pfda4 only. */
	pfd_egress_config_init(&ec);
	T_EQ(feed(&ec, "mss-device pfda4 mtu"), 1, "mss-device pfda4 mtu");
	rc = pfd_egress_apply(&eg, &ec, lab_bpffs, attach, 1);
	T_OK(rc, "reapply");
	egress_prog("pfda4", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, PFD_TC_MSS_PROG, "reload: pfda4 clamped");
	egress_prog("pfda0", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, "", "reload: pfda0 filter removed");
	egress_prog("pfda2", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, "", "reload: pfda2 filter removed");
	T_OK(system("tc filter show dev pfda0 egress | grep -q 'pref 7 bpf.*bytecode'"),
	     "reload: the operator's filter on pfda0 is still there");
	fd = pinned_fd(PFD_MAP_MSS_CFG);
	T_EQ(count_entries(fd, 4), 1, "reload: stale ceilings deleted");
	close(fd);
	fd = pinned_fd(PFD_MAP_MSS_PFX);
	T_EQ(count_entries(fd, sizeof(struct pfd_egress_pfx_key)), 0,
	     "reload: stale prefix deleted");
	close(fd);

	/* Jitter: fq or a clear refusal. */
	fq = pfd_egress_probe_fq(msg, sizeof(msg));
	printf("  sch_fq probe: %d (%s)\n", fq, msg);
	T_TRUE(fq == 0 || fq == 1, "sch_fq probe answers");
	T_EQ(feed(&ec, "jitter pfda2 1ms 5ms"), 1, "jitter pfda2 1ms 5ms");
	rc = pfd_egress_apply(&eg, &ec, lab_bpffs, attach, 1);
	egress_prog("pfda2", PFD_TC_JITTER_PRIO, name, sizeof(name));
	if (fq == 1) {
		T_OK(rc, "jitter attached (sch_fq present)");
		T_STR(name, PFD_TC_JITTER_PROG, "pfda2: jitter filter");
		T_OK(system("tc qdisc show dev pfda2 root | grep -q '^qdisc fq '"),
		     "pfda2: root fq");
	} else {
		T_EQ(rc, -EOPNOTSUPP, "no sch_fq: apply says -EOPNOTSUPP");
		T_STR(name, "", "no sch_fq: no jitter filter (it could not delay anything)");
		egress_prog("pfda4", PFD_TC_MSS_PRIO, name, sizeof(name));
		T_STR(name, PFD_TC_MSS_PROG, "no sch_fq: the clamp elsewhere is unaffected");
	}
	/* An operator's shaping qdisc is never replaced. */
	T_OK(system("tc qdisc add dev pfda4 root tbf rate 10mbit burst 32kb latency 50ms"),
	     "operator's tbf on pfda4");
	pfd_egress_config_init(&ec);
	feed(&ec, "jitter pfda4 1ms 5ms");
	rc = pfd_egress_apply(&eg, &ec, lab_bpffs, attach, 1);
	T_EQ(rc, -EBUSY, "jitter on a device with an operator's root qdisc: -EBUSY");
	T_OK(system("tc qdisc show dev pfda4 root | grep -q '^qdisc tbf '"), "tbf left in place");

	{
		uint64_t mss[PFD_MSS_S__COUNT], jit[PFD_JIT_S__COUNT];

		T_OK(pfd_egress_read_stats(lab_bpffs, mss, jit), "counters readable from the pins");
		T_STR(pfd_egress_mss_stat_key(PFD_MSS_S_CLAMPED), "clamped", "stat key");
	}

	pfd_egress_close(eg);
	T_OK(pfd_egress_detach_all(lab_bpffs), "detach all");
	egress_prog("pfda4", PFD_TC_MSS_PRIO, name, sizeof(name));
	T_STR(name, "", "detach all: filters gone");
	T_TRUE(pinned_fd(PFD_MAP_MSS_CFG) < 0, "detach all: pins gone");
	T_OK(system("tc filter show dev pfda0 egress | grep -q 'pref 7 bpf.*bytecode'"),
	     "detach all: the operator's filter stays");
	lab_leave();
	return t_done();
}
