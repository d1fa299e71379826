"""Client load for the resharding tests: redis-py's RedisCluster, sync and asyncio, writing
continuously; each remembers what was acknowledged."""

from __future__ import annotations

import asyncio
import threading
import traceback
from typing import Any

import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster


class Writer(threading.Thread):
    """SET of ``<prefix>key:<i % 3000>``, INCR of a counter and an MSET of a hash-tagged pair
    (``{<prefix>tag}``) in a loop, through the sync client or (``use_asyncio``) the asyncio one."""

    def __init__(self, port: int, *, use_asyncio: bool = False, prefix: bytes = b"") -> None:
        super().__init__(daemon=True)
        self.port = port
        self.use_asyncio = use_asyncio
        self.prefix = prefix
        self.tag = b"{" + prefix + b"tag}"
        self.stop_flag = threading.Event()
        self.acked: dict[bytes, bytes] = {}
        self.incrs = 0
        self.errors: list[BaseException] = []
        self.trace = ""

    @property
    def counter(self) -> bytes:
        return self.tag + b":count"

    def run(self) -> None:
        try:
            if self.use_asyncio:
                asyncio.run(self._run_async())
            else:
                self._run_sync()
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.errors.append(e)
            self.trace = traceback.format_exc()

    def _step(self, i: int) -> tuple[bytes, bytes, dict[bytes, bytes]]:
        val = b"v%d" % i
        return self.prefix + b"key:%d" % (i % 3000), val, {self.tag + b":a": val, self.tag + b":b": val}

    def _run_sync(self) -> None:
        rc = RedisCluster(host="127.0.0.1", port=self.port, socket_timeout=20)
        try:
            i = 0
            while not self.stop_flag.is_set():
                key, val, pair = self._step(i)
                rc.set(key, val)
                self.acked[key] = val
                rc.incr(self.counter)
                self.incrs += 1
                rc.mset(pair)
                self.acked.update(pair)
                i += 1
        finally:
            rc.close()

    async def _run_async(self) -> None:
        rc = AsyncRedisCluster(host="127.0.0.1", port=self.port, socket_timeout=20)
        try:
            i = 0
            while not self.stop_flag.is_set():
                key, val, pair = self._step(i)
                await rc.set(key, val)
                self.acked[key] = val
                await rc.incr(self.counter)
                self.incrs += 1
                await rc.mset(pair)
                self.acked.update(pair)
                i += 1
        finally:
            await rc.aclose()


BUMP = """local a = redis.call('INCR', KEYS[1])
local b = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], a)
return {a, b}"""

BUMP_LIBRARY = """#!lua name=churn
redis.register_function('bump', function(keys, args)
  local a = redis.call('INCR', keys[1])
  local b = redis.call('INCR', keys[2])
  redis.call('RPUSH', keys[3], a)
  return {a, b}
end)"""


class ScriptWriter(threading.Thread):
    """EVALSHA and FCALL in turn through ``rc`` (a sync RedisCluster), each one unit that INCRs
    ``{<tag>}:a`` and ``{<tag>}:b`` and RPUSHes the new ``a`` to ``{<tag>}:log``, so a store
    that applied every unit whole has a == b == LLEN log and the log is 1..a.

    ``confirm``: after each script, WAIT 1 on the node the client sent it to (taken before
    and after the call: when they differ, the script is not counted as confirmed);
    ``confirmed`` is the highest ``a`` a replica acknowledged that way."""

    def __init__(self, rc: RedisCluster, tag: str, *, confirm: bool = False) -> None:
        super().__init__(daemon=True)
        self.rc = rc
        self.keys = [f"{{{tag}}}:a", f"{{{tag}}}:b", f"{{{tag}}}:log"]
        self.confirm = confirm
        self.sha = rc.script_load(BUMP)
        rc.function_load(BUMP_LIBRARY, replace=True)
        self.stop_flag = threading.Event()
        self.replies: list[int] = []  # each acknowledged script's a, in order
        self.confirmed = 0
        self.errors: list[BaseException] = []
        self.trace = ""

    def run(self) -> None:
        try:
            i = 0
            while not self.stop_flag.is_set():
                before = self.rc.get_node_from_key(self.keys[0])
                if i % 2:
                    a, b = self.rc.fcall("bump", 3, *self.keys)
                else:
                    a, b = self.rc.evalsha(self.sha, 3, *self.keys)
                if a != b:
                    raise AssertionError(f"a script answered a={a} b={b}")
                self.replies.append(a)
                i += 1
                after = self.rc.get_node_from_key(self.keys[0])
                if self.confirm and before.name == after.name:
                    self._wait(after.redis_connection, a)
        except BaseException as e:  # noqa: BLE001 - the test reports it
            self.errors.append(e)
            self.trace = traceback.format_exc()

    def _wait(self, node: Any, a: int) -> None:
        try:
            if node.execute_command("WAIT", 1, 1000) >= 1:
                self.confirmed = max(self.confirmed, a)
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # the node went away: not confirmed

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(60)


def check_bump(r: redis.Redis, tag: str) -> int:
    """The invariant of :class:`ScriptWriter`'s keys on one node (a READONLY connection for a
    replica); returns a."""
    a = int(r.get(f"{{{tag}}}:a") or 0)
    b = int(r.get(f"{{{tag}}}:b") or 0)
    log = [int(x) for x in r.lrange(f"{{{tag}}}:log", 0, -1)]
    assert a == b == len(log), (a, b, len(log))
    assert log == list(range(1, a + 1)), log[:5]
    return a
