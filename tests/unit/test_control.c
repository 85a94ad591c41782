// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the control socket (pfd/control.c): the request parser
 * accepts exactly {"version": 1, "command": "..."} (any order, white space,
 * the three escapes) and refuses everything else with a reason; and a round
 * trip through a real socket in a temporary directory: the socket is 0600,
 * a command gets its handler's answer, an unknown one an error, garbage an
 * error, a client that sends nothing an error after the time limit, and the
 * CLI side reports a missing socket as -ENOENT. No root, no kernel.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "pfd/control.h"

static int parse(const char *req, char *cmd)
{
	const char *why = NULL;
	int err = pfd_control_parse(req, strlen(req), cmd, PFD_CONTROL_CMD_MAX, &why);

	if (err && (!why || !why[0]))
		return 99; /* a refusal must say why */
	return err;
}

static void parser(void)
{
	static const char *const good[] = {
		"{\"version\":1,\"command\":\"status\"}",
		"{\"version\": 1, \"command\": \"status\"}\n",
		" { \"command\" : \"status\" ,\t\"version\" : 1 } \r\n",
	};
	static const char *const bad[] = {
		"",
		"status",
		"{}",
		"{\"version\":1}",
		"{\"command\":\"status\"}",
		"{\"version\":2,\"command\":\"status\"}",
		"{\"version\":\"1\",\"command\":\"status\"}",
		"{\"version\":1,\"command\":status}",
		"{\"version\":1,\"command\":\"status\",\"x\":1}",
		"{\"version\":1,\"command\":\"status\",\"version\":1}",
		"{\"version\":1,\"command\":\"status\"} trailing",
		"{\"version\":1,\"command\":\"st\\u0061tus\"}",
		"{\"version\":1,\"command\":\"\"}",
		"{\"version\":1,\"command\":\"a-very-long-command-name-beyond-32-bytes\"}",
		"{\"version\":99999999999999999999,\"command\":\"status\"}",
		"{\"version\":1,\"command\":\"stat\x01us\"}",
		"{\"version\":1,\"command\":\"status\"",
		"[\"version\",1]",
	};
	char cmd[PFD_CONTROL_CMD_MAX];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		T_OK(parse(good[i], cmd), good[i]);
		T_STR(cmd, "status", "... the command is status");
	}
	T_OK(parse("{\"version\":1,\"command\":\"a\\\"b\\\\c\\/d\"}", cmd),
	     "escapes \\\" \\\\ \\/");
	T_STR(cmd, "a\"b\\c/d", "... unescaped");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EQ(parse(bad[i], cmd), -EINVAL, bad[i]);
}

static char dir[64];
static int handled;

static int handler(void *arg, const char *cmd, FILE *out, char *err, size_t err_len)
{
	(void)arg;
	handled++;
	if (!strcmp(cmd, "status")) {
		fputs(",\"flows\":42", out);
		return 0;
	}
	if (!strcmp(cmd, "reload")) {
		snprintf(err, err_len, "pfd.conf:3:1: bad \"key\"");
		return -EINVAL;
	}
	return -ENOENT;
}

struct server {
	int lfd, n;
};

/* Serves n connections, then returns. */
static void *serve(void *arg)
{
	struct server *s = arg;
	int i;

	for (i = 0; i < s->n; i++) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };

		if (poll(&p, 1, 5000) != 1)
			break;
		pfd_control_serve(s->lfd, handler, NULL);
	}
	return NULL;
}

/* One raw exchange: sends req (if any), returns the answer line. */
static void raw(const char *req, char *resp, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	resp[0] = '\0';
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" PFD_CONTROL_SOCKET, dir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	if (req && send(fd, req, strlen(req), 0) < 0)
		goto out;
	n = recv(fd, resp, len - 1, MSG_WAITALL);
	resp[n > 0 ? n : 0] = '\0';
out:
	if (fd >= 0)
		close(fd);
}

static void round_trip(void)
{
	struct server s = { .n = 6 };
	char path[128], resp[PFD_CONTROL_RESP_MAX];
	struct stat st;
	pthread_t th;
	struct timespec t0, t1;

	snprintf(dir, sizeof(dir), "/tmp/pfd-test-control-XXXXXX");
	if (!mkdtemp(dir)) {
		T_TRUE(0, "mkdtemp");
		return;
	}
	T_EQ(pfd_control_call(dir, "status", 1000, resp, sizeof(resp)), -ENOENT,
	     "no socket: -ENOENT (the CLI falls back to SIGHUP)");
	s.lfd = pfd_control_listen(dir);
	T_TRUE(s.lfd >= 0, "listen");
	if (s.lfd < 0)
		return;
	snprintf(path, sizeof(path), "%s/" PFD_CONTROL_SOCKET, dir);
	T_TRUE(!stat(path, &st) && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	       "the socket is 0600");
	pthread_create(&th, NULL, serve, &s);

	T_OK(pfd_control_call(dir, "status", 2000, resp, sizeof(resp)), "status answered");
	T_STR(resp, "{\"version\":1,\"command\":\"status\",\"ok\":true,\"flows\":42}\n",
	      "... with the handler's members");
	T_OK(pfd_control_call(dir, "reload", 2000, resp, sizeof(resp)), "reload answered");
	T_STR(resp, "{\"version\":1,\"ok\":false,\"error\":\"pfd.conf:3:1: bad \\\"key\\\"\"}\n",
	      "... a refusal with its message, quoted");
	T_OK(pfd_control_call(dir, "frobnicate", 2000, resp, sizeof(resp)),
	     "unknown command answered");
	T_TRUE(strstr(resp, "\"ok\":false") && strstr(resp, "unknown command \\\"frobnicate\\\""),
	       "... unknown command, named");
	raw("garbage\n", resp, sizeof(resp));
	T_TRUE(strstr(resp, "\"ok\":false") && strstr(resp, "not a JSON object"),
	       "garbage: refused, the reason said");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	raw(NULL, resp, sizeof(resp));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	T_TRUE(strstr(resp, "no request within 200 ms") != NULL, "a silent client: told so");
	T_TRUE((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000,
	       "... within a second (the daemon waits 200 ms)");
	{
		char big[PFD_CONTROL_REQ_MAX + 100];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		raw(big, resp, sizeof(resp));
		T_TRUE(strstr(resp, "longer than 1024") != NULL,
		       "a request over 1024 bytes: refused");
	}
	pthread_join(th, NULL);
	T_EQ(handled, 3, "the handler ran for the three well-formed requests only");
	close(s.lfd);
	pfd_control_unlink(dir);
	T_TRUE(access(path, F_OK) && errno == ENOENT, "the socket is removed");
	rmdir(dir);
}

int main(void)
{
	parser();
	round_trip();
	return t_done();
}
