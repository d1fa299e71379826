"""On-disk formats of a data directory: framed records, logs, snapshots, the manifest.

Every record, in logs and in snapshots, is framed the same way::

    u32 little-endian  payload length
    u32 little-endian  CRC-32 of the payload
    payload            msgpack

A log file is ``LOG_MAGIC`` followed by one record per committed unit; the
payload is ``[time_ms, [[db, [arg, ...]], ...]]`` (the unit's deterministic
effects and the time the unit ran, so replay sees the clock the unit saw).  The
records of a node with a replication stream (a replica's, a primary's with a
backlog) also carry the position reached with that unit in the stream (the
snapshot's META has it as ``repl``), so a restart resumes from there: a third
item ``[replid, offset, db]`` in the file's first such record and whenever the
id changes, otherwise a third and fourth item, ``offset, db``, under the id last
written in full in the same file (logs written before this have the full
position in every record).

A snapshot file is ``SNAP_MAGIC`` followed by records ``[tag, ...]``:
``[META, {...}]`` first, then ``[KEYS, db, keys, strings, expires, others]``
chunks, optionally ``[SCRIPTS, state]`` and ``[ACL, users]``, and ``[END, nkeys]`` last.  A snapshot
without its END record is incomplete and never loaded.

The manifest (``MANIFEST``) names the live files: one snapshot (or none) and
the logs to replay after it, in order.  It is replaced atomically (temporary
file, fsync, rename, fsync of the directory).
"""

from __future__ import annotations

import errno
import json
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

LOG_MAGIC = b"MKVLOG01"
SNAP_MAGIC = b"MKVSNAP1"
MANIFEST = "MANIFEST"
LOCKFILE = "LOCK"
HEADER = struct.Struct("<II")
MAX_RECORD = 1 << 31

META, KEYS, SCRIPTS, ACL, END = 0, 1, 2, 3, 9

_LOG_RE = re.compile(r"^log-(\d{6,})\.mkl$")
_SNAP_RE = re.compile(r"^snap-(\d{6,})\.mkv$")


def log_name(gen: int) -> str:
    return f"log-{gen:06d}.mkl"


def snap_name(gen: int) -> str:
    return f"snap-{gen:06d}.mkv"


def file_gen(name: str) -> int | None:
    m = _LOG_RE.match(name) or _SNAP_RE.match(name)
    return int(m.group(1)) if m else None


def is_ours(name: str) -> bool:
    return bool(_LOG_RE.match(name) or _SNAP_RE.match(name)) or name.endswith(".tmp") or name in (
        MANIFEST,
    )


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


_packer_default = msgpack.Packer(use_bin_type=True)


def pack(obj: Any) -> bytes:
    return _packer_default.pack(obj)  # type: ignore[no-any-return]


def unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)


# -- faults (tests inject ENOSPC/EIO here) -------------------------------------

FAULTS: dict[str, int] = {}
"""op ("write" | "fsync") → errno to raise; set by DEBUG PERSIST-FAULT in tests."""


def write_all(fd: int, data: bytes | memoryview) -> None:
    e = FAULTS.get("write")
    if e:
        raise OSError(e, os.strerror(e))
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fsync(fd: int) -> None:
    e = FAULTS.get("fsync")
    if e:
        raise OSError(e, os.strerror(e))
    os.fdatasync(fd)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync, rename, fsync dir."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- manifest ----------------------------------------------------------------------


class FormatError(Exception):
    """A file is corrupt (names the file and, where known, the offset)."""

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        where = f"{path} at offset {offset}" if offset is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


@dataclass
class Manifest:
    snapshot: str | None = None
    logs: list[str] = field(default_factory=list)

    def files(self) -> list[str]:
        return ([self.snapshot] if self.snapshot else []) + list(self.logs)

    def encode(self) -> bytes:
        body = json.dumps(
            {"format": "moonkv-1", "snapshot": self.snapshot, "logs": self.logs},
            separators=(",", ":"),
        ).encode()
        return body + b"\n" + b"crc32:%08x\n" % zlib.crc32(body)


