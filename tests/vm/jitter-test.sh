#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The real delay of pfd's TC egress jitter (tc-bpf/pfd_tc_jitter.bpf.o). Needs
# a kernel with sch_fq, so it runs in the VM (tests/vm/guest/main.sh picks it
# up); on a kernel without fq it skips (exit 77). Two namespaces joined by a
# veth; the object is loaded by hand exactly as the jitter example of
# man/pfd-tc.8 says (device and object directory substituted), then the range
# is widened to 30..60 ms with bpftool, wide enough to stand out of TCG
# emulation noise. Checks:
#   1. ping RTT: every sample >= baseline min + 30 ms, at least 75% <=
#      baseline max + 60 ms + slack (emulation stalls add to some); the
#      samples spread over the range (not a constant delay);
#   2. a paced UDP stream (one flow, 1 ms apart, far closer than the delay
#      range): arrives complete and in order (departure times monotonic per
#      flow, or fq would reorder it), every one-way delay >= 30 ms
#      (CLOCK_MONOTONIC is shared by the namespaces; the receiver's backlog
#      under emulation makes an upper bound meaningless here);
#   3. the jitter counters in the pinned map moved;
#   4. (opt-in, PFD_JIT_FASTPATH=1 or --fastpath) pfd in flowtable mode with
#      TC programs, a UDP flow toward a device with jitter: XDP never carries
#      it, every packet is delayed, and the result line says whether pfd's TC
#      datapath or the kernel carried it.
# Prints the measured distributions; last line PASS:/FAIL:/SKIP: <detail>.
# Env: PFD_BUILD (default ./build), PFD_JIT_SLACK_MS (default 25),
# PFD_JIT_FASTPATH (default 0).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
# Sum over CPUs of a per-CPU counter from `bpftool -j map lookup` on stdin
# (the "formatted" form when bpftool has the map's BTF, raw bytes otherwise).
percpu_sum() {
	python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    e = json.loads(raw)
    vals = e.get("formatted", e)["values"]
    num = lambda v: v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little")
    print(sum(num(v["value"]) for v in vals))
except (ValueError, KeyError, TypeError):
    sys.stderr.write("unexpected bpftool output: %r\n" % raw[:300])
    print(0)'
}
if [ "${1:-}" = --fastpath ]; then
	# shellcheck source=tests/vm/guest/lib.sh
	PFD_ROOT=$ROOT . "$ROOT/tests/vm/guest/lib.sh"
	# pfd with its TC ingress program on both router veths (attach ... tc),
	# so that it can carry the flow through r1's egress path (VIA_TC)
	eval "lib_$(declare -f pfd_conf)"
	pfd_conf() { lib_pfd_conf "$@"; printf 'attach r0 tc\nattach r1 tc\n' >> "$CONF"; }
	fastpath_jitter() {
		local port=$((6000 + RANDOM % 1000)) holder x0 x1 t0 t1 d0 d1 out
		topo_up
		nft_up
		# jitter 30..60 ms on r1 (toward the server), by hand, in a
		# private mount namespace (pfd's own bpffs is elsewhere)
		inr tc qdisc replace dev r1 root fq || skip "no sch_fq"
		unshare -m --propagation private sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep 900' &
		holder=$!; PIDS+=("$holder")
		nap 0.5
		jr() { nsenter -t "$holder" -m --net="/run/netns/$R" bash -ec "$1"; }
		jr "tc qdisc add dev r1 clsact && tc filter add dev r1 egress bpf da obj $BUILD/tc-bpf/pfd_tc_jitter.bpf.o sec tc &&
		    bpftool map update pinned /sys/fs/bpf/tc/globals/pfd_jit_cfg key 0 0 0 0 value \
			0x80 0xc3 0xc9 0x01 0 0 0 0  0x00 0x87 0x93 0x03 0 0 0 0  0 0 0 0 0 0 0 0" ||
			fail "hand-loading jitter on r1"
		jdelayed() { jr "bpftool -j map lookup pinned /sys/fs/bpf/tc/globals/pfd_jit_stats key 0 0 0 0" |
			percpu_sum; }
		pfd_start flowtable
		hook_fwd() { pfd_json stats | jq -r --arg h "$1" '.devices.r0[$h].forwarded.packets // 0' 2>/dev/null || echo 0; }
		x0=$(hook_fwd xdp); t0=$(hook_fwd tc); d0=$(jdelayed)
		timeout 60 ip netns exec "$S" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.2", int(sys.argv[1]))); s.settimeout(15)
print("ready", flush=True)
try:
    while True:
        b, a = s.recvfrom(64); s.sendto(b, a)
except socket.timeout:
    pass
' "$port" &
		PIDS+=($!)
		nap 1
		out=$(timeout 60 ip netns exec "$C" python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
rtt = []
for i in range(80):
    s.sendto(struct.pack("!IQ", i, time.monotonic_ns()), ("203.0.113.2", int(sys.argv[1])))
    try:
        b = s.recv(64)
        rtt.append((time.monotonic_ns() - struct.unpack("!IQ", b[:12])[1]) / 1e6)
    except socket.timeout:
        pass
    time.sleep(0.05)
r = sorted(rtt) or [0]
print(len(rtt), "%.1f %.1f %.1f" % (r[0], r[len(r)//2], r[-1]))
' "$port")
		x1=$(hook_fwd xdp); t1=$(hook_fwd tc); d1=$(jdelayed)
		read -r got rmin r50 rmax <<<"$out"
		say "UDP echo through r1: $got/80 replies, RTT min/p50/max $rmin/$r50/$rmax ms"
		say "pfd on r0: XDP forwarded $((x1 - x0)), TC forwarded $((t1 - t0)); jitter delayed $((d1 - d0))"
		say "pfd explain: $(pfd_json flows | jq -c '.[] | select(.orig.dport == '"$port"')' 2>/dev/null | head -c 300)"
		[ "${got:-0}" -ge 70 ] || fail "only ${got:-0}/80 UDP echoes"
		[ $((x1 - x0)) -eq 0 ] || fail "XDP forwarded $((x1 - x0)) packets toward a jitter device (skipping fq)"
		awk -v x="$rmin" 'BEGIN{exit !(x >= 30)}' || fail "an RTT of $rmin ms: a packet toward r1 escaped the jitter"
		[ $((d1 - d0)) -ge "$got" ] || fail "jitter stamped $((d1 - d0)) packets for $got datagrams"
		if [ $((t1 - t0)) -gt 0 ]; then
			pass "fast-pathed by pfd's TC datapath ($((t1 - t0)) pkts) and delayed: RTT min/p50/max $rmin/$r50/$rmax ms"
		fi
		pass "pfd left the flow to the kernel, delayed: RTT min/p50/max $rmin/$r50/$rmax ms"
	}
	fastpath_jitter
	exit 1
fi
BUILD=${PFD_BUILD:-$ROOT/build}
OBJ_DIR=$BUILD/tc-bpf
SLACK=${PFD_JIT_SLACK_MS:-25}
MIN_MS=30 MAX_MS=60
PY=$(command -v python3)

fail() { echo "FAIL: $*"; exit 1; }
[ -f "$OBJ_DIR/pfd_tc_jitter.bpf.o" ] || fail "$OBJ_DIR/pfd_tc_jitter.bpf.o missing (make first)"
for t in tc bpftool ip ping unshare nsenter "$PY"; do
	command -v "$t" >/dev/null || fail "$t not found"
done

sfx=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
A=pfdj-a-$sfx B=pfdj-b-$sfx IA=ja$sfx IB=jb$sfx
HOLDER=
cleanup() {
	[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
}
trap cleanup EXIT

ip netns add "$A" && ip netns add "$B" || fail "cannot create namespaces"
ip link add "$IA" netns "$A" type veth peer name "$IB" netns "$B" || fail "veth"
for p in "$A:$IA:192.0.2.1" "$B:$IB:192.0.2.2"; do
	IFS=: read -r ns dev addr <<<"$p"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off >/dev/null 2>&1
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
done
# A veth hands each packet to the backlog of the CPU that sent it: fq's
# releases from its timer on one CPU and from a sender on another can be
# received in either order, with departures in order. Steering the receive
# side to one CPU (RPS) makes arrival order departure order, which is what
# check 2 measures.
ip netns exec "$B" sh -c "echo 1 > /sys/class/net/$IB/queues/rx-0/rps_cpus" ||
	fail "cannot steer $IB's receive to CPU 0 (rps_cpus)"

if ! ip netns exec "$A" tc qdisc replace dev "$IA" root fq 2>/dev/null; then
	echo "SKIP: this kernel has no sch_fq (the fq qdisc), which jitter needs"
	exit 77
fi
ip netns exec "$A" tc qdisc del dev "$IA" root 2>/dev/null

# RTT samples in ms, one per line: ping -c N -i I
rtts() {
	ip netns exec "$A" timeout 60 ping -n -c "$1" -i "$2" -W 2 192.0.2.2 |
		sed -nE 's/.*time=([0-9.]+) ms.*/\1/p'
}
# "min p50 p90 max" of numbers on stdin
stats() { sort -n | awk '{v[NR]=$1} END {if (!NR) {print "none"; exit}
	printf "%.2f %.2f %.2f %.2f n=%d", v[1], v[int((NR+1)/2)], v[int(NR*0.9+0.5)], v[NR], NR}'; }

base=$(rtts 20 0.05)
[ -n "$base" ] || fail "no baseline ping replies"
read -r bmin _ _ bmax _ <<<"$(stats <<<"$base")"
echo "baseline RTT ms (min p50 p90 max): $(stats <<<"$base")"

# A private mount namespace with bpffs at /sys/fs/bpf (tc pins there).
unshare -m --propagation private sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep 300' &
HOLDER=$!
sleep 0.5
inA() { nsenter -t "$HOLDER" -m --net="/run/netns/$A" bash -ec "$1"; }

# The man page's jitter example, verbatim but for the device and directory.
example=$("$PY" - "$ROOT/man/pfd-tc.8" <<'PYEOF'
import re, sys
t = open(sys.argv[1]).read()
blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", t, re.S | re.M)
ex = [b for b in blocks if "pfd_tc_jitter.bpf.o" in b][0]
print(ex.replace("\\e", "\\").replace("\\-", "-"))
PYEOF
)
example=${example//wan0/$IA}
example=${example//\/usr\/lib\/bpf\/pfd\//$OBJ_DIR/}
echo "man page example:"; echo "$example"
inA "$example" || fail "the man page's jitter example failed"
inA "tc filter show dev $IA egress" | grep -q pfd_tc_jitter || fail "no jitter filter after the example"

# Widen to 30..60 ms: struct pfd_jit_conf {u64 min_ns, max_ns; u32 dist, flags}
le64() { local v=$1 i out=; for i in 0 1 2 3 4 5 6 7; do out+="$(((v >> (8 * i)) & 255)) "; done; echo "$out"; }
inA "bpftool map update pinned /sys/fs/bpf/tc/globals/pfd_jit_cfg key 0 0 0 0 value \
	$(le64 $((MIN_MS * 1000000))) $(le64 $((MAX_MS * 1000000))) 0 0 0 0 0 0 0 0" ||
	fail "bpftool map update"

# 1. ping
jit=$(rtts 40 0.15)
[ -n "$jit" ] || fail "no ping replies with jitter"
read -r jmin jp50 jp90 jmax jn <<<"$(stats <<<"$jit")"
echo "jitter ${MIN_MS}..${MAX_MS} ms RTT ms (min p50 p90 max): $jmin $jp50 $jp90 $jmax $jn"
lo=$(awk -v b="$bmin" -v m="$MIN_MS" 'BEGIN{print b + m}')
hi=$(awk -v b="$bmax" -v m="$MAX_MS" -v s="$SLACK" 'BEGIN{print b + m + s}')
awk -v x="$jmin" -v lo="$lo" 'BEGIN{exit !(x + 0.05 >= lo)}' ||
	fail "RTT $jmin ms below baseline min + $MIN_MS ms ($lo)"
# The upper bound on the timestamps is exact (tests/bpf/test_jitter); what a
# guest under TCG measures also carries emulation stalls (a baseline ping can
# take 12 ms, and 4 of 40 samples above the bound were seen on a loaded
# host), so allow a quarter of the samples above it, and report them: a delay
# that accumulates past max (the bug this guards against) moves most of them.
over=$(awk -v hi="$hi" '$1 > hi {n++} END {print n + 0}' <<<"$jit")
echo "RTT samples above baseline max + $MAX_MS ms + ${SLACK} ms ($hi ms): $over of $jn"
[ $((over * 4)) -le "${jn#n=}" ] || fail "$over of ${jn#n=} RTTs above $hi ms"
awk -v a="$jmin" -v b="$jmax" 'BEGIN{exit !(b - a >= 10)}' ||
	fail "RTTs spread only $jmin..$jmax ms: not a random delay"

# 2. one paced UDP flow: order and one-way delay
RECV='
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 5999)); s.settimeout(20)  # the sender starts slowly under TCG
print("ready", flush=True)
seqs, delays = [], []
try:
    while len(seqs) < int(sys.argv[1]):
        b = s.recv(64)
        seq, t = struct.unpack("!IQ", b[:12])
        seqs.append(seq); delays.append((time.monotonic_ns() - t) / 1e6)
        s.settimeout(3)
except socket.timeout:
    pass
inv = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
d = sorted(delays) or [0]
print(len(seqs), inv, "%.2f %.2f %.2f %.2f" % (d[0], d[len(d)//2], d[int(len(d)*0.9)], d[-1]))
'
SEND='
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(struct.pack("!IQ", i, time.monotonic_ns()) + bytes(20), ("192.0.2.2", 5999))
    time.sleep(0.001)
'
N=300
exec 3< <(ip netns exec "$B" timeout 60 "$PY" -c "$RECV" $N)
read -r ready <&3
[ "$ready" = ready ] || fail "UDP receiver did not start"
ip netns exec "$A" timeout 60 "$PY" -c "$SEND" $N || fail "UDP sender failed"
read -r got inv dmin d50 d90 dmax <&3
exec 3<&-
echo "UDP flow, $N datagrams 1 ms apart: received $got, out of order $inv, one-way delay ms (min p50 p90 max): $dmin $d50 $d90 $dmax"
[ "${got:-0}" = $N ] || fail "UDP: received ${got:-0} of $N"
[ "$inv" = 0 ] || fail "UDP: $inv datagrams out of order (per-flow departure times not monotonic)"
awk -v x="$dmin" -v m="$MIN_MS" 'BEGIN{exit !(x >= m)}' || fail "UDP: delay $dmin ms below $MIN_MS ms"
# No upper bound here: under TCG the Python receiver falls behind a 1 ms
# stream and its own backlog adds to the measured delay (the ping check above
# bounds the delay; tests/bpf/test_jitter bounds the timestamps exactly).

# 3. counters
delayed=$(inA "bpftool -j map lookup pinned /sys/fs/bpf/tc/globals/pfd_jit_stats key 0 0 0 0" |
	percpu_sum)
echo "pfd_jit_stats delayed: $delayed"
[ "${delayed:-0}" -ge $((40 + N)) ] || fail "delayed counter $delayed < $((40 + N))"

# 4. (opt-in) pfd's fast path toward a jitter device (needs build/pfd and the guest's
# nf_flow_table): XDP redirect skips the egress qdisc, so pfd must carry such
# a flow with its TC program (bpf_redirect goes through fq) or leave it to the
# kernel. Either way every packet must be delayed; XDP must never carry it.
# Opt-in (PFD_JIT_FASTPATH=1, or run this script with --fastpath): it starts
# a whole pfd lab and takes minutes under TCG, beyond main.sh's per-scenario
# budget.
FP=
if [ "${PFD_JIT_FASTPATH:-0}" = 1 ] && [ -x "$BUILD/pfd" ] &&
	{ [ -d /sys/module/nf_flow_table ] || modprobe -q nf_flow_table 2>/dev/null; }; then
	fpout=$(bash "$ROOT/tests/vm/jitter-test.sh" --fastpath 2>&1)
	echo "fast path toward a jitter device:"
	sed 's/^/  /' <<<"$fpout"
	FP=$(grep -E '^(PASS|FAIL|SKIP): ' <<<"$fpout" | tail -n 1)
	case $FP in
	FAIL:*) fail "fast path toward a jitter device: ${FP#FAIL: }" ;;
	esac
fi

echo "PASS: jitter ${MIN_MS}..${MAX_MS} ms: ping RTT min/p50/p90/max $jmin/$jp50/$jp90/$jmax ms (baseline $bmin..$bmax); UDP one-way $dmin/$d50/$d90/$dmax ms, $N in order${FP:+; ${FP}}"
