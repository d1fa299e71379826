"""Set value class: intset/hashtable naming."""

from __future__ import annotations

import msgpack

from moonkv.keyspace.types import REGISTRY
from moonkv.keyspace.types.set import Set, is_int_member


def test_is_int_member() -> None:
    assert is_int_member(b"0") and is_int_member(b"-5") and is_int_member(b"9223372036854775807")
    assert not is_int_member(b"9223372036854775808")
    assert not is_int_member(b"01") and not is_int_member(b"-0") and not is_int_member(b"+1")
    assert not is_int_member(b"") and not is_int_member(b"1.0") and not is_int_member(b" 1")


def test_encoding() -> None:
    assert REGISTRY[b"set"] is Set
    s = Set([b"1", b"2"])
    s.check_encoding()
    assert s.encoding() == b"intset"
    s.add(b"x")
    s.check_encoding([b"x"])
    assert s.encoding() == b"hashtable"
    s.discard(b"x")
    s.check_encoding([])
    assert s.encoding() == b"hashtable"  # one way
    big = Set(b"%d" % i for i in range(513))
    big.check_encoding()
    assert big.encoding() == b"hashtable"


def test_state_round_trip() -> None:
    s = Set([b"a", b"b"])
    s.check_encoding()
    back = Set.load_state(msgpack.unpackb(msgpack.packb(s.dump_state()), raw=True))
    assert back == s and back.encoding() == b"hashtable"
    c = s.copy()
    c.add(b"z")
    assert b"z" not in s
