// SPDX-License-Identifier: GPL-2.0-only
/*
 * `pfd feasibility`: what this kernel and the configured devices support,
 * each check PASS, WARN or FAIL with the fix (PacketFrame's feasibility
 * command, extended to the netfilter side). Checks that need to change
 * something (attach a program, add a qdisc) run in a child process in a
 * private network namespace on its loopback device, so the host is never
 * touched. Native XDP is read from the driver's advertised XDP features
 * (netdev generic netlink, Linux 6.3), not by attaching: some drivers reset
 * the link when a program is attached.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "nft-backend/ct.h"
#include "nft-backend/netdev.h"
#include "nft-backend/nl.h"
#include "nft-backend/nft.h"
#include "pfd/bpf.h"
#include "pfd/cli.h"
#include "pfd/log.h"
#include "pfd/synp.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* include/uapi/linux/netdev.h, Linux 6.3 (Debian's 6.1 headers lack it). */
#define PFD_NETDEV_CMD_DEV_GET	      1
#define PFD_NETDEV_A_DEV_IFINDEX      1
#define PFD_NETDEV_A_DEV_XDP_FEATURES 3
#define PFD_NETDEV_XDP_ACT_BASIC      (1ULL << 0)
#define PFD_NETDEV_XDP_ACT_REDIRECT   (1ULL << 1)
#define PFD_NETDEV_XDP_ACT_NDO_XMIT   (1ULL << 2)

enum verdict { V_PASS, V_WARN, V_FAIL, V_INFO };
static const char *const verdict_name[] = { "PASS", "WARN", "FAIL", "INFO" };

static unsigned int n_fail, n_warn;

static void check(enum verdict v, const char *name, const char *detail, const char *fix)
{
	n_fail += v == V_FAIL;
	n_warn += v == V_WARN;
	pfd_out_open_obj(NULL);
	pfd_print_str(PFD_PRINT_ANY, "result", "%-5s", verdict_name[v]);
	pfd_print_str(PFD_PRINT_ANY, "check", "%-24s", name);
	pfd_print_str(PFD_PRINT_ANY, "detail", " %s\n", detail);
	if (fix)
		pfd_print_str(PFD_PRINT_ANY, "fix", "      fix: %s\n", fix);
	pfd_out_close_obj();
}

static int read_sysctl(const char *path, long *v)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = strtol(buf, NULL, 10);
	return 0;
}

/* ---- BPF ---- */

static int load_trivial_xdp(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "pfd_feas", "GPL", insns, 2, NULL);
}

/* ---- what runs in a private network namespace ---- */

#define NS_CLSACT      (1 << 0)
#define NS_XDP_GENERIC (1 << 1)
#define NS_FQ	       (1 << 2)
#define NS_NETNS       (1 << 3)

static int add_qdisc(int ifindex, const char *kind)
{
	char req[PFD_NL_REQ_SIZE] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct tcmsg *tcm;
	struct pfd_nl nl;
	int err;

	nlh->nlmsg_type = RTM_NEWQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, kind);
	err = pfd_nl_open(&nl, NETLINK_ROUTE, 0, false);
	if (err)
		return err;
	err = pfd_nl_request(&nl, nlh, NULL, NULL);
	pfd_nl_close(&nl);
	return err;
}

static int netns_checks_child(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
	int res = 0, fd;

	if (unshare(CLONE_NEWNET))
		return 0;
	res |= NS_NETNS;
	if (!bpf_tc_hook_create(&hook))
		res |= NS_CLSACT;
	fd = load_trivial_xdp();
	if (fd >= 0 && !bpf_xdp_attach(1, fd, XDP_FLAGS_SKB_MODE, NULL))
		res |= NS_XDP_GENERIC;
	if (!add_qdisc(1, "fq"))
		res |= NS_FQ;
	return res;
}

static int netns_checks(void)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(netns_checks_child());
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/* The driver's XDP features (netdev.c, as the daemon asks): 0 and *f,
 * -EOPNOTSUPP before Linux 6.3. */
