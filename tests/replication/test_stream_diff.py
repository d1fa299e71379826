"""The replication stream a primary sends, compared command by command with redis-server's.

Redis's own suite reads the stream (``attach_to_replication_stream``: SYNC, skip the
payload, read commands) to check what scripts and transactions propagate; these tests do the
same against both servers: a script's effects and never its code, MULTI/EXEC framing, SELECT
before PUBLISH, PUBLISH inside MULTI and scripts.  One deliberate difference: moonkv also
streams its script cache (a newly cached body as ``SCRIPT LOAD body [EVAL]``, ``SCRIPT
FLUSH``), each a command of its own ahead of its unit, so EVALSHA works on replicas; the
comparison leaves those commands out and the tests check where they are."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator, Sequence

import pytest

from tests.helpers import RawClient, ServerHandle, both

Cmd = Sequence[str]
# Absolute times (PEXPIREAT, PXAT, stream IDs' milliseconds) differ between the servers.
_MS = re.compile(r"\b1[0-9]{12}\b")


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerHandle, ServerHandle]]:
    with both(["--enable-debug-command", "yes"]) as servers:
        yield servers


def _attach(port: int) -> tuple[socket.socket, bytes]:
    """SYNC as the suite's attach_to_replication_stream does; the bytes after the payload."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"SYNC\r\n")
    buf = b""
    while True:
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, "the server closed the SYNC connection"
            buf += chunk
        line, buf = buf.split(b"\r\n", 1)
        if line:  # (empty lines are keep-alives while the payload is made)
            break
    assert line.startswith(b"$"), line
    size = int(line[1:])
    while len(buf) < size:
        buf += s.recv(65536)
    return s, buf[size:]


def _commands(data: bytes) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(data):
        if data[i : i + 1] == b"\n":
            i += 1
            continue
        assert data[i : i + 1] == b"*", data[i : i + 40]
        j = data.index(b"\r\n", i)
        n = int(data[i + 1 : j])
        i = j + 2
        args = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            size = int(data[i + 1 : j])
            i = j + 2
            args.append(data[i : i + size].decode("utf-8", "replace"))
            i += size + 2
        args[0] = args[0].lower()
        out.append(_MS.sub("<ms>", " ".join(args)))
    return out


def _stream(h: ServerHandle, cmds: Sequence[Cmd], setup: Sequence[Cmd] = ()) -> tuple[list[bytes], list[str]]:
    """Each command's reply, and what the stream carried for them (ended by a marker SET)."""
    c = RawClient(h.port)
    try:
        c.call("FLUSHALL")
        for cmd in setup:
            c.call(*cmd)
        c.call("CONFIG", "SET", "repl-ping-replica-period", "3600")
        s, data = _attach(h.port)
        try:
            replies = [c.call(*cmd) for cmd in cmds]
            c.call("SELECT", "0")
            c.call("SET", "end-marker", "1")
            deadline = time.monotonic() + 10
            while b"end-marker" not in data and time.monotonic() < deadline:
                data += s.recv(65536)
        finally:
            s.close()
        return replies, _commands(data)
    finally:
        c.close()


def _is_cache(cmd: str) -> bool:
    return cmd.lower().startswith(("script load ", "script flush"))


def _same(pair: tuple[ServerHandle, ServerHandle], cmds: Sequence[Cmd], setup: Sequence[Cmd] = ()) -> list[str]:
    """Both servers' replies and streams are the same but for moonkv's script-cache
    commands; moonkv's whole stream."""
    m, r = pair
    (got_replies, got), (want_replies, want) = _stream(m, cmds, setup), _stream(r, cmds, setup)
    assert got_replies == want_replies
    assert [cmd for cmd in got if not _is_cache(cmd)] == want
    return got


def test_a_script_streams_its_effects_not_its_code(pair: tuple[ServerHandle, ServerHandle]) -> None:
    stream = _same(pair, [
        ("SELECT", "9"),
        ("SADD", "myset", "a"),  # (one member: SPOP's choice is the same on both)
        ("EVAL", "return redis.call('spop', 'myset')", "0"),
        ("EVAL", "return redis.call('spop', KEYS[1])", "1", "myset"),  # empty: nothing
        ("MSET", "a", "1", "b", "2"),
        ("EVAL", "return redis.call('mget', 'a', 'b')", "0"),  # read-only: nothing
        ("SET", "expirekey", "1"),
        ("EVAL", "return redis.call('expire', KEYS[1], ARGV[1])", "1", "expirekey", "3"),
        ("EVAL", "redis.call('incrbyfloat', KEYS[1], 1)", "1", "key"),
        ("EVAL", "redis.call('set', KEYS[1], '1', 'KEEPTTL')", "1", "key"),
        ("EVAL", "redis.call('set', 'x', '1') redis.call('incr', 'y')", "0"),
    ])
    # Each new body once, as a command of its own before its unit's effects (its MULTI).
    loads = [i for i, cmd in enumerate(stream) if _is_cache(cmd)]
    assert len(loads) == 7
    for i in loads:
        assert stream[i].endswith(" EVAL")
        assert i == 0 or stream[i - 1] != "multi"


