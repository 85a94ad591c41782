// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's side of the TC egress programs (pfd/tc_egress.c, pfd-tc(8)): their
 * counters in `pfd status`, and their removal in `pfd detach --all`. A file
 * of its own because pfd/tc_egress.h and pfd/policy.h (which cli_show.c needs)
 * both define enum pfd_dir.
 */
#include <stdint.h>

#include "pfd/tc_egress.h"
#include "pfd/cli.h"

void pfd_cli_print_egress(const char *bpffs)
{
	uint64_t mss[PFD_MSS_S__COUNT], jit[PFD_JIT_S__COUNT];
	unsigned int i;

	/* -ENOENT: neither program was ever loaded; say nothing */
	if (pfd_egress_read_stats(bpffs, mss, jit))
		return;
	pfd_out_open_obj("egress");
	pfd_out_open_obj("mss");
	pfd_print_text("mss clamp:");
	for (i = 0; i < PFD_MSS_S__COUNT; i++)
		if (pfd_egress_mss_stat_key(i)) {
			pfd_print_u64(PFD_PRINT_ANY, pfd_egress_mss_stat_key(i), " %llu", mss[i]);
			pfd_print_text(" %s", pfd_egress_mss_stat_key(i));
		}
	pfd_out_close_obj();
	pfd_out_open_obj("jitter");
	pfd_print_text("\njitter:");
	for (i = 0; i < PFD_JIT_S__COUNT; i++)
		if (pfd_egress_jit_stat_key(i)) {
			pfd_print_u64(PFD_PRINT_ANY, pfd_egress_jit_stat_key(i), " %llu", jit[i]);
			pfd_print_text(" %s", pfd_egress_jit_stat_key(i));
		}
	pfd_out_close_obj();
	pfd_print_text("\n");
	pfd_out_close_obj();
}

int pfd_cli_detach_egress(const char *bpffs)
{
	return pfd_egress_detach_all(bpffs);
}
