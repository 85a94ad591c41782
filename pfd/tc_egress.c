// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's side of the TC egress programs: parses their pfd.conf keys, loads
 * tc-bpf/pfd_tc_mss and pfd_tc_jitter from the embedded skeletons with their
 * maps pinned by name under <bpffs>/tc/globals (shared with objects an
 * operator loads by hand with tc), writes the settings, attaches the programs
 * at TC egress with priorities of their own, sets up fq for jitter, removes
 * it all on detach, probes for sch_fq, and reads their counters for
 * `pfd status`. See pfd/tc_egress.h for the API and the keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* "egress.h" is pfd/tc_egress.h (this directory first); "pfd/tc_egress.h" would
 * find the BPF contract, include/pfd/tc_egress.h, through -Iinclude. */
#include "pfd/tc_egress.h"
#include "nft-backend/nl.h"
#include "pfd/log.h"
#include "pfd/util.h"
#include "pfd_tc_jitter.skel.h"
#include "pfd_tc_mss.skel.h"

const char *const pfd_egress_config_keys[] = {
	"mss", "mss-device", "mss-prefix", "jitter", "jitter-prefix", "jitter-port", NULL,
};

void pfd_egress_config_init(struct pfd_egress_config *ec)
{
	memset(ec, 0, sizeof(*ec));
}

bool pfd_egress_configured(const struct pfd_egress_config *ec)
{
	return ec->n_mss || ec->n_jit;
}

/* ---- pfd.conf ------------------------------------------------------------ */

#define fail(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EINVAL;                     \
	} while (0)

static int parse_ifname(const char *s, char *out, char *err, size_t errlen)
{
	if (!*s || strlen(s) >= IFNAMSIZ || strchr(s, '/') || strchr(s, ' '))
		fail("\"%s\" is not a device name", s);
	snprintf(out, IFNAMSIZ, "%s", s);
	return 0;
}

/* "88".."65535", "mtu", or with allow_exempt "exempt". */
static int parse_ceiling(const char *s, bool allow_exempt, struct pfd_mss_conf *c, char *err,
			 size_t errlen)
{
	unsigned long v;
	char *end;

	memset(c, 0, sizeof(*c));
	if (!strcmp(s, "mtu")) {
		c->flags = PFD_MSS_F_MTU;
		return 0;
	}
	if (allow_exempt && !strcmp(s, "exempt")) {
		c->flags = PFD_MSS_F_EXEMPT;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < PFD_MSS_MIN || v > PFD_MSS_MAX)
		fail("expected a ceiling of %d..%d bytes or \"mtu\"%s, got \"%s\"", PFD_MSS_MIN,
		     PFD_MSS_MAX, allow_exempt ? " or \"exempt\"" : "", s);
	c->mss = (uint16_t)v;
	return 0;
}

/* ADDR/LEN with the host bits clear (the canonical form is named if not). */
static int parse_prefix(const char *s, uint8_t *family, uint8_t *plen, __be32 addr[4], char *err,
			size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned char *a = (unsigned char *)addr;
	unsigned long len;
	char *end;
	int fam, max, i, bad = 0;

	memset(addr, 0, 16);
	if (!slash || (size_t)(slash - s) >= INET6_ADDRSTRLEN)
		fail("expected a prefix ADDR/LEN, got \"%s\"", s);
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - s), s);
	fam = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, buf, addr) != 1)
		fail("expected a prefix ADDR/LEN, got \"%s\"", s);
	max = fam == AF_INET ? 32 : 128;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || len > (unsigned long)max)
		fail("prefix length of \"%s\" must be 0..%d", s, max);
	for (i = 0; i < max / 8; i++) {
		int keep = (int)len - i * 8;
		unsigned char mask = keep >= 8 ? 0xff :
				     keep <= 0 ? 0 :
						 (unsigned char)(0xff << (8 - keep));

		if (a[i] & ~mask) {
			bad = 1;
			a[i] &= mask;
		}
	}
	if (bad) {
		inet_ntop(fam, addr, canon, sizeof(canon));
		fail("\"%s\" has host bits set; did you mean %s/%lu?", s, canon, len);
	}
	*family = (uint8_t)fam;
	*plen = (uint8_t)len;
	return 0;
}

/* A duration with a unit: ns, us, ms, s (a bare number is ambiguous here:
 * pfd.conf's bare seconds would be a surprising jitter). */
