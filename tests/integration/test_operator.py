# SPDX-License-Identifier: GPL-2.0-only
"""The operator's view of pfd (issue 4): reload with a bad file keeps the
running configuration and says why, restart under traffic loses nothing and
the fast path keeps going, a second daemon on one state dir is refused,
`pfd detach --all` leaves nothing behind, the metrics file is valid
Prometheus text, and status/flows/stats JSON have the documented shapes
(pfd(8))."""

import json
import math
import os
import re
import signal
import subprocess
import time

import pfdlab
from pfdlab import report

REASONS_H = os.path.join(pfdlab.REPO, "include", "pfd", "reasons.h")


def reason_labels():
    with open(REASONS_H) as f:
        return re.findall(r'X\(\w+,\s*\d+,\s*"(\w+)"', f.read())


# --- JSON shapes ----------------------------------------------------------------
def check_shape(obj, shape, where="$"):
    """shape: a type, a tuple of types, a dict of key -> shape (keys must be
    present; extra keys are fine), or [shape] for a list of shape."""
    if isinstance(shape, dict):
        assert isinstance(obj, dict), "%s: want an object, got %r" % (where, obj)
        for k, sub in shape.items():
            assert k in obj, "%s: no key %r in %r" % (where, k, sorted(obj))
            check_shape(obj[k], sub, "%s.%s" % (where, k))
    elif isinstance(shape, list):
        assert isinstance(obj, list), "%s: want a list, got %r" % (where, obj)
        for i, x in enumerate(obj):
            check_shape(x, shape[0], "%s[%d]" % (where, i))
    else:
        ok = isinstance(obj, shape) and not (isinstance(obj, bool) and bool not in
                                             (shape if isinstance(shape, tuple) else (shape,)))
        assert ok, "%s: want %s, got %r" % (where, shape, obj)


PKT = {"packets": int, "bytes": int}
STATUS = {"running": bool, "pid": int, "mode": str, "heartbeat_age_ms": int, "state_age_ms": int, "flows": int,
          "devices": [{"name": str, "ifindex": int, "attach": str, "tc_behind_xdp": bool,
                   "breaker": str}],
          "reasons": dict,
          "control": {"installs": int, "removals": int, "resyncs": int, "ct_overruns": int,
                      "reloads": int, "reload_error": (str, type(None))}}
DIR = {"src": str, "dst": str, "sport": int, "dport": int, "iif": (int, str), "oif": (int, str),
       "packets": int, "bytes": int, "idle_ms": int}
FLOW = {"family": str, "proto": str, "orig": DIR, "reply": DIR, "nat": [str]}


def test_json_shapes(pfd_lab):
    lab = pfd_lab
    cli, srv = lab.tcp_transfer(8 << 20, port=5060, rate=2 << 20)
    flows = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows(), "tcp", 5060), 6, 0.05)
    st, all_flows, stats = lab.status(), lab.flows(), lab.stats()
    by_port, by_addr = lab.flows("--port", "5060"), lab.flows("--addr", pfdlab.CLI4)
    by_other = lab.flows("--port", "5999")
    lab.result(cli), lab.result(srv)
    check_shape(st, STATUS)
    assert st["running"] is True and st["mode"] == "mark"
    assert {d["name"] for d in st["devices"]} == {lab.rc_if, lab.rs_if}
    for d in st["devices"]:
        assert d["attach"] in ("native", "generic", "tc") and d["breaker"] in ("ok", "tripped"), d
        # the lab attaches `auto`: XDP with the TC ingress program behind it
        assert d["attach"] != "tc" and d["tc_behind_xdp"] is True, d
        assert d["ifindex"] == lab.ifindex(lab.rtr, d["name"]), d
    labels = reason_labels()
    for label in labels:
        assert label in st["reasons"], "status.reasons lacks %r" % label
        check_shape(st["reasons"][label], PKT, "status.reasons." + label)
    assert flows, "the transfer never showed in pfd flows"
    check_shape(all_flows, [FLOW])
    f = flows[0]
    assert f["family"] == "ipv4" and f["proto"] == "tcp"
    assert f["orig"]["src"] == pfdlab.CLI4 and f["orig"]["dst"] == pfdlab.SRV4 and f["orig"]["dport"] == 5060
    assert f["reply"]["src"] == pfdlab.SRV4 and f["reply"]["dport"] == f["orig"]["sport"]
    assert f["nat"] == []
    check_shape(stats, {"devices": dict, "reasons": dict})
    assert set(stats["devices"]) == {lab.rc_if, lab.rs_if}, stats["devices"].keys()
    for name, hooks in stats["devices"].items():
        for hook, reasons in hooks.items():
            assert hook in ("xdp", "tc"), hook
            for label, c in reasons.items():
                assert label in labels, "unknown reason label %r" % label
                check_shape(c, PKT, "stats.devices.%s.%s.%s" % (name, hook, label))
    for label, c in stats["reasons"].items():
        check_shape(c, PKT, "stats.reasons." + label)
        per_dev = sum(h.get(label, {}).get("packets", 0) for d in stats["devices"].values() for h in d.values())
        assert c["packets"] == per_dev, "stats.reasons.%s is not the sum over devices" % label
    assert by_port and all(5060 in (x["orig"]["dport"], x["orig"]["sport"]) for x in by_port), by_port
    assert by_addr and all(pfdlab.CLI4 in (x["orig"]["src"], x["orig"]["dst"]) for x in by_addr), by_addr
    assert by_other == [], by_other


