#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: 10-udp6 with peers that cannot take XDP frames (see
# 11-tcp4-noxdp).
. "$(dirname "$0")/lib.sh"
PEER_XDP=0
scenario_stream udp 6
