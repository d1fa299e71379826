"""Sorted set values: member -> score dict plus an ordered list of (score, member).

Big sorted sets (Redis's skiplist encoding) keep the (score, member) tuples in a
BigSortedList, in Redis's order (score, then member bytes); ranks and range
starts are bisections.  Small ones (listpack in Redis, at most 128 members by
default) use a plain sorted Python list with the same methods, which saves the
SortedList's ~400 bytes per key and is faster at that size.  The dict and the
tuples share the same float and bytes objects.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any, ClassVar

from sortedcontainers import SortedList

from moonkv.keyspace.types import _limits


class SmallSortedList(list):  # type: ignore[type-arg]
    """The subset of SortedList's API the commands use, on a plain sorted list."""

    __slots__ = ()

    def add(self, x: Any) -> None:
        insort(self, x)

    def remove(self, x: Any) -> None:
        i = bisect_left(self, x)
        if i < len(self) and self[i] == x:
            del self[i]
        else:
            raise ValueError(f"{x!r} not in list")

    def bisect_left(self, x: Any) -> int:
        return bisect_left(self, x)

    def bisect_right(self, x: Any) -> int:
        return bisect_right(self, x)

    def move(self, old: Any, new: Any) -> None:
        self.remove(old)
        insort(self, new)

    def islice(self, start: int | None = None, stop: int | None = None, reverse: bool = False) -> Iterator[Any]:
        items = self[start:stop]
        return reversed(items) if reverse else iter(items)

    @property
    def _lists(self) -> list[list[Any]]:
        return [self] if self else []


class BigSortedList(SortedList):  # type: ignore[misc]  # sortedcontainers ships no types
    """A SortedList whose add and move do ZADD's common case inline.

    SortedList's add and remove each call a second method (``_expand``,
    ``_delete``) that splits or merges sublists and keeps the positional index;
    on a big set those calls and the tuple comparisons are most of a ZADD.
    These versions work on SortedList's sublists directly (sortedcontainers
    2.x layout: ``_lists``, ``_maxes``, ``_index``, ``_offset``, ``_load``,
    ``_len``; ``_check()`` verifies it in the tests) and leave splits and
    merges to SortedList's own methods.

    The load factor is a tenth of SortedList's 1000, chosen by measured server
    CPU, not by instruction counts (which barely move): on a big set each
    bisection step into a sublist touches a tuple and a float scattered over
    the heap, so a ZADD that moves a member is mostly cache and TLB misses.
    Smaller sublists put more of the search in ``_maxes``, which every
    operation reads and so stays cached.  ZADD of random members of a 100k
    set, non-pipelined: 30.5 / 31.5 / 38.75 us at 500 against 24.75 / 25.0 /
    33.25 us at 100 in three interleaved runs (50 was no better than 500);
    ZRANK and ZRANGE unchanged, RSS of a 1M-member set unchanged.
    """

    DEFAULT_LOAD_FACTOR = 100

    def add(self, value: Any) -> None:
        maxes = self._maxes
        if not maxes:
            super().add(value)
            return
        pos = bisect_right(maxes, value)
        if pos == len(maxes):
            pos -= 1
            sub = self._lists[pos]
            sub.append(value)
            maxes[pos] = value
        else:
            sub = self._lists[pos]
            insort(sub, value)
        self._len += 1
        if self._index or len(sub) > self._load << 1:
            self._expand(pos)  # counts it in the index, or splits the sublist

    def move(self, old: Any, new: Any) -> None:
        """Replace ``old`` (present) by ``new``: a member's score change, in one call.

        The length is unchanged, so a built positional index only moves one
        count from ``old``'s sublist to ``new``'s: the two leaves and their
        ancestors below the common one (all leaves are at the same depth).
        """
        maxes = self._maxes
        lists = self._lists
        src = bisect_left(maxes, old)
        sub = lists[src]
        idx = bisect_left(sub, old)
        if sub[idx] != old:
            raise ValueError(f"{old!r} not in list")
        if len(sub) <= (self._load >> 1) + 1:
            self._delete(src, idx)  # merges it into a neighbour
            self.add(new)
            return
        del sub[idx]
        maxes[src] = sub[-1]
        dst = bisect_right(maxes, new)
        if dst == len(maxes):
            dst -= 1
            sub = lists[dst]
            sub.append(new)
            maxes[dst] = new
        else:
            sub = lists[dst]
            insort(sub, new)
        index = self._index
        if len(sub) > self._load << 1:
            self._expand(dst)  # splits it, drops the index
        elif index:
            a = self._offset + src
            b = self._offset + dst
            while a != b:
                index[a] -= 1
                index[b] += 1
                a = (a - 1) >> 1
                b = (b - 1) >> 1


