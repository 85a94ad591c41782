#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Creates conntrack entries in bulk over ctnetlink, and measures how long pfd
takes to turn each one into entries of its pinned flow map.

`conntrack -I` costs a process per entry; this speaks ctnetlink directly
(one IPCTNL_MSG_CT_NEW per entry), so thousands of entries go in within a
second, which is what a burst test and a latency measurement need. Run it in
the router namespace.

  ctbench.py insert  --count N [--first I] [--ineligible-every K] [--rate R]
  ctbench.py delete  --count N [--first I]
  ctbench.py mark    --count N [--first I] --value M   (sets the entries' mark)
  ctbench.py latency --count N --map PIN --iif-orig X --iif-reply Y [--rate R]

Flows are TCP CLI -> SRV:DPORT + i // 40000 from source port
SPORT_BASE + i % 40000 (so up to 400k flows), ESTABLISHED,
SEEN_REPLY|ASSURED, mark 3 (both direction bits of the lab ruleset; mark 0 for every K-th with --ineligible-every).

latency: the time from the insert (the kernel emits the NEW event inside the
insert's sendmsg, so when sendmsg returns the event is queued on pfd's
socket) to the first poll of the pinned map that finds both direction keys.
A forked poller looks up only the keys of inserted, not yet found flows; the
slowest poll pass (sleep included) is printed as the measurement's
resolution. Both measuring processes run SCHED_FIFO when allowed, pfd does
not. (A kernel-side measurement with fentry on ctnetlink_conntrack_event and
htab_map_update_elem would be exact, but tracing is not available here.)
"""

import argparse
import ctypes
import errno
import json
import mmap
import os
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_DELETE = 0, 2
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO, CTA_TIMEOUT, CTA_MARK = 1, 2, 3, 4, 7, 8
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE = 1, 1
TCP_CONNTRACK_ESTABLISHED = 3
IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED = 1 << 1, 1 << 2, 1 << 3
SO_RCVBUFFORCE = 33

SRC, DST, DPORT, SPORT_BASE = "192.0.2.2", "198.51.100.2", 7000, 20000


def nla(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def ct_tuple(t, src, dst, sport, dport):
    ip = nla(CTA_IP_V4_SRC, socket.inet_aton(src)) + nla(CTA_IP_V4_DST, socket.inet_aton(dst))
    l4 = (nla(CTA_PROTO_NUM, struct.pack("B", socket.IPPROTO_TCP)) +
          nla(CTA_PROTO_SRC_PORT, struct.pack("!H", sport)) +
          nla(CTA_PROTO_DST_PORT, struct.pack("!H", dport)))
    return nla(t | NLA_F_NESTED, nla(CTA_TUPLE_IP | NLA_F_NESTED, ip) + nla(CTA_TUPLE_PROTO | NLA_F_NESTED, l4))


PORTS_PER_DPORT = 40000


def ports(i):
    """(sport, dport) of flow i."""
    return SPORT_BASE + i % PORTS_PER_DPORT, DPORT + i // PORTS_PER_DPORT


def ct_msg(kind, seq, i, mark):
    sport, dport = ports(i)
    body = struct.pack("!BBH", socket.AF_INET, 0, 0)
    body += ct_tuple(CTA_TUPLE_ORIG, SRC, DST, sport, dport)
    flags = NLM_F_REQUEST | NLM_F_ACK
    if kind == IPCTNL_MSG_CT_NEW and mark is not None and mark < 0:
        # an update of an existing entry: its mark only (-mark - 1)
        body += nla(CTA_MARK, struct.pack("!I", -mark - 1))
    elif kind == IPCTNL_MSG_CT_NEW:
        flags |= NLM_F_CREATE | NLM_F_EXCL
        body += ct_tuple(CTA_TUPLE_REPLY, DST, SRC, dport, sport)
        # CONFIRMED too: ctnetlink answers EBUSY to a status whose CONFIRMED
        # bit differs from the new entry's (ctnetlink_change_status)
        body += nla(CTA_STATUS, struct.pack("!I", IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED))
        body += nla(CTA_TIMEOUT, struct.pack("!I", 600))
        body += nla(CTA_MARK, struct.pack("!I", mark))
        body += nla(CTA_PROTOINFO | NLA_F_NESTED,
                    nla(CTA_PROTOINFO_TCP | NLA_F_NESTED,
                        nla(CTA_PROTOINFO_TCP_STATE, struct.pack("B", TCP_CONNTRACK_ESTABLISHED))))
    hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | kind, flags, seq, 0)
    return hdr + body


class Ctnl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        self.s.bind((0, 0))
        self.errors = {}
        self.acked = 0

    def send(self, msg):
        self.s.send(msg)

    def drain(self, block_until=None):
        """Reads acks; with block_until, until that many were read."""
        while True:
            try:
                flags = 0 if block_until is not None and self.acked < block_until else socket.MSG_DONTWAIT
                if block_until is not None and self.acked >= block_until:
                    return
                buf = self.s.recv(1 << 20, flags)
            except BlockingIOError:
                return
            off = 0
            while off + 16 <= len(buf):
                ln, typ, _, _, _ = struct.unpack_from("=IHHII", buf, off)
                if typ == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", buf, off + 16)[0]
                    self.acked += 1
                    if err:
                        name = errno.errorcode.get(err, str(err))
                        self.errors[name] = self.errors.get(name, 0) + 1
                off += (ln + 3) & ~3


def pace(t0, i, rate):
    if rate > 0:
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def cmd_insert(a, kind=IPCTNL_MSG_CT_NEW, set_mark=None):
    nl = Ctnl()
    t0 = time.monotonic()
    eligible = 0
    for i in range(a.first, a.first + a.count):
        pace(t0, i - a.first, a.rate)
        ineligible = a.ineligible_every and i % a.ineligible_every == 0
        eligible += 0 if ineligible else 1
        mark = (-set_mark - 1) if set_mark is not None else (0 if ineligible else 3)
        nl.send(ct_msg(kind, i + 1, i, mark))
        if i % 256 == 0:
            nl.drain()
    nl.drain(block_until=a.count)
    print(json.dumps({"count": a.count, "eligible": eligible, "errors": nl.errors,
                      "seconds": round(time.monotonic() - t0, 3)}), flush=True)


# --- BPF map polling (bpf(2) through ctypes) -----------------------------------
BPF_MAP_LOOKUP_ELEM, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD = 1, 7, 15
NR_BPF = 321  # x86_64
PERCPU_TYPES = {5, 6, 10}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, ctypes.c_uint(128))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r, buf


class PinnedMap:
    def __init__(self, path):
        self.path_buf = ctypes.create_string_buffer(path.encode())
        self.fd, _ = bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(self.path_buf), 0, 0))
        info = ctypes.create_string_buffer(256)
        bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("=IIQ", self.fd, 256, ctypes.addressof(info)))
        mtype, _, self.key_size, self.value_size = struct.unpack_from("=IIII", info.raw)
        n = os.cpu_count() if mtype in PERCPU_TYPES else 1
        self.value = ctypes.create_string_buffer(((self.value_size + 7) & ~7) * max(n, 1) * 2)
        self.key = ctypes.create_string_buffer(self.key_size)
        self.attr = ctypes.create_string_buffer(128)
        self.syscall = libc.syscall
        self.vaddr = ctypes.addressof(self.value)
        self.kaddr = ctypes.addressof(self.key)

    def has(self, key):
        ctypes.memmove(self.key, key, len(key))
        struct.pack_into("=IIQQQ", self.attr, 0, self.fd, 0, self.kaddr, self.vaddr, 0)
        return self.syscall(NR_BPF, BPF_MAP_LOOKUP_ELEM, self.attr, ctypes.c_uint(128)) == 0


def flow_key(ifindex, src, dst, sport, dport):
    """struct pfd_flow_key (include/pfd/abi.h)."""
    return (struct.pack("=IBBH", ifindex, socket.AF_INET, socket.IPPROTO_TCP, 0) +
            socket.inet_aton(src) + b"\0" * 12 + socket.inet_aton(dst) + b"\0" * 12 +
            struct.pack("!HH", sport, dport))


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def realtime():
    """SCHED_FIFO for the measuring processes, so that on a loaded machine the
    timestamps are taken when things happen, not when the measurer is next
    scheduled (pfd itself keeps its normal priority: its delay is the
    result). Returns whether it was granted."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return True
    except (OSError, AttributeError):
        return False


def cmd_latency(a):
    n = a.count
    shared = mmap.mmap(-1, 8 * (n + 1))          # [inserted count, t_sent[n]]
    rd, wr = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the poller
        os.close(rd)
        os.close(ready_r)
        realtime()
        m = PinnedMap(a.map)
        keys = [(flow_key(a.iif_orig, SRC, DST, *ports(i)),
                 flow_key(a.iif_reply, DST, SRC, *reversed(ports(i)))) for i in range(n)]
        found = [0.0] * n
        os.write(ready_w, b"1")
        lo, left, worst, passes = 0, n, 0.0, 0
        deadline = time.monotonic() + a.timeout
        while left and time.monotonic() < deadline:
            t_pass = time.monotonic()
            hi = struct.unpack_from("=q", shared, 0)[0]
            # yield between passes: a real-time spinner would starve pfd
            time.sleep(0.0002)
            for i in range(lo, hi):
                if not found[i] and m.has(keys[i][0]) and m.has(keys[i][1]):
                    found[i] = time.monotonic()
                    left -= 1
            while lo < hi and found[lo]:
                lo += 1
            passes += 1
            worst = max(worst, time.monotonic() - t_pass)
        os.write(wr, json.dumps({"found": found, "worst_pass": worst, "passes": passes}).encode())
        os.close(wr)
        os._exit(0)
    os.close(wr)
    os.close(ready_w)
    os.read(ready_r, 1)
    rt = realtime()
    nl = Ctnl()
    t0 = time.monotonic()
    for i in range(n):
        pace(t0, i, a.rate)
        nl.send(ct_msg(IPCTNL_MSG_CT_NEW, i + 1, i, 3))
        struct.pack_into("=d", shared, 8 * (i + 1), time.monotonic())
        struct.pack_into("=q", shared, 0, i + 1)
        if i % 256 == 0:
            nl.drain()
    t_ins = time.monotonic() - t0
    nl.drain(block_until=n)
    chunks = []
    while True:
        b = os.read(rd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.waitpid(pid, 0)
    res = json.loads(b"".join(chunks))
    lat = []
    for i, tf in enumerate(res["found"]):
        if tf:
            lat.append((tf - struct.unpack_from("=d", shared, 8 * (i + 1))[0]) * 1000.0)
    print(json.dumps({"count": n, "rate": a.rate, "insert_seconds": round(t_ins, 3),
                      "errors": nl.errors, "installed": len(lat),
                      "median_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                      "max_ms": max(lat) if lat else None,
                      "resolution_ms": round(res["worst_pass"] * 1000, 3), "passes": res["passes"],
                      "realtime": rt, "loadavg": os.getloadavg()[0]}),
          flush=True)


def main():
    global DPORT
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["insert", "delete", "mark", "latency"])
    p.add_argument("--value", type=lambda v: int(v, 0), default=0, help="mark: the new mark")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--rate", type=float, default=0, help="entries/s, 0 = as fast as possible")
    p.add_argument("--ineligible-every", type=int, default=0)
    p.add_argument("--dport", type=int, default=DPORT)
    p.add_argument("--map")
    p.add_argument("--iif-orig", type=int)
    p.add_argument("--iif-reply", type=int)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    DPORT = a.dport
    if a.count < 1 or a.first < 0 or ports(a.first + a.count - 1)[1] > 65535:
        p.error("--first/--count out of the port range")
    if a.mode == "insert":
        cmd_insert(a)
    elif a.mode == "delete":
        cmd_insert(a, IPCTNL_MSG_CT_DELETE)
    elif a.mode == "mark":
        cmd_insert(a, set_mark=a.value)
    else:
        if not (a.map and a.iif_orig and a.iif_reply):
            p.error("latency needs --map, --iif-orig and --iif-reply")
        cmd_latency(a)


if __name__ == "__main__":
    sys.exit(main())
