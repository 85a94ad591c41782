# SPDX-License-Identifier: GPL-2.0-only
"""The kernel flowtable selftest's scenarios (nft_flowtable.sh), run in mark
mode against pfd.

The kernel's selftest checks its software flowtable in a four-namespace
topology whose router link is smaller than both ends' MTUs (ftlab.py). Its
scenarios, in this project's terms:

- plain forwarding, IPv4 and IPv6 (here with matched MTUs, the selftest's
  -o/-l/-r options): pfd carries both directions of a bidirectional transfer,
  the forward chain sees only the start;
- MTU mismatch with path MTU discovery (DF set): router1 refuses the ends'
  first, too large packets with ICMP (pfd passes them: fib_frag_needed), the
  ends adapt, then pfd carries the flow;
- MTU mismatch without path MTU discovery (ip_no_pmtu_disc=1, DF clear):
  router1 fragments the client's packets and router2 the server's, so
  nearly every data packet is the kernel's (pfd passes too-large packets and
  fragments); as in the selftest, only integrity is required;
- masquerade towards the server and DNAT (with masquerade), where the server
  has no route back but to router1's masquerade address; with and without
  PMTU discovery, as the selftest;
- dscp_ingress / dscp_egress: an nft netdev ingress chain on router1's
  client-side device, an egress chain on its router2-side device, setting
  DSCP cs3. XDP skips both hooks and a TC redirect skips netfilter egress,
  so pfd leaves such flows to the kernel (docs/design.md, "Policy outside
  the forward chain"): every TCP packet the server receives carries cs3,
  with and without PMTU discovery; once the chain is gone pfd offloads;
- dscp_fwd: `ip dscp set cs3` in the forward chain. Like the kernel
  flowtable, pfd does not apply forward-chain mangling to the packets it
  carries (documented, not detected): the server sees both cs3 (packets the
  kernel forwarded) and DSCP 0 (packets pfd forwarded), as the selftest
  expects of the flowtable.

The selftest's tunnel (IPIP, ip6tnl), bridge, VLAN and IPsec scenarios are
not ported: pfd passes such packets to the kernel by design ("Not yet" and
the xfrm rule in docs/design.md).

Each runs with peers that take XDP frames (GRO on the veth ends pfd
redirects into) and with peers that do not (GRO off everywhere, no XDP
program but pfd's): then XDP forwards nothing and TC does the work.

"Offloaded" is proved with counters, per direction: router1's forward chain
(fwd_orig, fwd_repl) saw fewer packets than the transfer's data packets
(bytes / the largest MSS the 1500-byte router link allows), and pfd's
forwarded counter (`pfd -j stats`, devices/<dev>/<xdp|tc>/forwarded) moved
on the ingress device of each direction. The selftest's own check is the
same idea in bytes.
"""

import json
import os
import sys

import pytest

import ftlab
import pfdlab
from pfdlab import report

NBYTES = 16 << 20           # each way
RATE = 16 << 20             # bytes/s each way: 1 s per transfer. Until pfd
                            # installs the flow the kernel forwards it; the
                            # offload check fails only if that takes about the
                            # whole second (up to 320 ms seen with the 2 cores
                            # shared with a VM and fuzzers)
NBYTES_FRAG = 4 << 20       # without PMTU discovery (the kernel fragments)
RATE_FRAG = 16 << 20
LINK_MTU = ftlab.SELFTEST_MTUS[1]
SERVER_MTU = ftlab.SELFTEST_MTUS[2]  # the largest packet without PMTU discovery
PORT = 5001

PEERS = ["xdp", "no-xdp"]


