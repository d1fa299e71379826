"""Set values: a Python set of bytes; ``big`` tracks Redis's one-way intset -> hashtable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from moonkv.keyspace.types import _limits

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def is_int_member(b: bytes) -> bool:
    """Whether Redis would store ``b`` in an intset (string2ll round-trips)."""
    n = len(b)
    if n == 0 or n > 20:
        return False
    if b.isdigit():
        if n > 1 and b[0] == 48:
            return False
        return int(b) <= _I64_MAX
    if b[0] == 45 and n > 1 and b[1:].isdigit() and b[1] != 48:
        return int(b) >= _I64_MIN
    return False


class Set(set):  # type: ignore[type-arg]
    __slots__ = ("big",)
    TYPE_NAME: ClassVar[bytes] = b"set"

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        super().__init__(items)
        self.big = False

    def check_encoding(self, added: Iterable[bytes] | None = None) -> None:
        """Call after adding members (``added``; None means check everything)."""
        if self.big:
            return
        if len(self) > _limits._values["set-max-intset-entries"]:
            self.big = True
            return
        for m in self if added is None else added:
            if not is_int_member(m):
                self.big = True
                return

    def encoding(self, config: Any = None) -> bytes:
        return b"hashtable" if self.big else b"intset"

    def copy(self) -> Set:
        s = Set(self)
        s.big = self.big
        return s

    def dump_state(self) -> list[Any]:
        # Small sets dump in a canonical order (sorted, as an intset is), so equal sets
        # give equal snapshots/DUMP payloads; big ones keep iteration order (no O(n log n)).
        members = sorted(self) if len(self) <= 4096 else list(self)
        return [1 if self.big else 0, members]

    @classmethod
    def load_state(cls, state: Any) -> Set:
        big, members = state
        s = cls(bytes(m) for m in members)
        s.big = bool(big)
        s.check_encoding()
        return s

    def __repr__(self) -> str:
        return f"Set({set.__repr__(self)})"
