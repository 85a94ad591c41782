// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's command-line front end: the subcommand and option tables, argument
 * parsing and --help generated from them, configuration loading for the
 * commands, and the one print path for text and JSON. pfd/main.c calls
 * pfd_cli_main(); the commands live in cli_show.c (status, flows, stats,
 * explain), cli_ops.c (run, reload, detach, version), cli_feas.c
 * (feasibility) and cli_probe.c (probe). Usage errors are one line on stderr,
 * "pfd: error: ...", and exit code 2 (iproute2's habit).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pfd/cli.h"
#include "pfd/util.h"
#include "pfd/log.h"

static const struct pfd_cli_opt no_opts[] = { { 0 } };

static const struct pfd_cli_opt json_opts[] = {
	{ "--json", 'j', NULL, "JSON output" },
	{ 0 },
};

#define WATCH_HELP "print again every SECONDS (1-3600) until interrupted, as watch(1)"

static const struct pfd_cli_opt flows_opts[] = {
	{ "--json", 'j', NULL, "JSON output" },
	{ "--addr", 0, "ADDR", "only flows with ADDR as an address of either direction" },
	{ "--port", 0, "PORT", "only flows with PORT as a port of either direction" },
	{ "--all", 0, NULL, "also flows awaiting the current ruleset (the kernel carries them)" },
	{ "--watch", 'w', "SECONDS", WATCH_HELP },
	{ 0 },
};

static const struct pfd_cli_opt stats_opts[] = {
	{ "--json", 'j', NULL, "JSON output" },
	{ "--watch", 'w', "SECONDS", WATCH_HELP },
	{ 0 },
};

static const struct pfd_cli_opt probe_opts[] = {
	{ "--json", 'j', NULL, "JSON output" },
	{ "--iface", 0, "IFACE", "device to probe (required)" },
	{ "--count", 0, "N", "frames to capture (default 4, at most 64)" },
	{ "--timeout", 0, "SECONDS", "give up after this long (default 10, at most 600)" },
	{ "--mode", 0, "native|generic", "XDP mode to probe (default native)" },
	{ 0 },
};

static const struct pfd_cli_opt detach_opts[] = {
	{ "--all", 0, NULL, "remove every program, link, pin and qdisc pfd made" },
	{ 0 },
};

const struct pfd_cli_opt pfd_cli_global_opts[] = {
	{ "--config", 'c', "FILE", "configuration file (default " PFD_DEFAULT_CONFIG ")" },
	{ "--verbose", 'v', NULL, "more log output (repeatable)" },
	{ "--json", 'j', NULL, "JSON output (status, flows, stats, explain, feasibility)" },
	{ "--help", 'h', NULL, "this help, or a command's with COMMAND --help" },
	{ "--version", 'V', NULL, "the version, the BPF ABI and the libbpf it runs with" },
	{ 0 },
};

const struct pfd_cli_cmd pfd_cli_cmds[] = {
	{ "run", NULL, 0, 0, no_opts, pfd_cmd_run,
	  "run the daemon in the foreground (systemd: Type=notify)" },
	{ "reload", NULL, 0, 0, no_opts, pfd_cmd_reload,
	  "make the running daemon re-read its configuration and wait for the result" },
	{ "status", NULL, 0, 0, json_opts, pfd_cmd_status,
	  "mode, devices, offloaded flows, verdict counters, heartbeat age" },
	{ "flows", NULL, 0, 0, flows_opts, pfd_cmd_flows,
	  "offloaded flows with their NAT, counters and idle time" },
	{ "stats", NULL, 0, 0, stats_opts, pfd_cmd_stats,
	  "verdict counters per device and hook, block prefix counters" },
	{ "explain", "PROTO SRC SPORT DST DPORT", 5, 5, json_opts, pfd_cmd_explain,
	  "why a connection is or is not on the fast path" },
	{ "feasibility", NULL, 0, 0, json_opts, pfd_cmd_feasibility,
	  "what this kernel and these devices support, with fixes" },
	{ "probe", NULL, 0, 0, probe_opts, pfd_cmd_probe,
	  "show the first bytes of frames the driver hands to XDP" },
	{ "detach", NULL, 0, 0, detach_opts, pfd_cmd_detach,
	  "remove pfd from the kernel (programs, links, pins, qdiscs)" },
	{ "version", NULL, 0, 0, no_opts, pfd_cmd_version, "print the version" },
	{ 0 },
};

int pfd_cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pfd: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PFD_EXIT_USAGE;
}