@pytest.fixture
def make_lab(request):
    """Returns FtLab(**kw) factories; every lab made is closed at teardown
    (pfd's log tail printed first when the test failed)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bpffs, nft)")
    if not os.access(pfdlab.PFD, os.X_OK):
        pytest.fail("%s is not built (make -j2 build/pfd)" % pfdlab.PFD)
    labs = []

    def make(**kw):
        lb = ftlab.FtLab(**kw)
        labs.append(lb)
        return lb

    yield make
    rep = getattr(request.node, "rep_call", None)
    for lb in labs:
        if rep is not None and rep.failed:
            for d in lb.daemons:
                sys.stderr.write("---- pfd log (last 4000 chars) ----\n%s\n" % d.log_text()[-4000:])
        lb.close()


def data_packets(nbytes, family, mtu=LINK_MTU):
    """A lower bound on the data packets of nbytes over a path of this MTU:
    the MSS without TCP options is the largest a segment can be."""
    return nbytes // (mtu - (40 if family == "ipv4" else 60))


def dst_of(family):
    return ftlab.SRV4 if family == "ipv4" else ftlab.SRV6


class Run:
    """A transfer and the counters around it."""

    def __init__(self, lab, c, s, dt, before, after):
        self.c, self.s, self.dt = c, s, dt
        self.fwd = {k: after["fwd"].get(k, 0) - before["fwd"].get(k, 0) for k in after["fwd"]}
        self.fwd_bytes = {k: after["fwd_bytes"].get(k, 0) - before["fwd_bytes"].get(k, 0)
                          for k in after["fwd_bytes"]}
        self.hooks = {k: after["hooks"][k] - before["hooks"].get(k, 0) for k in after["hooks"]}
        self.reasons = {k: after["reasons"].get(k, 0) - before["reasons"].get(k, 0)
                        for k in after["reasons"]}
        self.lab = lab

    def fwd_by(self, dev, hook=None):
        return sum(v for (d, h), v in self.hooks.items() if d == dev and hook in (None, h))

    def hook_total(self, hook):
        return sum(v for (_, h), v in self.hooks.items() if h == hook)

    def text(self, nbytes, family, mtu=LINK_MTU):
        lab = self.lab
        return ("%d bytes each way in %.2fs; forward chain: %d original, %d reply packets "
                "(%d and %d bytes; data packets >= %d each way); pfd forwarded: original xdp %d "
                "tc %d, reply xdp %d tc %d; no_flow %d, frag_needed %d, ip_special %d" %
                (nbytes, self.dt, self.fwd["fwd_orig"], self.fwd["fwd_repl"],
                 self.fwd_bytes["fwd_orig"], self.fwd_bytes["fwd_repl"],
                 data_packets(nbytes, family, mtu), self.hooks[(lab.rc_if, "xdp")],
                 self.hooks[(lab.rc_if, "tc")], self.hooks[(lab.rs_if, "xdp")],
                 self.hooks[(lab.rs_if, "tc")], self.reasons.get("no_flow", 0),
                 self.reasons.get("fib_frag_needed", 0),
                 self.reasons.get("ip_special", 0)))


def snapshot(lab):
    st = lab.stats()
    return {"fwd": lab.fwd_counts(), "fwd_bytes": lab.fwd_counts("bytes"),
            "hooks": lab.hook_forwarded(st), "reasons": lab.reasons(st)}


def transfer(lab, family="ipv4", nbytes=NBYTES, rate=RATE, port=PORT, connect=None):
    before = snapshot(lab)
    c, s, dt = lab.duplex(nbytes, dst_of(family), port, connect=connect, rate=rate, timeout=20)
    return Run(lab, c, s, dt, before, snapshot(lab))


def check_datapath(lab, r, peers):
    """With peers that take XDP frames, XDP carries every forwarded packet;
    without, XDP forwards none (it would be dropped) and TC carries them."""
    if peers == "no-xdp":
        for ns, dev in ((lab.cli, lab.c_if), (lab.r2, lab.r2t_if)):
            assert not lab.xdp_attached(ns, dev), "the lab left an XDP program on %s" % dev
        assert r.hook_total("xdp") == 0, \
            "XDP redirected %d packets into veths that drop them" % r.hook_total("xdp")
    else:
        assert r.hook_total("tc") == 0, \
            "TC forwarded %d packets although the peers take XDP frames" % r.hook_total("tc")


def check_offloaded(lab, r, peers, nbytes, family):
    """Both directions fast-pathed: the forward chain saw fewer packets than
    the data packets of each direction, pfd's forwarded counter moved on
    each direction's ingress device, through the expected hook."""
    floor = data_packets(nbytes, family)
    for name, key, dev in (("original", "fwd_orig", lab.rc_if), ("reply", "fwd_repl", lab.rs_if)):
        assert r.fwd[key] < floor, \
            "%s direction: the forward chain saw %d packets, the transfer has >= %d data " \
            "packets: not offloaded" % (name, r.fwd[key], floor)
        assert r.fwd_by(dev) > 0, "%s direction: pfd forwarded nothing from %s" % (name, dev)
    check_datapath(lab, r, peers)


