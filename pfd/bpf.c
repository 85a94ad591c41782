// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's BPF objects (see bpf.h): loading the XDP and TC fast paths with their
 * maps pinned by name under <bpffs>/tc/globals, adopting the pins of a
 * previous run so a restart keeps every flow, attaching per device (native
 * XDP, generic XDP or TC ingress) with attachments pinned under <bpffs>/pfd
 * so they outlive the daemon, and removing all of it (`pfd detach --all`).
 * Also the read-only map access of the CLI. Used by pfd/daemon.c and the CLI.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "pfd/tc_egress.h"
#include "pfd/bpf.h"
#include "pfd/compat.h"
#include "pfd/log.h"
#include "pfd/util.h"

/* The product's skeletons (build/skel/, generated from xdp-bpf/pfd_xdp.bpf.c
 * and tc-bpf/pfd_tc_fwd.bpf.c). */
#if __has_include("pfd_xdp.skel.h")
#include "pfd_xdp.skel.h"
#define HAVE_XDP_SKEL 1
#endif
#include "pfd_probe.skel.h"
#if __has_include("pfd_tc_fwd.skel.h")
#include "pfd_tc_fwd.skel.h"
#define HAVE_TC_SKEL 1
#endif

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* pfd's TC ingress filter: a fixed handle and priority, so that a restart
 * replaces its own filter in place and never touches anyone else's. */
#define PFD_TC_HANDLE 0x9fd
#define PFD_TC_PRIO   0x9fd

/* In struct pfd_maps order (map_slot). */
static const char *const map_names[] = {
	PFD_MAP_FLOWS,	PFD_MAP_TX_PORTS, PFD_MAP_CTL,	    PFD_MAP_DEVS,	PFD_MAP_STATS,
	PFD_MAP_BLOCK4, PFD_MAP_BLOCK6,	  PFD_MAP_BLOCK_ST, PFD_MAP_BLOCK_BITS, PFD_MAP_SYNP4,
	PFD_MAP_SYNP6,	PFD_MAP_SYNP_ST,  PFD_MAP_VLANS,
};
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

/* What pfd attached, held while it runs. An XDP link lives while a
 * descriptor or a pin holds it: a pin removed under the daemon (rm, bpffs
 * unmounted) must not detach the fast path, and pfd_bpf_repin() makes the
 * pins again from these. */
struct held_attach {
	char name[IFNAMSIZ];
	int xdp_link;	    /* -1: none */
	bool tc;	    /* a TC ingress filter, pinned as tc- or tcq- */
	bool tc_qdisc_ours; /* tcq-: pfd added the clsact qdisc */
};

struct pfd_bpf {
	char bpffs[PATH_MAX];
	char globals[PATH_MAX]; /* <bpffs>/tc/globals */
	char links[PATH_MAX];	/* <bpffs>/pfd */
#ifdef HAVE_XDP_SKEL
	struct pfd_xdp *xdp;
#endif
#ifdef HAVE_TC_SKEL
	struct pfd_tc_fwd *tc;
#endif
	int xdp_prog;
	int tc_prog;
	struct pfd_maps maps;
	bool fib_mark_ok;
	struct held_attach held[PFD_MAX_DEVS];
};

/* The device's entry; create: make one if there is none (NULL when full). */
static struct held_attach *held_get(struct pfd_bpf *b, const char *ifname, bool create)
{
	struct held_attach *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < PFD_MAX_DEVS; i++) {
		if (b->held[i].name[0] && !strcmp(b->held[i].name, ifname))
			return &b->held[i];
		if (!b->held[i].name[0] && !free_slot)
			free_slot = &b->held[i];
	}
	if (!create || !free_slot)
		return NULL;
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", ifname);
	free_slot->xdp_link = -1;
	return free_slot;
}

/* Keeps fd as the device's XDP link (closing one held before), or closes
 * it when there is no room to hold it (the pin still holds the link). */
static void held_set_xdp(struct pfd_bpf *b, const char *ifname, int fd)
{
	struct held_attach *h = held_get(b, ifname, true);

	if (!h) {
		close(fd);
		return;
	}
	if (h->xdp_link >= 0 && h->xdp_link != fd)
		close(h->xdp_link);
	h->xdp_link = fd;
}

static void held_drop(struct pfd_bpf *b, const char *ifname)
{
	struct held_attach *h = held_get(b, ifname, false);

	if (!h)
		return;
	if (h->xdp_link >= 0)
		close(h->xdp_link);
	memset(h, 0, sizeof(*h));
}

