// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd.conf parser tests (pfd/config.c). Golden files: every
 * tests/fixtures/config/good/NAME.conf must load; every bad/NAME.conf must be
 * refused with exactly the messages of its leading "# expect: " lines, in
 * order, and leave the caller's config untouched. Then tables for values,
 * prefixes and defaults, the shipped examples, and a seeded random test that
 * the parser survives any input. Runs from the repository root (tests/run).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "pfd/config.h"
#include "../../pfd/tc_egress.h" /* the mss and jitter keys */

#define FIXTURES "tests/fixtures/config"

static struct pfd_config *const SENTINEL = (struct pfd_config *)0x5a5a;

/* ---- stderr capture: pr_err() writes there ---- */

static int saved_fd = -1;
static FILE *cap;

static void capture_begin(void)
{
	fflush(stderr);
	cap = tmpfile();
	saved_fd = dup(STDERR_FILENO);
	dup2(fileno(cap), STDERR_FILENO);
}

/* Returns what was written since capture_begin (malloc'd). */
static char *capture_end(void)
{
	long len;
	char *buf;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	len = ftell(cap);
	buf = calloc(1, len + 1);
	rewind(cap);
	if (len > 0 && fread(buf, 1, len, cap) != (size_t)len)
		buf[0] = '\0';
	fclose(cap);
	return buf;
}

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

static int list_dir(const char *dir, char names[][128], int max)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);

		if (len > 5 && len < 128 && !strcmp(de->d_name + len - 5, ".conf"))
			snprintf(names[n++], 128, "%s", de->d_name);
	}
	closedir(d);
	qsort(names, n, 128, (int (*)(const void *, const void *))strcmp);
	return n;
}

/* ---- golden files ---- */

static void test_good_files(void)
{
	char names[64][128], path[512], what[600];
	struct pfd_config *cfg;
	char *err;
	int i, n, rc;

	n = list_dir(FIXTURES "/good", names, 64);
	T_TRUE(n >= 4, "good fixtures present");
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), FIXTURES "/good/%.127s", names[i]);
		snprintf(what, sizeof(what), "good/%.127s loads", names[i]);
		cfg = NULL;
		capture_begin();
		rc = pfd_config_load(path, &cfg);
		err = capture_end();
		T_OK(rc, what);
		T_STR(err, "", what);
		T_TRUE(cfg != NULL, what);
		if (cfg)
			T_STR(cfg->path, path, what);
		pfd_config_free(cfg);
		free(err);
	}
}

/* Each "# expect: " line at the top of a bad file is one message. */
static void test_bad_file(const char *name)
{
	char *text, *log, *line, *next, *want[32], what[8400];
	struct pfd_config *cfg = SENTINEL;
	int n_want = 0, n_got = 0, rc;

	text = slurp(name);
	if (!text) {
		T_TRUE(0, name);
		return;
	}
	for (line = text; line && !strncmp(line, "# expect: ", 10) && n_want < 32; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		want[n_want++] = line + 10;
	}
	snprintf(what, sizeof(what), "bad/%s has expectations", name);
	T_TRUE(n_want > 0, what);

	capture_begin();
	rc = pfd_config_load(name, &cfg);
	log = capture_end();

	snprintf(what, sizeof(what), "bad/%s refused", name);
	T_EQ(rc, -EINVAL, what);
	snprintf(what, sizeof(what), "bad/%s: output untouched", name);
	T_TRUE(cfg == SENTINEL, what);

	for (line = log; line && *line; line = next) {
		char *at;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* the logger may put a prefix before the file name */
		at = strstr(line, name);
		snprintf(what, sizeof(what), "bad/%s message %d", name, n_got + 1);
		if (n_got < n_want)
			T_STR(at ? at : line, want[n_got], what);
		else
			T_STR(at ? at : line, "(no more messages expected)", what);
		n_got++;
	}
	snprintf(what, sizeof(what), "bad/%s: every error reported", name);
	T_EQ(n_got, n_want, what);
	free(log);
	free(text);
}

static void test_bad_files(void)
{
	char names[64][128], cwd[PATH_MAX];
	int i, n;

	/* Messages carry the path as given: load by base name from there. */
	if (!getcwd(cwd, sizeof(cwd)) || chdir(FIXTURES "/bad")) {
		T_TRUE(0, "chdir " FIXTURES "/bad");
		return;
	}
	n = list_dir(".", names, 64);
	T_TRUE(n >= 15, "bad fixtures present");
	for (i = 0; i < n; i++)
		test_bad_file(names[i]);
	T_OK(chdir(cwd), "chdir back");
}

/* ---- values ---- */

static struct pfd_config *parse_quiet(const char *text, int *rc)
{
	struct pfd_config *cfg = NULL;
	char *log;

	capture_begin();
	*rc = pfd_config_parse("t.conf", text, &cfg);
	log = capture_end();
	if (!*rc && *log)
		printf("unexpected output: %s", log);
	free(log);
	return cfg;
}

