#!/usr/bin/env python3
"""Durability benchmarks: moonkv beside redis-server, both with ``appendonly yes``.

    .venv-wheel/bin/python bench/durability.py [--quick] [--rounds N] [--skip-load] [--skip-write]

1. Write throughput and server CPU time per write (utime+stime of the server
   process, all threads, from /proc/PID/stat) for ``appendfsync always`` and
   ``everysec``: ``redis-benchmark -c 50 -t set -r 100000 -d 16``.
2. Start-up time for a log of 1M writes (moonkv's effects log vs Redis's AOF)
   and for a snapshot of 1M keys (moonkv's snapshot vs Redis's RDB): wall time
   from process start until PING answers PONG, and the load time the server
   itself logs.

Results are printed as a Markdown table and saved to bench/results/durability-<ts>.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
BENCH = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def ping_until_pong(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                while True:
                    s.sendall(b"PING\r\n")
                    d = s.recv(100)
                    if d.startswith(b"+PONG"):
                        return
                    if not d:
                        break
                    time.sleep(0.002)
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("no PONG")


class Server:
    def __init__(self, kind: str, dir: str, args: list[str]) -> None:
        self.kind = kind
        self.dir = dir
        self.port = free_port()
        self.log = os.path.join(dir, f"{kind}.log")
        if kind == "redis":
            cmd = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", dir,
                   "--logfile", self.log, *args]
        else:
            cmd = [sys.executable, "-m", "moonkv", "server", "--port", str(self.port),
                   "--dir", os.path.join(dir, "data"), *args]
        self.t0 = time.monotonic()
        with open(self.log if kind != "redis" else os.devnull, "ab") as lf:
            self.proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
        ping_until_pong(self.port, self.proc)
        self.ready_s = time.monotonic() - self.t0

    def call(self, *args: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s:
            out = [b"*%d\r\n" % len(args)]
            for a in args:
                b = a.encode()
                out.append(b"$%d\r\n%s\r\n" % (len(b), b))
            s.sendall(b"".join(out))
            return s.recv(65536)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.kill()

    def logged_load_seconds(self) -> float | None:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return None
        m = re.findall(r"DB loaded from (?:disk|append only file): ([0-9.]+) seconds", text)
        return sum(float(x) for x in m) if m else None


def server_args(kind: str, fsync: str) -> list[str]:
    return ["--appendonly", "yes", "--appendfsync", fsync, "--save", ""]


def bench_writes(kind: str, fsync: str, n: int) -> dict[str, Any]:
    d = tempfile.mkdtemp(prefix=f"dur-{kind}-")
    s = Server(kind, d, server_args(kind, fsync))
    try:
        subprocess.run([BENCH, "-p", str(s.port), "-c", "50", "-n", "2000", "-t", "set", "-q"],
                       capture_output=True, timeout=300)
        c0 = cpu_seconds(s.proc.pid)
        t0 = time.monotonic()
        out = subprocess.run(
            [BENCH, "-p", str(s.port), "-c", "50", "-n", str(n), "-t", "set", "-r", "100000",
             "-d", "16", "--csv"], capture_output=True, text=True, timeout=900,
        ).stdout
        wall = time.monotonic() - t0
        c1 = cpu_seconds(s.proc.pid)
        rps = 0.0
        for line in out.splitlines():
            parts = [p.strip('"') for p in line.split(",")]
            if parts and parts[0].upper().startswith("SET"):
                rps = float(parts[1])
        return {"server": kind, "fsync": fsync, "requests": n, "rps": rps, "wall_s": wall,
                "cpu_us_per_write": (c1 - c0) / n * 1e6}
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


def populate(port: int, n: int, prefix: str = "key:") -> None:
    """n SETs, pipelined 1000 at a time."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        val = b"v" * 16
        for start in range(0, n, 1000):
            out = []
            for i in range(start, min(start + 1000, n)):
                k = b"%s%d" % (prefix.encode(), i)
                out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(k), k, val))
            s.sendall(b"".join(out))
            need = min(1000, n - start) * 5
            got = 0
            while got < need:
                got += len(s.recv(1 << 20))


