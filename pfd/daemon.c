// SPDX-License-Identifier: GPL-2.0-only
/*
 * `pfd run` (see daemon.h): startup in dependency order, the event loop, the
 * timers (heartbeat, timeout refresh, reconcile, metrics, circuit breaker),
 * SIGHUP reload and a stop that leaves the fast path running under its
 * heartbeat guard. Everything the daemon owns hangs off one struct pfd,
 * passed down explicitly. Called by pfd/main.c.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "nft-backend/ct.h"
#include "nft-backend/nft.h"
#include "nft-backend/rt.h"
#include "pfd/tc_egress.h"
#include "pfd/block.h"
#include "pfd/synp.h"
#include "pfd/bpf.h"
#include "pfd/config.h"
#include "pfd/control.h"
#include "pfd/daemon.h"
#include "pfd/flows.h"
#include "pfd/log.h"
#include "pfd/loop.h"
#include "pfd/metrics.h"
#include "pfd/policy.h"
#include "pfd/state.h"
#include "pfd/util.h"
#include "pfd/stats.h"

struct pfd_device {
	char name[IFNAMSIZ];
	int ifindex;
	enum pfd_attach_mode mode; /* as configured */
	enum pfd_attach_kind kind; /* what is attached */
	bool tripped;		   /* circuit breaker */
	uint64_t base_matched;	   /* breaker window start */
	uint64_t base_failed;
};

struct pfd {
	const char *config_path;
	int verbosity;
	struct pfd_config *cfg;
	enum pfd_mode mode;
	int lock_fd;
	int control_fd;			/* <state-dir>/pfd.sock, -1 without one */
	uint64_t control_waiting_since; /* a client waits while a pass runs */
	int64_t started;

	struct pfd_bpf *bpf;
	struct pfd_egress *egress; /* TC egress programs (MSS, jitter) */
	const struct pfd_maps *maps;
	struct pfd_ctl ctl;

	struct pfd_ct *ct;
	struct pfd_nft *nft;
	struct pfd_rt *rt;
	struct pfd_loop *loop;
	struct pfd_flows *flows;
	struct pfd_ft_list ft;
	struct pfd_policy_devs devset;

	struct pfd_device devs[PFD_MAX_DEVS];
	unsigned int n_devs;

	int t_heartbeat, t_refresh, t_reconcile, t_metrics, t_reval;
	uint64_t breaker_window_start;
	struct pfd_stats_sum *sum;

	uint64_t resyncs, ct_overruns;
	bool resync_again;		   /* events lost again: resync (t_reconcile, at once) */
	uint64_t reconciles, reconcile_ms; /* done; the last one's duration */
	bool reconcile_dump;		   /* inside reconcile's dump: the pulse serves events */
	bool in_ct_events;		   /* reading conntrack events: the pulse must not */
	bool refresh_in_parts;		   /* t_refresh runs at REFRESH_PART_GAP_MS */
	uint64_t reloads, reload_attempts;
	char reload_error[512];
	bool rt_changed;
	/* mark mode: the ruleset generation whose offload marks are
	 * revalidated; marks_dirty: a clear failed or is still due */
	bool ruleset_gen_valid;
	uint32_t ruleset_gen;
	bool marks_dirty;
	/* mark mode: a revalidation under way (marks_revalidate): the marks
	 * of the flows that went stale are cleared first, a chunk per loop
	 * turn, most recently active first, so that the flows with traffic
	 * return while the rest is cleared; then the full dump's clear */
	struct {
		bool active;
		bool gen_valid;
		uint32_t gen;
		struct pfd_ct_ref *refs;
		size_t n, pos;
		uint64_t t0, cleared;
	} reval;
	/* the fast path passes everything: a ruleset commit waits behind a
	 * long dump (pulse) */
	bool gate_closed;
	/* syn-protect: whether any line is armed (PFD_CTL_F_SYNP), each
	 * line's last state (logged on change), and whether this kernel's
	 * XDP can make cookies at all */
	bool synp_any;
	int8_t synp_state[PFD_MAX_SYNP_RULES];	  /* -1 unknown, 0 unarmed, 1 armed */
	const char *synp_why[PFD_MAX_SYNP_RULES]; /* why unarmed, as last logged */
	bool synp_helpers;
	/* a reconcile that gave way to a ruleset commit (its reason) */
	const char *reconcile_again;
	bool devmap_dirty; /* a device's XDP features changed */
	int tc_changed[4]; /* ifindexes; -1: more, re-decide all */
	unsigned int n_tc_changed;
	bool link_down[PFD_MAX_DEVS];
	bool links_changed; /* a link event: check the configured device names */
	bool pins_lost;	    /* said once: the pins cannot be made again */
	uint64_t last_pulse_ns;
	uint64_t last_events_pulse_ns; /* pulse_serving_events */
};

/* -------------------------------------------------------------------- */
/* Control block, state, metrics                                        */

static uint32_t read_flowtable_timeout(const char *name)
{
	char path[128];
	uint32_t v = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	return pfd_read_sysctl_u32(path, &v) ? 0 : v;
}

/* Flowtable mode: let one packet per flow through the kernel well within
 * the kernel flowtable's own timeout (docs/kernel-notes.md, "The kernel's own
 * entry expires; keep it alive"). Never hard-coded: the sysctls decide. */
static uint32_t keepalive_ms(const struct pfd *d)
{
	uint32_t tcp, udp, t;

	if (d->mode != PFD_MODE_FLOWTABLE)
		return 0;
	tcp = read_flowtable_timeout("nf_flowtable_tcp_timeout");
	udp = read_flowtable_timeout("nf_flowtable_udp_timeout");
	t = tcp && udp ? (tcp < udp ? tcp : udp) : (tcp ? tcp : udp);
	if (!t) {
		pr_once(LOG_WARNING, "nf_flowtable_*_timeout sysctls unreadable; keep-alive "
				     "every 10 s");
		return 10000;
	}
	return t * 1000 / 3;
}

static int ctl_write(struct pfd *d)
{
	__u32 k = 0;

	d->ctl.abi_version = PFD_ABI_VERSION;
	d->ctl.heartbeat_ns = pfd_now_ns();
	d->ctl.heartbeat_max_ns = (uint64_t)d->cfg->heartbeat_limit_ms * 1000000ULL;
	d->ctl.flags = d->cfg->dry_run || d->gate_closed ? PFD_CTL_F_DRY_RUN : 0;
	/* The gate is about flows: a block holds while a commit waits. */
	if (d->cfg->n_block)
		d->ctl.flags |= PFD_CTL_F_BLOCK | (d->cfg->dry_run ? PFD_CTL_F_BLOCK_DRY_RUN : 0);
	/* Answering SYNs is the ruleset's synproxy decision taken early: not
	 * while a commit pfd has not read yet may have changed it. */
	if (d->synp_any)
		d->ctl.flags |= PFD_CTL_F_SYNP |
				(d->cfg->dry_run || d->gate_closed ? PFD_CTL_F_SYNP_DRY_RUN : 0);
	if (bpf_map_update_elem(d->maps->ctl, &k, &d->ctl, BPF_ANY)) {
		pr_ratelimited(LOG_ERR, 10, "control block update failed (%s)", strerror(errno));
		return -errno;
	}
	return 0;
}

/* pfd_block to the configuration's block prefixes (startup, reload). */
static void blocks_apply(struct pfd *d)
{
	int err = pfd_block_sync(d->maps, d->cfg->block, d->cfg->n_block);

	if (err)
		pr_err("block prefixes: not all installed (%s)", strerror(-err));
	else if (d->cfg->n_block)
		pr_info("%u block prefix%s installed%s", d->cfg->n_block,
			d->cfg->n_block == 1 ? "" : "es",
			d->cfg->dry_run ? " (dry-run: counted, not dropped)" : "");
}

/* A TTL-like sysctl, or fallback when it cannot be read. */
static uint8_t sysctl_ttl(const char *path, uint8_t fallback)
{
	unsigned int v = 0;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v >= 1 && v <= 255 ? (uint8_t)v : fallback;
}

/*
 * syn-protect: which lines the ruleset's synproxy statements arm, into
 * the tries (startup, reload, every ruleset change). A line that cannot
 * be armed leaves its SYNs to the kernel, which is never wrong: its
 * synproxy, if any, answers them.
 */
static void synp_apply(struct pfd *d)
{
	struct pfd_nft_synproxy st[32];
	struct pfd_synp vals[PFD_MAX_SYNP_RULES];
	bool armed[PFD_MAX_SYNP_RULES];
	bool any = false, was = d->synp_any;
	unsigned int i, n_st = 0;
	const char *read_err = NULL;
	int n = 0, err;

	if (d->cfg->n_synp) {
		n = pfd_nft_read_synproxy(d->nft, st, sizeof(st) / sizeof(st[0]));
		if (n < 0)
			read_err = "the ruleset could not be read";
		else
			n_st = (unsigned int)n > sizeof(st) / sizeof(st[0]) ?
				       sizeof(st) / sizeof(st[0]) :
				       (unsigned int)n;
	}
	for (i = 0; i < d->cfg->n_synp; i++) {
		const struct pfd_synp_rule *r = &d->cfg->synp[i];
		const char *why = read_err;
		char opts[32];

		memset(&vals[i], 0, sizeof(vals[i]));
		if (!d->synp_helpers)
			why = "this kernel's XDP has no SYN cookie helpers (Linux 6.0)";
		armed[i] = !why && pfd_synp_resolve(r, st, n_st, &vals[i], &why);
		if (r->dry_run)
			vals[i].flags |= PFD_SYNP_F_DRY_RUN;
		any |= armed[i];
		if (d->synp_state[i] == (int8_t)armed[i] && (armed[i] || d->synp_why[i] == why))
			continue;
		d->synp_state[i] = (int8_t)armed[i];
		d->synp_why[i] = armed[i] ? NULL : why;
		if (armed[i]) {
			char mss[16] = "", wscale[16] = "";

			pfd_synp_format_options(vals[i].flags, opts, sizeof(opts));
			if (vals[i].flags & PFD_SYNP_F_MSS)
				snprintf(mss, sizeof(mss), " mss %u", vals[i].mss);
			if (vals[i].flags & PFD_SYNP_F_WSCALE)
				snprintf(wscale, sizeof(wscale), " wscale %u", vals[i].wscale);
			pr_info("syn-protect (line %u): armed: SYN-ACKs with%s%s%s%s%s", r->line,
				mss, wscale, opts[0] ? " " : "", opts,
				!vals[i].flags ? " no options" : "");
			if (r->dry_run || d->cfg->dry_run)
				pr_info("syn-protect (line %u): dry-run: SYNs counted, not "
					"answered",
					r->line);
		} else {
			pr_warn("syn-protect (line %u): not armed: %s; its SYNs go to the kernel",
				r->line, why);
		}
	}
	for (; i < PFD_MAX_SYNP_RULES; i++)
		d->synp_state[i] = -1;
	err = pfd_synp_sync(d->maps, d->cfg->synp, vals, armed, d->cfg->n_synp,
			    sysctl_ttl("/proc/sys/net/ipv4/ip_default_ttl", 64),
			    sysctl_ttl("/proc/sys/net/ipv6/conf/all/hop_limit", 64));
	if (err) {
		pr_err("syn-protect: services not all installed (%s)", strerror(-err));
		any = false; /* a partial set: leave every SYN to the kernel */
	}
	d->synp_any = any;
	if (any != was)
		ctl_write(d);
}

