#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: a device removed from the flowtable stops the fast path on
# it. A flow is fast-pathed only between devices of one flowtable (the
# kernel's nft_flowtable_find_dev rule), so once r1 leaves ft pfd must stop
# forwarding the flow (both directions touch r1) and detach from r1, while
# the stream goes on through the kernel, intact.
. "$(dirname "$0")/lib.sh"
with_pfd || skip "needs pfd"
topo_up
nft_up
pfd_start flowtable
stream_start tcp 4 5501 120 0.1
wait_for 20 pfd_fwd_above 10 || { pfd_log_tail; fail "pfd never forwarded the stream"; }
inr nft delete flowtable inet pfdvm ft '{ devices = { r1 }; }' 2>"$W/nft.err" ||
	fail "nft could not remove r1 from the flowtable: $(cat "$W/nft.err")"
say "flowtable now: $(inr nft list flowtable inet pfdvm ft | grep devices | tr -s ' \t' ' ')"
r1_free() { ! xdp_on r1; }
wait_for 5 r1_free ||
	{ pfd_log_tail; fail "pfd still attached to r1 5 s after it left the flowtable"; }
nap 2
a=$(pfd_fwd); nap 3; b=$(pfd_fwd)
say "pfd devices: $(pfd_devices); forwarded $a -> $b over 3 s after removal"
[ "$a" = "$b" ] || fail "pfd kept forwarding ($a -> $b) after r1 left the flowtable"
kill -0 "$PFD_PID" 2>/dev/null || fail "pfd exited"
stream_wait
stream_check
pass "r1 removed from ft: pfd detached from r1 and stopped forwarding; data intact"
