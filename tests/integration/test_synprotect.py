# SPDX-License-Identifier: GPL-2.0-only
"""syn-protect (pfd.conf `syn-protect PREFIX... tcp PORT... [dry-run]`): SYNs
to a protected service answered at XDP with the SYN-ACK the ruleset's nft
synproxy statement would send, with real TCP connections through the
kernel's synproxy.

The router runs the lab's mark-mode ruleset plus table inet synp (the
spec's rules: raw prerouting `notrack` of the service's SYNs, `synproxy
mss 1460 wscale 7 timestamp sack-perm` for invalid/untracked packets to the
service, `ct state invalid drop`) in its forward chain (a server behind the
router, FWD_PORT) and its input chain (a server on the router, LOCAL_PORT),
with net.netfilter.nf_conntrack_tcp_loose=0 in the router's namespace (its
own sysctl: gone with the namespace). Its chains run at priority filter - 10,
ahead of the lab's forward chain, whose `ct state invalid drop` would
otherwise eat the client's cookie ACK before the synproxy sees it.

Each run makes N_CONN connections, one after another; each sends SIZE
seeded bytes, half-closes, and reads them back reversed from the server
(which proves the server read every byte, and the reply intact). What is
counted, each as a difference over the run:
- SYNs the client sent: Tcp ActiveOpens + TcpExt TCPSynRetrans in the client
  namespace (retransmits allowed, at most RETRANS_MAX, and accounted for);
- pfd: reason `syn_cookie` on the client-facing device (XDP answered), the
  rule's `syns` in `pfd stats` syn_protect (every SYN that matched it);
- the kernel: /proc/net/stat/synproxy in the router (syn_received: SYNs the
  kernel's synproxy answered; cookie_valid: cookie ACKs it accepted);
- conntrack in the router: one entry per connection, none for a flood.

Cases: kernel only (no pfd; the topology's baseline), A answered at XDP
(v4/v6, forwarded/local; the client's veth end takes XDP frames by GRO, the
lab's way, or by an XDP program of its own), B a client-side peer that takes
no XDP frames (the kernel answers), C dry-run (counted, the kernel answers),
D no synproxy statement (unarmed, said why; armed and unarmed again as the
ruleset changes), explicit options (armed only when a statement has them),
E a bounded SYN flood from spoofed sources while the connections are made
(answered at XDP, no conntrack state). D, the explicit options and E give
the client's end an XDP program (xdp_prog_on_client() says why), so that
what they test does not hang on XDP_TX into a GRO-only veth, which A's
"gro" variant tests on its own.

Two kernel facts shape the lab (Linux 6.18), both found here:
- nft's synproxy drops IPv6 packets whose checksum nobody validated
  (router_setup()), so the router's client-facing veth has GRO on;
- XDP_TX into a veth whose other end has GRO but no XDP program queues the
  frame without scheduling that end's NAPI (xdp_prog_on_client())."""

import os
import subprocess
import time

import pytest

import pfdlab
from pfdlab import CLI4, CLI6, RTR_C4, RTR_C6, SRV4, SRV6, report, wait_for

FWD_PORT = 5080      # the server behind the router: forward chain synproxy
LOCAL_PORT = 5081    # a server on the router: input chain synproxy
N_CONN = 100
SIZE = 32768         # bytes each way per connection
RETRANS_MAX = 3      # SYN retransmits tolerated per run of N_CONN (each is counted)
FLOOD_COUNT = 3000
FLOOD_RATE = 1500    # SYNs/s

SYNPROXY = "synproxy mss 1460 wscale 7 timestamp sack-perm"


def synp_ruleset(synproxy=True):
    """Table inet synp. Without synproxy: the same table without its
    synproxy statements (and without the notrack, which would leave the
    SYNs untracked and the lab's forward chain would drop them)."""
    if not synproxy:
        return """
table inet synp {
    chain synp_fwd {
        type filter hook forward priority filter - 10; policy accept;
        ct state invalid drop
    }
}
"""
    return """
table inet synp {
    chain synp_pre {
        type filter hook prerouting priority raw; policy accept;
        tcp dport { %(f)d, %(l)d } tcp flags syn notrack
    }
    chain synp_fwd {
        type filter hook forward priority filter - 10; policy accept;
        tcp dport %(f)d ct state invalid,untracked %(sp)s
        ct state invalid drop
    }
    chain synp_in {
        type filter hook input priority filter - 10; policy accept;
        tcp dport %(l)d ct state invalid,untracked %(sp)s
        ct state invalid drop
    }
}
""" % {"f": FWD_PORT, "l": LOCAL_PORT, "sp": SYNPROXY}