static int xdp_features(uint32_t ifindex, uint64_t *f)
{
	struct pfd_netdev *nd;
	__u64 features = 0;
	int err;

	err = pfd_netdev_open(&nd);
	if (err)
		return err;
	err = pfd_netdev_xdp_features(nd, (int)ifindex, &features);
	pfd_netdev_close(nd);
	if (!err)
		*f = features;
	return err;
}

static bool is_veth(const char *ifname)
{
	char path[128], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", ifname);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0)
		return false; /* a real device has a driver link; veth has none */
	snprintf(path, sizeof(path), "/sys/class/net/%s/iflink", ifname);
	return access(path, F_OK) == 0 && strncmp(ifname, "lo", 3);
}

static void check_device(const struct pfd_iface *ifc)
{
	char name[64], detail[256];
	uint32_t ifindex = if_nametoindex(ifc->name);
	uint64_t f = 0;
	int err;

	snprintf(name, sizeof(name), "device %s", ifc->name);
	if (!ifindex) {
		check(V_FAIL, name, "no such device in this network namespace",
		      "create it, or remove its attach line from pfd.conf");
		return;
	}
	err = xdp_features(ifindex, &f);
	if (err) {
		snprintf(detail, sizeof(detail),
			 "driver XDP features unknown (%s; kernel < 6.3?): attach auto falls "
			 "back to generic XDP, then TC",
			 strerror(-err));
		check(V_WARN, name, detail, NULL);
		return;
	}
	if ((f & PFD_NETDEV_XDP_ACT_BASIC) && (f & PFD_NETDEV_XDP_ACT_REDIRECT)) {
		snprintf(detail, sizeof(detail), "native XDP (driver features 0x%llx)",
			 (unsigned long long)f);
		check(ifc->mode == PFD_ATTACH_GENERIC || ifc->mode == PFD_ATTACH_TC ? V_INFO :
										      V_PASS,
		      name, detail, NULL);
	} else {
		snprintf(detail, sizeof(detail),
			 "no native XDP in the driver (features 0x%llx): "
			 "attach auto uses generic XDP",
			 (unsigned long long)f);
		check(ifc->mode == PFD_ATTACH_NATIVE ? V_FAIL : V_WARN, name, detail,
		      ifc->mode == PFD_ATTACH_NATIVE ? "attach IFACE auto (or generic, or tc)" :
						       NULL);
	}
	if (!(f & PFD_NETDEV_XDP_ACT_NDO_XMIT)) {
		snprintf(detail, sizeof(detail), "cannot receive XDP-redirected frames%s",
			 is_veth(ifc->name) ? " (a veth needs an XDP program or GRO on its peer)" :
					      "");
		check(V_WARN, name, detail,
		      is_veth(ifc->name) ? "ethtool -K PEER gro on, or attach XDP on the peer" :
					   "flows leaving by this device stay on the slow path");
	}
}

static void check_kernel(void)
{
	struct utsname u;
	char detail[256];
	int maj = 0, min = 0;

	if (uname(&u))
		return;
	sscanf(u.release, "%d.%d", &maj, &min);
	snprintf(detail, sizeof(detail),
		 "Linux %s: deletes offloaded conntrack entries %s (6.4), tcx %s (6.6), "
		 "flowtable kfunc %s (6.10), flowtable CLOSING state %s (6.14)",
		 u.release, maj > 6 || (maj == 6 && min >= 4) ? "yes" : "no",
		 maj > 6 || (maj == 6 && min >= 6) ? "yes" : "no",
		 maj > 6 || (maj == 6 && min >= 10) ? "yes" : "no",
		 maj > 6 || (maj == 6 && min >= 14) ? "yes" : "no");
	check(V_INFO, "kernel", detail, NULL);
}

/* A block prefix drops before nftables, on every attached device: one that
 * covers an address of this host cuts its own sessions (SSH, BGP). */
