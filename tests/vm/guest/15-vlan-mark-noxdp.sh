#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: 15-vlan-mark with peers that cannot take XDP frames (no XDP
# program, GRO off, as a container's veth).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vlan.sh"
with_pfd || skip "needs pfd"
PEER_XDP=0
scenario_vlan mark
