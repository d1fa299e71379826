"""moonkv.open(path): the server's data directory, lock and recovery, in process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

import moonkv
from moonkv.persistence import DirectoryLocked
from tests.conftest import CLIENT_OPTIONS
from tests.helpers import start_moonkv


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    with moonkv.open(tmp_path) as r:
        r.set("s", "v")
        r.rpush("l", 1, 2)
        r.hset("h", mapping={"a": 1})
        r.pexpire("s", 3_600_000)
        sha = r.script_load("return 7")
        r.eval("redis.call('INCR', KEYS[1])", 1, "n")
    with moonkv.open(tmp_path) as r:
        assert r.get("s") == b"v" and r.pttl("s") > 0
        assert r.lrange("l", 0, -1) == [b"1", b"2"]
        assert r.hgetall("h") == {b"a": b"1"}
        assert r.get("n") == b"1"
        assert r.evalsha(sha, 0) == 7  # the script cache is durable too


def test_options_are_directives(tmp_path: Path) -> None:
    with moonkv.open(tmp_path, appendfsync="everysec") as r:
        assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
        r.set("k", "v")
    with moonkv.open(tmp_path) as r:
        assert r.config_get("appendfsync") == {"appendfsync": "always"}
        assert r.get("k") == b"v"


def test_memory_only_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with moonkv.open() as r:
        r.set("k", "v")
        assert r.info("persistence").get("aof_enabled", 0) == 0
    assert os.listdir(tmp_path) == []


def test_the_lock(tmp_path: Path) -> None:
    r = moonkv.open(tmp_path)
    try:
        with pytest.raises(DirectoryLocked, match="in use by another moonkv process"):
            moonkv.open(tmp_path)
    finally:
        r.close()
    moonkv.open(tmp_path).close()  # released by close()


def test_a_running_server_holds_the_lock(tmp_path: Path) -> None:
    h = start_moonkv(dir=str(tmp_path))
    try:
        with pytest.raises(DirectoryLocked):
            moonkv.open(tmp_path)
    finally:
        h.stop()


def test_server_reads_what_embedded_wrote_and_back(tmp_path: Path) -> None:
    with moonkv.open(tmp_path) as r:
        r.set("from-embedded", "1")
        r.zadd("z", {"a": 1.5})
    h = start_moonkv(dir=str(tmp_path))
    try:
        c = redis.Redis(port=h.port, **CLIENT_OPTIONS)
        assert c.get("from-embedded") == b"1"
        assert c.zscore("z", "a") == 1.5
        c.set("from-server", "2")
        c.close()
    finally:
        h.stop()
    with moonkv.open(tmp_path) as r:
        assert r.mget("from-embedded", "from-server") == [b"1", b"2"]


def test_exit_without_close(tmp_path: Path) -> None:
    """A process that dies without close() leaves a directory that opens with everything acknowledged."""
    code = textwrap.dedent(f"""
        import os, moonkv
        r = moonkv.open({str(tmp_path)!r})
        for i in range(200):
            r.set(f"k{{i}}", i)
        r.eval("redis.call('RPUSH', KEYS[1], 'a', 'b')", 1, "l")
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with moonkv.open(tmp_path) as r:
        assert r.dbsize() == 201
        assert r.get("k199") == b"199"
        assert r.lrange("l", 0, -1) == [b"a", b"b"]


def test_torn_tail_is_recovered(tmp_path: Path) -> None:
    with moonkv.open(tmp_path) as r:
        r.set("a", "1")
        log = r.info("persistence")["moonkv_log_file"]
    with open(tmp_path / log, "ab") as f:
        f.write(b"\x00\x01partial")  # a record cut by a crash
    with moonkv.open(tmp_path) as r:
        assert r.get("a") == b"1"
        r.set("b", "2")
    with moonkv.open(tmp_path) as r:
        assert r.mget("a", "b") == [b"1", b"2"]


def test_a_collected_client_releases_the_directory(tmp_path: Path) -> None:
    import gc

    r = moonkv.open(tmp_path)
    r.set("k", "v")
    del r
    gc.collect()
    with moonkv.open(tmp_path) as r2:  # redis-py's __del__ closed it: flushed and unlocked
        assert r2.get("k") == b"v"
