"""The storage engine: effects log with group commit, checkpoints, recovery, INFO.

One object per server, attached as ``server.persistence``.  It is the durable
effects sink (``commit`` buffers one framed record per unit; the listener's
per-iteration ``flush`` writes them all with one write and one fsync), it
loads the data directory at start-up while the loop answers ``-LOADING``, and
it runs checkpoints: a snapshot of the state at one instant plus a fresh log
for what follows, switched in atomically through the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import logging
import os
import queue
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from moonkv.persistence import _format as fmt
from moonkv.persistence import _load

log = logging.getLogger("moonkv")

_HEADER_PACK = fmt.HEADER.pack
_pack = msgpack.Packer(use_bin_type=True).pack  # one Packer: packb() builds one per call
_crc32 = zlib.crc32

BGSAVE_ERROR = (
    "Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
    "Commands that may modify the data set are disabled, because this instance is configured to "
    "report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
    "Please check the Redis logs for details about the RDB error."
)


PIPELINED_FSYNC = os.environ.get("MOONKV_PIPELINED_FSYNC", "0") == "1"
SWITCH_INTERVAL = float(os.environ.get("MOONKV_SWITCH_INTERVAL", "0.0002"))


class DirectoryLocked(OSError):
    pass


def lock_directory(dir: str, note: str = "") -> int:
    """Take the data directory's lock (a second server or tool gets a clear error)."""
    path = os.path.join(dir, fmt.LOCKFILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OSError(f"cannot open {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        except OSError:
            owner = ""
        os.close(fd)
        who = f" ({owner})" if owner else ""
        raise DirectoryLocked(
            f"data directory {dir!r} is in use by another moonkv process{who}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} {note}\n".encode(), 0)
    return fd


def lock_owner(dir: str) -> dict[str, str]:
    """What the lock file says about its holder (``pid``, ``port``, ``bind``)."""
    try:
        with open(os.path.join(dir, fmt.LOCKFILE), encoding="utf-8") as f:
            words = f.read().split()
    except OSError:
        return {}
    return dict(zip(words[::2], words[1::2], strict=False))


def _set_pdeathsig() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def write_snapshot(server: Any, path: str, *, progress: Any = None) -> int:
    """Write the server's state to ``path`` (temporary file, fsync, rename). Returns bytes.

    The ACL users are always in it, wherever they came from: a replica's full sync gives
    it its primary's users, and the log's ACL records after it need their starting point."""
    ks = server.ks
    meta: dict[str, Any] = {"version": 1, "time_ms": ks.now_ms(), "databases": len(ks.dbs)}
    p = server.persistence
    if p is not None and p.repl_pos is not None:
        meta["repl"] = p.repl_pos  # the stream position, as the log records carry it
    w = fmt.SnapshotWriter(path, meta)
    try:
        for db in ks.dbs:
            if db.data:
                w.add_db(db.id, db.data, db.expires, progress=progress)
        eng = server.scripting
        if eng is not None and hasattr(eng, "snapshot_state"):
            w.add([fmt.SCRIPTS, eng.snapshot_state()])
        w.add([fmt.ACL, server.acl.snapshot_state()])
        return w.commit()
    except BaseException:
        w.abort()
        raise


class Persistence:
    def __init__(self, server: Any, dir: str | None = None) -> None:
        self.server = server
        self.ks = server.ks
        self.config = server.config
        self.dir = os.path.abspath(dir or server.config["dir"])
        self.lock_fd = -1
        self.manifest = fmt.Manifest()
        # The log being appended to.
        self.fd = -1
        self.log_name: str | None = None
        self.log_size = 0
        self.logging = False  # registered as a sink
        self.chain_ok = False  # manifest chain + current log == memory
        self.buf: list[bytes] = []
        self.unsynced = False
        self.last_fsync = time.monotonic()
        self.fsync_thread: threading.Thread | None = None
        self.bg_fsync_error: OSError | None = None
        self.fsync_policy: str = server.config["appendfsync"]
        # Failures.
        self.broken = False  # the current log fd must not be written again
        self.fail_seq = 0
        self.need_recovery = False
        self.last_write_ok = True
        self.last_write_error = ""
        self.retry_at = 0.0
        # Checkpoints.
        self.child_pid = 0
        self.child_kind = ""
        self.child_gen = 0
        self.child_log: str | None = None
        self.child_start = 0.0
        self.child_fail_seq = 0
        self.child_dirty = 0
        self.scheduled_save = False
        self.scheduled_rewrite = False
        self.last_bgsave_ok = True
        self.last_bgsave_secs = -1
        self.last_rewrite_ok = True
        self.last_rewrite_secs = -1
        self.rewrites = 0
        self.rewrite_failures = 0
        self.last_save_attempt = 0.0
        self.dirty_at_save = 0
        self.base_size = 0
        self.snap_size = 0
        self.logs_size = 0  # closed logs of the chain
        # Loading.
        self.loaded = False
        self.load_report = _load.LoadReport()
        self.load_start = 0.0
        self.load_time = 0.0
        self._last_progress = 0.0
        self.fatal: str | None = None
        self.generation = 0
        self.loop: Any = None
        self.inflight = False
        self.inflight_cbs: list[Callable[[bool], None]] = []
        self.next_cbs: list[Callable[[bool], None]] = []
        self.inflight_id = 0
        self.worker: threading.Thread | None = None
        self.worker_q: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self.worker_done = threading.Event()
        self.worker_result: tuple[int, OSError | None, int] = (0, None, 0)  # batch, error, fsync ns
        self.units = 0  # records committed (group commit: units / flushes per write+fsync)
        self.flushes = 0
        # [replid, offset, db] of the replication stream: on a replica, how far it applied its
        # primary's; on a primary with a backlog, how far it streamed its own.  Written into
        # every record (and snapshot) so a restart resumes from there (docs/replication.md).
        self.repl_pos: list[Any] | None = None
        # The replication id of the last position written in full into the current log file
        # (None: none yet): the records after it carry only the offset and database.
        self.pos_replid: str | None = None
        # Called once the data directory is loaded, before any client is served
        # (replication takes up a primary's stream position there).
        self.after_load: list[Callable[[], None]] = []
        # Shown every record of that load (LoadReport.observe).
        self.load_observer: Callable[[list[Any] | None, list[Any] | None], None] | None = None

    # -- opening ---------------------------------------------------------------------

    def open(self, note: str = "") -> None:
        """Lock the directory and read its manifest (no data loaded yet)."""
        os.makedirs(self.dir, exist_ok=True)
        self.lock_fd = lock_directory(self.dir, note)
        try:
            m = fmt.read_manifest(self.dir)
        except (fmt.FormatError, ValueError) as e:
            self.close()
            raise OSError(
                f"{e}; run `moonkv check --dir {self.dir} --repair` to rebuild it"
            ) from None
        if m is None:
            m = self._adopt_orphans()
        self.manifest = m
        self.generation = fmt.max_gen(self.dir)
        self._remove_unreferenced()

    def _adopt_orphans(self) -> fmt.Manifest:
        names = [n for n in os.listdir(self.dir) if fmt.file_gen(n) is not None]
        if names:
            raise OSError(
                f"data directory {self.dir!r} has data files but no MANIFEST; run "
                f"`moonkv check --dir {self.dir} --repair` to rebuild it"
            )
        return fmt.Manifest()

    def _remove_unreferenced(self) -> None:
        keep = set(self.manifest.files())
        if self.log_name:
            keep.add(self.log_name)
        if self.child_log:
            keep.add(self.child_log)
        for name in os.listdir(self.dir):
            if name in keep or name in (fmt.MANIFEST, fmt.LOCKFILE):
                continue
            if self.child_pid and name.startswith(fmt.snap_name(self.child_gen)):
                continue
            if fmt.file_gen(name) is not None or (name.endswith(".tmp") and name.startswith(("snap-", "MANIFEST"))):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.dir, name))

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self.lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = -1

    # -- loading -------------------------------------------------------------------------

    def start(self, loop: Any) -> None:
        """Called by the listener once it accepts connections: load in slices."""
        self.loop = loop
        srv = self.server
        if self.lock_fd >= 0:  # the real port is known now (0: no plaintext port, TLS only)
            with contextlib.suppress(OSError):
                bind = (self.config["bind"].split() or ["127.0.0.1"])[0]
                os.ftruncate(self.lock_fd, 0)
                os.pwrite(self.lock_fd, f"pid {os.getpid()} port {srv.port} bind {bind}\n".encode(), 0)
        if self.loaded:
            return
        steps = self._load_steps()

        def step() -> None:
            deadline = time.perf_counter() + 0.05
            try:
                for _ in steps:
                    if time.perf_counter() >= deadline:
                        self._progress()
                        loop.call_soon(step)
                        return
            except _load.CorruptDirectory as e:
                self._fatal(e)
                return
            except Exception as e:  # noqa: BLE001
                log.exception("loading failed")
                self._fatal_text(f"loading {self.dir} failed: {e}")
                return

        loop.call_soon(step)

    def load_now(self) -> None:
        for _ in self._load_steps():
            pass

    def _load_steps(self) -> Iterator[None]:
        srv = self.server
        srv.loading = True
        self.load_start = time.time()
        self._last_progress = time.monotonic()
        self.load_report = _load.LoadReport(observe=self.load_observer)
        yield from _load.load_steps(
            srv, self.dir, self.manifest, self.load_report, log=log.warning,
            repair_tail=bool(self.config["aof-load-truncated"]),
        )
        self._after_load()

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress >= 1.0:
            self._last_progress = now
            r = self.load_report
            pct = 100.0 * r.loaded_bytes / r.total_bytes if r.total_bytes else 100.0
            log.info(
                "Loading: %.0f%% (%.1f of %.1f MB), %d keys, %d units, %.1fs",
                pct, r.loaded_bytes / 1e6, r.total_bytes / 1e6, r.keys, r.units, time.time() - self.load_start,
            )

    def _after_load(self) -> None:
        srv = self.server
        r = self.load_report
        self.load_time = time.time() - self.load_start
        for path, off, nbytes in r.torn:
            log.warning(
                "Torn record at the end of %s (offset %d): %d bytes truncated (an unacknowledged "
                "write interrupted by a crash)", os.path.basename(path), off, nbytes,
            )
        if r.failed:
            log.warning("%d replayed effects failed; first: %s", r.failed, r.first_failure)
        if r.total_bytes:
            log.info(
                "DB loaded from disk: %.3f seconds (%d keys from the snapshot, %d units replayed, %d expired keys removed)",
                self.load_time, r.keys, r.units, r.expired,
            )
        self.snap_size = self._size(self.manifest.snapshot)
        self.logs_size = sum(self._size(n) for n in self.manifest.logs)
        self.dirty_at_save = self.ks.dirty
        self.repl_pos = r.repl_pos
        self.loaded = True
        if self.config["appendonly"]:
            self._start_logging()
        self.base_size = self.snap_size + self.logs_size
        for cb in self.after_load:
            cb()
        srv.loading = False

    def _size(self, name: str | None) -> int:
        if not name:
            return 0
        try:
            return os.path.getsize(os.path.join(self.dir, name))
        except OSError:
            return 0

    def _fatal(self, e: _load.CorruptDirectory) -> None:
        self._fatal_text(self.corrupt_message(e))

    def corrupt_message(self, e: _load.CorruptDirectory) -> str:
        """Why loading stopped, and the way out."""
        err = e.err
        dropped = f" ({e.dropped} later units would be dropped)" if e.dropped else ""
        return (
            f"Bad file format reading {err.path}"
            + (f" at offset {err.offset}" if err.offset is not None else "")
            + f": {err.reason}. Refusing to start: the data after this point cannot be trusted. "
            f"Run `moonkv check --dir {self.dir} --repair` to truncate the log at the first bad "
            f"record{dropped}."
        )

    def _fatal_text(self, text: str) -> None:
        self.fatal = text
        log.error(text)
        print(f"moonkv: {text}", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(1)

    # -- the log ---------------------------------------------------------------------------

    def _new_gen(self) -> int:
        self.generation += 1
        return self.generation

    def _create_log(self, gen: int) -> tuple[int, str]:
        name = fmt.log_name(gen)
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            fmt.write_all(fd, fmt.LOG_MAGIC)
            fmt.fsync(fd)
            fmt.fsync_dir(self.dir)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return fd, name

    def _start_logging(self) -> None:
        """Begin appending: to the chain's last log, or (if memory isn't covered) via a checkpoint."""
        m = self.manifest
        if m.logs:
            name = m.logs[-1]
            path = os.path.join(self.dir, name)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self.log_name = name
            self.pos_replid = None
            self.log_size = os.path.getsize(path)
            self.logs_size -= self.log_size
            self.chain_ok = True
        else:
            fd, name = self._create_log(self._new_gen())
            self.fd, self.log_name, self.log_size = fd, name, len(fmt.LOG_MAGIC)
            self.pos_replid = None
            # Memory == the snapshot (or empty): snapshot + this log is the full story.
            m.logs.append(name)
            fmt.write_manifest(self.dir, m)
            self.chain_ok = True
        self.logging = True
        self.broken = False
        if self not in self.server.sinks:
            self.server.sinks.append(self)

    def _stop_logging(self) -> None:
        self.flush()
        if self.fd >= 0 and not self.broken:
            try:
                fmt.fsync(self.fd)
            except OSError as e:
                self._write_failed(e)
        if self in self.server.sinks:
            self.server.sinks.remove(self)
        self.logging = False
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
        self.logs_size += self.log_size
        self.log_name = None
        self.pos_replid = None
        self.log_size = 0
        self.chain_ok = False

    # the EffectsSink -----------------------------------------------------------

    def commit(self, effects: list[tuple[int, list[bytes]]]) -> None:
        if self.broken:
            return
        pos = self.repl_pos
        if pos is None:
            payload = _pack((self.ks.now_ms(), effects))
        elif pos[0] == self.pos_replid:  # the id is this file's last one written: offset and db
            payload = _pack((self.ks.now_ms(), effects, pos[1], pos[2]))
        else:
            payload = _pack((self.ks.now_ms(), effects, pos))
            self.pos_replid = pos[0]
        self.units += 1
        self.buf.append(_HEADER_PACK(len(payload), _crc32(payload)) + payload)

    def needs_flush(self) -> bool:
        return bool(self.buf) or self.inflight

    def flush(self) -> bool:
        """Write this iteration's records (and fsync with ``always``); False if that failed."""
        if self.inflight:
            self._wait_inflight()
        cbs = self.next_cbs
        if cbs:
            self.next_cbs = []
        ok = self._flush_sync()
        for cb in cbs:
            cb(ok)
        return ok

    def _flush_sync(self) -> bool:
        buf = self.buf
        if not buf:
            return not self.broken or not self.logging
        self.buf = []
        if self.broken or self.fd < 0:
            return False
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        srv = self.server
        try:
            t0 = time.perf_counter_ns()
            fmt.write_all(self.fd, data)
            t1 = time.perf_counter_ns()
            srv.latency_sample("aof-write", t1 - t0)
            if self.fsync_policy == "always":
                fmt.fsync(self.fd)
                srv.latency_sample("aof-fsync-always", time.perf_counter_ns() - t1)
                self.last_fsync = time.monotonic()
            else:
                self.unsynced = True
        except OSError as e:
            self._write_failed(e)
            return False
        self.log_size += len(data)
        self.flushes += 1
        return True

    # pipelined group commit (appendfsync always) ----------------------------------------
    #
    # The write() happens on the loop thread; the fsync runs on a worker thread while the
    # loop goes on reading and executing other clients' commands.  Replies wait for the
    # batch that was open when they were produced; the records that arrive during an
    # fsync form the next batch, written and fsynced as soon as the current one is done.

    def flush_async(self, done: Callable[[bool], None]) -> bool:
        """Make everything committed so far durable, then call ``done(ok)``.

        Returns False (nothing done) when the caller should use :meth:`flush` instead.
        """
        if self.fsync_policy != "always" or self.loop is None or not self.logging or not PIPELINED_FSYNC:
            return False
        self.next_cbs.append(done)
        if not self.inflight:
            self._start_batch()
        return True

    def _start_batch(self) -> None:
        cbs, self.next_cbs = self.next_cbs, []
        buf = self.buf
        if not buf or self.broken or self.fd < 0:
            self.buf = []
            ok = not self.broken or not buf
            for cb in cbs:
                cb(ok and not self.broken)
            return
        self.buf = []
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        try:
            fmt.write_all(self.fd, data)
        except OSError as e:
            self._write_failed(e)
            for cb in cbs:
                cb(False)
            return
        self.log_size += len(data)
        self.flushes += 1
        self.inflight = True
        self.inflight_cbs = cbs
        self.inflight_id += 1
        if self.worker is None:
            # The worker needs the GIL for a few microseconds before and after each fsync;
            # with the default 5 ms switch interval that hand-off would wait behind the loop.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            self.worker = threading.Thread(target=self._worker, name="moonkv-fsync", daemon=True)
            self.worker.start()
        self.worker_done.clear()
        self.worker_q.put((self.inflight_id, self.fd))

    def _worker(self) -> None:
        q = self.worker_q
        while True:
            item = q.get()
            if item is None:
                return
            bid, fd = item
            err: OSError | None = None
            t0 = time.perf_counter_ns()
            try:
                fmt.fsync(fd)
            except OSError as e:
                err = e
            ns = time.perf_counter_ns() - t0
            self.worker_result = (bid, err, ns)
            self.worker_done.set()
            loop = self.loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closed at exit
                    loop.call_soon_threadsafe(self._batch_done, bid, err, ns)

    def _wait_inflight(self) -> None:
        if self.inflight:
            self.worker_done.wait()
            bid, err, ns = self.worker_result
            self._batch_done(bid, err, ns)

    def _batch_done(self, bid: int, err: OSError | None, fsync_ns: int) -> None:
        if not self.inflight or bid != self.inflight_id:
            return
        # The latency monitor's event for a slow fsync (Redis's name; here the
        # replies of the batch waited for it, the loop did not).
        self.server.latency_sample("aof-fsync-always", fsync_ns)
        cbs, self.inflight_cbs = self.inflight_cbs, []
        if err is not None:
            self._write_failed(err)
        else:
            self.last_fsync = time.monotonic()
        ok = err is None
        for cb in cbs:
            cb(ok)
        self.inflight = False
        if self.next_cbs:
            self._start_batch()

    def _write_failed(self, e: OSError) -> None:
        """A write or fsync failed: stop accepting writes until a checkpoint rebuilds the files.

        After a failed fsync the state of the file's pages is unknown, so the file is never
        appended to again; the next good checkpoint writes memory afresh.
        """
        self.broken = True
        self.buf = []
        self.fail_seq += 1
        self.need_recovery = True
        self.last_write_ok = False
        self.last_write_error = e.strerror or str(e)
        self.retry_at = time.monotonic() + 1.0
        self.server.write_error = f"Errors writing to the AOF file: {self.last_write_error}"
        log.error("Error writing to the log %s: %s; writes are refused until the disk recovers",
                  self.log_name, self.last_write_error)

    def _bg_fsync(self, fd: int) -> None:
        try:
            fmt.fsync(fd)
        except OSError as e:
            self.bg_fsync_error = e
        finally:
            os.close(fd)

    def _maybe_fsync_everysec(self) -> None:
        if not self.unsynced or self.broken or self.fd < 0:
            return
        t = self.fsync_thread
        if t is not None and t.is_alive():
            return
        now = time.monotonic()
        if now - self.last_fsync < 1.0:
            return
        self.unsynced = False
        self.last_fsync = now
        th = threading.Thread(target=self._bg_fsync, args=(os.dup(self.fd),), daemon=True)
        self.fsync_thread = th
        th.start()

    # -- configuration ------------------------------------------------------------------------

    def config_changed(self, name: str, value: Any) -> None:
        if name == "appendfsync":
            if value == "always" and self.fsync_policy != "always" and self.fd >= 0 and not self.broken:
                self.flush()
                try:
                    fmt.fsync(self.fd)
                except OSError as e:
                    self._write_failed(e)
            self.fsync_policy = value
        elif name == "appendonly" and self.loaded:
            if value and not self.logging:
                self._enable_logging()
            elif not value and self.logging:
                self._stop_logging()

    def _enable_logging(self) -> None:
        """appendonly no → yes: log from now on; the manifest switches once a snapshot covers memory."""
        from moonkv.errors import RespError

        if self.child_pid:
            self._kill_child()
        err = self.checkpoint("rewrite", background=True, enable_log=True)
        if err:
            raise RespError(f"Failed to enable the log: {err}")

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self, kind: str, background: bool, *, enable_log: bool = False) -> str | None:
        """Snapshot the state now and start a fresh log; returns an error text or None."""
        srv = self.server
        if not self.loaded:
            return "the dataset is still loading"
        if self.child_pid:
            return "Background save already in progress"
        if srv.effects:
            # Called in the middle of a unit: checkpoint right after it commits.
            if kind == "rewrite":
                self.scheduled_rewrite = True
            else:
                self.scheduled_save = True
            return None
        ks = self.ks
        if ks.expired_effects:
            exp = ks.expired_effects
            ks.expired_effects = []
            for sink in srv.sinks:
                sink.commit(exp)
        self._wait_inflight()
        self.last_save_attempt = time.monotonic()
        start_seq = self.fail_seq
        logging_after = self.logging or enable_log
        new_log: str | None = None
        if logging_after:
            if self.logging and not self.broken:
                if not self.flush():
                    return f"Errors writing to the log: {self.last_write_error}"
                try:
                    fmt.fsync(self.fd)
                except OSError as e:
                    self._write_failed(e)
                    return f"Errors writing to the log: {self.last_write_error}"
            gen = self._new_gen()
            try:
                fd, new_log = self._create_log(gen)
            except OSError as e:
                self.retry_at = time.monotonic() + 1.0
                return f"cannot create a new log: {e.strerror}"
            if self.chain_ok and not self.broken:
                m = fmt.Manifest(self.manifest.snapshot, [*self.manifest.logs, new_log])
                try:
                    fmt.write_manifest(self.dir, m)
                except OSError as e:
                    os.close(fd)
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.dir, new_log))
                    return f"cannot write the manifest: {e.strerror}"
                self.manifest = m
                self.logs_size += self.log_size
            else:
                self.chain_ok = False
            if self.fd >= 0:
                os.close(self.fd)
            self.fd, self.log_name, self.log_size = fd, new_log, len(fmt.LOG_MAGIC)
            self.pos_replid = None
            self.broken = False
            self.unsynced = False
            if not self.logging:
                self.logging = True
                srv.sinks.append(self)
        else:
            gen = self._new_gen()
        self.child_gen = gen
        self.child_log = new_log
        self.child_kind = kind
        self.child_start = time.monotonic()
        self.child_fail_seq = start_seq
        self.child_dirty = ks.dirty
        path = os.path.join(self.dir, fmt.snap_name(gen))
        if not background:
            try:
                write_snapshot(srv, path)
            except OSError as e:
                self._checkpoint_done(False, str(e.strerror or e))
                return f"{e.strerror or e}"
            self._checkpoint_done(True)
            return None
        self.child_pid = self.fork_snapshot(path)
        log.info("Background %s started by pid %d", "saving" if kind == "save" else "log rewrite", self.child_pid)
        return None

    def fork_snapshot(self, path: str) -> int:
        """Fork a child that writes the state of this instant to ``path``; returns its pid.

        The caller reaps it (``os.waitpid``): exit code 0 means the file is complete.
        Checkpoints and replication's full syncs use it.
        """
        lock_fd = self.lock_fd
        srv = self.server
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                if lock_fd >= 0:
                    os.close(lock_fd)
                _set_pdeathsig()
                gc.disable()
                with contextlib.suppress(ValueError, OSError):
                    signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                write_snapshot(srv, path)
                code = 0
            except BaseException as e:  # noqa: BLE001
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"moonkv: snapshot child failed: {e}\n")
            finally:
                os._exit(code)
        return pid

    def adopt_snapshot(self, src: str, replid: str, offset: int) -> int:
        """A replica's full sync: make the snapshot file ``src`` (fsynced, in this directory)
        the whole dataset, at offset ``offset`` of stream ``replid``.  Returns the database
        the stream continues in (a replica's snapshot records it; a primary's stream
        selects one first).

        Memory is replaced by the snapshot's content; on disk the snapshot becomes the
        manifest's snapshot with a fresh log whose first record carries ``pos``, switched
        in atomically: a crash before the switch restarts from the old files (and the
        replica syncs again), after it from the new ones.  The snapshot's ACL users replace
        the replica's, whatever defines them at start (moonkv replicates ACLs; docs/replication.md).
        """
        srv = self.server
        try:
            fmt.verify_snapshot(src, fmt.read_file(src))  # before anything is replaced
        except fmt.FormatError as e:
            with contextlib.suppress(OSError):
                os.unlink(src)
            raise ValueError(f"the snapshot received is not valid: {e}") from None
        if self.child_pid:
            self._kill_child()
        self.flush()
        gen = self._new_gen()
        snap = fmt.snap_name(gen)
        os.replace(src, os.path.join(self.dir, snap))
        fmt.fsync_dir(self.dir)
        for db in self.ks.dbs:
            db.data = {}
            db.expires = {}
        eng = srv.scripting
        if eng is not None:
            eng.flush()
            if eng.functions is not None:
                eng.functions.flush()
        saved_sinks, srv.sinks = srv.sinks, []
        try:
            report = _load.load_all(srv, self.dir, fmt.Manifest(snap, []), repair_tail=False, users=True)
        finally:
            srv.sinks = saved_sinks
        # (-1: a primary's stream that selects a database next)
        db = max(int(report.repl_pos[2]), 0) if report.repl_pos else 0
        self.repl_pos = [replid, offset, db]
        logs: list[str] = []
        if self.logging:
            fd, name = self._create_log(gen)
            if self.fd >= 0:
                os.close(self.fd)
            self.fd, self.log_name, self.log_size = fd, name, len(fmt.LOG_MAGIC)
            self.pos_replid = None
            self.broken = False
            self.commit([])  # the position, durable before the manifest names this log
            self.flush()
            if self.fsync_policy != "always":
                fmt.fsync(self.fd)
            logs.append(name)
        m = fmt.Manifest(snap, logs)
        fmt.write_manifest(self.dir, m)
        self.manifest = m
        self.chain_ok = self.logging
        self.snap_size = self._size(snap)
        self.logs_size = 0
        self.base_size = self.snap_size + self.log_size
        self.dirty_at_save = self.ks.dirty
        self._remove_unreferenced()
        return db

    def _checkpoint_done(self, ok: bool, why: str = "") -> None:
        srv = self.server
        kind = self.child_kind
        secs = int(time.monotonic() - self.child_start)
        gen = self.child_gen
        snap = fmt.snap_name(gen)
        if ok:
            m = fmt.Manifest(snap, [self.child_log] if self.child_log else [])
            try:
                fmt.write_manifest(self.dir, m)
            except OSError as e:
                ok = False
                why = f"cannot write the manifest: {e.strerror}"
        if ok:
            self.manifest = m
            self.snap_size = self._size(snap)
            self.logs_size = 0
            if self.logging and self.log_name == self.child_log:
                self.chain_ok = True
            self.base_size = self.snap_size + self.log_size
            srv.lastsave = int(time.time())
            self.dirty_at_save = self.child_dirty
            if self.need_recovery and self.child_fail_seq == self.fail_seq and self.logging == bool(self.child_log):
                self.need_recovery = False
                self.last_write_ok = True
                log.info("The disk is writable again: writes are accepted")
            if not self.need_recovery:
                srv.write_error = None
            if kind == "save":
                self.last_bgsave_ok = True
                self.last_bgsave_secs = secs
            else:
                self.last_rewrite_ok = True
                self.last_rewrite_secs = secs
                self.rewrites += 1
                self.rewrite_failures = 0
            log.info("%s done: %s (%d bytes)", "Snapshot" if kind == "save" else "Log rewrite", snap, self.snap_size)
        else:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.dir, snap))
            log.error("%s failed: %s", "Background saving" if kind == "save" else "Log rewrite", why)
            if kind == "save":
                self.last_bgsave_ok = False
                self.last_bgsave_secs = secs
                if (not self.logging and self.config["stop-writes-on-bgsave-error"]
                        and self.config["save"]):
                    srv.write_error = BGSAVE_ERROR
            else:
                self.last_rewrite_ok = False
                self.rewrite_failures += 1
            self.retry_at = time.monotonic() + 5.0
        self.child_pid = 0
        self.child_log = None
        self._remove_unreferenced()

    def _kill_child(self) -> None:
        pid = self.child_pid
        if not pid:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
        self._checkpoint_done(False, "killed")

    def _poll_child(self) -> None:
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            self._checkpoint_done(False, "child lost")
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        self._checkpoint_done(code == 0, f"child exited with {code}")

    # -- cron ---------------------------------------------------------------------------------

    def cron(self) -> None:
        if not self.loaded:
            return
        if self.buf and not self.inflight:
            if self.loop is not None and self.fsync_policy == "always" and self.logging:
                self._start_batch()
            else:
                self.flush()
        if self.bg_fsync_error is not None:
            e, self.bg_fsync_error = self.bg_fsync_error, None
            if not self.broken:
                self._write_failed(e)
        if self.fsync_policy == "everysec":
            self._maybe_fsync_everysec()
        if self.child_pid:
            self._poll_child()
            return
        now = time.monotonic()
        if self.need_recovery or self.broken:
            if now >= self.retry_at:
                self.retry_at = now + 1.0
                err = self.checkpoint("rewrite", background=True, enable_log=self.logging)
                if err:
                    log.warning("Recovery checkpoint not possible yet: %s", err)
            return
        if self.scheduled_rewrite or self.scheduled_save:
            kind = "rewrite" if self.scheduled_rewrite else "save"
            self.scheduled_rewrite = self.scheduled_save = False
            self.checkpoint(kind, background=True)
            return
        if now < self.retry_at:
            return
        changes = self.ks.dirty - self.dirty_at_save
        if changes:
            elapsed = time.time() - self.server.lastsave
            for secs, n in self.config["save"]:
                if changes >= n and elapsed >= secs:
                    log.info("%d changes in %d seconds. Saving...", n, secs)
                    self.checkpoint("save", background=True)
                    return
        if self.logging:
            pct = self.config["auto-aof-rewrite-percentage"]
            if pct:
                cur = self.current_size()
                base = max(self.base_size, 1)
                if cur >= self.config["auto-aof-rewrite-min-size"] and (cur - base) * 100 >= pct * base:
                    log.info("Starting automatic rewriting of the log on %d%% growth", (cur - base) * 100 // base)
                    self.checkpoint("rewrite", background=True)

    def current_size(self) -> int:
        return self.snap_size + self.logs_size + self.log_size

    # -- commands' hooks -------------------------------------------------------------------

    def save(self) -> str | None:
        return self.checkpoint("save", background=False)

    def bgsave(self, schedule: bool = False) -> str:
        from moonkv.errors import RespError

        if self.child_pid:
            if schedule or self.child_kind == "rewrite":
                self.scheduled_save = True
                return "Background saving scheduled"
            raise RespError("Background save already in progress")
        err = self.checkpoint("save", background=True)
        if err:
            raise RespError(err)
        if self.scheduled_save:
            return "Background saving scheduled"
        return "Background saving started"

    def bgrewriteaof(self) -> str:
        from moonkv.errors import RespError

        if self.child_pid:
            if self.child_kind == "rewrite":
                raise RespError("Background append only file rewriting already in progress")
            self.scheduled_rewrite = True
            return "Background append only file rewriting scheduled"
        err = self.checkpoint("rewrite", background=True, enable_log=self.logging)
        if err:
            raise RespError(f"Can't execute an AOF background rewriting. {err}")
        if self.scheduled_rewrite:
            return "Background append only file rewriting scheduled"
        return "Background append only file rewriting started"

    def after_flushall(self) -> None:
        # An empty dataset is cheap to snapshot: drop the old files now (Redis saves here too).
        if self.child_pid:
            self._kill_child()
        if self.config["save"] or self.logging:
            self.checkpoint("save", background=False)

    def debug_reload(self, from_log: bool = False) -> None:
        from moonkv.errors import RespError

        if not from_log:
            err = self.save()
            if err:
                raise RespError(f"Error trying to save the DB: {err}")
        else:
            if not self.flush():
                raise RespError("Error flushing the log")
        if self.child_pid:
            self._kill_child()
        srv = self.server
        for db in self.ks.dbs:
            db.data = {}
            db.expires = {}
        saved_sinks = srv.sinks
        srv.sinks = []
        try:
            _load.load_all(srv, self.dir, self.manifest, repair_tail=False)
        except _load.CorruptDirectory as e:
            raise RespError(f"Error reloading: {e}") from None
        finally:
            srv.sinks = saved_sinks
        self.dirty_at_save = self.ks.dirty

    def shutdown(self, save: bool = True) -> None:
        if not self.loaded:
            self.close()
            return
        if self.child_pid:
            self._kill_child()
        if save and self.config["save"] and self.ks.dirty != self.dirty_at_save and not self.need_recovery:
            err = self.checkpoint("save", background=False)
            if err:
                log.error("Error saving the dataset on shutdown: %s", err)
        self.flush()
        if self.fd >= 0 and not self.broken:
            try:
                fmt.fsync(self.fd)
            except OSError as e:
                log.error("fsync of the log failed at shutdown: %s", e.strerror)
        t = self.fsync_thread
        if t is not None:
            t.join(timeout=5)
        if self.worker is not None:
            self.worker_q.put(None)
        self.close()

    # -- INFO --------------------------------------------------------------------------------

    def info_lines(self) -> list[str]:
        srv = self.server
        now = time.monotonic()
        saving = bool(self.child_pid) and self.child_kind == "save"
        rewriting = bool(self.child_pid) and self.child_kind == "rewrite"
        cur = int(now - self.child_start) if self.child_pid else -1
        out = [f"loading:{int(srv.loading)}", "async_loading:0"]
        if srv.loading:
            r = self.load_report
            elapsed = time.time() - self.load_start
            perc = 100.0 * r.loaded_bytes / r.total_bytes if r.total_bytes else 0.0
            eta = int(elapsed * (100 - perc) / perc) if perc > 0 else 1
            out += [
                f"loading_start_time:{int(self.load_start)}",
                f"loading_total_bytes:{r.total_bytes}",
                "loading_rdb_used_mem:0",
                f"loading_loaded_bytes:{r.loaded_bytes}",
                f"loading_loaded_perc:{perc:.2f}",
                f"loading_eta_seconds:{eta}",
            ]
        out += [
            "current_cow_peak:0",
            "current_cow_size:0",
            "current_cow_size_age:0",
            "current_fork_perc:0.00",
            "current_save_keys_processed:0",
            "current_save_keys_total:0",
            f"rdb_changes_since_last_save:{self.ks.dirty - self.dirty_at_save}",
            f"rdb_bgsave_in_progress:{int(saving)}",
            f"rdb_last_save_time:{srv.lastsave}",
            f"rdb_last_bgsave_status:{'ok' if self.last_bgsave_ok else 'err'}",
            f"rdb_last_bgsave_time_sec:{self.last_bgsave_secs}",
            f"rdb_current_bgsave_time_sec:{cur if saving else -1}",
            "rdb_saves:0",
            "rdb_last_cow_size:0",
            f"aof_enabled:{int(self.logging)}",
            f"aof_rewrite_in_progress:{int(rewriting)}",
            f"aof_rewrite_scheduled:{int(self.scheduled_rewrite)}",
            f"aof_last_rewrite_time_sec:{self.last_rewrite_secs}",
            f"aof_current_rewrite_time_sec:{cur if rewriting else -1}",
            f"aof_last_bgrewrite_status:{'ok' if self.last_rewrite_ok else 'err'}",
            f"aof_rewrites:{self.rewrites}",
            f"aof_rewrites_consecutive_failures:{self.rewrite_failures}",
            f"aof_last_write_status:{'ok' if self.last_write_ok else 'err'}",
            "aof_last_cow_size:0",
            "module_fork_in_progress:0",
            "module_fork_last_cow_size:0",
        ]
        if self.logging:
            out += [
                f"aof_current_size:{self.current_size()}",
                f"aof_base_size:{self.base_size}",
                f"aof_pending_rewrite:{int(self.scheduled_rewrite)}",
                f"aof_buffer_length:{sum(len(b) for b in self.buf)}",
                f"aof_pending_bio_fsync:{int(self.fsync_thread is not None and self.fsync_thread.is_alive())}",
                "aof_delayed_fsync:0",
            ]
        out += [
            f"moonkv_dir:{self.dir}",
            f"moonkv_snapshot:{self.manifest.snapshot or ''}",
            f"moonkv_logs:{','.join(self.manifest.logs)}",
            f"moonkv_log_file:{self.log_name or ''}",
            f"moonkv_appendfsync:{self.fsync_policy}",
            f"moonkv_log_units:{self.units}",
            f"moonkv_log_writes:{self.flushes}",
            f"moonkv_last_load_time_sec:{self.load_time:.3f}",
            f"moonkv_torn_bytes_truncated:{sum(t[2] for t in self.load_report.torn)}",
        ]
        return out


def _errno_text(e: OSError) -> str:
    return e.strerror or errno.errorcode.get(e.errno or 0, str(e))
