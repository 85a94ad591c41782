// SPDX-License-Identifier: GPL-2.0-only
/*
 * The read-only commands: status, flows, stats and explain. They read the
 * pinned maps under <bpffs>/tc/globals and the daemon's state file, so they
 * work while the daemon is down ("running": false): the fast path and its
 * counters live in the kernel, not in the daemon. Output goes through the
 * print path of pfd/cli.c (text, or JSON with -j; keys in pfd(8)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "nft-backend/ct.h"
#include "nft-backend/nft.h"
#include "nft-backend/rt.h"
#include "pfd/block.h"
#include "pfd/synp.h"
#include "pfd/bpf.h"
#include "pfd/cli.h"
#include "pfd/log.h"
#include "pfd/policy.h"
#include "pfd/state.h"
#include "pfd/stats.h"

/* Everything the read-only commands look at, gathered once. */
struct view {
	struct pfd_maps maps;
	bool loaded;	      /* maps pinned */
	pid_t pid;	      /* running daemon, or 0 */
	struct pfd_state *st; /* NULL without a state file */
	struct pfd_ctl ctl;
	bool has_ctl;
	/* registered devices, from pfd_devs */
	unsigned int n_devs;
	struct {
		int ifindex;
		char name[IFNAMSIZ];
		struct pfd_dev rec;
	} devs[PFD_MAX_DEVS];
};

static void view_close(struct view *v)
{
	if (v->loaded)
		pfd_maps_close(&v->maps);
	free(v->st);
}

static int view_open(struct pfd_cli *cli, struct view *v)
{
	__u32 key, next, *prev = NULL, zero = 0;
	int err;

	memset(v, 0, sizeof(*v));
	err = pfd_cli_config(cli, false);
	if (err)
		return err;
	v->pid = pfd_state_daemon_pid(cli->cfg->state_dir);
	v->st = calloc(1, sizeof(*v->st));
	if (!v->st)
		return -ENOMEM;
	err = pfd_state_read(cli->cfg->state_dir, v->st);
	if (err == -EACCES || err == -EPERM) {
		pr_err("%s/state: %s: pfd's state is root's; run this as root", cli->cfg->state_dir,
		       strerror(-err));
		return err;
	}
	if (err) {
		free(v->st);
		v->st = NULL;
	}
	err = pfd_maps_open(cli->cfg->bpffs, true, &v->maps);
	if (err == -ENOENT && v->pid) {
		pr_err("pfd runs (pid %d) but its maps are not pinned under %s/tc/globals: it pins "
		       "them again within a heartbeat, once a BPF filesystem is mounted at %s",
		       (int)v->pid, cli->cfg->bpffs, cli->cfg->bpffs);
		return err;
	}
	if (err == -ENOENT) {
		pr_debug("no pinned maps under %s/tc/globals", cli->cfg->bpffs);
		return 0;
	}
	if (err == -EACCES || err == -EPERM) {
		pr_err("%s/tc/globals: cannot open pfd's maps (%s): they are root's; run this as "
		       "root",
		       cli->cfg->bpffs, strerror(-err));
		return err;
	}
	if (err) {
		pr_err("%s/tc/globals: cannot open pfd's maps (%s)", cli->cfg->bpffs,
		       strerror(-err));
		return err;
	}
	v->loaded = true;
	v->has_ctl = !bpf_map_lookup_elem(v->maps.ctl, &zero, &v->ctl);
	while (v->n_devs < PFD_MAX_DEVS && !bpf_map_get_next_key(v->maps.devs, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(v->maps.devs, &key, &v->devs[v->n_devs].rec))
			continue;
		v->devs[v->n_devs].ifindex = key;
		if (!if_indextoname(key, v->devs[v->n_devs].name))
			snprintf(v->devs[v->n_devs].name, IFNAMSIZ, "if%u", key);
		v->n_devs++;
	}
	return 0;
}

static const char *slot_name(const struct view *v, unsigned int slot)
{
	unsigned int i;

	for (i = 0; i < v->n_devs; i++)
		if (v->devs[i].rec.slot == slot)
			return v->devs[i].name;
	return slot ? NULL : "unregistered";
}

static const char *ifname(const struct view *v, int ifindex, char *buf)
{
	unsigned int i;

	for (i = 0; i < v->n_devs; i++)
		if (v->devs[i].ifindex == ifindex)
			return v->devs[i].name;
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IFNAMSIZ, "if%d", ifindex);
	return buf;
}

/* The device's flags in pfd_devs (0 if not registered). */
static __u32 dev_flags(const struct view *v, int ifindex)
{
	unsigned int i;

	for (i = 0; i < v->n_devs; i++)
		if (v->devs[i].ifindex == ifindex)
			return v->devs[i].rec.flags;
	return 0;
}

/* "native" or, with attach auto's TC ingress program behind XDP (it carries
 * the flows toward devices with egress policy), "native+tc". */
