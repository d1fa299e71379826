"""Stream commands in process: replies, node layout, rollback, effects and blocking reads."""

from __future__ import annotations

import random

import pytest

from moonkv.clock import ManualClock
from moonkv.commands.streams import _ull, parse_id
from moonkv.errors import RespError
from moonkv.keyspace.codec import decode_value, encode_value
from moonkv.keyspace.types.stream import MAX_ID, Stream, fmt_id
from moonkv.protocol import NULL_ARRAY
from tests.inprocess import InProcessServer, sent


class Box(InProcessServer):
    def __init__(self) -> None:
        super().__init__(ManualClock())


@pytest.fixture
def b() -> Box:
    return Box()


def test_id_parsing() -> None:
    assert _ull(b"5") == 5 and _ull(b"01") == 1 and _ull(b" +7") == 7
    assert _ull(b"-1") is None and _ull(b"") is None and _ull(b"1x") is None
    assert _ull(b"18446744073709551615") == 2**64 - 1 and _ull(b"18446744073709551616") is None
    assert _ull(b"-01") == 2**64 - 1  # strtoull wraps negatives that string2ll refused
    assert parse_id(b"5") == 5 << 64
    assert parse_id(b"5", 2**64 - 1) == (5 << 64) | (2**64 - 1)
    assert parse_id(b"-") == 0 and parse_id(b"+") == MAX_ID
    for bad in (b"-", b"+"):
        with pytest.raises(RespError, match="Invalid stream ID"):
            parse_id(bad, 0, True)
    for bad in (b"1-", b"1--1", b"a-1", b"x" * 128, b"1-2-3"):
        with pytest.raises(RespError, match="Invalid stream ID"):
            parse_id(bad)
    assert fmt_id(parse_id(b"18446744073709551615-18446744073709551615")) == (
        b"18446744073709551615-18446744073709551615")


def test_xadd_ids_and_ranges(b: Box) -> None:
    assert b("XADD", "s", "*", "a", "1") == b"1700000000000-0"
    assert b("XADD", "s", "*", "a", "2") == b"1700000000000-1"
    b.clock.advance(5)
    assert b("XADD", "s", "*", "a", "3") == b"1700000000005-0"
    assert b("XADD", "s", "1700000000005-*", "a", "4") == b"1700000000005-1"
    assert b("XADD", "s", "1700000000009-*", "a", "5") == b"1700000000009-0"
    with pytest.raises(RespError, match="equal or smaller than the target stream top item"):
        b("XADD", "s", "5-*", "a", "b")
    with pytest.raises(RespError, match="must be greater than 0-0"):
        b("XADD", "t", "0-0", "a", "b")
    assert b"t" not in b.data
    assert b("XLEN", "s") == 5
    r = b("XRANGE", "s", "-", "+", "COUNT", 2)
    assert r == [[b"1700000000000-0", [b"a", b"1"]], [b"1700000000000-1", [b"a", b"2"]]]
    assert b("XREVRANGE", "s", "+", "(1700000000005-0") == [
        [b"1700000000009-0", [b"a", b"5"]], [b"1700000000005-1", [b"a", b"4"]]]
    assert b("XRANGE", "s", "-", "+", "COUNT", 0) is NULL_ARRAY
    assert b("XRANGE", "nokey", "-", "+") == []
    assert b("XADD", "nokey", "NOMKSTREAM", "*", "a", "b") is None


def test_xadd_exhausted_and_overflow(b: Box) -> None:
    b("XADD", "s", "5-18446744073709551615", "a", "b")
    with pytest.raises(RespError, match="Elements are too large to be stored"):
        b("XADD", "s", "5-*", "a", "b")  # the sequence cannot overflow (Redis 7.0's text)
    assert b("XADD", "s", "18446744073709551615-*", "a", "b") == b"18446744073709551615-0"
    b("XADD", "s", "18446744073709551615-18446744073709551615", "a", "b")
    with pytest.raises(RespError, match="exhausted the last possible ID"):
        b("XADD", "s", "*", "a", "b")


