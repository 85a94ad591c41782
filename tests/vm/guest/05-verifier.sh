#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: every BPF program pfd ships passes this kernel's verifier
# (build/tests/bpf/test_load: each object loads, pins are adopted, native XDP
# attaches to a 9000-MTU veth). Operators run Debian's 6.1 and 6.12; the host
# kernel's verifier accepting a program says nothing about theirs (6.1, for
# one, learns no lower bound from a `!= 0` test).
. "$(dirname "$0")/lib.sh"
t=${BUILD:-$ROOT/build}/tests/bpf/test_load
[ -x "$t" ] || fail "$t not built (make)"
out=$("$t" 2>&1)
rc=$?
counts=$(sed -nE 's/^ +([a-z_]+\.bpf\.o) +([a-z_]+) +verified_insns ([0-9]+).*/\2 \3/p' <<<"$out" | tr '\n' ' ')
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
if [ $rc != 0 ] || [ -z "$line" ] || ! [[ $line == *" 0 failed"* ]]; then
	grep -vE '^ok ' <<<"$out" | tail -n 40 | sed 's/^/  | /'
	fail "test_load: ${line:-no result line} (exit $rc)"
fi
[ -n "$counts" ] || fail "test_load printed no verified_insns"
pass "every program verifies: ${counts% }"
