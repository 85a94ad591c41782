/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pfd's command line: the table of subcommands and options that drives both
 * argument parsing and --help (xdp-tools' DEFINE_COMMAND idea), and the one
 * print path for text and JSON output (iproute2's PRINT_ANY idea). Used by
 * pfd/main.c, the cli_*.c command implementations, and tests/unit/test_man.c
 * (every command and option in these tables must appear in pfd(8)).
 */
#ifndef PFD_CLI_H
#define PFD_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pfd/config.h"

#define PFD_DEFAULT_CONFIG "/etc/pfd/pfd.conf"

/* Exit codes (pfd(8), EXIT STATUS). */
#define PFD_EXIT_OK    0
#define PFD_EXIT_FAIL  1
#define PFD_EXIT_USAGE 2

#define PFD_CLI_MAX_OPTS 8
#define PFD_CLI_MAX_POS	 8

struct pfd_cli_opt {
	const char *name; /* "--addr"; NULL ends a list */
	char short_name;  /* 'j', or 0 */
	const char *arg;  /* "ADDR", or NULL for a flag */
	const char *help;
};

struct pfd_cli;

struct pfd_cli_cmd {
	const char *name; /* NULL ends the table */
	const char *args; /* positional synopsis, or NULL */
	int min_pos, max_pos;
	const struct pfd_cli_opt *opts;
	int (*fn)(struct pfd_cli *cli);
	const char *summary;
};

/* One invocation, parsed. */
struct pfd_cli {
	const char *config_path;
	bool config_given; /* -c on the command line */
	int verbosity;
	bool json;
	const struct pfd_cli_cmd *cmd;
	const char *pos[PFD_CLI_MAX_POS];
	int n_pos;
	const char *opt_val[PFD_CLI_MAX_OPTS]; /* "" for a set flag */
	struct pfd_config *cfg;		       /* loaded by pfd_cli_config() */
};

extern const struct pfd_cli_cmd pfd_cli_cmds[];
extern const struct pfd_cli_opt pfd_cli_global_opts[];

/* The whole front end: parse, dispatch, exit code. */
int pfd_cli_main(int argc, char **argv);

/* Usage error: prints "pfd: error: ..." (one line) and returns PFD_EXIT_USAGE. */
int pfd_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Value of a command option (NULL if not given). */
const char *pfd_cli_opt(const struct pfd_cli *cli, const char *name);
/* Loads cli->cfg: the -c file, or the default file, or (read-only commands,
 * default path absent) the defaults. 0 or -errno (logged). */
int pfd_cli_config(struct pfd_cli *cli, bool need_file);

/* The TC egress programs (cli_egress.c): their counters as an "egress"
 * object of status (nothing if they were never loaded), and their removal. */
void pfd_cli_print_egress(const char *bpffs);
int pfd_cli_detach_egress(const char *bpffs);

/* Commands (cli_show.c, cli_ops.c, cli_feas.c, cli_probe.c). */
int pfd_cmd_run(struct pfd_cli *cli);
int pfd_cmd_reload(struct pfd_cli *cli);
int pfd_cmd_status(struct pfd_cli *cli);
int pfd_cmd_flows(struct pfd_cli *cli);
int pfd_cmd_stats(struct pfd_cli *cli);
int pfd_cmd_explain(struct pfd_cli *cli);
int pfd_cmd_feasibility(struct pfd_cli *cli);
int pfd_cmd_probe(struct pfd_cli *cli);
int pfd_cmd_detach(struct pfd_cli *cli);
int pfd_cmd_version(struct pfd_cli *cli);

/*
 * The print path. Each value is printed once, with its JSON key and its text
 * format: in JSON mode the key and the value, in text mode fmt (NULL: not
 * shown in text). PFD_PRINT_ANY prints in both modes, _JSON and _TEXT in one.
 */
enum pfd_print {
	PFD_PRINT_TEXT = 1,
	PFD_PRINT_JSON = 2,
	PFD_PRINT_ANY = 3,
};

void pfd_out_init(bool json, FILE *f);
bool pfd_out_json(void);
/* Objects and arrays (JSON only; key NULL inside an array or at the top). */
void pfd_out_open_obj(const char *key);
void pfd_out_close_obj(void);
void pfd_out_open_arr(const char *key);
void pfd_out_close_arr(void);
void pfd_print_str(enum pfd_print t, const char *key, const char *fmt, const char *v);
void pfd_print_u64(enum pfd_print t, const char *key, const char *fmt, uint64_t v);
void pfd_print_s64(enum pfd_print t, const char *key, const char *fmt, int64_t v);
void pfd_print_bool(enum pfd_print t, const char *key, const char *fmt, bool v);
/* Text only. */
void pfd_print_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the document (JSON: newline after the top value). */
void pfd_out_end(void);

#endif /* PFD_CLI_H */