# The server: accepts up to n connections, one at a time; reads each to
# EOF and sends it back reversed.
ECHO = r"""
import json, select, signal, socket, sys, time
addr, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
print("READY", flush=True)
accepted, good, nbytes, errors = 0, 0, 0, []
deadline = time.monotonic() + timeout
while accepted < n and time.monotonic() < deadline and not stop:
    if not select.select([s], [], [], 0.2)[0]:
        continue
    c, peer = s.accept()
    accepted += 1
    c.settimeout(5)
    try:
        buf = bytearray()
        while True:
            b = c.recv(65536)
            if not b:
                break
            buf += b
        c.sendall(bytes(buf[::-1]))
        nbytes += len(buf)
        good += 1
    except OSError as e:
        errors.append("%s: %s: %s" % (peer[1], type(e).__name__, e))
    finally:
        c.close()
print(json.dumps({"accepted": accepted, "good": good, "bytes": nbytes, "errors": errors[:10]}))
"""

# The client: n connections one after another, the i-th started no sooner
# than i * gap seconds in, each bounded (5 s), all bounded (timeout); gives
# up after 5 failures in a row.
CONNECT = r"""
import json, random, socket, sys, time
dst, port, n, size, timeout, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
ok, tried, errors, ports, in_row = 0, 0, [], [], 0
t0 = time.monotonic()
deadline = t0 + timeout
for i in range(n):
    ahead = t0 + i * gap - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
    left = deadline - time.monotonic()
    if left <= 0 or in_row >= 5:
        break
    tried += 1
    data = random.Random(i).randbytes(size)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(min(5.0, left))
    try:
        c.connect((dst, port))
        ports.append(c.getsockname()[1])
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
        if bytes(got) == data[::-1]:
            ok += 1
            in_row = 0
        else:
            in_row += 1
            errors.append("%d: got %d bytes back, not the %d sent reversed" % (i, len(got), size))
    except OSError as e:
        in_row += 1
        errors.append("%d: %s: %s" % (i, type(e).__name__, e))
    finally:
        c.close()
print(json.dumps({"ok": ok, "tried": tried, "errors": errors[:10], "ports": ports,
                  "seconds": round(time.monotonic() - t0, 3)}))
"""

# A SYN flood through an AF_PACKET socket on the client's device: count
# SYNs (with an MSS option, as a real SYN) at rate per second from random
# spoofed sources in the client's subnet and random ports, to dst:dport.
# The answers go to addresses nobody has: the client's stack drops them.
FLOOD = r"""
import ipaddress, json, random, socket, struct, sys, time
dev, smac, dmac, dst, dport, count, rate, seed = sys.argv[1], sys.argv[2], sys.argv[3], \
    sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
rng = random.Random(seed)
v6 = ":" in dst
daddr = ipaddress.ip_address(dst).packed
eth = bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + \
    (b"\x86\xdd" if v6 else b"\x08\x00")

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def frame():
    if v6:
        saddr = ipaddress.ip_address("2001:db8:1::%x" % rng.randrange(0x100, 0xffff)).packed
    else:
        saddr = bytes([192, 0, 2, rng.randrange(10, 250)])
    tcp = struct.pack("!HHIIBBHHH", rng.randrange(1024, 65536), dport, rng.getrandbits(32), 0,
                      6 << 4, 0x02, 64240, 0, 0) + b"\x02\x04\x05\xb4"
    pseudo = saddr + daddr + (struct.pack("!IxxxB", len(tcp), 6) if v6
                              else struct.pack("!xBH", 6, len(tcp)))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + saddr + daddr
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rng.getrandbits(16), 0x4000,
                         64, 6, 0, saddr, daddr)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + tcp

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
frames = [frame() for _ in range(count)]
print("START", flush=True)
sent = 0
t0 = time.monotonic()
for i, f in enumerate(frames):
    d = t0 + i / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
    s.send(f)
    sent += 1
print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - t0, 3)}))
"""


