"""Scripts in a cluster: which keys a script may reach, byte for byte against real Redis 7.0.

Both clusters have three primaries with the slots ``redis-cli --cluster create`` gives;
every script runs on node 0 (slots 0-5460).  Keys used: ``b`` and ``{b}x`` (slot 3300)
and ``k2`` (slot 449) on node 0, ``c`` (slot 7365) on node 1.  Where moonkv differs on
purpose (a failed script's writes are rolled back) the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moonkv.cluster.slots import key_slot
from tests.cluster.conftest import (
    LocalCluster,
    RedisCluster,
    _bus_free_port,
    set_topology,
    start_cluster,
    start_redis_cluster,
    topology,
)
from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis

HERE, HERE_TOO, ELSEWHERE = "b", "k2", "c"

# (name, command): each answered identically by both clusters' node 0.
CASES: list[tuple[str, tuple[str, ...]]] = [
    ("declared keys of two slots", ("EVAL", "return 1", "2", HERE, HERE_TOO)),
    ("declared keys of two slots, allow-cross-slot-keys",
     ("EVAL", "#!lua flags=allow-cross-slot-keys\nreturn 1", "2", HERE, HERE_TOO)),
    ("declared keys of one slot", ("EVAL", "return redis.call('mget', KEYS[1], KEYS[2])", "2", HERE, "{b}x")),
    ("a call on another node's key", ("EVAL", "return redis.call('set', 'c', 1)", "1", HERE)),
    ("a pcall on another node's key",
     ("EVAL", "local r = redis.pcall('set', 'c', 1) return r['err']", "1", HERE)),
    ("a call on another node's key, no declared key", ("EVAL", "return redis.call('get', 'c')", "0")),
    ("a read-only script on another node's key",
     ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'c')", "0")),
    ("one call over two slots", ("EVAL", "return redis.call('mget', 'b', 'k2')", "0")),
    ("a keyless call", ("EVAL", "#!lua\nredis.call('get', KEYS[1]) return redis.call('ping')", "1", HERE)),
    # Without a shebang Redis 7.0 keeps EVAL's old leniency: other local slots are fine.
    ("no shebang: another local slot", ("EVAL", "return redis.call('set', 'k2', 1)", "1", HERE)),
    ("shebang: another local slot", ("EVAL", "#!lua\nreturn redis.call('set', 'k2', 1)", "1", HERE)),
    ("shebang: another local slot, pcall",
     ("EVAL", "#!lua\nlocal r = redis.pcall('set', 'k2', 1) return r['err']", "1", HERE)),
    ("shebang: the first key binds the slot",
     ("EVAL", "#!lua\nredis.call('set', 'b', 1) return redis.call('set', 'k2', 1)", "0")),
    ("shebang: the same slot through a hash tag",
     ("EVAL", "#!lua\nredis.call('set', 'b', 1) return redis.call('set', '{b}x', 1)", "1", HERE)),
    ("allow-cross-slot-keys: another local slot",
     ("EVAL", "#!lua flags=allow-cross-slot-keys\nredis.call('set', 'b', 1) return redis.call('set', 'k2', 1)",
      "1", HERE)),
    ("allow-cross-slot-keys: still only local keys",
     ("EVAL", "#!lua flags=allow-cross-slot-keys\nredis.call('set', 'b', 1) return redis.call('set', 'c', 1)",
      "1", HERE)),
    ("no-cluster", ("EVAL", "#!lua flags=no-cluster\nreturn 1", "0")),
    ("no-cluster before the *_ro check", ("EVAL_RO", "#!lua flags=no-cluster\nreturn 1", "0")),
]

# (No ``return redis.call(...)`` tail calls: moonkv reports no line for an error in one
# inside a library function, a difference of its own, outside cluster mode.)
LIBRARY = """#!lua name=slots
redis.register_function{function_name='nocluster', callback=function(k) return 1 end, flags={'no-cluster'}}
redis.register_function{function_name='cross', callback=function(k)
  redis.call('set', 'b', 1) local r = redis.call('set', 'k2', 1) return r end, flags={'allow-cross-slot-keys'}}
redis.register_function('strict', function(k)
  redis.call('set', 'b', 1) local r = redis.call('set', 'k2', 1) return r end)
