// SPDX-License-Identifier: GPL-2.0-only
/*
 * nft-backend/nft.c against the real kernel, in a private network namespace:
 * the generation moves with each nft(8) transaction and NEWGEN events carry
 * it; an nft batch larger than the event buffer yields -ENOBUFS; netdev
 * chains (ingress, egress with several devices, inet ingress) are found per
 * device and forward chains are not; the flowtable probe agrees with what
 * `nft add flowtable` can do on this kernel and leaves nothing behind; the
 * flowtable dump is consistent with the generation (and finds flowtables
 * where the kernel has them).
 */
#include <stdbool.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/netfilter.h>

#include "kt.h"
#include "nft-backend/nft.h"

static void drain(struct pfd_nft *nft)
{
	uint32_t g;

	while (kt_readable(pfd_nft_events_fd(nft), 50))
		pfd_nft_events_read(nft, &g);
}

static void test_generation_and_events(struct pfd_nft *nft)
{
	uint32_t g0 = 0, g1 = 0, g2 = 0, ev_gen = 0;
	int ret, i, small;
	char path[] = "/tmp/pfd-kt-nft-XXXXXX";
	int fd;
	FILE *f;

	T_OK(pfd_nft_generation(nft, &g0), "generation");
	T_OK(kt_sh("nft add table inet pfdt"), "nft add table");
	T_OK(pfd_nft_generation(nft, &g1), "generation after add table");
	T_EQ(g1, g0 + 1, "one transaction, one generation");

	T_EQ(pfd_nft_events_fd(nft), -1, "no event fd before events_open");
	T_OK(pfd_nft_events_open(nft), "events open");
	T_TRUE(pfd_nft_events_fd(nft) >= 0, "event fd");
	T_EQ(pfd_nft_events_read(nft, &ev_gen), 0, "nothing pending: 0");
	T_OK(kt_sh("nft add chain inet pfdt c"), "nft add chain");
	T_TRUE(kt_readable(pfd_nft_events_fd(nft), 2000), "event fd readable after a change");
	ret = pfd_nft_events_read(nft, &ev_gen);
	T_EQ(ret, 1, "NEWGEN seen");
	T_OK(pfd_nft_generation(nft, &g2), "generation after add chain");
	T_EQ(ev_gen, g2, "NEWGEN carries the new generation");
	T_EQ(pfd_nft_events_read(nft, &ev_gen), 0, "drained: 0");

	/* A failed transaction changes nothing and sends nothing. */
	T_TRUE(kt_sh("nft add chain inet nosuchtable c") != 0, "nft on a missing table fails");
	T_TRUE(!kt_readable(pfd_nft_events_fd(nft), 200), "failed transaction: no event");

	/* One batch of 3000 rules into a socket shrunk to the minimum (the
	 * default 1 MiB takes ~10000; too slow to add on an emulated VM): more
	 * events than the socket holds. */
	small = 1;
	T_OK(setsockopt(pfd_nft_events_fd(nft), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
	     "shrink the event buffer");
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		T_TRUE(0, "temp file");
		return;
	}
	for (i = 0; i < 3000; i++)
		fprintf(f, "add rule inet pfdt c meta mark 0x%x counter\n", i);
	fclose(f);
	T_OK(kt_sh("nft -f %s", path), "nft -f 3000 rules");
	unlink(path);
	ret = 0;
	for (i = 0; i < 200 && kt_readable(pfd_nft_events_fd(nft), 100); i++) {
		int r = pfd_nft_events_read(nft, &ev_gen);

		if (r < 0)
			ret = r;
	}
	T_EQ(ret, -ENOBUFS, "event overrun: -ENOBUFS");
	drain(nft);
	T_OK(kt_sh("nft delete table inet pfdt"), "nft delete table");
	drain(nft);
}

static bool has_row(const struct pfd_nft_netdev_chain *rows, unsigned int n, const char *table,
		    const char *chain, const char *dev, uint32_t hook)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].table, table) && !strcmp(rows[i].chain, chain) &&
		    !strcmp(rows[i].dev, dev) && rows[i].hooknum == hook)
			return true;
	return false;
}

