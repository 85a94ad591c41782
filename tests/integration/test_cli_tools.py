# SPDX-License-Identifier: GPL-2.0-only
"""The operator's diagnostic commands against a real lab: `pfd probe` shows
the frames a veth hands to native XDP and leaves nothing attached, refuses a
device that already has a program; `pfd feasibility` reports this kernel and
the lab's devices; `pfd flows --addr/--port` filter; `pfd explain` on an
offloaded flow says so."""

import json
import re
import subprocess
import time

import pytest

import pfdlab


def pinger(lab, count=30):
    return subprocess.Popen(["ip", "netns", "exec", lab.cli, "ping", "-q", "-c", str(count),
                             "-i", "0.1", "-W", "1", pfdlab.RTR_C4],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def xdp_attached(lab, dev):
    out = lab.ns(lab.rtr, ["ip", "-d", "link", "show", "dev", dev]).stdout
    return re.search(r"\bxdp(generic|drv|offload)?\b", out) is not None


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_probe_shows_frames_and_detaches(lab, mode):
    p_ping = pinger(lab)
    try:
        p = lab.pfd("-j", "probe", "--iface", lab.rc_if, "--count", "3", "--timeout", "8",
                    "--mode", mode, timeout=30)
    finally:
        p_ping.kill()
        p_ping.wait()
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert len(r["frames"]) == 3
    assert r["verdict"].startswith("OK")
    for f in r["frames"]:
        b = bytes.fromhex(f["bytes"].replace(" ", ""))
        assert f["len"] >= 42 and len(b) == min(f["len"], 64)
        # what the client sent: Ethernet to the router's MAC, or to a group
        # address (ARP broadcast, IPv6 neighbour discovery)
        assert b[:6] == bytes.fromhex(lab.mac(lab.rtr, lab.rc_if).replace(":", "")) or b[0] & 1
        assert f["kind"] in ("Ethernet, IPv4", "Ethernet, ARP", "Ethernet, IPv6")
    assert not xdp_attached(lab, lab.rc_if), "probe left its program attached"


def test_probe_refuses_a_device_with_xdp(pfd_lab):
    lab = pfd_lab
    assert xdp_attached(lab, lab.rc_if)
    p = lab.pfd("probe", "--iface", lab.rc_if, "--count", "1", "--timeout", "2", timeout=20)
    assert p.returncode == 1
    assert "already has an XDP program" in p.stderr, p.stderr
    # pfd's own program is still there and still forwards
    assert xdp_attached(lab, lab.rc_if)
    cli, srv = lab.tcp_transfer(2 << 20, port=5071)
    assert lab.result(cli)["sha256"] == lab.result(srv)["sha256"]


def test_probe_without_traffic_says_so(lab):
    # a silent veth pair of its own: the lab's links carry IPv6 router
    # solicitations and neighbour discovery at any time
    for dev in ("pq0", "pq1"):
        if dev == "pq0":
            lab.ns(lab.rtr, ["ip", "link", "add", "pq0", "type", "veth", "peer", "name", "pq1"])
        lab.sysctl(lab.rtr, "net.ipv6.conf.%s.disable_ipv6" % dev, "1")
        lab.ns(lab.rtr, ["ip", "link", "set", dev, "up"])
    p = lab.pfd("probe", "--iface", "pq0", "--count", "1", "--timeout", "1", timeout=20)
    assert p.returncode == 1
    assert "no frames arrived" in p.stdout
    assert not xdp_attached(lab, "pq0")


def test_feasibility_reports_kernel_and_devices(lab):
    lab.write_conf()
    p = lab.pfd("-j", "feasibility", timeout=60)
    r = json.loads(p.stdout)
    checks = {c["check"]: c for c in r["checks"]}
    for name in ("kernel", "privileges", "bpf", "bpffs", "xdp generic", "clsact", "sch_fq",
                 "fib lookup mark", "conntrack", "conntrack events", "ctnetlink",
                 "nf_flow_table"):
        assert name in checks, (name, sorted(checks))
    # the lab's private bpffs, and its veths as the driver advertises them
    assert checks["bpffs"]["result"] == "PASS", checks["bpffs"]
    for dev in (lab.rc_if, lab.rs_if):
        c = checks["device " + dev]
        assert c["result"] == "PASS" and "native XDP" in c["detail"], c
    assert checks["bpf"]["result"] == "PASS"
    # every FAIL carries its fix, and the exit code follows the FAILs
    fails = [c for c in r["checks"] if c["result"] == "FAIL"]
    assert all(c.get("fix") for c in fails), fails
    assert r["failed"] == len(fails)
    assert p.returncode == (1 if fails else 0), p.stderr
    # feasibility changed nothing on the router
    assert not xdp_attached(lab, lab.rc_if)
    qd = lab.ns(lab.rtr, ["tc", "qdisc", "show", "dev", lab.rc_if]).stdout
    assert "clsact" not in qd and "fq " not in qd, qd


def test_flows_filters_and_explain(pfd_lab):
    lab = pfd_lab
    # 10 s of traffic: the flow must outlive the checks below, even under ASan
    cli, srv = lab.tcp_transfer(80 << 20, rate=8 << 20, port=pfdlab.PORT_MASQ, timeout=40)
    try:
        deadline = time.monotonic() + 10
        flows = []
        while time.monotonic() < deadline and not flows:
            flows = lab.flows("--port", str(pfdlab.PORT_MASQ))
            time.sleep(0.2)
        assert len(flows) == 1, flows
        f = flows[0]
        assert f["nat"] == ["snat"], f
        # the reply comes back to the router's address: --addr matches post-NAT too
        assert f["reply"]["dst"] == pfdlab.RTR_S4
        assert len(lab.flows("--addr", pfdlab.RTR_S4)) == 1
        assert len(lab.flows("--addr", pfdlab.CLI4)) == 1
        assert lab.flows("--addr", "203.0.113.77") == []
        assert lab.flows("--port", "1") == []
        o = f["orig"]
        e = lab.explain("tcp", o["src"], o["sport"], o["dst"], o["dport"])
        assert e["offloaded"] is True and "fast path" in e["reason"], e
        # the reply tuple names the same connection
        r = f["reply"]
        e = lab.explain("tcp", r["src"], r["sport"], r["dst"], r["dport"])
        assert e["offloaded"] is True, e
    finally:
        lab.result(cli)
        lab.result(srv)
    e = lab.explain("udp", pfdlab.CLI4, 1, pfdlab.SRV4, 9)
    assert e["offloaded"] is False and "no entry" in e["reason"], e


def test_watch_repeats_flows_and_stats(pfd_lab):
    """`pfd flows --watch 1 -j` prints one JSON list a second until it is
    stopped, and a flow that starts meanwhile shows up in a later round;
    `pfd stats -w 1` (not on a terminal: no screen clearing) repeats too."""
    import json as _json
    import signal as _signal
    lab = pfd_lab

    def run_for(args, secs):
        p = subprocess.Popen(["ip", "netns", "exec", lab.rtr, pfdlab.PFD, "-c", lab.conf_path] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(secs)
        p.send_signal(_signal.SIGINT)
        out, err = p.communicate(timeout=10)
        return p.returncode, out, err

    cli, srv = lab.udp_stream(200 * 6, 200, port=5091, size=200, timeout=20)
    rc, out, err = run_for(["flows", "-j", "--watch", "1"], 4.5)
    lab.result(cli)
    lab.result(srv)
    rounds = [_json.loads(l) for l in out.splitlines() if l.strip()]
    seen = [any(f["orig"]["dport"] == 5091 for f in r) for r in rounds]
    first = lab.pfd("stats").stdout.splitlines()[0]     # printed once a round
    rc2, out2, _ = run_for(["stats", "-w", "1"], 3.5)
    n2 = sum(1 for l in out2.splitlines() if l == first)
    pfdlab.report("watch", "flows -j --watch 1 for 4.5 s: %d rounds, the new flow in rounds %s; "
           "stats -w 1 for 3.5 s: %d rounds" % (len(rounds), [i for i, s in enumerate(seen) if s], n2))
    assert rc == -_signal.SIGINT and rc2 == -_signal.SIGINT, (rc, rc2, err)
    assert 3 <= len(rounds) <= 6, rounds   # one a second, whatever the load
    assert all(isinstance(r, list) for r in rounds)
    assert seen[-1], "the flow never showed up"
    assert "\033[2J" not in out2 and "Every 1s" not in out2, "screen clearing sent to a pipe"
    assert 2 <= n2 <= 5, out2[:500]
