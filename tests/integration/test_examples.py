# SPDX-License-Identifier: GPL-2.0-only
"""The shipped examples stay true: each nft ruleset loads with `nft -c -f`
(and for real) in a private network namespace, the pfd.conf examples and the
configuration and ruleset printed in the man pages' EXAMPLES are accepted by
pfd, and the systemd unit has what pfd needs and passes
`systemd-analyze verify`. The pfd.conf examples are also checked in detail
by tests/unit/test_config.c."""

import os
import re
import secrets
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PFD_BUILD", os.path.join(ROOT, "build"))
PFD = os.path.join(BUILD, "pfd")
EX = os.path.join(ROOT, "examples")


def sh(*argv, check=True, timeout=20, **kw):
    return subprocess.run(argv, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, nft)")
    if not shutil.which("nft"):
        pytest.skip("needs nft (tools/install-deps)")


@pytest.fixture
def netns():
    """A private network namespace with lan0 and wan0 (a veth pair), the
    device names the example rulesets use."""
    need_root()
    ns = "pfdx-" + secrets.token_hex(3)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0")
        sh("ip", "-n", ns, "link", "set", "lan0", "up")
        sh("ip", "-n", ns, "link", "set", "wan0", "up")
        yield ns
    finally:
        sh("ip", "netns", "del", ns, check=False)


def nft(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, "nft", *args, check=check)


# What nft prints when the kernel has no flowtable type for the family
# (nf_tables_newflowtable: no nf_flow_table, and no module to load, answers
# ENOENT); lan0, the only other thing the probe could miss, exists.
NO_FLOWTABLE = "No such file or directory"


def flowtables_missing(ns):
    """Probes the kernel for nf_flow_table with `nft -c` of a one-flowtable
    table: None when it is accepted, else nft's error when the kernel lacks
    the feature. Any other error fails the test (it is not a missing
    feature)."""
    probe = "table inet pfdx_probe {\n flowtable f {\n  hook ingress priority 0\n  devices = { lan0 }\n }\n}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".nft") as f:
        f.write(probe)
        f.flush()
        r = nft(ns, "-c", "-f", f.name, check=False)
    if r.returncode == 0:
        return None
    # "file:2:12-12: Error: ...", then the line and a caret: the error alone
    err = next((ln[ln.index("Error:"):] for ln in r.stderr.splitlines() if "Error:" in ln),
               " ".join(r.stderr.split()))
    if NO_FLOWTABLE not in err:
        pytest.fail("the flowtable probe failed, and not for a missing nf_flow_table: %s" % err)
    return err


def test_mark_mode_ruleset(netns):
    path = os.path.join(EX, "mark-mode.nft")
    r = nft(netns, "-c", "-f", path, check=False)
    assert r.returncode == 0, r.stderr
    # loaded for real: the rule that marks accepted, established flows is there
    nft(netns, "-f", path)
    out = nft(netns, "list", "table", "inet", "pfd_example").stdout
    # one bit per direction, so one direction cannot re-mark the other
    assert re.search(r"ct state established .*ct direction original ct mark set ct mark \| 0x00000001 accept", out), out
    assert re.search(r"ct state established .*ct direction reply ct mark set ct mark \| 0x00000002 accept", out), out
    assert "policy drop" in out and "masquerade" in out
    # loading it again replaces the table instead of failing or duplicating
    nft(netns, "-f", path)
    assert nft(netns, "list", "table", "inet", "pfd_example").stdout.count("ct mark set") == 2


def test_flowtable_mode_ruleset(netns):
    path = os.path.join(EX, "flowtable-mode.nft")
    why = flowtables_missing(netns)
    if why:
        pytest.skip("kernel lacks: nf_flow_table (nft: %s); flowtable-mode.nft cannot load here "
                    "(the VM suite runs it on a Debian kernel)" % why)
    r = nft(netns, "-c", "-f", path, check=False)
    assert r.returncode == 0, r.stderr
    nft(netns, "-f", path)
    out = nft(netns, "list", "table", "inet", "pfd_example").stdout
    assert "flow add @ft" in out and "flowtable ft" in out, out


