// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands that change something or talk to the daemon: run (the
 * daemon in the foreground), reload (SIGHUP, then wait for the daemon's
 * verdict in its state file), detach --all, and version. Called from the
 * table in pfd/cli.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "pfd/abi.h"
#include "pfd/bpf.h"
#include "pfd/cli.h"
#include "pfd/daemon.h"
#include "pfd/log.h"
#include "pfd/state.h"

#ifndef PFD_VERSION
#define PFD_VERSION "0.1.0"
#endif

/* How long `pfd reload` waits for the daemon's answer. */
#define RELOAD_WAIT_MS 10000

int pfd_cmd_run(struct pfd_cli *cli)
{
	return pfd_daemon_run(cli->config_path, cli->verbosity);
}

int pfd_cmd_version(struct pfd_cli *cli)
{
	(void)cli;
	printf("pfd %s (BPF ABI %d, libbpf %s)\n", PFD_VERSION, PFD_ABI_VERSION,
	       libbpf_version_string());
	return PFD_EXIT_OK;
}

/* The state-dir of a file the parser refused: a lenient look at its
 * `state-dir` line, so that `pfd reload` can still reach the daemon and
 * report its answer (it will refuse the same file, and say so). */
static void peek_state_dir(const char *path, char *dir, size_t len)
{
	char line[4200], *s, *e;
	FILE *f = fopen(path, "re");

	snprintf(dir, len, "/run/pfd");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		s = line + strspn(line, " \t");
		if (strncmp(s, "state-dir", 9) || (s[9] != ' ' && s[9] != '\t'))
			continue;
		s += 9 + strspn(s + 9, " \t");
		e = s + strcspn(s, " \t#\r\n");
		if (*s == '/' && (size_t)(e - s) < len) {
			memcpy(dir, s, e - s);
			dir[e - s] = '\0';
		}
	}
	fclose(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int pfd_cmd_reload(struct pfd_cli *cli)
{
	struct pfd_state *st;
	char dir[PATH_MAX];
	uint64_t attempts;
	pid_t pid;
	long waited;
	int err, rc = PFD_EXIT_FAIL;

	/* Shows the file's errors here, where the operator is looking; the
	 * daemon refuses the same file and keeps running as it was. */
	err = pfd_cli_config(cli, true);
	if (!err)
		snprintf(dir, sizeof(dir), "%s", cli->cfg->state_dir);
	else if (err == -EINVAL)
		peek_state_dir(cli->config_path, dir, sizeof(dir));
	else
		return PFD_EXIT_FAIL;

	pid = pfd_state_daemon_pid(dir);
	if (!pid) {
		pr_err("pfd is not running (no daemon holds %s/pfd.lock); start it with pfd run",
		       dir);
		return PFD_EXIT_FAIL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return PFD_EXIT_FAIL;
	attempts = pfd_state_read(dir, st) ? 0 : st->reload_attempts;
	if (kill(pid, SIGHUP)) {
		pr_err("cannot signal pfd (pid %d): %s", (int)pid, strerror(errno));
		goto out;
	}
	for (waited = 0; waited < RELOAD_WAIT_MS; waited += 50) {
		sleep_ms(50);
		if (pfd_state_read(dir, st) || st->reload_attempts <= attempts)
			continue;
		if (st->reload_error[0]) {
			pr_err("reload refused, pfd keeps its running configuration: %s",
			       st->reload_error);
			goto out;
		}
		printf("pfd (pid %d) reloaded %s\n", (int)pid, st->config);
		rc = PFD_EXIT_OK;
		goto out;
	}
	pr_err("pfd (pid %d) did not answer the reload within %d s; see its log", (int)pid,
	       RELOAD_WAIT_MS / 1000);
out:
	free(st);
	return rc;
}

int pfd_cmd_detach(struct pfd_cli *cli)
{
	pid_t pid;
	int err;

	if (!pfd_cli_opt(cli, "--all"))
		return pfd_cli_usage_error("detach: --all is required (it removes everything "
					   "pfd made, on every device)");
	if (pfd_cli_config(cli, false))
		return PFD_EXIT_FAIL;
	pid = pfd_state_daemon_pid(cli->cfg->state_dir);
	if (pid) {
		pr_err("pfd is running (pid %d) and would attach again: stop it first", (int)pid);
		return PFD_EXIT_FAIL;
	}
	err = pfd_bpf_detach_all(cli->cfg->bpffs);
	/* the TC egress programs (MSS clamp, jitter) are pfd's too */
	if (!err)
		err = pfd_cli_detach_egress(cli->cfg->bpffs);
	if (err) {
		pr_err("detach --all: %s", strerror(-err));
		return PFD_EXIT_FAIL;
	}
	return PFD_EXIT_OK;
}