static void print_attach(const char *kind, __u32 flags)
{
	bool tc_behind = (flags & PFD_DEV_F_XDP) && (flags & PFD_DEV_F_TC);
	char text[32];

	snprintf(text, sizeof(text), "%s%s", kind, tc_behind ? "+tc" : "");
	pfd_print_str(PFD_PRINT_JSON, "attach", NULL, kind);
	pfd_print_bool(PFD_PRINT_JSON, "tc_behind_xdp", NULL, tc_behind);
	/* VLAN devices on it: XDP hands its packets to TC ingress */
	pfd_print_bool(PFD_PRINT_JSON, "vlan_uppers", NULL, flags & PFD_DEV_F_VLAN_UPPERS);
	pfd_print_text(" %-10s", text);
}

/* Human byte counts for text output ("1.5 MB"). */
static const char *human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double x = b;
	int u = 0;

	while (x >= 1000 && u < 5) {
		x /= 1000;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", x, unit[u]);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)b);
	return buf;
}

static void print_counter(const char *label, const struct pfd_counter *c, const char *text)
{
	char hb[32], line[160];

	pfd_out_open_obj(label);
	pfd_print_u64(PFD_PRINT_JSON, "packets", NULL, c->packets);
	pfd_print_u64(PFD_PRINT_JSON, "bytes", NULL, c->bytes);
	pfd_out_close_obj();
	if (!pfd_out_json() && (c->packets || !strcmp(label, "forwarded"))) {
		snprintf(line, sizeof(line), "  %-16s %14llu packets %12s  %s\n", label,
			 (unsigned long long)c->packets, human_bytes(c->bytes, hb, sizeof(hb)),
			 text && strcmp(text, label) ? text : "");
		pfd_print_text("%s", line);
	}
}

/* A pair accepted under an older ruleset, waiting for the current one to
 * mark it again: in the map, but the kernel carries its packets. */
static bool pair_awaiting(const struct view *v, const struct pfd_flow_pair *p)
{
	return v->has_ctl && p->orig.policy_gen != v->ctl.policy_gen;
}

struct count_ctx {
	const struct view *v;
	uint64_t n;
};

static int count_pair(void *arg, const struct pfd_flow_pair *p)
{
	struct count_ctx *c = arg;

	if (!pair_awaiting(c->v, p))
		c->n++;
	return 0;
}

/* view_open, for the commands that read the maps: none pinned is an error. */
static int view_open_loaded(struct pfd_cli *cli, struct view *v)
{
	int err = view_open(cli, v);

	if (err || v->loaded)
		return err;
	pr_err("no pfd maps pinned under %s/tc/globals: pfd has not run, or detach --all "
	       "removed them",
	       cli->cfg->bpffs);
	return -ENOENT;
}

/* ---- status ---- */

