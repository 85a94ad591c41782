# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Sourced by every guest scenario (tests/vm/guest/[0-9]*.sh). Builds the test
# line client -- router -- server in three network namespaces (veth, IPv4 and
# IPv6 documentation addresses, which exist only inside them), the router's
# nft ruleset (a flowtable on both router veths, `flow add @ft`, a counter in
# the forward chain, masquerade towards the server, which has no route back
# to the client so NAT is required), starts pfd in the router namespace, and
# offers bounded, paced traffic whose bytes are compared end to end.
# Every process a scenario starts is recorded in PIDS and ended by its PID.
#
# A scenario calls fail/skip/pass (exit 1/77/0); main.sh turns that into one
# result line. Detail lines go to stdout and are shown when a scenario fails.

set -u
ROOT=${PFD_ROOT:-$(pwd)}
BUILD=${BUILD:-$ROOT/build}
PFD=${PFD:-$BUILD/pfd}
VMOBJ=$BUILD/tests/vm
SFX=$RANDOM
C=pvc$SFX R=pvr$SFX S=pvs$SFX
# no dot in the path: libbpf rewrites "." to "_" in map pin paths
W=$(mktemp -d /tmp/pfdvm-XXXXXX)
CONF=$W/pfd.conf
PIDS=()
PFD_PID=

say()  { echo "  $*"; }
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "PASS: $*"; exit 0; }

# Builtin sleep: every exec over 9p costs tens of ms under TCG, and pacing
# loops must not fork.
exec {SLEEPFD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEPFD" _ 2>/dev/null; true; }

lib_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "$PFD_PID" ]; then
		kill "$PFD_PID" 2>/dev/null
		wait "$PFD_PID" 2>/dev/null
	fi
	ip netns del "$C" 2>/dev/null
	ip netns del "$R" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	umount "$W/bpf" 2>/dev/null
	rm -rf "$W"
}
trap lib_cleanup EXIT

inr() { ip netns exec "$R" "$@"; }
inc() { ip netns exec "$C" "$@"; }
ins() { ip netns exec "$S" "$@"; }

# The line. No DAD (addresses usable at once), no offloads on the veths (an
# XDP-forwarded frame would carry a partial checksum), an XDP pass program on
# the client's and server's ends (a veth accepts redirected frames only then).
topo_up() {
	local ns
	ip netns add "$C" && ip netns add "$R" && ip netns add "$S" || fail "netns"
	ip link add c0 netns "$C" type veth peer name r0 netns "$R" || fail "veth c0/r0"
	ip link add s0 netns "$S" type veth peer name r1 netns "$R" || fail "veth s0/r1"
	for ns in "$C" "$R" "$S"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		ip -n "$ns" link set lo up
	done
	ip -n "$C" addr add 198.51.100.2/24 dev c0
	ip -n "$C" addr add 2001:db8:1::2/64 dev c0 nodad
	ip -n "$R" addr add 198.51.100.1/24 dev r0
	ip -n "$R" addr add 2001:db8:1::1/64 dev r0 nodad
	ip -n "$R" addr add 203.0.113.1/24 dev r1
	ip -n "$R" addr add 2001:db8:2::1/64 dev r1 nodad
	ip -n "$S" addr add 203.0.113.2/24 dev s0
	ip -n "$S" addr add 2001:db8:2::2/64 dev s0 nodad
	inc ethtool -K c0 tx off rx off tso off gso off gro off >/dev/null 2>&1
	ins ethtool -K s0 tx off rx off tso off gso off gro off >/dev/null 2>&1
	inr ethtool -K r0 tx off rx off tso off gso off gro off >/dev/null 2>&1
	inr ethtool -K r1 tx off rx off tso off gso off gro off >/dev/null 2>&1
	ip -n "$C" link set c0 up
	ip -n "$R" link set r0 up
	ip -n "$R" link set r1 up
	ip -n "$S" link set s0 up
	ip -n "$C" route add default via 198.51.100.1
	ip -n "$C" -6 route add default via 2001:db8:1::1
	inr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# PEER_XDP=0: the peers as a container's veth is (no XDP program, GRO
	# off): they cannot take XDP-redirected frames, and pfd must forward
	# through TC or leave the flow to the kernel
	[ "${PEER_XDP:-1}" = 1 ] || return 0
	ip -n "$C" link set dev c0 xdpdrv obj "$VMOBJ/xdp_pass.o" sec xdp || fail "xdp_pass on c0"
	ip -n "$S" link set dev s0 xdpdrv obj "$VMOBJ/xdp_pass.o" sec xdp || fail "xdp_pass on s0"
}

