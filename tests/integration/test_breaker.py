# SPDX-License-Identifier: GPL-2.0-only
"""The circuit breaker (issue 4): when the fast path fails a device's matched
packets for reasons that are not the kernel's business, pfd puts that device
in dry run (everything to the kernel), says why, shows it in status, and a
reload re-arms it.

The failure is real, not injected into pfd: forwarding is switched off on the
router's client-side device while a fast-pathed flow runs. bpf_fib_lookup then
answers FWD_DISABLED (counted as fib_other), which the kernel's own forwarding
refuses too. (That the switch also invalidates the per-flow FIB cache is
proven by tests/kernel/test_rt's netconf rows: here pfd's own periodic
neighbour refresh moves the cache generation anyway.)"""

import time

import pfdlab
from pfdlab import report, wait_for

PORT = 5020


def device(lab, name):
    for d in lab.status().get("devices", []):
        if d.get("name") == name:
            return d
    return {}


def test_breaker_trips_on_failures_and_reload_rearms(lab):
    lab.start_pfd(extra={"breaker-ratio": "0.5", "breaker-window": "1s",
                         "breaker-min-packets": "100"})
    # 500 datagrams/s, echoed: ASSURED after the first replies, then offloaded
    cli, srv = lab.udp_stream(9000, 500, port=PORT, timeout=60)
    assert wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", PORT), 15), \
        "the UDP flow was never offloaded"
    f0 = lab.reason("forwarded")[0]
    assert wait_for(lambda: lab.reason("forwarded")[0] > f0 + 200, 10), \
        "the fast path does not forward the offloaded flow"
    assert device(lab, lab.rc_if).get("breaker") == "ok"

    # The operator switches forwarding off on the ingress device: the
    # kernel stops forwarding, and so must the fast path.
    other0 = lab.reason("fib_other")[0]
    lab.sysctl(lab.rtr, "net.ipv4.conf.%s.forwarding" % lab.rc_if, 0)
    t_off = time.monotonic()
    assert wait_for(lambda: lab.reason("fib_other")[0] > other0 + 50, 10), \
        "FWD_DISABLED never reached the fast path"
    tripped = wait_for(lambda: device(lab, lab.rc_if).get("breaker") == "tripped", 10)
    t_trip = time.monotonic() - t_off
    assert tripped, "breaker not tripped: %r" % device(lab, lab.rc_if)
    assert device(lab, lab.rs_if).get("breaker") == "ok", "only the failing device trips"
    assert "circuit breaker tripped" in lab.daemons[-1].log_text()
    fwd_stopped = lab.reason("forwarded")[0]

    # Forwarding back on: the tripped device sends everything to the kernel
    # (dry run), which forwards it; pfd forwards nothing from that device.
    lab.sysctl(lab.rtr, "net.ipv4.conf.%s.forwarding" % lab.rc_if, 1)
    d0 = lab.reason("dry_run")[0]
    assert wait_for(lambda: lab.reason("dry_run")[0] > d0 + 100, 10), \
        "the tripped device is not in dry run"
    fwd_dry = lab.stats()["devices"][lab.rc_if]["xdp"].get("forwarded", {}).get("packets", 0)
    time.sleep(0.5)
    assert lab.stats()["devices"][lab.rc_if]["xdp"].get("forwarded", {}).get("packets", 0) == fwd_dry, \
        "a tripped device still forwards in XDP"

    # reload re-arms it: the fast path takes the flow again
    r = lab.pfd("reload", timeout=30)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: device(lab, lab.rc_if).get("breaker") == "ok", 10)
    assert wait_for(lambda: lab.reason("forwarded")[0] > fwd_stopped + 200, 10), \
        "after reload the fast path does not forward again"
    c = lab.result(cli)
    report("circuit breaker", "tripped %.0f ms after forwarding was switched off; "
           "client got %d of %d echoes back" % (t_trip * 1000, c["echoed"], c["sent"]))
