"""The Lua developer workflow: `moonkv run -e`, `run --dir/--memory` and the `moonkv test` runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

import moonkv
from tests.helpers import ServerHandle

ROOT = Path(__file__).resolve().parents[2]


def _moonkv(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moonkv", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_run_source_against_a_server(moonkv_server: ServerHandle, r: redis.Redis) -> None:
    r.set("key1", "hello")
    res = _moonkv("run", "-p", str(moonkv_server.port), "-e",
                  "return {redis.call('GET', KEYS[1]), ARGV[1]}", "key1", "--", "arg1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ['1) "hello"', '2) "arg1"']


def test_run_in_process_on_a_directory(tmp_path: Path) -> None:
    script = tmp_path / "incr.lua"
    script.write_text("return redis.call('INCRBY', KEYS[1], ARGV[1])\n")
    for expected in ("(integer) 5", "(integer) 10"):
        res = _moonkv("run", "--dir", str(tmp_path / "data"), str(script), "n", "--", "5")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == expected
    with moonkv.open(tmp_path / "data") as r:
        assert r.get("n") == b"10"


def test_run_in_memory_reports_errors() -> None:
    res = _moonkv("run", "--memory", "-e", "return redis.call('LPUSH', KEYS[1])", "k")
    assert res.returncode == 1
    assert res.stdout.startswith("(error) ERR Wrong number of args calling Redis command from script")
    ok = _moonkv("run", "--memory", "-e", "return redis.call('SET', KEYS[1], ARGV[1])", "k", "--", "v")
    assert ok.returncode == 0 and ok.stdout.strip() == '"OK"'


def test_runner_passes_the_shipped_example() -> None:
    res = _moonkv("test", "examples", cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "examples/transfer_test.lua"
    assert "  ok   an overdraft fails and leaves nothing behind" in lines
    assert lines[-1] == "3 passed, 0 failed"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


SCRIPT = "redis.call('SET', KEYS[1], ARGV[1])\nif ARGV[2] then error(ARGV[2]) end\nreturn redis.call('GET', KEYS[1])\n"


def test_runner_reports_failures_with_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "set.lua", SCRIPT)
    f = _write(tmp_path, "set_test.lua", """script "set.lua"
case "passes" { keys = {"k"}, args = {"v"}, reply = "v", data = { k = "v", other = NIL } }

case "wrong reply" {
  keys = {"k"}, args = {"v"},
  reply = "w",
}
case "wrong data" { keys = {"k"}, args = {"v"}, data = { k = "x" } }
""")
    res = _moonkv("test", str(f))
    assert res.returncode == 1
    out = res.stdout.splitlines()
    assert "  ok   passes" in out
    i = out.index(f"  FAIL wrong reply ({f}:4)")
    assert out[i + 1: i + 3] == ['    expected: reply "w"', '    actual:   reply "v"']
    i = out.index(f"  FAIL wrong data ({f}:8)")
    assert out[i + 1: i + 4] == ['    key "k"', '      expected: "x"', '      actual:   "v"']
    assert out[-1] == "1 passed, 2 failed"


def test_runner_checks_rollback(tmp_path: Path) -> None:
    _write(tmp_path, "set.lua", SCRIPT)
    _write(tmp_path, "roll_test.lua", """script "set.lua"
case "a failing script leaves nothing" {
  setup = { {"SET", "k", "old"}, {"HSET", "h", "f", "1"} },
  keys = {"k"}, args = {"new", "refused"},
  error = "refused", unchanged = true,
}
case "a script that succeeds changes the keyspace" {
  setup = { {"SET", "k", "old"} },
  keys = {"k"}, args = {"new"},
  unchanged = true,
}
case "no error came" { keys = {"k"}, args = {"v"}, error = "^ERR" }
""")
    res = _moonkv("test", str(tmp_path))  # a directory: *_test.lua found in it
    out = res.stdout.splitlines()
    assert "  ok   a failing script leaves nothing" in out
    i = [n for n, line in enumerate(out) if line.startswith("  FAIL a script that succeeds")][0]
    assert out[i + 1: i + 3] == ["    expected: the keyspace unchanged", '    actual:   changed "k"']
    i = [n for n, line in enumerate(out) if line.startswith("  FAIL no error came")][0]
    assert out[i + 1] == '    expected: an error matching "^ERR"'
    assert res.returncode == 1 and out[-1] == "1 passed, 2 failed"


def test_runner_bad_test_files(tmp_path: Path) -> None:
    cases = {
        "syntax_test.lua": ('source [[ return 1 ]]\ncase "x" { keys = {"k"}\n', ":3: '}' expected (to close '{' at line 2)"),
        "field_test.lua": ('source [[ return 1 ]]\ncase "x" {\n  keys = {"k"}, kyes = 1 }\n', ":2: case \"x\": unknown field 'kyes'"),
        "noscript_test.lua": ('case "x" { keys = {"k"} }\n', ": no script under test"),
        "missing_test.lua": ('script "missing.lua"\ncase "x" {}\n', ":1: cannot read the script"),
        "nocase_test.lua": ("source [[ return 1 ]]\n", ": no cases"),
        "both_test.lua": ('source [[ return 1 ]]\ncase "x" { reply = 1, error = "e" }\n', "either a reply or an error"),
    }
    for name, (text, _) in cases.items():
        _write(tmp_path, name, text)
    res = _moonkv("test", str(tmp_path))
    assert res.returncode == 1
    for name, (_, message) in cases.items():
        path = str(tmp_path / name)
        assert any(line.startswith(f"  ERROR {path}") and message in line for line in res.stdout.splitlines()), (name, res.stdout)
    assert res.stdout.splitlines()[-1] == "0 passed, 0 failed, 6 bad test files"


def test_runner_with_nothing_to_run(tmp_path: Path) -> None:
    assert _moonkv("test", str(tmp_path)).returncode == 2
    assert _moonkv("test", str(tmp_path / "missing")).returncode == 2
