// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's event loop (see loop.h): epoll over netlink sockets, timerfds
 * and a signalfd. Used by pfd/daemon.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "pfd/log.h"
#include "pfd/loop.h"

#define LOOP_MAX_WATCHES 32

struct watch {
	int fd;
	bool owned; /* timerfd/signalfd: closed by the loop */
	bool is_signal;
	pfd_loop_cb cb;
	void *arg;
};

struct pfd_loop {
	int epfd;
	bool stop;
	unsigned int n;
	struct watch w[LOOP_MAX_WATCHES];
};

int pfd_loop_new(struct pfd_loop **out)
{
	struct pfd_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	*out = l;
	return 0;
}

void pfd_loop_free(struct pfd_loop *l)
{
	unsigned int i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		if (l->w[i].owned)
			close(l->w[i].fd);
	close(l->epfd);
	free(l);
}

static int add(struct pfd_loop *l, int fd, bool owned, bool is_signal, pfd_loop_cb cb, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int i;

	if (fd < 0)
		return -EBADF;
	/* index into w[] as data: slots are never reused while running */
	for (i = 0; i < l->n; i++)
		if (l->w[i].fd < 0)
			break;
	if (i == l->n) {
		if (l->n == LOOP_MAX_WATCHES)
			return -ENOSPC;
		l->n++;
	}
	ev.data.u32 = i;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		if (i == l->n - 1)
			l->n--;
		return err;
	}
	l->w[i] = (struct watch){ fd, owned, is_signal, cb, arg };
	return 0;
}

int pfd_loop_add_fd(struct pfd_loop *l, int fd, pfd_loop_cb cb, void *arg)
{
	return add(l, fd, false, false, cb, arg);
}

int pfd_loop_timer_set(int tfd, uint32_t period_ms)
{
	struct itimerspec its = {
		.it_interval = { period_ms / 1000, (long)(period_ms % 1000) * 1000000L },
	};

	its.it_value = its.it_interval;
	return timerfd_settime(tfd, 0, &its, NULL) ? -errno : 0;
}

int pfd_loop_add_timer(struct pfd_loop *l, uint32_t period_ms, pfd_loop_cb cb, void *arg)
{
	int tfd, err;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0)
		return -errno;
	err = pfd_loop_timer_set(tfd, period_ms);
	if (!err)
		err = add(l, tfd, true, false, cb, arg);
	if (err) {
		close(tfd);
		return err;
	}
	return tfd;
}

uint64_t pfd_loop_timer_ack(int tfd)
{
	uint64_t n = 0;

	if (read(tfd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

int pfd_loop_add_signals(struct pfd_loop *l, const int *sigs, unsigned int n, pfd_loop_cb cb,
			 void *arg)
{
	sigset_t set;
	unsigned int i;
	int fd, err;

	sigemptyset(&set);
	for (i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = add(l, fd, true, true, cb, arg);
	if (err)
		close(fd);
	return err;
}

static void dispatch(struct pfd_loop *l, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	if (!w->is_signal) {
		w->cb(w->arg, w->fd, events);
		return;
	}
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		w->cb(w->arg, w->fd, si.ssi_signo);
		if (l->stop)
			return;
	}
}

int pfd_loop_run(struct pfd_loop *l)
{
	struct epoll_event evs[LOOP_MAX_WATCHES];
	int n, i;

	l->stop = false;
	while (!l->stop) {
		n = epoll_wait(l->epfd, evs, LOOP_MAX_WATCHES, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n && !l->stop; i++) {
			unsigned int idx = evs[i].data.u32;

			if (idx < l->n && l->w[idx].fd >= 0)
				dispatch(l, &l->w[idx], evs[i].events);
		}
	}
	return 0;
}

void pfd_loop_stop(struct pfd_loop *l)
{
	l->stop = true;
}
