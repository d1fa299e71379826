"""Loading a data directory into a server: snapshot, then the logs after it.

Loading is a generator that yields after each chunk, so the server can load
while its event loop answers ``-LOADING`` (and tools can draw progress bars).
Replayed effects run through the command table with a fake client and the
sinks detached; the clock is frozen at each record's time, as the unit saw it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moonkv.persistence import _format as fmt

_SET = (b"SET", b"set")
_PUBLISHERS = (b"publish", b"spublish")


@dataclass
class LoadReport:
    keys: int = 0
    units: int = 0
    failed: int = 0
    first_failure: str = ""
    torn: list[tuple[str, int, int]] = field(default_factory=list)  # (file, offset, bytes)
    expired: int = 0
    total_bytes: int = 0
    loaded_bytes: int = 0
    # The replication stream's position ([replid, offset, db]) as of the last record loaded.
    repl_pos: list[Any] | None = None
    # Told each record's effects and position (None for a snapshot's): replication
    # rebuilds a primary's backlog from the log's tail with it.
    observe: Callable[[list[Any] | None, list[Any] | None], None] | None = None


def key_delay(usec: int) -> Callable[[int], Iterator[None]] | None:
    """Redis's ``key-load-delay`` (a hidden directive tests use to make loading slow): sleep
    ``usec`` microseconds per key loaded (or per replayed command); a negative value sleeps
    1 µs once per ``-usec`` keys on average. None when 0. The pause yields every 10 ms, so
    the server keeps answering ``-LOADING`` meanwhile, as Redis does."""
    if usec == 0:
        return None

    def pause(keys: int) -> Iterator[None]:
        n = keys * usec if usec > 0 else sum(random.randrange(-usec) == 0 for _ in range(keys))
        while n > 0:
            time.sleep(min(n, 10_000) / 1e6)
            n -= 10_000
            yield None

    return pause


class CorruptDirectory(Exception):
    def __init__(self, err: fmt.FormatError, dropped: int) -> None:
        super().__init__(str(err))
        self.err = err
        self.dropped = dropped


def plan(dir: str, m: fmt.Manifest | None) -> list[str]:
    """Paths to load, in order."""
    if m is None:
        return []
    return [os.path.join(dir, n) for n in m.files()]


def load_steps(
    server: Any,
    dir: str,
    m: fmt.Manifest | None,
    report: LoadReport,
    *,
    repair_tail: bool = True,
    log: Callable[[str], None] = lambda s: None,
    users: bool = False,
) -> Iterator[None]:
    """Load ``m``'s files into ``server`` (a generator: yields between chunks).

    ACL users are restored when they live in the data directory (``Acl.durable``), or
    always with ``users`` (a replica's full sync: it takes its primary's)."""
    users = users or server.acl.durable
    paths = plan(dir, m)
    sizes = []
    for p in paths:
        try:
            sizes.append(os.path.getsize(p))
        except FileNotFoundError:
            raise CorruptDirectory(fmt.FormatError(p, None, "file named in MANIFEST is missing"), 0) from None
    report.total_bytes = sum(sizes)
    ks = server.ks
    pause = key_delay(server.config["key-load-delay"])
    base = 0
    for i, path in enumerate(paths):
        data = fmt.read_file(path)
        if m is not None and m.snapshot and i == 0:
            yield from _load_snapshot(server, path, data, report, base, pause, users)
        else:
            last = i == len(paths) - 1
            yield from _replay_log(server, path, data, report, base, last, repair_tail, log, pause, users)
        base += sizes[i]
        report.loaded_bytes = base
    # Keys whose TTL passed while the server was down (or during replay) are gone.
    ks.frozen_ms = None
    now = ks.now_ms()
    for db in ks.dbs:
        if db.expires:
            dead = [k for k, t in db.expires.items() if t <= now]
            for k in dead:
                db.data.pop(k, None)
                del db.expires[k]
            report.expired += len(dead)
    ks.recount()  # snapshots and replayed SETs filled the tables directly
    _reset_unit(server)


def _reset_unit(server: Any) -> None:
    ks = server.ks
    server.effects = []
    ks.touched = []
    ks.flushed = []
    ks.ready = []
    ks.expired_effects = []


def _all_bytes(items: list[Any]) -> bool:
    return all(type(x) is bytes for x in items)


def _load_snapshot(
    server: Any, path: str, data: bytes, report: LoadReport, base: int,
    pause: Callable[[int], Iterator[None]] | None, users: bool,
) -> Iterator[None]:
    ks = server.ks
    dbs = ks.dbs
    try:
        for end, rec in fmt.snapshot_records(path, data):
            tag = rec[0]
            if tag == fmt.KEYS:
                _, dbid, keys, strings, exps, others = rec
                if type(dbid) is not int or not 0 <= dbid < len(dbs):
                    raise fmt.FormatError(path, None, f"database {dbid} out of range (databases {len(dbs)})")
                if not (
                    _all_bytes(keys)
                    and _all_bytes(strings)
                    and _all_bytes(exps[::2])
                    and all(type(t) is int for t in exps[1::2])
                    and all(type(o[0]) is bytes for o in others)
                ):
                    raise fmt.FormatError(path, None, "malformed keys record")
                db = dbs[dbid]
                db.data.update(zip(keys, strings, strict=True))
                for k, tname, state in others:
                    db.data[k] = fmt.decode_value(tname, state)
                if exps:
                    it = iter(exps)
                    db.expires.update(zip(it, it, strict=True))
                report.keys += len(keys) + len(others)
                report.loaded_bytes = base + end
                if pause is not None:
                    yield from pause(len(keys) + len(others))
                yield None
            elif tag == fmt.META:
                meta = rec[1]
                t = meta.get("time_ms")
                if isinstance(t, int):
                    ks.frozen_ms = t
                report.repl_pos = meta.get("repl")
                if report.observe is not None:
                    report.observe(None, report.repl_pos)
            elif tag == fmt.SCRIPTS:
                eng = server.scripting
                if eng is not None and rec[1] is not None:
                    eng.restore_state(rec[1])
            elif tag == fmt.ACL:
                if users:
                    server.acl.restore_state(rec[1])
    except fmt.FormatError as e:
        raise CorruptDirectory(e, 0) from None
    except Exception as e:  # noqa: BLE001 - records that decode to the wrong shapes are corruption
        raise CorruptDirectory(fmt.FormatError(path, None, f"undecodable snapshot data ({e})"), 0) from None


def _outside_databases(dbid: int, argv: list[Any]) -> bool:
    """The effects a log keeps outside the databases: ACL users (ACL_USERS, -2), the script
    cache (SCRIPT_CACHE, -3) and, in logs written before PUBLISH took its publisher's
    database, PUBLISH/SPUBLISH sent to replicas (-1); any other negative database is
    corruption."""
    if not argv or type(argv[0]) is not bytes:
        return False
    name = argv[0].lower()
    return (
        (dbid == -1 and name in _PUBLISHERS) or (dbid == -2 and name == b"acl") or (dbid == -3 and name == b"script")
    )


def _replay_log(
    server: Any,
    path: str,
    data: bytes,
    report: LoadReport,
    base: int,
    last: bool,
    repair_tail: bool,
    log: Callable[[str], None],
    pause: Callable[[int], Iterator[None]] | None,
    users: bool,
) -> Iterator[None]:
    from moonkv.commands.table import lookup, resolve_subcommand
    from moonkv.engine import SCRIPT_CACHE, Client
    from moonkv.engine._acl import AclRuleError
    from moonkv.errors import RespError

    try:
        fmt.check_magic(path, data, fmt.LOG_MAGIC)
    except fmt.FormatError as e:
        if last and len(data) < len(fmt.LOG_MAGIC) and repair_tail:
            # Crash while the file was being created: an empty log.
            _truncate(path, 0, fmt.LOG_MAGIC)
            report.torn.append((path, 0, len(data)))
            log(f"{path}: incomplete header ({len(data)} bytes) rewritten")
            return
        raise CorruptDirectory(e, 0) from None
    ks = server.ks
    dbs = ks.dbs
    c = Client(server)
    c.in_exec = True
    call = server.call
    decode = fmt.decode_unit
    res = fmt.ScanResult()
    n = 0
    acl = server.acl
    replid: Any = None  # the id of this file's last full position (compact ones lack it)
    for off, payload in fmt.iter_records(data, len(fmt.LOG_MAGIC), res):
        try:
            ts, effects, pos = decode(path, off, payload)
            replid = fmt.fill_position(path, off, pos, replid)
        except fmt.FormatError as e:
            raise CorruptDirectory(e, 0) from None
        # (the replication stream's position; None before a backlog existed.)
        report.repl_pos = pos
        if report.observe is not None:
            report.observe(effects, report.repl_pos)
        ks.frozen_ms = ts
        for dbid, argv in effects:
            if dbid >= len(dbs) or (dbid < 0 and not _outside_databases(dbid, argv)):
                err = fmt.FormatError(path, off, f"database {dbid} out of range (databases {len(dbs)})")
                raise CorruptDirectory(err, 0)
            if len(argv) == 3 and argv[0] in _SET and dbid >= 0:
                db = dbs[dbid]
                db.data[argv[1]] = argv[2]
                if db.expires:
                    db.expires.pop(argv[1], None)
                ks.dirty += 1
                continue
            if dbid == SCRIPT_CACHE and argv[0].lower() == b"script":  # no database's
                dbid = 0
            elif dbid < 0 or argv[0] == b"ACL":
                # PUBLISH sent to replicas (older logs: -1) is no data. An ACL user as a whole
                # (commands/acl.py: ACL_USERS, database 0 in older logs); ignored once an ACL
                # file or config users define the users.
                if argv[0] == b"ACL" and users:
                    try:
                        acl.replay(argv)
                    except AclRuleError as e:
                        report.failed += 1
                        if not report.first_failure:
                            report.first_failure = f"{argv[:3]!r}: {e.args[-1]}"
                continue
            if argv[0].lower() in _PUBLISHERS:  # sent to replicas: no data, never replayed
                continue
            if c.db.id != dbid:
                c.select(dbid)
            spec = lookup(argv[0])
            if spec is None:  # as Redis refuses an AOF naming an unknown command
                name = argv[0].decode("utf-8", "replace")
                raise CorruptDirectory(fmt.FormatError(path, off, f"unknown command '{name}'"), 0)
            try:
                if spec.subcommands and len(argv) >= 2:
                    spec = resolve_subcommand(spec, argv)
                reply = call(c, spec, argv)
            except RespError as e:
                reply = e
            if isinstance(reply, RespError):
                report.failed += 1
                if not report.first_failure:
                    report.first_failure = f"{argv[:3]!r}: {reply}"
        server.effects = []
        if ks.touched:
            ks.touched = []
        if ks.expired_effects:
            ks.expired_effects = []
        n += 1
        if n & 1023 == 0 or pause is not None:
            report.loaded_bytes = base + off
            if ks.flushed:
                ks.flushed = []
            ks.ready = []
            if pause is not None:
                yield from pause(len(effects))
            if n & 1023 == 0:
                report.units += 1024
                yield None
    report.units += n & 1023
    _reset_unit(server)
    if res.corrupt_at is not None or (res.torn and not last):
        bad = res.corrupt_at if res.corrupt_at is not None else res.good_end
        reason = res.reason if res.corrupt_at is not None else f"{res.reason} in a log that is not the last"
        raise CorruptDirectory(fmt.FormatError(path, bad, reason), fmt.count_resync(data, bad))
    if res.torn:
        if not repair_tail:
            raise CorruptDirectory(fmt.FormatError(path, res.good_end, f"torn tail: {res.reason}"), 0)
        _truncate(path, res.good_end)
        report.torn.append((path, res.good_end, res.torn))
        log(
            f"{os.path.basename(path)}: torn last record ({res.reason}) at offset "
            f"{res.good_end}: truncated {res.torn} bytes"
        )


def _truncate(path: str, size: int, header: bytes = b"") -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        if header:
            os.write(fd, header)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_all(server: Any, dir: str, m: fmt.Manifest | None, **kw: Any) -> LoadReport:
    report = LoadReport()
    for _ in load_steps(server, dir, m, report, **kw):
        pass
    return report
