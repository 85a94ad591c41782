#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario (measurement): the bpf_xdp_flow_lookup kfunc (6.10+) as an
# alternative to pfd's own flow map. An XDP program on both router veths
# looks every IPv4 TCP/UDP packet up in the kernel's flowtable and counts
# hits; the verifier's cost is read from bpftool. Functional facts only:
# timings under TCG emulation mean nothing.
. "$(dirname "$0")/lib.sh"
O=$VMOBJ/xdp_flow_lookup.o
modprobe nf_flow_table 2>/dev/null
bpftool btf dump file /sys/kernel/btf/nf_flow_table 2>/dev/null | grep -q bpf_xdp_flow_lookup ||
	skip "kernel lacks: bpf_xdp_flow_lookup kfunc (not in the BTF of $(uname -r)'s nf_flow_table; 6.10+)"
[ -f "$O" ] || fail "$O not built (tests/vm/run builds it)"
topo_up
nft_up
P=$W/bpf/kf
mkdir -p "$W/bpf" && mount -t bpf bpf "$W/bpf" && mkdir -p "$P" || fail "bpffs"
# -d: the verifier's log, whose last line says how many instructions it
# processed (bpftool 7.1 does not show verified_insns)
verified() { grep -oE 'processed [0-9]+ insns' "$1" | tail -n 1 | grep -oE '[0-9]+'; }
bpftool -d prog load "$O" "$P/prog" pinmaps "$P" >"$W/load.err" 2>&1 ||
	{ tail -n 20 "$W/load.err" | sed 's/^/  | /'; fail "verifier refused the kfunc program"; }
info=$(bpftool -j prog show pinned "$P/prog")
vi=$(verified "$W/load.err") xl=$(jq -r '.bytes_xlated' <<<"$info") jit=$(jq -r '.bytes_jited' <<<"$info")
say "kfunc program: verifier processed $vi insns, xlated=${xl}B jited=${jit}B"
N="nsenter --net=/run/netns/$R"
$N bpftool net attach xdp pinned "$P/prog" dev r0 || fail "attach r0"
$N bpftool net attach xdp pinned "$P/prog" dev r1 || fail "attach r1"
stream_start tcp 4 5901 40 0.1 2048
stream_wait
stream_check
# values are printed as little-endian byte arrays when bpftool has no BTF
read -r look hit < <(bpftool -j map dump pinned "$P/stats" | jq -r '[.[] | .formatted.value //
	(.value | if type == "array" then "0x" + (reverse | map(ltrimstr("0x")) | join("")) else . end)
	| tostring] | join(" ")')
look=$((look)) hit=$((hit))
say "lookups=$look hits=$hit"
$N bpftool net detach xdp dev r0; $N bpftool net detach xdp dev r1
[ "${hit:-0}" -gt 0 ] && [ "$hit" -gt $((look / 2)) ] || fail "kfunc found the offloaded flow in only $hit of $look lookups"
cmp=""
if [ -f "$VMOBJ/snap/pfd_xdp.bpf.o" ] &&
   bpftool -d prog load "$VMOBJ/snap/pfd_xdp.bpf.o" "$P/pfd" pinmaps "$P/pfdmaps" >"$W/pfd.err" 2>&1; then
	cmp=" (pfd_xdp.bpf.o alone: $(verified "$W/pfd.err") insns processed)"
fi
pass "kfunc finds $hit of $look packets in the kernel flowtable; verifier processed $vi insns$cmp"
