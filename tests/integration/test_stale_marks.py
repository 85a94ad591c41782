# SPDX-License-Identifier: GPL-2.0-only
"""A drop rule holds for flows pfd had not installed, and across a restart.

Mark mode offloads an entry once the ruleset has set its offload mark (one
bit per direction, 0x3/0x3). An entry can carry the full mark for a while
before pfd installs it (min-packets not reached, UDP not assured yet, map
full, refused by the environment). If the ruleset then drops one direction,
that mark is the old ruleset's: pfd must not install the flow on it. Each
new ruleset generation, and each start after the ruleset changed while pfd
was stopped, clears every offload mark in conntrack, not only those of the
installed flows.

What a user checks: after the drop rule, not one datagram of the dropped
direction arrives, over the whole stream (the receiving namespace's own nft
counter).
"""

import time

import pfdlab
from pfdlab import report, wait_for

PORT = 5106
RATE = 100          # datagrams per second, each way (the server echoes)


def echoes_counter(lab):
    """An nft counter in the client namespace: echoes that arrived."""
    lab.ns(lab.cli, ["nft", "-f", "-"], input="""
table inet pfdt_cli {
    counter echoes {}
    chain input {
        type filter hook input priority filter; policy accept;
        udp sport %d counter name "echoes"
    }
}
""" % PORT)


def echoes(lab):
    p = lab.ns(lab.cli, ["nft", "-j", "list", "counter", "inet", "pfdt_cli", "echoes"])
    import json
    for obj in json.loads(p.stdout)["nftables"]:
        if "counter" in obj:
            return obj["counter"]["packets"]
    raise pfdlab.CmdError("no echoes counter")


def drop_replies(lab):
    """Drops the reply direction (server -> client) at the head of the
    forward chain, before the rules that mark it."""
    return lab.nft_insert('udp sport %d counter name "cnt_drop" drop' % PORT)


def ct_packets(lab):
    """Packets conntrack counted for the stream, both directions."""
    import re
    p = lab.ns(lab.rtr, ["conntrack", "-L", "-p", "udp", "--dport", str(PORT)], check=False)
    return sum(int(n) for n in re.findall(r"packets=(\d+)", p.stdout))


def test_drop_rule_holds_for_a_flow_not_yet_installed(lab):
    # min-packets counts with conntrack accounting
    lab.sysctl(lab.rtr, "net.netfilter.nf_conntrack_acct", 1)
    lab.start_pfd(extra={"min-packets": "400", "reconcile-interval": "1s"})
    echoes_counter(lab)
    cli, srv = lab.udp_stream(RATE * 12, RATE, port=PORT, size=200, timeout=30)
    # both directions marked, well under min-packets (2 x 100 per second)
    assert wait_for(lambda: any(c["mark"] & 3 == 3 for c in lab.ct_list(proto="udp", dport=PORT)),
                    5), "the ruleset never marked the stream"
    time.sleep(1.5 - 0.5)
    assert not pfdlab.find_flow(lab.flows(), "udp", PORT), "offloaded before min-packets"
    drop_replies(lab)
    at_drop = echoes(lab)
    t_drop = time.monotonic()
    lab.result(cli), lab.result(srv)
    after = echoes(lab) - at_drop
    dropped = lab.counter("cnt_drop")[0]
    # the entry went past min-packets with its old 0x3 mark: a stale mark
    # would have installed it at a reconcile
    assert ct_packets(lab) >= 400 + RATE, "the stream never reached min-packets"
    report("stale marks", "drop rule at %.1fs; %d echoes arrived after it over %.1fs, %d dropped "
           "by the rule" % (1.5, after, time.monotonic() - t_drop, dropped))
    assert dropped >= RATE * 5, "the drop rule saw only %d packets: was it bypassed?" % dropped
    assert after == 0, "%d datagrams of the dropped direction arrived after the drop rule" % after


def test_drop_rule_added_while_pfd_stopped_holds_after_restart(lab):
    lab.start_pfd(extra={"reconcile-interval": "1s"})
    echoes_counter(lab)
    cli, srv = lab.udp_stream(RATE * 14, RATE, port=PORT, size=200, timeout=30)
    assert wait_for(lambda: pfdlab.find_flow(lab.flows(), "udp", PORT), 8), \
        "the stream was never offloaded"
    d = lab.daemons[-1]
    d.stop()
    # the fast path fails open once the heartbeat is older than the limit
    # (2 s in the lab): from then on the kernel alone decides
    time.sleep(2.5)
    drop_replies(lab)
    at_drop = echoes(lab)
    t_drop = time.monotonic()
    time.sleep(1.0)
    lab.start_pfd()
    lab.result(cli), lab.result(srv)
    after = echoes(lab) - at_drop
    log = lab.daemons[-1].log_text()
    report("stale marks across a restart", "%d echoes arrived in the %.1fs after the drop rule "
           "(pfd restarted 1 s after it)" % (after, time.monotonic() - t_drop))
    assert after == 0, "%d datagrams of the dropped direction arrived after the drop rule" % after
    assert "ruleset changed while pfd was stopped" in log, log[-2000:]