# --- the topology ------------------------------------------------------------

def router_setup(lab, synproxy=True):
    """The router as the spec wants it: tcp_loose 0, table inet synp; and
    GRO on its client-facing veth, for IPv6. nft_synproxy_do_eval() checks
    the TCP checksum with nf_ip_checksum(), the IPv4 routine, for IPv6
    packets too (Linux 6.18): an skb whose checksum nobody validated
    (CHECKSUM_NONE, what a veth delivers from a sender with TX checksum
    offload off) fails it, and the synproxy drops every IPv6 SYN and cookie
    ACK (NETFILTER_DROP, syn_received stays 0). GRO validates the checksum
    (CHECKSUM_UNNECESSARY), as a NIC with RX checksum offload would."""
    lab.sysctl(lab.rtr, "net.netfilter.nf_conntrack_tcp_loose", 0)
    lab.ns(lab.rtr, ["ethtool", "-K", lab.rc_if, "gro", "on"])
    lab.nft_load(synp_ruleset(synproxy))


XDP_PASS_OBJ = os.path.join(pfdlab.BUILD, "tests", "vm", "xdp_pass.o")


def xdp_prog_on_client(lab):
    """An XDP pass program on the client's veth end. A veth with GRO only
    takes XDP_REDIRECTed frames (ndo_xdp_xmit kicks its NAPI), but frames
    its peer sends back with XDP_TX are queued without a kick unless it has
    an XDP program (veth_xdp_flush() tests the receiver's xdp_prog): they
    wait there until other traffic reaches it."""
    if not os.path.exists(XDP_PASS_OBJ):
        pytest.fail("%s is not built (make -j2)" % XDP_PASS_OBJ)
    lab.ns(lab.cli, ["ip", "link", "set", "dev", lab.c_if, "xdpdrv", "obj", XDP_PASS_OBJ, "sec", "xdp"])


def service(family, where):
    """(address the client connects to, port, namespace attribute)."""
    v4 = family == "ipv4"
    if where == "forward":
        return (SRV4 if v4 else SRV6), FWD_PORT, "srv"
    return (RTR_C4 if v4 else RTR_C6), LOCAL_PORT, "rtr"


def synp_lines(extra=""):
    """pfd.conf lines protecting both services in both families."""
    return ("syn-protect %s/32 %s/128 tcp %d%s\n" % (SRV4, SRV6, FWD_PORT, extra) +
            "syn-protect %s/32 %s/128 tcp %d%s\n" % (RTR_C4, RTR_C6, LOCAL_PORT, extra))


def start_pfd(lab, lines, **kw):
    return lab.start_pfd(text=lab.conf_text(**kw) + lines)


def synproxy_stats(lab):
    """/proc/net/stat/synproxy of the router, summed over the CPUs (hex)."""
    lines = lab.ns(lab.rtr, ["cat", "/proc/net/stat/synproxy"]).stdout.splitlines()
    names = lines[0].split()
    tot = dict.fromkeys(names, 0)
    for l in lines[1:]:
        for k, v in zip(names, l.split()):
            tot[k] += int(v, 16)
    return tot


def tcp_mib(lab, ns):
    """The client's Tcp ActiveOpens and TcpExt TCPSynRetrans."""
    out = {}
    for path, sect in (("/proc/net/snmp", "Tcp:"), ("/proc/net/netstat", "TcpExt:")):
        rows = [l.split() for l in lab.ns(ns, ["cat", path]).stdout.splitlines() if l.startswith(sect)]
        out.update({k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])})
    return {"opens": out["ActiveOpens"], "syn_retrans": out["TCPSynRetrans"]}


def ct_count(lab):
    return int(lab.conntrack("-C").stdout.strip())


def synp_entries(lab):
    return lab.stats().get("syn_protect", [])


def dev_reason(st, dev, label):
    """packets of a reason on one device, summed over its hooks."""
    return sum(h.get(label, {}).get("packets", 0) for h in st.get("devices", {}).get(dev, {}).values())


