"""moonkv.open_async(): redis.asyncio over the in-process API."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, WatchError

import moonkv


def test_async_client() -> None:
    async def main() -> None:
        async with moonkv.open_async() as r:
            assert isinstance(r, redis.asyncio.Redis)
            assert await r.set("a", 1) is True
            assert await r.get("a") == b"1"
            with pytest.raises(ResponseError, match="^WRONGTYPE"):
                await r.lpush("a", 1)
            async with r.pipeline() as p:
                p.incr("a").get("a")
                assert await p.execute() == [2, b"2"]
            async with r.pipeline() as p:
                await p.watch("a")
                await r.set("a", 5)
                p.multi()
                p.set("a", 6)
                with pytest.raises(WatchError):
                    await p.execute()
            s = r.register_script("return redis.call('GET', KEYS[1])")
            assert await s(keys=["a"]) == b"5"
        with pytest.raises(RedisConnectionError, match="closed"):
            await r.get("a")
        await r.aclose()  # twice: harmless

    asyncio.run(main())


def test_async_blocking_does_not_block_the_loop() -> None:
    async def main() -> None:
        async with moonkv.open_async() as r:
            t0 = time.monotonic()
            assert await r.blpop(["q"], timeout=0.2) is None
            assert time.monotonic() - t0 >= 0.15
            waiter = asyncio.create_task(r.blpop(["q"], timeout=10))
            for _ in range(500):
                if (await r.info("clients"))["blocked_clients"]:
                    break
                await asyncio.sleep(0.01)
            assert await r.rpush("q", "v") == 1  # the loop runs while BLPOP waits
            assert await asyncio.wait_for(waiter, 10) == (b"q", b"v")

    asyncio.run(main())