const char *pfd_attach_kind_name(enum pfd_attach_kind k)
{
	switch (k) {
	case PFD_ATT_NATIVE:
		return "native";
	case PFD_ATT_GENERIC:
		return "generic";
	case PFD_ATT_TC:
		return "tc";
	default:
		return "none";
	}
}

static int fmt_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fmt_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * bpffs refuses names with a dot (they are reserved for its own files), and
 * VLAN devices are named lan0.100: a pin spells each dot as a colon, which
 * no interface name may contain (dev_valid_name), so the spelling reverses.
 */
static int link_pin(char *buf, size_t len, const char *dir, const char *kind, const char *ifname)
{
	char name[IFNAMSIZ];
	size_t i;

	for (i = 0; i + 1 < sizeof(name) && ifname[i]; i++)
		name[i] = ifname[i] == '.' ? ':' : ifname[i];
	name[i] = '\0';
	return fmt_path(buf, len, "%s/%s-%s", dir, kind, name);
}

const char *pfd_link_pin_ifname(const char *pin, char ifname[IFNAMSIZ])
{
	static const char *const kinds[] = { "xdp-", "tcq-", "tc-" };
	size_t i, k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k]);

		if (strncmp(pin, kinds[k], n) || !pin[n] || strlen(pin + n) >= IFNAMSIZ)
			continue;
		for (i = 0; pin[n + i]; i++)
			ifname[i] = pin[n + i] == ':' ? '.' : pin[n + i];
		ifname[i] = '\0';
		return ifname;
	}
	return NULL;
}

static void maps_reset(struct pfd_maps *m)
{
	m->flows = m->tx_ports = m->ctl = m->devs = m->stats = m->block4 = m->block6 =
		m->block_stats = m->block_bits = m->synp4 = m->synp6 = m->synp_stats = m->vlans =
			-1;
}

static int *map_slot(struct pfd_maps *m, unsigned int i)
{
	int *slots[] = { &m->flows,  &m->tx_ports,   &m->ctl,	      &m->devs,	      &m->stats,
			 &m->block4, &m->block6,     &m->block_stats, &m->block_bits, &m->synp4,
			 &m->synp6,  &m->synp_stats, &m->vlans };

	return slots[i];
}

void pfd_maps_close(struct pfd_maps *m)
{
	unsigned int i;

	for (i = 0; i < N_MAPS; i++) {
		int *fd = map_slot(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int pfd_maps_open(const char *bpffs, bool rdonly, struct pfd_maps *m)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	char path[PATH_MAX];
	unsigned int i;
	int err;

	maps_reset(m);
	for (i = 0; i < N_MAPS; i++) {
		int fd;

		err = fmt_path(path, sizeof(path), "%s/tc/globals/%s", bpffs, map_names[i]);
		if (err)
			goto err_close;
		fd = bpf_obj_get_opts(path, &opts);
		if (fd < 0) {
			err = -errno;
			goto err_close;
		}
		*map_slot(m, i) = fd;
	}
	return 0;

err_close:
	pfd_maps_close(m);
	return err;
}

/* -------------------------------------------------------------------- */
/* Pins: adopt what a previous run left when its layout is ours.        */

struct map_want {
	__u32 type, key, value;
};

static const struct map_want map_layout[] = {
	{ BPF_MAP_TYPE_HASH, sizeof(struct pfd_flow_key), sizeof(struct pfd_flow) },
	{ BPF_MAP_TYPE_DEVMAP_HASH, sizeof(__u32), sizeof(__u32) },
	{ BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct pfd_ctl) },
	{ BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct pfd_dev) },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct pfd_counter) },
	{ BPF_MAP_TYPE_LPM_TRIE, sizeof(struct pfd_block_key4), sizeof(struct pfd_block) },
	{ BPF_MAP_TYPE_LPM_TRIE, sizeof(struct pfd_block_key6), sizeof(struct pfd_block) },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct pfd_counter) },
	{ BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64) },
	{ BPF_MAP_TYPE_LPM_TRIE, sizeof(struct pfd_synp_key4), sizeof(struct pfd_synp) },
	{ BPF_MAP_TYPE_LPM_TRIE, sizeof(struct pfd_synp_key6), sizeof(struct pfd_synp) },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct pfd_counter) },
	{ BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct pfd_vlan) },
};
_Static_assert(sizeof(map_layout) / sizeof(map_layout[0]) == N_MAPS, "map_layout and map_names");

