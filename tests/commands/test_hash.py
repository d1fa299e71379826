"""Hash commands, in process: replies, errors, rollback (undo) and effects."""

from __future__ import annotations

from typing import Any

import pytest

from moonkv.errors import RespError
from moonkv.keyspace.types.hash import Hash
from tests.inprocess import InProcessServer


class Box(InProcessServer):
    def snap(self) -> dict[bytes, Any]:
        return {k: (dict(v) if type(v) is Hash else v) for k, v in self.data.items()}


@pytest.fixture
def b() -> Box:
    return Box()


def test_basic(b: Box) -> None:
    assert b("HSET", "h", "a", "1", "b", "2") == 2
    assert b("HSET", "h", "a", "3") == 0
    assert b("HGET", "h", "a") == b"3"
    assert b("HMGET", "h", "a", "zz", "b") == [b"3", None, b"2"]
    assert b("HLEN", "h") == 2
    assert b("HSTRLEN", "h", "a") == 1
    assert b("HEXISTS", "h", "b") == 1
    assert sorted(b("HKEYS", "h")) == [b"a", b"b"]
    assert b("HGETALL", "h") == {b"a": b"3", b"b": b"2"}
    assert b("HSETNX", "h", "a", "x") == 0
    assert b("HSETNX", "h", "c", "x") == 1
    assert b("HDEL", "h", "a", "b", "c", "zz") == 3
    assert b"h" not in b.data


def test_errors(b: Box) -> None:
    b("SET", "s", "x")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("HSET", "s", "a", "1")
    with pytest.raises(RespError, match="wrong number of arguments for 'hset'"):
        b("HSET", "h", "a", "1", "b")
    b("HSET", "h", "n", "abc")
    with pytest.raises(RespError, match="hash value is not an integer"):
        b("HINCRBY", "h", "n", "1")
    with pytest.raises(RespError, match="hash value is not a float"):
        b("HINCRBYFLOAT", "h", "n", "1")
    b("HSET", "h", "m", str(2**63 - 1))
    with pytest.raises(RespError, match="increment or decrement would overflow"):
        b("HINCRBY", "h", "m", "1")
    with pytest.raises(RespError, match="value is NaN or Infinity"):
        b("HINCRBYFLOAT", "h", "f", "inf")
    with pytest.raises(RespError, match="value is out of range"):
        b("HRANDFIELD", "h", "-9223372036854775808")


def test_hincrbyfloat_long_double_formatting(b: Box) -> None:
    assert b("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert b("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    b("HSET", "h", "g", "3.0e3")
    assert b("HINCRBYFLOAT", "h", "g", "1.1") == b"3001.10000000000000009"
    # Propagated as HSET of the result.
    assert b.effects[-1] == (0, [b"HSET", b"h", b"g", b"3001.10000000000000009"])


def test_hrandfield(b: Box) -> None:
    b("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert b("HRANDFIELD", "h") in (b"a", b"b", b"c")
    assert sorted(b("HRANDFIELD", "h", "10")) == [b"a", b"b", b"c"]
    assert len(b("HRANDFIELD", "h", "-10")) == 10
    r = b("HRANDFIELD", "h", "2", "WITHVALUES")
    assert len(r) == 4 and r[1] == {b"a": b"1", b"b": b"2", b"c": b"3"}[r[0]]
    assert b("HRANDFIELD", "nokey", "3") == []
    assert b("HRANDFIELD", "h", "0") == []


def test_hscan_covers_big_hash(b: Box) -> None:
    for i in range(300):
        b("HSET", "h", f"f{i}", str(i))
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    while True:
        cursor, items = b("HSCAN", "h", cursor, "COUNT", "17")
        for i in range(0, len(items), 2):
            seen[items[i]] = items[i + 1]
        if cursor == b"0":
            break
    assert len(seen) == 300 and seen[b"f7"] == b"7"
    _c, items = b("HSCAN", "h", "0", "MATCH", "f1?", "COUNT", "1000")
    assert sorted(items[::2]) == sorted(b"f1%d" % i for i in range(10))
    with pytest.raises(RespError, match="invalid cursor"):
        b("HSCAN", "h", "x")


def test_undo(b: Box) -> None:
    b("HSET", "h", "a", "1", "b", "2")
    b.undone("HSET", "h", "a", "9", "c", "3")
    b.undone("HSET", "new", "a", "1")
    b.undone("HDEL", "h", "a", "b")
    b.undone("HINCRBY", "h", "a", "5")
    b.undone("HINCRBYFLOAT", "h", "z", "1.5")
    b.undone("HSETNX", "h", "q", "1")


def test_effects_are_own_argv(b: Box) -> None:
    b("HSET", "h", "a", "1")
    b("HDEL", "h", "nope")  # no change, no effect
    assert b.effects == [(0, [b"HSET", b"h", b"a", b"1"])]


def test_encoding_follows_config(b: Box) -> None:
    b("HSET", "h", "a", "1")
    assert b.data[b"h"].encoding() == b"listpack"
    b("HSET", "h", "long", "x" * 65)
    assert b.data[b"h"].encoding() == b"hashtable"


def test_hscan_survives_changes_and_lost_cursors(b: Box) -> None:
    from moonkv.commands import hashes

    for i in range(1000):
        b("HSET", "h", f"f{i}", "v")
    seen: set[bytes] = set()
    cursor = b"0"
    step = 0
    while True:
        cursor, items = b("HSCAN", "h", cursor, "COUNT", "50")
        seen.update(items[::2])
        step += 1
        # Churn: delete some fields not yet seen that are never re-added, add new ones.
        b("HDEL", "h", f"f{999 - step}")
        b("HSET", "h", f"new{step}", "v")
        if step == 5:
            hashes._SNAPSHOTS.clear()  # an evicted snapshot restarts the walk
        if cursor == b"0":
            break
    kept = {b"f%d" % i for i in range(1000)} - {b"f%d" % (999 - s) for s in range(1, step + 1)}
    assert kept <= seen
    assert not hashes._SNAPSHOTS