static int parse_delay(const char *s, uint64_t *ns, char *err, size_t errlen)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 } };
	double v;
	char *end;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || isnan(v) || s[0] == '-')
		fail("expected a delay such as 500us or 20ms, got \"%s\"", s);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			v *= units[i].mult;
			if (v > (double)PFD_EGRESS_JIT_MAX_NS)
				fail("delay \"%s\" exceeds the maximum of 4s", s);
			*ns = (uint64_t)(v + 0.5);
			return 0;
		}
	}
	fail("delay \"%s\" needs a unit: ns, us, ms or s", s);
}

static int parse_dir(const char *s, uint8_t *dir, char *err, size_t errlen)
{
	if (!strcmp(s, "src"))
		*dir = PFD_PFX_SRC;
	else if (!strcmp(s, "dst"))
		*dir = PFD_PFX_DST;
	else
		fail("expected \"src\" or \"dst\", got \"%s\"", s);
	return 0;
}

static int mss_line(struct pfd_egress_config *ec, const char *key, char **args, int nargs,
		    char *err, size_t errlen)
{
	struct pfd_egress_mss_rule r = { .line = ec->line };
	unsigned int i;
	int rc;

	if (!strcmp(key, "mss")) {
		if (nargs != 1)
			fail("expected: mss CEILING");
		rc = parse_ceiling(args[0], false, &r.conf, err, errlen);
	} else if (!strcmp(key, "mss-device")) {
		if (nargs != 2)
			fail("expected: mss-device IFACE CEILING");
		rc = parse_ifname(args[0], r.ifname, err, errlen);
		if (!rc)
			rc = parse_ceiling(args[1], false, &r.conf, err, errlen);
	} else {
		if (nargs != 3 && nargs != 4)
			fail("expected: mss-prefix PREFIX src|dst CEILING [IFACE]");
		r.has_pfx = true;
		rc = parse_prefix(args[0], &r.family, &r.plen, r.addr, err, errlen);
		if (!rc)
			rc = parse_dir(args[1], &r.dir, err, errlen);
		if (!rc)
			rc = parse_ceiling(args[2], true, &r.conf, err, errlen);
		if (!rc && nargs == 4)
			rc = parse_ifname(args[3], r.ifname, err, errlen);
		r.conf.plen = r.plen;
	}
	if (rc)
		return rc;

	for (i = 0; i < ec->n_mss; i++) {
		const struct pfd_egress_mss_rule *o = &ec->mss[i];

		if (o->has_pfx != r.has_pfx || strcmp(o->ifname, r.ifname))
			continue;
		if (!r.has_pfx)
			fail("%s already set on line %u",
			     r.ifname[0] ? r.ifname : "default ceiling", o->line);
		if (o->family == r.family && o->plen == r.plen && o->dir == r.dir &&
		    !memcmp(o->addr, r.addr, 16))
			fail("%s already set on line %u", args[0], o->line);
	}
	if (ec->n_mss >= PFD_EGRESS_MAX_MSS)
		fail("too many mss lines (at most %d)", PFD_EGRESS_MAX_MSS);
	ec->mss[ec->n_mss++] = r;
	return 1;
}

