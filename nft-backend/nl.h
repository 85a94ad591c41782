/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Netlink plumbing shared by ct.c, nft.c and rt.c (not part of pfd's API):
 * socket setup and receive-buffer sizing, group subscription, the sender
 * check (only the kernel, nl_pid 0, is believed), and a request/reply loop
 * that matches sequence and port ids, detects interrupted dumps
 * (NLM_F_DUMP_INTR) and never blocks forever (SO_RCVTIMEO). Messages are
 * built and walked with libmnl; the sockets are plain sockets so that the
 * sender address of every datagram can be checked.
 */
#ifndef PFD_NL_H
#define PFD_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct nlmsghdr;

/* Large enough for any datagram the kernel builds for a dump (it grows dump
 * skbs up to 32 KiB when the receive buffer allows) or an event. */
#define PFD_NL_BUF_SIZE 65536
/* Room for one request pfd builds (the largest, a conntrack update, is
 * under 200 bytes). Zeroed before use: attribute padding goes to the kernel. */
#define PFD_NL_REQ_SIZE 1024
/* A request that gets no answer within this time fails with -ETIMEDOUT. */
#define PFD_NL_TIMEOUT_MS 5000

struct pfd_nl {
	int fd;
	__u32 portid;
	__u32 seq;
	int rcvbuf; /* effective receive buffer (getsockopt), bytes */
	char *buf;  /* PFD_NL_BUF_SIZE bytes, for pfd_nl_request's replies */
	/* Called after each datagram of a reply: a dump of 100k conntrack
	 * entries takes seconds, and the caller has things that cannot wait
	 * that long (a heartbeat). It must not use this socket. */
	void (*pulse)(void *arg);
	void *pulse_arg;
};

/* Calls back once per message of a reply; a negative return is remembered
 * (the reply is still drained, so the socket stays in step) and returned. */
typedef int (*pfd_nl_msg_cb)(const struct nlmsghdr *nlh, void *arg);

/* Opens a netlink socket of protocol proto. rcvbuf > 0 sizes the receive
 * buffer (SO_RCVBUFFORCE, falling back to SO_RCVBUF without CAP_NET_ADMIN).
 * nonblock: for event sockets; request sockets block with a timeout.
 * Each socket has its own reply buffer, so a callback of one request may
 * issue a request on another socket, never on the same one. */
int pfd_nl_open(struct pfd_nl *nl, int proto, int rcvbuf, bool nonblock);
void pfd_nl_close(struct pfd_nl *nl);
int pfd_nl_join(struct pfd_nl *nl, unsigned int group);

/* One datagram. Returns its length; 0 when it did not come from the kernel
 * (*foreign set; the caller counts it); -EAGAIN when nothing is pending;
 * -ENOBUFS when the kernel dropped messages for lack of buffer; -errno. */
ssize_t pfd_nl_recv(struct pfd_nl *nl, void *buf, size_t len, bool *foreign);

/* Sends one request (nlh: seq and portid are filled in here; NLM_F_ACK is
 * added to non-dump requests) and processes the reply: every data message
 * goes to cb (may be NULL), up to NLMSG_DONE or the ack. Returns 0, the
 * kernel's -errno, cb's first negative return, -EINTR if the kernel flagged
 * the dump as inconsistent (NLM_F_DUMP_INTR), or -ETIMEDOUT. A cb that
 * returns -ECANCELED ends it at once, the rest of the reply unread: the
 * caller must not use the socket again (close it). */
int pfd_nl_request(struct pfd_nl *nl, struct nlmsghdr *nlh, pfd_nl_msg_cb cb, void *arg);

/* Sends count requests built in buf (each with NLM_F_ACK, sequence numbers
 * first .. first + count - 1, nlmsg_pid = nl->portid) as one datagram: the
 * kernel processes them in turn, so a batch costs one round trip. Collects
 * the acks; *done counts the requests that succeeded. Returns 0, the first
 * -errno other than ignore, or -ETIMEDOUT. count must be small enough for
 * its acks to fit the socket's receive buffer. */
int pfd_nl_batch(struct pfd_nl *nl, const void *buf, size_t len, __u32 first, unsigned int count,
		 int ignore, __u64 *done);

/* Validates a message's header against the datagram it came in. */
bool pfd_nl_msg_ok(const struct nlmsghdr *nlh, size_t remaining);
/* The next message of a datagram; *remaining shrinks accordingly. */
const struct nlmsghdr *pfd_nl_next(const struct nlmsghdr *nlh, size_t *remaining);

#endif /* PFD_NL_H */