static void test_defaults(void)
{
	struct pfd_config d;
	struct pfd_config *cfg;
	int rc;

	pfd_config_defaults(&d);
	/* the values pfd/config.h's header comment and pfd.conf(5) promise */
	T_STR(d.bpffs, "/sys/fs/bpf", "default bpffs");
	T_STR(d.state_dir, "/run/pfd", "default state-dir");
	T_EQ(d.log_level, LOG_INFO, "default log-level");
	T_EQ(d.mode, PFD_MODE_AUTO, "default mode");
	T_EQ(d.n_ifaces, 0, "default attach");
	T_EQ(d.dry_run, false, "default dry-run");
	T_EQ(d.min_packets, 0, "default min-packets");
	T_EQ(d.heartbeat_interval_ms, 1000, "default heartbeat-interval");
	T_EQ(d.heartbeat_limit_ms, 5000, "default heartbeat-limit");
	T_EQ(d.refresh_interval_ms, 10000, "default refresh-interval");
	T_EQ(d.reconcile_interval_ms, 30000, "default reconcile-interval");
	T_EQ(d.flow_map_size, 262144, "default flow-map-size");
	T_EQ(d.ct_event_buffer, 8 << 20, "default ct-event-buffer");
	T_STR(d.metrics_file, "/run/pfd/metrics.prom", "default metrics-file");
	T_EQ(d.metrics_interval_ms, 15000, "default metrics-interval");
	T_TRUE(d.breaker_ratio == 0.5, "default breaker-ratio");
	T_EQ(d.breaker_window_ms, 10000, "default breaker-window");
	T_EQ(d.breaker_min_packets, 1000, "default breaker-min-packets");

	cfg = parse_quiet("", &rc);
	T_OK(rc, "empty text parses");
	T_TRUE(cfg && !memcmp(cfg->bpffs, d.bpffs, sizeof(d.bpffs)) &&
		       cfg->flow_map_size == d.flow_map_size && cfg->mode == d.mode,
	       "empty text gives the defaults");
	T_STR(cfg ? cfg->path : NULL, "t.conf", "path recorded");
	pfd_config_free(cfg);
}

/* The mss and jitter keys reach pfd/tc_egress.c and come back parsed. */
static void test_egress_keys(void)
{
	struct pfd_config *cfg = NULL, d;
	int rc;

	capture_begin();
	rc = pfd_config_load(FIXTURES "/good/egress.conf", &cfg);
	free(capture_end());
	T_OK(rc, "good/egress.conf");
	T_TRUE(cfg && cfg->egress, "egress settings allocated");
	if (!cfg || !cfg->egress)
		return;
	T_EQ(cfg->egress->n_mss, 3, "mss, mss-device, mss-prefix");
	T_EQ(cfg->egress->n_jit, 1, "jitter");
	T_EQ(cfg->egress->n_sel, 2, "jitter-prefix, jitter-port");
	T_EQ(cfg->egress->jit[0].line, 7, "jitter line recorded");
	pfd_config_free(cfg);

	pfd_config_defaults(&d);
	T_TRUE(d.egress == NULL, "defaults alone: no egress settings");
}

static void test_full(void)
{
	struct pfd_config *cfg = NULL;
	char a[INET6_ADDRSTRLEN];
	int rc;

	capture_begin();
	rc = pfd_config_load(FIXTURES "/good/full.conf", &cfg);
	free(capture_end());
	T_OK(rc, "full.conf");
	if (rc)
		return;
	T_STR(cfg->bpffs, "/mnt/pfd-bpf", "bpffs");
	T_STR(cfg->state_dir, "/run/pfd-test", "state-dir");
	T_EQ(cfg->log_level, LOG_DEBUG, "log-level");
	T_EQ(cfg->mode, PFD_MODE_MARK, "mode");
	T_EQ(cfg->mark_value, 0x10, "mark value");
	T_EQ(cfg->mark_mask, 0xf0, "mark mask");
	T_EQ(cfg->n_ifaces, 5, "attach count");
	T_STR(cfg->ifaces[0].name, "lan0", "attach 0 name");
	T_EQ(cfg->ifaces[0].mode, PFD_ATTACH_NATIVE, "attach native");
	T_EQ(cfg->ifaces[1].mode, PFD_ATTACH_GENERIC, "attach generic");
	T_EQ(cfg->ifaces[2].mode, PFD_ATTACH_TC, "attach tc");
	T_EQ(cfg->ifaces[3].mode, PFD_ATTACH_AUTO, "attach auto");
	T_EQ(cfg->ifaces[4].mode, PFD_ATTACH_AUTO, "attach without mode is auto");
	T_EQ(cfg->ifaces[0].line, 7, "attach line recorded");
	T_EQ(cfg->n_allow, 3, "allow count");
	T_EQ(cfg->allow[1].len, 25, "allow[1] length");
	T_STR(inet_ntop(AF_INET, cfg->allow[1].addr, a, sizeof(a)), "198.51.100.0", "allow[1]");
	T_EQ(cfg->allow[2].family, AF_INET6, "allow[2] family");
	T_EQ(cfg->n_deny, 2, "deny count");
	T_EQ(cfg->deny[0].len, 32, "address without length is a host prefix");
	T_EQ(cfg->deny[1].len, 64, "deny[1] length");
	T_EQ(cfg->n_block, 3, "block count");
	T_STR(inet_ntop(AF_INET, cfg->block[0].prefix.addr, a, sizeof(a)), "198.51.100.128",
	      "block[0]");
	T_EQ(cfg->block[0].prefix.len, 25, "block[0] length");
	T_EQ(cfg->block[0].dry_run, false, "block without dry-run drops");
	T_EQ(cfg->block[1].prefix.family, AF_INET6, "block[1] family");
	T_EQ(cfg->block[1].prefix.len, 48, "block[1] length");
	T_EQ(cfg->block[1].line, 16, "block line recorded");
	T_EQ(cfg->block[2].dry_run, true, "block ... dry-run");
	T_EQ(cfg->n_synp, 2, "syn-protect count");
	if (cfg->n_synp == 2) {
		const struct pfd_synp_rule *s0 = &cfg->synp[0], *s1 = &cfg->synp[1];

		T_EQ(s0->n_prefixes, 2, "syn-protect[0] prefixes");
		T_STR(inet_ntop(AF_INET, s0->prefixes[0].addr, a, sizeof(a)), "192.0.2.0",
		      "syn-protect[0] prefix 0");
		T_EQ(s0->prefixes[0].len, 24, "syn-protect[0] prefix 0 length");
		T_EQ(s0->prefixes[1].family, AF_INET6, "syn-protect[0] prefix 1 family");
		T_STR(inet_ntop(AF_INET6, s0->prefixes[1].addr, a, sizeof(a)),
		      "2001:db8:1::", "syn-protect[0] prefix 1");
		T_EQ(s0->prefixes[1].len, 48, "syn-protect[0] prefix 1 length");
		T_EQ(s0->n_ports, 2, "syn-protect[0] ports");
		T_EQ(s0->ports[0], 80, "syn-protect[0] port 0");
		T_EQ(s0->ports[1], 443, "syn-protect[0] port 1");
		T_EQ(s0->has_options, true, "syn-protect[0] has options");
		T_EQ(s0->flags,
		     PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_TIMESTAMP |
			     PFD_SYNP_F_SACK_PERM,
		     "syn-protect[0] flags");
		T_EQ(s0->mss, 1460, "syn-protect[0] mss");
		T_EQ(s0->wscale, 7, "syn-protect[0] wscale");
		T_EQ(s0->dry_run, false, "syn-protect[0] answers");
		T_EQ(s0->line, 18, "syn-protect[0] line recorded");
		T_EQ(s1->n_prefixes, 1, "syn-protect[1] prefixes");
		T_EQ(s1->prefixes[0].len, 32, "syn-protect[1] address without length");
		T_EQ(s1->n_ports, 1, "syn-protect[1] ports");
		T_EQ(s1->ports[0], 22, "syn-protect[1] port");
		T_EQ(s1->has_options, false, "syn-protect[1] takes the ruleset's options");
		T_EQ(s1->flags, 0, "syn-protect[1] no flags");
		T_EQ(s1->dry_run, true, "syn-protect[1] dry-run");
		T_EQ(s1->line, 19, "syn-protect[1] line recorded");
	}
	T_EQ(cfg->dry_run, true, "dry-run");
	T_EQ(cfg->min_packets, 16, "min-packets");
	T_EQ(cfg->heartbeat_interval_ms, 250, "heartbeat-interval ms");
	T_EQ(cfg->heartbeat_limit_ms, 3000, "heartbeat-limit s");
	T_EQ(cfg->refresh_interval_ms, 120000, "refresh-interval m");
	T_EQ(cfg->reconcile_interval_ms, 3600000, "reconcile-interval h");
	T_EQ(cfg->flow_map_size, 65536, "flow-map-size k");
	T_EQ(cfg->ct_event_buffer, 16 << 20, "ct-event-buffer M");
	T_STR(cfg->metrics_file, "/var/lib/node exporter/pfd.prom", "quoted path with a blank");
	T_EQ(cfg->metrics_interval_ms, 30000, "bare duration is seconds");
	T_TRUE(cfg->breaker_ratio == 0.25, "breaker-ratio");
	T_EQ(cfg->breaker_window_ms, 20000, "breaker-window");
	T_EQ(cfg->breaker_min_packets, 0x200, "hex number");
	pfd_config_free(cfg);
}