static int jitter_line(struct pfd_egress_config *ec, const char *key, char **args, int nargs,
		       char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	if (!strcmp(key, "jitter")) {
		struct pfd_egress_jit_rule r = { .line = ec->line, .dist = PFD_JIT_UNIFORM };

		if (nargs != 3 && nargs != 4)
			fail("expected: jitter IFACE MIN MAX [uniform|normal|pareto]");
		rc = parse_ifname(args[0], r.ifname, err, errlen);
		if (!rc)
			rc = parse_delay(args[1], &r.min_ns, err, errlen);
		if (!rc)
			rc = parse_delay(args[2], &r.max_ns, err, errlen);
		if (rc)
			return rc;
		if (r.max_ns < r.min_ns)
			fail("MAX %s is below MIN %s", args[2], args[1]);
		if (nargs == 4) {
			if (!strcmp(args[3], "uniform"))
				r.dist = PFD_JIT_UNIFORM;
			else if (!strcmp(args[3], "normal"))
				r.dist = PFD_JIT_NORMAL;
			else if (!strcmp(args[3], "pareto"))
				r.dist = PFD_JIT_PARETO;
			else
				fail("expected uniform, normal or pareto, got \"%s\"", args[3]);
		}
		for (i = 0; i < ec->n_jit; i++)
			if (!strcmp(ec->jit[i].ifname, r.ifname))
				fail("jitter on %s already set on line %u", r.ifname,
				     ec->jit[i].line);
		if (ec->n_jit >= PFD_EGRESS_MAX_JIT)
			fail("too many jitter lines (at most %d)", PFD_EGRESS_MAX_JIT);
		ec->jit[ec->n_jit++] = r;
		return 1;
	}

	struct pfd_egress_jit_sel s = { .line = ec->line };

	if (!strcmp(key, "jitter-prefix")) {
		if (nargs != 2)
			fail("expected: jitter-prefix IFACE PREFIX");
		rc = parse_ifname(args[0], s.ifname, err, errlen);
		if (!rc)
			rc = parse_prefix(args[1], &s.family, &s.plen, s.addr, err, errlen);
	} else {
		unsigned long port;
		char *end;

		if (nargs != 3)
			fail("expected: jitter-port IFACE tcp|udp PORT");
		rc = parse_ifname(args[0], s.ifname, err, errlen);
		if (rc)
			return rc;
		s.is_port = true;
		if (!strcmp(args[1], "tcp"))
			s.l4proto = IPPROTO_TCP;
		else if (!strcmp(args[1], "udp"))
			s.l4proto = IPPROTO_UDP;
		else
			fail("expected tcp or udp, got \"%s\"", args[1]);
		errno = 0;
		port = strtoul(args[2], &end, 10);
		if (errno || end == args[2] || *end || args[2][0] == '-' || !port || port > 65535)
			fail("expected a port 1..65535, got \"%s\"", args[2]);
		s.port = (uint16_t)port;
	}
	if (rc)
		return rc;
	if (ec->n_sel >= PFD_EGRESS_MAX_SEL)
		fail("too many jitter-prefix and jitter-port lines (at most %d)",
		     PFD_EGRESS_MAX_SEL);
	ec->sel[ec->n_sel++] = s;
	return 1;
}

int pfd_egress_config_line(struct pfd_egress_config *ec, const char *key, char **args, int nargs,
			   char *err, size_t errlen)
{
	if (!strcmp(key, "mss") || !strcmp(key, "mss-device") || !strcmp(key, "mss-prefix"))
		return mss_line(ec, key, args, nargs, err, errlen);
	if (!strcmp(key, "jitter") || !strcmp(key, "jitter-prefix") || !strcmp(key, "jitter-port"))
		return jitter_line(ec, key, args, nargs, err, errlen);
	return 0;
}

int pfd_egress_config_check(const struct pfd_egress_config *ec, unsigned int *line, char *err,
			    size_t errlen)
{
	unsigned int i, j;

	for (i = 0; i < ec->n_sel; i++) {
		for (j = 0; j < ec->n_jit; j++)
			if (!strcmp(ec->sel[i].ifname, ec->jit[j].ifname))
				break;
		if (j == ec->n_jit) {
			*line = ec->sel[i].line;
			fail("%s: no jitter line for %s",
			     ec->sel[i].is_port ? "jitter-port" : "jitter-prefix",
			     ec->sel[i].ifname);
		}
	}
	return 0;
}

#undef fail

/* ---- distribution tables ------------------------------------------------- */

/* Inverse of the standard normal CDF by bisection on erfc (libm): exact
 * enough for 256 table points, and no magic constants. */
static double norm_quantile(double p)
{
	double lo = -10, hi = 10;
	int i;

	for (i = 0; i < 100; i++) {
		double mid = (lo + hi) / 2;

		if (0.5 * erfc(-mid / M_SQRT2) < p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

int pfd_egress_dist_table(unsigned int dist, struct pfd_jit_dist *t)
{
	/* Pareto alpha 1.5 truncated at its 99.9th percentile, so max is the
	 * rare tail and most delays sit near min. */
	const double alpha = 1.5, xmax = pow(1 - 0.999, -1 / alpha);
	int i;

	if (dist != PFD_JIT_NORMAL && dist != PFD_JIT_PARETO)
		return -EINVAL;
	for (i = 0; i < PFD_JIT_DIST_POINTS; i++) {
		double u = (i + 0.5) / PFD_JIT_DIST_POINTS, f;

		if (dist == PFD_JIT_NORMAL) /* mean mid-range, +-3 sigma at min and max */
			f = (norm_quantile(u) + 3) / 6;
		else
			f = (pow(1 - u, -1 / alpha) - 1) / (xmax - 1);
		f = f < 0 ? 0 : f > 1 ? 1 : f;
		t->q[i] = (__u16)lrint(f * 65535);
	}
	return 0;
}

/* ---- rtnetlink: the root qdisc ------------------------------------------- */

struct qdisc_query {
	int ifindex;
	char kind[32];
};

static int qdisc_attr_cb(const struct nlattr *a, void *data)
{
	struct qdisc_query *q = data;

	if (mnl_attr_get_type(a) == TCA_KIND && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		snprintf(q->kind, sizeof(q->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qdisc_query *q = data;
	struct tcmsg *tcm;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*tcm)))
		return MNL_CB_OK;
	tcm = mnl_nlmsg_get_payload(nlh);
	if (tcm->tcm_ifindex != q->ifindex || tcm->tcm_parent != TC_H_ROOT)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*tcm), qdisc_attr_cb, q);
	return MNL_CB_OK;
}

struct talk_arg {
	mnl_cb_t cb;
	void *data;
};

/* libmnl-style callbacks under nl.c's request loop. */
static int talk_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct talk_arg *t = arg;

	return t->cb && t->cb(nlh, t->data) == MNL_CB_ERROR ? -EINVAL : 0;
}

