"""Fuzzing the data-directory loader: mutated snapshots, logs and manifests.

A pristine directory (a snapshot with every value type, a script and keys in
two databases, then a log of further units) is made once by a real server.
Each case copies it and damages one file:

* raw damage (bit flips, truncation, zeroed or deleted bytes, a changed
  length field, a deleted file): loading must refuse with CorruptDirectory (or
  OSError from opening, which the server prints as one line), or load a
  dataset equal to the snapshot plus a prefix of the log's units;
* structural damage with the checksums recomputed (records duplicated,
  dropped, swapped, payloads replaced by other msgpack values or by mutated
  bytes): a payload that is not a well-formed record must be refused; other
  changes are undetectable by design and only have to load or refuse cleanly.

In process for speed (the server's and ``moonkv check``'s loading code), plus
a sample through the real programs: ``moonkv check`` and ``moonkv server``
must exit with a message and no traceback, or start.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

from moonkv.keyspace.codec import encode_value
from moonkv.persistence import Persistence
from moonkv.persistence import _format as fmt
from moonkv.persistence._load import CorruptDirectory
from tests.fuzz.budget import Run
from tests.helpers import RawClient, free_port, start_moonkv, wait_port

State = tuple[Any, ...]


def _server(dir: str) -> Any:
    from moonkv.commands import load
    from moonkv.engine import Config, Server
    from moonkv.scripting import attach

    config = Config()
    config.load("dir", dir)
    config.load("appendonly", "no")
    load()
    server = Server(config)
    attach(server)
    return server


def load_dir(dir: str) -> State:
    """The loaded dataset (every db, values and TTLs, scripts); raises if refused."""
    server = _server(dir)
    p = Persistence(server, dir)
    p.open(note="fuzz")
    try:
        p.load_now()
    finally:
        p.close()
    for db in server.ks.dbs:  # no garbage: keys are bytes, values bytes or typed values
        for k, v in db.data.items():
            assert type(k) is bytes and (type(v) is bytes or hasattr(v, "TYPE_NAME")), (k, v)
        assert all(type(k) is bytes and type(t) is int for k, t in db.expires.items())
    dbs = tuple(
        (i, sorted((k, encode_value(v)) for k, v in db.data.items()), sorted(db.expires.items()))
        for i, db in enumerate(server.ks.dbs)
        if db.data
    )
    eng = server.scripting
    return dbs, repr(eng.dump_state()) if eng is not None and hasattr(eng, "dump_state") else None


def records(data: bytes, start: int) -> list[bytes]:
    res = fmt.ScanResult()
    out = [bytes(p) for _, p in fmt.iter_records(data, start, res)]
    assert res.corrupt_at is None and not res.torn
    return out


@pytest.fixture(scope="module")
def pristine() -> Iterator[tuple[str, list[State]]]:
    """The directory, and the datasets after each prefix of its last log's units."""
    dir = tempfile.mkdtemp(prefix="moonkv-fuzz-pristine-")
    work = tempfile.mkdtemp(prefix="moonkv-fuzz-prefix-")
    h = start_moonkv(["--appendonly", "yes", "--save", ""], dir=dir)
    try:
        c = RawClient(h.port)
        for cmd in (
            ("SET", "s", "v"), ("SET", "n", 42), ("HSET", "h", "a", "1", "b", "2"),
            ("RPUSH", "l", "x", "y", "z"), ("SADD", "set", "m1", "m2"), ("ZADD", "z", 1, "a", 2.5, "b"),
            ("XADD", "x", "1-1", "f", "v"), ("SET", "t", "ttl", "EX", 100000),
            ("SCRIPT", "LOAD", "return 1"), ("SELECT", 1), ("SET", "db1", "v"), ("SELECT", 0),
            ("BGREWRITEAOF",),
        ):
            c.call(*cmd)
        for _ in range(200):  # wait for the snapshot
            info = c.call("INFO", "persistence")
            if b"aof_rewrite_in_progress:0" in info and b"aof_rewrite_scheduled:0" in info:
                break
            time.sleep(0.05)
        for cmd in (
            ("SET", "s", "v2"), ("INCR", "n"), ("HDEL", "h", "a"), ("LPOP", "l"), ("DEL", "set"),
            ("ZINCRBY", "z", 3, "a"), ("XADD", "x", "2-1", "g", "w"), ("APPEND", "s", "!"),
            ("EXPIRE", "s", 100000), ("SELECT", 1), ("FLUSHDB",), ("SET", "k1", "v1"), ("SELECT", 0),
            ("MSET", "a", "1", "b", "2"), ("PERSIST", "t"), ("SET", "big", "B" * 5000),
        ):
            c.call(*cmd)
        c.close()
    finally:
        h.stop()
    m = fmt.read_manifest(dir)
    assert m is not None and m.snapshot and m.logs, os.listdir(dir)
    log_path = os.path.join(dir, m.logs[-1])
    units = records(fmt.read_file(log_path), len(fmt.LOG_MAGIC))
    assert len(units) >= 10
    states = []
    for k in range(len(units) + 1):  # reference datasets: the log cut after k units
        d = os.path.join(work, str(k))
        shutil.copytree(dir, d)
        with open(os.path.join(d, m.logs[-1]), "wb") as f:
            f.write(fmt.LOG_MAGIC + b"".join(fmt.frame(u) for u in units[:k]))
        states.append(load_dir(d))
    shutil.rmtree(work)
    assert len(set(map(repr, states))) > len(units) // 2  # the units change the data
    yield dir, states
    shutil.rmtree(dir)


