# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for pfd's integration tests (pytest, root, namespaces).

How to use the lab from any test file in this folder (test_mss*, test_demo
and friends included):

    def test_something(lab):            # topology + mark-mode ruleset, no pfd
        d = lab.start_pfd()             # writes pfd.conf, starts `pfd run` in
                                        # the router, waits for `pfd status`
        cli, srv = lab.tcp_transfer(8 << 20)
        c, s = lab.result(cli), lab.result(srv)
        assert c["sha256"] == s["sha256"]

    def test_other(pfd_lab):            # the same, with pfd already running
        ...

    @pytest.mark.lab(gro=False)         # Lab() keyword arguments (pfdlab.py)
    def test_raw(lab): ...

What `lab` gives (pfdlab.Lab; read its docstring for why each choice):
- namespaces lab.cli, lab.rtr, lab.srv ("pfdt-{c,r,s}-<hex>"), veths
  lab.c_if -- lab.rc_if (router) and lab.rs_if (router) -- lab.s_if;
  client 192.0.2.2 / 2001:db8:1::2, router 192.0.2.1, 198.51.100.1,
  2001:db8:1::1, 2001:db8:2::1, server 198.51.100.2 / 2001:db8:2::2
  (pfdlab.CLI4, RTR_C4, ...);
- checksum offload/TSO/GSO off on every veth, GRO on the client's and the
  server's ends (so they accept XDP_REDIRECTed frames), permanent neighbours;
- the router's ruleset: table inet pfdt (forward policy drop, established
  flows marked 0x1/0x2 per direction and accepted, PORT_EXCLUDED accepted unmarked, counters
  cnt_fwd / cnt_finrst / cnt_invalid / cnt_excluded / cnt_new, and
  cnt_drop for rules a test inserts, cnt_dropped for the policy drop: lab.counter("cnt_fwd")),
  table ip pfdt_nat (masquerade for PORT_MASQ, DNAT 192.0.2.1:8080 ->
  198.51.100.2:5004);
- a private bpffs (lab.bpffs) and state dir (lab.state); lab.conf_text() /
  lab.write_conf() / lab.start_pfd(extra={"key": "value"}) for pfd.conf;
- lab.pfd(...) runs the CLI in the router, lab.status()/flows()/stats()/
  explain() parse its JSON; lab.ct_list() parses conntrack; lab.nft(...);
- lab.tcp_transfer() and lab.udp_stream() start bounded traffic.py
  endpoints, lab.result(proc) returns their JSON result.
The finalizer kills traffic, stops pfd, runs `pfd detach --all`, unmounts the
bpffs and deletes the namespaces, even when the test failed.

Results a lead wants to read (latencies, loss) are printed with
pfdlab.report(), which also appends them to $PFD_TEST_REPORT when set.

Skips (tests/run's header has the whole convention): CI runs with
PFD_TEST_FAIL_ON_SKIP=1, where every skip is a failure unless its reason
starts with the fixed tag "kernel lacks:". Use that tag only after probing
the running kernel for the feature at run time and seeing the kernel's own
"not supported" answer, and fail on any other probe error:

    err = probe()                      # e.g. tc qdisc replace ... root fq
    if err is not None:
        if "Specified qdisc kind is unknown" not in err:
            pytest.fail("probe failed, and not for a missing sch_fq: %s" % err)
        pytest.skip("kernel lacks: sch_fq (tc: %s)" % err)

(test_jitter_hand.py, test_examples.py). tests/run reads the tag from
pytest's -rs summary and counts these skips as "unsupported". Any other
skip (no root, a tool not installed) is a plain skip: a failure in CI.
"""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfdlab  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "lab(**kw): keyword arguments for pfdlab.Lab()")
    config.addinivalue_line("markers", "pfd_conf(**kw): keyword arguments for Lab.start_pfd()")


def _missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces, bpffs, nft)"
    for tool in ("ip", "nft", "conntrack", "ethtool", "bpftool", "tc"):
        if not shutil.which(tool):
            return "needs %s (tools/install-deps)" % tool
    return None


@pytest.fixture
def lab(request):
    why = _missing()
    if why:
        pytest.skip(why)
    m = request.node.get_closest_marker("lab")
    kw = dict(m.kwargs) if m else {}
    lb = pfdlab.Lab(**kw)
    yield lb
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for d in lb.daemons:
            sys.stderr.write("---- pfd log (last 4000 chars) ----\n%s\n" % d.log_text()[-4000:])
    lb.close()


@pytest.fixture
def pfd_lab(lab, request):
    """The lab with pfd running in mark mode (pfd_conf marker: start_pfd()
    keyword arguments)."""
    if not os.access(pfdlab.PFD, os.X_OK):
        pytest.fail("%s is not built (make -j2 build/pfd)" % pfdlab.PFD)
    m = request.node.get_closest_marker("pfd_conf")
    lab.start_pfd(**(dict(m.kwargs) if m else {}))
    return lab


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keeps each phase's result on the item so the lab fixture can dump pfd's
    # log when the test body failed.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
