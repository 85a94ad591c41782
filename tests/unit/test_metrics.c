// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the metrics file (pfd/metrics.c): it is written whole and
 * renamed into place (0644, for a scraper that is not root), its content
 * carries the counters it was given, and in a shared directory a symlink
 * planted at the temporary's name is neither followed nor written through.
 * No root, no kernel: a temporary directory.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "pfd/metrics.h"

static char dir[64];

static int read_all(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return (int)n;
}

int main(void)
{
	static struct pfd_stats_sum sum;
	static char body[1 << 16];
	struct pfd_state st = { .pid = 1, .flows = 4321, .installs = 99 };
	struct pfd_metrics_in in = { .state = &st, .sum = &sum, .heartbeat_age_ns = 5 };
	char path[128], tmp[160], victim[128];
	struct stat sb;

	snprintf(dir, sizeof(dir), "/tmp/pfd-test-metrics-XXXXXX");
	if (!mkdtemp(dir)) {
		T_TRUE(0, "mkdtemp");
		return t_done();
	}
	snprintf(path, sizeof(path), "%s/pfd.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);

	T_OK(pfd_metrics_write(path, &in), "metrics written");
	T_TRUE(!lstat(path, &sb) && S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == 0644,
	       "a regular file, 0644");
	T_TRUE(read_all(path, body, sizeof(body)) > 0 &&
		       strstr(body, "\npfd_offloaded_flows 4321\n") &&
		       strstr(body, "\npfd_flow_installs_total 99\n"),
	       "it carries the counters given");
	T_EQ(access(tmp, F_OK), -1, "no temporary left behind");

	/* block prefixes: one line per prefix, labelled with it and its mode */
	{
		struct pfd_block_stat blocks[2] = {
			{ .prefix = { .family = AF_INET, .len = 24 }, .packets = 7, .bytes = 700 },
			{ .prefix = { .family = AF_INET6, .len = 48 },
			  .dry_run = true,
			  .packets = 3 },
		};

		inet_pton(AF_INET, "203.0.113.0", blocks[0].prefix.addr);
		inet_pton(AF_INET6, "2001:db8:bad::", blocks[1].prefix.addr);
		in.blocks = blocks;
		in.n_blocks = 2;
		T_OK(pfd_metrics_write(path, &in), "metrics with block prefixes written");
		T_TRUE(read_all(path, body, sizeof(body)) > 0 &&
			       strstr(body, "\npfd_block_packets_total{prefix=\"203.0.113.0/24\","
					    "mode=\"drop\"} 7\n") &&
			       strstr(body, "\npfd_block_bytes_total{prefix=\"203.0.113.0/24\","
					    "mode=\"drop\"} 700\n") &&
			       strstr(body,
				      "\npfd_block_packets_total{prefix=\"2001:db8:bad::/48\","
				      "mode=\"dry-run\"} 3\n"),
		       "a line per block prefix, with its mode");
		in.blocks = NULL;
		in.n_blocks = 0;
	}

	/* syn-protect: one line per armed rule, labelled with its line number
	 * (slot + 1) and its mode; none at all when no line is armed */
	{
		struct pfd_synp_stat synp[3] = {
			{ .index = 0, .services = 4, .packets = 7, .bytes = 420 },
			{ .index = 2,
			  .services = 1,
			  .val = { .index = 2, .flags = PFD_SYNP_F_DRY_RUN | PFD_SYNP_F_TIMESTAMP },
			  .packets = 3 },
			{ .index = 63,
			  .services = 2,
			  .val = { .index = 63, .flags = PFD_SYNP_F_TIMESTAMP },
			  .packets = 18446744073709551615ULL },
		};
		const char *lines =
			"# HELP pfd_syn_protect_syns_total SYNs to the services of a syn-protect "
			"line (answered at XDP unless its mode is dry-run; see reason "
			"syn_cookie)\n"
			"# TYPE pfd_syn_protect_syns_total counter\n"
			"pfd_syn_protect_syns_total{rule=\"1\",mode=\"answer\"} 7\n"
			"pfd_syn_protect_syns_total{rule=\"3\",mode=\"dry-run\"} 3\n"
			"pfd_syn_protect_syns_total{rule=\"64\",mode=\"answer\"} "
			"18446744073709551615\n";
		const char *all_dry = "pfd_syn_protect_syns_total{rule=\"1\",mode=\"dry-run\"} 7\n"
				      "pfd_syn_protect_syns_total{rule=\"3\",mode=\"dry-run\"} 3\n"
				      "pfd_syn_protect_syns_total{rule=\"64\",mode=\"dry-run\"} "
				      "18446744073709551615\n";
		char *at;

		T_OK(pfd_metrics_write(path, &in), "metrics without syn-protect written");
		T_TRUE(read_all(path, body, sizeof(body)) > 0 && !strstr(body, "syn_protect"),
		       "no armed line: no pfd_syn_protect_syns_total at all, not even its HELP");

		in.synp = synp;
		in.n_synp = 3;
		T_OK(pfd_metrics_write(path, &in), "metrics with syn-protect written");
		T_TRUE(read_all(path, body, sizeof(body)) > 0, "read back");
		at = strstr(body, "# HELP pfd_syn_protect_syns_total ");
		T_TRUE(at && !strncmp(at, lines, strlen(lines)),
		       "HELP, TYPE, then a line per armed rule: rule N, answer or dry-run");
		T_TRUE(at && at > body && at[-1] == '\n', "the HELP line starts a line");
		T_TRUE(at && strstr(body, "pfd_syn_protect") == at + strlen("# HELP "),
		       "nothing of it before the HELP line");
		T_TRUE(at && !strstr(at + strlen(lines), "pfd_syn_protect"),
		       "and no other sample after");

		in.synp_dry_run = true;
		T_OK(pfd_metrics_write(path, &in), "metrics with syn-protect in global dry-run");
		T_TRUE(read_all(path, body, sizeof(body)) > 0 && strstr(body, all_dry),
		       "global dry-run: every line dry-run");
		T_TRUE(!strstr(body, "mode=\"answer\""), "and none answers");

		in.synp = NULL;
		in.n_synp = 0;
		in.synp_dry_run = false;
	}

	/* a planted symlink at the temporary's name (a shared textfile
	 * directory): removed, not followed */
	{
		FILE *f = fopen(victim, "w");

		T_TRUE(f != NULL, "victim file");
		if (f) {
			fputs("precious\n", f);
			fclose(f);
		}
	}
	T_OK(symlink(victim, tmp), "plant a symlink at the temporary's name");
	st.flows = 5;
	T_OK(pfd_metrics_write(path, &in), "metrics written past it");
	T_TRUE(read_all(victim, body, sizeof(body)) > 0 && !strcmp(body, "precious\n"),
	       "the symlink's target is untouched");
	T_TRUE(read_all(path, body, sizeof(body)) > 0 && strstr(body, "\npfd_offloaded_flows 5\n"),
	       "the new metrics are in place");

	/* a directory that is gone: an error, nothing written elsewhere */
	snprintf(path, sizeof(path), "%s/gone/pfd.prom", dir);
	T_EQ(pfd_metrics_write(path, &in), -ENOENT, "missing directory: -ENOENT");
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	return t_done();
}
