"""Bitmap commands (Redis's bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD.

Bits are numbered from the most significant bit of byte 0.  Strings are
immutable ``bytes``; a change stores a new value with the TTL kept.  Large
scans (BITCOUNT, BITPOS, BITOP) work on Python big integers, which run in C.
"""

from __future__ import annotations

from typing import Final

from moonkv.commands._util import I64_MAX, parse_int
from moonkv.commands.strings import get_string, write_string
from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error
from moonkv.keyspace.events import GENERIC, STRING

_G: Final = "bitmap"
_BIT_OFFSET_ERR: Final = "bit offset is not an integer or out of range"
_BIT_ERR: Final = "bit is not an integer or out of range"
_TYPE_ERR: Final = ("Invalid bitfield type. Use something like i16 u8. "
             "Note that u64 is not supported but i64 is.")
_U64: Final = (1 << 64) - 1


def _bit_offset(c: Client, raw: bytes, hash_ok: bool = False, bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset below proto-max-bulk-len*8 (``#n`` = n*bits)."""
    use_hash = hash_ok and len(raw) > 1 and raw[0] == 35 and bits > 0
    try:
        off = parse_int(raw[1:] if use_hash else raw)
    except RespError:
        raise RespError(_BIT_OFFSET_ERR) from None
    if use_hash:
        off *= bits
        if not -(1 << 63) <= off <= I64_MAX:  # C's long long would wrap
            off = ((off + (1 << 63)) & _U64) - (1 << 63)
    if off < 0 or (off >> 3) >= c.server.config["proto-max-bulk-len"]:
        raise RespError(_BIT_OFFSET_ERR)
    return off


@command("setbit", 4, "write denyoom", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         since="2.2.0", summary="Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.")
def setbit(c: Client, argv: list[bytes]) -> object:
    off = _bit_offset(c, argv[2])
    try:
        on = parse_int(argv[3])
    except RespError:
        raise RespError(_BIT_ERR) from None
    if on & ~1:
        raise RespError(_BIT_ERR)
    key = argv[1]
    old = write_string(c, key)
    byte = off >> 3
    shift = 7 - (off & 7)
    if old is None:
        old = b""
    n = len(old)
    if byte < n:
        bv = old[byte]
        prev = (bv >> shift) & 1
        if prev == on:
            return prev
        nb = bv | (1 << shift) if on else bv & ~(1 << shift)
        new = old[:byte] + bytes((nb,)) + old[byte + 1:]
    else:
        prev = 0
        new = old + bytes(byte - n) + bytes(((on << shift),))
    c.db.set(key, new, keep_ttl=True)
    c.db.notify(STRING, b"setbit", key)
    return prev


@command("getbit", 3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.2.0",
         summary="Returns a bit value by offset.")
def getbit(c: Client, argv: list[bytes]) -> object:
    off = _bit_offset(c, argv[2])
    v = get_string(c, argv[1])
    if v is None:
        return 0
    byte = off >> 3
    if byte >= len(v):
        return 0
    return (v[byte] >> (7 - (off & 7))) & 1


def _bit_range(v: bytes, start: int, end: int, isbit: bool) -> tuple[int, int]:
    """Normalise a BITCOUNT/BITPOS range to bit positions [lo, hi] (lo > hi: empty)."""
    total = len(v) * 8 if isbit else len(v)
    if start < 0:
        start += total
    if end < 0:
        end += total
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= total:
        end = total - 1
    if isbit:
        return start, end
    return start * 8, end * 8 + 7


def _bits(v: bytes, lo: int, hi: int) -> int:
    """Bits lo..hi (inclusive, MSB-first numbering) as an integer of hi-lo+1 bits."""
    b0, b1 = lo >> 3, hi >> 3
    x = int.from_bytes(v[b0:b1 + 1], "big")
    x >>= 7 - (hi & 7)
    return x & ((1 << (hi - lo + 1)) - 1)


def _unit(arg: bytes) -> bool:
    u = arg.lower()
    if u == b"bit":
        return True
    if u == b"byte":
        return False
    raise syntax_error()


@command("bitcount", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.6.0",
         summary="Counts the number of set bits (population counting) in a string.",
         complexity="O(N)")
def bitcount(c: Client, argv: list[bytes]) -> object:
    v = get_string(c, argv[1])
    if v is None:
        return 0
    n = len(argv)
    if n == 2:
        return int.from_bytes(v, "big").bit_count()
    if n not in (4, 5):
        raise syntax_error()
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return 0
    isbit = _unit(argv[4]) if n == 5 else False
    lo, hi = _bit_range(v, start, end, isbit)
    if lo > hi:
        return 0
    if not isbit:
        return int.from_bytes(v[lo >> 3:(hi >> 3) + 1], "big").bit_count()
    return _bits(v, lo, hi).bit_count()


@command("bitpos", -3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.7",
         summary="Finds the first set (1) or clear (0) bit in a string.", complexity="O(N)")
def bitpos(c: Client, argv: list[bytes]) -> object:
    bit = parse_int(argv[2])
    if bit != 0 and bit != 1:
        raise RespError("The bit argument must be 1 or 0.")
    v = get_string(c, argv[1])
    if v is None:
        return -1 if bit else 0
    n = len(argv)
    end_given = False
    if n == 3:
        lo, hi = 0, len(v) * 8 - 1
    elif n <= 6:
        start = parse_int(argv[3])
        isbit = _unit(argv[5]) if n == 6 else False
        if n >= 5:
            end = parse_int(argv[4])
            end_given = True
        else:
            end = len(v) * 8 + 7 if isbit else len(v) - 1
        lo, hi = _bit_range(v, start, end, isbit)
    else:
        raise syntax_error()
    if lo > hi:
        return -1
    width = hi - lo + 1
    x = _bits(v, lo, hi)
    if not bit:
        x ^= (1 << width) - 1
    if x:
        return lo + width - x.bit_length()
    if bit or end_given:
        return -1
    return hi + 1  # looking for 0 without an end: the string is zero padded


@command("bitop", -4, "write denyoom", keys=(
    *keys(2, flags="OW UPDATE"), *keys(3, -1, flags="RO ACCESS")), group=_G, since="2.6.0",
         summary="Performs bitwise operations on multiple strings, and stores the result.",
         complexity="O(N)")
def bitop(c: Client, argv: list[bytes]) -> object:
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise syntax_error()
    if op == b"not" and len(argv) != 4:
        raise RespError("BITOP NOT must be called with a single source key.")
    db = c.db
    vals: list[bytes] = []
    for k in argv[3:]:
        v = db.lookup_read(k)
        if v is None:
            v = b""
        elif type(v) is not bytes:
            raise WrongTypeError()
        vals.append(v)
    maxlen = max(len(v) for v in vals)
    dest = argv[2]
    if maxlen == 0:
        if db.delete(dest):
            db.notify(GENERIC, b"del", dest)
        return 0
    ints = [int.from_bytes(v, "big") << (8 * (maxlen - len(v))) for v in vals]
    if op == b"not":
        r = ints[0] ^ ((1 << (8 * maxlen)) - 1)
    else:
        r = ints[0]
        if op == b"and":
            for x in ints[1:]:
                r &= x
        elif op == b"or":
            for x in ints[1:]:
                r |= x
        else:
            for x in ints[1:]:
                r ^= x
    db.set(dest, r.to_bytes(maxlen, "big"))
    db.notify(STRING, b"set", dest)
    return maxlen


# -- BITFIELD ----------------------------------------------------------------------

_WRAP: Final = 0
_SAT: Final = 1
_FAIL: Final = 2


def _bf_type(raw: bytes) -> tuple[bool, int]:
    if not raw or raw[0] not in (105, 117):  # 'i' / 'u'
        raise RespError(_TYPE_ERR)
    signed = raw[0] == 105
    try:
        bits = parse_int(raw[1:])
    except RespError:
        raise RespError(_TYPE_ERR) from None
    if bits < 1 or (signed and bits > 64) or (not signed and bits > 63):
        raise RespError(_TYPE_ERR)
    return signed, bits


def _overflow(value: int, incr: int, bits: int, signed: bool, ow: int) -> tuple[bool, int]:
    """(overflowed, value to store) for value+incr in a field (value may be out of range: SET)."""
    if signed:
        hi = (1 << (bits - 1)) - 1
        lo = -hi - 1
    else:
        hi = (1 << bits) - 1
        lo = 0
    s = value + incr
    if lo <= s <= hi:
        return False, s
    if ow == _SAT:
        return True, hi if s > hi else lo
    w = s & ((1 << bits) - 1)
    if signed and w > hi:
        w -= 1 << bits
    return True, w


def _get_field(buf: bytes | bytearray, off: int, bits: int, signed: bool) -> int:
    b0 = off >> 3
    b1 = (off + bits - 1) >> 3
    chunk = buf[b0:b1 + 1]
    x = int.from_bytes(chunk, "big") << (8 * (b1 + 1 - b0 - len(chunk)))  # zero padding
    x >>= (7 - ((off + bits - 1) & 7))
    x &= (1 << bits) - 1
    if signed and x >> (bits - 1):
        x -= 1 << bits
    return x


def _bitfield(c: Client, argv: list[bytes], readonly_cmd: bool) -> object:
    ops: list[tuple[int, bool, int, int, int, int]] = []  # (op, signed, bits, offset, arg, overflow)
    ow = _WRAP
    readonly = True
    highest = 0
    j = 2
    n = len(argv)
    while j < n:
        rem = n - j - 1
        sub = argv[j].lower()
        if sub == b"get" and rem >= 2:
            op = 0
        elif sub == b"set" and rem >= 3:
            op = 1
        elif sub == b"incrby" and rem >= 3:
            op = 2
        elif sub == b"overflow" and rem >= 1:
            t = argv[j + 1].lower()
            j += 2
            if t == b"wrap":
                ow = _WRAP
            elif t == b"sat":
                ow = _SAT
            elif t == b"fail":
                ow = _FAIL
            else:
                raise RespError("Invalid OVERFLOW type specified")
            continue
        else:
            raise syntax_error()
        signed, bits = _bf_type(argv[j + 1])
        off = _bit_offset(c, argv[j + 2], True, bits)
        arg = 0
        if op:
            readonly = False
            highest = max(highest, off + bits - 1)
            arg = parse_int(argv[j + 3])
        ops.append((op, signed, bits, off, arg, ow))
        j += 2 if op == 0 else 3
        j += 1
    key = argv[1]
    if readonly:
        v = get_string(c, key)
        buf = v or b""
        return [_get_field(buf, off, bits, signed) for (_op, signed, bits, off, _a, _o) in ops]
    if readonly_cmd:
        raise RespError("BITFIELD_RO only supports the GET subcommand")
    v = write_string(c, key)
    old = v if v is not None else b""
    need = (highest >> 3) + 1
    grown = v is None or need > len(old)
    ba = bytearray(old)
    if need > len(ba):
        ba.extend(bytes(need - len(ba)))
    changes = 0
    out: list[int | None] = []
    for op, signed, bits, off, arg, oflow in ops:
        if op == 0:
            out.append(_get_field(ba, off, bits, signed))
            continue
        oldval = _get_field(ba, off, bits, signed)
        if op == 2:
            over, newval = _overflow(oldval, arg, bits, signed, oflow)
            ret = newval
        else:
            setval = arg if signed else arg & _U64
            over, newval = _overflow(setval, 0, bits, signed, oflow)
            ret = oldval
        if over and oflow == _FAIL:
            out.append(None)
            continue
        out.append(ret)
        _set_field(ba, off, bits, newval)
        if grown or oldval != newval:
            changes += 1
    if changes or grown:
        c.db.set(key, bytes(ba), keep_ttl=True)
        c.db.notify(STRING, b"setbit", key)
    return out


def _set_field(ba: bytearray, off: int, bits: int, value: int) -> None:
    b0 = off >> 3
    b1 = (off + bits - 1) >> 3
    width = (b1 - b0 + 1) * 8
    shift = width - (off & 7) - bits
    mask = ((1 << bits) - 1) << shift
    cur = int.from_bytes(ba[b0:b1 + 1], "big")
    cur = (cur & ~mask) | ((value & ((1 << bits) - 1)) << shift)
    ba[b0:b1 + 1] = cur.to_bytes(b1 - b0 + 1, "big")


@command("bitfield", -2, "write denyoom", keys=keys(1, flags="RW ACCESS UPDATE VARIABLE_FLAGS",
                                                             notes="This command allows both access and modification of the key"), group=_G,
         since="3.2.0", summary="Performs arbitrary bitfield integer operations on strings.",
         complexity="O(1) for each subcommand specified")
def bitfield(c: Client, argv: list[bytes]) -> object:
    return _bitfield(c, argv, False)


@command("bitfield_ro", -2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.0.0",
         summary="Performs arbitrary read-only bitfield integer operations on strings.",
         complexity="O(1) for each subcommand specified")
def bitfield_ro(c: Client, argv: list[bytes]) -> object:
    return _bitfield(c, argv, True)
