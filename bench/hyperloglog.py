#!/usr/bin/env python3
"""HyperLogLog: moonkv vs redis-server, server CPU per request, driven by redis-benchmark.

    .venv-wheel/bin/python bench/hyperloglog.py [--rounds N] [--requests N] [--no-pipeline] [--test NAME]

Uses bench/run.py's machinery (servers on free loopback ports pinned to one
CPU, ``redis-benchmark -c 50``, CPU time from ``/proc/PID/stat``, rounds
alternating between the servers, medians).  The tests:

* PFADD into one dense HyperLogLog (prepared with 20000 elements), random elements;
* PFADD into 10000 small sparse HyperLogLogs, random keys and elements;
* PFCOUNT of one key: the cached count after the first call;
* PFCOUNT of random keys among 10000 sparse HyperLogLogs whose caches start stale;
* PFCOUNT of several keys (merged and estimated on every call, never cached in the values):
  2 and 3 dense keys (20000 elements each), a sparse key (200 elements) with a dense one,
  two sparse keys (200 and 1000 elements) with and without a dense one, and 2 keys drawn
  at random among 200 dense ones (more than moonkv keeps decoded: mostly decoded anew);
* PFMERGE of 2 dense keys, of a sparse and a dense key, and of 2 sparse keys, each into a
  destination of its own (created by the first call, then merged into again).

Targets: PFADD and PFCOUNT (one key or several) and PFMERGE at most 2x Redis's CPU per
request (issue 18), non-pipelined as bench/run.py's data-type targets; the -P 16 ratios are
reported beside them.  Results go to ``bench/results/hll-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import (  # noqa: E402 - bench/ is not a package
    RESULTS_DIR,
    RespConn,
    Result,
    Server,
    Test,
    fmt,
    machine_info,
    moonkv_argv,
    pin_cpus,
    print_table,
    redis_argv,
    run_tests,
    summarize,
)

R = "__rand_int__"
SMALL_KEYS = 10_000
DENSE_COPIES = 200  # past moonkv's cache of decoded values (64)


def _fill(c: RespConn, key: str, n: int, prefix: str) -> None:
    for i in range(0, n, 1000):
        c.call("PFADD", key, *(f"{prefix}:{j}" for j in range(i, min(i + 1000, n))))


def prep_dense(c: RespConn) -> None:
    c.call("FLUSHALL")
    _fill(c, "hll", 20_000, "a")
    _fill(c, "hll2", 20_000, "b")
    _fill(c, "hll3", 20_000, "c")
    _fill(c, "sp", 200, "d")
    _fill(c, "sp2", 1000, "e")
    for key, want in (("hll", "dense"), ("sp", "sparse"), ("sp2", "sparse")):
        got = c.call("PFDEBUG", "ENCODING", key)
        if got != want:
            raise RuntimeError(f"{key} is {got}, not {want}")
    c.call("PFCOUNT", "hll")


def prep_copies(c: RespConn) -> None:
    """prep_dense, and DENSE_COPIES dense keys, each the 20000 elements of ``hll`` and 20 of its own."""
    prep_dense(c)
    for i in range(DENSE_COPIES):
        key = f"d:{i:012d}"
        c.call("COPY", "hll", key, "REPLACE")
        c.call("PFADD", key, *(f"own:{i}:{j}" for j in range(20)))


def prep_small(c: RespConn) -> None:
    c.call("FLUSHALL")
    for i in range(SMALL_KEYS):
        c.call("PFADD", f"hll:{i:012d}", "x", f"y{i}")


def tests(n: int) -> list[Test]:
    g = "hyperloglog"
    multi = max(n // 5, 1000)  # requests of the multi-key tests: 50-300 us each
    return [
        Test(g, "PFADD dense", ["pfadd", "hll", f"ele:{R}"], n, prep_dense, 2.0, None, keyspace=1_000_000_000),
        Test(g, "PFCOUNT cached", ["pfcount", "hll"], n, prep_dense, 2.0, None),
        Test(g, "PFCOUNT 2 dense keys", ["pfcount", "hll", "hll2"], multi, prep_dense, 2.0, None),
        Test(g, "PFCOUNT 3 dense keys", ["pfcount", "hll", "hll2", "hll3"], multi, prep_dense, 2.0, None),
        Test(g, "PFCOUNT sparse+dense", ["pfcount", "sp", "hll"], multi, prep_dense, 2.0, None),
        Test(g, "PFCOUNT 2 sparse+dense", ["pfcount", "sp", "sp2", "hll"], multi, prep_dense, 2.0, None),
        Test(g, "PFCOUNT 2 sparse keys", ["pfcount", "sp", "sp2"], multi, prep_dense, 2.0, None),
        Test(g, "PFMERGE 2 dense keys", ["pfmerge", "dst", "hll", "hll2"], multi, prep_dense, 2.0, None),
        Test(g, "PFMERGE sparse+dense", ["pfmerge", "dst2", "sp", "hll"], multi, prep_dense, 2.0, None),
        Test(g, "PFMERGE 2 sparse keys", ["pfmerge", "dst3", "sp", "sp2"], multi, prep_dense, 2.0, None),
        Test(g, "PFCOUNT 2 of 200 dense", ["pfcount", f"d:{R}", f"d:{R}"], multi, prep_copies, None, None,
             keyspace=DENSE_COPIES),
        Test(g, "PFADD sparse", ["pfadd", f"hll:{R}", f"ele:{R}"], n, prep_small, 2.0, None, keyspace=SMALL_KEYS),
        Test(g, "PFCOUNT sparse", ["pfcount", f"hll:{R}"], n, prep_small, 2.0, None, keyspace=SMALL_KEYS),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=50_000, help="requests per non-pipelined run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per test and server, alternating")
    ap.add_argument("--no-pipeline", action="store_true", help="skip the -P 16 runs")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and client to CPUs")
    ap.add_argument("--test", action="append", default=[], metavar="NAME",
                    help="run only the tests whose name starts with NAME (repeatable)")
    args = ap.parse_args(argv)
    if shutil.which("redis-benchmark") is None:
        print("bench: redis-benchmark not found (apt-get install redis-tools)", file=sys.stderr)
        return 2
    pin_cpus(not args.no_pin)
    chosen = tests(args.requests)
    if args.test:
        chosen = [t for t in chosen if any(t.name.startswith(x) for x in args.test)]
    pipelines = [1] if args.no_pipeline else [1, 16]
    servers = [Server("moonkv", moonkv_argv), Server("redis", redis_argv)]
    started = _dt.datetime.now(_dt.UTC)
    results: list[Result] = []
    for s in servers:
        s.start()
    print(f"moonkv build {servers[0].build or '?'} | redis {servers[1].version} | "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        run_tests(servers, chosen, pipelines, args.rounds, results)
    finally:
        for s in servers:
            s.stop()
    rows, verdicts = summarize(chosen, pipelines, results)
    print()
    print_table(rows)
    print("\ntargets (moonkv/redis server CPU per request):")
    for v in verdicts:
        print(f"  {v['test']:<24} P{v['pipeline']:<2} ratio {fmt(v['ratio'], '.2f'):>6} "
              f"<= {v['target']:.1f}x  {'MET' if v['met'] else 'NOT MET'}")
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f"hll-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    doc = {
        "started": started.isoformat(),
        "machine": machine_info(),
        "servers": {s.name: {"version": s.version, "build": s.build} for s in servers},
        "load_average_after": os.getloadavg(),
        "results": [r.__dict__ for r in results],
        "summary": rows,
        "targets": verdicts,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    print(f"results: {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