/* One valid line per key: every key pfd_config_keys lists is parseable,
 * and each key appears here (so a new key needs a row). */
static const struct {
	const char *key, *line;
} key_rows[] = {
	{ "bpffs", "bpffs /sys/fs/bpf" },
	{ "state-dir", "state-dir /run/pfd" },
	{ "log-level", "log-level notice" },
	{ "mode", "mode flowtable" },
	{ "attach", "attach eth9 generic" },
	{ "allow", "allow 2001:db8::/32" },
	{ "deny", "deny 192.0.2.0/24" },
	{ "block", "block 192.0.2.0/24 2001:db8::/32 dry-run" },
	{ "syn-protect", "syn-protect 192.0.2.0/24 tcp 80" },
	{ "dry-run", "dry-run on" },
	{ "min-packets", "min-packets 100" },
	{ "heartbeat-interval", "heartbeat-interval 500ms" },
	{ "heartbeat-limit", "heartbeat-limit 10s" },
	{ "refresh-interval", "refresh-interval 5s" },
	{ "reconcile-interval", "reconcile-interval 1m" },
	{ "flow-map-size", "flow-map-size 1M" },
	{ "ct-event-buffer", "ct-event-buffer 512k" },
	{ "metrics-file", "metrics-file \"\"" },
	{ "metrics-interval", "metrics-interval 1m" },
	{ "breaker-ratio", "breaker-ratio 1" },
	{ "breaker-window", "breaker-window 1m" },
	{ "breaker-min-packets", "breaker-min-packets 10" },
};

static void test_every_key(void)
{
	unsigned int i, j, nkeys = 0;
	char what[128], typo[64];
	struct pfd_config *cfg;
	char *log;
	int rc;

	for (i = 0; pfd_config_keys[i]; i++) {
		bool found = false;

		nkeys++;
		for (j = 0; j < sizeof(key_rows) / sizeof(key_rows[0]); j++) {
			if (strcmp(key_rows[j].key, pfd_config_keys[i]))
				continue;
			found = true;
			cfg = parse_quiet(key_rows[j].line, &rc);
			snprintf(what, sizeof(what), "key %s parses", pfd_config_keys[i]);
			T_OK(rc, what);
			pfd_config_free(cfg);
		}
		snprintf(what, sizeof(what), "key %s has a test row", pfd_config_keys[i]);
		T_TRUE(found, what);

		/* a one-letter typo gets the key suggested */
		snprintf(typo, sizeof(typo), "%s", pfd_config_keys[i] + 1);
		if (strlen(typo) < 4)
			continue;
		snprintf(what, sizeof(what), "%s 1", typo);
		cfg = SENTINEL;
		capture_begin();
		rc = pfd_config_parse("t.conf", what, &cfg);
		log = capture_end();
		snprintf(what, sizeof(what), "\"%s\" suggests %s", typo, pfd_config_keys[i]);
		snprintf(typo, sizeof(typo), "(did you mean \"%s\"?)", pfd_config_keys[i]);
		T_TRUE(rc == -EINVAL && cfg == SENTINEL && strstr(log, typo), what);
		free(log);
	}
	T_EQ(nkeys, sizeof(key_rows) / sizeof(key_rows[0]), "one row per key");
}

