#!/usr/bin/env python3
"""Replication benchmarks: moonkv beside redis-server, each with one replica, in the same run.

    .venv-wheel/bin/python bench/replication.py [--quick]

Both use ``appendonly yes``, ``appendfsync everysec`` on primary and replica (Redis with
``repl-diskless-sync-delay 0``).

1. Server CPU per write (utime+stime of the process, from /proc/PID/stat) for
   ``redis-benchmark -c 50 -t set -r 100000 -d 16``, on a primary that never had a replica
   and on one with a replica attached (and the replica's CPU to apply them): medians of
   ``--rounds`` rounds interleaved across the four primaries, not throughput (the machine is
   shared).
2. Replication lag under that load: probes written to the primary every 20 ms while the
   benchmark runs, each timed until a replica read returns it; p50 and p99 over all rounds.
3. WAIT 1 latency: SET then ``WAIT 1 0`` on one connection, the WAIT's round trip.
4. Full sync of N keys (1M; 200k with --quick): time from REPLICAOF until the replica reports
   the link up with the primary's offset (median of rounds/2, interleaved).

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


def pair_args(kind: str) -> list[str]:
    # Redis waits 5 s before a diskless sync by default, to gather replicas: not here.
    return ARGS + (["--repl-diskless-sync-delay", "0"] if kind == "redis" else [])


def pair(kind: str, root: str) -> tuple[Server, Server]:
    """A primary and a server to make its replica (not attached yet)."""
    dirs = [os.path.join(root, n) for n in ("p", "r")]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    return Server(kind, dirs[0], pair_args(kind)), Server(kind, dirs[1], pair_args(kind))


def writes(s: Server, n: int, replica: Server | None = None) -> dict[str, float]:
    """``n`` SETs from redis-benchmark -c 50: the primary's CPU per write (and the replica's,
    counted until it has applied them all)."""
    c0 = cpu_seconds(s.proc.pid)
    rc0 = cpu_seconds(replica.proc.pid) if replica is not None else 0.0
    t0 = time.monotonic()
    subprocess.run([BENCH, "-p", str(s.port), "-c", "50", "-n", str(n), "-t", "set", "-r", "100000",
                    "-d", "16", "-q"], capture_output=True, timeout=1800)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(s.proc.pid) - c0
    out = {"rps": n / wall, "cpu_us_per_write": cpu / n * 1e6}
    if replica is not None:
        wait_synced(s, replica)
        out["replica_cpu_us_per_write"] = (cpu_seconds(replica.proc.pid) - rc0) / n * 1e6
    return out


def lag_under_load(p: Server, r: Server, n: int) -> list[float]:
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
    return lags


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


def median_of(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def run(quick: bool, rounds: int) -> dict[str, Any]:
    """Writes, lag and WAIT in interleaved rounds over both servers, then the full syncs."""
    n = 100_000 if quick else 300_000
    keys = 200_000 if quick else 1_000_000
    kinds = ("moonkv", "redis")
    roots: list[str] = []
    servers: dict[str, tuple[Server, Server, Server]] = {}
    out: dict[str, Any] = {k: {"alone": [], "with_replica": [], "lag_ms": []} for k in kinds}
    try:
        for kind in kinds:
            root = tempfile.mkdtemp(prefix=f"repl-{kind}-")
            roots.append(root)
            os.makedirs(os.path.join(root, "a"))
            alone = Server(kind, os.path.join(root, "a"), pair_args(kind))
            p, r = pair(kind, root)
            servers[kind] = (alone, p, r)
            full_sync(p, r)
        for _ in range(rounds):  # a primary that never had a replica, then one with a replica
            for kind in kinds:
                alone, p, r = servers[kind]
                out[kind]["alone"].append(writes(alone, n))
                out[kind]["with_replica"].append(writes(p, n, replica=r))
                wait_synced(p, r)
        for _ in range(rounds):
            for kind in kinds:
                _alone, p, r = servers[kind]
                out[kind]["lag_ms"] += lag_under_load(p, r, n)
                wait_synced(p, r)
        for kind in kinds:
            out[kind]["wait"] = wait_latency(servers[kind][1], 1000 if quick else 3000)
    finally:
        for trio in servers.values():
            for s in trio:
                s.stop()
    out["full_sync_s"] = {k: [] for k in kinds}
    for _ in range(max(1, rounds // 2)):
        for kind in kinds:
            root = tempfile.mkdtemp(prefix=f"repl-sync-{kind}-")
            roots.append(root)
            p, r = pair(kind, root)
            try:
                populate(p, keys)
                out["full_sync_s"][kind].append(full_sync(p, r))
            finally:
                p.stop()
                r.stop()
    out["keys"] = keys
    out["writes_per_round"] = n
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    return out


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    res = run(a.quick, a.rounds)
    m, rd = res["moonkv"], res["redis"]

    def cpu(side: dict[str, Any], what: str, key: str = "cpu_us_per_write") -> float:
        return median_of(side[what], key)

    rows = [
        ("primary CPU µs/write, no replica", cpu(m, "alone"), cpu(rd, "alone")),
        ("primary CPU µs/write, one replica", cpu(m, "with_replica"), cpu(rd, "with_replica")),
        ("replica CPU µs/write applied", cpu(m, "with_replica", "replica_cpu_us_per_write"),
         cpu(rd, "with_replica", "replica_cpu_us_per_write")),
        ("lag p50 ms (-c 50 SET load)", statistics.median(m["lag_ms"]), statistics.median(rd["lag_ms"])),
        ("lag p99 ms (-c 50 SET load)", pct(m["lag_ms"], 0.99), pct(rd["lag_ms"], 0.99)),
        (f"full sync of {res['keys']} keys, s", statistics.median(res["full_sync_s"]["moonkv"]),
         statistics.median(res["full_sync_s"]["redis"])),
        ("WAIT 1 p50 ms", m["wait"]["wait_p50_ms"], rd["wait"]["wait_p50_ms"]),
        ("WAIT 1 p99 ms", m["wait"]["wait_p99_ms"], rd["wait"]["wait_p99_ms"]),
    ]
    print(f"medians of {a.rounds} interleaved rounds of {res['writes_per_round']} writes")
    print("| measure | moonkv | redis |\n|---|---|---|")
    for name, a1, b1 in rows:
        print(f"| {name} | {a1:.2f} | {b1:.2f} |")
    print(f"\nprimary CPU per write with a replica / without: moonkv x{rows[1][1] / rows[0][1]:.2f}, "
          f"redis x{rows[1][2] / rows[0][2]:.2f}")
    print(f"full sync moonkv/redis: x{rows[5][1] / rows[5][2]:.2f}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    ts = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(HERE, "results", f"replication-{ts}.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