static void fib_gen_bump(struct pfd *d)
{
	/* 0 means "empty cache" to the fast path: skip it on wrap */
	if (++d->ctl.fib_gen == 0)
		d->ctl.fib_gen = 1;
	ctl_write(d);
}

static const char *mode_name(enum pfd_mode m)
{
	return m == PFD_MODE_FLOWTABLE ? "flowtable" : m == PFD_MODE_MARK ? "mark" : "auto";
}

static void fill_state(struct pfd *d, struct pfd_state *s)
{
	const struct pfd_flows_stats *fs = pfd_flows_get_stats(d->flows);
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->pid = getpid();
	snprintf(s->mode, sizeof(s->mode), "%s", mode_name(d->mode));
	snprintf(s->config, sizeof(s->config), "%s", d->cfg->path);
	s->started = d->started;
	s->heartbeat_ns = d->ctl.heartbeat_ns;
	s->flows = fs->flows;
	s->installs = fs->installs;
	s->removals = fs->removals;
	s->map_full = fs->map_full;
	s->resyncs = d->resyncs;
	s->ct_overruns = d->ct_overruns;
	s->reloads = d->reloads;
	s->reload_attempts = d->reload_attempts;
	snprintf(s->reload_error, sizeof(s->reload_error), "%s", d->reload_error);
	s->ruleset_gen_valid = d->ruleset_gen_valid && !d->marks_dirty;
	s->ruleset_gen = d->ruleset_gen;
	for (i = 0; i < d->n_devs; i++) {
		struct pfd_state_dev *sd = &s->devs[s->n_devs];
		const struct pfd_device *dv = &d->devs[i];
		struct pfd_dev rec;
		__u32 key = (__u32)dv->ifindex;

		if (dv->kind == PFD_ATT_NONE)
			continue;
		snprintf(sd->name, sizeof(sd->name), "%s", dv->name);
		sd->ifindex = dv->ifindex;
		if (!bpf_map_lookup_elem(d->maps->devs, &key, &rec))
			sd->slot = rec.slot;
		snprintf(sd->attach, sizeof(sd->attach), "%s", pfd_attach_kind_name(dv->kind));
		sd->tripped = dv->tripped;
		s->n_devs++;
	}
}

static void state_write(struct pfd *d)
{
	struct pfd_state s;
	int err;

	fill_state(d, &s);
	err = pfd_state_write(d->cfg->state_dir, &s);
	if (err)
		pr_ratelimited(LOG_WARNING, 60, "%s/state: cannot write (%s)", d->cfg->state_dir,
			       strerror(-err));
}

static void metrics_write(struct pfd *d)
{
	const struct pfd_flows_stats *fs = pfd_flows_get_stats(d->flows);
	struct pfd_block_stat *blocks = NULL;
	struct pfd_synp_stat *synp = NULL;
	struct pfd_metrics_in in = {};
	struct pfd_state s;
	int err;

	if (!d->cfg->metrics_file[0])
		return;
	if (pfd_stats_read(d->maps->stats, d->sum))
		return;
	fill_state(d, &s);
	in.state = &s;
	in.sum = d->sum;
	in.heartbeat_age_ns = pfd_now_ns() - d->ctl.heartbeat_ns;
	in.repairs = fs->repairs;
	in.refreshes = fs->refreshes;
	in.refresh_errors = fs->refresh_errors;
	in.revalidations = fs->revalidations;
	in.stale = fs->stale;
	in.readmitted = fs->readmitted;
	if (d->cfg->n_block) {
		int n = pfd_block_read(d->maps, &blocks);

		in.n_blocks = n > 0 ? (unsigned int)n : 0;
		in.blocks = blocks;
		in.blocks_dry_run = d->cfg->dry_run;
	}
	if (d->synp_any) {
		int n = pfd_synp_read(d->maps, &synp);

		in.n_synp = n > 0 ? (unsigned int)n : 0;
		in.synp = synp;
		in.synp_dry_run = d->cfg->dry_run;
	}
	err = pfd_metrics_write(d->cfg->metrics_file, &in);
	free(blocks);
	free(synp);
	if (err)
		pr_ratelimited(LOG_WARNING, 300, "%s: cannot write metrics (%s) (metrics-file)",
			       d->cfg->metrics_file, strerror(-err));
}

/* -------------------------------------------------------------------- */
/* Circuit breaker                                                      */

/* Among the packets the fast path matched to a flow, those it failed to
 * forward for reasons that are not the kernel's business (redirect
 * failures, unexpected FIB errors). */
static void breaker_counts(const struct pfd_stats_sum *s, unsigned int slot, uint64_t *matched,
			   uint64_t *failed)
{
	static const unsigned int ok[] = { PFD_R_FORWARDED, PFD_R_FIB_NO_NEIGH, PFD_R_FIB_FRAG,
					   PFD_R_FIB_DENIED, PFD_R_EGRESS };
	static const unsigned int bad[] = { PFD_R_FIB_OTHER, PFD_R_REDIRECT };
	unsigned int h, i;

	*matched = *failed = 0;
	for (h = 0; h < PFD_HOOKS; h++) {
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			*matched += s->c[slot][h][ok[i]].packets;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			*failed += s->c[slot][h][bad[i]].packets;
	}
	*matched += *failed;
}

static int dev_slot(struct pfd *d, int ifindex)
{
	struct pfd_dev rec;
	__u32 key = (__u32)ifindex;

	if (bpf_map_lookup_elem(d->maps->devs, &key, &rec) || rec.slot >= PFD_MAX_DEVS)
		return -1;
	return (int)rec.slot;
}

static void breaker_trip(struct pfd *d, struct pfd_device *dv, uint64_t matched, uint64_t failed)
{
	struct pfd_dev rec;
	__u32 key = (__u32)dv->ifindex;

	if (bpf_map_lookup_elem(d->maps->devs, &key, &rec))
		return;
	rec.flags |= PFD_DEV_F_DRY_RUN;
	if (bpf_map_update_elem(d->maps->devs, &key, &rec, BPF_EXIST)) {
		pr_err("%s: cannot trip the circuit breaker (%s)", dv->name, strerror(errno));
		return;
	}
	dv->tripped = true;
	pr_err("%s: circuit breaker tripped: %" PRIu64 " of %" PRIu64 " matched packets failed "
	       "in the fast path (over breaker-ratio %.2f); the device is in dry run, everything "
	       "goes to the kernel; `pfd reload` re-arms it",
	       dv->name, failed, matched, d->cfg->breaker_ratio);
}

static void breaker_check(struct pfd *d, bool window_end)
{
	unsigned int i;

	for (i = 0; i < d->n_devs; i++) {
		struct pfd_device *dv = &d->devs[i];
		uint64_t matched, failed, dm, df;
		int slot = dev_slot(d, dv->ifindex);

		if (slot <= 0 || pfd_stats_read_slot(d->maps->stats, (unsigned int)slot, d->sum))
			continue;
		breaker_counts(d->sum, (unsigned int)slot, &matched, &failed);
		dm = matched - dv->base_matched;
		df = failed - dv->base_failed;
		if (!dv->tripped && dm >= d->cfg->breaker_min_packets && dm &&
		    (double)df / (double)dm > d->cfg->breaker_ratio)
			breaker_trip(d, dv, dm, df);
		if (window_end) {
			dv->base_matched = matched;
			dv->base_failed = failed;
		}
	}
}

static void breaker_rearm(struct pfd *d)
{
	unsigned int i;

	if (pfd_stats_read(d->maps->stats, d->sum))
		memset(d->sum, 0, sizeof(*d->sum));
	for (i = 0; i < d->n_devs; i++) {
		struct pfd_device *dv = &d->devs[i];
		int slot = dev_slot(d, dv->ifindex);

		dv->tripped = false;
		if (slot > 0)
			breaker_counts(d->sum, (unsigned int)slot, &dv->base_matched,
				       &dv->base_failed);
	}
	d->breaker_window_start = pfd_now_ns();
}

/* -------------------------------------------------------------------- */
/* Devices                                                              */

/* The devices pfd should be attached to: pfd.conf's `attach` lines; in
 * flowtable mode also every device of every flowtable (auto attach unless
 * pfd.conf says otherwise). */
static unsigned int wanted_devices(const struct pfd *d, const struct pfd_config *cfg,
				   struct pfd_device *out)
{
	unsigned int n = 0, i, j, k;

	for (i = 0; i < cfg->n_ifaces && n < PFD_MAX_DEVS - 1; i++) {
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].name, sizeof(out[n].name), "%s", cfg->ifaces[i].name);
		out[n].mode = cfg->ifaces[i].mode;
		n++;
	}
	if (d->mode != PFD_MODE_FLOWTABLE)
		return n;
	for (i = 0; i < d->ft.count; i++) {
		for (j = 0; j < d->ft.items[i].ndevs && j < PFD_FT_MAX_DEVS; j++) {
			const char *name = d->ft.items[i].devs[j];
			bool dup = false;

			for (k = 0; k < n; k++)
				dup |= !strncmp(out[k].name, name, IFNAMSIZ);
			if (dup || n >= PFD_MAX_DEVS - 1)
				continue;
			memset(&out[n], 0, sizeof(out[n]));
			snprintf(out[n].name, sizeof(out[n].name), "%.*s", IFNAMSIZ - 1, name);
			out[n].mode = PFD_ATTACH_AUTO;
			n++;
		}
	}
	return n;
}

