"""MONITOR lines and DEBUG ERROR against a real redis-server (byte for byte, but the time
stamp and client address, which differ by nature)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.helpers import RawClient, ServerHandle, running, start_moonkv, start_redis

COMMANDS: list[tuple[str, ...]] = [
    ("SET", "foo", 'b"a\\r\n\x01\x7f\t'), ("GET", "foo"),
    ("EVAL", "redis.call('set', KEYS[1], ARGV[1]); return redis.pcall('incr', KEYS[1])", "1", "foo", "bar"),
    ("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("EXEC",),
    ("MULTI",), ("NOSUCH",), ("EXEC",),
    ("SELECT", "2"), ("PING",), ("SELECT", "0"),
    ("AUTH", "x"), ("AUTH", "u", "p"), ("HELLO", "2", "AUTH", "u", "p"), ("HELLO", "2", "SETNAME", "n"),
    ("CONFIG", "GET", "maxmemory"), ("GET", "k1", "k2"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "9", "5000", "AUTH", "pw"),
    ("MIGRATE", "127.0.0.1", "1", "", "9", "5000", "COPY", "AUTH2", "u", "pw", "KEYS", "a", "b"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "9", "5000", "AUTH", "pw", "bogus", "AUTH", "x"),
    ("EVALSHA", "0" * 40, "0"),
    ("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return redis.call('get', 'a') end)"),
    ("FCALL", "f", "0"),
    ("DEBUG", "ERROR", "ERR boom"), ("DEBUG", "ERROR", "odd\r\ntext"),
    ("CLIENT", "SETNAME", "me"), ("MULTI",), ("MONITOR",), ("EXEC",),
    ("ECHO", "last"),
]
_STAMP = re.compile(rb"^\+\d+\.\d{6} \[(\d+) (lua|127\.0\.0\.1:\d+)\]")


def _transcript(port: int) -> tuple[list[bytes], list[bytes]]:
    mon, c = RawClient(port), RawClient(port)
    try:
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        assert mon.call("MONITOR") == b"+OK\r\n"
        replies = [c.call(*a) for a in COMMANDS]
        lines = []
        while True:
            line = mon.read_reply()
            m = _STAMP.match(line)
            assert m is not None, line
            lines.append(b"[%s %s]%s" % (m.group(1), b"lua" if m.group(2) == b"lua" else b"client",
                                         line[m.end():]))
            if b'"last"' in line:
                return replies, lines
    finally:
        mon.close()
        c.close()


@pytest.fixture(scope="module")
def redis_debug() -> Iterator[ServerHandle]:
    with running(start_redis(["--enable-debug-command", "yes"])) as h:
        yield h


def test_monitor_lines_match_redis(moonkv_server: ServerHandle, redis_debug: ServerHandle) -> None:
    got = _transcript(moonkv_server.port)
    want = _transcript(redis_debug.port)
    for i, (g, w) in enumerate(zip(got[0], want[0], strict=True)):
        if COMMANDS[i][0] == "HELLO":  # its reply names the connection's id
            g, w = re.sub(rb":\d+\r\n\$4\r\nmode", b"", g), re.sub(rb":\d+\r\n\$4\r\nmode", b"", w)
        assert g == w, f"reply {i} {COMMANDS[i]!r}: moonkv {g!r} != redis {w!r}"
    assert got[1] == want[1]
    assert b'[0 lua] "set" "foo" "bar"\r\n' in got[1]


def test_reset_and_disconnect_stop_monitoring() -> None:
    with running(start_moonkv(["--appendonly", "no", "--save", ""])) as h:
        mon, c = RawClient(h.port), RawClient(h.port)
        assert mon.call("MONITOR") == b"+OK\r\n"
        assert b"flags=O " in c.call("CLIENT", "LIST")
        assert mon.call("RESET") == b"+RESET\r\n"
        c.call("SET", "x", "1")
        assert mon.call("PING") == b"+PONG\r\n"  # no line for the SET came first
        mon.close()
        assert c.call("ECHO", "still fine") == b"$10\r\nstill fine\r\n"
        c.close()
