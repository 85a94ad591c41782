# SPDX-License-Identifier: GPL-2.0-only
"""ECMP: with a multipath route in the router, every flow leaves by the next
hop the kernel chose for it (`ip route get` with the flow's ports, under
fib_multipath_hash_policy 0 and 1), on the fast path, stays there while the
route is unchanged, and follows the kernel when the route changes; with
peers that take XDP frames and with peers that do not.

The server owns ECMP_DST on its loopback and is reached over two links
(router rs_if -> server s_if, router r_if -> server pu); a receiver there
records, per datagram, the flow's source port and the device it came in by
(IP_PKTINFO), and echoes it, so that conntrack sees a reply and the ruleset
marks the flow for pfd."""

import json
import subprocess
import time

import pytest

import pfdlab
from pfdlab import report

ECMP_DST = "198.18.0.1"    # benchmarking range (RFC 2544), the server's loopback
LINK2_RTR, LINK2_SRV = "203.0.113.1", "203.0.113.2"
PORT = 5020
N_FLOWS = 64
SPORT0 = 41000
RATE = 640                 # datagrams/s over all flows: 10/s per flow

SENDER = r"""
import json, socket, sys, time
dst, port, sport0, n, rounds, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport0 + i))
    socks.append(s)
t = time.monotonic()
for r in range(rounds):
    for i, s in enumerate(socks):
        s.sendto(b"%d %d " % (i, r) + b"x" * 64, (dst, port))
        t += 1.0 / rate
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
print(json.dumps({"sent": rounds * n}))
"""

RECEIVER = r"""
import json, select, socket, sys, time
IP_PKTINFO = 8
addr, port, timeout, quiet = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.bind((addr, port))
print("READY", flush=True)
seen, last = {}, None
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    if not select.select([s], [], [], 0.1)[0]:
        if last is not None and time.monotonic() - last > quiet:
            break
        continue
    data, anc, _, src = s.recvmsg(2048, 256)
    ifx = 0
    for lvl, typ, d in anc:
        if lvl == socket.IPPROTO_IP and typ == IP_PKTINFO:
            ifx = int.from_bytes(d[:4], sys.byteorder)
    key = "%d %d" % (src[1], ifx)
    seen[key] = seen.get(key, 0) + 1
    s.sendto(data, src)
    last = time.monotonic()
print(json.dumps(seen))
"""


def setup_ecmp(lab, policy, nhgroup):
    """The second link, ECMP_DST on the server, the multipath route (or a
    route to a nexthop group) and the hash policy in the router; returns
    the router device of link 2."""
    r_if, s_if2 = lab.add_server_link(LINK2_RTR, LINK2_SRV)
    lab.ns(lab.srv, ["ip", "addr", "add", ECMP_DST + "/32", "dev", "lo"])
    lab.sysctl(lab.rtr, "net.ipv4.fib_multipath_hash_policy", policy)
    if nhgroup:
        lab.ns(lab.rtr, ["ip", "nexthop", "add", "id", "1", "via", pfdlab.SRV4, "dev", lab.rs_if])
        lab.ns(lab.rtr, ["ip", "nexthop", "add", "id", "2", "via", LINK2_SRV, "dev", r_if])
        lab.ns(lab.rtr, ["ip", "nexthop", "add", "id", "10", "group", "1/2"])
        lab.ns(lab.rtr, ["ip", "route", "add", ECMP_DST + "/32", "nhid", "10"])
    else:
        lab.ns(lab.rtr, ["ip", "route", "add", ECMP_DST + "/32",
                         "nexthop", "via", pfdlab.SRV4, "dev", lab.rs_if,
                         "nexthop", "via", LINK2_SRV, "dev", r_if])
    lab.nft_insert('iifname "%s" oifname "%s" ct state new accept' % (lab.rc_if, r_if))
    return r_if, s_if2


def kernel_choice(lab, sport):
    """The router device the kernel forwards this flow by (`ip route get`)."""
    p = lab.ns(lab.rtr, ["ip", "-j", "route", "get", ECMP_DST, "from", pfdlab.CLI4, "iif",
                         lab.rc_if, "ipproto", "udp", "sport", str(sport), "dport", str(PORT)])
    return json.loads(p.stdout)[0]["dev"]


