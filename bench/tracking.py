#!/usr/bin/env python3
"""GET with client-side caching: tracking on with a million tracked keys against no
tracking, moonkv beside redis-server; and the memory each tracked key costs.

    .venv/bin/python bench/tracking.py [--keys K] [--gets N] [--rounds R] [--base PYTHON]

Each server (started as ``bench/run.py`` starts them, pinned to the same CPU) holds K
string keys.  One connection (RESP3, as a caching client) sends N GETs of random keys in
pipelines of 16 and reads the replies; the server's utime+stime delta divided by N is
the CPU per GET.  Measured twice: with tracking off, and with ``CLIENT TRACKING on``
after that connection read all K keys (MGET in batches), so the table holds K keys and
each GET re-tracks one.  The issue's target: tracking at most 1.3x no tracking.  The
memory per tracked key is the server's RSS growth while the table filled, over K; the
first read's cost, the server's CPU for those MGETs over K.
Each round starts every server afresh, one after the other; the ratio reported is the
median of the rounds' own ratios (off and on measured minutes apart would compare
different moments of a shared machine), the times and bytes medians over the rounds.
``--base PYTHON`` adds a third server, moonkv run by another interpreter (a venv with
main's build, say), so that a change and what it changes are measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run as core  # noqa: E402  (bench/run.py: servers, pinning, CPU readings)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def populate(c: core.RespConn, keys: int) -> None:
    for start in range(0, keys, 1000):
        args: list[bytes | str | int] = ["MSET"]
        for i in range(start, min(keys, start + 1000)):
            args += [b"key:%d" % i, b"v"]
        c.call(*args)


def read_all(c: core.RespConn, keys: int) -> None:
    """Track every key: MGET in batches from the tracking connection."""
    for start in range(0, keys, 1000):
        c.call("MGET", *[b"key:%d" % i for i in range(start, min(keys, start + 1000))])


def gets(srv: core.Server, c: core.RespConn, keys: int, n: int) -> float:
    """Server CPU µs per GET for n pipelined GETs of random keys."""
    rng = random.Random(7)
    batches = [b"".join(c.encode(["GET", b"key:%d" % rng.randrange(keys)]) for _ in range(16))
               for _ in range(n // 16)]
    before = core.cpu_seconds(srv.pid)
    for b in batches:
        c.sock.sendall(b)
        for _ in range(16):
            c.reply()
    return (core.cpu_seconds(srv.pid) - before) / (len(batches) * 16) * 1e6


def measure(srv: core.Server, keys: int, n: int) -> dict[str, float]:
    srv.start()
    try:
        setup = srv.conn()
        populate(setup, keys)
        c = srv.conn()
        c.call("HELLO", "3")
        off = gets(srv, c, keys, n)
        rss0 = rss_kib(srv.pid)
        c.call("CLIENT", "TRACKING", "on")
        before = core.cpu_seconds(srv.pid)
        read_all(c, keys)
        first = (core.cpu_seconds(srv.pid) - before) / keys * 1e6
        time.sleep(0.5)
        per_key = (rss_kib(srv.pid) - rss0) * 1024 / keys
        on = gets(srv, c, keys, n)
        info = setup.call("INFO", "stats").decode()
        tracked = next(int(line.split(":")[1]) for line in info.splitlines()
                       if line.startswith("tracking_total_keys:"))
        return {"off_us": off, "on_us": on, "first_us": first, "bytes_per_key": per_key, "tracked": tracked}
    finally:
        srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--gets", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--base", metavar="PYTHON", help="also moonkv run by this interpreter")
    a = ap.parse_args()
    core.pin_cpus(not a.no_pin)
    servers = [core.Server("moonkv", core.moonkv_argv), core.Server("redis", core.redis_argv)]
    if a.base:
        base = a.base
        servers.insert(1, core.Server("base", lambda port, d: [base, *core.moonkv_argv(port, d)[1:]]))
    results: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for i in range(a.rounds):
        for srv in servers:
            r = measure(srv, a.keys, a.gets)
            results[srv.name].append(r)
            print(f"round {i + 1} {srv.name:7} off {r['off_us']:.2f} us, on {r['on_us']:.2f} us: "
                  f"{r['on_us'] / r['off_us']:.2f}x; first read {r['first_us']:.2f} us a key "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    for name, rs in results.items():
        off = statistics.median(r["off_us"] for r in rs)
        on = statistics.median(r["on_us"] for r in rs)
        ratio = statistics.median(r["on_us"] / r["off_us"] for r in rs)
        per_key = statistics.median(r["bytes_per_key"] for r in rs)
        first = statistics.median(r["first_us"] for r in rs)
        tracked = int(rs[-1]["tracked"])
        print(f"{name:7} GET CPU/request: tracking off {off:.2f} us, on ({tracked} keys tracked) "
              f"{on:.2f} us, ratio {ratio:.2f}x; first read (MGET of 1000) {first:.2f} us a key; "
              f"{per_key:.0f} bytes per tracked key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
