#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: pfd killed (SIGKILL, no clean-up) mid-stream. Its XDP
# programs stay attached (pinned), the heartbeat goes stale, the fast path
# passes everything (reason "stale") and the kernel's own flowtable carries
# the flow: the stream completes intact and stays [OFFLOAD] with the same
# conntrack entry, even with a 4 s flowtable timeout. The read-only CLI still
# reports from the pins.
. "$(dirname "$0")/lib.sh"
with_pfd || skip "needs pfd"
topo_up
nft_up
inr sysctl -qw net.netfilter.nf_flowtable_tcp_timeout=4 net.netfilter.nf_flowtable_udp_timeout=4
pfd_start flowtable
stream_start tcp 4 5801 150 0.1
wait_for 20 pfd_fwd_above 10 || { pfd_log_tail; fail "pfd never forwarded the stream"; }
id0=$(ct_id 5801)
kill -9 "$PFD_PID"; wait "$PFD_PID" 2>/dev/null; PFD_PID=
say "pfd killed; conntrack $id0"
nap 8
ct_offloaded 5801 || fail "flow not [OFFLOAD] 8 s after pfd died: $(ct_port 5801)"
[ "$(ct_id 5801)" = "$id0" ] || fail "conntrack entry re-created ($id0 -> $(ct_id 5801))"
stream_wait
stream_check
st=$(pfd_reason stale)
run=$(pfd_json status | jq -r '.running' 2>/dev/null)
say "after death: status running=$run, stale passes $st"
[ "$run" = false ] || fail "pfd status says running=$run after SIGKILL"
[ "$st" -gt 0 ] 2>/dev/null || fail "no packets counted as stale after pfd died (stale=$st)"
pass "pfd SIGKILLed: fast path failed open ($st stale passes), kernel flowtable kept the flow, data intact"