static void test_netdev_chains(struct pfd_nft *nft)
{
	struct pfd_nft_netdev_chain *rows = NULL;
	unsigned int n = 0;

	T_OK(pfd_nft_read_netdev_chains(nft, &rows, &n), "no chains: read");
	T_EQ(n, 0, "no chains: none");
	free(rows);

	T_OK(kt_sh("ip link add kd0 type veth peer name kd1 && ip link set kd0 up && "
		   "ip link set kd1 up"),
	     "veth pair");
	T_OK(kt_sh("nft add table netdev nt && "
		   "nft add chain netdev nt in \"{ type filter hook ingress device kd0 priority 0; "
		   "}\" && "
		   "nft add chain netdev nt out \"{ type filter hook egress devices = { kd0, kd1 } "
		   "priority 0; }\" && "
		   "nft add chain netdev nt plain && "
		   "nft add table inet it && "
		   "nft add chain inet it ing \"{ type filter hook ingress device kd1 priority 0; "
		   "}\" && "
		   "nft add chain inet it fw \"{ type filter hook forward priority 0; }\""),
	     "nft netdev/inet chains");
	T_OK(pfd_nft_read_netdev_chains(nft, &rows, &n), "read netdev chains");
	T_EQ(n, 4, "4 rows: in@kd0, out@kd0, out@kd1, ing@kd1");
	T_TRUE(has_row(rows, n, "nt", "in", "kd0", NF_NETDEV_INGRESS), "row in@kd0 ingress");
	T_TRUE(has_row(rows, n, "nt", "out", "kd0", NF_NETDEV_EGRESS), "row out@kd0 egress");
	T_TRUE(has_row(rows, n, "nt", "out", "kd1", NF_NETDEV_EGRESS), "row out@kd1 egress");
	T_TRUE(has_row(rows, n, "it", "ing", "kd1", NF_NETDEV_INGRESS), "row inet ing@kd1");
	free(rows);
	kt_sh("nft flush ruleset");
	kt_sh("ip link del kd0");
}

static void test_flowtables(struct pfd_nft *nft)
{
	struct pfd_ft_list l = { 0 };
	uint32_t before = 0, after = 0, g = 0;
	char out[4096];
	int probe, can;

	T_OK(pfd_nft_generation(nft, &before), "generation before probe");
	probe = pfd_nft_probe_flowtables(nft);
	T_OK(pfd_nft_generation(nft, &after), "generation after probe");
	T_TRUE(probe == 0 || probe == 1, "probe: 0 or 1");
	kt_out(out, sizeof(out), "nft list tables");
	T_TRUE(!strstr(out, "pfd_probe"), "probe: leaves no table");
	T_EQ(after, before + (probe == 1 ? 1 : 0), "probe: generation moves only if it committed");

	/* What nft(8) can do decides what the probe must say. */
	kt_sh("nft add table inet ftt");
	can = kt_sh("nft add flowtable inet ftt f \"{ hook ingress priority 0; }\"") == 0;
	T_EQ(probe, can, "probe agrees with nft add flowtable");
	printf("note: flowtable support on this kernel: %s\n", can ? "yes" : "no");

	T_OK(pfd_nft_read_flowtables(nft, &l), "read flowtables");
	T_OK(pfd_nft_generation(nft, &g), "generation");
	T_EQ(l.genid, g, "flowtable snapshot: its generation");
	T_EQ(l.count, can ? 1 : 0, "flowtable count as nft list shows");
	if (can && l.count == 1) {
		T_STR(l.items[0].table, "ftt", "flowtable: table");
		T_STR(l.items[0].name, "f", "flowtable: name");
		T_EQ(l.items[0].family, NFPROTO_INET, "flowtable: family");
	}
	pfd_ft_list_clear(&l);
	T_TRUE(l.items == NULL && l.count == 0, "list cleared");
	kt_sh("nft flush ruleset");
}

int main(void)
{
	struct pfd_nft *nft = NULL;

	if (kt_netns("nft"))
		return t_done();
	T_OK(pfd_nft_open(&nft), "open");
	if (!nft)
		return t_done();
	test_generation_and_events(nft);
	test_netdev_chains(nft);
	test_flowtables(nft);
	pfd_nft_close(nft);
	return t_done();
}
