// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file, pid file and daemon lock under <state-dir> (see state.h).
 * The daemon writes; the CLI (status, reload) reads. The file is rewritten
 * whole and renamed into place, so a reader never sees half of it.
 *
 * The directory is root's: pfd creates it 0700 and tightens one it owns, and
 * refuses one owned by another user. Every file inside is opened relative to
 * a descriptor of the directory (opened without following a symlink), never
 * following a symlink itself, and created 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfd/log.h"
#include "pfd/state.h"
#include "pfd/util.h"

/* The directory, for openat(): a symlink as its last component is refused
 * (ELOOP or ENOTDIR). */
static int dir_open(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* A file in the directory, never through a symlink. */
static int file_open(int dfd, const char *name, int flags)
{
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/* Writes a file whole: name.tmp, then renamed over name. */
static int file_replace(const char *dir, const char *name, int (*body)(FILE *, const void *),
			const void *arg)
{
	char tmp[NAME_MAX + 1];
	int dfd, fd, err;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	dfd = dir_open(dir);
	if (dfd < 0)
		return dfd;
	/* a stale temporary (a crash between create and rename) goes first:
	 * O_EXCL below then never reuses another inode */
	unlinkat(dfd, tmp, 0);
	fd = file_open(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL);
	if (fd < 0) {
		close(dfd);
		return fd;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto err_unlink;
	}
	err = body(f, arg);
	if (!err && (fflush(f) || ferror(f)))
		err = errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, name))
		err = -errno;
	if (!err) {
		close(dfd);
		return 0;
	}
err_unlink:
	unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

/* A file of the directory for reading, or NULL with errno set. */
static FILE *file_read(const char *dir, const char *name)
{
	int dfd = dir_open(dir), fd, err;
	FILE *f;

	if (dfd < 0) {
		errno = -dfd;
		return NULL;
	}
	fd = file_open(dfd, name, O_RDONLY);
	err = fd < 0 ? -fd : 0;
	close(dfd);
	if (err) {
		errno = err;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		err = errno;
		close(fd);
		errno = err;
	}
	return f;
}

/* Newlines would break the line format: the reason is one line. */
static void put_line(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%s ", key);
	for (; *val; val++)
		fputc(*val == '\n' || *val == '\r' ? ' ' : *val, f);
	fputc('\n', f);
}

static int state_body(FILE *f, const void *arg)
{
	const struct pfd_state *s = arg;
	unsigned int i;

	fprintf(f, "pid %d\n", (int)s->pid);
	put_line(f, "mode", s->mode);
	put_line(f, "config", s->config);
	fprintf(f, "started %" PRId64 "\n", s->started);
	fprintf(f, "heartbeat %" PRIu64 "\n", s->heartbeat_ns);
	fprintf(f, "flows %" PRIu64 "\n", s->flows);
	fprintf(f, "installs %" PRIu64 "\n", s->installs);
	fprintf(f, "removals %" PRIu64 "\n", s->removals);
	fprintf(f, "resyncs %" PRIu64 "\n", s->resyncs);
	fprintf(f, "ct_overruns %" PRIu64 "\n", s->ct_overruns);
	fprintf(f, "map_full %" PRIu64 "\n", s->map_full);
	fprintf(f, "reloads %" PRIu64 "\n", s->reloads);
	fprintf(f, "reload_attempts %" PRIu64 "\n", s->reload_attempts);
	put_line(f, "reload_error", s->reload_error);
	if (s->ruleset_gen_valid)
		fprintf(f, "ruleset_gen %" PRIu32 "\n", s->ruleset_gen);
	for (i = 0; i < s->n_devs && i < PFD_MAX_DEVS; i++) {
		const struct pfd_state_dev *d = &s->devs[i];

		fprintf(f, "dev %s ifindex %d slot %u attach %s breaker %s\n", d->name, d->ifindex,
			d->slot, d->attach[0] ? d->attach : "none", d->tripped ? "tripped" : "ok");
	}
	return 0;
}

int pfd_state_write(const char *dir, const struct pfd_state *s)
{
	return file_replace(dir, "state", state_body, s);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s ? -EINVAL : 0;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

static void parse_dev(struct pfd_state *s, char *rest)
{
	struct pfd_state_dev *d;
	char *tok, *save = NULL, *key = NULL;

	if (s->n_devs >= PFD_MAX_DEVS)
		return;
	d = &s->devs[s->n_devs];
	memset(d, 0, sizeof(*d));
	tok = strtok_r(rest, " \t", &save);
	if (!tok)
		return;
	copy_str(d->name, sizeof(d->name), tok);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		if (!key) {
			key = tok;
			continue;
		}
		if (!strcmp(key, "ifindex"))
			d->ifindex = atoi(tok);
		else if (!strcmp(key, "slot"))
			d->slot = (unsigned int)strtoul(tok, NULL, 10);
		else if (!strcmp(key, "attach"))
			copy_str(d->attach, sizeof(d->attach), tok);
		else if (!strcmp(key, "breaker"))
			d->tripped = !strcmp(tok, "tripped");
		key = NULL;
	}
	s->n_devs++;
}

int pfd_state_read(const char *dir, struct pfd_state *s)
{
	char line[PATH_MAX + 64];
	bool any = false;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = file_read(dir, "state");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *val, *nl = strchr(line, '\n');
		uint64_t v = 0;

		if (nl)
			*nl = '\0';
		val = strchr(line, ' ');
		if (val)
			*val++ = '\0';
		else
			val = line + strlen(line);
		if (!strcmp(line, "mode"))
			copy_str(s->mode, sizeof(s->mode), val);
		else if (!strcmp(line, "config"))
			copy_str(s->config, sizeof(s->config), val);
		else if (!strcmp(line, "reload_error"))
			copy_str(s->reload_error, sizeof(s->reload_error), val);
		else if (!strcmp(line, "dev"))
			parse_dev(s, val);
		else if (!strcmp(line, "started"))
			s->started = strtoll(val, NULL, 10);
		else if (parse_u64(val, &v))
			continue; /* unknown or garbled: ignore the line */
		else if (!strcmp(line, "pid"))
			s->pid = (pid_t)v, any = true;
		else if (!strcmp(line, "heartbeat"))
			s->heartbeat_ns = v;
		else if (!strcmp(line, "flows"))
			s->flows = v;
		else if (!strcmp(line, "installs"))
			s->installs = v;
		else if (!strcmp(line, "removals"))
			s->removals = v;
		else if (!strcmp(line, "resyncs"))
			s->resyncs = v;
		else if (!strcmp(line, "ct_overruns"))
			s->ct_overruns = v;
		else if (!strcmp(line, "map_full"))
			s->map_full = v;
		else if (!strcmp(line, "reloads"))
			s->reloads = v;
		else if (!strcmp(line, "reload_attempts"))
			s->reload_attempts = v;
		else if (!strcmp(line, "ruleset_gen") && v <= UINT32_MAX)
			s->ruleset_gen = (uint32_t)v, s->ruleset_gen_valid = true;
	}
	fclose(f);
	return any ? 0 : -EINVAL;
}