/* The device set the decisions use, and the devmap XDP redirects into:
 * only devices that take XDP-redirected frames (netdev xdp-features
 * NDO_XMIT), so that even a flow decided before a device lost that ability
 * is passed to the kernel (egress check) rather than dropped by the driver. */
static void devset_refresh(struct pfd *d)
{
	int ifx[PFD_MAX_DEVS];
	enum pfd_attach_kind kinds[PFD_MAX_DEVS];
	unsigned int i, n = 0;

	pfd_policy_devs_load(d->maps->devs, d->maps->vlans, &d->devset);
	for (i = 0; i < d->n_devs; i++) {
		if (d->devs[i].kind == PFD_ATT_NONE)
			continue;
		ifx[n] = d->devs[i].ifindex;
		kinds[n] = d->devs[i].kind;
		/* generic XDP transmits through the stack and takes any
		 * device; a native redirect needs the target's ndo_xdp_xmit */
		if (kinds[n] == PFD_ATT_NATIVE && pfd_rt_dev_xdp_xmit(d->rt, ifx[n]) != 1)
			kinds[n] = PFD_ATT_TC;
		n++;
	}
	pfd_bpf_sync_tx_ports(d->bpf, ifx, kinds, n);
	d->devmap_dirty = false;
}

/* Devices in pfd_devs that pfd no longer attaches to (a previous run's or a
 * removed `attach` line): their record goes, and their pins. */
static void devices_prune(struct pfd *d)
{
	char path[PATH_MAX + 8];
	struct dirent *de;
	__u32 key, next, *prev = NULL, stale[PFD_MAX_DEVS];
	unsigned int i, ns = 0;
	DIR *dir;

	while (ns < PFD_MAX_DEVS && !bpf_map_get_next_key(d->maps->devs, prev, &next)) {
		bool known = false;

		key = next;
		prev = &key;
		for (i = 0; i < d->n_devs; i++)
			known |=
				d->devs[i].kind != PFD_ATT_NONE && (__u32)d->devs[i].ifindex == key;
		if (!known)
			stale[ns++] = key;
	}
	for (i = 0; i < ns; i++)
		bpf_map_delete_elem(d->maps->devs, &stale[i]);

	snprintf(path, sizeof(path), "%s/pfd", d->cfg->bpffs);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char ifname[IFNAMSIZ];
		const char *name = pfd_link_pin_ifname(de->d_name, ifname);
		bool known = false;

		if (!name)
			continue;
		bool configured = false;

		for (i = 0; i < d->n_devs; i++) {
			known |= d->devs[i].kind != PFD_ATT_NONE && !strcmp(d->devs[i].name, name);
			configured |= !strcmp(d->devs[i].name, name);
		}
		if (!known) {
			pr_info("%s: %s: its attachment is removed", name,
				configured ? "not attached (gone?)" : "not configured any more");
			pfd_bpf_detach(d->bpf, name);
			rewinddir(dir);
		}
	}
	closedir(dir);
}

/* The TC egress programs follow the attach set (a bare `mss` applies to
 * every attach device). At startup and on reload (full) the apply runs even
 * without egress keys, so that a configuration that dropped them also drops
 * pfd's filters, including ones a previous run left; on the other syncs
 * (flowtable or link changes) only when something is configured, to keep
 * the tc netlink walk off those paths. */
static void egress_sync(struct pfd *d, const struct pfd_config *cfg, bool full)
{
	const char *names[PFD_MAX_DEVS];
	unsigned int i;

	if (!cfg->egress || (!full && !pfd_egress_configured(cfg->egress)))
		return;
	for (i = 0; i < d->n_devs; i++)
		names[i] = d->devs[i].name;
	/* it logs its own errors, per device; the rest still applies */
	pfd_egress_apply(&d->egress, cfg->egress, cfg->bpffs, names, d->n_devs);
}

/* A single-bit mask cannot tell which direction passed the ruleset: say so
 * once per configuration that has it (startup, and a reload that sets it). */
static void mark_check(const struct pfd *d, const struct pfd_config *old)
{
	const struct pfd_config *cfg = d->cfg;
	uint32_t m = cfg->mark_mask;

	if (d->mode != PFD_MODE_MARK || !m || (m & (m - 1)))
		return;
	if (old && old->mark_mask == m && old->mark_value == cfg->mark_value)
		return;
	pr_warn("mode mark 0x%x/0x%x: one bit cannot tell the directions apart: a drop rule "
		"for one direction can be undone by the other direction re-marking the flow; "
		"mark each direction with its own bit (see pfd.conf(5))",
		cfg->mark_value, m);
}

/*
 * A driver may keep a frame's VLAN tag outside the frame (a veth whose peer
 * inserts tags in hardware, a NIC's rx-vlan offload, generic XDP), and XDP
 * then cannot tell a VLAN's frame from the device's own untagged one. On a
 * device with VLAN devices on it, XDP hands every packet to TC ingress,
 * where the kernel has said which it is (PFD_DEV_F_VLAN_UPPERS). A failed
 * dump counts as VLANs present. true when a flag changed.
 */
/* Every VLAN device of the namespace, from one link dump per sync (not one
 * per device pfd attached). */
#define VLAN_LIST_MAX 4096
struct vlan_list {
	struct pfd_rt_vlan *v;
	int n; /* pfd_rt_vlans(): may exceed VLAN_LIST_MAX, or -errno */
};

static void vlan_list_read(struct pfd *d, struct vlan_list *l)
{
	l->v = calloc(VLAN_LIST_MAX, sizeof(*l->v));
	l->n = l->v ? pfd_rt_vlans(d->rt, l->v, VLAN_LIST_MAX) : -ENOMEM;
}

static const struct pfd_rt_vlan *vlan_find(const struct vlan_list *l, int ifindex)
{
	for (int i = 0; i < l->n && i < VLAN_LIST_MAX; i++)
		if (l->v[i].ifindex == ifindex)
			return &l->v[i];
	return NULL;
}

/* VLAN devices on parent, or -errno when the list is not whole. */
static int vlan_uppers(const struct vlan_list *l, int parent)
{
	int i, n = 0;

	if (l->n < 0 || l->n > VLAN_LIST_MAX)
		return l->n < 0 ? l->n : -E2BIG;
	for (i = 0; i < l->n; i++)
		n += l->v[i].parent == parent;
	return n;
}

static bool vlan_uppers_sync(struct pfd *d, const struct vlan_list *l)
{
	bool changed = false;
	unsigned int i;

	for (i = 0; i < d->n_devs; i++) {
		const struct pfd_device *dv = &d->devs[i];
		__u32 key = (__u32)dv->ifindex;
		struct pfd_dev rec;
		bool want, have;
		int n;

		if (dv->kind != PFD_ATT_NATIVE && dv->kind != PFD_ATT_GENERIC)
			continue;
		if (bpf_map_lookup_elem(d->maps->devs, &key, &rec))
			continue;
		n = vlan_uppers(l, dv->ifindex);
		if (n < 0)
			pr_warn("%s: cannot list the VLAN devices on it (%s): XDP hands its "
				"packets to TC",
				dv->name, strerror(-n));
		want = n != 0;
		have = rec.flags & PFD_DEV_F_VLAN_UPPERS;
		if (want == have)
			continue;
		rec.flags ^= PFD_DEV_F_VLAN_UPPERS;
		if (bpf_map_update_elem(d->maps->devs, &key, &rec, BPF_EXIST)) {
			pr_err("%s: cannot update its device record (%s)", dv->name,
			       strerror(errno));
			continue;
		}
		changed = true;
		if (!want)
			pr_info("%s: no VLAN device on it any more: XDP decides its packets again",
				dv->name);
		else if (rec.flags & PFD_DEV_F_TC)
			pr_notice(
				"%s: VLAN devices sit on it and XDP cannot see a tag kept outside "
				"the frame: TC ingress behind XDP decides its packets",
				dv->name);
		else
			pr_warn("%s: VLAN devices sit on it and XDP cannot see a tag kept outside "
				"the frame: its packets go to the kernel (`attach %s auto` adds TC "
				"ingress behind XDP)",
				dv->name, dv->name);
	}
	return changed;
}

static const struct pfd_device *attached_dev(const struct pfd *d, int ifindex)
{
	unsigned int i;

	for (i = 0; i < d->n_devs; i++)
		if (d->devs[i].ifindex == ifindex && d->devs[i].kind != PFD_ATT_NONE)
			return &d->devs[i];
	return NULL;
}

/*
 * pfd_vlans: the attached VLAN devices whose parent pfd attached too, which
 * XDP may transmit on by pushing the tag and leaving by the parent. Not one
 * whose egress priority map sets a PCP: the tag would depend on the
 * packet's priority, which XDP does not know. true when the map changed.
 */
