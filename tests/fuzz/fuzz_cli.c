// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the command line, pfd_cli_main() (pfd/cli.c): global
 * options, the command lookup with its "did you mean", each command's
 * options and positional arguments, --help. The input is the argument list,
 * NUL-separated (argv[0] "pfd" is added). The parser has no entry point of
 * its own: pfd_cli_main() parses, then runs the command through the
 * pfd_cli_cmds[] table. This program defines the pfd_cmd_* functions that
 * table points to, so the linker takes them from here instead of from the
 * library's cli_ops.c, cli_show.c, cli_feas.c and cli_probe.c: no command
 * runs (no daemon, no BPF, no netlink); each stub checks what the parser
 * hands a command instead. Seeds from tests/fuzz/mkseeds.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfd/cli.h"
#include "fuzz.h"

#define MAX_ARGS 64

/* What the parser promises a command (pfd/cli.h, struct pfd_cli). */
static void check_cli(const struct pfd_cli *cli, const char *name)
{
	const struct pfd_cli_cmd *c = cli->cmd;
	bool takes_json = false;
	int i;

	FUZZ_CHECK(c && !strcmp(c->name, name));
	FUZZ_CHECK(cli->config_path && cli->config_path[0]);
	FUZZ_CHECK(cli->n_pos >= c->min_pos && cli->n_pos <= c->max_pos);
	FUZZ_CHECK(cli->n_pos <= PFD_CLI_MAX_POS);
	for (i = 0; i < cli->n_pos; i++)
		FUZZ_CHECK(strlen(cli->pos[i]) < FUZZ_NL_MAX); /* readable */
	for (i = 0; c->opts[i].name; i++) {
		FUZZ_CHECK(i < PFD_CLI_MAX_OPTS);
		FUZZ_CHECK(pfd_cli_opt(cli, c->opts[i].name) == cli->opt_val[i]);
		if (cli->opt_val[i])
			FUZZ_CHECK(strlen(cli->opt_val[i]) < FUZZ_NL_MAX);
		/* a flag is "" when set; an option with a value has one */
		if (!c->opts[i].arg && cli->opt_val[i])
			FUZZ_CHECK(!cli->opt_val[i][0]);
		takes_json |= c->opts[i].short_name == 'j';
	}
	FUZZ_CHECK(!cli->json || takes_json);
	FUZZ_CHECK(!cli->cfg); /* loaded by the command, never by the parser */
}

/* --watch runs the command until a signal: a stub says it failed instead,
 * which ends the watch after one round (a 600 s run found the endless loop:
 * "flows -w 7", now a seed). Its value was checked before the first round. */
static bool watch_ended;

static int stub_result(const struct pfd_cli *cli)
{
	const char *w = pfd_cli_opt(cli, "--watch");

	if (!w)
		return PFD_EXIT_OK;
	FUZZ_CHECK(atol(w) >= 1 && atol(w) <= 3600);
	watch_ended = true;
	return PFD_EXIT_FAIL;
}

#define STUB(fn, name)                   \
	int fn(struct pfd_cli *cli)      \
	{                                \
		check_cli(cli, name);    \
		return stub_result(cli); \
	}

STUB(pfd_cmd_run, "run")
STUB(pfd_cmd_reload, "reload")
STUB(pfd_cmd_status, "status")
STUB(pfd_cmd_flows, "flows")
STUB(pfd_cmd_stats, "stats")
STUB(pfd_cmd_explain, "explain")
STUB(pfd_cmd_feasibility, "feasibility")
STUB(pfd_cmd_probe, "probe")
STUB(pfd_cmd_detach, "detach")
STUB(pfd_cmd_version, "version")

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *null = fopen("/dev/null", "w");

	(void)argc;
	(void)argv;
	if (!null) {
		perror("/dev/null");
		exit(1);
	}
	/* Usage errors and --help are printed by the code under test on every
	 * other input. glibc lets a program assign the standard streams
	 * (glibc manual, "Standard Streams"); libFuzzer keeps its own copy of
	 * stderr and the sanitizers write to fd 2, so their reports stay. */
	stdout = null;
	stderr = null;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1];
	int argc = 1, rc, i;
	size_t start = 0, end;

	argv[0] = strdup("pfd");
	if (!argv[0])
		abort();
	/* each argument on the heap at its exact length: a read past its NUL
	 * is an ASan report */
	while (start < size && argc < MAX_ARGS) {
		const uint8_t *nul = memchr(data + start, '\0', size - start);

		end = nul ? (size_t)(nul - data) : size;
		argv[argc] = strndup((const char *)data + start, end - start);
		if (!argv[argc])
			abort();
		argc++;
		start = end + 1;
	}
	argv[argc] = NULL;
	watch_ended = false;
	rc = pfd_cli_main(argc, argv);
	FUZZ_CHECK(rc == PFD_EXIT_OK || rc == PFD_EXIT_USAGE ||
		   (rc == PFD_EXIT_FAIL && watch_ended));
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
