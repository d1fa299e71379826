"""Generators of client request bytes: well-formed, malformed and mutated.

Shared by the parser fuzzer (in process) and the network fuzzer (sockets).
The command vocabulary is harmless on purpose: mutations of these names never
spell SHUTDOWN, DEBUG, CONFIG or a blocking command.
"""

from __future__ import annotations

import random
from typing import Final

SAFE_COMMANDS: Final = (
    b"PING", b"ECHO", b"SET", b"GET", b"INCR", b"DEL", b"EXISTS", b"APPEND", b"STRLEN",
    b"HSET", b"HGET", b"LPUSH", b"LRANGE", b"SADD", b"SMEMBERS", b"MSET", b"MGET", b"TYPE",
)
RESP3_TYPES: Final = b"+-:$*%~>|#,(=_!"
FUNNY: Final = (
    b"", b"\r", b"\n", b"\r\n", b"\0", b"\"", b"'", b"\\", b"\\x4", b"\\x41", b" ", b"\t",
    b"*", b"$", b"-1", b"0", b"00", b"-0", b"+1", b" 1", b"1 ", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775809", b"2147483648", b"99999999999999999999",
    b"1e3", b"0x10", b"\xff\xfe", b"%2", b"~1",
)


def _value(rng: random.Random) -> bytes:
    k = rng.random()
    if k < 0.3:
        return rng.choice(FUNNY)
    if k < 0.6:
        return bytes(rng.choice(b"abcxyz019 \r\n\0\"'\\") for _ in range(rng.randint(0, 12)))
    if k < 0.9:
        return rng.randbytes(rng.randint(0, 24))
    return b"v" * rng.choice((100, 4096, 4097, 16385, 20000))


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def inline(rng: random.Random, args: list[bytes]) -> bytes:
    parts = []
    for a in args:
        q = rng.random()
        if q < 0.5:
            parts.append(a.replace(b" ", b"_").replace(b"\n", b"").replace(b"\r", b""))
        elif q < 0.8:
            parts.append(b'"' + a.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"')
        else:
            parts.append(b"'" + a.replace(b"'", b"\\'") + b"'")
    sep = rng.choice((b" ", b"  ", b"\t", b" \t "))
    return sep.join(parts) + rng.choice((b"\r\n", b"\n"))


def command(rng: random.Random) -> list[bytes]:
    return [rng.choice(SAFE_COMMANDS)] + [_value(rng) for _ in range(rng.choice((0, 1, 1, 2, 3, 5, 11)))]


def _weird_header(rng: random.Random) -> bytes:
    """A header line with an odd type byte or count."""
    t = rng.choice((b"*", b"$", bytes([rng.choice(RESP3_TYPES)])))
    return t + rng.choice(FUNNY) + rng.choice((b"\r\n", b"\n", b"\r", b""))


def _nested(rng: random.Random, depth: int) -> bytes:
    if depth <= 0 or rng.random() < 0.3:
        return rng.choice((b"$1\r\na\r\n", b":1\r\n", b"+OK\r\n", b"_\r\n", b"#t\r\n", b",1.5\r\n"))
    n = rng.randint(0, 3)
    t = rng.choice(b"*%~>|")
    body = b"".join(_nested(rng, depth - 1) for _ in range(n * (2 if t in b"%|" else 1)))
    return b"%c%d\r\n" % (t, n) + body


def piece(rng: random.Random) -> bytes:
    """One request-ish fragment."""
    k = rng.random()
    if k < 0.45:
        return multibulk(command(rng))
    if k < 0.65:
        return inline(rng, command(rng))
    if k < 0.75:
        return _weird_header(rng)
    if k < 0.85:
        return _nested(rng, rng.randint(1, 6))
    if k < 0.9:  # a header far too large, or a length that never arrives
        return rng.choice((b"*", b"$", b"*1\r\n$")) + rng.choice(FUNNY[18:]) + b"\r\n"
    if k < 0.95:
        return b"*%d\r\n" % rng.randint(-3, 12) + b"".join(
            b"$%d\r\n%s\r\n" % (rng.randint(-2, 6), _value(rng)) for _ in range(rng.randint(0, 4))
        )
    return rng.randbytes(rng.randint(1, 32))


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Bit flips, insertions, deletions, duplications and splices."""
    b = bytearray(data)
    for _ in range(rng.choice((0, 1, 1, 2, 3, 8))):
        op = rng.randrange(6)
        pos = rng.randint(0, len(b))
        if op == 0 and b:
            i = min(pos, len(b) - 1)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos:pos] = rng.choice((b"\r\n", b"\r", b"\n", b"\0", b"*", b"$", b"-", b"9", b'"', b"'"))
        elif op == 2:
            del b[pos : pos + rng.randint(1, 8)]
        elif op == 3 and b:
            j = rng.randint(0, len(b))
            lo, hi = min(pos, j), max(pos, j)
            b[pos:pos] = b[lo : min(hi, lo + 64)]
        elif op == 4:
            b[pos:pos] = piece(rng)
        elif op == 5 and b:  # a digit changed (lengths and counts)
            digits = [i for i, c in enumerate(b) if 48 <= c <= 57]
            if digits:
                b[rng.choice(digits)] = rng.choice(b"0123456789-")
    return bytes(b)


def stream(rng: random.Random, max_len: int = 60000) -> bytes:
    """A request stream: a few pieces, maybe mutated; below Redis's 64 KiB inline limit."""
    data = b"".join(piece(rng) for _ in range(rng.randint(1, 6)))
    if rng.random() < 0.6:
        data = mutate(rng, data)
    return data[:max_len]