def read_manifest(dir: str) -> Manifest | None:
    """The manifest of ``dir``, None if absent; raises FormatError if damaged."""
    path = os.path.join(dir, MANIFEST)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    lines = raw.split(b"\n")
    if len(lines) < 2 or not lines[1].startswith(b"crc32:"):
        raise FormatError(path, None, "not a moonkv manifest")
    body = lines[0]
    try:
        want = int(lines[1][6:], 16)
    except ValueError:
        raise FormatError(path, None, "bad checksum line") from None
    if zlib.crc32(body) != want:
        raise FormatError(path, None, "checksum mismatch")
    try:
        d = json.loads(body)
    except ValueError:
        raise FormatError(path, None, "not a moonkv manifest") from None
    if type(d) is not dict:
        raise FormatError(path, None, "not a moonkv manifest")
    if d.get("format") != "moonkv-1":
        raise FormatError(path, None, f"unknown format {d.get('format')!r}")
    snapshot, logs = d.get("snapshot"), d.get("logs") or []
    # Only names of our own files in this directory (never a path elsewhere).
    if not (snapshot is None or (type(snapshot) is str and _SNAP_RE.fullmatch(snapshot))) or not (
        type(logs) is list and all(type(n) is str and _LOG_RE.fullmatch(n) for n in logs)
    ):
        raise FormatError(path, None, "bad file names")
    return Manifest(snapshot, logs)


def write_manifest(dir: str, m: Manifest) -> None:
    write_file_atomic(os.path.join(dir, MANIFEST), m.encode())


def max_gen(dir: str) -> int:
    g = 0
    for name in os.listdir(dir):
        n = file_gen(name)
        if n is not None and n > g:
            g = n
    return g


# -- reading framed records ---------------------------------------------------------


@dataclass
class ScanResult:
    """How a file's records end."""

    records: int = 0
    good_end: int = 0  # offset just after the last good record
    size: int = 0
    torn: int = 0  # bytes of an incomplete/garbled last record (0: clean)
    corrupt_at: int | None = None  # offset of a bad record before the tail
    reason: str = ""


def iter_records(
    data: bytes | memoryview, start: int, result: ScanResult
) -> Iterator[tuple[int, memoryview]]:
    """Yield ``(offset, payload)`` of each good record; fill ``result`` with how it ended."""
    view = memoryview(data)
    size = len(view)
    result.size = size
    pos = start
    unpack_from = HEADER.unpack_from
    crc32 = zlib.crc32
    n = 0
    while pos < size:
        if size - pos < 8:
            result.torn = size - pos
            result.reason = "incomplete record header"
            break
        length, crc = unpack_from(view, pos)
        end = pos + 8 + length
        if length == 0:  # never written: zero fill (a crash after the file grew) or garbage
            if _all_zero(view[pos:]):
                result.torn = size - pos
                result.reason = "zero-filled tail"
            else:
                result.corrupt_at = pos
                result.reason = "empty record"
            break
        if end > size:
            if _all_zero(view[pos:]):
                result.reason = "zero-filled tail"
            else:
                result.reason = "incomplete record"
            result.torn = size - pos
            break
        payload = view[pos + 8 : end]
        if crc32(payload) != crc:
            if end == size or _all_zero(view[pos:]):
                result.torn = size - pos
                result.reason = "checksum mismatch in the last record"
            else:
                result.corrupt_at = pos
                result.reason = "checksum mismatch"
            break
        n += 1
        yield pos, payload
        pos = end
    result.records = n
    result.good_end = pos


