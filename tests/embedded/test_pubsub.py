"""Pub/Sub and keyspace notifications through the in-process API (redis-py's PubSub)."""

from __future__ import annotations

import time

import pytest
import redis

import moonkv


def _next(p: redis.client.PubSub) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m is not None:
            return m  # type: ignore[no-any-return]
    raise AssertionError("no message")


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_through_the_in_process_api(protocol: int) -> None:
    with moonkv.open(protocol=protocol) as r:
        p = r.pubsub()
        p.subscribe("news", "other")
        p.psubscribe("__keyevent@0__:*")
        assert [_next(p)["type"] for _ in range(3)] == ["subscribe", "subscribe", "psubscribe"]
        assert r.publish("news", "hello") == 1
        assert _next(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
        r.config_set("notify-keyspace-events", "E$")
        r.set("k", "v")
        assert _next(p) == {"type": "pmessage", "pattern": b"__keyevent@0__:*",
                            "channel": b"__keyevent@0__:set", "data": b"k"}
        p.unsubscribe()
        assert {_next(p)["channel"] for _ in range(2)} == {b"news", b"other"}
        p.close()

