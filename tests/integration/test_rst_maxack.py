# SPDX-License-Identifier: GPL-2.0-only
"""An RST after gigabytes of fast-pathed data still ends the connection.

Conntrack remembers the highest ACK each side sent (td_maxack) and, once it
has one (IP_CT_TCP_FLAG_MAXACK_SET), judges an RST whose sequence number is
before it invalid. While pfd's fast path carries a flow, conntrack sees none
of its packets and td_maxack freezes; after 2 GiB more, a legitimate RST's
sequence number compares as *before* the frozen ACK (sequence space wraps
at 2^31), conntrack calls it "invalid rst", `ct state invalid drop` drops it
and the entry stays ESTABLISHED for days. pfd clears MAXACK_SET when it
installs a TCP flow and at every refresh, as nf_flow_table does.

The window is simulated without sending 2 GiB: an RST is injected from the
client with the sequence number its stack would use 2 GiB + 4 KiB later.
"""

import os
import time

import pfdlab
from pfdlab import report, wait_for

PORT = 5107
WRAP = (1 << 31) + 4096

# Runs in the client namespace: learns the connection's current sequence
# number from one of its own outgoing segments (AF_PACKET sees them), then
# sends an RST|ACK that far ahead through a raw socket.
INJECT = r'''
import socket, struct, sys
dev, src, dst, dport, ahead = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL: outgoing too
s.bind((dev, 0))
s.settimeout(5)
srcb, dstb = socket.inet_aton(src), socket.inet_aton(dst)
while True:
    f, addr = s.recvfrom(65535)
    ip = f[14:]
    if addr[2] != socket.PACKET_OUTGOING or f[12:14] != b"\x08\x00" or ip[9] != 6 or ip[12:16] != srcb or ip[16:20] != dstb:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dp, seq, ack = struct.unpack("!HHII", ip[ihl:ihl + 12])
    if dp == dport and len(ip) - ihl - (ip[ihl + 12] >> 4) * 4 > 0:
        break
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
seq2 = (seq + ahead) & 0xffffffff
tcp = struct.pack("!HHIIBBHHH", sport, dport, seq2, ack, 5 << 4, 0x14, 0, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(srcb + dstb + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, srcb, dstb)
iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.sendto(iph + tcp, (dst, 0))
print(sport, seq, seq2)
'''


def test_rst_after_the_maxack_window_ends_the_entry(pfd_lab):
    lab = pfd_lab
    inv0 = lab.counter("cnt_invalid")[0]
    cli, srv = lab.tcp_transfer(24 << 20, port=PORT, rate=3 << 20, timeout=30)
    assert wait_for(lambda: pfdlab.find_flow(lab.flows(), "tcp", PORT), 5), "never offloaded"
    time.sleep(0.5)     # fast-pathed data the kernel never sees
    p = lab.ns(lab.cli, [pfdlab.PY, "-c", INJECT, lab.c_if, pfdlab.CLI4, pfdlab.SRV4, str(PORT),
                         str(WRAP)], timeout=15)
    sport = int(p.stdout.split()[0])

    def state():
        cts = lab.ct_list(proto="tcp", sport=sport, dport=PORT)
        return cts[0]["state"] if cts else "gone"

    t0 = time.monotonic()
    ended = wait_for(lambda: state() in ("CLOSE", "gone"), 3, 0.02)
    dt = time.monotonic() - t0
    inv = lab.counter("cnt_invalid")[0] - inv0
    gone = wait_for(lambda: not pfdlab.find_flow(lab.flows(), "tcp", PORT), 3)
    for proc in (cli, srv):
        pfdlab.term(proc)
    report("rst after the maxack window", "conntrack %s %.0f ms after the RST; %d invalid" %
           (state(), dt * 1000, inv))
    assert ended, "the RST did not end the entry (state %s, %d packets invalid)" % (state(), inv)
    assert inv == 0, "conntrack judged %d packets invalid" % inv
    assert gone, "pfd kept the flow after the RST"
