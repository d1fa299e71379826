"""Hash commands (and the SCAN-family helper shared by HSCAN/SSCAN/ZSCAN)."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from fractions import Fraction
from itertools import islice
from typing import Any, Final

from moonkv.commands._util import glob_match, parse_cursor, parse_int
from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error
from moonkv.keyspace.events import GENERIC, HASH
from moonkv.keyspace.types import _limits
from moonkv.keyspace.types.hash import Hash

_G: Final = "hash"
LONG_MAX: Final = 2**63 - 1


# -- shared helpers -------------------------------------------------------------


def parse_range_long(b: bytes, lo: int, hi: int) -> int:
    """Redis's getRangeLongFromObjectOrReply with the default message."""
    v = parse_int(b)
    if v < lo or v > hi:
        raise RespError(f"value is out of range, value must between {lo} and {hi}")
    return v


# Python's dicts and sets have no cursor-friendly iteration (no slot access), so a
# big container's scan walks a snapshot of its elements taken by the first call
# (cursor 0): cursor = token << 32 | position.  Elements present for the whole
# iteration are in the snapshot and are returned (each reply is filtered by current
# membership); elements added meanwhile may be missed, as Redis allows.  Snapshots
# live in a bounded LRU; a cursor whose snapshot was evicted (or comes from another
# process) restarts the walk on a fresh snapshot, which only adds duplicates.
_SNAPSHOTS: Final[OrderedDict[int, tuple[int, list[bytes]]]] = OrderedDict()
_SNAP_BUDGET: Final = 4_000_000  # elements kept in all snapshots together
_snap_total = 0


def _snap_put(token: int, owner: int, keys: list[bytes]) -> None:
    global _snap_total
    _SNAPSHOTS[token] = (owner, keys)
    _snap_total += len(keys)
    while _snap_total > _SNAP_BUDGET and len(_SNAPSHOTS) > 1:
        _t, (_o, old) = _SNAPSHOTS.popitem(last=False)
        _snap_total -= len(old)


def _snap_drop(token: int) -> None:
    global _snap_total
    e = _SNAPSHOTS.pop(token, None)
    if e is not None:
        _snap_total -= len(e[1])


def _scan_big(container: Any, cursor: int, count: int) -> tuple[list[bytes], int]:
    token, pos = cursor >> 32, cursor & 0xFFFFFFFF
    entry = _SNAPSHOTS.get(token) if token else None
    if entry is None or entry[0] != id(container):
        keys = list(container)
        token = random.randrange(1, 1 << 31)
        while token in _SNAPSHOTS:
            token = random.randrange(1, 1 << 31)
        _snap_put(token, id(container), keys)
        pos = 0
    else:
        keys = entry[1]
        _SNAPSHOTS.move_to_end(token)
    end = min(len(keys), pos + count)
    out = [k for k in keys[pos:end] if k in container]
    if end >= len(keys):
        _snap_drop(token)
        return out, 0
    return out, (token << 32) | end


def scan_reply(
    c: Client,
    argv: list[bytes],
    container: Any,
    small: bool,
    pair: Callable[[bytes], bytes] | None,
) -> list[object]:
    """HSCAN/SSCAN/ZSCAN: ``argv`` is CMD key cursor [MATCH p] [COUNT n].

    Small encodings return everything at once (cursor 0), as Redis does; big
    ones walk a snapshot (see ``_scan_big``).
    """
    cursor = parse_cursor(argv[2])
    count = 10
    pat: bytes | None = None
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and i + 1 < n:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise syntax_error()
        elif opt == b"match" and i + 1 < n:
            pat = None if argv[i + 1] == b"*" else argv[i + 1]  # "*" matches all: no filter
        else:
            raise syntax_error()
        i += 2
    if container is None:
        return [b"0", []]
    items: Iterable[bytes]
    if small:
        items = list(container)
        nxt = 0
    else:
        items, nxt = _scan_big(container, cursor, count)
    out: list[object] = []
    for k in items:
        if pat is not None and not glob_match(pat, k):
            continue
        out.append(k)
        if pair is not None:
            out.append(pair(k))
    return [b"%d" % nxt, out]


# -- long double arithmetic (HINCRBYFLOAT) ----------------------------------------

