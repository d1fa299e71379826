"""Recovery and the data-directory tools: torn tails, corrupt records, loading, locks, TTLs,
snapshots, backup/restore, check/repair, compaction, disk errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from moonkv.persistence import _format as fmt
from tests.helpers import RawClient, ServerHandle, free_port, start_moonkv


@pytest.fixture
def datadir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="moonkv-pers-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MOONKV_NO_PROGRESS="1")
    return subprocess.run(
        [sys.executable, "-m", "moonkv", *args], capture_output=True, text=True, timeout=60, env=env
    )


def _kill(h: ServerHandle) -> None:
    h.proc.kill()
    h.proc.wait()


def _current_log(d: str) -> str:
    m = fmt.read_manifest(d)
    assert m is not None and m.logs
    return os.path.join(d, m.logs[-1])


def _info(r: redis.Redis) -> dict[str, object]:
    return r.info("persistence")  # type: ignore[no-any-return]


def _start_fails(d: str) -> tuple[int, str]:
    port = free_port()
    p = subprocess.run(
        [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--dir", d],
        capture_output=True, text=True, timeout=30,
    )
    return p.returncode, p.stdout + p.stderr


def test_torn_tail_is_truncated_and_reported(datadir: str) -> None:
    h = start_moonkv([], dir=datadir)
    r = redis.Redis(port=h.port)
    for i in range(20):
        r.set(f"k{i}", i)
    _kill(h)
    log = _current_log(datadir)
    size = os.path.getsize(log)
    with open(log, "ab") as f:  # a crash in the middle of writing a record
        f.write(fmt.HEADER.pack(100, 0) + b"partial")
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert [r.get(f"k{i}") for i in range(20)] == [str(i).encode() for i in range(20)]
        assert _info(r)["moonkv_torn_bytes_truncated"] == 15
        assert os.path.getsize(log) == size
        r.set("after", 1)
    finally:
        h.stop()
    assert "15 bytes truncated" in h.read_log()
    h = start_moonkv([], dir=datadir)
    try:
        assert redis.Redis(port=h.port).get("after") == b"1"
    finally:
        h.stop()


def test_corrupt_middle_record_refuses_start_and_repair_fixes(datadir: str) -> None:
    h = start_moonkv(["--save", ""], dir=datadir)
    r = redis.Redis(port=h.port)
    for i in range(10):
        r.set(f"k{i}", f"value-{i}")
    _kill(h)
    log = _current_log(datadir)
    with open(log, "rb") as f:
        data = bytearray(f.read())
    # Find the 4th record and flip a byte of its payload.
    offs = []
    res = fmt.ScanResult()
    for off, _ in fmt.iter_records(bytes(data), len(fmt.LOG_MAGIC), res):
        offs.append(off)
    assert len(offs) == 10
    data[offs[3] + 12] ^= 0xFF
    with open(log, "wb") as f:
        f.write(bytes(data))
    code, out = _start_fails(datadir)
    assert code != 0
    assert os.path.basename(log) in out and f"offset {offs[3]}" in out
    assert "moonkv check" in out and "--repair" in out
    chk = _tool("check", "--dir", datadir)
    assert chk.returncode == 1
    assert f"CORRUPT record at offset {offs[3]}" in chk.stdout
    rep = _tool("check", "--dir", datadir, "--repair")
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "7 units dropped" in rep.stdout
    assert _tool("check", "--dir", datadir).returncode == 0
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert r.mget([f"k{i}" for i in range(4)]) == [f"value-{i}".encode() for i in range(3)] + [None]
    finally:
        h.stop()


def test_loading_answers_loading_error_and_info(datadir: str) -> None:
    # Build a big snapshot directly, then watch the server load it.
    name = fmt.snap_name(1)
    w = fmt.SnapshotWriter(os.path.join(datadir, name), {"version": 1, "time_ms": int(time.time() * 1000)})
    data = {b"key:%d" % i: b"x" * 20 for i in range(400_000)}
    w.add_db(0, data, {})
    w.commit()
    fmt.write_manifest(datadir, fmt.Manifest(name, []))
    h = start_moonkv(["--appendonly", "no", "--save", ""], dir=datadir, wait=False)
    try:
        saw_loading = saw_info = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", h.port), timeout=2) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")
                    time.sleep(0.02)
                    buf = s.recv(65536)
                    if buf.startswith(b"-LOADING"):
                        saw_loading = True
                        saw_info = saw_info or b"loading:1" in buf and b"loading_loaded_perc" in buf
                    elif buf.startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.02)
        assert saw_loading, "never saw -LOADING"
        assert saw_info
        r = redis.Redis(port=h.port)
        assert r.dbsize() == 400_000
        assert _info(r)["loading"] == 0
    finally:
        h.stop()


def _loading_seconds(port: int, timeout: float = 60) -> float:
    """How long the server answered -LOADING, from the first such reply to the first PONG."""
    first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                buf = s.recv(65536)
                now = time.monotonic()
                if buf.startswith(b"-LOADING"):
                    first = now if first is None else first
                elif buf.startswith(b"+PONG"):
                    return 0.0 if first is None else now - first
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("the server never answered PONG")


@pytest.mark.parametrize("source", ["snapshot", "log"])
def test_key_load_delay_slows_loading(datadir: str, source: str) -> None:
    # 300 keys, 5 ms each: at least 1.5 s of loading (without the delay, a few ms).
    if source == "snapshot":
        name = fmt.snap_name(1)
        w = fmt.SnapshotWriter(os.path.join(datadir, name), {"version": 1, "time_ms": int(time.time() * 1000)})
        w.add_db(0, {b"key:%d" % i: b"v" for i in range(300)}, {})
        w.commit()
        fmt.write_manifest(datadir, fmt.Manifest(name, []))
    else:
        h = start_moonkv(["--save", ""], dir=datadir)
        try:
            c = RawClient(h.port)
            for i in range(300):
                assert c.call("SET", f"key:{i}", "v") == b"+OK\r\n"
            c.close()
        finally:
            h.stop()
    h = start_moonkv(["--save", "", "--key-load-delay", "5000"], dir=datadir, wait=False)
    try:
        assert _loading_seconds(h.port) >= 1.2
        r = redis.Redis(port=h.port)
        assert r.dbsize() == 300
        assert r.config_get("key-load-delay") == {"key-load-delay": "5000"}
    finally:
        h.stop()


def test_second_server_on_same_directory_is_refused(datadir: str) -> None:
    h = start_moonkv([], dir=datadir)
    try:
        code, out = _start_fails(datadir)
        assert code != 0
        assert "in use by another moonkv process" in out
    finally:
        h.stop()


def test_ttls_are_absolute_and_expired_keys_are_gone(datadir: str) -> None:
    h = start_moonkv([], dir=datadir)
    r = redis.Redis(port=h.port)
    r.set("short", 1, px=300)
    r.set("long", 1, ex=1000)
    r.bgsave()
    time.sleep(0.3)
    r.set("short2", 1, px=300)
    _kill(h)
    time.sleep(0.4)
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert r.get("short") is None and r.get("short2") is None
        assert r.dbsize() == 1
        assert 990 < r.ttl("long") <= 1000
    finally:
        h.stop()


def test_save_bgsave_lastsave_and_info(datadir: str) -> None:
    h = start_moonkv(["--save", ""], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        r.set("a", 1)
        info = _info(r)
        assert info["rdb_changes_since_last_save"] == 1
        assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
        before = r.lastsave()
        time.sleep(1.05)
        assert r.save() is True
        assert r.lastsave() > before
        assert _info(r)["rdb_changes_since_last_save"] == 0
        r.set("b", 2)
        assert r.bgsave() is True
        for _ in range(100):
            info = _info(r)
            if info["rdb_bgsave_in_progress"] == 0:
                break
            time.sleep(0.05)
        assert info["rdb_last_bgsave_status"] == "ok"
        assert r.bgrewriteaof() is True
        for _ in range(100):
            info = _info(r)
            if info["aof_rewrite_in_progress"] == 0 and info["aof_rewrites"] == 1:
                break
            time.sleep(0.05)
        assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        files = sorted(os.listdir(datadir))
        assert files == sorted(["LOCK", "MANIFEST", info["moonkv_snapshot"], info["moonkv_log_file"]])
    finally:
        h.stop()
    h = start_moonkv([], dir=datadir)
    try:
        assert redis.Redis(port=h.port).mget("a", "b") == [b"1", b"2"]
    finally:
        h.stop()


def test_save_rules_and_auto_rewrite(datadir: str) -> None:
    h = start_moonkv(
        ["--save", "1 1", "--auto-aof-rewrite-min-size", "20kb", "--auto-aof-rewrite-percentage", "100"],
        dir=datadir,
    )
    try:
        r = redis.Redis(port=h.port)
        r.set("x", 1)
        for _ in range(60):
            if _info(r)["rdb_changes_since_last_save"] == 0:
                break
            time.sleep(0.05)
        assert _info(r)["rdb_changes_since_last_save"] == 0
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"k{i}", "y" * 20)
        p.execute()
        for _ in range(60):
            if _info(r)["aof_rewrites"] >= 1:
                break
            time.sleep(0.05)
        assert _info(r)["aof_rewrites"] >= 1
    finally:
        h.stop()


def test_fsync_policies_and_appendonly_switch(datadir: str) -> None:
    h = start_moonkv(["--save", ""], dir=datadir)
    r = redis.Redis(port=h.port)
    r.set("always", 1)
    r.config_set("appendfsync", "everysec")
    r.set("everysec", 1)
    r.config_set("appendfsync", "no")
    r.set("no", 1)
    r.config_set("appendonly", "no")
    assert _info(r)["aof_enabled"] == 0
    r.set("cache-only", 1)
    r.config_set("appendonly", "yes")
    for _ in range(100):
        if _info(r)["aof_rewrite_in_progress"] == 0 and _info(r)["aof_enabled"] == 1:
            break
        time.sleep(0.05)
    r.config_set("appendfsync", "always")
    r.set("after", 1)
    _kill(h)
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert r.mget("always", "everysec", "no", "cache-only", "after") == [b"1"] * 5
    finally:
        h.stop()


def test_appendonly_no_is_cache_only_with_snapshots(datadir: str) -> None:
    h = start_moonkv(["--appendonly", "no", "--save", ""], dir=datadir)
    r = redis.Redis(port=h.port)
    r.set("saved", 1)
    r.save()
    r.set("lost", 1)
    _kill(h)
    assert not [n for n in os.listdir(datadir) if n.startswith("log-")]
    h = start_moonkv(["--appendonly", "no"], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert r.get("saved") == b"1" and r.get("lost") is None
    finally:
        h.stop()


def test_disk_errors_refuse_writes_keep_reads_and_recover(datadir: str) -> None:
    h = start_moonkv(["--save", "", "--enable-debug-command", "yes"], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        r.set("before", 1)
        r.execute_command("DEBUG", "PERSIST-FAULT", "fsync", "EIO")
        raw = RawClient(h.port)
        with pytest.raises((ConnectionError, OSError)):
            raw.call("SET", "during", 1)  # its fsync failed: no reply claims success
        raw.close()
        r = redis.Redis(port=h.port)
        with pytest.raises(redis.ResponseError, match="MISCONF Errors writing to the AOF file"):
            r.set("refused", 1)
        assert r.get("before") == b"1"
        info = _info(r)
        assert info["aof_last_write_status"] == "err"
        r.execute_command("DEBUG", "PERSIST-FAULT", "fsync", "OFF")
        r.execute_command("DEBUG", "PERSIST-FAULT", "write", "ENOSPC")
        time.sleep(1.3)
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            r.set("refused", 1)
        r.execute_command("DEBUG", "PERSIST-FAULT", "OFF")
        for _ in range(100):
            try:
                r.set("resumed", 1)
                break
            except redis.ResponseError:
                time.sleep(0.05)
        assert r.get("resumed") == b"1"
        assert _info(r)["aof_last_write_status"] == "ok"
    finally:
        _kill(h)
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        assert r.get("before") == b"1" and r.get("resumed") == b"1" and r.get("refused") is None
    finally:
        h.stop()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount a tmpfs")
def test_real_enospc_on_a_small_filesystem() -> None:
    mnt = tempfile.mkdtemp(prefix="moonkv-small-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    h = None
    try:
        d = os.path.join(mnt, "data")
        h = start_moonkv(["--save", "", "--auto-aof-rewrite-percentage", "0"], dir=d)
        r = redis.Redis(port=h.port)
        acked = []
        refused = False
        for i in range(10_000):
            try:
                r.set(f"k{i}", "v" * 1000)
                acked.append(i)
            except redis.ConnectionError:
                r = redis.Redis(port=h.port)
            except redis.ResponseError as e:
                assert "MISCONF" in str(e)
                refused = True
                break
        assert refused, "the filesystem never filled up"
        assert r.get(f"k{acked[0]}") is not None  # reads keep working
        # Space returns (the filesystem grows): writes resume by themselves.
        subprocess.run(["mount", "-o", "remount,size=16m", mnt], check=True)
        for _ in range(100):
            try:
                r.set("after", 1)
                break
            except redis.ResponseError:
                time.sleep(0.05)
        assert r.get("after") == b"1"
        _kill(h)
        h = start_moonkv(["--save", ""], dir=d)
        r = redis.Redis(port=h.port)
        vals = r.mget([f"k{i}" for i in acked])
        assert all(v == b"v" * 1000 for v in vals), "an acknowledged write was lost"
        assert r.get("after") == b"1"
    finally:
        if h is not None:
            h.stop()
        subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(mnt, ignore_errors=True)


def test_backup_restore_check_compact(datadir: str, tmp_path: object) -> None:
    out = os.path.join(str(tmp_path), "backup.mkv")
    h = start_moonkv([], dir=datadir)
    try:
        r = redis.Redis(port=h.port)
        for i in range(100):
            r.set(f"k{i}", i)
        snap = _tool("snapshot", "--dir", datadir, out)  # through the running server
        assert snap.returncode == 0, snap.stderr
        assert "100 keys" in snap.stdout
        r.set("later", 1)
    finally:
        h.stop()
    other = os.path.join(str(tmp_path), "restored")
    res = _tool("restore", "--dir", other, out)
    assert res.returncode == 0, res.stderr
    res = _tool("restore", "--dir", other, out)
    assert res.returncode == 1 and "--force" in res.stderr
    assert _tool("restore", "--dir", other, out, "--force").returncode == 0
    h = start_moonkv([], dir=other)
    try:
        r = redis.Redis(port=h.port)
        assert r.dbsize() == 100 and r.get("k7") == b"7" and r.get("later") is None
    finally:
        h.stop()
    # Offline snapshot, check and compact of the original directory.
    off = _tool("snapshot", "--dir", datadir, out)
    assert off.returncode == 0 and "101 keys" in off.stdout, off.stderr
    chk = _tool("check", "--dir", datadir)
    assert chk.returncode == 0 and chk.stdout.strip().endswith("ok"), chk.stdout
    comp = _tool("compact", "--dir", datadir)
    assert comp.returncode == 0, comp.stderr
    m = fmt.read_manifest(datadir)
    assert m is not None and m.snapshot and m.logs == []
    h = start_moonkv([], dir=datadir)
    try:
        assert redis.Redis(port=h.port).dbsize() == 101
    finally:
        h.stop()
    bad = os.path.join(str(tmp_path), "bad.mkv")
    with open(out, "rb") as f:
        blob = bytearray(f.read())
    blob[len(blob) // 2] ^= 0x55
    with open(bad, "wb") as f:
        f.write(bytes(blob))
    res = _tool("restore", "--dir", os.path.join(str(tmp_path), "x"), bad)
    assert res.returncode == 1 and "nothing restored" in res.stderr


def test_format_scan_torn_and_corrupt() -> None:
    recs = [fmt.frame(fmt.pack([i, [[0, [b"SET", b"k", b"v"]]]])) for i in range(5)]
    data = fmt.LOG_MAGIC + b"".join(recs)
    res = fmt.ScanResult()
    assert len(list(fmt.iter_records(data, 8, res))) == 5 and not res.torn and res.corrupt_at is None
    res = fmt.ScanResult()
    list(fmt.iter_records(data[:-3], 8, res))
    assert res.records == 4 and res.torn == len(recs[-1]) - 3
    zero = data + b"\0" * 64
    res = fmt.ScanResult()
    list(fmt.iter_records(zero, 8, res))
    assert res.records == 5 and res.torn == 64
    bad = bytearray(data)
    bad[8 + len(recs[0]) + 9] ^= 1
    res = fmt.ScanResult()
    list(fmt.iter_records(bytes(bad), 8, res))
    assert res.records == 1 and res.corrupt_at == 8 + len(recs[0])
    assert fmt.count_resync(bytes(bad), res.corrupt_at) == 3


def test_scripts_and_types_survive_restarts(datadir: str) -> None:
    h = start_moonkv(["--save", ""], dir=datadir)
    r = redis.Redis(port=h.port)
    try:
        sha = r.script_load("return redis.call('GET', KEYS[1])")
    except redis.ResponseError as e:  # pragma: no cover - scripting not available
        h.stop()
        pytest.skip(f"scripting not available: {e}")
    r.set("s", "v")
    r.rpush("l", "a", "b", "c")
    r.hset("h", mapping={"f1": "1", "f2": "2"})
    r.sadd("set", "x", "y")
    r.zadd("z", {"m1": 1.5, "m2": -2})
    _kill(h)
    want = (b"v", [b"a", b"b", b"c"], {b"f1": b"1", b"f2": b"2"}, {b"x", b"y"}, [(b"m2", -2.0), (b"m1", 1.5)])

    def check(port: int) -> None:
        c = redis.Redis(port=port)
        assert c.evalsha(sha, 1, "s") == b"v"
        got = (c.get("s"), c.lrange("l", 0, -1), c.hgetall("h"), c.smembers("set"), c.zrange("z", 0, -1, withscores=True))
        assert got == want

    h = start_moonkv(["--save", ""], dir=datadir)  # from the log
    try:
        check(h.port)
        redis.Redis(port=h.port).save()
    finally:
        _kill(h)
    h = start_moonkv(["--save", "", "--enable-debug-command", "yes"], dir=datadir)  # from the snapshot
    try:
        check(h.port)
        c = redis.Redis(port=h.port)
        c.execute_command("DEBUG", "RELOAD")
        check(h.port)
        c.execute_command("DEBUG", "LOADAOF")
        check(h.port)
    finally:
        h.stop()


def test_aof_load_truncated_no_refuses_a_torn_tail(datadir: str) -> None:
    h = start_moonkv([], dir=datadir)
    redis.Redis(port=h.port).set("k", 1)
    _kill(h)
    with open(_current_log(datadir), "ab") as f:
        f.write(b"\x40\x00\x00\x00abc")
    port = free_port()
    p = subprocess.run(
        [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--dir", datadir,
         "--aof-load-truncated", "no"], capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0 and "torn tail" in p.stderr and "--repair" in p.stderr
    h = start_moonkv([], dir=datadir)  # the default truncates and starts
    try:
        assert redis.Redis(port=h.port).get("k") == b"1"
    finally:
        h.stop()