static void print_opts(FILE *f, const struct pfd_cli_opt *o)
{
	char left[64];

	for (; o->name; o++) {
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, %s%s%s", o->short_name, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    %s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
}

static void usage(FILE *f)
{
	const struct pfd_cli_cmd *c;

	fprintf(f, "Usage: pfd [OPTIONS] COMMAND [ARGS]\n\nOptions:\n");
	print_opts(f, pfd_cli_global_opts);
	fprintf(f, "\nCommands:\n");
	for (c = pfd_cli_cmds; c->name; c++)
		fprintf(f, "  %-13s %s\n", c->name, c->summary);
	fprintf(f, "\n'pfd COMMAND --help' shows a command's options; pfd(8) has the rest.\n");
}

static void cmd_usage(FILE *f, const struct pfd_cli_cmd *c)
{
	const struct pfd_cli_opt *o;

	fprintf(f, "Usage: pfd [-c FILE] [-v] %s", c->name);
	for (o = c->opts; o->name; o++) {
		if (o->short_name)
			fprintf(f, " [-%c%s%s]", o->short_name, o->arg ? " " : "",
				o->arg ? o->arg : "");
		else
			fprintf(f, " [%s%s%s]", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	}
	fprintf(f, "%s%s\n\n%s\n", c->args ? " " : "", c->args ? c->args : "", c->summary);
	if (c->opts[0].name) {
		fprintf(f, "\nOptions:\n");
		print_opts(f, c->opts);
	}
}

static const struct pfd_cli_cmd *find_cmd(const char *name)
{
	const struct pfd_cli_cmd *c;

	for (c = pfd_cli_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int unknown_cmd(const char *name)
{
	const struct pfd_cli_cmd *c, *best = NULL;
	unsigned int d, bestd = 99;

	for (c = pfd_cli_cmds; c->name; c++) {
		d = pfd_edit_distance(name, c->name);
		if (d < bestd) {
			bestd = d;
			best = c;
		}
	}
	if (best && bestd <= 2)
		return pfd_cli_usage_error("unknown command \"%s\" (did you mean \"%s\"?)", name,
					   best->name);
	return pfd_cli_usage_error("unknown command \"%s\" (try pfd --help)", name);
}

const char *pfd_cli_opt(const struct pfd_cli *cli, const char *name)
{
	int i;

	for (i = 0; cli->cmd && cli->cmd->opts[i].name; i++)
		if (!strcmp(cli->cmd->opts[i].name, name))
			return cli->opt_val[i];
	return NULL;
}

/* Finds "--name", "--name=value" or "-x" among opts; *inline_val gets the
 * text after '='. Index or -1. */
static int match_opt(const struct pfd_cli_opt *opts, const char *arg, const char **inline_val)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int i;

	*inline_val = NULL;
	for (i = 0; opts[i].name; i++) {
		if (arg[1] != '-') {
			if (opts[i].short_name && arg[1] == opts[i].short_name && !arg[2])
				return i;
			continue;
		}
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len)) {
			if (eq)
				*inline_val = eq + 1;
			return i;
		}
	}
	return -1;
}

/* One global option (-c FILE, -j, -v), before or after the command; *i
 * moves past a separate value. 0 or the usage error's exit code. */
static int apply_global(struct pfd_cli *cli, int o, const char *val, int argc, char **argv, int *i)
{
	switch (pfd_cli_global_opts[o].short_name) {
	case 'c':
		if (!val) {
			if (*i + 1 >= argc)
				return pfd_cli_usage_error("-c expects FILE");
			val = argv[++*i];
		}
		if (!*val)
			return pfd_cli_usage_error("-c expects FILE, got \"\"");
		if (cli->config_given)
			return pfd_cli_usage_error("-c given twice");
		cli->config_path = val;
		cli->config_given = true;
		return 0;
	case 'v':
		cli->verbosity++;
		break;
	case 'j':
		cli->json = true;
		break;
	default:
		return pfd_cli_usage_error("%s is not an option here", pfd_cli_global_opts[o].name);
	}
	if (val)
		return pfd_cli_usage_error("%s takes no value", pfd_cli_global_opts[o].name);
	return 0;
}

static int parse_cmd_args(struct pfd_cli *cli, int argc, char **argv)
{
	const struct pfd_cli_cmd *c = cli->cmd;
	const char *val;
	bool dashdash = false;
	int i, o;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		/* "-1" is not an option: explain takes no negative numbers,
		 * but say what is wrong with it rather than "unknown option" */
		if (dashdash || a[0] != '-' || !a[1]) {
			if (cli->n_pos >= c->max_pos)
				return pfd_cli_usage_error("%s: unexpected argument \"%s\"",
							   c->name, a);
			cli->pos[cli->n_pos++] = a;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cmd_usage(stdout, c);
			return -1;
		}
		o = match_opt(c->opts, a, &val);
		if (o < 0) {
			int rc;

			/* global options are accepted after the command too,
			 * as ip, tc and systemctl accept them (pfd run -c FILE) */
			o = match_opt(pfd_cli_global_opts, a, &val);
			if (o < 0)
				return pfd_cli_usage_error(
					"%s: unknown option \"%s\" (see pfd %s --help)", c->name, a,
					c->name);
			rc = apply_global(cli, o, val, argc, argv, &i);
			if (rc)
				return rc;
			continue;
		}
		if (!c->opts[o].arg) {
			if (val)
				return pfd_cli_usage_error("%s: %s takes no value", c->name,
							   c->opts[o].name);
			cli->opt_val[o] = "";
			if (c->opts[o].short_name == 'j')
				cli->json = true;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return pfd_cli_usage_error("%s: %s expects %s", c->name,
							   c->opts[o].name, c->opts[o].arg);
			val = argv[++i];
		}
		if (cli->opt_val[o])
			return pfd_cli_usage_error("%s: %s given twice", c->name, c->opts[o].name);
		cli->opt_val[o] = val;
	}
	if (cli->n_pos < c->min_pos)
		return pfd_cli_usage_error("%s: expected %s", c->name, c->args);
	return 0;
}

