"""Client-side caching against a real redis-server, byte for byte, in RESP2 and RESP3.

Each scenario is a script of steps run on both servers with raw clients: ``(i, *argv)``
sends a command on client ``i`` and reads its reply, ``("read", i)`` reads one more
message (an invalidation), ``("hello", i, ver)`` switches protocol (its reply is not
compared), ``("close", i)`` disconnects a client (and waits until the server saw it).  An argument ``"$ID<i>"`` stands for
client ``i``'s id; ids in replies are shown the same way, as the servers number their
clients differently.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.helpers import RawClient, ServerHandle

Step = tuple[Any, ...]


def _run(port: int, steps: list[Step], nclients: int = 3) -> list[bytes]:
    clients = [RawClient(port) for _ in range(nclients)]
    ids = [int(c.call("CLIENT", "ID")[1:-2]) for c in clients]
    out: list[bytes] = []

    def arg(a: Any) -> Any:
        return ids[int(a[3:])] if isinstance(a, str) and a.startswith("$ID") else a

    try:
        clients[0].call("FLUSHALL")
        for step in steps:
            if step[0] == "read":
                out.append(clients[step[1]].read_reply())
            elif step[0] == "hello":
                clients[step[1]].call("HELLO", step[2])
            elif step[0] == "close":
                clients[step[1]].close()
                gone = b"id=%d " % ids[step[1]]
                while gone in clients[0 if step[1] else 1].call("CLIENT", "LIST"):
                    time.sleep(0.01)
            else:
                out.append(clients[step[0]].call(*[arg(a) for a in step[1:]]))
    finally:
        for c in clients:
            c.close()
    shown = []
    for reply in out:
        for i, cid in enumerate(ids):
            reply = reply.replace(b":%d\r\n" % cid, b":$ID%d\r\n" % i)
        shown.append(reply)
    return shown


SCENARIOS: dict[str, list[Step]] = {
    "options_and_errors": [
        (0, "CLIENT", "GETREDIR"), (0, "CLIENT", "TRACKINGINFO"),
        (0, "CLIENT", "TRACKING", "maybe"), (0, "CLIENT", "TRACKING", "on", "what"),
        (0, "CLIENT", "TRACKING", "on", "redirect"), (0, "CLIENT", "TRACKING", "on", "redirect", "x"),
        (0, "CLIENT", "TRACKING", "on", "redirect", "999999"),
        (0, "CLIENT", "TRACKING", "on", "redirect", "$ID1", "redirect", "$ID2"),
        (0, "CLIENT", "TRACKING", "on", "prefix", "a"),
        (0, "CLIENT", "TRACKING", "on", "bcast", "optin"),
        (0, "CLIENT", "TRACKING", "on", "optin", "optout"),
        (0, "CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"),
        (0, "CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "b"),
        (0, "CLIENT", "TRACKINGINFO"), (0, "CLIENT", "GETREDIR"),
        (0, "CLIENT", "TRACKING", "on", "bcast", "prefix", "abc"),
        (0, "CLIENT", "TRACKING", "on", "bcast", "prefix", "c"),
        (0, "CLIENT", "TRACKINGINFO"),
        (0, "CLIENT", "TRACKING", "on"),
        (0, "CLIENT", "TRACKING", "off"), (0, "CLIENT", "TRACKINGINFO"), (0, "CLIENT", "GETREDIR"),
        (0, "CLIENT", "CACHING", "yes"),
        (0, "CLIENT", "TRACKING", "on", "optin", "noloop", "redirect", "$ID1"),
        (0, "CLIENT", "TRACKINGINFO"), (0, "CLIENT", "GETREDIR"),
        (0, "CLIENT", "CACHING", "no"), (0, "CLIENT", "CACHING", "maybe"),
        (0, "CLIENT", "CACHING", "yes"), (0, "CLIENT", "TRACKINGINFO"),
        (0, "CLIENT", "TRACKING", "on", "optout"),
        (0, "CLIENT", "TRACKING", "on", "bcast"),
        (0, "CLIENT", "TRACKING", "off"),
        (0, "CLIENT", "TRACKING", "on", "optout"), (0, "CLIENT", "CACHING", "yes"),
        (0, "CLIENT", "CACHING", "no"), (0, "CLIENT", "TRACKINGINFO"),
        (0, "RESET"), (0, "CLIENT", "TRACKINGINFO"),
    ],
    "resp2_redirect": [
        (1, "SUBSCRIBE", "__redis__:invalidate"),
        (0, "CLIENT", "TRACKING", "on", "redirect", "$ID1"),
        (0, "GET", "a"), (0, "MGET", "b", "c"), (0, "SET", "x", "1"),
        (2, "SET", "a", "1"), ("read", 1),
        (2, "MSET", "b", "1", "c", "2"), ("read", 1), ("read", 1),
        (2, "SET", "a", "2"),  # no longer tracked: nothing sent
        (0, "GET", "a"), (0, "SET", "a", "3"), ("read", 1),  # own writes invalidate too
        (0, "GET", "a"), (2, "FLUSHALL"), ("read", 1),
        (0, "GET", "a"), (2, "SET", "a", "z"), ("read", 1),
        (2, "PING"),
    ],
    "resp3_pushes": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on"),
        (0, "GET", "k"), (0, "HGET", "h", "f"), (0, "TYPE", "s"),
        (1, "SET", "k", "v"), (0, "PING"), ("read", 0),
        (1, "HSET", "h", "f", "v"), ("read", 0),
        (0, "GET", "k"), (0, "CLIENT", "TRACKING", "on", "noloop"), (0, "SET", "k", "w"), (0, "PING"),
        (0, "GET", "k"), (1, "FLUSHDB"), ("read", 0),
        (0, "CLIENT", "TRACKING", "off"), (0, "GET", "k"), (1, "SET", "k", "x"), (0, "PING"),
        # Its own write, without NOLOOP: the push and the reply, in Redis's order.
        (0, "CLIENT", "TRACKING", "on"), (0, "GET", "own"), (0, "SET", "own", "1"), ("read", 0),
        (0, "GET", "own"), (0, "MULTI"), (0, "SET", "own", "2"), (0, "INCR", "n"), (0, "EXEC"), ("read", 0),
        (0, "GET", "own"), (0, "EVAL", "redis.call('set', KEYS[1], 3)", "1", "own"), ("read", 0),
    ],
    "optin_optout": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on", "optin"),
        (0, "GET", "a"), (1, "SET", "a", "1"),
        (0, "CLIENT", "CACHING", "yes"), (0, "GET", "b"), (0, "GET", "c"),
        (1, "SET", "c", "1"), (1, "SET", "b", "1"), ("read", 0), (0, "PING"),
        (0, "CLIENT", "TRACKING", "off"),
        (0, "CLIENT", "TRACKING", "on", "optout"),
        (0, "CLIENT", "CACHING", "no"), (0, "GET", "d"), (0, "GET", "e"),
        (1, "SET", "d", "1"), (1, "SET", "e", "1"), ("read", 0), (0, "PING"),
    ],
    "bcast": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on", "bcast", "prefix", "user:", "prefix", "obj:"),
        (1, "SET", "user:1", "x"), ("read", 0),
        (1, "SET", "other", "x"), (1, "SET", "obj:2", "y"), ("read", 0),
        (0, "CLIENT", "TRACKINGINFO"),
        (1, "FLUSHALL"), ("read", 0),
        (0, "CLIENT", "TRACKING", "off"),
        (0, "CLIENT", "TRACKING", "on", "bcast"),
        (1, "SET", "anything", "x"), ("read", 0),
    ],
    "scripts": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on"),
        (0, "EVAL", "redis.call('set', 'k3', 'x')", "2", "k1", "k2"),  # no read: nothing tracked
        (1, "MSET", "k1", "1", "k2", "1"), (0, "PING"),
        (0, "EVAL_RO", "return redis.call('ping')", "2", "k1", "k2"),
        (1, "MSET", "k1", "2", "k2", "2"), (0, "PING"),
        (0, "EVAL", "return redis.call('get', 'k9')", "2", "k1", "k2"),  # a read: its keys
        (1, "MSET", "k2", "3", "k1", "3"), ("read", 0), ("read", 0),
        (0, "EVAL_RO", "return redis.call('get', 'k1')", "1", "k2"),
        (1, "SET", "k2", "4"), ("read", 0), (0, "PING"),
    ],
    # A write then a read of the same key in one unit: the write invalidates what was
    # tracked before it, the read tracks the key afresh (Redis invalidates at each write).
    "written_then_read_in_one_unit": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on"),
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "GET", "a"), (0, "EXEC"), (0, "PING"),
        (1, "SET", "a", "2"), ("read", 0), (0, "PING"),
        (0, "GET", "b"), (0, "MULTI"), (0, "INCR", "b"), (0, "GET", "b"), (0, "EXEC"), ("read", 0),
        (0, "PING"),
        (0, "EVAL", "redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[1])", "1", "c"),
        (0, "PING"), (1, "SET", "c", "y"), ("read", 0), (0, "PING"),
        (0, "MSET", "d", "1", "e", "1"), (0, "MGET", "d", "e"),
        (0, "MULTI"), (0, "MGET", "d", "e"), (0, "DEL", "d"), (0, "GET", "d"), (0, "EXEC"), ("read", 0),
        (0, "PING"), (1, "SET", "d", "2"), ("read", 0), (0, "PING"),
    ],
    # Tracked before OFF and read again after ON (the table kept the client's entries, as
    # Redis keeps them), two readers of one key, and a key read in another database.
    "off_then_on_again_and_two_readers": [
        ("hello", 0, 3), ("hello", 1, 3),
        (0, "CLIENT", "TRACKING", "on"), (0, "MGET", "a", "b"), (0, "CLIENT", "TRACKING", "off"),
        (0, "CLIENT", "TRACKING", "on"), (0, "GET", "a"), (0, "GET", "a"),
        (1, "CLIENT", "TRACKING", "on"), (1, "GET", "a"),
        (2, "SET", "b", "1"), ("read", 0), (0, "PING"), (1, "PING"),
        (2, "SET", "a", "1"), ("read", 0), ("read", 1), (0, "PING"), (1, "PING"),
        (0, "GET", "a"), (0, "GET", "a"), (2, "SET", "a", "2"), ("read", 0), (0, "PING"), (1, "PING"),
        (0, "SELECT", "1"), (0, "GET", "a"), (0, "SELECT", "0"), (2, "SET", "a", "3"), ("read", 0),
        (0, "GET", "a"), (0, "CLIENT", "TRACKING", "on", "noloop"), (0, "SET", "a", "4"), (0, "GET", "a"),
        (2, "SET", "a", "5"), ("read", 0), (0, "PING"),
    ],
    "broken_redirect": [
        ("hello", 0, 3),
        (0, "CLIENT", "TRACKING", "on", "redirect", "$ID1"),
        (0, "GET", "a"), ("close", 1),
        (2, "SET", "a", "1"), ("read", 0),
        (0, "CLIENT", "TRACKINGINFO"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str, moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _run(moonkv_server.port, SCENARIOS[name])
    want = _run(redis_server.port, SCENARIOS[name])
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"step {i}: moonkv {g!r} != redis {w!r}"


def _tracking_info(port: int) -> list[str]:
    a, b, c = RawClient(port), RawClient(port), RawClient(port)
    try:
        a.call("FLUSHALL")
        a.call("CLIENT", "TRACKING", "on")
        a.call("MGET", "k1", "k2", "k3")
        b.call("CLIENT", "TRACKING", "on")
        b.call("GET", "k1")
        c.call("CLIENT", "TRACKING", "on", "bcast", "prefix", "p:", "prefix", "q:")
        info = a.call("INFO", "everything").decode()
        return [line for line in info.split("\r\n") if line.startswith("tracking_")]
    finally:
        for x in (a, b, c):
            x.close()


def test_info_fields(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _tracking_info(moonkv_server.port)
    assert got == _tracking_info(redis_server.port)
    assert "tracking_total_items:4" in got


def test_table_max_keys_bounds_the_table(moonkv_server: ServerHandle) -> None:
    """tracking-table-max-keys: past it, the oldest keys are forgotten and invalidated
    (Redis picks them at random, so only the count is compared)."""
    a, admin = RawClient(moonkv_server.port), RawClient(moonkv_server.port)
    try:
        admin.call("FLUSHALL")
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "2")
        a.call("HELLO", "3")
        a.call("CLIENT", "TRACKING", "on")
        a.call("GET", "k1")
        a.call("GET", "k2")
        assert a.call("GET", "k3") == b"_\r\n"
        assert a.read_reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk1\r\n"
        info = admin.call("INFO", "stats").decode()
        assert "tracking_total_keys:2\r\n" in info
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1")
        assert a.call("PING") == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk2\r\n"
        assert a.read_reply() == b"+PONG\r\n"
        assert "tracking_total_keys:1\r\n" in admin.call("INFO", "stats").decode()
    finally:
        admin.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        a.close()
        admin.close()


EXPIRED_NOLOOP: list[Step] = [
    ("hello", 0, 3),
    (0, "DEBUG", "SET-ACTIVE-EXPIRE", "0"),  # the client's own read expires the keys
    (0, "CLIENT", "TRACKING", "on", "noloop"),
    # Table mode: NOLOOP holds back what the client's own command did, its expiries included.
    (0, "SET", "k", "v", "PX", "1"), (0, "GET", "k"), (1, "DEBUG", "SLEEP", "0.05"),
    (0, "GET", "k"), (0, "PING"),
    (0, "CLIENT", "TRACKING", "off"),
    (0, "CLIENT", "TRACKING", "on", "bcast", "noloop"),
    (0, "SET", "j", "v", "PX", "1"), (0, "SET", "other", "v"), (1, "DEBUG", "SLEEP", "0.05"),
    (0, "MULTI"), (0, "SET", "other", "w"), (0, "GET", "j"), (0, "EXEC"), ("read", 0), (0, "PING"),
    (0, "DEBUG", "SET-ACTIVE-EXPIRE", "1"),
]


def test_expired_keys_reach_a_noloop_client() -> None:
    # BCAST: an expiry is the server's change, not the client's, so NOLOOP does not hold it
    # back even when the client's own command made it happen and also wrote the key (Redis's
    # unit/tracking, "Tracking gets notification of lazy expired keys").
    from tests.helpers import both

    with both(["--enable-debug-command", "yes"]) as (m, real):
        got, want = _run(m.port, EXPIRED_NOLOOP), _run(real.port, EXPIRED_NOLOOP)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"step {i}: moonkv {g!r} != redis {w!r}"
