// SPDX-License-Identifier: GPL-2.0-only
/*
 * pfd's command line, as a table (conntrack's testsuite shape): arguments ;
 * exit code ; a substring of stderr (and of stdout where it matters). Runs
 * build/pfd (or $BUILD/pfd) as a child with no root-only effect: every row
 * is a usage error, a help/version request or a configuration error, all
 * decided before pfd touches the kernel. Usage errors must be exactly one
 * line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"

#define MAX_ARGS 12

struct row {
	const char *args[MAX_ARGS]; /* after "pfd" */
	int rc;
	const char *err; /* stderr substring ("" = stderr empty) */
	const char *out; /* stdout substring, or NULL */
};

/* rows without a stdout check leave .out out */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct row rows[] = {
	/* global */
	{ { NULL }, 2, "pfd: error: expected a command (try pfd --help)" },
	{ { "stauts" }, 2, "pfd: error: unknown command \"stauts\" (did you mean \"status\"?)" },
	{ { "flow" }, 2, "unknown command \"flow\" (did you mean \"flows\"?)" },
	{ { "frobnicate" }, 2, "unknown command \"frobnicate\" (try pfd --help)" },
	{ { "--bogus", "status" }, 2, "pfd: error: unknown option \"--bogus\" (try pfd --help)" },
	{ { "-c" }, 2, "pfd: error: -c expects FILE" },
	{ { "-c", "", "status" }, 2, "-c expects FILE, got \"\"" },
	{ { "-c", "a", "-c", "b", "status" }, 2, "pfd: error: -c given twice" },
	{ { "--verbose=2", "status" }, 2, "--verbose takes no value" },
	{ { "-j", "version" }, 2, "pfd: error: version: no JSON output (-j)" },
	{ { "-j", "run" }, 2, "run: no JSON output (-j)" },
	/* per command */
	{ { "status", "--bogus" },
	  2,
	  "status: unknown option \"--bogus\" (see pfd status --help)" },
	{ { "status", "extra" }, 2, "pfd: error: status: unexpected argument \"extra\"" },
	/* global options after the command, as ip and systemctl take them:
	 * the file is read (and here missing: a runtime error, exit 1) */
	{ { "status", "-c", "/nonexistent/pfd.conf" }, 1, "/nonexistent/pfd.conf: cannot open" },
	{ { "-c", "a", "status", "-c", "b" }, 2, "-c given twice" },
	{ { "status", "-c" }, 2, "-c expects FILE" },
	{ { "status", "--json=yes" }, 2, "status: --json takes no value" },
	{ { "run", "now" }, 2, "run: unexpected argument \"now\"" },
	{ { "reload", "--force" }, 2, "reload: unknown option \"--force\"" },
	{ { "flows", "--addr" }, 2, "pfd: error: flows: --addr expects ADDR" },
	{ { "flows", "--addr", "300.1.1.1" },
	  2,
	  "pfd: error: --addr: expected an IPv4 or IPv6 address, got \"300.1.1.1\"" },
	{ { "flows", "--addr=192.0.2" }, 2, "--addr: expected an IPv4 or IPv6 address" },
	{ { "flows", "--port", "0" }, 2, "pfd: error: --port: expected 1-65535, got \"0\"" },
	{ { "flows", "--port", "70000" }, 2, "--port: expected 1-65535, got \"70000\"" },
	{ { "flows", "--port", "80x" }, 2, "--port: expected 1-65535, got \"80x\"" },
	{ { "flows", "--watch", "0" },
	  2,
	  "pfd: error: --watch: expected 1-3600 seconds, got \"0\"" },
	{ { "stats", "-w", "3601" }, 2, "--watch: expected 1-3600 seconds, got \"3601\"" },
	{ { "stats", "--watch=-1" }, 2, "--watch: expected 1-3600 seconds, got \"-1\"" },
	{ { "flows", "-w" }, 2, "pfd: error: flows: --watch expects SECONDS" },
	{ { "status", "--watch", "1" }, 2, "status: unknown option \"--watch\"" },
	{ { "flows", "--port", "80", "--port", "81" }, 2, "flows: --port given twice" },
	{ { "explain" }, 2, "pfd: error: explain: expected PROTO SRC SPORT DST DPORT" },
	{ { "explain", "tcp", "192.0.2.1", "1", "192.0.2.2" },
	  2,
	  "explain: expected PROTO SRC SPORT DST DPORT" },
	{ { "explain", "tcp", "192.0.2.1", "1", "192.0.2.2", "80", "9" },
	  2,
	  "explain: unexpected argument \"9\"" },
	{ { "explain", "icmp", "192.0.2.1", "1", "192.0.2.2", "2" },
	  2,
	  "pfd: error: explain: PROTO must be tcp or udp, got \"icmp\"" },
	{ { "explain", "tcp", "192.0.2.300", "1", "192.0.2.2", "2" },
	  2,
	  "explain: SRC: expected an IPv4 or IPv6 address, got \"192.0.2.300\"" },
	{ { "explain", "tcp", "192.0.2.1", "1", "2001:db8::1", "80" },
	  2,
	  "explain: DST: expected an IPv4 address like SRC, got \"2001:db8::1\"" },
	{ { "explain", "udp", "2001:db8::1", "http", "2001:db8::2", "80" },
	  2,
	  "explain: SPORT: expected 0-65535, got \"http\"" },
	{ { "explain", "udp", "192.0.2.1", "53", "192.0.2.2", "65536" },
	  2,
	  "explain: DPORT: expected 0-65535, got \"65536\"" },
	{ { "explain", "tcp", "192.0.2.1", "-1", "192.0.2.2", "80" },
	  2,
	  "explain: unknown option \"-1\"" },
	{ { "probe" }, 2, "pfd: error: probe: --iface is required" },
	{ { "probe", "--iface", "lo", "--count", "0" }, 2, "--count: expected 1-64, got \"0\"" },
	{ { "probe", "--iface", "lo", "--count", "65" }, 2, "--count: expected 1-64, got \"65\"" },
	{ { "probe", "--iface", "lo", "--timeout", "9999" },
	  2,
	  "--timeout: expected 1-600 seconds, got \"9999\"" },
	{ { "probe", "--iface", "lo", "--mode", "offload" },
	  2,
	  "--mode: expected native or generic, got \"offload\"" },
	{ { "probe", "--iface" }, 2, "probe: --iface expects IFACE" },
	{ { "detach" }, 2, "pfd: error: detach: --all is required" },
	{ { "detach", "--all", "eth0" }, 2, "detach: unexpected argument \"eth0\"" },
	{ { "version", "--json" }, 2, "version: no JSON output (-j)" },
	{ { "status", "--version" }, 2, "--version is not an option here" },
	{ { "run", "--json" }, 2, "run: no JSON output (-j)" },
	/* help and version: exit 0, nothing on stderr */
	{ { "--help" }, 0, "", "Usage: pfd [OPTIONS] COMMAND [ARGS]" },
	{ { "-h" }, 0, "", "feasibility" },
	{ { "help", "flows" }, 0, "", "--addr ADDR" },
	{ { "flows", "--help" },
	  0,
	  "",
	  "Usage: pfd [-c FILE] [-v] flows [-j] [--addr ADDR] [--port PORT]" },
	{ { "explain", "-h" }, 0, "", "PROTO SRC SPORT DST DPORT" },
	{ { "version" }, 0, "", "pfd " },
	/* as other tools answer it: the version, the ABI, the libbpf in use */
	{ { "--version" }, 0, "", "(BPF ABI " },
	{ { "-V" }, 0, "", ", libbpf v" },
	/* configuration errors: exit 1 with the file's messages */
	{ { "-c", "/nonexistent/pfd.conf", "status" },
	  1,
	  "/nonexistent/pfd.conf: cannot open (No such file or directory)" },
	{ { "-c", "tests/fixtures/config/bad/mark-bad.conf", "status" },
	  1,
	  "tests/fixtures/config/bad/mark-bad.conf:2:11: mode: mark: expected VALUE/MASK, got "
	  "\"0x1/\"" },
	{ { "-c", "tests/fixtures/config/bad/unknown-key.conf", "flows" },
	  1,
	  "unknown-key.conf:4:1: heartbeat-limt: unknown key (did you mean \"heartbeat-limit\"?)" },
	{ { "-c", "tests/fixtures/config/bad/duplicate.conf", "detach", "--all" },
	  1,
	  "duplicate.conf:5:1: bpffs: set twice (first on line 3)" },
};
#pragma GCC diagnostic pop

