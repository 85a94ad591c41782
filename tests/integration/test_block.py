# SPDX-License-Identifier: GPL-2.0-only
"""Block prefixes (pfd.conf `block PREFIX... [dry-run]`): an operator's drop
taken at the router's XDP/TC ingress, ahead of nftables, for every IP packet
from or to the prefix, offloaded flows included. What a user checks: a paced
UDP stream to a blocked server never arrives while traffic to other prefixes
does; `pfd -j stats` counts each dropped datagram once under its prefix and
under the verdict reason `blocked`, and the metrics file says the same; a
reload that adds a block stops a flow already on the fast path within 200 ms,
one that removes it lets traffic through again, one that keeps it keeps its
counter; `dry-run` (per prefix, or global) counts and drops nothing; bad
prefixes are refused with FILE:LINE:COL; feasibility warns about a prefix
that covers the host; the block fails open with the heartbeat, as the rest
of the fast path does."""

import json
import os
import signal
import time

import pytest

import pfdlab
from pfdlab import SRV4, SRV6, report, wait_for
from test_operator import parse_prometheus

BLOCK4, BLOCK6 = "198.51.100.0/24", "2001:db8:2::/64"   # the server's prefixes
OTHER4, OTHER6 = "203.0.113.2", "2001:db8:3::2"         # the server's second addresses
SIZE = 512
FRAME = {"ipv4": SIZE + 14 + 20 + 8, "ipv6": SIZE + 14 + 40 + 8}   # what a prefix counts
# A datagram or two may be counted on top (an echo in flight when a block went in).
SLACK = 3

# The router's peers take XDP frames (GRO on) or not (pfd forwards through TC).
PEERS = [pytest.param(True, marks=pytest.mark.lab(gro=True), id="peer-xdp"),
         pytest.param(False, marks=pytest.mark.lab(gro=False), id="peer-no-xdp")]


def conf(lab, *blocks, **kw):
    return lab.conf_text(**kw) + "".join("block %s\n" % b for b in blocks)


def reload(lab, *blocks, **kw):
    lab.write_conf(text=conf(lab, *blocks, **kw))
    p = lab.pfd("reload", timeout=20)
    assert p.returncode == 0, "pfd reload: exit %d: %s" % (p.returncode, p.stderr)


def blocks(lab):
    return {b["prefix"]: b for b in lab.stats()["blocks"]}


def stream(lab, dst, port, count=300, rate=200, times=False):
    """A paced UDP stream of SIZE-byte datagrams to an echo server bound to
    dst (so that its echoes come from dst); the echo server of a blocked
    stream sees nothing and gives up at its timeout, 4 s after the last
    datagram is due."""
    t = count / rate + 4
    srv = lab.spawn(lab.srv, ["udp-echo", "--addr", dst, "--port", str(port)], timeout=t)
    cli = lab.spawn(lab.cli, ["udp-client", "--addr", dst, "--port", str(port), "--count", str(count),
                              "--rate", str(rate), "--size", str(SIZE)] + (["--times"] if times else []),
                    timeout=t)
    return cli, srv


def results(procs):
    return [(pfdlab.Lab.result(c), pfdlab.Lab.result(s)) for c, s in procs]


def assert_arrived(c, s, count, what="a stream outside every block"):
    assert c["sent"] == count and c["lost"] == 0 and c["corrupt"] == 0 and s["received"] == count, \
        "%s: server received %d of %d, %d echoes lost: %r" % (what, s["received"], count, c["lost"], c)


def assert_blocked(c, s, count):
    assert c["sent"] == count, c
    assert s["received"] == 0 and c["echoed"] == 0, "%d of %d datagrams reached a blocked server" % (
        s["received"], count)


def second_destination(lab):
    """OTHER4/OTHER6 on the server's link, routed by the router through the
    server: same devices, same families, outside the blocked prefixes."""
    lab.ns(lab.srv, ["ip", "addr", "add", OTHER4 + "/32", "dev", lab.s_if])
    lab.ns(lab.srv, ["ip", "addr", "add", OTHER6 + "/128", "dev", lab.s_if, "nodad"])
    lab.ns(lab.rtr, ["ip", "route", "add", OTHER4 + "/32", "via", SRV4])
    lab.ns(lab.rtr, ["ip", "-6", "route", "add", OTHER6 + "/128", "via", SRV6])


