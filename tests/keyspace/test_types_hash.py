"""Hash value class: encoding thresholds, copy, state round trip."""

from __future__ import annotations

import msgpack

from moonkv.keyspace.memory import value_size
from moonkv.keyspace.types import REGISTRY
from moonkv.keyspace.types.hash import Hash


def test_registry_and_type_name() -> None:
    assert REGISTRY[b"hash"] is Hash
    assert Hash.TYPE_NAME == b"hash"


def test_encoding_is_one_way() -> None:
    h = Hash()
    for i in range(128):
        h[b"f%d" % i] = b"v"
    h.check_encoding(2)
    assert h.encoding() == b"listpack"
    h[b"extra"] = b"v"
    h.check_encoding(5)
    assert h.encoding() == b"hashtable"
    h.clear()
    h[b"a"] = b"b"
    h.check_encoding(1)
    assert h.encoding() == b"hashtable"


def test_long_value_converts() -> None:
    h = Hash({b"a": b"x" * 65})
    h.check_encoding(65)
    assert h.encoding() == b"hashtable"


def test_copy_is_independent() -> None:
    h = Hash({b"a": b"1"})
    h.big = True
    c = h.copy()
    assert type(c) is Hash and c == h and c.big
    c[b"b"] = b"2"
    assert b"b" not in h


def test_state_round_trip_through_msgpack() -> None:
    h = Hash({b"a": b"1", b"b": b"\x00\xff"})
    state = msgpack.unpackb(msgpack.packb(h.dump_state()), raw=True)
    h2 = Hash.load_state(state)
    assert h2 == h and h2.encoding() == b"listpack"
    assert len(h2) == 2
    assert value_size(h2) > 0
