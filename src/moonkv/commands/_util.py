"""Argument parsing helpers shared by command handlers (Redis's getLongLongFromObject & co)."""

from __future__ import annotations

import math
import re
from typing import Final

from moonkv.errors import RespError, not_float, not_integer, syntax_error

I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1


def parse_int(b: bytes, err: str | None = None) -> int:
    """A strict 64-bit integer, as Redis's string2ll."""
    if b.isdigit() and b[0] != 48 and len(b) < 19:  # the common case: no sign, fits
        return int(b)
    if b and (b.isdigit() or (b[0] == 45 and b[1:].isdigit() and len(b) > 1)):
        digits = b[1:] if b[0] == 45 else b
        if digits[0] != 48 or b == b"0":  # no leading zeros, and no "-0" (string2ll)
            v = int(b)
            if I64_MIN <= v <= I64_MAX:
                return v
    raise RespError(err) if err else not_integer()


def parse_float(b: bytes, err: str | None = None) -> float:
    """A double as Redis's getDoubleFromObject (no NaN, no spaces)."""
    try:
        if not b or b[0] in b" \t\n\r\v\f" or b[-1] in b" \t\n\r\v\f":
            raise ValueError
        s = b.decode("ascii")
        v = float(s)
        low = s.lower()
        if math.isnan(v) or "_" in s or low.startswith(("0x", "-0x", "+0x")):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise RespError(err) if err else not_float() from None
    return v


def parse_timeout(b: bytes) -> float:
    """A blocking command's timeout in seconds (fractional allowed)."""
    try:
        v = parse_float(b, "timeout is not a float or out of range")
    except RespError:
        raise
    if v < 0:
        raise RespError("timeout is negative")
    if math.isinf(v):
        raise RespError("timeout is out of range")
    return v


def parse_cursor(b: bytes) -> int:
    """A SCAN/HSCAN/SSCAN/ZSCAN cursor as Redis reads it (strtoul, base 10): an optional sign,
    digits, nothing else; a negative one wraps modulo 2**64, and an empty one is 0."""
    digits = b[1:] if b[:1] in (b"+", b"-") else b
    if (digits or b) and not digits.isdigit():
        raise RespError("invalid cursor")
    v = int(digits or b"0")
    if v >= 1 << 64:
        raise RespError("invalid cursor")
    return (-v if b[:1] == b"-" else v) % (1 << 64)


_ATOI: Final = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+")
_STRTOD: Final = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)", re.I
)


def atoi(b: bytes) -> int:
    """C's atoi, as Redis's DEBUG options read numbers: the leading number, else 0."""
    m = _ATOI.match(b)
    return int(m[0]) if m is not None else 0


def strtod(b: bytes) -> float:
    """C's strtod without its end pointer (DEBUG SLEEP): the leading number, else 0."""
    m = _STRTOD.match(b)
    return float(m[0]) if m is not None else 0.0


def lower(b: bytes) -> bytes:
    return b.lower()


def glob_match(pattern: bytes, s: bytes, nocase: bool = False) -> bool:
    """Redis's stringmatchlen glob: * ? [abc] [^a-z] and backslash escapes.

    Same answers as Redis (including an empty string matching only an empty
    pattern, and its limit of 1000 nested ``*``), in O(len(pattern) * len(s))
    time: patterns are compiled once and matched without recursion.
    """
    key = (pattern, nocase)
    tokens = _GLOB_CACHE.get(key)
    if tokens is None:
        if len(_GLOB_CACHE) > 1024:
            _GLOB_CACHE.clear()
        tokens = _GLOB_CACHE[key] = _compile_glob(pattern.lower() if nocase else pattern)
    if tokens.__class__ is bytes:  # no special characters: plain comparison
        return (s.lower() if nocase else s) == tokens
    if not s:
        return not tokens
    return _glob_run(tokens, s.lower() if nocase else s)  # type: ignore[arg-type]


_STAR: Final = -2
_ANY: Final = -1
_NEVER: Final[list[object]] = [bytes(256)]  # matches nothing (see the nesting limit)
_GLOB_CACHE: Final[dict[tuple[bytes, bool], object]] = {}


def _compile_glob(p: bytes) -> object:
    """Tokens: a byte value (literal), _ANY, _STAR, or a 256-byte membership table."""
    if not any(ch in p for ch in b"*?[\\"):
        return p
    tokens: list[object] = []
    i, n = 0, len(p)
    while i < n:
        ch = p[i]
        if ch == 42:  # '*'
            while i + 1 < n and p[i + 1] == 42:
                i += 1
            tokens.append(_STAR)
        elif ch == 63:  # '?'
            tokens.append(_ANY)
        elif ch == 91:  # '['
            i += 1
            neg = i < n and p[i] == 94
            if neg:
                i += 1
            table = bytearray(256)
            while True:
                if i < n and p[i] == 92 and n - i >= 2:
                    i += 1
                    table[p[i]] = 1
                elif i < n and p[i] == 93:
                    break
                elif i >= n:  # unterminated: the set ends with the pattern
                    i -= 1
                    break
                elif n - i >= 3 and p[i + 1] == 45:
                    lo, hi = p[i], p[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    for x in range(lo, hi + 1):
                        table[x] = 1
                    i += 2
                else:
                    table[p[i]] = 1
                i += 1
            if neg:
                table = bytearray(1 - table[j] for j in range(256))
            tokens.append(bytes(table))
        elif ch == 92 and i + 1 < n:  # backslash escape
            i += 1
            tokens.append(p[i])
        else:
            tokens.append(ch)
        i += 1
    # Redis gives up (no match) past 1000 nested '*'; a final '*' does not nest.
    stars = tokens.count(_STAR) - (1 if tokens and tokens[-1] == _STAR else 0)
    if stars > 1000:
        return _NEVER
    return tokens


def _glob_run(tokens: list[object], s: bytes) -> bool:
    ti = si = 0
    nt, ns = len(tokens), len(s)
    star_ti = -1
    star_si = 0
    while si < ns:
        if ti < nt:
            t = tokens[ti]
            if t == _STAR:
                star_ti = ti
                star_si = si
                ti += 1
                continue
            ch = s[si]
            if t == ch or t == _ANY or (t.__class__ is bytes and t[ch]):  # type: ignore[index]
                ti += 1
                si += 1
                continue
        if star_ti < 0:
            return False
        star_si += 1
        si = star_si
        ti = star_ti + 1
    while ti < nt and tokens[ti] == _STAR:
        ti += 1
    return ti == nt


def parse_mpop_count(argv: list[bytes], j: int) -> int:
    """LMPOP/ZMPOP's optional ``COUNT n`` after the direction (default 1)."""
    count = -1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and n - 1 - j:
            j += 1
            count = parse_int(argv[j], "count should be greater than 0")
            if count < 1:
                raise RespError("count should be greater than 0")
        else:
            raise syntax_error()
        j += 1
    return 1 if count == -1 else count
