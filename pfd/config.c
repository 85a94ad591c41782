// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd.conf parser: turns the line-oriented file described in pfd/config.h and
 * pfd.conf(5) into a struct pfd_config. Used by `pfd run` at start-up and on
 * reload (SIGHUP), and by the CLI to find the bpffs and state directory.
 * Errors are collected, not fatal: every problem of the file is reported as
 * "FILE:LINE:COL: KEY: PROBLEM" (nftables' error records) and then the whole
 * file is refused, so a reload with a bad file keeps the running
 * configuration. Nothing in here trusts the file: every token is bounded,
 * every number range-checked, and no input can crash the parser.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "pfd/config.h"
#include "pfd/util.h"
#include "pfd/tc_egress.h"
#include "pfd/log.h"

/* A pfd.conf is a few dozen lines; anything this large is not one. */
#define CONFIG_MAX_BYTES    (1 << 20)
#define CONFIG_MAX_TOKENS   16
#define CONFIG_MAX_PREFIXES 65536
/* Past this many errors the rest is noise (a binary file, a wrong path). */
#define CONFIG_MAX_ERRORS 50

struct token {
	char *text;	  /* NUL-terminated, quotes removed */
	unsigned int col; /* 1-based column of its first character */
	bool quoted;
};

struct parser {
	const char *name; /* file name for messages */
	struct pfd_config *cfg;
	unsigned int line;
	unsigned int errors;
	unsigned int seen[32]; /* line a singleton key was set on */
	unsigned int mode_line, mode_col;
	unsigned int limit_line, interval_line;
	unsigned int n_allow_cap, n_deny_cap, n_block_cap;
};

/* Reports one problem; the caller carries on so that every problem of the
 * file is shown in one go. */
__attribute__((format(printf, 4, 5))) static void
config_error(struct parser *p, unsigned int col, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	p->errors++;
	if (p->errors > CONFIG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s:%u:%u: %s: %s", p->name, p->line, col, key, msg);
	if (p->errors == CONFIG_MAX_ERRORS)
		pr_err("%s:%u:%u: %s: too many errors, not reporting more", p->name, p->line, col,
		       key);
}

/* ---- small value parsers: 0 or -EINVAL / -ERANGE, never a message ---- */

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	unsigned long long v;
	int base = 10;
	char *e;

	/* strtoull() accepts "-1", leading blanks and octal: none of them
	 * belongs in a configuration file. */
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &e, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (end)
		*end = e;
	else if (*e)
		return -EINVAL;
	*out = v;
	return 0;
}

struct unit {
	const char *suffix; /* "" for a bare number */
	uint64_t mul;
};

/* A number with one of units' suffixes, multiplied out. */
static int parse_with_unit(const char *s, const struct unit *units, uint64_t *out)
{
	const char *e;
	uint64_t v;
	int err;

	err = parse_u64(s, &v, &e);
	if (err)
		return err;
	for (; units->suffix; units++) {
		if (strcmp(e, units->suffix))
			continue;
		if (v > UINT64_MAX / units->mul)
			return -ERANGE;
		*out = v * units->mul;
		return 0;
	}
	return -EINVAL;
}

/* Durations: ms, s, m, h; a bare number is seconds. */
static int parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct unit units[] = {
		{ "ms", 1 },	    { "", 1000 },	  { "s", 1000 },
		{ "m", 60 * 1000 }, { "h", 3600 * 1000 }, { NULL, 0 },
	};

	return parse_with_unit(s, units, ms);
}

