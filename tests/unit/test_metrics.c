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
