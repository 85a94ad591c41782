# SPDX-License-Identifier: GPL-2.0-only
"""Egress devices that cannot take XDP frames, and netdev egress chains.

A veth transmits an XDP-redirected frame only while its peer can receive it
(an XDP program or GRO on the peer): the kernel advertises that as
NETDEV_XDP_ACT_NDO_XMIT in the device's xdp-features and notifies every
change. A container's veth, or any pair a user creates, has neither: an XDP
redirect into it is dropped by the driver. pfd must then forward the flow
from TC ingress (bpf_redirect works for every device) or leave it to the
kernel, and follow the peer when it gains or loses the ability.

A netdev-family egress chain runs in __dev_queue_xmit, but not for a packet
that tc redirected (nf_skip_egress): neither of pfd's datapaths would apply
it, so such flows stay in the kernel.
"""

import time

import pytest

import pfdlab
from pfdlab import report, wait_for

# How fast pfd must follow a device's XDP capability (issue: within 1 s).
FOLLOW_S = 1.0


def hook_forwarded(lab, hook):
    """Packets forwarded by one hook (xdp or tc), summed over the router's
    two devices."""
    devs = lab.stats().get("devices", {})
    return sum(devs.get(d, {}).get(hook, {}).get("forwarded", {}).get("packets", 0)
               for d in (lab.rc_if, lab.rs_if))


def set_peer_gro(lab, on):
    for ns, dev in ((lab.cli, lab.c_if), (lab.srv, lab.s_if)):
        lab.ns(ns, ["ethtool", "-K", dev, "gro", "on" if on else "off"])


@pytest.mark.lab(gro=False)
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_peer_without_xdp_loses_nothing(lab, family):
    """Peers with no XDP program and GRO off: the flow is offloaded through
    TC, arrives intact, and XDP forwards none of it."""
    lab.start_pfd()
    dst = pfdlab.SRV4 if family == "ipv4" else pfdlab.SRV6
    x0, t0 = hook_forwarded(lab, "xdp"), hook_forwarded(lab, "tc")
    nbytes = 16 << 20
    cli, srv = lab.tcp_transfer(nbytes, dst=dst, port=5101, rate=16 << 20, timeout=30)
    c, s = lab.result(cli), lab.result(srv)
    x1, t1 = hook_forwarded(lab, "xdp"), hook_forwarded(lab, "tc")
    report("no-xdp peer %s" % family, "%d bytes in %.2fs, TC forwarded %d packets, XDP %d" %
           (s["bytes"], s["seconds"], t1 - t0, x1 - x0))
    assert c["error"] is None and s["error"] is None, (c, s)
    assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
    assert x1 == x0, "XDP redirected %d packets into a device that drops them" % (x1 - x0)
    assert t1 - t0 >= nbytes // 1448 // 2, "the TC datapath carried only %d packets" % (t1 - t0)


@pytest.mark.lab(gro=False)
def test_explain_says_why_tc(lab):
    lab.start_pfd()
    srv = lab.spawn(lab.srv, ["tcp-server", "--addr", "0.0.0.0", "--port", "5102"], timeout=20)
    cli = lab.spawn(lab.cli, ["tcp-client", "--addr", pfdlab.SRV4, "--port", "5102",
                              "--bytes", str(4 << 20), "--rate", str(1 << 20)], timeout=20)
    ok = wait_for(lambda: pfdlab.find_flow(lab.flows(), "tcp", 5102), 5)
    assert ok, "the flow was never offloaded"
    ct = lab.ct_list(proto="tcp", dport=5102)
    assert ct, "no conntrack entry"
    e = lab.explain("tcp", pfdlab.CLI4, ct[0]["orig"]["sport"], pfdlab.SRV4, 5102)
    text = str(e)
    assert "cannot take XDP frames" in text, e
    lab.result(cli), lab.result(srv)