/* Sends one rtnetlink request and reads replies until the ack or the end of
 * the dump, through nft-backend/nl.c like every other netlink exchange of
 * pfd (only the kernel is believed, sequence and port checked, bounded
 * wait). 0 or -errno (the kernel's). */
static int rtnl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct talk_arg t = { .cb = cb, .data = data };
	struct pfd_nl nl;
	int ret;

	ret = pfd_nl_open(&nl, NETLINK_ROUTE, 0, false);
	if (ret)
		return ret;
	ret = pfd_nl_request(&nl, nlh, talk_cb, &t);
	pfd_nl_close(&nl);
	return ret;
}

static int root_qdisc_kind(int ifindex, char *kind, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct qdisc_query q = { .ifindex = ifindex };
	struct tcmsg *tcm;
	int err;

	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	err = rtnl_talk(nlh, qdisc_cb, &q);
	snprintf(kind, len, "%s", q.kind);
	return err;
}

/* Root qdisc of ifindex := fq. -ENOENT from the kernel: no sch_fq. */
static int set_root_fq(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = RTM_NEWQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, "fq");
	return rtnl_talk(nlh, NULL, NULL);
}

static bool no_fq_error(int err)
{
	/* "Specified qdisc kind is unknown" (qdisc_create: -ENOENT, after a
	 * failed module request) */
	return err == -ENOENT || err == -EOPNOTSUPP;
}

int pfd_egress_probe_fq(char *msg, size_t len)
{
	int status, rc;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		/* A fresh namespace: its lo (ifindex 1) is ours to change. */
		if (unshare(CLONE_NEWNET))
			_exit(3);
		rc = set_root_fq(1);
		_exit(!rc ? 0 : no_fq_error(rc) ? 1 : 2);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status))
		return -EIO;
	switch (WEXITSTATUS(status)) {
	case 0:
		snprintf(msg, len, "the fq qdisc is available");
		return 1;
	case 1:
		snprintf(msg, len,
			 "this kernel has no fq qdisc (sch_fq): jitter cannot delay "
			 "packets; build the kernel with CONFIG_NET_SCH_FQ");
		return 0;
	case 3:
		snprintf(msg, len, "cannot create a network namespace to probe for sch_fq");
		return -EPERM;
	default:
		snprintf(msg, len, "probing for the fq qdisc failed");
		return -EIO;
	}
}

/* ---- attach -------------------------------------------------------------- */

struct pfd_egress {
	struct pfd_tc_mss *mss;
	struct pfd_tc_jitter *jit;
	char pin_root[PATH_MAX];
};

/* The name of the program attached at (handle 1, prio) on ifindex's egress
 * hook, or "" if none. */
static void filter_prog_name(int ifindex, uint32_t prio, char *name, size_t len)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio);
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd;

	libbpf_print_fn_t print;
	int err;

	name[0] = 0;
	/* Most devices have no clsact or no filter there: not worth the
	 * kernel's extack message that libbpf would print for each. */
	print = libbpf_set_print(NULL);
	err = bpf_tc_query(&hook, &opts);
	libbpf_set_print(print);
	if (err)
		return;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(name, len, "%s", info.name);
	close(fd);
}

