// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the daemon's state file and lock (pfd/state.c): a full
 * round trip, odd values (a newline in the reload error, unknown keys from a
 * newer daemon, garbage), the lock refusing a second holder with the first
 * one's pid, and the pid check. No root, no kernel: a temporary directory.
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
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	return t_done();
}
