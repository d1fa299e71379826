"""Reply values that plain Python types cannot express.

The mapping from Python values to RESP is:

    bytes        bulk string
    str          simple string (status)
    int          integer
    bool         RESP3 boolean, RESP2 integer 1/0
    float        RESP3 double, RESP2 bulk string ("%.17g")
    None         null (RESP2 ``$-1``)
    list, tuple  array
    dict         RESP3 map, RESP2 flat array
    set, frozenset RESP3 set, RESP2 array
    OrderedSet   RESP3 set, RESP2 array, in the order given
    RespError    error reply
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final


class _NullArray:
    """RESP2 ``*-1`` (RESP3 ``_``): the null some commands return for arrays."""

    _instance: ClassVar[_NullArray | None] = None

    def __new__(cls) -> _NullArray:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY: Final = _NullArray()


@dataclass(frozen=True, slots=True)
class Verbatim:
    """RESP3 verbatim string (``=``); a bulk string in RESP2."""

    text: bytes
    fmt: bytes = b"txt"


@dataclass(frozen=True, slots=True)
class BigNumber:
    """RESP3 big number (``(``); a bulk string in RESP2."""

    digits: bytes


@dataclass(frozen=True, slots=True)
class Push:
    """RESP3 push (``>``); an array in RESP2."""

    items: list[object]


@dataclass(frozen=True, slots=True)
class OrderedSet:
    """RESP3 set (``~``) sent in the order of ``items`` (an array in RESP2): Redis sends
    some sets in a fixed order (a function's flags in its flag table's order), which a
    Python set, iterated by hash, would not keep."""

    items: list[object]


@dataclass(frozen=True, slots=True)
class Replies:
    """Several replies that one command sends one after the other (SUBSCRIBE
    confirms each channel).  Pub/Sub confirmations: they are sent even under
    CLIENT REPLY OFF, as Redis sends pushes."""

    items: list[object]


class RawReply:
    """Bytes already encoded for the wire, sent as they are (a script's reply).

    A plain slotted class: it is created once per script call, and a frozen
    dataclass's __init__ costs several times more.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawReply) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"RawReply({self.data!r})"


@dataclass(frozen=True, slots=True)
class Double:
    """A double that RESP2 shows with a given text (e.g. a Lua script's)."""

    value: float
