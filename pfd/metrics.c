// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus textfile metrics (see metrics.h). Names follow Prometheus
 * conventions: pfd_ prefix, _total for counters, base units (bytes,
 * seconds). Per-reason counters are labelled with reasons.h's labels, per
 * device ones with the device name and hook. The file is written beside
 * its final name and renamed, so a scrape never reads half of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "pfd/metrics.h"

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric with one sample and no labels. */
static void scalar(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	header(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static const char *slot_name(const struct pfd_state *s, unsigned int slot)
{
	unsigned int i;

	for (i = 0; i < s->n_devs; i++)
		if (s->devs[i].slot == slot)
			return s->devs[i].name;
	return NULL;
}

/* mode: what the prefix does now, "dry-run" also under pfd.conf dry-run */
static void block_line(FILE *f, const char *name, const struct pfd_block_stat *b, bool all_dry,
		       uint64_t v)
{
	char prefix[INET6_ADDRSTRLEN + 8];

	pfd_prefix_format(&b->prefix, prefix, sizeof(prefix));
	fprintf(f, "%s{prefix=\"%s\",mode=\"%s\"} %" PRIu64 "\n", name, prefix,
		b->dry_run || all_dry ? "dry-run" : "drop", v);
}

static void write_body(FILE *f, const struct pfd_metrics_in *in)
{
	const struct pfd_state *s = in->state;
	unsigned int r, slot, hook;

	header(f, "pfd_packets_total", "counter",
	       "Packets seen by the fast path, by verdict reason");
	for (r = 0; r < PFD_R__COUNT; r++)
		fprintf(f, "pfd_packets_total{reason=\"%s\"} %llu\n", pfd_reason_label(r),
			(unsigned long long)pfd_stats_reason_total(in->sum, r).packets);
	header(f, "pfd_bytes_total", "counter",
	       "Bytes (IP length) seen by the fast path, by verdict reason");
	for (r = 0; r < PFD_R__COUNT; r++)
		fprintf(f, "pfd_bytes_total{reason=\"%s\"} %llu\n", pfd_reason_label(r),
			(unsigned long long)pfd_stats_reason_total(in->sum, r).bytes);

	header(f, "pfd_device_rx_packets_total", "counter",
	       "Packets the fast path saw arriving on a device, by hook");
	for (slot = 1; slot < PFD_MAX_DEVS; slot++) {
		const char *name = slot_name(s, slot);

		if (!name)
			continue;
		for (hook = 0; hook < PFD_HOOKS; hook++) {
			unsigned long long n = 0;

			for (r = 0; r < PFD_REASON_SLOTS; r++)
				n += in->sum->c[slot][hook][r].packets;
			fprintf(f, "pfd_device_rx_packets_total{device=\"%s\",hook=\"%s\"} %llu\n",
				name, pfd_hook_name(hook), n);
		}
	}
	header(f, "pfd_device_forwarded_packets_total", "counter",
	       "Packets forwarded by the fast path, by ingress device and hook");
	for (slot = 1; slot < PFD_MAX_DEVS; slot++) {
		const char *name = slot_name(s, slot);

		if (!name)
			continue;
		for (hook = 0; hook < PFD_HOOKS; hook++)
			fprintf(f,
				"pfd_device_forwarded_packets_total{device=\"%s\",hook=\"%s\"} "
				"%llu\n",
				name, pfd_hook_name(hook),
				(unsigned long long)in->sum->c[slot][hook][PFD_R_FORWARDED]
					.packets);
	}
	/* only with block prefixes: a family without samples is not valid */
	if (in->n_blocks) {
		header(f, "pfd_block_packets_total", "counter",
		       "Packets from or to a block prefix (dropped unless its mode is dry-run)");
		for (r = 0; r < in->n_blocks; r++)
			block_line(f, "pfd_block_packets_total", &in->blocks[r], in->blocks_dry_run,
				   in->blocks[r].packets);
		header(f, "pfd_block_bytes_total", "counter",
		       "Bytes (whole frames) from or to a block prefix");
		for (r = 0; r < in->n_blocks; r++)
			block_line(f, "pfd_block_bytes_total", &in->blocks[r], in->blocks_dry_run,
				   in->blocks[r].bytes);
	}

	if (in->n_synp) {
		header(f, "pfd_syn_protect_syns_total", "counter",
		       "SYNs to the services of a syn-protect line (answered at XDP unless its "
		       "mode is dry-run; see reason syn_cookie)");
		for (r = 0; r < in->n_synp; r++)
			fprintf(f,
				"pfd_syn_protect_syns_total{rule=\"%u\",mode=\"%s\"} %" PRIu64 "\n",
				in->synp[r].index + 1,
				(in->synp[r].val.flags & PFD_SYNP_F_DRY_RUN) || in->synp_dry_run ?
					"dry-run" :
					"answer",
				in->synp[r].packets);
	}

	header(f, "pfd_device_breaker_tripped", "gauge",
	       "1 when the circuit breaker switched the device to dry run");
	for (slot = 0; slot < s->n_devs; slot++)
		fprintf(f, "pfd_device_breaker_tripped{device=\"%s\"} %d\n", s->devs[slot].name,
			s->devs[slot].tripped);

	scalar(f, "pfd_offloaded_flows", "gauge", "Conntrack entries on the fast path", s->flows);
	scalar(f, "pfd_flow_installs_total", "counter", "Conntrack entries put on the fast path",
	       s->installs);
	scalar(f, "pfd_flow_removals_total", "counter", "Conntrack entries taken off the fast path",
	       s->removals);
	scalar(f, "pfd_flow_map_full_total", "counter",
	       "Installs refused because the flow map was full", s->map_full);
	scalar(f, "pfd_reconcile_repairs_total", "counter",
	       "Differences between conntrack and the flow map repaired", in->repairs);
	scalar(f, "pfd_ct_timeout_refreshes_total", "counter",
	       "Conntrack timeouts refreshed for fast-pathed flows", in->refreshes);
	scalar(f, "pfd_ct_timeout_refresh_errors_total", "counter",
	       "Conntrack timeout refreshes that failed", in->refresh_errors);
	scalar(f, "pfd_ct_overruns_total", "counter",
	       "Conntrack event socket overruns (ENOBUFS: events lost)", s->ct_overruns);
	scalar(f, "pfd_resyncs_total", "counter", "Full conntrack resyncs after lost events",
	       s->resyncs);
	scalar(f, "pfd_revalidations_total", "counter",
	       "nftables ruleset generations that revalidated the offloaded flows",
	       in->revalidations);
	scalar(f, "pfd_flows_awaiting_ruleset", "gauge",
	       "Flows accepted under an older ruleset: the kernel carries them until the current "
	       "one marks them again",
	       in->stale);
	scalar(f, "pfd_flows_readmitted_total", "counter",
	       "Flows the current ruleset marked again after a change: fast path again",
	       in->readmitted);
	scalar(f, "pfd_reloads_total", "counter", "Configuration reloads applied", s->reloads);
	header(f, "pfd_heartbeat_age_seconds", "gauge",
	       "Age of the heartbeat the fast path checks (fails open past the limit)");
	fprintf(f, "pfd_heartbeat_age_seconds %.3f\n", (double)in->heartbeat_age_ns / 1e9);
	header(f, "pfd_start_time_seconds", "gauge", "Unix time the daemon started");
	fprintf(f, "pfd_start_time_seconds %" PRId64 "\n", s->started);
}

int pfd_metrics_write(const char *path, const struct pfd_metrics_in *in)
{
	char tmp[PATH_MAX];
	FILE *f;
	int n, fd, err;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* The directory may be shared (a node-exporter textfile directory): a
	 * stale or planted temporary is removed, not followed or reused, and the
	 * file is created new. 0644: the scraper is not root. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	write_body(f, in);
	if (fflush(f) || ferror(f)) {
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	if (fclose(f) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}
