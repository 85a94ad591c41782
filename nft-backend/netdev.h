/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The netdev generic-netlink family (Linux 6.3+): which XDP actions each
 * device supports, above all whether it can transmit frames that another
 * device's XDP program redirects to it (NETDEV_XDP_ACT_NDO_XMIT). A veth
 * advertises that only while its peer can receive them (an XDP program or
 * GRO on the peer); a driver may tie it to a program on the target. The
 * kernel notifies every change on the family's "mgmt" group, so the answer
 * is cached per device and dropped on the device's notification. Used by
 * nft-backend/rt.c, which owns the device facts pfd decides on.
 */
#ifndef PFD_NETDEV_H
#define PFD_NETDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

/* enum netdev_xdp_act (include/uapi/linux/netdev.h, Linux 6.3): Debian 12's
 * headers do not have it. */
#define PFD_XDP_ACT_BASIC	(1ULL << 0)
#define PFD_XDP_ACT_REDIRECT	(1ULL << 1)
#define PFD_XDP_ACT_NDO_XMIT	(1ULL << 2)
#define PFD_XDP_ACT_NDO_XMIT_SG (1ULL << 6)

struct nlmsghdr;
struct pfd_netdev;

/* Opens the request and notification sockets. -EOPNOTSUPP when the kernel
 * has no netdev family (before 6.3): every answer is then "unknown". */
int pfd_netdev_open(struct pfd_netdev **out);
void pfd_netdev_close(struct pfd_netdev *nd);
int pfd_netdev_events_fd(const struct pfd_netdev *nd);

/* Drains notifications (bounded per call); cb(arg, ifindex) for each device
 * whose XDP features changed, appeared or went. -ENOBUFS when notifications
 * were lost: every cached answer is dropped and cb is called with ifindex 0
 * ("any device"). */
int pfd_netdev_events_read(struct pfd_netdev *nd, void (*cb)(void *arg, int ifindex), void *arg);

/* The device's NETDEV_XDP_ACT_* bits: 0, -ENODEV (no such device),
 * -EOPNOTSUPP (no netdev family) or another -errno. Cached until the
 * device's next notification. */
int pfd_netdev_xdp_features(struct pfd_netdev *nd, int ifindex, __u64 *features);

/* Parses one netdev message (a DEV_GET reply or a DEV_*_NTF notification)
 * of family id family: 0 with ifindex, features and gone (DEV_DEL_NTF)
 * filled; -EINVAL if malformed; -EOPNOTSUPP for another family or command.
 * Exposed for the unit tests. */
int pfd_netdev_parse(const struct nlmsghdr *nlh, __u16 family, int *ifindex, __u64 *features,
		     bool *gone);

#endif /* PFD_NETDEV_H */