static void unpin_maps(const char *globals)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < N_MAPS; i++)
		if (!fmt_path(path, sizeof(path), "%s/%s", globals, map_names[i]))
			unlink(path);
}

/* Checks the pinned maps: a pin of another layout (an older pfd) cannot be
 * reused, and libbpf would refuse the load. All are replaced together, so the
 * old programs keep their old maps until they are swapped. *flows_max gets
 * the pinned flow map's size (it cannot be resized in place). */
static void check_pins(struct pfd_bpf *b, __u32 *flows_max)
{
	char path[PATH_MAX];
	bool stale = false, any = false;
	unsigned int i;

	*flows_max = 0;
	for (i = 0; i < N_MAPS && !stale; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (fmt_path(path, sizeof(path), "%s/%s", b->globals, map_names[i]))
			return;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		any = true;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != map_layout[i].type ||
		    info.key_size != map_layout[i].key || info.value_size != map_layout[i].value) {
			pr_warn("%s: pinned map has another layout (an older pfd?); replacing "
				"every pfd map",
				path);
			stale = true;
		} else if (i == 2) {
			struct pfd_ctl ctl;
			__u32 k = 0;

			if (!bpf_map_lookup_elem(fd, &k, &ctl) && ctl.abi_version &&
			    ctl.abi_version != PFD_ABI_VERSION) {
				pr_warn("%s: ABI version %u, this pfd is %u; replacing every pfd "
					"map",
					path, ctl.abi_version, PFD_ABI_VERSION);
				stale = true;
			}
		} else if (i == 0) {
			*flows_max = info.max_entries;
		}
		close(fd);
	}
	if (stale) {
		unpin_maps(b->globals);
		*flows_max = 0;
	} else if (any) {
		pr_info("adopting pinned maps under %s", b->globals);
	}
}

/* -------------------------------------------------------------------- */
/* Loading                                                              */

static int check_bpffs(const char *bpffs)
{
	struct statfs st;

	if (statfs(bpffs, &st)) {
		int err = -errno;

		pr_err("bpffs %s: %s (set `bpffs` in pfd.conf to a mounted BPF filesystem)", bpffs,
		       strerror(-err));
		return err;
	}
	if ((unsigned long)st.f_type != BPF_FS_MAGIC) {
		pr_err("bpffs %s: not a BPF filesystem (mount -t bpf bpf %s)", bpffs, bpffs);
		return -EINVAL;
	}
	return 0;
}

int pfd_bpf_fib_mark_probe(void)
{
	unsigned char pkt[64] = { 0 };
	struct pfd_probe *skel;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);
	int err, ret;

	skel = pfd_probe__open_and_load();
	if (!skel)
		return -errno;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.pfd_probe_fib), &opts);
	if (err)
		ret = -errno;
	else
		ret = skel->data->fib_rc == -EINVAL ? 0 : skel->data->fib_rc >= 0 ? 1 : -EIO;
	pfd_probe__destroy(skel);
	return ret;
}

static int set_flow_max(struct bpf_object *obj, __u32 n)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, PFD_MAP_FLOWS);

	return m ? bpf_map__set_max_entries(m, n) : 0;
}

/* The kernel adds BPF_F_RDONLY_PROG to every devmap it creates (lookups
 * return the device pointer; kernel/bpf/devmap.c) but refuses the flag at
 * creation, and libbpf 1.1 compares flags before reusing a pin: ask for
 * the flag only when there is a pin to match. */
static void devmap_flags(struct bpf_object *obj, const char *globals)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, PFD_MAP_TX_PORTS);
	char path[PATH_MAX];

	if (!m || fmt_path(path, sizeof(path), "%s/%s", globals, PFD_MAP_TX_PORTS) ||
	    access(path, F_OK))
		return;
	bpf_map__set_map_flags(m, bpf_map__map_flags(m) | BPF_F_RDONLY_PROG);
}

static int first_prog_fd(struct bpf_object *obj)
{
	struct bpf_program *p = bpf_object__next_program(obj, NULL);

	return p ? bpf_program__fd(p) : -ENOENT;
}

bool pfd_bpf_have_syncookie_helpers(void)
{
	/* 6.0 added the cookie helpers, after the load/store helpers (5.18)
	 * that syn-protect also uses */
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_tcp_raw_gen_syncookie_ipv4,
				       NULL) == 1;
}

static int load_objects(struct pfd_bpf *b, __u32 flows_max)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = b->globals);
	int err = -ENOENT;