static bool vlan_tx_sync(struct pfd *d, const struct vlan_list *l)
{
	struct {
		__u32 key;
		struct pfd_vlan v;
	} want[PFD_MAX_DEVS];
	__u32 key, next, *prev = NULL, stale[PFD_MAX_DEVS];
	unsigned int i, j, n = 0, ns = 0;
	bool changed = false;

	for (i = 0; i < d->n_devs && n < PFD_MAX_DEVS; i++) {
		const struct pfd_device *dv = &d->devs[i], *parent;
		const struct pfd_rt_vlan *vl = vlan_find(l, dv->ifindex);

		if (dv->kind == PFD_ATT_NONE || !vl)
			continue;
		parent = attached_dev(d, vl->parent);
		if (!parent || (vl->proto != ETH_P_8021Q && vl->proto != ETH_P_8021AD))
			continue;
		if (vl->egress_qos) {
			pr_debug("%s: its egress priority map sets the tag's PCP: XDP does not "
				 "transmit on it",
				 dv->name);
			continue;
		}
		want[n].key = (__u32)dv->ifindex;
		want[n].v = (struct pfd_vlan){ .parent = (__u32)vl->parent,
					       .proto = htons(vl->proto),
					       .tci = vl->id };
		n++;
	}
	while (ns < PFD_MAX_DEVS && !bpf_map_get_next_key(d->maps->vlans, prev, &next)) {
		bool keep = false;

		key = next;
		prev = &key;
		for (j = 0; j < n; j++)
			keep |= want[j].key == key;
		if (!keep)
			stale[ns++] = key;
	}
	for (i = 0; i < ns; i++)
		changed |= !bpf_map_delete_elem(d->maps->vlans, &stale[i]);
	for (j = 0; j < n; j++) {
		struct pfd_vlan have;
		char name[IFNAMSIZ] = "?";

		if (!bpf_map_lookup_elem(d->maps->vlans, &want[j].key, &have) &&
		    !memcmp(&have, &want[j].v, sizeof(have)))
			continue;
		if (bpf_map_update_elem(d->maps->vlans, &want[j].key, &want[j].v, BPF_ANY)) {
			pr_err("pfd_vlans: cannot add ifindex %u (%s)", want[j].key,
			       strerror(errno));
			continue;
		}
		changed = true;
		if_indextoname(want[j].key, name);
		pr_info("%s: VLAN %u: XDP transmits on it (tag pushed, out by its parent)", name,
			want[j].v.tci);
	}
	return changed;
}

/* Both VLAN facts, after every attach and link change; a change re-decides
 * every flow on the device set it makes. */
static bool vlan_sync(struct pfd *d, const struct vlan_list *l)
{
	bool changed = vlan_uppers_sync(d, l);

	changed |= vlan_tx_sync(d, l);
	if (changed)
		pfd_policy_devs_load(d->maps->devs, d->maps->vlans, &d->devset);
	return changed;
}

/* Makes the attached set equal to the wanted one. Existing attachments in
 * the right mode are adopted (no gap). rearm: reset the circuit breakers
 * (startup, reload); otherwise a tripped device stays in dry run. */
static void devices_sync(struct pfd *d, const struct pfd_config *cfg, bool rearm)
{
	struct pfd_device want[PFD_MAX_DEVS];
	unsigned int n = wanted_devices(d, cfg, want), i, j;
	struct vlan_list vlans;

	vlan_list_read(d, &vlans);
	for (i = 0; i < d->n_devs; i++) {
		bool keep = false;

		for (j = 0; j < n; j++)
			keep |= !strcmp(d->devs[i].name, want[j].name);
		if (!keep && d->devs[i].kind != PFD_ATT_NONE) {
			pfd_flows_flush_dev(d->flows, d->devs[i].ifindex);
			pfd_bpf_detach(d->bpf, d->devs[i].name);
		}
	}
	for (j = 0; j < n; j++) {
		struct pfd_device *w = &want[j];
		enum pfd_attach_mode mode = w->mode;
		int err;

		w->ifindex = (int)if_nametoindex(w->name);
		/* A VLAN device runs on the skb path either way, and XDP on it
		 * would keep XDP off its parent (the kernel refuses a program
		 * under an upper device's): TC ingress. */
		if (mode == PFD_ATTACH_AUTO && w->ifindex && vlan_find(&vlans, w->ifindex)) {
			mode = PFD_ATTACH_TC;
			pr_debug("%s: a VLAN device: TC ingress", w->name);
		}
		err = pfd_bpf_attach(d->bpf, w->name, mode, &w->kind);
		if (err) {
			w->kind = PFD_ATT_NONE;
			pr_err("%s: not attached; its flows stay on the kernel path", w->name);
		}
	}
	for (j = 0; j < n && !rearm; j++) {
		for (i = 0; i < d->n_devs; i++) {
			if (strcmp(d->devs[i].name, want[j].name) || !d->devs[i].tripped)
				continue;
			want[j].tripped = true;
			want[j].base_matched = d->devs[i].base_matched;
			want[j].base_failed = d->devs[i].base_failed;
		}
	}
	memcpy(d->devs, want, n * sizeof(want[0]));
	d->n_devs = n;
	devices_prune(d);
	if (rearm) {
		breaker_rearm(d);
	} else {
		for (j = 0; j < n; j++) {
			struct pfd_dev rec;
			__u32 key = (__u32)d->devs[j].ifindex;

			if (!d->devs[j].tripped || bpf_map_lookup_elem(d->maps->devs, &key, &rec))
				continue;
			rec.flags |= PFD_DEV_F_DRY_RUN;
			bpf_map_update_elem(d->maps->devs, &key, &rec, BPF_EXIST);
		}
	}
	devset_refresh(d);
	vlan_sync(d, &vlans);
	free(vlans.v);
	/* The fast path's cached FIB results skip the egress device check:
	 * a changed device set must empty them. */
	fib_gen_bump(d);
	egress_sync(d, cfg, rearm);
	/* flows were decided on the old device set */
	pfd_flows_invalidate(d->flows, -1);
	pfd_flows_warm(d->flows);
}

/* -------------------------------------------------------------------- */
/* Conntrack, nftables, rtnetlink                                       */

static void pulse(void *arg);
static void sweep_pulse(void *arg);

static void flows_ctx(struct pfd *d, struct pfd_flows_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->cfg = d->cfg;
	c->mode = d->mode;
	c->ct = d->ct;
	c->rt = d->rt;
	c->nft = d->nft;
	c->ft = &d->ft;
	c->devs = &d->devset;
	c->flows_fd = d->maps->flows;
	c->fib_mark_ok = pfd_bpf_fib_mark_ok(d->bpf);
	c->pulse = pulse;
	c->sweep_pulse = sweep_pulse;
	c->pulse_arg = d;
}

/* A reconcile this long is logged even when it repaired nothing. */
#define SLOW_RECONCILE_NS (1000ULL * 1000000)

/* A full dump through the flow table; entries it does not show leave the
 * map. Flowtable mode only asks for offloaded entries: the kernel filters
 * (CTA_STATUS_MASK, 5.19+). Not ASSURED: see pfd_policy_check_entry. */
static int reconcile(struct pfd *d, const char *why)
{
	const struct pfd_ct_stats *cs = pfd_ct_get_stats(d->ct);
	uint64_t dumped = cs->dumped, intr = cs->dumps_intr;
	uint64_t t0 = pfd_now_ns(), t_dump, t_end;
	uint32_t mask = 0, value = 0;
	uint64_t fixed;
	int err;

	if (d->mode == PFD_MODE_FLOWTABLE)
		mask = value = IPS_OFFLOAD;
	pfd_flows_reconcile_begin(d->flows);
	d->reconcile_dump = true;
	err = pfd_ct_dump(d->ct, mask, value);
	d->reconcile_dump = false;
	t_dump = pfd_now_ns();
	if (err == -ECANCELED) {
		/* a ruleset commit waited behind it (pulse): it goes first,
		 * the reconcile runs again once it is handled */
		pfd_flows_reconcile_abort(d->flows);
		d->reconcile_again = why;
		pr_info("%s: interrupted by a ruleset commit; it runs again after the revalidation",
			why);
		return err;
	}
	if (err) {
		/* keep everything: a failed dump proves nothing */
		pr_ratelimited(LOG_WARNING, 60, "conntrack dump failed (%s); reconcile skipped",
			       strerror(-err));
		pfd_flows_reconcile_abort(d->flows);
		return err;
	}
	fixed = pfd_flows_reconcile_end(d->flows);
	t_end = pfd_now_ns();
	d->reconcile_ms = (t_end - t0) / 1000000;
	d->reconciles++;
	if (fixed || t_end - t0 >= SLOW_RECONCILE_NS)
		pr_info("%s: %" PRIu64 " differences between conntrack and the flow map repaired "
			"(%llu entries dumped in %llu ms%s, the map checked in %llu ms)",
			why, fixed, (unsigned long long)(cs->dumped - dumped),
			(unsigned long long)((t_dump - t0) / 1000000),
			cs->dumps_intr != intr ? ", the kernel flagged the dump interrupted" : "",
			(unsigned long long)((t_end - t_dump) / 1000000));
	return 0;
}

/* The reconcile that gave way to a ruleset commit, once that is handled. */
static void reconcile_resume(struct pfd *d)
{
	const char *why = d->reconcile_again;

	if (!why || d->reval.active)
		return;
	d->reconcile_again = NULL;
	reconcile(d, why);
}

/* Events were lost where a resync cannot start (inside a dump, or the
 * socket could not be emptied): the reconcile timer runs one next. */
static void resync_soon(struct pfd *d)
{
	d->resync_again = true;
	pfd_loop_timer_set(d->t_reconcile, 1);
}

/* How long a resync may spend dropping queued events (pfd_ct_events_flush)
 * before its dump. */
#define RESYNC_FLUSH_NS (200ULL * 1000000)

/*
 * Conntrack events were lost: the event socket is emptied first (what is
 * queued is older than the dump; and until it reads empty, the kernel
 * reports no further loss), then a full dump. If events kept coming faster
 * than they could be dropped, another resync follows (resync_soon).
 */
static void resync(struct pfd *d)
{
	int err = pfd_ct_events_flush(d->ct, RESYNC_FLUSH_NS);

	d->resync_again = false;
	if (err && err != -EBUSY)
		pr_ratelimited(LOG_ERR, 10, "conntrack events: %s", strerror(-err));
	d->resyncs++;
	reconcile(d, "resync");
	if (err)
		resync_soon(d);
}

/* Conntrack events, from the loop or from the pulse of a long dump; never
 * nested (an install's own conntrack request pulses too). */
static int ct_events_read(struct pfd *d)
{
	int err;

	d->in_ct_events = true;
	if (d->flows)
		pfd_flows_serving_events(d->flows, true);
	err = pfd_ct_events_read(d->ct);
	if (d->flows)
		pfd_flows_serving_events(d->flows, false);
	d->in_ct_events = false;
	return err;
}