/* Sizes: k, M, G (powers of 1024); a bare number is bytes or entries. */
static int parse_size(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
		{ "", 1 },	     { "k", 1ULL << 10 }, { "K", 1ULL << 10 },
		{ "M", 1ULL << 20 }, { "G", 1ULL << 30 }, { NULL, 0 },
	};

	return parse_with_unit(s, units, out);
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* The kernel's dev_valid_name(): what `ip link` would accept as a name. */
static bool iface_name_valid(const char *s)
{
	if (!*s || strlen(s) >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

/* The nearest of words to s, if it is near enough to be a typo, or the one
 * word s abbreviates ("warn" for "warning"). */
static const char *nearest(const char *s, const char *const *words)
{
	unsigned int best = UINT_MAX, d, n_prefixed = 0;
	const char *pick = NULL, *prefixed = NULL;
	const char *const *w;

	for (w = words; strlen(s) >= 3 && *w; w++) {
		if (!strncmp(*w, s, strlen(s))) {
			prefixed = *w;
			n_prefixed++;
		}
	}
	if (n_prefixed == 1)
		return prefixed;
	for (; *words; words++) {
		d = pfd_edit_distance(s, *words);
		if (d < best) {
			best = d;
			pick = *words;
		}
	}
	if (!pick || best > 2 || best * 3 > strlen(pick))
		return NULL;
	return pick;
}

/* "PROBLEM" or "PROBLEM (did you mean "X"?)" for a word from a fixed set. */
static void error_word(struct parser *p, const struct token *t, const char *key, const char *expect,
		       const char *const *words)
{
	const char *near = nearest(t->text, words);

	if (near)
		config_error(p, t->col, key, "expected %s, got \"%s\" (did you mean \"%s\"?)",
			     expect, t->text, near);
	else
		config_error(p, t->col, key, "expected %s, got \"%s\"", expect, t->text);
}

/* ---- keys ---- */

struct key;
typedef void (*key_fn)(struct parser *p, const struct key *k, struct token *t, int n);

struct key {
	const char *name;
	key_fn fn;
	int min_args, max_args;
	bool repeatable;
	/* numeric keys: where the value goes and its bounds */
	size_t off;
	uint64_t lo, hi;
};

static void *field(struct parser *p, const struct key *k)
{
	return (char *)p->cfg + k->off;
}

static void key_path(struct parser *p, const struct key *k, struct token *t, int n)
{
	char *dst = field(p, k);
	size_t len = strlen(t[1].text);

	(void)n;
	/* metrics-file "" turns the metrics off; the other paths are needed */
	if (!len && !strcmp(k->name, "metrics-file")) {
		dst[0] = '\0';
		return;
	}
	if (t[1].text[0] != '/') {
		config_error(p, t[1].col, k->name, "expected an absolute path, got \"%s\"",
			     t[1].text);
		return;
	}
	if (len >= PATH_MAX) {
		config_error(p, t[1].col, k->name, "path longer than %d bytes", PATH_MAX - 1);
		return;
	}
	memcpy(dst, t[1].text, len + 1);
}

static const char *const log_levels[] = { "err", "warning", "notice", "info", "debug", NULL };

static void key_log_level(struct parser *p, const struct key *k, struct token *t, int n)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	unsigned int i;

	(void)n;
	for (i = 0; log_levels[i]; i++) {
		if (!strcmp(t[1].text, log_levels[i])) {
			p->cfg->log_level = prio[i];
			return;
		}
	}
	error_word(p, &t[1], k->name, "err, warning, notice, info or debug", log_levels);
}

static int parse_mark(const char *s, uint32_t *value, uint32_t *mask)
{
	const char *slash = strchr(s, '/');
	char buf[32];
	uint64_t v, m;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (parse_u64(buf, &v, NULL) || parse_u64(slash + 1, &m, NULL))
		return -EINVAL;
	if (v > UINT32_MAX || m > UINT32_MAX)
		return -ERANGE;
	*value = v;
	*mask = m;
	return 0;
}

static const char *const modes[] = { "auto", "flowtable", "mark", NULL };

static void key_mode(struct parser *p, const struct key *k, struct token *t, int n)
{
	struct pfd_config *cfg = p->cfg;
	uint32_t value, mask;
	int err;

	p->mode_line = p->line;
	p->mode_col = t[0].col;
	if (!strcmp(t[1].text, "flowtable")) {
		if (n > 2)
			config_error(p, t[2].col, k->name, "unexpected argument \"%s\"", t[2].text);
		cfg->mode = PFD_MODE_FLOWTABLE;
		return;
	}
	if (!strcmp(t[1].text, "auto")) {
		cfg->mode = PFD_MODE_AUTO;
	} else if (!strcmp(t[1].text, "mark")) {
		cfg->mode = PFD_MODE_MARK;
	} else {
		error_word(p, &t[1], k->name, "auto, flowtable or mark VALUE/MASK", modes);
		return;
	}

	if (n < 3) {
		/* auto may go without: it then needs nf_flow_table at run time */
		if (cfg->mode == PFD_MODE_MARK)
			config_error(p, t[1].col + strlen(t[1].text) + 1, k->name,
				     "mark: expected VALUE/MASK, e.g. \"mark 0x1/0x1\"");
		return;
	}
	err = parse_mark(t[2].text, &value, &mask);
	if (err == -ERANGE) {
		config_error(p, t[2].col, k->name, "mark: \"%s\" does not fit in 32 bits",
			     t[2].text);
		return;
	}
	if (err) {
		config_error(p, t[2].col, k->name, "mark: expected VALUE/MASK, got \"%s\"",
			     t[2].text);
		return;
	}
	if (!mask) {
		config_error(p, t[2].col, k->name,
			     "mark: a mask of 0 would match every connection");
		return;
	}
	if (value & ~mask) {
		config_error(p, t[2].col, k->name, "mark: value 0x%x has bits outside mask 0x%x",
			     value, mask);
		return;
	}
	cfg->mark_value = value;
	cfg->mark_mask = mask;
}

static const char *const attach_modes[] = { "auto", "native", "generic", "tc", NULL };

static void key_attach(struct parser *p, const struct key *k, struct token *t, int n)
{
	struct pfd_config *cfg = p->cfg;
	enum pfd_attach_mode mode = PFD_ATTACH_AUTO;
	struct pfd_iface *ifc;
	unsigned int i;

	if (!iface_name_valid(t[1].text)) {
		config_error(p, t[1].col, k->name, "\"%s\" is not a valid interface name",
			     t[1].text);
		return;
	}
	if (n > 2) {
		for (i = 0; attach_modes[i]; i++)
			if (!strcmp(t[2].text, attach_modes[i]))
				break;
		if (!attach_modes[i]) {
			error_word(p, &t[2], k->name, "auto, native, generic or tc", attach_modes);
			return;
		}
		mode = (enum pfd_attach_mode)i; /* same order as the enum */
	}
	for (i = 0; i < cfg->n_ifaces; i++) {
		if (!strcmp(cfg->ifaces[i].name, t[1].text)) {
			config_error(p, t[1].col, k->name, "%s already attached on line %u",
				     t[1].text, cfg->ifaces[i].line);
			return;
		}
	}
	if (cfg->n_ifaces >= sizeof(cfg->ifaces) / sizeof(cfg->ifaces[0])) {
		config_error(p, t[1].col, k->name, "too many devices (at most %zu)",
			     sizeof(cfg->ifaces) / sizeof(cfg->ifaces[0]));
		return;
	}
	ifc = &cfg->ifaces[cfg->n_ifaces++];
	snprintf(ifc->name, sizeof(ifc->name), "%s", t[1].text);
	ifc->mode = mode;
	ifc->line = p->line;
}

/* "ADDR[/LEN]" with host bits clear. On host bits set, canon gets the
 * prefix the user probably meant. */
static int parse_prefix(const char *s, struct pfd_prefix *pfx, char *canon, size_t clen)
{
	char buf[INET6_ADDRSTRLEN + 8], out[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned int i, max, len;
	uint64_t v;
	bool dirty = false;

	memset(pfx, 0, sizeof(*pfx));
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	if (slash)
		buf[slash - s] = '\0';
	if (inet_pton(AF_INET, buf, pfx->addr) == 1) {
		pfx->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, pfx->addr) == 1) {
		pfx->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	len = max;
	if (slash) {
		/* no hex, no sign: a prefix length is a small decimal */
		if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1))
			return -EINVAL;
		if (strlen(slash + 1) > 3 || parse_u64(slash + 1, &v, NULL) || v > max)
			return -ERANGE;
		len = v;
	}
	pfx->len = len;
	for (i = 0; i < max / 32; i++) {
		unsigned int bits = len > i * 32 ? len - i * 32 : 0;
		uint32_t mask = bits >= 32 ? 0xffffffffU : bits ? ~(0xffffffffU >> bits) : 0;
		uint32_t host = ntohl(pfx->addr[i]);

		if (host & ~mask) {
			dirty = true;
			pfx->addr[i] = htonl(host & mask);
		}
	}
	if (dirty) {
		inet_ntop(pfx->family, pfx->addr, out, sizeof(out));
		snprintf(canon, clen, "%s/%u", out, len);
		return -EDOM;
	}
	return 0;
}

