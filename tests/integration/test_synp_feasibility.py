# SPDX-License-Identifier: GPL-2.0-only
"""`pfd feasibility` for syn-protect, against the lab's router: the check
appears only when pfd.conf has syn-protect lines; it reads the ruleset's
synproxy statements as the daemon does and says, line by line, whether the
line would be armed (a line without options under one agreeing statement,
a line whose options a statement has) or not and why; it fails on
net.netfilter.nf_conntrack_tcp_loose=1 while a line would answer SYNs
(the client's ACK would never reach the synproxy rule) and gives the fix;
it warns when timestamps are off and the statement offers them; a device
attached at TC ingress is reported as leaving its SYNs to the kernel.
Every sysctl changed is the router namespace's own."""

import json

import pytest

import pfdlab

PORT = 5080
SYNPROXY = "synproxy mss 1460 wscale 7 timestamp sack-perm"


def ruleset(*statements):
    """Table inet synp_feas with one rule per synproxy statement, each on
    its own port (PORT, PORT + 1, ...), or none."""
    rules = "".join("        tcp dport %d ct state invalid,untracked %s\n" % (PORT + i, s)
                    for i, s in enumerate(statements))
    return """table inet synp_feas
delete table inet synp_feas
table inet synp_feas {
    chain pre {
        type filter hook prerouting priority raw; policy accept;
        tcp dport %d-%d tcp flags syn notrack
    }
    chain in {
        type filter hook input priority filter - 10; policy accept;
%s        ct state invalid drop
    }
}
""" % (PORT, PORT + 9, rules)


def synp_checks(lab, *lines):
    text = lab.conf_text() + "".join("syn-protect %s\n" % ln
                                                               for ln in lines)
    lab.write_conf(text=text)
    p = lab.pfd("-j", "feasibility", timeout=60)
    r = json.loads(p.stdout)
    pfdlab.report("feasibility syn-protect",
                  "\n".join("%s %s" % (c["result"], c["detail"]) for c in r["checks"]
                            if c["check"] == "syn-protect"))
    return r, [c for c in r["checks"] if c["check"] == "syn-protect"], p.returncode


def find(checks, *words):
    return [c for c in checks if all(w in c["detail"] for w in words)]


def line_no(lab, n):
    """The pfd.conf line number of the n-th syn-protect line (from 1)."""
    with open(lab.conf_path) as f:
        lines = [i + 1 for i, ln in enumerate(f) if ln.startswith("syn-protect ")]
    return lines[n - 1]


def test_no_check_without_syn_protect(lab):
    lab.write_conf()
    r = json.loads(lab.pfd("-j", "feasibility", timeout=60).stdout)
    assert not [c for c in r["checks"] if c["check"] == "syn-protect"]


def test_lines_armed_and_not_under_the_ruleset(lab):
    lab.nft_load(ruleset(SYNPROXY))
    lab.sysctl(lab.rtr, "net.netfilter.nf_conntrack_tcp_loose", "0")
    lab.sysctl(lab.rtr, "net.ipv4.tcp_timestamps", "1")
    r, checks, rc = synp_checks(lab, "%s tcp %d" % (pfdlab.SRV4, PORT),
                                "%s tcp %d mss 1400" % (pfdlab.SRV4, PORT + 1),
                                "%s tcp %d dry-run" % (pfdlab.SRV6, PORT + 2))
    assert find(checks, "SYN cookie helpers")[0]["result"] == "PASS", checks
    [st] = find(checks, "the ruleset has 1 synproxy statement:")
    assert st["result"] == "INFO" and "mss 1460 wscale 7 timestamp sack-perm" in st["detail"], st
    # the line without options takes the one statement's
    [a] = find(checks, "line %d " % line_no(lab, 1))
    assert a["result"] == "PASS" and "armed" in a["detail"] and "mss 1460 wscale 7" in a["detail"], a
    # options no statement has: not armed, with why and the fix
    [b] = find(checks, "line %d " % line_no(lab, 2))
    assert b["result"] == "WARN" and "not armed" in b["detail"] and b.get("fix"), b
    # dry-run: armed, counted, not answered
    [c] = find(checks, "line %d " % line_no(lab, 3))
    assert c["result"] == "PASS" and "dry-run" in c["detail"], c
    [loose] = find(checks, "nf_conntrack_tcp_loose")
    assert loose["result"] == "PASS", loose
    assert find(checks, "tcp_syncookies")[0]["result"] == "INFO"
    assert find(checks, "tcp_timestamps")[0]["result"] == "INFO"
    # the lab's veths take XDP frames (GRO on the far ends): answered at XDP
    answered = find(checks, "answered at XDP")
    assert answered and lab.rc_if in answered[0]["detail"], checks
    # the exit code follows the FAILs, wherever they come from
    fails = [c for c in r["checks"] if c["result"] == "FAIL"]
    assert rc == (1 if fails else 0)