# --- reload -------------------------------------------------------------------------
def fib_gen(lab):
    """pfd_ctl.fib_gen from the pinned control block: the fast path trusts a
    flow's cached FIB result (egress device included) while it is unchanged."""
    p = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                        os.path.join(lab.bpffs, "tc", "globals", "pfd_ctl")],
                       capture_output=True, text=True, timeout=20, check=True)
    return json.loads(p.stdout)[0]["formatted"]["value"]["fib_gen"]


def test_reload_bad_file_keeps_running_config(pfd_lab):
    lab = pfd_lab
    d = lab.daemons[-1]
    st0 = lab.status()
    good = open(lab.conf_path).read()
    # the CLI reads the file it is given: status goes through a good copy
    good_path = lab.write_conf(text=good, path=os.path.join(lab.tmp, "good.conf"))
    lab.write_conf(text=good + "no-such-key 1\nattach\n")
    p = lab.pfd("reload", timeout=20)
    st1 = lab.pfd_json("-j", "status", conf=good_path)
    report("reload bad file", "exit %d, stderr %r, reload_error %r" %
           (p.returncode, p.stderr.strip(), st1["control"]["reload_error"]))
    assert p.returncode == 1, "reload of a bad file exited %d" % p.returncode
    assert "no-such-key" in p.stderr and lab.conf_path in p.stderr, p.stderr
    assert re.search(r":%d:" % (good.count("\n") + 1), p.stderr), "no line number in %r" % p.stderr
    assert d.alive() and st1["pid"] == d.pid
    assert st1["control"]["reload_error"], st1["control"]
    assert {x["name"] for x in st1["devices"]} == {x["name"] for x in st0["devices"]}
    # still forwarding with the old configuration (the file is put back for
    # the CLI's sake only; the daemon is not told)
    lab.write_conf(text=good)
    f0 = lab.reason("forwarded")[1]
    cli, srv = lab.tcp_transfer(8 << 20, port=5061)
    c, s = lab.result(cli), lab.result(srv)
    assert s["sha256"] == c["sha256"]
    assert lab.reason("forwarded")[1] - f0 >= 7 << 20, "not fast-pathed after the refused reload"
    # a good file is taken, and counted
    gen0 = fib_gen(lab)
    lab.write_conf(text=good.replace("heartbeat-limit 2s", "heartbeat-limit 3s"))
    p = lab.pfd("reload", timeout=20)
    st2 = lab.status()
    assert p.returncode == 0, p.stderr
    assert st2["control"]["reloads"] > st0["control"]["reloads"]
    assert not st2["control"]["reload_error"], st2["control"]
    assert fib_gen(lab) > gen0, "a reload (device set synced) must empty the fast path's FIB caches"


