"""The access clock beside real Redis: which commands reset a key's OBJECT IDLETIME.

Each case first gives the key an idle time of 1000 s on both servers (DUMP, then
RESTORE ... IDLETIME 1000, each server with its own payload), runs one command on both,
and reads OBJECT IDLETIME back: a touched key is idle for under 2 s, an untouched one for
1000 s or (a second boundary passed) 1001. Both servers run `allkeys-lru` (no limit):
moonkv keeps the access clock only under an LRU policy; under the others OBJECT IDLETIME
answers 0, a deliberate difference tested last (docs/compatibility.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient

SCRIPT_GET = "return redis.call('GET', KEYS[1])"
SCRIPT_EXISTS = "return redis.call('EXISTS', KEYS[1])"

# (key, how it is made, the commands run on it; replies compared unless marked "own")
NOT_TOUCHED = [
    ("s", ("SET", "s", "v"), [("TTL", "s")]),
    ("s", ("SET", "s", "v"), [("PTTL", "s")]),
    ("s", ("SET", "s", "v"), [("EXPIRETIME", "s")]),
    ("s", ("SET", "s", "v"), [("PEXPIRETIME", "s")]),
    ("s", ("SET", "s", "v"), [("TYPE", "s")]),
    ("s", ("SET", "s", "v"), [("EXISTS", "s", "s")]),
    ("s", ("SET", "s", "v"), [("OBJECT", "ENCODING", "s")]),
    ("s", ("SET", "s", "v"), [("OBJECT", "REFCOUNT", "s")]),
    ("s", ("SET", "s", "v"), [("OBJECT", "FREQ", "s")]),
    ("s", ("SET", "s", "v"), [("SCAN", "0", "TYPE", "string")]),
    ("s", ("SET", "s", "v"), [("KEYS", "*")]),
    ("s", ("SET", "s", "v"), [("RANDOMKEY",)]),
    ("s", ("SET", "s", "v"), [("DBSIZE",)]),
    ("s", ("SET", "s", "v"), [("EVAL", SCRIPT_EXISTS, "1", "s")]),
    ("s", ("SET", "s", "v"), [("MULTI",), ("TTL", "s"), ("TYPE", "s"), ("EXEC",)]),
]

TOUCHED = [
    ("s", ("SET", "s", "v"), [("GET", "s")]),
    ("s", ("SET", "s", "v"), [("STRLEN", "s")]),
    ("s", ("SET", "s", "v"), [("GETRANGE", "s", "0", "-1")]),
    ("s", ("SET", "s", "v"), [("MGET", "x", "s")]),
    ("s", ("SET", "s", "v"), [("TOUCH", "x", "s")]),
    ("s", ("SET", "s", "v"), [("COPY", "s", "s2")]),
    ("s", ("SET", "s", "v"), [("SET", "s", "w")]),
    ("s", ("SET", "s", "v"), [("APPEND", "s", "w")]),
    ("s", ("SET", "s", "v"), [("SETRANGE", "s", "0", "w")]),
    ("s", ("SET", "s", "v"), [("EXPIRE", "s", "100")]),
    ("s", ("SET", "s", "v"), [("EXPIRE", "s", "100"), ("PERSIST", "s")]),
    ("s", ("SET", "s", "v"), [("EVAL", SCRIPT_GET, "1", "s")]),
    ("s", ("SET", "s", "v"), [("EVAL_RO", SCRIPT_GET, "1", "s")]),
    ("s", ("SET", "s", "v"), [("MULTI",), ("GET", "s"), ("EXEC",)]),
    ("n", ("SET", "n", "1"), [("INCR", "n")]),
    ("h", ("HSET", "h", "a", "1"), [("HGET", "h", "a")]),
    ("h", ("HSET", "h", "a", "1"), [("HSET", "h", "b", "2")]),
    ("l", ("RPUSH", "l", "a", "b"), [("LINDEX", "l", "0")]),
    ("l", ("RPUSH", "l", "a", "b"), [("LPOP", "l")]),
    ("l", ("RPUSH", "l", "a", "b"), [("LPUSH", "l", "c")]),
    ("st", ("SADD", "st", "a"), [("SISMEMBER", "st", "a")]),
    ("st", ("SADD", "st", "a"), [("SADD", "st", "b")]),
    ("z", ("ZADD", "z", "1", "a"), [("ZSCORE", "z", "a")]),
    ("z", ("ZADD", "z", "1", "a"), [("ZINCRBY", "z", "1", "a")]),
    # a write's lookup counts even when the command then changes nothing or fails
    ("s", ("SET", "s", "v"), [("SET", "s", "w", "NX")]),
    ("s", ("SET", "s", "v"), [("SETNX", "s", "w")]),
    ("s", ("SET", "s", "v"), [("MSETNX", "x", "1", "s", "w")]),
    ("s", ("SET", "s", "v"), [("PERSIST", "s")]),
    ("s", ("SET", "s", "v"), [("EXPIRE", "s", "100", "XX")]),
    ("s", ("SET", "s", "v"), [("INCR", "s")]),
    ("s", ("SET", "s", "v"), [("LPUSH", "s", "x")]),
    ("s", ("SET", "s", "v"), [("SADD", "s", "x")]),
    ("s", ("SET", "s", "v"), [("HSET", "s", "f", "x")]),
    ("s", ("SET", "s", "v"), [("ZADD", "s", "1", "x")]),
    ("s", ("SET", "s", "v"), [("LLEN", "s")]),
    ("s", ("SET", "s", "v"), [("SET", "x", "1"), ("RENAMENX", "x", "s")]),
    ("s", ("SET", "s", "v"), [("PFCOUNT", "s")]),
    ("n", ("SET", "n", "9223372036854775807"), [("INCR", "n")]),
    ("st", ("SADD", "st", "a"), [("SADD", "st", "a")]),
    ("st", ("SADD", "st", "a"), [("SREM", "st", "zz")]),
    ("st", ("SADD", "st", "a"), [("SMOVE", "st", "other", "zz")]),
    ("h", ("HSET", "h", "a", "1"), [("HSETNX", "h", "a", "2")]),
    ("h", ("HSET", "h", "a", "1"), [("HDEL", "h", "zz")]),
    ("l", ("RPUSH", "l", "a", "b"), [("LREM", "l", "0", "zz")]),
    ("l", ("RPUSH", "l", "a", "b"), [("LPUSHX", "l", "c")]),
    ("z", ("ZADD", "z", "1", "a"), [("ZADD", "z", "XX", "1", "a")]),
    ("z", ("ZADD", "z", "1", "a"), [("ZREM", "z", "zz")]),
]


def _idle(c: RawClient, key: str) -> int:
    reply = c.call("OBJECT", "IDLETIME", key)
    assert reply.startswith(b":"), reply
    return int(reply[1:-2])


def _age(c: RawClient, key: str, make: tuple[str, ...], idle: int = 1000) -> None:
    """``key`` made by ``make``, then given ``idle`` seconds of idle time by RESTORE."""
    c.call("DEL", key)
    c.call(*make)
    payload = c.call("DUMP", key).split(b"\r\n", 1)[1][:-2]
    assert c.call("RESTORE", key, "0", payload, "IDLETIME", idle, "REPLACE") == b"+OK\r\n"


@pytest.fixture
def aged(diff: Differ) -> Iterator[Differ]:
    # With maxmemory 0 Redis answers INCR's small results with its shared integers, whose
    # access time is the server's start: a maxmemory (never reached) makes each key its own.
    diff("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    diff("CONFIG", "SET", "maxmemory", "1gb")
    yield diff
    diff("CONFIG", "SET", "maxmemory", "0")
    diff("CONFIG", "SET", "maxmemory-policy", "noeviction")


def _run(d: Differ, key: str, make: tuple[str, ...], cmds: list[tuple[str, ...]]) -> tuple[int, int]:
    for c in (d.m, d.real):
        _age(c, key, make)
    for cmd in cmds:
        d(*cmd)
    return _idle(d.m, key), _idle(d.real, key)


@pytest.mark.parametrize("key,make,cmds", NOT_TOUCHED, ids=[" ".join(c[2][-1]) for c in NOT_TOUCHED])
def test_commands_that_leave_the_access_time(aged: Differ, key: str, make: tuple[str, ...],
                                             cmds: list[tuple[str, ...]]) -> None:
    mine, redis = _run(aged, key, make, cmds)
    assert 1000 <= redis <= 1001, redis
    assert 1000 <= mine <= 1001, mine


@pytest.mark.parametrize("key,make,cmds", TOUCHED, ids=[" ".join(c[2][-1]) for c in TOUCHED])
def test_commands_that_count_as_an_access(aged: Differ, key: str, make: tuple[str, ...],
                                          cmds: list[tuple[str, ...]]) -> None:
    mine, redis = _run(aged, key, make, cmds)
    assert redis < 2, redis
    assert mine < 2, mine


def test_dump_and_memory_usage(aged: Differ) -> None:
    # (their replies are each server's own: compared by what they do to the key)
    for c in (aged.m, aged.real):
        _age(c, "s", ("SET", "s", "v"))
        c.call("MEMORY", "USAGE", "s")
        assert 1000 <= _idle(c, "s") <= 1001
        c.call("DUMP", "s")
        assert _idle(c, "s") < 2


def test_restore_onto_an_existing_key(aged: Differ) -> None:
    for c in (aged.m, aged.real):
        _age(c, "s", ("SET", "s", "v"))
        payload = c.call("DUMP", "s").split(b"\r\n", 1)[1][:-2]
        c.call("SET", "t", "v")
        _age(c, "t", ("SET", "t", "v"))
        assert c.call("RESTORE", "t", "0", payload).startswith(b"-BUSYKEY")
        assert _idle(c, "t") < 2


def test_copy_rename_and_move_keep_or_restart_the_clock(aged: Differ) -> None:
    for c in (aged.m, aged.real):
        c.call("SELECT", "0")
        _age(c, "s", ("SET", "s", "v"))
        c.call("DEL", "t", "u")
        c.call("RENAME", "s", "t")
        assert _idle(c, "t") < 2  # the source is looked up for writing: touched
        _age(c, "s", ("SET", "s", "v"))
        c.call("COPY", "s", "u")
        assert _idle(c, "u") < 2  # the copy is a new object
        _age(c, "s", ("SET", "s", "v"))
        c.call("SELECT", "1")
        c.call("DEL", "s")
        c.call("SELECT", "0")
        assert c.call("MOVE", "s", "1") == b":1\r\n"
        c.call("SELECT", "1")
        assert _idle(c, "s") < 2
        c.call("DEL", "s")
        c.call("SELECT", "0")


def test_restore_idletime_and_freq_by_policy(aged: Differ) -> None:
    d = aged
    for c in (d.m, d.real):
        _age(c, "k", ("SET", "k", "v"), idle=123456)
        assert 123456 <= _idle(c, "k") <= 123457
    d("OBJECT", "FREQ", "k")  # not an LFU policy: Redis's error
    d("CONFIG", "SET", "maxmemory-policy", "volatile-lru")  # LRU to LRU: the clock stays
    assert 123456 <= _idle(d.m, "k") <= 123457
    d("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    d("CONFIG", "SET", "lfu-log-factor", "0")
    try:
        for c in (d.m, d.real):
            payload = c.call("DUMP", "k").split(b"\r\n", 1)[1][:-2]
            assert c.call("RESTORE", "f", "0", payload, "FREQ", "100") == b"+OK\r\n"
            assert c.call("RESTORE", "i", "0", payload, "IDLETIME", "100") == b"+OK\r\n"
        d("OBJECT", "FREQ", "f")  # 100
        d("OBJECT", "FREQ", "i")  # IDLETIME means nothing under LFU: a new key's 5
        d("GET", "f")
        d("OBJECT", "FREQ", "f")  # 101 (lfu-log-factor 0: every access counts)
        d("OBJECT", "IDLETIME", "f")  # LFU: Redis's error
        d("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
        for c in (d.m, d.real):
            payload = c.call("DUMP", "f").split(b"\r\n", 1)[1][:-2]
            assert c.call("RESTORE", "g", "0", payload, "FREQ", "100") == b"+OK\r\n"
            assert _idle(c, "g") < 2  # FREQ means nothing under LRU
    finally:
        d("CONFIG", "SET", "lfu-log-factor", "10")


def test_without_an_lru_policy_moonkv_answers_0(aged: Differ) -> None:
    # Redis keeps every key's access time whatever the policy; moonkv only under an LRU
    # policy, so that reads under the others cost nothing more (issue 18)
    d = aged
    for c in (d.m, d.real):
        _age(c, "s", ("SET", "s", "v"))
    for policy in ("noeviction", "allkeys-random", "volatile-ttl"):
        d("CONFIG", "SET", "maxmemory-policy", policy)
        assert 1000 <= _idle(d.real, "s") <= 1001
        assert _idle(d.m, "s") == 0
        d("OBJECT", "FREQ", "s")  # Redis's error, the same
    d("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")  # moonkv's clock starts now
    assert 1000 <= _idle(d.real, "s") <= 1001
    assert _idle(d.m, "s") < 2
