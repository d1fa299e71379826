"""`moonkv cluster add-node / rebalance / remove-node` against real etcd, a controller and
nodes, with redis-py's RedisCluster writing throughout (docs/cluster.md "Operations")."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
import redis

from moonkv.cluster.slots import SLOTS, key_slot
from moonkv.cluster.topology import Topology
from tests.cluster.etcd_harness import Cluster, call, wait_until
from tests.cluster.load import Writer
from tests.helpers import RawClient, start_moonkv

pytestmark = pytest.mark.timeout(240)

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def cli(cl: Cluster, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "moonkv", "cluster", *args, "--etcd", cl.etcd.endpoint,
                          "--cluster", cl.name], capture_output=True, timeout=180)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def slot_counts(top: Topology) -> dict[str, int]:
    return {p.id: sum(hi - lo + 1 for lo, hi in p.slots) for p in top.primaries()}


def check_acked(cl: Cluster, w: Writer) -> None:
    """Every acknowledged write is on the primary the record gives its slot."""
    top = cl.wait_pushed()
    conns: dict[str, redis.Redis] = {}
    try:
        for key, val in w.acked.items():
            owner = top.owner(key_slot(key))
            assert owner is not None
            r = conns.get(owner.id) or conns.setdefault(owner.id, redis.Redis(port=owner.port))
            assert r.get(key) == val, (key, owner.port)
        owner = top.owner(key_slot(w.counter))
        assert owner is not None
        assert int(conns[owner.id].get(w.counter) or 0) == w.incrs
    finally:
        for r in conns.values():
            r.close()


def test_add_node_then_rebalance_under_load() -> None:
    cl = Cluster(primaries=1, replicas=0, node_timeout=10000)  # no failover on a loaded machine
    try:
        first = next(iter(cl.nodes))
        writers = [Writer(cl.nodes[first].port), Writer(cl.nodes[first].port, use_asyncio=True, prefix=b"async")]
        for w in writers:
            w.start()
        try:
            time.sleep(0.5)
            h = cl._start_node()
            c = RawClient(h.port)
            new_id = c.call("CLUSTER", "MYID").split(b"\r\n")[1].decode()
            c.close()
            cl.nodes[new_id] = h
            assert new_id in cli(cl, "add-node", f"127.0.0.1:{h.port}")
            top = cl.wait_pushed()
            assert slot_counts(top) == {first: SLOTS, new_id: 0}
            out = cli(cl, "rebalance")
            assert "8192 slot(s) moved" in out, (out, cl.record().to_json())
            time.sleep(0.5)
        finally:
            for w in writers:
                w.stop_flag.set()
                w.join(30)
        for w in writers:
            assert not w.errors, w.trace
            assert w.incrs > 0
        top = cl.wait_pushed()
        assert slot_counts(top) == {first: SLOTS // 2, new_id: SLOTS // 2}
        assert not top.migrations
        check = subprocess.run([REDIS_CLI, "--cluster", "check", f"127.0.0.1:{h.port}"], capture_output=True,
                               timeout=60).stdout.decode()
        assert "[OK] All 16384 slots covered." in check and "[ERR]" not in check, check
        for w in writers:
            check_acked(cl, w)
        # The source deleted what it handed over.
        old = redis.Redis(port=cl.nodes[first].port)
        try:
            wait_until(lambda: all(top.owner(key_slot(k)).id == first  # type: ignore[union-attr]
                                   for k in old.scan_iter(count=1000)), 20, "the moved keys to go")
        finally:
            old.close()
    finally:
        cl.close()


def test_remove_node_moves_its_slots_away_first() -> None:
    cl = Cluster(primaries=3, replicas=0, node_timeout=10000)
    try:
        ids = list(cl.nodes)
        w = Writer(cl.nodes[ids[0]].port)
        w.start()
        try:
            time.sleep(0.5)
            out = cli(cl, "remove-node", ids[2][:10])
            assert f"remove-node: {ids[2]} left the cluster" in out
            time.sleep(0.3)
        finally:
            w.stop_flag.set()
            w.join(30)
        assert not w.errors, w.trace
        gone_node = cl.nodes.pop(ids[2])  # no longer pushed to; stopped below
        try:
            top = cl.wait_pushed()
            assert top.node(ids[2]) is None
            counts = slot_counts(top)
            assert sum(counts.values()) == SLOTS and abs(counts[ids[0]] - counts[ids[1]]) <= 1
            check_acked(cl, w)
            gone = redis.Redis(port=gone_node.port)
            try:
                wait_until(lambda: gone.dbsize() == 0, 20, "the removed node's keys to go")
            finally:
                gone.close()
        finally:
            gone_node.stop()
    finally:
        cl.close()


def test_add_node_refuses_a_node_with_keys() -> None:
    cl = Cluster(primaries=1, replicas=0, node_timeout=10000)
    try:
        old = start_moonkv(["--appendonly", "yes"])  # a standalone past: one key on disk
        try:
            assert call(old.port, "SET", "kept", "1") == b"+OK\r\n"
        finally:
            old.stop()
        h = cl._start_node(dir=old.dir)
        c = RawClient(h.port)
        new_id = c.call("CLUSTER", "MYID").split(b"\r\n")[1].decode()
        c.close()
        cl.nodes[new_id] = h
        out = subprocess.run([sys.executable, "-m", "moonkv", "cluster", "add-node", f"127.0.0.1:{h.port}",
                              "--etcd", cl.etcd.endpoint, "--cluster", cl.name], capture_output=True, timeout=60)
        assert out.returncode != 0
        assert f"node 127.0.0.1:{h.port} is not empty: it holds 1 key(s)" in out.stderr.decode()
        assert cl.record().node(new_id) is None
        assert call(h.port, "DBSIZE") == b":1\r\n"
    finally:
        cl.close()


def test_add_node_as_a_replica() -> None:
    cl = Cluster(primaries=1, replicas=0, node_timeout=10000)
    try:
        primary = next(iter(cl.nodes))
        p = redis.Redis(port=cl.nodes[primary].port)
        p.set(b"before", b"1")
        h = cl._start_node()
        c = RawClient(h.port)
        new_id = c.call("CLUSTER", "MYID").split(b"\r\n")[1].decode()
        c.close()
        cl.nodes[new_id] = h
        assert f"is a replica of {primary}" in cli(cl, "add-node", f"127.0.0.1:{h.port}", "--replica-of", primary[:8])
        top = cl.wait_pushed()
        assert [n.id for n in top.replicas_of(primary)] == [new_id]
        r = RawClient(h.port)
        try:
            assert r.call("READONLY") == b"+OK\r\n"  # a replica serves this connection's reads
            wait_until(lambda: b"master_link_status:up" in r.call("INFO", "replication"), 30, "the replica's link")
            p.set(b"after", b"2")
            wait_until(lambda: r.call("GET", "after") == b"$1\r\n2\r\n", 30, "the write to arrive")
            assert r.call("GET", "before") == b"$1\r\n1\r\n"
        finally:
            r.close()
            p.close()
        assert "already" in cli(cl, "add-node", f"127.0.0.1:{h.port}", "--replica-of", primary[:8])
    finally:
        cl.close()
