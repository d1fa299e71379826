"""redis-py's own Pub/Sub client against moonkv, in RESP2 and RESP3."""

from __future__ import annotations

import time

import pytest
import redis

from tests.conftest import CLIENT_OPTIONS
from tests.helpers import ServerHandle


def _next(p: redis.client.PubSub) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = p.get_message(timeout=1.0)
        if m is not None:
            return m  # type: ignore[no-any-return]
    raise AssertionError("no message")


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub(moonkv_server: ServerHandle, protocol: int) -> None:
    r = redis.Redis(port=moonkv_server.port, protocol=protocol, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    p = r.pubsub()
    try:
        p.subscribe("news")
        p.psubscribe("n*")
        assert _next(p)["type"] == "subscribe"
        assert _next(p)["type"] == "psubscribe"
        assert r.publish("news", "hello") == 2
        assert _next(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
        assert _next(p) == {"type": "pmessage", "pattern": b"n*", "channel": b"news", "data": b"hello"}
        assert r.pubsub_numsub("news") == [(b"news", 1)]
        assert r.pubsub_numpat() == 1
        p.unsubscribe("news")
        p.punsubscribe("n*")
        assert _next(p)["type"] == "unsubscribe"
        assert _next(p)["type"] == "punsubscribe"
        assert r.publish("news", "nobody") == 0
    finally:
        p.close()
        r.close()
