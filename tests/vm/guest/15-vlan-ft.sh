#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: 15-vlan-mark in flowtable mode, the flowtable on r0, r0.100
# and r1 (pfd attaches to its devices). The VLAN's own packets are taken by
# the kernel's flowtable hook on r0 before they reach r0.100 ([OFFLOAD]);
# the replies into the VLAN leave by r1's XDP with the tag pushed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vlan.sh"
with_pfd || skip "needs pfd"
scenario_vlan flowtable
