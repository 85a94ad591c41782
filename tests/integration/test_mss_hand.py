# SPDX-License-Identifier: GPL-2.0-only
"""The TC egress MSS clamp on a real router, loaded by hand exactly as
man/pfd-tc.8's first EXAMPLES block says.

client ns --veth-- router ns --veth-- server ns. The router's egress veth
toward the server gets pfd_tc_mss.bpf.o with the man page's commands, run
verbatim (only the device name and the object's directory substituted) in a
private mount namespace whose bpffs is at /sys/fs/bpf, because tc pins its
maps under /sys/fs/bpf/tc/globals. Then real TCP connections from the client
to the server, IPv4 and IPv6: a tiny AF_PACKET capture in the server
namespace reads the MSS option of the SYN as the server receives it, the
connection carries data intact (checksum offloads are off, so the receiving
stack verifies the rewritten checksum in software), and the clamp's counter
in the pinned map agrees.

Expected, from the example's settings: IPv4 toward 198.51.100.2 matches the
destination prefix 198.51.100.0/24 -> 1200 (a prefix beats the default);
IPv6 matches no prefix -> the default 1400.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PFD_BUILD", os.path.join(ROOT, "build"))
OBJ_DIR = os.path.join(BUILD, "tc-bpf")
MAN = os.path.join(ROOT, "man", "pfd-tc.8")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, tc, bpf)"),
    pytest.mark.skipif(not shutil.which("bpftool"), reason="needs bpftool"),
]

CAPTURE = r"""
import select, socket, struct, sys, time
iface, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
print("ready", flush=True)
end = time.time() + limit
while time.time() < end:
    if not select.select([s], [], [], 0.2)[0]:
        continue
    f = s.recv(65535)
    et = struct.unpack("!H", f[12:14])[0]
    if et == 0x0800 and f[23] == 6:
        l4 = 14 + (f[14] & 15) * 4
    elif et == 0x86dd and f[20] == 6:
        l4 = 14 + 40
    else:
        continue
    th = f[l4:]
    if len(th) < 20 or struct.unpack("!H", th[2:4])[0] != port or th[13] & 0x12 != 0x02:
        continue
    opts, i, mss = th[20:(th[12] >> 4) * 4], 0, None
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if k == 2 and opts[i + 1] == 4:
            mss = struct.unpack("!H", opts[i + 2:i + 4])[0]
        i += opts[i + 1]
    print(mss, flush=True)
    sys.exit(0)