/* One prefix argument; false after reporting why it is not one. expected
 * names what else the position could hold (for the message). */
static bool prefix_arg(struct parser *p, const struct key *k, const struct token *t,
		       struct pfd_prefix *pfx, const char *expected)
{
	char canon[INET6_ADDRSTRLEN + 8];
	int err = parse_prefix(t->text, pfx, canon, sizeof(canon));

	if (err == -EDOM)
		config_error(p, t->col, k->name, "%s has host bits set; did you mean %s?", t->text,
			     canon);
	else if (err == -ERANGE)
		config_error(p, t->col, k->name, "%s: prefix length out of range (0-%d)", t->text,
			     pfx->family == AF_INET ? 32 : 128);
	else if (err)
		config_error(p, t->col, k->name, "expected %s, got \"%s\"", expected, t->text);
	return !err;
}

static void key_prefix(struct parser *p, const struct key *k, struct token *t, int n)
{
	struct pfd_config *cfg = p->cfg;
	bool allow = !strcmp(k->name, "allow");
	struct pfd_prefix **list = allow ? &cfg->allow : &cfg->deny;
	unsigned int *count = allow ? &cfg->n_allow : &cfg->n_deny;
	unsigned int *cap = allow ? &p->n_allow_cap : &p->n_deny_cap;
	struct pfd_prefix pfx;
	int i;

	for (i = 1; i < n; i++) {
		if (!prefix_arg(p, k, &t[i], &pfx, "an IPv4 or IPv6 prefix"))
			continue;
		if (*count >= CONFIG_MAX_PREFIXES) {
			config_error(p, t[i].col, k->name, "too many prefixes (at most %d)",
				     CONFIG_MAX_PREFIXES);
			return;
		}
		if (*count == *cap) {
			unsigned int ncap = *cap ? *cap * 2 : 8;
			struct pfd_prefix *grown = reallocarray(*list, ncap, sizeof(**list));

			if (!grown) {
				config_error(p, t[i].col, k->name, "out of memory");
				return;
			}
			*list = grown;
			*cap = ncap;
		}
		(*list)[(*count)++] = pfx;
	}
}

/* An IPv4-mapped IPv6 prefix would sit in the IPv6 trie, where no IPv4
 * packet is looked up: refused, with the IPv4 spelling. */
static bool ipv4_mapped(struct parser *p, const struct key *k, const struct token *t,
			const struct pfd_prefix *pfx)
{
	struct in_addr v4 = { pfx->addr[3] };

	if (pfx->family != AF_INET6 || pfx->len < 96 || pfx->addr[0] || pfx->addr[1] ||
	    pfx->addr[2] != htonl(0xffff))
		return false;
	config_error(p, t->col, k->name, "%s is IPv4-mapped; write it as %s/%u", t->text,
		     inet_ntoa(v4), pfx->len - 96);
	return true;
}