def test_node_layout_and_approx_trim(b: Box) -> None:
    b("CONFIG", "SET", "stream-node-max-entries", 10)
    for i in range(1, 101):
        b("XADD", "s", f"{i}-0", "f", "v")
    s = b.data[b"s"]
    assert len(s.nodes) == 10
    assert b("XTRIM", "s", "MAXLEN", "~", 55) == 40  # whole nodes only
    assert b("XLEN", "s") == 60
    assert b("XTRIM", "s", "MAXLEN", "~", 0, "LIMIT", 15) == 10
    assert b("XTRIM", "s", "MAXLEN", 45) == 5  # exact: marks entries deleted inside a node
    assert s.nodes[0].deleted == 5 and len(s.nodes) == 5
    assert b("XTRIM", "s", "MINID", "=", "90") == 34
    assert b("XRANGE", "s", "-", "+", "COUNT", 1) == [[b"90-0", [b"f", b"v"]]]
    # approximate trims are logged as the exact threshold reached
    assert b("XTRIM", "s", "MINID", "~", "95") == 1  # the node 81..90 held only 90 alive
    assert b.effects[-1] == (0, [b"XTRIM", b"s", b"MINID", b"=", b"91-0"])


def test_node_byte_limit(b: Box) -> None:
    b("CONFIG", "SET", "stream-node-max-bytes", 100)
    for i in range(1, 11):
        b("XADD", "s", f"{i}-0", "field", "x" * 40)
    # one 40-byte value already fills a 100-byte node (as in Redis)
    assert len(b.data[b"s"].nodes) == 10
    assert b("XINFO", "STREAM", "s")[b"radix-tree-nodes"] == 22


def test_xdel_and_meta(b: Box) -> None:
    for i in range(1, 6):
        b("XADD", "s", f"{i}-0", "f", i)
    assert b("XDEL", "s", "2-0", "9-0", "2-0") == 1
    assert b("XDEL", "nokey", "junk") == 0
    with pytest.raises(RespError, match="Invalid stream ID"):
        b("XDEL", "s", "1-0", "junk")
    assert b("XLEN", "s") == 4
    info = b("XINFO", "STREAM", "s")
    assert info[b"max-deleted-entry-id"] == b"2-0"
    assert info[b"entries-added"] == 5
    assert info[b"first-entry"] == [b"1-0", [b"f", b"1"]]
    assert b("XSETID", "s", "10-0", "ENTRIESADDED", 20, "MAXDELETEDID", "3-0") == "OK"
    info = b("XINFO", "STREAM", "s")
    assert info[b"last-generated-id"] == b"10-0" and info[b"entries-added"] == 20
    with pytest.raises(RespError, match="smaller than the target stream top item"):
        b("XSETID", "s", "4-0")
    with pytest.raises(RespError, match="no such key"):
        b("XSETID", "nokey", "4-0")


def test_groups_read_ack_pending(b: Box) -> None:
    for i in range(1, 5):
        b("XADD", "s", f"{i}-0", "f", i)
    assert b("XGROUP", "CREATE", "s", "g", "0") == "OK"
    with pytest.raises(RespError, match="BUSYGROUP"):
        b("XGROUP", "CREATE", "s", "g", "0")
    r = b("XREADGROUP", "GROUP", "g", "alice", "COUNT", 2, "STREAMS", "s", ">")
    assert r == [[b"s", [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]]]]
    # effects: consumer creation, one XCLAIM per entry, then the group's last ID
    eff = [e for _, e in b.effects[-4:]]
    assert eff[0] == [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"alice"]
    assert eff[1][:6] == [b"XCLAIM", b"s", b"g", b"alice", b"0", b"1-0"]
    assert eff[3] == [b"XGROUP", b"SETID", b"s", b"g", b"2-0", b"ENTRIESREAD", b"2"]
    b.clock.advance(100)
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    assert b("XPENDING", "s", "g") == [4, b"1-0", b"4-0", [[b"alice", b"2"], [b"bob", b"2"]]]
    assert b("XPENDING", "s", "g", "IDLE", 50, "-", "+", 10) == [[b"1-0", b"alice", 100, 1],
                                                                  [b"2-0", b"alice", 100, 1]]
    assert b("XACK", "s", "g", "1-0", "1-0", "3-0") == 2
    # history of alice: 2-0 only; a deleted entry comes back as [id, nil]
    b("XDEL", "s", "2-0")
    assert b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0") == [[b"s", [[b"2-0", NULL_ARRAY]]]]
    groups = b("XINFO", "GROUPS", "s")
    assert groups[0][b"pending"] == 2 and groups[0][b"entries-read"] == 4 and groups[0][b"lag"] == 0
    assert b("XGROUP", "DELCONSUMER", "s", "g", "bob") == 1
    assert b("XPENDING", "s", "g") == [1, b"2-0", b"2-0", [[b"alice", b"1"]]]


