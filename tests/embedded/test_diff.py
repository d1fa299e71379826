"""The same redis-py calls through moonkv.open() and through redis.Redis to a real redis-server
give the same Python values and the same exceptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import moonkv
from tests.conftest import CLIENT_OPTIONS
from tests.helpers import ServerHandle

Call = Callable[[redis.Redis], Any]

CALLS: list[tuple[str, Call]] = [
    ("set", lambda r: r.set("s", "v")),
    ("set nx", lambda r: r.set("s", "w", nx=True)),
    ("get", lambda r: r.get("s")),
    ("get missing", lambda r: r.get("missing")),
    ("getex", lambda r: r.getex("s", px=100000)),
    ("append", lambda r: r.append("s", "x")),
    ("incr", lambda r: r.incr("n")),
    ("incrbyfloat", lambda r: r.incrbyfloat("f", 1.25)),
    ("incr wrong", lambda r: r.incr("s")),
    ("mset", lambda r: r.mset({"a": 1, "b": 2})),
    ("mget", lambda r: r.mget("a", "b", "nope")),
    ("rpush", lambda r: r.rpush("l", 1, 2, 3, 4)),
    ("lrange", lambda r: r.lrange("l", 0, -1)),
    ("lpop count", lambda r: r.lpop("l", 2)),
    ("lpos", lambda r: r.lpos("l", "4")),
    ("wrongtype", lambda r: r.lpush("s", 1)),
    ("hset", lambda r: r.hset("h", mapping={"a": 1, "b": "x"})),
    ("hgetall", lambda r: r.hgetall("h")),
    ("hincrbyfloat", lambda r: r.hincrbyfloat("h", "a", 0.5)),
    ("hmget", lambda r: r.hmget("h", "a", "zz")),
    ("sadd", lambda r: r.sadd("st", "x", "y")),
    ("smembers", lambda r: r.smembers("st")),
    ("sismember", lambda r: r.sismember("st", "x")),
    ("zadd", lambda r: r.zadd("z", {"a": 1, "b": 2.5})),
    ("zrange withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
    ("zscore", lambda r: r.zscore("z", "b")),
    ("zincrby", lambda r: r.zincrby("z", 1, "a")),
    ("zpopmin", lambda r: r.zpopmin("z")),
    ("expire", lambda r: r.expire("a", 100)),
    ("ttl", lambda r: r.ttl("a")),
    ("persist", lambda r: r.persist("a")),
    ("type", lambda r: r.type("h")),
    ("exists", lambda r: r.exists("a", "b", "c")),
    ("delete", lambda r: r.delete("b", "c")),
    ("keys", lambda r: sorted(r.keys("*"))),
    ("dbsize", lambda r: r.dbsize()),
    ("xadd/xlen", lambda r: (r.xadd("x", {"f": "v"}, id="1-1"), r.xlen("x"))),
    ("xrange", lambda r: r.xrange("x")),
    ("eval string", lambda r: r.eval("return ARGV[1]", 0, "hi")),
    ("eval table", lambda r: r.eval("return {1, 'two', {3}, false}", 0)),
    ("eval status", lambda r: r.eval("return redis.status_reply('FINE')", 0)),
    ("eval error reply", lambda r: r.eval("return redis.error_reply('MY bad')", 0)),
    ("eval runtime error", lambda r: r.eval("return nil + 1", 0)),
    ("eval call error", lambda r: r.eval("return redis.call('LPUSH', KEYS[1], 1)", 1, "s")),
    ("eval pcall", lambda r: r.eval("return redis.pcall('LPUSH', KEYS[1], 1)", 1, "s")),
    ("evalsha missing", lambda r: r.evalsha("f" * 40, 0)),
    ("script exists", lambda r: r.script_exists("f" * 40)),
    ("arity", lambda r: r.execute_command("SET", "x")),
    ("unknown", lambda r: r.execute_command("FOO", "bar")),
    ("syntax", lambda r: r.execute_command("SET", "x", "y", "BADOPT")),
    ("select", lambda r: r.select(3)),
    ("set in db 3", lambda r: r.set("db3", "x")),
    ("select back", lambda r: r.select(0)),
    ("db3 not in 0", lambda r: r.get("db3")),
    ("object encoding", lambda r: r.object("encoding", "l")),
    ("pipeline", lambda r: r.pipeline().set("p", 1).incr("p").lpush("p", 1).execute(raise_on_error=False)),
    ("transaction", lambda r: r.pipeline(transaction=True).incr("t").get("t").execute()),
    ("blpop timeout", lambda r: r.blpop(["nothing"], timeout=0.1)),
    ("rpush q", lambda r: r.rpush("q", "job")),
    ("blpop served", lambda r: r.blpop(["q"], timeout=1)),
    ("client setname", lambda r: r.client_setname("n1")),
    ("client getname", lambda r: r.client_getname()),
    ("flushdb", lambda r: r.flushdb()),
]


def _plain(v: Any) -> Any:
    """Exceptions inside replies (a pipeline's) compare by type and text."""
    if isinstance(v, Exception):
        return ("exception", type(v).__name__, str(v))
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v


def _outcome(r: redis.Redis, call: Call) -> Any:
    try:
        return ("ok", _plain(call(r)))
    except redis.RedisError as e:
        return ("error", type(e).__name__, str(e))


@pytest.fixture
def real(redis_server: ServerHandle) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, **CLIENT_OPTIONS)
    client.flushall()
    client.script_flush()
    yield client
    client.close()


@pytest.mark.parametrize("decode", [False, True])
def test_same_values_as_redis(real: redis.Redis, redis_server: ServerHandle, decode: bool) -> None:
    other = redis.Redis(port=redis_server.port, decode_responses=decode, **CLIENT_OPTIONS)
    try:
        with moonkv.open(decode_responses=decode) as mine:
            for name, call in CALLS:
                assert _outcome(mine, call) == _outcome(other, call), name
    finally:
        other.close()
