# SPDX-License-Identifier: GPL-2.0-only
"""The client -- router -- server lab that pfd's integration tests run in.

Three network namespaces joined by two veth pairs, documentation addresses
only, the mark-mode nft ruleset in the router, a private bpffs and state dir
for pfd, and helpers to run pfd, nft, conntrack and bounded, checksummed
traffic (traffic.py). conftest.py documents how tests get one; this module has
no pytest dependency so other tools (the demo, a benchmark) can reuse it.

Why the veths are set up the way they are (found on Linux 6.18):
- checksum offload and TSO off on every veth: a veth otherwise hands
  CHECKSUM_PARTIAL skbs around, and a frame that XDP redirects carries the
  unfinished checksum to the receiver, which drops it;
- GRO on the client's and the server's veth: a veth only accepts
  XDP_REDIRECTed frames (ndo_xdp_xmit) when its peer has NAPI enabled, which
  needs either an XDP program or GRO on that peer. pfd attaches to the
  router's veths, so the peers of the devices it redirects into are the
  client's and the server's ends; GRO is enough there;
- permanent neighbours in all three namespaces: fast-pathed packets do not
  confirm neighbour entries, and a test must not flake on a neighbour that
  went stale (pfd's own neighbour refresh has its own test);
- IPv6 DAD off, so addresses work at once.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PFD_BUILD") or os.path.join(REPO, "build")
# PFD_BIN: a private copy of the binary, for runs while others rebuild build/pfd
PFD = os.environ.get("PFD_BIN") or os.path.join(BUILD, "pfd")
PY = "/usr/bin/python3"
# tests/sanitize runs these tests against a pfd built with ASan and UBSan,
# whose control plane is about five times slower (measured: a live policy
# change ends the old path after ~80 ms there, ~18 ms in the real build).
# Time bounds are the real build's; under the sanitizers they are stretched
# by TIME_FACTOR, and the tests that use it say so in their report.
SANITIZED = os.environ.get("PFD_TEST_SANITIZED") == "1"
TIME_FACTOR = 4 if SANITIZED else 1
TRAFFIC = os.path.join(HERE, "traffic.py")

# Addresses (documentation ranges only).
CLI4, RTR_C4, SRV4, RTR_S4 = "192.0.2.2", "192.0.2.1", "198.51.100.2", "198.51.100.1"
CLI6, RTR_C6, SRV6, RTR_S6 = "2001:db8:1::2", "2001:db8:1::1", "2001:db8:2::2", "2001:db8:2::1"

# Ports with a fixed meaning in the lab ruleset.
PORT_EXCLUDED = 5999	# accepted, never marked: stays on the kernel path
PORT_MASQ = 5003	# masqueraded towards the server
PORT_DNAT = 8080	# router's client-side address:8080 -> server:PORT_DNAT_TO
PORT_DNAT_TO = 5004

MARK = "0x3/0x3"	# one ct mark bit per direction, as examples/mark-mode.nft


class CmdError(Exception):
    pass


def run(cmd, timeout=20, check=True, input=None, env=None):
    """Runs cmd (a list), always with a timeout; returns CompletedProcess."""
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise CmdError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    if check and p.returncode != 0:
        raise CmdError("exit %d: %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def last_json(text):
    """The JSON object on the last non-empty line of text."""
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines:
        raise ValueError("no output")
    return json.loads(lines[-1])


def parse_ct(line):
    """One line of `conntrack -L -o extended` as a dict (None if unparsable).

    ipv4 2 tcp 6 431999 ESTABLISHED src=.. dst=.. sport=.. dport=.. src=..
    dst=.. sport=.. dport=.. [ASSURED] mark=3 use=1
    """
    f = line.split()
    if len(f) < 6 or f[0] not in ("ipv4", "ipv6"):
        return None
    ct = {"family": f[0], "proto": f[2], "timeout": int(f[4]), "state": None,
          "orig": {}, "reply": {}, "flags": set(), "mark": 0}
    rest = f[5:]
    if rest and "=" not in rest[0] and not rest[0].startswith("["):
        ct["state"] = rest[0]
        rest = rest[1:]
    side = "orig"
    for tok in rest:
        if tok.startswith("["):
            ct["flags"].add(tok.strip("[]"))
            continue
        if "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        if k in ("src", "dst", "sport", "dport"):
            if k in ct[side]:
                side = "reply"
            ct[side][k] = int(v) if k in ("sport", "dport") else v
        elif k == "mark":
            ct["mark"] = int(v, 0)
    return ct


class Daemon:
    """A `pfd run` started by the lab; stop() is idempotent."""

    def __init__(self, lab, conf, log):
        self.lab = lab
        self.conf = conf
        self.log = log
        self.logf = open(log, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.rtr, PFD, "-c", conf, "run"],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT)
        # ip netns exec execs pfd in place: this is pfd's own pid.
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        if self.alive():
            self.proc.terminate()
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait(5)
        self.logf.close()
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Lab:
    """client -- router -- server. Create with Lab(); always call close()."""

    def __init__(self, gro=True, neigh=True, ruleset=True, prefix="pfdt", dotted=False):
        self.sfx = secrets.token_hex(3)
        self.cli = "%s-c-%s" % (prefix, self.sfx)
        self.rtr = "%s-r-%s" % (prefix, self.sfx)
        self.srv = "%s-s-%s" % (prefix, self.sfx)
        # veth names: <= 15 characters
        self.c_if = "pc" + self.sfx      # client's end
        self.rc_if = "prc" + self.sfx    # router, towards the client
        self.rs_if = "prs" + self.sfx    # router, towards the server
        if dotted:   # named like VLAN devices (lan0.100)
            self.rc_if, self.rs_if = "prc.%s" % self.sfx, "prs.%s" % self.sfx
        self.s_if = "ps" + self.sfx      # server's end
        self.tmp = tempfile.mkdtemp(prefix="pfdlab-")
        self.bpffs = os.path.join(self.tmp, "bpffs")
        self.state = os.path.join(self.tmp, "state")
        self.conf_path = os.path.join(self.tmp, "pfd.conf")
        self.metrics = os.path.join(self.tmp, "metrics.prom")
        self.daemons = []
        self.procs = []
        self.netns = []
        self.mounted = False
        self.extra_cleanup = []
        try:
            self._setup(gro, neigh, ruleset)
        except BaseException:
            self.close()
            raise

    # --- plumbing -------------------------------------------------------
    def ns(self, ns, cmd, timeout=20, check=True, input=None):
        return run(["ip", "netns", "exec", ns] + cmd, timeout=timeout, check=check, input=input)

    def sysctl(self, ns, key, value):
        self.ns(ns, ["sysctl", "-qw", "%s=%s" % (key, value)])

    def _veth(self, a, ns_a, b, ns_b):
        run(["ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b])

    def ifindex(self, ns, dev):
        p = self.ns(ns, ["ip", "-j", "link", "show", "dev", dev])
        return json.loads(p.stdout)[0]["ifindex"]

    def mac(self, ns, dev):
        p = self.ns(ns, ["ip", "-j", "link", "show", "dev", dev])
        return json.loads(p.stdout)[0]["address"]

    def _setup(self, gro, neigh, ruleset):
        for n in (self.cli, self.rtr, self.srv):
            run(["ip", "netns", "add", n])
            self.netns.append(n)
            self.ns(n, ["ip", "link", "set", "lo", "up"])
            self.sysctl(n, "net.ipv6.conf.all.accept_dad", 0)
            self.sysctl(n, "net.ipv6.conf.default.accept_dad", 0)
        self._veth(self.c_if, self.cli, self.rc_if, self.rtr)
        self._veth(self.rs_if, self.rtr, self.s_if, self.srv)
        self.sysctl(self.rtr, "net.ipv4.ip_forward", 1)
        self.sysctl(self.rtr, "net.ipv6.conf.all.forwarding", 1)
        for ns, dev, addrs in ((self.cli, self.c_if, (CLI4 + "/24", CLI6 + "/64")),
                               (self.rtr, self.rc_if, (RTR_C4 + "/24", RTR_C6 + "/64")),
                               (self.rtr, self.rs_if, (RTR_S4 + "/24", RTR_S6 + "/64")),
                               (self.srv, self.s_if, (SRV4 + "/24", SRV6 + "/64"))):
            for a in addrs:
                self.ns(ns, ["ip", "addr", "add", a, "dev", dev] + (["nodad"] if ":" in a else []))
            self.ns(ns, ["ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off",
                         "gso", "off"], check=False)
            self.ns(ns, ["ip", "link", "set", dev, "up"])
        if gro:
            for ns, dev in ((self.cli, self.c_if), (self.srv, self.s_if)):
                self.ns(ns, ["ethtool", "-K", dev, "gro", "on"])
        for ns, gw4, gw6 in ((self.cli, RTR_C4, RTR_C6), (self.srv, RTR_S4, RTR_S6)):
            self.ns(ns, ["ip", "route", "add", "default", "via", gw4])
            self.ns(ns, ["ip", "-6", "route", "add", "default", "via", gw6])
        if neigh:
            m_c, m_rc = self.mac(self.cli, self.c_if), self.mac(self.rtr, self.rc_if)
            m_rs, m_s = self.mac(self.rtr, self.rs_if), self.mac(self.srv, self.s_if)
            for ns, dev, addr, mac in ((self.cli, self.c_if, RTR_C4, m_rc),
                                       (self.cli, self.c_if, RTR_C6, m_rc),
                                       (self.rtr, self.rc_if, CLI4, m_c),
                                       (self.rtr, self.rc_if, CLI6, m_c),
                                       (self.rtr, self.rs_if, SRV4, m_s),
                                       (self.rtr, self.rs_if, SRV6, m_s),
                                       (self.srv, self.s_if, RTR_S4, m_rs),
                                       (self.srv, self.s_if, RTR_S6, m_rs)):
                self.ns(ns, ["ip", "neigh", "replace", addr, "lladdr", mac, "dev", dev,
                             "nud", "permanent"])
        os.makedirs(self.bpffs)
        os.makedirs(self.state)
        run(["mount", "-t", "bpf", "bpf", self.bpffs])
        self.mounted = True
        # what a fresh bpffs already holds (maps.debug, progs.debug from the
        # kernel's bpf_preload): not pfd's pins
        self.bpffs_baseline = set(self.bpffs_files())
        if ruleset:
            self.nft_load(self.ruleset())

    def bpffs_files(self):
        return sorted(os.path.relpath(os.path.join(r, f), self.bpffs)
                      for r, _, fs in os.walk(self.bpffs) for f in fs)

    def ruleset(self):
        """The mark-mode ruleset: forward policy drop; established flows get
        the offload mark of the direction they travel in (0x1 original,
        0x2 reply) and are accepted; PORT_EXCLUDED is accepted without
        the mark; named counters prove which packets the kernel saw."""
        c, s = self.rc_if, self.rs_if
        return """