int pfd_cli_config(struct pfd_cli *cli, bool need_file)
{
	int err;

	if (cli->cfg)
		return 0;
	/* Read-only commands on a host without a pfd.conf use the defaults
	 * (the same bpffs and state directory `pfd run` would use). */
	if (!need_file && !cli->config_given && access(cli->config_path, F_OK) && errno == ENOENT) {
		cli->cfg = calloc(1, sizeof(*cli->cfg));
		if (!cli->cfg)
			return -ENOMEM;
		pfd_config_defaults(cli->cfg);
		return 0;
	}
	err = pfd_config_load(cli->config_path, &cli->cfg);
	if (err == -EINVAL)
		pr_err("%s: configuration refused; fix the errors above", cli->config_path);
	return err;
}

/* --watch: the command again every secs seconds until a signal ends pfd (as
 * watch(1)). Text on a terminal starts each round on a cleared screen with a
 * header; otherwise rounds follow each other (JSON: one document a line). */
static int watch(struct pfd_cli *cli, unsigned int secs)
{
	bool tty = !cli->json && isatty(STDOUT_FILENO);
	int rc;

	for (;;) {
		if (tty) {
			time_t now = time(NULL);
			char when[64];

			strftime(when, sizeof(when), "%F %T", localtime(&now));
			printf("\033[H\033[2JEvery %us: pfd %s    %s\n\n", secs, cli->cmd->name,
			       when);
		}
		pfd_out_init(cli->json, stdout);
		rc = cli->cmd->fn(cli);
		if (fflush(stdout) || ferror(stdout)) {
			fprintf(stderr, "pfd: error: writing output: %s\n", strerror(errno));
			return PFD_EXIT_FAIL;
		}
		if (rc != PFD_EXIT_OK)
			return rc;
		sleep(secs);
	}
}

int pfd_cli_main(int argc, char **argv)
{
	struct pfd_cli cli = { .config_path = PFD_DEFAULT_CONFIG };
	const char *val;
	int i, o, rc;

	pfd_log_init_auto(LOG_WARNING);
	/* libbpf's own messages (a program that does not load as non-root,
	 * say) go through pfd's levels: shown with -v, not on every run */
	pfd_log_libbpf();
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		o = match_opt(pfd_cli_global_opts, a, &val);
		if (o < 0)
			return pfd_cli_usage_error("unknown option \"%s\" (try pfd --help)", a);
		if (pfd_cli_global_opts[o].short_name == 'h') {
			usage(stdout);
			return PFD_EXIT_OK;
		}
		/* the version command, through the table like any other */
		if (pfd_cli_global_opts[o].short_name == 'V') {
			/* --version wins over what else is on the line, as
			 * with other tools; it has no JSON form */
			cli.json = false;
			cli.cmd = find_cmd("version");
			return cli.cmd ? cli.cmd->fn(&cli) : PFD_EXIT_FAIL;
		}
		rc = apply_global(&cli, o, val, argc, argv, &i);
		if (rc)
			return rc;
	}
	if (i >= argc)
		return pfd_cli_usage_error("expected a command (try pfd --help)");
	if (!strcmp(argv[i], "help")) {
		if (i + 1 < argc && find_cmd(argv[i + 1])) {
			cmd_usage(stdout, find_cmd(argv[i + 1]));
			return PFD_EXIT_OK;
		}
		usage(stdout);
		return PFD_EXIT_OK;
	}
	cli.cmd = find_cmd(argv[i]);
	if (!cli.cmd)
		return unknown_cmd(argv[i]);
	rc = parse_cmd_args(&cli, argc - i - 1, argv + i + 1);
	if (rc)
		return rc < 0 ? PFD_EXIT_OK : rc;
	if (cli.json) {
		bool takes_json = false;

		for (o = 0; cli.cmd->opts[o].name; o++)
			takes_json |= cli.cmd->opts[o].short_name == 'j';
		if (!takes_json)
			return pfd_cli_usage_error("%s: no JSON output (-j)", cli.cmd->name);
	}
	/* Each -v shows one more level of the logger, from warnings up. */
	pfd_log_set_level(cli.verbosity >= 3 ? LOG_DEBUG : LOG_WARNING + cli.verbosity);
	val = pfd_cli_opt(&cli, "--watch");
	if (val) {
		char *end;
		long secs = strtol(val, &end, 10);

		if (!*val || *end || secs < 1 || secs > 3600 || !isdigit((unsigned char)val[0]))
			return pfd_cli_usage_error("--watch: expected 1-3600 seconds, got \"%s\"",
						   val);
		return watch(&cli, (unsigned int)secs);
	}
	pfd_out_init(cli.json, stdout);
	rc = cli.cmd->fn(&cli);
	pfd_config_free(cli.cfg);
	if (fflush(stdout) || ferror(stdout)) {
		/* a closed pipe or a full disk must not look like success */
		fprintf(stderr, "pfd: error: writing output: %s\n", strerror(errno));
		return PFD_EXIT_FAIL;
	}
	return rc;
}