def bench_load(kind: str, what: str, n: int) -> dict[str, Any]:
    d = tempfile.mkdtemp(prefix=f"load-{kind}-")
    try:
        if what == "log":
            args = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                    "--auto-aof-rewrite-percentage", "0"]
            if kind == "redis":
                args += ["--aof-use-rdb-preamble", "yes"]
        else:
            args = ["--appendonly", "no", "--save", ""]
        s = Server(kind, d, args)
        populate(s.port, n)
        if what == "snapshot":
            s.call("SAVE")
        time.sleep(1.5)  # let everysec sync
        s.kill()
        size = 0
        for root, _dirs, files in os.walk(d):
            for f in files:
                if f.endswith((".aof", ".rdb", ".mkl", ".mkv")):
                    size += os.path.getsize(os.path.join(root, f))
        if kind == "moonkv":
            os.truncate(s.log, 0)
        s2 = Server(kind, d, args)
        ready = s2.ready_s
        keys = s2.call("DBSIZE")
        logged = s2.logged_load_seconds()
        s2.kill()
        return {"server": kind, "what": what, "writes": n, "bytes": size, "ready_s": ready,
                "logged_load_s": logged, "dbsize": keys.decode().strip()}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def bench_checkpoint(n: int) -> dict[str, Any]:
    """How long a checkpoint blocks the loop: SAVE (in-process) vs BGSAVE (fork)."""
    d = tempfile.mkdtemp(prefix="ckpt-moonkv-")
    try:
        s = Server("moonkv", d, ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])
        populate(s.port, n)
        t0 = time.monotonic()
        s.call("SAVE")
        save_s = time.monotonic() - t0
        with socket.create_connection(("127.0.0.1", s.port), timeout=600) as c:
            t0 = time.monotonic()
            c.sendall(b"BGSAVE\r\n")
            c.recv(100)
            fork_s = time.monotonic() - t0
            worst = 0.0
            while True:
                t1 = time.monotonic()
                c.sendall(b"INFO persistence\r\n")
                buf = b""
                while not buf.endswith(b"\r\n\r\n") and b"rdb_bgsave_in_progress" not in buf or not buf.endswith(b"\r\n"):
                    buf += c.recv(65536)
                worst = max(worst, time.monotonic() - t1)
                if b"rdb_bgsave_in_progress:0" in buf:
                    break
                time.sleep(0.01)
            bg_s = time.monotonic() - t0
        s.kill()
        return {"keys": n, "save_blocking_s": save_s, "bgsave_reply_s": fork_s,
                "bgsave_total_s": bg_s, "worst_reply_during_bgsave_s": worst}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-write", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per write test (medians)")
    a = ap.parse_args()
    results: dict[str, Any] = {"when": _dt.datetime.now(_dt.UTC).isoformat(), "writes": [], "loads": []}
    if not a.skip_write:
        # Interleaved rounds (redis, moonkv, redis, ...) and medians: on a shared machine both
        # servers then see the same conditions.
        for fsync, n in (("always", 20000 if a.quick else 100000), ("everysec", 50000 if a.quick else 200000)):
            runs: dict[str, list[dict[str, Any]]] = {"redis": [], "moonkv": []}
            for _ in range(a.rounds):
                for kind in ("redis", "moonkv"):
                    r = bench_writes(kind, fsync, n)
                    print(f"writes {fsync:8} {kind:6}: {r['rps']:9.0f} req/s  {r['cpu_us_per_write']:6.1f} µs CPU/write", flush=True)
                    runs[kind].append(r)
            for rs in runs.values():
                med = dict(rs[0])
                med["rps"] = statistics.median(x["rps"] for x in rs)
                med["cpu_us_per_write"] = statistics.median(x["cpu_us_per_write"] for x in rs)
                med["rounds"] = rs
                results["writes"].append(med)
    if not a.skip_load:
        n = 100_000 if a.quick else 1_000_000
        for what in ("log", "snapshot"):
            for kind in ("redis", "moonkv"):
                r = bench_load(kind, what, n)
                print(f"load {what:8} {kind:6}: ready in {r['ready_s']:.2f}s (logged {r['logged_load_s']}), "
                      f"{r['bytes'] / 1e6:.1f} MB, dbsize {r['dbsize']}", flush=True)
                results["loads"].append(r)
    if not a.skip_load:
        r = bench_checkpoint(100_000 if a.quick else 1_000_000)
        results["checkpoint"] = r
        print(f"checkpoint of {r['keys']} keys: SAVE blocks {r['save_blocking_s']:.2f}s; BGSAVE replies in "
              f"{r['bgsave_reply_s'] * 1e3:.1f} ms (fork), finishes in {r['bgsave_total_s']:.2f}s, worst reply "
              f"during it {r['worst_reply_during_bgsave_s'] * 1e3:.1f} ms", flush=True)
    print()
    print("| test | redis-server | moonkv | ratio |")
    print("|---|---|---|---|")
    w = {(r["server"], r["fsync"]): r for r in results["writes"]}
    for fsync in ("always", "everysec"):
        if ("redis", fsync) in w:
            rr, mm = w[("redis", fsync)], w[("moonkv", fsync)]
            print(f"| SET -c 50, appendfsync {fsync}: req/s | {rr['rps']:.0f} | {mm['rps']:.0f} | {mm['rps'] / rr['rps']:.2f}x |")
            print(f"| SET -c 50, appendfsync {fsync}: server CPU/write | {rr['cpu_us_per_write']:.1f} µs | {mm['cpu_us_per_write']:.1f} µs | {mm['cpu_us_per_write'] / rr['cpu_us_per_write']:.2f}x |")
    ld = {(r["server"], r["what"]): r for r in results["loads"]}
    for what in ("log", "snapshot"):
        if ("redis", what) in ld:
            rr, mm = ld[("redis", what)], ld[("moonkv", what)]
            print(f"| start-up, {what} of {rr['writes']} writes: until PONG | {rr['ready_s']:.2f} s | {mm['ready_s']:.2f} s | {mm['ready_s'] / rr['ready_s']:.2f}x |")
            if rr["logged_load_s"] and mm["logged_load_s"]:
                print(f"| start-up, {what}: load time logged by the server | {rr['logged_load_s']:.2f} s | {mm['logged_load_s']:.2f} s | {mm['logged_load_s'] / rr['logged_load_s']:.2f}x |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"durability-{int(time.time())}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
