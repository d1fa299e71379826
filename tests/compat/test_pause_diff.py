"""CLIENT PAUSE WRITE/ALL against real Redis: which requests wait, what they answer, expiry."""

from __future__ import annotations

import time

from tests.helpers import RawClient, ServerHandle, encode_command

NO_WRITES = "#!lua flags=no-writes\nreturn 1"

# Each case: the commands one client sends while another has paused writes.
CASES: list[list[tuple[str, ...]]] = [
    [("GET", "k")],
    [("SET", "k", "v")],
    [("SET", "k")],  # wrong arity: answered at once
    [("NOSUCH",)],
    [("PUBLISH", "ch", "m")],
    [("SPUBLISH", "ch", "m")],
    [("FLUSHALL",)],
    [("FUNCTION", "FLUSH")],
    [("SCRIPT", "FLUSH")],
    [("EVAL", "return 1", "0")],
    [("EVAL", "#!lua\nreturn 1", "0")],
    [("EVAL", NO_WRITES, "0")],
    [("EVAL_RO", "return 1", "0")],
    [("EVALSHA", "0" * 40, "0")],
    [("FCALL", "nosuch", "0")],
    [("FCALL_RO", "nosuch", "0")],
    [("MULTI",), ("GET", "k"), ("EXEC",)],
    [("MULTI",), ("SET", "k", "v")],  # queueing a write waits too
    [("MULTI",), ("EVAL", NO_WRITES, "0"), ("EXEC",)],
    [("GET", "k"), ("SET", "k", "v"), ("GET", "k")],  # what follows a held request waits
]


def _replies(c: RawClient, wait: float) -> list[bytes]:
    """Replies that arrive within ``wait`` seconds."""
    out: list[bytes] = []
    c.sock.settimeout(wait)
    try:
        while True:
            out.append(c.read_reply())
    except TimeoutError:
        pass
    finally:
        c.sock.settimeout(10.0)
    return out


def _transcript(port: int) -> list[object]:
    ctl = RawClient(port)
    ctl.call("FLUSHALL")
    ctl.call("SET", "k", "old")
    got: list[object] = []
    for case in CASES:
        c = RawClient(port)
        assert ctl.call("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        for argv in case:
            c.send_raw(encode_command(argv))
        during = _replies(c, 0.3)
        blocked = [ln for ln in ctl.call("INFO", "clients").split(b"\r\n") if ln.startswith(b"blocked_clients:")]
        ctl.call("CLIENT", "UNPAUSE")
        after = _replies(c, 0.3)
        got.append((case, during, blocked, after))
        c.close()
        ctl.call("SET", "k", "old")
    ctl.close()
    return got


def test_pause_write_holds_what_redis_holds(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    assert _transcript(moonkv_server.port) == _transcript(redis_server.port)


def _pause_all(port: int) -> list[object]:
    ctl = RawClient(port)
    c = RawClient(port)
    assert ctl.call("CLIENT", "PAUSE", "500", "ALL") == b"+OK\r\n"
    got: list[object] = []
    for argv in [("SET", "k"), ("NOSUCH",), ("PING",), ("CLIENT", "UNPAUSE"), ("GET", "k")]:
        c.send_raw(encode_command(argv))
        got.append(_replies(c, 0.05))
    got.append(_replies(c, 1.0))  # the held ones, once the pause is over
    ctl.close()
    c.close()
    return got


def test_pause_all_holds_every_valid_request(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _pause_all(moonkv_server.port)
    assert got == _pause_all(redis_server.port)
    assert got[2] == [] and got[-1][0] == b"+PONG\r\n"


def _expiry(port: int) -> list[object]:
    c = RawClient(port)
    c.call("FLUSHALL")
    c.call("CONFIG", "RESETSTAT")
    c.call("SET", "a", "1", "PX", "20")
    c.call("CLIENT", "PAUSE", "60000", "WRITE")
    time.sleep(0.3)  # several active expiry cycles
    seen: list[object] = [c.call("GET", "a"), c.call("DBSIZE"), b"expired_keys:0" in c.call("INFO", "stats")]
    c.call("CLIENT", "UNPAUSE")
    seen += [c.call("GET", "a"), c.call("DBSIZE"), b"expired_keys:1" in c.call("INFO", "stats")]
    c.close()
    return seen


def test_pause_holds_expiry(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _expiry(moonkv_server.port)
    assert got == _expiry(redis_server.port)
    assert got == [b"$-1\r\n", b":1\r\n", True, b"$-1\r\n", b":0\r\n", True]


def test_read_only_scripts_may_not_publish(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    for port in (moonkv_server.port, redis_server.port):
        c = RawClient(port)
        # Twice each: the second call must not take a cached fast path.
        for _ in range(2):
            assert c.call("EVAL_RO", "return redis.call('publish','ch','m')", "0").startswith(
                b"-ERR Write commands are not allowed from read-only scripts. script:")
            assert c.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('publish','ch','m')", "0").startswith(
                b"-ERR Write commands are not allowed from read-only scripts. script:")
        assert c.call("EVAL", "return redis.call('publish','ch','m')", "0") == b":0\r\n"
        c.close()