int pfd_cmd_status(struct pfd_cli *cli)
{
	struct pfd_stats_sum *sum = NULL;
	const char *mode = NULL;
	uint64_t flows = 0;
	int64_t age = -1, state_age = -1;
	struct view v;
	unsigned int i, r;
	int err;

	err = view_open(cli, &v);
	if (err)
		goto out;
	if (v.st && v.pid)
		mode = v.st->mode;
	else
		mode = cli->cfg->mode == PFD_MODE_MARK	    ? "mark" :
		       cli->cfg->mode == PFD_MODE_FLOWTABLE ? "flowtable" :
							      "auto";
	if (v.has_ctl && v.ctl.heartbeat_ns) {
		uint64_t now = pfd_now_ns();

		age = now > v.ctl.heartbeat_ns ? (int64_t)((now - v.ctl.heartbeat_ns) / 1000000) :
						 0;
	}
	/* The state file is rewritten every heartbeat; one much older than that
	 * was not written (state-dir full or read-only): its counters are old,
	 * the flows are counted in the map instead. */
	if (v.st && v.pid && v.st->heartbeat_ns) {
		uint64_t now = pfd_now_ns(),
			 limit = 3ULL * cli->cfg->heartbeat_interval_ms * 1000000ULL;

		if (limit < 3000000000ULL)
			limit = 3000000000ULL;
		if (now > v.st->heartbeat_ns + limit)
			state_age = (int64_t)((now - v.st->heartbeat_ns) / 1000000);
	}
	if (v.st && v.pid && state_age < 0)
		flows = v.st->flows;
	else if (v.loaded) {
		struct count_ctx cc = { .v = &v };

		pfd_flow_pairs_foreach(v.maps.flows, count_pair, &cc);
		flows = cc.n;
	}
	if (state_age >= 0)
		pr_warn("%s/state was last written %lld ms ago (state-dir full or read-only?): its "
			"counters are old; flows counted in the map",
			cli->cfg->state_dir, (long long)state_age);

	pfd_out_open_obj(NULL);
	pfd_print_bool(PFD_PRINT_JSON, "running", NULL, v.pid != 0);
	pfd_print_s64(PFD_PRINT_JSON, "pid", NULL, v.pid);
	if (v.pid)
		pfd_print_text("pfd: running (pid %d), ", (int)v.pid);
	else
		pfd_print_text("pfd: not running, ");
	pfd_print_str(PFD_PRINT_ANY, "mode", "%s mode", mode);
	pfd_print_bool(PFD_PRINT_JSON, "loaded", NULL, v.loaded);
	if (!v.loaded)
		pfd_print_text(", fast path not loaded (no maps pinned under %s/tc/globals)\n",
			       cli->cfg->bpffs);
	else if (age < 0)
		pfd_print_text(", no heartbeat yet\n");
	else
		pfd_print_text(", heartbeat %lld ms ago%s\n", (long long)age,
			       age > cli->cfg->heartbeat_limit_ms ?
				       " (stale: the fast path passes everything to the kernel)" :
				       "");
	pfd_print_s64(PFD_PRINT_JSON, "heartbeat_age_ms", NULL, age);
	pfd_print_s64(PFD_PRINT_JSON, "state_age_ms", NULL, state_age);
	pfd_print_u64(PFD_PRINT_ANY, "flows", "flows: %llu offloaded\n", flows);
	if (v.has_ctl)
		pfd_print_bool(PFD_PRINT_JSON, "dry_run", NULL, v.ctl.flags & PFD_CTL_F_DRY_RUN);
	if (v.has_ctl && (v.ctl.flags & PFD_CTL_F_DRY_RUN))
		pfd_print_text("dry run: on (every packet is checked, counted and passed)\n");

	pfd_out_open_arr("devices");
	pfd_print_text("devices:%s\n", (v.st && v.pid ? v.st->n_devs : v.n_devs) ? "" : " none");
	if (v.st && v.pid) {
		for (i = 0; i < v.st->n_devs; i++) {
			const struct pfd_state_dev *d = &v.st->devs[i];

			pfd_out_open_obj(NULL);
			pfd_print_str(PFD_PRINT_ANY, "name", "  %-15s", d->name);
			pfd_print_s64(PFD_PRINT_ANY, "ifindex", " ifindex %-4lld", d->ifindex);
			print_attach(d->attach, dev_flags(&v, d->ifindex));
			pfd_print_str(PFD_PRINT_ANY, "breaker", " breaker %s\n",
				      d->tripped ? "tripped" : "ok");
			pfd_out_close_obj();
		}
	} else {
		for (i = 0; i < v.n_devs; i++) {
			enum pfd_attach_kind xdp = PFD_ATT_NONE;
			bool tc = false;
			const char *att;

			pfd_bpf_attached(cli->cfg->bpffs, v.devs[i].name, &xdp, &tc);
			att = xdp != PFD_ATT_NONE ? pfd_attach_kind_name(xdp) : tc ? "tc" : "none";
			pfd_out_open_obj(NULL);
			pfd_print_str(PFD_PRINT_ANY, "name", "  %-15s", v.devs[i].name);
			pfd_print_s64(PFD_PRINT_ANY, "ifindex", " ifindex %-4lld",
				      v.devs[i].ifindex);
			print_attach(att, v.devs[i].rec.flags);
			pfd_print_str(PFD_PRINT_ANY, "breaker", " breaker %s\n",
				      v.devs[i].rec.flags & PFD_DEV_F_DRY_RUN ? "tripped" : "ok");
			pfd_out_close_obj();
		}
	}
	pfd_out_close_arr();

	pfd_out_open_obj("reasons");
	pfd_print_text("verdicts (all devices):\n");
	if (v.loaded) {
		sum = calloc(1, sizeof(*sum));
		if (sum && pfd_stats_read(v.maps.stats, sum))
			pr_warn("cannot read the verdict counters");
	}
	for (r = 0; r < PFD_R__COUNT; r++) {
		struct pfd_counter c = { 0, 0 };

		if (sum)
			c = pfd_stats_reason_total(sum, r);
		print_counter(pfd_reason_label(r), &c, pfd_reason_text(r));
	}
	pfd_out_close_obj();

	pfd_out_open_obj("control");
	if (v.st) {
		pfd_print_u64(PFD_PRINT_ANY, "installs", "control: installs %llu", v.st->installs);
		pfd_print_u64(PFD_PRINT_ANY, "removals", ", removals %llu", v.st->removals);
		pfd_print_u64(PFD_PRINT_ANY, "resyncs", ", resyncs %llu", v.st->resyncs);
		pfd_print_u64(PFD_PRINT_ANY, "ct_overruns", ", conntrack overruns %llu",
			      v.st->ct_overruns);
		pfd_print_u64(PFD_PRINT_ANY, "map_full", ", map full %llu", v.st->map_full);
		pfd_print_u64(PFD_PRINT_ANY, "reloads", ", reloads %llu\n", v.st->reloads);
		pfd_print_str(PFD_PRINT_JSON, "reload_error", NULL, v.st->reload_error);
		if (v.st->reload_error[0])
			pfd_print_text("last reload refused: %s\n", v.st->reload_error);
	} else {
		pfd_print_u64(PFD_PRINT_JSON, "installs", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "removals", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "resyncs", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "ct_overruns", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "map_full", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "reloads", NULL, 0);
		pfd_print_str(PFD_PRINT_JSON, "reload_error", NULL, "");
	}
	pfd_out_close_obj();
	pfd_cli_print_egress(cli->cfg->bpffs);
	pfd_out_close_obj();
	pfd_out_end();
	free(sum);
out:
	view_close(&v);
	return err ? PFD_EXIT_FAIL : PFD_EXIT_OK;
}

