# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by the VLAN scenarios (tests/vm/guest/15-vlan-*.sh) after lib.sh:
# VLAN 100 on the client's and the router's veth (c0.100, r0.100), tagged and
# untagged traffic mixed on one parent (r0). The client reaches 203.0.113.2
# through the VLAN and 203.0.113.3 untagged. The client veth inserts tags in
# "hardware" (tx-vlan-offload, the default): r0's XDP never sees them in the
# frame, which is why pfd must hand r0's packets to TC.
#   scenario_vlan mark|flowtable
vlan_up() {
	ip -n "$C" link add link c0 name c0.100 type vlan id 100 || fail "no 8021q: ip link add type vlan"
	ip -n "$R" link add link r0 name r0.100 type vlan id 100 || fail "vlan r0.100"
	ip -n "$C" addr add 192.0.2.2/24 dev c0.100
	ip -n "$R" addr add 192.0.2.1/24 dev r0.100
	ip -n "$S" addr add 203.0.113.3/24 dev s0
	inc ethtool -K c0.100 tx off rx off tso off gso off gro off >/dev/null 2>&1
	inr ethtool -K r0.100 tx off rx off tso off gso off gro off >/dev/null 2>&1
	ip -n "$C" link set c0.100 up
	ip -n "$R" link set r0.100 up
	ip -n "$C" route add 203.0.113.2/32 via 192.0.2.1
}

# mark mode: the forward chain marks each direction of an established flow
# (ct mark 0x1 original, 0x2 reply); flowtable mode: a flowtable on the
# parent, the VLAN device and r1. Masquerade towards the server either way.
vlan_nft_up() { # mark|flowtable
	local ft='' off="ct state established meta l4proto { tcp, udp } ct direction original ct mark set ct mark or 0x1
		ct state established meta l4proto { tcp, udp } ct direction reply ct mark set ct mark or 0x2"
	if [ "$1" = flowtable ]; then
		ft='flowtable ft { hook ingress priority filter; devices = { r0, r0.100, r1 }; }'
		off='meta l4proto { tcp, udp } flow add @ft'
	fi
	inr nft -f - <<-NFT || fail "nft ruleset"
	table inet pfdvm_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "r1" masquerade
		}
	}
	table inet pfdvm {
		counter fwd_all { }
		$ft
		chain forward {
			type filter hook forward priority filter; policy accept;
			counter name fwd_all
			$off
		}
	}
	NFT
	inc ping -c 1 -W 3 203.0.113.2 >/dev/null || fail "no path client -> server through VLAN 100"
	inc ping -c 1 -W 3 203.0.113.3 >/dev/null || fail "no untagged path client -> server"
}

