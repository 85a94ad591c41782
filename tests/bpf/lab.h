/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The datapath tests' lab: a private network namespace with veth pairs (this
 * kernel has no dummy driver; the peers stay idle),
 * addresses from the documentation ranges, routes (blackhole, unreachable,
 * prohibit, a source rule and a fwmark rule into table 100), permanent
 * neighbours, and a private bpffs mounted over /sys/fs/bpf in a private mount
 * namespace, so the pinned maps of the fast path objects (opened as pfd opens
 * them, pin_root_path = <bpffs>/tc/globals) never touch the host. Also the
 * map helpers the tables use. #included by tests/bpf/test_fastpath.c and
 * test_property.c.
 */
#ifndef PFD_TEST_LAB_H
#define PFD_TEST_LAB_H

#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <pfd/abi.h>
#include <pfd/reasons.h>

#include "pfd/bpf.h" /* struct pfd_maps */

#include "pfd_tc_fwd.skel.h"
#include "pfd_xdp.skel.h"
#include "t.h"

#define LAB_PIN_ROOT "/sys/fs/bpf/tc/globals"

/* Lab devices. IN0 is the registered ingress, IN1 an unregistered one;
 * OUT0 and OUT1 are registered egresses (pfd_devs and the devmap), OUT2 is in
 * pfd_devs only (TC may use it, XDP may not), OUT3 is not registered. */
enum { IN0, IN1, OUT0, OUT1, OUT2, OUT3, LAB_DEVS };

static const char *const lab_dev_name[LAB_DEVS] = { "in0", "in1", "out0", "out1", "out2", "out3" };
static const __u8 lab_dev_mac[LAB_DEVS][6] = {
	{ 2, 0, 0, 0, 1, 1 }, { 2, 0, 0, 0, 1, 2 }, { 2, 0, 0, 0, 2, 1 },
	{ 2, 0, 0, 0, 3, 1 }, { 2, 0, 0, 0, 4, 1 }, { 2, 0, 0, 0, 5, 1 },
};
/* Slots: 0 for unregistered devices. */
static const __u32 lab_dev_slot[LAB_DEVS] = { 1, 0, 2, 3, 4, 0 };
/* The permanent neighbour behind each egress. */
static const __u8 lab_nb_mac[LAB_DEVS][6] = {
	{ 0 },
	{ 0 },
	{ 2, 0, 0, 0, 2, 2 },
	{ 2, 0, 0, 0, 3, 2 },
	{ 2, 0, 0, 0, 4, 2 },
	{ 2, 0, 0, 0, 5, 2 },
};

struct lab {
	struct pfd_xdp *xdp;
	struct pfd_tc_fwd *tc;
	int ifindex[LAB_DEVS];
	int flows_fd, devs_fd, ctl_fd, stats_fd, tx_fd;
	struct pfd_maps blocks; /* the block maps, for pfd/block.c */
	int ncpus;
};

static inline int lab_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int lab_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "lab: command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* Everything the lab needs, in one batch for `ip -batch` (which takes no
 * -6: families come from the addresses). */
