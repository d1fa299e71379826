"""Scripts, function libraries and ACL users are cluster-wide objects (docs/cluster.md,
"Scripts" and "ACL users").

Real moonkv nodes in cluster mode sharing a real etcd (started here on free loopback
ports, stopped at the end): what one node loads, every node runs at once, without
NOSCRIPT, whichever node a client reaches, including a node started later and a
replica; flushes and deletions reach every node too. A user defined on one node can
AUTH on every node.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from hashlib import sha1
from typing import Any

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.cluster.conftest import NODE_ARGS, LocalCluster, call, start_cluster
from tests.cluster.etcd_harness import Etcd, etcd_call
from tests.helpers import RawClient, ServerHandle, start_moonkv

# One key on each node of a three-primary cluster (slots 3300, 7365, 11298).
KEY_ON = ["b", "c", "d"]


@pytest.fixture(scope="module")
def etcd() -> Iterator[Etcd]:
    e = Etcd()
    try:
        yield e
    finally:
        e.close()


_names = iter(range(1_000_000))


def etcd_args(etcd: Etcd, name: str, timeout_ms: int = 3000) -> list[str]:
    return ["--cluster-etcd-endpoints", etcd.endpoint, "--cluster-name", name,
            "--cluster-node-timeout", str(timeout_ms)]


@pytest.fixture
def cluster(etcd: Etcd) -> Iterator[tuple[LocalCluster, str]]:
    """Three primaries sharing ``etcd`` under a cluster name of their own."""
    name = f"scripts{next(_names)}"
    with start_cluster(3, args=etcd_args(etcd, name)) as cl:
        # A node with etcd endpoints is fenced (refuses writes) until its lease is registered
        # (cluster/_membership.py): wait for each to take a write in its own slot.
        for h, key in zip(cl.nodes, KEY_ON, strict=True):
            until(lambda port=h.port, k=key: call(port, "SET", k, "x") == b"+OK\r\n",
                  f"node {h.port} to take writes")
            assert call(h.port, "DEL", key) == b":1\r\n"
        yield cl, name


def until(cond: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return got


def bulk(value: str) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value.encode())


def sha_of(body: str) -> str:
    return sha1(body.encode()).hexdigest()


def noscript_errors(port: int) -> int:
    stats = call(port, "INFO", "errorstats").decode()
    return sum(int(line.split("count=")[1]) for line in stats.splitlines() if line.startswith("errorstat_NOSCRIPT"))


def test_script_load_runs_on_every_node_at_once(cluster: tuple[LocalCluster, str]) -> None:
    cl, _ = cluster
    body = "return {KEYS[1], redis.call('incr', KEYS[1])}"
    clients = [RawClient(h.port) for h in cl.nodes]
    try:
        assert clients[0].call("SCRIPT", "LOAD", body) == bulk(sha_of(body))
        for c, key in zip(clients, KEY_ON, strict=True):  # no pause: the reply waited for etcd
            assert c.call("EVALSHA", sha_of(body), "1", key) == b"*2\r\n" + bulk(key) + b":1\r\n"
            assert c.call("SCRIPT", "EXISTS", sha_of(body)) == b"*1\r\n:1\r\n"
    finally:
        for c in clients:
            c.close()
    assert sum(noscript_errors(h.port) for h in cl.nodes) == 0


def test_a_script_eval_created_runs_by_sha_elsewhere(cluster: tuple[LocalCluster, str]) -> None:
    cl, _ = cluster
    body = "return 'made by eval'"
    assert call(cl.nodes[2].port, "EVAL", body, "0") == bulk("made by eval")
    for h in cl.nodes[:2]:
        assert call(h.port, "EVALSHA", sha_of(body), "0") == bulk("made by eval")


def test_script_flush_reaches_every_node(cluster: tuple[LocalCluster, str]) -> None:
    cl, _ = cluster
    body = "return 'flush me'"
    assert call(cl.nodes[0].port, "SCRIPT", "LOAD", body) == bulk(sha_of(body))
    assert call(cl.nodes[2].port, "EVALSHA", sha_of(body), "0") == bulk("flush me")
    assert call(cl.nodes[1].port, "SCRIPT", "FLUSH") == b"+OK\r\n"
    for h in cl.nodes:
        until(lambda h=h: call(h.port, "SCRIPT", "EXISTS", sha_of(body)) == b"*1\r\n:0\r\n", "the flush")
        # The miss asks etcd, which has nothing either: Redis's NOSCRIPT.
        assert call(h.port, "EVALSHA", sha_of(body), "0") == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"


LIB = "#!lua name=everywhere\nredis.register_function('where', function(keys) return redis.call('incr', keys[1]) end)"
LIB2 = "#!lua name=everywhere\nredis.register_function('where', function(keys) return 'v2' end)"


def test_function_load_delete_flush_reach_every_node(cluster: tuple[LocalCluster, str]) -> None:
    cl, _ = cluster
    p = [h.port for h in cl.nodes]
    assert call(p[0], "FUNCTION", "LOAD", LIB) == bulk("everywhere")
    for port, key in zip(p, KEY_ON, strict=True):
        assert call(port, "FCALL", "where", "1", key) == b":1\r\n"
    assert call(p[1], "FUNCTION", "LOAD", "REPLACE", LIB2) == bulk("everywhere")
    for port in p:
        until(lambda port=port: call(port, "FCALL", "where", "0") == bulk("v2"), "the replaced library")
    assert call(p[2], "FUNCTION", "DELETE", "everywhere") == b"+OK\r\n"
    for port in p:
        until(lambda port=port: call(port, "FCALL", "where", "0") == b"-ERR Function not found\r\n", "the deletion")
    assert call(p[2], "FUNCTION", "LOAD", LIB) == bulk("everywhere")
    assert call(p[0], "FCALL", "where", "1", "b") == b":2\r\n"
    assert call(p[0], "FUNCTION", "FLUSH") == b"+OK\r\n"
    for port in p:
        until(lambda port=port: call(port, "FUNCTION", "LIST") == b"*0\r\n", "the flush")


def test_a_node_started_later_has_everything(etcd: Etcd, cluster: tuple[LocalCluster, str]) -> None:
    cl, name = cluster
    body = "return 'older than the node'"
    assert call(cl.nodes[0].port, "SCRIPT", "LOAD", body) == bulk(sha_of(body))
    assert call(cl.nodes[1].port, "FUNCTION", "LOAD", LIB) == bulk("everywhere")
    late = start_moonkv([*NODE_ARGS, *etcd_args(etcd, name)])
    try:
        # At once (a miss asks etcd), then from its own cache (it read etcd at start).
        assert call(late.port, "EVALSHA", sha_of(body), "0") == bulk("older than the node")
        until(lambda: call(late.port, "FUNCTION", "LIST").startswith(b"*1\r\n"), "the library")
        assert call(late.port, "SCRIPT", "EXISTS", sha_of(body)) == b"*1\r\n:1\r\n"
        assert noscript_errors(late.port) == 0
    finally:
        late.stop()


def test_a_node_away_during_a_flush_drops_the_scripts(etcd: Etcd) -> None:
    """etcd is the truth when a node comes back: scripts flushed while it was down go,
    though its own log still holds them."""
    name = f"scripts{next(_names)}"
    old, new = "return 'old'", "return 'new'"
    with start_cluster(2, args=[*etcd_args(etcd, name), "--appendonly", "yes"]) as cl:
        a, b = cl.nodes
        assert call(a.port, "SCRIPT", "LOAD", old) == bulk(sha_of(old))
        assert call(b.port, "EVALSHA", sha_of(old), "0") == bulk("old")
        b.stop()
        assert call(a.port, "SCRIPT", "FLUSH") == b"+OK\r\n"
        assert call(a.port, "SCRIPT", "LOAD", new) == bulk(sha_of(new))
        again = start_moonkv([*NODE_ARGS, *etcd_args(etcd, name), "--appendonly", "yes"], dir=b.dir, port=b.port)
        cl.nodes[1] = again
        until(lambda: call(again.port, "SCRIPT", "EXISTS", sha_of(old), sha_of(new)) == b"*2\r\n:0\r\n:1\r\n",
              "the cache to follow etcd")


def test_replicas_have_the_scripts_and_serve_readonly_scripts(etcd: Etcd) -> None:
    name = f"scripts{next(_names)}"
    body = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])"
    with start_cluster(1, replicas=1, args=etcd_args(etcd, name)) as cl:
        primary, replica = cl.nodes
        assert call(primary.port, "SET", "b", "v") == b"+OK\r\n"
        assert call(primary.port, "SCRIPT", "LOAD", body) == bulk(sha_of(body))
        assert call(primary.port, "FUNCTION", "LOAD", LIB) == bulk("everywhere")
        r = RawClient(replica.port)
        try:
            moved = r.call("EVALSHA", sha_of(body), "1", "b")
            assert moved == b"-MOVED 3300 127.0.0.1:%d\r\n" % primary.port
            assert r.call("READONLY") == b"+OK\r\n"
            until(lambda: r.call("EVALSHA_RO", sha_of(body), "1", "b") == bulk("v"), "the replica's copy")
            assert r.call("EVALSHA", sha_of(body), "1", "b") == bulk("v")  # no-writes: a read
            # A function that may write: routed here (FCALL is no write command), refused
            # as Redis 7.0 refuses it on a read-only replica.
            assert r.call("FCALL", "where", "1", "b") == b"-READONLY You can't write against a read only replica.\r\n"
            assert r.call("FUNCTION", "LIST").startswith(b"*1\r\n")
        finally:
            r.close()


def test_when_etcd_does_not_confirm(etcd: Etcd) -> None:
    """A change etcd does not confirm within cluster-node-timeout holds on the node that
    took it, and its client is told so; nothing else waits (the event loop goes on)."""
    name = f"scripts{next(_names)}"
    own = Etcd()
    node: ServerHandle | None = None
    try:
        node = start_moonkv([*NODE_ARGS, *etcd_args(own, name, timeout_ms=1000)])
        body = "return 'local only'"
        port = node.port
        # Confirmed once etcd answers (the first call also opens the connection: on a
        # loaded machine it may take longer than the timeout, and is then refused).
        until(lambda: call(port, "SCRIPT", "LOAD", body) == bulk(sha_of(body)), "etcd to confirm")
        own.signal(signal.SIGSTOP)  # etcd stops answering
        waiting = RawClient(node.port)
        waiting.send_raw(b"*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$14\r\nreturn 'again'\r\n")
        assert call(node.port, "PING") == b"+PONG\r\n"  # served while the other client waits
        reply = waiting.read_reply()
        waiting.close()
        assert reply.startswith(b"-ERR etcd did not confirm the change"), reply
        assert call(node.port, "EVALSHA", sha_of("return 'again'"), "0") == bulk("again")
    finally:
        own.signal(signal.SIGCONT)
        if node is not None:
            node.stop()
        own.close()


def test_redis_py_cluster_scripts(cluster: tuple[LocalCluster, str]) -> None:
    """redis-py's RedisCluster: register_script's EVALSHA works on every node once loaded
    anywhere, and scripts over hash-tagged keys run where their slot lives."""
    cl, _ = cluster
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cl.nodes[0].port)])
    try:
        body = "return redis.call('incrby', KEYS[1], ARGV[1])"
        redis.Redis(port=cl.nodes[1].port).script_load(body)  # loaded on one node
        incr = rc.register_script(body)
        tags = [f"{{user{i}}}:n" for i in range(30)]  # spread over the three nodes
        assert {rc.keyslot(t) // 5462 for t in tags} == {0, 1, 2}
        for t in tags:
            assert incr(keys=[t], args=[5]) == 5
        assert sum(noscript_errors(h.port) for h in cl.nodes) == 0
        move = rc.register_script(
            "local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[2], v) return redis.call('del', KEYS[1])"
        )
        for i in range(30):
            assert move(keys=[f"{{user{i}}}:n", f"{{user{i}}}:copy"]) == 1
            assert rc.get(f"{{user{i}}}:copy") == b"5"
        with pytest.raises(redis.RedisClusterException):
            move(keys=["{user1}:n", "{user2}:n"])  # redis-py refuses cross-slot keys itself
    finally:
        rc.close()


def test_inside_multi_the_change_goes_out_without_waiting(cluster: tuple[LocalCluster, str]) -> None:
    """A transaction cannot wait: SCRIPT LOAD and EVAL inside MULTI/EXEC answer at once and
    still reach the other nodes; a miss inside one answers NOSCRIPT at once."""
    cl, _ = cluster
    loaded, evaled = "return 'loaded in multi'", "return 'evaled in multi'"
    c = RawClient(cl.nodes[0].port)
    try:
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SCRIPT", "LOAD", loaded) == b"+QUEUED\r\n"
        assert c.call("EVAL", evaled, "0") == b"+QUEUED\r\n"
        assert c.call("EVALSHA", sha_of("return 'nowhere'"), "0") == b"+QUEUED\r\n"
        assert c.call("EXEC") == (
            b"*3\r\n" + bulk(sha_of(loaded)) + bulk("evaled in multi")
            + b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
        )
    finally:
        c.close()
    for body, result in ((loaded, "loaded in multi"), (evaled, "evaled in multi")):
        until(lambda body=body, result=result: call(cl.nodes[1].port, "EVALSHA", sha_of(body), "0") == bulk(result),
              "the transaction's scripts elsewhere")


def test_eval_created_scripts_stay_bounded(etcd: Etcd) -> None:
    """lua-eval-cache-size bounds the registry's EVAL-created scripts too: a node that
    evicts one deletes it from etcd, and the other nodes drop it."""
    name = f"scripts{next(_names)}"
    with start_cluster(2, args=[*etcd_args(etcd, name), "--lua-eval-cache-size", "3"]) as cl:
        a, b = (h.port for h in cl.nodes)
        bodies = [f"return {i}" for i in range(10)]
        for body in bodies:
            assert call(a, "EVAL", body, "0").startswith(b":")

        def cached(port: int) -> list[int]:
            reply = call(port, "SCRIPT", "EXISTS", *(sha_of(x) for x in bodies))
            return [int(x[1:]) for x in reply.split(b"\r\n")[1:-1]]

        until(lambda: cached(b) == [0] * 7 + [1] * 3, "node b to hold the three newest")
        assert cached(a) == [0] * 7 + [1] * 3

        async def evals(client: Any) -> list[bytes]:
            got = await client.get_prefix(f"/moonkv/{name}/evals/".encode())
            return sorted(kv.key.rsplit(b"/", 1)[1] for kv in got)

        until(lambda: etcd_call(etcd.endpoint, evals) == sorted(sha_of(x).encode() for x in bodies[7:]),
              "etcd to hold the three newest")



WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def auth(port: int, user: str, password: str) -> bytes:
    """AUTH's reply; empty if the connection was closed first (the user was deleted just
    after the AUTH: its clients are disconnected, the reply with them)."""
    c = RawClient(port)
    try:
        return c.call("AUTH", user, password)
    except ConnectionError:
        return b""
    finally:
        c.close()


def test_acl_changes_reach_every_node(etcd: Etcd) -> None:
    """ACL SETUSER/DELUSER on one node: AUTH on every other node, primaries and replicas,
    within a bounded wait; a node started later has the users at start."""
    name = f"scripts{next(_names)}"
    with start_cluster(2, replicas=1, args=etcd_args(etcd, name)) as cl:
        ports = [h.port for h in cl.nodes]
        assert call(ports[0], "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all") == b"+OK\r\n"
        for port in ports[1:]:
            until(lambda port=port: auth(port, "alice", "pw") == b"+OK\r\n", f"alice on node {port}")
        # A change on another node replaces the whole user everywhere.
        assert call(ports[3], "ACL", "SETUSER", "alice", "resetpass", ">pw2") == b"+OK\r\n"
        assert call(ports[1], "ACL", "SETUSER", "bob", "on", ">b", "+ping") == b"+OK\r\n"
        for port in ports:
            until(lambda port=port: auth(port, "alice", "pw2") == b"+OK\r\n", f"the new password on {port}")
            until(lambda port=port: auth(port, "bob", "b") == b"+OK\r\n", f"bob on {port}")
            assert auth(port, "alice", "pw") == WRONGPASS
        listing = call(ports[0], "ACL", "LIST")
        for port in ports[1:]:
            until(lambda port=port: call(port, "ACL", "LIST") == listing, f"the same users on {port}")
        late = start_moonkv([*NODE_ARGS, *etcd_args(etcd, name)])
        try:
            until(lambda: call(late.port, "ACL", "LIST") == listing, "the users on a node started later")
            assert auth(late.port, "bob", "b") == b"+OK\r\n"
            assert call(ports[2], "ACL", "DELUSER", "bob") == b":1\r\n"
            for port in (*ports, late.port):
                until(lambda port=port: auth(port, "bob", "b") == WRONGPASS, f"bob gone from {port}")
        finally:
            late.stop()


def test_a_node_away_during_a_deluser_drops_the_user(etcd: Etcd) -> None:
    """etcd is the truth when a node comes back: a user deleted while it was down goes,
    though its own log still holds it."""
    name = f"scripts{next(_names)}"
    with start_cluster(2, args=[*etcd_args(etcd, name), "--appendonly", "yes"]) as cl:
        a, b = cl.nodes
        assert call(a.port, "ACL", "SETUSER", "carol", "on", ">c") == b"+OK\r\n"
        until(lambda: auth(b.port, "carol", "c") == b"+OK\r\n", "carol on node b")
        b.stop()
        assert call(a.port, "ACL", "DELUSER", "carol") == b":1\r\n"
        again = start_moonkv([*NODE_ARGS, *etcd_args(etcd, name), "--appendonly", "yes"], dir=b.dir, port=b.port)
        cl.nodes[1] = again
        until(lambda: call(again.port, "ACL", "USERS") == b"*1\r\n$7\r\ndefault\r\n", "carol to go")


def test_acl_load_replaces_the_users_of_every_node(etcd: Etcd, tmp_path: Any) -> None:
    name = f"scripts{next(_names)}"
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser alice on >pw ~* +@all\n")
    with start_cluster(2, args=[*etcd_args(etcd, name), "--aclfile", str(path)]) as cl:
        a, b = (h.port for h in cl.nodes)
        assert call(b, "ACL", "SETUSER", "zed", "on", ">z") == b"+OK\r\n"
        until(lambda: auth(a, "zed", "z") == b"+OK\r\n", "zed on node a")
        path.write_text("user default on nopass ~* &* +@all -debug\nuser bob on >b ~* +@all\n")
        assert call(a, "ACL", "LOAD") == b"+OK\r\n"
        listing = call(a, "ACL", "LIST")
        assert listing.count(b"user ") == 2
        until(lambda: call(b, "ACL", "LIST") == listing, "node b to have exactly the file's users")
        assert auth(b, "bob", "b") == b"+OK\r\n"
