"""SORT / SORT_RO in process."""

from __future__ import annotations

from typing import Any

import pytest

from moonkv.commands import load
from moonkv.engine import Server
from moonkv.errors import RespError


class Box:
    def __init__(self) -> None:
        load()
        self.srv = Server()
        self.c = self.srv.new_client()

    def __call__(self, *args: Any) -> Any:
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        r = self.srv.execute(self.c, argv)
        if isinstance(r, RespError):
            raise r
        return r


@pytest.fixture
def b() -> Box:
    b = Box()
    b("RPUSH", "l", "3", "1", "2", "10")
    b("MSET", "w_1", "30", "w_2", "20", "w_3", "10", "o_1", "one", "o_2", "two")
    b("HSET", "h_10", "f", "5")
    return b


def test_numeric_and_alpha(b: Box) -> None:
    assert b("SORT", "l") == [b"1", b"2", b"3", b"10"]
    assert b("SORT", "l", "DESC", "LIMIT", 1, 2) == [b"3", b"2"]
    assert b("SORT", "l", "ALPHA") == [b"1", b"10", b"2", b"3"]
    b("RPUSH", "bad", "a", "1")
    with pytest.raises(RespError, match="One or more scores can't be converted into double"):
        b("SORT", "bad")


def test_by_and_get(b: Box) -> None:
    assert b("SORT", "l", "BY", "w_*") == [b"10", b"3", b"2", b"1"]
    assert b("SORT", "l", "BY", "nosort") == [b"3", b"1", b"2", b"10"]
    assert b("SORT", "l", "BY", "w_*", "GET", "#", "GET", "o_*") == [
        b"10", None, b"3", None, b"2", b"two", b"1", b"one"]
    assert b("SORT", "l", "GET", "h_*->f", "LIMIT", 3, 1) == [b"5"]


def test_store_and_ro(b: Box) -> None:
    assert b("SORT", "l", "STORE", "dst") == 4
    assert b("LRANGE", "dst", 0, -1) == [b"1", b"2", b"3", b"10"]
    assert b("SORT", "missing", "STORE", "dst") == 0
    assert b"dst" not in b.srv.ks.dbs[0].data
    with pytest.raises(RespError, match="syntax error"):
        b("SORT_RO", "l", "STORE", "dst")
    assert b("SORT_RO", "l", "DESC") == [b"10", b"3", b"2", b"1"]
    b("SET", "s", "x")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("SORT", "s")


def test_sorted_set_and_set(b: Box) -> None:
    b("ZADD", "z", 1, "c", 2, "b", 3, "a")
    assert b("SORT", "z", "BY", "nosort") == [b"c", b"b", b"a"]
    assert b("SORT", "z", "BY", "nosort", "DESC") == [b"a", b"b", b"c"]
    assert b("SORT", "z", "ALPHA") == [b"a", b"b", b"c"]
    b("SADD", "s2", "5", "4")
    assert b("SORT", "s2") == [b"4", b"5"]