#ifdef HAVE_XDP_SKEL
	b->xdp = pfd_xdp__open_opts(&opts);
	if (!b->xdp) {
		err = -errno;
		pr_err("XDP object: open failed (%s)", strerror(-err));
		return err;
	}
	set_flow_max(b->xdp->obj, flows_max);
	devmap_flags(b->xdp->obj, b->globals);
	b->xdp->rodata->pfd_synp_helpers = pfd_bpf_have_syncookie_helpers();
	pfd_log_libbpf_verbose(true);
	err = pfd_xdp__load(b->xdp);
	pfd_log_libbpf_verbose(false);
	if (err) {
		pr_err("XDP object: load failed (%s)", strerror(-err));
		return err;
	}
	b->xdp_prog = first_prog_fd(b->xdp->obj);
#else
	pr_err("this pfd was built without the XDP object (xdp-bpf/pfd_xdp.bpf.c)");
	return -ENOENT;
#endif
#ifdef HAVE_TC_SKEL
	b->tc = pfd_tc_fwd__open_opts(&opts);
	if (!b->tc) {
		err = -errno;
		pr_err("TC object: open failed (%s)", strerror(-err));
		return err;
	}
	set_flow_max(b->tc->obj, flows_max);
	/* the XDP object pinned the devmap just now */
	devmap_flags(b->tc->obj, b->globals);
	pfd_log_libbpf_verbose(true);
	err = pfd_tc_fwd__load(b->tc);
	pfd_log_libbpf_verbose(false);
	if (err) {
		pr_err("TC object: load failed (%s)", strerror(-err));
		return err;
	}
	b->tc_prog = first_prog_fd(b->tc->obj);
#else
	pr_warn("this pfd was built without the TC object (tc-bpf/pfd_tc_fwd.bpf.c): "
		"`attach IFACE tc` will fail");
#endif
	return 0;
}

int pfd_bpf_open(struct pfd_bpf **out, const struct pfd_config *cfg)
{
	struct pfd_bpf *b;
	__u32 flows_max;
	int err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->xdp_prog = b->tc_prog = -1;
	maps_reset(&b->maps);
	snprintf(b->bpffs, sizeof(b->bpffs), "%s", cfg->bpffs);
	err = fmt_path(b->globals, sizeof(b->globals), "%s/tc/globals", cfg->bpffs);
	if (!err)
		err = fmt_path(b->links, sizeof(b->links), "%s/pfd", cfg->bpffs);
	if (err)
		goto err_free;
	err = check_bpffs(cfg->bpffs);
	if (err)
		goto err_free;
	err = pfd_mkdir_p(b->globals, 0700, 0700);
	if (!err)
		err = pfd_mkdir_p(b->links, 0700, 0700);
	if (err) {
		pr_err("bpffs %s: cannot create pin directories (%s)", cfg->bpffs, strerror(-err));
		goto err_free;
	}

	check_pins(b, &flows_max);
	if (flows_max && flows_max != cfg->flow_map_size)
		pr_warn("flow-map-size %u: the pinned flow map has %u entries and keeps them "
			"until `pfd detach --all` (resizing would drop every flow)",
			cfg->flow_map_size, flows_max);
	err = load_objects(b, flows_max ? flows_max : cfg->flow_map_size);
	if (err)
		goto err_close;

	/* Every map is pinned now (created or reused): take our own fds. */
	err = pfd_maps_open(cfg->bpffs, false, &b->maps);
	if (err) {
		pr_err("%s: pinned maps missing after load (%s)", b->globals, strerror(-err));
		goto err_close;
	}
	b->fib_mark_ok = pfd_bpf_fib_mark_probe() == 1;
	pr_debug("BPF_FIB_LOOKUP_MARK %s", b->fib_mark_ok ? "supported" : "not supported");
	*out = b;
	return 0;

err_close:
	pfd_bpf_close(b);
	return err;
err_free:
	free(b);
	return err;
}

void pfd_bpf_close(struct pfd_bpf *b)
{
	unsigned int i;

	if (!b)
		return;
	/* the pins keep the attachments after the daemon: make any that went */
	if (pfd_bpf_repin(b) > 0)
		pr_info("pins under %s made again before exit", b->bpffs);
	for (i = 0; i < PFD_MAX_DEVS; i++)
		if (b->held[i].name[0] && b->held[i].xdp_link >= 0)
			close(b->held[i].xdp_link);
	pfd_maps_close(&b->maps);
#ifdef HAVE_XDP_SKEL
	pfd_xdp__destroy(b->xdp);
#endif
#ifdef HAVE_TC_SKEL
	pfd_tc_fwd__destroy(b->tc);
#endif
	free(b);
}

