"""moonkv.open(): redis-py features through the in-process API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError, WatchError

import moonkv


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = moonkv.open()
    yield client
    client.close()


def test_exported() -> None:
    assert {"open", "open_async"} <= set(moonkv.__all__)
    with moonkv.open() as r:
        assert isinstance(r, redis.Redis)


def test_commands_and_reply_types(r: redis.Redis) -> None:
    assert r.set("s", "v") is True
    assert r.get("s") == b"v"
    assert r.get("missing") is None
    assert r.incrby("n", 5) == 5
    assert r.rpush("l", 1, 2, 3) == 3
    assert r.lrange("l", 0, -1) == [b"1", b"2", b"3"]
    assert r.hset("h", mapping={"a": 1, "b": 2}) == 2
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.zadd("z", {"m": 1.5}) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5)]
    assert r.zscore("z", "m") == 1.5
    assert r.incrbyfloat("f", 0.5) == 0.5
    assert r.sadd("set", "a", "b") == 2 and r.smembers("set") == {b"a", b"b"}
    assert r.exists("s", "l", "nope") == 2
    assert r.ping() is True
    assert r.type("h") == b"hash"
    assert r.client_setname("me") is True and r.client_getname() == "me"


def test_errors_as_over_the_wire(r: redis.Redis) -> None:
    r.set("s", "v")
    with pytest.raises(ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value$"):
        r.lpush("s", 1)
    with pytest.raises(ResponseError, match="^wrong number of arguments for 'get' command$"):
        r.execute_command("GET")
    with pytest.raises(ResponseError, match="^unknown command 'NOPE', with args beginning with: 'a' $"):
        r.execute_command("NOPE", "a")
    with pytest.raises(ResponseError, match="^value is not an integer or out of range$"):
        r.incr("s")
    with pytest.raises(ResponseError, match=r"^user_script:1: Script attempted to access nonexistent global variable 'x' script: "):
        r.eval("return x", 0)
    with pytest.raises(NoScriptError):
        r.evalsha("0" * 40, 0)
    assert r.get("s") == b"v"  # nothing lost


def test_decode_responses_and_resp3() -> None:
    with moonkv.open(decode_responses=True) as r:
        r.hset("h", "a", "é")
        assert r.hgetall("h") == {"a": "é"}
        assert r.set("k", "v") is True and r.get("k") == "v"
    with moonkv.open(protocol=3) as r:
        r.hset("h", "a", "1")
        r.zadd("z", {"m": 2.5})
        assert r.hgetall("h") == {b"a": b"1"}
        assert r.zscore("z", "m") == 2.5
        assert r.execute_command("HELLO")[b"proto"] == 3


def test_pipelines(r: redis.Redis) -> None:
    with r.pipeline(transaction=False) as p:
        p.set("a", 1).incr("a").get("a").lpush("a", 1)
        assert [type(x) for x in p.execute(raise_on_error=False)][:3] == [bool, int, bytes]
    with r.pipeline() as p:  # MULTI/EXEC
        p.set("b", 1).incr("b").lpush("b", 1).get("b")
        res = p.execute(raise_on_error=False)
        assert res[:2] == [True, 2] and isinstance(res[2], ResponseError) and res[3] == b"2"


def test_watch(r: redis.Redis) -> None:
    r.set("w", 1)
    with r.pipeline() as p:
        p.watch("w")
        assert p.get("w") == b"1"
        p.multi()
        p.set("w", 2)
        assert p.execute() == [True]
    with r.pipeline() as p:
        p.watch("w")
        r.set("w", 3)  # another connection touches it
        p.multi()
        p.set("w", 4)
        with pytest.raises(WatchError):
            p.execute()
    assert r.get("w") == b"3"


def test_register_script_loads_on_noscript(r: redis.Redis) -> None:
    s = r.register_script("return redis.call('GET', KEYS[1])")
    r.set("k", "v")
    assert s(keys=["k"]) == b"v"
    r.script_flush()
    assert s(keys=["k"]) == b"v"  # NOSCRIPT → SCRIPT LOAD → EVALSHA


def test_failed_script_rolls_back(r: redis.Redis) -> None:
    with pytest.raises(ResponseError, match="boom"):
        r.eval("redis.call('SET', KEYS[1], 'x'); error('boom')", 1, "k")
    assert r.exists("k") == 0


def test_connection_state_per_connection(r: redis.Redis) -> None:
    with moonkv.open(db=2) as r2:
        r2.set("k", "2")
        assert r2.execute_command("CLIENT", "INFO").decode().split(" db=")[1].startswith("2 ")
        r2.select(0)
        assert r2.get("k") is None


def test_blpop_timeout_returns_none(r: redis.Redis) -> None:
    t0 = time.monotonic()
    assert r.blpop(["q"], timeout=0.2) is None
    assert 0.15 <= time.monotonic() - t0 < 5


@pytest.mark.parametrize("share", [True, False])
def test_blpop_woken_by_another_thread(r: redis.Redis, share: bool) -> None:
    other = r if share else redis.Redis(connection_pool=r.connection_pool)
    got: list[object] = []
    th = threading.Thread(target=lambda: got.append(r.blpop(["q"], timeout=10)))
    th.start()
    deadline = time.monotonic() + 5
    while r.info("clients")["blocked_clients"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert other.rpush("q", "v") == 1
    th.join(10)
    assert got == [(b"q", b"v")]
    assert r.llen("q") == 0


def test_script_kill_stops_a_runaway_script() -> None:
    with moonkv.open(lua_time_limit=50) as r:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                r.eval("redis.call('SET', 'k', 'x') while true do end", 0)
            except BaseException as e:  # noqa: BLE001 - checked below
                errors.append(e)

        th = threading.Thread(target=run)
        th.start()
        deadline = time.monotonic() + 10
        busy = None
        while time.monotonic() < deadline:
            try:
                r.get("k")
            except ResponseError as e:
                busy = e
                break
            time.sleep(0.02)
        assert busy is not None and str(busy).startswith("BUSY Redis is busy running a script. You can only call SCRIPT KILL")
        assert r.script_kill() is True
        th.join(10)
        assert not th.is_alive()
        assert len(errors) == 1 and "Script killed by user with SCRIPT KILL" in str(errors[0])
        assert r.get("k") is None  # rolled back


def test_hard_budget_stops_a_script() -> None:
    with moonkv.open(lua_kill_time_limit=100) as r:
        with pytest.raises(ResponseError, match="lua-kill-time-limit"):
            r.eval("while true do end", 0)


def test_close() -> None:
    r = moonkv.open()
    r.set("k", "v")
    r.close()
    r.close()  # harmless
    with pytest.raises(RedisConnectionError, match="closed"):
        r.get("k")


def test_shutdown_closes_the_instance() -> None:
    r = moonkv.open()
    r.shutdown(nosave=True)
    with pytest.raises(RedisConnectionError, match="closed"):
        r.get("k")


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="nope"):
        moonkv.open(nope=1)
    with pytest.raises(ValueError):
        moonkv.open(appendfsync="sometimes")


def test_reading_with_nothing_delivered_times_out(r: redis.Redis) -> None:
    """A connection's reads wait for replies delivered outside a command (the pub/sub seam)."""
    conn = r.connection_pool.make_connection()
    conn.connect()
    try:
        t0 = time.monotonic()
        assert conn.can_read(timeout=0.1) is False
        with pytest.raises(redis.TimeoutError):
            conn.read_response(timeout=0.1)
        assert time.monotonic() - t0 >= 0.15
    finally:
        conn.disconnect()