static void on_ct(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;
	int err;

	(void)fd;
	(void)events;
	err = ct_events_read(d);
	if (err == -ENOBUFS) {
		/* events were lost: our view is stale until a full dump */
		d->ct_overruns++;
		pr_ratelimited(LOG_WARNING, 10,
			       "conntrack events lost (ENOBUFS); resyncing from a full dump "
			       "(raise ct-event-buffer)");
		resync(d);
	} else if (err && err != -EAGAIN) {
		pr_ratelimited(LOG_ERR, 10, "conntrack events: %s", strerror(-err));
	}
}

static void flowtables_reread(struct pfd *d)
{
	int err;

	pfd_ft_list_clear(&d->ft);
	err = pfd_nft_read_flowtables(d->nft, &d->ft);
	if (err)
		pr_warn("cannot read nft flowtables (%s)", strerror(-err));
	devices_sync(d, d->cfg, false);
}

/* How long after a revalidation new installs are read back from conntrack
 * first (pfd_flows_verify_until): an event of a packet that the old ruleset
 * judged is delivered microseconds after the commit; this is generous. */
#define VERIFY_AFTER_REVALIDATION_NS (200ULL * 1000000)
/* How often a long dump stops to look at the heartbeat and the ruleset. */
#define PULSE_EVERY_NS (20ULL * 1000000)
/* Conntrack events served from a long reconcile or refresh this often: the
 * event-to-map target is a p99 of 10 ms. */
#define EVENTS_PULSE_EVERY_NS (2ULL * 1000000)

/* One map write takes every installed flow off the fast path: their
 * entries carry the old generation, and the fast path passes such packets
 * to the kernel. Nothing else is touched; pfd stamps a flow again when the
 * ruleset marks it again. */
static void policy_gen_bump(struct pfd *d)
{
	d->ctl.policy_gen++;
	ctl_write(d);
	if (d->flows)
		pfd_flows_set_policy_gen(d->flows, d->ctl.policy_gen);
}

/* Revalidation chunks: conntrack updates per loop turn (64 per datagram),
 * growing from a few milliseconds' work (the most active flows, back at
 * once) to about 20 ms; events and timers are served in between. */
#define REVAL_CHUNK_FIRST 256
#define REVAL_CHUNK_MAX	  4096

static void reval_finish(struct pfd *d)
{
	__u64 cleared = 0;
	uint32_t gen = d->reval.gen;
	int err;

	pfd_loop_timer_set(d->t_reval, 0);
	/* every other mark: entries pfd left out, and stale flows whose
	 * clear by reference failed; not the ones cleared above, which the
	 * current ruleset may have marked again since */
	err = pfd_ct_clear_marks(d->ct, d->cfg->mark_mask, pfd_flows_mark_known_cleared, d->flows,
				 &cleared);
	d->reval.cleared += cleared;
	pfd_flows_count_revalidation(d->flows);
	free(d->reval.refs);
	d->reval.refs = NULL;
	d->reval.active = false;
	if (err) {
		/* until a clear succeeds, installs stay held: a mark the old
		 * ruleset set may still be there; the heartbeat retries */
		d->marks_dirty = true;
		pr_ratelimited(LOG_ERR, 10,
			       "ruleset changed: clearing the offload marks failed (%s); "
			       "retrying",
			       strerror(-err));
		reconcile_resume(d);
		return;
	}
	pfd_flows_hold_installs(d->flows, false);
	d->marks_dirty = false;
	d->ruleset_gen = gen;
	d->ruleset_gen_valid = d->reval.gen_valid;
	pfd_flows_verify_until(d->flows, pfd_now_ns() + VERIFY_AFTER_REVALIDATION_NS);
	pr_info("nftables generation %u: offload marks cleared on %llu entries in %llu ms", gen,
		(unsigned long long)d->reval.cleared,
		(unsigned long long)((pfd_now_ns() - d->reval.t0) / 1000000));
	reconcile_resume(d);
}

/* One loop turn of a revalidation: a chunk of the stale flows' marks, or,
 * once they are done, the rest (reval_finish). */
static void reval_step(struct pfd *d)
{
	size_t k;
	__u64 cleared = 0;

	if (!d->reval.active)
		return;
	if (d->mode != PFD_MODE_MARK) {
		/* a reload left mark mode: nothing of the old mode stays */
		pfd_loop_timer_set(d->t_reval, 0);
		free(d->reval.refs);
		d->reval.refs = NULL;
		d->reval.active = false;
		pfd_flows_hold_installs(d->flows, false);
		return;
	}
	if (d->reval.pos == d->reval.n) {
		reval_finish(d);
		return;
	}
	k = d->reval.pos < REVAL_CHUNK_FIRST ? REVAL_CHUNK_FIRST :
	    d->reval.pos > REVAL_CHUNK_MAX   ? REVAL_CHUNK_MAX :
					       d->reval.pos;
	if (k > d->reval.n - d->reval.pos)
		k = d->reval.n - d->reval.pos;
	/* a failed chunk is not fatal: reval_finish's dump finds its marks */
	if (!pfd_ct_clear_marks_of(d->ct, d->reval.refs + d->reval.pos, k, d->cfg->mark_mask,
				   &cleared))
		pfd_flows_marks_cleared(d->flows, d->reval.refs + d->reval.pos, k);
	d->reval.cleared += cleared;
	d->reval.pos += k;
	/* the next turn, after the events this chunk's flows bring */
	pfd_loop_timer_set(d->t_reval, 1);
}

static void on_reval(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;

	(void)events;
	pfd_loop_timer_ack(fd);
	reval_step(d);
}

/*
 * Mark mode: a ruleset generation pfd has not revalidated (a commit, or one
 * made while pfd was down). Every offload mark in conntrack was set by an
 * older ruleset, on installed flows and on entries pfd left out for any
 * reason (min-packets, UDP not assured yet, map full, refused by the
 * environment) alike: clear them all, so that only marks the current
 * ruleset sets can install a flow. Offloaded flows go back to the kernel
 * first, at once and at any number of flows (policy_gen_bump); their marks
 * are cleared first, the most recently active first, and each is stamped
 * again (one map write) when the ruleset marks it again, while the rest
 * is cleared.
 */
static void marks_revalidate(struct pfd *d, uint32_t gen, bool gen_valid)
{
	const struct pfd_flows_stats *fs = pfd_flows_get_stats(d->flows);
	ssize_t n;

	/* conntrack events queued before the commit carry the old ruleset's
	 * marks: every install they ask for is read back first */
	pfd_flows_verify_until(d->flows, UINT64_MAX);
	if (ct_events_read(d) == -ENOBUFS) {
		/* lost: a resync once the revalidation is done; the socket
		 * is emptied now, so that a later loss is reported */
		d->ct_overruns++;
		pfd_ct_events_flush(d->ct, RESYNC_FLUSH_NS);
		d->resyncs++;
		d->reconcile_again = "resync";
	}
	/* If the write fails, the heartbeat's next ctl_write carries the new
	 * generation; a restart finds the ruleset generation unrevalidated
	 * and bumps again before its first heartbeat. Until the marks are
	 * cleared nothing is installed or stamped again. */
	policy_gen_bump(d);
	pfd_flows_hold_installs(d->flows, true);
	free(d->reval.refs);
	memset(&d->reval, 0, sizeof(d->reval));
	d->reval.active = true;
	d->reval.gen = gen;
	d->reval.gen_valid = gen_valid;
	d->reval.t0 = pfd_now_ns();
	n = pfd_flows_stale_refs(d->flows, &d->reval.refs);
	d->reval.n = n > 0 ? (size_t)n : 0; /* -ENOMEM: the dump's clear does all */
	pr_info("nftables generation %u: revalidating (%llu flow(s) go to the kernel until "
		"the ruleset marks them again)",
		gen, (unsigned long long)fs->stale);
	reval_step(d);
}

/* The pins are how the CLI, a restart and `pfd detach` find pfd's maps and
 * attachments. The daemon holds what they pin, so removing them (rm, bpffs
 * unmounted) stops nothing; they are made again here, from what it holds. */
static void pins_check(struct pfd *d)
{
	int r = pfd_bpf_repin(d->bpf);

	if (r > 0) {
		pr_warn("%d pin(s) under %s had gone (removed, or bpffs mounted anew): made again",
			r, d->cfg->bpffs);
		d->pins_lost = false;
	} else if (r < 0 && !d->pins_lost) {
		/* once per loss: the fast path runs on, only its pins are gone */
		pr_err("bpffs %s: pfd's pins are gone and cannot be made again (%s); the fast path "
		       "runs on, the pfd commands cannot see it until bpffs is mounted there again",
		       d->cfg->bpffs,
		       r == -EMEDIUMTYPE ? "not a BPF filesystem any more" : strerror(-r));
		d->pins_lost = true;
	} else if (!r) {
		d->pins_lost = false;
	}
}

/*
 * Runs between the datagrams of a long conntrack dump or mark clear (100k
 * entries take seconds, and the loop serves nothing else meanwhile), and
 * every so many records of the flow table's long walks (refresh,
 * reconcile, re-decision: a map lookup or two per record). The
 * daemon is alive: the heartbeat goes on, so the fast path does not fail
 * open for it. A ruleset commit waiting behind the dump cannot: in mark
 * mode the gate closes at once (every packet to the kernel), and on_nft
 * revalidates, or opens it again, when the dump is done.
 */
static void control_serve_busy(struct pfd *d);

static void pulse(void *arg)
{
	struct pfd *d = arg;
	uint64_t now = pfd_now_ns();
	struct pollfd p = { .fd = pfd_nft_events_fd(d->nft), .events = POLLIN };

	if (now - d->last_pulse_ns < PULSE_EVERY_NS)
		return;
	d->last_pulse_ns = now;
	if (d->mode == PFD_MODE_MARK && p.fd >= 0 && poll(&p, 1, 0) > 0) {
		if (!d->gate_closed) {
			d->gate_closed = true;
			ctl_write(d);
		}
		/* a reconcile or refresh of 100k entries would keep every
		 * flow in the kernel for up to a second: whatever runs now
		 * gives way, until on_nft has read the commit */
		pfd_ct_dump_cancel(d->ct);
		if (d->flows)
			pfd_flows_walk_cancel(d->flows);
		return;
	}
	if (now - d->ctl.heartbeat_ns >= (uint64_t)d->cfg->heartbeat_interval_ms * 1000000ULL) {
		ctl_write(d);
		pins_check(d);
	}
	control_serve_busy(d);
}

