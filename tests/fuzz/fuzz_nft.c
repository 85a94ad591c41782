// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: nftables messages (nft-backend/nft.c):
 * pfd_nft_parse_gen() (NEWGEN, the ruleset generation mark mode revalidates
 * against), pfd_nft_parse_flowtable() and pfd_nft_parse_chain(), whose own
 * attribute checks stand between the socket and libnftnl, which exit()s on
 * what it takes for ABI breakage: libFuzzer reports such an exit as a crash;
 * and pfd_nft_parse_synproxy() (rules and objects, walked without libnftnl).
 * The input is one netlink message (tests/fuzz/fuzz.h); each parser refuses
 * the other types at once. nlmsg_seq, which no parser reads, picks the row
 * capacity pfd_nft_parse_chain and pfd_nft_parse_synproxy get (0..7), so
 * that -E2BIG is fuzzed too.
 * Seeds from tests/fuzz/mkseeds.c (built with libnftnl, as in the unit tests).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>

#include "nft-backend/nft.h"
#include "fuzz.h"

static void check_gen(const struct nlmsghdr *nlh)
{
	uint32_t genid = 0;
	int err = pfd_nft_parse_gen(nlh, &genid);

	FUZZ_CHECK(err == 0 || err == -EINVAL);
}

static void check_flowtable(const struct nlmsghdr *nlh)
{
	struct pfd_flowtable ft;
	unsigned int i;
	int err = pfd_nft_parse_flowtable(nlh, &ft);

	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ENOMEM);
	if (err)
		return;
	FUZZ_CHECK(FUZZ_TERMINATED(ft.table) && FUZZ_TERMINATED(ft.name));
	FUZZ_CHECK(ft.ndevs <= PFD_FT_MAX_DEVS);
	for (i = 0; i < ft.ndevs; i++)
		FUZZ_CHECK(ft.devs[i][0] && FUZZ_TERMINATED(ft.devs[i]));
}

static void check_chain(const struct nlmsghdr *nlh)
{
	unsigned int max = nlh->nlmsg_seq % 8, n = ~0U, i;
	/* exactly max rows on the heap: ASan sees a row written past them */
	struct pfd_nft_netdev_chain *rows = malloc(max * sizeof(*rows) + !max);
	int err;

	if (!rows)
		abort();
	err = pfd_nft_parse_chain(nlh, rows, max, &n);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -E2BIG || err == -ENOMEM);
	FUZZ_CHECK(n <= max);
	FUZZ_CHECK(err != -E2BIG || n == max);
	for (i = 0; !err && i < n; i++) {
		FUZZ_CHECK(FUZZ_TERMINATED(rows[i].table) && FUZZ_TERMINATED(rows[i].chain));
		FUZZ_CHECK(rows[i].dev[0] && FUZZ_TERMINATED(rows[i].dev));
	}
	free(rows);
}

static void check_synproxy(const struct nlmsghdr *nlh)
{
	unsigned int max = nlh->nlmsg_seq % 8, n = ~0U;
	/* exactly max rows on the heap, as for the chains */
	struct pfd_nft_synproxy *rows = malloc(max * sizeof(*rows) + !max);
	int err;

	if (!rows)
		abort();
	err = pfd_nft_parse_synproxy(nlh, rows, max, &n);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -E2BIG);
	FUZZ_CHECK(n <= max);
	FUZZ_CHECK(err != -E2BIG || n == max);
	free(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh = fuzz_nlmsg(data, size);

	if (!nlh)
		return 0;
	check_gen(nlh);
	check_flowtable(nlh);
	check_chain(nlh);
	check_synproxy(nlh);
	free(nlh);
	return 0;
}
