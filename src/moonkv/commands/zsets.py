"""Sorted set commands."""

from __future__ import annotations

import math
import random
from typing import Any, Final

from moonkv.commands._util import (
    parse_cursor,
    parse_float,
    parse_int,
    parse_mpop_count,
    parse_timeout,
)
from moonkv.commands.hashes import LONG_MAX, parse_range_long, scan_reply
from moonkv.commands.table import KeySpec, command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error
from moonkv.keyspace.events import GENERIC, ZSET
from moonkv.keyspace.types import _limits
from moonkv.keyspace.types.set import Set
from moonkv.keyspace.types.zset import ZSet
from moonkv.protocol import NULL_ARRAY, format_double

_G: Final = "sorted-set"
NANERR: Final = "resulting score is not a number (NaN)"


class _Top:
    """Compares greater than any bytes (a bisection key past every member)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return other is self

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __ge__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 0


TOP: Final[Any] = _Top()


def _read(c: Client, key: bytes) -> ZSet | None:
    return c.db.read_typed(key, ZSet)  # type: ignore[no-any-return]


def _get_w(c: Client, key: bytes) -> ZSet | None:
    return c.db.get_typed(key, ZSet)  # type: ignore[no-any-return]


def _new(c: Client) -> ZSet:
    _limits.bind(c.server.config)
    return ZSet()


def _record(c: Client, z: ZSet, changes: list[tuple[bytes, float | None]], was_big: bool) -> None:
    """Undo for in-place changes: (member, previous score or None when it was absent),
    and the encoding the set had before them."""
    db = c.db
    if db.ks.undo is None or not changes:
        return

    def undo() -> None:
        for m, old in reversed(changes):
            if old is None:
                z.remove(m)
            else:
                z.add(m, old)
        if not was_big:
            z.to_small()

    db.undo(undo)


def _removed(c: Client, key: bytes, z: ZSet, changes: list[tuple[bytes, float | None]], event: bytes) -> None:
    db = c.db
    _record(c, z, changes, z.big)  # removals never change the encoding
    db.touch(key, len(changes))
    db.notify(ZSET, event, key)
    if not z:
        db.remove_if_empty(key, z)
        db.notify(GENERIC, b"del", key)


def pairs_reply(c: Client, items: list[tuple[float, bytes]], withscores: bool, nested: bool | None = None) -> list[object]:
    """(score, member) items as a reply: flat in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return [m for _s, m in items]
    if nested is None:
        nested = c.resp == 3
    if nested:
        return [[m, s] for s, m in items]
    out: list[object] = []
    for s, m in items:
        out.append(m)
        out.append(s)
    return out


# -- range parsing ---------------------------------------------------------------------


def _score_bound(b: bytes) -> tuple[float, bool]:
    ex = False
    if b[:1] == b"(":
        ex = True
        b = b[1:]
    try:
        if not b or b[-1] in b" \t\n\r\v\f" or b"_" in b:
            raise ValueError
        v = float(b)
        if math.isnan(v):
            raise ValueError
    except ValueError:
        raise RespError("min or max is not a float") from None
    return v, ex


def parse_score_range(bmin: bytes, bmax: bytes) -> tuple[float, bool, float, bool]:
    mn, mnex = _score_bound(bmin)
    mx, mxex = _score_bound(bmax)
    return mn, mnex, mx, mxex


def score_slice(z: ZSet, mn: float, mnex: bool, mx: float, mxex: bool) -> tuple[int, int]:
    sl = z.sl
    lo = sl.bisect_right((mn, TOP)) if mnex else sl.bisect_left((mn,))
    hi = sl.bisect_left((mx,)) if mxex else sl.bisect_right((mx, TOP))
    return lo, max(lo, hi)


_LEX_MIN: Final = object()
_LEX_MAX: Final = object()


def _lex_bound(b: bytes) -> tuple[Any, bool]:
    if b == b"-":
        return _LEX_MIN, False
    if b == b"+":
        return _LEX_MAX, False
    if b[:1] == b"[":
        return b[1:], False
    if b[:1] == b"(":
        return b[1:], True
    raise RespError("min or max not valid string range item")


def parse_lex_range(bmin: bytes, bmax: bytes) -> tuple[Any, bool, Any, bool]:
    mn, mnex = _lex_bound(bmin)
    mx, mxex = _lex_bound(bmax)
    return mn, mnex, mx, mxex