/* block PREFIX... [dry-run] */
static void key_block(struct parser *p, const struct key *k, struct token *t, int n)
{
	struct pfd_config *cfg = p->cfg;
	char text[INET6_ADDRSTRLEN + 8];
	bool dry_run = n > 2 && !t[n - 1].quoted && !strcmp(t[n - 1].text, "dry-run");
	struct pfd_block_rule rule;
	unsigned int j;
	int i;

	if (dry_run)
		n--;
	for (i = 1; i < n; i++) {
		memset(&rule, 0, sizeof(rule));
		if (!prefix_arg(p, k, &t[i], &rule.prefix,
				"an IPv4 or IPv6 prefix, or dry-run last"))
			continue;
		if (ipv4_mapped(p, k, &t[i], &rule.prefix))
			continue;
		for (j = 0; j < cfg->n_block; j++) {
			const struct pfd_prefix *o = &cfg->block[j].prefix;

			if (o->family == rule.prefix.family && o->len == rule.prefix.len &&
			    !memcmp(o->addr, rule.prefix.addr, sizeof(o->addr)))
				break;
		}
		if (j < cfg->n_block) {
			pfd_prefix_format(&rule.prefix, text, sizeof(text));
			config_error(p, t[i].col, k->name, "%s is already blocked on line %u", text,
				     cfg->block[j].line);
			continue;
		}
		if (cfg->n_block >= PFD_MAX_BLOCKS) {
			config_error(p, t[i].col, k->name, "too many prefixes (at most %d)",
				     PFD_MAX_BLOCKS);
			return;
		}
		if (cfg->n_block == p->n_block_cap) {
			unsigned int ncap = p->n_block_cap ? p->n_block_cap * 2 : 8;
			struct pfd_block_rule *grown =
				reallocarray(cfg->block, ncap, sizeof(*cfg->block));

			if (!grown) {
				config_error(p, t[i].col, k->name, "out of memory");
				return;
			}
			cfg->block = grown;
			p->n_block_cap = ncap;
		}
		rule.dry_run = dry_run;
		rule.line = p->line;
		cfg->block[cfg->n_block++] = rule;
	}
}

/* One number of a syn-protect option; false after saying why not. */
static bool synp_number(struct parser *p, const struct key *k, const struct token *t,
			unsigned int col, const char *what, uint64_t lo, uint64_t hi, uint64_t *v)
{
	if (!t) {
		config_error(p, col, k->name, "%s needs a value", what);
		return false;
	}
	if (parse_u64(t->text, v, NULL) || *v < lo || *v > hi) {
		config_error(p, t->col, k->name, "%s: expected %llu-%llu, got \"%s\"", what,
			     (unsigned long long)lo, (unsigned long long)hi, t->text);
		return false;
	}
	return true;
}

