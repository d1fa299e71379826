"""The controller: election, takeover after SIGKILL, revision-compared changes, pushes."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from moonkv.cluster.topology import Topology
from moonkv.controller import NotLeader, TopologyStore
from tests.cluster.etcd_harness import Cluster, call, etcd_call, wait_until

pytestmark = pytest.mark.timeout(120)


def test_leader_sigkill_another_takes_over_topology_unchanged() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=2)
    try:
        before = cluster.record()
        leader = wait_until(cluster.leader, 10, "a leader")
        index = int(leader[1:])
        cluster.controllers[index].send_signal(signal.SIGKILL)
        cluster.controllers[index].wait()
        killed = time.monotonic()
        other = wait_until(lambda: (lambda lead: lead if lead not in (None, leader) else None)(cluster.leader()),
                           15, "the other controller to lead")
        took = time.monotonic() - killed
        assert other == f"c{1 - index}"
        assert took < 3 + 2  # the leader lease's TTL (3 s) and the poll
        after = cluster.wait_pushed()
        assert after.to_json() == before.to_json()  # nothing changed hands
        # The new leader serves: a node down while the topology changed gets the
        # current version from it when it starts again.
        (node,) = cluster.replicas(cluster.primary())
        cluster.nodes[node].stop()
        newer = etcd_call(cluster.etcd.endpoint, lambda c: TopologyStore(c, cluster.keys).change(lambda rec: rec))
        assert newer.version == after.version + 1
        cluster.restart_node(node)
        wait_until(lambda: cluster.node_version(node) == newer.version, 15, "the push to the restarted node")
    finally:
        cluster.close()


def test_changes_compare_the_revision_and_the_leader_key() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=0)
    try:
        keys = cluster.keys

        async def race(c: Any) -> list[int]:
            a, b = TopologyStore(c, keys), TopologyStore(c, keys)
            read: list[int] = []

            def bump(rec: dict[str, Any] | None) -> dict[str, Any] | None:
                read.append(rec["version"] if rec else 0)
                return rec

            results = await asyncio.gather(a.change(bump), b.change(bump))
            return sorted(r.version for r in results if r is not None) + [len(read)]

        v2, v3, reads = etcd_call(cluster.etcd.endpoint, race)
        assert (v2, v3) == (2, 3)  # both applied, one after the other
        assert reads >= 2

        async def deposed(c: Any) -> None:
            await c.put(keys.leader, b"someone-else")
            await TopologyStore(c, keys, leader_token=b"me").change(lambda rec: rec)

        with pytest.raises(NotLeader):
            etcd_call(cluster.etcd.endpoint, deposed)
        assert cluster.record().version == 3
    finally:
        cluster.close()


def test_stale_push_refused_and_the_controller_pushes_the_current_version() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1)
    try:
        record = cluster.wait_pushed()
        node = cluster.primary()
        port = cluster.nodes[node].port
        # A change made outside the controller (the operator's CLI) reaches every node.
        etcd_call(cluster.etcd.endpoint, lambda c: TopologyStore(c, cluster.keys).change(lambda rec: rec))
        newer = cluster.wait_pushed(timeout=10)
        assert newer.version == record.version + 1
        reply = call(port, "CLUSTER", "SETTOPOLOGY", record.version, record.to_json())
        assert reply == b"-ERR topology version %d is older than this node's %d\r\n" % (record.version, newer.version)
        # A different record under the version the node has is refused too.
        other = Topology.from_dict({**newer.to_dict(), "name": "other"})
        reply = call(port, "CLUSTER", "SETTOPOLOGY", other.version, other.to_json())
        assert reply.startswith(b"-ERR topology version %d is already applied" % newer.version)
    finally:
        cluster.close()
