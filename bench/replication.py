#!/usr/bin/env python3
"""Replication benchmarks: moonkv beside redis-server, each with one replica, in the same run.

    .venv-wheel/bin/python bench/replication.py [--quick]

Both use ``appendonly yes``, ``appendfsync everysec`` on primary and replica (Redis with
``repl-diskless-sync-delay 0``).

1. Primary write throughput and server CPU per write (utime+stime of the primary process, from
   /proc/PID/stat) for ``redis-benchmark -c 50 -t set -r 100000 -d 16``, without a replica and
   with one attached.
2. Replication lag under that load: probes written to the primary every 20 ms while the
   benchmark runs, each timed until a replica read returns it; p50 and p99.
3. Full sync of N keys (1M; 200k with --quick): time from REPLICAOF until the replica reports
   the link up with the primary's offset.
4. WAIT 1 latency: SET then ``WAIT 1 0`` on one connection, the WAIT's round trip.

Results are printed as a Markdown table and saved to bench/results/replication-<ts>.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from typing import Any

from durability import BENCH, Server, cpu_seconds

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]


class Conn:
    """A blocking RESP connection returning raw reply lines (enough for these probes)."""

    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.f = self.s.makefile("rb")

    def call(self, *args: str) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.s.sendall(b"".join(out))
        line = self.f.readline()
        if line[:1] == b"$" and int(line[1:]) >= 0:
            return self.f.read(int(line[1:]) + 2)[:-2]
        return line.rstrip(b"\r\n")

    def info(self) -> dict[str, str]:
        raw = self.call("INFO", "replication").decode()
        return dict(line.split(":", 1) for line in raw.splitlines() if ":" in line)

    def close(self) -> None:
        self.s.close()


def wait_synced(primary: Server, replica: Server, timeout: float = 1200) -> None:
    p, r = Conn(primary.port), Conn(replica.port)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ri = r.info()
            if ri.get("master_link_status") == "up" and \
                    ri.get("slave_repl_offset") == p.info().get("master_repl_offset"):
                return
            time.sleep(0.01)
        raise RuntimeError("replica did not catch up")
    finally:
        p.close()
        r.close()


def pair(kind: str, root: str) -> tuple[Server, Server]:
    dirs = [os.path.join(root, n) for n in ("p", "r")]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    # Redis waits 5 s before a diskless sync by default, to gather replicas: not here.
    args = ARGS + (["--repl-diskless-sync-delay", "0"] if kind == "redis" else [])
    return Server(kind, dirs[0], args), Server(kind, dirs[1], args)


def writes(s: Server, n: int) -> dict[str, float]:
    c0 = cpu_seconds(s.proc.pid)
    t0 = time.monotonic()
    subprocess.run([BENCH, "-p", str(s.port), "-c", "50", "-n", str(n), "-t", "set", "-r", "100000",
                    "-d", "16", "-q"], capture_output=True, timeout=1800)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(s.proc.pid) - c0
    return {"rps": n / wall, "cpu_us_per_write": cpu / n * 1e6}


def lag_under_load(p: Server, r: Server, n: int) -> dict[str, float]:
    load = subprocess.Popen([BENCH, "-p", str(p.port), "-c", "50", "-n", str(n), "-t", "set",
                             "-r", "100000", "-d", "16", "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pc, rc = Conn(p.port), Conn(r.port)
    lags: list[float] = []
    try:
        i = 0
        while load.poll() is None and i < 500:
            key = f"probe:{i}"
            t0 = time.monotonic()
            pc.call("SET", key, "1")
            while rc.call("EXISTS", key) != b":1":
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("probe never arrived")
            lags.append((time.monotonic() - t0) * 1000)
            i += 1
            time.sleep(0.02)
    finally:
        load.wait()
        pc.close()
        rc.close()
    lags.sort()
    return {"probes": len(lags), "lag_p50_ms": statistics.median(lags),
            "lag_p99_ms": lags[int(len(lags) * 0.99) - 1] if lags else 0.0}


def populate(s: Server, keys: int) -> None:
    cmds = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$10\r\nvalue-%04d\r\n"
                    % (len(b"key:%d" % i), i, i % 10000) for i in range(keys))
    subprocess.run(["redis-cli", "-p", str(s.port), "--pipe"], input=cmds, capture_output=True,
                   timeout=3600, check=True)


def full_sync(p: Server, r: Server) -> float:
    c = Conn(r.port)
    try:
        t0 = time.monotonic()
        c.call("REPLICAOF", "127.0.0.1", str(p.port))
    finally:
        c.close()
    wait_synced(p, r)
    return time.monotonic() - t0


def wait_latency(p: Server, n: int) -> dict[str, float]:
    c = Conn(p.port)
    lat: list[float] = []
    try:
        for i in range(n):
            c.call("SET", f"w{i}", "1")
            t0 = time.monotonic()
            if c.call("WAIT", "1", "0") != b":1":
                raise RuntimeError("WAIT 1 did not answer 1")
            lat.append((time.monotonic() - t0) * 1000)
    finally:
        c.close()
    lat.sort()
    return {"wait_p50_ms": statistics.median(lat), "wait_p99_ms": lat[int(len(lat) * 0.99) - 1]}


def run(kind: str, quick: bool) -> dict[str, Any]:
    n = 100_000 if quick else 400_000
    keys = 200_000 if quick else 1_000_000
    root = tempfile.mkdtemp(prefix=f"repl-{kind}-")
    p, r = pair(kind, root)
    out: dict[str, Any] = {}
    try:
        out["alone"] = writes(p, n)
        c = Conn(p.port)
        c.call("FLUSHALL")
        c.close()
        populate(p, keys)
        out["full_sync_s"] = full_sync(p, r)
        out["keys"] = keys
        out["with_replica"] = writes(p, n)
        wait_synced(p, r)
        out["lag"] = lag_under_load(p, r, n)
        out["wait"] = wait_latency(p, 1000 if quick else 5000)
    finally:
        p.stop()
        r.stop()
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    results: dict[str, Any] = {}
    for kind in ("moonkv", "redis"):
        results[kind] = run(kind, a.quick)
    m, rd = results["moonkv"], results["redis"]
    rows = [
        ("writes/s alone", m["alone"]["rps"], rd["alone"]["rps"]),
        ("writes/s with a replica", m["with_replica"]["rps"], rd["with_replica"]["rps"]),
        ("CPU µs/write alone", m["alone"]["cpu_us_per_write"], rd["alone"]["cpu_us_per_write"]),
        ("CPU µs/write with a replica", m["with_replica"]["cpu_us_per_write"],
         rd["with_replica"]["cpu_us_per_write"]),
        ("lag p50 ms (-c 50 load)", m["lag"]["lag_p50_ms"], rd["lag"]["lag_p50_ms"]),
        ("lag p99 ms (-c 50 load)", m["lag"]["lag_p99_ms"], rd["lag"]["lag_p99_ms"]),
        (f"full sync of {m['keys']} keys, s", m["full_sync_s"], rd["full_sync_s"]),
        ("WAIT 1 p50 ms", m["wait"]["wait_p50_ms"], rd["wait"]["wait_p50_ms"]),
        ("WAIT 1 p99 ms", m["wait"]["wait_p99_ms"], rd["wait"]["wait_p99_ms"]),
    ]
    print("| measure | moonkv | redis |\n|---|---|---|")
    for name, a1, b1 in rows:
        print(f"| {name} | {a1:.2f} | {b1:.2f} |")
    cpu_ratio = m["with_replica"]["cpu_us_per_write"] / m["alone"]["cpu_us_per_write"]
    tput_ratio = m["alone"]["rps"] / m["with_replica"]["rps"]
    print(f"\nmoonkv with a replica: CPU per write x{cpu_ratio:.2f}, throughput x{1 / tput_ratio:.2f}")
    print(f"full sync moonkv/redis: x{m['full_sync_s'] / rd['full_sync_s']:.2f}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    ts = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(HERE, "results", f"replication-{ts}.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
