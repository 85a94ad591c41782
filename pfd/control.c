// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket (see control.h): the request parser, the daemon's
 * accept-and-answer, and the CLI's client.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "pfd/control.h"

/* ---- the request ---- */

struct scan {
	const char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static bool take(struct scan *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A JSON string of printable ASCII, with the escapes \" \\ \/ only (nothing
 * pfd accepts needs more). */
static int scan_str(struct scan *s, char *out, size_t len)
{
	size_t n = 0;

	if (!take(s, '"'))
		return -EINVAL;
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p++;

		if (c == '\\') {
			if (s->p == s->end || (*s->p != '"' && *s->p != '\\' && *s->p != '/'))
				return -EINVAL;
			c = *s->p++;
		} else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
			return -EINVAL;
		}
		if (n + 1 >= len)
			return -E2BIG;
		out[n++] = c;
	}
	if (s->p == s->end)
		return -EINVAL;
	s->p++;
	out[n] = '\0';
	return 0;
}

static int scan_uint(struct scan *s, unsigned long *v)
{
	unsigned long x = 0;
	const char *start;

	skip_ws(s);
	start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		if (x > 100000)
			return -ERANGE;
		x = x * 10 + (unsigned long)(*s->p++ - '0');
	}
	if (s->p == start)
		return -EINVAL;
	*v = x;
	return 0;
}

int pfd_control_parse(const char *buf, size_t len, char *cmd, size_t cmd_len, const char **why)
{
	struct scan s = { buf, buf + len };
	bool have_version = false, have_cmd = false;
	char key[16];
	unsigned long version = 0;

	*why = "not a JSON object";
	if (!cmd_len || !take(&s, '{'))
		return -EINVAL;
	cmd[0] = '\0';
	if (!take(&s, '}')) {
		do {
			int err = scan_str(&s, key, sizeof(key));

			if (err) {
				*why = "expected a key (a string)";
				return -EINVAL;
			}
			if (!take(&s, ':')) {
				*why = "expected ':' after a key";
				return -EINVAL;
			}
			if (!strcmp(key, "version") && !have_version) {
				if (scan_uint(&s, &version)) {
					*why = "version: expected a number";
					return -EINVAL;
				}
				have_version = true;
			} else if (!strcmp(key, "command") && !have_cmd) {
				if (scan_str(&s, cmd, cmd_len)) {
					*why = "command: expected a short string";
					return -EINVAL;
				}
				have_cmd = true;
			} else {
				*why = "unknown or repeated key (only \"version\" and \"command\")";
				return -EINVAL;
			}
		} while (take(&s, ','));
		if (!take(&s, '}')) {
			*why = "expected ',' or '}'";
			return -EINVAL;
		}
	}
	skip_ws(&s);
	if (s.p != s.end) {
		*why = "bytes after the object";
		return -EINVAL;
	}
	if (!have_version || version != PFD_CONTROL_VERSION) {
		*why = "\"version\": 1 is required (the protocol this pfd speaks)";
		return -EINVAL;
	}
	if (!have_cmd || !cmd[0]) {
		*why = "\"command\" is required";
		return -EINVAL;
	}
	return 0;
}

void pfd_control_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* ---- the daemon ---- */

static int sock_path(const char *state_dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", state_dir, PFD_CONTROL_SOCKET) >=
	    (int)sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int pfd_control_listen(const char *state_dir)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, err;

	err = sock_path(state_dir, &sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket a previous daemon left: this one holds the lock now */
	unlink(sa.sun_path);
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && listen(fd, 8))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

void pfd_control_unlink(const char *state_dir)
{
	struct sockaddr_un sa;

	if (!sock_path(state_dir, &sa))
		unlink(sa.sun_path);
}

static void answer_error(int fd, const char *why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	fprintf(f, "{\"version\":%d,\"ok\":false,\"error\":", PFD_CONTROL_VERSION);
	pfd_control_json_str(f, why);
	fputs("}\n", f);
	if (!fclose(f))
		(void)!send(fd, buf, len, MSG_NOSIGNAL);
	free(buf);
}

/* Closes after the answer. Unread bytes (a request over the limit) would make
 * the close a reset, which can discard the answer before the client reads
 * it: what has arrived is read and dropped first. */
static void drain_close(int fd)
{
	char sink[4096];
	int i;

	shutdown(fd, SHUT_WR);
	for (i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

void pfd_control_serve(int lfd, pfd_control_handler h, void *arg)
{
	struct timeval rcv = { 0, 200000 }, snd = { 1, 0 };
	char req[PFD_CONTROL_REQ_MAX], cmd[PFD_CONTROL_CMD_MAX], err[512] = "";
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	size_t n = 0, len = 0;
	const char *why = NULL;
	char *buf = NULL;
	FILE *f;
	int fd, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	/* up to the newline, the end of the stream, or the time limit; a
	 * refusal too comes after the request, as every answer does */
	while (n < sizeof(req)) {
		ssize_t got = recv(fd, req + n, sizeof(req) - n, 0);

		if (got <= 0)
			break;
		n += (size_t)got;
		if (memchr(req + n - (size_t)got, '\n', (size_t)got))
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		answer_error(fd, "refused: the control socket is root's");
		goto out;
	}
	if (!n) {
		answer_error(fd, "no request within 200 ms");
		goto out;
	}
	if (!memchr(req, '\n', n) && n == sizeof(req)) {
		answer_error(fd, "request longer than 1024 bytes");
		goto out;
	}
	if (memchr(req, '\n', n))
		n = (size_t)((char *)memchr(req, '\n', n) - req);
	if (pfd_control_parse(req, n, cmd, sizeof(cmd), &why)) {
		answer_error(fd, why);
		goto out;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		goto out;
	fprintf(f, "{\"version\":%d,\"command\":", PFD_CONTROL_VERSION);
	pfd_control_json_str(f, cmd);
	fputs(",\"ok\":true", f);
	r = h(arg, cmd, f, err, sizeof(err));
	fputs("}\n", f);
	if (fclose(f)) {
		free(buf);
		goto out;
	}
	if (r == -ENOENT) {
		snprintf(err, sizeof(err), "unknown command \"%s\" (version, status, reload)", cmd);
		answer_error(fd, err);
	} else if (r) {
		answer_error(fd, err[0] ? err : strerror(-r));
	} else {
		(void)!send(fd, buf, len, MSG_NOSIGNAL);
	}
	free(buf);
out:
	drain_close(fd);
}

/* ---- the CLI ---- */

int pfd_control_call(const char *state_dir, const char *command, int timeout_ms, char *resp,
		     size_t resp_len)
{
	struct timeval tv = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000 };
	struct sockaddr_un sa;
	char req[128];
	size_t n = 0;
	int fd, err, len;

	if (!resp_len)
		return -EINVAL;
	err = sock_path(state_dir, &sa);
	if (err)
		return err;
	len = snprintf(req, sizeof(req), "{\"version\":%d,\"command\":\"%s\"}\n",
		       PFD_CONTROL_VERSION, command);
	if (len < 0 || len >= (int)sizeof(req))
		return -E2BIG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		err = -errno;
		goto out;
	}
	err = 0;
	while (n + 1 < resp_len) {
		ssize_t got = recv(fd, resp + n, resp_len - 1 - n, 0);

		if (got < 0) {
			err = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		if (!got)
			break;
		n += (size_t)got;
		if (memchr(resp + n - (size_t)got, '\n', (size_t)got))
			break;
	}
	resp[n] = '\0';
	if (!err && !strchr(resp, '\n'))
		err = -EPROTO;
out:
	close(fd);
	return err;
}
