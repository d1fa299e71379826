"""MONITOR's lines: what each executed command looks like to a monitoring client.

Redis's format: ``+<seconds>.<microseconds> [<db> <client>] "arg" "arg"...``, the
client being ``lua`` for a script's commands; arguments quoted as Redis's
sdscatrepr does, and the secrets of AUTH and HELLO ... AUTH shown as
``(redacted)``.
"""

from __future__ import annotations

import time
from typing import Final

from moonkv.monitoring import redact_migrate

_REDACTED: Final = b"(redacted)"
_ESCAPES: Final = {
    0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x07: b"\\a", 0x08: b"\\b",
}
# Each byte as sdscatrepr writes it: printable ASCII as is, the rest escaped.
_REPR: Final = tuple(
    _ESCAPES.get(b, bytes((b,)) if 0x20 <= b < 0x7F else b"\\x%02x" % b) for b in range(256)
)


def quote(arg: bytes) -> bytes:
    return b'"' + b"".join([_REPR[b] for b in arg]) + b'"'


def redact(argv: list[bytes]) -> list[bytes]:
    """The arguments with the passwords (and user names) of AUTH, HELLO ... AUTH and MIGRATE
    ... AUTH/AUTH2 hidden."""
    name = argv[0].lower()
    if name == b"auth":
        out = list(argv)
        out[1] = _REDACTED
        if len(out) == 3:
            out[2] = _REDACTED
        return out
    if name == b"hello":
        out = list(argv)
        for i in range(2, len(out) - 2):
            if out[i].lower() == b"auth":
                out[i + 1] = out[i + 2] = _REDACTED
                break
        return out
    if name == b"migrate":
        return redact_migrate(argv)
    return argv


def line(dbid: int, who: str, argv: list[bytes]) -> bytes:
    now = time.time()
    sec = int(now)
    head = b"+%d.%06d [%d %s] " % (sec, int((now - sec) * 1_000_000), dbid, who.encode())
    return head + b" ".join([quote(a) for a in redact(argv)]) + b"\r\n"