def test_the_script_cache_is_streamed_outside_the_units(pair: tuple[ServerHandle, ServerHandle]) -> None:
    stream = _same(pair, [
        ("SCRIPT", "LOAD", "return 'loaded'"),
        ("EVAL", "return 'cached by eval'", "0"),
        ("SCRIPT", "FLUSH"),
        ("MULTI",), ("SCRIPT", "LOAD", "redis.call('set', KEYS[1], 'foo')"), ("SET", "foo", "bar"), ("EXEC",),
        ("MULTI",), ("SCRIPT", "FLUSH"), ("SET", "foo", "bar"), ("EXEC",),
    ])
    assert stream[:-1] == [
        "script LOAD return 'loaded'",
        "script LOAD return 'cached by eval' EVAL",
        "script FLUSH",
        "script LOAD redis.call('set', KEYS[1], 'foo')",
        "select 0",
        "set foo bar",
        "script FLUSH",
        "set foo bar",
    ]


def test_transactions_are_framed_as_redis_frames_them(pair: tuple[ServerHandle, ServerHandle]) -> None:
    _same(pair, [
        ("SELECT", "9"),
        ("MULTI",), ("SET", "x", "1"), ("EXEC",),  # one write: no MULTI in the stream
        ("MULTI",), ("SET", "x", "1"), ("INCR", "y"), ("EXEC",),
        ("MULTI",), ("GET", "x"), ("EXEC",),  # no write: nothing
        ("MULTI",), ("EVAL", "redis.call('set', KEYS[1], 'bar')", "1", "bar"), ("EXEC",),
        ("SELECT", "1"), ("SET", "q", "1"),
        ("MULTI",), ("SET", "x", "1"), ("SELECT", "0"), ("SET", "y", "1"), ("EXEC",),
    ])


def test_publish_is_streamed_in_its_database(pair: tuple[ServerHandle, ServerHandle]) -> None:
    stream = _same(pair, [
        ("SELECT", "9"),
        ("MULTI",), ("PUBLISH", "bla", "bla"), ("EXEC",),
        ("PUBLISH", "x", "y"),
        ("SELECT", "3"),
        ("EVAL", "redis.call('publish', 'a', 'b') redis.call('set', 'k', 'v')", "0"),
        ("EVAL", "redis.call('set', 'k', 'v') redis.call('publish', 'a', 'b')", "0"),
        ("SPUBLISH", "s", "m"),
    ])
    assert stream[:2] == ["select 9", "publish bla bla"]


def _expiring(*keys: str) -> list[Cmd]:
    # 100 ms: the keys of a block are all written before any of them expires, however
    # loaded the machine (with 1 ms a busy machine let one expire between the SETs).
    return [*[("SET", k, "v", "PX", "100") for k in keys], ("DEBUG", "SLEEP", "0.15")]


def test_expired_keys_are_framed_as_redis_frames_them(pair: tuple[ServerHandle, ServerHandle]) -> None:
    """A command's lazy expiries go in its unit (MGET of two: MULTI), except SCAN's and
    RANDOMKEY's run directly and the active expiry's, one DEL each (the suite's "SCAN:
    Lazy-expire should not be wrapped in MULTI/EXEC")."""
    m, r = pair
    cmds: list[Cmd] = [
        ("DEBUG", "SET-ACTIVE-EXPIRE", "0"),
        *_expiring("a1", "a2"), ("SCAN", "0"),
        *_expiring("b1", "b2"), ("RANDOMKEY",),
        *_expiring("c1", "c2"), ("MGET", "c1", "c2"),
        *_expiring("d1", "d2"), ("MULTI",), ("SCAN", "0"), ("EXEC",),
        *_expiring("e1", "e2"), ("EVAL", "return redis.call('randomkey')", "0"),
        *_expiring("f1", "f2"), ("DEBUG", "SET-ACTIVE-EXPIRE", "1"), ("DEBUG", "SLEEP", "0.5"),
    ]
    try:
        got, want = _stream(m, cmds)[1], _stream(r, cmds)[1]
    finally:
        for h in pair:
            c = RawClient(h.port)
            c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            c.close()
    # Which of two keys SCAN meets first is hash order, each server's own.
    mine, theirs = ([re.sub(r"^del (\w)\d$", r"del \1*", c) for c in s] for s in (got, want))
    assert [c for c in mine if not _is_cache(c)] == theirs
    assert "del a*" in mine