def send_round(lab, rounds, quiet=1.0):
    """rounds datagrams on each of the N_FLOWS flows; returns
    {sport: {server ifindex: datagrams}} as the server received them."""
    rx = subprocess.Popen(["ip", "netns", "exec", lab.srv, pfdlab.PY, "-c", RECEIVER, ECMP_DST,
                           str(PORT), "60", str(quiet)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lab.procs.append(rx)
    assert rx.stdout.readline().strip() == "READY", rx.stderr.read()
    tx = lab.ns(lab.cli, [pfdlab.PY, "-c", SENDER, ECMP_DST, str(PORT), str(SPORT0),
                          str(N_FLOWS), str(rounds), str(RATE)], timeout=60)
    assert json.loads(tx.stdout)["sent"] == rounds * N_FLOWS
    out, err = rx.communicate(timeout=70)
    per_flow = {}
    for key, n in json.loads(out.strip().splitlines()[-1]).items():
        sport, ifx = (int(x) for x in key.split())
        per_flow.setdefault(sport, {})[ifx] = n
    return per_flow


@pytest.mark.parametrize("policy,gro,nhgroup", [(0, True, False), (1, True, False),
                                                (1, False, False), (1, True, True)],
                         ids=["hash-l3", "hash-l4", "hash-l4-peers-without-xdp",
                              "hash-l4-nexthop-group"])
def test_ecmp_flows_follow_the_kernel(policy, gro, nhgroup):
    lab = pfdlab.Lab(gro=gro)
    try:
        run_ecmp(lab, policy, gro, nhgroup)
    finally:
        lab.close()


def run_ecmp(lab, policy, gro, nhgroup):
    r_if, s_if2 = setup_ecmp(lab, policy, nhgroup)
    srv_dev = {lab.ifindex(lab.srv, lab.s_if): lab.rs_if, lab.ifindex(lab.srv, s_if2): r_if}
    lab.start_pfd(attach=(lab.rc_if, lab.rs_if, r_if))
    egress0 = lab.reason("egress")[0]
    choice = {SPORT0 + i: kernel_choice(lab, SPORT0 + i) for i in range(N_FLOWS)}
    rounds = 30

    got = send_round(lab, rounds)
    arrived = {sp: sum(v.values()) for sp, v in got.items()}
    split = {d: sum(1 for c in choice.values() if c == d) for d in (lab.rs_if, r_if)}
    wrong = [(sp, {srv_dev.get(i, i): n for i, n in got.get(sp, {}).items()}, choice[sp])
             for sp in choice if set(srv_dev.get(i) for i in got.get(sp, {})) != {choice[sp]}]
    flows = {f["orig"]["sport"]: f for f in pfdlab.find_flow(lab.flows(), "udp", PORT)}
    fast = [sp for sp in choice if flows.get(sp, {}).get("orig", {}).get("packets", 0) > 0]
    egress = lab.reason("egress")[0] - egress0
    what = "policy %d%s%s" % (policy, "" if gro else ", peers without XDP",
                              ", nexthop group" if nhgroup else "")
    report("ecmp " + what,
           "kernel's split %s; %d of %d flows on their kernel next hop; %d flows on the fast "
           "path; %d of %d datagrams arrived; egress mismatches %d" %
           (split, N_FLOWS - len(wrong), N_FLOWS, len(fast), sum(arrived.values()),
            rounds * N_FLOWS, egress))
    assert not wrong, "flows off the kernel's next hop (sport, arrived by, kernel): %s" % wrong[:8]
    assert sum(arrived.values()) == rounds * N_FLOWS, \
        "lost %d datagrams" % (rounds * N_FLOWS - sum(arrived.values()))
    if policy == 1:
        assert split[lab.rs_if] and split[r_if], "the kernel put all 64 flows on one next hop"
    # every flow reached the fast path, and the fast path never disagreed
    # with pfd's own choice of egress (which would pass it to the kernel)
    assert len(fast) == N_FLOWS, "flows never fast-pathed: %s" % sorted(set(choice) - set(fast))[:8]
    assert egress == 0, "%d packets passed as egress: pfd's next hop is not the kernel's" % egress
    for sp in choice:
        assert flows[sp]["orig"]["oif"] == choice[sp], \
            "flow %d: pfd's egress %s, the kernel's %s" % (sp, flows[sp]["orig"]["oif"], choice[sp])

    # the route changes: every flow follows the kernel, none is lost
    if nhgroup:
        lab.ns(lab.rtr, ["ip", "nexthop", "replace", "id", "10", "group", "2"])
    else:
        lab.ns(lab.rtr, ["ip", "route", "replace", ECMP_DST + "/32", "via", LINK2_SRV, "dev", r_if])
    got = send_round(lab, 10)
    arrived = sum(sum(v.values()) for v in got.values())
    off = [sp for sp, v in got.items() if set(srv_dev.get(i) for i in v) != {r_if}]
    back = pfdlab.wait_for(
        lambda: all(f["orig"]["oif"] == r_if for f in pfdlab.find_flow(lab.flows(), "udp", PORT)), 5, 0.1)
    report("ecmp route change, " + what,
           "%d of %d datagrams arrived, %d flows off the new route; every offloaded flow's "
           "egress is the new one: %s" % (arrived, 10 * N_FLOWS, len(off), bool(back)))
    assert not off, "flows still leaving by the old next hop: %s" % off[:8]
    assert arrived == 10 * N_FLOWS, "lost %d datagrams across the change" % (10 * N_FLOWS - arrived)
    assert back, "offloaded flows did not follow the route change within 5 s"
