#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest scenario: a UDP/IPv6 stream through an nft flowtable with masquerade,
# accelerated by pfd in flowtable mode (see scenario_stream in lib.sh).
. "$(dirname "$0")/lib.sh"
scenario_stream udp 6