static void test_too_many_devices(void)
{
	char text[64 * 32] = "mode mark 0x1/0x1\n", line[32];
	struct pfd_config *cfg;
	int i, rc;

	for (i = 0; i < PFD_MAX_DEVS - 1; i++) {
		snprintf(line, sizeof(line), "attach veth%d\n", i);
		strcat(text, line);
	}
	cfg = parse_quiet(text, &rc);
	T_OK(rc, "63 devices accepted");
	T_EQ(cfg ? cfg->n_ifaces : 0, PFD_MAX_DEVS - 1, "63 devices stored");
	pfd_config_free(cfg);

	strcat(text, "attach one-more\n");
	cfg = parse_quiet(text, &rc);
	T_EQ(rc, -EINVAL, "64th device refused");
	T_TRUE(cfg == NULL, "nothing returned");
}

static void test_load_errors(void)
{
	char path[] = "/tmp/pfd-test-config-XXXXXX";
	struct pfd_config *cfg = SENTINEL;
	char *log, *big;
	int fd, rc;

	capture_begin();
	rc = pfd_config_load("/nonexistent/pfd.conf", &cfg);
	log = capture_end();
	T_EQ(rc, -ENOENT, "missing file");
	T_TRUE(strstr(log, "/nonexistent/pfd.conf: cannot open") != NULL, "missing file message");
	T_TRUE(cfg == SENTINEL, "missing file: output untouched");
	free(log);

	capture_begin();
	rc = pfd_config_load("/tmp", &cfg);
	free(capture_end());
	T_EQ(rc, -EISDIR, "directory refused");

	fd = mkstemp(path);
	T_TRUE(fd >= 0, "mkstemp");
	if (fd < 0)
		return;
	T_EQ(write(fd, "mode flowtable\n\0x\n", 18), 18, "write NUL file");
	capture_begin();
	rc = pfd_config_load(path, &cfg);
	free(capture_end());
	T_EQ(rc, -EINVAL, "NUL byte refused");

	big = malloc((1 << 20) + 2);
	memset(big, '#', (1 << 20) + 1);
	T_OK(ftruncate(fd, 0), "truncate");
	T_EQ(pwrite(fd, big, (1 << 20) + 1, 0), (1 << 20) + 1, "write big file");
	capture_begin();
	rc = pfd_config_load(path, &cfg);
	free(capture_end());
	T_EQ(rc, -EFBIG, "oversized file refused");
	T_TRUE(cfg == SENTINEL, "oversized: output untouched");
	free(big);
	close(fd);
	unlink(path);
}

static const struct {
	const char *prefix, *addr;
	bool match;
} match_rows[] = {
	{ "192.0.2.0/24", "192.0.2.77", true },
	{ "192.0.2.0/24", "192.0.3.1", false },
	{ "192.0.2.128/25", "192.0.2.127", false },
	{ "192.0.2.128/25", "192.0.2.255", true },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "0.0.0.0/0", "2001:db8::1", false },
	{ "203.0.113.7", "203.0.113.7", true },
	{ "203.0.113.7", "203.0.113.6", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8:0:8000::/49", "2001:db8:0:8001::1", true },
	{ "2001:db8:0:8000::/49", "2001:db8:0:7fff::1", false },
	{ "2001:db8::1/128", "2001:db8::1", true },
	{ "2001:db8::1/128", "2001:db8::2", false },
	{ "::/0", "2001:db8::2", true },
	{ "::/0", "192.0.2.1", false },
};

static void test_prefix_match(void)
{
	char text[128], what[160];
	struct pfd_config *cfg;
	unsigned int i;
	__be32 addr[4];
	int family, rc;

	for (i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
		snprintf(text, sizeof(text), "allow %s", match_rows[i].prefix);
		cfg = parse_quiet(text, &rc);
		snprintf(what, sizeof(what), "%s matches %s: %s", match_rows[i].prefix,
			 match_rows[i].addr, match_rows[i].match ? "yes" : "no");
		if (rc || !cfg) {
			T_TRUE(0, what);
			continue;
		}
		memset(addr, 0, sizeof(addr));
		family = strchr(match_rows[i].addr, ':') ? AF_INET6 : AF_INET;
		inet_pton(family, match_rows[i].addr, addr);
		T_EQ(pfd_prefix_match(cfg->allow, cfg->n_allow, family, addr), match_rows[i].match,
		     what);
		pfd_config_free(cfg);
	}
	T_EQ(pfd_prefix_match(NULL, 0, AF_INET, addr), false, "empty list matches nothing");
}

/* ---- syn-protect ---- */

static void check_prefix(const struct pfd_prefix *p, const char *addr, unsigned int len,
			 const char *what)
{
	struct pfd_prefix want = { .len = len };
	char name[160];

	want.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	inet_pton(want.family, addr, want.addr);
	snprintf(name, sizeof(name), "%s: %s/%u", what, addr, len);
	T_BYTES(p, sizeof(*p), &want, sizeof(want), name);
}