/* ---- stats ---- */

/* The block prefixes installed (from the pins: what the fast path applies,
 * whatever pfd.conf says now), with what each matched. */
static void print_blocks(const struct view *v)
{
	bool all_dry = v->has_ctl && (v->ctl.flags & PFD_CTL_F_BLOCK_DRY_RUN);
	struct pfd_block_stat *b = NULL;
	char prefix[INET6_ADDRSTRLEN + 8], hb[32];
	int n, i;

	n = pfd_block_read(&v->maps, &b);
	if (n < 0)
		pr_warn("cannot read the block prefixes (%s)", strerror(-n));
	pfd_out_open_arr("blocks");
	if (n > 0)
		pfd_print_text("block prefixes%s:\n",
			       all_dry ? " (dry-run on: nothing dropped)" : "");
	for (i = 0; i < n; i++) {
		pfd_prefix_format(&b[i].prefix, prefix, sizeof(prefix));
		pfd_out_open_obj(NULL);
		pfd_print_str(PFD_PRINT_JSON, "prefix", NULL, prefix);
		/* what it does now: pfd.conf dry-run makes every prefix count only */
		pfd_print_str(PFD_PRINT_JSON, "mode", NULL,
			      b[i].dry_run || all_dry ? "dry-run" : "drop");
		pfd_print_u64(PFD_PRINT_JSON, "packets", NULL, b[i].packets);
		pfd_print_u64(PFD_PRINT_JSON, "bytes", NULL, b[i].bytes);
		pfd_out_close_obj();
		pfd_print_text("  %-43s %-7s %14llu packets %12s\n", prefix,
			       b[i].dry_run || all_dry ? "dry-run" : "drop",
			       (unsigned long long)b[i].packets,
			       human_bytes(b[i].bytes, hb, sizeof(hb)));
	}
	pfd_out_close_arr();
	free(b);
}

/* The syn-protect lines armed now (from the pins), with the SYNs each
 * matched; the answered ones are the syn_cookie reason above. */
static void print_synp(const struct view *v)
{
	bool all_dry = v->has_ctl && (v->ctl.flags & PFD_CTL_F_SYNP_DRY_RUN);
	struct pfd_synp_stat *st = NULL;
	char opts[32];
	int n, i;

	n = pfd_synp_read(&v->maps, &st);
	if (n < 0)
		pr_warn("cannot read the syn-protect services (%s)", strerror(-n));
	pfd_out_open_arr("syn_protect");
	if (n > 0)
		pfd_print_text("syn-protect (armed lines)%s:\n",
			       all_dry ? " (dry-run: nothing answered)" : "");
	for (i = 0; i < n; i++) {
		const char *mode =
			(st[i].val.flags & PFD_SYNP_F_DRY_RUN) || all_dry ? "dry-run" : "answer";

		pfd_synp_format_options(st[i].val.flags, opts, sizeof(opts));
		pfd_out_open_obj(NULL);
		pfd_print_u64(PFD_PRINT_JSON, "rule", NULL, st[i].index + 1);
		pfd_print_u64(PFD_PRINT_JSON, "services", NULL, st[i].services);
		pfd_print_str(PFD_PRINT_JSON, "mode", NULL, mode);
		pfd_print_u64(PFD_PRINT_JSON, "mss", NULL, st[i].val.mss);
		pfd_print_u64(PFD_PRINT_JSON, "wscale", NULL, st[i].val.wscale);
		pfd_print_str(PFD_PRINT_JSON, "options", NULL, opts);
		pfd_print_u64(PFD_PRINT_JSON, "syns", NULL, st[i].packets);
		pfd_print_u64(PFD_PRINT_JSON, "bytes", NULL, st[i].bytes);
		pfd_out_close_obj();
		pfd_print_text(
			"  rule %-3u %4u services %-7s mss %-5u wscale %-2u %-20s %14llu SYNs\n",
			st[i].index + 1, st[i].services, mode, st[i].val.mss, st[i].val.wscale,
			opts, (unsigned long long)st[i].packets);
	}
	pfd_out_close_arr();
	free(st);
}

