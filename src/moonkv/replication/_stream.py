"""The replication stream's bytes: encoding committed units, parsing them back.

The stream is what a Redis replica receives: RESP multibulk commands.  A unit
with more than one effect is framed ``MULTI`` ... ``EXEC``; ``SELECT`` comes
whenever the database changes.  Offsets count bytes, so the parser reports how
far each command reaches.
"""

from __future__ import annotations

from typing import Any, Final

from moonkv.engine import SCRIPT_CACHE
from moonkv.protocol import encode_command

MULTI: Final = b"*1\r\n$5\r\nMULTI\r\n"
EXEC: Final = b"*1\r\n$4\r\nEXEC\r\n"
PING: Final = b"*1\r\n$4\r\nPING\r\n"
GETACK: Final = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"

_MAX_ARGS: Final = 1 << 20
_MAX_BULK: Final = 1 << 32


def select(db: int) -> bytes:
    return encode_command([b"SELECT", b"%d" % db])


def unit(effects: list[Any], seldb: int) -> tuple[bytes, int]:
    """A committed unit's bytes when the stream has ``seldb`` selected (-1: none yet), and
    the database selected after it: ``SELECT`` when the database changes, ``MULTI`` ...
    ``EXEC`` around more than one command (the first ``SELECT`` goes before ``MULTI``).
    ``effects`` are ``(db, argv)`` pairs: tuples from the engine, lists from the log.
    ``SCRIPT_CACHE`` effects (a newly cached script body, SCRIPT FLUSH: moonkv replicates the
    script cache, Redis 7.0 does not) go first, each a command of its own outside the unit's
    framing, so the unit's data effects are framed exactly as Redis frames them; an effect of
    no other database (``ACL_USERS``: ACL SETUSER and DELUSER; -1: PUBLISH of an older log)
    selects nothing either."""
    out: list[bytes] = []
    if any(db == SCRIPT_CACHE for db, _ in effects):
        out.extend(encode_command(argv) for db, argv in effects if db == SCRIPT_CACHE)
        effects = [e for e in effects if e[0] != SCRIPT_CACHE]
    multi = len(effects) > 1
    first = True
    for db, argv in effects:
        if db != seldb and db >= 0:
            out.append(select(db))
            seldb = db
        if first:
            first = False
            if multi:
                out.append(MULTI)
        out.append(encode_command(argv))
    if multi:
        out.append(EXEC)
    return b"".join(out), seldb


class StreamError(Exception):
    """The stream is not well-formed RESP: the link is dropped and resumes from the last unit."""


class StreamParser:
    """Multibulk commands out of a byte stream, with the offset each one ends at.

    ``pos`` is where the next command starts in ``buf``; ``start`` is the start of the
    unit being received (bytes before it are applied and dropped by :meth:`compact`).
    """

    __slots__ = ("buf", "pos", "start")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.start = 0

    def feed(self, data: bytes) -> None:
        self.buf += data

    def pending(self) -> int:
        """Bytes received but not part of an applied unit."""
        return len(self.buf) - self.start

    def compact(self) -> None:
        if self.start:
            del self.buf[: self.start]
            self.pos -= self.start
            self.start = 0

    def reset(self) -> None:
        self.buf = bytearray()
        self.pos = self.start = 0

    def next(self) -> list[bytes] | None:
        """The next whole command (advancing ``pos``), None if it has not all arrived."""
        buf = self.buf
        pos = self.pos
        if pos >= len(buf):
            return None
        if buf[pos] != 0x2A:  # '*'
            raise StreamError(f"expected '*', got {bytes(buf[pos:pos + 1])!r}")
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        n = _number(buf, pos + 1, eol)
        if not 0 < n <= _MAX_ARGS:
            raise StreamError(f"bad multibulk length {n}")
        pos = eol + 2
        argv: list[bytes] = []
        for _ in range(n):
            if pos >= len(buf):
                return None
            if buf[pos] != 0x24:  # '$'
                raise StreamError(f"expected '$', got {bytes(buf[pos:pos + 1])!r}")
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = _number(buf, pos + 1, eol)
            if not 0 <= size < _MAX_BULK:
                raise StreamError(f"bad bulk length {size}")
            end = eol + 2 + size
            if end + 2 > len(buf):
                return None
            if buf[end : end + 2] != b"\r\n":
                raise StreamError("bulk not terminated by CRLF")
            argv.append(bytes(buf[eol + 2 : end]))
            pos = end + 2
        self.pos = pos
        return argv


def _number(buf: bytearray, start: int, end: int) -> int:
    try:
        return int(buf[start:end])
    except ValueError:
        raise StreamError(f"bad number {bytes(buf[start:end])!r}") from None
