# SPDX-License-Identifier: GPL-2.0-only
"""Mark mode end to end, issue 3 scenarios 1-3: bytes arrive intact through
pfd's fast path (TCP, UDP, IPv6, masquerade, DNAT), pfd's counters carry the
flow while the nft forward chain sees only a handful of its packets, and a
flow the ruleset does not mark is never offloaded and still works."""

import os
import time

import pytest

import pfdlab
from pfdlab import report

MSS4 = 1448


def watch_flow(lab, proc, proto, port, family=None, interval=0.1):
    """Polls `pfd flows -j` until proc exits; returns (first time the flow
    was seen or None, the last entry seen, the forward chain's packet count
    when it was first seen)."""
    first, last, fwd_at = None, None, None
    while proc.poll() is None:
        try:
            hit = pfdlab.find_flow(lab.flows(), proto, port, family)
        except pfdlab.CmdError:
            hit = []
        if hit:
            last = hit[0]
            if first is None:
                first = time.monotonic()
                fwd_at = lab.counter("cnt_fwd")[0]
        time.sleep(interval)
    return first, last, fwd_at


def handful(data_packets):
    """What "only a handful" means for the forward chain over a whole
    transfer: the handshake, the packets before pfd installed the flow (on
    this busy 2-core machine that can take ~100 ms, a thousand packets at
    full speed), and the FIN/ACKs: at most 5% of the flow's packets, plus 20.
    Once the flow is installed, only the closing packets may go there."""
    return 20 + data_packets // 20


def check_tcp_fast(lab, nbytes, port, dst=pfdlab.SRV4, connect=None, rate=0, family="ipv4"):
    """One TCP transfer; asserts it arrived intact, that pfd forwarded most of
    its bytes and that the forward chain saw a handful of its packets.
    Returns (client result, server result, last flow entry seen)."""
    fwd0 = lab.counter("cnt_fwd")[0]
    f0 = lab.reason("forwarded")
    t0 = time.monotonic()
    cli, srv = lab.tcp_transfer(nbytes, dst=dst, port=port, connect=connect, rate=rate)
    first, entry, fwd_at = watch_flow(lab, cli, "tcp", port, family)
    c, s = lab.result(cli), lab.result(srv)
    fwd_end = lab.counter("cnt_fwd")[0]
    fwd = fwd_end - fwd0
    fwd_after = fwd_end - fwd_at if fwd_at is not None else None
    f1 = lab.reason("forwarded")
    fp, fb = f1[0] - f0[0], f1[1] - f0[1]
    data = nbytes // MSS4
    report("tcp %s port %d" % (family, port),
           "%d bytes in %.2fs, pfd forwarded %d packets %d bytes, nft forward chain %d packets "
           "(%s after pfd flows showed it), first seen by polling pfd flows %.0f ms after start" %
           (nbytes, c["seconds"], fp, fb, fwd, fwd_after, (first - t0) * 1000 if first else -1))
    assert c["error"] is None, c
    assert s["error"] is None, s
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
    assert fb >= 0.9 * nbytes, "pfd forwarded %d bytes of a %d-byte transfer" % (fb, nbytes)
    assert fwd <= handful(data), "the forward chain saw %d packets of ~%d" % (fwd, data)
    assert entry is not None, "the flow never showed in pfd flows"
    assert fwd_after <= 10, "the forward chain saw %d packets after the flow was offloaded" % fwd_after
    return c, s, entry


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_tcp_transfer_is_fast_pathed(pfd_lab, family):
    dst = pfdlab.SRV4 if family == "ipv4" else pfdlab.SRV6
    c, s, entry = check_tcp_fast(pfd_lab, 32 << 20, 5001, dst=dst, family=family, rate=16 << 20)
    assert entry is not None, "the flow never showed in pfd flows"
    assert entry["family"] == family