def test_claim_and_autoclaim(b: Box) -> None:
    for i in range(1, 6):
        b("XADD", "s", f"{i}-0", "f", i)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    b.clock.advance(1000)
    assert b("XCLAIM", "s", "g", "bob", 500, "1-0", "JUSTID") == [b"1-0"]
    assert b("XCLAIM", "s", "g", "bob", 500, "1-0") == []  # now idle 0
    b("XDEL", "s", "3-0")
    r = b("XAUTOCLAIM", "s", "g", "carol", 500, "0", "COUNT", 2)
    assert r == [b"4-0", [[b"2-0", [b"f", b"2"]]], [b"3-0"]]
    assert b("XAUTOCLAIM", "s", "g", "carol", 0, "4-0") == [b"0-0", [[b"4-0", [b"f", b"4"]],
                                                                      [b"5-0", [b"f", b"5"]]], []]
    with pytest.raises(RespError, match="COUNT must be > 0"):
        b("XAUTOCLAIM", "s", "g", "c", 0, "0", "COUNT", 0)
    with pytest.raises(RespError, match="Unrecognized XCLAIM option 'BOGUS'"):
        b("XCLAIM", "s", "g", "c", 0, "1-0", "BOGUS")
    with pytest.raises(RespError, match="NOGROUP"):
        b("XCLAIM", "s", "nog", "c", 0, "1-0")
    # FORCE creates a PEL entry for an entry that exists
    b("XACK", "s", "g", "5-0")
    assert b("XCLAIM", "s", "g", "dave", 0, "5-0", "FORCE", "RETRYCOUNT", 7, "JUSTID") == [b"5-0"]
    assert b("XPENDING", "s", "g", "5-0", "5-0", 1) == [[b"5-0", b"dave", 0, 7]]


