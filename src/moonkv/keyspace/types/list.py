"""List values: a quicklist-like chain of chunks (Redis 7.0 reports every list as a quicklist).

The two end chunks are plain Python lists (pushes and pops touch only
them); every interior chunk is packed into one ``bytes`` blob of
length-prefixed elements, so a long list costs about one byte plus the
element itself per element instead of a Python object per element.  Random
access walks chunk counts from the nearer end and decodes one chunk.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

CHUNK: Final = 128  # elements per chunk (Redis's default list-max-listpack-size -2 is 8 KiB)

_HDR: Final = [bytes([i]) for i in range(128)]


def _hdr(n: int) -> bytes:
    if n < 128:
        return _HDR[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Packed:
    """An immutable packed chunk: ``n`` elements in ``blob``."""

    __slots__ = ("n", "blob")

    def __init__(self, items: list[bytes]) -> None:
        parts: list[bytes] = []
        app = parts.append
        for x in items:
            app(_hdr(len(x)))
            app(x)
        self.n = len(items)
        self.blob = b"".join(parts)

    def unpack(self, limit: int = -1) -> list[bytes]:
        blob = self.blob
        out: list[bytes] = []
        app = out.append
        i = 0
        end = len(blob)
        while i < end and limit != 0:
            ln = blob[i]
            i += 1
            if ln & 0x80:
                ln &= 0x7F
                shift = 7
                while True:
                    b = blob[i]
                    i += 1
                    ln |= (b & 0x7F) << shift
                    shift += 7
                    if not b & 0x80:
                        break
            app(blob[i : i + ln])
            i += ln
            limit -= 1
        return out

    def __len__(self) -> int:
        return self.n


Chunk = Any  # list[bytes] | _Packed


class List:
    __slots__ = ("chunks", "n")
    TYPE_NAME: ClassVar[bytes] = b"list"

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        self.chunks: deque[Chunk] = deque()
        self.n = 0
        self.extend(items)

    # -- size ---------------------------------------------------------------

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    # -- ends ---------------------------------------------------------------

    def append(self, v: bytes) -> None:
        chunks = self.chunks
        if chunks:
            last = chunks[-1]
            if len(last) < CHUNK:
                last.append(v)
                self.n += 1
                return
            if len(chunks) >= 2:
                chunks[-1] = _Packed(last)
        chunks.append([v])
        self.n += 1

    def appendleft(self, v: bytes) -> None:
        chunks = self.chunks
        if chunks:
            first = chunks[0]
            if len(first) < CHUNK:
                first.insert(0, v)
                self.n += 1
                return
            if len(chunks) >= 2:
                chunks[0] = _Packed(first)
        chunks.appendleft([v])
        self.n += 1

    def extend(self, items: Iterable[bytes]) -> None:
        for v in items:
            self.append(v)

    def extendleft(self, items: Iterable[bytes]) -> None:
        for v in items:
            self.appendleft(v)

    def pop(self) -> bytes:
        chunks = self.chunks
        if not chunks:
            raise IndexError("pop from an empty list")
        last = chunks[-1]
        v: bytes = last.pop()
        self.n -= 1
        if not last:
            chunks.pop()
            if chunks and type(chunks[-1]) is _Packed:
                chunks[-1] = chunks[-1].unpack()
        return v

    def popleft(self) -> bytes:
        chunks = self.chunks
        if not chunks:
            raise IndexError("pop from an empty list")
        first = chunks[0]
        v: bytes = first.pop(0)
        self.n -= 1
        if not first:
            chunks.popleft()
            if chunks and type(chunks[0]) is _Packed:
                chunks[0] = chunks[0].unpack()
        return v

    def clear(self) -> None:
        self.chunks.clear()
        self.n = 0

    # -- iteration ----------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        for ch in self.chunks:
            if type(ch) is _Packed:
                yield from ch.unpack()
            else:
                yield from ch

    def __reversed__(self) -> Iterator[bytes]:
        for ch in reversed(self.chunks):
            items = ch.unpack() if type(ch) is _Packed else ch
            yield from reversed(items)

    def slice(self, start: int, stop: int) -> list[bytes]:
        """Elements [start, stop) (0 <= start <= stop <= len), skipping whole chunks."""
        out: list[bytes] = []
        if start >= stop:
            return out
        pos = 0
        for ch in self.chunks:
            ln = len(ch)
            if pos + ln <= start:
                pos += ln
                continue
            if pos >= stop:
                break
            items = ch.unpack(stop - pos) if type(ch) is _Packed else ch
            out.extend(items[max(0, start - pos) : stop - pos])
            pos += ln
        return out

    # -- random access ------------------------------------------------------

    def _locate(self, i: int) -> tuple[int, int]:
        n = self.n
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("list index out of range")
        chunks = self.chunks
        if i < n // 2:
            for ci, ch in enumerate(chunks):
                ln = len(ch)
                if i < ln:
                    return ci, i
                i -= ln
        else:
            j = n - 1 - i
            last = len(chunks) - 1
            for k, ch in enumerate(reversed(chunks)):
                ln = len(ch)
                if j < ln:
                    return last - k, ln - 1 - j
                j -= ln
        raise IndexError("list index out of range")  # pragma: no cover

    def __getitem__(self, i: int) -> bytes:
        ci, off = self._locate(i)
        ch = self.chunks[ci]
        if type(ch) is _Packed:
            return ch.unpack(off + 1)[off]
        return ch[off]  # type: ignore[no-any-return]

    def _editable(self, ci: int) -> list[bytes]:
        ch = self.chunks[ci]
        return ch.unpack() if type(ch) is _Packed else ch  # type: ignore[no-any-return]

    def _store(self, ci: int, items: list[bytes]) -> None:
        chunks = self.chunks
        if not items:
            del chunks[ci]
            if chunks:
                if type(chunks[0]) is _Packed:
                    chunks[0] = chunks[0].unpack()
                if type(chunks[-1]) is _Packed:
                    chunks[-1] = chunks[-1].unpack()
            return
        if len(items) > 2 * CHUNK:
            half = len(items) // 2
            chunks[ci] = items[:half]
            chunks.insert(ci + 1, items[half:])
            last = len(chunks) - 1
            for k in (ci, ci + 1):
                if 0 < k < last:
                    chunks[k] = _Packed(chunks[k])
            return
        interior = 0 < ci < len(chunks) - 1
        chunks[ci] = _Packed(items) if interior else items

    def __setitem__(self, i: int, v: bytes) -> None:
        ci, off = self._locate(i)
        items = self._editable(ci)
        items[off] = v
        self._store(ci, items)

    def __delitem__(self, i: int) -> None:
        ci, off = self._locate(i)
        items = self._editable(ci)
        del items[off]
        self.n -= 1
        self._store(ci, items)

    def insert(self, i: int, v: bytes) -> None:
        n = self.n
        if i < 0:
            i = max(0, i + n)
        if i >= n:
            self.append(v)
            return
        if i == 0:
            self.appendleft(v)
            return
        ci, off = self._locate(i)
        items = self._editable(ci)
        items.insert(off, v)
        self.n += 1
        self._store(ci, items)

    def index(self, v: bytes) -> int:
        for i, x in enumerate(self):
            if x == v:
                return i
        raise ValueError("element not in list")

    # -- value protocol -------------------------------------------------------

    def encoding(self, config: Any = None) -> bytes:
        return b"quicklist"

    def node_bytes(self) -> list[int]:
        """The bytes each chunk holds (elements and their length headers): DEBUG OBJECT's
        quicklist figures."""
        return [len(ch.blob) if type(ch) is _Packed else sum(len(x) + len(_hdr(len(x))) for x in ch)
                for ch in self.chunks]

    def copy(self) -> List:
        c = List()
        c.chunks = deque(ch if type(ch) is _Packed else list(ch) for ch in self.chunks)
        c.n = self.n
        return c

    def dump_state(self) -> list[bytes]:
        return list(self)

    @classmethod
    def load_state(cls, state: Any) -> List:
        return cls(bytes(x) for x in state)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, List):
            return self.n == other.n and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"List({list(self)!r})"
