#!/usr/bin/env python3
"""A cache under maxmemory: moonkv beside redis-server, same workload, same run.

    .venv/bin/python bench/eviction.py [--maxmemory-mb 64] [--ops 400000] [--value 512]

For each policy (allkeys-lru, allkeys-lfu) a fresh moonkv and a fresh
redis-server get the same ``maxmemory`` and the same requests: first every
key of a dataset three times maxmemory is SET once (in a shuffled order),
then ``--ops`` requests, 90 % GET and 10 % SET, on keys drawn from a zipfian
distribution (s = 1) over that dataset.  Requests go pipelined, 64 at a time,
from one connection.  Reported: the hit rate of the mixed phase
(keyspace_hits / (hits + misses) from INFO stats, as a delta), used_memory
against maxmemory (sampled every 20 batches once the cache is full: the
highest and the last), evicted_keys, and keys held at the end.

Then GET with and without maxmemory on moonkv alone, through bench/run.py's
redis-benchmark runner: server CPU per request with no limit, and with a limit
that is never reached under allkeys-lru (the access clock on, nothing evicted).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from bisect import bisect_left
from itertools import accumulate
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (bench/run.py: servers, RESP client, redis-benchmark runner)

BATCH = 64
SEED = 18


def zipf_ops(nkeys: int, ops: int, seed: int) -> list[tuple[bool, int]]:
    """``ops`` (is_get, key id) pairs: 90 % GET, keys zipfian (s=1), hot ids scattered."""
    rnd = random.Random(seed)
    cum = list(accumulate(1.0 / r for r in range(1, nkeys + 1)))
    total = cum[-1]
    stride = 2_654_435_761 % nkeys or 1
    while _gcd(stride, nkeys) != 1:
        stride += 1
    out = []
    for _ in range(ops):
        rank = bisect_left(cum, rnd.random() * total)
        out.append((rnd.random() < 0.9, rank * stride % nkeys))
    return out


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def info(c: run.RespConn, section: str) -> dict[str, str]:
    text = c.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def cache_run(name: str, argv_fn: Any, policy: str, maxmemory: int, nkeys: int, value: bytes,
              ops: list[tuple[bool, int]]) -> dict[str, Any]:
    srv = run.Server(name, argv_fn)
    srv.start()
    try:
        c = run.RespConn(srv.port)
        c.call("CONFIG", "SET", "maxmemory-policy", policy)
        c.call("CONFIG", "SET", "maxmemory", maxmemory)
        order = list(range(nkeys))
        random.Random(SEED).shuffle(order)
        for i in range(0, nkeys, BATCH):
            c.pipeline([("SET", b"key:%d" % k, value) for k in order[i:i + BATCH]])
        s0 = info(c, "stats")
        peak = 0
        last = 0
        for n, i in enumerate(range(0, len(ops), BATCH)):
            batch = ops[i:i + BATCH]
            c.pipeline([("GET", b"key:%d" % k) if get else ("SET", b"key:%d" % k, value)
                        for get, k in batch])
            if n % 20 == 0:
                last = int(info(c, "memory")["used_memory"])
                peak = max(peak, last)
        s1 = info(c, "stats")
        last = int(info(c, "memory")["used_memory"])
        peak = max(peak, last)
        hits = int(s1["keyspace_hits"]) - int(s0["keyspace_hits"])
        misses = int(s1["keyspace_misses"]) - int(s0["keyspace_misses"])
        keys = int(c.call("DBSIZE"))
        c.close()
        return {
            "server": name, "policy": policy, "hit_rate": hits / max(1, hits + misses),
            "peak_over": peak / maxmemory - 1, "last_over": last / maxmemory - 1,
            "evicted": int(s1["evicted_keys"]), "keys": keys,
        }
    finally:
        srv.stop()


def get_cpu(limit: str | None, n: int) -> float:
    """moonkv's server CPU (µs) per GET from redis-benchmark, with or without maxmemory."""
    srv = run.Server("moonkv", run.moonkv_argv)
    srv.start()
    try:
        c = srv.conn()
        if limit is not None:
            c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            c.call("CONFIG", "SET", "maxmemory", limit)
        c.close()
        test = run.Test("core", "GET", ["-t", "get"], n)
        run.prepare(srv, test)
        res = run.run_one(srv, test, 1, n)
        if res.error or res.cpu_us_per_op is None:
            raise RuntimeError(f"GET run failed: {res.error}")
        return float(res.cpu_us_per_op)
    finally:
        srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maxmemory-mb", type=int, default=64)
    ap.add_argument("--ops", type=int, default=400_000)
    ap.add_argument("--value", type=int, default=512, help="value size in bytes")
    ap.add_argument("--get-requests", type=int, default=200_000)
    ap.add_argument("--get-rounds", type=int, default=3)
    args = ap.parse_args()
    run.pin_cpus(False)
    maxmemory = args.maxmemory_mb * 2**20
    nkeys = 3 * maxmemory // args.value
    value = b"v" * args.value
    ops = zipf_ops(nkeys, args.ops, SEED)
    print(f"# maxmemory {args.maxmemory_mb} MiB; dataset {nkeys} keys x {args.value} B (3x maxmemory); "
          f"{args.ops} requests, 90% GET / 10% SET, zipfian s=1")
    print(f"{'policy':<12} {'server':<7} {'hit rate':>8} {'peak/max':>9} {'end/max':>8} {'evicted':>8} {'keys':>7}")
    ok = True
    for policy in ("allkeys-lru", "allkeys-lfu"):
        rows = [cache_run(name, fn, policy, maxmemory, nkeys, value, ops)
                for name, fn in (("moonkv", run.moonkv_argv), ("redis", run.redis_argv))]
        for r in rows:
            print(f"{policy:<12} {r['server']:<7} {100 * r['hit_rate']:7.1f}% {100 * r['peak_over']:+8.1f}% "
                  f"{100 * r['last_over']:+7.1f}% {r['evicted']:>8} {r['keys']:>7}", flush=True)
        m, rd = rows
        points = 100 * (m["hit_rate"] - rd["hit_rate"])
        within = m["peak_over"] <= 0.05
        print(f"# {policy}: hit rate {points:+.1f} points against Redis (target within 5); "
              f"used memory {'within' if within else 'NOT within'} 5 % of maxmemory")
        ok = ok and abs(points) <= 5 and within
    off, on = [], []
    for _ in range(args.get_rounds):  # alternated, so drift in machine load hits both
        off.append(get_cpu(None, args.get_requests))
        on.append(get_cpu("4gb", args.get_requests))
    off.sort()
    on.sort()
    print(f"# moonkv GET, server CPU per request (median of {args.get_rounds}): "
          f"no maxmemory {off[len(off) // 2]:.1f} µs, maxmemory+allkeys-lru {on[len(on) // 2]:.1f} µs "
          f"(rounds: {', '.join(f'{x:.1f}' for x in off)} / {', '.join(f'{x:.1f}' for x in on)})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
