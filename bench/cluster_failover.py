#!/usr/bin/env python3
"""Failover time of cluster mode: SIGKILL of a primary → first write acknowledged
(``SET`` + ``WAIT 1``) by the replica the controller promoted.

    .venv/bin/python bench/cluster_failover.py [--runs 10] [--node-timeout 3000]

Each run starts etcd, one primary with one replica (cluster-node-timeout as given) and a
controller, writes continuously (SET, then WAIT 1), SIGKILLs the primary, and measures
until a SET is answered +OK again; it also checks that every write WAIT 1 acknowledged
is on the new primary. Prints the runs, their median and max, and saves them to
bench/results/cluster_failover-<ts>.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import results_file  # noqa: E402 - bench/, beside this script
from tests.cluster.etcd_harness import Cluster, Writer, read_keys, wait_until  # noqa: E402


def one_run(node_timeout: int) -> tuple[float, int]:
    cluster = Cluster(primaries=1, replicas=1, controllers=1, node_timeout=node_timeout)
    writer = None
    try:
        old = cluster.primary()
        (new,) = cluster.replicas(old)
        writer = Writer(cluster)
        wait_until(lambda: len(writer.acked) >= 20, 20, "writes before the kill")
        time.sleep(0.5)
        cluster.nodes[old].proc.send_signal(signal.SIGKILL)
        cluster.nodes[old].proc.wait()
        killed = time.monotonic()
        resumed = wait_until(lambda: writer.first_ok_after(killed), 30, "a write after the kill", step=0.01)
        writer.stop()
        acked = sorted(writer.acked)
        got = read_keys(cluster.nodes[new].port, acked)
        lost = sum(1 for k, v in got.items() if v != k)
        return resumed - killed, lost
    finally:
        if writer is not None:
            writer.stop()
        cluster.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--node-timeout", type=int, default=3000)
    opts = ap.parse_args()
    times: list[float] = []
    lost_total = 0
    for i in range(opts.runs):
        t, lost = one_run(opts.node_timeout)
        times.append(t)
        lost_total += lost
        print(f"run {i + 1}: writes resumed {t:.2f} s after SIGKILL, acknowledged writes lost: {lost}", flush=True)
    result = {
        "node_timeout_ms": opts.node_timeout,
        "runs": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "acknowledged_writes_lost": lost_total,
    }
    print(f"\n| cluster-node-timeout | runs | median | max | acknowledged writes lost |\n|---|---|---|---|---|\n"
          f"| {opts.node_timeout} ms | {opts.runs} | {result['median_s']:.2f} s | {result['max_s']:.2f} s "
          f"| {lost_total} |")
    print(f"results: {os.path.relpath(results_file.save('cluster_failover', result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
