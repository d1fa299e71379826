#!/usr/bin/env python3
"""What cluster mode's slot check costs: GET/SET server CPU per request, standalone against a
single cluster-mode node that owns every slot, moonkv beside redis-server.

    .venv/bin/python bench/cluster_slot.py [--requests N] [--rounds R] [--pipelines 1,16] [--no-pin]

Four servers, started as ``bench/run.py`` starts them (pinned to the same CPU, redis-benchmark on
the others): moonkv, moonkv with ``cluster-enabled yes`` and a topology giving it slots 0-16383
(CLUSTER SETTOPOLOGY), redis-server, and redis-server with ``cluster-enabled yes`` and
``CLUSTER ADDSLOTSRANGE 0 16383``.  Each round runs ``redis-benchmark -t set`` and ``-t get``
(random keys of 100,000) against each server in turn, so the servers share the machine's
conditions; the CPU per request is the server's utime+stime delta over the requests.  Medians
of the rounds; the overhead is cluster over standalone (the issue's target: at most 5 %).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run as core  # noqa: E402  (bench/run.py: servers, pinning, redis-benchmark runs)


def moonkv_cluster_argv(port: int, d: str) -> list[str]:
    return [*core.moonkv_argv(port, d), "--cluster-enabled", "yes"]


def redis_cluster_argv(port: int, d: str) -> list[str]:
    return [*core.redis_argv(port, d), "--cluster-enabled", "yes", "--cluster-port", str(core.free_port()),
            "--cluster-config-file", os.path.join(d, "nodes.conf")]


def own_every_slot(srv: core.Server) -> None:
    c = srv.conn()
    try:
        if srv.name == "moonkv-cluster":
            myid = c.call("CLUSTER", "MYID").decode()
            top = {"version": 1, "name": "bench", "migrations": [], "nodes": [
                {"id": myid, "host": "127.0.0.1", "port": srv.port, "tls_port": 0, "role": "primary",
                 "primary": None, "slots": [[0, 16383]], "failed": False}]}
            c.call("CLUSTER", "SETTOPOLOGY", 1, json.dumps(top))
        else:
            c.call("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 30
        while b"cluster_state:ok" not in c.call("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{srv.name}: cluster_state did not become ok")
            time.sleep(0.1)
    finally:
        c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--no-pin", action="store_true")
    a = ap.parse_args()
    core.pin_cpus(not a.no_pin)
    servers = [
        core.Server("moonkv", core.moonkv_argv),
        core.Server("moonkv-cluster", moonkv_cluster_argv),
        core.Server("redis", core.redis_argv),
        core.Server("redis-cluster", redis_cluster_argv),
    ]
    pipelines = [int(p) for p in a.pipelines.split(",")]
    tests = [core.Test("core", "SET", ["-t", "set"], a.requests), core.Test("core", "GET", ["-t", "get"], a.requests)]
    cpu: dict[tuple[str, str, int], list[float]] = {}
    try:
        for srv in servers:
            srv.start()
            if srv.name.endswith("-cluster"):
                own_every_slot(srv)
        print(f"moonkv build: {servers[0].build}; {a.rounds} rounds of {a.requests} requests", flush=True)
        for rnd in range(a.rounds):
            for pipeline in pipelines:
                for test in tests:
                    for srv in servers:
                        n = a.requests * (core.PIPE_SCALE if pipeline > 1 else 1)
                        res = core.run_one(srv, test, pipeline, n)
                        if res.error or res.cpu_us_per_op is None:
                            raise RuntimeError(f"{srv.name} {test.name} -P {pipeline}: {res.error}")
                        cpu.setdefault((srv.name, test.name, pipeline), []).append(res.cpu_us_per_op)
            print(f"round {rnd + 1}/{a.rounds} done", flush=True)
    finally:
        for srv in servers:
            srv.stop()
    print(f"\n{'test':6} {'-P':>3} {'moonkv':>9} {'cluster':>9} {'overhead':>9}   {'redis':>9} {'cluster':>9} {'overhead':>9}")
    for pipeline in pipelines:
        for test in tests:
            med = {s.name: statistics.median(cpu[(s.name, test.name, pipeline)]) for s in servers}
            m_over = (med["moonkv-cluster"] / med["moonkv"] - 1) * 100
            r_over = (med["redis-cluster"] / med["redis"] - 1) * 100
            print(f"{test.name:6} {pipeline:>3} {med['moonkv']:>7.2f}us {med['moonkv-cluster']:>7.2f}us {m_over:>+8.1f}%"
                  f"   {med['redis']:>7.2f}us {med['redis-cluster']:>7.2f}us {r_over:>+8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
