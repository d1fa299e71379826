"""SORT and SORT_RO."""

from __future__ import annotations

import functools
import math
from typing import Any

from moonkv.commands._util import parse_int
from moonkv.commands.table import KeySpec, command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error
from moonkv.keyspace.events import GENERIC, LIST
from moonkv.keyspace.types.hash import Hash
from moonkv.keyspace.types.list import List
from moonkv.keyspace.types.set import Set
from moonkv.keyspace.types.zset import ZSet

_G = "generic"


def _lookup_pattern(c: Client, pattern: bytes, ele: bytes) -> bytes | None:
    """Redis's lookupKeyByPattern: "#" is the element; key*->field reads a hash field."""
    if pattern == b"#":
        return ele
    star = pattern.find(b"*")
    if star < 0:
        return None
    field: bytes | None = None
    arrow = pattern.find(b"->", star + 1)
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2 :]
        keypat = pattern[:arrow]
    else:
        keypat = pattern
    key = keypat[:star] + ele + keypat[star + 1 :]
    v = c.db.lookup_read(key)
    if v is None:
        return None
    if field is not None:
        if type(v) is not Hash:
            return None
        return v.get(field)  # type: ignore[no-any-return]
    if type(v) is not bytes:
        return None
    return v


def _strtod(b: bytes) -> float | None:
    try:
        if not b or b[-1] in b" \t\n\r\v\f" or b"_" in b:
            return None
        v = float(b)
    except ValueError:
        return None
    if math.isnan(v) or (math.isinf(v) and b.lstrip(b" \t+-").lower()[:3] != b"inf"):
        return None
    return v


def _sort(c: Client, argv: list[bytes], readonly: bool) -> object:
    key = argv[1]
    desc = alpha = False
    offset, count = 0, -1
    sortby: bytes | None = None
    dontsort = False
    gets: list[bytes] = []
    store: bytes | None = None
    j = 2
    n = len(argv)
    while j < n:
        left = n - j - 1
        o = argv[j].lower()
        if o == b"asc":
            desc = False
        elif o == b"desc":
            desc = True
        elif o == b"alpha":
            alpha = True
        elif o == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            count = parse_int(argv[j + 2])
            j += 2
        elif o == b"store" and left >= 1 and not readonly:
            store = argv[j + 1]
            j += 1
        elif o == b"by" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in sortby:
                dontsort = True
            j += 1
        elif o == b"get" and left >= 1:
            gets.append(argv[j + 1])
            j += 1
        else:
            raise syntax_error()
        j += 1
    db = c.db
    v = db.lookup_read(key)
    if v is not None and type(v) not in (List, Set, ZSet):
        raise WrongTypeError()
    if dontsort and type(v) is Set and (store is not None or c.in_script):
        dontsort = False
        alpha = True
        sortby = None
    if v is None:
        elems: list[bytes] = []
    elif type(v) is List:
        elems = list(v)
    elif type(v) is Set:
        elems = list(v) if v.big else sorted(v, key=int)
    else:
        elems = [m for _s, m in v.sl]
        if dontsort and desc:
            elems.reverse()
    total = len(elems)
    start = max(offset, 0)
    end = total - 1 if count < 0 else start + count - 1
    if start >= total:
        start, end = 0, -1
    elif end >= total:
        end = total - 1
    if not dontsort:
        if sortby is not None:
            byvals = [_lookup_pattern(c, sortby, e) for e in elems]
        else:
            byvals = list(elems)
        if alpha:
            pairs = list(zip(elems, byvals, strict=True))

            def cmp_alpha(a: tuple[bytes, bytes | None], b: tuple[bytes, bytes | None]) -> int:
                if sortby is not None:
                    x, y = a[1], b[1]
                    if x is None or y is None:
                        r = 0 if x is y else (-1 if x is None else 1)
                    else:
                        r = (x > y) - (x < y)
                else:
                    r = (a[0] > b[0]) - (a[0] < b[0])
                return -r if desc else r

            pairs.sort(key=functools.cmp_to_key(cmp_alpha))
            elems = [p[0] for p in pairs]
        else:
            scored: list[tuple[float, bytes]] = []
            for e, bv in zip(elems, byvals, strict=True):
                if bv is None:
                    scored.append((0.0, e))
                    continue
                s = _strtod(bv)
                if s is None:
                    raise RespError("One or more scores can't be converted into double")
                scored.append((s, e))
            scored.sort(reverse=desc)
            elems = [e for _s, e in scored]
    elems = elems[start : end + 1] if end >= start else []
    out: list[Any] = []
    if gets:
        for e in elems:
            for g in gets:
                out.append(_lookup_pattern(c, g, e))
    else:
        out = list(elems)
    if store is not None:
        if out:
            db.set(store, List(b"" if x is None else x for x in out))
            db.notify(LIST, b"sortstore", store)
        elif db.delete(store):
            db.notify(GENERIC, b"del", store)
        return len(out)
    return out


def _sort_keys(argv: Any) -> list[int]:
    """The sorted key and the last STORE's destination, found as Redis's sortGetKeys
    finds them: LIMIT skips two arguments, GET and BY one, anything else is stepped over."""
    out = [1]
    n = len(argv)
    i = 2
    while i < n:
        o = bytes(argv[i]).lower()
        if o == b"limit":
            i += 2
        elif o in (b"get", b"by"):
            i += 1
        elif o == b"store" and i + 1 < n:
            out[1:] = [i + 1]
        i += 1
    return out


_BY_GET_KEYS = KeySpec(
    unknown=True, flags=("RO", "ACCESS"),
    notes="For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the"
    " content of the key we sort")


@command("sort", -2, "write denyoom", group=_G,
         keys=keys(1, flags="RO ACCESS") + (_BY_GET_KEYS, KeySpec(
             unknown=True, flags=("OW", "UPDATE"),
             notes="For the optional STORE keyword. It is marked 'unknown' because the keyword can appear"
             " anywhere in the argument array")), since="1.0.0",
         summary="Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
         complexity="O(N+M*log(M))", get_keys=_sort_keys)
def sort(c: Client, argv: list[bytes]) -> object:
    return _sort(c, argv, False)


@command("sort_ro", -2, "readonly", keys=keys(1, flags="RO ACCESS") + (_BY_GET_KEYS,), group=_G, since="7.0.0",
         summary="Returns the sorted elements of a list, a set, or a sorted set.",
         complexity="O(N+M*log(M))", get_keys=lambda argv: [1])  # BY/GET patterns: movablekeys
def sort_ro(c: Client, argv: list[bytes]) -> object:
    return _sort(c, argv, True)
