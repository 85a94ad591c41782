# SPDX-License-Identifier: GPL-2.0-only
"""The TC egress jitter on a real router, loaded by hand as man/pfd-tc.8's
jitter example says.

This machine's kernel has no sch_fq, so the delay itself cannot be observed
here (without fq the departure time is ignored): tests/vm/jitter-test.sh
measures it in the VM. What is checked here, on real forwarded traffic: the
hand-loaded program stamps every packet leaving the device (its counter moves
by the number of packets the veth sent), never drops or alters one (a TCP
transfer arrives intact), leaves packets of unselected ports alone when a
port selection is configured, and the per-flow state holds one entry per
flow.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from test_mss_hand import OBJ_DIR, Router, man_example, sh, syn_mss_through  # noqa: F401

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, tc, bpf)")


# The kernel's answer to a qdisc it does not have (net/sched/sch_api.c,
# qdisc_create: no sch_fq built in, and no module to load).
FQ_UNKNOWN = "Specified qdisc kind is unknown"


def fq_missing(router):
    """Probes the kernel for sch_fq by putting fq on the router's
    server-side device (it stays there): None when the kernel took it, else
    tc's error when the kernel lacks sch_fq. Any other error fails the test
    (it is not a missing feature)."""
    p = router.ns(router.r, "tc", "qdisc", "replace", "dev", router.rs_if, "root", "fq", check=False)
    if p.returncode == 0:
        return None
    err = " ".join(p.stderr.split())
    if FQ_UNKNOWN not in err:
        pytest.fail("tc qdisc replace ... root fq failed, and not for a missing sch_fq: %s" % err)
    return err


def has_fq(router):
    return fq_missing(router) is None


@pytest.fixture
def router():
    r = Router()
    try:
        r.up()
        yield r
    finally:
        r.down()


def jit_stats(router):
    out = router.in_router("bpftool -j map dump pinned /sys/fs/bpf/tc/globals/pfd_jit_stats")
    return {e["key"]: sum(v["value"] for v in e["values"])
            for e in (x.get("formatted", x) for x in json.loads(out.stdout))}


def tx_packets(router):
    """Packets the device took from the egress path: sent, or dropped by
    the veth (its peer not ready) after the TC program had seen them."""
    out = router.ns(router.r, "cat", f"/sys/class/net/{router.rs_if}/statistics/tx_packets",
                    f"/sys/class/net/{router.rs_if}/statistics/tx_dropped").stdout
    return sum(int(x) for x in out.split())


def load_example(router):
    lines = man_example(2)
    assert "pfd_tc_jitter.bpf.o" in lines
    if not has_fq(router):
        # the one line this kernel cannot run; everything else verbatim
        lines = "\n".join(l for l in lines.splitlines() if "root fq" not in l)
    script = lines.replace("wan0", router.rs_if).replace("/usr/lib/bpf/pfd/", OBJ_DIR + "/")
    router.in_router(script)
    assert "pfd_tc_jitter" in router.ns(router.r, "tc", "filter", "show", "dev", router.rs_if,
                                        "egress").stdout


def test_jitter_stamps_forwarded_traffic(router):
    load_example(router)
    # A fresh link still sends its own IPv6 ND/MLD: take the baseline at a
    # quiet moment (two reads in a row agree), or a packet between the two
    # counters' reads is counted by one side only.
    deadline = time.monotonic() + 3
    s0, t0 = jit_stats(router), tx_packets(router)
    while time.monotonic() < deadline:
        time.sleep(0.1)
        s0b, t0b = jit_stats(router), tx_packets(router)
        if (s0b, t0b) == (s0, t0):
            break
        s0, t0 = s0b, t0b
    _, _, intact4 = syn_mss_through(router, "198.51.100.2", 5101, nbytes=300000)
    _, _, intact6 = syn_mss_through(router, "2001:db8:2::2", 5102, nbytes=300000)
    # Late packets of the closed connections (FIN, ND) may still be between
    # the program and the device counters: read until the two agree, for up
    # to 2 s; an unstamped IP packet keeps them apart for good.
    deadline = time.monotonic() + 2
    while True:
        s1, t1 = jit_stats(router), tx_packets(router)
        sent = t1 - t0
        delayed = s1.get(0, 0) - s0.get(0, 0)
        not_ip = s1.get(3, 0) - s0.get(3, 0)
        if delayed + not_ip == sent or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    print(f"{router.rs_if} sent {sent} packets; jitter stamped {delayed}, not IP {not_ip}, "
          f"held {s1.get(1, 0) - s0.get(1, 0)}, average delay "
          f"{(s1.get(6, 0) - s0.get(6, 0)) / max(delayed, 1) / 1e6:.2f} ms")
    assert intact4 and intact6, "data through the jittered device arrived intact"
    assert sent > 100
    # every IP packet that left the device was stamped (ARP/ND are not IP
    # for the program, IPv6 ND is IP and stamped too)
    assert delayed + not_ip == sent, (delayed, not_ip, sent)
    avg = (s1.get(6, 0) - s0.get(6, 0)) / delayed
    assert 1e6 <= avg <= 5e6, f"average stamped delay {avg} ns outside the example's 1..5 ms"


def test_jitter_port_selection(router):
    load_example(router)
    # flags 2 (ports only), and select TCP port 5201 on any device:
    # struct pfd_jit_port_key {u32 ifindex; u8 l4proto; u8 pad; be16 port}
    router.in_router(
        "bpftool map update pinned /sys/fs/bpf/tc/globals/pfd_jit_cfg key 0 0 0 0 value "
        "0x40 0x42 0x0f 0 0 0 0 0  0x40 0x4b 0x4c 0 0 0 0 0  0 0 0 0  2 0 0 0 && "
        "bpftool map update pinned /sys/fs/bpf/tc/globals/pfd_jit_port "
        "key 0 0 0 0 6 0 0x14 0x51 value 1")
    s0 = jit_stats(router)
    _, _, ok = syn_mss_through(router, "198.51.100.2", 5200, nbytes=50000)
    s1 = jit_stats(router)
    _, _, ok2 = syn_mss_through(router, "198.51.100.2", 5201, nbytes=50000)
    s2 = jit_stats(router)
    assert ok and ok2
    assert s1.get(0, 0) == s0.get(0, 0), "port 5200 is not selected: nothing stamped"
    assert s1.get(2, 0) > s0.get(2, 0), "... and counted as not selected"
    assert s2.get(0, 0) - s1.get(0, 0) > 10, "port 5201 selected: its packets stamped"
    flows = json.loads(router.in_router(
        "bpftool -j map dump pinned /sys/fs/bpf/tc/globals/pfd_jit_flows").stdout)
    # TCP only: the link's own MLD/ND, sent while the example's select-all
    # configuration was still loaded, may be remembered too
    tcp = [f["formatted"]["key"] for f in flows if f["formatted"]["key"]["l4proto"] == 6]
    ports = sorted(socket.ntohs(k["dport"]) for k in tcp)
    assert ports == [5201], f"one TCP flow remembered (5201 toward the server), got {ports}"


def test_jitter_delay_needs_fq(router):
    why = fq_missing(router)
    if why:
        pytest.skip("kernel lacks: sch_fq (tc: %s); the real delay is measured in the VM "
                    "(tests/vm/jitter-test.sh)" % why)
    load_example(router)
    out = router.ns(router.c, "ping", "-c", "10", "-i", "0.2", "-W", "2", "198.51.100.2",
                    timeout=20).stdout
    rtts = [float(x.split("time=")[1].split()[0]) for x in out.splitlines() if "time=" in x]
    assert len(rtts) >= 8 and min(rtts) >= 1.0, rtts
