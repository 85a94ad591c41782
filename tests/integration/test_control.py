# SPDX-License-Identifier: GPL-2.0-only
"""The control socket, <state-dir>/pfd.sock, against the running daemon:
0600 and removed on a clean stop; version and status answer with the live
counters; `pfd reload` goes through it and prints the daemon's verdict (the
file's error with its line, or success); garbage of every kind gets a one-line
error and changes nothing (the daemon keeps forwarding); a client that holds
a connection open without a word does not stop a second one; twenty clients
at once are all answered; a client that is not root is refused, by the
directory's mode and, where that is opened up, by the daemon's uid check."""

import json
import os
import re
import socket
import stat
import subprocess
import threading
import time

import pfdlab
from pfdlab import report

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def sock_path(lab):
    return os.path.join(lab.state, "pfd.sock")


def ask(lab, payload, timeout=5.0):
    """Sends payload (bytes) and returns the answer (bytes), read to EOF."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path(lab))
        if payload:
            s.sendall(payload)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def call(lab, command):
    return json.loads(ask(lab, json.dumps({"version": 1, "command": command}).encode() + b"\n"))


def test_control_socket(pfd_lab):
    lab = pfd_lab
    d = lab.daemons[-1]
    st = os.stat(sock_path(lab))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600

    v = call(lab, "version")
    assert v["ok"] and v["version"] == 1 and v["abi"] >= 1 and v["pfd"], v
    cli, srv = lab.udp_stream(400 * 20, 400, port=5501, size=200, timeout=40)
    assert pfdlab.wait_for(lambda: pfdlab.find_flow(lab.flows("--port", "5501"), "udp", 5501), 8, 0.1)
    s = call(lab, "status")
    assert s["ok"] and s["pid"] == d.pid and s["mode"] == "mark" and s["devices"] == 2, s
    # the live count against the map's (the state file lags a heartbeat)
    assert s["flows"] == len(lab.flows()) >= 1, s
    assert s["gate_closed"] is False

    # garbage of every kind: one error line each, nothing else happens
    garbage = [b"garbage\n", b"{}\n", b"\x00\xff\xfe\n", b'{"version":2,"command":"status"}\n',
               b'{"version":1}\n', b'{"version":1,"command":"status","extra":true}\n',
               b'{"version":1,"command":"rm -rf /"}\n', b'{"version":1,"command":"st\\u0061tus"}\n',
               b"{" * 5000, b'{"version":1,"command":"status"}' + b" " * 2000 + b"\n",
               os.urandom(700) + b"\n"]
    answers = []
    for g in garbage:
        a = ask(lab, g)
        answers.append(a)
        r = json.loads(a)
        assert a.endswith(b"\n") and a.count(b"\n") == 1, a
        assert r["ok"] is False and r["error"], r
    t0 = time.monotonic()
    silent = json.loads(ask(lab, b""))
    t_silent = time.monotonic() - t0
    assert silent["ok"] is False and "no request" in silent["error"] and t_silent < 1.0

    # a second client while the first holds its connection without a word
    hold = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hold.connect(sock_path(lab))
    try:
        t0 = time.monotonic()
        s2 = call(lab, "status")
        t_second = time.monotonic() - t0
    finally:
        hold.close()
    assert s2["ok"] and t_second < 1.0, (s2, t_second)

    # twenty at once
    results = [None] * 20

    def one(i):
        try:
            results[i] = call(lab, "status")["ok"]
        except Exception as e:   # noqa: BLE001 (reported below)
            results[i] = repr(e)

    th = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in th:
        t.start()
    for t in th:
        t.join(10)
    assert results == [True] * 20, results

    # reload through the socket, with the daemon's verdict
    good = open(lab.conf_path).read()
    lab.write_conf(text=good + "no-such-key 1\n")
    bad = lab.pfd("reload", timeout=20)
    lab.write_conf(text=good)
    ok = lab.pfd("reload", timeout=20)
    s3 = call(lab, "status")
    assert bad.returncode == 1 and "no-such-key" in bad.stderr and "keeps its running" in bad.stderr, bad.stderr
    assert re.search(r":%d:" % (good.count("\n") + 1), bad.stderr), bad.stderr
    assert ok.returncode == 0 and "reloaded" in ok.stdout, (ok.stdout, ok.stderr)
    assert s3["reloads"] == s["reloads"] + 1 and s3["reload_attempts"] == s["reload_attempts"] + 2, s3
    assert s3["reload_error"] == ""

    # not root: the directory keeps it out; opened up, the daemon says no.
    # The configuration readable by all and its directory open, as /etc is.
    os.chmod(lab.tmp, 0o755)
    public = lab.write_conf(text=good, path=os.path.join(lab.tmp, "public.conf"))
    os.chmod(public, 0o644)
    nr = lab.ns(lab.rtr, NOBODY + [pfdlab.PFD, "-c", public, "reload"], check=False)
    os.chmod(lab.state, 0o711)
    os.chmod(sock_path(lab), 0o666)
    try:
        raw = subprocess.run(NOBODY + [pfdlab.PY, "-c", """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
s.connect(sys.argv[1]); s.sendall(b'{"version":1,"command":"reload"}\\n')
print(s.recv(4096).decode().strip())
""", sock_path(lab)], capture_output=True, text=True, timeout=20)
    finally:
        os.chmod(sock_path(lab), 0o600)
        os.chmod(lab.state, 0o700)
    refused = json.loads(raw.stdout) if raw.stdout.strip() else {}
    s4 = call(lab, "status")

    c = lab.result(cli)
    lab.result(srv)
    report("control socket", "version %s; %d garbage requests refused one line each; a silent client told "
           "after %.0f ms; a second client answered in %.0f ms beside a silent one; 20 at once all answered; "
           "reload refused with %r; non-root CLI: %r; non-root client: %r; stream %d sent, %d lost" %
           (v["pfd"], len(garbage), t_silent * 1000, t_second * 1000, bad.stderr.strip().splitlines()[-1][:100],
            (nr.stderr.strip().splitlines() or [""])[-1][:100], refused.get("error"), c["sent"], c["lost"]))
    assert nr.returncode == 1 and "root" in nr.stderr, nr.stderr
    assert refused.get("ok") is False and "root" in refused.get("error", ""), (raw.returncode, raw.stdout, raw.stderr)
    assert s4["reloads"] == s3["reloads"], "the non-root client's reload was carried out"
    assert c["lost"] == 0 and c["corrupt"] == 0
    assert d.alive()

    # a clean stop removes it
    d.stop()
    assert not os.path.exists(sock_path(lab))