static const char lab_ip_batch[] =
	"link add in0 type veth peer name in0p\n"
	"link add in1 type veth peer name in1p\n"
	"link add out0 type veth peer name out0p\n"
	"link add out1 type veth peer name out1p\n"
	"link add out2 type veth peer name out2p\n"
	"link add out3 type veth peer name out3p\n"
	"link set in0 address 02:00:00:00:01:01 arp on up\n"
	"link set in1 address 02:00:00:00:01:02 arp on up\n"
	"link set out0 address 02:00:00:00:02:01 arp on up\n"
	"link set out1 address 02:00:00:00:03:01 arp on mtu 1280 up\n"
	"link set out2 address 02:00:00:00:04:01 arp on up\n"
	"link set out3 address 02:00:00:00:05:01 arp on up\n"
	"link set in0p up\nlink set in1p up\nlink set out0p up\n"
	"link set out1p mtu 1280 up\nlink set out2p up\nlink set out3p up\n"
	"addr add 192.0.2.1/24 dev in0\n"
	"addr add 2001:db8:1::1/64 dev in0 nodad\n"
	"addr add 198.51.100.1/26 dev out0\n"
	"addr add 2001:db8:2::1/64 dev out0 nodad\n"
	"addr add 203.0.113.1/26 dev out1\n"
	"addr add 2001:db8:3::1/64 dev out1 nodad\n"
	"addr add 198.51.100.65/26 dev out2\n"
	"addr add 2001:db8:5::1/64 dev out2 nodad\n"
	"addr add 198.51.100.129/26 dev out3\n"
	"addr add 2001:db8:6::1/64 dev out3 nodad\n"
	"neigh add 198.51.100.2 lladdr 02:00:00:00:02:02 nud permanent dev out0\n"
	"neigh add 2001:db8:2::2 lladdr 02:00:00:00:02:02 nud permanent dev out0\n"
	"neigh add 203.0.113.2 lladdr 02:00:00:00:03:02 nud permanent dev out1\n"
	"neigh add 2001:db8:3::2 lladdr 02:00:00:00:03:02 nud permanent dev out1\n"
	"neigh add 198.51.100.66 lladdr 02:00:00:00:04:02 nud permanent dev out2\n"
	"neigh add 2001:db8:5::2 lladdr 02:00:00:00:04:02 nud permanent dev out2\n"
	"neigh add 198.51.100.130 lladdr 02:00:00:00:05:02 nud permanent dev out3\n"
	"neigh add 2001:db8:6::2 lladdr 02:00:00:00:05:02 nud permanent dev out3\n"
	"route add blackhole 203.0.113.64/26\n"
	"route add unreachable 203.0.113.128/26\n"
	"route add prohibit 203.0.113.192/26\n"
	"route add blackhole 2001:db8:a::/48\n"
	"route add unreachable 2001:db8:b::/48\n"
	"route add prohibit 2001:db8:c::/48\n"
	"route add default via 203.0.113.2 dev out1 table 100\n"
	"route add ::/0 via 2001:db8:3::2 dev out1 table 100\n"
	"rule add from 192.0.2.99 lookup 100 pref 100\n"
	"rule add fwmark 0x42 lookup 100 pref 101\n";

static inline int lab_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -errno;
	rc = fputs(val, f) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

/* Private network and mount namespaces; a fresh bpffs for the pins. */
static inline int lab_enter(void)
{
	if (geteuid() != 0)
		return -EPERM;
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		perror("lab: unshare");
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
		perror("lab: mount");
		return -errno;
	}
	mkdir("/sys/fs/bpf/tc", 0700);
	mkdir(LAB_PIN_ROOT, 0700);
	return 0;
}

static inline int lab_net_setup(struct lab *lab)
{
	char path[] = "/tmp/pfd-lab-XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return -errno;
	if (write(fd, lab_ip_batch, sizeof(lab_ip_batch) - 1) !=
	    (ssize_t)sizeof(lab_ip_batch) - 1) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	rc = lab_write("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	     lab_write("/proc/sys/net/ipv6/conf/all/forwarding", "1");
	if (!rc)
		rc = lab_sh("ip link set lo up && timeout 10 ip -batch %s && "
			    "ip -6 rule add from 2001:db8:1::99 lookup 100 pref 100 && "
			    "ip -6 rule add fwmark 0x42 lookup 100 pref 101",
			    path);
	unlink(path);
	if (rc)
		return -EIO;
	for (int i = 0; i < LAB_DEVS; i++) {
		lab->ifindex[i] = if_nametoindex(lab_dev_name[i]);
		if (!lab->ifindex[i])
			return -ENODEV;
	}
	return 0;
}

/*
 * Opens and loads the XDP object as pfd must: every map reused from its pin
 * by libbpf, except the devmap, which libbpf 1.1 cannot match against its
 * pin (see xdp-bpf/maps.bpf.h) and which is therefore adopted by hand.
 */
static inline struct pfd_xdp *lab_xdp_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);
	struct pfd_xdp *xdp = pfd_xdp__open_opts(&opts);
	int fd, err;

	if (!xdp)
		return NULL;
	fd = bpf_obj_get(LAB_PIN_ROOT "/pfd_tx_ports");
	if (fd >= 0) {
		err = bpf_map__set_pin_path(xdp->maps.pfd_tx_ports, NULL);
		if (!err)
			err = bpf_map__reuse_fd(xdp->maps.pfd_tx_ports, fd);
		close(fd);
		if (err)
			goto err_destroy;
	}
	xdp->rodata->pfd_synp_helpers = pfd_bpf_have_syncookie_helpers();
	err = pfd_xdp__load(xdp);
	if (err)
		goto err_destroy;
	return xdp;