/* syn-protect PREFIX... tcp PORT... [mss N] [wscale N] [timestamp] [sack-perm] [dry-run] */
static void key_syn_protect(struct parser *p, const struct key *k, struct token *t, int n)
{
	static const char *const words[] = { "mss",	  "wscale",  "timestamp",
					     "sack-perm", "dry-run", NULL };
	struct pfd_config *cfg = p->cfg;
	struct pfd_synp_rule rule = { .line = p->line };
	unsigned int j;
	uint64_t v;
	int i = 1;

	for (; i < n && (t[i].quoted || strcmp(t[i].text, "tcp")); i++) {
		struct pfd_prefix pfx;

		if (!prefix_arg(p, k, &t[i], &pfx, "a destination prefix, or tcp") ||
		    ipv4_mapped(p, k, &t[i], &pfx))
			return;
		for (j = 0; j < rule.n_prefixes; j++)
			if (!memcmp(&rule.prefixes[j], &pfx, sizeof(pfx)))
				break;
		/* A 15th prefix leaves no room for tcp PORT (15 arguments at
		 * most): not stored, the line is refused below for it. */
		if (j == rule.n_prefixes && rule.n_prefixes < PFD_SYNP_LINE_MAX)
			rule.prefixes[rule.n_prefixes++] = pfx;
	}
	if (!rule.n_prefixes) {
		config_error(p, t[1].col, k->name, "expected PREFIX... tcp PORT..., got \"%s\"",
			     t[1].text);
		return;
	}
	if (i == n) {
		config_error(p, t[n - 1].col, k->name, "expected tcp PORT... after the prefixes");
		return;
	}
	for (i++; i < n && isdigit((unsigned char)t[i].text[0]); i++) {
		if (!synp_number(p, k, &t[i], t[i].col, "port", 1, 65535, &v))
			return;
		for (j = 0; j < rule.n_ports; j++)
			if (rule.ports[j] == v)
				break;
		if (j == rule.n_ports)
			rule.ports[rule.n_ports++] = (uint16_t)v;
	}
	if (!rule.n_ports) {
		config_error(p, i < n ? t[i].col : t[n - 1].col, k->name,
			     "expected at least one port after tcp");
		return;
	}
	for (; i < n; i++) {
		if (t[i].quoted) {
			error_word(p, &t[i], k->name, "an option", words);
			return;
		}
		if (!strcmp(t[i].text, "mss")) {
			if (!synp_number(p, k, i + 1 < n ? &t[i + 1] : NULL, t[i].col, "mss", 1,
					 65535, &v))
				return;
			rule.mss = (uint16_t)v;
			rule.flags |= PFD_SYNP_F_MSS;
			i++;
		} else if (!strcmp(t[i].text, "wscale")) {
			if (!synp_number(p, k, i + 1 < n ? &t[i + 1] : NULL, t[i].col, "wscale", 0,
					 14, &v))
				return;
			rule.wscale = (uint8_t)v;
			rule.flags |= PFD_SYNP_F_WSCALE;
			i++;
		} else if (!strcmp(t[i].text, "timestamp")) {
			rule.flags |= PFD_SYNP_F_TIMESTAMP;
		} else if (!strcmp(t[i].text, "sack-perm")) {
			rule.flags |= PFD_SYNP_F_SACK_PERM;
		} else if (!strcmp(t[i].text, "dry-run")) {
			rule.dry_run = true;
		} else {
			error_word(p, &t[i], k->name,
				   "mss, wscale, timestamp, sack-perm or dry-run", words);
			return;
		}
	}
	rule.has_options = rule.flags != 0;
	if (cfg->n_synp >= PFD_MAX_SYNP_RULES) {
		config_error(p, t[0].col, k->name, "too many syn-protect lines (at most %d)",
			     PFD_MAX_SYNP_RULES);
		return;
	}
	/* The services of all lines together fill the tries. */
	v = (uint64_t)rule.n_prefixes * rule.n_ports;
	for (j = 0; j < cfg->n_synp; j++)
		v += (uint64_t)cfg->synp[j].n_prefixes * cfg->synp[j].n_ports;
	if (v > PFD_MAX_SYNP) {
		config_error(p, t[0].col, k->name,
			     "too many services (prefixes x ports of all lines: at most %d)",
			     PFD_MAX_SYNP);
		return;
	}
	/* A service on two lines would be answered by whichever came last. */
	for (j = 0; j < cfg->n_synp; j++) {
		const struct pfd_synp_rule *o = &cfg->synp[j];
		unsigned int a, b, c, d;

		for (a = 0; a < rule.n_prefixes; a++)
			for (b = 0; b < o->n_prefixes; b++) {
				if (memcmp(&rule.prefixes[a], &o->prefixes[b],
					   sizeof(rule.prefixes[a])))
					continue;
				for (c = 0; c < rule.n_ports; c++)
					for (d = 0; d < o->n_ports; d++) {
						char text[INET6_ADDRSTRLEN + 8];

						if (rule.ports[c] != o->ports[d])
							continue;
						pfd_prefix_format(&rule.prefixes[a], text,
								  sizeof(text));
						config_error(p, t[0].col, k->name,
							     "%s port %u is already protected on "
							     "line %u",
							     text, rule.ports[c], o->line);
						return;
					}
			}
	}
	{
		struct pfd_synp_rule *grown =
			reallocarray(cfg->synp, cfg->n_synp + 1, sizeof(*cfg->synp));

		if (!grown) {
			config_error(p, t[0].col, k->name, "out of memory");
			return;
		}
		cfg->synp = grown;
	}
	cfg->synp[cfg->n_synp++] = rule;
}

static const char *const booleans[] = { "on", "off", NULL };

static void key_bool(struct parser *p, const struct key *k, struct token *t, int n)
{
	bool *dst = field(p, k);

	(void)n;
	if (!strcmp(t[1].text, "on"))
		*dst = true;
	else if (!strcmp(t[1].text, "off"))
		*dst = false;
	else
		error_word(p, &t[1], k->name, "on or off", booleans);
}

static void key_duration(struct parser *p, const struct key *k, struct token *t, int n)
{
	char lo[32], hi[32];
	uint64_t ms;
	int err;

	(void)n;
	err = parse_duration_ms(t[1].text, &ms);
	if (err == -EINVAL) {
		config_error(p, t[1].col, k->name,
			     "expected a duration like 500ms, 5s or 2m, got \"%s\"", t[1].text);
		return;
	}
	if (err || ms < k->lo || ms > k->hi) {
		format_duration(k->lo, lo, sizeof(lo));
		format_duration(k->hi, hi, sizeof(hi));
		config_error(p, t[1].col, k->name, "%s is out of range (%s to %s)", t[1].text, lo,
			     hi);
		return;
	}
	*(uint32_t *)field(p, k) = ms;
	if (!strcmp(k->name, "heartbeat-limit"))
		p->limit_line = p->line;
	else if (!strcmp(k->name, "heartbeat-interval"))
		p->interval_line = p->line;
}

