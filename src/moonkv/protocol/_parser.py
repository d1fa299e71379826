"""Sans-I/O parser for client requests (multibulk and inline), with Redis's limits.

``feed(data)`` buffers bytes; ``parse()`` returns the complete commands that are
buffered, in order, and raises :class:`~moonkv.errors.ProtocolError` once the
bytes after them are malformed (commands before the bad bytes are kept in
``pending`` so the caller can run them first, as Redis does).  The parser never
touches a socket, so it is tested with plain bytes.

Buffering is O(n): a large bulk argument that arrives in many chunks is not
re-scanned on every chunk (``_need`` remembers how many bytes must be present
before parsing can make progress).
"""

from __future__ import annotations

from moonkv.errors import ProtocolError

INLINE_MAX_SIZE = 64 * 1024
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
INT_MAX = 2**31 - 1

Command = list[bytes]


def _parse_ll(s: bytes) -> int | None:
    """Redis's ``string2ll``: a strict base-10 integer, no spaces, no '+', no leading zeros."""
    if not s:
        return None
    neg = s[0] == 45  # '-'
    digits = s[1:] if neg else s
    if not digits.isdigit() or (digits[0] == 48 and len(digits) > 1):
        return None
    if neg and digits == b"0":
        return None
    v = int(digits)
    v = -v if neg else v
    if v > 2**63 - 1 or v < -(2**63):
        return None
    return v


class RespParser:
    """Incremental request parser.

    ``auth_required`` is consulted for Redis's stricter limits on clients that
    have not authenticated (at most 10 arguments of at most 16 KiB each).
    """

    __slots__ = ("_buf", "_need", "max_bulk_len", "auth_required", "error")

    def __init__(self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN) -> None:
        self._buf = b""
        self._need = 0
        self.max_bulk_len = max_bulk_len
        self.auth_required = False
        self.error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed by a complete command."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        if self._buf:
            self._buf += data
        else:
            self._buf = bytes(data)

    def take_buffer(self) -> bytes:
        """Remove and return the unconsumed bytes (used when a script's busy loop hands back)."""
        b, self._buf, self._need = self._buf, b"", 0
        return b

    def parse(self) -> list[Command]:
        """Return every complete command buffered.

        On malformed input, the commands before the bad bytes are returned and
        ``self.error`` is set; the caller replies to them, then reports the error
        and closes the connection.
        """
        buf = self._buf
        n = len(buf)
        if n < self._need or self.error is not None:
            return []
        self._need = 0
        out: list[Command] = []
        pos = 0
        try:
            while pos < n:
                if buf[pos] == 42:  # '*'
                    newpos = self._multibulk(buf, pos, n, out)
                else:
                    newpos = self._inline(buf, pos, n, out)
                if newpos < 0:
                    break
                pos = newpos
        except ProtocolError as e:
            self.error = e
            self._buf = b""
            return out
        self._buf = buf[pos:] if pos else buf
        return out

    def _multibulk(self, buf: bytes, pos: int, n: int, out: list[Command]) -> int:
        nl = buf.find(b"\r", pos)
        if nl < 0 or nl + 1 >= n:
            if n - pos > INLINE_MAX_SIZE:
                raise ProtocolError("too big mbulk count string")
            return -1
        count = _parse_ll(buf[pos + 1 : nl])
        if count is None or count > INT_MAX:
            raise ProtocolError("invalid multibulk length")
        if count > 10 and self.auth_required:
            raise ProtocolError("unauthenticated multibulk length")
        p = nl + 2
        if count <= 0:
            return p
        args: Command = []
        append = args.append
        max_bulk = self.max_bulk_len
        for _ in range(count):
            if p >= n:
                return -1
            if buf[p] != 36:  # '$'
                raise ProtocolError(f"expected '$', got '{chr(buf[p])}'")
            nl = buf.find(b"\r", p)
            if nl < 0 or nl + 1 >= n:
                if n - p > INLINE_MAX_SIZE:
                    raise ProtocolError("too big bulk count string")
                return -1
            s = buf[p + 1 : nl]
            blen = int(s) if s.isdigit() and (s[0] != 48 or len(s) == 1) else _parse_ll(s)
            if blen is None or blen < 0 or blen > max_bulk:
                raise ProtocolError("invalid bulk length")
            if blen > 16384 and self.auth_required:
                raise ProtocolError("unauthenticated bulk length")
            start = nl + 2
            end = start + blen
            if end + 2 > n:
                # Remember how much must arrive before another parse can progress.
                self._need = (end + 2) - pos
                return -1
            append(buf[start:end])
            p = end + 2
        out.append(args)
        return p

    def _inline(self, buf: bytes, pos: int, n: int, out: list[Command]) -> int:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if n - pos > INLINE_MAX_SIZE:
                raise ProtocolError("too big inline request")
            return -1
        end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
        args = split_args(buf[pos:end])
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        if args:
            out.append(args)
        return nl + 1


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_SPACE = frozenset(b" \n\r\t\f\v")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_args(line: bytes) -> list[bytes] | None:
    """Redis's ``sdssplitargs``: split an inline command line with quoting rules.

    Returns None on unbalanced quotes (or a closing quote not followed by space).
    """
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = False  # in "double quotes"
        insq = False  # in 'single quotes'
        done = False
        while not done:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 92
                    and i + 3 < n
                    and line[i + 1] == 120
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    done = True
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    done = True
                else:
                    cur.append(c)
            else:
                if i >= n:
                    done = True
                    break
                c = line[i]
                if c in _SPACE:
                    done = True
                elif c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            if i < n:
                i += 1
        args.append(bytes(cur))