kernel_at_least() { # major minor
	local v=${KVER:-$(uname -r)} ma mi
	ma=${v%%.*} v=${v#*.} mi=${v%%[!0-9]*}
	[ "$ma" -gt "$1" ] || { [ "$ma" = "$1" ] && [ "$mi" -ge "$2" ]; }
}
dev_json() { pfd_json status | jq -c --arg d "$1" '.devices[] | select(.name == $d)' 2>/dev/null; }
vlan_uppers() { [ "$(dev_json "$1" | jq -r '.vlan_uppers')" = "$2" ]; }
# forwarded packets of one device and hook
dev_hook_fwd() { pfd_json stats | jq -r --arg d "$1" --arg h "$2" '.devices[$d][$h].forwarded.packets // 0' 2>/dev/null || echo 0; }
dev_hook_reason() { pfd_json stats | jq -r --arg d "$1" --arg h "$2" --arg r "$3" '.devices[$d][$h][$r].packets // 0' 2>/dev/null || echo 0; }

# One stream to DST; prints nothing, fails unless the data arrive intact.
vlan_stream() { # dst port
	local dst=$1 port=$2 lines=60
	ST_OUT=$W/recv-$port ST_IN=$W/sent-$port ST_PROTO=tcp ST_PORT=$port
	: > "$ST_OUT"
	timeout 120 ip netns exec "$S" socat -u "TCP4-LISTEN:$port,reuseaddr" "OPEN:$ST_OUT,creat,trunc" 2>"$W/srv-$port.err" &
	ST_SRV=$!; PIDS+=("$ST_SRV")
	wait_for 15 listening tcp "$port" || fail "the server did not listen on $port"
	( gen "$lines" 0.1 1024 | tee "$ST_IN" |
	  timeout 120 ip netns exec "$C" socat -u - "TCP4:$dst:$port" ) 2>"$W/cli-$port.err" &
	ST_CLI=$!; PIDS+=("$ST_CLI")
	while kill -0 "$ST_CLI" 2>/dev/null; do
		[ "${VLAN_PORT:-}" = "$port" ] && ct_offloaded "$port" && VLAN_OFF=1
		nap 0.3
	done
	stream_wait
	stream_check
}

scenario_vlan() { # mark|flowtable
	local mode=$1 conf_mode=$1 v0 v1 t0 t1 x0 x1 h0 h1
	topo_up
	vlan_up
	vlan_nft_up "$mode"
	[ "$mode" = mark ] && conf_mode="mark 0x3/0x3"
	pfd_conf "$conf_mode"
	if [ "$mode" = mark ]; then
		printf 'attach r0 auto\nattach r0.100 auto\nattach r1 auto\n' >> "$CONF"
	fi
	ip netns exec "$R" "$PFD" -c "$CONF" run > "$W/pfd.log" 2>&1 &
	PFD_PID=$!
	has3() { [ "$(pfd_json status | jq '.devices | length' 2>/dev/null)" = 3 ]; }
	wait_for 15 has3 || { pfd_log_tail; fail "pfd did not attach to r0, r0.100 and r1"; }
	say "devices: $(pfd_json status | jq -c '[.devices[] | {name, attach, vlan_uppers}]')"
	vlan_uppers r0 true || { pfd_log_tail; fail "r0 carries VLAN 100 but pfd does not hand its packets to TC"; }
	vlan_uppers r1 false || fail "r1 has no VLAN device but is marked as having one"

	# tagged: client -> r0.100 -> r1 -> server; the server's ACKs come
	# back into r1, whose XDP pushes tag 100 and leaves by r0 when r0
	# takes XDP frames (the client's veth has an XDP program), else TC
	# ingress on r1 redirects to r0.100
	v0=$(pfd_dev_fwd r0.100) x0=$(dev_hook_fwd r0 xdp) h0=$(dev_hook_reason r0 xdp via_tc)
	rx0=$(dev_hook_fwd r1 xdp) rt0=$(dev_hook_fwd r1 tc)
	VLAN_PORT=5701 VLAN_OFF=0
	vlan_stream 203.0.113.2 5701
	v1=$(pfd_dev_fwd r0.100) x1=$(dev_hook_fwd r0 xdp) h1=$(dev_hook_reason r0 xdp via_tc)
	rx1=$(dev_hook_fwd r1 xdp) rt1=$(dev_hook_fwd r1 tc)
	say "VLAN stream: r0.100 ($(dev_json r0.100 | jq -r .attach)) forwarded $((v1 - v0)); r0's XDP forwarded $((x1 - x0)), handed $((h1 - h0)) to TC"
	say "  replies into VLAN 100: r1's XDP forwarded $((rx1 - rx0)) (tag pushed), its TC $((rt1 - rt0))"
	if [ "$mode" = flowtable ]; then
		# the kernel's flowtable hook on r0 takes the tagged packets
		# (the forward path of r0.100 resolves to r0 plus the tag)
		# before they reach r0.100, where pfd's TC program runs
		[ "$VLAN_OFF" = 1 ] || fail "conntrack never showed the VLAN flow [OFFLOAD]"
	else
		[ $((v1 - v0)) -ge 20 ] || { pfd_log_tail; fail "pfd forwarded only $((v1 - v0)) packets of the VLAN stream on r0.100"; }
	fi
	[ $((x1 - x0)) = 0 ] || fail "r0's XDP forwarded $((x1 - x0)) packets while only VLAN traffic flowed"
	# before 6.3 no device's XDP transmit support is known (no netdev
	# family): pfd never XDP-redirects, TC carries the replies
	if [ "${PEER_XDP:-1}" = 1 ] && kernel_at_least 6 3; then
		[ $((rx1 - rx0)) -ge 20 ] || { pfd_log_tail; fail "r1's XDP pushed the tag on only $((rx1 - rx0)) replies"; }
	else
		[ $((rx1 - rx0)) = 0 ] || fail "r1's XDP redirected $((rx1 - rx0)) frames into r0, whose peer drops them"
		[ $((rt1 - rt0)) -ge 20 ] || { pfd_log_tail; fail "r1's TC forwarded only $((rt1 - rt0)) replies into VLAN 100"; }
	fi

	# untagged on the same parent: client -> r0 -> r1 -> server
	t0=$(dev_hook_fwd r0 tc) x0=$(dev_hook_fwd r0 xdp)
	vlan_stream 203.0.113.3 5702
	t1=$(dev_hook_fwd r0 tc) x1=$(dev_hook_fwd r0 xdp)
	say "untagged stream: r0's TC forwarded $((t1 - t0)), its XDP $((x1 - x0))"
	[ $((t1 - t0)) -ge 20 ] || { pfd_log_tail; fail "TC on r0 forwarded only $((t1 - t0)) packets of the untagged stream"; }
	[ $((x1 - x0)) = 0 ] || fail "r0's XDP forwarded $((x1 - x0)) packets although VLANs sit on r0"

	# the VLAN goes: XDP decides r0's packets again
	ip -n "$R" link del r0.100
	r0_plain() { vlan_uppers r0 false; }
	wait_for 10 r0_plain || { pfd_log_tail; fail "r0.100 deleted, but r0's XDP still hands everything to TC"; }
	kill -0 "$PFD_PID" 2>/dev/null || fail "pfd exited"
	local vl="VLAN forwarded $((v1 - v0)) on r0.100"
	[ "$mode" = flowtable ] && vl="VLAN [OFFLOAD] (the kernel's flowtable hook on r0)"
	pass "$mode mode, VLAN 100 and untagged on r0: both intact; $vl, replies $((rx1 - rx0)) by r1's XDP (tag pushed) $((rt1 - rt0)) by its TC, untagged $((t1 - t0)) by r0's TC, none by r0's XDP"
}
