#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: the flowtable deleted -> pfd detaches from its devices and
# keeps running; the stream goes on through the kernel (now the forward
# chain of the remaining NAT table), intact. The flowtable added back -> pfd
# attaches again.
. "$(dirname "$0")/lib.sh"
with_pfd || skip "needs pfd"
topo_up
nft_up
pfd_start flowtable
stream_start tcp 4 5601 120 0.1
wait_for 20 pfd_fwd_above 10 || { pfd_log_tail; fail "pfd never forwarded the stream"; }
inr nft delete table inet pfdvm || fail "nft delete table"
no_xdp() { ! xdp_on r0 && ! xdp_on r1; }
wait_for 5 no_xdp || { pfd_log_tail; fail "pfd still attached 5 s after the flowtable was deleted"; }
say "pfd devices after delete: '$(pfd_devices)'"
a=$(pfd_fwd); nap 2; b=$(pfd_fwd)
[ "$a" = "$b" ] || fail "pfd kept forwarding ($a -> $b) with no flowtable"
kill -0 "$PFD_PID" 2>/dev/null || { pfd_log_tail; fail "pfd exited when the flowtable went away"; }
stream_wait
stream_check
nft_up
two_xdp() { xdp_on r0 && xdp_on r1; }
wait_for 5 two_xdp || { pfd_log_tail; fail "pfd did not attach again when the flowtable came back"; }
pass "flowtable deleted: pfd detached, kept running, data intact; flowtable re-added: attached again"
