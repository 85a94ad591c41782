#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Bounded, checksummed traffic endpoints for pfd's integration tests.

Run inside a lab namespace (`ip netns exec NS traffic.py MODE ...`). Every mode
is bounded in bytes or packets and in seconds, and prints one JSON object on
its last stdout line; servers print "READY" first so a test can start the
client without racing the bind. Payloads come from a seeded PRNG so that the
two ends can be compared by sha256 (TCP) or per datagram (UDP) without
shipping the data around.

  tcp-server --addr A --port P [--rst-after N] [--progress]
  tcp-client --addr A --port P --bytes N [--seed S] [--rate BYTES/S]
  udp-echo   --addr A --port P [--idle S]
  udp-client --addr A --port P --count N --rate PPS [--size B] [--seed S] [--times]
"""

import argparse
import hashlib
import json
import random
import socket
import struct
import sys
import time

CHUNK = 65536
UDP_HDR = struct.Struct("!IId")    # magic, seq, send time (monotonic)
UDP_MAGIC = 0x70666474        # "pfdt"


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def emit(obj):
    print(json.dumps(obj), flush=True)


def tcp_server(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(1)
    s.settimeout(a.timeout)
    print("READY", flush=True)
    c, peer = s.accept()
    c.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    progress = []
    last_mark = 0.0
    err = None
    t0 = time.monotonic()
    try:
        while True:
            want = CHUNK
            if a.rst_after is not None:
                want = min(CHUNK, a.rst_after - n)
                if want <= 0:
                    # SO_LINGER 0: close() sends an RST instead of a FIN
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                    break
            buf = c.recv(want)
            if not buf:
                break
            h.update(buf)
            n += len(buf)
            now = time.monotonic()
            if a.progress and now - last_mark >= 0.005:
                progress.append([round(now, 4), n])
                last_mark = now
    except OSError as e:
        err = type(e).__name__ + ": " + str(e)
    t1 = time.monotonic()
    if a.progress:
        progress.append([round(time.monotonic(), 4), n])
    c.close()
    out = {"bytes": n, "sha256": h.hexdigest(), "peer": [peer[0], peer[1]],
           "seconds": round(t1 - t0, 3), "error": err}
    if a.progress:
        out["progress"] = progress
    emit(out)


def tcp_client(a):
    rng = random.Random(a.seed)
    h = hashlib.sha256()
    c = socket.socket(family_of(a.addr), socket.SOCK_STREAM)
    c.settimeout(a.timeout)
    err = None
    sent = 0
    local = None
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    try:
        c.connect((a.addr, a.port))
        local = list(c.getsockname()[:2])
        while sent < a.bytes:
            if time.monotonic() > deadline:
                raise TimeoutError("transfer exceeded %ss" % a.timeout)
            buf = rng.randbytes(min(CHUNK if not a.rate else 16384, a.bytes - sent))
            c.sendall(buf)
            h.update(buf)
            sent += len(buf)
            if a.rate:
                ahead = t0 + sent / a.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        c.shutdown(socket.SHUT_WR)
        # Wait for the server's close, so "done" means it read everything.
        while c.recv(CHUNK):
            pass
    except OSError as e:
        err = type(e).__name__ + ": " + str(e)
    c.close()
    emit({"bytes": sent, "sha256": h.hexdigest(), "local": local,
          "seconds": round(time.monotonic() - t0, 3), "error": err})


def udp_payload(seed, seq, size):
    return random.Random(seed * 1000003 + seq).randbytes(max(0, size - UDP_HDR.size))


SO_RCVBUFFORCE, SO_SNDBUFFORCE = 33, 32


def udp_socket(addr):
    """A UDP socket with 4 MiB buffers: a test process starved of CPU for a
    moment (the test machine is small and shared) must not drop datagrams in
    its own socket, or the loss counted would be the harness's, not pfd's."""
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    for opt, fallback in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
        except PermissionError:
            s.setsockopt(socket.SOL_SOCKET, fallback, 4 << 20)
    return s


def udp_echo(a):
    s = udp_socket(a.addr)
    s.bind((a.addr, a.port))
    s.settimeout(a.idle)
    print("READY", flush=True)
    n = 0
    peers = set()
    deadline = time.monotonic() + a.timeout
    started = False
    while time.monotonic() < deadline:
        try:
            buf, peer = s.recvfrom(65535)
        except socket.timeout:
            if started:
                break    # the client is done: idle for --idle seconds
            continue
        started = True
        n += 1
        peers.add(peer[0])
        s.sendto(buf, peer)
    emit({"received": n, "peers": sorted(peers)})


def udp_client(a):
    s = udp_socket(a.addr)
    if a.sport:
        s.bind(("::" if ":" in a.addr else "0.0.0.0", a.sport))
    s.connect((a.addr, a.port))
    s.setblocking(False)
    got = {}
    corrupt = 0
    t0 = time.monotonic()

    def drain():
        nonlocal corrupt
        while True:
            try:
                buf = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue    # an ICMP error for an earlier datagram
            now = time.monotonic()
            if len(buf) < UDP_HDR.size:
                corrupt += 1
                continue
            magic, seq, _ = UDP_HDR.unpack_from(buf)
            if magic != UDP_MAGIC or buf[UDP_HDR.size:] != udp_payload(a.seed, seq, a.size):
                corrupt += 1
                continue
            got.setdefault(seq, now)

    sent = 0
    for seq in range(a.count):
        due = t0 + seq / a.rate
        while True:
            drain()
            ahead = due - time.monotonic()
            if ahead <= 0:
                break
            time.sleep(min(ahead, 0.002))
        if time.monotonic() - t0 > a.timeout:
            break
        pkt = UDP_HDR.pack(UDP_MAGIC, seq, time.monotonic()) + udp_payload(a.seed, seq, a.size)
        sent += 1
        try:
            s.send(pkt)
        except (ConnectionRefusedError, BlockingIOError):
            pass    # counted as sent: the test sees it as lost
    end = time.monotonic() + a.linger
    while time.monotonic() < end and len(got) < sent:
        drain()
        time.sleep(0.005)
    missing = [i for i in range(sent) if i not in got]
    ranges = []
    for i in missing:
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    out = {"sent": sent, "echoed": len(got), "lost": len(missing), "corrupt": corrupt,
           "missing": ranges[:100], "start": round(t0, 5), "local": list(s.getsockname()[:2]),
           "seconds": round(time.monotonic() - t0, 3)}
    if a.times:
        out["times"] = [[i, round(got[i], 5)] for i in sorted(got)]
    emit(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["tcp-server", "tcp-client", "udp-echo", "udp-client"])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0, help="bytes/s (tcp), packets/s (udp)")
    p.add_argument("--rst-after", type=int)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--sport", type=int, default=0)
    p.add_argument("--times", action="store_true")
    p.add_argument("--idle", type=float, default=3.0)
    p.add_argument("--linger", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    if a.mode == "udp-client" and a.rate <= 0:
        p.error("udp-client needs --rate")
    if a.size < UDP_HDR.size:
        a.size = UDP_HDR.size
    {"tcp-server": tcp_server, "tcp-client": tcp_client,
     "udp-echo": udp_echo, "udp-client": udp_client}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
