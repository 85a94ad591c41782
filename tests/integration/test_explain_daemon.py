# SPDX-License-Identifier: GPL-2.0-only
"""`pfd explain` and the daemon decide the same way, over a table of
environments. explain reads the facts itself and runs the policy the daemon
runs (its "decision"); the daemon's answer is what it put in the flow map
("installed"). For each environment a UDP stream is offloaded first, then
the environment changes under it: within 3 s the two agree (offloaded or
not, by XDP or through the TC datapath), and the agreed answer is the one
the environment calls for, so that agreement on a wrong answer fails too.
"""

import time

import pytest

import pfdlab
from pfdlab import report

RATE = 200


def sh(lab, *cmd):
    return lab.ns(lab.rtr, list(cmd))


EGRESS_CHAIN = 'table netdev pfdt_eg {\n chain out {\n  type filter hook egress device "%s" ' \
               'priority 0;\n  ip dscp set cs3\n }\n}\n'

# name: (apply, undo, expected (offload, via_tc)); apply/undo get the lab
ENVS = {
    "nothing changed": (lambda lab: None, lambda lab: None, (True, False)),
    "egress qdisc on the server side": (
        lambda lab: sh(lab, "tc", "qdisc", "add", "dev", lab.rs_if, "root", "handle", "1:", "htb",
                       "default", "10"),
        lambda lab: sh(lab, "tc", "qdisc", "del", "dev", lab.rs_if, "root"),
        (True, True)),
    "netdev egress chain on the server side": (
        lambda lab: lab.nft_load(EGRESS_CHAIN % lab.rs_if),
        lambda lab: lab.nft("delete", "table", "netdev", "pfdt_eg"),
        (False, False)),
    "xfrm policy covering the flow": (
        lambda lab: sh(lab, "ip", "xfrm", "policy", "add", "src", pfdlab.CLI4 + "/32", "dst",
                       pfdlab.SRV4 + "/32", "dir", "fwd", "action", "allow"),
        lambda lab: sh(lab, "ip", "xfrm", "policy", "flush"),
        (False, False)),
    "server-side peer cannot take XDP frames (GRO off)": (
        lambda lab: lab.ns(lab.srv, ["ethtool", "-K", lab.s_if, "gro", "off"]),
        lambda lab: lab.ns(lab.srv, ["ethtool", "-K", lab.s_if, "gro", "on"]),
        (True, True)),
}


@pytest.mark.parametrize("name", list(ENVS))
def test_explain_agrees_with_the_daemon(pfd_lab, name):
    lab = pfd_lab
    apply, undo, (want_offload, want_via_tc) = ENVS[name]
    port = 5400 + list(ENVS).index(name)
    cli, srv = lab.udp_stream(RATE * 12, RATE, port=port, size=200, timeout=30)
    flow = pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows("--port", str(port)), "udp", port), 8, 0.1)
    assert flow, "the stream was not offloaded to begin with"
    o = flow[0]["orig"]
    args = ("udp", o["src"], o["sport"], o["dst"], o["dport"])
    t0 = time.monotonic()
    apply(lab)
    try:
        last = None

        def agreed():
            nonlocal last
            e = last = lab.explain(*args)
            d, i = e["decision"], e["installed"]
            return (d["offload"] == i["present"] and (not i["present"] or d["via_tc"] == i["via_tc"])
                    and (d["offload"], d["via_tc"]) == (want_offload, want_via_tc))

        # the daemon re-decides on the change's event; explain decides now
        ok = pfdlab.wait_for(agreed, 3, 0.1)
        took = time.monotonic() - t0
        report("explain vs daemon", "%s: decision offload=%s via_tc=%s, installed present=%s via_tc=%s "
               "(%s after the change): %s" % (
                   name, last["decision"]["offload"], last["decision"]["via_tc"],
                   last["installed"]["present"], last["installed"]["via_tc"],
                   "%.2fs" % took, last["decision"]["reason"]))
        assert ok, "explain and the daemon disagree, or both are wrong, 3 s after %s: %r" % (name, last)
    finally:
        undo(lab)
    c = lab.result(cli)
    lab.result(srv)
    assert c["corrupt"] == 0