/*
 * A reconcile of 1M entries takes seconds, its dump and its sweep of the
 * map alike: conntrack events are served between the dump's datagrams and
 * every so many map entries of the sweep, where no record is in hand, so
 * that a new flow waits for a pulse, not for the reconcile. What they
 * install is marked seen, so the dump's end does not take it for gone, and
 * the sweep checks again before it deletes; events older than the next
 * datagram end in the state of the last event, as they would after the
 * dump. A loss cannot resync from here (the dump socket is busy): one
 * follows at once.
 */
static void pulse_serving_events(struct pfd *d)
{
	uint64_t now;

	pulse(d);
	now = pfd_now_ns();
	if (now - d->last_events_pulse_ns < EVENTS_PULSE_EVERY_NS || d->in_ct_events)
		return; /* not due yet, or inside event delivery already */
	d->last_events_pulse_ns = now;
	if (ct_events_read(d) == -ENOBUFS) {
		d->ct_overruns++;
		pr_ratelimited(LOG_WARNING, 10,
			       "conntrack events lost (ENOBUFS) during a long walk; a full dump "
			       "follows it (raise ct-event-buffer)");
		resync_soon(d);
	}
}

/* The conntrack dump socket's pulse, between datagrams. */
static void dump_pulse(void *arg)
{
	struct pfd *d = arg;

	if (d->reconcile_dump)
		pulse_serving_events(d);
	else
		pulse(d); /* the revalidation's mark clear: installs are held */
}

/* The pulse of the reconcile's sweep of the flow map. */
static void sweep_pulse(void *arg)
{
	pulse_serving_events(arg);
}

/* A gate the pulse closed, once the commit is handled (or was not a new
 * generation); then the reconcile it interrupted, unless a revalidation
 * is still under way (it resumes it when done). */
static void gate_open(struct pfd *d)
{
	if (d->gate_closed) {
		d->gate_closed = false;
		ctl_write(d);
	}
	reconcile_resume(d);
}

static void on_nft(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;
	uint32_t gen = 0;
	int r;

	(void)fd;
	(void)events;
	r = pfd_nft_events_read(d->nft, &gen);
	if (r == 0) {
		gate_open(d);
		return;
	}
	if (r < 0 && r != -ENOBUFS) {
		pr_ratelimited(LOG_ERR, 10, "nftables events: %s", strerror(-r));
		gate_open(d);
		return;
	}
	pfd_flows_invalidate(d->flows, -1); /* netdev chains may have changed */
	pfd_flows_warm(d->flows);
	synp_apply(d); /* synproxy statements may have changed */
	if (d->mode == PFD_MODE_MARK) {
		/* -ENOBUFS: a generation was missed, gen may not be the
		 * latest: ask */
		bool valid = r > 0 || !pfd_nft_generation(d->nft, &gen);

		marks_revalidate(d, gen, valid);
	} else {
		flowtables_reread(d);
		reconcile(d, "flowtables changed");
	}
	gate_open(d);
}

static void on_rt_event(void *arg, enum pfd_rt_event ev, int ifindex, bool up)
{
	struct pfd *d = arg;
	unsigned int i;

	d->rt_changed = true;
	/* neighbours change no route and no policy: only the fast path's FIB
	 * cache (fib_gen) cares */
	if (ev != PFD_RT_EV_NEIGH)
		pfd_flows_invalidate(d->flows, ev == PFD_RT_EV_TC || ev == PFD_RT_EV_LINK ||
							       ev == PFD_RT_EV_XDP ?
						       ifindex :
						       0);
	/* A rule (fwmark routing) or an xfrm policy changes which flows the
	 * fast path may carry at all, not only where their packets go (the
	 * FIB lookup follows routes per packet): every installed flow is
	 * decided again once the batch is read. */
	if (ev == PFD_RT_EV_RULE || ev == PFD_RT_EV_XFRM) {
		ev = PFD_RT_EV_TC;
		ifindex = 0;
	}
	if (ev == PFD_RT_EV_XDP)
		d->devmap_dirty = true;
	if (ev == PFD_RT_EV_TC || ev == PFD_RT_EV_XDP) {
		/* re-decided once the batch is read (on_rt); ifindex 0
		 * (notifications lost): every flow */
		if (!ifindex)
			ifindex = -1;
		for (i = 0; i < d->n_tc_changed; i++)
			if (d->tc_changed[i] == ifindex || d->tc_changed[i] < 0)
				break;
		if (i == d->n_tc_changed && i < sizeof(d->tc_changed) / sizeof(d->tc_changed[0]))
			d->tc_changed[d->n_tc_changed++] = ifindex;
		else if (i == d->n_tc_changed)
			d->tc_changed[0] = -1;
	}
	if (ev == PFD_RT_EV_LINK)
		d->links_changed = true;
	if (ev != PFD_RT_EV_LINK || up)
		return;
	for (i = 0; i < d->n_devs; i++)
		if (d->devs[i].ifindex == ifindex)
			d->link_down[i] = true;
}

/* A configured device is not the one pfd attached to: it was deleted, made
 * again under its name (a new ifindex), or created after pfd started. */
static bool devices_moved(const struct pfd *d)
{
	unsigned int i;

	for (i = 0; i < d->n_devs; i++)
		if ((int)if_nametoindex(d->devs[i].name) != d->devs[i].ifindex)
			return true;
	return false;
}

static void on_rt(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;
	unsigned int i;
	int err;

	(void)fd;
	(void)events;
	err = pfd_rt_events_read(d->rt);
	if (err == -ENOBUFS) {
		d->rt_changed = true;
		d->links_changed = true;
		pfd_flows_invalidate(d->flows, -1);
	}
	/* devmap first: a device that lost NDO_XMIT leaves it before the
	 * generation bump makes cached flows look at it again */
	if (d->devmap_dirty)
		devset_refresh(d);
	if (d->rt_changed) {
		/* the fast path's FIB caches are stale from now on */
		fib_gen_bump(d);
		d->rt_changed = false;
		pfd_flows_warm(d->flows);
	}
	for (i = 0; i < d->n_tc_changed; i++) {
		pfd_flows_redecide(d->flows, d->tc_changed[0] < 0 ? -1 : d->tc_changed[i]);
		if (d->tc_changed[0] < 0)
			break;
	}
	d->n_tc_changed = 0;
	for (i = 0; i < d->n_devs; i++) {
		if (!d->link_down[i])
			continue;
		d->link_down[i] = false;
		pr_info("%s: link down, its flows go back to the kernel", d->devs[i].name);
		pfd_flows_flush_dev(d->flows, d->devs[i].ifindex);
	}
	if (d->links_changed) {
		d->links_changed = false;
		if (devices_moved(d)) {
			pr_info("a configured device went, came or was made again: attaching anew");
			devices_sync(d, d->cfg, false);
		} else {
			struct vlan_list vlans;

			vlan_list_read(d, &vlans);
			if (vlan_sync(d, &vlans)) { /* a VLAN device came, went or changed */
				fib_gen_bump(d);
				pfd_flows_invalidate(d->flows, -1);
				pfd_flows_warm(d->flows);
			}
			free(vlans.v);
		}
	}
}

/* -------------------------------------------------------------------- */
/* Timers                                                               */

static void on_heartbeat(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;
	uint64_t now;

	(void)events;
	pfd_loop_timer_ack(fd);
	ctl_write(d);
	pins_check(d);
	now = pfd_now_ns();
	if (d->mode == PFD_MODE_MARK && d->marks_dirty && !d->reval.active) {
		/* a later generation's event revalidates again anyway */
		uint32_t gen = d->ruleset_gen;
		bool valid = !pfd_nft_generation(d->nft, &gen);

		marks_revalidate(d, gen, valid);
	}
	if (d->mode == PFD_MODE_FLOWTABLE)
		/* IPS_OFFLOAD flips without events: look often (filtered dump) */
		reconcile(d, "flowtable scan");
	breaker_check(d, now - d->breaker_window_start >=
				 (uint64_t)d->cfg->breaker_window_ms * 1000000ULL);
	if (now - d->breaker_window_start >= (uint64_t)d->cfg->breaker_window_ms * 1000000ULL)
		d->breaker_window_start = now;
	state_write(d);
}

/* A refresh round goes in parts a millisecond apart (1M flows: seconds in
 * all), so that a revalidation, a commit or a control request waits for one
 * part, not for the round. During a revalidation the round waits: the
 * flows it would refresh are stale, the kernel's to keep. */
#define REFRESH_PART_GAP_MS 1

static void on_refresh(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;
	bool more;

	(void)events;
	pfd_loop_timer_ack(fd);
	more = d->reval.active ? false : pfd_flows_refresh(d->flows);
	if (more != d->refresh_in_parts) {
		d->refresh_in_parts = more;
		pfd_loop_timer_set(fd, more ? REFRESH_PART_GAP_MS : d->cfg->refresh_interval_ms);
	}
}

static void on_reconcile(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;

	(void)events;
	pfd_loop_timer_ack(fd);
	if (d->resync_again) {
		pfd_loop_timer_set(fd, d->cfg->reconcile_interval_ms);
		resync(d);
		return;
	}
	if (d->reval.active) {
		/* the flows with traffic are coming back: not now */
		d->reconcile_again = "reconcile";
		return;
	}
	reconcile(d, "reconcile");
}

static void on_metrics(void *arg, int fd, uint32_t events)
{
	struct pfd *d = arg;

	(void)events;
	pfd_loop_timer_ack(fd);
	metrics_write(d);
}

static void timers_set(struct pfd *d)
{
	pfd_loop_timer_set(d->t_heartbeat, d->cfg->heartbeat_interval_ms);
	pfd_loop_timer_set(d->t_refresh,
			   d->refresh_in_parts ? REFRESH_PART_GAP_MS : d->cfg->refresh_interval_ms);
	pfd_loop_timer_set(d->t_reconcile, d->cfg->reconcile_interval_ms);
	pfd_loop_timer_set(d->t_metrics, d->cfg->metrics_file[0] ? d->cfg->metrics_interval_ms : 0);
}

/* -------------------------------------------------------------------- */
/* Mode, reload, signals                                                */

