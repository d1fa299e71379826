"""Keyspace notifications of every write command against a real redis-server.

For each write command of ``tests/command_catalogue.py``, drawn arguments run
on keys of every type (``INITIAL``) with ``notify-keyspace-events`` at all
classes; a connection subscribed to ``__key*__:*`` must receive the same
notifications, in the same order, from moonkv and from Redis.

Left out: SPOP and XADD ``*`` (random or clock-made results), RESTORE and
RESTORE-ASKING (moonkv's DUMP format is its own) and the blocking pops (they would block).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.command_catalogue import CATALOGUE, INITIAL, SCRIPT_ONLY
from tests.helpers import RawClient, ServerHandle

NAMES = sorted(set(CATALOGUE) - {"spop", "restore", "restore-asking"} - SCRIPT_ONLY)
FENCE = b"*3\r\n$7\r\nmessage\r\n$5\r\nfence\r\n$1\r\n.\r\n"


class Side:
    """One server: a connection that writes and one subscribed to every notification."""

    def __init__(self, port: int) -> None:
        self.cmd = RawClient(port)
        self.sub = RawClient(port)
        self.cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEAnm")
        self.sub.call("PSUBSCRIBE", "__key*__:*")
        self.sub.call("SUBSCRIBE", "fence")

    def notifications(self) -> list[bytes]:
        """Everything received since the last call, up to a fence message."""
        self.cmd.call("PUBLISH", "fence", ".")
        out = []
        while (msg := self.sub.read_reply()) != FENCE:
            out.append(msg)
        return out

    def close(self) -> None:
        self.cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
        self.cmd.close()
        self.sub.close()


@pytest.fixture(scope="module")
def sides(moonkv_server: ServerHandle, redis_server: ServerHandle) -> Iterator[tuple[Side, Side]]:
    pair = (Side(moonkv_server.port), Side(redis_server.port))
    yield pair
    for s in pair:
        s.close()


def _run(side: Side, argv: list[bytes]) -> tuple[bytes, list[bytes]]:
    side.cmd.call("FLUSHALL")
    for a in INITIAL:
        side.cmd.call(*a)
    side.notifications()
    reply = side.cmd.call(*argv)
    # A key written with an expiry in the past expires when Redis's active cycle next runs,
    # before or after the fence; SCAN expires what it visits, so "expired" comes out here, once.
    for db in ("1", "0"):
        side.cmd.call("SELECT", db)
        side.cmd.call("SCAN", "0", "COUNT", "1000")
    return reply, side.notifications()


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_notifications_match_redis(sides: tuple[Side, Side], name: str, data: st.DataObject) -> None:
    argv = CATALOGUE[name](data.draw)
    if argv[0] == b"XADD" and b"*" in argv:
        argv[argv.index(b"*")] = b"60-0"
    got, want = (_run(s, argv) for s in sides)
    assert got == want, f"{argv!r}: moonkv {got!r} != redis {want!r}"


MIX: list[list[bytes]] = [
    [b"SET", b"s1", b"v"], [b"GET", b"absent"], [b"LPUSH", b"l1", b"a"], [b"SADD", b"st1", b"a"],
    [b"HSET", b"h1", b"f", b"v"], [b"ZADD", b"z1", b"1", b"a"], [b"XADD", b"x1", b"1-0", b"f", b"v"],
    [b"PEXPIRE", b"s1", b"1"], [b"DEL", b"h1"], [b"RENAME", b"l1", b"l2"],
]


@pytest.mark.parametrize("classes", ["", "g", "$", "l", "s", "h", "z", "x", "e", "t", "m", "d", "n", "A",
                                     "Agn", "gx$", "lshz"])
@pytest.mark.parametrize("kinds", ["K", "E", "KE"])
def test_each_class_alone_matches_redis(sides: tuple[Side, Side], classes: str, kinds: str) -> None:
    """Only the enabled classes are published, on the enabled channels; CONFIG GET shows
    Redis's canonical string."""
    out = []
    for side in sides:
        side.cmd.call("FLUSHALL")
        side.notifications()
        got = [side.cmd.call("CONFIG", "SET", "notify-keyspace-events", classes + kinds),
               side.cmd.call("CONFIG", "GET", "notify-keyspace-events")]
        for argv in MIX:
            side.cmd.call(*argv)
        time.sleep(0.01)
        side.cmd.call("GET", "s1")  # expired (lazily or actively: "expired" once), then a miss
        got.extend(side.notifications())
        side.cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEAnm")
        out.append(got)
    assert out[0] == out[1]


def test_bad_class_is_refused_as_redis(sides: tuple[Side, Side]) -> None:
    got, want = (s.cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEq") for s in sides)
    assert got == want
    assert got.startswith(b"-ERR CONFIG SET failed")