int pfd_cmd_stats(struct pfd_cli *cli)
{
	struct pfd_stats_sum *sum;
	unsigned int slot, hook, r;
	struct view v;
	int err;

	err = view_open_loaded(cli, &v);
	if (err)
		goto out;
	sum = calloc(1, sizeof(*sum));
	if (!sum || (err = pfd_stats_read(v.maps.stats, sum))) {
		pr_err("cannot read the verdict counters (%s)", strerror(sum ? -err : ENOMEM));
		free(sum);
		err = -EIO;
		goto out;
	}
	pfd_out_open_obj(NULL);
	pfd_out_open_obj("devices");
	for (slot = 0; slot < PFD_MAX_DEVS; slot++) {
		const char *name = slot_name(&v, slot);
		bool any = false;

		for (hook = 0; hook < PFD_HOOKS; hook++)
			for (r = 0; r < PFD_REASON_SLOTS; r++)
				any |= sum->c[slot][hook][r].packets != 0;
		/* registered devices always; slot 0 and orphans only if they count */
		if (!name && !any)
			continue;
		if (name && !slot && !any)
			continue;
		pfd_out_open_obj(name ? name : "unknown");
		for (hook = 0; hook < PFD_HOOKS; hook++) {
			pfd_out_open_obj(pfd_hook_name(hook));
			pfd_print_text("%s %s:\n", name ? name : "unknown", pfd_hook_name(hook));
			for (r = 0; r < PFD_R__COUNT; r++)
				print_counter(pfd_reason_label(r), &sum->c[slot][hook][r],
					      pfd_reason_text(r));
			pfd_out_close_obj();
		}
		pfd_out_close_obj();
	}
	pfd_out_close_obj();
	pfd_out_open_obj("reasons");
	pfd_print_text("all devices:\n");
	for (r = 0; r < PFD_R__COUNT; r++) {
		struct pfd_counter c = pfd_stats_reason_total(sum, r);

		print_counter(pfd_reason_label(r), &c, pfd_reason_text(r));
	}
	pfd_out_close_obj();
	print_blocks(&v);
	print_synp(&v);
	pfd_out_close_obj();
	pfd_out_end();
	free(sum);
out:
	view_close(&v);
	return err ? PFD_EXIT_FAIL : PFD_EXIT_OK;
}

/* ---- flows ---- */

struct flows_ctx {
	struct view *v;
	bool has_addr;
	int family;
	__be32 addr[4];
	int port; /* host order, 0: any */
	bool all; /* also the pairs awaiting the current ruleset */
	uint64_t now;
	unsigned int shown, awaiting_hidden;
};

static bool addr_eq(const __be32 *a, const __be32 *b, int family)
{
	return !memcmp(a, b, family == AF_INET ? 4 : 16);
}

static bool pair_matches(const struct flows_ctx *c, const struct pfd_flow_pair *p)
{
	const struct pfd_flow_key *k[2] = { &p->orig_key, &p->reply_key };
	const struct pfd_flow *f[2] = { &p->orig, &p->reply };
	int d;

	if (c->has_addr) {
		bool hit = false;

		if (p->orig_key.family != c->family)
			return false;
		for (d = 0; d < 2; d++)
			hit |= addr_eq(k[d]->saddr, c->addr, c->family) ||
			       addr_eq(k[d]->daddr, c->addr, c->family) ||
			       ((f[d]->flags & PFD_FLOW_F_SNAT) &&
				addr_eq(f[d]->nat_saddr, c->addr, c->family)) ||
			       ((f[d]->flags & PFD_FLOW_F_DNAT) &&
				addr_eq(f[d]->nat_daddr, c->addr, c->family));
		if (!hit)
			return false;
	}
	if (c->port) {
		__be16 port = htons(c->port);
		bool hit = false;

		for (d = 0; d < 2; d++)
			hit |= k[d]->sport == port || k[d]->dport == port ||
			       ((f[d]->flags & PFD_FLOW_F_SNAT) && f[d]->nat_sport == port) ||
			       ((f[d]->flags & PFD_FLOW_F_DNAT) && f[d]->nat_dport == port);
		if (!hit)
			return false;
	}
	return true;
}

static void print_dir(const struct flows_ctx *c, const char *key, const struct pfd_flow_key *k,
		      const struct pfd_flow *f, bool present)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], in[IFNAMSIZ], outn[IFNAMSIZ], hb[32];
	int64_t idle = -1;

	inet_ntop(k->family, k->saddr, src, sizeof(src));
	inet_ntop(k->family, k->daddr, dst, sizeof(dst));
	if (present && f->last_seen_ns)
		idle = c->now > f->last_seen_ns ? (int64_t)((c->now - f->last_seen_ns) / 1000000) :
						  0;
	pfd_out_open_obj(key);
	pfd_print_str(PFD_PRINT_ANY, "src", k->family == AF_INET6 ? " [%s]" : " %s", src);
	pfd_print_u64(PFD_PRINT_ANY, "sport", ":%llu", ntohs(k->sport));
	pfd_print_str(PFD_PRINT_ANY, "dst", k->family == AF_INET6 ? " -> [%s]" : " -> %s", dst);
	pfd_print_u64(PFD_PRINT_ANY, "dport", ":%llu", ntohs(k->dport));
	const char *iif = ifname(c->v, k->ifindex, in), *oif = ifname(c->v, f->oif, outn);

	pfd_print_str(PFD_PRINT_JSON, "iif", NULL, iif);
	pfd_print_str(PFD_PRINT_JSON, "oif", NULL, oif);
	pfd_print_text(" (%s -> %s)", iif, oif);
	if (present) {
		pfd_print_u64(PFD_PRINT_ANY, "packets", " %llu packets", f->packets);
		pfd_print_u64(PFD_PRINT_JSON, "bytes", NULL, f->bytes);
		pfd_print_text(" %s", human_bytes(f->bytes, hb, sizeof(hb)));
		pfd_print_s64(PFD_PRINT_JSON, "idle_ms", NULL, idle);
		if (idle >= 0)
			pfd_print_text(" idle %lld ms", (long long)idle);
		else
			pfd_print_text(" no packet yet");
	} else {
		pfd_print_u64(PFD_PRINT_JSON, "packets", NULL, 0);
		pfd_print_u64(PFD_PRINT_JSON, "bytes", NULL, 0);
		pfd_print_s64(PFD_PRINT_JSON, "idle_ms", NULL, -1);
		pfd_print_text(" (entry missing)");
	}
	pfd_out_close_obj();
}

