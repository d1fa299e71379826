"""DEBUG DIGEST, DIGEST-VALUE and PROTOCOL against real Redis 7.0 (same values for every type but
streams, whose digest is moonkv's own: docs/compatibility.md)."""

from __future__ import annotations

import pytest

from tests.conftest import Differ


def test_digests_match_redis(debug_diff: Differ) -> None:
    debug_diff("DEBUG", "DIGEST")  # empty: forty zeros
    debug_diff("DEBUG", "DIGEST-VALUE", "missing")
    debug_diff("SET", "s", "hello")
    debug_diff("SET", "n", "12345")
    debug_diff("RPUSH", "l", "a", "1", "b" * 100)
    debug_diff("SADD", "st", "x", "y", "3")
    debug_diff("SADD", "si", "1", "2", "3")
    debug_diff("HSET", "h", "f", "v", "g", "1")
    debug_diff("ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "0.1", "e")
    debug_diff("SET", "e", "v", "EX", "100")
    for key in ("s", "n", "l", "st", "si", "h", "z", "e"):
        debug_diff("DEBUG", "DIGEST-VALUE", key)
    debug_diff("DEBUG", "DIGEST-VALUE", "s", "l", "missing")
    debug_diff("DEBUG", "DIGEST")
    debug_diff("SELECT", "3")
    debug_diff("SET", "s", "other db")
    debug_diff("DEBUG", "DIGEST")
    debug_diff("FLUSHALL")


def test_stream_digest_follows_its_value(debug_diff: Differ) -> None:
    for c in (debug_diff.m, debug_diff.real):
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
def test_debug_protocol(debug_diff: Differ, resp: int) -> None:
    debug_diff.both("HELLO", str(resp))  # (client ids differ)
    for name in PROTOCOL_TYPES:
        debug_diff("DEBUG", "PROTOCOL", name)
    debug_diff("PING")  # nothing left behind
    debug_diff.both("HELLO", "2")
