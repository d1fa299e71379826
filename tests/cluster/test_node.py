"""A node's own state: no topology yet, SETTOPOLOGY versions, restart, replicas and READONLY,
roles changed by the topology."""

from __future__ import annotations

import json
import time

from tests.cluster.conftest import NODE_ARGS, call, node_id, set_topology, start_cluster, topology
from tests.helpers import RawClient, running, start_moonkv


def test_a_node_without_topology() -> None:
    with running(start_moonkv(list(NODE_ARGS))) as h:
        c = RawClient(h.port)
        assert c.call("GET", "k") == b"-CLUSTERDOWN Hash slot not served\r\n"
        assert c.call("SET", "k", "v") == b"-CLUSTERDOWN Hash slot not served\r\n"
        assert c.call("PING") == b"+PONG\r\n"
        assert c.call("CLUSTER", "TOPOLOGY") == b"*2\r\n:0\r\n$-1\r\n"
        assert c.call("CLUSTER", "SLOTS") == b"*0\r\n"
        assert b"cluster_state:fail\r\ncluster_slots_assigned:0\r\n" in c.call("CLUSTER", "INFO")
        assert b"cluster_known_nodes:1\r\n" in c.call("CLUSTER", "INFO")
        myid = node_id(h.port)
        assert c.call("CLUSTER", "NODES").endswith(
            f"{myid} :{h.port}@0 myself,master - 0 0 0 connected\n\r\n".encode())
        assert c.call("CLUSTER", "MEET", "127.0.0.1", "7000").startswith(
            b"-ERR CLUSTER MEET is not supported: moonkv's topology changes go through its controller")
        c.close()


def test_topology_versions_and_restart() -> None:
    h = start_moonkv(list(NODE_ARGS))
    try:
        myid = node_id(h.port)
        other = "f" * 40
        v2 = topology(2, [(myid, h.port, [(0, 8191)]), (other, 1, [(8192, 16383)])])
        assert set_topology(h.port, v2) == b"+OK\r\n"
        assert set_topology(h.port, v2) == b"+OK\r\n"  # a retried push
        v1 = dict(v2, version=1)
        assert set_topology(h.port, v1) == b"-ERR topology version 1 is older than this node's 2\r\n"
        changed = dict(v2, name="other")
        assert set_topology(h.port, changed) == (
            b"-ERR topology version 2 is already applied with a different record\r\n")
        assert call(h.port, "CLUSTER", "SETTOPOLOGY", 3, json.dumps(v2)) == (
            b"-ERR topology version 3 does not match the record's version 2\r\n")
        assert call(h.port, "CLUSTER", "SETTOPOLOGY", "x", json.dumps(v2)) == (
            b"-ERR value is not an integer or out of range\r\n")
        assert call(h.port, "CLUSTER", "SETTOPOLOGY", 2, "{").startswith(
            b"-ERR invalid topology: topology is not valid JSON")
        bad = dict(v2, version=4)
        bad["nodes"] = [dict(bad["nodes"][0], slots=[[0, 16384]])]
        assert call(h.port, "CLUSTER", "SETTOPOLOGY", 4, json.dumps(bad)) == (
            f"-ERR invalid topology: node {myid} has slot range [0, 16384] outside 0..16383 "
            "or reversed\r\n".encode())
        assert call(h.port, "SET", "{b}k", "v") == b"+OK\r\n"  # slot 3300: here
        assert call(h.port, "GET", "foo") == b"-MOVED 12182 127.0.0.1:1\r\n"
        before = call(h.port, "CLUSTER", "TOPOLOGY")
        h.stop()
        h = start_moonkv(list(NODE_ARGS), dir=h.dir, port=h.port)
        assert node_id(h.port) == myid
        assert call(h.port, "CLUSTER", "TOPOLOGY") == before
        assert call(h.port, "GET", "foo") == b"-MOVED 12182 127.0.0.1:1\r\n"
        assert set_topology(h.port, v1) == b"-ERR topology version 1 is older than this node's 2\r\n"
    finally:
        h.stop()