def decode_unit(
    path: str, off: int, payload: bytes | memoryview
) -> tuple[int, list[list[Any]], list[Any] | None]:
    """A log record's ``(time_ms, [[db, argv], ...], repl)``; FormatError unless it is one.

    An effect of database -1 went to replicas only (PUBLISH in older logs): it counts in the
    stream's offsets and is never replayed; one of database -2 is an ACL user, one of -3 the
    script cache (never streamed).

    ``repl`` is the replication stream's ``[replid, offset, db]`` (``db`` -1: a primary's
    stream selects one next), None on records of a primary that never had a backlog.  A
    record ``[time_ms, effects, offset, db]`` (written since the position's id went into
    a file only when it changes) gives ``[None, offset, db]``: its id is the one of the last
    full position before it in the same file, which the caller fills in.

    The checksum only says the bytes are the ones written: a record that
    decodes to anything else (a damaged writer, a hand-edited file) is refused
    rather than replayed as garbage.
    """
    try:
        obj = unpack(payload)
    except Exception as e:  # noqa: BLE001 - any decoding failure is corruption
        raise FormatError(path, off, f"undecodable record ({e})") from None
    if type(obj) is list and 2 <= len(obj) <= 4:
        ts, effects = obj[0], obj[1]
        pos = obj[2] if len(obj) == 3 else [None, *obj[2:]] if len(obj) == 4 else None
        if type(ts) is int and type(effects) is list and (
            pos is None
            or (
                type(pos) is list
                and len(pos) == 3
                and (type(pos[0]) in (str, bytes) or (pos[0] is None and len(obj) == 4))
                and type(pos[1]) is int
                and type(pos[2]) is int
            )
        ):
            for eff in effects:
                if type(eff) is not list or len(eff) != 2:
                    break
                db, argv = eff
                if type(db) is not int or db < -3 or type(argv) is not list or not argv:
                    break
                for a in argv:
                    if type(a) is not bytes:
                        break
                else:
                    continue
                break
            else:
                return ts, effects, pos
    raise FormatError(path, off, "malformed record (not a unit of effects)")


def fill_position(path: str, off: int, pos: list[Any] | None, replid: Any) -> Any:
    """Give a compact position (``decode_unit``'s ``[None, offset, db]``) ``replid``, the id
    of the file's last full one; returns the id in force after this record.  A compact
    position with no full one before it in its file is corruption."""
    if pos is None:
        return replid
    if pos[0] is not None:
        return pos[0]
    if replid is None:
        raise FormatError(path, off, "a stream position without a replication id before it in its file")
    pos[0] = replid
    return replid


def _all_zero(view: memoryview) -> bool:
    b = bytes(view)
    return not b.strip(b"\0")


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def check_magic(path: str, data: bytes, magic: bytes) -> None:
    if data[: len(magic)] != magic:
        if len(data) < len(magic) and magic.startswith(data):
            raise FormatError(path, 0, "truncated file header")
        raise FormatError(path, 0, f"not a moonkv file (expected {magic.decode()})")


def count_resync(data: bytes | memoryview, bad: int) -> int:
    """How many well-formed records follow a bad one (what a repair drops)."""
    view = memoryview(data)
    size = len(view)
    # First guess: the bad record's length field is intact.
    starts: list[int] = []
    if size - bad >= 8:
        length, _ = HEADER.unpack_from(view, bad)
        starts.append(bad + 8 + length)
    starts.extend(range(bad + 1, size - 8))
    for s in starts:
        if s >= size - 8:
            continue
        n = _chain(view, s)
        if n > 0:
            return n
    return 0


def _chain(view: memoryview, pos: int) -> int:
    size = len(view)
    n = 0
    while pos + 8 <= size:
        length, crc = HEADER.unpack_from(view, pos)
        end = pos + 8 + length
        if end > size or length == 0 or zlib.crc32(view[pos + 8 : end]) != crc:
            break
        n += 1
        pos = end
    return n


# -- snapshots -----------------------------------------------------------------------