const struct pfd_maps *pfd_bpf_maps(const struct pfd_bpf *b)
{
	return &b->maps;
}

bool pfd_bpf_fib_mark_ok(const struct pfd_bpf *b)
{
	return b->fib_mark_ok;
}

/* Pins fd at path unless something is there; 1 if it pinned. */
static int repin_one(int fd, const char *path)
{
	if (fd < 0 || !access(path, F_OK))
		return 0;
	if (errno != ENOENT)
		return -errno;
	return bpf_obj_pin(fd, path) ? -errno : 1;
}

static int repin_maps(struct bpf_object *obj, int *made)
{
	struct bpf_map *m;
	int r;

	bpf_object__for_each_map (m, obj) {
		const char *path = bpf_map__pin_path(m);

		if (!path)
			continue;
		r = repin_one(bpf_map__fd(m), path);
		if (r < 0)
			return r;
		*made += r;
	}
	return 0;
}

int pfd_bpf_repin(struct pfd_bpf *b)
{
	char path[PATH_MAX];
	struct statfs st;
	unsigned int i;
	int made = 0, r;

	if (statfs(b->bpffs, &st))
		return -errno;
	if ((unsigned long)st.f_type != BPF_FS_MAGIC)
		return -EMEDIUMTYPE;
	if (access(b->globals, F_OK) && (r = pfd_mkdir_p(b->globals, 0700, 0700)))
		return r;
	if (access(b->links, F_OK) && (r = pfd_mkdir_p(b->links, 0700, 0700)))
		return r;
#ifdef HAVE_XDP_SKEL
	if (b->xdp && (r = repin_maps(b->xdp->obj, &made)))
		return r;
#endif
#ifdef HAVE_TC_SKEL
	if (b->tc && (r = repin_maps(b->tc->obj, &made)))
		return r;
#endif
	for (i = 0; i < PFD_MAX_DEVS; i++) {
		const struct held_attach *h = &b->held[i];

		if (!h->name[0])
			continue;
		if (h->xdp_link >= 0) {
			r = link_pin(path, sizeof(path), b->links, "xdp", h->name);
			r = r ?: repin_one(h->xdp_link, path);
			if (r < 0)
				return r;
			made += r;
		}
		if (h->tc) {
			r = link_pin(path, sizeof(path), b->links, h->tc_qdisc_ours ? "tcq" : "tc",
				     h->name);
			r = r ?: repin_one(b->tc_prog, path);
			if (r < 0)
				return r;
			made += r;
		}
	}
	return made;
}

/* -------------------------------------------------------------------- */
/* Attach                                                               */

/* An XDP link pinned by a previous run on this device: swap our program in
 * (no gap). Returns the kind, 0 if there was nothing usable, -errno. */
static int xdp_adopt(struct pfd_bpf *b, const char *ifname, const char *path, int ifindex,
		     enum pfd_attach_mode mode, enum pfd_attach_kind *kind)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP ||
	    (int)info.xdp.ifindex != ifindex) {
		/* the device went away (and maybe came back): the link is dead */
		close(fd);
		unlink(path);
		return 0;
	}
	if (bpf_xdp_query(ifindex, 0, &q)) {
		close(fd);
		return 0;
	}
	*kind = q.attach_mode == XDP_ATTACHED_SKB ? PFD_ATT_GENERIC : PFD_ATT_NATIVE;
	if ((mode == PFD_ATTACH_NATIVE && *kind != PFD_ATT_NATIVE) ||
	    (mode == PFD_ATTACH_GENERIC && *kind != PFD_ATT_GENERIC) || mode == PFD_ATTACH_TC) {
		/* the configured mode changed: the caller re-attaches */
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
		return 0;
	}
	err = bpf_link_update(fd, b->xdp_prog, NULL);
	if (err) {
		err = -errno;
		close(fd);
		pr_err("%s: cannot update the pinned XDP link (%s)", path, strerror(-err));
		return err;
	}
	held_set_xdp(b, ifname, fd);
	return 1;
}

