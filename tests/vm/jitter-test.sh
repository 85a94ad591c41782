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
#   3. the jitter counters in the pinned map moved.
# Prints the measured distributions; last line PASS:/FAIL:/SKIP: <detail>.
# Env: PFD_BUILD (default ./build), PFD_JIT_SLACK_MS (default 25).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
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
	"$PY" -c '
import json, sys
e = json.load(sys.stdin)
vals = e.get("formatted", e)["values"]
num = lambda v: v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v), "little")
print(sum(num(v["value"]) for v in vals))')
echo "pfd_jit_stats delayed: $delayed"
[ "${delayed:-0}" -ge $((40 + N)) ] || fail "delayed counter $delayed < $((40 + N))"

echo "PASS: jitter ${MIN_MS}..${MAX_MS} ms: ping RTT min/p50/p90/max $jmin/$jp50/$jp90/$jmax ms (baseline $bmin..$bmax); UDP one-way $dmin/$d50/$d90/$dmax ms, $N in order"