static int tc_attach(const char *ifname, int ifindex, int prog_fd, uint32_t prio)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);

	libbpf_print_fn_t print;
	int err;

	/* EEXIST (a clsact is already there) is the usual case: no message */
	print = libbpf_set_print(NULL);
	err = bpf_tc_hook_create(&hook); /* the clsact qdisc */
	libbpf_set_print(print);
	if (err && err != -EEXIST) {
		pr_err("%s: cannot add the clsact qdisc (%s)", ifname, strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_err("%s: cannot attach a TC egress program (%s)", ifname, strerror(-err));
	return err;
}

/* Removes our filter at prio from ifindex if it is one of ours (by name). */
static int tc_detach_ours(int ifindex, uint32_t prio, const char *prog_name)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio);
	char name[BPF_OBJ_NAME_LEN];

	filter_prog_name(ifindex, prio, name, sizeof(name));
	if (strcmp(name, prog_name))
		return 0;
	return bpf_tc_detach(&hook, &opts) ? -errno : 1;
}

/* Makes a map hold exactly the n keys/values given: writes them first, then
 * deletes the rest, so that a SYN never sees a gap between the old and the
 * new settings. */
static int map_sync(int fd, const void *keys, const void *vals, size_t ksz, size_t vsz, size_t n)
{
	unsigned char key[64], next[64];
	size_t i, stale_n = 0, stale_cap = 0;
	unsigned char *stale = NULL;
	int err = 0, rc;

	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			err = err ? err : -errno;
	for (rc = bpf_map_get_next_key(fd, NULL, next); !rc;
	     rc = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, ksz);
		for (i = 0; i < n; i++)
			if (!memcmp((const char *)keys + i * ksz, key, ksz))
				break;
		if (i < n)
			continue;
		if (stale_n == stale_cap) {
			unsigned char *p = realloc(stale, (stale_cap = stale_cap * 2 + 16) * ksz);

			if (!p) {
				free(stale);
				return -ENOMEM;
			}
			stale = p;
		}
		memcpy(stale + stale_n++ * ksz, key, ksz);
	}
	for (i = 0; i < stale_n; i++)
		bpf_map_delete_elem(fd, stale + i * ksz);
	free(stale);
	return err;
}

static bool in_list(const char *name, const char (*list)[IFNAMSIZ], unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

static int load_objects(struct pfd_egress *eg, bool need_mss, bool need_jit)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = eg->pin_root);
	int err;

	if (need_mss && !eg->mss) {
		eg->mss = pfd_tc_mss__open_opts(&oo);
		if (!eg->mss)
			return -errno;
		err = pfd_tc_mss__load(eg->mss);
		if (err) {
			pr_err("pfd_tc_mss: load failed (%s); a pin of another layout under %s "
			       "is removed by pfd detach --all",
			       strerror(-err), eg->pin_root);
			pfd_tc_mss__destroy(eg->mss);
			eg->mss = NULL;
			return err;
		}
	}
	if (need_jit && !eg->jit) {
		eg->jit = pfd_tc_jitter__open_opts(&oo);
		if (!eg->jit)
			return -errno;
		err = pfd_tc_jitter__load(eg->jit);
		if (err) {
			pr_err("pfd_tc_jitter: load failed (%s); a pin of another layout under %s "
			       "is removed by pfd detach --all",
			       strerror(-err), eg->pin_root);
			pfd_tc_jitter__destroy(eg->jit);
			eg->jit = NULL;
			return err;
		}
	}
	return 0;
}

