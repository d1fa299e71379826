#!/usr/bin/env python3
"""Fencing in cluster mode: how soon a primary that cannot refresh its etcd lease stops taking
writes, and the gap before its replacement takes them (docs/cluster.md "Liveness and fencing").

    .venv/bin/python bench/cluster_fencing.py [--runs 5] [--node-timeout 3000]

Each run does what tests/cluster/test_fencing.py asserts the order of, and times it:

1. etcd SIGKILLed under one primary and its replica: the time until the primary answers a
   ``SET`` with ``-CLUSTERDOWN`` (target: 0.8 × the timeout after the last refresh, so at most
   that plus one refresh interval, a quarter of the timeout, after the kill).
2. The primary cut off from etcd by a proxy while two clients write to it and to its replica
   without pause: the old primary's last accepted write and the promoted replica's first,
   both from the cut; the first must come after the last (never two writable primaries).

Prints the runs, their medians and maxima, and saves them to
bench/results/cluster_fencing-<ts>.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import results_file  # noqa: E402 - bench/, beside this script
from tests.cluster.etcd_harness import Cluster, Prober, call, wait_until  # noqa: E402

CLUSTERDOWN = b"-CLUSTERDOWN The cluster is down\r\n"


def _set(port: int) -> bytes:
    try:
        return call(port, "SET", "probe", "v", timeout=1)
    except OSError as e:
        return f"-conn {e}".encode()


def etcd_killed(node_timeout: int) -> float:
    cluster = Cluster(primaries=1, replicas=1, controllers=1, node_timeout=node_timeout)
    try:
        primary = cluster.nodes[cluster.primary()].port
        wait_until(lambda: _set(primary) == b"+OK\r\n", 30, "the primary to take writes")
        cluster.etcd.kill()
        killed = time.monotonic()
        wait_until(lambda: _set(primary) == CLUSTERDOWN, 30, "the primary to fence itself", step=0.01)
        return time.monotonic() - killed
    finally:
        cluster.close()


def cut_off(node_timeout: int) -> tuple[float, float]:
    cluster = Cluster(primaries=1, replicas=1, controllers=1, node_timeout=node_timeout, proxy_first=True)
    try:
        old = cluster.primary()
        (new,) = cluster.replicas(old)
        assert cluster.proxy is not None
        ports = {old: cluster.nodes[old].port, new: cluster.nodes[new].port}
        wait_until(lambda: _set(ports[old]) == b"+OK\r\n", 30, "the primary to take writes")
        prober = Prober(ports)
        try:
            wait_until(lambda: prober.accepted[old], 30, "the old primary to accept probes")
            cluster.proxy.cut()
            cut = time.monotonic()
            wait_until(lambda: prober.accepted[new], 60, "the replacement to accept writes")
        finally:
            prober.stop()
        last_old, first_new = max(prober.accepted[old]) - cut, min(prober.accepted[new]) - cut
        assert last_old < first_new, f"two writable primaries: old until {last_old:.2f} s, new from {first_new:.2f} s"
        return last_old, first_new
    finally:
        cluster.close()


def _summary(xs: list[float]) -> dict[str, object]:
    return {"runs": [round(x, 3) for x in xs], "median_s": round(statistics.median(xs), 3), "max_s": round(max(xs), 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--node-timeout", type=int, default=3000)
    opts = ap.parse_args()
    fenced: list[float] = []
    last_old: list[float] = []
    first_new: list[float] = []
    for i in range(opts.runs):
        fenced.append(etcd_killed(opts.node_timeout))
        a, b = cut_off(opts.node_timeout)
        last_old.append(a)
        first_new.append(b)
        print(f"run {i + 1}: etcd killed -> fenced {fenced[-1]:.2f} s; cut off -> old primary's last write "
              f"{a:.2f} s, replacement's first {b:.2f} s", flush=True)
    result = {
        "node_timeout_ms": opts.node_timeout,
        "loadavg": os.getloadavg(),
        "etcd_killed_fenced_after": _summary(fenced),
        "cut_off_last_old_write": _summary(last_old),
        "cut_off_first_new_write": _summary(first_new),
    }
    target = 0.8 * opts.node_timeout / 1000 + opts.node_timeout / 4000
    print(f"fenced after etcd's kill: median {statistics.median(fenced):.2f} s, max {max(fenced):.2f} s "
          f"(target {target:.2f} s); cut off: old primary's last write at most {max(last_old):.2f} s, "
          f"replacement's first at least {min(first_new):.2f} s after the cut")
    print(f"results: {os.path.relpath(results_file.save('cluster_fencing', result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