redis.register_function('remote', function(k) local r = redis.call('get', 'c') return r end)
"""

FCALLS: list[tuple[str, ...]] = [
    ("FCALL", "nocluster", "0"),
    ("FCALL_RO", "nocluster", "0"),
    ("FCALL", "cross", "0"),
    ("FCALL", "strict", "0"),
    ("FCALL", "strict", "1", HERE),
    ("FCALL", "remote", "0"),
]


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[LocalCluster, RedisCluster]]:
    with start_cluster(3) as mk, start_redis_cluster(3) as real:
        yield mk, real


@pytest.fixture
def node0(clusters: tuple[LocalCluster, RedisCluster]) -> Iterator[tuple[RawClient, RawClient]]:
    mk, real = clusters
    m, r = RawClient(mk.nodes[0].port), RawClient(real.nodes[0].port)
    try:
        yield m, r
    finally:
        m.close()
        r.close()


def test_key_placement() -> None:
    """The cases below rely on where these keys live (node 0 holds slots 0-5460)."""
    assert key_slot(HERE.encode()) == key_slot(b"{b}x") < 5461
    assert key_slot(HERE_TOO.encode()) < 5461 and key_slot(HERE_TOO.encode()) != key_slot(HERE.encode())
    assert 5461 <= key_slot(ELSEWHERE.encode()) <= 10922


@pytest.mark.parametrize("name,cmd", CASES, ids=[c[0] for c in CASES])
def test_script_keys_like_redis(node0: tuple[RawClient, RawClient], name: str, cmd: tuple[str, ...]) -> None:
    m, r = node0
    got, want = m.call(*cmd), r.call(*cmd)
    assert got == want, f"{name}: moonkv {got!r} != redis {want!r}"


def test_function_flags_like_redis(node0: tuple[RawClient, RawClient]) -> None:
    m, r = node0
    for c in (m, r):
        assert c.call("FUNCTION", "LOAD", "REPLACE", LIBRARY) == b"$5\r\nslots\r\n"
    for cmd in FCALLS:
        got, want = m.call(*cmd), r.call(*cmd)
        assert got == want, f"{cmd}: moonkv {got!r} != redis {want!r}"


def test_refused_call_rolls_back_the_script(node0: tuple[RawClient, RawClient]) -> None:
    """moonkv's all-or-nothing: the writes before a refused redis.call are undone
    (Redis keeps them; the error itself is Redis's, byte for byte)."""
    m, r = node0
    script = "#!lua\nredis.call('set', KEYS[1], 'new') redis.call('rpush', 'k2', 'x') return 1"
    for c in (m, r):
        assert c.call("SET", HERE, "old") == b"+OK\r\n"
        c.call("DEL", HERE_TOO)
    got, want = m.call("EVAL", script, "1", HERE), r.call("EVAL", script, "1", HERE)
    assert got == want and got.startswith(b"-ERR Script attempted to access keys that do not hash")
    assert m.call("GET", HERE) == b"$3\r\nold\r\n"  # rolled back
    assert r.call("GET", HERE) == b"$3\r\nnew\r\n"  # Redis keeps the first write
    assert m.call("EXISTS", HERE_TOO) == r.call("EXISTS", HERE_TOO) == b":0\r\n"


def test_pcall_refusal_keeps_the_script_going(node0: tuple[RawClient, RawClient]) -> None:
    m, r = node0
    script = "#!lua\nredis.call('set', KEYS[1], 'v2') redis.pcall('set', 'c', 1) return redis.call('get', KEYS[1])"
    for c in (m, r):
        c.call("SET", HERE, "v1")
    got, want = m.call("EVAL", script, "1", HERE), r.call("EVAL", script, "1", HERE)
    assert got == want == b"$2\r\nv2\r\n"
    assert m.call("GET", HERE) == r.call("GET", HERE) == b"$2\r\nv2\r\n"


def test_script_while_the_cluster_is_down() -> None:
    """One node owning slots 0-8000 only: the cluster is down; a keyless EVAL runs and its
    keyed calls are refused with Redis's text (real Redis: require-full-coverage's default)."""
    mk = start_moonkv(["--cluster-enabled", "yes", "--appendonly", "no", "--save", ""])
    real: ServerHandle | None = None
    try:
        real = start_redis(["--cluster-enabled", "yes"], port=_bus_free_port())
        m, r = RawClient(mk.port), RawClient(real.port)
        nid = m.call("CLUSTER", "MYID").split(b"\r\n")[1].decode()
        assert set_topology(mk.port, topology(1, [(nid, mk.port, [(0, 8000)])])) == b"+OK\r\n"
        assert r.call("CLUSTER", "ADDSLOTSRANGE", "0", "8000") == b"+OK\r\n"
        for cmd in (
            ("EVAL", "return redis.call('get', 'b')", "0"),
            ("EVAL", "local r = redis.pcall('get', 'b') return r['err']", "0"),
            ("EVAL", "return redis.call('ping')", "0"),
        ):
            got, want = m.call(*cmd), r.call(*cmd)
            assert got == want, f"{cmd}: moonkv {got!r} != redis {want!r}"
        m.close()
        r.close()
    finally:
        mk.stop()
        if real is not None:
            real.stop()
