"""String commands (Redis's t_string.c): GET/SET and friends, counters, ranges, LCS.

Strings are stored as immutable ``bytes``: a change in place (APPEND, SETRANGE,
INCR ...) stores a new value with ``db.set(..., keep_ttl=True)``, which records
the undo entry and touches the key.  Relative expiries are propagated as
absolute ``PXAT``/``PEXPIREAT`` effects, INCRBYFLOAT as ``SET ... KEEPTTL``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

from moonkv.commands._util import I64_MAX, I64_MIN, parse_int
from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import (
    NAN_OR_INF,
    OVERFLOW,
    RespError,
    WrongTypeError,
    not_float,
    syntax_error,
    wrong_arity,
)
from moonkv.keyspace.events import EXPIRED, GENERIC, STRING

_G: Final = "string"
_MAX_BULK_ERR: Final = "string exceeds maximum allowed size (proto-max-bulk-len)"


def get_string(c: Client, key: bytes) -> bytes | None:
    """The string at ``key`` for a read (counts hits/misses); WRONGTYPE for other types."""
    return c.db.read_typed(key, bytes)  # type: ignore[no-any-return]


def write_string(c: Client, key: bytes) -> bytes | None:
    """The string at ``key`` for a write (no stats); WRONGTYPE for other types."""
    return c.db.get_typed(key, bytes)  # type: ignore[no-any-return]


def check_string_length(c: Client, size: int, append: int) -> None:
    """Redis's checkStringLength: the result may not exceed proto-max-bulk-len."""
    if size + append > c.server.config["proto-max-bulk-len"]:
        raise RespError(_MAX_BULK_ERR)


# -- GET / SET family ----------------------------------------------------------

