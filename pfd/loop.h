/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's event loop: one epoll set for netlink sockets, timerfds and a
 * signalfd, each with a callback. No work happens in signal handlers (there
 * are none: signals arrive through the signalfd). Used by pfd/daemon.c.
 */
#ifndef PFD_LOOP_H
#define PFD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*pfd_loop_cb)(void *arg, int fd, uint32_t events);

struct pfd_loop;

int pfd_loop_new(struct pfd_loop **out);
void pfd_loop_free(struct pfd_loop *l);

/* Watches fd for EPOLLIN. The loop does not own fd. */
int pfd_loop_add_fd(struct pfd_loop *l, int fd, pfd_loop_cb cb, void *arg);

/* A periodic timer (CLOCK_MONOTONIC); returns its fd (the loop owns it), or
 * -errno. pfd_loop_timer_set re-arms it with a new period (0 disarms). */
int pfd_loop_add_timer(struct pfd_loop *l, uint32_t period_ms, pfd_loop_cb cb, void *arg);
int pfd_loop_timer_set(int tfd, uint32_t period_ms);
/* Reads a timer's expiration count (call from its callback). */
uint64_t pfd_loop_timer_ack(int tfd);

/* Blocks sigs (SIGTERM, SIGINT, SIGHUP, ...) and delivers them to cb as
 * their signal number in `events`. */
int pfd_loop_add_signals(struct pfd_loop *l, const int *sigs, unsigned int n, pfd_loop_cb cb,
			 void *arg);

/* Runs until pfd_loop_stop. 0, or -errno if epoll itself failed. */
int pfd_loop_run(struct pfd_loop *l);
void pfd_loop_stop(struct pfd_loop *l);

#endif /* PFD_LOOP_H */
