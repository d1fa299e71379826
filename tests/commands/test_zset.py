"""Sorted set commands in process: ranges, scores, errors, rollback, effects, blocking."""

from __future__ import annotations

import math
from typing import Any

import pytest

from moonkv.errors import RespError
from moonkv.keyspace.types.zset import ZSet
from moonkv.protocol import NULL_ARRAY, encode
from tests.inprocess import InProcessServer, sent


class Box(InProcessServer):
    def snap(self) -> dict[bytes, Any]:
        return {k: ((list(v.sl), dict(v.dict)) if type(v) is ZSet else v) for k, v in self.data.items()}


@pytest.fixture
def b() -> Box:
    b = Box()
    b("ZADD", "z", 1, "a", 2, "b", 3, "c", "-inf", "min", "+inf", "max")
    return b


def test_zadd_flags(b: Box) -> None:
    assert b("ZADD", "z", "NX", 10, "a", 4, "d") == 1
    assert b("ZSCORE", "z", "a") == 1.0
    assert b("ZADD", "z", "XX", "CH", 10, "a", 5, "e") == 1
    assert b("ZADD", "z", "GT", "CH", 5, "a") == 0
    assert b("ZADD", "z", "LT", "CH", 5, "a") == 1
    assert b("ZADD", "z", "INCR", 1.5, "a") == 6.5
    assert b("ZADD", "z", "XX", "INCR", 1, "nope") is None
    assert b("ZINCRBY", "z", "-0.5", "a") == 6.0
    with pytest.raises(RespError, match="XX and NX options at the same time are not compatible"):
        b("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(RespError, match="GT, LT, and/or NX options"):
        b("ZADD", "z", "GT", "LT", 1, "a")
    with pytest.raises(RespError, match="INCR option supports a single increment-element pair"):
        b("ZADD", "z", "INCR", 1, "a", 2, "b")
    with pytest.raises(RespError, match="value is not a valid float"):
        b("ZADD", "z", "nan", "a")
    with pytest.raises(RespError, match="resulting score is not a number"):
        b("ZINCRBY", "z", "-inf", "max")
    with pytest.raises(RespError, match="syntax error"):
        b("ZADD", "z", 1, "a", 2)


def test_ranges(b: Box) -> None:
    assert b("ZRANGE", "z", 0, -1) == [b"min", b"a", b"b", b"c", b"max"]
    assert b("ZRANGE", "z", 0, 1, "REV", "WITHSCORES") == [b"max", math.inf, b"c", 3.0]
    assert b("ZRANGEBYSCORE", "z", "(1", "3") == [b"b", b"c"]
    assert b("ZRANGE", "z", "(3", "-inf", "BYSCORE", "REV", "LIMIT", 1, 2) == [b"a", b"min"]
    assert b("ZREVRANGEBYSCORE", "z", "+inf", "(3") == [b"max"]
    assert b("ZCOUNT", "z", "-inf", "+inf") == 5 and b("ZCOUNT", "z", "(1", "(2") == 0
    assert b("ZRANK", "z", "b") == 2 and b("ZREVRANK", "z", "b") == 2 and b("ZRANK", "z", "q") is None
    assert b("ZMSCORE", "z", "a", "q") == [1.0, None]
    with pytest.raises(RespError, match="min or max is not a float"):
        b("ZRANGEBYSCORE", "z", "x", "1")
    with pytest.raises(RespError, match="LIMIT is only supported"):
        b("ZRANGE", "z", 0, 1, "LIMIT", 0, 1)
    with pytest.raises(RespError, match="WITHSCORES not supported in combination with BYLEX"):
        b("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")


def test_lex(b: Box) -> None:
    b("ZADD", "l", 0, "alpha", 0, "bar", 0, "cool", 0, "down")
    assert b("ZRANGEBYLEX", "l", "[bar", "(down") == [b"bar", b"cool"]
    assert b("ZREVRANGEBYLEX", "l", "+", "(bar") == [b"down", b"cool"]
    assert b("ZLEXCOUNT", "l", "-", "+") == 4
    assert b("ZREMRANGEBYLEX", "l", "[alpha", "[bar") == 2
    with pytest.raises(RespError, match="min or max not valid string range item"):
        b("ZRANGEBYLEX", "l", "bar", "+")


def test_store_and_setops(b: Box) -> None:
    b("ZADD", "y", 10, "a", 20, "q")
    b("SADD", "s", "a", "q")
    assert b("ZUNIONSTORE", "u", 2, "z", "y", "WEIGHTS", 1, 2) == 6
    assert b("ZSCORE", "u", "a") == 21.0
    assert b("ZINTER", 3, "z", "y", "s", "AGGREGATE", "MAX", "WITHSCORES") == [b"a", 10.0]
    assert b("ZDIFF", 2, "z", "y") == [b"min", b"b", b"c", b"max"]
    assert b("ZINTERCARD", 2, "z", "y", "LIMIT", 0) == 1
    assert b("ZRANGESTORE", "dst", "z", 1, 2) == 2 and b("ZRANGE", "dst", 0, -1) == [b"a", b"b"]
    assert b("ZRANGESTORE", "dst", "z", 10, 20) == 0 and b"dst" not in b.data
    with pytest.raises(RespError, match="at least 1 input key is needed for 'zunionstore' command"):
        b("ZUNIONSTORE", "u", 0, "z")
    with pytest.raises(RespError, match="weight value is not a float"):
        b("ZUNION", 1, "z", "WEIGHTS", "x")


def test_pops_and_blocking(b: Box) -> None:
    assert b("ZPOPMIN", "z") == [b"min", -math.inf]
    assert b("ZPOPMAX", "z", 2) == [b"max", math.inf, b"c", 3.0]
    assert b("ZMPOP", 1, "z", "MIN", "COUNT", 10) == [b"z", [[b"a", 1.0], [b"b", 2.0]]]
    assert b.effects[-1] == (0, [b"ZPOPMIN", b"z", b"2"])
    assert b("ZPOPMIN", "z") == [] and b("ZMPOP", 1, "z", "MIN") is NULL_ARRAY
    w = b.client()
    b("BZPOPMIN", "z", "other", 0, c=w)
    b("ZADD", "other", 5, "m")
    assert sent(w) == [[b"other", b"m", 5.0]]
    assert b.effects[-1] == (0, [b"ZPOPMIN", b"other"])
    b("MULTI")
    b("BZMPOP", 0, 1, "z", "MAX")
    assert b("EXEC") == [NULL_ARRAY]


def test_score_formatting() -> None:
    assert encode(0.1, 2) == b"$19\r\n0.10000000000000001\r\n"
    assert encode(math.inf, 2) == b"$3\r\ninf\r\n" and encode(-math.inf, 3) == b",-inf\r\n"
    assert encode(1.5, 3) == b",1.5\r\n"


def test_undo(b: Box) -> None:
    for cmd in (("ZADD", "z", 9, "a", 9, "new"), ("ZADD", "z", "INCR", 2, "b"), ("ZREM", "z", "a", "b"),
                ("ZPOPMIN", "z", 2), ("ZPOPMAX", "z"), ("ZREMRANGEBYRANK", "z", 0, 1),
                ("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), ("ZUNIONSTORE", "z", 1, "z"),
                ("ZADD", "fresh", 1, "a"), ("ZINCRBY", "z", "-inf", "max")):
        b.undone(*cmd)


def test_encoding(b: Box) -> None:
    assert b.data[b"z"].encoding() == b"listpack"
    b("ZADD", "z", 1, "m" * 65)
    assert b.data[b"z"].encoding() == b"skiplist"
    b("ZREM", "z", "m" * 65)
    assert b.data[b"z"].encoding() == b"skiplist"


def test_zadd_single_member_forms(b: Box) -> None:
    """ZADD key score member takes a direct path: every score spelling, replies, conversions."""
    for score, want in (("+2", 2.0), (".5", 0.5), ("1e3", 1000.0), ("-7", -7.0), ("inf", math.inf),
                        ("12345678901234567890", 1.2345678901234567e19)):
        assert b("ZADD", "z", score, "f") in (0, 1) and b("ZSCORE", "z", "f") == want
    assert b("ZADD", "z", 3, "c") == 0 and b("ZADD", "z", 4, "c") == 0 and b("ZSCORE", "z", "c") == 4.0
    assert b("ZADD", "z", 1, "new") == 1 and b("ZRANK", "z", "new") == 2  # after "a" (same score)
    for bad in ("1x", " 1", "", "-nan", "0x10"):
        with pytest.raises(RespError, match="value is not a valid float"):
            b("ZADD", "z", bad, "a")
    b("SET", "str", "v")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("ZADD", "str", 1, "a")
    assert b("ZADD", "z", "-0", "zero") == 1 and str(b.data[b"z"].dict[b"zero"]) == "0.0"  # listpack
    for i in range(200):
        assert b("ZADD", "z", i, f"m{i}") == 1
        assert b.data[b"z"].encoding() == (b"listpack" if len(b.data[b"z"]) <= 128 else b"skiplist")
    assert b("ZADD", "z", "-0", "negzero") == 1 and str(b.data[b"z"].dict[b"negzero"]) == "-0.0"  # skiplist
    assert b("ZRANGE", "z", 0, -1) == [m for _s, m in sorted((s, m) for m, s in b.data[b"z"].dict.items())]


def test_zadd_single_member_undo_and_effects_on_big_set(b: Box) -> None:
    b("ZADD", "big", *[x for i in range(300) for x in (i, f"m{i}")])
    assert b.data[b"big"].encoding() == b"skiplist"
    b("ZRANK", "big", "m5")  # builds the positional index that score changes keep up to date
    for cmd in (("ZADD", "big", 1000, "fresh"), ("ZADD", "big", -5, "m7"), ("ZADD", "big", 7, "m7"),
                ("ZINCRBY", "big", 0.5, "m9")):
        b.undone(*cmd)
    n = len(b.effects)
    assert b("ZADD", "big", 7, "m7") == 0 and len(b.effects) == n  # unchanged: no effect
    assert b("ZADD", "big", 250.5, "m7") == 0 and b.effects[-1] == (0, [b"ZADD", b"big", b"250.5", b"m7"])
    assert b("ZRANK", "big", "m7") == 250 and b("ZRANK", "big", "m251") == 251
    assert b("ZRANGE", "big", 249, 251) == [b"m250", b"m7", b"m251"]
