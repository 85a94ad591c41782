# SPDX-License-Identifier: GPL-2.0-only
"""Measures, in mark mode, the time from a conntrack entry's NEW event to the
moment both of its directions are in pfd's pinned flow map, over 10,000
entries: paced at 200/s (1,000 entries: per-flow latency without queueing),
paced at 1,000/s, and as a burst (the queueing a flood of new flows causes). How it measures is in
ctbench.py's header; the numbers are printed as PFD-MEASURE lines."""

import os

import pfdlab
from pfdlab import report

CTBENCH = os.path.join(pfdlab.HERE, "ctbench.py")
COUNT = 10000

# The daemon's target: p99 event-to-map latency <= 100 ms on this machine
# (2 shared cores) for paced events. Asserted on the 200/s run, the per-flow
# latency without queueing: measured there, p99 8-16 ms (poll resolution
# included) over 7 runs, so the bound holds with margin and still catches
# queueing behind the event loop, not only "installed by the 5 s reconcile".
P99_TARGET_MS = 100
# At 1000/s the daemon misses that target today (p99 83-168 ms, max ~220 ms
# over the same 7 runs): this looser bound catches a regression (events
# queued for seconds, or left to the reconcile) until it is met; then
# tighten it to P99_TARGET_MS.
P99_PACED_1000_MS = 300


def measure(lab, rate, first_dport, count=COUNT):
    pin = os.path.join(lab.bpffs, "tc", "globals", "pfd_flows")
    assert os.path.exists(pin), "no pinned flow map at %s" % pin
    p = lab.ns(lab.rtr, [pfdlab.PY, CTBENCH, "latency", "--count", str(count), "--rate", str(rate),
                         "--dport", str(first_dport), "--map", pin,
                         "--iif-orig", str(lab.ifindex(lab.rtr, lab.rc_if)),
                         "--iif-reply", str(lab.ifindex(lab.rtr, lab.rs_if)), "--timeout", "60"],
               timeout=120)
    return pfdlab.last_json(p.stdout)


def test_event_to_map_latency(lab):
    # flow-map-size: room for the runs' 42,000 entries (2 per flow)
    lab.start_pfd(extra={"flow-map-size": "65536"})
    slow = measure(lab, 200, 7000, count=1000)
    paced = measure(lab, 1000, 7001)
    burst = measure(lab, 0, 7002)
    st = lab.status()
    for name, r in (("paced 200/s", slow), ("paced 1000/s", paced), ("burst", burst)):
        report("event-to-map latency, %s" % name,
               "%d/%d flows installed, p50 %.3f ms, p99 %.3f ms, max %.3f ms "
               "(poll resolution %.3f ms; %d inserted in %.2fs; measurer real-time %s; load average %.1f)" %
               (r["installed"], r["count"], r["median_ms"] or -1, r["p99_ms"] or -1, r["max_ms"] or -1,
                r["resolution_ms"], r["count"], r["insert_seconds"], r["realtime"], r["loadavg"]))
    report("event-to-map latency, daemon", "ct_overruns %d, resyncs %d" %
           (st["control"]["ct_overruns"], st["control"]["resyncs"]))
    report("event-to-map latency, target", "paced 200/s: p50 %.3f ms, p99 %.3f ms (target p99 <= %d ms); "
           "paced 1000/s: p50 %.3f ms, p99 %.3f ms (bound %d ms)" %
           (slow["median_ms"] or -1, slow["p99_ms"] or -1, P99_TARGET_MS,
            paced["median_ms"] or -1, paced["p99_ms"] or -1, P99_PACED_1000_MS))
    for r in (slow, paced, burst):
        assert not r["errors"], r
        assert r["installed"] == r["count"], "only %d of %d entries reached the map" % (r["installed"], r["count"])
    assert slow["p99_ms"] <= P99_TARGET_MS, \
        "paced 200/s: p99 %.1f ms (p50 %.1f ms) over the %d ms target" % \
        (slow["p99_ms"], slow["median_ms"], P99_TARGET_MS)
    assert paced["p99_ms"] <= P99_PACED_1000_MS, \
        "paced 1000/s: p99 %.1f ms (p50 %.1f ms) over %d ms: events are queued or not acted on" % \
        (paced["p99_ms"], paced["median_ms"], P99_PACED_1000_MS)