# table inet pfdvm: flowtable ft on r0+r1, every forwarded TCP/UDP flow
# offered to it, named counter fwd (forward chain, every packet it sees).
# table inet pfdvm_nat apart, so deleting the flowtable keeps NAT working.
nft_up() {
	inr nft -f - <<-'NFT' || fail "nft ruleset"
	table inet pfdvm_nat {
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "r1" masquerade
		}
	}
	table inet pfdvm {
		counter fwd_all { }
		flowtable ft {
			hook ingress priority filter
			devices = { r0, r1 }
		}
		chain forward {
			type filter hook forward priority filter; policy accept;
			counter name fwd_all
			meta l4proto { tcp, udp } flow add @ft
		}
	}
	NFT
	inc ping -c 1 -W 3 203.0.113.2 >/dev/null || fail "no IPv4 path client -> server"
	inc ping -6 -c 1 -W 3 2001:db8:2::2 >/dev/null || fail "no IPv6 path client -> server"
}

fwd_count() { inr nft list counter inet pfdvm fwd_all 2>/dev/null | awk '/packets/ {print $2; exit}'; }
rx_packets() { inr cat "/sys/class/net/$1/statistics/rx_packets"; }

# pfd in the router namespace, with its own bpffs (ip netns exec remounts
# /sys, which would hide /sys/fs/bpf) and a short reconcile interval so that
# IPS_OFFLOAD, which the kernel flips without an event, is seen in ~1 s.
pfd_conf() { # mode
	mkdir -p "$W/bpf" "$W/state"
	mountpoint -q "$W/bpf" || mount -t bpf bpf "$W/bpf" || fail "mount bpffs"
	cat > "$CONF" <<-EOF
	bpffs $W/bpf
	state-dir $W/state
	mode $1
	log-level debug
	heartbeat-interval 500ms
	heartbeat-limit 3s
	reconcile-interval 1s
	refresh-interval 2s
	metrics-file $W/metrics.prom
	EOF
}

pfd_start() { # mode
	[ -x "$PFD" ] || fail "$PFD not built (make build/pfd on the host)"
	pfd_conf "${1:-flowtable}"
	# not through inr(): $! must be pfd itself (ip netns exec execs it),
	# not a subshell whose death would leave pfd running
	ip netns exec "$R" "$PFD" -c "$CONF" run > "$W/pfd.log" 2>&1 &
	PFD_PID=$!
	local i
	for i in $(seq 1 50); do
		kill -0 "$PFD_PID" 2>/dev/null || { tail -n 20 "$W/pfd.log" | sed 's/^/  pfd: /'; PFD_PID=; fail "pfd exited at start"; }
		if [ "$(pfd_json status | jq -r '.running // false' 2>/dev/null)" = true ] &&
		   [ "$(pfd_json status | jq '.devices | length' 2>/dev/null)" -ge 2 ] 2>/dev/null; then
			return 0
		fi
		nap 0.2
	done
	pfd_log_tail
	fail "pfd did not report running with 2 devices within 10 s"
}

pfd_json() { timeout 20 ip netns exec "$R" "$PFD" -c "$CONF" -j "$@" 2>>"$W/cli.err"; }
pfd_log_tail() { tail -n "${PFD_VM_LOG_LINES:-15}" "$W/pfd.log" 2>/dev/null | sed 's/^/  pfd: /'; }
# forwarded packets, summed over devices and hooks (0 if pfd cannot say)
pfd_fwd() { pfd_json stats | jq -r '.reasons.forwarded.packets // 0' 2>/dev/null || echo 0; }
pfd_reason() { pfd_json stats | jq -r --arg r "$1" '.reasons[$r].packets // 0' 2>/dev/null || echo 0; }
# forwarded packets of one hook (xdp|tc), summed over devices
pfd_hook_fwd() { pfd_json stats | jq -r --arg h "$1" '[.devices[][$h]?.forwarded.packets // 0] | add // 0' 2>/dev/null || echo 0; }
pfd_dev_fwd() { pfd_json stats | jq -r --arg d "$1" '[.devices[$d][]?.forwarded.packets // 0] | add // 0' 2>/dev/null || echo 0; }
pfd_devices() { pfd_json status | jq -r '[.devices[].name] | sort | join(",")' 2>/dev/null; }
pfd_nflows() { pfd_json flows | jq 'length' 2>/dev/null || echo -1; }
# flows of pfd with this server port (orig dport)
pfd_flows_port() { pfd_json flows | jq --argjson p "$1" '[.[] | select(.orig.dport == $p)] | length' 2>/dev/null || echo -1; }
xdp_on() { ip -n "$R" link show dev "$1" | grep -qE 'prog/xdp|xdpgeneric|xdpdrv|xdp '; }