/* Reads fd until EOF into buf (NUL-terminated, truncated to len-1). */
static void drain(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, buf + n, len - 1 - n)) > 0 && n + r < len - 1)
		n += r;
	if (r > 0)
		n += r;
	buf[n < len ? n : len - 1] = '\0';
}

static int run(const char *pfd, const struct row *r, char *out, size_t olen, char *err, size_t elen)
{
	int po[2], pe[2], status, i;
	const char *argv[MAX_ARGS + 2];
	pid_t pid;

	argv[0] = pfd;
	for (i = 0; i < MAX_ARGS && r->args[i]; i++)
		argv[i + 1] = r->args[i];
	argv[i + 1] = NULL;
	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		/* a stray run must not find a real daemon's config or state */
		unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		alarm(20);
		execv(pfd, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* outputs are small (help text at most): read stdout, then stderr */
	drain(po[0], out, olen);
	drain(pe[0], err, elen);
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char pfd[256], out[16384], err[16384], name[512];
	unsigned int i, j;
	int rc, lines;

	snprintf(pfd, sizeof(pfd), "%s/pfd", build);
	if (access(pfd, X_OK)) {
		printf("FAIL %s not built\n", pfd);
		t_failed++;
		return t_done();
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		size_t n = 0;

		n += snprintf(name + n, sizeof(name) - n, "pfd");
		for (j = 0; j < MAX_ARGS && r->args[j] && n < sizeof(name); j++)
			n += snprintf(name + n, sizeof(name) - n, " %s", r->args[j]);

		rc = run(pfd, r, out, sizeof(out), err, sizeof(err));
		T_EQ(rc, r->rc, name);
		if (!*r->err)
			T_STR(err, "", name);
		else /* the row's text must appear in what pfd printed */
			t_result(strstr(err, r->err) != NULL, name, __FILE__, __LINE__,
				 "stderr \"%s\" does not contain \"%s\"", err, r->err);
		if (r->out && !strstr(out, r->out))
			T_STR(out, r->out, name);
		if (r->rc == 2) {
			for (lines = 0, j = 0; err[j]; j++)
				lines += err[j] == '\n';
			T_EQ(lines, 1, name); /* one line */
			T_STR(out, "", name); /* and nothing on stdout */
		}
	}
	return t_done();
}