static int xdp_attach(struct pfd_bpf *b, const char *ifname, const char *path, int ifindex,
		      bool native)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts,
		    .flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
	int fd, err;

	fd = bpf_link_create(b->xdp_prog, ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		err = -errno;
		pr_info("%s: %s XDP attach failed (%s)%s", ifname, native ? "native" : "generic",
			strerror(-err),
			err == -EBUSY || err == -EEXIST ? ": another XDP program is attached" : "");
		return err;
	}
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		pr_err("%s: cannot pin the XDP link at %s (%s)", ifname, path, strerror(-err));
		bpf_link_detach(fd);
		close(fd);
		return err;
	}
	held_set_xdp(b, ifname, fd);
	return 0;
}

static int tc_pin_paths(struct pfd_bpf *b, const char *ifname, char *tc, char *tcq)
{
	int err = link_pin(tc, PATH_MAX, b->links, "tc", ifname);

	return err ? err : link_pin(tcq, PATH_MAX, b->links, "tcq", ifname);
}

static int tc_attach(struct pfd_bpf *b, const char *ifname, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, topts, .handle = PFD_TC_HANDLE, .priority = PFD_TC_PRIO,
			    .flags = BPF_TC_F_REPLACE);
	char tc[PATH_MAX], tcq[PATH_MAX];
	bool created = false;
	int err;

	if (b->tc_prog < 0) {
		pr_err("%s: no TC program in this build", ifname);
		return -ENOENT;
	}
	err = tc_pin_paths(b, ifname, tc, tcq);
	if (err)
		return err;
	/* A clsact qdisc there already: pfd's if its pin says so (an adopted
	 * attachment; detach removes it), else someone else's. None (a new
	 * device, or one made again under its name): pfd adds it. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_err("%s: cannot add a clsact qdisc (%s)", ifname, strerror(-err));
		return err;
	}
	created = !err || !access(tcq, F_OK);
	topts.prog_fd = b->tc_prog;
	err = bpf_tc_attach(&hook, &topts);
	if (err) {
		pr_err("%s: TC ingress attach failed (%s)", ifname, strerror(-err));
		goto err_hook;
	}
	unlink(tc);
	unlink(tcq);
	if (bpf_obj_pin(b->tc_prog, created ? tcq : tc)) {
		err = -errno;
		pr_err("%s: cannot pin the TC program (%s)", ifname, strerror(-err));
		goto err_detach;
	}
	{
		struct held_attach *h = held_get(b, ifname, true);

		if (h) {
			h->tc = true;
			h->tc_qdisc_ours = created;
		}
	}
	return 0;

err_detach:
	topts.prog_fd = topts.prog_id = 0;
	topts.flags = 0;
	bpf_tc_detach(&hook, &topts);
err_hook:
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}

static void tc_detach(const char *ifname, int ifindex, bool destroy_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, topts, .handle = PFD_TC_HANDLE, .priority = PFD_TC_PRIO);
	int err;

	if (ifindex <= 0)
		return;
	err = bpf_tc_detach(&hook, &topts);
	if (err && err != -ENOENT)
		pr_warn("%s: TC detach failed (%s)", ifname, strerror(-err));
	if (destroy_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err && err != -ENOENT && err != -EINVAL)
			pr_warn("%s: cannot remove the clsact qdisc (%s)", ifname, strerror(-err));
	}
}

/* pfd_devs: keep a device's slot across restarts (its counters live there);
 * a new device gets the lowest free one. */
static int dev_register(struct pfd_bpf *b, int ifindex, __u32 flags)
{
	bool used[PFD_MAX_DEVS] = { true }; /* slot 0: unregistered devices */
	struct pfd_dev dev = {};
	__u32 key = (__u32)ifindex, k, next, *prev = NULL;
	unsigned int s;

	if (!bpf_map_lookup_elem(b->maps.devs, &key, &dev) && dev.slot && dev.slot < PFD_MAX_DEVS) {
		/* flags restart clean: a reload or restart re-arms the breaker */
		dev.flags = flags;
		goto write;
	}
	while (!bpf_map_get_next_key(b->maps.devs, prev, &next)) {
		struct pfd_dev d;

		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(b->maps.devs, &k, &d) && d.slot < PFD_MAX_DEVS)
			used[d.slot] = true;
	}
	for (s = 1; s < PFD_MAX_DEVS && used[s]; s++)
		;
	if (s == PFD_MAX_DEVS)
		return -ENOSPC;
	dev.slot = s;
	dev.flags = flags;
write:
	if (bpf_map_update_elem(b->maps.devs, &key, &dev, BPF_ANY))
		return -errno;
	return (int)dev.slot;
}

int pfd_bpf_attach(struct pfd_bpf *b, const char *ifname, enum pfd_attach_mode mode,
		   enum pfd_attach_kind *kind)
{
	char xpath[PATH_MAX], tc[PATH_MAX], tcq[PATH_MAX];
	int ifindex, err, slot;
	__u32 flags = 0;