# -- mutations ----------------------------------------------------------------------------


def _raw(rng: random.Random, data: bytes, start: int) -> bytes:
    b = bytearray(data)
    op = rng.randrange(6)
    if op == 0 and b:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        del b[rng.randint(0, len(b)) :]
    elif op == 2 and b:
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 64)] = bytes(min(64, len(b) - i))
    elif op == 3 and b:
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 16)]
    elif op == 4:  # a length field changed
        offs = _offsets(bytes(b), start)
        if offs:
            o = rng.choice(offs)
            (n,) = struct.unpack_from("<I", b, o)
            n = rng.choice((0, 1, n - 1, n + 1, n * 2, 2**31, 2**32 - 1, rng.getrandbits(32)))
            struct.pack_into("<I", b, o, max(0, min(n, 2**32 - 1)))
    else:
        b += rng.randbytes(rng.randint(1, 40))
    return bytes(b)


def _offsets(data: bytes, start: int) -> list[int]:
    res = fmt.ScanResult()
    return [o for o, _ in fmt.iter_records(data, start, res)]


def _mutate_obj(rng: random.Random, obj: Any, depth: int = 0) -> Any:
    """Another msgpack value of a related shape."""
    if depth > 3 or rng.random() < 0.3:
        return rng.choice((
            None, True, -1, 0, 1, 2**40, -(2**63), 1.5, "", "x", b"", b"SET", b"\xff", [], {}, [[]],
            {"a": 1}, [b"SET"], [b"SET", b"k"], [0, [b"PING"]], [99, [b"SET", b"k", b"v"]], [-1, []],
            [1, 2, 3], "META", 10**30 if False else 2**64 - 1,
        ))
    if isinstance(obj, list) and obj:
        out = list(obj)
        i = rng.randrange(len(out))
        k = rng.randrange(4)
        if k == 0:
            out[i] = _mutate_obj(rng, out[i], depth + 1)
        elif k == 1:
            del out[i]
        elif k == 2:
            out.insert(i, _mutate_obj(rng, None, depth + 1))
        else:
            out[i] = _mutate_obj(rng, out[i], depth + 1) if rng.random() < 0.5 else out[-1]
        return out
    if isinstance(obj, dict) and obj:
        out2 = dict(obj)
        key = rng.choice(list(out2))
        out2[key] = _mutate_obj(rng, out2[key], depth + 1)
        return out2
    return _mutate_obj(rng, None, 4)


def _structural(rng: random.Random, data: bytes, start: int) -> tuple[bytes, bool]:
    """Records rearranged or rewritten with valid checksums; True if a payload may not parse."""
    recs = records(data, start)
    if not recs:
        return data, False
    op = rng.randrange(5)
    bad = False
    i = rng.randrange(len(recs))
    if op == 0:
        recs.insert(rng.randint(0, len(recs)), recs[i])
    elif op == 1:
        del recs[i]
    elif op == 2:
        j = rng.randrange(len(recs))
        recs[i], recs[j] = recs[j], recs[i]
    elif op == 3:
        recs[i] = msgpack.packb(_mutate_obj(rng, fmt.unpack(recs[i])), use_bin_type=True)
        bad = True
    else:
        p = bytearray(recs[i])
        for _ in range(rng.randint(1, 3)):
            p[rng.randrange(len(p))] ^= 1 << rng.randrange(8)
        recs[i] = bytes(p)
        bad = True
    return data[:start] + b"".join(fmt.frame(r) for r in recs), bad


def well_formed_unit(payload: bytes, dbs: int = 16) -> bool:
    """A log record as written: [time_ms, [[db, [name, arg...]], ...]] with known names."""
    from moonkv.commands.table import lookup

    try:
        ts, effects = fmt.unpack(payload)
    except Exception:
        return False
    if type(ts) is not int or type(effects) is not list:
        return False
    for eff in effects:
        if type(eff) is not list or len(eff) != 2:
            return False
        db, argv = eff
        if type(db) is not int or not 0 <= db < dbs or type(argv) is not list or not argv:
            return False
        if not all(type(a) is bytes for a in argv) or lookup(argv[0]) is None:
            return False
    return True


