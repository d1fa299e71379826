"""List value class."""

from __future__ import annotations

import msgpack

from moonkv.keyspace.types import REGISTRY
from moonkv.keyspace.types.list import List


def test_registry_encoding() -> None:
    assert REGISTRY[b"list"] is List
    assert List([b"a"]).encoding() == b"quicklist"


def test_copy_and_state() -> None:
    lst = List([b"a", b"b", b"c"])
    c = lst.copy()
    c.append(b"d")
    assert list(lst) == [b"a", b"b", b"c"]
    state = msgpack.unpackb(msgpack.packb(lst.dump_state()), raw=True)
    back = List.load_state(state)
    assert type(back) is List and list(back) == [b"a", b"b", b"c"]
    assert len(back) == 3 and back.memory_usage() > 0