err_destroy:
	pfd_xdp__destroy(xdp);
	errno = -err;
	return NULL;
}

static inline int lab_open(struct lab *lab)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);
	int err;

	lab->xdp = lab_xdp_open();
	if (!lab->xdp)
		return -errno;
	/* Opened second: reuses every pin the XDP object created. */
	lab->tc = pfd_tc_fwd__open_opts(&opts);
	if (!lab->tc)
		return -errno;
	err = pfd_tc_fwd__load(lab->tc);
	if (err)
		return err;
	lab->flows_fd = bpf_map__fd(lab->xdp->maps.pfd_flows);
	lab->devs_fd = bpf_map__fd(lab->xdp->maps.pfd_devs);
	lab->ctl_fd = bpf_map__fd(lab->xdp->maps.pfd_ctl);
	lab->stats_fd = bpf_map__fd(lab->xdp->maps.pfd_stats);
	lab->tx_fd = bpf_map__fd(lab->xdp->maps.pfd_tx_ports);
	lab->blocks.block4 = bpf_map__fd(lab->xdp->maps.pfd_block4);
	lab->blocks.block6 = bpf_map__fd(lab->xdp->maps.pfd_block6);
	lab->blocks.block_stats = bpf_map__fd(lab->xdp->maps.pfd_block_stats);
	lab->blocks.block_bits = bpf_map__fd(lab->xdp->maps.pfd_block_bits);
	lab->ncpus = libbpf_num_possible_cpus();
	return lab->ncpus > 0 ? 0 : -EINVAL;
}

static inline int lab_init(struct lab *lab)
{
	int err;

	memset(lab, 0, sizeof(*lab));
	err = lab_enter();
	if (!err)
		err = lab_net_setup(lab);
	if (!err)
		err = lab_open(lab);
	return err;
}

static inline void lab_fini(struct lab *lab)
{
	pfd_tc_fwd__destroy(lab->tc);
	pfd_xdp__destroy(lab->xdp);
}

static inline __u64 lab_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A live control block: right ABI, fresh heartbeat. */
static inline void lab_ctl_live(struct pfd_ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->abi_version = PFD_ABI_VERSION;
	ctl->heartbeat_ns = lab_now_ns();
	ctl->heartbeat_max_ns = 60ULL * 1000000000ULL;
}

static inline int lab_ctl_set(struct lab *lab, const struct pfd_ctl *ctl)
{
	__u32 zero = 0;

	return bpf_map_update_elem(lab->ctl_fd, &zero, ctl, BPF_ANY);
}

/* Registers every device as pfd would have attached it: IN0 and OUT0-1
 * fully, OUT2 in pfd_devs only; IN1 and OUT3 not at all. */