/* ---- the print path ---- */

#define OUT_MAX_DEPTH 16

static struct {
	bool json;
	FILE *f;
	int depth;
	bool need_comma[OUT_MAX_DEPTH];
} out = { .f = NULL };

void pfd_out_init(bool json, FILE *f)
{
	memset(&out, 0, sizeof(out));
	out.json = json;
	out.f = f;
}

bool pfd_out_json(void)
{
	return out.json;
}

static void json_string(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	fputc('"', out.f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			fputc('\\', out.f);
			fputc(c, out.f);
		} else if (c == '\n') {
			fputs("\\n", out.f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out.f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else {
			fputc(c, out.f);
		}
	}
	fputc('"', out.f);
}

/* The comma and key before a JSON value. */
static void json_key(const char *key)
{
	if (out.need_comma[out.depth])
		fputc(',', out.f);
	out.need_comma[out.depth] = true;
	if (key) {
		json_string(key);
		fputc(':', out.f);
	}
}

static void json_open(const char *key, char c)
{
	json_key(key);
	fputc(c, out.f);
	if (out.depth < OUT_MAX_DEPTH - 1)
		out.depth++;
	out.need_comma[out.depth] = false;
}

void pfd_out_open_obj(const char *key)
{
	if (out.json)
		json_open(key, '{');
}

static void json_close(char c)
{
	if (!out.json)
		return;
	fputc(c, out.f);
	if (out.depth)
		out.depth--;
}

void pfd_out_close_obj(void)
{
	json_close('}');
}

void pfd_out_open_arr(const char *key)
{
	if (out.json)
		json_open(key, '[');
}

void pfd_out_close_arr(void)
{
	json_close(']');
}

void pfd_out_end(void)
{
	if (out.json)
		fputc('\n', out.f);
}

#define TEXT(t, fmt) (!out.json && ((t)&PFD_PRINT_TEXT) && (fmt))
#define JSON(t, key) (out.json && ((t)&PFD_PRINT_JSON))

/* The text formats come from this file's callers' string literals only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void pfd_print_str(enum pfd_print t, const char *key, const char *fmt, const char *v)
{
	if (JSON(t, key)) {
		json_key(key);
		json_string(v ? v : "");
	} else if (TEXT(t, fmt)) {
		fprintf(out.f, fmt, v ? v : "");
	}
}

void pfd_print_u64(enum pfd_print t, const char *key, const char *fmt, uint64_t v)
{
	if (JSON(t, key)) {
		json_key(key);
		fprintf(out.f, "%llu", (unsigned long long)v);
	} else if (TEXT(t, fmt)) {
		fprintf(out.f, fmt, (unsigned long long)v);
	}
}

void pfd_print_s64(enum pfd_print t, const char *key, const char *fmt, int64_t v)
{
	if (JSON(t, key)) {
		json_key(key);
		fprintf(out.f, "%lld", (long long)v);
	} else if (TEXT(t, fmt)) {
		fprintf(out.f, fmt, (long long)v);
	}
}

void pfd_print_bool(enum pfd_print t, const char *key, const char *fmt, bool v)
{
	if (JSON(t, key)) {
		json_key(key);
		fputs(v ? "true" : "false", out.f);
	} else if (TEXT(t, fmt)) {
		fprintf(out.f, fmt, v ? "yes" : "no");
	}
}

void pfd_print_text(const char *fmt, ...)
{
	va_list ap;

	if (out.json)
		return;
	va_start(ap, fmt);
	vfprintf(out.f, fmt, ap);
	va_end(ap);
}
#pragma GCC diagnostic pop
