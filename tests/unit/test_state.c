// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the daemon's state file and lock (pfd/state.c): a full
 * round trip, odd values (a newline in the reload error, unknown keys from a
 * newer daemon, garbage), the lock refusing a second holder with the first
 * one's pid, and the pid check; the files' safety: directory 0700 and files
 * 0600, a directory of another user refused, no symlink followed for the
 * directory or any file in it. No kernel: a temporary directory (the
 * ownership check needs root to chown, and says so when it cannot).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "pfd/state.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void round_trip(void)
{
	struct pfd_state s = {}, r;

	s.pid = 4242;
	snprintf(s.mode, sizeof(s.mode), "mark");
	snprintf(s.config, sizeof(s.config), "/etc/pfd/pfd.conf");
	s.started = 1700000000;
	s.heartbeat_ns = 123456789012ULL;
	s.flows = 7;
	s.installs = 9;
	s.removals = 2;
	s.resyncs = 1;
	s.ct_overruns = 3;
	s.map_full = 4;
	s.reloads = 5;
	s.reload_attempts = 6;
	snprintf(s.reload_error, sizeof(s.reload_error), "pfd.conf:3:1: bad\nsecond line");
	s.n_devs = 2;
	snprintf(s.devs[0].name, IFNAMSIZ, "eth0");
	s.devs[0].ifindex = 2;
	s.devs[0].slot = 1;
	snprintf(s.devs[0].attach, sizeof(s.devs[0].attach), "native");
	snprintf(s.devs[1].name, IFNAMSIZ, "wan-1");
	s.devs[1].ifindex = 17;
	s.devs[1].slot = 3;
	snprintf(s.devs[1].attach, sizeof(s.devs[1].attach), "tc");
	s.devs[1].tripped = true;

	T_OK(pfd_state_write(dir, &s), "write");
	T_OK(pfd_state_read(dir, &r), "read back");
	T_EQ(r.pid, 4242, "pid");
	T_STR(r.mode, "mark", "mode");
	T_STR(r.config, "/etc/pfd/pfd.conf", "config");
	T_EQ(r.started, 1700000000, "started");
	T_EQ(r.heartbeat_ns, 123456789012ULL, "heartbeat");
	T_EQ(r.flows, 7, "flows");
	T_EQ(r.installs, 9, "installs");
	T_EQ(r.removals, 2, "removals");
	T_EQ(r.resyncs, 1, "resyncs");
	T_EQ(r.ct_overruns, 3, "ct_overruns");
	T_EQ(r.map_full, 4, "map_full");
	T_EQ(r.reloads, 5, "reloads");
	T_EQ(r.reload_attempts, 6, "reload_attempts");
	T_STR(r.reload_error, "pfd.conf:3:1: bad second line", "reload error kept on one line");
	T_EQ(r.n_devs, 2, "devices");
	T_STR(r.devs[0].name, "eth0", "dev 0 name");
	T_EQ(r.devs[0].ifindex, 2, "dev 0 ifindex");
	T_EQ(r.devs[0].slot, 1, "dev 0 slot");
	T_STR(r.devs[0].attach, "native", "dev 0 attach");
	T_EQ(r.devs[0].tripped, false, "dev 0 breaker ok");
	T_STR(r.devs[1].name, "wan-1", "dev 1 name");
	T_STR(r.devs[1].attach, "tc", "dev 1 attach");
	T_EQ(r.devs[1].tripped, true, "dev 1 breaker tripped");
	T_TRUE(access(".state.tmp", F_OK) != 0, "no temp file left behind");
}

static void odd_files(void)
{
	struct pfd_state r;

	write_file("state", "pid 12\nfuture_key 99\nflows notanumber\ninstalls 5\n"
			    "dev\ndev x ifindex\nmode flowtable\n");
	T_OK(pfd_state_read(dir, &r), "unknown keys and garbled lines are skipped");
	T_EQ(r.pid, 12, "pid of a file with extras");
	T_EQ(r.installs, 5, "installs after a garbled line");
	T_EQ(r.flows, 0, "garbled value ignored");
	T_STR(r.mode, "flowtable", "mode after garbage");
	T_EQ(r.n_devs, 1, "one named device, bare `dev` ignored");

	write_file("state", "\x01\x02 garbage without a pid\n");
	T_EQ(pfd_state_read(dir, &r), -EINVAL, "no pid: -EINVAL");
	write_file("state", "");
	T_EQ(pfd_state_read(dir, &r), -EINVAL, "empty: -EINVAL");
	T_EQ(pfd_state_read("/nonexistent/pfd-test", &r), -ENOENT, "missing dir: -ENOENT");
}

