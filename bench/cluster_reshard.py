#!/usr/bin/env python3
"""Resharding: how long writes to a moving slot wait, and 2 primaries against 1.

    .venv/bin/python bench/cluster_reshard.py [--runs 10] [--keys 2000] [--requests 200000]

1. The pause. etcd, a controller and three primaries: A and B own the slots, C none. One slot
   holding ``--keys`` keys (100-byte values) moves ``--runs`` times A → B (and back, not
   counted) with the default ``cluster-migration-ask no`` (``MOVED`` once handed over),
   ``--runs`` times with ``yes`` on A (``ASK`` once handed over), and ``--runs``
   times A → C, a target owning nothing. Each move goes through the operator's path
   (``run_moves``: a version with the migration, the source copies and hands over, the
   leading controller commits).
   A client writes ``SET`` to keys of that slot in a loop over one connection, following
   ``ASK``/``MOVED`` and retrying ``TRYAGAIN`` (8 times at once, then every millisecond). The *write
   pause* of a move is the longest time between a write's first ``TRYAGAIN`` and the next
   acknowledged write; every acknowledged value must be on the slot's owner afterwards.
2. Throughput. ``redis-benchmark --cluster -P 16 -c 50 -t set,get`` (random keys) against a
   two-primary cluster, and the same load against a one-primary cluster (without ``--cluster``,
   which refuses a single node), alternately, ``--rounds`` times each.

Prints the runs, the medians and maxima, and saves them to bench/results/cluster_reshard-<ts>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import results_file  # noqa: E402 - bench/, beside this script
from tests.cluster.conftest import start_cluster  # noqa: E402
from tests.cluster.etcd_harness import Cluster, read_keys, wait_until  # noqa: E402
from tests.helpers import encode_command  # noqa: E402

from moonkv.cluster.etcd import close_quietly, connect  # noqa: E402
from moonkv.cluster.slots import key_slot  # noqa: E402
from moonkv.controller import TopologyStore  # noqa: E402
from moonkv.controller._reshard import run_moves  # noqa: E402

TAG = b"{bench}"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


class SlotWriter:
    """SET ``{bench}:<i % 1000>`` = i forever on one slot; records the pauses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acked: dict[bytes, bytes] = {}  # each key's last acknowledged value
        self.writes = 0
        self.failing_since: float | None = None
        self.pauses: list[float] = []  # each stretch of TRYAGAIN, closed by an acknowledged write
        self.errors: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def take_pause(self) -> float:
        """The longest pause since the last call."""
        longest = max(self.pauses, default=0.0)
        self.pauses = []
        return longest

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        socks: dict[int, socket.socket] = {}
        i = 0
        while not self._stop.is_set():
            key = TAG + b":%d" % (i % 1000)
            val = b"%d" % i
            port = self.port
            asking = False
            tries = 0
            while True:
                s = socks.get(port) or socks.setdefault(port, socket.create_connection(("127.0.0.1", port)))
                sent = time.monotonic()
                cmds = [[b"ASKING"]] if asking else []
                cmds.append([b"SET", key, val])
                s.sendall(b"".join(encode_command(c) for c in cmds))
                reply = _read_lines(s, len(cmds))[-1]
                if reply == b"+OK":
                    self.acked[key] = val
                    self.writes += 1
                    if self.failing_since is not None:
                        self.pauses.append(time.monotonic() - self.failing_since)
                        self.failing_since = None
                    break
                kind, _, rest = reply.partition(b" ")
                if kind == b"-TRYAGAIN":
                    if self.failing_since is None:
                        self.failing_since = sent
                    asking = False
                    tries += 1
                    if tries > 8:  # as redis-py: 8 at once, then it waits (1 ms here, to measure)
                        time.sleep(0.001)
                elif kind in (b"-ASK", b"-MOVED"):
                    port = int(rest.split(b":")[-1])
                    asking = kind == b"-ASK"
                    if kind == b"-MOVED":
                        self.port = port
                else:
                    self.errors.append(reply)
                    break
            i += 1
        for s in socks.values():
            s.close()


def _read_lines(s: socket.socket, n: int) -> list[bytes]:
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf.split(b"\r\n")[:n]