print("timeout", flush=True)
sys.exit(1)
"""

SERVER = r"""
import hashlib, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(15)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(15)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
print(n, h.hexdigest(), mss, flush=True)
"""

CLIENT = r"""
import hashlib, os, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
data = os.urandom(int(sys.argv[3]))
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(data)
c.close()
print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
"""


def sh(*argv, check=True, timeout=20, input=None):
    return subprocess.run(argv, check=check, timeout=timeout, capture_output=True, text=True,
                          input=input)


def man_example(n=0):
    """The n-th .EX/.EE block of pfd-tc(8) as shell text (roff escapes undone)."""
    with open(MAN) as f:
        text = f.read()
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", text, re.S | re.M)
    return blocks[n].replace("\\e", "\\").replace("\\-", "-")


class Router:
    def __init__(self):
        sfx = secrets.token_hex(3)
        self.c, self.r, self.s = f"pfdm-c-{sfx}", f"pfdm-r-{sfx}", f"pfdm-s-{sfx}"
        self.c_if, self.rc_if = f"mc{sfx}", f"mrc{sfx}"
        self.rs_if, self.s_if = f"mrs{sfx}", f"ms{sfx}"
        self.holder = None

    def ns(self, ns, *argv, **kw):
        return sh("ip", "netns", "exec", ns, *argv, **kw)

    def up(self):
        for ns in (self.c, self.r, self.s):
            sh("ip", "netns", "add", ns)
            self.ns(ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", self.c_if, "netns", self.c, "type", "veth", "peer", "name",
           self.rc_if, "netns", self.r)
        sh("ip", "link", "add", self.rs_if, "netns", self.r, "type", "veth", "peer", "name",
           self.s_if, "netns", self.s)
        for ns, dev, addrs in ((self.c, self.c_if, ["192.0.2.2/24", "2001:db8:1::2/64"]),
                               (self.r, self.rc_if, ["192.0.2.1/24", "2001:db8:1::1/64"]),
                               (self.r, self.rs_if, ["198.51.100.1/24", "2001:db8:2::1/64"]),
                               (self.s, self.s_if, ["198.51.100.2/24", "2001:db8:2::2/64"])):
            # software checksums end to end: the receiver verifies the rewrite
            self.ns(ns, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                    check=False)
            for a in addrs:
                extra = ["nodad"] if ":" in a else []
                self.ns(ns, "ip", "addr", "add", a, "dev", dev, *extra)
            self.ns(ns, "ip", "link", "set", dev, "up")
        self.ns(self.c, "ip", "route", "add", "default", "via", "192.0.2.1")
        self.ns(self.c, "ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
        self.ns(self.s, "ip", "route", "add", "default", "via", "198.51.100.1")
        self.ns(self.s, "ip", "-6", "route", "add", "default", "via", "2001:db8:2::1")
        self.ns(self.r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(self.r, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        # A private mount namespace with a bpffs at /sys/fs/bpf, kept alive by
        # a sleeping process; tc and bpftool run inside it, in the router.
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "mount -t bpf bpf /sys/fs/bpf && echo ready && exec sleep 120"],
            stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout.readline().strip() == "ready", "private bpffs mount failed"

    def in_router(self, script, timeout=20):
        """bash -e script in the router's network namespace and the private
        mount namespace (nsenter, not ip netns exec, which remounts /sys)."""
        return sh("nsenter", "-t", str(self.holder.pid), "-m", f"--net=/run/netns/{self.r}",
                  "bash", "-ec", script, timeout=timeout)

    def down(self):
        if self.holder:
            self.holder.kill()
            self.holder.wait(timeout=5)
        for ns in (self.c, self.r, self.s):
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def router():
    r = Router()
    try:
        r.up()
        yield r
    finally:
        r.down()


def syn_mss_through(router, dst, port, nbytes=200000):
    """One TCP connection client -> dst:port; returns (MSS in the SYN as the
    server received it, the server's TCP_MAXSEG, data intact)."""
    cap = subprocess.Popen(["ip", "netns", "exec", router.s, sys.executable, "-c", CAPTURE,
                            router.s_if, str(port), "10"], stdout=subprocess.PIPE, text=True)
    srv = subprocess.Popen(["ip", "netns", "exec", router.s, sys.executable, "-c", SERVER, dst,
                            str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert cap.stdout.readline().strip() == "ready"
        assert srv.stdout.readline().strip() == "ready"
        cli = router.ns(router.c, sys.executable, "-c", CLIENT, dst, str(port), str(nbytes),
                        timeout=20)
        sent = cli.stdout.split()
        got = srv.communicate(timeout=20)[0].split()
        seen = cap.communicate(timeout=15)[0].strip()
    finally:
        for p in (cap, srv):
            if p.poll() is None:
                p.kill()
                p.wait()
    intact = got[:2] == sent[:2]
    return (int(seen) if seen.isdigit() else seen), int(got[2]) if len(got) > 2 else None, intact


def mss_stats(router):
    out = router.in_router("bpftool -j map dump pinned /sys/fs/bpf/tc/globals/pfd_mss_stats")
    counts = {}
    for e in json.loads(out.stdout):
        key = e["key"] if isinstance(e["key"], int) else int(e["key"][0], 0)
        vals = e.get("values") or e.get("formatted", {}).get("values")
        counts[key] = sum(v["value"] if isinstance(v["value"], int) else
                          int.from_bytes(bytes(int(b, 0) for b in v["value"]), "little")
                          for v in vals)
    return counts


def test_mss_clamp_loaded_by_hand_per_man_page(router):
    obj = os.path.join(OBJ_DIR, "pfd_tc_mss.bpf.o")
    assert os.path.exists(obj), f"build {obj} first (make)"

    # Before: the SYN arrives with the client's own MSS (1500 - 40 = 1460).
    mss, _, intact = syn_mss_through(router, "198.51.100.2", 5001)
    assert (mss, intact) == (1460, True), "baseline without the clamp"

    script = man_example(0)
    assert "tc filter add dev wan0 egress bpf da obj" in script
    script = script.replace("wan0", router.rs_if).replace("/usr/lib/bpf/pfd/", OBJ_DIR + "/")
    out = router.in_router(script)
    print(f"man page example, run verbatim on {router.rs_if}:\n{script}\n{out.stdout}")
    show = router.ns(router.r, "tc", "filter", "show", "dev", router.rs_if, "egress").stdout
    assert "pfd_tc_mss" in show, show

    # The kernel's own count of SYNs leaving through the clamped device: a
    # SYN retransmitted on a loaded machine is clamped too, so the clamp's
    # counter must equal this, not a fixed 2.
    router.ns(router.r, "nft", "-f", "-", input=f"""
table inet mss_test {{
    counter syns {{ }}
    chain post {{
        type filter hook postrouting priority 0;
        oifname "{router.rs_if}" tcp flags & (syn | ack) == syn counter name syns
    }}
}}
""")
    before = mss_stats(router)
    mss4, maxseg4, intact4 = syn_mss_through(router, "198.51.100.2", 5002)
    mss6, maxseg6, intact6 = syn_mss_through(router, "2001:db8:2::2", 5003)
    after = mss_stats(router)
    print(f"SYN MSS seen by the server: IPv4 {mss4} (TCP_MAXSEG {maxseg4}), "
          f"IPv6 {mss6} (TCP_MAXSEG {maxseg6})")

    assert mss4 == 1200, "IPv4: destination prefix 198.51.100.0/24 -> 1200"
    assert mss6 == 1400, "IPv6: no prefix matches -> default 1400"
    assert intact4 and intact6, "data through the clamped connections arrived intact"
    # The server's sending MSS follows the clamped option (minus options it uses).
    assert maxseg4 is not None and maxseg4 <= 1200
    assert maxseg6 is not None and maxseg6 <= 1400
    # Exactly the SYNs that left through the device were clamped (SYN-ACKs
    # leave through the client-side veth, which has no clamp): two, or more
    # if the client retransmitted one.
    syns = json.loads(router.ns(router.r, "nft", "-j", "list", "counter", "inet", "mss_test",
                                "syns").stdout)
    syns = next(o["counter"]["packets"] for o in syns["nftables"] if "counter" in o)
    assert syns >= 2
    assert after.get(0, 0) - before.get(0, 0) == syns, (before, after, syns)
    assert after.get(3, 0) == before.get(3, 0), "no malformed segments"


def test_mss_mtu_mode_per_man_page(router):
    """The second example: ceiling from the device MTU, followed live."""
    obj = os.path.join(OBJ_DIR, "pfd_tc_mss.bpf.o")
    script = man_example(0).replace("wan0", router.rs_if).replace("/usr/lib/bpf/pfd/", OBJ_DIR + "/")
    router.in_router(script)
    router.in_router(man_example(1).replace("wan0", router.rs_if))
    # remove the prefix so the device MTU decides
    router.in_router("bpftool map delete pinned /sys/fs/bpf/tc/globals/pfd_mss_pfx "
                     "key 88 0 0 0 0 0 0 0 2 1 0 0 198 51 100 0 0 0 0 0 0 0 0 0 0 0 0 0")
    router.ns(router.r, "ip", "link", "set", router.rs_if, "mtu", "1300")
    router.ns(router.s, "ip", "link", "set", router.s_if, "mtu", "1300")
    mss4, _, ok4 = syn_mss_through(router, "198.51.100.2", 5004)
    mss6, _, ok6 = syn_mss_through(router, "2001:db8:2::2", 5005)
    assert (mss4, ok4) == (1260, True), "IPv4: MTU 1300 - 40"
    assert (mss6, ok6) == (1240, True), "IPv6: MTU 1300 - 60"
