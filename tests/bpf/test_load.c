// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every product BPF object (build/xdp-bpf/ and build/tc-bpf/, every .bpf.o)
 * passes this kernel's verifier, loaded as pfd loads them: pinned maps under
 * <bpffs>/tc/globals, in a private bpffs. Prints each program's verified
 * instruction count (bpf_prog_info.verified_insns). Then a restart: the XDP
 * object opened again adopts every pin (the same maps, by id), the devmap
 * included; and the XDP program attaches natively to a jumbo-MTU veth.
 */
#include <glob.h>

#include "lab.h"

static int build_dir_glob(const char *pattern, glob_t *g)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", build, pattern);
	return glob(path, GLOB_APPEND, NULL, g);
}

/* As lab_xdp_open() does for the devmap: libbpf 1.1 cannot reuse a pinned
 * devmap by itself, whichever object carries one. */
static int adopt_devmaps(struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[256];
	int fd, err;

	bpf_object__for_each_map (map, obj) {
		enum bpf_map_type t = bpf_map__type(map);

		if (t != BPF_MAP_TYPE_DEVMAP && t != BPF_MAP_TYPE_DEVMAP_HASH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", LAB_PIN_ROOT, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		err = bpf_map__set_pin_path(map, NULL);
		if (!err)
			err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

static void load_object(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = LAB_PIN_ROOT);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	struct bpf_program *prog;
	char name[300];
	int err;

	snprintf(name, sizeof(name), "verifier accepts %s", path);
	if (!obj) {
		T_OK(-errno, name);
		return;
	}
	err = adopt_devmaps(obj);
	if (!err)
		err = bpf_object__load(obj);
	T_OK(err, name);
	bpf_object__for_each_program (prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (err)
			break;
		T_OK(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), name);
		printf("     %-28s %-16s verified_insns %u, xlated %u bytes\n",
		       strrchr(path, '/') + 1, bpf_program__name(prog), info.verified_insns,
		       info.xlated_prog_len);
	}
	bpf_object__close(obj);
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

int main(void)
{
	struct pfd_xdp *a, *b;
	glob_t g = {};
	int err;

	if (geteuid() != 0) {
		t_skip("load", "needs root (BPF, namespaces)");
		return t_done();
	}
	err = lab_enter();
	T_OK(err, "private bpffs");
	if (err)
		return t_done();

	build_dir_glob("xdp-bpf/*.bpf.o", &g);
	build_dir_glob("tc-bpf/*.bpf.o", &g);
	T_TRUE(g.gl_pathc >= 2, "product objects built (run make first)");
	for (size_t i = 0; i < g.gl_pathc; i++)
		load_object(g.gl_pathv[i]);
	globfree(&g);

	/* A restart: pfd opens its objects again over the pins. */
	a = lab_xdp_open();
	b = lab_xdp_open();
	T_TRUE(a && b, "xdp object opened twice over the same pins");
	if (a && b) {
		T_EQ(map_id(bpf_map__fd(b->maps.pfd_flows)), map_id(bpf_map__fd(a->maps.pfd_flows)),
		     "restart adopts pfd_flows");
		T_EQ(map_id(bpf_map__fd(b->maps.pfd_tx_ports)),
		     map_id(bpf_map__fd(a->maps.pfd_tx_ports)), "restart adopts pfd_tx_ports");
		T_EQ(map_id(bpf_map__fd(b->maps.pfd_stats)), map_id(bpf_map__fd(a->maps.pfd_stats)),
		     "restart adopts pfd_stats");
	}
	/* Frags-aware: veth refuses a plain XDP program above a page-sized
	 * MTU ("Peer MTU is too large to set XDP"). */
	if (a) {
		int ifindex, fd = bpf_program__fd(a->progs.pfd_xdp_fwd);

		T_OK(lab_sh("ip link add big0 mtu 9000 type veth peer name big0p mtu 9000 && "
			    "ip link set big0 up && ip link set big0p up"),
		     "jumbo veth pair");
		ifindex = if_nametoindex("big0");
		T_OK(bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL),
		     "native XDP on a 9000-byte MTU veth");
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	}
	pfd_xdp__destroy(b);
	pfd_xdp__destroy(a);
	return t_done();
}
