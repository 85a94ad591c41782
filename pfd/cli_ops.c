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
#include "pfd/control.h"
#include "pfd/daemon.h"
#include "pfd/log.h"
#include "pfd/state.h"

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

/* The daemon's answer to a reload on the control socket: its "ok" and its
 * "error" (a JSON string pfd_control_json_str wrote: only \" \\ \\uXXXX). */
static int reload_answer(const char *resp)
{
	const char *e = strstr(resp, "\"error\":\"");
	char msg[1024];
	size_t n = 0;

	if (strstr(resp, "\"ok\":true")) {
		printf("pfd reloaded its configuration\n");
		return PFD_EXIT_OK;
	}
	if (e) {
		for (e += 9; *e && *e != '"' && n + 1 < sizeof(msg); e++) {
			if (*e == '\\' && e[1] == 'u' && strlen(e) >= 6) {
				msg[n++] = ' ';
				e += 5;
				continue;
			}
			if (*e == '\\' && e[1])
				e++;
			msg[n++] = *e;
		}
	}
	msg[n] = '\0';
	pr_err("%s", n ? msg : "the daemon refused the reload");
	return PFD_EXIT_FAIL;
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

	/* the control socket answers with the result; SIGHUP and the state
	 * file are for a daemon without one */
	{
		char resp[PFD_CONTROL_RESP_MAX];

		err = pfd_control_call(dir, "reload", RELOAD_WAIT_MS, resp, sizeof(resp));
		/* inside a long pass the daemon answers "busy": SIGHUP queues
		 * the reload, and the state file says how it went */
		if (!err && strstr(resp, "\"error\":\"busy:"))
			pr_info("pfd is busy with a long pass; queueing the reload with SIGHUP");
		else if (!err)
			return reload_answer(resp);
		if (err == -EACCES || err == -EPERM) {
			pr_err("%s/" PFD_CONTROL_SOCKET ": %s: reloading pfd needs root", dir,
			       strerror(-err));
			return PFD_EXIT_FAIL;
		}
		if (err && err != -ENOENT && err != -ECONNREFUSED)
			pr_warn("%s/" PFD_CONTROL_SOCKET ": %s; trying SIGHUP", dir,
				strerror(-err));
	}
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