	*kind = PFD_ATT_NONE;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		pr_err("%s: no such device (attach %s in pfd.conf)", ifname, ifname);
		return -ENODEV;
	}
	err = link_pin(xpath, sizeof(xpath), b->links, "xdp", ifname);
	if (!err)
		err = tc_pin_paths(b, ifname, tc, tcq);
	if (err)
		return err;

	if (b->xdp_prog >= 0 && mode != PFD_ATTACH_TC) {
		err = xdp_adopt(b, ifname, xpath, ifindex, mode, kind);
		if (err < 0)
			return err;
		if (err > 0) {
			pr_info("%s: adopted the pinned %s XDP attachment", ifname,
				pfd_attach_kind_name(*kind));
		} else {
			err = -EOPNOTSUPP;
			if (mode == PFD_ATTACH_AUTO || mode == PFD_ATTACH_NATIVE) {
				err = xdp_attach(b, ifname, xpath, ifindex, true);
				if (!err)
					*kind = PFD_ATT_NATIVE;
			}
			if (err && (mode == PFD_ATTACH_AUTO || mode == PFD_ATTACH_GENERIC)) {
				err = xdp_attach(b, ifname, xpath, ifindex, false);
				if (!err)
					*kind = PFD_ATT_GENERIC;
			}
			if (err && mode != PFD_ATTACH_AUTO) {
				pr_err("%s: %s XDP attach failed (%s)", ifname,
				       mode == PFD_ATTACH_NATIVE ? "native" : "generic",
				       strerror(-err));
				return err;
			}
			if (!err)
				pr_info("%s: attached %s XDP", ifname, pfd_attach_kind_name(*kind));
		}
		if (*kind != PFD_ATT_NONE) {
			flags |= PFD_DEV_F_XDP;
			/* auto: TC ingress behind XDP, for the flows whose
			 * egress has policy an XDP redirect would skip
			 * (VIA_TC); it leaves every other packet to XDP's
			 * verdict. Without it such flows stay in the kernel.
			 * A TC program left from a previous run is kept too. */
			if (mode == PFD_ATTACH_AUTO || !access(tc, F_OK) || !access(tcq, F_OK)) {
				if (!tc_attach(b, ifname, ifindex)) {
					flags |= PFD_DEV_F_TC | PFD_DEV_F_TC_VIA_ONLY;
					pr_info("%s: TC ingress behind XDP (for flows toward "
						"devices with egress policy)",
						ifname);
				} else
					pr_warn("%s: no TC ingress behind XDP: flows toward "
						"devices with egress policy stay in the kernel",
						ifname);
			}
		}
	}
	if (*kind == PFD_ATT_NONE) {
		if (mode == PFD_ATTACH_AUTO)
			pr_notice("%s: XDP not possible, using TC ingress", ifname);
		err = tc_attach(b, ifname, ifindex);
		if (err)
			return err;
		*kind = PFD_ATT_TC;
		flags |= PFD_DEV_F_TC;
		pr_info("%s: attached TC ingress", ifname);
	} else if (!access(xpath, F_OK) && mode == PFD_ATTACH_TC) {
		unlink(xpath);
	}

	slot = dev_register(b, ifindex, flags);
	if (slot < 0) {
		pr_err("%s: cannot register the device (%s)", ifname, strerror(-slot));
		return slot;
	}
	return 0;
}

int pfd_bpf_sync_tx_ports(struct pfd_bpf *b, const int *ifindex, const enum pfd_attach_kind *kind,
			  unsigned int n)
{
	__u32 key, next, *prev = NULL, val;
	bool any_native = false, want;
	unsigned int i;
	int err = 0;

	for (i = 0; i < n; i++)
		any_native |= kind[i] == PFD_ATT_NATIVE;
	for (i = 0; i < n; i++) {
		want = kind[i] == PFD_ATT_NATIVE || (kind[i] == PFD_ATT_GENERIC && !any_native);
		key = val = (__u32)ifindex[i];
		if (want && bpf_map_update_elem(b->maps.tx_ports, &key, &val, BPF_ANY))
			err = -errno;
		else if (!want)
			bpf_map_delete_elem(b->maps.tx_ports, &key);
	}
	/* and nothing else: devices removed from pfd.conf or gone */
	{
		__u32 stale[PFD_MAX_DEVS], cur;
		unsigned int ns = 0, j;

		while (ns < PFD_MAX_DEVS && !bpf_map_get_next_key(b->maps.tx_ports, prev, &next)) {
			bool known = false;

			cur = next;
			prev = &cur;
			for (i = 0; i < n; i++)
				known |= (__u32)ifindex[i] == cur &&
					 (kind[i] == PFD_ATT_NATIVE ||
					  (kind[i] == PFD_ATT_GENERIC && !any_native));
			if (!known)
				stale[ns++] = cur;
		}
		for (j = 0; j < ns; j++)
			bpf_map_delete_elem(b->maps.tx_ports, &stale[j]);
	}
	return err;
}

