"""The replication stream's position in log records: the id in a file's first positioned
record (and whenever it changes), the offset and database in every record; logs written
before that, with the whole position in every record, still load."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from moonkv.persistence import _format as fmt
from tests.fuzz.regressions.test_datadir_found import make_dir
from tests.helpers import RawClient, start_moonkv

TS = 1700000000000
RID = "a1" * 20


def _replication(port: int) -> dict[str, str]:
    c = RawClient(port)
    try:
        raw = c.call("INFO", "replication")
    finally:
        c.close()
    body = raw.split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in body.splitlines() if ":" in line)


def _restored(d: str) -> dict[str, str]:
    h = start_moonkv(["--save", ""], dir=d)
    try:
        c = RawClient(h.port)
        try:
            assert c.call("GET", "k2") == b"$1\r\nw\r\n"
        finally:
            c.close()
        return _replication(h.port)
    finally:
        h.stop()


def _set(key: bytes, value: bytes) -> list[object]:
    return [[0, [b"SET", key, value]]]


def test_full_positions_in_every_record_load(tmp_path: Path) -> None:
    """The format written before: ``[ts, effects, [replid, offset, db]]`` in each record."""
    d = make_dir(tmp_path, [
        [TS, _set(b"k", b"v"), [RID, 50, 0]],
        [TS, _set(b"k2", b"w"), [RID, 77, 0]],
    ])
    info = _restored(d)
    assert (info["master_replid2"], info["master_repl_offset"], info["second_repl_offset"]) == (RID, "77", "78")


def test_compact_positions_take_the_id_written_before_them(tmp_path: Path) -> None:
    d = make_dir(tmp_path, [
        [TS, _set(b"k", b"v"), [RID, 50, 0]],
        [TS, _set(b"k2", b"w"), 77, 0],
    ])
    info = _restored(d)
    assert (info["master_replid2"], info["master_repl_offset"], info["second_repl_offset"]) == (RID, "77", "78")


def test_a_compact_position_without_an_id_before_it_is_corruption(tmp_path: Path) -> None:
    d = make_dir(tmp_path, [[TS, _set(b"k", b"v"), 50, 0]])
    h = start_moonkv(["--save", ""], dir=d, wait=False)
    try:
        assert h.proc.wait(timeout=20) != 0
    finally:
        h.stop()
    assert "a stream position without a replication id before it in its file" in h.read_log()
    check = subprocess.run([sys.executable, "-m", "moonkv", "check", "--dir", d],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode != 0
    assert "without a replication id" in check.stdout + check.stderr


def _positions(d: str, snapshot: bool) -> list[list[Any]]:
    """Each log file's records' positions (the raw third item on), in manifest order."""
    m = fmt.read_manifest(d)
    assert m is not None and (m.snapshot is not None) == snapshot
    out = []
    for name in m.logs:
        data = (Path(d) / name).read_bytes()
        res = fmt.ScanResult()
        out.append([fmt.unpack(p)[2:] for _, p in fmt.iter_records(data, len(fmt.LOG_MAGIC), res)])
    return out


@pytest.mark.parametrize("rotate", [False, True])
def test_a_primary_writes_its_id_once_per_log_file(rotate: bool) -> None:
    """A primary with a backlog (a replica attached by PSYNC): the first positioned record
    of each log file has the id, the others the offset and database; SIGKILL and a restart
    take the stream up from them."""
    h = start_moonkv(["--appendonly", "yes", "--save", ""])
    try:
        replica, c = RawClient(h.port), RawClient(h.port)
        try:
            replica.send_raw(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$1\r\n1\r\n")
            assert replica.read_reply() == b"+OK\r\n"
            replica.send_raw(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
            assert replica.read_reply().startswith(b"+FULLRESYNC ")
            for i in range(20):
                assert c.call("SET", f"k{i}", "v") == b"+OK\r\n"
                if rotate and i == 9:
                    assert c.call("BGREWRITEAOF").startswith(b"+")
                    for _ in range(200):  # the rewrite's child done: the next log is named
                        if b"aof_rewrite_in_progress:0" in c.call("INFO", "persistence"):
                            break
                        time.sleep(0.05)
            before = _replication(h.port)
        finally:
            replica.close()
            c.close()
        files = _positions(h.dir, snapshot=rotate)  # rotated: the snapshot and the log after it
        h.stop(signal.SIGKILL)
        assert files
        replid, offset = before["master_replid"], int(before["master_repl_offset"])
        for positions in files:
            positioned = [p for p in positions if p]
            assert positioned[0][0][0] == replid and len(positioned[0]) == 1
            assert all(len(p) == 2 for p in positioned[1:])
        assert files[-1][-1][0] == offset
        h = start_moonkv(["--appendonly", "yes", "--save", ""], dir=h.dir, port=h.port)
        after = _replication(h.port)
        assert (after["master_replid2"], int(after["master_repl_offset"])) == (replid, offset)
    finally:
        h.stop()
        shutil.rmtree(h.dir, ignore_errors=True)
