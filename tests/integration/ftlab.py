#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A four-namespace lab for the kernel flowtable selftest's scenarios, run
against pfd in mark mode.

    client ---------- router1 ---------- router2 ---------- server
           MTU 9000    (pfd)    MTU 1500  (kernel)  MTU 2000
     192.0.2.0/24            203.0.113.0/24         198.51.100.0/24
     2001:db8:1::/64         2001:db8:3::/64        2001:db8:2::/64

The shape and MTUs are those of the kernel's nft_flowtable.sh (originator
9000, router link 1500, responder 2000): TCP's MSS, taken from the ends'
own MTUs, is larger than the router link allows, so every connection starts
with packets router1 must fragment (DF clear) or refuse with an ICMP error
(path MTU discovery). pfd runs in router1 only and attaches both of its
veths `auto` (XDP, TC behind it); router2 forwards in the kernel.

pfdlab.Lab supplies the plumbing: FtLab subclasses it so that router1 plays
the lab's "router" (lab.rtr, lab.rc_if, lab.rs_if) and every pfd helper
(start_pfd, stats, flows, explain, close...) works unchanged; router2
(lab.r2) and its veths are added here.

peers="xdp": the two veth ends pfd redirects into (the client's end, and
router2's end of the transfer link) have GRO on, so they take XDP frames.
peers="no-xdp": GRO off on every veth and no XDP program anywhere but pfd's:
pfd must forward through TC or not at all (docs/kernel-notes.md, "veth as
an XDP redirect target"). Checksum offload, TSO and GSO are off on every
veth in both cases.

Run as a script, this file is also the bidirectional traffic endpoint the
tests use (both ends send a seeded payload and hash what they receive, as
the selftest's two socat copies do); traffic.py sends one way only:

  ftlab.py duplex-server --addr A --port P --bytes N --seed S [--rate B/S] [--timeout T]
  ftlab.py duplex-client --addr A --port P --bytes N --seed S [--rate B/S] [--timeout T]

Each prints one JSON object on its last stdout line (the server "READY"
first, once it listens).
"""

import argparse
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pfdlab  # noqa: E402
from pfdlab import CmdError  # noqa: E402

SELF = os.path.abspath(__file__)

# Addresses (documentation ranges only).
CLI4, R1C4 = "192.0.2.2", "192.0.2.1"                   # client link
R1T4, R2T4 = "203.0.113.1", "203.0.113.2"               # router1 -- router2
R2S4, SRV4 = "198.51.100.1", "198.51.100.2"             # server link
CLI6, R1C6 = "2001:db8:1::2", "2001:db8:1::1"
R1T6, R2T6 = "2001:db8:3::1", "2001:db8:3::2"
R2S6, SRV6 = "2001:db8:2::1", "2001:db8:2::2"
VIP4 = "203.0.113.100"      # router1 DNATs VIP4:PORT_VIP to the server
PORT_VIP = 1666

# The selftest's MTUs: originator, router link, responder.
SELFTEST_MTUS = (9000, 1500, 2000)
PLAIN_MTUS = (1500, 1500, 1500)


class FtLab(pfdlab.Lab):
    """client -- router1 (pfd) -- router2 -- server. Always call close().

    peers: "xdp" or "no-xdp" (module docstring); mtus: (client link,
    router link, server link); pmtu: False sets net.ipv4.ip_no_pmtu_disc=1
    in the client and the server (IPv4 sent with DF clear, router1
    fragments); nat: router1 masquerades everything towards router2 and
    DNATs VIP4:PORT_VIP to the server, and the server keeps a route to
    router1's masquerade address only (so only NATed packets can work)."""

    def __init__(self, peers="xdp", mtus=SELFTEST_MTUS, pmtu=True, nat=False, dnat_port=5001):
        assert peers in ("xdp", "no-xdp")
        self.peers = peers
        self.mtus = mtus
        self.pmtu = pmtu
        self.nat = nat
        self.dnat_port = dnat_port
        super().__init__(gro=peers == "xdp", neigh=True, ruleset=True, prefix="pfdf")

    # Lab.__init__ calls this with its own arguments; FtLab's are on self.
    def _setup(self, gro, neigh, ruleset):
        self.r2 = "pfdf-r2-%s" % self.sfx
        self.r2t_if = "f2t" + self.sfx       # router2, towards router1
        self.r2s_if = "f2s" + self.sfx       # router2, towards the server
        for n in (self.cli, self.rtr, self.r2, self.srv):
            pfdlab.run(["ip", "netns", "add", n])
            self.netns.append(n)
            self.ns(n, ["ip", "link", "set", "lo", "up"])
            self.sysctl(n, "net.ipv6.conf.all.accept_dad", 0)
            self.sysctl(n, "net.ipv6.conf.default.accept_dad", 0)
        self._veth(self.c_if, self.cli, self.rc_if, self.rtr)
        self._veth(self.rs_if, self.rtr, self.r2t_if, self.r2)
        self._veth(self.r2s_if, self.r2, self.s_if, self.srv)
        for n in (self.rtr, self.r2):
            self.sysctl(n, "net.ipv4.ip_forward", 1)
            self.sysctl(n, "net.ipv6.conf.all.forwarding", 1)
        for n in (self.cli, self.srv):
            # the selftest's: no cached path MTU or metrics between runs
            self.sysctl(n, "net.ipv4.tcp_no_metrics_save", 1)
            self.sysctl(n, "net.ipv4.ip_no_pmtu_disc", 0 if self.pmtu else 1)
        omtu, lmtu, rmtu = self.mtus
        self.links = (
            (self.cli, self.c_if, omtu, (CLI4 + "/24", CLI6 + "/64")),
            (self.rtr, self.rc_if, omtu, (R1C4 + "/24", R1C6 + "/64")),
            (self.rtr, self.rs_if, lmtu, (R1T4 + "/24", R1T6 + "/64")),
            (self.r2, self.r2t_if, lmtu, (R2T4 + "/24", R2T6 + "/64")),
            (self.r2, self.r2s_if, rmtu, (R2S4 + "/24", R2S6 + "/64")),
            (self.srv, self.s_if, rmtu, (SRV4 + "/24", SRV6 + "/64")),
        )
        # the ends pfd redirects into: router1's veths' peers
        gro_on = {self.c_if, self.r2t_if} if self.peers == "xdp" else set()
        for ns, dev, mtu, addrs in self.links:
            self.ns(ns, ["ip", "link", "set", dev, "mtu", str(mtu)])
            for a in addrs:
                self.ns(ns, ["ip", "addr", "add", a, "dev", dev] + (["nodad"] if ":" in a else []))
            self.ns(ns, ["ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                         "gro", "off"])
            self.ns(ns, ["ip", "link", "set", dev, "up"])
        # GRO after the links are up (as pfdlab): set on a veth that was
        # down, its peer may not advertise NDO_XMIT (seen on 6.18 when the
        # GRO end came up after its peer: pfd then, rightly, took TC)
        for ns, dev, _, _ in self.links:
            if dev in gro_on:
                self.ns(ns, ["ethtool", "-K", dev, "gro", "on"])
        self.ns(self.cli, ["ip", "route", "add", "default", "via", R1C4])
        self.ns(self.cli, ["ip", "-6", "route", "add", "default", "via", R1C6])
        self.ns(self.rtr, ["ip", "route", "add", "default", "via", R2T4])
        self.ns(self.rtr, ["ip", "-6", "route", "add", "default", "via", R2T6])
        self.ns(self.r2, ["ip", "route", "add", "default", "via", R1T4])
        self.ns(self.r2, ["ip", "-6", "route", "add", "default", "via", R1T6])
        if self.nat:
            # as the selftest: the server can answer masqueraded packets only
            self.ns(self.srv, ["ip", "route", "add", R1T4 + "/32", "via", R2S4])
        else:
            self.ns(self.srv, ["ip", "route", "add", "default", "via", R2S4])
            self.ns(self.srv, ["ip", "-6", "route", "add", "default", "via", R2S6])
        # permanent neighbours on every link, both ways
        macs = {dev: self.mac(ns, dev) for ns, dev, _, _ in self.links}
        pairs = ((0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4))
        for a, b in pairs:
            ns, dev, _, _ = self.links[a]
            for addr in self.links[b][3]:
                self.ns(ns, ["ip", "neigh", "replace", addr.split("/")[0], "lladdr",
                             macs[self.links[b][1]], "dev", dev, "nud", "permanent"])
        os.makedirs(self.bpffs)
        os.makedirs(self.state)
        pfdlab.run(["mount", "-t", "bpf", "bpf", self.bpffs])
        self.mounted = True
        self.bpffs_baseline = set(self.bpffs_files())
        self.nft_load(self.ruleset())
        self.ns(self.srv, ["nft", "-f", "-"], input=SERVER_RULESET)

    def ruleset(self):
        """Router1's mark-mode ruleset: forward policy drop; every TCP packet
        counted per conntrack direction (fwd_orig, fwd_repl: what the kernel
        forwarded, before any verdict); established flows get the offload
        mark of their direction and are accepted; new flows from the client
        towards router2 are accepted, ICMP too (the selftest's rules)."""
        text = """
table inet ft {
    counter fwd_orig {}
    counter fwd_repl {}
    counter fwd_new {}
    counter fwd_dropped {}
    chain forward {
        type filter hook forward priority filter; policy drop;
        meta l4proto tcp ct direction original counter name "fwd_orig"
        meta l4proto tcp ct direction reply counter name "fwd_repl"
        ct state invalid drop
        ct state established ct direction original ct mark set ct mark or 0x1
        ct state established ct direction reply ct mark set ct mark or 0x2
        ct state established,related accept
        iifname "%(c)s" oifname "%(s)s" ct state new counter name "fwd_new" accept
        meta l4proto { icmp, ipv6-icmp } accept
        counter name "fwd_dropped"
    }
}
""" % {"c": self.rc_if, "s": self.rs_if}
        if self.nat:
            text += """
table ip ft_nat {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "%(c)s" ip daddr %(vip)s tcp dport %(vport)d dnat to %(srv)s:%(port)d
    }
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "%(s)s" masquerade
    }
}
""" % {"c": self.rc_if, "s": self.rs_if, "vip": VIP4, "vport": PORT_VIP, "srv": SRV4,
       "port": self.dnat_port}
        return text

    # --- counters -------------------------------------------------------
    def _counters(self, ns, table, field="packets"):
        p = self.ns(ns, ["nft", "-j", "list", "counters", "table"] + table.split())
        out = {}
        for obj in json.loads(p.stdout)["nftables"]:
            c = obj.get("counter")
            if c:
                out[c["name"]] = c[field]
        return out

    def fwd_counts(self, field="packets"):
        """Packets (or bytes) of router1's named forward-chain counters."""
        return self._counters(self.rtr, "inet ft", field)

    def server_counts(self):
        """Packets of the server's input counters (TCP, by DSCP)."""
        return self._counters(self.srv, "inet ft_srv")

    def hook_forwarded(self, stats=None):
        """{(device, hook): packets pfd forwarded} for router1's devices
        (from `pfd -j stats`, or the stats given)."""
        devs = (stats or self.stats()).get("devices", {})
        return {(d, h): devs.get(d, {}).get(h, {}).get("forwarded", {}).get("packets", 0)
                for d in (self.rc_if, self.rs_if) for h in ("xdp", "tc")}

    def reasons(self, stats=None):
        """{reason: packets}, summed over devices and hooks."""
        return {k: v.get("packets", 0)
                for k, v in (stats or self.stats()).get("reasons", {}).items()}

    def xdp_attached(self, ns, dev):
        p = self.ns(ns, ["ip", "-j", "link", "show", "dev", dev])
        info = json.loads(p.stdout)[0]
        return "xdp" in info

    def ruleset_gen(self):
        """The nft generation pfd last revalidated (its state file), or
        None."""
        try:
            with open(os.path.join(self.state, "state")) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == "ruleset_gen":
                        return int(v)
        except (OSError, ValueError):
            pass
        return None

    def nft_change(self, text=None, args=None, timeout=5):
        """Applies one nft transaction in router1 (a ruleset text or nft
        arguments) and waits until the running pfd has taken the new
        generation (its state file), so that traffic started next is
        decided under it."""
        g0 = self.ruleset_gen()
        if text is not None:
            self.nft_load(text)
        else:
            self.nft(*args)
        if not pfdlab.wait_for(lambda: self.ruleset_gen() not in (None, g0), timeout, 0.02):
            raise CmdError("pfd did not take the new nft generation within %ss (state %s)" %
                           (timeout, self.ruleset_gen()))

    # --- traffic --------------------------------------------------------
    def spawn_duplex(self, ns, args, timeout):
        p = subprocess.Popen(["ip", "netns", "exec", ns, pfdlab.PY, SELF] + args +
                             ["--timeout", str(timeout)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.pfd_timeout = timeout
        self.procs.append(p)
        if args[0] == "duplex-server":
            line = p.stdout.readline()   # bounded: the endpoint exits on --timeout
            if line.strip() != "READY":
                p.kill()
                raise CmdError("duplex-server did not start: %r %s" % (line, p.stderr.read()))
        return p

    def duplex(self, nbytes, dst, port, connect=None, rate=0, timeout=30):
        """nbytes each way between a server in the server namespace and a
        client in the client namespace, at the same time, each paced to
        rate bytes/s (0: as fast as it goes); returns (client result, server
        result, seconds). Raises unless both ends received exactly what the
        other sent."""
        fam_any = "::" if ":" in dst else "0.0.0.0"
        pace = ["--rate", str(rate)] if rate else []
        t0 = time.monotonic()
        srv = self.spawn_duplex(self.srv, ["duplex-server", "--addr", fam_any, "--port", str(port),
                                           "--bytes", str(nbytes), "--seed", "21"] + pace, timeout)
        caddr, cport = connect or (dst, port)
        cli = self.spawn_duplex(self.cli, ["duplex-client", "--addr", caddr, "--port", str(cport),
                                           "--bytes", str(nbytes), "--seed", "12"] + pace, timeout)
        c, s = self.result(cli), self.result(srv)
        dt = time.monotonic() - t0
        if c["error"] or s["error"]:
            raise CmdError("transfer failed: client %s, server %s" % (c["error"], s["error"]))
        for name, tx, rx in (("client -> server", c, s), ("server -> client", s, c)):
            if rx["received"] != nbytes or rx["recv_sha256"] != tx["sent_sha256"]:
                raise CmdError("%s: %d of %d bytes arrived, sha256 %s, sent %s" %
                               (name, rx["received"], nbytes, rx["recv_sha256"][:16],
                                tx["sent_sha256"][:16]))
        return c, s, dt


SERVER_RULESET = """
table inet ft_srv {
    counter tcp_rx {}
    counter tcp_cs3 {}
    counter tcp_dscp0 {}
    chain input {
        type filter hook input priority filter; policy accept;
        meta nfproto ipv4 meta l4proto tcp counter name "tcp_rx"
        meta l4proto tcp ip dscp cs3 counter name "tcp_cs3"
        meta l4proto tcp ip dscp 0 counter name "tcp_dscp0"
    }
}
"""


# --- the duplex endpoint ----------------------------------------------------
CHUNK = 65536


def _payload(seed):
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


def _duplex(sock, a, t0):
    """Sends a.bytes seeded bytes (a thread) while reading to EOF; the
    result as a dict."""
    sock.settimeout(a.timeout)
    gen = _payload(a.seed)
    tx = {"sent": 0, "sha": hashlib.sha256(), "error": None}
    deadline = t0 + a.timeout

    def sender():
        chunk = CHUNK if not a.rate else 16384
        start = time.monotonic()
        try:
            while tx["sent"] < a.bytes:
                if time.monotonic() > deadline:
                    raise TimeoutError("sending exceeded %ss" % a.timeout)
                buf = gen(min(chunk, a.bytes - tx["sent"]))
                sock.sendall(buf)
                tx["sha"].update(buf)
                tx["sent"] += len(buf)
                if a.rate:
                    ahead = start + tx["sent"] / a.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            tx["error"] = "send: %s: %s" % (type(e).__name__, e)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    rx_sha, received, err = hashlib.sha256(), 0, None
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("receiving exceeded %ss" % a.timeout)
            buf = sock.recv(CHUNK)
            if not buf:
                break
            rx_sha.update(buf)
            received += len(buf)
    except OSError as e:
        err = "recv: %s: %s" % (type(e).__name__, e)
    th.join(max(0.1, deadline - time.monotonic()))
    if th.is_alive():
        err = err or "send: did not finish"
    return {"sent": tx["sent"], "sent_sha256": tx["sha"].hexdigest(), "received": received,
            "recv_sha256": rx_sha.hexdigest(), "seconds": round(time.monotonic() - t0, 3),
            "error": err or tx["error"]}


def duplex_server(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(1)
    s.settimeout(a.timeout)
    print("READY", flush=True)
    t0 = time.monotonic()
    try:
        c, peer = s.accept()
    except OSError as e:
        print(json.dumps({"sent": 0, "sent_sha256": "", "received": 0, "recv_sha256": "",
                          "error": "accept: %s" % e}), flush=True)
        return
    out = _duplex(c, a, t0)
    out["peer"] = [peer[0], peer[1]]
    c.close()
    print(json.dumps(out), flush=True)


def duplex_client(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        c.connect((a.addr, a.port))
    except OSError as e:
        print(json.dumps({"sent": 0, "sent_sha256": "", "received": 0, "recv_sha256": "",
                          "error": "connect: %s" % e}), flush=True)
        return
    local = list(c.getsockname()[:2])
    out = _duplex(c, a, t0)
    out["local"] = local
    c.close()
    print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description="bidirectional TCP endpoint for ftlab")
    p.add_argument("mode", choices=["duplex-server", "duplex-client"])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0, help="bytes/s each way, 0: unpaced")
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    {"duplex-server": duplex_server, "duplex-client": duplex_client}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
