"""COMMAND GETKEYS and GETKEYSANDFLAGS against a real redis-server: replies byte for byte."""

from __future__ import annotations

import pytest

from tests.conftest import Differ

CASES = [
    ("SET", "k", "v"), ("GET", "k"), ("MSET", "a", "1", "b", "2"), ("DEL", "a", "b", "c"),
    ("LMOVE", "src", "dst", "LEFT", "RIGHT"), ("RENAME", "a", "b"), ("COPY", "a", "b"),
    ("EVAL", "return 1", "2", "k1", "k2", "arg"), ("EVAL", "return 1", "0"), ("FCALL", "f", "1", "k"),
    ("SORT", "k", "STORE", "d"), ("SORT", "k"), ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZUNION", "2", "a", "b"),
    ("XREAD", "STREAMS", "s1", "s2", "0", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
    ("PFADD", "h", "a"), ("PFCOUNT", "a", "b"), ("PFMERGE", "d", "a", "b"),
    ("PFDEBUG", "GETREG", "h"), ("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km"),
    ("BLMPOP", "0", "2", "a", "b", "LEFT"), ("OBJECT", "ENCODING", "k"), ("XGROUP", "CREATE", "s", "g", "$"),
    ("SETRANGE", "k", "0", "v"), ("GETDEL", "k"), ("BITOP", "AND", "d", "a", "b"), ("LCS", "a", "b"),
    ("PING", "x"), ("SET", "k"), ("NOSUCH", "k"), ("SETBIT", "k", "1", "1"),
    ("BITFIELD", "k", "GET", "u8", "0"), ("BITFIELD", "k", "INCRBY", "u8", "0", "1"), ("BITFIELD", "k", "OVERFLOW", "WRAP"),
    ("SET", "k", "v", "get"), ("SORT_RO", "k"), ("SORT", "k", "BY", "x", "STORE", "d", "GET", "y"),
    ("ZUNIONSTORE", "d", "0", "a"), ("ZUNIONSTORE", "d", "5", "a"), ("FCALL", "f", "0"), ("EVALSHA", "x", "2", "a"), ("EVAL", "return 1", "5", "k"), ("ZADD", "z", "1", "m"),
]


@pytest.mark.parametrize("proto", ["2", "3"])
def test_getkeys_and_flags(diff: Differ, proto: str) -> None:
    diff.both("HELLO", proto)
    for case in CASES:
        diff("COMMAND", "GETKEYSANDFLAGS", *case)
        diff("COMMAND", "GETKEYS", *case)
    diff("COMMAND", "GETKEYSANDFLAGS")
    diff("COMMAND", "GETKEYSANDFLAGS", "SET")