static pid_t read_pid(const char *dir)
{
	FILE *f = file_read(dir, "pfd.pid");
	long pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 && pid < (1L << 22) ? (pid_t)pid : 0;
}

pid_t pfd_state_daemon_pid(const char *dir)
{
	pid_t pid;
	int dfd, fd, held;

	pid = read_pid(dir);
	if (!pid || (kill(pid, 0) && errno == ESRCH))
		return 0;
	/* A live pid is not enough (pids are reused): the daemon holds the lock. */
	dfd = dir_open(dir);
	if (dfd < 0)
		return 0;
	fd = file_open(dfd, "pfd.lock", O_RDONLY);
	close(dfd);
	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return held ? pid : 0;
}

/* The directory is root's (the euid's) and no one else's to write: one this
 * euid owns is tightened to 0700, one another user owns is refused. */
static int dir_claim(const char *dir, int dfd)
{
	struct stat st;

	if (fstat(dfd, &st))
		return -errno;
	if (st.st_uid != geteuid()) {
		pr_err("state-dir %s is owned by uid %u, not by this process (uid %u): refused",
		       dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(dfd, 0700))
		return -errno;
	return 0;
}

int pfd_state_lock(const char *dir, pid_t *holder)
{
	int dfd, fd, err;

	if (holder)
		*holder = 0;
	err = pfd_mkdir_p(dir, 0755, 0700);
	if (err)
		return err;
	dfd = dir_open(dir);
	if (dfd < 0)
		return dfd;
	err = dir_claim(dir, dfd);
	/* read only: flock needs no more, and an fd open for writing would keep
	 * the file system from being remounted read-only */
	fd = err ? err : file_open(dfd, "pfd.lock", O_RDONLY | O_CREAT);
	close(dfd);
	if (fd < 0)
		return fd;
	/* a lock file from a version that made it 0644 */
	if (fchmod(fd, 0600)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		if (err == -EBUSY && holder)
			*holder = read_pid(dir);
		return err;
	}
	return fd;
}

static int pid_body(FILE *f, const void *arg)
{
	(void)arg;
	fprintf(f, "%d\n", (int)getpid());
	return 0;
}

int pfd_state_write_pid(const char *dir)
{
	return file_replace(dir, "pfd.pid", pid_body, NULL);
}

void pfd_state_remove(const char *dir)
{
	int dfd = dir_open(dir);

	if (dfd < 0)
		return;
	unlinkat(dfd, "pfd.pid", 0);
	unlinkat(dfd, "state", 0);
	close(dfd);
}