def _lex_bisect(sl: Any, member: bytes, right: bool) -> int:
    """First index whose member is > (right) or >= ``member``, walking members in
    list order as Redis's skiplist does (meaningful when members ascend with scores)."""
    lo, hi = 0, len(sl)
    while lo < hi:
        mid = (lo + hi) // 2
        m = sl[mid][1]
        if m < member or (right and m == member):
            lo = mid + 1
        else:
            hi = mid
    return lo


def lex_slice(z: ZSet, mn: Any, mnex: bool, mx: Any, mxex: bool, rev: bool = False) -> tuple[int, int]:
    """Index range [lo, hi) of a lex range, as Redis walks it.

    Redis assumes members ascend with the scores; when they do not, it still
    answers deterministically (range check on head/tail, then a walk from the
    first member >= min, or backwards from the last member <= max).  Sets of up
    to 128 members are walked the same way; bigger ones are bisected.
    """
    sl = z.sl
    n = len(sl)
    if not n or mn is _LEX_MAX or mx is _LEX_MIN:
        return 0, 0
    if mn is not _LEX_MIN and mx is not _LEX_MAX and (mn > mx or (mn == mx and (mnex or mxex))):
        return 0, 0

    def gte_min(m: bytes) -> bool:
        return mn is _LEX_MIN or (m > mn if mnex else m >= mn)

    def lte_max(m: bytes) -> bool:
        return mx is _LEX_MAX or (m < mx if mxex else m <= mx)

    if not gte_min(sl[-1][1]) or not lte_max(sl[0][1]):
        return 0, 0
    if n > 128:
        lo = 0 if mn is _LEX_MIN else _lex_bisect(sl, mn, mnex)
        hi = n if mx is _LEX_MAX else _lex_bisect(sl, mx, not mxex)
        return lo, max(lo, hi)
    members = [m for _s, m in sl]
    if not rev:
        lo = 0
        while lo < n and not gte_min(members[lo]):
            lo += 1
        hi = lo
        while hi < n and lte_max(members[hi]):
            hi += 1
        return lo, hi
    hi = n
    while hi > 0 and not lte_max(members[hi - 1]):
        hi -= 1
    lo = hi
    while lo > 0 and gte_min(members[lo - 1]):
        lo -= 1
    return lo, hi


def rank_slice(n: int, start: int, end: int) -> tuple[int, int]:
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return 0, 0
    if end >= n:
        end = n - 1
    return start, end + 1


def _take(z: ZSet, lo: int, hi: int, rev: bool, offset: int = 0, limit: int = -1) -> list[tuple[float, bytes]]:
    if offset < 0:
        return []
    if rev:
        hi2 = hi - offset
        lo2 = lo if limit < 0 else max(lo, hi2 - limit)
        if hi2 <= lo2:
            return []
        return _slice(z.sl, lo2, hi2)[::-1]
    lo2 = lo + offset
    hi2 = hi if limit < 0 else min(hi, lo2 + limit)
    if hi2 <= lo2:
        return []
    return _slice(z.sl, lo2, hi2)


# -- ZADD / ZINCRBY ----------------------------------------------------------------------


def _score(b: bytes) -> float:
    if b.isdigit() and len(b) < 16:
        return float(b)
    return parse_float(b)


def _slice(sl: Any, lo: int, hi: int) -> list[tuple[float, bytes]]:
    """sl[lo:hi], reading the first sublist directly when the range lies in it."""
    lists = sl._lists
    if lists and hi <= len(lists[0]):
        return lists[0][lo:hi]  # type: ignore[no-any-return]
    return sl[lo:hi]  # type: ignore[no-any-return]


