"""List commands in process: replies, rollback, effects and blocking pops."""

from __future__ import annotations

from typing import Any

import pytest

from moonkv.errors import RespError
from moonkv.keyspace.types.list import List
from moonkv.protocol import NULL_ARRAY
from tests.inprocess import InProcessServer, sent


class Box(InProcessServer):
    def snap(self) -> dict[bytes, Any]:
        return {k: (list(v) if type(v) is List else v) for k, v in self.data.items()}


@pytest.fixture
def b() -> Box:
    return Box()


def test_push_pop_range(b: Box) -> None:
    assert b("RPUSH", "l", "a", "b", "c") == 3
    assert b("LPUSH", "l", "x", "y") == 5
    assert b("LRANGE", "l", 0, -1) == [b"y", b"x", b"a", b"b", b"c"]
    assert b("LRANGE", "l", -2, 100) == [b"b", b"c"]
    assert b("LRANGE", "l", 3, 1) == []
    assert b("LINDEX", "l", -1) == b"c" and b("LINDEX", "l", 9) is None
    assert b("LPOP", "l") == b"y"
    assert b("RPOP", "l", 2) == [b"c", b"b"]
    assert b("LPOP", "l", 0) == []
    assert b("LPOP", "nokey", 2) is NULL_ARRAY
    assert b("LPOP", "nokey") is None
    assert b("LPUSHX", "nokey", "a") == 0
    assert b("LLEN", "l") == 2
    assert b("RPOP", "l", 5) == [b"a", b"x"]
    assert b"l" not in b.data


def test_edit_commands(b: Box) -> None:
    b("RPUSH", "l", "a", "b", "a", "c", "a")
    assert b("LPOS", "l", "a") == 0
    assert b("LPOS", "l", "a", "RANK", -1) == 4
    assert b("LPOS", "l", "a", "COUNT", 0) == [0, 2, 4]
    assert b("LPOS", "l", "a", "RANK", 2, "COUNT", 1) == [2]
    assert b("LPOS", "l", "a", "MAXLEN", 1, "RANK", 2) is None
    assert b("LINSERT", "l", "BEFORE", "c", "X") == 6
    assert b("LINSERT", "l", "AFTER", "zz", "X") == -1
    assert b("LSET", "l", -1, "Z") == "OK"
    assert b("LREM", "l", -1, "a") == 1
    assert b("LRANGE", "l", 0, -1) == [b"a", b"b", b"X", b"c", b"Z"]
    assert b("LTRIM", "l", 1, -2) == "OK"
    assert b("LRANGE", "l", 0, -1) == [b"b", b"X", b"c"]
    with pytest.raises(RespError, match="index out of range"):
        b("LSET", "l", 10, "x")
    with pytest.raises(RespError, match="no such key"):
        b("LSET", "nokey", 0, "x")
    with pytest.raises(RespError, match="RANK can't be zero"):
        b("LPOS", "l", "a", "RANK", 0)
    with pytest.raises(RespError, match="wrong number of arguments for 'lpop'"):
        b("LPOP", "l", 1, 2)


def test_move_and_mpop(b: Box) -> None:
    b("RPUSH", "src", "a", "b", "c")
    assert b("LMOVE", "src", "dst", "LEFT", "RIGHT") == b"a"
    assert b("RPOPLPUSH", "src", "dst") == b"c"
    assert b("LRANGE", "dst", 0, -1) == [b"c", b"a"]
    assert b("LMOVE", "dst", "dst", "LEFT", "RIGHT") == b"c"
    assert b("LRANGE", "dst", 0, -1) == [b"a", b"c"]
    assert b("LMPOP", 2, "nokey", "dst", "RIGHT", "COUNT", 5) == [b"dst", [b"c", b"a"]]
    assert b("LMPOP", 1, "nokey", "LEFT") is NULL_ARRAY
    with pytest.raises(RespError, match="numkeys should be greater than 0"):
        b("LMPOP", 0, "a", "LEFT")
    with pytest.raises(RespError, match="count should be greater than 0"):
        b("LMPOP", 1, "a", "LEFT", "COUNT", 0)