# --- plain forwarding -------------------------------------------------------

@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_forward(make_lab, family, peers):
    """Matched MTUs: a bidirectional transfer is fast-pathed both ways; no
    DSCP is set by anyone (the selftest's dscp_none)."""
    lab = make_lab(peers=peers, mtus=ftlab.PLAIN_MTUS)
    lab.start_pfd()
    r = transfer(lab, family)
    report("ft forward %s %s" % (family, peers), r.text(NBYTES, family))
    check_offloaded(lab, r, peers, NBYTES, family)
    if family == "ipv4":
        sc = lab.server_counts()
        assert sc["tcp_cs3"] == 0 and sc["tcp_dscp0"] == sc["tcp_rx"] > 0, sc


# --- MTU mismatch -----------------------------------------------------------

def client_pmtu(lab, family):
    """The path MTU the client learned for the server (None: none)."""
    p = lab.ns(lab.cli, ["ip", "-j"] + (["-6"] if family == "ipv6" else []) +
               ["route", "get", dst_of(family)])
    routes = json.loads(p.stdout)
    for rt in routes:
        for k in ("mtu", "metrics"):
            v = rt.get(k)
            if isinstance(v, int):
                return v
            if isinstance(v, list):
                for m in v:
                    if isinstance(m, dict) and "mtu" in m:
                        return m["mtu"]
    return None


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_mtu_mismatch_pmtu(make_lab, family, peers):
    """Client MTU 9000, router link 1500, server 2000, DF set: the first
    full-size packets are refused with ICMP (by router1 for the client, pfd
    passing them to the kernel once it has the flow; by router2 for the
    server), the ends adapt and pfd carries the rest."""
    lab = make_lab(peers=peers, mtus=ftlab.SELFTEST_MTUS, pmtu=True)
    lab.start_pfd()
    r = transfer(lab, family)
    pmtu = client_pmtu(lab, family)
    report("ft pmtu %s %s" % (family, peers), r.text(NBYTES, family) +
           "; client's path MTU %s" % pmtu)
    assert pmtu == LINK_MTU, "the client did not learn the path MTU (route: %s)" % pmtu
    check_offloaded(lab, r, peers, NBYTES, family)


@pytest.mark.parametrize("peers", PEERS)
def test_mtu_mismatch_no_pmtu(make_lab, peers):
    """As above with ip_no_pmtu_disc=1 at both ends (DF clear): router1
    fragments the client's 2000-byte packets, router2 the server's. pfd must
    leave those to the kernel (too large: fib_frag_needed; fragments:
    ip_special) and lose nothing. Offload is not expected (the selftest does
    not check counters here either): only small packets fit."""
    lab = make_lab(peers=peers, mtus=ftlab.SELFTEST_MTUS, pmtu=False)
    lab.start_pfd()
    r = transfer(lab, nbytes=NBYTES_FRAG, rate=RATE_FRAG)
    report("ft no-pmtu ipv4 %s" % peers, r.text(NBYTES_FRAG, "ipv4", SERVER_MTU))
    check_fragmented(lab, r)
    check_datapath(lab, r, peers)


def check_fragmented(lab, r):
    """Without PMTU discovery the data is the kernel's: pfd passed the
    client's too-large packets of the installed flow (fib_frag_needed) and
    router2's fragments of the server's (ip_special), and the forward chain
    carried most of each direction's bytes (conntrack reassembles, so it
    sees whole packets). pfd may carry what fits the router link (ACKs, the
    short segment at the end of each write)."""
    assert r.reasons.get("fib_frag_needed", 0) > 0, \
        "pfd never saw a too-large packet of the installed flow: %s" % r.reasons
    assert r.reasons.get("ip_special", 0) > 0, "no fragment reached pfd: %s" % r.reasons
    for key in ("fwd_orig", "fwd_repl"):
        assert r.fwd_bytes[key] >= NBYTES_FRAG // 2, \
            "%s: the forward chain saw only %d bytes of a %d-byte transfer that does not " \
            "fit the router link" % (key, r.fwd_bytes[key], NBYTES_FRAG)