def _zadd(c: Client, argv: list[bytes], incr: bool) -> object:
    nx = xx = gt = lt = ch = False
    i = 2
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"ch":
            ch = True
        elif o == b"incr":
            incr = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            break
        i += 1
    elements = n - i
    if elements % 2 or not elements:
        raise syntax_error()
    elements //= 2
    if nx and xx:
        raise RespError("XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise RespError("GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 1:
        raise RespError("INCR option supports a single increment-element pair")
    scores = [_score(argv[i + 2 * j]) for j in range(elements)]
    db = c.db
    key = argv[1]
    z = _get_w(c, key)
    if z is None:
        if xx:
            return None if incr else 0
        z = _new(c)
        db.set(key, z)
        created = True
    else:
        created = False
    added = updated = processed = 0
    changes: list[tuple[bytes, float | None]] = []
    record = db.ks.undo is not None and not created
    was_big = z.big
    score = 0.0
    d = z.dict
    for j in range(elements):
        score = scores[j]
        m = argv[i + 1 + 2 * j]
        cur = d.get(m)
        if cur is not None:
            if nx:
                continue
            if incr:
                score = cur + score
                if math.isnan(score):
                    _record(c, z, changes, was_big)
                    if added or updated:
                        db.touch(key, added + updated)
                    raise RespError(NANERR)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                z.rescore(m, cur, score)
                updated += 1
                if record:
                    changes.append((m, cur))
            else:
                score = cur
        else:
            if xx:
                continue
            z.insert(m, score)
            added += 1
            processed += 1
            if record:
                changes.append((m, None))
    if added or updated:
        _record(c, z, changes, was_big)
        if not created:
            db.touch(key, added + updated)
        db.notify(ZSET, b"zincr" if incr else b"zadd", key)
    elif created:
        db.remove_if_empty(key, z)
    if incr:
        return score if processed else None
    return added + updated if ch else added


@command("zadd", -4, "write denyoom fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="1.2.0",
         summary="Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
         complexity="O(log(N))")
def zadd(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 4:
        # ZADD key score member on an existing sorted set: one dict lookup.  A
        # score never starts with a letter unless it is an option or "inf".
        a = argv[2]
        if a.isdigit() and len(a) < 16:
            score = float(a)
        elif a[:1].isalpha():
            return _zadd(c, argv, False)
        else:
            score = parse_float(a)
        db = c.db
        key = argv[1]
        z = db.lookup_write(key)
        if z is not None:
            if type(z) is not ZSet:
                raise WrongTypeError()
            m = argv[3]
            old = z.dict.get(m)
            was_big = z.big
            if old is None:
                z.insert(m, score)
            elif old == score:
                return 0
            else:
                z.rescore(m, old, score)
            if db.ks.undo is not None:
                _record(c, z, [(m, old)], was_big)
            db.touch(key)
            db.notify(ZSET, b"zadd", key)
            return 1 if old is None else 0
    return _zadd(c, argv, False)


@command("zincrby", 4, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G, since="1.2.0",
         summary="Increments the score of a member in a sorted set.", complexity="O(log(N))")
def zincrby(c: Client, argv: list[bytes]) -> object:
    return _zadd(c, [argv[0], argv[1], argv[2], argv[3]], True)


# -- simple reads ----------------------------------------------------------------------------


@command("zcard", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G, since="1.2.0",
         summary="Returns the number of members in a sorted set.")
def zcard(c: Client, argv: list[bytes]) -> object:
    z = _read(c, argv[1])
    return 0 if z is None else len(z)


@command("zscore", 3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="1.2.0",
         summary="Returns the score of a member in a sorted set.")
def zscore(c: Client, argv: list[bytes]) -> object:
    z = _read(c, argv[1])
    return None if z is None else z.dict.get(argv[2])


@command("zmscore", -3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.2.0",
         summary="Returns the score of one or more members in a sorted set.", complexity="O(N)")
def zmscore(c: Client, argv: list[bytes]) -> object:
    z = _read(c, argv[1])
    if z is None:
        return [None] * (len(argv) - 2)
    g = z.dict.get
    return [g(m) for m in argv[2:]]


def _rank(c: Client, argv: list[bytes], rev: bool) -> object:
    z = c.db.lookup_read(argv[1])
    if z is None:
        return None
    if type(z) is not ZSet:
        raise WrongTypeError()
    r = z.rank(argv[2])
    if r is None:
        return None
    return len(z) - 1 - r if rev else r


@command("zrank", 3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by ascending scores.",
         complexity="O(log(N))")
def zrank(c: Client, argv: list[bytes]) -> object:
    return _rank(c, argv, False)


@command("zrevrank", 3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by descending scores.",
         complexity="O(log(N))")
def zrevrank(c: Client, argv: list[bytes]) -> object:
    return _rank(c, argv, True)


@command("zcount", 4, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns the count of members in a sorted set that have scores within a range.",
         complexity="O(log(N))")
def zcount(c: Client, argv: list[bytes]) -> object:
    rng = parse_score_range(argv[2], argv[3])
    z = _read(c, argv[1])
    if z is None:
        return 0
    lo, hi = score_slice(z, *rng)
    return hi - lo


@command("zlexcount", 4, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.9",
         summary="Returns the number of members in a sorted set within a lexicographical range.",
         complexity="O(log(N))")
def zlexcount(c: Client, argv: list[bytes]) -> object:
    rng = parse_lex_range(argv[2], argv[3])
    z = _read(c, argv[1])
    if z is None:
        return 0
    lo, hi = lex_slice(z, *rng)
    return hi - lo


@command("zrem", -3, "write fast", keys=keys(1, flags="RW DELETE"), group=_G, since="1.2.0",
         summary="Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
         complexity="O(M*log(N))")
def zrem(c: Client, argv: list[bytes]) -> object:
    key = argv[1]
    z = _get_w(c, key)
    if z is None:
        return 0
    changes: list[tuple[bytes, float | None]] = []
    for m in argv[2:]:
        old = z.remove(m)
        if old is not None:
            changes.append((m, old))
    if changes:
        _removed(c, key, z, changes, b"zrem")
    return len(changes)


# -- ZRANGE family ---------------------------------------------------------------------------


_RANK: Final = 0
_SCORE: Final = 1
_LEX: Final = 2


def _zrange_generic(
    c: Client, argv: list[bytes], start: int, store: bytes | None, rangetype: int | None, rev: bool | None
) -> object:
    key = argv[start]
    minidx, maxidx = start + 1, start + 2
    withscores = False
    offset, limit = 0, -1
    limit_given = False
    j = start + 3
    n = len(argv)
    while j < n:
        left = n - j - 1
        o = argv[j].lower()
        if store is None and o == b"withscores":
            withscores = True
        elif o == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            limit_given = True
            j += 2
        elif rev is None and o == b"rev":
            rev = True
        elif rangetype is None and o == b"bylex":
            rangetype = _LEX
        elif rangetype is None and o == b"byscore":
            rangetype = _SCORE
        else:
            raise syntax_error()
        j += 1
    if rev is None:
        rev = False
    if rangetype is None:
        rangetype = _RANK
    if limit_given and rangetype == _RANK:
        raise RespError("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and rangetype == _LEX:
        raise RespError("syntax error, WITHSCORES not supported in combination with BYLEX")
    if rev and rangetype != _RANK:
        minidx, maxidx = maxidx, minidx
    if rangetype == _RANK:
        rs = parse_int(argv[minidx])
        re_ = parse_int(argv[maxidx])
    elif rangetype == _SCORE:
        srng = parse_score_range(argv[minidx], argv[maxidx])
    else:
        lrng = parse_lex_range(argv[minidx], argv[maxidx])
    z = _read(c, key)
    items: list[tuple[float, bytes]]
    if z is None:
        items = []
    elif rangetype == _RANK:
        n = len(z)
        lo, hi = rank_slice(n, rs, re_)
        if hi <= lo:
            items = []
        elif rev:
            items = _slice(z.sl, n - hi, n - lo)[::-1]
        else:
            items = _slice(z.sl, lo, hi)
    elif rangetype == _SCORE:
        lo, hi = score_slice(z, *srng)
        items = _take(z, lo, hi, rev, offset, limit)
    else:
        lo, hi = lex_slice(z, *lrng, rev=rev)
        items = _take(z, lo, hi, rev, offset, limit)
    if store is not None:
        return _store(c, store, [(m, s) for s, m in items], b"zrangestore")
    if z is not None and (rangetype != _RANK or not items):
        # Redis counts a score or lex range (and an empty rank range) as it walks it.
        c.deferred_reply()
    return pairs_reply(c, items, withscores)


def _store(c: Client, dst: bytes, pairs: list[tuple[bytes, float]], event: bytes) -> int:
    db = c.db
    if not pairs:
        if db.delete(dst):
            db.notify(GENERIC, b"del", dst)
        return 0
    _limits.bind(c.server.config)
    db.set(dst, ZSet.from_pairs(pairs))
    db.notify(ZSET, event, dst)
    return len(pairs)


@command("zrange", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes.",
         complexity="O(log(N)+M)")
def zrange(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 4:
        z = c.db.lookup_read(argv[1])
        start = parse_int(argv[2])
        end = parse_int(argv[3])
        if z is None:
            return []
        if type(z) is not ZSet:
            raise WrongTypeError()
        lo, hi = rank_slice(len(z), start, end)
        if hi > lo:
            return [m for _s, m in _slice(z.sl, lo, hi)]
        c.deferred_reply()  # an empty rank range: Redis's deferred length of 0
        return []
    return _zrange_generic(c, argv, 1, None, None, None)


@command("zrangestore", -5, "write denyoom", keys=keys(1, flags="OW UPDATE") + keys(2, flags="RO ACCESS"),
         group=_G, since="6.2.0", summary="Stores a range of members from sorted set in a key.",
         complexity="O(log(N)+M)")
def zrangestore(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 2, argv[1], None, None)


@command("zrevrange", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes in reverse order.",
         complexity="O(log(N)+M)")
def zrevrange(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 1, None, _RANK, True)


@command("zrangebyscore", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="1.0.5",
         summary="Returns members in a sorted set within a range of scores.", complexity="O(log(N)+M)")
def zrangebyscore(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 1, None, _SCORE, False)


@command("zrevrangebyscore", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.2.0",
         summary="Returns members in a sorted set within a range of scores in reverse order.",
         complexity="O(log(N)+M)")
def zrevrangebyscore(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 1, None, _SCORE, True)


@command("zrangebylex", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range.", complexity="O(log(N)+M)")
def zrangebylex(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 1, None, _LEX, False)


@command("zrevrangebylex", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range in reverse order.",
         complexity="O(log(N)+M)")
def zrevrangebylex(c: Client, argv: list[bytes]) -> object:
    return _zrange_generic(c, argv, 1, None, _LEX, True)


_REMRANGE_EVENTS: Final = (b"zremrangebyrank", b"zremrangebyscore", b"zremrangebylex")


def _remrange(c: Client, argv: list[bytes], kind: int) -> object:
    key = argv[1]
    if kind == _RANK:
        start = parse_int(argv[2])
        end = parse_int(argv[3])
    elif kind == _SCORE:
        srng = parse_score_range(argv[2], argv[3])
    else:
        lrng = parse_lex_range(argv[2], argv[3])
    z = _get_w(c, key)
    if z is None:
        return 0
    if kind == _RANK:
        lo, hi = rank_slice(len(z), start, end)
    elif kind == _SCORE:
        lo, hi = score_slice(z, *srng)
    else:
        lo, hi = lex_slice(z, *lrng)
    if hi <= lo:
        return 0
    items = list(z.sl.islice(lo, hi))
    del z.sl[lo:hi]
    d = z.dict
    for _s, m in items:
        del d[m]
    _removed(c, key, z, [(m, s) for s, m in items], _REMRANGE_EVENTS[kind])
    return len(items)


@command("zremrangebyrank", 4, "write", keys=keys(1, flags="RW DELETE"), group=_G, since="2.0.0",
         summary="Removes members in a sorted set within a range of indexes.", complexity="O(log(N)+M)")
def zremrangebyrank(c: Client, argv: list[bytes]) -> object:
    return _remrange(c, argv, _RANK)


@command("zremrangebyscore", 4, "write", keys=keys(1, flags="RW DELETE"), group=_G, since="1.2.0",
         summary="Removes members in a sorted set within a range of scores.", complexity="O(log(N)+M)")
def zremrangebyscore(c: Client, argv: list[bytes]) -> object:
    return _remrange(c, argv, _SCORE)


@command("zremrangebylex", 4, "write", keys=keys(1, flags="RW DELETE"), group=_G, since="2.8.9",
         summary="Removes members in a sorted set within a lexicographical range.", complexity="O(log(N)+M)")
def zremrangebylex(c: Client, argv: list[bytes]) -> object:
    return _remrange(c, argv, _LEX)


# -- pops ------------------------------------------------------------------------------------


def _pop_items(c: Client, key: bytes, z: ZSet, count: int, maxside: bool) -> list[tuple[float, bytes]]:
    n = min(count, len(z))
    sl = z.sl
    if maxside:
        items = list(sl.islice(len(sl) - n, len(sl), reverse=True))
        del sl[len(sl) - n :]
    else:
        items = list(sl.islice(0, n))
        del sl[:n]
    d = z.dict
    for _s, m in items:
        del d[m]
    _removed(c, key, z, [(m, s) for s, m in items], b"zpopmax" if maxside else b"zpopmin")
    return items


def _zpop(c: Client, argv: list[bytes], maxside: bool) -> object:
    if len(argv) > 3:
        raise syntax_error()
    count = -1
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count < 0:
            raise RespError("value is out of range, must be positive")
    key = argv[1]
    z = _get_w(c, key)
    if z is None:
        return []
    if count == 0:
        return []
    items = _pop_items(c, key, z, 1 if count == -1 else count, maxside)
    return pairs_reply(c, items, True, c.resp == 3 and count != -1)


@command("zpopmin", -2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G, since="5.0.0",
         summary="Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
         complexity="O(log(N)*M)")
def zpopmin(c: Client, argv: list[bytes]) -> object:
    return _zpop(c, argv, False)


@command("zpopmax", -2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G, since="5.0.0",
         summary="Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
         complexity="O(log(N)*M)")
def zpopmax(c: Client, argv: list[bytes]) -> object:
    return _zpop(c, argv, True)


def _parse_zmpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    numkeys = parse_int(argv[numkeys_idx], "numkeys should be greater than 0")
    if numkeys < 1:
        raise RespError("numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise syntax_error()
    w = argv[where_idx].lower()
    if w == b"min":
        maxside = False
    elif w == b"max":
        maxside = True
    else:
        raise syntax_error()
    count = parse_mpop_count(argv, where_idx + 1)
    return argv[numkeys_idx + 1 : where_idx], maxside, count


def _mpop_from(c: Client, key: bytes, z: ZSet, maxside: bool, count: int) -> object:
    n = min(count, len(z))
    items = _pop_items(c, key, z, count, maxside)
    c.server.emit(c.db.id, [b"ZPOPMAX" if maxside else b"ZPOPMIN", key, b"%d" % n])
    return [key, [[m, s] for s, m in items]]


@command("zmpop", -4, "write", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RW", "ACCESS", "DELETE")),),
         group=_G, since="7.0.0", summary="Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
         complexity="O(K) + O(M*log(N))")
def zmpop(c: Client, argv: list[bytes]) -> object:
    names, maxside, count = _parse_zmpop(argv, 1)
    for key in names:
        z = _get_w(c, key)
        if z is not None:
            return _mpop_from(c, key, z, maxside, count)
    return NULL_ARRAY


def _blocking_zpop(c: Client, names: list[bytes], maxside: bool, timeout: float, count: int) -> object:
    db = c.db
    st = c.blocked
    order = names
    if st is not None:
        ready = st.extra.get("ready")
        if ready is not None and ready in names:
            order = [ready]
    for key in order:
        z = db.lookup_write(key)
        if z is None:
            continue
        if type(z) is not ZSet:
            if st is not None:
                continue
            raise WrongTypeError()
        if not z:
            continue
        if count == -1:
            items = _pop_items(c, key, z, 1, maxside)
            c.server.emit(db.id, [b"ZPOPMAX" if maxside else b"ZPOPMIN", key])
            s, m = items[0]
            return [key, m, s]
        return _mpop_from(c, key, z, maxside, count)
    srv = c.server
    if not srv.can_block(c):
        return NULL_ARRAY
    return srv.block(c, names, timeout, timeout_reply=NULL_ARRAY)


@command("bzpopmin", -3, "write noscript blocking fast", keys=keys(1, -2, flags="RW ACCESS DELETE"), group=_G,
         since="5.0.0", summary="Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
         complexity="O(log(N))")
def bzpopmin(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[-1])
    return _blocking_zpop(c, argv[1:-1], False, timeout, -1)


@command("bzpopmax", -3, "write noscript blocking fast", keys=keys(1, -2, flags="RW ACCESS DELETE"), group=_G,
         since="5.0.0", summary="Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
         complexity="O(log(N))")
def bzpopmax(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[-1])
    return _blocking_zpop(c, argv[1:-1], True, timeout, -1)


@command("bzmpop", -5, "write blocking", keys=(KeySpec(begin=2, keynum=0, firstkey=1, flags=("RW", "ACCESS", "DELETE")),),
         group=_G, since="7.0.0", summary="Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
         complexity="O(K) + O(M*log(N))")
def bzmpop(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[1])
    names, maxside, count = _parse_zmpop(argv, 2)
    return _blocking_zpop(c, names, maxside, timeout, count)


# -- ZRANDMEMBER / ZSCAN -------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.2.0",
         summary="Returns one or more random members from a sorted set.", complexity="O(N)",
         tips="nondeterministic_output")
def zrandmember(c: Client, argv: list[bytes]) -> object:
    if len(argv) >= 3:
        cnt = parse_range_long(argv[2], -LONG_MAX, LONG_MAX)
        withscores = False
        if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
            raise syntax_error()
        if len(argv) == 4:
            withscores = True
            if cnt < -LONG_MAX // 2 or cnt > LONG_MAX // 2:
                raise RespError("value is out of range")
        z = _read(c, argv[1])
        if z is None or cnt == 0:
            return []
        members = list(z.dict)
        if cnt < 0:
            picks = random.choices(members, k=c.reply_elements(-cnt))
        elif cnt >= len(z):
            picks = [m for _s, m in z.sl]
        else:
            picks = random.sample(members, cnt)
        d = z.dict
        return pairs_reply(c, [(d[m], m) for m in picks], withscores)
    z = _read(c, argv[1])
    if z is None:
        return None
    return z.sl[random.randrange(len(z))][1]


@command("zscan", -3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.0",
         summary="Iterates over members and scores of a sorted set.", complexity="O(1) per call",
         tips="nondeterministic_output")
def zscan(c: Client, argv: list[bytes]) -> object:
    parse_cursor(argv[2])
    z = _read(c, argv[1])
    if z is None:
        return scan_reply(c, argv, None, True, None)
    d = z.dict

    def score_of(m: bytes) -> bytes:
        return format_double(d[m])

    if not z.big:
        return scan_reply(c, argv, [m for _s, m in z.sl], True, score_of)
    return scan_reply(c, argv, d, False, score_of)


# -- ZUNION / ZINTER / ZDIFF ------------------------------------------------------------------------


def _setop_keys(numkeys_idx: int) -> Any:
    def get_keys(argv: Any) -> list[int]:
        out = [1] if numkeys_idx == 2 else []
        try:
            n = int(argv[numkeys_idx])
        except (ValueError, IndexError):
            return out
        if n <= 0 or numkeys_idx + n >= len(argv):
            return out
        return out + list(range(numkeys_idx + 1, numkeys_idx + 1 + n))

    return get_keys


_SUM: Final = 0
_MIN: Final = 1
_MAX: Final = 2
_UNION: Final = 0
_INTER: Final = 1
_DIFF: Final = 2


def _agg(a: float, b: float, how: int) -> float:
    if how == _SUM:
        r = a + b
        return 0.0 if r != r else r
    if how == _MIN:
        return a if a < b else b
    return a if a > b else b


def _setop(c: Client, argv: list[bytes], numkeys_idx: int, op: int, store: bytes | None, card_only: bool) -> object:
    setnum = parse_int(argv[numkeys_idx])
    name = argv[0].decode("utf-8", "replace").lower()
    if setnum < 1:
        raise RespError(f"at least 1 input key is needed for '{name}' command")
    if setnum > len(argv) - (numkeys_idx + 1):
        raise syntax_error()
    db = c.db
    srcs: list[Any] = []
    j = numkeys_idx + 1
    for _ in range(setnum):
        o = db.lookup_read(argv[j])
        if o is not None and type(o) is not ZSet and type(o) is not Set:
            raise WrongTypeError()
        srcs.append(o)
        j += 1
    weights = [1.0] * setnum
    how = _SUM
    withscores = False
    limit = 0
    n = len(argv)
    while j < n:
        remaining = n - j
        o = argv[j].lower()
        if op != _DIFF and not card_only and remaining >= setnum + 1 and o == b"weights":
            j += 1
            for i in range(setnum):
                weights[i] = parse_float(argv[j], "weight value is not a float")
                j += 1
        elif op != _DIFF and not card_only and remaining >= 2 and o == b"aggregate":
            a = argv[j + 1].lower()
            if a == b"sum":
                how = _SUM
            elif a == b"min":
                how = _MIN
            elif a == b"max":
                how = _MAX
            else:
                raise syntax_error()
            j += 2
        elif remaining >= 1 and store is None and not card_only and o == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and o == b"limit":
            limit = parse_int(argv[j + 1], "LIMIT can't be negative")
            if limit < 0:
                raise RespError("LIMIT can't be negative")
            j += 2
        else:
            raise syntax_error()

    def items_of(o: Any) -> Any:
        if o is None:
            return ()
        if type(o) is ZSet:
            return o.dict.items()
        return ((m, 1.0) for m in o)

    def score_in(o: Any, m: bytes) -> float | None:
        if o is None:
            return None
        if type(o) is ZSet:
            return o.dict.get(m)  # type: ignore[no-any-return]
        return 1.0 if m in o else None

    result: dict[bytes, float] = {}
    if op == _INTER:
        order = sorted(range(setnum), key=lambda i: len(srcs[i]) if srcs[i] is not None else 0)
        first = order[0]
        if srcs[first]:
            rest = order[1:]
            count = 0
            for m, s in items_of(srcs[first]):
                sc = s * weights[first]
                if sc != sc:
                    sc = 0.0
                ok = True
                for i in rest:
                    v = score_in(srcs[i], m)
                    if v is None:
                        ok = False
                        break
                    w = v * weights[i]
                    if w != w:
                        w = 0.0
                    sc = _agg(sc, w, how)
                if ok:
                    if card_only:
                        count += 1
                        if limit and count >= limit:
                            break
                        continue
                    result[m] = sc
            if card_only:
                return count
        elif card_only:
            return 0
    elif op == _UNION:
        for i in range(setnum):
            w = weights[i]
            for m, s in items_of(srcs[i]):
                sc = s * w
                if sc != sc:
                    sc = 0.0
                cur = result.get(m)
                result[m] = sc if cur is None else _agg(cur, sc, how)
    else:
        base = srcs[0]
        if base:
            others = [o for o in srcs[1:] if o]
            for m, s in items_of(base):
                if not any(score_in(o, m) is not None for o in others):
                    result[m] = s
    if store is not None:
        return _store(c, store, list(result.items()), argv[0].lower())
    items = sorted((s, m) for m, s in result.items())
    return pairs_reply(c, items, withscores)


@command("zunionstore", -4, "write denyoom", keys=keys(1, flags="OW UPDATE") + (KeySpec(begin=2, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="2.0.0", summary="Stores the union of multiple sorted sets in a key.",
         complexity="O(N)+O(M log(M))")
def zunionstore(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 2, _UNION, argv[1], False)


@command("zinterstore", -4, "write denyoom", keys=keys(1, flags="OW UPDATE") + (KeySpec(begin=2, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="2.0.0", summary="Stores the intersect of multiple sorted sets in a key.",
         complexity="O(N*K)+O(M*log(M))")
def zinterstore(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 2, _INTER, argv[1], False)


@command("zdiffstore", -4, "write denyoom", keys=keys(1, flags="OW UPDATE") + (KeySpec(begin=2, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="6.2.0", summary="Stores the difference of multiple sorted sets in a key.",
         complexity="O(L + (N-K)log(N))")
def zdiffstore(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 2, _DIFF, argv[1], False)


@command("zunion", -3, "readonly", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="6.2.0", summary="Returns the union of multiple sorted sets.",
         complexity="O(N)+O(M*log(M))")
def zunion(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 1, _UNION, None, False)


@command("zinter", -3, "readonly", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="6.2.0", summary="Returns the intersect of multiple sorted sets.",
         complexity="O(N*K)+O(M*log(M))")
def zinter(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 1, _INTER, None, False)


@command("zdiff", -3, "readonly", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="6.2.0", summary="Returns the difference between multiple sorted sets.",
         complexity="O(L + (N-K)log(N))")
def zdiff(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 1, _DIFF, None, False)


@command("zintercard", -3, "readonly", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RO", "ACCESS")),),
         group=_G, since="7.0.0", summary="Returns the number of members of the intersect of multiple sorted sets.",
         complexity="O(N*K)")
def zintercard(c: Client, argv: list[bytes]) -> object:
    return _setop(c, argv, 1, _INTER, None, True)