@pytest.mark.parametrize("name,mode", [("pfd.conf.mark", "mark"), ("pfd.conf.flowtable", "auto"),
                                       ("pfd.conf.block", "mark"), ("pfd.conf.ecmp", "mark"),
                                       ("pfd.conf.syn-protect", "mark"), ("pfd.conf.vlan", "mark")])
def test_pfd_conf_examples_accepted(name, mode):
    if not os.access(PFD, os.X_OK):
        pytest.fail("%s not built" % PFD)
    # `status` parses the file and needs no daemon; an error would exit 1
    # with FILE:LINE:COL messages on stderr
    r = sh(PFD, "-c", os.path.join(EX, name), "-j", "status")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert '"running":' in r.stdout


def man_blocks(page):
    """The .nf/.fi blocks of a man page's EXAMPLES section, roff escapes
    undone."""
    text = open(os.path.join(ROOT, "man", page)).read()
    ex = text.split(".SH EXAMPLES", 1)[1].split(".SH ", 1)[0]
    blocks = re.findall(r"^\.nf\n(.*?)^\.fi", ex, re.M | re.S)
    return [b.replace("\\-", "-").replace("\\e", "\\").replace(".RS\n", "").replace(".RE\n", "")
            for b in blocks]


def test_man_page_examples(netns, tmp_path):
    blocks = man_blocks("pfd.conf.5")
    rulesets = [b for b in blocks if b.lstrip().startswith("table ")]
    confs = [b for b in blocks if b.lstrip().startswith("mode ")]
    assert rulesets and len(confs) >= 2, blocks
    for i, rs in enumerate(rulesets):
        p = tmp_path / ("man%d.nft" % i)
        p.write_text(rs)
        r = nft(netns, "-c", "-f", str(p), check=False)
        assert r.returncode == 0, "pfd.conf(5) EXAMPLES ruleset:\n%s\n%s" % (rs, r.stderr)
    for i, conf in enumerate(confs + [b for b in man_blocks("pfd.8") if b.startswith("mode ")]):
        p = tmp_path / ("man%d.conf" % i)
        p.write_text(conf)
        r = sh(PFD, "-c", str(p), "-j", "status")
        assert r.returncode == 0 and r.stderr == "", "man page pfd.conf:\n%s\n%s" % (conf, r.stderr)


def unit_settings(path):
    settings = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith(("#", "[")):
            continue
        k, _, v = line.partition("=")
        settings.setdefault(k, []).append(v)
    return settings


def test_systemd_unit(tmp_path):
    path = os.path.join(EX, "pfd.service")
    s = unit_settings(path)
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["on-failure"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["LimitMEMLOCK"] == ["infinity"]
    caps = {"CAP_NET_ADMIN", "CAP_BPF", "CAP_SYS_ADMIN", "CAP_PERFMON", "CAP_NET_RAW"}
    assert set(s["CapabilityBoundingSet"][0].split()) == caps
    assert set(s["AmbientCapabilities"][0].split()) == caps
    # every pfd command line in the unit is one pfd accepts
    for key in ("ExecStart", "ExecStartPre"):
        for cmd in s.get(key, []):
            argv = cmd.lstrip("-").split()
            assert argv[0].endswith("/pfd"), cmd
            sub = [a for a in argv[1:] if not a.startswith("-") and not a.startswith("/")]
            r = sh(PFD, sub[0], "--help", check=False)
            assert r.returncode == 0, "%s: %s" % (cmd, r.stderr)
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / "pfd.service"
    unit.write_text(open(path).read().replace("/usr/local/sbin/pfd", PFD))
    r = sh("systemd-analyze", "verify", "--man=no", str(unit), check=False, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
