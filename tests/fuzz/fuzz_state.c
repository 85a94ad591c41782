// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the state file reader, pfd_state_read() (pfd/state.c),
 * which `pfd status` and `pfd reload` run on <state-dir>/state. The daemon
 * writes that file, but the CLI must survive whatever is there (a truncated
 * write by an old version, a file edited by hand, a state-dir shared by
 * mistake). The input is the whole file, written as <tmpdir>/state in a
 * directory of this process's own, removed at exit: under $TMPDIR, else
 * /dev/shm, else /tmp. tmpfs matters: rewriting a file on ext4 thousands of
 * times a second is ten times slower and loads the disk others test on.
 * Seeds: tests/fuzz/corpus/state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfd/state.h"
#include "fuzz.h"

static char dir[PATH_MAX];
static char file[PATH_MAX + 16];

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	(void)argc;
	(void)argv;
	if (!tmp || !*tmp)
		tmp = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/pfd-fuzz-state.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(file, sizeof(file), "%s/state", dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfd_state *s = malloc(sizeof(*s));
	unsigned int i;
	int fd, err;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!s || fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd)) {
		perror("writing the state file");
		abort();
	}
	err = pfd_state_read(dir, s);
	/* state.h: 0, or -EINVAL for garbage; the file is there and readable */
	FUZZ_CHECK(err == 0 || err == -EINVAL);
	FUZZ_CHECK(FUZZ_TERMINATED(s->mode) && FUZZ_TERMINATED(s->config));
	FUZZ_CHECK(FUZZ_TERMINATED(s->reload_error));
	FUZZ_CHECK(s->n_devs <= PFD_MAX_DEVS);
	for (i = 0; i < s->n_devs; i++) {
		FUZZ_CHECK(FUZZ_TERMINATED(s->devs[i].name));
		FUZZ_CHECK(FUZZ_TERMINATED(s->devs[i].attach));
	}
	free(s);
	return 0;
}