/* Counts and sizes; the field is uint32_t when hi fits, else uint64_t. */
static void key_number(struct parser *p, const struct key *k, struct token *t, int n)
{
	uint64_t v;
	int err;

	(void)n;
	err = parse_size(t[1].text, &v);
	if (err == -EINVAL) {
		config_error(p, t[1].col, k->name,
			     "expected a number, with k, M or G for sizes (1024-based), got \"%s\"",
			     t[1].text);
		return;
	}
	if (err || v < k->lo || v > k->hi) {
		config_error(p, t[1].col, k->name, "%s is out of range (%llu to %llu)", t[1].text,
			     (unsigned long long)k->lo, (unsigned long long)k->hi);
		return;
	}
	if (k->hi > UINT32_MAX)
		*(uint64_t *)field(p, k) = v;
	else
		*(uint32_t *)field(p, k) = v;
}

static void key_ratio(struct parser *p, const struct key *k, struct token *t, int n)
{
	const char *s = t[1].text;
	char *e;
	double v;

	(void)n;
	/* strtod() also takes "nan", "inf", hex floats and leading blanks */
	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		goto bad;
	errno = 0;
	v = strtod(s, &e);
	if (*e || errno || !isfinite(v))
		goto bad;
	if (v <= 0.0 || v > 1.0) {
		config_error(p, t[1].col, k->name, "%s is out of range (more than 0, at most 1)",
			     s);
		return;
	}
	p->cfg->breaker_ratio = v;
	return;
bad:
	config_error(p, t[1].col, k->name, "expected a ratio like 0.5, got \"%s\"", s);
}

#define OFF(f)	offsetof(struct pfd_config, f)
#define SECS(x) ((uint64_t)(x)*1000)

/* Order is the man page's; pfd_config_keys below must list the same names. */
static const struct key keys[] = {
	{ "bpffs", key_path, 1, 1, false, OFF(bpffs), 0, 0 },
	{ "state-dir", key_path, 1, 1, false, OFF(state_dir), 0, 0 },
	{ "log-level", key_log_level, 1, 1, false, 0, 0, 0 },
	{ "mode", key_mode, 1, 2, false, 0, 0, 0 },
	{ "attach", key_attach, 1, 2, true, 0, 0, 0 },
	{ "allow", key_prefix, 1, CONFIG_MAX_TOKENS - 1, true, 0, 0, 0 },
	{ "deny", key_prefix, 1, CONFIG_MAX_TOKENS - 1, true, 0, 0, 0 },
	{ "block", key_block, 1, CONFIG_MAX_TOKENS - 1, true, 0, 0, 0 },
	{ "syn-protect", key_syn_protect, 1, CONFIG_MAX_TOKENS - 1, true, 0, 0, 0 },
	{ "dry-run", key_bool, 1, 1, false, OFF(dry_run), 0, 0 },
	{ "min-packets", key_number, 1, 1, false, OFF(min_packets), 0, 1ULL << 32 },
	{ "heartbeat-interval", key_duration, 1, 1, false, OFF(heartbeat_interval_ms), 100,
	  SECS(60) },
	{ "heartbeat-limit", key_duration, 1, 1, false, OFF(heartbeat_limit_ms), SECS(1),
	  SECS(3600) },
	{ "refresh-interval", key_duration, 1, 1, false, OFF(refresh_interval_ms), SECS(1),
	  SECS(3600) },
	{ "reconcile-interval", key_duration, 1, 1, false, OFF(reconcile_interval_ms), SECS(1),
	  SECS(86400) },
	{ "flow-map-size", key_number, 1, 1, false, OFF(flow_map_size), 1024, 1U << 24 },
	{ "ct-event-buffer", key_number, 1, 1, false, OFF(ct_event_buffer), 64 << 10, 1U << 30 },
	{ "metrics-file", key_path, 1, 1, false, OFF(metrics_file), 0, 0 },
	{ "metrics-interval", key_duration, 1, 1, false, OFF(metrics_interval_ms), SECS(1),
	  SECS(3600) },
	{ "breaker-ratio", key_ratio, 1, 1, false, 0, 0, 0 },
	{ "breaker-window", key_duration, 1, 1, false, OFF(breaker_window_ms), SECS(1),
	  SECS(3600) },
	{ "breaker-min-packets", key_number, 1, 1, false, OFF(breaker_min_packets), 1, 1ULL << 40 },
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const char *const pfd_config_keys[] = {
	"bpffs",
	"state-dir",
	"log-level",
	"mode",
	"attach",
	"allow",
	"deny",
	"block",
	"syn-protect",
	"dry-run",
	"min-packets",
	"heartbeat-interval",
	"heartbeat-limit",
	"refresh-interval",
	"reconcile-interval",
	"flow-map-size",
	"ct-event-buffer",
	"metrics-file",
	"metrics-interval",
	"breaker-ratio",
	"breaker-window",
	"breaker-min-packets",
	NULL,
};

_Static_assert(sizeof(pfd_config_keys) / sizeof(pfd_config_keys[0]) == N_KEYS + 1,
	       "pfd_config_keys and keys[] disagree");
_Static_assert(N_KEYS <= sizeof(((struct parser *)0)->seen) / sizeof(unsigned int),
	       "parser.seen too small");

void pfd_config_defaults(struct pfd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->bpffs, sizeof(cfg->bpffs), "/sys/fs/bpf");
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/run/pfd");
	cfg->log_level = LOG_INFO;
	cfg->mode = PFD_MODE_AUTO;
	cfg->dry_run = false;
	cfg->min_packets = 0;
	cfg->heartbeat_interval_ms = 1000;
	cfg->heartbeat_limit_ms = 5000;
	cfg->refresh_interval_ms = 10000;
	cfg->reconcile_interval_ms = 30000;
	cfg->flow_map_size = PFD_MAX_FLOWS;
	cfg->ct_event_buffer = 8 << 20;
	snprintf(cfg->metrics_file, sizeof(cfg->metrics_file), "/run/pfd/metrics.prom");
	cfg->metrics_interval_ms = 15000;
	cfg->breaker_ratio = 0.5;
	cfg->breaker_window_ms = 10000;
	cfg->breaker_min_packets = 1000;
	cfg->egress = NULL;
}

