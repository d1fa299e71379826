"""Scripts over hash-tagged keys while the cluster changes under them (issue 20, point 7):
a primary SIGKILLed and failed over, a slot moved to another primary. The workload is
:class:`tests.cluster.load.ScriptWriter` through redis-py's RedisCluster: each script is one
unit, so every store it reaches keeps a == b == LLEN log."""

from __future__ import annotations

import signal
import time

import pytest
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

from moonkv.cluster.slots import key_slot
from moonkv.controller import TopologyStore
from moonkv.controller._reshard import run_moves, start
from tests.cluster.etcd_harness import Cluster, call, etcd_call, wait_until
from tests.cluster.load import ScriptWriter, check_bump
from tests.cluster.test_shared_everywhere import noscript_errors

pytestmark = pytest.mark.timeout(240)

TAG = "t"


def client(cluster: Cluster) -> RedisCluster:
    # Retries that outlast a failover (docs/cluster.md "Failover").
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", h.port) for h in cluster.nodes.values()],
                        socket_timeout=5, retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 30))


def node(cluster: Cluster, node_id: str) -> redis.Redis:
    r = redis.Redis(port=cluster.nodes[node_id].port, socket_timeout=10)
    r.execute_command("READONLY")
    return r


def move(cluster: Cluster, slot: int, source: str, target: str) -> None:
    """The slot moved as `moonkv cluster rebalance` moves it, the controller committing."""
    etcd_call(cluster.etcd.endpoint,
              lambda c: run_moves(TopologyStore(c, cluster.keys), [(slot, source, target)], timeout=60))


def test_scripts_through_a_failover_are_whole_and_every_confirmed_one_survives() -> None:
    cluster = Cluster(primaries=1, replicas=2, controllers=1)
    rc = writer = None
    try:
        old = cluster.primary(key_slot(f"{{{TAG}}}".encode()))
        rc = client(cluster)
        writer = ScriptWriter(rc, TAG, confirm=True)
        writer.start()
        wait_until(lambda: writer.confirmed >= 50 or writer.errors, 30, "confirmed scripts before the kill")
        cluster.nodes[old].proc.send_signal(signal.SIGKILL)
        cluster.nodes[old].proc.wait()
        killed = time.monotonic()
        new = wait_until(lambda: (o := cluster.record().owner(0)) is not None and o.id != old and o.id, 20,
                         "the promotion")
        # Scripts go on, and are confirmed again by the replica that follows the new primary.
        count = len(writer.replies)
        wait_until(lambda: len(writer.replies) > count + 50 or writer.errors, 30, "scripts on the new primary")
        confirmed = writer.confirmed
        wait_until(lambda: writer.confirmed > confirmed or writer.errors, 30, "a confirmation after the failover")
        writer.stop()
        assert not writer.errors, writer.trace
        assert time.monotonic() - killed < 60
        r = node(cluster, new)
        try:
            a = check_bump(r, TAG)
        finally:
            r.close()
        assert a >= writer.confirmed, (a, writer.confirmed)
        # The promoted replica had the script and the library: it never answered NOSCRIPT.
        assert noscript_errors(cluster.nodes[new].port) == 0
        # The other replica follows the new primary and holds the same whole units.
        (other,) = [n for n in cluster.replicas(new) if n != old]
        r = node(cluster, other)
        try:
            wait_until(lambda: int(r.get(f"{{{TAG}}}:a") or 0) == a, 30, "the other replica to catch up")
            assert check_bump(r, TAG) == a
        finally:
            r.close()
    finally:
        if writer is not None:
            writer.stop()
        if rc is not None:
            rc.close()
        cluster.close()


