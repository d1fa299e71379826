"""Offline tools on a data directory: ``moonkv snapshot|restore|check|compact``.

Each takes the directory's lock, so none of them runs beside a server on the
same directory -- except ``snapshot``, which asks a running server for a fresh
snapshot (BGSAVE) and copies that file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

from moonkv.persistence import _format as fmt
from moonkv.persistence import _load
from moonkv.persistence._engine import (
    DirectoryLocked,
    Persistence,
    lock_directory,
    lock_owner,
    write_snapshot,
)
from moonkv.protocol import bulk


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, label: str, total: int, unit: str = "") -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.quiet = os.environ.get("MOONKV_NO_PROGRESS") == "1"

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.quiet or now - self.last < 0.1 or (not self.tty and now - self.last < 2.0):
            return
        if not self.tty and self.last == 0.0 and now - self.start < 2.0:
            return
        self.last = now
        self._draw()

    def add(self, n: int) -> None:
        self.update(self.done + n)

    def _draw(self, end: str = "") -> None:
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        line = f"{self.label} [{bar}] {frac * 100:5.1f}% {time.monotonic() - self.start:.1f}s"
        if self.tty:
            sys.stderr.write("\r" + line + end)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        self.done = self.total
        if not self.quiet and (self.tty or self.last):
            self._draw("\n" if self.tty else "")


def _server_for(dir: str) -> Any:
    from moonkv.commands import load as load_commands
    from moonkv.engine import Config, Server

    config = Config()
    config.load("dir", dir)
    config.load("appendonly", "no")
    load_commands()
    server = Server(config)
    try:  # scripts in the data are restored into the scripting engine, when there is one
        from moonkv.scripting import attach as attach_scripting

        attach_scripting(server)
    except Exception as e:  # noqa: BLE001 - a tool still works on the keys
        print(f"moonkv: warning: scripting unavailable ({e}); scripts in the data are skipped",
              file=sys.stderr)
        server.scripting = None
    return server


def _open(dir: str) -> Persistence:
    server = _server_for(dir)
    p = Persistence(server, dir)
    p.open(note="tool")
    return p


def _load_with_progress(p: Persistence, label: str = "loading") -> _load.LoadReport:
    report = _load.LoadReport()
    steps: Iterator[None] = _load.load_steps(p.server, p.dir, p.manifest, report, repair_tail=False)
    bar: Progress | None = None
    for _ in steps:
        if bar is None:
            bar = Progress(label, report.total_bytes)
        bar.update(report.loaded_bytes)
    if bar is not None:
        bar.finish()
    return report


def _count_keys(server: Any) -> int:
    return sum(len(db.data) for db in server.ks.dbs)


def _write_snapshot_file(server: Any, path: str) -> int:
    bar = Progress("writing", _count_keys(server))
    n = write_snapshot(server, path, progress=bar.add)
    bar.finish()
    return n


# -- snapshot ------------------------------------------------------------------------------


def cmd_snapshot(a: argparse.Namespace) -> int:
    dir, out = a.dir, os.path.abspath(a.file)
    if not os.path.isdir(dir):
        return _fail(f"no data directory {dir!r}")
    try:
        p = _open(dir)
    except DirectoryLocked:
        return _snapshot_online(dir, out, a)
    except OSError as e:
        return _fail(str(e))
    try:
        _load_with_progress(p)
        keys = _count_keys(p.server)
        size = _write_snapshot_file(p.server, out)
    except _load.CorruptDirectory as e:
        return _fail(f"{e}; run `moonkv check --dir {dir}`")
    except OSError as e:
        return _fail(f"cannot write {out}: {e.strerror}")
    finally:
        p.close()
    print(f"snapshot of {dir} written to {out}: {keys} keys, {size} bytes")
    return 0


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        import hiredis

        self.sock = socket.create_connection((host, port), timeout=30)
        self.reader = hiredis.Reader()

    def call(self, *args: str) -> Any:
        out = [b"*%d\r\n" % len(args)]
        for s in args:
            b = s.encode()
            out.append(bulk(b))
        self.sock.sendall(b"".join(out))
        while True:
            r = self.reader.gets()
            if r is not False:
                return r
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.reader.feed(data)

    def info(self) -> dict[str, str]:
        raw = self.call("INFO", "persistence")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(":")
            out[k] = v
        return out


def _snapshot_online(dir: str, out: str, a: argparse.Namespace) -> int:
    owner = lock_owner(dir)
    port = a.port or int(owner.get("port", "0") or 0)
    host = a.host or owner.get("bind", "127.0.0.1")
    if not port:
        return _fail(f"{dir} is in use by a server whose port is unknown; pass --port")
    try:
        conn = _Conn(host, port)
        if a.password:
            conn.call("AUTH", a.password)
        before = conn.info().get("moonkv_snapshot", "")
        deadline = time.monotonic() + a.timeout
        started = False
        while time.monotonic() < deadline:
            info = conn.info()
            busy = info.get("rdb_bgsave_in_progress") == "1" or info.get("aof_rewrite_in_progress") == "1"
            if not started and not busy:
                r = conn.call("BGSAVE")
                if isinstance(r, Exception):
                    if "in progress" not in str(r):
                        return _fail(f"BGSAVE failed: {r}")
                else:
                    started = True
                    print(f"server on port {port}: {r.decode() if isinstance(r, bytes) else r}", file=sys.stderr)
            elif started and not busy:
                if info.get("rdb_last_bgsave_status") != "ok":
                    return _fail("the server's BGSAVE failed; see its log")
                name = info.get("moonkv_snapshot", "")
                if name and name != before:
                    break
            time.sleep(0.05)
        else:
            return _fail("timed out waiting for the server's snapshot")
    except (OSError, ConnectionError) as e:
        return _fail(f"cannot talk to the server on {host}:{port}: {e}")
    src = os.path.join(dir, name)
    try:
        f = open(src, "rb")  # open before a later checkpoint may remove it
    except FileNotFoundError:
        return _fail(f"{src} was replaced before it could be copied; run the command again")
    with f:
        data = f.read()
    keys = 0
    try:
        for _, rec in fmt.snapshot_records(src, data):
            if rec[0] == fmt.END:
                keys = rec[1]
    except fmt.FormatError as e:
        return _fail(str(e))
    _copy_atomic(data, out)
    print(f"snapshot of the running server ({dir}) written to {out}: {keys} keys, {len(data)} bytes")
    return 0


def _copy_atomic(data: bytes, out: str) -> None:
    tmp = f"{out}.{os.getpid()}.tmp"
    bar = Progress("copying", len(data))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        step = 8 << 20
        for i in range(0, len(data), step):
            fmt.write_all(fd, data[i : i + step])
            bar.update(i + step)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, out)
    fmt.fsync_dir(os.path.dirname(out) or ".")
    bar.finish()


# -- restore ---------------------------------------------------------------------------------


def cmd_restore(a: argparse.Namespace) -> int:
    dir, src = a.dir, a.file
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError as e:
        return _fail(f"cannot read {src}: {e.strerror}")
    bar = Progress("verifying", len(data))
    keys = 0
    try:
        for end, rec in fmt.snapshot_records(src, data):
            bar.update(end)
            if rec[0] == fmt.END:
                keys = rec[1]
    except fmt.FormatError as e:
        return _fail(f"{e}: not a valid moonkv snapshot, nothing restored")
    bar.finish()
    os.makedirs(dir, exist_ok=True)
    present = [n for n in os.listdir(dir) if n != fmt.LOCKFILE]
    if present and not a.force:
        return _fail(f"{dir} is not empty ({len(present)} entries); use --force to replace its data")
    try:
        p = _open(dir)
    except OSError as e:
        return _fail(str(e))
    try:
        gen = p.generation + 1
        name = fmt.snap_name(gen)
        _copy_atomic(data, os.path.join(dir, name))
        fmt.write_manifest(dir, fmt.Manifest(name, []))
        p.manifest = fmt.Manifest(name, [])
        p._remove_unreferenced()
    except OSError as e:
        return _fail(f"restore failed: {e.strerror or e}")
    finally:
        p.close()
    print(f"restored {keys} keys from {src} into {dir}")
    return 0


# -- check -------------------------------------------------------------------------------------


def _rebuild_manifest(dir: str) -> fmt.Manifest | None:
    """From the files present: the newest complete snapshot and the logs after it."""
    snaps = sorted((fmt.file_gen(n) or 0, n) for n in os.listdir(dir) if n.startswith("snap-") and n.endswith(".mkv"))
    logs = sorted((fmt.file_gen(n) or 0, n) for n in os.listdir(dir) if n.startswith("log-") and n.endswith(".mkl"))
    best: tuple[int, str] | None = None
    for g, n in reversed(snaps):
        try:
            for _ in fmt.snapshot_records(n, fmt.read_file(os.path.join(dir, n))):
                pass
        except fmt.FormatError:
            continue
        best = (g, n)
        break
    g0 = best[0] if best else 0
    return fmt.Manifest(best[1] if best else None, [n for g, n in logs if g >= g0])


def cmd_check(a: argparse.Namespace) -> int:
    dir = a.dir
    if not os.path.isdir(dir):
        return _fail(f"no data directory {dir!r}")
    try:
        lock_fd = lock_directory(dir, "check")
    except OSError as e:
        return _fail(str(e))
    try:
        return _check(dir, a.repair)
    finally:
        os.close(lock_fd)


def _check(dir: str, repair: bool) -> int:
    problems = 0
    try:
        m = fmt.read_manifest(dir)
    except (fmt.FormatError, ValueError) as e:
        print(f"MANIFEST: damaged ({e})")
        m = None
        problems += 1
        if not repair:
            print("run with --repair to rebuild it from the files present")
            return 1
    if m is None:
        has_data = any(fmt.file_gen(n) is not None for n in os.listdir(dir))
        if not has_data:
            print(f"{dir}: empty data directory, nothing to check")
            return 0
        if problems == 0:
            print("MANIFEST: missing")
            problems += 1
        if not repair:
            print("run with --repair to rebuild it from the files present")
            return 1
        m = _rebuild_manifest(dir)
        assert m is not None
        fmt.write_manifest(dir, m)
        print(f"MANIFEST: rebuilt (snapshot {m.snapshot}, logs {', '.join(m.logs) or '-'})")
    print(f"MANIFEST: ok (snapshot {m.snapshot or '-'}, logs {', '.join(m.logs) or '-'})")
    if m.snapshot:
        path = os.path.join(dir, m.snapshot)
        try:
            data = fmt.read_file(path)
            bar = Progress(f"checking {m.snapshot}", len(data))
            keys = 0
            for end, rec in fmt.snapshot_records(path, data):
                bar.update(end)
                if rec[0] == fmt.END:
                    keys = rec[1]
            bar.finish()
            print(f"{m.snapshot}: ok, {keys} keys, {len(data)} bytes")
        except (OSError, fmt.FormatError) as e:
            print(f"{m.snapshot}: BAD: {e}")
            print("a damaged snapshot cannot be repaired: restore a backup with `moonkv restore`")
            return 1
    keep: list[str] = []
    dropped = 0
    cut = False
    for name in m.logs:
        path = os.path.join(dir, name)
        if cut:
            try:
                data = fmt.read_file(path)
                res = fmt.ScanResult()
                n = sum(1 for _ in fmt.iter_records(data, len(fmt.LOG_MAGIC), res))
            except OSError:
                n = 0
            dropped += n
            print(f"{name}: follows a bad record: {n} units {'dropped' if repair else 'would be dropped'}")
            continue
        try:
            data = fmt.read_file(path)
        except FileNotFoundError:
            print(f"{name}: MISSING")
            problems += 1
            cut = True
            continue
        if not data.startswith(fmt.LOG_MAGIC):
            print(f"{name}: BAD header")
            problems += 1
            cut = True
            if repair:
                _truncate(path, 0, fmt.LOG_MAGIC)
                keep.append(name)
            continue
        res = fmt.ScanResult()
        bar = Progress(f"checking {name}", len(data))
        n = 0
        replid = None
        for off, payload in fmt.iter_records(data, len(fmt.LOG_MAGIC), res):
            try:
                replid = fmt.fill_position(path, off, fmt.decode_unit(path, off, payload)[2], replid)
            except fmt.FormatError as e:  # intact bytes that are no unit: corrupt from here
                res.corrupt_at, res.reason = off, e.reason
                break
            n += 1
            if n & 4095 == 0:
                bar.update(off)
        bar.finish()
        keep.append(name)
        if res.corrupt_at is not None:
            later = fmt.count_resync(data, res.corrupt_at)
            problems += 1
            cut = True
            dropped += 1 + later
            print(
                f"{name}: CORRUPT record at offset {res.corrupt_at} ({res.reason}) after {n} good units; "
                f"{1 + later} units from there {'dropped' if repair else 'would be dropped'} by --repair"
            )
            if repair:
                _truncate(path, res.corrupt_at)
        elif res.torn:
            problems += 1
            last = name == m.logs[-1]
            if not last:
                cut = True
            dropped += 1
            print(
                f"{name}: torn record at the end (offset {res.good_end}, {res.torn} bytes: {res.reason}) "
                f"after {n} good units{'' if last else ' -- in a log that is not the last'}"
            )
            if repair:
                _truncate(path, res.good_end)
        else:
            print(f"{name}: ok, {n} units, {len(data)} bytes")
    if repair and (problems or keep != m.logs):
        newm = fmt.Manifest(m.snapshot, keep)
        fmt.write_manifest(dir, newm)
        for name in m.logs:
            if name not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dir, name))
        print(f"repaired: {dropped} units dropped")
        return 0
    if problems:
        print(f"{problems} problem(s) found; run `moonkv check --dir {dir} --repair` to truncate at the first bad record")
        return 1
    print("ok")
    return 0


def _truncate(path: str, size: int, header: bytes = b"") -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        if header:
            os.pwrite(fd, header, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


# -- compact ----------------------------------------------------------------------------------------


def cmd_compact(a: argparse.Namespace) -> int:
    dir = a.dir
    if not os.path.isdir(dir):
        return _fail(f"no data directory {dir!r}")
    try:
        p = _open(dir)
    except OSError as e:
        return _fail(str(e))
    try:
        before = sum(os.path.getsize(os.path.join(dir, n)) for n in p.manifest.files())
        _load_with_progress(p)
        gen = p.generation + 1
        name = fmt.snap_name(gen)
        size = _write_snapshot_file(p.server, os.path.join(dir, name))
        p.manifest = fmt.Manifest(name, [])
        fmt.write_manifest(dir, p.manifest)
        p._remove_unreferenced()
    except _load.CorruptDirectory as e:
        return _fail(f"{e}; run `moonkv check --dir {dir} --repair` first")
    except OSError as e:
        return _fail(f"compaction failed: {e.strerror or e} (the directory is unchanged)")
    finally:
        p.close()
    print(f"compacted {dir}: {before} bytes -> {size} bytes ({_count_keys(p.server)} keys)")
    return 0


def _fail(msg: str) -> int:
    print(f"moonkv: {msg}", file=sys.stderr)
    return 1


def main(cmd: str, args: list[str]) -> int:
    ap = argparse.ArgumentParser(prog=f"moonkv {cmd}")
    ap.add_argument("--dir", default="./moonkv-data", help="data directory (default ./moonkv-data)")
    if cmd == "snapshot":
        ap.add_argument("file", help="backup file to write")
        ap.add_argument("--host", default="")
        ap.add_argument("--port", type=int, default=0, help="port of the server using --dir (default: from its lock)")
        ap.add_argument("--password", default="")
        ap.add_argument("--timeout", type=float, default=3600.0)
        return cmd_snapshot(ap.parse_args(args))
    if cmd == "restore":
        ap.add_argument("file", help="backup file written by `moonkv snapshot`")
        ap.add_argument("--force", action="store_true", help="replace the data of a non-empty directory")
        return cmd_restore(ap.parse_args(args))
    if cmd == "check":
        ap.add_argument("--repair", action="store_true", help="truncate at the first bad record")
        return cmd_check(ap.parse_args(args))
    if cmd == "compact":
        return cmd_compact(ap.parse_args(args))
    return _fail(f"unknown command {cmd}")
