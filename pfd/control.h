/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket: <state-dir>/pfd.sock, a unix stream socket only root
 * reaches (the directory is 0700, the socket 0600, and the daemon checks the
 * peer's uid). One request per connection, one line of JSON each way:
 *
 *   -> {"version": 1, "command": "status"}
 *   <- {"version": 1, "command": "status", "ok": true, ...}
 *   <- {"version": 1, "ok": false, "error": "..."}
 *
 * Commands: version, status (the daemon's live counters), reload (re-reads
 * pfd.conf and answers with the result). Inside a long pass over 1M
 * entries the daemon still answers a client that has waited 100 ms, from
 * its pulse: status with "busy", reload with a "busy:" error (`pfd reload`
 * then queues it with SIGHUP). docs/abi.md has the fields. The
 * daemon serves it (pfd/daemon.c); `pfd reload` is its client and falls back
 * to SIGHUP and the state file when there is no socket (an older daemon).
 */
#ifndef PFD_CONTROL_H
#define PFD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PFD_CONTROL_VERSION  1
#define PFD_CONTROL_SOCKET   "pfd.sock"
#define PFD_CONTROL_REQ_MAX  1024  /* a request line, newline included */
#define PFD_CONTROL_RESP_MAX 16384 /* a response line */
#define PFD_CONTROL_CMD_MAX  32

/* Parses one request (len bytes, no NUL needed; a trailing newline is
 * allowed): a JSON object with exactly "version" (the number 1) and
 * "command" (a string). 0 with the command in cmd, or -EINVAL with *why
 * saying what is wrong. Exposed for the unit tests and the fuzzer. */
int pfd_control_parse(const char *buf, size_t len, char *cmd, size_t cmd_len, const char **why);

/* Writes s as a JSON string, quotes included. */
void pfd_control_json_str(FILE *f, const char *s);

/* The daemon's side. A handler writes the answer's members, each as
 * `,"key":value`, and returns 0; or returns -ENOENT for a command it does not
 * know, or another -errno with a message in err. */
typedef int (*pfd_control_handler)(void *arg, const char *cmd, FILE *out, char *err,
				   size_t err_len);

/* Binds and listens at <state_dir>/pfd.sock (a stale socket replaced):
 * the listening fd, or -errno. */
int pfd_control_listen(const char *state_dir);
/* Accepts one connection and answers it (call when the listening fd is
 * readable). A client that sends nothing within 200 ms, more than a request
 * line, or is not root gets an error answer; the daemon never waits longer. */
void pfd_control_serve(int lfd, pfd_control_handler h, void *arg);
void pfd_control_unlink(const char *state_dir);

/* The CLI's side: sends command, reads the answer line into resp (NUL
 * terminated), waiting up to timeout_ms. 0, or -ENOENT / -ECONNREFUSED (no
 * daemon listening), -EACCES (not root), -ETIMEDOUT, -EPROTO (no answer
 * line), another -errno. */
int pfd_control_call(const char *state_dir, const char *command, int timeout_ms, char *resp,
		     size_t resp_len);

#endif /* PFD_CONTROL_H */