static void test_synp_accepted(void)
{
	static const char text[] =
		"syn-protect 192.0.2.0/24 198.51.100.7 2001:db8:1::/48 ::/0 tcp 80 443 8080\n"
		"# prefixes of both families, several ports\n"
		"syn-protect 203.0.113.0/24 tcp 22 mss 1460 wscale 7 timestamp sack-perm\n"
		"syn-protect 2001:db8:2::/64 tcp 25 dry-run\n"
		"syn-protect 192.0.2.0/24 192.0.2.0/24 0.0.0.0/0 tcp 53 53 1 65535 53 "
		"timestamp dry-run wscale 0 mss 65535\n"
		"syn-protect 192.0.2.0/25 tcp 80 sack-perm\n"
		"syn-protect 192.0.2.0/24 tcp 81 wscale 14\n";
	const struct pfd_synp_rule *r;
	struct pfd_config *cfg;
	int rc;

	cfg = parse_quiet(text, &rc);
	T_OK(rc, "syn-protect lines accepted");
	if (rc || !cfg)
		return;
	T_EQ(cfg->n_synp, 6, "six syn-protect lines");
	if (cfg->n_synp != 6) {
		pfd_config_free(cfg);
		return;
	}

	r = &cfg->synp[0];
	T_EQ(r->line, 1, "line 1: line");
	T_EQ(r->n_prefixes, 4, "line 1: four prefixes");
	check_prefix(&r->prefixes[0], "192.0.2.0", 24, "line 1 prefix 0");
	check_prefix(&r->prefixes[1], "198.51.100.7", 32, "line 1 prefix 1");
	check_prefix(&r->prefixes[2], "2001:db8:1::", 48, "line 1 prefix 2");
	check_prefix(&r->prefixes[3], "::", 0, "line 1 prefix 3");
	T_EQ(r->n_ports, 3, "line 1: three ports");
	T_TRUE(r->ports[0] == 80 && r->ports[1] == 443 && r->ports[2] == 8080,
	       "line 1: ports 80 443 8080 in order");
	T_EQ(r->has_options, false, "line 1: no options");
	T_TRUE(r->flags == 0 && r->mss == 0 && r->wscale == 0, "line 1: flags, mss, wscale 0");
	T_EQ(r->dry_run, false, "line 1: answers");

	r = &cfg->synp[1];
	T_EQ(r->line, 3, "line 3: line (after a comment)");
	T_EQ(r->n_prefixes, 1, "line 3: one prefix");
	check_prefix(&r->prefixes[0], "203.0.113.0", 24, "line 3 prefix");
	T_TRUE(r->n_ports == 1 && r->ports[0] == 22, "line 3: port 22");
	T_EQ(r->has_options, true, "line 3: options");
	T_EQ(r->flags,
	     PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_TIMESTAMP | PFD_SYNP_F_SACK_PERM,
	     "line 3: all four options");
	T_EQ(r->mss, 1460, "line 3: mss");
	T_EQ(r->wscale, 7, "line 3: wscale");
	T_EQ(r->dry_run, false, "line 3: answers");

	r = &cfg->synp[2];
	T_EQ(r->line, 4, "line 4: line");
	check_prefix(&r->prefixes[0], "2001:db8:2::", 64, "line 4 prefix");
	T_TRUE(r->n_prefixes == 1 && r->n_ports == 1 && r->ports[0] == 25, "line 4: port 25");
	T_EQ(r->dry_run, true, "line 4: dry-run");
	T_EQ(r->has_options, false, "line 4: dry-run is not an option of the SYN-ACK");
	T_EQ(r->flags, 0, "line 4: no flags");

	r = &cfg->synp[3];
	T_EQ(r->line, 5, "line 5: line");
	T_EQ(r->n_prefixes, 2, "line 5: a repeated prefix counts once");
	check_prefix(&r->prefixes[0], "192.0.2.0", 24, "line 5 prefix 0");
	check_prefix(&r->prefixes[1], "0.0.0.0", 0, "line 5 prefix 1");
	T_EQ(r->n_ports, 3, "line 5: a repeated port counts once");
	T_TRUE(r->ports[0] == 53 && r->ports[1] == 1 && r->ports[2] == 65535,
	       "line 5: ports 53 1 65535, first occurrence order");
	T_EQ(r->dry_run, true, "line 5: dry-run among the options");
	T_EQ(r->has_options, true, "line 5: options");
	T_EQ(r->flags, PFD_SYNP_F_TIMESTAMP | PFD_SYNP_F_WSCALE | PFD_SYNP_F_MSS,
	     "line 5: timestamp, wscale, mss in any order");
	T_EQ(r->wscale, 0, "line 5: wscale 0 is a value");
	T_EQ(r->mss, 65535, "line 5: mss 65535");

	r = &cfg->synp[4];
	T_EQ(r->line, 6, "line 6: line");
	check_prefix(&r->prefixes[0], "192.0.2.0", 25,
		     "line 6: /25 inside line 1's /24, same port");
	T_TRUE(r->n_ports == 1 && r->ports[0] == 80, "line 6: port 80");
	T_EQ(r->has_options, true, "line 6: sack-perm alone is an option");
	T_EQ(r->flags, PFD_SYNP_F_SACK_PERM, "line 6: sack-perm only");
	T_TRUE(r->mss == 0 && r->wscale == 0, "line 6: mss, wscale unset");

	r = &cfg->synp[5];
	T_EQ(r->line, 7, "line 7: line");
	check_prefix(&r->prefixes[0], "192.0.2.0", 24, "line 7: line 1's prefix, another port");
	T_TRUE(r->n_ports == 1 && r->ports[0] == 81, "line 7: port 81");
	T_EQ(r->flags, PFD_SYNP_F_WSCALE, "line 7: wscale only");
	T_EQ(r->wscale, 14, "line 7: wscale 14");
	T_EQ(r->mss, 0, "line 7: mss unset");
	pfd_config_free(cfg);
}

/* Parses text, which must be refused with exactly one message: want, from
 * the file name on. */