table inet pfdt {
    counter cnt_fwd {}
    counter cnt_invalid {}
    counter cnt_excluded {}
    counter cnt_new {}
    counter cnt_finrst {}
    counter cnt_drop {}
    counter cnt_dropped {}
    chain forward {
        type filter hook forward priority filter; policy drop;
        counter name "cnt_fwd"
        tcp flags & (fin | rst) != 0 counter name "cnt_finrst"
        ct state invalid counter name "cnt_invalid" drop
        ct state established,related th dport %(excl)d counter name "cnt_excluded" accept
        ct state established,related th sport %(excl)d counter name "cnt_excluded" accept
        ct state established ct direction original ct mark set ct mark or 0x1
        ct state established ct direction reply ct mark set ct mark or 0x2
        ct state established,related accept
        iifname "%(c)s" oifname "%(s)s" ct state new counter name "cnt_new" accept
        counter name "cnt_dropped"
    }
}
table ip pfdt_nat {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "%(c)s" ip daddr %(rc4)s tcp dport %(dnat)d dnat to %(srv4)s:%(dnat_to)d
        iifname "%(c)s" ip daddr %(rc4)s udp dport %(dnat)d dnat to %(srv4)s:%(dnat_to)d
    }
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "%(s)s" ip saddr 192.0.2.0/24 th dport %(masq)d masquerade
    }
}
""" % {"c": c, "s": s, "excl": PORT_EXCLUDED, "rc4": RTR_C4, "srv4": SRV4,
       "dnat": PORT_DNAT, "dnat_to": PORT_DNAT_TO, "masq": PORT_MASQ}

    def nft_load(self, text):
        self.ns(self.rtr, ["nft", "-f", "-"], input=text)

    def nft(self, *args, check=True):
        return self.ns(self.rtr, ["nft"] + list(args), check=check)

    def nft_insert(self, rule, chain="forward", table="inet pfdt"):
        """Inserts rule at the head of chain; returns its handle."""
        p = self.ns(self.rtr, ["nft", "-e", "-a", "insert", "rule"] + table.split() + [chain] + rule.split())
        m = re.search(r"# handle (\d+)", p.stdout)
        if not m:
            raise CmdError("no handle in nft output: " + p.stdout)
        return int(m.group(1))

    def nft_delete(self, handle, chain="forward", table="inet pfdt"):
        self.ns(self.rtr, ["nft", "delete", "rule"] + table.split() + [chain, "handle", str(handle)])

    def counter(self, name, table="inet pfdt"):
        """(packets, bytes) of a named nft counter in the router."""
        p = self.ns(self.rtr, ["nft", "-j", "list", "counter"] + table.split() + [name])
        for obj in json.loads(p.stdout)["nftables"]:
            if "counter" in obj:
                return obj["counter"]["packets"], obj["counter"]["bytes"]
        raise CmdError("counter %s not found" % name)

    def conntrack(self, *args, family=None, check=True):
        cmd = ["conntrack"] + list(args)
        if family:
            cmd += ["-f", family]
        return self.ns(self.rtr, cmd, check=check)

    def ct_list(self, family="ipv4", **match):
        """Router's conntrack entries (parsed), filtered by orig fields, e.g.
        ct_list(proto="tcp", dport=5001)."""
        p = self.ns(self.rtr, ["conntrack", "-L", "-o", "extended", "-f", family], check=False)
        out = []
        for line in p.stdout.splitlines():
            ct = parse_ct(line)
            if not ct:
                continue
            if "proto" in match and ct["proto"] != match["proto"]:
                continue
            if any(ct["orig"].get(k) != v for k, v in match.items() if k != "proto"):
                continue
            out.append(ct)
        return out

    def add_server_link(self, rtr_addr="203.0.113.1", srv_addr="203.0.113.2"):
        """A second router -- server link (203.0.113.0/24), set up like the
        first; returns (router's device, server's device). Used to make a
        policy route observable: which link the server's bytes came in on."""
        r_if, s_if = "prt" + self.sfx, "pu" + self.sfx
        self._veth(r_if, self.rtr, s_if, self.srv)
        for ns, dev, addr in ((self.rtr, r_if, rtr_addr), (self.srv, s_if, srv_addr)):
            self.ns(ns, ["ip", "addr", "add", addr + "/24", "dev", dev])
            self.ns(ns, ["ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off"],
                    check=False)
            self.ns(ns, ["ip", "link", "set", dev, "up"])
        self.ns(self.srv, ["ethtool", "-K", s_if, "gro", "on"])
        self.ns(self.rtr, ["ip", "neigh", "replace", srv_addr, "lladdr", self.mac(self.srv, s_if),
                           "dev", r_if, "nud", "permanent"])
        self.ns(self.srv, ["ip", "neigh", "replace", rtr_addr, "lladdr", self.mac(self.rtr, r_if),
                           "dev", s_if, "nud", "permanent"])
        # the server answers through its default route: asymmetric on purpose
        for dev in ("all", "default", s_if):
            self.sysctl(self.srv, "net.ipv4.conf.%s.rp_filter" % dev, 0)
        return r_if, s_if

    def udp_rcvbuf_errors(self):
        """UDP RcvbufErrors in the client and server namespaces: datagrams the
        test's own sockets dropped (not the network's loss)."""
        n = 0
        for ns in (self.cli, self.srv):
            lines = [l.split() for l in self.ns(ns, ["cat", "/proc/net/snmp"]).stdout.splitlines()
                     if l.startswith("Udp:")]
            if len(lines) >= 2:
                n += int(dict(zip(lines[0], lines[1])).get("RcvbufErrors", 0))
        return n

    def rx_bytes(self, ns, dev):
        p = self.ns(ns, ["ip", "-s", "-j", "link", "show", "dev", dev])
        return json.loads(p.stdout)[0]["stats64"]["rx"]["bytes"]

    # --- pfd ------------------------------------------------------------
    def conf_text(self, mode="mark " + MARK, attach=None, extra=None, log_level="debug"):
        lines = [
            "# written by tests/integration/pfdlab.py",
            "bpffs " + self.bpffs,
            "state-dir " + self.state,
            "log-level " + log_level,
            "mode " + mode,
        ]
        for dev in attach or (self.rc_if, self.rs_if):
            lines.append("attach %s auto" % dev)
        opts = {
            "heartbeat-interval": "200ms",
            "heartbeat-limit": "2s",
            "refresh-interval": "1s",
            "reconcile-interval": "5s",
            "metrics-file": self.metrics,
            "metrics-interval": "1s",
        }
        opts.update(extra or {})
        for k, v in opts.items():
            if v is not None:
                lines.append("%s %s" % (k, v))
        return "\n".join(lines) + "\n"

    def write_conf(self, text=None, path=None, **kw):
        path = path or self.conf_path
        with open(path, "w") as f:
            f.write(text if text is not None else self.conf_text(**kw))
        return path

    def pfd(self, *args, timeout=20, check=False, conf=None):
        """Runs the pfd CLI in the router namespace."""
        return self.ns(self.rtr, [PFD, "-c", conf or self.conf_path] + list(args),
                       timeout=timeout, check=check)

    def pfd_json(self, *args, conf=None):
        p = self.pfd(*args, conf=conf)
        if p.returncode != 0:
            raise CmdError("pfd %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise CmdError("pfd %s: not JSON: %r" % (" ".join(args), p.stdout[:300])) from e

    def status(self):
        return self.pfd_json("-j", "status")

    def flows(self, *filters):
        return self.pfd_json("-j", "flows", *filters)

    def live_status(self, timeout=10.0):
        """The running daemon's own status, from its control socket
        (<state-dir>/pfd.sock): what the state file does not carry."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(os.path.join(self.state, "pfd.sock"))
            s.sendall(json.dumps({"version": 1, "command": "status"}).encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    return json.loads(out)
                out += b
        finally:
            s.close()

    def stats(self):
        return self.pfd_json("-j", "stats")

    def explain(self, proto, src, sport, dst, dport):
        return self.pfd_json("-j", "explain", proto, src, str(sport), dst, str(dport))

    def reason(self, label):
        """(packets, bytes) of one verdict reason, summed over devices."""
        r = self.stats().get("reasons", {}).get(label, {})
        return r.get("packets", 0), r.get("bytes", 0)

    def start_pfd(self, wait=True, timeout=15, **conf_kw):
        """Writes the config (unless conf_kw has text=...) and starts pfd;
        waits until `pfd status` says it runs with every device attached."""
        if "text" in conf_kw or not os.path.exists(self.conf_path) or conf_kw:
            self.write_conf(**conf_kw)
        d = Daemon(self, self.conf_path, os.path.join(self.tmp, "pfd.log"))
        self.daemons.append(d)
        if wait:
            self.wait_ready(d, timeout)
        return d

    def wait_ready(self, d, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not d.alive():
                raise CmdError("pfd exited %s before it was ready:\n%s" % (d.proc.returncode, d.log_text()[-3000:]))
            try:
                st = self.status()
                last = st
                devs = {x.get("name") for x in st.get("devices", [])}
                if st.get("running") and st.get("pid") == d.pid and {self.rc_if, self.rs_if} <= devs:
                    return st
            except (CmdError, ValueError):
                pass
            time.sleep(0.1)
        raise CmdError("pfd not ready after %ss (last status %r):\n%s" % (timeout, last, d.log_text()[-3000:]))

    def detach_all(self):
        return self.pfd("detach", "--all", timeout=20)

    # --- traffic --------------------------------------------------------
    def spawn(self, ns, args, timeout=60):
        """Starts traffic.py in ns; returns the Popen (stdout piped). Servers
        are waited for until they print READY."""
        p = subprocess.Popen(["ip", "netns", "exec", ns, PY, TRAFFIC] + args + ["--timeout", str(timeout)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.pfd_timeout = timeout
        self.procs.append(p)
        if args[0] in ("tcp-server", "udp-echo"):
            line = p.stdout.readline()   # bounded: traffic.py exits on --timeout
            if line.strip() != "READY":
                p.kill()
                raise CmdError("%s did not start: %r %s" % (args[0], line, p.stderr.read()))
        return p

    @staticmethod
    def result(p, grace=15):
        """The JSON result of a traffic.py process (waits, bounded)."""
        try:
            out, err = p.communicate(timeout=p.pfd_timeout + grace)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=5)
            raise CmdError("traffic.py did not finish: %s" % err)
        try:
            return last_json(out)
        except ValueError as e:
            raise CmdError("traffic.py gave no result (exit %s): %s %s" % (p.returncode, out[-500:], err[-2000:])) from e

    def tcp_transfer(self, nbytes, dst=SRV4, port=5001, connect=None, seed=7, rate=0, timeout=60,
                     rst_after=None, progress=False):
        """Starts a server in the server namespace and a client in the client
        namespace; returns (client_proc, server_proc)."""
        sargs = ["tcp-server", "--addr", "::" if ":" in dst else "0.0.0.0", "--port", str(port)]
        if rst_after is not None:
            sargs += ["--rst-after", str(rst_after)]
        if progress:
            sargs.append("--progress")
        srv = self.spawn(self.srv, sargs, timeout=timeout)
        cargs = ["tcp-client", "--addr", connect[0] if connect else dst,
                 "--port", str(connect[1] if connect else port), "--bytes", str(nbytes), "--seed", str(seed)]
        if rate:
            cargs += ["--rate", str(rate)]
        cli = self.spawn(self.cli, cargs, timeout=timeout)
        return cli, srv

    def udp_stream(self, count, rate, dst=SRV4, port=5002, connect=None, size=512, seed=9, times=False,
                   timeout=60, sport=0):
        """An echo server in the server namespace and a paced client; returns
        (client_proc, server_proc)."""
        srv = self.spawn(self.srv, ["udp-echo", "--addr", "::" if ":" in dst else "0.0.0.0", "--port", str(port)],
                         timeout=timeout)
        cargs = ["udp-client", "--addr", connect[0] if connect else dst,
                 "--port", str(connect[1] if connect else port), "--count", str(count),
                 "--rate", str(rate), "--size", str(size), "--seed", str(seed)]
        if times:
            cargs.append("--times")
        if sport:
            cargs += ["--sport", str(sport)]
        cli = self.spawn(self.cli, cargs, timeout=timeout)
        return cli, srv

    # --- teardown ---------------------------------------------------------
    def close(self):
        """Stops everything the lab started, detaches pfd, removes the
        namespaces and the bpffs; never raises."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=5)
            except Exception:
                pass
        for d in self.daemons:
            try:
                d.stop()
            except Exception:
                pass
        if self.daemons and self.rtr in self.netns and os.path.exists(PFD):
            try:
                self.detach_all()
            except Exception:
                pass
        for fn in reversed(self.extra_cleanup):
            try:
                fn()
            except Exception:
                pass
        if self.mounted:
            run(["umount", "-l", self.bpffs], check=False)
        for n in reversed(self.netns):
            run(["ip", "netns", "del", n], check=False)
        self.keep_sanitizer_reports()
        shutil.rmtree(self.tmp, ignore_errors=True)

    SANITIZER_SIGNS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "SUMMARY: UndefinedBehaviorSanitizer")

    def keep_sanitizer_reports(self):
        """A report that reached a log instead of tests/sanitize's directory
        (a process whose log_path could not be opened writes to stderr, which
        for a daemon is its log) is copied there before the logs go, so that
        the sanitizer run sees it."""
        dest = os.environ.get("PFD_SAN_REPORTS")
        if not dest or not os.path.isdir(dest):
            return
        for name in sorted(os.listdir(self.tmp)):
            path = os.path.join(self.tmp, name)
            if not name.endswith(".log") or not os.path.isfile(path):
                continue
            with open(path, errors="replace") as f:
                text = f.read()
            if any(s in text for s in self.SANITIZER_SIGNS):
                out = os.path.join(dest, "log.%s.%s" % (os.path.basename(self.tmp), name))
                with open(out, "w") as f:
                    f.write(text[-20000:])


