"""maxmemory beside real Redis: OOM refusals, scripts under memory pressure, OBJECT FREQ/IDLETIME.

``maxmemory 1`` puts both servers out of memory whatever their data, so the
refusals are deterministic; the policies' choices are tested in
tests/keyspace/test_eviction.py and evictions over the network in
tests/server/test_eviction_network.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.conftest import CLIENT_OPTIONS, Differ
from tests.helpers import ServerHandle


@pytest.fixture
def oom(diff: Differ) -> Iterator[Differ]:
    diff("SET", "kept", "v")
    diff("CONFIG", "SET", "maxmemory", "1")
    try:
        yield diff
    finally:
        diff("CONFIG", "SET", "maxmemory", "0")
        diff("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_denyoom_commands_are_refused_and_others_run(oom: Differ) -> None:
    oom("SET", "k", "v")
    oom("LPUSH", "l", "a")
    oom("INCR", "n")
    oom("GET", "kept")
    oom("DEL", "kept")
    oom("EXISTS", "kept")


def test_volatile_policy_with_nothing_volatile_refuses(oom: Differ) -> None:
    oom("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
    oom("SET", "k", "v")
    oom("GET", "kept")


def test_multi_is_refused_while_out_of_memory(oom: Differ) -> None:
    oom("MULTI")
    oom("GET", "kept")
    oom("PING")
    oom("EXEC")
    oom("MULTI")
    oom("DISCARD")


def test_scripts_under_memory_pressure(oom: Differ) -> None:
    # no shebang: each denyoom call is refused until the script has written something
    oom("EVAL", "return redis.call('SET', KEYS[1], 'v')", 1, "a")
    oom("EVAL", "return redis.pcall('SET', KEYS[1], 'v')", 1, "a")
    oom("EVAL", "local e = redis.pcall('SET', KEYS[1], 'v') redis.call('DEL', KEYS[2]) "
                "return {e['err'], redis.call('SET', KEYS[3], 'w')}", 3, "a", "kept", "c")
    oom("MGET", "a", "kept", "c")
    oom("EVAL", "return redis.call('GET', KEYS[1])", 1, "c")
    # shebang: refused before it starts unless it may not write or allows OOM
    oom("EVAL", "#!lua\nreturn redis.call('SET', KEYS[1], 'v')", 1, "b")
    oom("EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "c")
    oom("EVAL", "#!lua flags=allow-oom\nreturn redis.call('SET', KEYS[1], 'v')", 1, "b")
    oom("MGET", "b", "c")


def test_object_freq_and_idletime_by_policy(diff: Differ) -> None:
    diff("SET", "k", "v")
    diff("OBJECT", "FREQ", "k")  # no LFU policy: an error
    diff("OBJECT", "IDLETIME", "k")
    diff("OBJECT", "FREQ", "missing")
    diff("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        diff("CONFIG", "SET", "lfu-log-factor", "0")  # every access counts: deterministic
        diff("SET", "f", "v")
        diff("OBJECT", "FREQ", "f")
        for _ in range(10):
            diff("GET", "f")
        diff("OBJECT", "FREQ", "f")
        diff("EXISTS", "f")
        diff("TYPE", "f")
        diff("TTL", "f")
        diff("OBJECT", "FREQ", "f")
        diff("OBJECT", "IDLETIME", "f")  # LFU policy: an error
    finally:
        diff("CONFIG", "SET", "lfu-log-factor", "10")
        diff("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_eviction_directives(diff: Differ) -> None:
    for name in ("maxmemory-samples", "maxmemory-eviction-tenacity", "lfu-log-factor", "lfu-decay-time"):
        diff("CONFIG", "GET", name)
    diff("CONFIG", "SET", "maxmemory-samples", "0")
    diff("CONFIG", "SET", "maxmemory-samples", "65")
    diff("CONFIG", "SET", "maxmemory-samples", "5")
    diff("CONFIG", "SET", "lfu-log-factor", "-1")
    diff("CONFIG", "SET", "lfu-decay-time", "-1")
    diff("CONFIG", "SET", "maxmemory-eviction-tenacity", "101")
    diff("CONFIG", "SET", "maxmemory-eviction-tenacity", "20")
    diff("CONFIG", "GET", "maxmemory-eviction-tenacity")
    diff("CONFIG", "SET", "maxmemory-eviction-tenacity", "10")


def test_eviction_fires_the_evicted_notification(
    moonkv_server: ServerHandle, redis_server: ServerHandle, diff: Differ
) -> None:
    got = []
    for h in (moonkv_server, redis_server):
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        sub = r.pubsub()
        try:
            r.set("only", "v")
            r.config_set("notify-keyspace-events", "Ee")
            sub.subscribe("__keyevent@0__:evicted")
            assert sub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
            r.config_set("maxmemory-policy", "allkeys-random")
            r.config_set("maxmemory", 1)
            assert r.exists("only") == 0  # evicted before EXISTS ran
            got.append(sub.get_message(timeout=5))
        finally:
            r.config_set("maxmemory", 0)
            r.config_set("maxmemory-policy", "noeviction")
            r.config_set("notify-keyspace-events", "")
            sub.close()
            r.close()
    assert got[0] == got[1] == {"type": "message", "pattern": None,
                                "channel": b"__keyevent@0__:evicted", "data": b"only"}