# --- NAT --------------------------------------------------------------------

PMTU = [pytest.param(True, id="pmtu"), pytest.param(False, id="no-pmtu")]


def sized_transfer(lab, pmtu, **kw):
    """The full transfer with PMTU discovery; without, the smaller one (the
    kernel fragments it, as the selftest's smaller file); returns (run,
    bytes each way)."""
    if pmtu:
        return transfer(lab, **kw), NBYTES
    return transfer(lab, nbytes=NBYTES_FRAG, rate=RATE_FRAG, **kw), NBYTES_FRAG


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("pmtu", PMTU)
def test_masquerade(make_lab, pmtu, peers):
    """Router1 masquerades towards router2; the server can only answer
    router1's address: every packet pfd forwards must be rewritten. With
    PMTU discovery the flow is offloaded; without, the kernel fragments
    (and NATs) nearly every data packet, as in the selftest."""
    lab = make_lab(peers=peers, nat=True, pmtu=pmtu)
    lab.start_pfd()
    r, n = sized_transfer(lab, pmtu)
    report("ft masquerade %s %s" % ("pmtu" if pmtu else "no-pmtu", peers),
           r.text(n, "ipv4", LINK_MTU if pmtu else SERVER_MTU))
    assert r.s["peer"][0] == ftlab.R1T4, "the server saw %s, not the masquerade address" % r.s["peer"]
    if pmtu:
        check_offloaded(lab, r, peers, n, "ipv4")
    else:
        check_fragmented(lab, r)
        check_datapath(lab, r, peers)


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("pmtu", PMTU)
def test_dnat(make_lab, pmtu, peers):
    """The client connects to VIP4:PORT_VIP, router1 DNATs it to the server
    (and masquerades, as the selftest): pfd rewrites both addresses and
    ports of both directions."""
    lab = make_lab(peers=peers, nat=True, dnat_port=PORT, pmtu=pmtu)
    lab.start_pfd()
    r, n = sized_transfer(lab, pmtu, connect=(ftlab.VIP4, ftlab.PORT_VIP))
    report("ft dnat %s %s" % ("pmtu" if pmtu else "no-pmtu", peers),
           r.text(n, "ipv4", LINK_MTU if pmtu else SERVER_MTU))
    assert r.s["peer"][0] == ftlab.R1T4, r.s
    ct = lab.ct_list(proto="tcp", dport=ftlab.PORT_VIP)
    assert ct and ct[0]["reply"]["src"] == ftlab.SRV4 and ct[0]["reply"]["sport"] == PORT, ct
    if pmtu:
        check_offloaded(lab, r, peers, n, "ipv4")
    else:
        check_fragmented(lab, r)
        check_datapath(lab, r, peers)


# --- DSCP -------------------------------------------------------------------

NETDEV_DSCP = """
table netdev ft_dscp {
    chain setdscp {
        type filter hook %(hook)s device "%(dev)s" priority 0; policy accept;
        ip dscp set cs3
    }
}
"""


