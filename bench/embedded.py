#!/usr/bin/env python3
"""Per-call cost through the redis-py API: moonkv.open() against redis-py over TCP and fakeredis.

    .venv/bin/python bench/embedded.py [--rounds N] [--calls N]

For GET, SET and EVALSHA of ``return redis.call('GET', KEYS[1])``, each
contender runs ``--calls`` calls per round; rounds are interleaved (every
contender once per round, in turn) and the table shows the median µs per
call over the rounds.  Contenders:

* ``moonkv.open()``: in memory, in this process;
* ``redis-py/TCP``: redis.Redis to a redis-server this script starts on a free
  loopback port (``--save '' --appendonly no``) and stops;
* ``fakeredis``: ``fakeredis.FakeRedis()`` (the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import redis

import moonkv

SCRIPT = "return redis.call('GET', KEYS[1])"
OPS = ("GET", "SET", "EVALSHA")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", tempfile.mkdtemp(prefix="bench-redis-")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def calls(r: Any) -> dict[str, Callable[[], object]]:
    r.set("key", "value")
    sha = r.script_load(SCRIPT)
    return {
        "GET": lambda: r.get("key"),
        "SET": lambda: r.set("key", "value"),
        "EVALSHA": lambda: r.evalsha(sha, 1, "key"),
    }


def per_call_us(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5000)
    a = ap.parse_args()
    try:
        import fakeredis
    except ImportError:
        print("fakeredis is missing: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    proc, port = start_redis()
    clients: dict[str, Any] = {}
    try:
        clients = {
            "moonkv.open()": moonkv.open(),
            "redis-py/TCP": redis.Redis(port=port),
            "fakeredis": fakeredis.FakeRedis(),
        }
        fns = {name: calls(r) for name, r in clients.items()}
        samples: dict[tuple[str, str], list[float]] = {(c, op): [] for c in clients for op in OPS}
        for _ in range(a.rounds):
            for op in OPS:
                for name in clients:
                    samples[(name, op)].append(per_call_us(fns[name][op], a.calls))
    finally:
        for r in clients.values():
            r.close()
        proc.terminate()
        proc.wait(10)
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"µs per call, median of {a.rounds} interleaved rounds of {a.calls} calls ({sys.version.split()[0]})")
    print(f"| {'contender':14} | " + " | ".join(f"{op:>8}" for op in OPS) + " |")
    print(f"|{'-' * 16}|" + "|".join("-" * 10 for _ in OPS) + "|")
    for name in clients:
        print(f"| {name:14} | " + " | ".join(f"{med[(name, op)]:8.2f}" for op in OPS) + " |")
    mine = "moonkv.open()"
    for other in ("redis-py/TCP", "fakeredis"):
        ratios = ", ".join(f"{op} {med[(other, op)] / med[(mine, op)]:.1f}x" for op in OPS)
        print(f"moonkv.open() vs {other}: {ratios} faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
