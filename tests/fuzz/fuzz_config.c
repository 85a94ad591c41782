// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: pfd.conf (pfd/config.c, and pfd/egress.c for the keys it
 * hands on). The input is a whole file, loaded through pfd_config_load(), the
 * entry point `pfd run`, reload and the CLI use, so the size limit and the
 * NUL check are fuzzed too: it is written to a memfd and loaded as
 * /proc/self/fd/N (a regular file to fstat(), no file system touched). Seeds:
 * tests/fixtures/config/{good,bad} and tests/fuzz/corpus/config.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "pfd/config.h"
#include "pfd/log.h"
#include "fuzz.h"

static int memfd = -1;
static char path[64];
/* Error messages are formatted (their printf arguments come from the input)
 * into this buffer instead of flooding stderr: see LLVMFuzzerInitialize. */
static char captured[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("pfd-fuzz-config", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	/* LOG_EMERG prints nothing; an active capture still formats every
	 * error-level message (pfd_vlog), so config_error()'s output path
	 * runs on every input as it does in the daemon. */
	pfd_log_init(LOG_EMERG, false);
	return 0;
}

static void check_prefixes(const struct pfd_prefix *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		FUZZ_CHECK(p[i].family == AF_INET || p[i].family == AF_INET6);
		FUZZ_CHECK(p[i].len <= (p[i].family == AF_INET ? 32 : 128));
		/* host bits are cleared, so a prefix contains its own address */
		FUZZ_CHECK(pfd_prefix_match(&p[i], 1, p[i].family, p[i].addr));
	}
}

/* syn-protect lines: what pfd/synp.c and the maps take for granted. */
static void check_synp(const struct pfd_config *cfg)
{
	const uint32_t options =
		PFD_SYNP_F_MSS | PFD_SYNP_F_WSCALE | PFD_SYNP_F_TIMESTAMP | PFD_SYNP_F_SACK_PERM;
	unsigned int i, j, services = 0;

	FUZZ_CHECK(cfg->n_synp <= PFD_MAX_SYNP_RULES);
	for (i = 0; i < cfg->n_synp; i++) {
		const struct pfd_synp_rule *r = &cfg->synp[i];

		FUZZ_CHECK(r->n_prefixes >= 1 && r->n_prefixes <= PFD_SYNP_LINE_MAX);
		FUZZ_CHECK(r->n_ports >= 1 && r->n_ports <= PFD_SYNP_LINE_MAX);
		check_prefixes(r->prefixes, r->n_prefixes);
		for (j = 0; j < r->n_ports; j++)
			FUZZ_CHECK(r->ports[j] != 0);
		FUZZ_CHECK(!(r->flags & ~options));
		FUZZ_CHECK(r->has_options == (r->flags != 0));
		FUZZ_CHECK(!(r->flags & PFD_SYNP_F_MSS) || r->mss);
		FUZZ_CHECK(r->wscale <= 14);
		FUZZ_CHECK(i == 0 || r->line > cfg->synp[i - 1].line);
		services += r->n_prefixes * r->n_ports;
	}
	FUZZ_CHECK(services <= PFD_MAX_SYNP);
}

static void check_config(const struct pfd_config *cfg)
{
	unsigned int i;

	FUZZ_CHECK(FUZZ_TERMINATED(cfg->bpffs));
	FUZZ_CHECK(FUZZ_TERMINATED(cfg->state_dir));
	FUZZ_CHECK(FUZZ_TERMINATED(cfg->metrics_file));
	FUZZ_CHECK(cfg->n_ifaces <= sizeof(cfg->ifaces) / sizeof(cfg->ifaces[0]));
	for (i = 0; i < cfg->n_ifaces; i++)
		FUZZ_CHECK(cfg->ifaces[i].name[0] && FUZZ_TERMINATED(cfg->ifaces[i].name));
	FUZZ_CHECK(cfg->log_level >= LOG_EMERG && cfg->log_level <= LOG_DEBUG);
	FUZZ_CHECK(cfg->heartbeat_limit_ms > cfg->heartbeat_interval_ms);
	FUZZ_CHECK(cfg->mode != PFD_MODE_MARK || cfg->n_ifaces);
	FUZZ_CHECK(cfg->egress);
	check_prefixes(cfg->allow, cfg->n_allow);
	check_prefixes(cfg->deny, cfg->n_deny);
	check_synp(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfd_config *cfg = NULL;
	int err;

	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("memfd write");
		abort();
	}
	pfd_log_capture_begin(captured, sizeof(captured));
	err = pfd_config_load(path, &cfg);
	pfd_log_capture_end();
	if (err) {
		/* -EINVAL: refused, -EFBIG: too large; nothing else can
		 * happen to a readable regular file. */
		FUZZ_CHECK(err == -EINVAL || err == -EFBIG);
		FUZZ_CHECK(!cfg);
		return 0;
	}
	FUZZ_CHECK(cfg);
	check_config(cfg);
	pfd_config_free(cfg);
	return 0;
}