# conntrack -L lines of the router for this destination port
ct_port() { inr conntrack -L 2>/dev/null | grep -E "dport=$1 " | head -n 1; }
ct_offloaded() { ct_port "$1" | grep -q '\[OFFLOAD\]'; }
ct_id() { inr conntrack -L -o id 2>/dev/null | grep -E "dport=$1 " | grep -oE 'id=[0-9]+' | head -n 1; }

# Bounded, paced stream client -> server through the router: LINES lines of
# 100 bytes, one every GAP s, then BULK kB of bulk data (TCP only). The sender
# keeps a copy; stream_check compares the bytes received with it. UDP is an
# echo (the server sends every datagram back, the client keeps the echo): a
# UDP conntrack entry only becomes ASSURED with traffic both ways.
#   stream_start tcp|udp 4|6 PORT LINES GAP [BULK_KB]
stream_start() {
	local proto=$1 fam=$2 port=$3 lines=$4 gap=$5 bulk=${6:-0}
	local dst=203.0.113.2 v=4 budget
	budget=$(awk -v l="$lines" -v g="$gap" 'BEGIN {printf "%d", l * g * 3 + 30}')
	[ "$fam" = 6 ] && dst='[2001:db8:2::2]' v=6
	ST_OUT=$W/recv-$port ST_IN=$W/sent-$port ST_ECHO=$W/echo-$port ST_PROTO=$proto ST_PORT=$port
	: > "$ST_OUT"
	if [ "$proto" = tcp ]; then
		timeout "$budget" ip netns exec "$S" socat -u "TCP$v-LISTEN:$port,reuseaddr" \
			"OPEN:$ST_OUT,creat,trunc" 2>"$W/srv-$port.err" &
	else
		timeout "$budget" ip netns exec "$S" socat "UDP$v-LISTEN:$port" \
			"SYSTEM:tee -a $ST_OUT" 2>"$W/srv-$port.err" &
	fi
	ST_SRV=$!; PIDS+=("$ST_SRV")
	wait_for 15 listening "$proto" "$port" || fail "the server did not listen on $proto/$port"
	if [ "$proto" = tcp ]; then
		( gen "$lines" "$gap" "$bulk" | tee "$ST_IN" |
		  timeout "$budget" ip netns exec "$C" socat -u - "TCP$v:$dst:$port" ) 2>"$W/cli-$port.err" &
	else
		( gen "$lines" "$gap" 0 | tee "$ST_IN" |
		  timeout "$budget" ip netns exec "$C" socat -t 2 - "UDP$v:$dst:$port" > "$ST_ECHO" ) 2>"$W/cli-$port.err" &
	fi
	ST_CLI=$!; PIDS+=("$ST_CLI")
}

listening() { # tcp|udp port
	[ -n "$(ins ss -Hln "--$1" "sport = :$2" 2>/dev/null)" ]
}

gen() { # lines gap bulk_kb
	local i pad
	pad=$(printf '%*s' 88 '' | tr ' ' x)
	for ((i = 0; i < $1; i++)); do
		printf '%010d %s\n' "$i" "$pad"
		nap "$2"
	done
	[ "${3:-0}" -gt 0 ] && head -c "$(($3 * 1024))" /dev/urandom
}

stream_wait() {
	wait "$ST_CLI"
	if [ "$ST_PROTO" = udp ]; then
		nap 1
		kill "$ST_SRV" 2>/dev/null; wait "$ST_SRV" 2>/dev/null
	else
		wait "$ST_SRV" 2>/dev/null
	fi
	true
}

