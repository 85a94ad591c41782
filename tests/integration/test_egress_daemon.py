# SPDX-License-Identifier: GPL-2.0-only
"""The daemon drives the TC egress MSS clamp from pfd.conf (pfd/tc_egress.c
wired into pfd/daemon.c): `mss 1200` attaches the clamp on every `attach`
device, a real TCP connection through the router negotiates the clamped MSS
(the client's TCP_MAXSEG comes from the SYN-ACK the router clamped on its
client-side egress, the server's from the clamped SYN) and carries its data
intact; a reload without the keys removes pfd's filter; `pfd detach --all`
leaves no filter behind even when the daemon was killed with the clamp on.
"""

import json
import os
import signal
import subprocess

import pytest

import pfdlab
from pfdlab import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

CLAMP = 1200
PROG = "pfd_tc_mss"

# One connection: prints the MSS the kernel settled on, sends NBYTES.
CLIENT = r"""
import hashlib, json, os, socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((addr, port), timeout=20)
mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
h = hashlib.sha256()
buf = os.urandom(65536)
sent = 0
while sent < n:
    c.sendall(buf)
    h.update(buf)
    sent += len(buf)
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
print(json.dumps({"mss": mss, "bytes": sent, "sha256": h.hexdigest()}))
"""


def egress_filters(lab, dev):
    """pfd's clamp filters on dev's egress hook (tc's JSON names the program)."""
    p = lab.ns(lab.rtr, ["tc", "-j", "filter", "show", "dev", dev, "egress"], check=False)
    if p.returncode != 0 or not p.stdout.strip():
        return []
    out = []
    for f in json.loads(p.stdout):
        opts = f.get("options", {})
        name = opts.get("prog", {}).get("name", "") if isinstance(opts.get("prog"), dict) else ""
        if name.startswith(PROG[:15]) or PROG in json.dumps(f):
            out.append(f)
    return out


def connect(lab, port, nbytes=1 << 20):
    srv = lab.spawn(lab.srv, ["tcp-server", "--addr", "0.0.0.0", "--port", str(port)], timeout=30)
    p = lab.ns(lab.cli, [pfdlab.PY, "-c", CLIENT, pfdlab.SRV4, str(port), str(nbytes)], timeout=40)
    c = json.loads(p.stdout.strip().splitlines()[-1])
    s = lab.result(srv)
    return c, s


def test_mss_from_pfd_conf(lab):
    d = lab.start_pfd(extra={"mss": str(CLAMP)})

    for dev in (lab.rc_if, lab.rs_if):
        assert wait_for(lambda: egress_filters(lab, dev), 5), \
            "no %s filter on %s:\n%s" % (PROG, dev, d.log_text()[-2000:])

    c, s = connect(lab, 5101)
    # TCP_MAXSEG is the peer's MSS less the options every segment carries
    # (timestamps: 12 bytes); unclamped on a 1500-byte veth it is 1448.
    assert CLAMP - 40 <= c["mss"] <= CLAMP, c
    assert s["bytes"] == c["bytes"] and s["sha256"] == c["sha256"], (c, s)
    st = lab.status()
    assert "clamped" in json.dumps(st), st

    # reload without the key: pfd's filters go, connections are unclamped
    lab.write_conf()
    d.signal(signal.SIGHUP)
    for dev in (lab.rc_if, lab.rs_if):
        assert wait_for(lambda: not egress_filters(lab, dev), 5), \
            "%s still on %s after reload:\n%s" % (PROG, dev, d.log_text()[-2000:])
    c, s = connect(lab, 5102)
    assert c["mss"] > CLAMP, c
    assert s["sha256"] == c["sha256"], (c, s)


def test_detach_all_removes_clamp(lab):
    d = lab.start_pfd(extra={"mss-device": "%s %d" % (lab.rs_if, CLAMP)})
    assert wait_for(lambda: egress_filters(lab, lab.rs_if), 5), d.log_text()[-2000:]
    assert not egress_filters(lab, lab.rc_if)
    # the server sees the clamped SYN: its side of the connection settles on it
    c, s = connect(lab, 5103)
    assert s["sha256"] == c["sha256"], (c, s)

    d.signal(signal.SIGKILL)
    d.wait(10)
    # killed: the filter stays (the clamp keeps working without the daemon)
    assert egress_filters(lab, lab.rs_if)
    p = lab.detach_all()
    assert p.returncode == 0, p.stderr
    assert not egress_filters(lab, lab.rs_if)
    assert not egress_filters(lab, lab.rc_if)
    left = [f for f in lab.bpffs_files() if "mss" in f]
    assert not left, left