static void lock(void)
{
	char sub[128];
	pid_t holder = 0, child;
	int fd, st;

	snprintf(sub, sizeof(sub), "%s/run/pfd", dir);
	fd = pfd_state_lock(sub, &holder);
	T_TRUE(fd >= 0, "first lock (creates the directory)");
	T_OK(pfd_state_write_pid(sub), "pid file");
	T_EQ(pfd_state_daemon_pid(sub), getpid(), "the lock holder is the daemon");

	/* flock is per open file description: a child process must be refused */
	child = fork();
	if (child == 0) {
		pid_t h = 0;
		int r = pfd_state_lock(sub, &h);

		_exit(r == -EBUSY && h == getppid() ? 0 : 1);
	}
	T_TRUE(child > 0 && waitpid(child, &st, 0) == child && WIFEXITED(st) &&
		       WEXITSTATUS(st) == 0,
	       "second daemon refused with the holder's pid");
	close(fd);
	T_EQ(pfd_state_daemon_pid(sub), 0, "lock released: no daemon");
	pfd_state_remove(sub);
	T_EQ(pfd_state_daemon_pid(sub), 0, "pid file removed");
}

static unsigned int mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0xffffffffu : (unsigned int)(st.st_mode & 07777);
}

static void file_safety(void)
{
	char sub[160], path[224], target[160], link[224];
	struct pfd_state s = { .pid = 77 }, r;
	pid_t holder;
	int fd;
	FILE *f;

	snprintf(sub, sizeof(sub), "%s/safe/pfd", dir);
	fd = pfd_state_lock(sub, &holder);
	T_TRUE(fd >= 0, "lock creates the state directory");
	T_EQ(mode_of(sub), 0700u, "state directory created 0700");
	snprintf(path, sizeof(path), "%s/safe", dir);
	T_EQ(mode_of(path), 0755u, "its missing parent created 0755");
	T_OK(pfd_state_write_pid(sub), "pid file");
	T_OK(pfd_state_write(sub, &s), "state file");
	snprintf(path, sizeof(path), "%s/pfd.lock", sub);
	T_EQ(mode_of(path), 0600u, "lock file 0600");
	snprintf(path, sizeof(path), "%s/pfd.pid", sub);
	T_EQ(mode_of(path), 0600u, "pid file 0600");
	snprintf(path, sizeof(path), "%s/state", sub);
	T_EQ(mode_of(path), 0600u, "state file 0600");
	if (fd >= 0)
		close(fd);

	/* a directory from an older pfd (0755, files 0644) is tightened */
	T_OK(chmod(sub, 0755), "loosen the directory");
	snprintf(path, sizeof(path), "%s/pfd.lock", sub);
	T_OK(chmod(path, 0644), "loosen the lock file");
	fd = pfd_state_lock(sub, &holder);
	T_TRUE(fd >= 0, "lock an existing 0755 directory");
	T_EQ(mode_of(sub), 0700u, "... tightened to 0700");
	T_EQ(mode_of(path), 0600u, "... its lock file to 0600");
	if (fd >= 0)
		close(fd);

	/* a symlink planted as the temporary file: the write neither follows
	 * nor truncates it, and the target keeps its bytes */
	snprintf(target, sizeof(target), "%s/victim", dir);
	write_file("victim", "precious\n");
	snprintf(link, sizeof(link), "%s/.state.tmp", sub);
	T_OK(symlink(target, link), "plant a symlink at the temporary's name");
	T_OK(pfd_state_write(sub, &s), "state written past the planted symlink");
	f = fopen(target, "r");
	T_TRUE(f && fgets(path, sizeof(path), f) && !strcmp(path, "precious\n"),
	       "the symlink's target is untouched");
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/state", sub);
	T_EQ(mode_of(path), 0600u, "the state file is a regular 0600 file again");

	/* a symlink as the state file: the reader refuses it */
	unlink(path);
	T_OK(symlink(target, path), "plant a symlink as the state file");
	T_EQ(pfd_state_read(sub, &r), -ELOOP, "a symlinked state file is not read (ELOOP)");
	unlink(path);

	/* the directory itself a symlink: refused for reading and locking */
	snprintf(link, sizeof(link), "%s/link-pfd", dir);
	T_OK(symlink(sub, link), "a symlink to the state directory");
	T_TRUE(pfd_state_read(link, &r) == -ELOOP || pfd_state_read(link, &r) == -ENOTDIR,
	       "state directory through a symlink: not read");
	fd = pfd_state_lock(link, &holder);
	T_TRUE(fd == -ELOOP || fd == -ENOTDIR, "state directory through a symlink: no lock");
	if (fd >= 0)
		close(fd);

	/* a directory another user owns is refused (needs root to set up) */
	if (geteuid() == 0) {
		T_OK(chown(sub, 65534, 65534), "give the directory to nobody");
		fd = pfd_state_lock(sub, &holder);
		T_EQ(fd, -EPERM, "a state directory owned by another user: refused");
		if (fd >= 0)
			close(fd);
	} else {
		t_skip("state directory of another user", "not root: cannot chown");
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pfd-test-state-XXXXXX");
	if (!mkdtemp(dir)) {
		t_skip("state", "mkdtemp failed");
		return t_done();
	}
	if (chdir(dir))
		return 1;
	round_trip();
	odd_files();
	lock();
	file_safety();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	return t_done();
}
