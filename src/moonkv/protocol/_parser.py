"""Sans-I/O parser for client requests (multibulk and inline), with Redis's limits.

``feed(data)`` buffers bytes; ``parse()`` returns the complete commands that are
buffered, in order, and sets ``error`` (a :class:`~moonkv.errors.ProtocolError`)
once the bytes after them are malformed (the commands before the bad bytes are
returned so the caller can run them first, as Redis does).  The parser never
touches a socket, so it is tested with plain bytes.

Two paths, one behaviour:

* **Fast path** (well-formed multibulk, the normal case): bytes also go to a
  ``hiredis.Reader``, which splits them into commands in C.  hiredis accepts more
  than Redis does (RESP3 types, nested arrays, status strings inside arrays,
  no CRLF check after a bulk), so its result is only trusted when re-encoding
  the commands with ``hiredis.pack_command`` gives back exactly the bytes that
  were received: then the input was canonical RESP and the Python parser would
  have produced the same commands.  An incomplete tail is checked by the Python
  parser (so a huge bulk or multibulk length header fails at once, with Redis's
  text).
* **Python path** (inline commands, clients that have not authenticated, and
  anything the fast path did not verify): a strict parser with Redis's exact
  error texts and limits.  The fast path comes back once the buffer is empty.

Buffering is O(n): received bytes are appended to a ``bytearray``, and a large
bulk argument that arrives in many chunks is not re-scanned on every chunk
(``_need`` remembers how many bytes must be present before parsing can make
progress).
"""

from __future__ import annotations

import re
from typing import Any, Final

from moonkv.errors import ProtocolError

try:
    import hiredis as _hiredis

    _Reader: Any = _hiredis.Reader
    _pack: Any = _hiredis.pack_command
    _HiredisError: Any = _hiredis.HiredisError
except (ImportError, AttributeError):  # pragma: no cover - hiredis is a dependency
    _Reader = None
    _pack = None
    _HiredisError = ProtocolError

INLINE_MAX_SIZE: Final = 64 * 1024
DEFAULT_MAX_BULK_LEN: Final = 512 * 1024 * 1024
INT_MAX: Final = 2**31 - 1
_BIG_TAIL: Final = 256 * 1024
_BIG_ARG: Final = 32 * 1024  # Redis's PROTO_MBULK_BIG_ARG
# hiredis pre-allocates a Python list for an aggregate header ("*2000000000") before
# its elements arrive, and the GC then walks every slot: never show it a header
# with 6 or more digits (>= 100000 elements).  Digits map to '0' and aggregate type
# bytes to '*', so one substring search finds such a header anywhere in a chunk.
_GUARD_TABLE: Final = bytes.maketrans(b"123456789%~>|", b"000000000****")
_GUARD: Final = b"*000000"

Command = list[bytes]

# Headers of small commands, by count and by length (see parse_whole).
_ARGC: Final = {b"*%d" % i: i for i in range(10, 65)}  # "*1".."*9": see _argc
_BULK_HEADERS: Final = tuple(b"$%d" % i for i in range(4097))