stream_check() {
	local a b e
	[ -s "$ST_IN" ] || fail "sender produced nothing"
	a=$(sha256sum < "$ST_IN" | cut -c1-16)
	b=$(sha256sum < "$ST_OUT" | cut -c1-16)
	say "sent $(stat -c %s "$ST_IN") bytes ($a), server received $(stat -c %s "$ST_OUT") ($b)"
	if [ "$ST_PROTO" = udp ]; then
		e=$(sha256sum < "$ST_ECHO" | cut -c1-16)
		say "client got $(stat -c %s "$ST_ECHO") bytes back ($e)"
	else
		e=$a
	fi
	if [ "$a" != "$b" ] || [ "$a" != "$e" ]; then
		tail -n 3 "$W/cli-$ST_PORT.err" "$W/srv-$ST_PORT.err" 2>/dev/null | sed 's/^/  /'
		fail "data differs end to end"
	fi
}

# PFD_VM_KERNEL_ONLY=1: run the scenarios without pfd (the kernel's flowtable
# alone). A development aid and the negative control of the pfd checks: the
# kernel-side assertions must hold either way.
with_pfd() { [ "${PFD_VM_KERNEL_ONLY:-0}" != 1 ]; }

# Waits up to $1 s for a command to succeed.
wait_for() { # seconds cmd...
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ $SECONDS -ge $end ] && return 1
		nap 0.25
	done
}

pfd_has_flow() { [ "$(pfd_flows_port "$1")" -ge 1 ] 2>/dev/null; }
pfd_fwd_above() { [ "$(pfd_fwd)" -gt "$1" ] 2>/dev/null; }

# The common traffic scenario: one paced stream (plus bulk for TCP) through the
# flowtable with masquerade. Data intact; [OFFLOAD] mid-stream; pfd carries
# it (its flow list and forwarded counter); the forward chain stays quiet.
scenario_stream() { # tcp|udp 4|6
	local proto=$1 fam=$2 port=$((5000 + RANDOM % 1000)) lines=60 bulk=0
	local f0 f1 p0 p1 seen_off=0 seen_pfd=0 fwd_max
	[ "$proto" = tcp ] && bulk=2048
	topo_up
	nft_up
	with_pfd && pfd_start flowtable
	f0=$(fwd_count); p0=0
	with_pfd && p0=$(pfd_fwd)
	stream_start "$proto" "$fam" "$port" "$lines" 0.1 "$bulk"
	while kill -0 "$ST_CLI" 2>/dev/null; do
		ct_offloaded "$port" && seen_off=1
		with_pfd && [ $seen_pfd = 0 ] && pfd_has_flow "$port" && seen_pfd=1
		[ $seen_off = 1 ] && { ! with_pfd || [ $seen_pfd = 1 ]; } && break
		nap 0.3
	done
	say "mid-stream: $(ct_port "$port")"
	stream_wait
	stream_check
	f1=$(fwd_count)
	say "forward chain counted $((f1 - f0)) packets for >= $lines sent"
	[ $seen_off = 1 ] || fail "conntrack never showed the flow [OFFLOAD]"
	# Before the offload the chain sees the handshake and what is in flight
	# until the flowtable entry exists: a few for UDP, up to a few dozen
	# with TCP's 2 MB bulk (6.1 showed 16). Not offloaded, it sees them all
	# (UDP >= 120, TCP >= 1500).
	fwd_max=$((lines / 4))
	[ "$proto" = tcp ] && fwd_max=$((lines / 4 + 30))
	[ $((f1 - f0)) -lt $fwd_max ] || fail "forward chain saw $((f1 - f0)) packets: not offloaded"
	if with_pfd; then
		p1=$(pfd_fwd)
		say "pfd forwarded $((p1 - p0)) packets; pfd flow list had the flow: $seen_pfd"
		[ $seen_pfd = 1 ] || { pfd_log_tail; fail "pfd never listed the offloaded flow"; }
		[ $((p1 - p0)) -ge $((lines / 3)) ] || { pfd_log_tail; fail "pfd's XDP forwarded only $((p1 - p0)) packets"; }
		if [ "${PEER_XDP:-1}" = 0 ]; then
			local x
			x=$(pfd_hook_fwd xdp)
			say "peers without XDP: XDP forwarded $x, TC $(pfd_hook_fwd tc)"
			[ "$x" = 0 ] || { pfd_log_tail; fail "XDP redirected $x packets into peers that drop them"; }
		fi
	fi
	pass "$proto/IPv$fam through flowtable + masquerade: data intact, [OFFLOAD], fwd chain $((f1 - f0)) pkts${p1:+, pfd forwarded $((p1 - p0))}"
}
