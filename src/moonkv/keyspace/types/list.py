"""List values: a deque of bytes (Redis 7.0 reports every list as a quicklist)."""

from __future__ import annotations

import sys
from collections import deque
from typing import Any


class List(deque):  # type: ignore[type-arg]
    __slots__ = ()
    TYPE_NAME = b"list"

    def encoding(self, config: Any = None) -> bytes:
        return b"quicklist"

    def copy(self) -> List:
        return List(self)

    def dump_state(self) -> list[bytes]:
        return list(self)

    @classmethod
    def load_state(cls, state: Any) -> List:
        return cls(bytes(x) for x in state)

    def memory_usage(self) -> int:
        size = sys.getsizeof(self)
        for v in self:
            size += len(v) + 41
        return size

    def __repr__(self) -> str:
        return f"List({list(self)!r})"