def _argc(header: bytes) -> int:
    """The argument count of a multibulk header line ("*3"); -1 unless 1..64."""
    if len(header) == 2:
        c = header[1] - 48  # "*1".."*9" without hashing the line
        return c if 1 <= c <= 9 and header[0] == 42 else -1  # (not "~1", an inline command)
    return _ARGC.get(header, -1)


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
    ``use_fast_path=False`` forces the pure-Python parser (tests compare both).
    """

    __slots__ = (
        "_buf", "_need", "_reader", "_fast", "_tail", "max_bulk_len", "auth_required", "error",
        "_arg_at", "_arg_len", "_argv_mem",
    )

    def __init__(
        self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN, use_fast_path: bool = True
    ) -> None:
        self._buf: bytes | bytearray = b""
        self._need = 0
        self._fast = use_fast_path and _Reader is not None
        self._reader: Any = None
        self._tail = b""  # the end of the last chunk given to hiredis (for the guard)
        self.max_bulk_len = max_bulk_len
        self.auth_required = False
        self.error: ProtocolError | None = None
        # The incomplete command at the head of the buffer, as the last parse left it:
        # where the bytes not yet consumed as headers or whole arguments start, the size
        # of the bulk argument being received (0: none) and the bytes of its arguments
        # already complete (see query_buffer).
        self._arg_at = 0
        self._arg_len = 0
        self._argv_mem = 0

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed by a complete command."""
        return len(self._buf)

    def query_buffer(self) -> tuple[int, int, int]:
        """(qbuf, qbuf-free, argv-mem) as Redis's CLIENT LIST shows them for this buffer.

        Redis consumes the headers and complete arguments of a command as they arrive
        (the arguments go to argv-mem); its query buffer holds the rest. For a bulk
        argument of PROTO_MBULK_BIG_ARG (32 KiB) or more it drops the consumed bytes
        and makes the buffer exactly the argument's size, so qbuf is the part of the
        argument received and qbuf-free the rest, allocated from the header on.
        """
        n = len(self._buf)
        if not n:
            return 0, 0, 0
        qbuf = n - self._arg_at
        free = self._arg_len - qbuf if self._arg_len >= _BIG_ARG else 0
        return qbuf, max(0, free), self._argv_mem

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)  # bytearray or memoryview from a caller
        buf = self._buf
        if buf:
            if type(buf) is bytes:
                buf = self._buf = bytearray(buf)
            buf += data  # type: ignore[operator]
        else:
            self._buf = data
            if self._reader is None and self._fast and not self.auth_required:
                # Back in sync: the fast path starts on a command boundary.
                self._reader = _Reader()
                self._tail = b""
        r = self._reader
        if r is not None:
            t = data.translate(_GUARD_TABLE)
            if _GUARD in t or (self._tail and _GUARD in self._tail + t[:8]):
                self._reader = None  # the Python path takes this buffer
                return
            # A chunk that ends inside a line may end inside a header, which
            # may have begun chunks earlier: keep the stream's last bytes.
            self._tail = (self._tail + t[-8:])[-8:] if data[-1] != 10 else b""
            r.feed(data)

    def parse_whole(self, data: bytes) -> list[Command] | None:
        """The commands that ``data`` is, exactly; None means "use feed() and parse()".

        The usual read is one small, well-formed multibulk (or a pipeline of
        them) ending on a command boundary.  Splitting it on CRLF and checking
        every header against the part that follows is cheaper than hiredis
        plus the check of its result.  It is exact: a value containing CRLF
        changes the parts, so a header no longer matches the part after it and
        None is returned; anything else unusual (inline, partial, big,
        malformed, ``*0``) is None too, and the general path handles it with
        Redis's errors.
        """
        n = len(data)
        if (
            n < 4
            or n > 65536  # far below every bulk and query-buffer limit
            or data[0] != 42  # '*'
            or data[n - 1] != 10
            or data[n - 2] != 13
            or self._buf
            or not self._fast
            or self.auth_required
        ):
            return None
        parts = data.split(b"\r\n")
        last = len(parts) - 1  # parts[last] is the b"" after the final CRLF
        argc = _argc(parts[0])
        if argc < 0:
            return None
        headers = _BULK_HEADERS
        nheaders = len(headers)
        # Each command's headers must be exactly the ones its values call for.
        out: list[Command] = []
        i = 0
        end = 2 * argc + 1
        while end <= last:
            args: Command = []
            j = i + 1
            while j < end:
                value = parts[j + 1]
                k = len(value)
                if k >= nheaders or parts[j] != headers[k]:
                    return None  # a value holding CRLF, a long value, or malformed
                args.append(value)
                j += 2
            out.append(args)
            if end == last:
                return out
            i = end
            argc = _argc(parts[i])
            if argc < 0:
                return None
            end = i + 2 * argc + 1
        return None  # the last command is incomplete

    def take_buffer(self) -> bytes:
        """Remove and return the unconsumed bytes (used when a script's busy loop hands back)."""
        b = bytes(self._buf)
        self._buf, self._need, self._reader = b"", 0, None
        self._arg_at = self._arg_len = self._argv_mem = 0
        return b

    def parse(self) -> list[Command]:
        """Return every complete command buffered.

        On malformed input, the commands before the bad bytes are returned and
        ``self.error`` is set; the caller replies to them, then reports the error
        and closes the connection.
        """
        buf = self._buf
        n = len(buf)
        if n < self._need or not n or self.error is not None:
            return []
        r = self._reader
        if r is not None:
            if buf[0] == 42 and not self.auth_required:  # '*'
                out = self._parse_fast(r, buf, n)
                if out is not None:
                    return out
            self._reader = None
        return self._parse_slow()

    def _parse_fast(self, r: Any, buf: bytes | bytearray, n: int) -> list[Command] | None:
        """hiredis's split, verified against the received bytes; None: use the Python path."""
        self._need = 0
        out: list[Any] = []
        try:
            x = r.gets()
            while x is not False:
                out.append(x)
                x = r.gets()
            if not out:
                packed = b""
            elif len(out) == 1:
                packed = _pack(tuple(out[0]))
            else:
                packed = b"".join([_pack(tuple(c)) for c in out])
        except (_HiredisError, TypeError, ValueError, MemoryError):
            return None
        m = len(packed)
        if m == n:
            if packed != buf or m > self.max_bulk_len:
                return None
            self._buf = b""
            self._arg_at = self._arg_len = self._argv_mem = 0
        else:
            if m > n or (m and (buf[:m] != packed or m > self.max_bulk_len)):
                return None
            # An incomplete command follows: check its headers now (Redis rejects a
            # bad or too large length as soon as it arrives), and keep it buffered.
            rest = buf[m:]
            try:
                if self._scan(bytes(rest), len(rest), []) != -1:
                    return None  # hiredis and Redis disagree about this tail
            except ProtocolError as e:
                self.error = e
                rest = b""
                self._reader = None
            self._buf = rest
            if self._need > _BIG_TAIL:
                # A large bulk is arriving: the Python path buffers it in O(n)
                # (hiredis would re-copy its growing buffer).
                self._reader = None
        if not all(out):
            out = [c for c in out if c]  # "*0\r\n" is no command
        return out

    def _parse_slow(self) -> list[Command]:
        buf = bytes(self._buf)
        n = len(buf)
        self._need = 0
        out: list[Command] = []
        try:
            pos = self._scan(buf, n, out, all_commands=True)
        except ProtocolError as e:
            self.error = e
            self._buf = b""
            return out
        self._buf = buf[pos:] if pos else buf
        return out

    def _scan(self, buf: bytes, n: int, out: list[Command], all_commands: bool = False) -> int:
        """Parse commands from ``buf`` into ``out``.

        Returns the position after the last complete command (``all_commands``),
        or -1 when the first command is incomplete (a validation of a tail).
        """
        pos = 0
        self._arg_at = self._arg_len = self._argv_mem = 0
        while pos < n:
            if buf[pos] == 42:  # '*'
                newpos = self._multibulk(buf, pos, n, out)
            else:
                newpos = self._inline(buf, pos, n, out)
            if newpos < 0:
                if not all_commands and pos == 0:
                    return -1
                break
            if not all_commands:
                return newpos
            pos = newpos
        return pos

    def _multibulk(self, buf: bytes, pos: int, n: int, out: list[Command]) -> int:
        self._arg_at = self._arg_len = self._argv_mem = 0
        # Redis finds header lines with strchr(): a NUL before the '\r' hides it.
        nl = buf.find(b"\r", pos)
        if nl < 0 or nl + 1 >= n or buf.find(b"\0", pos, nl) >= 0:
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
        find = buf.find
        for _ in range(count):
            nl = find(b"\r", p)
            if nl < 0 or nl + 1 >= n or find(b"\0", p, nl) >= 0:
                if n - p > INLINE_MAX_SIZE:
                    raise ProtocolError("too big bulk count string")
                self._incomplete(p - pos, 0, args)
                return -1
            if buf[p] != 36:  # '$' (checked once the whole line is there, as Redis)
                got = buf[p : p + 1].decode("utf-8", "surrogateescape")  # the raw byte
                raise ProtocolError(f"expected '$', got '{got}'")
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
                self._incomplete(start - pos, blen + 2, args)
                return -1
            append(buf[start:end])
            p = end + 2
        out.append(args)
        return p

    def _incomplete(self, at: int, arg_len: int, args: Command) -> None:
        """Note where the incomplete command's unconsumed bytes start (see query_buffer)."""
        self._arg_at = at
        self._arg_len = arg_len
        self._argv_mem = sum(map(len, args))

    def _inline(self, buf: bytes, pos: int, n: int, out: list[Command]) -> int:
        nl = buf.find(b"\n", pos)
        if nl < 0 or buf.find(b"\0", pos, nl) >= 0:
            # (Redis's strchr() stops at a NUL: the line never completes.)
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


_ESCAPES: Final = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_SPACE: Final = frozenset(b" \n\r\t\f\v")  # isspace(): skipped between arguments
_SEP: Final = frozenset(b" \n\r\t")  # what ends an unquoted argument (not \f or \v)
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_QUOTING_OR_VF: Final = re.compile(b"[\"'\x0b\x0c]")


def split_args(line: bytes) -> list[bytes] | None:
    """Redis's ``sdssplitargs``: split an inline command line with quoting rules.

    Returns None on unbalanced quotes (or a closing quote not followed by space).
    Like the C function, the line ends at the first NUL byte.
    """
    z = line.find(b"\0")
    if z >= 0:
        line = line[:z]
    if not _QUOTING_OR_VF.search(line):
        # No quotes, and no \v or \f (which bytes.split() would also split on):
        # sdssplitargs splits on runs of space, tab, CR and LF, as bytes.split() does.
        return line.split()
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
                if c in _SEP:
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