class Snap:
    """Every counter the cases look at, at one moment."""

    def __init__(self, lab, with_pfd=True):
        self.mib = tcp_mib(lab, lab.cli)
        self.sp = synproxy_stats(lab)
        self.ct = ct_count(lab)
        self.dev = self.total = self.rules = None
        if with_pfd:
            st = lab.stats()
            self.dev = {d: dev_reason(st, d, "syn_cookie") for d in (lab.rc_if, lab.rs_if)}
            self.total = st.get("reasons", {}).get("syn_cookie", {}).get("packets", 0)
            self.rules = {e["rule"]: e for e in st.get("syn_protect", [])}

    def delta(self, before, lab):
        d = {"opens": self.mib["opens"] - before.mib["opens"],
             "syn_retrans": self.mib["syn_retrans"] - before.mib["syn_retrans"],
             "syn_received": self.sp["syn_received"] - before.sp["syn_received"],
             "cookie_valid": self.sp["cookie_valid"] - before.sp["cookie_valid"],
             "cookie_invalid": self.sp["cookie_invalid"] - before.sp["cookie_invalid"],
             "ct": self.ct - before.ct}
        d["syns"] = d["opens"] + d["syn_retrans"]
        if self.dev is not None:
            d["syn_cookie_rc"] = self.dev[lab.rc_if] - before.dev[lab.rc_if]
            d["syn_cookie_rs"] = self.dev[lab.rs_if] - before.dev[lab.rs_if]
            d["syn_cookie"] = self.total - before.total
            d["rule_syns"] = {r: e.get("syns", 0) - before.rules.get(r, {}).get("syns", 0)
                              for r, e in self.rules.items()}
        return d