/* Splits one line (NUL-terminated, modified in place) into tokens. A `#`
 * outside quotes starts a comment; "..." may hold blanks, \" and \\. */
static int tokenize(struct parser *p, char *line, struct token *t)
{
	char *s = line, *w;
	int n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == CONFIG_MAX_TOKENS) {
			config_error(p, s - line + 1, t[0].text, "too many arguments");
			return -1;
		}
		t[n].col = s - line + 1;
		t[n].quoted = *s == '"';
		if (t[n].quoted) {
			w = ++s;
			t[n].text = w;
			for (;;) {
				if (!*s) {
					config_error(p, t[n].col, n ? t[0].text : "syntax",
						     "unterminated string");
					return -1;
				}
				if (*s == '"')
					break;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*w++ = *s++;
			}
			s++;
			if (*s && *s != ' ' && *s != '\t' && *s != '#') {
				config_error(p, s - line + 1, n ? t[0].text : "syntax",
					     "expected a blank after the closing quote");
				return -1;
			}
			if (*s == '#')
				*s = '\0'; /* the comment starts here */
			else if (*s)
				s++;
			*w = '\0';
		} else {
			t[n].text = s;
			while (*s && *s != ' ' && *s != '\t' && *s != '#')
				s++;
			if (*s == '#') {
				*s = '\0'; /* "dry-run on#comment" */
				n++;
				return n;
			}
			if (*s)
				*s++ = '\0';
		}
		n++;
	}
}

/* The TC egress programs' keys (pfd/tc_egress.c). 1 if the line was theirs
 * (valid or reported), 0 if the key is nobody's. */
static int egress_line(struct parser *p, struct token *t, int n)
{
	char *args[CONFIG_MAX_TOKENS], err[256] = "";
	int i, ret;

	for (i = 1; i < n; i++) {
		if (t[i].quoted) {
			config_error(p, t[i].col, t[0].text, "unexpected quoted string");
			return 1;
		}
		args[i - 1] = t[i].text;
	}
	p->cfg->egress->line = p->line;
	ret = pfd_egress_config_line(p->cfg->egress, t[0].text, args, n - 1, err, sizeof(err));
	if (ret == 0)
		return 0;
	if (ret < 0)
		config_error(p, n > 1 ? t[1].col : t[0].col, t[0].text, "%s",
			     err[0] ? err : "invalid");
	return 1;
}

static void parse_line(struct parser *p, char *line)
{
	struct token t[CONFIG_MAX_TOKENS];
	const struct key *k = NULL;
	const char *near;
	unsigned int i;
	int n;

	n = tokenize(p, line, t);
	if (n <= 0)
		return;
	if (t[0].quoted) {
		config_error(p, t[0].col, t[0].text, "a key is a bare word, not a quoted string");
		return;
	}
	for (i = 0; i < N_KEYS; i++) {
		if (!strcmp(t[0].text, keys[i].name)) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		if (egress_line(p, t, n))
			return;
		near = nearest(t[0].text, pfd_config_keys);
		if (!near)
			near = nearest(t[0].text, pfd_egress_config_keys);
		if (near)
			config_error(p, t[0].col, t[0].text, "unknown key (did you mean \"%s\"?)",
				     near);
		else
			config_error(p, t[0].col, t[0].text, "unknown key");
		return;
	}
	if (n - 1 < k->min_args) {
		config_error(p, t[0].col + strlen(t[0].text) + 1, k->name, "missing value");
		return;
	}
	if (n - 1 > k->max_args) {
		config_error(p, t[k->max_args + 1].col, k->name, "unexpected argument \"%s\"",
			     t[k->max_args + 1].text);
		return;
	}
	for (i = 1; i < (unsigned int)n; i++) {
		/* only paths may be quoted (and may be empty) */
		if (t[i].quoted && k->fn != key_path) {
			config_error(p, t[i].col, k->name, "unexpected quoted string");
			return;
		}
	}
	if (!k->repeatable) {
		unsigned int *seen = &p->seen[k - keys];

		if (*seen) {
			config_error(p, t[0].col, k->name, "set twice (first on line %u)", *seen);
			return;
		}
		*seen = p->line;
	}
	k->fn(p, k, t, n);
}