/* Writes pfd_mss_cfg and pfd_mss_pfx; collects the clamped devices. */
static int apply_mss(struct pfd_egress *eg, const struct pfd_egress_config *ec,
		     const char *const *attach_devs, unsigned int n_attach, char (*devs)[IFNAMSIZ],
		     unsigned int *n_devs)
{
	struct pfd_egress_pfx_key pk[PFD_EGRESS_MAX_MSS];
	struct pfd_mss_conf pv[PFD_EGRESS_MAX_MSS], dv[PFD_EGRESS_MAX_MSS];
	uint32_t dk[PFD_EGRESS_MAX_MSS];
	unsigned int i, np = 0, nd = 0;
	bool everywhere = false;
	int err = 0, e;

	for (i = 0; i < ec->n_mss; i++) {
		const struct pfd_egress_mss_rule *r = &ec->mss[i];
		uint32_t ifindex = 0;

		if (r->ifname[0]) {
			ifindex = if_nametoindex(r->ifname);
			if (!ifindex) {
				pr_err("%s: no such device (pfd.conf line %u); its MSS ceiling "
				       "is not applied",
				       r->ifname, r->line);
				err = err ? err : -ENODEV;
				continue;
			}
			if (!in_list(r->ifname, (const char(*)[IFNAMSIZ])devs, *n_devs))
				snprintf(devs[(*n_devs)++], IFNAMSIZ, "%s", r->ifname);
		} else {
			everywhere = true;
		}
		if (r->has_pfx) {
			memset(&pk[np], 0, sizeof(pk[np]));
			pk[np].prefixlen = PFD_EGRESS_PFX_BASE + r->plen;
			pk[np].ifindex = ifindex;
			pk[np].family = r->family;
			pk[np].dir = r->dir;
			memcpy(pk[np].addr, r->addr, 16);
			pv[np++] = r->conf;
		} else {
			dk[nd] = ifindex;
			dv[nd++] = r->conf;
		}
	}
	if (everywhere)
		for (i = 0; i < n_attach; i++)
			if (!in_list(attach_devs[i], (const char(*)[IFNAMSIZ])devs, *n_devs))
				snprintf(devs[(*n_devs)++], IFNAMSIZ, "%s", attach_devs[i]);

	e = map_sync(bpf_map__fd(eg->mss->maps.pfd_mss_cfg), dk, dv, sizeof(dk[0]), sizeof(dv[0]),
		     nd);
	if (!e)
		e = map_sync(bpf_map__fd(eg->mss->maps.pfd_mss_pfx), pk, pv, sizeof(pk[0]),
			     sizeof(pv[0]), np);
	if (e) {
		pr_err("MSS clamp: cannot write its settings (%s)", strerror(-e));
		err = err ? err : e;
	}
	return err;
}

static int apply_jit(struct pfd_egress *eg, const struct pfd_egress_config *ec,
		     char (*devs)[IFNAMSIZ], unsigned int *n_devs)
{
	struct pfd_egress_pfx_key pk[PFD_EGRESS_MAX_SEL];
	struct pfd_jit_port_key qk[PFD_EGRESS_MAX_SEL];
	struct pfd_jit_conf cv[PFD_EGRESS_MAX_JIT];
	uint8_t ones[PFD_EGRESS_MAX_SEL];
	uint32_t ck[PFD_EGRESS_MAX_JIT];
	unsigned int i, j, np = 0, nq = 0, nc = 0;
	int err = 0, e;

	memset(ones, 1, sizeof(ones));
	for (i = 0; i < ec->n_jit; i++) {
		const struct pfd_egress_jit_rule *r = &ec->jit[i];
		uint32_t ifindex = if_nametoindex(r->ifname);
		char kind[32] = "";
		struct pfd_jit_dist t;

		if (!ifindex) {
			pr_err("%s: no such device (pfd.conf line %u); jitter not attached",
			       r->ifname, r->line);
			err = err ? err : -ENODEV;
			continue;
		}
		/* fq is what turns the timestamp into a delay. Replace only
		 * a default root qdisc, never an operator's shaping. */
		root_qdisc_kind((int)ifindex, kind, sizeof(kind));
		if (strcmp(kind, "fq")) {
			if (kind[0] && strcmp(kind, "noqueue") && strcmp(kind, "pfifo_fast") &&
			    strcmp(kind, "fq_codel") && strcmp(kind, "mq")) {
				pr_err("%s: root qdisc is %s; jitter needs fq there, and pfd does "
				       "not replace an operator's qdisc: jitter not attached",
				       r->ifname, kind);
				err = err ? err : -EBUSY;
				continue;
			}
			e = set_root_fq((int)ifindex);
			if (e) {
				if (no_fq_error(e))
					pr_err("%s: jitter needs the fq qdisc (sch_fq), which this "
					       "kernel lacks: jitter not attached (pfd feasibility "
					       "checks this)",
					       r->ifname);
				else
					pr_err("%s: cannot set the fq qdisc (%s): jitter not "
					       "attached",
					       r->ifname, strerror(-e));
				err = err ? err : (no_fq_error(e) ? -EOPNOTSUPP : e);
				continue;
			}
		}
		if (r->dist == PFD_JIT_NORMAL || r->dist == PFD_JIT_PARETO) {
			uint32_t k = r->dist;

			pfd_egress_dist_table(r->dist, &t);
			bpf_map_update_elem(bpf_map__fd(eg->jit->maps.pfd_jit_dist), &k, &t,
					    BPF_ANY);
		}
		ck[nc] = ifindex;
		cv[nc] = (struct pfd_jit_conf){ .min_ns = r->min_ns,
						.max_ns = r->max_ns,
						.dist = r->dist };
		for (j = 0; j < ec->n_sel; j++) {
			const struct pfd_egress_jit_sel *s = &ec->sel[j];

			if (strcmp(s->ifname, r->ifname))
				continue;
			if (s->is_port) {
				cv[nc].flags |= PFD_JIT_F_SEL_PORT;
				qk[nq++] = (struct pfd_jit_port_key){ .ifindex = ifindex,
								      .l4proto = s->l4proto,
								      .port = htons(s->port) };
			} else {
				cv[nc].flags |= PFD_JIT_F_SEL_PFX;
				memset(&pk[np], 0, sizeof(pk[np]));
				pk[np].prefixlen = PFD_EGRESS_PFX_BASE + s->plen;
				pk[np].ifindex = ifindex;
				pk[np].family = s->family;
				pk[np].dir = PFD_PFX_ANY;
				memcpy(pk[np++].addr, s->addr, 16);
			}
		}
		nc++;
		snprintf(devs[(*n_devs)++], IFNAMSIZ, "%s", r->ifname);
	}
	e = map_sync(bpf_map__fd(eg->jit->maps.pfd_jit_pfx), pk, ones, sizeof(pk[0]), 1, np);
	if (!e)
		e = map_sync(bpf_map__fd(eg->jit->maps.pfd_jit_port), qk, ones, sizeof(qk[0]), 1,
			     nq);
	if (!e)
		e = map_sync(bpf_map__fd(eg->jit->maps.pfd_jit_cfg), ck, cv, sizeof(ck[0]),
			     sizeof(cv[0]), nc);
	if (e) {
		pr_err("jitter: cannot write its settings (%s)", strerror(-e));
		err = err ? err : e;
	}
	return err;
}

