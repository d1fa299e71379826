"""List value class."""

from __future__ import annotations

import msgpack

from moonkv.keyspace.memory import value_size
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
    assert len(back) == 3 and value_size(back) > 0


def test_chunked_list_matches_a_python_list() -> None:
    import random

    from moonkv.keyspace.types.list import _Packed

    rnd = random.Random(7)
    for _trial in range(60):
        lst = List()
        ref: list[bytes] = []
        for _step in range(300):
            op = rnd.random()
            v = b"%d" % rnd.randrange(50)
            if op < 0.2:
                lst.append(v)
                ref.append(v)
            elif op < 0.4:
                lst.appendleft(v)
                ref.insert(0, v)
            elif op < 0.5 and ref:
                assert lst.pop() == ref.pop()
            elif op < 0.6 and ref:
                assert lst.popleft() == ref.pop(0)
            elif op < 0.7 and ref:
                i = rnd.randrange(-len(ref), len(ref))
                assert lst[i] == ref[i]
                lst[i] = v
                ref[i] = v
            elif op < 0.8:
                i = rnd.randrange(-len(ref) - 2, len(ref) + 3)
                lst.insert(i, v)
                ref.insert(i, v)
            elif op < 0.85 and ref:
                i = rnd.randrange(-len(ref), len(ref))
                del lst[i]
                del ref[i]
            elif op < 0.9:
                a = rnd.randrange(0, len(ref) + 1)
                b = rnd.randrange(a, len(ref) + 1)
                assert lst.slice(a, b) == ref[a:b]
            elif op < 0.95:
                lst.extend([v] * 300)
                ref.extend([v] * 300)
            else:
                lst.extendleft([v] * 300)
                ref[0:0] = [v] * 300
            assert len(lst) == len(ref)
        assert list(lst) == ref and list(reversed(lst)) == ref[::-1]
        chunks = lst.chunks
        if chunks:
            assert type(chunks[0]) is list and type(chunks[-1]) is list
            assert all(type(ch) is _Packed for ch in list(chunks)[1:-1])
        assert all(len(ch) > 0 for ch in chunks)


def test_long_elements_pack() -> None:
    big = [b"x" * 300, b"y" * 70000, b""] * 200
    lst = List(big)
    assert list(lst) == big and lst[301] == big[301]