def dev_blocked(lab, dev, hook="xdp"):
    d = lab.stats()["devices"].get(dev, {})
    return d.get(hook, {}).get("blocked", {}).get("packets", 0)


def metric(lab, name, prefix, mode):
    with open(lab.metrics) as f:
        fams = parse_prometheus(f.read())
    for labels, v in fams.get(name, {}).get("samples", []):
        if labels == {"prefix": prefix, "mode": mode}:
            return int(v)
    return None


def assert_metrics_match(lab, prefix, mode):
    """The metrics file (metrics-interval 1s) catches up with `pfd stats`."""
    b = blocks(lab)[prefix]
    want = (b["packets"], b["bytes"])
    got = wait_for(lambda: (metric(lab, "pfd_block_packets_total", prefix, mode),
                            metric(lab, "pfd_block_bytes_total", prefix, mode)) == want and want, 3, 0.1)
    assert got, "metrics file: packets %s bytes %s for %s mode %s, pfd stats %r" % (
        metric(lab, "pfd_block_packets_total", prefix, mode),
        metric(lab, "pfd_block_bytes_total", prefix, mode), prefix, mode, want)


@pytest.mark.parametrize("peers", PEERS)
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_block_drops_at_ingress(lab, family, peers):
    """300 datagrams to the blocked server: none arrives, the prefix counts
    each once (whole frames), at the client-side device's XDP hook. Streams
    to the server's address outside the prefix and to the other family
    arrive whole. The IPv6 run also blocks ::/8 (an IPv6 bogon), which
    covers ::ffff:0:0/96 where pfd keeps IPv4 prefixes: IPv4 must not care."""
    v4 = family == "ipv4"
    dst, other, prefix = (SRV4, OTHER4, BLOCK4) if v4 else (SRV6, OTHER6, BLOCK6)
    second_destination(lab)
    lab.start_pfd(text=conf(lab, prefix, *([] if v4 else ["::/8"])))
    r0, x0 = lab.reason("blocked")[0], dev_blocked(lab, lab.rc_if)
    (cb, sb), (co, so), (cf, sf) = results([stream(lab, dst, 5201), stream(lab, other, 5202),
                                            stream(lab, SRV6 if v4 else SRV4, 5203)])
    b = blocks(lab)
    r1, x1 = lab.reason("blocked")[0], dev_blocked(lab, lab.rc_if)
    report("block %s (%s)" % (family, "peer-xdp" if peers else "peer-no-xdp"),
           "sent %d, received %d; prefix counted %r; reason blocked +%d (%s xdp +%d); "
           "other prefix lost %d, other family lost %d" %
           (cb["sent"], sb["received"], b.get(prefix), r1 - r0, lab.rc_if, x1 - x0, co["lost"], cf["lost"]))
    assert_blocked(cb, sb, 300)
    assert_arrived(co, so, 300, "to %s, outside %s" % (other, prefix))
    assert_arrived(cf, sf, 300, "the other family" + ("" if v4 else " (under ::/8)"))
    assert prefix in b, "pfd stats lists no %s: %r" % (prefix, b)
    assert b[prefix]["mode"] == "drop", b[prefix]
    n = b[prefix]["packets"]
    assert cb["sent"] <= n <= cb["sent"] + SLACK, "prefix counted %d of %d dropped" % (n, cb["sent"])
    assert b[prefix]["bytes"] == n * FRAME[family], b[prefix]
    assert cb["sent"] <= r1 - r0 <= cb["sent"] + SLACK, "reason blocked moved by %d" % (r1 - r0)
    assert x1 - x0 >= cb["sent"], "XDP on %s dropped only %d" % (lab.rc_if, x1 - x0)
    if not v4:
        assert b["::/8"]["packets"] == 0, b["::/8"]
    assert_metrics_match(lab, prefix, "drop")


