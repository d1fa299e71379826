#!/usr/bin/env python3
"""moonkv vs redis-server, side by side, driven by redis-benchmark.

    .venv-wheel/bin/python bench/run.py [--quick] [--rounds N] [--only core|types|scripting[,...]] [--no-pipeline]

Starts moonkv (``--appendonly no --save ""``) and Debian's ``redis-server``
(``--save "" --appendonly no``) on free loopback ports, then for every test
and pipeline depth (1 and 16) runs ``redis-benchmark -c 50`` against each
server in turn, and reports requests/s, p50/p99 latency (from ``--csv``) and
the server's CPU time per request: the utime+stime delta of ``/proc/PID/stat``
around the redis-benchmark run divided by the number of requests.  Both
servers run on the same CPU and redis-benchmark on the others (``--no-pin``
turns that off).  On two
cores the benchmark client is the bottleneck, so requests/s hides most of the
difference between servers; CPU per request does not.

A test that fails on one server (unknown command, a script error, a crash) is
reported as an error for that server; the run goes on (a crashed server is
restarted).  Results go to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIENTS = 50
KEYSPACE = 100_000
BENCH_TIMEOUT = 300.0

# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class RespConn:
    """A tiny blocking RESP client for setup (no dependency on redis-py)."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    @staticmethod
    def encode(args: Sequence[bytes | str | int]) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2 :]
                return line
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self.buf += chunk

    def reply(self) -> Any:
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("connection closed by server")
                self.buf += chunk
            body, self.buf = self.buf[:n], self.buf[n + 2 :]
            return body
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b"_":
            return None
        return line

    def call(self, *args: bytes | str | int) -> Any:
        self.sock.sendall(self.encode(args))
        r = self.reply()
        if isinstance(r, RuntimeError):
            raise r
        return r

    def pipeline(self, cmds: Sequence[Sequence[bytes | str | int]]) -> list[Any]:
        self.sock.sendall(b"".join(self.encode(c) for c in cmds))
        out = [self.reply() for _ in cmds]
        for r in out:
            if isinstance(r, RuntimeError):
                raise r
        return out