def test_loose_tracking_fails_with_the_fix(lab):
    lab.nft_load(ruleset(SYNPROXY))
    lab.sysctl(lab.rtr, "net.netfilter.nf_conntrack_tcp_loose", "1")
    lab.sysctl(lab.rtr, "net.ipv4.tcp_timestamps", "0")
    r, checks, rc = synp_checks(lab, "%s tcp %d" % (pfdlab.SRV4, PORT))
    [loose] = find(checks, "nf_conntrack_tcp_loose = 1")
    assert loose["result"] == "FAIL", loose
    assert "net.netfilter.nf_conntrack_tcp_loose=0" in loose["fix"], loose
    [ts] = find(checks, "tcp_timestamps = 0")
    assert ts["result"] == "WARN" and "tcp_timestamps=1" in ts["fix"], ts
    assert rc == 1 and r["failed"] >= 1
    # dry-run answers nothing: loose tracking is then only a warning
    r, checks, rc = synp_checks(lab, "%s tcp %d dry-run" % (pfdlab.SRV4, PORT))
    assert find(checks, "nf_conntrack_tcp_loose = 1")[0]["result"] == "WARN", checks


def test_statements_that_differ_and_none(lab):
    lab.sysctl(lab.rtr, "net.netfilter.nf_conntrack_tcp_loose", "0")
    lab.nft_load(ruleset(SYNPROXY, "synproxy mss 1400 wscale 5"))
    r, checks, rc = synp_checks(lab, "%s tcp %d" % (pfdlab.SRV4, PORT),
                                "%s tcp %d mss 1400 wscale 5" % (pfdlab.SRV4, PORT + 1))
    assert find(checks, "the ruleset has 2 synproxy statements:"), checks
    [a] = find(checks, "line %d " % line_no(lab, 1))
    assert a["result"] == "WARN" and "differ" in a["detail"], a
    [b] = find(checks, "line %d " % line_no(lab, 2))
    assert b["result"] == "PASS" and "mss 1400 wscale 5" in b["detail"], b
    # no synproxy statement at all: one warning with the fix, each line says why
    lab.nft("delete", "table", "inet", "synp_feas")
    r, checks, rc = synp_checks(lab, "%s tcp %d" % (pfdlab.SRV4, PORT))
    [none] = find(checks, "no synproxy statement:")
    assert none["result"] == "WARN" and none.get("fix"), none
    [a] = find(checks, "line %d " % line_no(lab, 1))
    assert "not armed" in a["detail"] and a["result"] != "PASS", a
    # and nothing that would answer: loose tracking is no failure yet
    assert not [c for c in checks if c["result"] == "FAIL"], checks


def test_tc_attached_device_leaves_syns_to_the_kernel(lab):
    lab.nft_load(ruleset(SYNPROXY))
    text = lab.conf_text().replace("attach %s auto" % lab.rs_if, "attach %s tc" % lab.rs_if)
    assert "attach %s tc" % lab.rs_if in text
    lab.write_conf(text=text + "syn-protect %s tcp %d\n" % (pfdlab.SRV4, PORT))
    r = json.loads(lab.pfd("-j", "feasibility", timeout=60).stdout)
    checks = [c for c in r["checks"] if c["check"] == "syn-protect"]
    [tc] = find(checks, lab.rs_if, "TC ingress")
    assert tc["result"] == "INFO", tc
    [xdp] = find(checks, "answered at XDP")
    assert lab.rc_if in xdp["detail"] and lab.rs_if not in xdp["detail"], xdp