def dscp_text(sc):
    return "; server: %d TCP packets, %d cs3, %d dscp 0" % (sc["tcp_rx"], sc["tcp_cs3"],
                                                            sc["tcp_dscp0"])


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("pmtu", PMTU)
@pytest.mark.parametrize("hook", ["ingress", "egress"])
def test_dscp_netdev(make_lab, hook, pmtu, peers):
    """dscp_ingress / dscp_egress: a netdev chain sets cs3 on router1's
    client-side device (ingress) or router2-side device (egress), added while
    pfd runs. XDP would skip either, a TC redirect skips the egress hook: pfd
    keeps the flow in the kernel, and every TCP packet the server receives
    carries cs3. Once the chain is deleted, the next connection is offloaded
    (with PMTU discovery; without it the kernel keeps the data anyway)."""
    lab = make_lab(peers=peers, mtus=ftlab.SELFTEST_MTUS, pmtu=pmtu)
    lab.start_pfd()
    dev = lab.rc_if if hook == "ingress" else lab.rs_if
    lab.nft_change(text=NETDEV_DSCP % {"hook": hook, "dev": dev})
    r, n = sized_transfer(lab, pmtu)
    sc = lab.server_counts()
    mtu = LINK_MTU if pmtu else SERVER_MTU
    report("ft dscp_%s %s %s" % (hook, "pmtu" if pmtu else "no-pmtu", peers),
           r.text(n, "ipv4", mtu) + dscp_text(sc))
    assert sc["tcp_rx"] > 0 and sc["tcp_dscp0"] == 0 and sc["tcp_cs3"] == sc["tcp_rx"], \
        "the %s chain's DSCP is missing on %d of %d packets" % (hook, sc["tcp_rx"] - sc["tcp_cs3"],
                                                               sc["tcp_rx"])
    fwd = sum(r.hooks.values())
    assert fwd == 0, "pfd forwarded %d packets past an nft netdev %s chain" % (fwd, hook)
    # the kernel forwarded every data packet of both directions
    floor = data_packets(n, "ipv4", mtu)
    assert r.fwd["fwd_orig"] >= floor and r.fwd["fwd_repl"] >= floor, r.fwd
    check_datapath(lab, r, peers)
    if not pmtu:
        return
    # as the selftest, the chain goes: the next connection is offloaded and
    # arrives unmangled
    lab.nft_change(args=["delete", "table", "netdev", "ft_dscp"])
    r2 = transfer(lab, port=PORT + 1)
    sc2 = lab.server_counts()
    d = {k: sc2[k] - sc[k] for k in sc}
    report("ft dscp_%s removed %s" % (hook, peers), r2.text(NBYTES, "ipv4") + dscp_text(d))
    assert d["tcp_cs3"] == 0 and d["tcp_dscp0"] == d["tcp_rx"] > 0, d
    check_offloaded(lab, r2, peers, NBYTES, "ipv4")


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("pmtu", PMTU)
def test_dscp_forward_chain(make_lab, pmtu, peers):
    """dscp_fwd: `ip dscp set cs3` in the forward chain. pfd, like the
    kernel's flowtable, does not apply forward-chain mangling to the packets
    it carries (docs/design.md): the server sees cs3 on what the kernel
    forwarded and DSCP 0 only on what pfd forwarded. With PMTU discovery pfd
    carries the flow, so both kinds arrive (the selftest's expectation);
    without, the data is the kernel's and only the invariants are checked."""
    lab = make_lab(peers=peers, mtus=ftlab.SELFTEST_MTUS, pmtu=pmtu)
    lab.start_pfd()
    lab.nft_change(args=["insert", "rule", "inet", "ft", "forward", "ip", "dscp", "set", "cs3"])
    r, n = sized_transfer(lab, pmtu)
    sc = lab.server_counts()
    orig_fast = r.fwd_by(lab.rc_if)
    report("ft dscp_fwd %s %s" % ("pmtu" if pmtu else "no-pmtu", peers),
           r.text(n, "ipv4", LINK_MTU if pmtu else SERVER_MTU) + dscp_text(sc))
    assert sc["tcp_cs3"] > 0, "the forward chain's DSCP never arrived: %s" % sc
    assert sc["tcp_cs3"] + sc["tcp_dscp0"] == sc["tcp_rx"], sc
    assert sc["tcp_dscp0"] <= orig_fast, \
        "%d packets arrived unmangled, pfd forwarded only %d" % (sc["tcp_dscp0"], orig_fast)
    assert sc["tcp_cs3"] <= r.fwd["fwd_orig"], (sc, r.fwd)
    if pmtu:
        assert sc["tcp_dscp0"] > 0, "nothing pfd forwarded reached the server: %s" % sc
        check_offloaded(lab, r, peers, n, "ipv4")
    else:
        check_fragmented(lab, r)
        check_datapath(lab, r, peers)
