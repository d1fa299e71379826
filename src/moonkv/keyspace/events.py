"""Keyspace notification classes (``notify-keyspace-events``), as Redis 7.0 names them.

Handlers announce what they did with :meth:`Database.notify` and the class of
the event; the keyspace hands enabled events to its ``notifier`` (the pub/sub
hub publishes them).  While no class is enabled with K or E, ``Keyspace.events``
is 0 and an announcement costs one attribute test.
"""

from __future__ import annotations

from typing import Final

KEYSPACE: Final = 1 << 0  # K
KEYEVENT: Final = 1 << 1  # E
GENERIC: Final = 1 << 2  # g
STRING: Final = 1 << 3  # $
LIST: Final = 1 << 4  # l
SET: Final = 1 << 5  # s
HASH: Final = 1 << 6  # h
ZSET: Final = 1 << 7  # z
EXPIRED: Final = 1 << 8  # x
EVICTED: Final = 1 << 9  # e
STREAM: Final = 1 << 10  # t
KEY_MISS: Final = 1 << 11  # m (not part of A)
MODULE: Final = 1 << 13  # d
NEW: Final = 1 << 14  # n (not part of A)
ALL: Final = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_BY_CHAR: Final = {
    "A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET,
    "x": EXPIRED, "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM, "m": KEY_MISS,
    "d": MODULE, "n": NEW,
}
# The canonical order CONFIG GET shows them in (A stands for all of its classes).
_ORDER: Final = (
    ("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
    ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE), ("n", NEW),
)


def parse_classes(text: str) -> int:
    """The flags of a ``notify-keyspace-events`` value (ValueError on an unknown class)."""
    flags = 0
    for ch in text:
        bit = _BY_CHAR.get(ch)
        if bit is None:
            raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        flags |= bit
    return flags


def classes_string(flags: int) -> str:
    """Redis's canonical string for ``flags`` (what CONFIG GET answers)."""
    if flags & ALL == ALL:
        out = "A"  # Redis 7.0 shows no "n" after "A" (the class stays on)
    else:
        out = "".join(ch for ch, bit in _ORDER if flags & bit)
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & KEY_MISS:
        out += "m"
    return out


def active(flags: int) -> int:
    """What the keyspace checks: nothing is published unless K or E is on."""
    return flags if flags & (KEYSPACE | KEYEVENT) else 0