def test_undo_is_exact(b: Box) -> None:
    b("CONFIG", "SET", "stream-node-max-entries", 3)
    for i in range(1, 12):
        b("XADD", "s", f"{i}-0", "f", i, *(["g", "h"] if i % 4 == 0 else []))
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XGROUP", "CREATE", "s", "g2", "$")
    b("XREADGROUP", "GROUP", "g", "alice", "COUNT", 3, "STREAMS", "s", ">")
    b.clock.advance(10)
    for cmd in (
        ("XADD", "s", "*", "a", "b"), ("XADD", "s", "MAXLEN", "~", 4, "*", "a", "b"),
        ("XADD", "s", "MINID", "=", "5", "*", "a", "b"), ("XADD", "new", "*", "a", "b"),
        ("XDEL", "s", "1-0", "4-0", "5-0", "6-0"), ("XDEL", "s", "4-0", "5-0", "6-0"),
        ("XTRIM", "s", "MAXLEN", 2), ("XTRIM", "s", "MAXLEN", "~", 2), ("XTRIM", "s", "MINID", "7"),
        ("XSETID", "s", "99-0", "ENTRIESADDED", 50, "MAXDELETEDID", "20-0"),
        ("XGROUP", "CREATE", "s", "g3", "0"), ("XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM"),
        ("XGROUP", "SETID", "s", "g", "-"), ("XGROUP", "DESTROY", "s", "g"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "zed"), ("XGROUP", "DELCONSUMER", "s", "g", "alice"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XACK", "s", "g", "1-0", "2-0"), ("XCLAIM", "s", "g", "bob", 0, "1-0", "2-0", "LASTID", "50-0"),
        ("XCLAIM", "s", "g", "bob", 0, "9-0", "FORCE"), ("XAUTOCLAIM", "s", "g", "bob", 0, "0"),
    ):
        b.undone(*cmd)


def test_blocking_xread(b: Box) -> None:
    w = b.client()
    b("XADD", "s", "5-0", "old", "x")
    assert b("XREAD", "BLOCK", 0, "STREAMS", "s", "t", "$", "$", c=w).__class__.__name__ == "_Blocked"
    b("XADD", "t", "1-0", "new", "y")
    assert sent(w) == [[[b"t", [[b"1-0", [b"new", b"y"]]]]]]
    # XADD + DEL in one transaction does not wake a reader; a later XADD does
    b("XREAD", "BLOCK", 0, "STREAMS", "q", "$", c=w)
    b("MULTI")
    b("XADD", "q", "1-0", "a", "b")
    b("DEL", "q")
    b("EXEC")
    assert len(sent(w)) == 1
    b("XADD", "q", "2-0", "c", "d")
    assert sent(w)[-1] == [[b"q", [[b"2-0", [b"c", b"d"]]]]]
    # inside MULTI a blocking read answers at once
    b("MULTI")
    b("XREAD", "BLOCK", 0, "STREAMS", "nothing", "$")
    assert b("EXEC") == [NULL_ARRAY]


def test_blocking_xreadgroup_wakeups(b: Box) -> None:
    b("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    w = b.client()
    b("XREADGROUP", "GROUP", "g", "alice", "BLOCK", 0, "STREAMS", "s", ">", c=w)
    b("XADD", "s", "1-0", "f", "v")
    assert sent(w) == [[[b"s", [[b"1-0", [b"f", b"v"]]]]]]
    assert b("XPENDING", "s", "g")[0] == 1
    b("XREADGROUP", "GROUP", "g", "alice", "BLOCK", 0, "STREAMS", "s", ">", c=w)
    b("XGROUP", "DESTROY", "s", "g")
    assert str(sent(w)[-1]).startswith("NOGROUP the consumer group this client was blocked on")
    b("XGROUP", "CREATE", "s", "g", "$")
    b("XREADGROUP", "GROUP", "g", "alice", "BLOCK", 0, "STREAMS", "s", ">", c=w)
    b("DEL", "s")
    assert str(sent(w)[-1]) == "UNBLOCKED the stream key no longer exists"
    assert b.srv.blocked_count == 0


def test_dump_state_round_trip(b: Box) -> None:
    rnd = random.Random(3)
    b("CONFIG", "SET", "stream-node-max-entries", 4)
    for i in range(1, 40):
        b("XADD", "s", f"{i}-{rnd.randint(0, 5)}", "f", str(i), *(["x", "y"] if rnd.random() < 0.3 else []))
    b("XDEL", "s", "3-0", "4-1", "10-2")
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "c1", "COUNT", 5, "STREAMS", "s", ">")
    b("XGROUP", "CREATECONSUMER", "s", "g", "c2")
    s = b.data[b"s"]
    t = decode_value(encode_value(s))
    assert isinstance(t, Stream)
    assert encode_value(t) == encode_value(s)
    assert t.radix_tree_nodes() == s.radix_tree_nodes()
    assert b("TYPE", "s") == "stream"
    assert b("OBJECT", "ENCODING", "s") == b"stream"
    assert b("COPY", "s", "s2") == 1
    assert encode_value(b.data[b"s2"]) == encode_value(s)


def test_errors(b: Box) -> None:
    b("SET", "str", "x")
    for cmd in (("XLEN", "str"), ("XADD", "str", "*", "a", "b"), ("XRANGE", "str", "-", "+"),
                ("XREAD", "STREAMS", "str", "0")):
        with pytest.raises(RespError, match="WRONGTYPE"):
            b(*cmd)
    with pytest.raises(RespError, match="LIMIT cannot be used without the special ~ option"):
        b("XADD", "s", "MAXLEN", 1, "LIMIT", 5, "*", "a", "b")
    with pytest.raises(RespError, match="XTRIM must be called with a trimming strategy"):
        b("XTRIM", "s", "LIMIT", 0)
    with pytest.raises(RespError, match="LIMIT cannot be used without specifying a trimming strategy"):
        b("XTRIM", "s", "LIMIT", 5)
    with pytest.raises(RespError, match="wrong number of arguments for 'xadd'"):
        b("XADD", "s", "*", "a", "b", "c")
    b("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    with pytest.raises(RespError, match="The \\$ ID is meaningless"):
        b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$")
    with pytest.raises(RespError, match="The > ID can be specified only"):
        b("XREAD", "STREAMS", "s", ">")
    with pytest.raises(RespError, match="Missing GROUP option"):
        b("XREADGROUP", "COUNT", 1, "NOACK", "STREAMS", "s", ">")
    with pytest.raises(RespError, match="timeout is negative"):
        b("XREAD", "BLOCK", -1, "STREAMS", "s", "0")
    with pytest.raises(RespError, match="requires the key to exist"):
        b("XGROUP", "CREATE", "nokey", "g", "$")
    with pytest.raises(RespError, match="unknown subcommand or wrong number of arguments for 'create'"):
        b("XGROUP", "create", "s", "g2", "$", "BOGUS")