@pytest.mark.parametrize("ask", ["no", "yes"])
def test_scripts_through_resharding_see_only_retried_errors_and_move_whole(ask: str) -> None:
    # node_timeout: no failover under load. With ask yes the handed-over slot answers ASK.
    cluster = Cluster(primaries=2, replicas=0, controllers=1, node_timeout=10000,
                      node_args=("--cluster-migration-ask", ask))
    rc = writer = None
    try:
        slot = key_slot(f"{{{TAG}}}".encode())
        first = cluster.primary(slot)
        (second,) = [p.id for p in cluster.record().primaries() if p.id != first]
        rc = client(cluster)
        writer = ScriptWriter(rc, TAG)
        writer.start()
        # There and back again, twice: every move under the running scripts.
        for source, target in [(first, second), (second, first), (first, second), (second, first)]:
            count = len(writer.replies)
            wait_until(lambda c=count: len(writer.replies) > c + 20 or writer.errors, 30, "scripts before a move")
            move(cluster, slot, source, target)
            assert cluster.record().owner(slot).id == target  # type: ignore[union-attr]
        count = len(writer.replies)
        wait_until(lambda: len(writer.replies) > count + 20 or writer.errors, 30, "scripts after the moves")
        writer.stop()
        # Only TRYAGAIN/ASK/MOVED came back (redis-py follows them itself): nothing raised.
        assert not writer.errors, writer.trace
        owner = cluster.record().owner(slot)
        assert owner is not None and owner.id == first
        r = node(cluster, first)
        try:
            # Each acknowledged script applied once and whole, none half across a move.
            assert check_bump(r, TAG) == len(writer.replies)
            assert writer.replies == list(range(1, len(writer.replies) + 1))
        finally:
            r.close()
        r = node(cluster, second)
        try:  # the node the slot left deleted its copy
            wait_until(lambda: r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0, 20, "the moved keys to go")
        finally:
            r.close()
        for h in cluster.nodes.values():
            assert noscript_errors(h.port) == 0
    finally:
        if writer is not None:
            writer.stop()
        if rc is not None:
            rc.close()
        cluster.close()


def test_scripts_through_a_failover_of_a_source_mid_move() -> None:
    """The source of a move is SIGKILLed while it copies: the failover drops the migration, the
    promoted replica keeps the slot and the scripts' whole units, and the target deletes what
    it had received of the slot (docs/cluster.md "No orphans")."""
    cluster = Cluster(primaries=2, replicas=1, controllers=1)
    rc = writer = None
    try:
        slot = key_slot(f"{{{TAG}}}".encode())
        source = cluster.primary(slot)
        (target,) = [p.id for p in cluster.record().primaries() if p.id != source]
        (heir,) = cluster.replicas(source)
        dst = cluster.nodes[target].port
        rc = client(cluster)
        payload = b"x" * 65536
        for i in range(300):  # ~20 MB in the slot: the copy takes a while
            rc.set(f"{{{TAG}}}:big{i}", payload)
        writer = ScriptWriter(rc, TAG, confirm=True)
        writer.start()
        wait_until(lambda: writer.confirmed >= 20 or writer.errors, 30, "confirmed scripts before the move")
        etcd_call(cluster.etcd.endpoint,
                  lambda c: TopologyStore(c, cluster.keys).change(start([(slot, source, target)])))
        wait_until(lambda: call(dst, "CLUSTER", "COUNTKEYSINSLOT", slot) != b":0\r\n", 30,
                   "the target to receive part of the slot")
        # The target holds the rest of the stream (IMPORTSLOTS is a write) while the source dies.
        assert call(dst, "CLIENT", "PAUSE", 20000, "WRITE") == b"+OK\r\n"
        try:
            cluster.nodes[source].proc.send_signal(signal.SIGKILL)
            cluster.nodes[source].proc.wait()
            wait_until(lambda: (o := cluster.record().owner(slot)) is not None and o.id == heir, 30, "the promotion")
            assert not cluster.record().migrations  # the failover dropped the move
        finally:
            assert call(dst, "CLIENT", "UNPAUSE") == b"+OK\r\n"
        count = len(writer.replies)
        wait_until(lambda: len(writer.replies) > count + 20 or writer.errors, 30, "scripts on the new primary")
        writer.stop()
        assert not writer.errors, writer.trace
        r = node(cluster, heir)
        try:
            assert check_bump(r, TAG) >= writer.confirmed
            assert all(r.get(f"{{{TAG}}}:big{i}") == payload for i in range(300))
        finally:
            r.close()
        wait_until(lambda: call(dst, "CLUSTER", "COUNTKEYSINSLOT", slot) == b":0\r\n", 30,
                   "the target to delete the part it received")
        assert noscript_errors(cluster.nodes[heir].port) == 0
    finally:
        if writer is not None:
            writer.stop()
        if rc is not None:
            rc.close()
        cluster.close()
