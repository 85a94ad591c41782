/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pfd's side of the TC egress programs (MSS clamp, jitter): their pfd.conf
 * keys, attaching them to devices with their settings written to the maps
 * pinned under <bpffs>/tc/globals, fq set-up for jitter, removal, the
 * feasibility probe for sch_fq, and their counters for `pfd status`.
 * The config parser (pfd/config.c) hands every key it does not know to
 * pfd_egress_config_line(); the daemon calls pfd_egress_apply() after its own
 * attach and on every reload, and pfd_egress_detach_all() from detach --all.
 *
 * The BPF contract of these programs (maps, structs) is include/pfd/tc_egress.h,
 * which this header includes.
 *
 * pfd.conf keys (documented in man/pfd-tc.8 and pfd.conf(5)):
 *   mss CEILING                          default ceiling on every `attach` device
 *   mss-device IFACE CEILING             ceiling on IFACE (attaches the clamp there)
 *   mss-prefix PREFIX src|dst CEILING [IFACE]
 *                                        ceiling for a source or destination prefix,
 *                                        on IFACE or on every clamped device
 *     CEILING: 88..65535 | mtu (device MTU - 40 for IPv4, - 60 for IPv6)
 *              | exempt (mss-prefix only: never clamp)
 *   jitter IFACE MIN MAX [uniform|normal|pareto]
 *                                        EDT delay in [MIN, MAX] (us, ms, s units;
 *                                        MAX <= 4s); needs the fq qdisc
 *   jitter-prefix IFACE PREFIX           only packets with an address inside (repeatable)
 *   jitter-port IFACE tcp|udp PORT       only packets with this port on either side
 */
#ifndef PFD_EGRESS_CONF_H
#define PFD_EGRESS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/types.h>

#include "pfd/egress.h"

#define PFD_EGRESS_MAX_MSS    128	    /* mss* lines */
#define PFD_EGRESS_MAX_JIT    32	    /* jitter lines (devices) */
#define PFD_EGRESS_MAX_SEL    128	    /* jitter-prefix and jitter-port lines */
#define PFD_EGRESS_JIT_MAX_NS 4000000000ULL /* the program's span limit, rounded down */

struct pfd_egress_mss_rule {
	char ifname[IFNAMSIZ]; /* "" = every clamped device */
	bool has_pfx;
	uint8_t family, plen; /* with has_pfx */
	uint8_t dir;	      /* PFD_PFX_SRC / PFD_PFX_DST */
	__be32 addr[4];
	struct pfd_mss_conf conf;
	unsigned int line;
};

struct pfd_egress_jit_rule {
	char ifname[IFNAMSIZ];
	uint64_t min_ns, max_ns;
	uint32_t dist; /* enum pfd_jit_distribution */
	unsigned int line;
};

struct pfd_egress_jit_sel {
	char ifname[IFNAMSIZ];
	bool is_port;
	uint8_t family, plen; /* prefix */
	__be32 addr[4];
	uint8_t l4proto; /* port */
	uint16_t port;	 /* host order */
	unsigned int line;
};

struct pfd_egress_config {
	struct pfd_egress_mss_rule mss[PFD_EGRESS_MAX_MSS];
	unsigned int n_mss;
	struct pfd_egress_jit_rule jit[PFD_EGRESS_MAX_JIT];
	unsigned int n_jit;
	struct pfd_egress_jit_sel sel[PFD_EGRESS_MAX_SEL];
	unsigned int n_sel;
	unsigned int line; /* set by the caller before each line: kept in rules */
};

/* The keys pfd_egress_config_line() handles, NULL-terminated. */
extern const char *const pfd_egress_config_keys[];

void pfd_egress_config_init(struct pfd_egress_config *ec);

/*
 * One pfd.conf line: key and its nargs arguments. Returns 1 if the line was
 * this module's and is valid, 0 if the key is not this module's, -EINVAL with
 * a message in err ("PROBLEM", without file:line or key) if it is invalid.
 */
int pfd_egress_config_line(struct pfd_egress_config *ec, const char *key, char **args, int nargs,
			   char *err, size_t errlen);

/* Checks across lines once the file is read (a jitter-prefix for a device
 * without a jitter line...). 0, or -EINVAL with the message and *line set. */
int pfd_egress_config_check(const struct pfd_egress_config *ec, unsigned int *line, char *err,
			    size_t errlen);

/* Whether any TC egress program is configured. */
bool pfd_egress_configured(const struct pfd_egress_config *ec);

/* The daemon's handle: open objects and what is attached where. */
struct pfd_egress;

/*
 * Makes the devices and maps match ec: loads the objects (pinning their maps
 * under <bpffs>/tc/globals, reusing existing pins), rewrites the settings,
 * attaches the clamp to every device that has a ceiling (a default `mss`
 * applies to attach_devs, pfd's `attach` devices) and jitter to its devices
 * after setting their root qdisc to fq, and removes pfd's egress filters
 * from devices no longer configured. *egp is created on the first call and
 * reused after (reload). Every problem is logged with the device; returns 0
 * or the first -errno (-EOPNOTSUPP: no sch_fq for jitter), having done what
 * it could.
 */
int pfd_egress_apply(struct pfd_egress **egp, const struct pfd_egress_config *ec, const char *bpffs,
		     const char *const *attach_devs, unsigned int n_attach);

/* Closes fds; filters and pins stay, so packets keep being clamped. */
void pfd_egress_close(struct pfd_egress *eg);

/* Removes pfd's egress filters (recognised by priority and program name)
 * from every device and unpins their maps. Idempotent. */
int pfd_egress_detach_all(const char *bpffs);

/* Feasibility: whether the kernel has the fq qdisc, tried in a private
 * network namespace so that no device of the host is touched. 1 yes, 0 no
 * (msg says why), -errno if the probe itself failed. */
int pfd_egress_probe_fq(char *msg, size_t len);

/* Counters summed over CPUs from the pinned maps, for `pfd status`. A program
 * never loaded reads as zeros; returns -ENOENT when neither map is pinned. */
int pfd_egress_read_stats(const char *bpffs, uint64_t mss[PFD_MSS_S__COUNT],
			  uint64_t jit[PFD_JIT_S__COUNT]);
/* JSON/text labels: "clamped", "below", "no_option", ... */
const char *pfd_egress_mss_stat_key(unsigned int id);
const char *pfd_egress_jit_stat_key(unsigned int id);

/* Fills a distribution table (the inverse CDF at 256 points). -EINVAL for
 * PFD_JIT_UNIFORM and PFD_JIT_TABLE (no table to compute). */
int pfd_egress_dist_table(unsigned int dist, struct pfd_jit_dist *t);

#endif /* PFD_EGRESS_CONF_H */