@pytest.mark.parametrize("peers", PEERS)
def test_reload_blocks_offloaded_flow(lab, peers):
    """A UDP stream (500/s) on the fast path; a reload adds a block of the
    server's prefix: nothing arrives later than 200 ms after `pfd reload`
    returned, and the prefix counts what was dropped."""
    lab.start_pfd()
    rate, count, port = 500, 5000, 5211
    cli, srv = stream(lab, SRV4, port, count, rate, times=True)
    assert wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", port), 6, 0.05), \
        "the stream was not offloaded within 6 s"
    f0 = lab.reason("forwarded")[0]
    time.sleep(0.5)
    fwd = lab.reason("forwarded")[0] - f0
    t0 = time.monotonic()
    reload(lab, BLOCK4)
    t1 = time.monotonic()
    c, s = lab.result(cli), lab.result(srv)
    n = blocks(lab)[BLOCK4]["packets"]
    times = [t for _, t in c["times"]]
    live = [t for t in times if t0 - 0.5 <= t < t0]
    late = [t for t in times if t > t1 + 0.2]
    # datagrams due after the reload returned are all dropped; those due
    # before it started might have passed (a late sender sends them later)
    due_after = c["sent"] - int((t1 - c["start"]) * rate)
    may_pass = int((t1 + 0.2 - c["start"]) * rate) + 1
    report("block reload (%s)" % ("peer-xdp" if peers else "peer-no-xdp"),
           "fast path forwarded %d packets in the 0.5 s before; reload took %.0f ms; last echo "
           "%.0f ms after it returned; server received %d (allowed %d); prefix counted %d (due after %d)" %
           (fwd, (t1 - t0) * 1000, (max(times) - t1) * 1000 if times else -1, s["received"],
            may_pass, n, due_after))
    assert fwd >= 0.5 * rate * 0.5, "the fast path forwarded only %d packets before the reload" % fwd
    assert len(live) >= 0.5 * rate * 0.5, "only %d echoes in the 0.5 s before the reload" % len(live)
    assert not late, "%d echoes arrived more than 200 ms after the reload" % len(late)
    assert s["received"] <= may_pass, "the server received %d datagrams, %d were due by 200 ms " \
        "after the reload" % (s["received"], may_pass)
    sent_after_t0 = c["sent"] - int((t0 - c["start"]) * rate)
    assert due_after <= n <= sent_after_t0 + int(0.1 * rate), \
        "prefix counted %d, %d were due after the reload" % (n, due_after)


def test_dry_run_counts_without_dropping(lab):
    """`block P dry-run` counts both directions of a stream and drops
    nothing; a reload to `block P` with the global `dry-run on` does the same
    and keeps the prefix's counter; reason `blocked` never moves."""
    lab.start_pfd(text=conf(lab, BLOCK4 + " dry-run"))
    r0 = lab.reason("blocked")[0]
    [(c, s)] = results([stream(lab, SRV4, 5221)])
    b = blocks(lab)[BLOCK4]
    assert_arrived(c, s, 300, "under `block P dry-run`")
    assert b["mode"] == "dry-run", b
    assert 2 * 300 <= b["packets"] <= 2 * 300 + SLACK, "dry-run prefix counted %r for 300 echoed" % b
    assert_metrics_match(lab, BLOCK4, "dry-run")

    reload(lab, BLOCK4, extra={"dry-run": "on"})
    kept = blocks(lab)[BLOCK4]
    text = lab.pfd("stats").stdout
    [(c, s)] = results([stream(lab, SRV4, 5222)])
    b2 = blocks(lab)[BLOCK4]
    report("block dry-run", "per prefix: %r; global dry-run: %r" % (b, b2))
    # the mode says what the prefix does now: under `dry-run on`, count only
    assert kept["mode"] == "dry-run" and kept["packets"] == b["packets"], (b, kept)
    assert "dry-run on" in text, "pfd stats does not say dry-run: %s" % text
    assert_arrived(c, s, 300, "under `dry-run on`")
    assert 2 * 300 <= b2["packets"] - b["packets"] <= 2 * 300 + SLACK, (b, b2)
    assert_metrics_match(lab, BLOCK4, "dry-run")
    assert lab.reason("blocked")[0] == r0, "reason blocked moved under dry-run"