def test_undo_is_exact(b: Box) -> None:
    b("RPUSH", "l", "a", "b", "c", "b", "d")
    for cmd in (
        ("LPUSH", "l", "x", "y"), ("RPUSH", "l", "x"), ("LPOP", "l"), ("RPOP", "l", 3),
        ("LPOP", "l", 10), ("LSET", "l", 2, "z"), ("LINSERT", "l", "AFTER", "b", "q"),
        ("LREM", "l", 0, "b"), ("LREM", "l", -1, "b"), ("LTRIM", "l", 1, 2), ("LTRIM", "l", 5, 1),
        ("LMOVE", "l", "other", "RIGHT", "LEFT"), ("LMOVE", "l", "l", "LEFT", "RIGHT"),
        ("RPUSH", "new", "a"), ("LMPOP", 1, "l", "LEFT", "COUNT", 2),
    ):
        b.undone(*cmd)


def test_blocking_pop_served_by_push(b: Box) -> None:
    w = b.client()
    assert b("BLPOP", "q1", "q2", 0, c=w).__class__.__name__ == "_Blocked"
    assert b.srv.blocked_count == 1
    b("RPUSH", "q2", "job")
    assert sent(w) == [[b"q2", b"job"]]
    assert b.srv.blocked_count == 0
    assert b"q2" not in b.data
    # Propagated as the non-blocking pop after the push.
    assert b.effects[-2:] == [(0, [b"RPUSH", b"q2", b"job"]), (0, [b"LPOP", b"q2"])]


def test_blocking_fifo_and_variadic_push(b: Box) -> None:
    w1, w2 = b.client(), b.client()
    b("BRPOP", "q", 0, c=w1)
    b("BRPOP", "q", 0, c=w2)
    b("RPUSH", "q", "a", "b", "c")
    assert sent(w1) == [[b"q", b"c"]] and sent(w2) == [[b"q", b"b"]]
    assert list(b.data[b"q"]) == [b"a"]


def test_blocking_in_multi_does_not_block(b: Box) -> None:
    b("MULTI")
    b("BLPOP", "q", 0)
    b("BLMOVE", "q", "d", "LEFT", "LEFT", 0)
    assert b("EXEC") == [NULL_ARRAY, None]


def test_push_in_multi_serves_after_exec(b: Box) -> None:
    w = b.client()
    b("BLPOP", "q", 0, c=w)
    b("MULTI")
    b("LPUSH", "q", "a")
    b("LPUSH", "q", "b")
    b("LPUSH", "q", "c")
    b("EXEC")
    assert sent(w) == [[b"q", b"c"]]


def test_blmove_chain_to_waiting_client(b: Box) -> None:
    w1, w2 = b.client(), b.client()
    b("BLPOP", "target", 0, c=w2)
    b("BLMOVE", "src", "target", "LEFT", "RIGHT", 0, c=w1)
    b("RPUSH", "src", "x")
    assert sent(w1) == [b"x"]
    assert sent(w2) == [[b"target", b"x"]]
    assert b"src" not in b.data and b"target" not in b.data


def test_blmpop_and_wrongtype(b: Box) -> None:
    w = b.client()
    b("BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2, c=w)
    b("RPUSH", "b", "1", "2", "3")
    assert sent(w) == [[b"b", [b"3", b"2"]]]
    assert b.effects[-1] == (0, [b"RPOP", b"b", b"2"])
    b("SET", "s", "x")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("BLPOP", "s", 0)
    with pytest.raises(RespError, match="timeout is negative"):
        b("BLPOP", "q", -1)
    with pytest.raises(RespError, match="timeout is not a float or out of range"):
        b("BLPOP", "q", "abc")


def test_disconnect_and_unblock(b: Box) -> None:
    w = b.client()
    b("BLPOP", "q", 0, c=w)
    b.srv.remove_client(w)
    assert b.srv.blocked_count == 0 and not b.srv.ks.blocking_keys
    w2 = b.client()
    b("BRPOPLPUSH", "q", "d", 0, c=w2)
    b.srv.unblock_with(w2, w2.blocked.timeout_reply)
    assert sent(w2) == [NULL_ARRAY]
    b("RPUSH", "q", "x")
    assert list(b.data[b"q"]) == [b"x"]


def test_rename_into_blocked_key_wakes(b: Box) -> None:
    w = b.client()
    b("BLPOP", "q", 0, c=w)
    b("RPUSH", "tmp", "v")
    b.srv.ks.dbs[0].delete(b"tmp")  # simulate RENAME tmp -> q through the db API
    b.srv.ks.dbs[0].set(b"q", List([b"v"]))
    b.srv.end_unit()
    assert sent(w) == [[b"q", b"v"]]
