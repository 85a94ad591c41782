// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: conntrack messages, pfd_ct_parse() (nft-backend/ct.c),
 * which every event, dump part and GET reply goes through before pfd decides
 * anything about a flow. The input is one netlink message, header included
 * (tests/fuzz/fuzz.h); seeds are kernel-shaped IPCTNL_MSG_CT_NEW/DELETE
 * messages from tests/fuzz/mkseeds.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "nft-backend/ct.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh = fuzz_nlmsg(data, size);
	enum pfd_ct_event ev = PFD_CT_EV_NEW;
	struct pfd_ct_entry e;
	int err;

	if (!nlh)
		return 0;
	err = pfd_ct_parse(nlh, &e, &ev);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -EOPNOTSUPP);
	if (!err) {
		/* what ct.h promises the callback */
		FUZZ_CHECK(ev == PFD_CT_EV_NEW || ev == PFD_CT_EV_UPDATE ||
			   ev == PFD_CT_EV_DESTROY);
		FUZZ_CHECK(e.orig.family == AF_INET || e.orig.family == AF_INET6);
		FUZZ_CHECK(e.reply.family == e.orig.family);
		FUZZ_CHECK(e.orig.l4proto == e.reply.l4proto);
	}
	free(nlh);
	return 0;
}
