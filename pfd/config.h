/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pfd.conf, parsed. The file is line-oriented: `key value...`, `#` starts a
 * comment, durations take ms/s/m suffixes (bare numbers are seconds), sizes
 * take k/M suffixes. Every key is documented in man/pfd.conf.5 (a unit test
 * checks that the tables below and the page agree).
 *
 *   bpffs /sys/fs/bpf                 pin root (maps under tc/globals, links under pfd/)
 *   state-dir /run/pfd                pid file, lock, state file (0700)
 *   log-level info                    err|warning|notice|info|debug
 *   mode auto                         auto | flowtable | mark VALUE/MASK
 *   attach eth0 auto                  IFACE [auto|native|generic|tc]   (repeatable)
 *   allow 192.0.2.0/24                prefix; flows need an endpoint inside (repeatable)
 *   deny 2001:db8::/32                prefix; flows with an endpoint inside stay slow (repeatable)
 *   block 203.0.113.0/24 [dry-run]    prefix; drop packets from or to it at XDP/TC ingress (repeatable)
 *   syn-protect PREFIX... tcp PORT... [mss N] [wscale N] [timestamp] [sack-perm] [dry-run]
 *                                     answer SYNs to these services with SYN cookies at XDP (repeatable)
 *   dry-run off                       on|off
 *   min-packets 0                     offload only after N packets (elephants only)
 *   heartbeat-interval 1s
 *   heartbeat-limit 5s                the fast path fails open after this
 *   refresh-interval 10s              conntrack timeout refresh period
 *   reconcile-interval 30s            periodic full dump and repair
 *   flow-map-size 262144              map entries (2 per flow)
 *   ct-event-buffer 8M                conntrack event socket receive buffer
 *   metrics-file /run/pfd/metrics.prom  Prometheus textfile ("" = off)
 *   metrics-interval 15s
 *   breaker-ratio 0.5                 circuit breaker: failing share of matched packets
 *   breaker-window 10s
 *   breaker-min-packets 1000
 *   mss ... / jitter ...              TC egress programs: see pfd/tc_egress.h, pfd-tc(8)
 */
#ifndef PFD_CONFIG_H
#define PFD_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "pfd/abi.h"

/* The TC egress programs' settings (mss*, jitter* keys): pfd/tc_egress.h. Only
 * a pointer here, so that this header does not pull tc_egress.h's names into
 * every file that reads the configuration. */
struct pfd_egress_config;

enum pfd_mode {
	PFD_MODE_AUTO = 0,
	PFD_MODE_MARK,
	PFD_MODE_FLOWTABLE,
};

enum pfd_attach_mode {
	PFD_ATTACH_AUTO = 0, /* native XDP, else generic XDP, else TC */
	PFD_ATTACH_NATIVE,
	PFD_ATTACH_GENERIC,
	PFD_ATTACH_TC,
};

struct pfd_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;	/* prefix length */
	uint8_t pad[2];
	__be32 addr[4]; /* host bits cleared */
};

/* A `block` prefix. */
struct pfd_block_rule {
	struct pfd_prefix prefix;
	bool dry_run;	   /* count matches, drop nothing */
	unsigned int line; /* where it was configured, for messages */
};

/* A `syn-protect` line: SYNs to these prefixes and ports are answered
 * with SYN cookies at XDP when the ruleset's synproxy agrees (pfd/synp.h). */
#define PFD_SYNP_LINE_MAX 14 /* prefixes, or ports, on one line */

struct pfd_synp_rule {
	struct pfd_prefix prefixes[PFD_SYNP_LINE_MAX];
	unsigned int n_prefixes;
	uint16_t ports[PFD_SYNP_LINE_MAX]; /* host order, distinct */
	unsigned int n_ports;
	bool dry_run;	  /* count matching SYNs, answer none */
	bool has_options; /* mss/wscale/timestamp/sack-perm given: the
			   * ruleset must hold exactly this statement */
	uint16_t mss;
	uint8_t wscale;
	uint32_t flags;	   /* PFD_SYNP_F_* (options only) */
	unsigned int line; /* where it was configured, for messages */
};

struct pfd_iface {
	char name[IFNAMSIZ];
	enum pfd_attach_mode mode;
	unsigned int line; /* where it was configured, for messages */
};

struct pfd_config {
	char path[PATH_MAX]; /* the file it came from */
	char bpffs[PATH_MAX];
	char state_dir[PATH_MAX];
	int log_level; /* LOG_ERR .. LOG_DEBUG */
	enum pfd_mode mode;
	uint32_t mark_value, mark_mask; /* mark mode */
	struct pfd_iface ifaces[PFD_MAX_DEVS - 1];
	unsigned int n_ifaces;
	struct pfd_prefix *allow;
	unsigned int n_allow;
	struct pfd_prefix *deny;
	unsigned int n_deny;
	struct pfd_block_rule *block; /* at most PFD_MAX_BLOCKS */
	unsigned int n_block;
	struct pfd_synp_rule *synp; /* at most PFD_MAX_SYNP_RULES */
	unsigned int n_synp;
	bool dry_run;
	uint64_t min_packets;
	uint32_t heartbeat_interval_ms;
	uint32_t heartbeat_limit_ms;
	uint32_t refresh_interval_ms;
	uint32_t reconcile_interval_ms;
	uint32_t flow_map_size;
	uint32_t ct_event_buffer;
	char metrics_file[PATH_MAX];
	uint32_t metrics_interval_ms;
	double breaker_ratio;
	uint32_t breaker_window_ms;
	uint64_t breaker_min_packets;
	/* mss, mss-device, mss-prefix, jitter, jitter-prefix, jitter-port:
	 * parsed by pfd/tc_egress.c, which the parser hands every key it does
	 * not know. Always set in a config from pfd_config_load/parse; NULL
	 * after pfd_config_defaults() alone (no egress programs). */
	struct pfd_egress_config *egress;
};

/* Defaults for every key. */
void pfd_config_defaults(struct pfd_config *cfg);

/* Parses path into a new config. Every error is reported, through the logger,
 * as "FILE:LINE:COL: KEY: PROBLEM"; any error refuses the whole file
 * (returns -EINVAL, *out untouched). -errno if the file cannot be read. */
int pfd_config_load(const char *path, struct pfd_config **out);
/* Same, from a string (tests); name is used in messages. */
int pfd_config_parse(const char *name, const char *text, struct pfd_config **out);
void pfd_config_free(struct pfd_config *cfg);

/* The keys the parser knows, NULL-terminated (the man page test uses it). */
extern const char *const pfd_config_keys[];

/* "ADDR/LEN" (buf of INET6_ADDRSTRLEN + 4 holds any). */
void pfd_prefix_format(const struct pfd_prefix *p, char *buf, size_t len);

/* Whether addr falls in any of the prefixes. */
bool pfd_prefix_match(const struct pfd_prefix *p, unsigned int n, int family, const __be32 *addr);

#endif /* PFD_CONFIG_H */
