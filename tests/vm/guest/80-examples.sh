#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: every examples/flowtable-*.nft loads on a kernel that has
# flowtables. Each file gets a fresh network namespace holding a dummy device
# for every device name its flowtables list (the host kernel cannot load
# them at all: no nf_flow_table), then `nft -c -f` and `nft -f`, and the
# flowtable must be listed with those devices.
. "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$ROOT"/examples/flowtable-*.nft)
[ ${#files[@]} -gt 0 ] || skip "no examples/flowtable-*.nft"
ok=()
for f in "${files[@]}"; do
	ns=pvx$RANDOM
	ip netns add "$ns" || fail "netns"
	devs=$(sed -n 's/.*devices *= *{\([^}]*\)}.*/\1/p' "$f" | tr ', \t"' '\n\n\n\n' | grep -E '^[A-Za-z0-9_.-]+$' | sort -u)
	for d in $devs; do
		ip -n "$ns" link add "$d" type dummy 2>/dev/null && ip -n "$ns" link set "$d" up
	done
	if ! out=$(ip netns exec "$ns" nft -c -f "$f" 2>&1) || ! out=$(ip netns exec "$ns" nft -f "$f" 2>&1); then
		ip netns del "$ns"
		sed 's/^/  | /' <<<"$out" | head -n 20
		fail "$(basename "$f") does not load: $(head -n 1 <<<"$out")"
	fi
	lst=$(ip netns exec "$ns" nft list flowtables 2>&1)
	ip netns del "$ns"
	grep -q flowtable <<<"$lst" || fail "$(basename "$f"): no flowtable after loading"
	for d in $devs; do
		grep -qw "$d" <<<"$lst" || fail "$(basename "$f"): device $d not in the loaded flowtable"
	done
	ok+=("$(basename "$f")[${devs//$'\n'/,}]")
done
pass "examples load: ${ok[*]}"
