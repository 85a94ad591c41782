# SPDX-License-Identifier: GPL-2.0-only
"""The firewall stays the authority (issue 3 scenarios 6 and 11): a drop rule
added for a live fast-pathed flow stops it within a second and the flow
resumes when the rule goes; policy that XDP would skip (fwmark routing rules,
xfrm policies) keeps a flow on the kernel path, and `pfd explain` says why."""

import re
import time

import pytest

import pfdlab
from pfdlab import report


# How far back before a drop rule a test looks for the flow's packets: a
# flow that carried nothing just before the rule cannot show it stopping.
LIVE_WINDOW = 0.5


def wait_offloaded(lab, proto, port, timeout=6):
    hit = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows(), proto, port), timeout, 0.05)
    assert hit, "%s flow to port %d not offloaded within %ss" % (proto, port, timeout)


def test_drop_rule_stops_udp_flow(pfd_lab):
    lab = pfd_lab
    port = 5006
    cli, srv = lab.udp_stream(10000, 1000, port=port, times=True, timeout=30)
    wait_offloaded(lab, "udp", port)
    time.sleep(0.5)
    d0 = lab.counter("cnt_drop")[0]
    t1 = time.monotonic()
    handle = lab.nft_insert('udp dport %d counter name "cnt_drop" drop' % port)
    time.sleep(2.0)
    dropped = lab.counter("cnt_drop")[0] - d0
    t2 = time.monotonic()
    lab.nft_delete(handle)
    back = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", port), 4, 0.05)
    t_back = time.monotonic()
    c, s = lab.result(cli), lab.result(srv)
    times = [t for _, t in c["times"]]
    # The flow must have been live when the rule went in (echoes in the
    # 0.5 s before it), or "no echo after the rule" would measure nothing.
    before = [t for t in times if t1 - LIVE_WINDOW <= t < t1]
    during = [t for t in times if t1 <= t < t2]
    after = [t for t in times if t >= t2]
    stop = (max(during) - t1) if during else 0.0
    resume = (min(after) - t2) if after else None
    report("drop rule to stop (udp, 1000 pps)",
           "%d echoes in the %.1f s before the rule; last packet %.1f ms after the rule was "
           "inserted; resumed %s ms after removal; re-offloaded %.0f ms after removal; "
           "kernel dropped %d" %
           (len(before), LIVE_WINDOW, stop * 1000,
            "%.1f" % (resume * 1000) if resume is not None else "never", (t_back - t2) * 1000, dropped))
    assert len(before) >= LIVE_WINDOW * 1000 // 2, \
        "only %d echoes in the %.1f s before the drop rule: the flow was not running, the stop " \
        "time measures nothing" % (len(before), LIVE_WINDOW)
    assert dropped > 0, "the drop rule never saw the flow: it stayed on the fast path"
    assert stop < 1.0, "the flow went on for %.3f s after the drop rule" % stop
    assert after, "the flow did not resume after the drop rule was removed"
    assert resume < 1.0
    assert back, "the flow was not offloaded again after the rule was removed"
    assert c["corrupt"] == 0


def test_drop_rule_stops_tcp_flow(pfd_lab):
    lab = pfd_lab
    port = 5007
    nbytes = 24 << 20
    cli, srv = lab.tcp_transfer(nbytes, port=port, rate=3 << 20, progress=True, timeout=40)
    wait_offloaded(lab, "tcp", port)
    time.sleep(0.5)
    t1 = time.monotonic()
    handle = lab.nft_insert('tcp dport %d counter name "cnt_drop" drop' % port)
    time.sleep(2.0)
    t2 = time.monotonic()
    lab.nft_delete(handle)
    c, s = lab.result(cli), lab.result(srv)
    prog = s["progress"]
    # the server's byte count at each progress mark, and when it grew
    growth = [(t, n - prev) for (t, n), (_, prev) in zip(prog[1:], prog[:-1]) if n > prev]
    # The flow must have been moving when the rule went in, or "no data
    # after the rule" would measure nothing.
    before = sum(d for t, d in growth if t1 - LIVE_WINDOW <= t < t1)
    # the last time the server's byte count grew before the rule went
    grew = [t for t, _ in growth if t1 <= t < t2]
    stop = (max(grew) - t1) if grew else 0.0
    after = [t for t, _ in prog if t >= t2]
    report("drop rule to stop (tcp, 3 MB/s)", "%d bytes in the %.1f s before the rule; last data "
           "%.1f ms after the rule was inserted; data again %s ms after removal" %
           (before, LIVE_WINDOW, stop * 1000, "%.0f" % ((min(after) - t2) * 1000) if after else "never"))
    # 3 MB/s: 1.5 MB in the window; half of that proves the flow was moving
    assert before >= (3 << 20) * LIVE_WINDOW // 2, \
        "only %d bytes arrived in the %.1f s before the drop rule: the flow was not running, the " \
        "stop time measures nothing" % (before, LIVE_WINDOW)
    assert stop < 1.0, "data kept arriving %.3f s after the drop rule" % stop
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "the transfer did not complete intact"