static int show_pair(void *arg, const struct pfd_flow_pair *p)
{
	struct flows_ctx *c = arg;
	const struct pfd_flow *o = &p->orig;

	bool awaiting = pair_awaiting(c->v, p);

	if (!pair_matches(c, p))
		return 0;
	if (awaiting && !c->all) {
		c->awaiting_hidden++;
		return 0;
	}
	c->shown++;
	pfd_out_open_obj(NULL);
	pfd_print_str(PFD_PRINT_ANY, "family", "%s",
		      p->orig_key.family == AF_INET6 ? "ipv6" : "ipv4");
	pfd_print_str(PFD_PRINT_ANY, "proto", " %s",
		      p->orig_key.l4proto == IPPROTO_TCP ? "tcp" :
		      p->orig_key.l4proto == IPPROTO_UDP ? "udp" :
							   "other");
	print_dir(c, "orig", &p->orig_key, &p->orig, true);
	pfd_print_text("\n      reply");
	print_dir(c, "reply", &p->reply_key, &p->reply, p->has_reply);
	pfd_out_open_arr("nat");
	if (o->flags & PFD_FLOW_F_SNAT)
		pfd_print_str(PFD_PRINT_ANY, NULL, " snat", "snat");
	if (o->flags & PFD_FLOW_F_DNAT)
		pfd_print_str(PFD_PRINT_ANY, NULL, " dnat", "dnat");
	pfd_out_close_arr();
	if (o->flags & PFD_FLOW_F_VIA_TC)
		pfd_print_text(" via-tc");
	pfd_print_bool(PFD_PRINT_JSON, "awaiting_ruleset", NULL, awaiting);
	if (awaiting)
		pfd_print_text(" awaiting-ruleset");
	pfd_print_text("\n");
	pfd_out_close_obj();
	return 0;
}

int pfd_cmd_flows(struct pfd_cli *cli)
{
	const char *addr = pfd_cli_opt(cli, "--addr"), *port = pfd_cli_opt(cli, "--port");
	struct flows_ctx c = { 0 };
	struct view v;
	char *end;
	int err;

	/* Validate the filters before touching anything: usage errors exit 2. */
	if (addr) {
		c.has_addr = true;
		if (inet_pton(AF_INET, addr, c.addr) == 1)
			c.family = AF_INET;
		else if (inet_pton(AF_INET6, addr, c.addr) == 1)
			c.family = AF_INET6;
		else
			return pfd_cli_usage_error(
				"--addr: expected an IPv4 or IPv6 address, got \"%s\"", addr);
	}
	if (port) {
		long p = strtol(port, &end, 10);

		if (!*port || *end || p < 1 || p > 65535 || port[0] == '+' || port[0] == ' ')
			return pfd_cli_usage_error("--port: expected 1-65535, got \"%s\"", port);
		c.port = p;
	}
	err = view_open_loaded(cli, &v);
	if (err)
		goto out;
	c.v = &v;
	c.all = pfd_cli_opt(cli, "--all") != NULL;
	c.now = pfd_now_ns();
	pfd_out_open_arr(NULL);
	err = pfd_flow_pairs_foreach(v.maps.flows, show_pair, &c);
	pfd_out_close_arr();
	pfd_out_end();
	if (err)
		pr_err("reading the flow map: %s", strerror(-err));
	else if (!c.shown)
		pfd_print_text("no offloaded flows%s\n", addr || port ? " match" : "");
	if (!err && c.awaiting_hidden)
		pfd_print_text("%u more in the map await the current ruleset's mark; the kernel "
			       "carries them (--all lists them)\n",
			       c.awaiting_hidden);
out:
	view_close(&v);
	return err ? PFD_EXIT_FAIL : PFD_EXIT_OK;
}

/* ---- explain ---- */

struct explain_ctx {
	struct pfd_ct_tuple want;
	struct pfd_ct_entry e;
	bool found;
	bool as_reply; /* the tuple given is the reply direction */
};

