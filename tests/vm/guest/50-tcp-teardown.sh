#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: TCP teardown of a fast-pathed flow, FIN and RST. pfd passes
# FIN/RST to the kernel (docs/design.md, rule 6); before 6.14 the kernel's software flowtable
# then tears the flow down (IPS_OFFLOAD cleared, conntrack sees the segment and
# moves to a closing state); from 6.14 on FIN/RST keep the flow in the
# flowtable (CLOSING) until it expires idle (docs/kernel-notes.md, "FIN and RST, before and after 6.14"), which
# this test accepts as offloaded-then-gone later. Either way pfd must drop the
# flow within a few seconds of IPS_OFFLOAD clearing, and conntrack must agree.
. "$(dirname "$0")/lib.sh"
kv=$(uname -r); kv=${kv%%-*}
ge614() { [ "$(printf '%s\n6.14\n' "$kv" | sort -V | head -n 1)" = 6.14 ]; }
closing_ok() { # port
	local l
	l=$(ct_port "$1")
	[ -z "$l" ] && return 0
	grep -q '\[OFFLOAD\]' <<<"$l" && return 1
	grep -qE 'FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE' <<<"$l"
}
pfd_gone() { ! with_pfd || [ "$(pfd_flows_port "$1")" = 0 ]; }
topo_up
nft_up
with_pfd && pfd_start flowtable

# FIN: the client finishes a stream and closes.
stream_start tcp 4 5701 40 0.1
wait_for 15 ct_offloaded 5701 || fail "FIN case: never offloaded"
with_pfd && { wait_for 10 pfd_has_flow 5701 || { pfd_log_tail; fail "FIN case: pfd never took the flow"; }; }
stream_wait
stream_check
if ge614; then
	say "kernel $kv >= 6.14: FIN keeps the flow in the flowtable (CLOSING)"
else
	wait_for 8 closing_ok 5701 || fail "FIN: conntrack after close: $(ct_port 5701)"
fi
wait_for 8 pfd_gone 5701 || { pfd_log_tail; fail "FIN: pfd still lists the closed flow"; }
fin="FIN: $(ct_port 5701 | awk '{print $4}')"

# RST: the server's socket is aborted (ss -K sends a RST) mid-stream.
stream_start tcp 4 5702 200 0.1
wait_for 15 ct_offloaded 5702 || fail "RST case: never offloaded"
with_pfd && { wait_for 10 pfd_has_flow 5702 || fail "RST case: pfd never took the flow"; }
ins ss -K -t state established '( sport = :5702 )' >/dev/null || fail "ss -K failed"
stream_wait
if ! ge614; then
	wait_for 8 closing_ok 5702 || fail "RST: conntrack after reset: $(ct_port 5702)"
fi
wait_for 8 pfd_gone 5702 || { pfd_log_tail; fail "RST: pfd still lists the reset flow"; }
pass "kernel $kv: $fin, RST: $(ct_port 5702 | awk '{print $4}'); pfd dropped both flows"