FWMARK_PORT = 5011


def test_fwmark_rule_keeps_flow_in_kernel(lab):
    """The router marks the flow's packets in prerouting and routes marked
    packets over a second link by `ip rule fwmark`. XDP cannot see that mark,
    so pfd must leave the flow to the kernel: the server's bytes arrive on
    the second link, and explain names the rule."""
    r_if, s_if = lab.add_server_link()
    lab.ns(lab.rtr, ["ip", "rule", "add", "fwmark", "0x10", "lookup", "100", "prio", "100"])
    lab.ns(lab.rtr, ["ip", "route", "add", pfdlab.SRV4 + "/32", "via", "203.0.113.2", "dev", r_if,
                     "table", "100"])
    lab.nft_load("""
table inet pfdt_mangle {
    chain pre {
        type filter hook prerouting priority mangle; policy accept;
        tcp dport %d meta mark set 0x10
    }
}
""" % FWMARK_PORT)
    lab.nft("add", "rule", "inet", "pfdt", "forward", "iifname", lab.rc_if, "oifname", r_if,
            "ct", "state", "new", "accept")
    lab.start_pfd(attach=(lab.rc_if, lab.rs_if, r_if))
    nbytes = 8 << 20
    rx0 = lab.rx_bytes(lab.srv, s_if)
    cli, srv = lab.tcp_transfer(nbytes, port=FWMARK_PORT, rate=4 << 20)
    seen, explained = False, None
    while cli.poll() is None:
        if pfdlab.find_flow(lab.flows(), "tcp", FWMARK_PORT):
            seen = True
        if explained is None:
            cts = [ct for ct in lab.ct_list(proto="tcp", dport=FWMARK_PORT) if ct["state"] == "ESTABLISHED"]
            if cts:
                o = cts[0]["orig"]
                explained = lab.explain("tcp", o["src"], o["sport"], o["dst"], o["dport"])
        time.sleep(0.1)
    c, s = lab.result(cli), lab.result(srv)
    rx = lab.rx_bytes(lab.srv, s_if) - rx0
    report("fwmark", "second link carried %d bytes of %d; explain: %r" % (rx, nbytes, explained))
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
    assert rx >= nbytes, "the flow skipped the fwmark route (%d bytes on the policy link)" % rx
    assert not seen, "pfd offloaded a flow that a fwmark routing rule covers"
    assert explained is not None and explained["offloaded"] is False, explained
    assert re.search(r"fwmark|ip rule|routing rule|policy rout", explained["reason"], re.I), explained


@pytest.mark.parametrize("direction", ["fwd", "out"])
def test_xfrm_policy_keeps_flow_in_kernel(lab, direction):
    """An xfrm policy covering a flow: XDP redirect would skip it (and would
    send an IPsec-protected flow in clear), so the flow stays in the kernel."""
    port = 5012
    for src, dst, sel in ((pfdlab.CLI4, pfdlab.SRV4, "dport"), (pfdlab.SRV4, pfdlab.CLI4, "sport")):
        lab.ns(lab.rtr, ["ip", "xfrm", "policy", "add", "src", src + "/32", "dst", dst + "/32",
                         "proto", "tcp", sel, str(port), "dir", direction, "action", "allow"])
    lab.extra_cleanup.append(lambda: lab.ns(lab.rtr, ["ip", "xfrm", "policy", "flush"], check=False))
    lab.start_pfd()
    nbytes = 8 << 20
    fwd0 = lab.counter("cnt_fwd")[0]
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
    fwd = lab.counter("cnt_fwd")[0] - fwd0
    report("xfrm %s" % direction, "forward chain saw %d packets; explain: %r" % (fwd, explained))
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
    assert not seen, "pfd offloaded a flow an xfrm policy covers"
    assert fwd >= nbytes // 1448, "only %d packets went through the kernel" % fwd
    assert explained is not None and explained["offloaded"] is False, explained
    assert re.search(r"xfrm|ipsec", explained["reason"], re.I), explained