@command("get", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns the string value of a key.")
def get(c: Client, argv: list[bytes]) -> object:
    v = c.db.lookup_read(argv[1])
    if v is not None and type(v) is not bytes:
        raise WrongTypeError()
    return v


# Option bits shared by SET and GETEX (parseExtendedStringArgumentsOrReply).
_NX: Final = 1
_XX: Final = 2
_GET: Final = 4
_KEEPTTL: Final = 8
_PERSIST: Final = 16
_EX: Final = 32
_PX: Final = 64
_EXAT: Final = 128
_PXAT: Final = 256
_UNITS: Final = _EX | _PX | _EXAT | _PXAT
_UNIT_OF: Final = {b"ex": _EX, b"px": _PX, b"exat": _EXAT, b"pxat": _PXAT}


def _parse_ext(argv: list[bytes], is_set: bool) -> tuple[int, bytes | None]:
    """Parse SET/GETEX options from argv[3:] (SET) or argv[2:] (GETEX)."""
    flags = 0
    expire: bytes | None = None
    n = len(argv)
    i = 3 if is_set else 2
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx" and is_set and not flags & _XX:
            flags |= _NX
        elif opt == b"xx" and is_set and not flags & _NX:
            flags |= _XX
        elif opt == b"get" and is_set:
            flags |= _GET
        elif opt == b"keepttl" and is_set and not flags & (_PERSIST | _UNITS):
            flags |= _KEEPTTL
        elif opt == b"persist" and not is_set and not flags & (_UNITS | _KEEPTTL):
            flags |= _PERSIST
        elif opt in _UNIT_OF and i + 1 < n:
            unit = _UNIT_OF[opt]
            if flags & (_KEEPTTL | _PERSIST | (_UNITS & ~unit)):
                raise syntax_error()
            flags |= unit
            expire = argv[i + 1]
            i += 1
        else:
            raise syntax_error()
        i += 1
    return flags, expire


def _expire_ms(c: Client, raw: bytes, flags: int, name: str) -> int:
    """getExpireMillisecondsOrReply: absolute ms from an EX/PX/EXAT/PXAT argument."""
    t = parse_int(raw)
    seconds = flags & (_EX | _EXAT)
    if t <= 0 or (seconds and t > I64_MAX // 1000):
        raise RespError(f"invalid expire time in '{name}' command")
    if seconds:
        t *= 1000
    if flags & (_EX | _PX):
        t += c.db.ks.now_ms()
        if t > I64_MAX:
            raise RespError(f"invalid expire time in '{name}' command")
    return t


def _set_generic(c: Client, key: bytes, value: bytes, flags: int, expire_ms: int | None) -> object:
    db = c.db
    old = db.lookup_read(key) if flags & _GET else db.get(key)
    if flags & _GET:
        if old is not None and type(old) is not bytes:
            raise WrongTypeError()
        reply: object = old
    else:
        reply = "OK"
    if (flags & _NX and old is not None) or (flags & _XX and old is None):
        if old is not None and not flags & _GET:
            db.accessed(key)  # (Redis's lookup for writing found it)
        return old if flags & _GET else None
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    db.notify(STRING, b"set", key)
    if expire_ms is not None:
        srv = c.server
        db.notify(GENERIC, b"expire", key)
        if flags & (_EXAT | _PXAT) and expire_ms <= db.ks.now_ms() and not c.in_script:
            # Already in the past: the key is gone at once (propagated as DEL), and
            # expired as Redis announces it when its next access or cycle finds it.
            # Only an absolute time can be: EX/PX counted from the command's start, and
            # the clock moving on during the command (1 ms on a loaded machine) must not
            # delete a key Redis keeps until it is next found expired.
            db.delete(key)
            db.ks.expired_keys += 1
            db.notify(EXPIRED, b"expired", key)
            srv.emit(db.id, [b"DEL", key])
            return reply
        db.set_expire(key, expire_ms)
        srv.emit(db.id, [b"SET", key, value, b"PXAT", b"%d" % expire_ms])
    return reply


@command("set", -3, "write denyoom", group=_G,
         keys=keys(1, flags="RW ACCESS UPDATE VARIABLE_FLAGS", notes="RW and ACCESS due to the optional `GET` argument"),
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
         complexity="O(1)")
def set_(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 3:
        db = c.db
        db.set(argv[1], argv[2])
        if db.ks.events:
            db.notify(STRING, b"set", argv[1])
        return "OK"
    flags, raw = _parse_ext(argv, True)
    ms = _expire_ms(c, raw, flags, "set") if raw is not None else None
    return _set_generic(c, argv[1], argv[2], flags, ms)


@command("setnx", 3, "write denyoom fast", keys=keys(1, flags="OW INSERT"), group=_G,
         summary="Set the string value of a key only when the key doesn't exist.")
def setnx(c: Client, argv: list[bytes]) -> object:
    db = c.db
    if db.lookup_write(argv[1]) is not None:
        return 0
    db.set(argv[1], argv[2])
    db.notify(STRING, b"set", argv[1])
    return 1


def _setex(c: Client, argv: list[bytes], unit: int, name: str) -> object:
    ms = _expire_ms(c, argv[2], unit, name)
    return _set_generic(c, argv[1], argv[3], 0, ms)


@command("setex", 4, "write denyoom", keys=keys(1, flags="OW UPDATE"), group=_G, since="2.0.0",
         summary="Sets the string value and expiration time of a key. Creates the key if it doesn't exist.")
def setex(c: Client, argv: list[bytes]) -> object:
    return _setex(c, argv, _EX, "setex")


@command("psetex", 4, "write denyoom", keys=keys(1, flags="OW UPDATE"), group=_G, since="2.6.0",
         summary="Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.")
def psetex(c: Client, argv: list[bytes]) -> object:
    return _setex(c, argv, _PX, "psetex")


@command("getset", 3, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Returns the previous string value of a key after setting it to a new value.")
def getset(c: Client, argv: list[bytes]) -> object:
    old = get_string(c, argv[1])
    c.db.set(argv[1], argv[2])
    c.db.notify(STRING, b"set", argv[1])
    c.server.emit(c.db.id, [b"SET", argv[1], argv[2]])
    return old


@command("getdel", 2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G, since="6.2.0",
         summary="Returns the string value of a key after deleting the key.")
def getdel(c: Client, argv: list[bytes]) -> object:
    v = get_string(c, argv[1])
    if v is not None:
        c.db.delete(argv[1])
        c.db.notify(GENERIC, b"del", argv[1])
        c.server.emit(c.db.id, [b"DEL", argv[1]])
    return v


@command("getex", -2, "write fast", group=_G,
         keys=keys(1, flags="RW ACCESS UPDATE", notes="RW and UPDATE because it changes the TTL"), since="6.2.0",
         summary="Returns the string value of a key after setting its expiration time.")
def getex(c: Client, argv: list[bytes]) -> object:
    flags, raw = _parse_ext(argv, False)
    ms = _expire_ms(c, raw, flags, "getex") if raw is not None else None
    key = argv[1]
    v = get_string(c, key)
    if v is None:
        return None
    db = c.db
    srv = c.server
    if ms is not None:
        if flags & (_EXAT | _PXAT) and ms <= db.ks.now_ms():
            db.delete(key)
            db.notify(GENERIC, b"del", key)
            srv.emit(db.id, [b"DEL", key])
        else:
            db.set_expire(key, ms)
            db.notify(GENERIC, b"expire", key)
            srv.emit(db.id, [b"PEXPIREAT", key, b"%d" % ms])
    elif flags & _PERSIST:
        if db.persist(key):
            db.notify(GENERIC, b"persist", key)
            srv.emit(db.id, [b"PERSIST", key])
    return v


@command("mget", -2, "readonly fast", tips="request_policy:multi_shard", keys=keys(1, -1, flags="RO ACCESS"), group=_G,
         summary="Atomically returns the string values of one or more keys.",
         complexity="O(N) where N is the number of keys to retrieve.")
def mget(c: Client, argv: list[bytes]) -> object:
    lr = c.db.lookup_read
    out: list[bytes | None] = []
    append = out.append
    for k in argv[1:]:
        v = lr(k)
        append(v if type(v) is bytes else None)
    return out


@command("mset", -3, "write denyoom", tips="request_policy:multi_shard response_policy:all_succeeded", keys=keys(1, -1, step=2, flags="OW UPDATE"), group=_G, since="1.0.1",
         summary="Atomically creates or modifies the string values of one or more keys.",
         complexity="O(N) where N is the number of keys to set.")
def mset(c: Client, argv: list[bytes]) -> object:
    n = len(argv)
    if not n & 1:
        raise wrong_arity("mset")
    db = c.db
    s = db.set
    if db.ks.events:
        for i in range(1, n, 2):
            s(argv[i], argv[i + 1])
            db.notify(STRING, b"set", argv[i])
        return "OK"
    for i in range(1, n, 2):
        s(argv[i], argv[i + 1])
    return "OK"


@command("msetnx", -3, "write denyoom", tips="request_policy:multi_shard response_policy:agg_min", keys=keys(1, -1, step=2, flags="OW INSERT"), group=_G, since="1.0.1",
         summary="Atomically modifies the string values of one or more keys only when all keys don't exist.",
         complexity="O(N) where N is the number of keys to set.")
def msetnx(c: Client, argv: list[bytes]) -> object:
    n = len(argv)
    if not n & 1:
        raise wrong_arity("msetnx")
    db = c.db
    for i in range(1, n, 2):
        if db.lookup_write(argv[i]) is not None:
            return 0
    for i in range(1, n, 2):
        db.set(argv[i], argv[i + 1])
        db.notify(STRING, b"set", argv[i])
    return 1


@command("append", 3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G, since="2.0.0",
         summary="Appends a string to the value of a key. Creates the key if it doesn't exist.")
def append(c: Client, argv: list[bytes]) -> object:
    key, tail = argv[1], argv[2]
    old = write_string(c, key)
    if old is None:
        new = tail
    else:
        check_string_length(c, len(old), len(tail))
        new = old + tail
    c.db.set(key, new, keep_ttl=True)
    c.db.notify(STRING, b"append", key)
    return len(new)


@command("strlen", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G, since="2.2.0",
         summary="Returns the length of a string value.")
def strlen(c: Client, argv: list[bytes]) -> object:
    v = get_string(c, argv[1])
    return 0 if v is None else len(v)


# -- counters ------------------------------------------------------------------

def _incr(c: Client, key: bytes, incr: int) -> object:
    db = c.db
    v = db.get(key)  # (an access: counted by the set, or before an error)
    try:
        if v is None:
            cur = 0
        elif type(v) is not bytes:
            raise WrongTypeError()
        elif v.isdigit() and len(v) < 19 and (v[0] != 48 or len(v) == 1):
            cur = int(v)  # fast path: a plain non-negative decimal that fits
        else:
            cur = parse_int(v)
        new = cur + incr
        if new > I64_MAX or new < I64_MIN:
            raise RespError(OVERFLOW)
    except RespError:
        if v is not None:
            db.accessed(key)
        raise
    db.set(key, b"%d" % new, keep_ttl=True)
    db.notify(STRING, b"incrby", key)
    return new


@command("incr", 2, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def incr(c: Client, argv: list[bytes]) -> object:
    return _incr(c, argv[1], 1)


@command("decr", 2, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def decr(c: Client, argv: list[bytes]) -> object:
    return _incr(c, argv[1], -1)


@command("incrby", 3, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
def incrby(c: Client, argv: list[bytes]) -> object:
    return _incr(c, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.")
def decrby(c: Client, argv: list[bytes]) -> object:
    n = parse_int(argv[2])
    if n == I64_MIN:
        raise RespError("decrement would overflow")
    return _incr(c, argv[1], -n)


# INCRBYFLOAT works on x87 80-bit long doubles in Redis (64-bit significand).
# We compute exactly with rationals and round to that precision after each step,
# then print like "%.17Lf" with trailing zeros removed (ld2string, LD_STR_HUMAN).

_LD_BITS: Final = 64
_LD_MIN_EXP: Final = -16382 - 63  # exponent of the least subnormal (as integer * 2**e)
_LD_MAX_K: Final = 16383  # largest binary exponent of a finite value
_LD_INF: Final = None  # what the helpers return for an infinite value
_STRTOLD_DEC: Final = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_STRTOLD_HEX: Final = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_STRTOLD_INF: Final = re.compile(rb"([+-]?)inf(?:inity)?\Z", re.IGNORECASE)


_CHUNK: Final = 10**4000  # Python refuses int<->str conversions above 4300 digits: go by chunks


def _dec_to_int(d: bytes) -> int:
    v = 0
    for i in range(0, len(d), 4000):
        part = d[i:i + 4000]
        v = v * 10 ** len(part) + int(part)
    return v


def _int_to_dec(v: int) -> bytes:
    if v < _CHUNK:
        return b"%d" % v
    hi, lo = divmod(v, _CHUNK)
    return _int_to_dec(hi) + (b"%d" % lo).rjust(4000, b"0")


def _ld_round(x: Fraction) -> Fraction | None:
    """Round an exact value to the nearest long double (ties to even); _LD_INF on overflow."""
    if x == 0:
        return x
    neg = x < 0
    n, d = (-x.numerator if neg else x.numerator), x.denominator
    k = n.bit_length() - d.bit_length()  # floor(log2(n/d)) is k or k-1
    if (n < d << k) if k >= 0 else ((n << -k) < d):
        k -= 1
    if k > _LD_MAX_K:
        return _LD_INF
    e = max(k - (_LD_BITS - 1), _LD_MIN_EXP)
    if e >= 0:
        q, r = divmod(n, d << e)
        den = d << e
    else:
        q, r = divmod(n << -e, d)
        den = d
    r2 = 2 * r
    if r2 > den or (r2 == den and q & 1):
        q += 1
    if q.bit_length() + e - 1 > _LD_MAX_K:
        return _LD_INF
    v = Fraction(q << e) if e >= 0 else Fraction(q, 1 << -e)
    return -v if neg else v


def parse_long_double(b: bytes) -> Fraction | None:
    """Redis's string2ld (strtold): exact value rounded to a long double (None: +-inf)."""
    if not b or len(b) >= 5 * 1024 or b[0] in b" \t\n\r\v\f":
        raise not_float()
    m = _STRTOLD_DEC.match(b)
    if m is not None:
        sign, ip, fp, ex = m.groups()
        if not ip and not fp:
            raise not_float()
        digits = (ip or b"") + (fp or b"")
        exp = int(ex) if ex else 0
        exp -= len(fp or b"")
        digits = digits.lstrip(b"0")
        if not digits:
            return Fraction(0)
        mant = _dec_to_int(digits)
        nd = len(digits)
        # Outside the long double range: strtold fails with ERANGE.
        if exp + nd - 1 > 4933 or exp + nd < -4952:
            raise not_float()
        x = Fraction(mant * 10**exp) if exp >= 0 else Fraction(mant, 10**-exp)
    else:
        m = _STRTOLD_HEX.match(b)
        if m is not None:
            sign, ip, fp, ex = m.groups()
            if not ip and not fp:
                raise not_float()
            mant = int((ip or b"") + (fp or b"") or b"0", 16)
            exp = (int(ex) if ex else 0) - 4 * len(fp or b"")
            if mant == 0:
                return Fraction(0)
            top = mant.bit_length() + exp
            if top > _LD_MAX_K + 2 or top < _LD_MIN_EXP - 2:
                raise not_float()
            x = Fraction(mant << exp) if exp >= 0 else Fraction(mant, 1 << -exp)
        else:
            m = _STRTOLD_INF.match(b)
            if m is None:
                raise not_float()
            return _LD_INF
    if sign == b"-":
        x = -x
    r = _ld_round(x)
    if r is None or r == 0:
        raise not_float()  # ERANGE: overflow or underflow to zero
    return r


def format_long_double(x: Fraction) -> bytes:
    """printf("%.17Lf") of an exact long double value, trailing zeros and '.' removed."""
    neg = x < 0
    n, d = (-x.numerator if neg else x.numerator), x.denominator
    q, r = divmod(n * 10**17, d)
    r2 = 2 * r
    if r2 > d or (r2 == d and q & 1):
        q += 1
    s = _int_to_dec(q).rjust(18, b"0")
    ip, fp = s[:-17], s[-17:].rstrip(b"0")
    out = ip + b"." + fp if fp else ip
    if neg and out != b"0":
        out = b"-" + out
    return out


@command("incrbyfloat", 3, "write denyoom fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         since="2.6.0", summary="Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.")
def incrbyfloat(c: Client, argv: list[bytes]) -> object:
    key = argv[1]
    v = write_string(c, key)
    cur = parse_long_double(v) if v is not None else Fraction(0)
    inc = parse_long_double(argv[2])
    if cur is None or inc is None:
        raise RespError(NAN_OR_INF)  # an infinite operand gives inf or NaN
    total = _ld_round(cur + inc)
    if total is None:
        raise RespError(NAN_OR_INF)
    new = format_long_double(total)
    db = c.db
    db.set(key, new, keep_ttl=True)
    db.notify(STRING, b"incrbyfloat", key)
    c.server.emit(db.id, [b"SET", key, new, b"KEEPTTL"])
    return new


# -- ranges ----------------------------------------------------------------------

@command("getrange", 4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.4.0",
         summary="Returns a substring of the string stored at a key.",
         complexity="O(N) where N is the length of the returned string.")
def getrange(c: Client, argv: list[bytes]) -> object:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    v = get_string(c, argv[1])
    if v is None:
        return b""
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return v[start:end + 1]


@command("substr", 4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="1.0.0",
         summary="Returns a substring from a string value.",
         complexity="O(N) where N is the length of the returned string.")
def substr(c: Client, argv: list[bytes]) -> object:
    return getrange(c, argv)


@command("setrange", 4, "write denyoom", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.2.0",
         summary="Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.")
def setrange(c: Client, argv: list[bytes]) -> object:
    key, value = argv[1], argv[3]
    offset = parse_int(argv[2])
    if offset < 0:
        raise RespError("offset is out of range")
    old = write_string(c, key)
    if old is None:
        if not value:
            return 0
        check_string_length(c, offset, len(value))
        new = bytes(offset) + value
    else:
        if not value:
            return len(old)
        check_string_length(c, offset, len(value))
        n = len(old)
        if offset > n:
            new = old + bytes(offset - n) + value
        else:
            new = old[:offset] + value + old[offset + len(value):]
    c.db.set(key, new, keep_ttl=True)
    c.db.notify(STRING, b"setrange", key)
    return len(new)


# -- LCS -----------------------------------------------------------------------------

def _lcs_rows(a: bytes, b: bytes) -> list[int]:
    """Bit-parallel LCS rows (Hyyro): rows[i] has bit j clear where LCS(i, j+1) > LCS(i, j).

    LCS(i, j) == j - popcount(rows[i] & ((1 << j) - 1)).
    """
    m = len(b)
    full = (1 << m) - 1
    masks: dict[int, int] = {}
    for j, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | (1 << j)
    v = full
    rows = [v]
    for ch in a:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
        rows.append(v)
    return rows


@command("lcs", -3, "readonly", keys=keys(1, 1, flags="RO ACCESS"), group=_G, since="7.0.0",
         summary="Finds the longest common substring.",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively")
def lcs(c: Client, argv: list[bytes]) -> object:
    db = c.db
    va = db.lookup_read(argv[1])
    vb = db.lookup_read(argv[2])
    if (va is not None and type(va) is not bytes) or (vb is not None and type(vb) is not bytes):
        raise RespError("The specified keys must contain string values")
    a: bytes = va or b""
    b: bytes = vb or b""
    getidx = getlen = withmatchlen = False
    minmatchlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j + 1 < n:
            minmatchlen = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise syntax_error()
        j += 1
    if getidx and getlen:
        raise RespError("If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > c.server.config["proto-max-bulk-len"]:
        raise RespError("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    rows = _lcs_rows(a, b)

    def at(i: int, jj: int) -> int:
        return jj - (rows[i] & ((1 << jj) - 1)).bit_count()

    total = at(alen, blen)
    if getlen:
        return total
    result = bytearray(total)
    idx = total
    matches: list[object] = []
    arange_start = alen  # alen: no range in progress
    arange_end = brange_start = brange_end = 0
    i, jj = alen, blen
    while i > 0 and jj > 0:
        emit = False
        if a[i - 1] == b[jj - 1]:
            result[idx - 1] = a[i - 1]
            if arange_start == alen:
                arange_start = arange_end = i - 1
                brange_start = brange_end = jj - 1
            elif arange_start == i and brange_start == jj:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            idx -= 1
            i -= 1
            jj -= 1
        else:
            if at(i - 1, jj) > at(i, jj - 1):
                i -= 1
            else:
                jj -= 1
            if arange_start != alen:
                emit = True
        if emit:
            match_len = arange_end - arange_start + 1
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                item: list[object] = [[arange_start, arange_end], [brange_start, brange_end]]
                if withmatchlen:
                    item.append(match_len)
                matches.append(item)
            arange_start = alen
    if getidx:
        return {b"matches": matches, b"len": total}
    return bytes(result)