class SnapshotWriter:
    """Stream a snapshot into a temporary file; ``commit`` fsyncs and renames it."""

    def __init__(self, path: str, meta: dict[str, Any]) -> None:
        self.path = path
        self.tmp = f"{path}.{os.getpid()}.tmp"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.buf: list[bytes] = [SNAP_MAGIC]
        self.buflen = len(SNAP_MAGIC)
        self.keys = 0
        self.bytes = 0
        self.add([META, meta])

    def add(self, obj: Any) -> None:
        rec = frame(pack(obj))
        self.buf.append(rec)
        self.buflen += len(rec)
        if self.buflen >= 1 << 20:
            self._drain()

    def _drain(self) -> None:
        if self.buf:
            data = b"".join(self.buf)
            write_all(self.fd, data)
            self.bytes += len(data)
            self.buf = []
            self.buflen = 0

    def add_db(self, dbid: int, data: dict[bytes, Any], expires: dict[bytes, int],
               chunk: int = 4096, progress: Any = None) -> None:
        """Write one database's keys in chunks (strings fast, containers by state)."""
        keys: list[bytes] = []
        strings: list[bytes] = []
        others: list[Any] = []
        exps: list[Any] = []
        n = 0
        for k, v in data.items():
            if type(v) is bytes:
                keys.append(k)
                strings.append(v)
            else:
                others.append([k, v.TYPE_NAME, v.dump_state()])
            if expires:
                e = expires.get(k)
                if e is not None:
                    exps.append(k)
                    exps.append(e)
            n += 1
            if n >= chunk:
                self.add([KEYS, dbid, keys, strings, exps, others])
                self.keys += n
                if progress is not None:
                    progress(n)
                keys, strings, others, exps = [], [], [], []
                n = 0
        if n:
            self.add([KEYS, dbid, keys, strings, exps, others])
            self.keys += n
            if progress is not None:
                progress(n)

    def commit(self) -> int:
        self.add([END, self.keys])
        self._drain()
        fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        os.replace(self.tmp, self.path)
        fsync_dir(os.path.dirname(self.path) or ".")
        return self.bytes

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _unlink(self.tmp)


def snapshot_records(path: str, data: bytes) -> Iterator[tuple[int, Any]]:
    """Decode a snapshot's records; raises FormatError unless complete and intact."""
    check_magic(path, data, SNAP_MAGIC)
    res = ScanResult()
    seen_end = False
    for off, payload in iter_records(data, len(SNAP_MAGIC), res):
        if seen_end:
            raise FormatError(path, off, "data after the end record")
        try:
            rec = unpack(payload)
        except Exception as e:  # noqa: BLE001 - any decoding failure is corruption
            raise FormatError(path, off, f"undecodable record ({e})") from None
        if type(rec) is not list or not rec:
            raise FormatError(path, off, "malformed record")
        if rec[0] == END:
            if len(rec) != 2 or type(rec[1]) is not int:
                raise FormatError(path, off, "malformed end record")
            seen_end = True
        yield off + 8 + len(payload), rec
    if res.corrupt_at is not None:
        raise FormatError(path, res.corrupt_at, res.reason)
    if res.torn:
        raise FormatError(path, res.good_end, f"{res.reason} ({res.torn} bytes)")
    if not seen_end:
        raise FormatError(path, res.good_end, "incomplete snapshot (no end record)")


def verify_snapshot(path: str, data: bytes) -> None:
    """Check a snapshot's framing, checksums and end record without decoding its keys."""
    check_magic(path, data, SNAP_MAGIC)
    res = ScanResult()
    last: memoryview | None = None
    for _off, payload in iter_records(data, len(SNAP_MAGIC), res):
        last = payload
    if res.corrupt_at is not None:
        raise FormatError(path, res.corrupt_at, res.reason)
    if res.torn:
        raise FormatError(path, res.good_end, f"{res.reason} ({res.torn} bytes)")
    try:
        end = last is not None and unpack(last)[0] == END
    except Exception:  # noqa: BLE001 - any decoding failure is corruption
        end = False
    if not end:
        raise FormatError(path, res.good_end, "incomplete snapshot (no end record)")


def decode_value(tname: bytes, state: Any) -> Any:
    from moonkv.keyspace.types import REGISTRY

    cls = REGISTRY.get(tname)
    if cls is None:
        raise ValueError(f"unknown value type {tname!r}")
    return cls.load_state(state)  # type: ignore[attr-defined]


def is_space_error(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
