"""Pub/Sub against a real redis-server, byte for byte, in RESP2 and RESP3.

Each scenario is a script of steps run on both servers with raw clients:
``(i, *argv)`` sends a command on client ``i`` and reads its reply, ``("read", i)``
reads one more message (a push), ``("send", i, *argv)`` sends without reading,
``("hello", i, ver)`` switches protocol (its reply, which names the client id,
is not compared).
The transcripts must be identical. (Replies listing several channels are avoided: Redis
lists them in its hash tables' order, seeded at random.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import RawClient, ServerHandle, encode_command

Step = tuple[Any, ...]


def _run(port: int, steps: list[Step], nclients: int = 3) -> list[bytes]:
    clients = [RawClient(port) for _ in range(nclients)]
    out: list[bytes] = []
    try:
        clients[0].call("FLUSHALL")
        for step in steps:
            if step[0] == "read":
                out.append(clients[step[1]].read_reply())
            elif step[0] == "hello":
                clients[step[1]].call("HELLO", step[2])
            elif step[0] == "send":
                clients[step[1]].send_raw(encode_command(step[2:]))
            else:
                out.append(clients[step[0]].call(*step[1:]))
    finally:
        for c in clients:
            c.close()
    return out


SCENARIOS: dict[str, list[Step]] = {
    "resp2_basics": [
        (0, "SUBSCRIBE", "c1", "c2"), ("read", 0),
        (0, "PING"), (0, "PING", "hi"), (0, "PING", "a", "b"),
        (0, "GET", "k"), (0, "CLIENT", "INFO"), (0, "PUBLISH", "c1", "x"), (0, "NOSUCH"),
        (1, "PUBLISH", "c1", "hello"), ("read", 0),
        (0, "PSUBSCRIBE", "c*"), (0, "PSUBSCRIBE", "c*"),
        (1, "PUBLISH", "c2", "w"), ("read", 0), ("read", 0),
        (1, "PUBLISH", "nobody", "w"),
        (1, "PUBSUB", "NUMSUB", "c1", "zz"), (1, "PUBSUB", "NUMSUB"), (1, "PUBSUB", "NUMPAT"),
        (1, "PUBSUB", "CHANNELS", "c1*"), (1, "PUBSUB", "CHANNELS", "x*"),
        (0, "SUBSCRIBE", "c1"),
        (0, "UNSUBSCRIBE", "c1", "never"), ("read", 0),
        (0, "PUNSUBSCRIBE"), (0, "UNSUBSCRIBE"), (0, "UNSUBSCRIBE"), (0, "PUNSUBSCRIBE"),
        (0, "SUNSUBSCRIBE"), (0, "PING"), (0, "GET", "k"),
    ],
    "resp3": [
        ("hello", 0, 3),
        (0, "SUBSCRIBE", "x"), (0, "GET", "k"), (0, "PING"),
        (0, "PUBLISH", "x", "self"), ("read", 0),
        (0, "SSUBSCRIBE", "s1", "s2"), ("read", 0),
        (1, "SPUBLISH", "s1", "m"), ("read", 0),
        (1, "PUBLISH", "s1", "not-shard"),
        (1, "PUBSUB", "SHARDCHANNELS", "*1"), (1, "PUBSUB", "SHARDNUMSUB", "s1", "s9"),
        (0, "SUNSUBSCRIBE", "s1"), (0, "SUNSUBSCRIBE"), (0, "SUNSUBSCRIBE"),
        (0, "PSUBSCRIBE", "p?"), (1, "PUBLISH", "p1", "pm"), ("read", 0),
        (0, "PUNSUBSCRIBE", "p?", "q"), ("read", 0),
        (0, "UNSUBSCRIBE"), (0, "UNSUBSCRIBE"),
        ("hello", 0, 2), (0, "PING"),
    ],
    "multi": [
        (0, "MULTI"), (0, "SUBSCRIBE", "a", "b"), (0, "SSUBSCRIBE", "s"), (0, "PING"), (0, "EXEC"),
        (0, "PING"), (0, "MULTI"),
        (0, "RESET"), (0, "PING"),
        (1, "MULTI"), (1, "PUBLISH", "a", "1"), (1, "SPUBLISH", "s", "2"), (1, "EXEC"),
        (1, "EVAL", "return redis.call('publish', 'a', 'x')", "0"),
        (1, "EVAL", "return redis.call('subscribe', 'a')", "0"),
        (1, "EVAL", "return redis.call('spublish', 's', 'x')", "0"),
    ],
    "reply_off": [
        ("hello", 0, 3),
        ("send", 0, "CLIENT", "REPLY", "OFF"), ("send", 0, "SUBSCRIBE", "ch"), ("read", 0),
        ("send", 0, "PSUBSCRIBE", "c*"), ("read", 0),
        (1, "PUBLISH", "ch", "hello"), ("read", 0), ("read", 0),
        ("send", 0, "UNSUBSCRIBE", "ch"), ("read", 0),
        ("send", 0, "CLIENT", "REPLY", "ON"), ("read", 0),
    ],
    "errors": [
        (0, "PUBSUB"), (0, "PUBSUB", "NOPE"), (0, "PUBSUB", "CHANNELS", "a", "b"),
        (0, "PUBSUB", "NUMPAT", "x"), (0, "PUBSUB", "HELP"), (0, "PUBSUB", "HELP", "x"),
        (0, "PUBLISH", "a"), (0, "SUBSCRIBE"), (0, "PSUBSCRIBE"), (0, "SSUBSCRIBE"), (0, "SPUBLISH", "x"),
        (0, "COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"), (0, "COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"),
    ],
    "quit_while_subscribed": [
        (0, "SUBSCRIBE", "q"), (0, "QUIT"),
        (1, "PUBSUB", "NUMSUB", "q"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_redis(moonkv_server: ServerHandle, redis_server: ServerHandle, name: str) -> None:
    steps = SCENARIOS[name]
    got = _run(moonkv_server.port, steps)
    want = _run(redis_server.port, steps)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"{name} step {i}: moonkv {g!r} != redis {w!r}"


def _fields(line: bytes) -> dict[str, str]:
    return dict(p.split("=", 1) for p in line.decode().split() if "=" in p)


def _introspection(port: int) -> tuple[dict[str, str], list[str]]:
    a, b = RawClient(port), RawClient(port)
    try:
        a.call("FLUSHALL")
        a.call("SUBSCRIBE", "x", "y")
        a.read_reply()
        a.call("PSUBSCRIBE", "p*")
        a.call("SSUBSCRIBE", "s")
        info = b.call("INFO", "stats").decode()
        listing = b.call("CLIENT", "LIST").split(b"\r\n", 1)[1].split(b"\n")
        mine = [ln for ln in listing if b"cmd=ssubscribe" in ln][0]
        f = _fields(mine)
        wanted = {k: f[k] for k in ("flags", "sub", "psub", "ssub", "cmd")}
        return wanted, re.findall(r"pubsub\w*:\d+", info)
    finally:
        a.close()
        b.close()


def test_client_list_and_info_match_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _introspection(moonkv_server.port)
    assert got == _introspection(redis_server.port)
    assert got[0] == {"flags": "P", "sub": "2", "psub": "1", "ssub": "1", "cmd": "ssubscribe"}


ACL_STEPS: list[Step] = [
    (0, "ACL", "SETUSER", "u", "on", "nopass", "+@all", "~*", "resetchannels", "&news.*", "&lit*"),
    (0, "ACL", "LOG", "RESET"),
    (1, "AUTH", "u", "x"),
    (1, "SUBSCRIBE", "news.1"), (1, "SUBSCRIBE", "sport"), (1, "PSUBSCRIBE", "news.*"),
    (1, "PSUBSCRIBE", "lit*"), (1, "PSUBSCRIBE", "lit?"),
    (1, "UNSUBSCRIBE"), (1, "PUNSUBSCRIBE"),
    (1, "PUBLISH", "news.2", "m"), (1, "PUBLISH", "sport", "m"), (1, "SPUBLISH", "sport", "m"),
    (1, "SSUBSCRIBE", "news.x"), (1, "SUNSUBSCRIBE"), (1, "SSUBSCRIBE", "other"),
    (1, "MULTI"), (1, "PUBLISH", "sport", "m"), (1, "EXEC"),
    (1, "EVAL", "return redis.call('publish', 'sport', 'm')", "0"),
    (0, "ACL", "DRYRUN", "u", "PUBLISH", "sport", "m"), (0, "ACL", "DRYRUN", "u", "PUBLISH", "news.1", "m"),
    (0, "ACL", "GETUSER", "u"),
    (0, "CONFIG", "SET", "acl-pubsub-default", "allchannels"), (0, "CONFIG", "GET", "acl-pubsub-default"),
    (0, "ACL", "SETUSER", "fresh"), (0, "ACL", "SETUSER", "fresh2", "reset"),
    (0, "ACL", "GETUSER", "fresh"), (0, "ACL", "GETUSER", "fresh2"),
    (0, "CONFIG", "SET", "acl-pubsub-default", "resetchannels"),
    (0, "ACL", "SETUSER", "fresh3"), (0, "ACL", "GETUSER", "fresh3"),
    (0, "ACL", "DELUSER", "u", "fresh", "fresh2", "fresh3"),
]


def _acl_run(port: int) -> tuple[list[bytes], list[bytes]]:
    out = _run(port, ACL_STEPS)
    c = RawClient(port)
    try:
        log = c.call("ACL", "LOG")
    finally:
        c.close()
    # Entries: drop the volatile fields (age, client-info), keep reason/context/object/username.
    keep = []
    for entry in re.findall(rb"\$\d+\r\n(reason|context|object|username)\r\n\$\d+\r\n([^\r]*)\r\n", log):
        keep.append(b"=".join(entry))
    return out, keep


def test_acl_channel_rules_match_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got, got_log = _acl_run(moonkv_server.port)
    want, want_log = _acl_run(redis_server.port)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"step {i} {ACL_STEPS[i]!r}: moonkv {g!r} != redis {w!r}"
    assert got_log == want_log
    assert b"reason=channel" in got_log


def _revoke(port: int) -> list[bytes]:
    """Subscribers whose channels ACL SETUSER revokes are disconnected; others stay."""
    admin, keep, lose, pat = RawClient(port), RawClient(port), RawClient(port), RawClient(port)
    out: list[bytes] = []
    try:
        admin.call("ACL", "SETUSER", "v", "on", "nopass", "+@all", "~*", "resetchannels", "&a*", "&b")
        for c in (keep, lose, pat):
            c.call("AUTH", "v", "x")
        out.append(keep.call("SUBSCRIBE", "a1"))
        out.append(lose.call("SUBSCRIBE", "b"))
        out.append(pat.call("PSUBSCRIBE", "b"))
        out.append(admin.call("ACL", "SETUSER", "v", "&c"))  # a superset: nobody is dropped
        out.append(admin.call("PUBSUB", "NUMSUB", "a1", "b"))
        out.append(admin.call("ACL", "SETUSER", "v", "resetchannels", "&a*"))
        for c in (lose, pat):
            try:
                out.append(c.read_reply())
            except (ConnectionError, OSError):
                out.append(b"closed")
        out.append(admin.call("PUBSUB", "NUMSUB", "a1", "b"))
        out.append(admin.call("PUBSUB", "NUMPAT"))
        out.append(keep.call("PING"))
        out.append(admin.call("ACL", "DELUSER", "v"))
        try:
            out.append(keep.read_reply())
        except (ConnectionError, OSError):
            out.append(b"closed")
    finally:
        for c in (admin, keep, lose, pat):
            c.close()
    return out


def test_revoked_channels_drop_subscribers_as_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _revoke(moonkv_server.port)
    assert got == _revoke(redis_server.port)
    assert got.count(b"closed") == 3


def _types(port: int) -> list[bytes]:
    a, b, m = RawClient(port), RawClient(port), RawClient(port)
    try:
        a.call("CLIENT", "SETNAME", "sub")
        a.call("SUBSCRIBE", "t")
        m.call("CLIENT", "SETNAME", "mon")
        m.call("MONITOR")
        names = []
        for t in ("pubsub", "normal", "replica", "master"):
            listing = b.call("CLIENT", "LIST", "TYPE", t)
            mine = [n for n in re.findall(rb"name=(\S*)", listing) if n in (b"sub", b"mon")]
            names.append(b" ".join(sorted(mine)))
        ids = dict(re.findall(rb"id=(\d+) .*? name=(\S*)", b.call("CLIENT", "LIST")))
        by_name = {n: i for i, n in ids.items()}
        names.append(b.call("CLIENT", "KILL", "ID", by_name[b"mon"], "TYPE", "pubsub"))
        names.append(b.call("CLIENT", "KILL", "ID", by_name[b"sub"], "TYPE", "pubsub"))
        names.append(b.call("PUBSUB", "NUMSUB", "t"))
        return names
    finally:
        for c in (a, b, m):
            c.close()


def test_client_types_match_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    got = _types(moonkv_server.port)
    assert got == _types(redis_server.port)
    assert got[0] == b"sub"
