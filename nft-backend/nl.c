// SPDX-License-Identifier: GPL-2.0-only
/*
 * Netlink plumbing for the backend (see nl.h): sockets, buffer sizing, the
 * kernel-only sender check and a request loop that cannot hang or mix up
 * replies. Everything else in nft-backend/ goes through these few functions,
 * so the rules for talking to the kernel live in one place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "nft-backend/nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

int pfd_nl_open(struct pfd_nl *nl, int proto, int rcvbuf, bool nonblock)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	struct timeval tv = {
		.tv_sec = PFD_NL_TIMEOUT_MS / 1000,
		.tv_usec = (PFD_NL_TIMEOUT_MS % 1000) * 1000,
	};
	int one = 1, err;
	socklen_t optlen = sizeof(nl->rcvbuf);

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(PFD_NL_BUF_SIZE);
	if (!nl->buf)
		return -ENOMEM;
	nl->fd =
		socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), proto);
	if (nl->fd < 0) {
		err = -errno;
		goto err_free;
	}

	if (rcvbuf > 0) {
		/* FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN. */
		if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
		    setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
			err = -errno;
			goto err_close;
		}
	}
	if (!nonblock && setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		err = -errno;
		goto err_close;
	}
	/* Best effort: acks without a copy of the request stay small. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &salen)) {
		err = -errno;
		goto err_close;
	}
	nl->portid = sa.nl_pid;
	if (getsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &nl->rcvbuf, &optlen))
		nl->rcvbuf = 0;
	/* Sequence numbers only need to differ from a previous socket's. */
	nl->seq = (__u32)time(NULL);
	return 0;

err_close:
	close(nl->fd);
	nl->fd = -1;
err_free:
	free(nl->buf);
	nl->buf = NULL;
	return err;
}

void pfd_nl_close(struct pfd_nl *nl)
{
	/* buf is set only by a successful open: a zeroed struct is closed. */
	if (!nl || !nl->buf)
		return;
	close(nl->fd);
	nl->fd = -1;
	free(nl->buf);
	nl->buf = NULL;
}

int pfd_nl_join(struct pfd_nl *nl, unsigned int group)
{
	if (setsockopt(nl->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)))
		return -errno;
	return 0;
}

ssize_t pfd_nl_recv(struct pfd_nl *nl, void *buf, size_t len, bool *foreign)
{
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;

	*foreign = false;
	do {
		n = recvmsg(nl->fd, &msg, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* A truncated datagram cannot be parsed; the buffer is sized so that
	 * this only happens to something that is not the kernel's. */
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	/* Any process may send to our port id; only the kernel is believed. */
	if (msg.msg_namelen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0) {
		*foreign = true;
		return 0;
	}
	return n;
}

bool pfd_nl_msg_ok(const struct nlmsghdr *nlh, size_t remaining)
{
	return remaining >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= remaining;
}

const struct nlmsghdr *pfd_nl_next(const struct nlmsghdr *nlh, size_t *remaining)
{
	size_t step = NLMSG_ALIGN(nlh->nlmsg_len);

	if (step > *remaining)
		step = *remaining;
	*remaining -= step;
	return (const struct nlmsghdr *)((const char *)nlh + step);
}

/* The error of an NLMSG_ERROR message, 0 for an ack; -EBADMSG if short. */
static int nl_error(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)))
		return -EBADMSG;
	/* The kernel sends negative errnos; guard against a positive one. */
	return e->error > 0 ? -e->error : e->error;
}

/* The next datagram of a reply from the kernel into nl->buf (others are
 * skipped), with the pulse after it: its length, -ETIMEDOUT, or -errno. */
static ssize_t recv_reply(struct pfd_nl *nl)
{
	for (;;) {
		bool foreign;
		ssize_t n = pfd_nl_recv(nl, nl->buf, PFD_NL_BUF_SIZE, &foreign);

		if (n == -EAGAIN)
			return -ETIMEDOUT;
		if (n < 0)
			return n;
		if (foreign)
			continue;
		if (nl->pulse)
			nl->pulse(nl->pulse_arg);
		return n;
	}
}

int pfd_nl_request(struct pfd_nl *nl, struct nlmsghdr *nlh, pfd_nl_msg_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	int err = 0, intr = 0;
	__u32 seq;

	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	seq = nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_pid = nl->portid;

	if (sendto(nl->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;

	for (;;) {
		ssize_t n = recv_reply(nl);
		const struct nlmsghdr *m;
		size_t left;

		if (n < 0)
			return (int)n;
		for (m = (const struct nlmsghdr *)nl->buf, left = (size_t)n; pfd_nl_msg_ok(m, left);
		     m = pfd_nl_next(m, &left)) {
			/* A late reply to an earlier request that timed out. */
			if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
				continue;
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = -EINTR;
			if (m->nlmsg_type == NLMSG_DONE) {
				/* A dump that failed midway says so in DONE. */
				int e = m->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ?
						*(const int *)NLMSG_DATA(m) :
						0;

				if (e < 0)
					return e;
				return err ? err : intr;
			}
			if (m->nlmsg_type == NLMSG_ERROR) {
				int e = nl_error(m);

				return e ? e : (err ? err : intr);
			}
			if (m->nlmsg_type < NLMSG_MIN_TYPE)
				continue; /* NLMSG_NOOP, NLMSG_OVERRUN */
			if (cb && !err)
				err = cb(m, arg);
			if (err > 0)
				err = 0;
			/* the caller gives up on the socket (closes it): the
			 * rest of a long dump is not worth reading */
			if (err == -ECANCELED)
				return err;
			/* A non-dump request ends with its ack, after the data. */
		}
	}
}

int pfd_nl_batch(struct pfd_nl *nl, const void *buf, size_t len, __u32 first, unsigned int count,
		 int ignore, __u64 *done)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	unsigned int acked = 0;
	int ret = 0;

	if (sendto(nl->fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	while (acked < count) {
		ssize_t n = recv_reply(nl);
		const struct nlmsghdr *m;
		size_t left;

		if (n < 0)
			return (int)n;
		for (m = (const struct nlmsghdr *)nl->buf, left = (size_t)n; pfd_nl_msg_ok(m, left);
		     m = pfd_nl_next(m, &left)) {
			int e;

			/* a late reply to something else */
			if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_pid != nl->portid ||
			    m->nlmsg_seq - first >= count)
				continue;
			e = nl_error(m);
			if (e == -EBADMSG)
				continue;
			acked++;
			if (!e)
				(*done)++;
			else if (e != ignore && !ret)
				ret = e;
		}
	}
	return ret;
}