static bool tuple_eq(const struct pfd_ct_tuple *a, const struct pfd_ct_tuple *b)
{
	return a->family == b->family && a->l4proto == b->l4proto && a->sport == b->sport &&
	       a->dport == b->dport && addr_eq(a->src, b->src, a->family) &&
	       addr_eq(a->dst, b->dst, a->family);
}

static void explain_cb(void *arg, enum pfd_ct_event ev, const struct pfd_ct_entry *e)
{
	struct explain_ctx *c = arg;

	if (ev == PFD_CT_EV_DESTROY || c->found)
		return;
	if (tuple_eq(&e->orig, &c->want) || tuple_eq(&e->reply, &c->want)) {
		c->e = *e;
		c->found = true;
		c->as_reply = !tuple_eq(&e->orig, &c->want);
	}
}

struct find_ctx {
	const struct pfd_ct_entry *e;
	bool found;
	struct pfd_flow_pair pair;
};

static int find_pair(void *arg, const struct pfd_flow_pair *p)
{
	struct find_ctx *c = arg;
	const struct pfd_ct_tuple *t = &c->e->orig;

	if (p->orig_key.family != t->family || p->orig_key.l4proto != t->l4proto ||
	    p->orig_key.sport != t->sport || p->orig_key.dport != t->dport ||
	    !addr_eq(p->orig_key.saddr, t->src, t->family) ||
	    !addr_eq(p->orig_key.daddr, t->dst, t->family))
		return 0;
	c->pair = *p;
	c->found = true;
	return 1;
}

static int parse_port(const char *s, __be16 *out)
{
	char *end;
	long p = strtol(s, &end, 10);

	if (!*s || *end || p < 0 || p > 65535 || !(s[0] >= '0' && s[0] <= '9'))
		return -EINVAL;
	*out = htons(p);
	return 0;
}

/* What explain found. JSON also carries the two sides apart, so that they
 * can be compared: "decision", what the policy decides now on facts read
 * now (the daemon's code path), and "installed", the daemon's entry in the
 * flow map (present false when there is none). */
struct explain_out {
	const struct pfd_policy_decision *dec;
	bool installed, installed_via_tc;
	bool awaiting_ruleset; /* installed under an older ruleset */
};

