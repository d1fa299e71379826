"""How much memory a client can make the server hold per byte it sends (docs/security.md).

    .venv-wheel/bin/python bench/request_memory.py [--scale 1.0] [--only NAME ...] [--redis]

Each scenario starts a fresh moonkv (no persistence), opens its connections,
sends its requests without reading replies, waits for the server to settle and
reports the growth of the server's resident set size (VmRSS) divided by the
bytes sent.  ``--redis`` runs every scenario against redis-server too.  The
worst ratio is printed last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.memory import free_port, rss_kib  # noqa: E402

Send = Callable[[list[socket.socket], float], int]


def _conns(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # replies stay in the server
        out.append(s)
    return out


def _each(payload: bytes) -> Send:
    def send(socks: list[socket.socket], scale: float) -> int:
        for s in socks:
            s.sendall(payload)
        return len(payload) * len(socks)

    return send


def _args_header(socks: list[socket.socket], scale: float) -> int:
    """A command of many small arguments whose last argument never comes (held, parsed)."""
    n = int(1_000_000 * scale)
    body = b"*%d\r\n$3\r\nSET\r\n" % (n + 1) + b"$2\r\nab\r\n" * (n - 1)
    for s in socks:
        s.sendall(body)
    return len(body) * len(socks)


def _inline_lines(socks: list[socket.socket], scale: float) -> int:
    """Inline requests of many 2-byte arguments, each line just under the 64 KiB limit."""
    line = b"X" + b" ab" * 21000 + b"\r\n"
    n = int(200 * scale)
    sent = 0
    for s in socks:
        for _ in range(n):
            try:
                s.sendall(line)
            except OSError:  # the server stopped reading (or closed): what it holds counts
                break
            sent += len(line)
    return sent


def _behind_a_block(socks: list[socket.socket], scale: float) -> int:
    """A blocked BLPOP followed by a long pipeline: the commands wait behind it."""
    n = int(300_000 * scale)
    head = b"*3\r\n$5\r\nBLPOP\r\n$7\r\nnothing\r\n$1\r\n0\r\n"
    cmd = b"*3\r\n$3\r\nSET\r\n$2\r\nab\r\n$2\r\ncd\r\n"
    sent = 0
    for s in socks:
        s.sendall(head)
        for _ in range(n // 1000):
            try:
                s.sendall(cmd * 1000)
            except OSError:
                break
            sent += len(cmd) * 1000
    return sent + len(head) * len(socks)


def _pipeline(socks: list[socket.socket], scale: float) -> int:
    """Many small commands whose replies the client never reads."""
    n = int(1_000_000 * scale)
    cmd = b"*2\r\n$4\r\nECHO\r\n$2\r\nab\r\n"
    sent = 0
    for s in socks:
        for _ in range(n // 1000):
            try:
                s.sendall(cmd * 1000)
            except OSError:
                break
            sent += len(cmd) * 1000
    return sent


# name: (connections, send)
SCENARIOS: dict[str, tuple[int, Send]] = {
    "multibulk-count": (500, _each(b"*99999\r\n")),  # below hiredis's guard (6 digits)
    "multibulk-count-big": (500, _each(b"*2147483647\r\n")),
    "bulk-length": (500, _each(b"*2\r\n$3\r\nGET\r\n$536870912\r\n")),
    "unauth-style-header": (500, _each(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16384\r\n")),
    "many-small-args": (1, _args_header),
    "inline-args": (1, _inline_lines),
    "nested-resp3": (500, _each(b"*1\r\n%99999\r\n")),
    "behind-a-blocked-command": (1, _behind_a_block),
    "pipeline-unread-replies": (1, _pipeline),
}


def start(redis: bool) -> tuple[subprocess.Popen[bytes], int, str]:
    port = free_port()
    d = tempfile.mkdtemp(prefix="reqmem-")
    if redis:
        cmd = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", d, "--maxclients", "10000"]
    else:
        cmd = [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--dir", d,
               "--save", "", "--appendonly", "no"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return p, port, d
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start")


def run(name: str, scale: float, redis: bool) -> float:
    nconn, send = SCENARIOS[name]
    p, port, d = start(redis)
    try:
        socks = _conns(port, nconn)
        time.sleep(0.5)
        before = rss_kib(p.pid)
        sent = send(socks, scale)
        time.sleep(1.0)
        after = rss_kib(p.pid)
        for s in socks:
            s.close()
        growth = max(after - before, 0) * 1024
        ratio = growth / sent
        who = "redis " if redis else "moonkv"
        print(f"{who} {name:26s} sent {sent / 1e6:9.3f} MB  RSS +{growth / 1e6:8.2f} MB  ratio {ratio:7.2f}"
              f"  ({growth / nconn / 1024:8.1f} KiB per connection)")
        return ratio
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--redis", action="store_true")
    a = ap.parse_args()
    worst = ("", 0.0)
    for name in a.only or SCENARIOS:
        r = run(name, a.scale, False)
        worst = max(worst, (name, r), key=lambda x: x[1])
        if a.redis:
            run(name, a.scale, True)
    print(f"worst moonkv ratio: {worst[1]:.2f} ({worst[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
