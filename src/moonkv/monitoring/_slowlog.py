"""SLOWLOG: the last commands that ran longer than ``slowlog-log-slower-than`` µs.

Entries are what Redis 7.0 keeps (slowlog.c): an id, the Unix time, the
duration in µs, the arguments cut to 32 (the last one then reads
``... (N more arguments)``) with each string cut to 128 bytes
(``... (N more bytes)``), the client's address and name.  Arguments that carry
secrets are redacted as Redis's handlers redact them.

moonkv's addition (docs/operations.md): an entry of EVAL/EVALSHA/FCALL also
names the script, and for a script stopped by SCRIPT KILL or a budget the line
it was running.  That note rides as a 7th element, after the six Redis fields,
only on those entries, so clients that read six fields are not disturbed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

MAX_ARGC: Final = 32
MAX_STRING: Final = 128
REDACTED: Final = b"(redacted)"


def _redact_from(first: int) -> Callable[[list[bytes]], list[bytes]]:
    def redact(argv: list[bytes]) -> list[bytes]:
        return argv[:first] + [REDACTED] * (len(argv) - first)

    return redact


def _redact_hello(argv: list[bytes]) -> list[bytes]:
    out = list(argv)
    for j in range(2, len(out) - 2):
        if out[j].lower() == b"auth":
            out[j + 1] = out[j + 2] = REDACTED
    return out


def redact_migrate(argv: list[bytes]) -> list[bytes]:
    """MIGRATE's AUTH password and AUTH2 user and password, as its option parser redacts them
    (up to KEYS, or to the option it stops at)."""
    out = argv
    j = 6
    while j < len(argv):
        opt, more = argv[j].lower(), len(argv) - 1 - j
        if opt == b"auth" and more:
            out = out[:j + 1] + [REDACTED] + out[j + 2:]
            j += 1
        elif opt == b"auth2" and more >= 2:
            out = out[:j + 1] + [REDACTED, REDACTED] + out[j + 3:]
            j += 2
        elif opt not in (b"copy", b"replace"):
            break
        j += 1
    return out


# Commands whose arguments hold secrets, by table name; CONFIG SET is handled
# by the caller, which knows the sensitive directives.
REDACT: Final[dict[str, Callable[[list[bytes]], list[bytes]]]] = {
    "auth": _redact_from(1),
    "acl|setuser": _redact_from(2),
    "hello": _redact_hello,
    "migrate": redact_migrate,
}


def trim(argv: list[bytes]) -> list[bytes]:
    """The argument vector as a slow-log entry keeps it."""
    n = len(argv)
    keep = argv if n <= MAX_ARGC else argv[: MAX_ARGC - 1]
    out = [
        a if len(a) <= MAX_STRING else a[:MAX_STRING] + b"... (%d more bytes)" % (len(a) - MAX_STRING)
        for a in keep
    ]
    if n > MAX_ARGC:
        out.append(b"... (%d more arguments)" % (n - MAX_ARGC + 1))
    return out


class SlowLogEntry:
    __slots__ = ("id", "time", "duration", "argv", "peer", "name", "note")

    def __init__(
        self, id: int, duration: int, argv: list[bytes], peer: bytes, name: bytes, note: bytes | None
    ) -> None:
        self.id = id
        self.time = int(time.time())
        self.duration = duration
        self.argv = argv
        self.peer = peer
        self.name = name
        self.note = note

    def reply(self) -> list[object]:
        out: list[object] = [self.id, self.time, self.duration, self.argv, self.peer, self.name]
        if self.note is not None:
            out.append(self.note)
        return out


class SlowLog:
    def __init__(self, max_len: int) -> None:
        self.entries: deque[SlowLogEntry] = deque()
        self.next_id = 0
        self.max_len = max_len

    def push(
        self, argv: list[bytes], duration_us: int, peer: bytes, name: bytes, note: bytes | None = None
    ) -> None:
        if self.max_len <= 0:
            return
        self.entries.appendleft(SlowLogEntry(self.next_id, duration_us, trim(argv), peer, name, note))
        self.next_id += 1
        while len(self.entries) > self.max_len:
            self.entries.pop()

    def get(self, count: int) -> list[object]:
        n = len(self.entries) if count < 0 else min(count, len(self.entries))
        return [self.entries[i].reply() for i in range(n)]

    def reset(self) -> None:
        self.entries.clear()
