#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: a long-lived flow stays offloaded. The kernel expires its own
# flowtable entry after nf_flowtable_{tcp,udp}_timeout without kernel-visible
# packets, then clears IPS_OFFLOAD (docs/kernel-notes.md, "The kernel's own entry expires; keep it alive"). With pfd carrying
# the flow in XDP the kernel sees nothing, so pfd's keep-alive
# (PFD_FLOW_F_KEEPALIVE: one packet per timeout/3 left to the kernel's
# software flowtable) must keep it alive. Timeouts lowered to 4 s; a TCP and a
# UDP flow run ~4 timeouts; sampled every second: once offloaded, always
# [OFFLOAD], same conntrack id (never flapping, never re-created).
. "$(dirname "$0")/lib.sh"
TMO=4
topo_up
nft_up
inr sysctl -qw net.netfilter.nf_flowtable_tcp_timeout=$TMO net.netfilter.nf_flowtable_udp_timeout=$TMO ||
	fail "cannot lower nf_flowtable_*_timeout"
with_pfd && pfd_start flowtable
p0=0; with_pfd && p0=$(pfd_fwd)
stream_start tcp 4 5401 240 0.1
T_CLI=$ST_CLI T_SRV=$ST_SRV T_IN=$ST_IN T_OUT=$ST_OUT
stream_start udp 4 5402 240 0.1
# Sample until both streams end; a port counts only while its sender runs.
declare -A first id flaps last cli
cli[5401]=$T_CLI cli[5402]=$ST_CLI
t0=$SECONDS
while kill -0 "$T_CLI" 2>/dev/null || kill -0 "$ST_CLI" 2>/dev/null; do
	for port in 5401 5402; do
		[ "${cli[$port]}" != 0 ] && kill -0 "${cli[$port]}" 2>/dev/null || continue
		t=$((SECONDS - t0))
		line=$(inr conntrack -L -o id 2>/dev/null | grep -E "dport=$port " | head -n 1)
		kill -0 "${cli[$port]}" 2>/dev/null || continue
		cid=$(grep -oE 'id=[0-9]+' <<<"$line")
		if grep -q '\[OFFLOAD\]' <<<"$line"; then
			[ -z "${first[$port]:-}" ] && first[$port]=$t id[$port]=$cid
			[ "$cid" != "${id[$port]}" ] && flaps[$port]="${flaps[$port]:-} re-created@${t}s"
			last[$port]=$t
		elif grep -qE 'FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE' <<<"$line"; then
			cli[$port]=0	# the sender closed: the flow ended, not a flap
		elif [ -n "${first[$port]:-}" ]; then
			flaps[$port]="${flaps[$port]:-} not-offloaded@${t}s(${line:-gone})"
		fi
	done
	nap 0.5
done
say "tcp offloaded ${first[5401]:-never}..${last[5401]:-}s, udp ${first[5402]:-never}..${last[5402]:-}s"
for port in 5401 5402; do
	[ -n "${first[$port]:-}" ] || fail "port $port never offloaded"
	[ -z "${flaps[$port]:-}" ] || fail "port $port flapped:${flaps[$port]}"
	[ $((last[$port] - first[$port])) -ge $((3 * TMO)) ] ||
		fail "port $port seen offloaded only $((last[$port] - first[$port])) s (< 3 timeouts)"
done
stream_wait
stream_check
wait "$T_SRV" 2>/dev/null
ST_PROTO=tcp ST_IN=$T_IN ST_OUT=$T_OUT ST_PORT=5401 stream_check
msg=""
if with_pfd; then
	p1=$(pfd_fwd) ka=$(pfd_reason keepalive)
	say "pfd forwarded $((p1 - p0)), keep-alive passes $ka"
	[ $((p1 - p0)) -ge 100 ] || { pfd_log_tail; fail "pfd forwarded only $((p1 - p0)) packets"; }
	[ "$ka" -gt 0 ] || fail "no keep-alive packets counted (reason keepalive)"
	msg=", pfd forwarded $((p1 - p0)) with $ka keep-alive passes"
fi
pass "TCP+UDP offloaded for >= $((3 * TMO)) s with nf_flowtable timeout ${TMO} s, never flapping$msg"