def _wait(fn: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not fn():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_replica_reads_with_readonly_and_roles_follow_the_topology() -> None:
    with start_cluster(primaries=1, replicas=1) as cl:
        p, r = cl.nodes[0].port, cl.nodes[1].port
        _wait(lambda: b"master_link_status:up" in call(r, "INFO", "replication"))
        assert call(p, "SET", "k", "v") == b"+OK\r\n"
        assert call(p, "WAIT", 1, 5000) == b":1\r\n"
        c = RawClient(r)
        slot = b"%d" % 7629  # CLUSTER KEYSLOT k
        assert c.call("CLUSTER", "KEYSLOT", "k") == b":" + slot + b"\r\n"
        moved = b"-MOVED " + slot + b" 127.0.0.1:%d\r\n" % p
        assert c.call("GET", "k") == moved
        assert c.call("READONLY") == b"+OK\r\n"
        assert c.call("GET", "k") == b"$1\r\nv\r\n"
        assert c.call("SET", "k", "w") == moved  # writes still go to the primary
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("GET", "k") == b"+QUEUED\r\n"
        assert c.call("EXEC") == b"*1\r\n$1\r\nv\r\n"
        assert b" flags=r " in c.call("CLIENT", "INFO")
        assert c.call("READWRITE") == b"+OK\r\n"
        assert c.call("GET", "k") == moved
        c.call("READONLY")
        assert c.call("RESET") == b"+RESET\r\n"  # RESET ends READONLY, as in Redis
        assert c.call("GET", "k") == moved
        assert c.call("CLUSTER", "REPLICAS", cl.ids[0]).count(b" myself,slave " + cl.ids[0].encode()) == 1
        assert c.call("CLUSTER", "REPLICAS", cl.ids[1]) == b"-ERR The specified node is not a master\r\n"
        c.close()
        # The topology swaps the roles: the replica is promoted, the old primary follows it.
        swapped = topology(2, [(cl.ids[1], r, [(0, 16383)])], [(cl.ids[0], p, cl.ids[1])])
        cl.push(swapped)
        assert call(r, "SET", "k", "w") == b"+OK\r\n"
        assert call(r, "ROLE").startswith(b"*3\r\n$6\r\nmaster\r\n")
        _wait(lambda: b"master_link_status:up" in call(p, "INFO", "replication"))
        assert call(r, "WAIT", 1, 5000) == b":1\r\n"
        assert call(p, "GET", "k") == b"-MOVED 7629 127.0.0.1:%d\r\n" % r
        c = RawClient(p)
        c.call("READONLY")
        assert c.call("GET", "k") == b"$1\r\nw\r\n"
        c.close()



def test_keys_in_slot_survive_restart_and_rollback() -> None:
    """The per-slot index follows a failed script's rollback, FLUSHALL, expiry and a reload."""
    h = start_moonkv(["--cluster-enabled", "yes"])  # durable: the default data directory log
    try:
        myid = node_id(h.port)
        assert set_topology(h.port, topology(1, [(myid, h.port, [(0, 16383)])])) == b"+OK\r\n"
        slot = 3300  # {b}
        c = RawClient(h.port)
        assert c.call("MSET", "{b}1", "x", "{b}2", "y", "{b}3", "z") == b"+OK\r\n"
        fail = "redis.call('set', KEYS[1], 1); redis.call('del', KEYS[2]); return redis.call('incr', KEYS[3])"
        assert c.call("EVAL", fail, 3, "{b}new", "{b}1", "{b}3").startswith(b"-ERR")
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot) == b":3\r\n"
        assert c.call("EVAL", "redis.call('flushall'); error('boom')", 1, "{b}3").startswith(b"-ERR")
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot) == b":3\r\n"
        assert c.call("PEXPIRE", "{b}2", 1) == b":1\r\n"
        time.sleep(0.05)
        assert c.call("GET", "{b}2") == b"$-1\r\n"
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot) == b":2\r\n"
        c.close()
        h.stop()
        h = start_moonkv(["--cluster-enabled", "yes"], dir=h.dir, port=h.port)
        c = RawClient(h.port)
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot) == b":2\r\n"
        assert sorted(c.call("CLUSTER", "GETKEYSINSLOT", slot, 10).split(b"\r\n")[1:]) == sorted(
            [b"$4", b"$4", b"{b}1", b"{b}3", b""])
        assert c.call("FLUSHALL") == b"+OK\r\n"
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot) == b":0\r\n"
        c.close()
    finally:
        h.stop()