def test_reload_keeps_counter_and_removes_block(lab):
    """A reload or a restart that keeps a prefix keeps its counter; a reload
    without it lets traffic through; configured anew, it counts from zero."""
    lab.start_pfd(text=conf(lab, BLOCK4))
    [(c, s)] = results([stream(lab, SRV4, 5231)])
    assert_blocked(c, s, 300)
    n1 = blocks(lab)[BLOCK4]["packets"]
    reload(lab, BLOCK4, "203.0.113.0/24 2001:db8:9::/48")
    b = blocks(lab)
    assert b[BLOCK4]["packets"] == n1, "a reload that keeps %s reset its counter: %d -> %r" % (
        BLOCK4, n1, b[BLOCK4])
    assert b["203.0.113.0/24"]["packets"] == 0 and b["2001:db8:9::/48"]["packets"] == 0, b
    lab.daemons[-1].stop()
    lab.start_pfd(text=conf(lab, BLOCK4))
    assert blocks(lab)[BLOCK4]["packets"] == n1, "a restart reset the counter of %s" % BLOCK4
    reload(lab)
    assert blocks(lab) == {}, "blocks left after a reload without any"
    [(c, s)] = results([stream(lab, SRV4, 5232)])
    assert_arrived(c, s, 300, "after the reload removed the block")
    reload(lab, BLOCK4)
    assert blocks(lab)[BLOCK4]["packets"] == 0, "a prefix configured anew starts from zero"
    [(c, s)] = results([stream(lab, SRV4, 5233, 100)])
    assert_blocked(c, s, 100)


def test_bad_prefixes_are_refused(lab):
    """`pfd run` and `pfd reload` refuse host bits and garbage, naming line
    and column; the running daemon keeps its blocks."""
    good = conf(lab, BLOCK4)
    line = good.count("\n") + 1
    text = good + "block 10.0.0.1/8\nblock 192.0.2.0/24 not-a-prefix\n"
    bad = lab.write_conf(text=text, path=os.path.join(lab.tmp, "bad.conf"))
    want = ["%s:%d:7: block: 10.0.0.1/8 has host bits set" % (bad, line),
            '%s:%d:20: block: expected an IPv4 or IPv6 prefix, or dry-run last, got "not-a-prefix"'
            % (bad, line + 1)]
    p = lab.pfd("run", conf=bad, timeout=10)
    assert p.returncode == 1 and all(w in p.stderr for w in want), (p.returncode, p.stderr)
    lab.start_pfd(text=good)
    lab.write_conf(text=text)
    p = lab.pfd("reload", timeout=20)
    report("block bad prefixes", "reload exit %d: %s" % (p.returncode, p.stderr.strip()))
    want = [w.replace(bad, lab.conf_path) for w in want]
    assert p.returncode == 1 and all(w in p.stderr for w in want), (p.returncode, p.stderr)
    lab.write_conf(text=good)
    assert blocks(lab)[BLOCK4]["mode"] == "drop"
    [(c, s)] = results([stream(lab, SRV4, 5241, 100)])
    assert_blocked(c, s, 100)


def test_feasibility_warns_when_block_covers_host(lab):
    lab.write_conf(text=conf(lab, BLOCK4, "2001:db8:9::/48"))
    p = lab.pfd("-j", "feasibility", timeout=60)
    checks = [c for c in json.loads(p.stdout)["checks"] if c["check"] == "block prefixes"]
    assert len(checks) == 1, checks
    assert checks[0]["result"] == "WARN", checks
    assert BLOCK4 in checks[0]["detail"] and pfdlab.RTR_S4 in checks[0]["detail"], checks


def test_block_fails_open_with_heartbeat(lab):
    """pfd stopped past heartbeat-limit (2 s): the fast path passes
    everything, the block included, and the kernel forwards; pfd resumed:
    the block holds again."""
    d = lab.start_pfd(text=conf(lab, BLOCK4))
    d.signal(signal.SIGSTOP)
    try:
        time.sleep(2.5)
        [(c, s)] = results([stream(lab, SRV4, 5251, 100)])
    finally:
        d.signal(signal.SIGCONT)
    assert_arrived(c, s, 100, "with pfd stopped past heartbeat-limit")
    assert wait_for(lambda: lab.status()["heartbeat_age_ms"] < 500, 5, 0.1), "no heartbeat after SIGCONT"
    [(c, s)] = results([stream(lab, SRV4, 5252, 100)])
    assert_blocked(c, s, 100)