def report(name, text):
    """Prints a measurement (visible with pytest -s or -rA) and appends it to
    $PFD_TEST_REPORT when that is set."""
    line = "PFD-MEASURE %s: %s" % (name, text)
    print(line, flush=True)
    path = os.environ.get("PFD_TEST_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def wait_for(fn, timeout, interval=0.05):
    """Polls fn() until it returns a true value or timeout; returns the last
    value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def lost_ranges(c, rate):
    """A udp-client result's missing datagrams as readable time ranges."""
    return ", ".join("seq %d-%d (%.2f-%.2fs)" % (a, b, a / rate, (b + 1) / rate) for a, b in c["missing"]) or "none"


def find_flow(flows, proto, port, family=None):
    """The entries of `pfd flows -j` whose original dport (or reply sport,
    after DNAT) is port."""
    out = []
    for f in flows:
        if f.get("proto") != proto or (family and f.get("family") != family):
            continue
        o, r = f.get("orig", {}), f.get("reply", {})
        if o.get("dport") == port or r.get("sport") == port:
            out.append(f)
    return out


def flow_packets(f):
    return f.get("orig", {}).get("packets", 0) + f.get("reply", {}).get("packets", 0)


def flow_bytes(f):
    return f.get("orig", {}).get("bytes", 0) + f.get("reply", {}).get("bytes", 0)


def term(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