static int explain_result(const struct explain_out *o, bool offloaded, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int explain_result(const struct explain_out *o, bool offloaded, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pfd_out_open_obj(NULL);
	pfd_print_bool(PFD_PRINT_JSON, "offloaded", NULL, offloaded);
	pfd_print_text("%s: ", offloaded ? "offloaded" : "not offloaded");
	pfd_print_str(PFD_PRINT_ANY, "reason", "%s\n", reason);
	if (o && o->dec) {
		pfd_out_open_obj("decision");
		pfd_print_bool(PFD_PRINT_JSON, "offload", NULL, o->dec->offload);
		pfd_print_bool(PFD_PRINT_JSON, "via_tc", NULL,
			       (o->dec->dir_flags[0] | o->dec->dir_flags[1]) & PFD_FLOW_F_VIA_TC);
		pfd_print_str(PFD_PRINT_JSON, "reason", NULL, o->dec->reason);
		pfd_out_close_obj();
		pfd_out_open_obj("installed");
		pfd_print_bool(PFD_PRINT_JSON, "present", NULL, o->installed);
		pfd_print_bool(PFD_PRINT_JSON, "via_tc", NULL, o->installed_via_tc);
		pfd_print_bool(PFD_PRINT_JSON, "awaiting_ruleset", NULL, o->awaiting_ruleset);
		pfd_out_close_obj();
	}
	pfd_out_close_obj();
	pfd_out_end();
	return PFD_EXIT_OK;
}

int pfd_cmd_explain(struct pfd_cli *cli)
{
	struct explain_ctx ec = { 0 };
	struct pfd_ct_opts opts = { .cb = explain_cb, .arg = &ec };
	struct pfd_policy_decision dec = { 0 };
	struct explain_out out = { .dec = &dec };
	struct pfd_ft_list ft = { 0 };
	struct pfd_policy_devs devs = { 0 };
	struct pfd_policy_env env;
	struct find_ctx fc = { 0 };
	struct pfd_ct *ct = NULL;
	struct pfd_nft *nft = NULL;
	struct pfd_rt *rt = NULL;
	const char *proto = cli->pos[0];
	enum pfd_mode mode;
	struct view v;
	int err, rc = PFD_EXIT_FAIL;

	if (!strcmp(proto, "tcp"))
		ec.want.l4proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		ec.want.l4proto = IPPROTO_UDP;
	else
		return pfd_cli_usage_error("explain: PROTO must be tcp or udp, got \"%s\"", proto);
	if (inet_pton(AF_INET, cli->pos[1], ec.want.src) == 1)
		ec.want.family = AF_INET;
	else if (inet_pton(AF_INET6, cli->pos[1], ec.want.src) == 1)
		ec.want.family = AF_INET6;
	else
		return pfd_cli_usage_error(
			"explain: SRC: expected an IPv4 or IPv6 address, got \"%s\"", cli->pos[1]);
	if (inet_pton(ec.want.family, cli->pos[3], ec.want.dst) != 1)
		return pfd_cli_usage_error(
			"explain: DST: expected an %s address like SRC, got \"%s\"",
			ec.want.family == AF_INET ? "IPv4" : "IPv6", cli->pos[3]);
	if (parse_port(cli->pos[2], &ec.want.sport))
		return pfd_cli_usage_error("explain: SPORT: expected 0-65535, got \"%s\"",
					   cli->pos[2]);
	if (parse_port(cli->pos[4], &ec.want.dport))
		return pfd_cli_usage_error("explain: DPORT: expected 0-65535, got \"%s\"",
					   cli->pos[4]);

	err = view_open(cli, &v);
	if (err)
		goto out;
	err = pfd_ct_open(&ct, &opts);
	if (err) {
		pr_err("conntrack: cannot open ctnetlink (%s)", strerror(-err));
		goto out;
	}
	err = pfd_ct_dump(ct, 0, 0);
	if (err) {
		pr_err("conntrack: dump failed (%s)", strerror(-err));
		goto out;
	}
	if (!ec.found) {
		rc = explain_result(NULL, false,
				    "conntrack has no entry for %s %s:%s -> %s:%s; the kernel "
				    "forwards its packets (if the ruleset accepts them)",
				    proto, cli->pos[1], cli->pos[2], cli->pos[3], cli->pos[4]);
		goto out;
	}

	/* The mode the daemon runs in; without a daemon, the configured one. */
	if (v.pid && v.st && !strcmp(v.st->mode, "flowtable"))
		mode = PFD_MODE_FLOWTABLE;
	else if (v.pid && v.st)
		mode = PFD_MODE_MARK;
	else
		mode = cli->cfg->mode;
	if (!pfd_nft_open(&nft) && mode == PFD_MODE_AUTO)
		mode = pfd_nft_probe_flowtables(nft) == 1 ? PFD_MODE_FLOWTABLE : PFD_MODE_MARK;
	if (mode == PFD_MODE_AUTO)
		mode = PFD_MODE_MARK;
	if (nft && mode == PFD_MODE_FLOWTABLE)
		pfd_nft_read_flowtables(nft, &ft);
	if (v.loaded)
		pfd_policy_devs_load(v.maps.devs, v.maps.vlans, &devs);
	err = pfd_rt_open(&rt, NULL, NULL);
	if (err) {
		pr_err("rtnetlink: %s", strerror(-err));
		goto out;
	}
	memset(&env, 0, sizeof(env));
	pfd_policy_env_probe(rt, nft, mode == PFD_MODE_FLOWTABLE ? &ft : NULL, &devs, mode,
			     pfd_bpf_fib_mark_probe() == 1, &ec.e, &env);
	pfd_policy_decide(cli->cfg, &ec.e, &env, &dec);

	if (v.loaded) {
		fc.e = &ec.e;
		pfd_flow_pairs_foreach(v.maps.flows, find_pair, &fc);
	}
	if (fc.found && v.has_ctl && fc.pair.orig.policy_gen != v.ctl.policy_gen) {
		out.installed = true;
		out.awaiting_ruleset = true;
		rc = explain_result(
			&out, false,
			"in the flow map, but accepted under an older nftables ruleset: "
			"the kernel decides its packets until the current ruleset marks "
			"it again%s%s",
			dec.offload ? "" : "; the current policy would not offload it: ",
			dec.offload ? "" : dec.reason);
	} else if (fc.found) {
		uint64_t pk = fc.pair.orig.packets + fc.pair.reply.packets;

		bool via_tc = (fc.pair.orig.flags | fc.pair.reply.flags) & PFD_FLOW_F_VIA_TC;

		/* the same decision the daemon made, on the same facts: its
		 * reason says why TC */
		out.installed = true;
		out.installed_via_tc = via_tc;
		rc = explain_result(&out, true, "on the fast path (%llu packets forwarded)%s%s%s%s",
				    (unsigned long long)pk, via_tc ? ", via the TC datapath (" : "",
				    !via_tc	    ? "" :
				    dec.via_tc_xmit ? "an egress device cannot take XDP frames)" :
						      "egress policy on the way out)",
				    dec.offload ? "" :
						  "; but the current policy would not offload it: ",
				    dec.offload ? "" : dec.reason);
	} else if (dec.offload) {
		rc = explain_result(&out, false, "eligible (%s), but not in the flow map: %s",
				    dec.reason,
				    v.pid ? "pfd installs it on its next conntrack event or "
					    "reconcile" :
					    "pfd is not running");
	} else {
		rc = explain_result(&out, false, "%s", dec.reason);
	}
out:
	pfd_ft_list_clear(&ft);
	if (rt)
		pfd_rt_close(rt);
	if (nft)
		pfd_nft_close(nft);
	if (ct)
		pfd_ct_close(ct);
	view_close(&v);
	return rc;
}
