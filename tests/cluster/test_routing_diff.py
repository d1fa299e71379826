"""Routing and CLUSTER replies, byte for byte against a real redis-server cluster.

Both clusters have three primaries with the slots ``redis-cli --cluster create`` gives
(0-5460, 5461-10922, 10923-16383); node addresses in replies are replaced by the node's
index, the only thing that differs between the two.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moonkv.cluster.slots import key_slot
from tests.cluster.conftest import (
    LocalCluster,
    RedisCluster,
    call,
    start_cluster,
    start_redis_cluster,
    wait_handed,
)
from tests.helpers import RawClient


class Pair:
    def __init__(self, mk: LocalCluster, real: RedisCluster) -> None:
        self.mk = mk
        self.real = real

    def _norm(self, reply: bytes, ports: list[int], ids: list[str]) -> bytes:
        for i, (port, nid) in enumerate(zip(ports, ids, strict=True)):
            reply = reply.replace(b"127.0.0.1:%d" % port, b"node%d" % i).replace(nid.encode(), b"id%d" % i)
            reply = reply.replace(b":%d\r\n" % port, b":port%d\r\n" % i)  # CLUSTER SLOTS/SHARDS
        return reply

    def clients(self, node: int) -> tuple[RawClient, RawClient]:
        return RawClient(self.mk.nodes[node].port), RawClient(self.real.nodes[node].port)

    def norm_mk(self, reply: bytes) -> bytes:
        return self._norm(reply, [h.port for h in self.mk.nodes], self.mk.ids)

    def norm_real(self, reply: bytes) -> bytes:
        return self._norm(reply, [h.port for h in self.real.nodes], self.real.ids)

    def same(self, m: RawClient, r: RawClient, *args: bytes | str | int) -> bytes:
        got, want = self.norm_mk(m.call(*args)), self.norm_real(r.call(*args))
        assert got == want, f"{args!r}: moonkv {got!r} != redis {want!r}"
        return got


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with start_cluster(3) as mk, start_redis_cluster(3) as real:
        yield Pair(mk, real)


@pytest.fixture
def on0(pair: Pair) -> Iterator[tuple[Pair, RawClient, RawClient]]:
    m, r = pair.clients(0)
    yield pair, m, r
    for c in (m, r):
        c.call("FLUSHALL")
        c.close()


SCRIPT = "return redis.call('get', KEYS[1])"

SINGLE = [
    ("GET", "foo"),  # slot 12182: node 2
    ("GET", "{b}x"),  # slot 3300: here
    ("SET", "a", "1"),
    ("SET", "{b}x", "1"),
    ("MSET", "a", "1", "b", "2"),
    ("MSET", "{b}1", "1", "{b}2", "2"),
    ("MSET", "{c}1", "1", "{c}2", "2"),
    ("MGET", "{b}1", "{c}1"),
    ("DEL", "{b}1", "{b}2", "{f}3"),
    ("EXISTS", "{b}1", "{b}1"),
    ("PING",),
    ("DBSIZE",),
    ("ECHO", "hi"),
    ("EVAL", "return 1", "0"),
    ("EVAL", SCRIPT, "1", "{b}x"),
    ("EVAL", SCRIPT, "1", "{c}x"),
    ("EVAL", SCRIPT, "2", "{b}x", "{c}x"),
    ("EVAL", SCRIPT, "notanumber", "x"),
    ("BLPOP", "{b}1", "{c}1", "0"),
    ("XREAD", "STREAMS", "{b}1", "{c}1", "0", "0"),
    ("SPUBLISH", "foo", "msg"),
    ("SPUBLISH", "{b}ch", "msg"),
    ("SUNIONSTORE", "{b}d", "{b}s1", "{b}s2"),
    ("SUNIONSTORE", "{b}d", "{b}s1", "{c}s2"),
    ("RENAME", "{b}1", "{c}1"),
    ("SELECT", "0"),
    ("SELECT", "1"),
    ("SWAPDB", "0", "1"),
    ("MOVE", "a", "1"),
    ("MOVE", "{b}x", "1"),
    ("COPY", "{b}x", "{b}y", "DB", "1"),
    ("READONLY",),
    ("READWRITE",),
    ("READONLY", "x"),
    ("ASKING", "x"),
    ("CLUSTER",),
    ("CLUSTER", "FOO"),
    ("CLUSTER", "KEYSLOT"),
    ("CLUSTER", "KEYSLOT", "a", "b"),
    ("CLUSTER", "COUNTKEYSINSLOT", "x"),
    ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
    ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
    ("CLUSTER", "COUNTKEYSINSLOT", "01"),
    ("CLUSTER", "COUNTKEYSINSLOT", " 1"),
    ("CLUSTER", "COUNTKEYSINSLOT", "99999999999999999999"),
    ("CLUSTER", "COUNTKEYSINSLOT", "3300"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
    ("CLUSTER", "GETKEYSINSLOT", "x", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "x"),
    ("CLUSTER", "GETKEYSINSLOT", "16384", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "3300", "0"),
    ("CLUSTER", "GETKEYSINSLOT", "3300"),
    ("CLUSTER", "REPLICAS", "abc"),
    ("CLUSTER", "SLAVES", "abc"),
    ("CLUSTER", "REPLICAS"),
    ("CLUSTER", "MYID", "x"),
    ("CLUSTER", "INFO", "x"),
    ("CLUSTER", "SLOTS", "x"),
    ("CLUSTER", "NODES", "x"),
    ("CLUSTER", "SHARDS", "x"),
    ("CLUSTER", "LINKS", "x"),
]


@pytest.mark.parametrize("args", SINGLE, ids=lambda a: " ".join(a)[:60])
def test_single_commands(on0: tuple[Pair, RawClient, RawClient], args: tuple[str, ...]) -> None:
    pair, m, r = on0
    pair.same(m, r, *args)


def test_keyslot_many_keys(on0: tuple[Pair, RawClient, RawClient]) -> None:
    pair, m, r = on0
    keys: list[bytes] = [b"", b"{", b"}", b"{}", b"{}x", b"x{}", b"{{}}", b"{a}{b}", b"a{b}c", b"a{b", b"a}b{c}",
                         b"{\x00}", b"\xff\xfe\x00", b"{user1000}.following", b"foo{bar}{zap}", b"{a" * 300]
    keys += [b"key:%d" % i for i in range(300)] + [bytes([i, 255 - i]) * (i % 7) for i in range(256)]
    for k in keys:
        got = pair.same(m, r, "CLUSTER", "KEYSLOT", k)
        assert got == b":%d\r\n" % key_slot(k)


def test_counts_and_keys_in_slot(on0: tuple[Pair, RawClient, RawClient]) -> None:
    pair, m, r = on0
    for c in (m, r):
        c.call("MSET", *[x for i in range(20) for x in (f"{{b}}{i}", "v")])
        c.call("SET", "{f}a", "1")
        c.call("DEL", "{b}3", "{b}4")
        c.call("RPUSH", "{b}list", "x")
        c.call("LPOP", "{b}list")  # an emptied container leaves the slot too
    pair.same(m, r, "CLUSTER", "COUNTKEYSINSLOT", key_slot(b"{b}"))
    pair.same(m, r, "CLUSTER", "COUNTKEYSINSLOT", key_slot(b"{f}"))
    got = sorted(m.call("CLUSTER", "GETKEYSINSLOT", key_slot(b"{b}"), 100).split(b"\r\n"))
    want = sorted(r.call("CLUSTER", "GETKEYSINSLOT", key_slot(b"{b}"), 100).split(b"\r\n"))
    assert got == want
    pair.same(m, r, "CLUSTER", "GETKEYSINSLOT", key_slot(b"{f}"), 5)


TRANSACTIONS = [
    [("MULTI",), ("SET", "{b}1", "x"), ("GET", "{b}2"), ("EXEC",)],
    [("MULTI",), ("SET", "a", "x"), ("SET", "{b}1", "x"), ("EXEC",)],  # MOVED at queue time
    [("MULTI",), ("SET", "{b}1", "x"), ("SET", "{f}1", "x"), ("EXEC",)],  # CROSSSLOT at EXEC
    [("MULTI",), ("MSET", "{b}1", "x", "{f}1", "y"), ("PING",), ("EXEC",)],
    [("MULTI",), ("PING",), ("EXEC",)],
    [("MULTI",), ("SET", "{b}1", "x"), ("DISCARD",), ("GET", "{b}1")],
]


@pytest.mark.parametrize("steps", TRANSACTIONS, ids=lambda s: " / ".join(" ".join(x) for x in s)[:70])
def test_transactions(on0: tuple[Pair, RawClient, RawClient], steps: list[tuple[str, ...]]) -> None:
    pair, m, r = on0
    for args in steps:
        pair.same(m, r, *args)
    pair.same(m, r, "GET", "{b}1")  # after a refused EXEC the connection is out of MULTI


def test_replies_describing_the_cluster(pair: Pair) -> None:
    """INFO's topology lines, SLOTS and the slot columns of NODES agree with Redis."""
    m, r = pair.clients(0)
    try:
        pair.same(m, r, "CLUSTER", "SLOTS")
        pair.same(m, r, "CLUSTER", "MYID")
        info_m = m.call("CLUSTER", "INFO").decode().split("\r\n")
        info_r = r.call("CLUSTER", "INFO").decode().split("\r\n")
        keep = ("cluster_state", "cluster_slots", "cluster_known", "cluster_size")
        assert [x for x in info_m if x.startswith(keep)] == [x for x in info_r if x.startswith(keep)]

        def nodes(c: RawClient, norm: object) -> list[tuple[str, ...]]:
            text = norm(c.call("CLUSTER", "NODES")).decode()  # type: ignore[operator]
            rows = [line.split() for line in text.split("\r\n", 1)[1].splitlines() if line.strip()]
            # id, address without the bus port, flags, primary, link state, slots
            return sorted((f[0], f[1].split("@")[0], f[2], f[3], f[7], *f[8:]) for f in rows)

        assert nodes(m, pair.norm_mk) == nodes(r, pair.norm_real)
        m.call("HELLO", "3")
        r.call("HELLO", "3")
        shards_m = pair.norm_mk(m.call("CLUSTER", "SHARDS"))
        shards_r = pair.norm_real(r.call("CLUSTER", "SHARDS"))
        # The same shards (Redis lists them in its dict's order) with the same fields.
        for i in range(3):
            assert shards_m.count(b"id%d" % i) == shards_r.count(b"id%d" % i) == 1
        assert shards_m.count(b"%7\r\n") == shards_r.count(b"%7\r\n") == 3
        mode = b"$4\r\nmode\r\n$7\r\ncluster\r\n"
        assert mode in m.call("HELLO", "3") and mode in r.call("HELLO", "3")
        assert b"redis_mode:cluster" in m.call("INFO", "server")
        assert b"cluster_enabled:1" in m.call("INFO", "cluster")
    finally:
        m.close()
        r.close()


