"""Local moonkv clusters for tests: N nodes in cluster mode on free loopback ports, given a
static topology with CLUSTER SETTOPOLOGY (no etcd, no controller).

    with start_cluster(primaries=3, replicas=1) as cl:
        cl.nodes[0].port, cl.topology, cl.push(new_topology)

``start_cluster`` stops every node it started, whatever happens; ``cluster3`` is a
module-scoped fixture of three primaries.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import hiredis
import pytest

from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

SLOTS = 16384
NODE_ARGS = ("--cluster-enabled", "yes", "--appendonly", "no", "--save", "")


def split_slots(n: int) -> list[tuple[int, int]]:
    """16384 slots in ``n`` contiguous ranges, as ``redis-cli --cluster create`` splits them."""
    per = SLOTS / n
    return [(round(i * per), round((i + 1) * per) - 1) for i in range(n)]


def call(port: int, *args: bytes | str | int) -> bytes:
    """One command on a new connection; the raw reply."""
    c = RawClient(port)
    try:
        return c.call(*args)
    finally:
        c.close()


def migrations(port: int) -> list[list[object]]:
    """CLUSTER MIGRATIONS of one node, bulk strings decoded (docs/cluster.md "Resharding")."""
    reader = hiredis.Reader()
    reader.feed(call(port, "CLUSTER", "MIGRATIONS"))
    rows = reader.gets()
    return [[x.decode() if isinstance(x, bytes) else x for x in row] for row in rows]


def wait_handed(port: int, slots: Sequence[int], timeout: float = 60.0) -> list[list[object]]:
    """Wait until the source on ``port`` handed ``slots`` over; their CLUSTER MIGRATIONS rows."""
    want = set(slots)
    deadline = time.monotonic() + timeout
    rows: list[list[object]] = []
    while time.monotonic() < deadline:
        rows = [r for r in migrations(port) if r[1] == "export" and r[0] in want]
        if len(rows) == len(want) and all(r[3] == "handed" for r in rows):
            return rows
        time.sleep(0.02)
    raise AssertionError(f"slots not handed over in time: {rows[:5]}")


def node_id(port: int) -> str:
    return call(port, "CLUSTER", "MYID").split(b"\r\n")[1].decode()


def topology(
    version: int,
    primaries: Sequence[tuple[str, int, list[tuple[int, int]]]],
    replicas: Sequence[tuple[str, int, str]] = (),
    migrations: Sequence[tuple[int, str, str]] = (),
    name: str = "moonkv",
) -> dict[str, Any]:
    """A topology record: primaries as (id, port, slot ranges), replicas as (id, port, primary id)."""
    nodes: list[dict[str, Any]] = [
        {"id": i, "host": "127.0.0.1", "port": p, "tls_port": 0, "role": "primary", "primary": None,
         "slots": [list(r) for r in ranges], "failed": False}
        for i, p, ranges in primaries
    ]
    nodes += [
        {"id": i, "host": "127.0.0.1", "port": p, "tls_port": 0, "role": "replica", "primary": pid,
         "slots": [], "failed": False}
        for i, p, pid in replicas
    ]
    return {"version": version, "name": name, "nodes": nodes,
            "migrations": [{"slot": s, "from": f, "to": t} for s, f, t in migrations]}


def set_topology(port: int, top: dict[str, Any]) -> bytes:
    """CLUSTER SETTOPOLOGY on one node; the raw reply."""
    return call(port, "CLUSTER", "SETTOPOLOGY", top["version"], json.dumps(top))


class LocalCluster:
    def __init__(self, handles: list[ServerHandle], ids: list[str], primaries: int) -> None:
        self.nodes = handles
        self.ids = ids
        self.primaries = primaries
        self.topology: dict[str, Any] = {}

    def port_of(self, node_id: str) -> int:
        return self.nodes[self.ids.index(node_id)].port

    def initial(self, version: int = 1) -> dict[str, Any]:
        """Slots split evenly over the primaries; replicas spread round-robin over them."""
        n = self.primaries
        prim = [(self.ids[i], self.nodes[i].port, [r]) for i, r in enumerate(split_slots(n))]
        reps = [(self.ids[j], self.nodes[j].port, self.ids[(j - n) % n]) for j in range(n, len(self.nodes))]
        return topology(version, prim, reps)

    def push(self, top: dict[str, Any]) -> None:
        """Give every node ``top``; each must accept it."""
        for h in self.nodes:
            reply = set_topology(h.port, top)
            assert reply == b"+OK\r\n", (h.port, reply)
        self.topology = top

    def stop(self) -> None:
        for h in self.nodes:
            h.stop()


@contextmanager
def start_cluster(primaries: int = 3, replicas: int = 0, args: Sequence[str] = ()) -> Iterator[LocalCluster]:
    """``primaries`` + ``primaries * replicas`` moonkv nodes with the initial topology pushed."""
    handles: list[ServerHandle] = []
    try:
        for _ in range(primaries * (1 + replicas)):
            handles.append(start_moonkv([*NODE_ARGS, *args]))
        cl = LocalCluster(handles, [node_id(h.port) for h in handles], primaries)
        cl.push(cl.initial())
        yield cl
    finally:
        for h in handles:
            h.stop()


@pytest.fixture(scope="module")
def cluster3() -> Iterator[LocalCluster]:
    with start_cluster(3) as cl:
        yield cl


def _bus_free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (real Redis needs both)."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            if port + 10000 > 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port pair for a Redis cluster node")


class RedisCluster:
    """Real redis-server nodes made a cluster by ``redis-cli --cluster create`` (reference)."""

    def __init__(self, handles: list[ServerHandle]) -> None:
        self.nodes = handles
        self.ids = [node_id(h.port) for h in handles]


@contextmanager
def start_redis_cluster(primaries: int = 3) -> Iterator[RedisCluster]:
    handles: list[ServerHandle] = []
    try:
        for _ in range(primaries):
            port = _bus_free_port()
            handles.append(start_redis(["--cluster-enabled", "yes"], port=port))
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{h.port}" for h in handles),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        for h in handles:  # every node must see the whole cluster before tests compare replies
            while b"cluster_state:ok" not in call(h.port, "CLUSTER", "INFO"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the redis-server cluster did not come up")
                time.sleep(0.1)
        yield RedisCluster(handles)
    finally:
        for h in handles:
            h.stop()
