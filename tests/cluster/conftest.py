"""Local moonkv clusters for tests: N nodes in cluster mode on free loopback ports, given a
static topology with CLUSTER SETTOPOLOGY (no etcd, no controller).

    with start_cluster(primaries=3, replicas=1) as cl:
        cl.nodes[0].port, cl.topology, cl.push(new_topology)

``start_cluster`` stops every node it started, whatever happens; ``cluster3`` is a
module-scoped fixture of three primaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from tests.helpers import RawClient, ServerHandle, start_moonkv

SLOTS = 16384
NODE_ARGS = ("--cluster-enabled", "yes", "--appendonly", "no", "--save", "")


def split_slots(n: int) -> list[tuple[int, int]]:
    """16384 slots in ``n`` contiguous ranges, as ``redis-cli --cluster create`` splits them."""
    per = SLOTS / n
    return [(round(i * per), round((i + 1) * per) - 1) for i in range(n)]


def node_id(port: int) -> str:
    c = RawClient(port)
    try:
        reply = c.call("CLUSTER", "MYID")
    finally:
        c.close()
    return reply.split(b"\r\n")[1].decode()


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
    c = RawClient(port)
    try:
        return c.call("CLUSTER", "SETTOPOLOGY", top["version"], json.dumps(top))
    finally:
        c.close()


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
