#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: on a kernel with nf_flow_table and a flowtable in the
# ruleset, `mode auto 0x1/0x1` picks flowtable mode (the host, without
# nf_flow_table, picks mark: tests/vm/run), and `pfd feasibility` reports
# nf_flow_table as present.
. "$(dirname "$0")/lib.sh"
with_pfd || skip "needs pfd"
topo_up
nft_up
pfd_conf "auto 0x1/0x1"
out=$(inr timeout 60 "$PFD" -c "$CONF" -j feasibility 2>"$W/feas.err")
[ -s "$W/feas.err" ] && say "feasibility stderr: $(grep -vE '^[0-9]+: |^; ' "$W/feas.err" | head -n 5 | tr '\n' '|')"
ft=$(jq -r '.checks[] | select(.check == "nf_flow_table") | .result + " " + .detail' <<<"$out" 2>/dev/null)
auto=$(jq -r '.checks[] | select(.check == "mode auto") | .result + " " + .detail' <<<"$out" 2>/dev/null)
say "feasibility: nf_flow_table: $ft; mode auto: $auto"
[ "${ft%% *}" = PASS ] || { head -c 1500 <<<"$out" | sed 's/^/  | /'; fail "pfd feasibility: nf_flow_table is '$ft', not PASS"; }
[[ $auto == *flowtable* ]] || fail "pfd feasibility: mode auto says '$auto', expected flowtable"
pfd_start "auto 0x1/0x1"
mode=$(pfd_json status | jq -r '.mode' 2>/dev/null)
[ "$mode" = flowtable ] || { pfd_log_tail; fail "mode auto chose '$mode', not flowtable"; }
pass "mode auto 0x1/0x1 -> flowtable (status); feasibility: $ft"
