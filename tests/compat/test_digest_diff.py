"""DEBUG DIGEST, DIGEST-VALUE and PROTOCOL against real Redis 7.0 (same values for every type but
streams, whose digest is moonkv's own: docs/compatibility.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle, start_redis


@pytest.fixture(scope="module")
def redis_debug() -> Iterator[ServerHandle]:
    h = start_redis(["--enable-debug-command", "local"])
    yield h
    h.stop()


@pytest.fixture
def diff(moonkv_server: ServerHandle, redis_debug: ServerHandle) -> Iterator[Differ]:
    """The shared moonkv (DEBUG enabled from loopback) beside a Redis that allows DEBUG."""
    m, real = RawClient(moonkv_server.port), RawClient(redis_debug.port)
    m.call("FLUSHALL")
    real.call("FLUSHALL")
    yield Differ(m, real)
    m.call("FLUSHALL")
    m.close()
    real.close()


def test_digests_match_redis(diff: Differ) -> None:
    diff("DEBUG", "DIGEST")  # empty: forty zeros
    diff("DEBUG", "DIGEST-VALUE", "missing")
    diff("SET", "s", "hello")
    diff("SET", "n", "12345")
    diff("RPUSH", "l", "a", "1", "b" * 100)
    diff("SADD", "st", "x", "y", "3")
    diff("SADD", "si", "1", "2", "3")
    diff("HSET", "h", "f", "v", "g", "1")
    diff("ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "0.1", "e")
    diff("SET", "e", "v", "EX", "100")
    for key in ("s", "n", "l", "st", "si", "h", "z", "e"):
        diff("DEBUG", "DIGEST-VALUE", key)
    diff("DEBUG", "DIGEST-VALUE", "s", "l", "missing")
    diff("DEBUG", "DIGEST")
    diff("SELECT", "3")
    diff("SET", "s", "other db")
    diff("DEBUG", "DIGEST")
    diff("FLUSHALL")


def test_stream_digest_follows_its_value(diff: Differ) -> None:
    for c in (diff.m, diff.real):
        c.call("XADD", "x", "1-1", "f", "v")
        c.call("COPY", "x", "y")
        a, b = c.call("DEBUG", "DIGEST-VALUE", "x", "y").split(b"\r\n")[1:3]
        assert a == b and a != b"+" + b"0" * 40
        c.call("XADD", "y", "2-1", "f", "v")
        a, b = c.call("DEBUG", "DIGEST-VALUE", "x", "y").split(b"\r\n")[1:3]
        assert a != b


PROTOCOL_TYPES = ["string", "integer", "double", "bignum", "null", "array", "set", "map",
                  "attrib", "push", "true", "false", "verbatim", "nosuch"]


@pytest.mark.parametrize("resp", [2, 3])
def test_debug_protocol(diff: Differ, resp: int) -> None:
    diff.both("HELLO", str(resp))  # (client ids differ)
    for name in PROTOCOL_TYPES:
        diff("DEBUG", "PROTOCOL", name)
    diff("PING")  # nothing left behind
    diff.both("HELLO", "2")