@pytest.mark.lab(dotted=True)
def test_devices_named_with_a_dot(pfd_lab):
    """VLAN devices are named lan0.100, and bpffs refuses a dot in a pin's
    name: pfd attaches to such devices all the same, forwards through them,
    adopts the attachments on a restart and removes them on detach."""
    lab = pfd_lab
    check_tcp_fast(lab, 4 << 20, 5011, rate=16 << 20)
    pins = sorted(os.listdir(os.path.join(lab.bpffs, "pfd")))
    report("pins", " ".join(pins))
    assert "xdp-" + lab.rc_if.replace(".", ":") in pins, pins
    lab.daemons[-1].stop()
    d = lab.start_pfd()
    want = "%s: adopted the pinned native XDP attachment" % lab.rc_if
    assert pfdlab.wait_for(lambda: want in d.log_text(), 10, 0.1), d.log_text()[-2000:]
    check_tcp_fast(lab, 4 << 20, 5012, rate=16 << 20)
    d.stop()
    p = lab.detach_all()
    assert p.returncode == 0, p.stderr
    left = lab.ns(lab.rtr, ["ip", "link", "show", "dev", lab.rc_if]).stdout
    assert "xdp" not in left, left
    links = os.path.join(lab.bpffs, "pfd")
    assert not os.path.exists(links) or not os.listdir(links), os.listdir(links)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_udp_request_response_is_fast_pathed(pfd_lab, family):
    """UDP becomes ASSURED only once it has seen replies for ~2 s (the
    kernel's stream detection), so the flow starts on the kernel path; once
    pfd offloads it, the forward chain sees no more of it."""
    lab = pfd_lab
    dst = pfdlab.SRV4 if family == "ipv4" else pfdlab.SRV6
    rate, count = 1000, 7000
    f0 = lab.reason("forwarded")
    cli, srv = lab.udp_stream(count, rate, dst=dst, port=5002, size=1000, timeout=40)
    t0 = time.monotonic()
    hit = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", 5002, family), 6, 0.05)
    t_off = time.monotonic()
    fwd_at_offload = lab.counter("cnt_fwd")[0]
    c, s = lab.result(cli), lab.result(srv)
    fwd_after = lab.counter("cnt_fwd")[0] - fwd_at_offload
    f1 = lab.reason("forwarded")
    report("udp %s" % family, "%d datagrams, lost %d, corrupt %d, offloaded %.2fs after start, "
           "pfd forwarded %d packets, nft forward chain after offload %d packets" %
           (c["sent"], c["lost"], c["corrupt"], t_off - t0, f1[0] - f0[0], fwd_after))
    assert hit, "the UDP flow was not offloaded within 6 s"
    assert c["sent"] == count and c["lost"] == 0 and c["corrupt"] == 0, \
        "%r; lost %s; the test's own sockets dropped %d" % (c, pfdlab.lost_ranges(c, rate), lab.udp_rcvbuf_errors())
    remaining = int(2 * rate * (c["seconds"] - (t_off - t0)))
    assert f1[0] - f0[0] >= 0.9 * remaining, "pfd forwarded %d of ~%d packets" % (f1[0] - f0[0], remaining)
    assert fwd_after <= 20, "the forward chain saw %d packets after the offload" % fwd_after


def test_masquerade(pfd_lab):
    """The server sees the router's address; pfd's fast path does the SNAT."""
    lab = pfd_lab
    c, s, entry = check_tcp_fast(lab, 16 << 20, pfdlab.PORT_MASQ, rate=8 << 20)
    assert s["peer"][0] == pfdlab.RTR_S4, "server saw %s, not the router" % s["peer"][0]
    assert c["local"][0] == pfdlab.CLI4
    assert entry is not None, "the flow never showed in pfd flows"
    assert "snat" in entry.get("nat", []), entry


def test_dnat_port_forward(pfd_lab):
    """The client talks to the router's address:8080, the server (on 5004)
    sees the client's own address; pfd's fast path does the DNAT."""
    lab = pfd_lab
    c, s, entry = check_tcp_fast(lab, 16 << 20, pfdlab.PORT_DNAT_TO,
                                 connect=(pfdlab.RTR_C4, pfdlab.PORT_DNAT), rate=8 << 20)
    assert s["peer"][0] == pfdlab.CLI4, "server saw %s, not the client" % s["peer"][0]
    assert entry is not None, "the flow never showed in pfd flows"
    assert "dnat" in entry.get("nat", []), entry
    assert entry["orig"]["dst"] == pfdlab.RTR_C4 and entry["orig"]["dport"] == pfdlab.PORT_DNAT, entry


def test_udp_dnat(pfd_lab):
    lab = pfd_lab
    f0 = lab.reason("forwarded")
    cli, srv = lab.udp_stream(4000, 1000, port=pfdlab.PORT_DNAT_TO,
                              connect=(pfdlab.RTR_C4, pfdlab.PORT_DNAT), timeout=30)
    c, s = lab.result(cli), lab.result(srv)
    f1 = lab.reason("forwarded")
    assert c["lost"] == 0 and c["corrupt"] == 0, c
    assert s["peers"] == [pfdlab.CLI4], s
    assert f1[0] - f0[0] >= 1000, "pfd forwarded only %d packets of a 4 s UDP DNAT stream" % (f1[0] - f0[0])


def test_unmarked_flow_stays_in_kernel(pfd_lab):
    """The ruleset accepts PORT_EXCLUDED without the offload mark: pfd never
    offloads it, the kernel forwards every packet, and explain says why."""
    lab = pfd_lab
    port = pfdlab.PORT_EXCLUDED
    nbytes = 8 << 20
    ex0 = lab.counter("cnt_excluded")[0]
    cli, srv = lab.tcp_transfer(nbytes, port=port, rate=4 << 20)
    seen, explained = False, None
    while cli.poll() is None:
        if pfdlab.find_flow(lab.flows(), "tcp", port):
            seen = True
        if explained is None:
            cts = [ct for ct in lab.ct_list(proto="tcp", dport=port) if ct["state"] == "ESTABLISHED"]
            if cts:
                o = cts[0]["orig"]
                explained = lab.explain("tcp", o["src"], o["sport"], o["dst"], o["dport"])
        time.sleep(0.1)
    c, s = lab.result(cli), lab.result(srv)
    ex = lab.counter("cnt_excluded")[0] - ex0
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
    assert not seen, "pfd offloaded a flow the ruleset never marked"
    assert ex >= nbytes // MSS4, "the kernel forwarded only %d packets" % ex
    assert explained is not None, "no established conntrack entry seen during the transfer"
    assert explained["offloaded"] is False, explained
    assert "mark" in explained["reason"].lower(), explained
