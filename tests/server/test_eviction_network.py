"""Evictions over the network: durable as DELs, counted, and never inside a script."""

from __future__ import annotations

import shutil
import tempfile
import time

import redis

from tests.conftest import CLIENT_OPTIONS
from tests.helpers import start_moonkv


def _info(r: redis.Redis, section: str, field: str) -> int:
    return int(r.info(section)[field])  # type: ignore[no-any-return]


def _not_clients(r: redis.Redis) -> int:
    """used_memory less the clients' buffers (which move with every request and reply)."""
    mem = r.info("memory")
    return int(mem["used_memory"]) - int(mem["mem_clients_normal"])


def _settled(r: redis.Redis, limit: int) -> int:
    """used_memory once eviction got under ``limit`` (a round stops after
    maxmemory-eviction-tenacity's time limit; timers and later commands go on)."""
    deadline = time.monotonic() + 10
    while True:
        used = _info(r, "memory", "used_memory")
        if used <= limit or time.monotonic() > deadline:
            return used
        time.sleep(0.01)


def test_evictions_are_logged_and_survive_a_restart() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-evict-")
    try:
        h = start_moonkv(["--save", "", "--maxmemory-policy", "allkeys-random"], dir=d)
        try:
            r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
            p = r.pipeline(transaction=False)
            for i in range(3000):
                p.set(f"key:{i}", "v" * 100)
            p.execute()
            used = _info(r, "memory", "used_memory")
            r.config_set("maxmemory", used - 150_000)
            r.set("one-more", "v")  # eviction runs before it
            assert _settled(r, used - 150_000) <= used - 150_000
            evicted = _info(r, "stats", "evicted_keys")
            assert evicted >= 150_000 // 400
            left = set(r.keys("*"))
            assert len(left) == 3001 - evicted
            r.close()
        finally:
            h.stop()
        h = start_moonkv(["--save", ""], dir=d)  # no limit: what is loaded is what the log holds
        try:
            r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
            assert set(r.keys("*")) == left
            r.close()
        finally:
            h.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_script_is_never_cut_by_eviction_and_rolls_back_whole() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", "", "--maxmemory-policy", "allkeys-lru"])
    try:
        r = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        r.set("seed", "v")
        used = _info(r, "memory", "used_memory")
        r.config_set("maxmemory", used + 300_000)
        fill = ("for i = 1, 2000 do redis.call('SET', 'k' .. i, string.rep('v', 100)) end "
                "return redis.call('DBSIZE')")
        assert r.eval(fill, 0) == 2001  # far past maxmemory, nothing evicted meanwhile
        assert _settled(r, used + 300_000) <= used + 300_000  # the next commands made room
        assert _info(r, "stats", "evicted_keys") > 0
        failing = r.script_load("for i = 1, 2000 do redis.call('SET', 'x' .. i, string.rep('v', 100)) end "
                                "return redis.call('NOSUCHCOMMAND')")
        _settled(r, used + 300_000)
        before = sorted(r.keys("*"))
        assert before
        used_before = _not_clients(r)
        try:
            r.evalsha(failing, 0)
            raise AssertionError("the script should have failed")
        except redis.ResponseError:
            pass
        assert sorted(r.keys("*")) == before  # all or nothing, and no eviction for it
        # Back to the same estimate within a few KB: about one run in five it came back 2.5 KB
        # lower once client buffers counted for eviction (the tables' own sizes, which depend
        # on what eviction deleted before; not traced further). A script not rolled back
        # would leave about 300 KB.
        assert abs(_not_clients(r) - used_before) < 16 * 1024
        r.close()
    finally:
        h.stop()


def test_config_set_maxmemory_evicts_at_once_as_redis() -> None:
    # Redis's updateMaxmemory starts evicting: the evicted event comes without another command.
    from tests.helpers import RawClient, both

    with both() as servers:
        for h in servers:
            c, sub = RawClient(h.port), RawClient(h.port)
            try:
                c.call("CONFIG", "SET", "notify-keyspace-events", "Ee")
                c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
                assert sub.call("PSUBSCRIBE", "*") == b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n"
                c.call("SET", "foo", "bar")
                assert c.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
                assert sub.read_reply() == (b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$22\r\n"
                                            b"__keyevent@0__:evicted\r\n$3\r\nfoo\r\n")
                c.call("CONFIG", "SET", "maxmemory", "0")
            finally:
                c.close()
                sub.close()
