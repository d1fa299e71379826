"""Hash values: a plain dict field -> value with a one-way "big" encoding flag."""

from __future__ import annotations

from typing import Any, ClassVar

from moonkv.keyspace.types import _limits


class Hash(dict):  # type: ignore[type-arg]
    """field (bytes) -> value (bytes).  ``big`` turns on once Redis would convert
    the listpack to a hashtable (never back)."""

    __slots__ = ("big",)
    TYPE_NAME: ClassVar[bytes] = b"hash"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.big = False

    def check_encoding(self, longest: int = 0) -> None:
        """Call after a write with the longest field/value length written."""
        if not self.big:
            v = _limits._values
            if len(self) > v["hash-max-listpack-entries"] or longest > v["hash-max-listpack-value"]:
                self.big = True

    def encoding(self, config: Any = None) -> bytes:
        return b"hashtable" if self.big else b"listpack"

    def copy(self) -> Hash:
        h = Hash(self)
        h.big = self.big
        return h

    def dump_state(self) -> list[Any]:
        flat: list[bytes] = []
        for k, v in self.items():
            flat.append(k)
            flat.append(v)
        return [1 if self.big else 0, flat]

    @classmethod
    def load_state(cls, state: Any) -> Hash:
        big, flat = state
        h = cls()
        it = iter(flat)
        for k in it:
            h[bytes(k)] = bytes(next(it))
        h.big = bool(big)
        h.check_encoding(max((len(x) for x in flat), default=0))
        return h

    def __repr__(self) -> str:
        return f"Hash({dict.__repr__(self)})"