static inline int lab_devs_reset(struct lab *lab, __u32 in0_flags)
{
	int err = 0;

	for (int i = 0; i < LAB_DEVS; i++) {
		__u32 ifx = lab->ifindex[i];
		struct pfd_dev d = { .slot = lab_dev_slot[i], .flags = PFD_DEV_F_XDP };

		bpf_map_delete_elem(lab->devs_fd, &ifx);
		bpf_map_delete_elem(lab->tx_fd, &ifx);
		if (!lab_dev_slot[i])
			continue;
		if (i == IN0)
			d.flags |= in0_flags;
		err |= bpf_map_update_elem(lab->devs_fd, &ifx, &d, BPF_ANY);
		if (i != OUT2)
			err |= bpf_map_update_elem(lab->tx_fd, &ifx, &ifx, BPF_ANY);
	}
	return err ? -EIO : 0;
}

/* pfd_vlans: the lab device vdev is a VLAN device (ID 100, 802.1Q) on
 * parent; parent 0: it is not. */
static inline int lab_vlan_set(struct lab *lab, int vdev, int parent)
{
	int fd = bpf_map__fd(lab->xdp->maps.pfd_vlans);
	__u32 key = lab->ifindex[vdev];
	struct pfd_vlan v = { .parent = lab->ifindex[parent], .proto = htons(0x8100), .tci = 100 };

	if (!parent)
		return bpf_map_delete_elem(fd, &key) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(fd, &key, &v, BPF_ANY) ? -errno : 0;
}

static inline void lab_flows_clear(struct lab *lab)
{
	struct pfd_flow_key key, next;

	while (!bpf_map_get_next_key(lab->flows_fd, NULL, &next)) {
		key = next;
		if (bpf_map_delete_elem(lab->flows_fd, &key))
			break;
	}
}

/* Sum over CPUs of one stats slot. */
static inline struct pfd_counter lab_stat(struct lab *lab, __u32 slot, __u32 hook, __u32 reason)
{
	struct pfd_counter sum = {}, vals[lab->ncpus];
	__u32 idx = PFD_STATS_INDEX(slot, hook, reason);

	if (!bpf_map_lookup_elem(lab->stats_fd, &idx, vals))
		for (int i = 0; i < lab->ncpus; i++) {
			sum.packets += vals[i].packets;
			sum.bytes += vals[i].bytes;
		}
	return sum;
}

static inline void lab_stats_snap(struct lab *lab, __u32 slot, __u32 hook,
				  struct pfd_counter out[PFD_REASON_SLOTS])
{
	for (__u32 r = 0; r < PFD_REASON_SLOTS; r++)
		out[r] = lab_stat(lab, slot, hook, r);
}

static inline const char *lab_reason_name(int r)
{
	static const char *const names[PFD_R__COUNT] = {
#define LAB_REASON_NAME(name, value, label, text) [PFD_R_##name] = #name,
		PFD_REASONS(LAB_REASON_NAME)
#undef LAB_REASON_NAME
	};
	return r >= 0 && r < PFD_R__COUNT && names[r] ? names[r] : "?";
}

/* Runs one frame through the XDP or TC program arriving on ingress. */
static inline int lab_run(struct lab *lab, int hook, int ingress, const __u8 *in, size_t in_len,
			  __u8 *out, __u32 *out_len, __u32 *retval)
{
	struct xdp_md md = { .data_end = in_len, .ingress_ifindex = lab->ifindex[ingress] };
	struct __sk_buff skb = { .ifindex = lab->ifindex[ingress] };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = in_len, .data_out = out,
		    .data_size_out = *out_len, .repeat = 1);
	int fd, err;

	if (hook == PFD_HOOK_XDP) {
		opts.ctx_in = &md;
		opts.ctx_size_in = sizeof(md);
		fd = bpf_program__fd(lab->xdp->progs.pfd_xdp_fwd);
	} else {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
		fd = bpf_program__fd(lab->tc->progs.pfd_tc_fwd);
	}
	err = bpf_prog_test_run_opts(fd, &opts);
	*out_len = opts.data_size_out;
	*retval = opts.retval;
	return err ? -errno : 0;
}

#endif /* PFD_TEST_LAB_H */
