// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file, pid file and daemon lock under <state-dir> (see state.h).
 * The daemon writes; the CLI (status, reload) reads. The file is rewritten
 * whole and renamed into place, so a reader never sees half of it.
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

#include "pfd/state.h"

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p for the state directory (usually /run/pfd). */
static int mkdirs(const char *dir)
{
	char tmp[PATH_MAX];
	size_t len = strlen(dir);
	char *p;

	if (!len || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Newlines would break the line format: the reason is one line. */
static void put_line(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%s ", key);
	for (; *val; val++)
		fputc(*val == '\n' || *val == '\r' ? ' ' : *val, f);
	fputc('\n', f);
}

int pfd_state_write(const char *dir, const struct pfd_state *s)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	unsigned int i;
	FILE *f;
	int fd, err;

	err = path_in(path, sizeof(path), dir, "state");
	if (!err)
		err = path_in(tmp, sizeof(tmp), dir, ".state.tmp");
	if (err)
		return err;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto err_unlink;
	}
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

		fprintf(f, "dev %s ifindex %d slot %u attach %s breaker %s\n", d->name,
			d->ifindex, d->slot, d->attach[0] ? d->attach : "none",
			d->tripped ? "tripped" : "ok");
	}
	if (fflush(f) || ferror(f)) {
		err = -EIO;
		fclose(f);
		goto err_unlink;
	}
	if (fclose(f)) {
		err = -errno;
		goto err_unlink;
	}
	if (rename(tmp, path)) {
		err = -errno;
		goto err_unlink;
	}
	return 0;

err_unlink:
	unlink(tmp);
	return err;
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
	char path[PATH_MAX], line[PATH_MAX + 64];
	bool any = false;
	FILE *f;
	int err;

	memset(s, 0, sizeof(*s));
	err = path_in(path, sizeof(path), dir, "state");
	if (err)
		return err;
	f = fopen(path, "re");
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
			continue;	/* unknown or garbled: ignore the line */
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
	char path[PATH_MAX], buf[32];
	ssize_t n;
	long pid;
	int fd;

	if (path_in(path, sizeof(path), dir, "pfd.pid"))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid < (1L << 22) ? (pid_t)pid : 0;
}

pid_t pfd_state_daemon_pid(const char *dir)
{
	char path[PATH_MAX];
	pid_t pid;
	int fd, held;

	pid = read_pid(dir);
	if (!pid || (kill(pid, 0) && errno == ESRCH))
		return 0;
	/* A live pid is not enough (pids are reused): the daemon holds the lock. */
	if (path_in(path, sizeof(path), dir, "pfd.lock"))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return held ? pid : 0;
}

int pfd_state_lock(const char *dir, pid_t *holder)
{
	char path[PATH_MAX];
	int fd, err;

	if (holder)
		*holder = 0;
	err = mkdirs(dir);
	if (err)
		return err;
	err = path_in(path, sizeof(path), dir, "pfd.lock");
	if (err)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		if (err == -EBUSY && holder)
			*holder = read_pid(dir);
		return err;
	}
	return fd;
}

int pfd_state_write_pid(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int err;

	err = path_in(path, sizeof(path), dir, "pfd.pid");
	if (!err)
		err = path_in(tmp, sizeof(tmp), dir, ".pfd.pid.tmp");
	if (err)
		return err;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}

void pfd_state_remove(const char *dir)
{
	char path[PATH_MAX];

	if (!path_in(path, sizeof(path), dir, "pfd.pid"))
		unlink(path);
	if (!path_in(path, sizeof(path), dir, "state"))
		unlink(path);
}
