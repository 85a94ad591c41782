#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: on a kernel with nf_flow_table and a flowtable in the
# ruleset, `mode auto` picks flowtable mode, and `pfd feasibility` reports
# nf_flow_table as present.
. "$(dirname "$0")/lib.sh"
with_pfd || skip "needs pfd"
topo_up
nft_up
out=$(inr timeout 30 "$PFD" feasibility 2>&1)
ft=$(grep -iE 'nf_flow_table|flowtable' <<<"$out" | head -n 3)
say "feasibility: $(tr '\n' '|' <<<"$ft")"
grep -iE 'nf_flow_table|flowtable' <<<"$out" | grep -qiE 'pass|ok|yes|present' ||
	{ sed 's/^/  | /' <<<"$out" | head -n 30; fail "pfd feasibility does not report nf_flow_table as present"; }
pfd_start auto
mode=$(pfd_json status | jq -r '.mode' 2>/dev/null)
[ "$mode" = flowtable ] || { pfd_log_tail; fail "mode auto chose '$mode', not flowtable"; }
pass "mode auto -> flowtable; feasibility: $(head -n 1 <<<"$ft" | tr -s ' \t' ' ')"
