#!/usr/bin/env python3
"""CPU instructions per request, counted by valgrind's callgrind: independent of the load.

    .venv-wheel/bin/python bench/callgrind.py [--only NAME,...] [--requests N] [--set NAME=VALUE ...]

Each scenario runs in process: the engine built as the server builds it (``assemble``, an empty
data directory, ``--appendonly no --save ""``), a connection with a transport that keeps nothing, and the requests fed to
``Connection.data_received`` followed by the iteration's flush, as the event loop calls
them.  What is left out is only the event loop and the system calls.  Each scenario runs
twice under callgrind, with N and 2N requests after the same set-up and warm-up; the
difference of the two totals over N is the count per request (the set-up, the interpreter's
start and the warm-up cancel out).  ``PYTHONHASHSEED=0``; the slow log's threshold is
raised so that valgrind's slowness logs nothing (a real run logs nothing either).  Repeated
runs agree within a few instructions per request.  A pipelined scenario sends 16 commands per read and reports per
command; PUBLISH reports per delivered message too.  ``--set`` changes the configuration
(``--set latency-tracking=no``); ``--set cluster-enabled=yes`` runs them on a cluster-mode node
that owns every slot (CLUSTER SETTOPOLOGY), against which the same scenarios without it are
standalone mode.  The ``logged`` scenarios log with ``appendonly yes``, ``appendfsync
everysec`` (the log written at each flush, as the server does); ``+replica`` adds a replica
connection attached with ``PSYNC`` (its full sync done before counting), whose transport keeps
nothing either.  ``SET logged+replica`` charges each write a whole loop iteration (one SET per
read, a flush after each); ``SET P16 logged+replica`` shares an iteration among 16, as a
primary under many clients shares its flush and its write to the replica.

``--cache-sim`` adds callgrind's cache simulation and reports, per command, the data reads
and writes that missed the first-level cache (D1) and the last level it models, given as
this machine's 4 MiB L2 (``--LL``): the random accesses a table of a million keys costs,
which instruction counts do not show.  ``CALLGRIND_TRACKED`` sets how many keys the ``GET
tracked`` and ``GET untracked`` scenarios hold and read (a tracking client read them all
first; default 20,000).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import SCRIPTS as RUN_SCRIPTS  # noqa: E402  (bench/run.py: the scripts the benchmarks run)
from run import sha1  # noqa: E402

SCRIPTS = {**RUN_SCRIPTS, "one": "return 1"}

# name -> (requests per read, set-up, the reads: one is fed per request, cycling)
Scenario = tuple[int, Callable[["Harness"], None], Callable[["Harness"], list[bytes]]]


def resp(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        v = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(out)


class Transport:
    """What a Connection needs of an asyncio transport; it keeps only the last write."""

    def __init__(self) -> None:
        self.last = b""

    def write(self, data: bytes) -> None:
        self.last = data

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else None

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Harness:
    def __init__(self, settings: list[tuple[str, str]], directory: str) -> None:
        from moonkv.engine import Config
        from moonkv.server import ServerProcess, assemble

        config = Config()
        # Under valgrind a command runs ~50x slower and the shared machine deschedules it:
        # the default 10 ms slow-log threshold would log commands a real run never logs.
        # 100 s keeps the threshold test and logs nothing.
        base = [("save", ""), ("appendonly", "no"), ("slowlog-log-slower-than", "100000000")]
        for name, value in [*base, *settings, ("dir", directory)]:
            config.load(name, value)
        # A data directory (empty, as a server started with --appendonly no --save "") in
        # every mode, so that standalone and cluster mode differ only by cluster-enabled.
        self.server = assemble(config)
        self.server.persistence.load_now()
        self.proc = ServerProcess(self.server)
        if self.server.replication is not None:  # as the listener's start hands it over
            self.server.replication.defer = self.proc.outbox.defer
        self.conn = self.connect()
        if config["cluster-enabled"]:
            self.own_every_slot()

    def own_every_slot(self) -> None:
        """A topology giving this node slots 0-16383 (as bench/cluster_slot.py sets its node up)."""
        node = self.server.cluster.node
        top = {"version": 1, "name": "bench", "migrations": [], "nodes": [
            {"id": node.myid, "host": "127.0.0.1", "port": self.server.config["port"], "tls_port": 0,
             "role": "primary", "primary": None, "slots": [[0, 16383]], "failed": False}]}
        self.send(resp("CLUSTER", "SETTOPOLOGY", 1, json.dumps(top)))
        if not self.server.cluster.ok:
            raise SystemExit(f"the topology was not applied: {self.conn.transport.last!r}")

    def connect(self) -> Any:
        from moonkv.server._connection import Connection

        conn = Connection(self.proc)
        conn.connection_made(Transport())  # type: ignore[arg-type]
        return conn

    def send(self, data: bytes, conn: Any = None) -> None:
        (conn or self.conn).data_received(data)
        self.proc.outbox.flush()

    def mset(self, keys: int, value: bytes = b"v") -> None:
        """SETs pipelined by 1000 (an MSET of keys of different slots is refused in cluster mode)."""
        for start in range(0, keys, 1000):
            self.send(b"".join(resp("SET", b"key:%d" % i, value) for i in range(start, min(keys, start + 1000))))
            if self.conn.transport.last != b"+OK\r\n" * (min(keys, start + 1000) - start):
                raise SystemExit(f"set-up: {self.conn.transport.last[:200]!r}")


def keys_reads(cmd: Callable[[int], bytes], pipeline: int = 1, distinct: int = 1000) -> list[bytes]:
    """1000 reads of ``pipeline`` commands each, over ``distinct`` keys."""
    step = max(1, distinct // (1000 * pipeline))
    return [b"".join(cmd(((i * pipeline + j) * step) % distinct) for j in range(pipeline)) for i in range(1000)]


def no_setup(h: Harness) -> None:
    h.mset(1000)


def load_scripts(h: Harness) -> None:
    h.mset(1000)
    for body in SCRIPTS.values():
        h.send(resp("SCRIPT", "LOAD", body))


def evalsha(script: str, *keys_args: str) -> Callable[[int], bytes]:
    sha = sha1(SCRIPTS[script])
    return lambda i: resp("EVALSHA", sha, *[a.replace("#", str(i)) for a in keys_args])


TRACKED = int(os.environ.get("CALLGRIND_TRACKED", "20000"))  # keys a tracking client read


def fill(h: Harness, keys: int) -> None:
    """MSETs of 1000 keys (cheaper to set up under valgrind than a million SETs)."""
    for start in range(0, keys, 1000):
        h.send(resp("MSET", *[a for i in range(start, min(keys, start + 1000)) for a in (b"key:%d" % i, b"v")]))
        if h.conn.transport.last != b"+OK\r\n":
            raise SystemExit(f"set-up: {h.conn.transport.last[:200]!r}")


def tracking_setup(h: Harness) -> None:
    """One RESP3 connection tracks TRACKED keys (it read them all), as bench/tracking.py."""
    fill(h, TRACKED)
    h.send(resp("HELLO", "3"))
    h.send(resp("CLIENT", "TRACKING", "on"))
    for start in range(0, TRACKED, 1000):
        h.send(resp("MGET", *[b"key:%d" % i for i in range(start, min(TRACKED, start + 1000))]))


def subscribers(k: int) -> Callable[[Harness], None]:
    def setup(h: Harness) -> None:
        for _ in range(k):
            h.send(resp("SUBSCRIBE", "bench-channel"), h.connect())
    return setup


def hll_setup(h: Harness) -> None:
    for k in range(4):  # dense: 20k elements each
        for start in range(0, 20000, 1000):
            h.send(resp("PFADD", f"hll:{k}", *[b"e%d:%d" % (k, i) for i in range(start, start + 1000)]))


def replica_setup(h: Harness) -> None:
    """A replica connection attached with PSYNC; its full sync (a forked snapshot) done."""
    h.mset(1000)
    replica = h.connect()
    h.send(resp("REPLCONF", "listening-port", "40001"), replica)
    h.send(resp("PSYNC", "?", "-1"), replica)
    node = h.server.replication
    deadline = time.monotonic() + 600
    while node.child is not None:  # the listener's loop polls the snapshot child; no loop here
        if time.monotonic() > deadline:
            raise SystemExit("the replica's snapshot never finished")
        time.sleep(0.05)
        node._poll_child()
    h.proc.outbox.flush()
    if not any(p.state == "online" for p in node.peers):
        raise SystemExit("the replica is not online")


SET = lambda i: resp("SET", b"key:%d" % i, b"xxx")  # noqa: E731
GET = lambda i: resp("GET", b"key:%d" % i)  # noqa: E731

SCENARIOS: dict[str, Scenario] = {
    "GET": (1, no_setup, lambda h: keys_reads(GET)),
    "SET": (1, no_setup, lambda h: keys_reads(SET)),
    "GET P16": (16, no_setup, lambda h: keys_reads(GET, 16)),
    "SET P16": (16, no_setup, lambda h: keys_reads(SET, 16)),
    "EVALSHA return 1": (1, load_scripts, lambda h: [resp("EVALSHA", sha1("return 1"), "0")]),
    "EVALSHA GET": (1, load_scripts, lambda h: keys_reads(evalsha("get", "1", "key:#"))),
    "EVALSHA GET P16": (16, load_scripts, lambda h: keys_reads(evalsha("get", "1", "key:#"), 16)),
    "EVALSHA SET+EXPIRE": (1, load_scripts, lambda h: keys_reads(evalsha("set_expire", "1", "key:#", "v"))),
    "EVALSHA token bucket": (1, load_scripts, lambda h: keys_reads(
        evalsha("token_bucket", "1", "bucket:#", "10", "100", "1"))),
    "EVALSHA 10 calls": (1, load_scripts, lambda h: keys_reads(
        evalsha("ten_calls", "3", "a:#", "b:#", "c:#", "v"))),
    "GET tracked": (16, tracking_setup, lambda h: keys_reads(GET, 16, TRACKED)),
    "GET untracked": (16, lambda h: fill(h, TRACKED), lambda h: keys_reads(GET, 16, TRACKED)),
    "PUBLISH 1 sub": (16, subscribers(1), lambda h: [resp("PUBLISH", "bench-channel", "m" * 100) * 16]),
    "PUBLISH 10 subs": (16, subscribers(10), lambda h: [resp("PUBLISH", "bench-channel", "m" * 100) * 16]),
    "PUBLISH 100 subs": (16, subscribers(100), lambda h: [resp("PUBLISH", "bench-channel", "m" * 100) * 16]),
    "SET logged": (1, no_setup, lambda h: keys_reads(SET)),
    "SET logged+replica": (1, replica_setup, lambda h: keys_reads(SET)),
    "SET P16 logged": (16, no_setup, lambda h: keys_reads(SET, 16)),
    "SET P16 logged+replica": (16, replica_setup, lambda h: keys_reads(SET, 16)),
    "PFADD sparse": (1, no_setup, lambda h: [resp("PFADD", f"small:{i}", f"a{i}", f"b{i}", f"c{i}")
                                            for i in range(1000)]),
    "PFCOUNT 4 dense": (1, hll_setup, lambda h: [resp("PFCOUNT", "hll:0", "hll:1", "hll:2", "hll:3")]),
    "PFCOUNT 1 dense": (1, hll_setup, lambda h: [resp("PFCOUNT", "hll:0")]),
}


def child(name: str, n: int, settings: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        if "logged" in name:
            settings = [("appendonly", "yes"), ("appendfsync", "everysec"), *settings]
        run_child(Harness(settings, directory), name, n)


def run_child(h: Harness, name: str, n: int) -> None:
    _, setup, reads = SCENARIOS[name]
    setup(h)
    data = reads(h)
    m = len(data)
    for i in range(max(m, 200)):  # warm-up: every read once
        h.send(data[i % m])
    conn = h.conn
    last = conn.transport.last
    if last[:1] == b"-" or b"\r\n-" in last:
        raise SystemExit(f"{name}: an error reply: {last[:200]!r}")
    flush = h.proc.outbox.flush
    for i in range(n):
        conn.data_received(data[i % m])
        flush()


def counts(name: str, n: int, settings: list[str], cache_sim: bool) -> dict[str, int]:
    """Callgrind's totals by event (Ir; with the cache simulation also D1mr, DLmr, ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        sim = ["--cache-sim=yes", "--LL=4194304,16,64"] if cache_sim else []
        cmd = ["valgrind", "--tool=callgrind", *sim, "--child-silent-after-fork=yes", f"--callgrind-out-file={out}",
               sys.executable,
               os.path.abspath(__file__), "--child", name, "--requests", str(n)]
        for s in settings:
            cmd += ["--set", s]
        env = dict(os.environ, PYTHONHASHSEED="0")
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{name}: {run.stderr[-2000:]}")
        events = re.search(r"Events +: ([\w ]+)", run.stderr)
        totals = re.search(r"Collected : ([\d ]+)", run.stderr)
        if events is None or totals is None:
            raise RuntimeError(f"{name}: no total in callgrind's output")
        return dict(zip(events.group(1).split(), map(int, totals.group(1).split()), strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    ap.add_argument("--requests", type=int, default=4000, help="N: the runs have N and 2N reads")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--cache-sim", action="store_true", help="also count D1 and L2 (LL) data misses")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    settings = [tuple(s.split("=", 1)) for s in args.set]
    if args.child:
        child(args.child, args.requests, settings)  # type: ignore[arg-type]
        return
    from moonkv import native
    from moonkv.commands import load

    load()  # the command table first, as the server fills it before it reports its build
    names = [s.strip() for s in args.only.split(",")] if args.only else list(SCENARIOS)
    print(f"build {native.build_kind()}, {args.requests} reads, settings {args.set or 'default'}")
    n = args.requests
    for name in names:
        one, two = counts(name, n, args.set, args.cache_sim), counts(name, 2 * n, args.set, args.cache_sim)
        per_cmd = {e: (two[e] - one[e]) / n / SCENARIOS[name][0] for e in one}
        line = f"{name:24} {per_cmd['Ir'] / 1000:8.2f}k instructions per command"
        if args.cache_sim:
            line += (f", data misses D1 {per_cmd['D1mr'] + per_cmd['D1mw']:.1f}"
                     f" L2 {per_cmd['DLmr'] + per_cmd['DLmw']:.1f}")
        k = re.match(r"PUBLISH (\d+)", name)
        if k:
            line += f", {per_cmd['Ir'] / int(k.group(1)) / 1000:.2f}k per delivered message"
        print(line, flush=True)


if __name__ == "__main__":
    main()