def connections(lab, family, where, n=N_CONN, timeout=90, during=None, gap=0.0):
    """Starts the server, makes n connections from the client (gap: seconds
    between their starts); returns (client result, server result).
    during(): started right before the client, returns a Popen whose JSON
    result is returned third."""
    addr, port, ns = service(family, where)
    srv = subprocess.Popen(["ip", "netns", "exec", getattr(lab, ns), pfdlab.PY, "-c", ECHO, addr,
                            str(port), str(n), str(timeout)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    lab.procs.append(srv)
    line = srv.stdout.readline()
    assert line.strip() == "READY", "server did not start: %r %s" % (line, srv.stderr.read())
    bg = during() if during else None
    p = lab.ns(lab.cli, [pfdlab.PY, "-c", CONNECT, addr, str(port), str(n), str(SIZE), str(timeout),
                         str(gap)],
               timeout=timeout + 15, check=False)
    try:
        cli = pfdlab.last_json(p.stdout)
    except ValueError:
        raise pfdlab.CmdError("client gave no result (exit %d): %s" % (p.returncode, p.stderr[-2000:]))
    # the client is done: the server has its connections or never will
    try:
        out, err = srv.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        srv.terminate()
        try:
            out, err = srv.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            srv.kill()
            out, err = srv.communicate(timeout=5)
    try:
        s = pfdlab.last_json(out)
    except ValueError:
        raise pfdlab.CmdError("server gave no result (exit %s): %s" % (srv.returncode, err[-2000:]))
    if bg is None:
        return cli, s
    out, err = bg.communicate(timeout=60)
    try:
        return cli, s, pfdlab.last_json(out)
    except ValueError:
        raise pfdlab.CmdError("flood gave no result (exit %s): %s" % (bg.returncode, err[-2000:]))


def ct_entries(lab, family, where, ports=None):
    """The router's conntrack entries of the service's connections from
    the client (by the client's ports when given)."""
    addr, port, _ = service(family, where)
    cli = CLI4 if family == "ipv4" else CLI6
    out = [c for c in lab.ct_list(family, proto="tcp", dport=port, dst=addr)
           if c["orig"].get("src") == cli]
    if ports is not None:
        out = [c for c in out if c["orig"].get("sport") in ports]
    return out


def assert_connections(c, s, n=N_CONN):
    assert c["ok"] == n and c["tried"] == n, \
        "%d of %d connections carried their data (%d tried): %s" % (c["ok"], n, c["tried"], c["errors"])
    assert s["good"] == n and s["bytes"] == n * SIZE, "server: %r" % s


def assert_syns(d, n=N_CONN):
    assert d["opens"] == n, "the client opened %d connections, not %d" % (d["opens"], n)
    assert d["syn_retrans"] <= RETRANS_MAX, "%d SYN retransmits (at most %d tolerated)" % (
        d["syn_retrans"], RETRANS_MAX)


def assert_conntrack(lab, family, where, c, n=N_CONN):
    ents = ct_entries(lab, family, where, set(c["ports"]))
    assert len(ents) == n, "conntrack in the router has %d of the %d connections: %r" % (
        len(ents), n, ents[:3])


def wait_armed(lab, n, mode=None, timeout=10):
    """Waits for n armed syn-protect entries in `pfd stats` (all in mode)."""
    def ok():
        e = synp_entries(lab)
        return len(e) == n and (mode is None or all(x.get("mode") == mode for x in e)) and e
    got = wait_for(ok, timeout, 0.1)
    assert got, "pfd stats syn_protect after %ss: %r (want %d %s)\n%s" % (
        timeout, synp_entries(lab), n, mode or "", lab.daemons[-1].log_text()[-2000:])
    return got


FAMILIES = ["ipv4", "ipv6"]
WHERE = ["forward", "local"]


# --- the kernel alone ----------------------------------------------------------

@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_synproxy_alone(lab, family, where):
    """No pfd: the topology and ruleset work on their own. The kernel's
    synproxy answers every SYN, accepts every cookie, and the connections
    carry their data; conntrack has each one."""
    router_setup(lab)
    b = Snap(lab, with_pfd=False)
    c, s = connections(lab, family, where)
    d = Snap(lab, with_pfd=False).delta(b, lab)
    report("synp kernel alone %s %s" % (family, where),
           "%d/%d connections in %.2fs; SYNs %d (retrans %d); synproxy syn_received %d "
           "cookie_valid %d cookie_invalid %d; conntrack +%d" %
           (c["ok"], N_CONN, c["seconds"], d["syns"], d["syn_retrans"], d["syn_received"],
            d["cookie_valid"], d["cookie_invalid"], d["ct"]))
    assert_connections(c, s)
    assert_syns(d)
    assert d["syn_received"] == d["syns"], "the kernel's synproxy answered %d of %d SYNs" % (
        d["syn_received"], d["syns"])
    assert N_CONN <= d["cookie_valid"] <= N_CONN + d["syn_retrans"], d
    assert_conntrack(lab, family, where, c)


# --- A: answered at XDP ---------------------------------------------------------

@pytest.mark.parametrize("peer", ["gro", "xdp-prog"])
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("family", FAMILIES)
def test_synp_answered_at_xdp(lab, family, where, peer):
    """The client's veth end takes XDP frames, by GRO (the lab's way) or by
    an XDP program of its own: pfd answers every SYN at XDP (reason
    syn_cookie on the client-facing device, once per SYN the client sent),
    the kernel's synproxy answers none and accepts every cookie, the
    connections carry their data, conntrack has each one, and pfd offloads
    none of them (the synproxy adjusts their sequence numbers)."""
    router_setup(lab)
    if peer == "xdp-prog":
        xdp_prog_on_client(lab)
    start_pfd(lab, synp_lines())
    armed = wait_armed(lab, 2, "answer")
    b = Snap(lab)
    c, s = connections(lab, family, where)
    d = Snap(lab).delta(b, lab)
    rules = {r: v for r, v in d["rule_syns"].items() if v}
    port = service(family, where)[1]
    offloaded = pfdlab.find_flow(lab.flows(), "tcp", port)
    report("synp A %s %s peer %s" % (family, where, peer),
           "%d/%d connections in %.2fs; SYNs %d (retrans %d); syn_cookie %s +%d, %s +%d, all +%d; "
           "rule syns %r; synproxy syn_received %d cookie_valid %d cookie_invalid %d; conntrack +%d; "
           "offloaded %d; armed %r" %
           (c["ok"], N_CONN, c["seconds"], d["syns"], d["syn_retrans"], lab.rc_if, d["syn_cookie_rc"],
            lab.rs_if, d["syn_cookie_rs"], d["syn_cookie"], rules, d["syn_received"],
            d["cookie_valid"], d["cookie_invalid"], d["ct"], len(offloaded), armed))
    assert_connections(c, s)
    assert_syns(d)
    assert d["syn_cookie_rc"] == d["syns"], "XDP on %s answered %d of the %d SYNs" % (
        lab.rc_if, d["syn_cookie_rc"], d["syns"])
    assert d["syn_cookie"] == d["syns"] and d["syn_cookie_rs"] == 0, d
    assert list(rules.values()) == [d["syns"]], "rule syns %r for %d SYNs" % (rules, d["syns"])
    assert d["syn_received"] == 0, "the kernel's synproxy answered %d SYNs" % d["syn_received"]
    assert N_CONN <= d["cookie_valid"] <= N_CONN + d["syn_retrans"], d
    assert d["cookie_invalid"] == 0, d
    assert_conntrack(lab, family, where, c)
    assert d["ct"] == N_CONN, "conntrack grew by %d for %d connections" % (d["ct"], N_CONN)
    assert not offloaded, "pfd offloaded synproxied (seqadj) flows: %r" % offloaded[:2]


# --- B: the client-side peer cannot take XDP frames --------------------------------

@pytest.mark.lab(gro=False)
@pytest.mark.parametrize("family", FAMILIES)
def test_synp_peer_without_xdp_left_to_kernel(lab, family):
    """The client's veth end has no XDP program and GRO off, so the router's
    end cannot XDP_TX: pfd answers nothing there (syn_cookie 0), counts the
    SYNs under the rule, and the kernel's synproxy answers every one."""
    router_setup(lab)
    start_pfd(lab, synp_lines())
    wait_armed(lab, 2, "answer")
    b = Snap(lab)
    c, s = connections(lab, family, "forward")
    d = Snap(lab).delta(b, lab)
    rules = {r: v for r, v in d["rule_syns"].items() if v}
    report("synp B peer without XDP %s" % family,
           "%d/%d connections in %.2fs; SYNs %d (retrans %d); syn_cookie all +%d; rule syns %r; "
           "synproxy syn_received %d cookie_valid %d; conntrack +%d" %
           (c["ok"], N_CONN, c["seconds"], d["syns"], d["syn_retrans"], d["syn_cookie"], rules,
            d["syn_received"], d["cookie_valid"], d["ct"]))
    assert_connections(c, s)
    assert_syns(d)
    assert d["syn_cookie"] == 0, "pfd answered %d SYNs on a device that cannot transmit XDP frames" % d["syn_cookie"]
    assert d["syn_received"] == d["syns"], "the kernel's synproxy answered %d of %d SYNs" % (
        d["syn_received"], d["syns"])
    assert N_CONN <= d["cookie_valid"] <= N_CONN + d["syn_retrans"], d
    assert list(rules.values()) == [d["syns"]], "rule syns %r for %d SYNs" % (rules, d["syns"])
    assert_conntrack(lab, family, "forward", c)


# --- C: dry-run -----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["line", "global"])
def test_synp_dry_run_counts_only(lab, how):
    """`syn-protect ... dry-run` (or the global `dry-run on`): the rule counts
    every SYN, pfd answers none, the kernel's synproxy answers them all."""
    router_setup(lab)
    if how == "line":
        start_pfd(lab, synp_lines(" dry-run"))
    else:
        start_pfd(lab, synp_lines(), extra={"dry-run": "on"})
    wait_armed(lab, 2, "dry-run")
    b = Snap(lab)
    c, s = connections(lab, "ipv4", "forward")
    d = Snap(lab).delta(b, lab)
    rules = {r: v for r, v in d["rule_syns"].items() if v}
    report("synp C dry-run (%s)" % how,
           "%d/%d connections; SYNs %d (retrans %d); rule syns %r; syn_cookie +%d; synproxy "
           "syn_received %d cookie_valid %d" %
           (c["ok"], N_CONN, d["syns"], d["syn_retrans"], rules, d["syn_cookie"], d["syn_received"],
            d["cookie_valid"]))
    assert_connections(c, s)
    assert_syns(d)
    assert list(rules.values()) == [d["syns"]], "rule syns %r for %d SYNs" % (rules, d["syns"])
    assert d["syn_cookie"] == 0, "pfd answered %d SYNs under dry-run" % d["syn_cookie"]
    assert d["syn_received"] == d["syns"], d
    assert_conntrack(lab, "ipv4", "forward", c)


# --- D: no synproxy statement ------------------------------------------------------------

def test_synp_unarmed_without_synproxy_statement(lab):
    """A ruleset without a synproxy statement: the lines stay unarmed (the
    log says why, `pfd stats` lists none), SYNs go to the kernel, which
    forwards them like any connection. The synproxy rules loaded: armed
    within seconds, answered at XDP. Removed again: unarmed, forwarded."""
    router_setup(lab, synproxy=False)
    xdp_prog_on_client(lab)
    d0 = start_pfd(lab, synp_lines())
    log = wait_for(lambda: d0.log_text().count("not armed") >= 2 and d0.log_text(), 5, 0.1)
    assert log, "pfd did not log the unarmed lines:\n%s" % d0.log_text()[-3000:]
    why = [l for l in log.splitlines() if "syn-protect" in l and "not armed" in l]
    assert len(why) == 2 and all("no synproxy statement" in l for l in why), why
    assert synp_entries(lab) == [], "armed entries without a synproxy statement: %r" % synp_entries(lab)

    b = Snap(lab)
    c, s = connections(lab, "ipv4", "forward")
    d1 = Snap(lab).delta(b, lab)
    assert_connections(c, s)
    assert_syns(d1)
    assert d1["syn_cookie"] == 0 and d1["syn_received"] == 0 and d1["cookie_valid"] == 0, d1
    assert_conntrack(lab, "ipv4", "forward", c)

    # the synproxy rules go in: armed, answered at XDP
    lab.nft("delete", "table", "inet", "synp")
    t0 = time.monotonic()
    lab.nft_load(synp_ruleset(True))
    armed = wait_armed(lab, 2, "answer")
    t_arm = time.monotonic() - t0
    b = Snap(lab)
    c2, s2 = connections(lab, "ipv4", "forward")
    d2 = Snap(lab).delta(b, lab)
    assert_connections(c2, s2)
    assert_syns(d2)

    # and out again
    lab.nft("delete", "table", "inet", "synp")
    t0 = time.monotonic()
    lab.nft_load(synp_ruleset(False))
    gone = wait_for(lambda: synp_entries(lab) == [], 10, 0.1)
    t_unarm = time.monotonic() - t0
    b = Snap(lab)
    c3, s3 = connections(lab, "ipv4", "forward")
    d3 = Snap(lab).delta(b, lab)
    report("synp D unarmed/armed/unarmed",
           "unarmed: %d/%d connections, SYNs %d, syn_cookie +%d, synproxy syn_received %d; why: %s | "
           "armed after %.2fs %r: %d/%d, SYNs %d, syn_cookie +%d, syn_received %d, cookie_valid %d | "
           "unarmed again after %.2fs: %d/%d, syn_cookie +%d, syn_received %d" %
           (c["ok"], N_CONN, d1["syns"], d1["syn_cookie"], d1["syn_received"], why[0].strip(), t_arm,
            [(e["rule"], e["mode"]) for e in armed], c2["ok"], N_CONN, d2["syns"], d2["syn_cookie"],
            d2["syn_received"], d2["cookie_valid"], t_unarm, c3["ok"], N_CONN, d3["syn_cookie"],
            d3["syn_received"]))
    assert d2["syn_cookie_rc"] == d2["syns"] and d2["syn_received"] == 0, d2
    assert N_CONN <= d2["cookie_valid"] <= N_CONN + d2["syn_retrans"], d2
    assert gone, "still armed after the synproxy rules went: %r" % synp_entries(lab)
    assert_connections(c3, s3)
    assert_syns(d3)
    assert d3["syn_cookie"] == 0 and d3["syn_received"] == 0, d3


def test_synp_explicit_options(lab):
    """Explicit options: a line with the ruleset's (mss 1460 wscale 7
    timestamp sack-perm) is armed and answered at XDP; a line with mss 1400
    is not (the log says its options are missing) and the kernel's synproxy
    answers its SYNs."""
    router_setup(lab)
    xdp_prog_on_client(lab)
    d0 = start_pfd(lab, "syn-protect %s/32 tcp %d mss 1460 wscale 7 timestamp sack-perm\n"
                   "syn-protect %s/32 tcp %d mss 1400 wscale 7 timestamp sack-perm\n"
                   % (SRV4, FWD_PORT, RTR_C4, LOCAL_PORT))
    armed = wait_armed(lab, 1, "answer")
    why = [l for l in d0.log_text().splitlines() if "syn-protect" in l and "not armed" in l]
    b = Snap(lab)
    c1, s1 = connections(lab, "ipv4", "forward")
    d1 = Snap(lab).delta(b, lab)
    b = Snap(lab)
    c2, s2 = connections(lab, "ipv4", "local")
    d2 = Snap(lab).delta(b, lab)
    report("synp explicit options",
           "armed %r; unarmed: %s | matching line: %d/%d, SYNs %d, syn_cookie +%d, syn_received %d | "
           "mss 1400 line: %d/%d, SYNs %d, syn_cookie +%d, syn_received %d" %
           (armed, why, c1["ok"], N_CONN, d1["syns"], d1["syn_cookie"], d1["syn_received"],
            c2["ok"], N_CONN, d2["syns"], d2["syn_cookie"], d2["syn_received"]))
    assert armed[0]["mss"] == 1460 and armed[0]["wscale"] == 7, armed
    assert len(why) == 1 and "options" in why[0], why
    assert_connections(c1, s1)
    assert_syns(d1)
    assert d1["syn_cookie_rc"] == d1["syns"] and d1["syn_received"] == 0, d1
    assert_connections(c2, s2)
    assert_syns(d2)
    assert d2["syn_cookie"] == 0 and d2["syn_received"] == d2["syns"], d2


# --- E: a SYN flood ------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_synp_flood_leaves_no_state(lab, family):
    """FLOOD_COUNT SYNs at FLOOD_RATE/s from spoofed sources while N_CONN
    real connections are made: every connection carries its data, XDP
    answers every SYN (flood and real), the kernel's synproxy answers none,
    and the router's conntrack grows by the real connections only."""
    router_setup(lab)
    xdp_prog_on_client(lab)
    start_pfd(lab, synp_lines())
    wait_armed(lab, 2, "answer")
    addr, port, _ = service(family, "forward")
    smac, dmac = lab.mac(lab.cli, lab.c_if), lab.mac(lab.rtr, lab.rc_if)

    def flood():
        p = subprocess.Popen(["ip", "netns", "exec", lab.cli, pfdlab.PY, "-c", FLOOD, lab.c_if, smac,
                              dmac, addr, str(port), str(FLOOD_COUNT), str(FLOOD_RATE), "11"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        lab.procs.append(p)
        line = p.stdout.readline()   # bounded: the frames are built in well under a second
        assert line.strip() == "START", "flood did not start: %r %s" % (line, p.stderr.read())
        time.sleep(0.2)
        return p

    b = Snap(lab)
    # the connections start 0.2 s into the flood and are spread over 1.5 s of its 2 s
    c, s, f = connections(lab, family, "forward", during=flood, gap=1.5 / N_CONN)
    d = Snap(lab).delta(b, lab)
    rules = {r: v for r, v in d["rule_syns"].items() if v}
    spoofed = [x for x in lab.ct_list(family, proto="tcp", dport=port)
               if x["orig"].get("src") != (CLI4 if family == "ipv4" else CLI6)]
    report("synp E flood %s" % family,
           "flood %d SYNs in %.2fs; %d/%d connections in %.2fs; client SYNs %d (retrans %d); "
           "syn_cookie %s +%d (all +%d); rule syns %r; synproxy syn_received %d cookie_valid %d; "
           "conntrack +%d, %d from spoofed sources" %
           (f["sent"], f["seconds"], c["ok"], N_CONN, c["seconds"], d["syns"], d["syn_retrans"],
            lab.rc_if, d["syn_cookie_rc"], d["syn_cookie"], rules, d["syn_received"],
            d["cookie_valid"], d["ct"], len(spoofed)))
    assert f["sent"] == FLOOD_COUNT, f
    assert_connections(c, s)
    assert_syns(d)
    want = FLOOD_COUNT + d["syns"]
    assert d["syn_cookie_rc"] == want, "XDP answered %d of %d SYNs (flood %d + client %d)" % (
        d["syn_cookie_rc"], want, FLOOD_COUNT, d["syns"])
    assert list(rules.values()) == [want], "rule syns %r for %d SYNs" % (rules, want)
    assert d["syn_received"] == 0, "the kernel's synproxy answered %d SYNs" % d["syn_received"]
    assert N_CONN <= d["cookie_valid"] <= N_CONN + d["syn_retrans"], d
    assert not spoofed, "conntrack entries for the flood: %r" % spoofed[:3]
    assert d["ct"] == N_CONN, "conntrack grew by %d for %d connections" % (d["ct"], N_CONN)
    assert_conntrack(lab, family, "forward", c)