# --- restart ------------------------------------------------------------------------
def test_restart_under_traffic_loses_nothing(pfd_lab):
    lab = pfd_lab
    rate, count = 1000, 14000
    cli, srv = lab.udp_stream(count, rate, port=5062, size=600, timeout=40)
    hit = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", 5062), 6, 0.05)
    assert hit, "the stream was not offloaded"
    time.sleep(1)
    f0 = lab.reason("forwarded")[0]
    fwd0 = lab.counter("cnt_fwd")[0]
    t0 = time.monotonic()
    old = lab.daemons[-1]
    old.signal(signal.SIGTERM)
    rc = old.wait(10)
    t_down = time.monotonic()
    new = lab.start_pfd()
    t_up = time.monotonic()
    f_restart = lab.reason("forwarded")[0]
    time.sleep(2)
    f1 = lab.reason("forwarded")[0]
    fwd = lab.counter("cnt_fwd")[0] - fwd0
    hit2 = pfdlab.find_flow(lab.flows(), "udp", 5062)
    c, s = lab.result(cli), lab.result(srv)
    window = t_up - t0 + 2
    # datagrams sent from 0.5 s before SIGTERM to 2 s after the new daemon was up
    w0, w1 = int((t0 - 0.5 - c["start"]) * rate), int((t_up + 2 - c["start"]) * rate)
    lost_in_window = sum(max(0, min(b, w1) - max(a, w0) + 1) for a, b in c["missing"])
    report("restart under traffic", "%d datagrams at %d/s, lost %d (%d around the restart, sockets dropped %d); down %.0f ms, back up %.0f ms after "
           "SIGTERM; forwarded +%d across the restart, +%d in the 2 s after; forward chain saw %d packets "
           "(of ~%d in the window); SIGTERM at %.2fs, lost: %s" %
           (c["sent"], rate, c["lost"], lost_in_window, lab.udp_rcvbuf_errors(), (t_down - t0) * 1000, (t_up - t0) * 1000, f_restart - f0,
            f1 - f_restart, fwd, int(2 * rate * window), t0 - c["start"],
            pfdlab.lost_ranges(c, rate)))
    assert rc == 0, "pfd exited %s on SIGTERM" % rc
    assert new.pid != old.pid
    assert lost_in_window == 0, "%d datagrams lost around the restart" % lost_in_window
    assert c["lost"] <= c["sent"] // 100 and c["corrupt"] == 0, c
    assert f1 - f_restart >= rate, "the fast path did not keep moving after the restart"
    assert hit2, "the flow is not offloaded after the restart"
    assert fwd <= 0.05 * 2 * rate * window, "%d packets of the adopted flow went through the kernel" % fwd


def test_second_daemon_refused(pfd_lab):
    lab = pfd_lab
    first = lab.daemons[-1]
    p = lab.pfd("run", timeout=10)
    report("second daemon", "exit %d: %r" % (p.returncode, p.stderr.strip()[-300:]))
    assert p.returncode != 0
    assert re.search(r"running|lock|already", p.stderr, re.I), p.stderr
    assert first.alive() and lab.status()["pid"] == first.pid


# --- detach ---------------------------------------------------------------------------
def xdp_prog_ids(lab):
    ids = set()
    for dev in (lab.rc_if, lab.rs_if):
        info = json.loads(lab.ns(lab.rtr, ["ip", "-d", "-j", "link", "show", "dev", dev]).stdout)[0]
        xdp = info.get("xdp") or {}
        for prog in xdp.get("attached", []) or ([xdp["prog"]] if "prog" in xdp else []):
            p = prog.get("prog", prog)
            if "id" in p:
                ids.add((p["id"], dev))
    return ids


def test_detach_all_leaves_nothing(pfd_lab):
    lab = pfd_lab
    cli, srv = lab.tcp_transfer(4 << 20, port=5063)
    lab.result(cli), lab.result(srv)
    progs = xdp_prog_ids(lab)
    p = lab.ns(lab.rtr, ["bpftool", "-j", "net", "show"])
    net0 = p.stdout
    assert progs or '"tc"' in net0, "pfd attached nothing? %s" % net0
    lab.daemons[-1].stop()
    p = lab.detach_all()
    assert p.returncode == 0, p.stderr
    left_xdp = xdp_prog_ids(lab)
    net = json.loads(lab.ns(lab.rtr, ["bpftool", "-j", "net", "show"]).stdout)
    qdiscs = lab.ns(lab.rtr, ["tc", "qdisc", "show"]).stdout
    pins = [f for f in lab.bpffs_files() if f not in lab.bpffs_baseline]
    alive = []
    for pid in {i for i, _ in progs}:
        if lab.ns(lab.rtr, ["bpftool", "prog", "show", "id", str(pid)], check=False).returncode == 0:
            alive.append(pid)
    report("detach --all", "xdp before %s, after %s; pins left %s; clsact: %s; programs still loaded %s" %
           (progs, left_xdp, pins, "clsact" in qdiscs, alive))
    assert not left_xdp, "XDP still attached: %s" % left_xdp
    for entry in net:
        for kind in ("xdp", "tc", "tcx"):
            assert not entry.get(kind), "bpftool net show still lists %s: %s" % (kind, entry[kind])
    assert "clsact" not in qdiscs, qdiscs
    assert not pins, "pins left behind: %s" % pins
    assert not alive, "programs still loaded: %s" % alive
    # and forwarding still works, by the kernel
    cli, srv = lab.tcp_transfer(1 << 20, port=5064)
    c, s = lab.result(cli), lab.result(srv)
    assert s["sha256"] == c["sha256"]


