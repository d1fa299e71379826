"""Argument parsing helpers shared by command handlers (Redis's getLongLongFromObject & co)."""

from __future__ import annotations

import math

from moonkv.errors import RespError, not_float, not_integer

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def parse_int(b: bytes, err: str | None = None) -> int:
    """A strict 64-bit integer, as Redis's string2ll."""
    if b and (b.isdigit() or (b[0] == 45 and b[1:].isdigit() and len(b) > 1)):
        digits = b[1:] if b[0] == 45 else b
        if len(digits) == 1 or digits[0] != 48:
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


def lower(b: bytes) -> bytes:
    return b.lower()


def glob_match(pattern: bytes, s: bytes, nocase: bool = False) -> bool:
    """Redis's stringmatchlen glob: * ? [abc] [^a-z] and backslash escapes."""
    if nocase:
        pattern = pattern.lower()
        s = s.lower()
    return _match(pattern, 0, s, 0, 0)


def _match(p: bytes, pi: int, s: bytes, si: int, depth: int) -> bool:
    if depth > 1000:
        return False
    plen, slen = len(p), len(s)
    while pi < plen and si <= slen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return True
            for k in range(si, slen + 1):
                if _match(p, pi + 1, s, k, depth + 1):
                    return True
            return False
        if si >= slen:
            return False
        if c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            neg = pi < plen and p[pi] == 94
            if neg:
                pi += 1
            matched = False
            while pi < plen and p[pi] != 93:
                if p[pi] == 92 and pi + 1 < plen:
                    pi += 1
                    if p[pi] == s[si]:
                        matched = True
                elif pi + 2 < plen and p[pi + 1] == 45:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    if lo <= s[si] <= hi:
                        matched = True
                    pi += 2
                elif p[pi] == s[si]:
                    matched = True
                pi += 1
            if pi >= plen:
                pi -= 1
            if neg:
                matched = not matched
            if not matched:
                return False
            si += 1
        elif c == 92 and pi + 1 < plen:  # backslash escape
            pi += 1
            if p[pi] != s[si]:
                return False
            si += 1
        else:
            if c != s[si]:
                return False
            si += 1
        pi += 1
    while pi < plen and p[pi] == 42:
        pi += 1
    return pi == plen and si == slen


def value_size(v: object) -> int:
    """An estimate of the bytes a value occupies (MEMORY USAGE)."""
    import sys

    if type(v) is bytes:
        return sys.getsizeof(v) + 40
    size = getattr(v, "memory_usage", None)
    if size is not None:
        return int(size())
    return sys.getsizeof(v)
