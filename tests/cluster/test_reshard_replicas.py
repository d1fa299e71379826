"""Resharding while the source and the target primaries each have a replica: the target's
replica receives the moved slot (the import runs as ordinary commands, which replicate),
the source's replica loses it (the source's deletions replicate), and READONLY reads on
replicas go where the slot now lives."""

from __future__ import annotations

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from moonkv.cluster.slots import key_slot
from tests.cluster.etcd_harness import Cluster, wait_until
from tests.cluster.load import ScriptWriter, check_bump
from tests.cluster.test_scripts_churn import move
from tests.helpers import RawClient

pytestmark = pytest.mark.timeout(240)

TAG = "m"


def slot_keys(r: redis.Redis, slot: int) -> set[bytes]:
    return set(r.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000))


def contents(r: redis.Redis, keys: set[bytes]) -> dict[bytes, bytes | None]:
    return {k: r.dump(k) for k in sorted(keys)}


def test_replicas_of_a_moved_slot_follow_their_primaries() -> None:
    cluster = Cluster(primaries=2, replicas=1, controllers=1, node_timeout=10000)
    conns: list[redis.Redis] = []
    rc = writer = None
    try:
        slot = key_slot(TAG.encode())
        record = cluster.record()
        source = cluster.primary(slot)
        (target,) = [p.id for p in record.primaries() if p.id != source]
        (source_replica,) = cluster.replicas(source)
        (target_replica,) = cluster.replicas(target)

        def conn(node_id: str) -> redis.Redis:
            r = redis.Redis(port=cluster.nodes[node_id].port, socket_timeout=10)
            r.execute_command("READONLY")
            conns.append(r)
            return r

        src, dst, src_r, dst_r = conn(source), conn(target), conn(source_replica), conn(target_replica)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", h.port) for h in cluster.nodes.values()],
                          socket_timeout=10)
        # Data of every type in the slot, and some elsewhere on the source that stays.
        rc.set(f"{{{TAG}}}:s", "v")
        rc.hset(f"{{{TAG}}}:h", mapping={"f": "1", "g": "2"})
        rc.zadd(f"{{{TAG}}}:z", {"x": 1.5, "y": 2})
        rc.rpush(f"{{{TAG}}}:l", *range(50))
        rc.sadd(f"{{{TAG}}}:set", *range(20))
        rc.set(f"{{{TAG}}}:ttl", "t", ex=3600)
        for i in range(300):
            rc.set(f"{{{TAG}}}:k{i}", i)
        stays = [k for k in (f"stay{i}" for i in range(200)) if record.owner(key_slot(k.encode())).id == source]  # type: ignore[union-attr]
        for k in stays:
            rc.set(k, k)
        # The source's replica holds the slot before the move.
        wait_until(lambda: len(slot_keys(src_r, slot)) == 306 and src_r.dbsize() == 306 + len(stays), 30,
                   "the source's replica to hold the slot")
        writer = ScriptWriter(rc, TAG)  # and units landing on the slot throughout the move
        writer.start()
        wait_until(lambda: len(writer.replies) > 20 or writer.errors, 30, "scripts before the move")
        move(cluster, slot, source, target)
        count = len(writer.replies)
        wait_until(lambda: len(writer.replies) > count + 20 or writer.errors, 30, "scripts after the move")
        writer.stop()
        assert not writer.errors, writer.trace
        assert check_bump(dst, TAG) == len(writer.replies)

        moved = slot_keys(dst, slot)
        assert len(moved) == 300 + 6 + 3
        # The target's replica has every moved key with the same value (DUMP byte for byte).
        wait_until(lambda: slot_keys(dst_r, slot) == moved, 30, "the target's replica to hold the slot")
        wait_until(lambda: contents(dst_r, moved) == contents(dst, moved), 30, "the same values on the replica")
        assert dst_r.ttl(f"{{{TAG}}}:ttl") > 3000
        assert check_bump(dst_r, TAG) == len(writer.replies)
        # The source deleted the slot and so did its replica; the rest of the source stays.
        wait_until(lambda: not slot_keys(src, slot), 30, "the source to delete the moved keys")
        wait_until(lambda: not slot_keys(src_r, slot), 30, "the source's replica to delete them")
        wait_until(lambda: set(src_r.scan_iter(count=1000)) == set(src.scan_iter(count=1000)), 30,
                   "the source's replica to match the source")
        assert src.dbsize() == src_r.dbsize() == len(stays)
        assert set(src_r.scan_iter(count=1000)) == {k.encode() for k in stays}

        # READONLY reads on replicas: the target's replica serves the slot, the source's
        # replica sends the reader to the slot's owner, as Redis.
        target_addr = f"127.0.0.1:{cluster.nodes[target].port}"
        for node_id, reply in [(target_replica, b"$1\r\nv\r\n"),
                               (source_replica, b"-MOVED %d %s\r\n" % (slot, target_addr.encode()))]:
            c = RawClient(cluster.nodes[node_id].port)
            try:
                assert c.call("READONLY") == b"+OK\r\n"
                assert c.call("GET", f"{{{TAG}}}:s") == reply
                # A write on a replica is sent to the owner whichever replica it is.
                assert c.call("SET", f"{{{TAG}}}:s", "w") == b"-MOVED %d %s\r\n" % (slot, target_addr.encode())
            finally:
                c.close()
        c = RawClient(cluster.nodes[source_replica].port)
        try:
            assert c.call("READONLY") == b"+OK\r\n"
            assert c.call("GET", stays[0]) == b"$%d\r\n%s\r\n" % (len(stays[0]), stays[0].encode())
        finally:
            c.close()
    finally:
        if writer is not None:
            writer.stop()
        if rc is not None:
            rc.close()
        for r in conns:
            r.close()
        cluster.close()