/* Attaches prog to the listed devices and removes our filter of that kind
 * from every other device. */
static int attach_set(const char *what, int prog_fd, uint32_t prio, const char *prog_name,
		      char (*devs)[IFNAMSIZ], unsigned int n)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	unsigned int k;
	int err = 0, e;

	for (k = 0; prog_fd >= 0 && k < n; k++) {
		int ifindex = (int)if_nametoindex(devs[k]);

		e = ifindex ? tc_attach(devs[k], ifindex, prog_fd, prio) : -ENODEV;
		if (!e)
			pr_info("%s: %s attached at TC egress", devs[k], what);
		err = err ? err : e;
	}
	for (i = ifs; i && i->if_index; i++) {
		if (prog_fd >= 0 && in_list(i->if_name, (const char(*)[IFNAMSIZ])devs, n))
			continue;
		if (tc_detach_ours((int)i->if_index, prio, prog_name) > 0)
			pr_info("%s: %s removed", i->if_name, what);
	}
	if (ifs)
		if_freenameindex(ifs);
	return err;
}

int pfd_egress_apply(struct pfd_egress **egp, const struct pfd_egress_config *ec, const char *bpffs,
		     const char *const *attach_devs, unsigned int n_attach)
{
	char mss_devs[PFD_EGRESS_MAX_MSS + 64][IFNAMSIZ], jit_devs[PFD_EGRESS_MAX_JIT][IFNAMSIZ];
	unsigned int n_mss = 0, n_jit = 0;
	struct pfd_egress *eg = *egp;
	int err = 0, e;

	if (n_attach > 64)
		n_attach = 64;
	if (!eg) {
		eg = calloc(1, sizeof(*eg));
		if (!eg)
			return -ENOMEM;
		snprintf(eg->pin_root, sizeof(eg->pin_root), "%s/tc/globals", bpffs);
		*egp = eg;
	}
	if (pfd_egress_configured(ec)) {
		e = pfd_mkdir_p(eg->pin_root, 0700, 0700);
		if (e) {
			pr_err("%s: cannot create the pin directory (%s)", eg->pin_root,
			       strerror(-e));
			return e;
		}
	}
	e = load_objects(eg, ec->n_mss > 0, ec->n_jit > 0);
	if (e)
		return e;

	if (eg->mss) {
		if (ec->n_mss)
			err = apply_mss(eg, ec, attach_devs, n_attach, mss_devs, &n_mss);
		else
			apply_mss(eg, ec, NULL, 0, mss_devs, &n_mss); /* empties the maps */
	}
	e = attach_set("MSS clamp",
		       eg->mss && n_mss ? bpf_program__fd(eg->mss->progs.pfd_tc_mss) : -1,
		       PFD_TC_MSS_PRIO, PFD_TC_MSS_PROG, mss_devs, n_mss);
	err = err ? err : e;

	if (eg->jit)
		e = apply_jit(eg, ec, jit_devs, &n_jit);
	else
		e = 0;
	err = err ? err : e;
	e = attach_set("jitter",
		       eg->jit && n_jit ? bpf_program__fd(eg->jit->progs.pfd_tc_jitter) : -1,
		       PFD_TC_JITTER_PRIO, PFD_TC_JITTER_PROG, jit_devs, n_jit);
	return err ? err : e;
}