_LD_MANT: Final = 64
# (as a Fraction product: a compiler folding the int would write a 4,900-digit literal)
_LD_MAX: Final = Fraction(2**64 - 1) * Fraction(2) ** (16383 - 63)


def _ld_round(x: Fraction) -> Fraction:
    """Round to the nearest x87 80-bit long double (64-bit mantissa, ties to even)."""
    if x == 0:
        return x
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    shift = _LD_MANT - 1 - max(e, -16382)
    scaled = a * (Fraction(2) ** shift)
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    return sign * Fraction(q) / (Fraction(2) ** shift)


def parse_long_double(b: bytes) -> Fraction | None:
    """strtold-like parse of a finite number (None when not valid or not finite)."""
    if not b or len(b) > 5000 or b[0] in b" \t\n\r\v\f" or b[-1] in b" \t\n\r\v\f":
        return None
    try:
        s = b.decode("ascii")
        low = s.lower()
        if "_" in s or "x" in low or "n" in low or "i" in low:
            return None
        f = _ld_round(Fraction(s))
    except (ValueError, UnicodeDecodeError, ZeroDivisionError):
        return None
    if abs(f) > _LD_MAX:
        return None
    return f


def format_long_double(x: Fraction) -> bytes:
    """ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros trimmed."""
    sign = "-" if x < 0 else ""
    a = abs(x) * 10**17
    q, r = divmod(a.numerator, a.denominator)
    if 2 * r > a.denominator or (2 * r == a.denominator and q & 1):
        q += 1
    digits = str(q).rjust(18, "0")
    ip, fp = digits[:-17], digits[-17:].rstrip("0")
    s = sign + ip + ("." + fp if fp else "")
    if s == "-0":
        s = "0"
    return s.encode()


def incr_long_double(cur: Fraction, incr: Fraction) -> Fraction:
    v = _ld_round(cur + incr)
    if abs(v) > _LD_MAX:
        raise RespError("increment would produce NaN or Infinity")
    return v


# -- hash helpers -------------------------------------------------------------------


def _read(c: Client, key: bytes) -> Hash | None:
    return c.db.read_typed(key, Hash)  # type: ignore[no-any-return]


def _write(c: Client, key: bytes) -> tuple[Hash, bool]:
    db = c.db
    h = db.lookup_write(key)
    if h is None:
        _limits.bind(c.server.config)
        h = Hash()
        db.set(key, h)
        return h, True
    if type(h) is not Hash:
        raise WrongTypeError()
    return h, False


def _undo_fields(db: Any, h: Hash, olds: list[tuple[bytes, bytes | None]]) -> None:
    """Record how to put back the fields a write changed (no effect on their order:
    a new field was the last one, an overwritten one kept its place)."""
    if db.ks.undo is None:
        return

    def undo() -> None:
        for f, v in reversed(olds):
            if v is None:
                h.pop(f, None)
            else:
                h[f] = v

    db.undo(undo)


def _undo_small(db: Any, h: Hash, items: list[tuple[bytes, bytes]]) -> None:
    """Record how to put back a small hash exactly: its ``items`` in order, small.

    A small hash (a listpack in Redis) lists its fields in insertion order, so
    a rollback must restore the order too, which per-field undo cannot after a
    deletion.  The copy is bounded by hash-max-listpack-entries; a big hash's
    order is arbitrary, as in Redis.
    """

    def undo() -> None:
        h.clear()
        h.update(items)
        h.big = False

    db.undo(undo)


# Field names of small hashes repeat across keys (session hashes share a schema), so
# new fields of listpack-size hashes are interned: one bytes object per distinct
# short name instead of one per hash.  The table is bounded; past the bound names
# are simply stored as given.
_FIELDS: Final[dict[bytes, bytes]] = {}
_FIELDS_CAP: Final = 65536


def _field(f: bytes) -> bytes:
    g = _FIELDS.get(f)
    if g is not None:
        return g
    if len(_FIELDS) < _FIELDS_CAP and len(f) <= 32:
        _FIELDS[f] = f
    return f