static int resolve_mode(struct pfd *d, const struct pfd_config *cfg, enum pfd_mode *mode)
{
	int r;

	if (cfg->mode != PFD_MODE_AUTO) {
		*mode = cfg->mode;
		return 0;
	}
	r = pfd_nft_probe_flowtables(d->nft);
	if (r > 0) {
		*mode = PFD_MODE_FLOWTABLE;
		pr_info("mode auto: this kernel has nf_flow_table, using flowtable mode");
		return 0;
	}
	if (cfg->mark_mask) {
		*mode = PFD_MODE_MARK;
		pr_info("mode auto: no nf_flow_table here (%s), using mark mode 0x%x/0x%x",
			r < 0 ? strerror(-r) : "flowtables refused", cfg->mark_value,
			cfg->mark_mask);
		return 0;
	}
	pr_err("mode auto: this kernel has no nf_flow_table; set `mode mark VALUE/MASK` "
	       "(or `mode auto VALUE/MASK`) in %s",
	       cfg->path);
	return -EOPNOTSUPP;
}

static void reload(struct pfd *d)
{
	struct pfd_config *next = NULL, *old = d->cfg;
	struct pfd_flows_ctx fc;
	enum pfd_mode mode;
	bool mode_changed;
	int err;

	d->reload_attempts++;
	pr_info("%s: reloading", d->config_path);
	pfd_log_capture_begin(d->reload_error, sizeof(d->reload_error));
	err = pfd_config_load(d->config_path, &next);
	if (!err)
		err = resolve_mode(d, next, &mode);
	pfd_log_capture_end();
	if (err) {
		if (!d->reload_error[0])
			snprintf(d->reload_error, sizeof(d->reload_error), "%s: %s", d->config_path,
				 strerror(-err));
		pr_err("%s: reload refused, keeping the running configuration", d->config_path);
		pfd_config_free(next);
		state_write(d);
		return;
	}
	if (strcmp(next->bpffs, old->bpffs) || strcmp(next->state_dir, old->state_dir) ||
	    next->flow_map_size != old->flow_map_size ||
	    next->ct_event_buffer != old->ct_event_buffer)
		pr_warn("%s: bpffs, state-dir, flow-map-size and ct-event-buffer take effect at "
			"the next restart",
			d->config_path);
	/* the running values of those stay */
	snprintf(next->bpffs, sizeof(next->bpffs), "%s", old->bpffs);
	snprintf(next->state_dir, sizeof(next->state_dir), "%s", old->state_dir);
	next->flow_map_size = old->flow_map_size;
	next->ct_event_buffer = old->ct_event_buffer;

	mode_changed = mode != d->mode ||
		       (mode == PFD_MODE_MARK &&
			(next->mark_value != old->mark_value || next->mark_mask != old->mark_mask));
	pfd_log_set_level(next->log_level + d->verbosity);
	d->cfg = next;
	if (mode_changed) {
		/* another offload criterion: nothing offloaded under the old one
		 * stays; the dump below re-decides everything */
		pfd_flows_remove_all(d->flows, false);
		d->mode = mode;
	}
	mark_check(d, mode_changed ? NULL : old);
	if (d->mode == PFD_MODE_FLOWTABLE) {
		pfd_ft_list_clear(&d->ft);
		pfd_nft_read_flowtables(d->nft, &d->ft);
	}
	flows_ctx(d, &fc);
	pfd_flows_set_ctx(d->flows, &fc);
	/* applied from here on: a device that fails to attach is logged, the
	 * rest of the configuration still applies */
	d->reload_error[0] = '\0';
	devices_sync(d, next, true);
	blocks_apply(d);
	/* lines may have moved: say again what each one does */
	memset(d->synp_state, -1, sizeof(d->synp_state));
	synp_apply(d);
	d->ctl.keepalive_ms = keepalive_ms(d);
	ctl_write(d);
	timers_set(d);
	/* Re-decide every entry under the new allow/deny/min-packets; flows
	 * still eligible are rewritten in place (BPF_ANY), never dropped. */
	pfd_flows_invalidate(d->flows, -1);
	pfd_flows_warm(d->flows);
	reconcile(d, "reload");
	pfd_config_free(old);
	d->reloads++;
	pr_notice("%s: reloaded", d->config_path);
	state_write(d);
}

/* The control socket's commands (pfd/control.h); each answer's members. */
static int control_handler(void *arg, const char *cmd, FILE *out, char *err, size_t err_len)
{
	struct pfd *d = arg;
	struct pfd_state s;

	if (!strcmp(cmd, "version")) {
		fputs(",\"pfd\":", out);
		pfd_control_json_str(out, PFD_VERSION);
		fprintf(out, ",\"abi\":%d", PFD_ABI_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "reload")) {
		reload(d);
		if (d->reload_error[0]) {
			snprintf(err, err_len,
				 "reload refused, pfd keeps its running configuration: %s",
				 d->reload_error);
			return -EINVAL;
		}
		fputs(",\"config\":", out);
		pfd_control_json_str(out, d->config_path);
		fprintf(out, ",\"reloads\":%" PRIu64, d->reloads);
		return 0;
	}
	if (strcmp(cmd, "status"))
		return -ENOENT;
	/* what the state file holds, live */
	fill_state(d, &s);
	fprintf(out, ",\"pid\":%d,\"mode\":", (int)s.pid);
	pfd_control_json_str(out, s.mode);
	fputs(",\"config\":", out);
	pfd_control_json_str(out, s.config);
	fprintf(out,
		",\"started\":%" PRId64 ",\"flows\":%" PRIu64 ",\"installs\":%" PRIu64
		",\"removals\":%" PRIu64 ",\"resyncs\":%" PRIu64 ",\"ct_overruns\":%" PRIu64
		",\"map_full\":%" PRIu64 ",\"reloads\":%" PRIu64 ",\"reload_attempts\":%" PRIu64,
		s.started, s.flows, s.installs, s.removals, s.resyncs, s.ct_overruns, s.map_full,
		s.reloads, s.reload_attempts);
	fputs(",\"reload_error\":", out);
	pfd_control_json_str(out, s.reload_error);
	fprintf(out, ",\"revalidating\":%s", d->reval.active ? "true" : "false");
	fprintf(out, ",\"reconciles\":%" PRIu64 ",\"last_reconcile_ms\":%" PRIu64, d->reconciles,
		d->reconcile_ms);
	fprintf(out, ",\"gate_closed\":%s,\"devices\":%u", d->gate_closed ? "true" : "false",
		s.n_devs);
	if (s.ruleset_gen_valid)
		fprintf(out, ",\"ruleset_gen\":%" PRIu32, s.ruleset_gen);
	return 0;
}

/* The loop's own answers: not inside a walk. */
static int control_handler_idle(void *arg, const char *cmd, FILE *out, char *err, size_t err_len)
{
	int err_no = control_handler(arg, cmd, out, err, err_len);

	if (!err_no && !strcmp(cmd, "status"))
		fputs(",\"busy\":false", out);
	return err_no;
}

static void on_control(void *arg, int fd, uint32_t events)
{
	(void)events;
	((struct pfd *)arg)->control_waiting_since = 0;
	pfd_control_serve(fd, control_handler_idle, arg);
}

/* The control socket inside a long walk (a reconcile, refresh or sweep of
 * 1M entries takes seconds): status and version are answered, with "busy".
 * A reload cannot run in the middle of a walk: the client is told so and
 * sends SIGHUP instead, which the loop takes when the walk is over. */
static int control_handler_busy(void *arg, const char *cmd, FILE *out, char *err, size_t err_len)
{
	int err_no;

	if (!strcmp(cmd, "reload")) {
		snprintf(err, err_len,
			 "busy: pfd is in a long pass over conntrack or its flow map; SIGHUP "
			 "queues the reload until the pass ends");
		return -EBUSY;
	}
	err_no = control_handler(arg, cmd, out, err, err_len);
	if (!err_no && !strcmp(cmd, "status"))
		fputs(",\"busy\":true", out);
	return err_no;
}

/* From the pulse: only a client that has waited CONTROL_BUSY_AFTER_NS,
 * so that a short pass leaves the socket to the loop (and a reload to
 * its normal answer). */
#define CONTROL_BUSY_AFTER_NS (100ULL * 1000000)
static void control_serve_busy(struct pfd *d)
{
	struct pollfd p = { .fd = d->control_fd, .events = POLLIN };
	uint64_t now;

	if (p.fd < 0 || poll(&p, 1, 0) <= 0) {
		d->control_waiting_since = 0;
		return;
	}
	now = pfd_now_ns();
	if (!d->control_waiting_since)
		d->control_waiting_since = now;
	if (now - d->control_waiting_since < CONTROL_BUSY_AFTER_NS)
		return;
	d->control_waiting_since = 0;
	pfd_control_serve(p.fd, control_handler_busy, d);
}