/* Rules that involve more than one key; reported on the line that set the
 * later key, or at the mode line. */
static void check_whole(struct parser *p)
{
	struct pfd_config *cfg = p->cfg;
	char a[32], b[32], err[256] = "";
	unsigned int line = 0;

	if (cfg->heartbeat_limit_ms <= cfg->heartbeat_interval_ms) {
		format_duration(cfg->heartbeat_limit_ms, a, sizeof(a));
		format_duration(cfg->heartbeat_interval_ms, b, sizeof(b));
		p->line = p->limit_line ? p->limit_line : p->interval_line;
		config_error(p, 1, p->limit_line ? "heartbeat-limit" : "heartbeat-interval",
			     "heartbeat-limit (%s) must be longer than heartbeat-interval (%s)", a,
			     b);
	}
	if (pfd_egress_config_check(cfg->egress, &line, err, sizeof(err))) {
		char *sep = strstr(err, ": ");

		/* pfd/tc_egress.c's message starts with the key it is about */
		p->line = line;
		if (sep) {
			*sep = '\0';
			config_error(p, 1, err, "%s", sep + 2);
		} else {
			config_error(p, 1, "egress", "%s", err);
		}
	}
	if (cfg->mode == PFD_MODE_MARK && !cfg->n_ifaces) {
		p->line = p->mode_line;
		config_error(p, p->mode_col, "mode",
			     "mark mode needs at least one \"attach IFACE\" line");
	}
}

int pfd_config_parse(const char *name, const char *text, struct pfd_config **out)
{
	struct parser p = { .name = name };
	struct pfd_config *cfg;
	char *copy, *line, *next;
	size_t len = strlen(text);

	if (len > CONFIG_MAX_BYTES) {
		pr_err("%s: larger than %d bytes: not a pfd.conf", name, CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	cfg = malloc(sizeof(*cfg));
	copy = strdup(text);
	if (!cfg || !copy) {
		free(cfg);
		free(copy);
		pr_err("%s: out of memory", name);
		return -ENOMEM;
	}
	pfd_config_defaults(cfg);
	cfg->egress = malloc(sizeof(*cfg->egress));
	if (!cfg->egress) {
		free(cfg);
		free(copy);
		pr_err("%s: out of memory", name);
		return -ENOMEM;
	}
	pfd_egress_config_init(cfg->egress);
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	p.cfg = cfg;

	for (line = copy; line; line = next) {
		char *c;

		p.line++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		len = strlen(line);
		if (len && line[len - 1] == '\r') /* written on Windows */
			line[--len] = '\0';
		for (c = line; *c; c++) {
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				config_error(&p, c - line + 1, "syntax", "control character 0x%02x",
					     (unsigned char)*c);
				break;
			}
		}
		if (*c)
			continue;
		parse_line(&p, line);
	}
	check_whole(&p);
	free(copy);

	if (p.errors) {
		pfd_config_free(cfg);
		return -EINVAL;
	}
	*out = cfg;
	return 0;
}

int pfd_config_load(const char *path, struct pfd_config **out)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("%s: cannot open (%s)", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		pr_err("%s: cannot read (%s)", path, strerror(-err));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		pr_err("%s: not a regular file", path);
		goto err_close;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		err = -ENOMEM;
		pr_err("%s: out of memory", path);
		goto err_close;
	}
	/* Read one byte more than allowed to tell "too large" from "exactly". */
	while (len <= CONFIG_MAX_BYTES) {
		n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			pr_err("%s: cannot read (%s)", path, strerror(-err));
			goto err_free;
		}
		if (!n)
			break;
		len += n;
	}
	if (len > CONFIG_MAX_BYTES) {
		err = -EFBIG;
		pr_err("%s: larger than %d bytes: not a pfd.conf", path, CONFIG_MAX_BYTES);
		goto err_free;
	}
	if (memchr(buf, '\0', len)) {
		err = -EINVAL;
		pr_err("%s: contains a NUL byte: not a text file", path);
		goto err_free;
	}
	buf[len] = '\0';
	close(fd);
	err = pfd_config_parse(path, buf, out);
	free(buf);
	return err;

err_free:
	free(buf);
err_close:
	close(fd);
	return err;
}

void pfd_config_free(struct pfd_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->allow);
	free(cfg->deny);
	free(cfg->block);
	free(cfg->synp);
	free(cfg->egress);
	free(cfg);
}

void pfd_prefix_format(const struct pfd_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, p->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s/%u", addr, p->len);
}

bool pfd_prefix_match(const struct pfd_prefix *p, unsigned int n, int family, const __be32 *addr)
{
	unsigned int i, w;

	for (i = 0; i < n; i++) {
		unsigned int len = p[i].len;
		bool match = true;

		if (p[i].family != family)
			continue;
		for (w = 0; w < 4 && len; w++) {
			uint32_t mask = len >= 32 ? 0xffffffffU : ~(0xffffffffU >> len);

			if ((ntohl(addr[w]) & mask) != ntohl(p[i].addr[w])) {
				match = false;
				break;
			}
			len = len >= 32 ? len - 32 : 0;
		}
		if (match)
			return true;
	}
	return false;
}
