// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: netdev generic-netlink messages, pfd_netdev_parse()
 * (nft-backend/netdev.c), which reads DEV_GET replies and DEV_*_NTF
 * notifications into the per-device XDP feature cache. The input is one
 * netlink message (tests/fuzz/fuzz.h). The family id is the kernel's choice
 * at boot; the harness passes the message's own type as the id, so that
 * every input gets past the family check to the part worth fuzzing. Seeds
 * from tests/fuzz/mkseeds.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nft-backend/netdev.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh = fuzz_nlmsg(data, size);
	__u64 features = 0;
	int ifindex = 0, err;
	bool gone = false;

	if (!nlh)
		return 0;
	err = pfd_netdev_parse(nlh, nlh->nlmsg_type, &ifindex, &features, &gone);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -EOPNOTSUPP);
	if (!err) {
		const struct genlmsghdr *g = NLMSG_DATA(nlh);

		/* the cache is indexed by it: a device, never 0 or negative */
		FUZZ_CHECK(ifindex > 0);
		FUZZ_CHECK(gone == (g->cmd == 3 /* NETDEV_CMD_DEV_DEL_NTF */));
	}
	free(nlh);
	return 0;
}