# -- the oracle ----------------------------------------------------------------------------


def _diff(old: bytes, new: bytes) -> str:
    """Where two versions of a file differ (short enough for a failure message)."""
    i = next((k for k, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    return f"{len(old)} -> {len(new)} bytes, first difference at {i}: {old[i:i + 48]!r} -> {new[i:i + 48]!r}"


def damage(rng: random.Random, dir: str) -> tuple[str, bool, list[bytes]]:
    """Damage one file of ``dir``.

    Returns (what was done, whether only raw damage was done -- checksums not
    recomputed, so a load must give a prefix -- and the log payloads to check).
    """
    m = fmt.read_manifest(dir)
    assert m is not None and m.snapshot
    which = rng.choice(["snapshot", "log", "log", "manifest", "missing"])
    if which == "missing":
        name = rng.choice([m.snapshot, *m.logs])
        os.unlink(os.path.join(dir, name))
        return f"deleted {name}", True, []
    name = {"snapshot": m.snapshot, "log": m.logs[-1], "manifest": fmt.MANIFEST}[which]
    path = os.path.join(dir, name)
    data = fmt.read_file(path)
    start = len(fmt.SNAP_MAGIC) if which != "manifest" else 0
    if which == "manifest":
        lines = data.split(b"\n")
        raw = rng.random() < 0.5
        if raw:
            new = _raw(rng, data, 0)
        else:  # the checksum line recomputed
            k = rng.random()
            if k < 0.4:
                body = _raw(rng, lines[0], 0)
            elif k < 0.8:  # valid JSON of other shapes and types
                body = json.dumps(_mutate_obj(rng, json.loads(lines[0])), default=repr).encode()
            else:
                body = rng.choice((b"[]", b"0", b"null", b'"x"', b"{}", msgpack.packb(0)))
            new = body + b"\n" + b"crc32:%08x\n" % zlib.crc32(body)
        structural = False
    elif rng.random() < 0.5:
        new = _raw(rng, data, start)
        structural, raw = False, True
    else:
        new, structural = _structural(rng, data, start)
        raw = False
    with open(path, "wb") as f:
        f.write(new)
    payloads = records(new, start) if structural and which == "log" else []
    return f"{which} {name}: {_diff(data, new)}", raw, payloads


def check_case(rng: random.Random, pristine: tuple[str, list[State]], work: str) -> None:
    src, states = pristine
    dir = os.path.join(work, "d")
    shutil.rmtree(dir, ignore_errors=True)
    shutil.copytree(src, dir)
    what, raw, payloads = damage(rng, dir)
    try:
        state = load_dir(dir)
    except CorruptDirectory as e:
        assert str(e), what
        return
    except OSError as e:  # the manifest: the server prints this one line and exits
        assert "MANIFEST" in str(e) or "moonkv check" in str(e), (e, what)
        return
    if payloads:
        assert all(well_formed_unit(p) for p in payloads), f"a malformed unit was loaded: {what}"
    if raw:
        assert state in states, f"loaded a dataset that is no prefix of the units: {what}"


def test_datadir_loader(pristine: tuple[str, list[State]], tmp_path: Any) -> None:
    Run("datadir").check(lambda rng: check_case(rng, pristine, str(tmp_path)), min_cases=20)


def _tool(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moonkv", *args], capture_output=True, text=True, timeout=timeout
    )


def test_datadir_programs(pristine: tuple[str, list[State]], tmp_path: Any) -> None:
    """`moonkv check` and `moonkv server` on damaged copies: a message or a start, no traceback."""
    src, _ = pristine

    def check(rng: random.Random) -> None:
        dir = str(tmp_path / "p")
        shutil.rmtree(dir, ignore_errors=True)
        shutil.copytree(src, dir)
        what, _, _ = damage(rng, dir)
        r = _tool(["check", "--dir", dir])
        out = r.stdout + r.stderr
        assert "Traceback" not in out and r.returncode in (0, 1), f"{what}\n{out}"
        port = free_port()
        h = start_moonkv(["--appendonly", "yes", "--save", ""], dir=dir, port=port, wait=False)
        try:
            started = True
            try:
                wait_port(port, h.proc, timeout=30)
            except RuntimeError:
                started = False
        finally:
            h.stop()
        log = h.read_log()
        assert "Traceback" not in log, f"{what}\n{log}"
        if not started:
            assert h.proc.returncode not in (0, None) and "moonkv:" in log, f"{what}\n{log}"

    Run("datadir-programs", share=0.5).check(check, min_cases=2)
