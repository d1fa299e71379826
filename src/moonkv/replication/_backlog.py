"""The replication backlog: the last ``repl-backlog-size`` bytes of the stream."""

from __future__ import annotations


class Backlog:
    """Stream bytes ending at ``offset`` (bytes are numbered from 1, as in Redis).

    Trimming happens when the buffer holds twice the configured size, so an append
    costs no copy of the whole buffer; at least ``size`` bytes are always kept.
    """

    __slots__ = ("buf", "offset", "size")

    def __init__(self, size: int, offset: int) -> None:
        self.size = size
        self.offset = offset  # the stream offset of the last byte held
        self.buf = bytearray()

    @property
    def first_byte(self) -> int:
        return self.offset - len(self.buf) + 1

    def append(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        self.offset += len(data)
        if len(buf) > 2 * self.size:
            del buf[: len(buf) - self.size]

    def resize(self, size: int) -> None:
        self.size = size
        if len(self.buf) > size:
            del self.buf[: len(self.buf) - size]

    def reset(self, offset: int) -> None:
        self.buf = bytearray()
        self.offset = offset

    def since(self, start: int) -> bytes | None:
        """The bytes from offset ``start`` (the first one a replica lacks) to the end,
        None if ``start`` is not inside the backlog."""
        first = self.first_byte
        if start < first or start > self.offset + 1:
            return None
        return bytes(self.buf[start - first :])