@pytest.mark.lab(gro=False)
def test_flow_follows_the_peers_xdp_capability(lab):
    """A UDP stream in both directions through TC (peers cannot take XDP
    frames); the peers turn GRO on: the flow moves to XDP within FOLLOW_S;
    they turn it off: back to TC within FOLLOW_S. Nothing is lost while the
    peers can receive; the loss at the moment a peer stops (frames the
    kernel accepted before it told pfd) is measured and bounded."""
    lab.start_pfd()
    rate, count = 200, 200 * 14
    cli, srv = lab.udp_stream(count, rate, port=5103, size=256, timeout=30)
    assert wait_for(lambda: hook_forwarded(lab, "tc") > 50, 8), \
        "the stream never went through the TC datapath"
    assert hook_forwarded(lab, "xdp") == 0, "XDP forwarded into peers without XDP or GRO"

    def moved(hook, base):
        return lambda: hook_forwarded(lab, hook) > base + 4

    x0 = hook_forwarded(lab, "xdp")
    t_on = time.monotonic()
    set_peer_gro(lab, True)
    to_xdp = wait_for(moved("xdp", x0), 5, 0.01)
    d_on = time.monotonic() - t_on
    time.sleep(1.0)
    tc0 = hook_forwarded(lab, "tc")
    time.sleep(1.0)
    tc_while_xdp = hook_forwarded(lab, "tc") - tc0

    t_off = time.monotonic()
    set_peer_gro(lab, False)
    to_tc = wait_for(moved("tc", hook_forwarded(lab, "tc")), 5, 0.01)
    d_off = time.monotonic() - t_off
    x_off = hook_forwarded(lab, "xdp")
    time.sleep(1.0)
    x_after = hook_forwarded(lab, "xdp") - x_off

    c = lab.result(cli)
    lab.result(srv)
    report("xdp capability follow", "to XDP %.0f ms after GRO on, back to TC %.0f ms after GRO "
           "off; lost %d of %d (%s)" % (d_on * 1000, d_off * 1000, c["lost"], c["sent"],
                                        pfdlab.lost_ranges(c, rate)))
    assert to_xdp and d_on <= FOLLOW_S, "not on XDP %.2fs after the peers gained GRO" % d_on
    assert tc_while_xdp <= 2, "TC still forwarded %d packets with XDP possible" % tc_while_xdp
    assert to_tc and d_off <= FOLLOW_S, "not back on TC %.2fs after GRO off" % d_off
    assert x_after == 0, "XDP redirected %d packets into peers without GRO" % x_after
    # Loss only at the switch-off: frames redirected between the kernel's
    # change and pfd's reaction (a few ms at 200 packets/s, both ways).
    assert c["lost"] <= 4, "lost %d datagrams: %s" % (c["lost"], pfdlab.lost_ranges(c, rate))
    for a, b in c["missing"]:
        assert t_off - 0.1 <= c["start"] + a / rate <= t_off + 0.2, \
            "datagrams %d-%d lost away from the switch-off" % (a, b)


EGRESS_CHAIN = """table netdev pfdt_egress {
    chain out {
        type filter hook egress device "%s" priority 0;
        ip dscp set cs3 counter
    }
}
"""


@pytest.mark.parametrize("gro", [True, False], ids=["peer-xdp", "peer-no-xdp"])
def test_netdev_egress_chain_applies_to_every_packet(request, gro):
    """An nft netdev egress chain on the flow's egress device (DSCP cs3, the
    kernel selftest's dscp_egress): every packet of a new TCP connection
    passes it (the chain's own counter), pfd explains why it keeps the flow
    in the kernel; removing the chain lets the next connection be offloaded."""
    lab = pfdlab.Lab(gro=gro)
    try:
        lab.start_pfd()
        lab.nft_load(EGRESS_CHAIN % lab.rs_if)
        nbytes = 8 << 20
        cli, srv = lab.tcp_transfer(nbytes, port=5104, rate=16 << 20, timeout=30)
        c, s = lab.result(cli), lab.result(srv)
        assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
        p = lab.nft("-j", "list", "table", "netdev", "pfdt_egress").stdout
        import json
        marked = 0
        for obj in json.loads(p)["nftables"]:
            for ex in obj.get("rule", {}).get("expr", []):
                if "counter" in ex:
                    marked = ex["counter"]["packets"]
        fwd = lab.reason("forwarded")[0]
        report("netdev egress chain (%s)" % request.node.callspec.id,
               "%d packets marked cs3 by the egress chain for a %d-byte transfer; pfd "
               "forwarded %d" % (marked, nbytes, fwd))
        assert marked >= nbytes // 1448, "the egress chain saw only %d packets" % marked
        assert fwd == 0, "pfd forwarded %d packets past the egress chain" % fwd
        lab.nft("delete", "table", "netdev", "pfdt_egress")
        time.sleep(0.2)
        cli, srv = lab.tcp_transfer(nbytes, port=5105, rate=16 << 20, timeout=30)
        c, s = lab.result(cli), lab.result(srv)
        assert s["bytes"] == nbytes and s["sha256"] == c["sha256"], "payload differs"
        assert lab.reason("forwarded")[0] > nbytes // 1448 // 2, \
            "the chain is gone, but pfd did not offload the next connection"
    finally:
        lab.close()
