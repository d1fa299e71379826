"""Sorted set value class: ordering, ranks, encoding, state round trip."""

from __future__ import annotations

import math

import msgpack

from moonkv.keyspace.memory import value_size
from moonkv.keyspace.types import REGISTRY
from moonkv.keyspace.types.zset import ZSet


def test_order_and_rank() -> None:
    assert REGISTRY[b"zset"] is ZSet
    z = ZSet()
    z.add(b"b", 1.0)
    z.add(b"a", 1.0)
    z.add(b"c", -math.inf)
    z.add(b"d", math.inf)
    assert [m for _s, m in z.sl] == [b"c", b"a", b"b", b"d"]
    assert z.rank(b"a") == 1 and z.rank(b"d") == 3 and z.rank(b"zz") is None
    assert z.add(b"a", 5.0) == 1.0
    assert [m for _s, m in z.sl] == [b"c", b"b", b"a", b"d"]
    assert z.remove(b"a") == 5.0 and z.remove(b"a") is None
    assert len(z) == 3 and b"b" in z


def test_same_score_update_is_noop() -> None:
    z = ZSet()
    z.add(b"a", 0.0)
    z.add(b"a", -0.0)
    assert len(z.sl) == 1


def test_encoding_one_way_and_copy() -> None:
    z = ZSet()
    z.add(b"a", 1)
    z.check_encoding(1)
    assert z.encoding() == b"listpack"
    z.add(b"x" * 65, 2)
    z.check_encoding(65)
    assert z.encoding() == b"skiplist"
    z.remove(b"x" * 65)
    assert z.encoding() == b"skiplist"
    c = z.copy()
    c.add(b"new", 3)
    assert b"new" not in z and c.big


def test_state_round_trip() -> None:
    z = ZSet.from_pairs([(b"a", 1.5), (b"b", -math.inf)])
    back = ZSet.load_state(msgpack.unpackb(msgpack.packb(z.dump_state()), raw=True))
    assert list(back.sl) == list(z.sl) and back.dict == z.dict
    assert value_size(back) > 0


def test_small_sets_use_a_plain_list_until_converted() -> None:
    from moonkv.keyspace.types.zset import BigSortedList, SmallSortedList

    z = ZSet()
    for i in range(5):
        z.add(b"m%d" % i, float(5 - i))
    assert type(z.sl) is SmallSortedList
    assert z.sl.bisect_left((3.0,)) == 2 and z.sl.bisect_right((3.0, b"m2")) == 3
    assert list(z.sl.islice(1, 3, reverse=True)) == [(3.0, b"m2"), (2.0, b"m3")]
    assert z.sl._lists == [list(z.sl)]
    z.to_big()
    assert type(z.sl) is BigSortedList and z.rank(b"m4") == 0 and z.rank(b"m0") == 4
    assert type(z.copy().sl) is BigSortedList
    small = ZSet.from_pairs([(b"a", -0.0)])
    assert type(small.sl) is SmallSortedList and str(small.dict[b"a"]) == "0.0"


def test_big_sorted_list_inline_paths_keep_sortedlist_invariants() -> None:
    """add/move bypass SortedList's own methods: check its invariants (sublist
    bounds, maxes, positional index) after every change, with and without an index."""
    import random

    from moonkv.keyspace.types.zset import BigSortedList

    rng = random.Random(7)
    for load in (4, 8, 16):
        sl = BigSortedList()
        sl._reset(load)
        scores: dict[bytes, float] = {}
        for _ in range(3000):
            m = b"m%d" % rng.randrange(400)
            s = float(rng.randrange(50))
            old = scores.get(m)
            if old is None:
                sl.add((s, m))
            elif rng.random() < 0.1:
                sl.remove((old, m))
                del scores[m]
                continue
            elif old != s:
                sl.move((old, m), (s, m))
            scores[m] = s
            if rng.random() < 0.05:  # a rank lookup builds the positional index
                assert sl.bisect_left((s, m)) == sorted((v, k) for k, v in scores.items()).index((s, m))
            sl._check()
        assert list(sl) == sorted((v, k) for k, v in scores.items())
    try:
        sl.move((-1.0, b"absent"), (1.0, b"absent"))
    except ValueError:
        pass
    else:
        raise AssertionError("move of an absent value must raise")
