// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of pfd/util.c: mkdir -p with separate modes for the parents
 * and the directory, the edit distance "did you mean" rests on, and reading
 * a number from a sysctl-like file (garbage and overflow refused). No root,
 * no kernel: a temporary directory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "pfd/util.h"

static char dir[64];

static unsigned int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0xffffffffu : (unsigned int)(st.st_mode & 07777);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(void)
{
	char path[128], long_name[80];
	uint32_t v = 0;

	umask(022);
	snprintf(dir, sizeof(dir), "/tmp/pfd-test-util-XXXXXX");
	if (!mkdtemp(dir)) {
		T_TRUE(0, "mkdtemp");
		return t_done();
	}

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	T_OK(pfd_mkdir_p(path, 0755, 0700), "mkdir -p a/b/c");
	T_EQ(mode_of(path), 0700u, "the directory itself: 0700");
	snprintf(path, sizeof(path), "%s/a/b", dir);
	T_EQ(mode_of(path), 0755u, "a parent: 0755");
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	T_OK(pfd_mkdir_p(path, 0755, 0700), "again: it exists, 0");
	snprintf(path, sizeof(path), "%s/file", dir);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	T_EQ(pfd_mkdir_p(path, 0755, 0700), -ENOTDIR, "a file in the way: -ENOTDIR");
	T_EQ(pfd_mkdir_p("", 0755, 0700), -ENAMETOOLONG, "empty path refused");

	T_EQ(pfd_edit_distance("status", "status"), 0u, "distance to itself: 0");
	T_EQ(pfd_edit_distance("stauts", "status"), 1u, "a swap of two letters: 1");
	T_EQ(pfd_edit_distance("flow", "flows"), 1u, "one letter missing: 1");
	T_EQ(pfd_edit_distance("", "abc"), 3u, "from nothing: its length");
	T_EQ(pfd_edit_distance("reload", "detach"), 5u, "unrelated words: far");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	T_EQ(pfd_edit_distance(long_name, "a"), UINT32_MAX, "63 characters or more: UINT32_MAX");

	snprintf(path, sizeof(path), "%s/sysctl", dir);
	write_file(path, "432000\n");
	T_TRUE(!pfd_read_sysctl_u32(path, &v) && v == 432000, "a sysctl value read");
	write_file(path, "garbage\n");
	T_EQ(pfd_read_sysctl_u32(path, &v), -EINVAL, "no number: -EINVAL");
	write_file(path, "99999999999\n");
	T_EQ(pfd_read_sysctl_u32(path, &v), -EINVAL, "more than 32 bits: -EINVAL");
	write_file(path, "");
	T_EQ(pfd_read_sysctl_u32(path, &v), -EINVAL, "empty: -EINVAL");
	snprintf(path, sizeof(path), "%s/none", dir);
	T_EQ(pfd_read_sysctl_u32(path, &v), -ENOENT, "missing: -ENOENT");
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	return t_done();
}
