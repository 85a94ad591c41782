# SPDX-License-Identifier: GPL-2.0-only
"""What pfd leaves on disk is root's, and a user who is not root gets a
clear answer from every read-only command, never a crash or a false one.

With the daemon running: the state directory is 0700 and its files 0600,
the pin directories 0700 and every pinned map and link 0600 (bpffs pins are
root only); the metrics file is 0644 for a scraper. Each read-only command
(status, flows, stats, explain, feasibility, probe, version, --help), run by
`nobody` in the router's namespace, exits 0..2 (not a signal) and either
works (version, help) or says that it needs root; `status` in particular
must not claim that pfd is not running. The paths above the lab's files are
made traversable, as /etc, /run and /sys/fs/bpf are on a real system."""

import os
import stat
import subprocess

import pfdlab

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def as_nobody(lab, *args, conf):
    return lab.ns(lab.rtr, NOBODY + [pfdlab.PFD, "-c", conf] + list(args), check=False)


def modes_under(root):
    """(path, mode) of root and everything below it."""
    out = [(root, stat.S_IMODE(os.lstat(root).st_mode))]
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out.append((p, stat.S_IMODE(os.lstat(p).st_mode)))
    return out


def test_files_are_root_only_and_nonroot_commands_say_so(pfd_lab):
    lab = pfd_lab
    # pfd's own files
    st = modes_under(lab.state)
    assert st[0][1] == 0o700, "state directory %o" % st[0][1]
    for p, m in st[1:]:
        assert m == 0o600, "%s is %o, not 0600" % (p, m)
    assert {os.path.basename(p) for p, _ in st} >= {"state", "pfd.pid", "pfd.lock"}
    # pfd's pins: maps under tc/globals (iproute2's place, shared with
    # programs loaded by hand), links under pfd/
    pins = modes_under(os.path.join(lab.bpffs, "tc")) + modes_under(os.path.join(lab.bpffs, "pfd"))
    assert len(pins) > 10, "pins under %s: %r" % (lab.bpffs, pins)
    for p, m in pins:
        want = 0o700 if os.path.isdir(p) else 0o600
        assert m == want, "pin %s is %o, not %o" % (p, m, want)
    pfdlab.wait_for(lambda: os.path.exists(lab.metrics), 5)
    assert stat.S_IMODE(os.stat(lab.metrics).st_mode) == 0o644

    # a config file any user can read, in directories any user can enter
    os.chmod(lab.tmp, 0o755)
    conf = os.path.join(lab.tmp, "public.conf")
    with open(lab.conf_path) as f, open(conf, "w") as g:
        g.write(f.read())
    os.chmod(conf, 0o644)

    results = {}
    for args in (["status"], ["-j", "status"], ["flows"], ["stats"],
                 ["explain", "tcp", pfdlab.CLI4, "40000", pfdlab.SRV4, "80"],
                 ["feasibility"], ["probe", "--iface", lab.rc_if, "--count", "1", "--timeout", "1"],
                 ["version"], ["--help"], ["status", "--help"]):
        p = as_nobody(lab, *args, conf=conf)
        name = " ".join(args)
        results[name] = p
        assert 0 <= p.returncode <= 2, "%s: exit %d (a signal?)\n%s" % (name, p.returncode, p.stderr)
        assert "Sanitizer" not in p.stderr and "Segmentation" not in p.stderr, p.stderr
        pfdlab.report("nonroot", "%-40s exit %d: %s" % (name, p.returncode,
                                                         (p.stderr.strip() or p.stdout.strip()).splitlines()[0][:150]))
    for name in ("version", "--help", "status --help"):
        assert results[name].returncode == 0, results[name].stderr
    for name in ("status", "-j status", "flows", "stats",
                 "explain tcp %s 40000 %s 80" % (pfdlab.CLI4, pfdlab.SRV4), "probe --iface %s --count 1 --timeout 1" % lab.rc_if):
        p = results[name]
        assert p.returncode != 0, "%s as nobody: exit 0\n%s" % (name, p.stdout)
        assert "root" in p.stderr, "%s: no word of root in: %r" % (name, p.stderr)
        assert "not running" not in p.stdout + p.stderr, "%s claims pfd is not running" % name
    # feasibility runs for anyone and reports the missing privilege as a finding
    assert "not root" in results["feasibility"].stdout

    # and the daemon did not notice: root's view is unchanged
    assert lab.status()["running"]
