"""Inputs the data-directory fuzzer found, kept exactly: each was loaded as
garbage, or crashed the loader with a traceback, before the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moonkv.persistence import _format as fmt
from moonkv.persistence._load import CorruptDirectory
from tests.fuzz.test_datadir_fuzz import load_dir

GOOD_UNIT = [1700000000000, [[0, [b"SET", b"k", b"v"]]]]


def make_dir(tmp: Path, units: list[object], snapshot: list[object] | None = None,
             manifest: bytes | None = None) -> str:
    d = tmp / "data"
    d.mkdir()
    snap = None
    if snapshot is not None:
        snap = fmt.snap_name(1)
        (d / snap).write_bytes(fmt.SNAP_MAGIC + b"".join(fmt.frame(fmt.pack(r)) for r in snapshot))
    log = fmt.log_name(2)
    (d / log).write_bytes(fmt.LOG_MAGIC + b"".join(fmt.frame(fmt.pack(u)) for u in units))
    if manifest is None:
        manifest = fmt.Manifest(snap, [log]).encode()
    (d / fmt.MANIFEST).write_bytes(manifest)
    return str(d)


def manifest_of(body: bytes) -> bytes:
    import zlib

    return body + b"\n" + b"crc32:%08x\n" % zlib.crc32(body)


@pytest.mark.parametrize("unit", [
    [[[]], [[0, [b"SET", b"k", b"v"]]]],  # the time replaced by a list: was replayed
    [1700000000000, 7],  # effects not a list: TypeError traceback
    [1700000000000, [[0, [b"SET", "k", b"v"]]]],  # a str argument
    [1700000000000, [[-1, [b"SET", b"k", b"v"]]]],  # a negative database
    [1700000000000, [[-2, [b"SET", b"k", b"v"]]]],  # ACL users' database holds no data
    [1700000000000, [[-3, [b"ACL", b"DELUSER", b"k"]]]],  # no database at all
    [1700000000000, [[99, [b"SET", b"k", b"v"]]]],  # a database out of range: IndexError
    [1700000000000, [[1, []]]],  # an empty command
    b"\x92\x91\x90",  # not even an array
])
def test_malformed_log_units_are_refused(tmp_path: Path, unit: object) -> None:
    d = make_dir(tmp_path, [GOOD_UNIT, unit])
    with pytest.raises(CorruptDirectory):
        load_dir(d)


def test_unknown_command_in_the_log_is_refused_as_redis_does(tmp_path: Path) -> None:
    # Found as b"FLUSHDB" with one bit flipped and the checksum intact: replayed
    # with a warning before; Redis refuses an AOF naming an unknown command.
    d = make_dir(tmp_path, [GOOD_UNIT, [1700000000000, [[1, [b"F\\USHDB"]]]]])
    with pytest.raises(CorruptDirectory, match="unknown command 'F\\\\USHDB'"):
        load_dir(d)


META = [fmt.META, {"time_ms": 1700000000000}]


@pytest.mark.parametrize("records", [
    [[fmt.META, b"meta"], [fmt.END, 0]],  # AttributeError traceback
    [META, [fmt.KEYS, -1, [b"k"], [b"v"], [], []], [fmt.END, 1]],  # loaded into the last db
    [META, [fmt.KEYS, 0, ["k"], [b"v"], [], []], [fmt.END, 1]],  # a str key: loaded
    [META, [fmt.KEYS, 0, [b"k"], [7], [], []], [fmt.END, 1]],  # an int value: loaded
    [META, [fmt.KEYS, 0, [b"k"], [b"v"], [b"k", "soon"], []], [fmt.END, 1]],  # a str TTL
    [META, 5, [fmt.END, 0]],  # not a record: TypeError
    [META, [fmt.END, b"x"]],  # a malformed end record
])
def test_malformed_snapshot_records_are_refused(tmp_path: Path, records: list[object]) -> None:
    d = make_dir(tmp_path, [], snapshot=records)
    with pytest.raises(CorruptDirectory):
        load_dir(d)


@pytest.mark.parametrize("body", [
    b"[1]",  # AttributeError traceback
    b'{"format":"moonkv-1","snapshot":5,"logs":[]}',  # TypeError traceback
    b'{"format":"moonkv-1","snapshot":null,"logs":"log-000002.mkl"}',  # a string, not a list
    b'{"format":"moonkv-1","snapshot":"../../etc/passwd","logs":[]}',  # a file elsewhere
    b'{"format":"moonkv-1","snapshot":null,"logs":["log-000002.mkl\\n"]}',
    b"\x00",  # not JSON: JSONDecodeError
])
def test_malformed_manifests_are_refused(tmp_path: Path, body: bytes) -> None:
    d = make_dir(tmp_path, [GOOD_UNIT], manifest=manifest_of(body))
    with pytest.raises(OSError, match="MANIFEST"):
        load_dir(d)
    r = subprocess.run([sys.executable, "-m", "moonkv", "check", "--dir", d],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "MANIFEST: damaged" in r.stdout, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_check_reports_a_unit_that_does_not_decode(tmp_path: Path) -> None:
    d = make_dir(tmp_path, [GOOD_UNIT, [[[]], []], GOOD_UNIT])
    r = subprocess.run([sys.executable, "-m", "moonkv", "check", "--dir", d],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CORRUPT record at offset" in r.stdout and "not a unit of effects" in r.stdout, r.stdout
    assert "after 1 good units" in r.stdout
    assert os.path.getsize(os.path.join(d, fmt.log_name(2))) > 0