void pfd_egress_close(struct pfd_egress *eg)
{
	if (!eg)
		return;
	pfd_tc_mss__destroy(eg->mss);
	pfd_tc_jitter__destroy(eg->jit);
	free(eg);
}

int pfd_egress_detach_all(const char *bpffs)
{
	static const char *const maps[] = {
		PFD_MAP_MSS_CFG,  PFD_MAP_MSS_PFX,   PFD_MAP_MSS_STATS,
		PFD_MAP_JIT_CFG,  PFD_MAP_JIT_PFX,   PFD_MAP_JIT_PORT,
		PFD_MAP_JIT_DIST, PFD_MAP_JIT_FLOWS, PFD_MAP_JIT_STATS,
	};
	char none[1][IFNAMSIZ] = { "" };
	char path[PATH_MAX];
	size_t i;

	attach_set("MSS clamp", -1, PFD_TC_MSS_PRIO, PFD_TC_MSS_PROG, none, 0);
	attach_set("jitter", -1, PFD_TC_JITTER_PRIO, PFD_TC_JITTER_PROG, none, 0);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/tc/globals/%s", bpffs, maps[i]);
		if (!unlink(path))
			pr_info("%s: unpinned", path);
	}
	return 0;
}

/* ---- status -------------------------------------------------------------- */

static const char *const mss_keys[PFD_MSS_S__COUNT] = {
	[PFD_MSS_S_CLAMPED] = "clamped",       [PFD_MSS_S_BELOW] = "below",
	[PFD_MSS_S_NO_OPTION] = "no_option",   [PFD_MSS_S_MALFORMED] = "malformed",
	[PFD_MSS_S_NO_CEILING] = "no_ceiling", [PFD_MSS_S_EXEMPT] = "exempt",
	[PFD_MSS_S_ERROR] = "error",
};

static const char *const jit_keys[PFD_JIT_S__COUNT] = {
	[PFD_JIT_S_DELAYED] = "delayed",       [PFD_JIT_S_HELD] = "held",
	[PFD_JIT_S_UNSELECTED] = "unselected", [PFD_JIT_S_NOT_IP] = "not_ip",
	[PFD_JIT_S_NO_CONFIG] = "no_config",   [PFD_JIT_S_ERROR] = "error",
	[PFD_JIT_S_DELAY_NS] = "delay_ns",
};

const char *pfd_egress_mss_stat_key(unsigned int id)
{
	return id < PFD_MSS_S__COUNT ? mss_keys[id] : NULL;
}

const char *pfd_egress_jit_stat_key(unsigned int id)
{
	return id < PFD_JIT_S__COUNT ? jit_keys[id] : NULL;
}

static int sum_pinned(const char *bpffs, const char *name, uint64_t *out, unsigned int n)
{
	char path[PATH_MAX];
	int fd, cpus = libbpf_num_possible_cpus();
	unsigned int id;

	memset(out, 0, n * sizeof(*out));
	snprintf(path, sizeof(path), "%s/tc/globals/%s", bpffs, name);
	if (cpus <= 0)
		return -EINVAL;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	uint64_t *vals = calloc((size_t)cpus, sizeof(*vals));

	for (id = 0; vals && id < n; id++) {
		if (bpf_map_lookup_elem(fd, &id, vals))
			continue;
		for (int c = 0; c < cpus; c++)
			out[id] += vals[c];
	}
	free(vals);
	close(fd);
	return 0;
}

int pfd_egress_read_stats(const char *bpffs, uint64_t mss[PFD_MSS_S__COUNT],
			  uint64_t jit[PFD_JIT_S__COUNT])
{
	int a = sum_pinned(bpffs, PFD_MAP_MSS_STATS, mss, PFD_MSS_S__COUNT);
	int b = sum_pinned(bpffs, PFD_MAP_JIT_STATS, jit, PFD_JIT_S__COUNT);

	return a && b ? -ENOENT : 0;
}
