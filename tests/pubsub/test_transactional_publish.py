"""Publishing commits with its unit (moonkv's difference, docs/scripting.md).

A message published inside MULTI/EXEC or a script reaches subscribers when the
unit commits, in order, after its writes; a script that fails, is killed or
runs over its budget delivers nothing.  Redis delivers a failed script's
messages; these tests pin moonkv's behaviour.  A fence message published
afterwards shows that nothing else was delivered before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.helpers import RawClient, ServerHandle, encode_command, start_moonkv

FENCE = b"*3\r\n$7\r\nmessage\r\n$5\r\nfence\r\n$1\r\n.\r\n"


def _msg(channel: bytes, payload: bytes, push: bool = False) -> bytes:
    head = b">3\r\n" if push else b"*3\r\n"
    return head + b"$7\r\nmessage\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (channel, payload))


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_moonkv(["--appendonly", "no", "--save", "", "--lua-time-limit", "100",
                      "--lua-kill-time-limit", "1500"])
    yield h
    h.stop()


@pytest.fixture
def sub(server: ServerHandle) -> Iterator[RawClient]:
    c = RawClient(server.port)
    c.call("SUBSCRIBE", "ch", "fence")
    c.read_reply()
    yield c
    c.close()


def _received(sub: RawClient, port: int) -> list[bytes]:
    """Everything ``sub`` received before a fence published now."""
    p = RawClient(port)
    try:
        assert p.call("PUBLISH", "fence", ".") == b":1\r\n"
    finally:
        p.close()
    out = []
    while (m := sub.read_reply()) != FENCE:
        out.append(m)
    return out


def test_multi_exec_delivers_in_order_after_its_writes(server: ServerHandle, sub: RawClient) -> None:
    c = RawClient(server.port)
    c.call("MULTI")
    c.call("SET", "k", "v1")
    c.call("PUBLISH", "ch", "a")
    c.call("SET", "k", "v2")
    c.call("PUBLISH", "ch", "b")
    assert c.call("EXEC") == b"*4\r\n+OK\r\n:1\r\n+OK\r\n:1\r\n"
    assert sub.read_reply() == _msg(b"ch", b"a")
    assert sub.read_reply() == _msg(b"ch", b"b")
    assert c.call("GET", "k") == b"$2\r\nv2\r\n"
    assert _received(sub, server.port) == []
    c.close()


def test_a_units_pushes_to_its_own_client_precede_its_reply(server: ServerHandle) -> None:
    c = RawClient(server.port)
    c.call("HELLO", "3")
    c.call("SUBSCRIBE", "own")
    c.sock.sendall(encode_command(["MULTI"]) + encode_command(["PUBLISH", "own", "1"])
                   + encode_command(["EXEC"]) + encode_command(["EVAL", "return redis.call('publish', 'own', '2')", "0"]))
    assert [c.read_reply() for _ in range(6)] == [
        b"+OK\r\n", b"+QUEUED\r\n", _msg(b"own", b"1", push=True), b"*1\r\n:1\r\n",
        _msg(b"own", b"2", push=True), b":1\r\n",
    ]
    c.close()


def test_script_that_commits_delivers_after_its_writes(server: ServerHandle, sub: RawClient) -> None:
    c = RawClient(server.port)
    script = "redis.call('set', KEYS[1], 'new'); return redis.call('publish', 'ch', 'written')"
    assert c.call("EVAL", script, "1", "k") == b":1\r\n"  # receivers at the time of the call
    assert sub.read_reply() == _msg(b"ch", b"written")
    r = RawClient(server.port)
    assert r.call("GET", "k") == b"$3\r\nnew\r\n"  # the write is visible once the message is
    r.close()
    c.close()


def test_script_that_fails_delivers_nothing(server: ServerHandle, sub: RawClient) -> None:
    c = RawClient(server.port)
    c.call("SET", "k", "old")
    reply = c.call("EVAL", "redis.call('set', KEYS[1], 'x'); redis.call('publish', 'ch', 'lost'); error('boom')",
                   "1", "k")
    assert reply.startswith(b"-ERR user_script:1: boom")
    assert _received(sub, server.port) == []
    assert c.call("GET", "k") == b"$3\r\nold\r\n"
    # A caught error (pcall) does not fail the script: its messages go out.
    assert c.call("EVAL", "redis.pcall('incr', 'nope', 'x'); return redis.call('publish', 'ch', 'kept')", "0") \
        == b":1\r\n"
    assert _received(sub, server.port) == [_msg(b"ch", b"kept")]
    c.close()


def _busy(c: RawClient) -> None:
    """Wait until ``c`` gets -BUSY."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if c.call("PING").startswith(b"-BUSY"):
            return
        time.sleep(0.02)
    raise AssertionError("the script never became busy")


def test_killed_script_delivers_nothing(server: ServerHandle, sub: RawClient) -> None:
    out: list[bytes] = []

    def run() -> None:
        c = RawClient(server.port)
        out.append(c.call("EVAL", "redis.call('publish', 'ch', 'lost'); while true do end", "0"))
        c.close()

    t = threading.Thread(target=run)
    t.start()
    watcher = RawClient(server.port)  # may be accepted in the iteration the script starts in
    _busy(watcher)
    watcher.close()
    k = RawClient(server.port)
    # Others cannot publish while the script is busy (as in Redis).
    assert k.call("PUBLISH", "ch", "other").startswith(b"-BUSY")
    assert k.call("SCRIPT", "KILL") == b"+OK\r\n"
    t.join(10)
    k.close()
    assert out and out[0].startswith(b"-ERR Script killed by user")
    assert _received(sub, server.port) == []


def test_script_over_its_budget_delivers_nothing(server: ServerHandle, sub: RawClient) -> None:
    c = RawClient(server.port, timeout=20)
    reply = c.call("EVAL", "redis.call('publish', 'ch', 'lost'); while true do end", "0")
    assert reply.startswith(b"-ERR Script exceeded the time limit of 1500 ms"), reply
    assert _received(sub, server.port) == []
    c.close()


def test_notifications_of_a_rolled_back_script_are_dropped(server: ServerHandle) -> None:
    c = RawClient(server.port)
    s = RawClient(server.port)
    c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        s.call("SUBSCRIBE", "__keyevent@0__:set", "fence")
        s.read_reply()
        c.call("EVAL", "redis.call('set', 'a', '1'); error('no')", "0")
        c.call("EVAL", "redis.call('set', 'b', '1')", "0")
        assert _received(s, server.port) == [
            b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nb\r\n"
        ]
    finally:
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        s.close()