# --- metrics ------------------------------------------------------------------------
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')


def parse_prometheus(text):
    """Parses the Prometheus text exposition format (version 0.0.4); returns
    {name: {"type": t, "help": h, "samples": [(labels, value)]}}; raises
    ValueError on anything malformed."""
    fams = {}
    seen_samples = set()
    if text and not text.endswith("\n"):
        raise ValueError("no final newline (a torn write?)")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.match(name):
                    raise ValueError("line %d: bad metric name %r" % (n, name))
                fam = fams.setdefault(name, {"type": "untyped", "help": None, "samples": []})
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise ValueError("line %d: bad type %r" % (n, t))
                    if fam["samples"] or fam.get("typed"):
                        raise ValueError("line %d: TYPE after samples or twice for %s" % (n, name))
                    fam["type"], fam["typed"] = t, True
                else:
                    fam["help"] = parts[3] if len(parts) > 3 else ""
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$", line)
        if not m:
            raise ValueError("line %d: not a sample: %r" % (n, line))
        name, lbl, val = m.group(1), m.group(2), m.group(3)
        labels = {}
        if lbl:
            body, pos = lbl[1:-1], 0
            while pos < len(body):
                lm = LABEL.match(body, pos)
                if not lm:
                    raise ValueError("line %d: bad labels %r" % (n, lbl))
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        if val in ("+Inf", "-Inf", "NaN"):
            v = float(val.replace("Inf", "inf"))
        else:
            v = float(val)  # ValueError on garbage
        key = (name, tuple(sorted(labels.items())))
        if key in seen_samples:
            raise ValueError("line %d: duplicate sample %s" % (n, key))
        seen_samples.add(key)
        base = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[:-len(suf)] in fams:
                base = name[:-len(suf)]
        fams.setdefault(base, {"type": "untyped", "help": None, "samples": []})["samples"].append((labels, v))
    return fams


def test_prometheus_parser_rejects_garbage():
    """The parser below is what judges pfd's metrics: it must be able to fail."""
    good = '# HELP a_total x\n# TYPE a_total counter\na_total{dev="x",r="y"} 3\nb 1.5e3 1700000000\n'
    assert parse_prometheus(good)["a_total"]["samples"] == [({"dev": "x", "r": "y"}, 3.0)]
    for bad in ('a_total 3', '1a 3\n', 'a{dev=x} 1\n', 'a 1 2 3\n', 'a three\n',
                '# TYPE a counter\na 1\n# TYPE a gauge\n', 'a 1\na 1\n'):
        try:
            parse_prometheus(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)


def test_metrics_file_is_prometheus_text(pfd_lab):
    lab = pfd_lab
    cli, srv = lab.tcp_transfer(8 << 20, port=5065)
    # read the file while pfd rewrites it: every read must parse (atomic write)
    reads, fams = 0, None
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        if os.path.exists(lab.metrics):
            with open(lab.metrics) as f:
                fams = parse_prometheus(f.read())
            reads += 1
        time.sleep(0.01)
    lab.result(cli), lab.result(srv)
    time.sleep(1.5)   # metrics-interval 1s: the transfer is in the next write
    with open(lab.metrics) as f:
        text = f.read()
    fams = parse_prometheus(text)
    report("metrics", "%d reads parsed; %d families: %s" % (reads, len(fams), sorted(fams)))
    assert reads > 10
    assert all(n.startswith("pfd_") for n in fams), sorted(fams)
    for name, fam in fams.items():
        assert fam["samples"], "family %s has no samples" % name
        if fam["type"] == "counter":
            assert name.endswith("_total"), "counter %s lacks _total" % name
        for labels, v in fam["samples"]:
            assert not math.isnan(v)
    fwd = [v for name, fam in fams.items() for labels, v in fam["samples"]
           if "forwarded" in name or "forwarded" in labels.values()]
    assert fwd and max(fwd) > 1000, "no forwarded counter moved in the metrics"
    assert any("flows" in n for n in fams), "no offloaded-flows metric"
    assert any("heartbeat" in n for n in fams), "no heartbeat metric"
    assert any("resync" in n or "overrun" in n for n in fams), "no ENOBUFS/resync metric"
