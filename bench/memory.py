"""Memory footprint of moonkv beside a real redis-server, same data, same run.

    .venv-wheel/bin/python bench/memory.py [--scale 1.0] [--only NAME ...] [--redis-server PATH]

For each dataset a fresh moonkv and a fresh redis-server are started (no
persistence), the same data is loaded into both with pipelined commands, and
the servers' resident set size (VmRSS) is printed side by side with the ratio.
``--scale 0.1`` loads a tenth of every dataset (a quick smoke run).

``--accuracy`` measures moonkv alone: the growth of its ``used_memory``
estimate (INFO memory) against the growth of its RSS for each dataset, the
table of docs/operations.md ("Memory"); the target is within 15 %.
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
from collections.abc import Callable, Iterator

Cmd = list[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def encode(args: Cmd) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _read_replies(self, n: int) -> None:
        # Every reply used here is a one-line reply (+OK / :n / -ERR) or a short bulk.
        while n:
            i = self.buf.find(b"\r\n")
            if i < 0:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
                continue
            line = self.buf[:i]
            self.buf = self.buf[i + 2 :]
            if line.startswith(b"-"):
                raise RuntimeError(line.decode())
            if line.startswith(b"$") and line != b"$-1":
                n += 1  # a bulk reply (XADD's id): its payload is the next line
            n -= 1

    def pipeline(self, cmds: Iterator[Cmd], batch: int = 200) -> None:
        pending: list[bytes] = []
        for cmd in cmds:
            pending.append(encode(cmd))
            if len(pending) >= batch:
                self.sock.sendall(b"".join(pending))
                self._read_replies(len(pending))
                pending = []
        if pending:
            self.sock.sendall(b"".join(pending))
            self._read_replies(len(pending))

    def call(self, *args: bytes) -> None:
        self.pipeline(iter([list(args)]))

    def used_memory(self) -> int:
        """INFO memory's used_memory (reads the bulk reply)."""
        self.sock.sendall(encode([b"INFO", b"memory"]))
        while b"\r\n" not in self.buf or len(self.buf) < self.buf.index(b"\r\n") + 2 + int(self.buf[1:self.buf.index(b"\r\n")]) + 2:
            self.buf += self.sock.recv(1 << 16)
        head = self.buf.index(b"\r\n")
        size = int(self.buf[1:head])
        body = self.buf[head + 2 : head + 2 + size]
        self.buf = self.buf[head + 4 + size :]
        for line in body.split(b"\r\n"):
            if line.startswith(b"used_memory:"):
                return int(line.split(b":")[1])
        raise RuntimeError("no used_memory in INFO")

    def close(self) -> None:
        self.sock.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not answer")


def start_moonkv(port: int, d: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--dir", d,
           "--appendonly", "no", "--save", ""]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, p)
    return p


def start_redis(exe: str, port: int, d: str) -> subprocess.Popen[bytes]:
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", d]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, p)
    return p


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# -- datasets ---------------------------------------------------------------------


def ds_strings(n: int) -> Iterator[Cmd]:
    per = 100
    for i in range(0, n, per):
        cmd: Cmd = [b"MSET"]
        for j in range(i, min(n, i + per)):
            cmd += [b"key:%d" % j, b"value:%d" % j]
        yield cmd


def ds_big_hash(n: int) -> Iterator[Cmd]:
    per = 100
    for i in range(0, n, per):
        cmd: Cmd = [b"HSET", b"bighash"]
        for j in range(i, min(n, i + per)):
            cmd += [b"field:%d" % j, b"value:%d" % j]
        yield cmd