@dataclass
class Server:
    name: str
    argv_fn: Callable[[int, str], list[str]]
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    dir: str = ""
    log_path: str = ""
    restarts: int = 0
    version: str = ""
    build: str = ""  # moonkv's INFO moonkv_build: native (mypyc) or python
    # Where redis-benchmark connects when not the plaintext port (bench/tls.py: the TLS
    # port), and the options that go with it (--tls and the certificates).
    bench_port: int = 0
    bench_options: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"bench-{self.name}-")
        self.log_path = os.path.join(self.dir, "server.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv_fn(self.port, self.dir), stdout=log, stderr=subprocess.STDOUT,
                cwd=self.dir, preexec_fn=pinner(PIN.server),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            try:
                c = RespConn(self.port, timeout=1)
                try:
                    if c.call("PING") == "PONG":
                        info = c.call("INFO", "server")
                        for line in (info or b"").decode().splitlines():
                            if line.startswith(("redis_version:", "moonkv_version:")):
                                self.version = self.version or line.split(":", 1)[1].strip()
                            elif line.startswith("moonkv_build:"):
                                self.build = line.split(":", 1)[1].strip()
                        return
                finally:
                    c.close()
            except (OSError, RuntimeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer PING on port {self.port}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 15) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def conn(self) -> RespConn:
        return RespConn(self.port)


@dataclass
class Pinning:
    """Which CPUs the servers and redis-benchmark run on (None: anywhere).

    Both servers get the same CPU and the client the others: both are measured
    under the same placement, never sharing a core with the client or moving
    between cores mid-run."""

    server: set[int] | None = None
    client: set[int] | None = None


PIN = Pinning()


def pin_cpus(enabled: bool) -> None:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if enabled and len(cpus) >= 2:
        PIN.server, PIN.client = {cpus[-1]}, set(cpus[:-1])
    else:
        PIN.server = PIN.client = None


def pinner(cpus: set[int] | None) -> Callable[[], None] | None:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def moonkv_argv(port: int, d: str) -> list[str]:
    return [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--bind", "127.0.0.1",
            "--dir", d, "--appendonly", "no", "--save", ""]


def redis_argv(port: int, d: str) -> list[str]:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", d, "--logfile", ""]


# --------------------------------------------------------------------------- tests


@dataclass
class Test:
    group: str
    name: str
    bench: list[str]  # ["-t", "set"] or a custom command
    n: int  # requests for a non-pipelined run (pipelined runs do PIPE_SCALE times more)
    prepare: Callable[[RespConn], None] | None = None
    target_p1: float | None = None  # max moonkv/redis CPU-per-op ratio
    target_p16: float | None = None
    keyspace: int = KEYSPACE


PIPE_SCALE = 5


def field_name(i: int) -> bytes:
    # redis-benchmark replaces __rand_int__ with a 12-digit zero-padded number.
    return b"%012d" % i


def fill(c: RespConn, cmd: str, key: str, items: Sequence[Sequence[bytes]], per_call: int = 1000) -> None:
    c.call("DEL", key)
    batch: list[list[bytes | str]] = []
    for i in range(0, len(items), per_call):
        args: list[bytes | str] = [cmd, key]
        for it in items[i : i + per_call]:
            args.extend(it)
        batch.append(args)
        if len(batch) == 50:
            c.pipeline(batch)
            batch = []
    if batch:
        c.pipeline(batch)


def prep_hash(c: RespConn) -> None:
    fill(c, "HSET", "myhash", [(field_name(i), b"v") for i in range(KEYSPACE)])


def prep_list(c: RespConn) -> None:
    # Enough elements that LPOP never runs dry in the pipelined run.
    fill(c, "RPUSH", "mylist", [(b"v",)] * 600_000, per_call=5000)


def prep_set(c: RespConn) -> None:
    fill(c, "SADD", "myset", [(field_name(i),) for i in range(0, KEYSPACE, 2)])


def prep_zset(c: RespConn) -> None:
    fill(c, "ZADD", "myzset", [(b"%d" % i, field_name(i)) for i in range(KEYSPACE)])


def prep_biglist(c: RespConn) -> None:
    fill(c, "RPUSH", "biglist", [(b"x",)] * 1_000_000, per_call=10_000)


def prep_flush(c: RespConn) -> None:
    c.call("FLUSHALL")


SCRIPTS: dict[str, str] = {
    "get": "return redis.call('GET', KEYS[1])",
    "set_expire": "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], 100)",
    "token_bucket": (
        # KEYS[1] bucket; ARGV: rate (tokens/s), capacity, requested
        "local rate = tonumber(ARGV[1]) local cap = tonumber(ARGV[2]) "
        "local want = tonumber(ARGV[3]) "
        "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
        "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts') "
        "local tokens = tonumber(v[1]) or cap local ts = tonumber(v[2]) or now "
        "tokens = math.min(cap, tokens + (now - ts) * rate / 1000) "
        "local ok = 0 if tokens >= want then tokens = tokens - want ok = 1 end "
        "redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now) "
        "redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000)) "
        "return ok"
    ),
    "ten_calls": (
        "redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1]) "
        "redis.call('INCR', KEYS[2]) redis.call('GET', KEYS[2]) "
        "redis.call('SET', KEYS[3], ARGV[1]) redis.call('APPEND', KEYS[3], 'x') "
        "redis.call('STRLEN', KEYS[3]) redis.call('EXISTS', KEYS[1]) "
        "redis.call('DEL', KEYS[3]) return redis.call('GET', KEYS[1])"
    ),
    "lpush": "return redis.call('LPUSH', KEYS[1], ARGV[1])",
}


def sha1(body: str) -> str:
    return hashlib.sha1(body.encode()).hexdigest()


def load_scripts(c: RespConn) -> None:
    for body in SCRIPTS.values():
        got = c.call("SCRIPT", "LOAD", body)
        if isinstance(got, bytes):
            got = got.decode()
        if got != sha1(body):
            raise RuntimeError(f"SCRIPT LOAD returned {got!r}, expected {sha1(body)}")


def prep_scripts(c: RespConn) -> None:
    c.call("FLUSHALL")
    load_scripts(c)


def prep_scripts_biglist(c: RespConn) -> None:
    prep_biglist(c)
    load_scripts(c)


def all_tests(n1: int) -> list[Test]:
    r = "__rand_int__"
    t: list[Test] = []
    core = [("SET", "set", 1.5, 3.0), ("GET", "get", 1.5, 3.0), ("INCR", "incr", None, None),
            ("MSET (10 keys)", "mset", None, None), ("PING_MBULK", "ping_mbulk", None, None)]
    for name, tname, p1, p16 in core:
        t.append(Test("core", name, ["-t", tname], n1, prep_flush if tname == "set" else None,
                      p1, p16))
    types = [
        ("HSET", ["hset", "myhash", r, "v"], prep_hash),
        ("HGET", ["hget", "myhash", r], None),
        ("LPUSH", ["lpush", "mylist", "v"], prep_list),
        ("LPOP", ["lpop", "mylist"], None),
        ("SADD", ["sadd", "myset", r], prep_set),
        ("SISMEMBER", ["sismember", "myset", r], None),
        ("ZADD", ["zadd", "myzset", r, r], prep_zset),
        ("ZRANGE 0 9", ["zrange", "myzset", "0", "9"], None),
        ("ZRANK", ["zrank", "myzset", r], None),
    ]
    for name, cmd, prep in types:
        t.append(Test("types", name, cmd, n1, prep, 2.5, None))
    s = {k: sha1(v) for k, v in SCRIPTS.items()}
    scripting = [
        ("EVALSHA get", ["evalsha", s["get"], "1", f"key:{r}"], prep_scripts, n1),
        ("EVALSHA set+expire", ["evalsha", s["set_expire"], "1", f"key:{r}", "v"], None, n1),
        ("EVALSHA token bucket", ["evalsha", s["token_bucket"], "1", f"bucket:{r}", "10", "100",
                                  "1"], None, n1),
        ("EVALSHA 10 calls", ["evalsha", s["ten_calls"], "3", f"a:{r}", f"b:{r}", f"c:{r}", "v"],
         None, n1),
        ("EVAL new script", ["eval", f"local n = {r} return redis.call('GET', KEYS[1])", "1",
                             "key"], None, max(n1 // 4, 1000)),
        ("LPUSH 1M list", ["lpush", "biglist", "x"], prep_scripts_biglist, n1),
        ("EVALSHA LPUSH 1M list", ["evalsha", s["lpush"], "1", "biglist", "x"], None, n1),
    ]
    for name, cmd, prep, n in scripting:
        ks = 1_000_000_000 if name == "EVAL new script" else KEYSPACE
        t.append(Test("scripting", name, cmd, n, prep, None, None, keyspace=ks))
    return t


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    test: str
    group: str
    pipeline: int
    server: str
    requests: int = 0
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float | None = None
    cpu_us_per_op: float | None = None
    wall_s: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    round: int = 0


def parse_csv(text: str) -> dict[str, str] | None:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        return None
    header = rows[0]
    for row in rows[1:]:
        if len(row) == len(header):
            return dict(zip(header, row, strict=True))
    return None


def run_one(srv: Server, test: Test, pipeline: int, n: int) -> Result:
    res = Result(test.name, test.group, pipeline, srv.name, requests=n)
    if not srv.alive():
        try:
            srv.restart()
        except RuntimeError as e:
            res.error = f"server down: {e}"
            return res
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(srv.bench_port or srv.port),
           "-c", str(CLIENTS), "-n", str(n), "-r", str(test.keyspace), "-P", str(pipeline), "--csv"]
    cmd += srv.bench_options
    cmd += test.bench
    try:
        cpu0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=BENCH_TIMEOUT,
                           preexec_fn=pinner(PIN.client))
        res.wall_s = time.monotonic() - t0
        cpu1 = cpu_seconds(srv.pid)
    except subprocess.TimeoutExpired:
        res.error = f"redis-benchmark timed out after {BENCH_TIMEOUT:.0f}s"
        return res
    except FileNotFoundError:
        res.error = f"server died during the run; log: {srv.log_tail(3).strip()[-300:]}"
        return res
    errlines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    row = parse_csv(p.stdout)
    if p.returncode != 0 or row is None:
        msg = next((ln for ln in errlines if "rror" in ln), errlines[-1] if errlines else "")
        msg = msg.replace("Error from server: ", "").split(", with args beginning with")[0]
        res.error = (msg or f"redis-benchmark exit code {p.returncode}")[:160]
        if not srv.alive():
            res.error = f"server died: {res.error}; log: {srv.log_tail(3).strip()[-300:]}"
        return res
    res.rps = float(row["rps"])
    res.p50_ms = float(row["p50_latency_ms"])
    res.p99_ms = float(row["p99_latency_ms"])
    res.cpu_s = cpu1 - cpu0
    res.cpu_us_per_op = res.cpu_s / n * 1e6
    return res


def prepare(srv: Server, test: Test) -> str | None:
    if test.prepare is None:
        return None
    if not srv.alive():
        try:
            srv.restart()
        except RuntimeError as e:
            return f"server down: {e}"
    try:
        c = srv.conn()
        try:
            test.prepare(c)
        finally:
            c.close()
    except (OSError, RuntimeError, ConnectionError) as e:
        return f"setup failed: {e}"[:200]
    return None


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    bench_v = subprocess.run(["redis-benchmark", "--version"], capture_output=True, text=True)
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "server_cpus": sorted(PIN.server) if PIN.server else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis_benchmark": bench_v.stdout.strip(),
    }
    for mod in ("uvloop", "hiredis", "lupa"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except ImportError:
            info[mod] = None
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5x fewer requests (a smoke run)")
    ap.add_argument("--only", default="core,types,scripting",
                    help="comma-separated groups: core, types, scripting")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the -P 16 runs")
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per non-pipelined run (default 100000, --quick 20000)")
    ap.add_argument("--test", action="append", default=[],
                    help="only tests whose name contains this (repeatable)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs per test and server, alternating servers; medians are reported")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin the servers and redis-benchmark to separate CPUs")
    args = ap.parse_args(argv)
    pin_cpus(not args.no_pin)
    if shutil.which("redis-benchmark") is None:
        print("bench: redis-benchmark not found (apt-get install redis-tools)", file=sys.stderr)
        return 2
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    for g in groups:
        if g not in ("core", "types", "scripting"):
            ap.error(f"unknown group {g!r}")
    n1 = args.requests or (20_000 if args.quick else 100_000)
    tests = [t for t in all_tests(n1) if t.group in groups]
    if args.test:
        tests = [t for t in tests if any(s.lower() in t.name.lower() for s in args.test)]
    pipelines = [1] if args.no_pipeline else [1, 16]

    servers = [Server("moonkv", moonkv_argv), Server("redis", redis_argv)]
    started = _dt.datetime.now(_dt.UTC)
    for s in servers:
        s.start()
    results: list[Result] = []
    load_before = os.getloadavg()
    print(f"moonkv pid {servers[0].pid} port {servers[0].port} build {servers[0].build or '?'} | "
          f"redis {servers[1].version} "
          f"pid {servers[1].pid} port {servers[1].port} | -c {CLIENTS} | "
          f"servers on CPU {sorted(PIN.server) if PIN.server else 'any'} | "
          f"load average {load_before[0]:.1f}", flush=True)
    try:
        run_tests(servers, tests, pipelines, args.rounds, results)
    finally:
        for s in servers:
            s.stop()

    load_after = os.getloadavg()
    rows, verdicts = summarize(tests, pipelines, results)
    print()
    print_table(rows)
    if verdicts:
        print()
        print("targets (moonkv/redis server CPU per request):")
        for v in verdicts:
            print(f"  {v['test']:<24} P{v['pipeline']:<2} ratio {fmt(v['ratio'], '.2f'):>6} "
                  f"<= {v['target']:.1f}x  {'MET' if v['met'] else 'NOT MET'}")
    extra = scripting_extras(results)
    for line in extra["lines"]:
        print(line)

    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(RESULTS_DIR, f"{stamp}.json")
    doc = {
        "started": started.isoformat(),
        "command": " ".join([os.path.relpath(sys.argv[0]) if sys.argv else "bench/run.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_info(),
        "servers": {
            s.name: {"version": s.version, "build": s.build, "restarts": s.restarts} for s in servers
        },
        "clients": CLIENTS,
        "load_average": {"before": load_before, "after": load_after},
        "results": [r.__dict__ for r in results],
        "summary": rows,
        "targets": verdicts,
        "scripting_ratios": extra["ratios"],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    print(f"\nload average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          f"({os.cpu_count()} CPUs): other work on the machine inflates CPU per request")
    print(f"results: {os.path.relpath(path)}")
    return 0


def run_tests(servers: list[Server], tests: list[Test], pipelines: list[int], rounds: int,
              results: list[Result]) -> None:
    """Every test at every pipeline depth, ``rounds`` times, the servers taking turns."""
    for test in tests:
        setup_err = {s.name: prepare(s, test) for s in servers}
        for pl in pipelines:
            n = test.n * (PIPE_SCALE if pl > 1 else 1)
            for rnd in range(rounds):
                for s in servers:
                    if setup_err[s.name]:
                        r = Result(test.name, test.group, pl, s.name, n, error=setup_err[s.name])
                    else:
                        r = run_one(s, test, pl, n)
                    r.round = rnd
                    results.append(r)
                    status = r.error or (
                        f"{r.rps:>9.0f} req/s  cpu {r.cpu_us_per_op:6.2f} us/op"
                    )
                    print(f"  [{test.group}] {test.name:<24} P{pl:<2} {s.name:<6} {status}",
                          flush=True)


def rounds_of(results: list[Result]) -> dict[tuple[str, int, str], list[Result]]:
    """The rounds of each (test, pipeline, server), in round order."""
    runs: dict[tuple[str, int, str], list[Result]] = {}
    for r in results:
        runs.setdefault((r.test, r.pipeline, r.server), []).append(r)
    return runs


def _ok(rs: list[Result]) -> list[Result]:
    return [r for r in rs if r.error is None and r.cpu_us_per_op is not None]


def medians(results: list[Result]) -> dict[tuple[str, int, str], Result]:
    """One result per (test, pipeline, server): the round with the median CPU per request
    (the lower middle one for an even count); a failed round counts only if all failed."""
    out: dict[tuple[str, int, str], Result] = {}
    for key, rs in rounds_of(results).items():
        ok = sorted(_ok(rs), key=lambda r: r.cpu_us_per_op or 0.0)
        out[key] = ok[(len(ok) - 1) // 2] if ok else rs[0]
    return out


def summarize(
    tests: list[Test], pipelines: list[int], results: list[Result]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by = medians(results)
    rounds = {key: [r.cpu_us_per_op or 0.0 for r in _ok(rs)] for key, rs in rounds_of(results).items()}
    rows: list[dict[str, Any]] = []
    verdicts: list[dict[str, Any]] = []
    for t in tests:
        for pl in pipelines:
            m = by.get((t.name, pl, "moonkv"))
            rd = by.get((t.name, pl, "redis"))
            if m is None or rd is None:
                continue
            cr = ratio(m.cpu_us_per_op, rd.cpu_us_per_op)
            row = {
                "group": t.group, "test": t.name, "pipeline": pl,
                "moonkv": {k: getattr(m, k) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_op", "error")},
                "redis": {k: getattr(rd, k) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_op", "error")},
                "cpu_ratio": cr,
                "rps_ratio": ratio(m.rps, rd.rps),
                # Per round, moonkv's CPU per request over Redis's in the same round.
                "round_ratios": [round(a / b, 3) for a, b in zip(
                    rounds.get((t.name, pl, "moonkv"), []), rounds.get((t.name, pl, "redis"), []),
                    strict=False) if b],
            }
            rows.append(row)
            target = t.target_p1 if pl == 1 else t.target_p16
            if target is not None:
                verdicts.append({"test": t.name, "pipeline": pl, "target": target, "ratio": cr,
                                 "met": cr is not None and cr <= target})
    return rows, verdicts


def print_table(rows: list[dict[str, Any]]) -> None:
    hdr = (f"{'test':<24} {'P':>2} | {'moonkv req/s':>12} {'p50':>6} {'p99':>6} {'cpu/op':>7} | "
           f"{'redis req/s':>11} {'p50':>6} {'p99':>6} {'cpu/op':>7} | {'cpu x':>6} {'rps x':>6}")
    print("latency in ms, cpu/op = server CPU microseconds per request, x = moonkv/redis")
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            print(f"\n== {group} ==")
            print(hdr)
            print("-" * len(hdr))
        cells = []
        for side in ("moonkv", "redis"):
            d = row[side]
            if d["error"]:
                w = 34 if side == "moonkv" else 33
                cells.append(f"{'ERROR: ' + d['error']:<{w}.{w}}")
            else:
                w = 12 if side == "moonkv" else 11
                cells.append(f"{fmt(d['rps'], '.0f'):>{w}} {fmt(d['p50_ms'], '.3f'):>6} "
                             f"{fmt(d['p99_ms'], '.3f'):>6} {fmt(d['cpu_us_per_op'], '.2f'):>7}")
        rr = row.get("round_ratios") or []
        spread = f"  rounds {min(rr):.2f}-{max(rr):.2f}" if len(rr) > 1 else ""
        print(f"{row['test']:<24} {row['pipeline']:>2} | {cells[0]} | {cells[1]} | "
              f"{fmt(row['cpu_ratio'], '.2f'):>6} {fmt(row['rps_ratio'], '.2f'):>6}{spread}")
    errors = [(row["test"], row["pipeline"], side, row[side]["error"]) for row in rows
              for side in ("moonkv", "redis") if row[side]["error"]]
    if errors:
        print("\nerrors:")
        for test, pl, side, err in errors:
            print(f"  {test} P{pl} on {side}: {err}")


def scripting_extras(results: list[Result]) -> dict[str, Any]:
    """EVALSHA LPUSH vs plain LPUSH on a 1M-element list (the undo log must be O(1))."""
    by = medians(results)
    lines: list[str] = []
    ratios: list[dict[str, Any]] = []
    for pl in (1, 16):
        for srv in ("moonkv", "redis"):
            a = by.get(("EVALSHA LPUSH 1M list", pl, srv))
            b = by.get(("LPUSH 1M list", pl, srv))
            if a is None or b is None:
                continue
            rt = ratio(a.cpu_us_per_op, b.cpu_us_per_op)
            ratios.append({"server": srv, "pipeline": pl, "ratio": rt})
            if not lines:
                lines.append("\nEVALSHA LPUSH / plain LPUSH on a 1M-element list (CPU per request):")
            lines.append(f"  {srv:<6} P{pl:<2} {fmt(rt, '.2f')}x")
    return {"lines": lines, "ratios": ratios}


if __name__ == "__main__":
    sys.exit(main())