def _hset_pairs(c: Client, key: bytes, argv: list[bytes], start: int) -> int:
    if (len(argv) - start) % 2:
        raise RespError(f"wrong number of arguments for '{argv[0].decode('utf-8', 'replace').lower()}' command")
    h, _created = _write(c, key)
    db = c.db
    added = 0
    longest = 0
    record = db.ks.undo is not None
    was_big = h.big
    olds: list[tuple[bytes, bytes | None]] = []
    for i in range(start, len(argv), 2):
        f = argv[i]
        v = argv[i + 1]
        old = h.get(f)
        if old is None:
            added += 1
            if not h.big:
                f = _field(f)
        if record:
            olds.append((f, old))
        h[f] = v
        lf = len(f)
        lv = len(v)
        if lf > longest:
            longest = lf
        if lv > longest:
            longest = lv
    if not h.big:
        h.check_encoding(longest)
    if record:
        if h.big and not was_big:  # converted by this write: the small hash as it was
            before = dict(h)
            for f, old in reversed(olds):
                if old is None:
                    del before[f]
                else:
                    before[f] = old
            _undo_small(db, h, list(before.items()))
        else:
            _undo_fields(db, h, olds)
    db.touch(key)
    return added


# -- commands -------------------------------------------------------------------


@command("hset", -4, "write denyoom fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.0.0",
         summary="Creates or modifies the value of a field in a hash.")
def hset(c: Client, argv: list[bytes]) -> object:
    added = _hset_pairs(c, argv[1], argv, 2)
    c.db.notify(HASH, b"hset", argv[1])
    return added


@command("hmset", -4, "write denyoom fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.0.0",
         summary="Sets the values of multiple fields.")
def hmset(c: Client, argv: list[bytes]) -> object:
    _hset_pairs(c, argv[1], argv, 2)
    c.db.notify(HASH, b"hset", argv[1])
    return "OK"


@command("hsetnx", 4, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G, since="2.0.0",
         summary="Sets the value of a field in a hash only when the field doesn't exist.")
def hsetnx(c: Client, argv: list[bytes]) -> object:
    db = c.db
    h = db.lookup_write(argv[1])
    if h is not None:
        if type(h) is not Hash:
            raise WrongTypeError()
        if argv[2] in h:
            return 0
    _hset_pairs(c, argv[1], argv, 2)
    db.notify(HASH, b"hset", argv[1])
    return 1


