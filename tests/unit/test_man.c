// SPDX-License-Identifier: GPL-2.0-only
/*
 * The man pages agree with the code (chrony's rule that everything is
 * documented, enforced): every key of pfd_config_keys has an entry in
 * man/pfd.conf.5, every command of pfd_cli_cmds an entry in man/pfd.8, every
 * option of every command and every global option appears in pfd.8, and so
 * does every verdict reason label; both pages render with groff -ww without a
 * warning (the Makefile's lint target does the same). Runs from the
 * repository root.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "pfd/cli.h"
#include "pfd/config.h"
#include "pfd/reasons.h"
#include "../../pfd/tc_egress.h" /* pfd_egress_config_keys */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, len + 1);
	if (fread(buf, 1, len, f) != (size_t)len)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

/* roff to plain words: font escapes dropped, \- and \e resolved, quotes
 * dropped. */
static void plain(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (*in && n + 1 < len) {
		if (in[0] == '\\' && in[1] == 'f' && in[2]) {
			in += 3;
		} else if (in[0] == '\\' && in[1] == '-') {
			out[n++] = '-';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'e') {
			out[n++] = '\\';
			in += 2;
		} else if (*in == '"') {
			in++;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = '\0';
}

/* Whether some .TP entry of the page starts with word. */
static bool has_entry(const char *page, const char *word)
{
	const char *p = page;
	char line[512], flat[512], *w;
	size_t wl = strlen(word);

	while ((p = strstr(p, ".TP\n"))) {
		const char *eol;

		p += 4;
		eol = strchr(p, '\n');
		if (!eol)
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		plain(line, flat, sizeof(flat));
		w = flat;
		if (*w == '.') /* the macro: .B, .BR, .BI */
			w += strcspn(w, " ");
		w += strspn(w, " ");
		if (!strncmp(w, word, wl) && (!w[wl] || isspace((unsigned char)w[wl])))
			return true;
	}
	return false;
}

static void check_render(const char *path)
{
	char cmd[512], buf[1024] = "", name[600];
	size_t n = 0;
	FILE *p;
	int rc;

	if (system("command -v groff >/dev/null 2>&1")) {
		t_skip(path, "groff not installed (apt-get install groff-base)");
		return;
	}
	snprintf(cmd, sizeof(cmd), "LC_ALL=C.UTF-8 MANWIDTH=80 groff -man -ww -z -Tutf8 %s 2>&1",
		 path);
	p = popen(cmd, "r");
	if (!p) {
		T_TRUE(0, "popen groff");
		return;
	}
	while (n < sizeof(buf) - 1 && fgets(buf + n, sizeof(buf) - n, p))
		n = strlen(buf);
	rc = pclose(p);
	snprintf(name, sizeof(name), "%s renders without warnings", path);
	T_STR(buf[0] ? buf : "", "", name);
	T_EQ(rc, 0, name);
}

int main(void)
{
	char *conf5 = slurp("man/pfd.conf.5"), *pfd8 = slurp("man/pfd.8"), *flat8;
	const struct pfd_cli_cmd *c;
	const struct pfd_cli_opt *o;
	char name[256], shortopt[4];
	unsigned int i;

	T_TRUE(conf5 != NULL, "man/pfd.conf.5 exists");
	T_TRUE(pfd8 != NULL, "man/pfd.8 exists");
	if (!conf5 || !pfd8)
		return t_done();
	flat8 = malloc(strlen(pfd8) + 1);
	plain(pfd8, flat8, strlen(pfd8) + 1);

	for (i = 0; pfd_config_keys[i]; i++) {
		snprintf(name, sizeof(name), "pfd.conf.5 documents key %s", pfd_config_keys[i]);
		T_TRUE(has_entry(conf5, pfd_config_keys[i]), name);
	}
	for (i = 0; pfd_egress_config_keys[i]; i++) {
		snprintf(name, sizeof(name), "pfd.conf.5 documents key %s",
			 pfd_egress_config_keys[i]);
		T_TRUE(has_entry(conf5, pfd_egress_config_keys[i]), name);
	}
	for (c = pfd_cli_cmds; c->name; c++) {
		snprintf(name, sizeof(name), "pfd.8 documents command %s", c->name);
		T_TRUE(has_entry(pfd8, c->name), name);
		for (o = c->opts; o->name; o++) {
			snprintf(name, sizeof(name), "pfd.8 documents %s %s", c->name, o->name);
			T_TRUE(strstr(flat8, o->name) != NULL, name);
		}
	}
	for (o = pfd_cli_global_opts; o->name; o++) {
		snprintf(name, sizeof(name), "pfd.8 documents global option %s", o->name);
		T_TRUE(strstr(flat8, o->name) != NULL, name);
		snprintf(shortopt, sizeof(shortopt), "-%c", o->short_name);
		snprintf(name, sizeof(name), "pfd.8 documents global option %s", shortopt);
		T_TRUE(strstr(flat8, shortopt) != NULL, name);
	}
#define CHECK_REASON(n, v, label, text)                                       \
	snprintf(name, sizeof(name), "pfd.8 lists verdict reason %s", label); \
	T_TRUE(strstr(flat8, label) != NULL, name);
	PFD_REASONS(CHECK_REASON)
#undef CHECK_REASON

	/* the table has no command the page lacks, and the page no stale one */
	T_TRUE(!has_entry(pfd8, "attach"), "pfd.8 has no attach command (not in the table)");

	check_render("man/pfd.8");
	check_render("man/pfd.conf.5");
	free(flat8);
	free(conf5);
	free(pfd8);
	return t_done();
}
