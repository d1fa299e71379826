"""The people's CLI: run a .lua file with keys -- args, list cached scripts, interactive prompt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from tests.helpers import ServerHandle


def _moonkv(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moonkv", *args], capture_output=True, text=True, input=input, timeout=60
    )


def test_run_lua_file_with_keys_and_args(moonkv_server: ServerHandle, r: redis.Redis, tmp_path: Path) -> None:
    script = tmp_path / "incr.lua"
    script.write_text("local v = redis.call('incrby', KEYS[1], ARGV[1])\nreturn {v, KEYS[1], ARGV[2]}\n")
    port = str(moonkv_server.port)
    first = _moonkv("run", "-p", port, str(script), "counter", "--", "5", "x")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ['1) (integer) 5', '2) "counter"', '3) "x"']
    _moonkv("run", "-p", port, str(script), "counter", "--", "5", "x")
    assert r.get("counter") == b"10"


def test_run_reports_script_errors(moonkv_server: ServerHandle, r: redis.Redis, tmp_path: Path) -> None:
    script = tmp_path / "bad.lua"
    script.write_text("return redis.call('nosuch')\n")
    res = _moonkv("run", "-p", str(moonkv_server.port), str(script))
    assert res.returncode == 1
    assert "(error) ERR Unknown Redis command called from script" in res.stdout


def test_scripts_lists_the_cache(moonkv_server: ServerHandle, r: redis.Redis) -> None:
    r.script_flush()
    sha = r.script_load("return 'listed'")
    res = _moonkv("scripts", "-p", str(moonkv_server.port))
    assert res.returncode == 0
    assert sha in res.stdout and "load" in res.stdout and "return 'listed'" in res.stdout


def test_interactive_prompt(moonkv_server: ServerHandle, r: redis.Redis) -> None:
    res = _moonkv("cli", "-p", str(moonkv_server.port), input="set k v\nget k\nrpush l a b\nlrange l 0 -1\nnosuch\n")
    assert res.returncode == 0
    out = res.stdout
    assert '"v"' in out and "(integer) 2" in out and '1) "a"' in out and '2) "b"' in out
    assert "(error) ERR unknown command 'nosuch'" in out


def test_unreachable_server_is_one_clear_line() -> None:
    res = _moonkv("cli", "-p", "1", "ping")
    assert res.returncode != 0
    assert "could not connect" in res.stderr and "Traceback" not in res.stderr