/* Removes pfd's attachment pins for one device name; ifindex may be 0 when
 * the device is gone (the kernel dropped its programs with it). */
static void detach_pins(const char *links, const char *ifname, int ifindex)
{
	char path[PATH_MAX];
	int fd;

	if (!link_pin(path, sizeof(path), links, "xdp", ifname)) {
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
	}
	if (!link_pin(path, sizeof(path), links, "tcq", ifname) && !access(path, F_OK)) {
		tc_detach(ifname, ifindex, true);
		unlink(path);
	}
	if (!link_pin(path, sizeof(path), links, "tc", ifname) && !access(path, F_OK)) {
		tc_detach(ifname, ifindex, false);
		unlink(path);
	}
}

int pfd_bpf_detach(struct pfd_bpf *b, const char *ifname)
{
	__u32 key = if_nametoindex(ifname);
	struct held_attach *h = held_get(b, ifname, false);

	/* the held link too: its pin may be gone */
	if (h && h->xdp_link >= 0)
		bpf_link_detach(h->xdp_link);
	held_drop(b, ifname);
	detach_pins(b->links, ifname, (int)key);
	if (key) {
		bpf_map_delete_elem(b->maps.tx_ports, &key);
		bpf_map_delete_elem(b->maps.devs, &key);
	}
	pr_info("%s: detached", ifname);
	return 0;
}

int pfd_bpf_attached(const char *bpffs, const char *ifname, enum pfd_attach_kind *xdp, bool *tc)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char links[PATH_MAX], path[PATH_MAX];
	int ifindex = (int)if_nametoindex(ifname);

	*xdp = PFD_ATT_NONE;
	*tc = false;
	if (fmt_path(links, sizeof(links), "%s/pfd", bpffs))
		return -ENAMETOOLONG;
	if (!link_pin(path, sizeof(path), links, "xdp", ifname) && !access(path, F_OK) && ifindex &&
	    !bpf_xdp_query(ifindex, 0, &q))
		*xdp = q.attach_mode == XDP_ATTACHED_SKB ? PFD_ATT_GENERIC : PFD_ATT_NATIVE;
	if (!link_pin(path, sizeof(path), links, "tc", ifname) && !access(path, F_OK))
		*tc = true;
	if (!link_pin(path, sizeof(path), links, "tcq", ifname) && !access(path, F_OK))
		*tc = true;
	return 0;
}

int pfd_bpf_detach_all(const char *bpffs)
{
	char links[PATH_MAX], globals[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int err;

	err = fmt_path(links, sizeof(links), "%s/pfd", bpffs);
	if (!err)
		err = fmt_path(globals, sizeof(globals), "%s/tc/globals", bpffs);
	if (err)
		return err;
	/* the TC egress programs first: their filters would outlive the pins */
	pfd_egress_detach_all(bpffs);
	dir = opendir(links);
	if (dir) {
		while ((de = readdir(dir))) {
			char ifname[IFNAMSIZ];
			const char *name = pfd_link_pin_ifname(de->d_name, ifname);

			if (name) {
				detach_pins(links, name, (int)if_nametoindex(name));
				pr_info("%s: detached", name);
				continue;
			}
			if (de->d_name[0] != '.' &&
			    !fmt_path(path, sizeof(path), "%s/%s", links, de->d_name))
				unlink(path);
		}
		closedir(dir);
		rmdir(links);
	}
	/* Every map pinned by name with pfd's prefix: the fast path's and the
	 * tc egress programs'. */
	dir = opendir(globals);
	if (dir) {
		while ((de = readdir(dir)))
			if (!strncmp(de->d_name, "pfd_", 4) &&
			    !fmt_path(path, sizeof(path), "%s/%s", globals, de->d_name) &&
			    !unlink(path))
				pr_debug("unpinned %s", path);
		closedir(dir);
	}
	return 0;
}
