"""Set commands in process: replies, errors, rollback and effects."""

from __future__ import annotations

from typing import Any

import pytest

from moonkv.errors import RespError
from moonkv.keyspace.types.set import Set
from tests.inprocess import InProcessServer


class Box(InProcessServer):
    def snap(self) -> dict[bytes, Any]:
        return {k: (set(v) if type(v) is Set else v) for k, v in self.data.items()}


@pytest.fixture
def b() -> Box:
    return Box()


def test_basics(b: Box) -> None:
    assert b("SADD", "s", "3", "1", "2", "1") == 3
    assert b("SMEMBERS", "s") == [b"1", b"2", b"3"]  # intsets reply sorted
    assert b.data[b"s"].encoding() == b"intset"
    assert b("SADD", "s", "x") == 1
    assert b.data[b"s"].encoding() == b"hashtable"
    assert b("SISMEMBER", "s", "x") == 1 and b("SMISMEMBER", "s", "x", "nope") == [1, 0]
    assert b("SCARD", "s") == 4
    assert b("SREM", "s", "x", "1", "zz") == 2
    assert b("SMOVE", "s", "d", "2") == 1 and b("SMOVE", "s", "d", "nope") == 0
    assert b("SMEMBERS", "d") == [b"2"]


def test_algebra(b: Box) -> None:
    b("SADD", "a", "1", "2", "3", "x")
    b("SADD", "b", "2", "3", "4")
    assert sorted(b("SINTER", "a", "b")) == [b"2", b"3"]
    assert sorted(b("SUNION", "a", "b")) == [b"1", b"2", b"3", b"4", b"x"]
    assert sorted(b("SDIFF", "a", "b")) == [b"1", b"x"]
    assert b("SINTERCARD", 2, "a", "b") == 2 and b("SINTERCARD", 2, "a", "b", "LIMIT", 1) == 1
    assert b("SINTER", "a", "missing") == []
    assert b("SINTERSTORE", "dst", "a", "b") == 2
    assert b("SDIFFSTORE", "dst", "a", "a") == 0 and b"dst" not in b.data
    b("SET", "str", "v")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("SINTER", "missing", "str")
    with pytest.raises(RespError, match="numkeys should be greater than 0"):
        b("SINTERCARD", 0, "a")
    with pytest.raises(RespError, match="Number of keys can't be greater than number of args"):
        b("SINTERCARD", 3, "a", "b")
    with pytest.raises(RespError, match="LIMIT can't be negative"):
        b("SINTERCARD", 1, "a", "LIMIT", -1)


def test_spop_effects_are_srem(b: Box) -> None:
    b("SADD", "s", "a", "b", "c", "d")
    m = b("SPOP", "s")
    assert b.effects[-1] == (0, [b"SREM", b"s", m])
    got = b("SPOP", "s", 2)
    assert len(got) == 2
    assert b.effects[-1][1][:2] == [b"SREM", b"s"] and sorted(b.effects[-1][1][2:]) == sorted(got)
    rest = b("SPOP", "s", 10)
    assert len(rest) == 1 and b"s" not in b.data
    assert b("SPOP", "s") is None and b("SPOP", "s", 3) == []
    with pytest.raises(RespError, match="value is out of range, must be positive"):
        b("SPOP", "s", -1)


def test_srandmember(b: Box) -> None:
    b("SADD", "s", "a", "b", "c")
    assert len(b("SRANDMEMBER", "s", -7)) == 7
    assert sorted(b("SRANDMEMBER", "s", 7)) == [b"a", b"b", b"c"]
    assert len(set(b("SRANDMEMBER", "s", 2))) == 2
    assert b("SRANDMEMBER", "nope") is None and b("SRANDMEMBER", "nope", 2) == []


def test_sscan(b: Box) -> None:
    b("SADD", "s", *[f"m{i}" for i in range(200)])
    seen: set[bytes] = set()
    cur = b"0"
    while True:
        cur, items = b("SSCAN", "s", cur, "COUNT", 7)
        seen.update(items)
        if cur == b"0":
            break
    assert len(seen) == 200


def test_undo(b: Box) -> None:
    b("SADD", "s", "a", "b")
    b("SADD", "t", "x")
    for cmd in (("SADD", "s", "c", "a"), ("SREM", "s", "a", "b"), ("SPOP", "s"), ("SPOP", "s", 5),
                ("SMOVE", "s", "t", "a"), ("SMOVE", "s", "new", "b"), ("SINTERSTORE", "t", "s", "s"),
                ("SUNIONSTORE", "s", "s", "t"), ("SADD", "fresh", "1")):
        b.undone(*cmd)
