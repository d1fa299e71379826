#!/usr/bin/env python3
"""PUBLISH fan-out, moonkv beside redis-server: server CPU per delivered message.

    .venv-wheel/bin/python bench/pubsub.py [--deliveries D] [--subscribers 1,10,100] [--rounds R]

For each subscriber count K both servers (started as ``bench/run.py`` starts
them, pinned to the same CPU) get K subscribed connections, drained by a
separate reader process, and ``redis-benchmark -c 4 -P 16`` publishes N = D/K
(at least 5000) messages of 100 bytes to their channel; D is large enough for
the 10 ms CPU clock of /proc to resolve Redis's time.  The server's utime+stime delta over
the run, until every subscriber has received every message, divided by the
messages delivered (N*K, or a few more when redis-benchmark rounds N up) is
the CPU per delivered message; the ratio to Redis's is the issue's target
(at most 2x).  Medians over the rounds, servers alternating.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run as core  # noqa: E402  (bench/run.py: servers, pinning, CPU readings)

MESSAGE = b"m" * 100
CHANNEL = b"bench-channel"

# The reader: subscribes K connections, says "ready", then drains them until each has
# received N messages (or the deadline passes); prints how many arrived in total.
READER = r"""
import selectors, socket, sys, time
port, k, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
want = b"*3\r\n$7\r\nmessage\r\n$13\r\nbench-channel\r\n$100\r\n" + b"m" * 100 + b"\r\n"
conns = []
for _ in range(k):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$13\r\nbench-channel\r\n")
    conns.append(s)
for s in conns:
    got = b""
    while not got.endswith(b":1\r\n"):
        got += s.recv(4096)
    s.setblocking(False)
print("ready", flush=True)
sel = selectors.DefaultSelector()
left = {}
for s in conns:
    sel.register(s, selectors.EVENT_READ)
    left[s] = n * len(want)
deadline = time.monotonic() + 600
total = 0
while left and time.monotonic() < deadline:
    for key, _ in sel.select(1.0):
        s = key.fileobj
        data = s.recv(1 << 20)
        left[s] -= len(data)
        total += len(data)
        if left[s] <= 0:
            sel.unregister(s)
            del left[s]
# redis-benchmark may publish a few more than N (whole pipelines): take them too.
quiet = time.monotonic() + 0.3
for s in conns:
    sel.register(s, selectors.EVENT_READ)
while time.monotonic() < quiet:
    for key, _ in sel.select(0.05):
        total += len(key.fileobj.recv(1 << 20))
print(total // len(want), flush=True)
"""


def measure(srv: core.Server, k: int, n: int) -> float:
    """Server CPU seconds per delivered message."""
    reader = subprocess.Popen([sys.executable, "-c", READER, str(srv.port), str(k), str(n)],
                              stdout=subprocess.PIPE, text=True, preexec_fn=core.pinner(core.PIN.client))
    assert reader.stdout is not None
    if reader.stdout.readline().strip() != "ready":
        raise RuntimeError("the subscribers did not start")
    bench = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    cpu0 = core.cpu_seconds(srv.pid)
    subprocess.run([bench, "-p", str(srv.port), "-c", "4", "-P", "16", "-n", str(n), "-q",
                    "PUBLISH", CHANNEL, MESSAGE], check=True, stdout=subprocess.DEVNULL,
                   preexec_fn=core.pinner(core.PIN.client), timeout=600)
    delivered = int(reader.stdout.readline())
    cpu = core.cpu_seconds(srv.pid) - cpu0
    reader.wait(30)
    if delivered < n * k:
        raise RuntimeError(f"{srv.name}: {delivered} of {n * k} messages delivered")
    return cpu / delivered


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=400_000)
    ap.add_argument("--subscribers", default="1,10,100")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-pin", action="store_true")
    a = ap.parse_args()
    core.pin_cpus(not a.no_pin)
    servers = [core.Server("moonkv", core.moonkv_argv), core.Server("redis", core.redis_argv)]
    for s in servers:
        s.start()
    try:
        print(f"PUBLISH of {len(MESSAGE)} bytes, about {a.deliveries} deliveries per run, "
              "server CPU per delivered message")
        print(f"{'subscribers':>11} {'moonkv us':>10} {'redis us':>9} {'ratio':>6}")
        for k in (int(x) for x in a.subscribers.split(",")):
            n = max(a.deliveries // k, 5000)
            per: dict[str, list[float]] = {s.name: [] for s in servers}
            for _ in range(a.rounds):
                for s in servers:
                    per[s.name].append(measure(s, k, n))
                    time.sleep(0.2)
            med = {name: sorted(v)[len(v) // 2] * 1e6 for name, v in per.items()}
            print(f"{k:>11} {med['moonkv']:>10.2f} {med['redis']:>9.2f} {med['moonkv'] / med['redis']:>6.2f}")
    finally:
        for s in servers:
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