@command("hget", 3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns the value of a field in a hash.")
def hget(c: Client, argv: list[bytes]) -> object:
    h = c.db.lookup_read(argv[1])
    if h is None:
        return None
    if type(h) is not Hash:
        raise WrongTypeError()
    return h.get(argv[2])


@command("hmget", -3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns the values of all fields in a hash.")
def hmget(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    g = h.get
    return [g(f) for f in argv[2:]]


@command("hdel", -3, "write fast", keys=keys(1, flags="RW DELETE"), group=_G, since="2.0.0",
         summary="Deletes one or more fields and their values from a hash.")
def hdel(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key = argv[1]
    h = db.lookup_write(key)
    if h is None:
        return 0
    if type(h) is not Hash:
        raise WrongTypeError()
    items = list(h.items()) if db.ks.undo is not None and not h.big else None
    olds: list[tuple[bytes, bytes | None]] = []
    for f in argv[2:]:
        v = h.pop(f, None)
        if v is not None:
            olds.append((f, v))
    if olds:
        if items is None:
            _undo_fields(db, h, olds)
        else:
            _undo_small(db, h, items)
        db.touch(key)
        db.notify(HASH, b"hdel", key)
        if not h:
            db.remove_if_empty(key, h)
            db.notify(GENERIC, b"del", key)
    return len(olds)


@command("hlen", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G, since="2.0.0",
         summary="Returns the number of fields in a hash.")
def hlen(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", keys=keys(1, flags="RO"), group=_G, since="3.2.0",
         summary="Returns the length of the value of a field.")
def hstrlen(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


@command("hexists", 3, "readonly fast", keys=keys(1, flags="RO"), group=_G, since="2.0.0",
         summary="Determines whether a field exists in a hash.")
def hexists(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    return 1 if h is not None and argv[2] in h else 0


@command("hkeys", 2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns all fields in a hash.", complexity="O(N)", tips="nondeterministic_output_order")
def hkeys(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    return [] if h is None else list(h)


@command("hvals", 2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns all values in a hash.", complexity="O(N)", tips="nondeterministic_output_order")
def hvals(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall", 2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.0.0",
         summary="Returns all fields and values in a hash.", complexity="O(N)",
         tips="nondeterministic_output_order")
def hgetall(c: Client, argv: list[bytes]) -> object:
    h = _read(c, argv[1])
    return {} if h is None else dict(h)


@command("hincrby", 4, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         since="2.0.0", summary="Increments the integer value of a field in a hash by a number.")
def hincrby(c: Client, argv: list[bytes]) -> object:
    incr = parse_int(argv[3])
    db = c.db
    key, f = argv[1], argv[2]
    h = db.lookup_write(key)
    if h is not None and type(h) is not Hash:
        raise WrongTypeError()
    cur = 0
    if h is not None:
        old = h.get(f)
        if old is not None:
            cur = parse_int(old, "hash value is not an integer")
    v = cur + incr
    if v < -(2**63) or v > LONG_MAX:
        raise RespError("increment or decrement would overflow")
    _hset_pairs(c, key, [b"", b"", f, b"%d" % v], 2)
    db.notify(HASH, b"hincrby", key)
    return v


@command("hincrbyfloat", 4, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         since="2.6.0", summary="Increments the floating point value of a field by a number.")
def hincrbyfloat(c: Client, argv: list[bytes]) -> object:
    incr = parse_long_double(argv[3])
    if incr is None:
        low = argv[3].lower()
        if low.lstrip(b"+-") in (b"inf", b"infinity"):
            raise RespError("value is NaN or Infinity")
        raise RespError("value is not a valid float")
    db = c.db
    key, f = argv[1], argv[2]
    h = db.lookup_write(key)
    if h is not None and type(h) is not Hash:
        raise WrongTypeError()
    cur = Fraction(0)
    if h is not None:
        old = h.get(f)
        if old is not None:
            p = parse_long_double(old)
            if p is None:
                raise RespError("hash value is not a float")
            cur = p
    v = incr_long_double(cur, incr)
    out = format_long_double(v)
    _hset_pairs(c, key, [b"", b"", f, out], 2)
    db.notify(HASH, b"hincrbyfloat", key)
    c.server.emit(db.id, [b"HSET", key, f, out])
    return out


@command("hrandfield", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.2.0",
         summary="Returns one or more random fields from a hash.", complexity="O(N)",
         tips="nondeterministic_output")
def hrandfield(c: Client, argv: list[bytes]) -> object:
    withvalues = False
    if len(argv) >= 3:
        cnt = parse_range_long(argv[2], -LONG_MAX, LONG_MAX)
        if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
            raise syntax_error()
        if len(argv) == 4:
            withvalues = True
            if cnt < -LONG_MAX // 2 or cnt > LONG_MAX // 2:
                raise RespError("value is out of range")
        h = _read(c, argv[1])
        if h is None or cnt == 0:
            return []
        if cnt < 0:
            fields = list(h)
            picks: list[bytes] = random.choices(fields, k=c.reply_elements(-cnt))
        elif cnt >= len(h):
            picks = list(h)
        else:
            picks = random.sample(list(h), cnt)
        if not withvalues:
            return picks
        if c.resp == 3:
            return [[f, h[f]] for f in picks]
        out: list[object] = []
        for f in picks:
            out.append(f)
            out.append(h[f])
        return out
    h = _read(c, argv[1])
    if h is None:
        return None
    return random.choice(list(h)) if len(h) < 64 else _sample(h)


def _sample(h: Hash) -> bytes:
    # dicts have no random access; skipping in C keeps this at a few ns per field.
    return next(islice(h, random.randrange(len(h)), None))  # type: ignore[no-any-return]


@command("hscan", -3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.0",
         summary="Iterates over fields and values of a hash.", complexity="O(1) per call",
         tips="nondeterministic_output")
def hscan(c: Client, argv: list[bytes]) -> object:
    parse_cursor(argv[2])
    h = _read(c, argv[1])
    if h is None:
        return scan_reply(c, argv, None, True, None)
    return scan_reply(c, argv, h, not h.big, h.__getitem__)