static void synp_refused(const char *text, const char *want)
{
	struct pfd_config *cfg = SENTINEL;
	char what[512], *log, *at, *nl;
	int rc;

	capture_begin();
	rc = pfd_config_parse("t.conf", text, &cfg);
	log = capture_end();
	snprintf(what, sizeof(what), "refused: %.400s", want);
	T_EQ(rc, -EINVAL, what);
	T_TRUE(cfg == SENTINEL, what);
	at = strstr(log, "t.conf:");
	nl = at ? strchr(at, '\n') : NULL;
	T_TRUE(nl && !nl[1] && strchr(log, '\n') == nl, what); /* one message, no other */
	if (nl)
		*nl = '\0';
	T_STR(at, want, what);
	free(log);
}

static void test_synp_refused(void)
{
	static const struct {
		const char *text, *want;
	} rows[] = {
		{ "syn-protect", "t.conf:1:13: syn-protect: missing value" },
		{ "syn-protect tcp 80",
		  "t.conf:1:13: syn-protect: expected PREFIX... tcp PORT..., got \"tcp\"" },
		{ "syn-protect dry-run", "t.conf:1:13: syn-protect: expected a destination prefix, "
					 "or tcp, got \"dry-run\"" },
		{ "syn-protect 192.0.2.0/24 2001:db8::/32",
		  "t.conf:1:26: syn-protect: expected tcp PORT... after the prefixes" },
		{ "syn-protect 192.0.2.0/24 80",
		  "t.conf:1:26: syn-protect: expected a destination prefix, or tcp, got \"80\"" },
		{ "syn-protect 192.0.2.0/24 TCP 80",
		  "t.conf:1:26: syn-protect: expected a destination prefix, or tcp, got \"TCP\"" },
		{ "syn-protect 192.0.2.0/24 udp 53",
		  "t.conf:1:26: syn-protect: expected a destination prefix, or tcp, got \"udp\"" },
		{ "syn-protect 192.0.2.0/24 tcp",
		  "t.conf:1:26: syn-protect: expected at least one port after tcp" },
		{ "syn-protect ::ffff:192.0.2.0/120 tcp 80",
		  "t.conf:1:13: syn-protect: ::ffff:192.0.2.0/120 is IPv4-mapped; write it as "
		  "192.0.2.0/24" },
		{ "syn-protect 192.0.2.0/24 tcp dry-run",
		  "t.conf:1:30: syn-protect: expected at least one port after tcp" },
		{ "syn-protect 192.0.2.0/24 tcp 0",
		  "t.conf:1:30: syn-protect: port: expected 1-65535, got \"0\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 65536",
		  "t.conf:1:33: syn-protect: port: expected 1-65535, got \"65536\"" },
		{ "syn-protect 192.0.2.0/24 tcp 99999999999999999999999",
		  "t.conf:1:30: syn-protect: port: expected 1-65535, got "
		  "\"99999999999999999999999\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80x",
		  "t.conf:1:30: syn-protect: port: expected 1-65535, got \"80x\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 timestmp",
		  "t.conf:1:33: syn-protect: expected mss, wscale, timestamp, sack-perm or "
		  "dry-run, "
		  "got \"timestmp\" (did you mean \"timestamp\"?)" },
		{ "syn-protect 192.0.2.0/24 tcp 80 sack",
		  "t.conf:1:33: syn-protect: expected mss, wscale, timestamp, sack-perm or "
		  "dry-run, "
		  "got \"sack\" (did you mean \"sack-perm\"?)" },
		{ "syn-protect 192.0.2.0/24 tcp 80 mss 1460 dryrun",
		  "t.conf:1:42: syn-protect: expected mss, wscale, timestamp, sack-perm or "
		  "dry-run, "
		  "got \"dryrun\" (did you mean \"dry-run\"?)" },
		{ "syn-protect 192.0.2.0/24 tcp 80 drop",
		  "t.conf:1:33: syn-protect: expected mss, wscale, timestamp, sack-perm or "
		  "dry-run, "
		  "got \"drop\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 tcp 443",
		  "t.conf:1:33: syn-protect: expected mss, wscale, timestamp, sack-perm or "
		  "dry-run, "
		  "got \"tcp\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 mss",
		  "t.conf:1:33: syn-protect: mss needs a value" },
		{ "syn-protect 192.0.2.0/24 tcp 80 mss 0",
		  "t.conf:1:37: syn-protect: mss: expected 1-65535, got \"0\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 mss 65536",
		  "t.conf:1:37: syn-protect: mss: expected 1-65535, got \"65536\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 mss timestamp",
		  "t.conf:1:37: syn-protect: mss: expected 1-65535, got \"timestamp\"" },
		{ "syn-protect 192.0.2.0/24 tcp 80 timestamp wscale",
		  "t.conf:1:43: syn-protect: wscale needs a value" },
		{ "syn-protect 192.0.2.0/24 tcp 80 wscale 15",
		  "t.conf:1:40: syn-protect: wscale: expected 0-14, got \"15\"" },
		{ "syn-protect 192.0.2.1/24 tcp 80",
		  "t.conf:1:13: syn-protect: 192.0.2.1/24 has host bits set; did you mean "
		  "192.0.2.0/24?" },
		{ "syn-protect 198.51.100.0/24 2001:db8::1/64 tcp 80",
		  "t.conf:1:29: syn-protect: 2001:db8::1/64 has host bits set; did you mean "
		  "2001:db8::/64?" },
		{ "syn-protect 192.0.2.0/33 tcp 80",
		  "t.conf:1:13: syn-protect: 192.0.2.0/33: prefix length out of range (0-32)" },
		{ "syn-protect 192.0.2.0/24 tcp 80 443\n"
		  "syn-protect 198.51.100.0/24 192.0.2.0/24 tcp 22 443",
		  "t.conf:2:1: syn-protect: 192.0.2.0/24 port 443 is already protected on line 1" },
		{ "syn-protect 2001:db8::/32 tcp 80\n"
		  "\n"
		  "syn-protect 2001:db8::/32 tcp 80 dry-run",
		  "t.conf:3:1: syn-protect: 2001:db8::/32 port 80 is already protected on line 1" },
		{ "syn-protect \"192.0.2.0/24\" tcp 80",
		  "t.conf:1:13: syn-protect: unexpected quoted string" },
		{ "syn-protect 192.0.2.0/24 \"tcp\" 80",
		  "t.conf:1:26: syn-protect: unexpected quoted string" },
		{ "syn-protect 192.0.2.0/24 tcp \"80\"",
		  "t.conf:1:30: syn-protect: unexpected quoted string" },
		{ "syn-protect 192.0.2.0/24 tcp 80 \"dry-run\"",
		  "t.conf:1:33: syn-protect: unexpected quoted string" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		synp_refused(rows[i].text, rows[i].want);
}

/* A line holds at most 15 arguments: prefixes + tcp + ports + options. */
static void test_synp_line_length(void)
{
	char text[512], want[128];
	struct pfd_config *cfg;
	size_t len;
	int i, rc, col;

	/* 13 prefixes and a port: the most prefixes a line can have */
	len = snprintf(text, sizeof(text), "syn-protect");
	for (i = 1; i <= 13; i++)
		len += snprintf(text + len, sizeof(text) - len, " 10.0.0.%d", i);
	snprintf(text + len, sizeof(text) - len, " tcp 80");
	cfg = parse_quiet(text, &rc);
	T_OK(rc, "13 prefixes, tcp, one port: accepted");
	T_TRUE(cfg && cfg->n_synp == 1 && cfg->synp[0].n_prefixes == 13 &&
		       cfg->synp[0].prefixes[12].addr[0] == htonl(0x0a00000d) &&
		       cfg->synp[0].n_ports == 1,
	       "13 prefixes stored");
	pfd_config_free(cfg);

	/* a prefix, tcp and 13 ports */
	len = snprintf(text, sizeof(text), "syn-protect 192.0.2.0/24 tcp");
	for (i = 1; i <= 13; i++)
		len += snprintf(text + len, sizeof(text) - len, " %d", 1000 + i);
	cfg = parse_quiet(text, &rc);
	T_OK(rc, "one prefix, tcp, 13 ports: accepted");
	T_TRUE(cfg && cfg->n_synp == 1 && cfg->synp[0].n_ports == 13 &&
		       cfg->synp[0].ports[12] == 1013,
	       "13 ports stored");
	pfd_config_free(cfg);

	/* 16 arguments: the tokenizer's limit, at the 16th */
	len = snprintf(text, sizeof(text), "syn-protect");
	for (i = 1; i <= 13; i++)
		len += snprintf(text + len, sizeof(text) - len, " 10.0.0.%d", i);
	col = (int)len + 2 + 7; /* " tcp 80 " then 443 */
	snprintf(text + len, sizeof(text) - len, " tcp 80 443");
	snprintf(want, sizeof(want), "t.conf:1:%d: syn-protect: too many arguments", col);
	synp_refused(text, want);

	/* 15 prefixes and no tcp: refused for the missing tcp (and no room
	 * for more than 14 prefixes is needed to say so) */
	len = snprintf(text, sizeof(text), "syn-protect");
	for (i = 1; i <= 15; i++) {
		col = (int)len + 2;
		len += snprintf(text + len, sizeof(text) - len, " 10.0.0.%d", i);
	}
	snprintf(want, sizeof(want),
		 "t.conf:1:%d: syn-protect: expected tcp PORT... after the prefixes", col);
	synp_refused(text, want);

	/* 14 prefixes, tcp, no port */
	len = snprintf(text, sizeof(text), "syn-protect");
	for (i = 1; i <= 14; i++)
		len += snprintf(text + len, sizeof(text) - len, " 2001:db8::%x", i);
	col = (int)len + 2;
	snprintf(text + len, sizeof(text) - len, " tcp");
	snprintf(want, sizeof(want),
		 "t.conf:1:%d: syn-protect: expected at least one port after tcp", col);
	synp_refused(text, want);
}

/* At most 64 lines; services (prefixes x ports) at most 4096 in all. */
static void test_synp_limits(void)
{
	static char text[64 * 160 + 128];
	struct pfd_config *cfg;
	unsigned int services = 0, j;
	size_t len = 0;
	int i, k, rc;

	for (i = 0; i < PFD_MAX_SYNP_RULES; i++)
		len += snprintf(text + len, sizeof(text) - len, "syn-protect 10.%d.0.0/16 tcp 80\n",
				i);
	cfg = parse_quiet(text, &rc);
	T_OK(rc, "64 syn-protect lines accepted");
	T_EQ(cfg ? cfg->n_synp : 0, 64, "64 lines stored");
	T_EQ(cfg && cfg->n_synp == 64 ? cfg->synp[63].line : 0, 64, "the last one's line");
	pfd_config_free(cfg);
	snprintf(text + len, sizeof(text) - len, "syn-protect 192.0.2.0/24 tcp 80\n");
	synp_refused(text, "t.conf:65:1: syn-protect: too many syn-protect lines (at most 64)");

	/* The most a line holds is 7 prefixes x 7 ports (15 arguments), so
	 * 64 lines hold at most 3136 services: the parser's 4096 limit cannot
	 * be reached from a file (pfd_synp_sync's is tested in tests/bpf). */
	len = 0;
	for (i = 0; i < PFD_MAX_SYNP_RULES; i++) {
		len += snprintf(text + len, sizeof(text) - len, "syn-protect");
		for (k = 1; k <= 7; k++)
			len += snprintf(text + len, sizeof(text) - len, " 10.%d.%d.0/24", i, k);
		len += snprintf(text + len, sizeof(text) - len, " tcp 1 2 3 4 5 6 7\n");
	}
	cfg = parse_quiet(text, &rc);
	T_OK(rc, "64 lines of 7 prefixes x 7 ports accepted");
	for (j = 0; cfg && j < cfg->n_synp; j++)
		services += cfg->synp[j].n_prefixes * cfg->synp[j].n_ports;
	T_EQ(services, 64 * 49, "3136 services stored");
	pfd_config_free(cfg);
}

static void test_examples(void)
{
	struct pfd_config *cfg = NULL;
	char *log;
	int rc;

	capture_begin();
	rc = pfd_config_load("examples/pfd.conf.mark", &cfg);
	log = capture_end();
	T_OK(rc, "examples/pfd.conf.mark loads");
	T_STR(log, "", "examples/pfd.conf.mark: no message");
	T_EQ(cfg ? (int)cfg->mode : -1, PFD_MODE_MARK, "examples/pfd.conf.mark: mark mode");
	T_TRUE(cfg && cfg->n_ifaces >= 2, "examples/pfd.conf.mark: devices");
	pfd_config_free(cfg);
	free(log);

	cfg = NULL;
	capture_begin();
	rc = pfd_config_load("examples/pfd.conf.block", &cfg);
	log = capture_end();
	T_OK(rc, "examples/pfd.conf.block loads");
	T_STR(log, "", "examples/pfd.conf.block: no message");
	T_EQ(cfg ? cfg->n_block : 0, 3, "examples/pfd.conf.block: three block prefixes");
	T_TRUE(cfg && !cfg->block[0].dry_run && cfg->block[2].dry_run,
	       "examples/pfd.conf.block: the last one in dry run");
	pfd_config_free(cfg);
	free(log);

	cfg = NULL;
	capture_begin();
	rc = pfd_config_load("examples/pfd.conf.syn-protect", &cfg);
	log = capture_end();
	T_OK(rc, "examples/pfd.conf.syn-protect loads");
	T_STR(log, "", "examples/pfd.conf.syn-protect: no message");
	T_EQ(cfg ? cfg->n_synp : 0, 2, "examples/pfd.conf.syn-protect: two lines");
	T_TRUE(cfg && cfg->synp[0].n_ports == 2 && cfg->synp[0].mss == 1460 &&
		       cfg->synp[1].mss == 1440 && cfg->synp[1].prefixes[0].family == AF_INET6,
	       "examples/pfd.conf.syn-protect: ports 80 443, mss 1460 (v4) and 1440 (v6)");
	pfd_config_free(cfg);
	free(log);

	cfg = NULL;
	capture_begin();
	rc = pfd_config_load("examples/pfd.conf.flowtable", &cfg);
	log = capture_end();
	T_OK(rc, "examples/pfd.conf.flowtable loads");
	T_STR(log, "", "examples/pfd.conf.flowtable: no message");
	T_EQ(cfg ? (int)cfg->mode : -1, PFD_MODE_FLOWTABLE, "examples/pfd.conf.flowtable: mode");
	pfd_config_free(cfg);
	free(log);
}

/* Random lines from plausible fragments and random bytes: the parser must
 * answer 0 or -EINVAL and never crash (run under make SANITIZE=1 too). */
static void test_random(void)
{
	static const char *const frag[] = {
		"mode",
		"mark",
		"attach",
		"allow",
		"deny",
		"bpffs",
		"\"",
		"\"\"",
		"#",
		"/",
		"0x",
		"0xffffffff/0xffffffff",
		"99999999999999999999",
		"1.5",
		"ms",
		"192.0.2.0/24",
		"::",
		"/0",
		"eth0",
		"tc",
		"auto",
		"on",
		"off",
		"\t",
		" ",
		"\n",
		"\r",
		"\\",
		"breaker-ratio",
		"heartbeat-limit",
		"flow-map-size",
		"4G",
		"-",
		"dry-run",
		"syn-protect",
		"tcp",
		"mss",
		"wscale",
		"timestamp",
		"sack-perm",
		"65535",
	};
	unsigned int seed =
		getenv("T_SEED") ? strtoul(getenv("T_SEED"), NULL, 0) : (unsigned long)time(NULL);
	struct pfd_config *cfg;
	char text[512], what[96];
	int i, j, rc, bad = 0;

	srand(seed);
	for (i = 0; i < 3000; i++) {
		size_t len = 0;

		text[0] = '\0';
		for (j = rand() % 24; j > 0 && len < sizeof(text) - 32; j--) {
			if (rand() % 8 == 0) {
				text[len++] = (char)(1 + rand() % 255);
				text[len] = '\0';
			} else {
				len += snprintf(text + len, sizeof(text) - len, "%s%s",
						frag[rand() % (sizeof(frag) / sizeof(frag[0]))],
						rand() % 2 ? " " : "");
			}
		}
		cfg = NULL;
		capture_begin();
		rc = pfd_config_parse("fuzz.conf", text, &cfg);
		free(capture_end());
		if (!(rc == 0 && cfg) && !(rc == -EINVAL && !cfg))
			bad++;
		pfd_config_free(cfg);
	}
	snprintf(what, sizeof(what), "3000 random files: 0 or -EINVAL (T_SEED=%u)", seed);
	T_EQ(bad, 0, what);
}

int main(void)
{
	test_good_files();
	test_bad_files();
	test_defaults();
	test_full();
	test_egress_keys();
	test_every_key();
	test_too_many_devices();
	test_load_errors();
	test_prefix_match();
	test_synp_accepted();
	test_synp_refused();
	test_synp_line_length();
	test_synp_limits();
	test_examples();
	test_random();
	return t_done();
}
