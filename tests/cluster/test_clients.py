"""Cluster-aware clients against a moonkv cluster: redis-py's RedisCluster (sync and asyncio),
redis-cli -c following MOVED and ASK, redis-benchmark --cluster, redis-cli --cluster check."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import redis
import redis.asyncio
from redis.cluster import RedisCluster

from moonkv.cluster.slots import key_slot
from tests.cluster.conftest import LocalCluster, call, wait_handed
from tests.helpers import RawClient

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def test_redis_py_cluster_sync(cluster3: LocalCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=cluster3.nodes[0].port, socket_timeout=30)
    try:
        keys = [f"key:{i}" for i in range(300)]
        for k in keys:
            assert rc.set(k, k.upper())
        assert [rc.get(k) for k in keys] == [k.upper().encode() for k in keys]
        assert len({key_slot(k.encode()) * 3 // 16384 for k in keys}) == 3  # all three nodes used
        pipe = rc.pipeline()
        for k in keys:
            pipe.incr(f"n:{k}")
        assert pipe.execute() == [1] * len(keys)
        assert rc.mget_nonatomic(keys[:50]) == [k.upper().encode() for k in keys[:50]]
        total = rc.dbsize(target_nodes=RedisCluster.PRIMARIES)  # summed over the primaries
        assert total == 600
        # Every key is on the node that owns its slot.
        for h in cluster3.nodes:
            r = redis.Redis(port=h.port)
            for k in r.scan_iter(count=1000):
                assert b":0\r\n" != call(h.port, "CLUSTER", "COUNTKEYSINSLOT", key_slot(k))
            r.close()
        rc.flushall(target_nodes=RedisCluster.PRIMARIES)
    finally:
        rc.close()


def test_redis_py_cluster_asyncio(cluster3: LocalCluster) -> None:
    async def run() -> None:
        rc = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster3.nodes[1].port)
        try:
            await asyncio.gather(*(rc.set(f"a:{i}", i) for i in range(200)))
            got = await asyncio.gather(*(rc.get(f"a:{i}") for i in range(200)))
            assert got == [str(i).encode() for i in range(200)]
            async with rc.pipeline() as pipe:
                for i in range(200):
                    pipe.delete(f"a:{i}")
                assert await pipe.execute() == [1] * 200
        finally:
            await rc.aclose()

    asyncio.run(run())


def test_redis_py_follows_moved_after_a_topology_change(cluster3: LocalCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=cluster3.nodes[0].port, socket_timeout=30)
    base = cluster3.topology
    slot = key_slot(b"{b}")  # node 0's
    try:
        rc.set("{b}k", "before")
        # The slot moves to node 2 (its data does not: that is resharding's work).
        top = cluster3.initial(version=base["version"] + 1)
        top["nodes"][0]["slots"] = [[0, slot - 1], [slot + 1, 5460]]
        top["nodes"][2]["slots"] = [[slot, slot], [10923, 16383]]
        cluster3.push(top)
        assert rc.set("{b}k", "after")
        assert rc.get("{b}k") == b"after"
        assert redis.Redis(port=cluster3.nodes[2].port).get("{b}k") == b"after"
    finally:
        rc.close()
        cluster3.push(cluster3.initial(version=cluster3.topology["version"] + 1))
        for h in cluster3.nodes:
            call(h.port, "FLUSHALL")


def _cli(port: int, *args: str) -> str:
    out = subprocess.run([REDIS_CLI, "-p", str(port), *args], capture_output=True, timeout=60, check=True)
    return out.stdout.decode()


def test_redis_cli_follows_moved_and_ask(cluster3: LocalCluster) -> None:
    p0, p1 = cluster3.nodes[0].port, cluster3.nodes[1].port
    assert _cli(p0, "-c", "SET", "foo", "bar").strip() == "OK"  # slot 12182: node 2
    assert _cli(p1, "-c", "GET", "foo").strip() == "bar"
    assert _cli(p1, "GET", "foo").strip() == f"MOVED 12182 127.0.0.1:{cluster3.nodes[2].port}"
    slot = key_slot(b"{b}")
    base = cluster3.topology
    try:
        assert call(p0, "CONFIG", "SET", "cluster-migration-ask", "yes") == b"+OK\r\n"
        cluster3.push(dict(base, version=base["version"] + 1,
                           migrations=[{"slot": slot, "from": cluster3.ids[0], "to": cluster3.ids[1]}]))
        wait_handed(p0, [slot])  # moved, not yet committed: the source answers ASK
        assert _cli(p0, "GET", "{b}absent").strip() == f"ASK {slot} 127.0.0.1:{p1}"
        assert _cli(p0, "-c", "SET", "{b}absent", "moved-in").strip() == "OK"  # ASKING + SET on node 1
        c = RawClient(p1)
        assert c.call("ASKING") == b"+OK\r\n"
        assert c.call("GET", "{b}absent") == b"$8\r\nmoved-in\r\n"
        c.close()
    finally:
        call(p0, "CONFIG", "SET", "cluster-migration-ask", "no")
        cluster3.push(cluster3.initial(version=cluster3.topology["version"] + 1))
        for h in cluster3.nodes:
            call(h.port, "FLUSHALL")


def test_redis_cli_cluster_check(cluster3: LocalCluster) -> None:
    out = _cli(cluster3.nodes[0].port, "--cluster", "check", f"127.0.0.1:{cluster3.nodes[0].port}")
    assert "[OK] All nodes agree about slots configuration." in out
    assert "[OK] All 16384 slots covered." in out
    assert "[ERR]" not in out and "[WARNING]" not in out


def test_redis_benchmark_cluster(cluster3: LocalCluster) -> None:
    out = subprocess.run(
        [REDIS_BENCHMARK, "--cluster", "-p", str(cluster3.nodes[0].port), "-n", "3000", "-c", "6",
         "-t", "set,get", "-q", "-r", "1000"],
        capture_output=True, timeout=120, check=True,
    ).stdout.decode()
    assert "Cluster has 3 master nodes" in out
    assert "SET:" in out and "GET:" in out and "rror" not in out
    keys = sum(redis.Redis(port=h.port).dbsize() for h in cluster3.nodes)
    assert 0 < keys <= 3000  # key:{tag}:N with a hash tag per primary and N < 1000
    assert all(redis.Redis(port=h.port).dbsize() > 0 for h in cluster3.nodes)
    for h in cluster3.nodes:
        call(h.port, "FLUSHALL")