static void check_blocks(const struct pfd_config *cfg)
{
	char detail[256], prefix[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
	struct ifaddrs *ifa, *a;
	unsigned int i, hits = 0;

	if (!cfg->n_block)
		return;
	if (getifaddrs(&ifa)) {
		snprintf(detail, sizeof(detail), "cannot read this host's addresses (%s)",
			 strerror(errno));
		check(V_WARN, "block prefixes", detail, NULL);
		return;
	}
	for (a = ifa; a; a = a->ifa_next) {
		const __be32 *ip;
		int family;

		if (!a->ifa_addr)
			continue;
		family = a->ifa_addr->sa_family;
		if (family == AF_INET)
			ip = (const __be32 *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr;
		else if (family == AF_INET6)
			ip = (const __be32 *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
		else
			continue;
		for (i = 0; i < cfg->n_block; i++) {
			if (!pfd_prefix_match(&cfg->block[i].prefix, 1, family, ip))
				continue;
			pfd_prefix_format(&cfg->block[i].prefix, prefix, sizeof(prefix));
			inet_ntop(family, ip, addr, sizeof(addr));
			snprintf(detail, sizeof(detail),
				 "block %s (line %u) covers %s on %s: this host's own traffic "
				 "from and to it is dropped%s",
				 prefix, cfg->block[i].line, addr, a->ifa_name,
				 cfg->block[i].dry_run ? " once dry-run is removed" : "");
			check(V_WARN, "block prefixes", detail,
			      "narrow the prefix so that it leaves this host's addresses out");
			hits++;
		}
	}
	freeifaddrs(ifa);
	if (!hits) {
		snprintf(detail, sizeof(detail),
			 "%u prefix%s, none covers an address of this host; dropped before "
			 "nftables on the attached devices",
			 cfg->n_block, cfg->n_block == 1 ? "" : "es");
		check(V_PASS, "block prefixes", detail, NULL);
	}
}

/* ---- syn-protect ---- */

#define SYNP_CHECK   "syn-protect"
#define SYNP_MAX_ST  32 /* statements looked at: as many as the daemon reads */
#define SYNP_OPT_LEN 64

/* "mss 1460 wscale 7 timestamp sack-perm", as nft(8) writes a statement. */
static void synp_statement_format(uint32_t flags, uint16_t mss, uint8_t wscale, char *buf,
				  size_t len)
{
	char opts[32];
	int n = 0;

	buf[0] = '\0';
	if (flags & PFD_SYNP_F_MSS)
		n += snprintf(buf + n, len - n, " mss %u", mss);
	if ((flags & PFD_SYNP_F_WSCALE) && (size_t)n < len)
		n += snprintf(buf + n, len - n, " wscale %u", wscale);
	pfd_synp_format_options(flags, opts, sizeof(opts));
	if (opts[0] && (size_t)n < len)
		n += snprintf(buf + n, len - n, " %s", opts);
	if (!buf[0])
		snprintf(buf, len, " (no options)");
	memmove(buf, buf + 1, strlen(buf)); /* the leading blank */
}

/* How pfd would attach the device (the daemon's order for auto), and
 * whether the XDP program can send a frame back out of it: the daemon puts
 * only such devices in pfd_tx_ports, and the fast path answers a SYN only
 * on a device it finds there. */
struct synp_dev {
	const char *name;
	enum pfd_attach_mode mode;
	bool found, native, xmit, features_known;
};

static void synp_devices(const struct pfd_config *cfg)
{
	struct synp_dev devs[PFD_MAX_DEVS];
	char detail[512], answer[256] = "";
	unsigned int i, n = 0;
	bool any_native = false;

	for (i = 0; i < cfg->n_ifaces && n < PFD_MAX_DEVS; i++) {
		struct synp_dev *dv = &devs[n++];
		uint32_t ifindex = if_nametoindex(cfg->ifaces[i].name);
		uint64_t f = 0;

		memset(dv, 0, sizeof(*dv));
		dv->name = cfg->ifaces[i].name;
		dv->mode = cfg->ifaces[i].mode;
		dv->found = ifindex != 0;
		if (dv->found && !xdp_features(ifindex, &f)) {
			dv->features_known = true;
			dv->xmit = f & PFD_NETDEV_XDP_ACT_NDO_XMIT;
			dv->native =
				(f & PFD_NETDEV_XDP_ACT_BASIC) && (f & PFD_NETDEV_XDP_ACT_REDIRECT);
		}
		/* a native device that cannot transmit counts as TC */
		any_native |= (dv->mode == PFD_ATTACH_NATIVE ||
			       (dv->mode == PFD_ATTACH_AUTO && dv->native)) &&
			      dv->xmit;
	}
	for (i = 0; i < n; i++) {
		const struct synp_dev *dv = &devs[i];
		const char *why = NULL;
		bool native = dv->mode == PFD_ATTACH_NATIVE ||
			      (dv->mode == PFD_ATTACH_AUTO && dv->native);
		size_t len = strlen(answer);

		if (!dv->found)
			continue; /* the device check says so */
		if (dv->mode == PFD_ATTACH_TC)
			why = "attached at TC ingress, which never answers";
		else if (native && !dv->features_known)
			why = "whether XDP can transmit on it is unknown (Linux < 6.3), "
			      "which counts as cannot";
		else if (native && !dv->xmit)
			why = "XDP cannot transmit on it (a veth needs an XDP program or "
			      "GRO on its peer)";
		else if (!native && any_native)
			why = "generic XDP transmits only while no attached device runs native XDP";
		if (!why) {
			if (len + strlen(dv->name) + 3 < sizeof(answer))
				snprintf(answer + len, sizeof(answer) - len, "%s%s",
					 len ? ", " : "", dv->name);
			continue;
		}
		snprintf(detail, sizeof(detail),
			 "SYNs arriving on %s go to the kernel's synproxy: %s", dv->name, why);
		check(V_INFO, SYNP_CHECK, detail, NULL);
	}
	if (answer[0]) {
		snprintf(detail, sizeof(detail), "SYNs to armed services answered at XDP on %s%s",
			 answer,
			 cfg->mode != PFD_MODE_MARK ?
				 " (and on flowtable devices that take XDP frames)" :
				 "");
		check(V_INFO, SYNP_CHECK, detail, NULL);
	}
}

/* The sysctls the kernel's half of the handshake depends on. armed: some
 * line would answer SYNs (not in dry run); ts: a statement a line would
 * use offers timestamps. */
static void synp_sysctls(bool armed, bool ts)
{
	char detail[512];
	long v;

	if (read_sysctl("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", &v)) {
		check(V_WARN, SYNP_CHECK,
		      "cannot read net.netfilter.nf_conntrack_tcp_loose (nf_conntrack not loaded?)",
		      "load the synproxy ruleset, then sysctl -w "
		      "net.netfilter.nf_conntrack_tcp_loose=0");
	} else if (v) {
		snprintf(detail, sizeof(detail),
			 "net.netfilter.nf_conntrack_tcp_loose = %ld: conntrack takes the client's "
			 "ACK for an established connection, the synproxy rule never sees it, and "
			 "the handshake does not complete%s",
			 v, armed ? "" : " (no line answers SYNs yet)");
		check(armed ? V_FAIL : V_WARN, SYNP_CHECK, detail,
		      "sysctl -w net.netfilter.nf_conntrack_tcp_loose=0 (and in /etc/sysctl.d/)");
	} else {
		check(V_PASS, SYNP_CHECK,
		      "net.netfilter.nf_conntrack_tcp_loose = 0: the client's ACK is invalid to "
		      "conntrack and reaches the synproxy rule",
		      NULL);
	}

	if (read_sysctl("/proc/sys/net/ipv4/tcp_syncookies", &v)) {
		check(V_WARN, SYNP_CHECK,
		      "no net.ipv4.tcp_syncookies: a kernel without CONFIG_SYN_COOKIES makes no "
		      "cookies, and every SYN goes to the kernel",
		      "a kernel with CONFIG_SYN_COOKIES");
	} else {
		snprintf(
			detail, sizeof(detail),
			"net.ipv4.tcp_syncookies = %ld (this host's listeners; the synproxy checks "
			"the cookies pfd sends whatever its value)",
			v);
		check(V_INFO, SYNP_CHECK, detail, NULL);
	}

	if (read_sysctl("/proc/sys/net/ipv4/tcp_timestamps", &v)) {
		check(V_WARN, SYNP_CHECK, "cannot read net.ipv4.tcp_timestamps", NULL);
	} else if (!v && ts) {
		check(V_WARN, SYNP_CHECK,
		      "net.ipv4.tcp_timestamps = 0, and the synproxy statement offers timestamp: "
		      "the client's window scale and SACK travel in the timestamp cookie, and a "
		      "server on this host answers the synproxy without timestamps",
		      "sysctl -w net.ipv4.tcp_timestamps=1, or remove timestamp from the synproxy "
		      "statement");
	} else {
		snprintf(detail, sizeof(detail), "net.ipv4.tcp_timestamps = %ld", v);
		check(V_INFO, SYNP_CHECK, detail, NULL);
	}
}

/*
 * syn-protect: whether the lines of pfd.conf would be armed, and what the
 * kernel's half of the handshake needs. XDP sends the SYN-ACK the
 * ruleset's synproxy would send; the synproxy rule checks the client's
 * ACK. A line the ruleset cannot complete is never armed: its SYNs go to
 * the kernel, which is never wrong, so most findings here are warnings.
 */
static void check_synp(const struct pfd_config *cfg)
{
	struct pfd_nft_synproxy st[SYNP_MAX_ST];
	char detail[768], opts[SYNP_OPT_LEN];
	bool helpers, armed_any = false, ts = false;
	struct pfd_nft *nft = NULL;
	unsigned int i, n_st = 0;
	int n;

	if (!cfg->n_synp)
		return;
	helpers = pfd_bpf_have_syncookie_helpers();
	check(helpers ? V_PASS : V_WARN, SYNP_CHECK,
	      helpers ? "XDP has the SYN cookie helpers (bpf_tcp_raw_gen_syncookie_ipv4/6)" :
			"this kernel's XDP has no SYN cookie helpers (Linux 6.0): no line is "
			"armed, the kernel's synproxy answers every SYN",
	      helpers ? NULL : "Linux 6.0 or later");

	/* the daemon's reading, which decides what it arms */
	n = pfd_nft_open(&nft);
	if (!n) {
		n = pfd_nft_read_synproxy(nft, st, SYNP_MAX_ST);
		pfd_nft_close(nft);
	}
	if (n < 0) {
		snprintf(detail, sizeof(detail),
			 "cannot read the ruleset's synproxy statements (%s): pfd arms no line it "
			 "cannot check",
			 strerror(-n));
		check(V_WARN, SYNP_CHECK, detail, NULL);
	} else if (!n) {
		check(V_WARN, SYNP_CHECK,
		      "the ruleset has no synproxy statement: no line is armed, SYNs go to the "
		      "kernel",
		      "load a synproxy ruleset (pfd.conf(5), syn-protect; "
		      "examples/syn-protect.nft)");
	} else {
		int len;

		n_st = (unsigned int)n < SYNP_MAX_ST ? (unsigned int)n : SYNP_MAX_ST;
		len = snprintf(detail, sizeof(detail),
			       "the ruleset has %d synproxy statement%s:", n, n == 1 ? "" : "s");
		for (i = 0; i < n_st && len > 0 && (size_t)len < sizeof(detail); i++) {
			synp_statement_format(st[i].flags, st[i].mss, st[i].wscale, opts,
					      sizeof(opts));
			len += snprintf(detail + len, sizeof(detail) - len, "%s %s", i ? ";" : "",
					opts);
		}
		check(V_INFO, SYNP_CHECK, detail, NULL);
	}

	for (i = 0; i < cfg->n_synp; i++) {
		const struct pfd_synp_rule *r = &cfg->synp[i];
		struct pfd_synp val = { 0 };
		const char *why = NULL;
		unsigned int services = r->n_prefixes * r->n_ports;
		bool dry = r->dry_run || cfg->dry_run;

		if (n < 0)
			why = "the ruleset could not be read";
		if (!why && pfd_synp_resolve(r, st, n_st, &val, &why)) {
			synp_statement_format(val.flags, val.mss, val.wscale, opts, sizeof(opts));
			snprintf(detail, sizeof(detail),
				 "line %u (%u service%s): %s: SYN-ACKs with %s%s", r->line,
				 services, services == 1 ? "" : "s",
				 helpers ? "armed" : "would be armed on Linux 6.0", opts,
				 dry ? " (dry-run: counted, not answered)" : "");
			check(helpers ? V_PASS : V_INFO, SYNP_CHECK, detail, NULL);
			armed_any |= helpers && !dry;
			ts |= val.flags & PFD_SYNP_F_TIMESTAMP;
			continue;
		}
		snprintf(detail, sizeof(detail),
			 "line %u (%u service%s): not armed: %s; its SYNs go to the kernel",
			 r->line, services, services == 1 ? "" : "s", why);
		/* without statements, or unread, the one warning above says it */
		check(n > 0 ? V_WARN : V_INFO, SYNP_CHECK, detail,
		      r->has_options && n > 0 ? "give the line the options of a synproxy statement "
						"of the ruleset, or add that statement" :
						NULL);
	}

	synp_sysctls(armed_any, ts);
	synp_devices(cfg);
}

int pfd_cmd_feasibility(struct pfd_cli *cli)
{
	char detail[PATH_MAX + 128], fix[PATH_MAX + 64];
	struct pfd_config *cfg;
	struct pfd_ct_opts ctopts = { 0 };
	struct pfd_nft *nft = NULL;
	struct pfd_ct *ct = NULL;
	struct statfs sfs;
	int fd, ns, ft = -1, fibmark;
	unsigned int i;
	long v;

	if (pfd_cli_config(cli, false))
		return PFD_EXIT_FAIL;
	cfg = cli->cfg;
	n_fail = n_warn = 0;
	pfd_out_open_obj(NULL);
	pfd_out_open_arr("checks");

	check_kernel();
	check(geteuid() == 0 ? V_PASS : V_FAIL, "privileges",
	      geteuid() == 0 ? "running as root" : "not root",
	      geteuid() == 0 ? NULL :
			       "run as root, or with CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN "
			       "CAP_PERFMON CAP_NET_RAW (examples/pfd.service)");

	fd = load_trivial_xdp();
	if (fd >= 0) {
		close(fd);
		check(V_PASS, "bpf", "loads XDP programs", NULL);
	} else {
		snprintf(detail, sizeof(detail), "cannot load an XDP program (%s)",
			 strerror(errno));
		check(V_FAIL, "bpf", detail,
		      "a kernel with CONFIG_BPF_SYSCALL and CONFIG_XDP_SOCKETS, run as root, "
		      "LimitMEMLOCK=infinity");
	}

	if (!statfs(cfg->bpffs, &sfs) && sfs.f_type == BPF_FS_MAGIC) {
		snprintf(detail, sizeof(detail), "%s is a bpffs", cfg->bpffs);
		check(V_PASS, "bpffs", detail, NULL);
	} else {
		snprintf(detail, sizeof(detail), "%s is not a bpffs mount", cfg->bpffs);
		snprintf(fix, sizeof(fix), "mount -t bpf bpf %s (or set bpffs in pfd.conf)",
			 cfg->bpffs);
		check(V_FAIL, "bpffs", detail, fix);
	}

	ns = netns_checks();
	if (ns < 0 || !(ns & NS_NETNS)) {
		check(V_WARN, "netns checks",
		      "cannot create a private network namespace: "
		      "clsact, generic XDP and sch_fq not checked",
		      NULL);
	} else {
		check(ns & NS_XDP_GENERIC ? V_PASS : V_FAIL, "xdp generic",
		      ns & NS_XDP_GENERIC ? "generic (skb) XDP attaches" :
					    "generic XDP does not attach",
		      ns & NS_XDP_GENERIC ? NULL : "use attach IFACE tc");
		check(ns & NS_CLSACT ? V_PASS : V_FAIL, "clsact",
		      ns & NS_CLSACT ? "TC ingress (clsact) available" : "no clsact qdisc",
		      ns & NS_CLSACT ? NULL : "a kernel with CONFIG_NET_SCH_INGRESS");
		check(ns & NS_FQ ? V_PASS : V_WARN, "sch_fq",
		      ns & NS_FQ ? "fq qdisc available (egress jitter)" :
				   "no fq qdisc: the egress jitter program has no effect",
		      ns & NS_FQ ? NULL : "a kernel with CONFIG_NET_SCH_FQ (modprobe sch_fq)");
	}

	fibmark = pfd_bpf_fib_mark_probe();
	check(fibmark == 1 ? V_PASS : V_WARN, "fib lookup mark",
	      fibmark == 1 ? "bpf_fib_lookup honours fwmark (BPF_FIB_LOOKUP_MARK)" :
			     "no BPF_FIB_LOOKUP_MARK (Linux < 6.10): flows routed by fwmark rules "
			     "stay on the slow path",
	      NULL);

	if (!read_sysctl("/proc/sys/net/netfilter/nf_conntrack_max", &v)) {
		check(V_PASS, "conntrack", "nf_conntrack loaded", NULL);
	} else {
		check(V_FAIL, "conntrack", "nf_conntrack is not loaded",
		      "load a ruleset that uses ct state (examples/mark-mode.nft), or modprobe "
		      "nf_conntrack");
	}
	if (!read_sysctl("/proc/sys/net/netfilter/nf_conntrack_events", &v)) {
		snprintf(detail, sizeof(detail), "nf_conntrack_events = %ld", v);
		check(v ? V_PASS : V_FAIL, "conntrack events", detail,
		      v ? NULL : "sysctl -w net.netfilter.nf_conntrack_events=1");
	}
	ctopts.cb = NULL;
	if (!pfd_ct_open(&ct, &ctopts)) {
		check(V_PASS, "ctnetlink", "conntrack event and request sockets open", NULL);
		pfd_ct_close(ct);
	} else {
		check(V_FAIL, "ctnetlink", "cannot subscribe to conntrack events",
		      "a kernel with CONFIG_NF_CT_NETLINK, run as root");
	}

	if (!pfd_nft_open(&nft)) {
		ft = pfd_nft_probe_flowtables(nft);
		pfd_nft_close(nft);
	}
	if (ft == 1)
		check(V_PASS, "nf_flow_table", "flowtables available (flowtable mode)", NULL);
	else
		check(cfg->mode == PFD_MODE_FLOWTABLE ? V_FAIL : V_WARN, "nf_flow_table",
		      ft == 0 ? "this kernel has no flowtables (CONFIG_NF_FLOW_TABLE)" :
				"cannot tell whether flowtables work",
		      cfg->mode == PFD_MODE_FLOWTABLE ? "use mode mark VALUE/MASK "
							"(examples/mark-mode.nft)" :
							NULL);

	if (cfg->mode == PFD_MODE_AUTO) {
		if (ft == 1)
			check(V_PASS, "mode auto", "picks flowtable: nf_flow_table is available",
			      NULL);
		else if (cfg->mark_mask) {
			snprintf(detail, sizeof(detail),
				 "picks mark 0x%x/0x%x: nf_flow_table is not available",
				 cfg->mark_value, cfg->mark_mask);
			check(V_PASS, "mode auto", detail, NULL);
		} else {
			check(V_FAIL, "mode auto", "no nf_flow_table, and no mark to fall back to",
			      "mode auto 0x1/0x1 (with a ct mark rule), or mode mark VALUE/MASK");
		}
	}

	for (i = 0; i < cfg->n_ifaces; i++)
		check_device(&cfg->ifaces[i]);
	check_blocks(cfg);
	check_synp(cfg);
	if (!cfg->n_ifaces && cfg->mode == PFD_MODE_MARK)
		check(V_FAIL, "devices", "mark mode without attach lines",
		      "attach IFACE in pfd.conf");

	pfd_out_close_arr();
	pfd_print_u64(PFD_PRINT_JSON, "failed", NULL, n_fail);
	pfd_print_u64(PFD_PRINT_JSON, "warnings", NULL, n_warn);
	pfd_out_close_obj();
	pfd_out_end();
	pfd_print_text("%u failed, %u warnings\n", n_fail, n_warn);
	return n_fail ? PFD_EXIT_FAIL : PFD_EXIT_OK;
}