def test_ask_during_a_migration(pair: Pair) -> None:
    """Slot of {b} handed over from node 0 to node 1, not yet committed: moonkv's source has
    sent every key to the target (docs/cluster.md "Resharding"); Redis's has MIGRATEd them."""
    slot = key_slot(b"{b}")
    mk, real = pair.mk, pair.real
    call(mk.nodes[0].port, "SET", "{b}here", "1")
    assert call(real.nodes[0].port, "SET", "{b}here", "1") == b"+OK\r\n"
    call(real.nodes[1].port, "CLUSTER", "SETSLOT", slot, "IMPORTING", real.ids[0])
    call(real.nodes[0].port, "CLUSTER", "SETSLOT", slot, "MIGRATING", real.ids[1])
    assert call(real.nodes[0].port, "MIGRATE", "127.0.0.1", real.nodes[1].port, "{b}here", 0, 5000) == b"+OK\r\n"
    base = mk.initial()
    assert call(mk.nodes[0].port, "CONFIG", "SET", "cluster-migration-ask", "yes") == b"+OK\r\n"
    mk.push(dict(base, version=2, migrations=[{"slot": slot, "from": mk.ids[0], "to": mk.ids[1]}]))
    wait_handed(mk.nodes[0].port, [slot])
    src_m, src_r = pair.clients(0)
    dst_m, dst_r = pair.clients(1)
    try:
        pair.same(src_m, src_r, "GET", "{b}here")  # ASK
        pair.same(src_m, src_r, "SET", "{b}here", "2")  # ASK
        pair.same(src_m, src_r, "MGET", "{b}here", "{b}gone")  # ASK
        pair.same(src_m, src_r, "EVAL", SCRIPT, "1", "{b}gone")  # ASK
        pair.same(dst_m, dst_r, "ASKING")
        pair.same(dst_m, dst_r, "GET", "{b}here")
        pair.same(dst_m, dst_r, "ASKING")
        pair.same(dst_m, dst_r, "SET", "{b}new", "v")
        pair.same(dst_m, dst_r, "ASKING")
        pair.same(dst_m, dst_r, "MULTI")
        pair.same(dst_m, dst_r, "GET", "{b}new")
        pair.same(dst_m, dst_r, "EXEC")
        # The differences: the target holds the whole slot, so it serves it without ASKING
        # (Redis: MOVED to the owner), and several keys that are not there are simply absent
        # (Redis answers TRYAGAIN: they may still be at the source).
        assert dst_m.call("GET", "{b}new") == b"$1\r\nv\r\n"
        assert dst_r.call("GET", "{b}new") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, real.nodes[0].port)
        pair.same(dst_m, dst_r, "ASKING")
        assert dst_m.call("MGET", "{b}here", "{b}gone") == b"*2\r\n$1\r\n1\r\n$-1\r\n"
        assert dst_r.call("MGET", "{b}here", "{b}gone") == (
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n")
    finally:
        for c in (src_m, src_r, dst_m, dst_r):
            c.close()
        call(mk.nodes[0].port, "CONFIG", "SET", "cluster-migration-ask", "no")
        for port in (real.nodes[0].port, real.nodes[1].port):
            call(port, "CLUSTER", "SETSLOT", slot, "NODE", real.ids[0])
        mk.push(dict(base, version=3))
        for nodes in (mk.nodes, real.nodes):
            for h in nodes[:2]:
                call(h.port, "FLUSHALL")


def test_clusterdown_texts(pair: Pair) -> None:
    """A slot without an owner: Redis's CLUSTER DELSLOTS beside a topology that leaves it out."""
    slot = key_slot(b"{b}")
    real, mk = pair.real, pair.mk
    m, r = pair.clients(0)
    try:
        assert call(real.nodes[0].port, "CLUSTER", "DELSLOTS", slot) == b"+OK\r\n"
        top = mk.initial(version=mk.topology["version"] + 1)
        top["nodes"][0]["slots"] = [[0, slot - 1], [slot + 1, 5460]]
        mk.push(top)
        pair.same(m, r, "GET", "{b}x")  # Hash slot not served
        pair.same(m, r, "GET", "{f}x")  # the cluster is down (not every slot is served)
        pair.same(m, r, "PING")
    finally:
        m.close()
        r.close()
        call(real.nodes[0].port, "CLUSTER", "ADDSLOTS", slot)
        mk.push(mk.initial(version=mk.topology["version"] + 1))

