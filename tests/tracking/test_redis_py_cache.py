"""redis-py's tracking API against moonkv: CLIENT TRACKING through client_tracking_on
with a RESP2 redirect to a PubSub on __redis__:invalidate, and in RESP3 the pushes
redis-py's parser hands to its invalidation handler.

redis-py 8's own cache (``cache_config=CacheConfig()``) refuses any server that reports
a version below 7.4 in HELLO, real Redis 7.0.15 included, so it cannot run against a
Redis-7.0-compatible server; the two tests below use the commands it is built on."""

from __future__ import annotations

import time

import redis

from tests.conftest import CLIENT_OPTIONS
from tests.helpers import ServerHandle


def _message(p: redis.client.PubSub) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = p.get_message(timeout=1.0)
        if m is not None and m["type"] == "message":
            return m  # type: ignore[no-any-return]
    raise AssertionError("no invalidation message")


def test_redis_py_tracking_with_redirect(moonkv_server: ServerHandle) -> None:
    listener = redis.Redis(port=moonkv_server.port, protocol=2, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    reader = redis.Redis(port=moonkv_server.port, protocol=2, single_connection_client=True, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    writer = redis.Redis(port=moonkv_server.port, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    p = listener.pubsub()
    try:
        p.subscribe("__redis__:invalidate")
        p.get_message(timeout=5)  # the subscribe confirmation
        # The PubSub connection's id.
        ids = [int(line.split()[0][3:]) for line in listener.execute_command("CLIENT", "LIST").decode().splitlines()
               if "cmd=subscribe" in line]
        assert len(ids) == 1
        assert reader.client_tracking_on(clientid=ids[0])
        assert reader.client_getredir() == ids[0]
        writer.set("k", "v1")
        assert reader.get("k") == b"v1"
        writer.set("k", "v2")
        m = _message(p)
        assert m["channel"] == b"__redis__:invalidate" and m["data"] == [b"k"]
        assert reader.client_tracking_off()
        assert reader.client_getredir() == -1
    finally:
        p.close()
        for r in (listener, reader, writer):
            r.close()


def test_redis_py_resp3_invalidation_pushes(moonkv_server: ServerHandle) -> None:
    reader = redis.Redis(
        port=moonkv_server.port, protocol=3, single_connection_client=True, **CLIENT_OPTIONS  # type: ignore[arg-type]
    )
    writer = redis.Redis(port=moonkv_server.port, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    seen: list[object] = []
    try:
        reader.client_tracking_on()
        reader.connection._parser.set_invalidation_push_handler(seen.append)  # type: ignore[union-attr]
        writer.set("a", "1")
        assert reader.get("a") == b"1"
        writer.set("a", "2")
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            reader.ping()  # reading a reply processes the pushes before it
            time.sleep(0.05)
        assert seen == [[b"invalidate", [b"a"]]]
    finally:
        reader.close()
        writer.close()
