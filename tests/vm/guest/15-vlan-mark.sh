#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: VLAN 100 and untagged traffic on one parent, mark mode
# (pfd attached to r0, r0.100, r1). Both streams intact; the VLAN's flow is
# forwarded on r0.100 and its replies by r1's XDP, which pushes the tag and
# sends by r0; the untagged flow by r0's TC ingress, never by r0's XDP (the
# client's tags are outside the frame there); deleting the VLAN device gives
# r0's packets back to XDP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vlan.sh"
with_pfd || skip "needs pfd"
scenario_vlan mark
