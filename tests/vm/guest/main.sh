#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs INSIDE the test VM (tests/vm/run boots it once per kernel and calls
# this): every scenario tests/vm/guest/[0-9]*.sh, plus tests/vm/jitter-test.sh
# when present, each bounded in time, one result line each
# ("PASS|FAIL|SKIP <kernel> <name>: <detail>"; a failure is followed by its
# log), ending with "N passed, N failed, N skipped". PFD_VM_ONLY=glob runs a
# subset.
set -u
cd "$(dirname "$0")/../../.." || exit 1
export PFD_ROOT=$PWD
G=tests/vm/guest
K=$(uname -r)
K=${K%%-*}
np=0 nf=0 ns=0
LOG=$(mktemp /tmp/pfd-vm-scenario.XXXXXX)

scenarios=("$G"/[0-9]*.sh)
[ -x tests/vm/jitter-test.sh ] && scenarios+=(tests/vm/jitter-test.sh)

for f in "${scenarios[@]}"; do
	name=$(basename "$f" .sh)
	# shellcheck disable=SC2053
	[ -n "${PFD_VM_ONLY:-}" ] && [[ $name != ${PFD_VM_ONLY} ]] && continue
	t0=$SECONDS
	timeout -k 5 "${PFD_VM_SCENARIO_TIMEOUT:-300}" bash "$f" > "$LOG" 2>&1
	rc=$?
	dt=$((SECONDS - t0))
	msg=$(grep -E '^(PASS|FAIL|SKIP): ' "$LOG" | tail -n 1 | cut -d' ' -f2-)
	case $rc in
	0) np=$((np + 1)); echo "PASS $K $name (${dt}s): ${msg:-ok}" ;;
	77) ns=$((ns + 1)); echo "SKIP $K $name: ${msg:-skipped}" ;;
	*)
		nf=$((nf + 1))
		[ $rc = 124 ] && msg="timed out after ${PFD_VM_SCENARIO_TIMEOUT:-300}s"
		echo "FAIL $K $name (${dt}s, exit $rc): ${msg:-no message}"
		tail -n 40 "$LOG" | sed 's/^/    | /'
		;;
	esac
	[ "${PFD_VM_VERBOSE:-0}" = 1 ] && [ $rc = 0 ] && sed 's/^/    | /' "$LOG"
done
rm -f "$LOG"
echo "$np passed, $nf failed, $ns skipped"
[ $nf = 0 ]