def ds_many_hashes(n: int) -> Iterator[Cmd]:
    nh = max(1, n // 1000)
    for h in range(nh):
        for i in range(0, 1000, 100):
            cmd: Cmd = [b"HSET", b"hash:%d" % h]
            for j in range(i, i + 100):
                cmd += [b"field:%d" % j, b"value:%d" % j]
            yield cmd


def ds_list(n: int) -> Iterator[Cmd]:
    per = 200
    for i in range(0, n, per):
        yield [b"RPUSH", b"biglist", *(b"element:%d" % j for j in range(i, min(n, i + per)))]


def ds_set(n: int) -> Iterator[Cmd]:
    per = 200
    for i in range(0, n, per):
        yield [b"SADD", b"bigset", *(b"member:%d" % j for j in range(i, min(n, i + per)))]


def ds_zset(n: int) -> Iterator[Cmd]:
    per = 100
    for i in range(0, n, per):
        cmd: Cmd = [b"ZADD", b"bigzset"]
        for j in range(i, min(n, i + per)):
            cmd += [b"%d" % j, b"member:%d" % j]
        yield cmd


def ds_stream(n: int) -> Iterator[Cmd]:
    for i in range(n):
        yield [b"XADD", b"bigstream", b"*", b"myfield", b"value:%d" % i]


def ds_small_lists(n: int) -> Iterator[Cmd]:
    for h in range(n // 10):
        yield [b"RPUSH", b"queue:%d" % h, *(b"element:%d" % j for j in range(10))]


def ds_small_sets(n: int) -> Iterator[Cmd]:
    for h in range(n // 10):
        yield [b"SADD", b"tags:%d" % h, *(b"member:%d" % j for j in range(10))]


def ds_small_hashes(n: int) -> Iterator[Cmd]:
    for h in range(n // 10):
        yield [b"HSET", b"user:%d" % h, *(x for j in range(10) for x in (b"f%d" % j, b"value:%d" % j))]


def ds_small_zsets(n: int) -> Iterator[Cmd]:
    for h in range(n // 10):
        yield [b"ZADD", b"board:%d" % h, *(x for j in range(10) for x in (b"%d" % j, b"player:%d" % j))]


EXTRA: dict[str, tuple[str, Callable[[int], Iterator[Cmd]]]] = {
    "smallhashes": ("100k hashes of 10 fields (listpack in Redis)", ds_small_hashes),
    "smallzsets": ("100k sorted sets of 10 members (listpack in Redis)", ds_small_zsets),
    "smalllists": ("100k lists of 10 elements", ds_small_lists),
    "smallsets": ("100k sets of 10 members", ds_small_sets),
    "stream": ("a 1M-entry stream (XADD * myfield value:i)", ds_stream),
}

DATASETS: dict[str, tuple[str, Callable[[int], Iterator[Cmd]]]] = {
    "strings": ("1M small string keys (MSET key:i value:i)", ds_strings),
    "bighash": ("one hash of 1M fields", ds_big_hash),
    "hashes": ("1000 hashes of 1000 fields", ds_many_hashes),
    "list": ("a 1M-element list", ds_list),
    "set": ("a 1M-member set", ds_set),
    "zset": ("a 1M-member sorted set", ds_zset),
}


def measure(name: str, n: int, redis_exe: str) -> tuple[int, int, int, int]:
    """(moonkv empty, moonkv loaded, redis empty, redis loaded) RSS in KiB."""
    gen = {**DATASETS, **EXTRA}[name][1]
    out = []
    for kind in ("moonkv", "redis"):
        d = tempfile.mkdtemp(prefix=f"memb-{kind}-")
        port = free_port()
        p = start_moonkv(port, d) if kind == "moonkv" else start_redis(redis_exe, port, d)
        try:
            time.sleep(0.3)
            base = rss_kib(p.pid)
            conn = Conn(port)
            conn.pipeline(gen(n))
            conn.close()
            time.sleep(0.5)
            out += [base, rss_kib(p.pid)]
        finally:
            stop(p)
            shutil.rmtree(d, ignore_errors=True)
    return out[0], out[1], out[2], out[3]


def accuracy(name: str, n: int) -> tuple[int, int]:
    """(RSS growth, used_memory growth) in bytes of moonkv loading one dataset."""
    gen = {**DATASETS, **EXTRA}[name][1]
    d = tempfile.mkdtemp(prefix="memb-acc-")
    port = free_port()
    p = start_moonkv(port, d)
    try:
        conn = Conn(port)
        time.sleep(0.3)
        base, used0 = rss_kib(p.pid), conn.used_memory()
        conn.pipeline(gen(n))
        time.sleep(0.5)
        grown, used1 = rss_kib(p.pid), conn.used_memory()
        conn.close()
        return (grown - base) * 1024, used1 - used0
    finally:
        stop(p)
        shutil.rmtree(d, ignore_errors=True)


def main_accuracy(names: list[str], n: int) -> int:
    print(f"# moonkv's used_memory growth against its RSS growth, N={n}")
    print(f"{'dataset':<11} {'RSS MiB':>8} {'used MiB':>9} {'error':>7}  description")
    worst = 0.0
    for name in names:
        rss, used = accuracy(name, n)
        err = (used - rss) / rss
        worst = max(worst, abs(err))
        print(f"{name:<11} {rss / 2**20:8.1f} {used / 2**20:9.1f} {100 * err:+6.1f}%  "
              f"{({**DATASETS, **EXTRA})[name][0]}", flush=True)
    print(f"# worst error {100 * worst:.1f}% (target within 15%)")
    return 0 if worst <= 0.15 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", choices=sorted({**DATASETS, **EXTRA}))
    ap.add_argument("--extra", action="store_true",
                    help="also measure small listpack-encoded containers (outside the 3x target)")
    ap.add_argument("--accuracy", action="store_true",
                    help="moonkv only: its used_memory estimate against its RSS growth, every dataset")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    args = ap.parse_args()
    n = max(1000, int(1_000_000 * args.scale))
    names = args.only or list(DATASETS) + (list(EXTRA) if args.extra else [])
    if args.accuracy:
        return main_accuracy(args.only or [*DATASETS, *EXTRA], n)
    ver = subprocess.run([args.redis_server, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# moonkv vs {ver}")
    print(f"# scale={args.scale} (N={n}); RSS in MiB; ratio = moonkv RSS / redis RSS")
    print(f"{'dataset':<10} {'moonkv':>9} {'redis':>9} {'ratio':>6}   {'moonkv(data)':>12} {'redis(data)':>11}  description")
    worst = 0.0
    for name in names:
        mb, ml, rb, rl = measure(name, n, args.redis_server)
        ratio = ml / rl
        if name in DATASETS:
            worst = max(worst, ratio)
        print(
            f"{name:<10} {ml / 1024:9.1f} {rl / 1024:9.1f} {ratio:6.2f}   "
            f"{(ml - mb) / 1024:12.1f} {(rl - rb) / 1024:11.1f}  {({**DATASETS, **EXTRA})[name][0]}",
            flush=True,
        )
    print(f"# worst ratio {worst:.2f} (target <= 3.0)")
    return 0 if worst <= 3.0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
