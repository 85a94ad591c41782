# SPDX-License-Identifier: GPL-2.0-only
"""The Debian package, as an operator meets it: `make deb` builds
pfd_VERSION_ARCH.deb (lintian finds no error), dpkg installs it, the
installed pfd answers --version and feasibility, `man -w pfd` finds its
page, every file the package lists is there, /etc/pfd/pfd.conf is a
conffile that attaches nothing and runs dry, the unit and the bash
completion are in place; `dpkg -r` removes all but the conffile and
`dpkg -P` that too. Built from a copy of the source tree in a temporary
directory, so the working tree and build/ are left alone."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*cmd, cwd=None, timeout=60, check=True):
    p = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:],
                                                      p.stderr[-3000:]))
    return p


def installed():
    return run("dpkg-query", "-W", "-f=${Status}", "pfd", check=False).stdout.startswith("install ok")


def test_deb_builds_installs_and_purges():
    if installed():
        pytest.fail("a pfd package is installed on this machine already: the test would replace it")
    tmp = tempfile.mkdtemp(prefix="pfd-deb-")
    src = os.path.join(tmp, "pfd")
    try:
        shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", "build", "build-*", "pfd_*.deb", "__pycache__"))
        b = run("make", "deb", cwd=src, timeout=900)
        debs = [f for f in os.listdir(src) if re.match(r"pfd_.*\.deb$", f)]
        assert len(debs) == 1, debs
        deb = os.path.join(src, debs[0])
        assert not re.search(r"^E: ", b.stdout + b.stderr, re.M), b.stdout[-2000:]

        run("dpkg", "-i", deb, timeout=120)
        try:
            v = run("/usr/sbin/pfd", "--version")
            assert re.match(r"pfd \d+\.\d+\.\d+ \(BPF ABI \d+, libbpf v?[\d.]+\)", v.stdout), v.stdout
            feas = run("/usr/sbin/pfd", "feasibility", check=False)
            assert feas.returncode in (0, 1) and "kernel" in feas.stdout, (feas.stdout, feas.stderr)
            man = run("man", "-w", "pfd")
            assert man.stdout.strip().startswith("/usr/share/man/man8/pfd.8"), man.stdout
            files = run("dpkg", "-L", "pfd").stdout.split()
            missing = [f for f in files if not os.path.lexists(f)]
            assert not missing, missing
            for want in ("/usr/sbin/pfd", "/etc/pfd/pfd.conf", "/usr/share/man/man5/pfd.conf.5.gz",
                         "/usr/share/man/man8/pfd-tc.8.gz", "/usr/lib/bpf/pfd/pfd_tc_mss.bpf.o",
                         "/usr/share/bash-completion/completions/pfd",
                         "/usr/share/doc/pfd/examples/mark-mode.nft"):
                assert want in files, want
            assert any(f.endswith("/systemd/system/pfd.service") for f in files), files
            conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "pfd").stdout
            assert "/etc/pfd/pfd.conf" in conffiles, conffiles
            conf = open("/etc/pfd/pfd.conf").read()
            assert re.search(r"^dry-run on$", conf, re.M) and not re.search(r"^attach ", conf, re.M)
            unit = [f for f in files if f.endswith("/pfd.service")][0]
            text = open(unit).read()
            assert "Type=notify" in text and "ExecReload=/usr/sbin/pfd -c /etc/pfd/pfd.conf reload" in text
            run("bash", "-n", "/usr/share/bash-completion/completions/pfd")
            comp = run("bash", "-c", ". /usr/share/bash-completion/completions/pfd; "
                       "COMP_WORDS=(pfd fl); COMP_CWORD=1; _pfd; echo ${COMPREPLY[@]}").stdout
            assert comp.split() == ["flows"], comp
        finally:
            run("dpkg", "-r", "pfd", timeout=120)
        assert not os.path.exists("/usr/sbin/pfd")
        assert os.path.exists("/etc/pfd/pfd.conf"), "remove must keep the conffile"
        run("dpkg", "-P", "pfd", timeout=120)
        assert not os.path.exists("/etc/pfd/pfd.conf") and not installed()
    finally:
        if installed():
            run("dpkg", "-P", "pfd", timeout=120, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