static void on_signal(void *arg, int fd, uint32_t signo)
{
	struct pfd *d = arg;

	(void)fd;
	switch (signo) {
	case SIGHUP:
		reload(d);
		break;
	case SIGTERM:
	case SIGINT:
		pr_notice("signal %u: stopping; the fast path keeps forwarding until the heartbeat "
			  "limit (%u ms), a restart adopts it",
			  signo, d->cfg->heartbeat_limit_ms);
		pfd_loop_stop(d->loop);
		break;
	default:
		break;
	}
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char msg[] = "READY=1";
	socklen_t len;
	size_t plen;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	plen = strlen(path);
	if (plen >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		pr_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

/* -------------------------------------------------------------------- */
/* Startup and shutdown                                                 */

static void teardown(struct pfd *d)
{
	/* Pins, links and the maps stay: the fast path goes on forwarding
	 * until the heartbeat goes stale; a restart adopts everything. */
	pfd_flows_free(d->flows);
	free(d->reval.refs);
	pfd_loop_free(d->loop);
	pfd_ct_close(d->ct);
	pfd_rt_close(d->rt);
	pfd_nft_close(d->nft);
	pfd_ft_list_clear(&d->ft);
	pfd_egress_close(d->egress);
	pfd_bpf_close(d->bpf);
	free(d->sum);
	if (d->control_fd >= 0) {
		close(d->control_fd);
		pfd_control_unlink(d->cfg->state_dir);
	}
	if (d->lock_fd >= 0) {
		char path[PATH_MAX + 16];

		snprintf(path, sizeof(path), "%s/pfd.pid", d->cfg->state_dir);
		unlink(path);
		close(d->lock_fd);
	}
	pfd_config_free(d->cfg);
}

static int start(struct pfd *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct pfd_ct_opts copts = {};
	struct pfd_flows_ctx fc;
	bool ruleset_moved = false;
	pid_t holder = 0;
	__u32 k = 0;
	int err;

	/* lock: one daemon per state directory (and so per set of pins) */
	d->lock_fd = pfd_state_lock(d->cfg->state_dir, &holder);
	if (d->lock_fd == -EBUSY) {
		if (holder)
			pr_err("another pfd is running (pid %d, state-dir %s)", (int)holder,
			       d->cfg->state_dir);
		else
			pr_err("another pfd holds %s/pfd.lock", d->cfg->state_dir);
		return -EBUSY;
	}
	if (d->lock_fd < 0) {
		pr_err("state-dir %s: %s", d->cfg->state_dir, strerror(-d->lock_fd));
		return d->lock_fd;
	}
	err = pfd_state_write_pid(d->cfg->state_dir);
	if (err)
		pr_warn("%s/pfd.pid: %s", d->cfg->state_dir, strerror(-err));
	d->control_fd = pfd_control_listen(d->cfg->state_dir);
	if (d->control_fd < 0)
		pr_warn("%s/" PFD_CONTROL_SOCKET ": no control socket (%s); pfd reload falls back "
			"to SIGHUP",
			d->cfg->state_dir, strerror(-d->control_fd));

	err = pfd_nft_open(&d->nft);
	if (err) {
		pr_err("nftables netlink: %s", strerror(-err));
		return err;
	}
	err = resolve_mode(d, d->cfg, &d->mode);
	if (err)
		return err;
	mark_check(d, NULL);

	pfd_log_libbpf();
	err = pfd_bpf_open(&d->bpf, d->cfg);
	if (err)
		return err;
	d->maps = pfd_bpf_maps(d->bpf);
	d->sum = calloc(1, sizeof(*d->sum));
	if (!d->sum)
		return -ENOMEM;
	/* Mark mode: the adopted flows were installed under the ruleset
	 * generation the previous run revalidated. If the ruleset changed
	 * since (or that is unknown), they and every offload mark in
	 * conntrack come from an older ruleset: the policy generation moves
	 * on before the first heartbeat lets the fast path use the map, the
	 * marks are cleared once conntrack is open, and the first reconcile
	 * removes the entries nobody marked again. Events subscribed first:
	 * a change after the read is seen. */
	err = pfd_nft_events_open(d->nft);
	if (err) {
		pr_err("nftables events: %s", strerror(-err));
		return err;
	}
	if (d->mode == PFD_MODE_MARK) {
		struct pfd_state prev;
		uint32_t gen = 0;
		bool same;

		d->ruleset_gen_valid = !pfd_nft_generation(d->nft, &gen);
		d->ruleset_gen = gen;
		same = d->ruleset_gen_valid && !pfd_state_read(d->cfg->state_dir, &prev) &&
		       prev.ruleset_gen_valid && prev.ruleset_gen == gen;
		if (!same) {
			d->marks_dirty = true;
			ruleset_moved = true;
		}
	}
	/* keep the adopted generation moving forward: a cached FIB result of
	 * the previous run must not be trusted */
	if (!bpf_map_lookup_elem(d->maps->ctl, &k, &d->ctl) &&
	    d->ctl.abi_version != PFD_ABI_VERSION)
		memset(&d->ctl, 0, sizeof(d->ctl));
	d->ctl.keepalive_ms = keepalive_ms(d);
	if (ruleset_moved) {
		d->ctl.policy_gen++;
		pr_info("nftables ruleset changed while pfd was stopped (or unknown): adopted "
			"flow entries go to the kernel, offload marks are revalidated");
	}
	fib_gen_bump(d); /* also the first heartbeat */

	err = pfd_rt_open(&d->rt, on_rt_event, d);
	if (err) {
		pr_err("rtnetlink: %s", strerror(-err));
		return err;
	}
	if (d->mode == PFD_MODE_FLOWTABLE) {
		err = pfd_nft_read_flowtables(d->nft, &d->ft);
		if (err)
			pr_warn("cannot read nft flowtables (%s)", strerror(-err));
	}

	copts.rcvbuf = (int)d->cfg->ct_event_buffer;
	copts.cb = pfd_flows_ct_cb;
	err = pfd_loop_new(&d->loop);
	if (err)
		return err;
	/* the flow table needs ct for updates, ct needs the flow table as its
	 * callback: create the table with ct NULL, then set it */
	flows_ctx(d, &fc);
	err = pfd_flows_new(&d->flows, &fc);
	if (err)
		return err;
	pfd_flows_set_policy_gen(d->flows, d->ctl.policy_gen);
	devices_sync(d, d->cfg, true);
	blocks_apply(d);
	synp_apply(d);

	copts.arg = d->flows;
	/* subscribe first, dump second: nothing falls in between */
	err = pfd_ct_open(&d->ct, &copts);
	if (err) {
		pr_err("conntrack netlink: %s", strerror(-err));
		return err;
	}
	pfd_ct_set_pulse(d->ct, pulse, d);
	pfd_ct_set_dump_pulse(d->ct, dump_pulse, d);
	if (d->cfg->ct_event_buffer && pfd_ct_events_rcvbuf(d->ct) < (int)d->cfg->ct_event_buffer)
		pr_warn("ct-event-buffer %u: the kernel allowed only %d bytes",
			d->cfg->ct_event_buffer, pfd_ct_events_rcvbuf(d->ct));
	flows_ctx(d, &fc);
	pfd_flows_set_ctx(d->flows, &fc);

	err = pfd_loop_add_fd(d->loop, pfd_ct_events_fd(d->ct), on_ct, d);
	if (!err)
		err = pfd_loop_add_fd(d->loop, pfd_nft_events_fd(d->nft), on_nft, d);
	if (!err)
		err = pfd_loop_add_fd(d->loop, pfd_rt_events_fd(d->rt), on_rt, d);
	/* XDP features (netdev family, 6.3+) and xfrm policies: the same
	 * handler drains all three */
	if (!err && pfd_rt_netdev_events_fd(d->rt) >= 0)
		err = pfd_loop_add_fd(d->loop, pfd_rt_netdev_events_fd(d->rt), on_rt, d);
	if (!err && pfd_rt_xfrm_events_fd(d->rt) >= 0)
		err = pfd_loop_add_fd(d->loop, pfd_rt_xfrm_events_fd(d->rt), on_rt, d);
	if (!err && d->control_fd >= 0)
		err = pfd_loop_add_fd(d->loop, d->control_fd, on_control, d);
	if (!err)
		err = pfd_loop_add_signals(d->loop, sigs, 3, on_signal, d);
	if (err) {
		pr_err("event loop: %s", strerror(-err));
		return err;
	}
	d->t_heartbeat =
		pfd_loop_add_timer(d->loop, d->cfg->heartbeat_interval_ms, on_heartbeat, d);
	d->t_refresh = pfd_loop_add_timer(d->loop, d->cfg->refresh_interval_ms, on_refresh, d);
	d->t_reconcile =
		pfd_loop_add_timer(d->loop, d->cfg->reconcile_interval_ms, on_reconcile, d);
	d->t_metrics = pfd_loop_add_timer(d->loop, 0, on_metrics, d);
	d->t_reval = pfd_loop_add_timer(d->loop, 0, on_reval, d);
	if (d->t_heartbeat < 0 || d->t_refresh < 0 || d->t_reconcile < 0 || d->t_metrics < 0 ||
	    d->t_reval < 0) {
		pr_err("timers: %s", strerror(errno));
		return -EMFILE;
	}
	timers_set(d);

	pfd_flows_warm(d->flows);
	if (d->mode == PFD_MODE_MARK && d->marks_dirty)
		marks_revalidate(d, d->ruleset_gen, d->ruleset_gen_valid);
	/* the initial dump installs what is already eligible, and sweeps
	 * map entries of a previous run that are not */
	reconcile(d, "startup");
	ctl_write(d);
	state_write(d);
	metrics_write(d);
	return 0;
}

int pfd_daemon_run(const char *config_path, int verbosity)
{
	struct pfd *d;
	int err;

	pfd_log_init_auto(LOG_INFO + verbosity);
	d = calloc(1, sizeof(*d));
	if (!d) {
		pr_err("out of memory");
		return 1;
	}
	d->lock_fd = d->control_fd = -1;
	memset(d->synp_state, -1, sizeof(d->synp_state));
	d->synp_helpers = pfd_bpf_have_syncookie_helpers();
	d->config_path = config_path;
	d->verbosity = verbosity;
	d->t_heartbeat = d->t_refresh = d->t_reconcile = d->t_metrics = d->t_reval = -1;
	d->started = (int64_t)time(NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Every millisecond between a conntrack event and its map entry is a
	 * millisecond of the flow in the slow path; under load a daemon at the
	 * default weight waits behind the busy tasks (measured here: a 30 MB
	 * transfer sent 7000 packets the slow way at nice 0, 5 at nice -10).
	 * An explicit nice (systemd's Nice=, nice(1)) is kept. */
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) == 0 && !errno && setpriority(PRIO_PROCESS, 0, -10))
		pr_debug("cannot raise the daemon's priority (%s)", strerror(errno));

	err = pfd_config_load(config_path, &d->cfg);
	if (err) {
		if (err != -EINVAL)
			pr_err("%s: %s", config_path, strerror(-err));
		free(d);
		return 1;
	}
	pfd_log_set_level(d->cfg->log_level + verbosity);

	err = start(d);
	if (!err) {
		pr_notice("running: %s mode, %u device(s), %" PRIu64 " flow(s) offloaded",
			  mode_name(d->mode), d->n_devs, pfd_flows_get_stats(d->flows)->flows);
		sd_notify_ready();
		err = pfd_loop_run(d->loop);
		state_write(d);
	}
	teardown(d);
	free(d);
	return err ? 1 : 0;
}