def pause_runs(runs: int, keys: int) -> dict[str, object]:
    cl = Cluster(primaries=3, replicas=0, controllers=1, node_timeout=10000, name="bench")
    writer = None
    try:
        slot = key_slot(TAG)
        ids = list(cl.nodes)
        a = cl.record().owner(slot)
        assert a is not None
        # C gives its slots to B first: a target that owns nothing.
        b_id, c_id = [i for i in ids if i != a.id]
        _moves(cl, [(s, c_id, b_id) for lo, hi in cl.record().node(c_id).slots  # type: ignore[union-attr]
                    for s in range(lo, hi + 1)])
        fill = socket.create_connection(("127.0.0.1", a.port))
        for i in range(keys):
            fill.sendall(encode_command([b"SET", TAG + b":%d" % i, b"x" * 100]))
            _read_lines(fill, 1)
        fill.close()
        writer = SlotWriter(a.port)
        wait_until(lambda: len(writer.acked) > 100, 20, "writes before the first move")
        rows: dict[str, list[float]] = {"moved": [], "ask": [], "slotless": []}
        for row, target in (("moved", b_id), ("ask", b_id), ("slotless", c_id)):
            _call(a.port, "CONFIG", "SET", "cluster-migration-ask", "yes" if row == "ask" else "no")
            for _ in range(runs):
                _moves(cl, [(slot, a.id, target)])
                time.sleep(0.05)
                rows[row].append(writer.take_pause())
                _moves(cl, [(slot, target, a.id)])
                time.sleep(0.05)
                writer.take_pause()  # back to A (default directive on the target): not counted
        writer.stop()
        acked = dict(writer.acked)
        owner = cl.wait_pushed().owner(slot)
        assert owner is not None
        got = read_keys(owner.port, sorted(acked))
        lost = sum(1 for k, v in acked.items() if got.get(k) != v)
        result: dict[str, object] = {"keys_in_slot": keys}
        for row, pauses in rows.items():
            result[row] = {"pause_s": [round(x, 4) for x in pauses], "median_s": round(statistics.median(pauses), 4),
                           "max_s": round(max(pauses), 4)}
        result.update(writes_acknowledged=writer.writes, acknowledged_writes_lost=lost,
                      unexpected_replies=[e.decode() for e in writer.errors[:5]])
        return result
    finally:
        if writer is not None:
            writer.stop()
        cl.close()


def _call(port: int, *args: str) -> None:
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(encode_command(list(args)))
        reply = _read_lines(s, 1)[0]
        assert reply == b"+OK", reply
    finally:
        s.close()


def _moves(cl: Cluster, moves: list[tuple[int, str, str]]) -> None:
    async def run() -> None:
        host, port = cl.etcd.endpoint.rsplit(":", 1)
        client = await connect([(host, int(port))], timeout=2.0)
        try:
            await run_moves(TopologyStore(client, cl.keys), moves, batch=16384, timeout=60)
        finally:
            await close_quietly(client)

    asyncio.run(run())


def throughput(rounds: int, requests: int) -> dict[str, object]:
    got: dict[int, dict[str, list[float]]] = {1: {"set": [], "get": []}, 2: {"set": [], "get": []}}
    with start_cluster(1) as one, start_cluster(2) as two:
        for _ in range(rounds):
            for n, cl in ((1, one), (2, two)):
                # redis-benchmark --cluster refuses a one-node cluster ("Invalid cluster"): the
                # single primary, which owns every slot, gets the same load without the flag.
                mode = ["--cluster"] if n > 1 else []
                out = subprocess.run(
                    [REDIS_BENCHMARK, *mode, "-p", str(cl.nodes[0].port), "-n", str(requests), "-c", "50",
                     "-P", "16", "-r", "100000", "-t", "set,get", "--csv"],
                    capture_output=True, timeout=600, check=True,
                ).stdout.decode()
                for test, rps in re.findall(r'^"(SET|GET)","([0-9.]+)"', out, re.M):
                    got[n][test.lower()].append(float(rps))
    med = {n: {t: statistics.median(v) for t, v in d.items()} for n, d in got.items()}
    return {
        "requests": requests, "rounds": rounds, "pipeline": 16, "clients": 50,
        "one_primary_rps": med[1], "two_primaries_rps": med[2],
        "speedup": {t: round(med[2][t] / med[1][t], 2) for t in ("set", "get")},
        "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--keys", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    result: dict[str, object] = {"pause": pause_runs(opts.runs, opts.keys)}
    p = result["pause"]
    assert isinstance(p, dict)
    print(f"write pause per slot move ({opts.runs} runs each, {opts.keys} keys in the slot):")
    for row, what in (("moved", "target owning slots, default (MOVED once handed over)"),
                      ("ask", "target owning slots, cluster-migration-ask yes (ASK)"),
                      ("slotless", "target owning none (MOVED once handed over)")):
        r = p[row]
        assert isinstance(r, dict)
        print(f"  {what}: median {r['median_s'] * 1000:.1f} ms, max {r['max_s'] * 1000:.1f} ms  {r['pause_s']}")
    print(f"  acknowledged writes: {p['writes_acknowledged']}, lost: {p['acknowledged_writes_lost']}, "
          f"unexpected replies: {p['unexpected_replies']}", flush=True)
    result["throughput"] = t = throughput(opts.rounds, opts.requests)
    print(f"redis-benchmark --cluster -P 16 -c 50: 1 primary {t['one_primary_rps']}, "
          f"2 primaries {t['two_primaries_rps']} (x{t['speedup']}), load {t['loadavg_at_end']}")
    print(f"results: {os.path.relpath(results_file.save('cluster_reshard', result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
