"""DEBUG OBJECT beside a real redis-server: the same fields in the same order, the same
encoding and reference count, Redis's error for a missing key (the figures that describe
memory, the address and the serialized size, are each server's own)."""

from __future__ import annotations

import re

from tests.conftest import Differ

FIELDS = re.compile(
    rb"^\+Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\S+) serializedlength:\d+ lru:\d+ "
    rb"lru_seconds_idle:(\d+)( ql_nodes:\d+ ql_avg_node:\d+\.\d\d ql_listpack_max:(-?\d+) "
    rb"ql_compressed:(\d) ql_uncompressed_size:\d+)?\r\n$")


def _fields(reply: bytes) -> tuple[bytes | None, ...]:
    """refcount, encoding, and for a quicklist its listpack size and compression."""
    m = FIELDS.match(reply)
    assert m is not None, reply
    return m.group(1, 2, 5, 6)


def test_debug_object_fields_match_redis(debug_diff: Differ) -> None:
    d = debug_diff
    d("SET", "int", "123")
    d("SET", "big", "12345678901")
    d("SET", "short", "hello")
    d("SET", "long", "x" * 100)
    d("HSET", "hash", "f", "v")
    d("HSET", "bighash", "f", "v" * 1024)  # promoted: hashtable
    d("SADD", "intset", "1", "2")
    d("ZADD", "zset", "1", "a")
    d("RPUSH", "list", "a", "b", "c")
    for key in ("int", "big", "short", "long", "hash", "bighash", "intset", "zset", "list"):
        mine, theirs = d.both("DEBUG", "OBJECT", key)
        assert _fields(mine) == _fields(theirs), (key, mine, theirs)
    d("DEBUG", "OBJECT", "nosuch")


def test_debug_object_of_a_key_restored_in_the_past(debug_diff: Differ) -> None:
    # Redis's unit/dump: RESTORE with an ABSTTL in the past leaves no key, even for DEBUG
    # OBJECT, which looks in the table without expiring.
    d = debug_diff
    d("SET", "foo", "bar")
    for c in (d.m, d.real):
        payload = c.call("DUMP", "foo").split(b"\r\n", 1)[1][:-2]
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        c.call("RESTORE", "foo", "1000", payload, "ABSTTL", "REPLACE")
    d("DEBUG", "OBJECT", "foo")
    for c in (d.m, d.real):
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