class ZSet:
    __slots__ = ("dict", "sl", "big")
    TYPE_NAME: ClassVar[bytes] = b"zset"

    def __init__(self) -> None:
        self.dict: dict[bytes, float] = {}
        self.sl: Any = SmallSortedList()
        self.big = False

    def to_big(self) -> None:
        """Switch (one way) to the skiplist-equivalent representation."""
        if not self.big:
            self.big = True
            self.sl = BigSortedList(self.sl)

    def to_small(self) -> None:
        """Undo :meth:`to_big` (a rolled-back script's conversion; Redis never converts back)."""
        if self.big:
            self.big = False
            self.sl = SmallSortedList(self.sl)

    def __len__(self) -> int:
        return len(self.dict)

    def __bool__(self) -> bool:
        return bool(self.dict)

    def __contains__(self, member: object) -> bool:
        return member in self.dict

    def check_encoding(self, longest: int = 0) -> None:
        if not self.big:
            v = _limits._values
            if len(self.dict) > v["zset-max-listpack-entries"] or longest > v["zset-max-listpack-value"]:
                self.to_big()

    def encoding(self, config: Any = None) -> bytes:
        return b"skiplist" if self.big else b"listpack"

    # -- mutation -------------------------------------------------------------

    def add(self, member: bytes, score: float) -> float | None:
        """Set ``member``'s score; returns the previous score (None if new)."""
        old = self.dict.get(member)
        if old is None:
            self.insert(member, score)
        elif old != score:
            self.rescore(member, old, score)
        return old

    def insert(self, member: bytes, score: float) -> None:
        """Add a member known to be absent.

        One that would overflow the listpack converts the set first, as Redis
        does; a listpack stores -0 as 0.
        """
        d = self.dict
        if not self.big:
            v = _limits._values
            if len(d) >= v["zset-max-listpack-entries"] or len(member) > v["zset-max-listpack-value"]:
                self.to_big()
            elif score == 0:
                score = 0.0
        d[member] = score
        self.sl.add((score, member))

    def rescore(self, member: bytes, old: float, score: float) -> None:
        """Change a member's score from ``old`` (its current one) to a different ``score``."""
        if score == 0 and not self.big:
            score = 0.0
        self.dict[member] = score
        self.sl.move((old, member), (score, member))

    def remove(self, member: bytes) -> float | None:
        old = self.dict.pop(member, None)
        if old is not None:
            self.sl.remove((old, member))
        return old

    def pop_index(self, index: int) -> tuple[float, bytes]:
        score, member = self.sl.pop(index)
        del self.dict[member]
        return score, member

    def clear(self) -> None:
        self.dict.clear()
        self.sl.clear()

    # -- reads ------------------------------------------------------------------

    def score(self, member: bytes) -> float | None:
        return self.dict.get(member)

    def rank(self, member: bytes) -> int | None:
        s = self.dict.get(member)
        if s is None:
            return None
        return int(self.sl.bisect_left((s, member)))

    def copy(self) -> ZSet:
        z = ZSet()
        z.dict = dict(self.dict)
        z.sl = BigSortedList(self.sl) if self.big else SmallSortedList(self.sl)
        z.big = self.big
        return z

    @classmethod
    def from_pairs(cls, pairs: Any) -> ZSet:
        """Build from (member, score) pairs (later pairs win)."""
        z = cls()
        d = z.dict
        for m, s in pairs:
            d[m] = s
        z.check_encoding(max((len(m) for m in d), default=0))
        if not z.big:
            for m, s in d.items():
                if s == 0:
                    d[m] = 0.0
        items = sorted((s, m) for m, s in d.items())
        z.sl = BigSortedList(items) if z.big else SmallSortedList(items)
        return z

    def dump_state(self) -> list[Any]:
        flat: list[Any] = []
        for s, m in self.sl:
            flat.append(m)
            flat.append(s)
        return [1 if self.big else 0, flat]

    @classmethod
    def load_state(cls, state: Any) -> ZSet:
        big, flat = state
        it = iter(flat)
        z = cls.from_pairs((bytes(m), float(next(it))) for m in it)
        if big:
            z.to_big()
        return z

    def __repr__(self) -> str:
        return f"ZSet({list(self.sl)!r})"
