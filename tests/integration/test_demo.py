# SPDX-License-Identifier: GPL-2.0-only
"""The README's demo command works: examples/demo/run builds the lab, moves a
checksummed transfer through pfd's fast path, shows `pfd status` and
`pfd flows`, and leaves nothing behind (namespaces, bpffs mount, pins)."""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 8


def test_demo_end_to_end():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, BPF, nft)")
    env = dict(os.environ, PFD_DEMO_MB=str(MB))
    build = os.environ.get("PFD_BUILD")
    if build:
        env["BUILD"] = os.path.relpath(build, ROOT)
    p = subprocess.run([os.path.join(ROOT, "examples/demo/run")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    print(out)
    assert p.returncode == 0, out[-3000:]
    assert "arrived intact: sha256" in out
    # the status the demo printed: daemon running, in mark mode, devices attached
    assert re.search(r"pfd: running \(pid \d+\), mark mode", out), out
    assert re.search(r"lan0 +ifindex \d+ +(native|generic)\+tc +breaker ok", out), out
    # the slow connection was listed by `pfd flows`, with the router's SNAT
    assert re.search(r"tcp 192\.0\.2\.2:\d+ -> 198\.51\.100\.2:5002", out), out
    assert "snat" in out
    # most of the transfer went through XDP, not the kernel
    m = re.search(r"fast path forwarded (\d+) packets \((\d+) bytes\)", out)
    assert m, out
    assert int(m.group(2)) >= 0.8 * (MB << 20), "only %s bytes fast-pathed" % m.group(2)
    # and nothing is left behind
    tag = re.search(r"lab: pfdc-([0-9a-f]+)", out).group(1)
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                           timeout=10).stdout
    assert tag not in netns, netns
    mounts = open("/proc/mounts").read()
    assert "pfd-demo." not in mounts, mounts
    # nor any of its processes: the daemon and the traffic's socat
    procs = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                           timeout=10).stdout
    left = [l for l in procs.splitlines() if "pfd-demo." in l or "198.51.100.2:500" in l
            or "TCP-LISTEN:500" in l]
    assert not left, "the demo left processes running:\n" + "\n".join(left)
