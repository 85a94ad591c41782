#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: 10-tcp4 with peers that cannot take XDP frames (no XDP
# program, GRO off, as a container's veth): pfd forwards through TC, XDP
# redirects nothing, the data arrives intact.
. "$(dirname "$0")/lib.sh"
PEER_XDP=0
scenario_stream tcp 4
