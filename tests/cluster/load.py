"""Client load for the resharding tests: redis-py's RedisCluster, sync and asyncio, writing
continuously; each remembers what was acknowledged."""

from __future__ import annotations

import asyncio
import threading
import traceback

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
