"""Scripts the Lua fuzzer found: each hung the server inside one C call
(a pattern match the budget hook cannot interrupt) before the fix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.lua_worker import evaluate, make_server


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    yield make_server(str(tmp_path_factory.mktemp("lua") / "data"))


@pytest.mark.parametrize("script", [
    # Found by seed fcf9ea030b93, case 13: 2^40 ways to skip the optional a's.
    "local v1 = string.rep('a', 40):match(string.rep('a?', 40) .. string.rep('a', 40)) return nil",
    "return string.find(string.rep('a', 10000), string.rep('a*', 50) .. 'b')",
    "return string.gsub(string.rep('a', 3000), '(a*)(a*)(a*)b', '')",
    "return string.match(string.rep(' ', 2000), '[%s]+[%s]+[%s]+x')",
])
def test_pattern_bombs_are_refused_at_once(engine: tuple[Any, Any], script: str) -> None:
    t = time.monotonic()
    got = evaluate(*engine, script)
    assert got.startswith(b"-ERR user_script:1: pattern too complex for string."), got
    assert time.monotonic() - t < 1


@pytest.mark.parametrize("script,want", [
    ("return {string.match('  hi there  ', '^%s*(.-)%s*$')}", b"*1\r\n$8\r\nhi there\r\n"),
    ("return string.gsub('aaa', 'a?a?', 'x')", b"$3\r\nxxx\r\n"),
    ("return string.find(string.rep('a', 1000), 'a?a?a?b')", b"$-1\r\n"),
    ("return {string.match('k=v', '(%w+)=(%w*)')}", b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"),
    ("return string.find('x]]y', '[]]+')", b":2\r\n"),
    ("return string.find('f(a(b))', '%b()')", b":2\r\n"),
])
def test_ordinary_patterns_still_work(engine: tuple[Any, Any], script: str, want: bytes) -> None:
    assert evaluate(*engine, script) == want


def test_script_worker_reports_the_case(tmp_path: Path) -> None:
    """The worker names the seed and case of a failure (how a CI failure is reproduced)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root), MOONKV_FUZZ_SEED="fcf9ea030b93", MOONKV_FUZZ_CASE="13")
    r = subprocess.run([sys.executable, "-m", "tests.fuzz.lua_worker", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=root)
    assert r.returncode == 0 and "case 13" in r.stdout and "done 1" in r.stdout, r.stdout + r.stderr


HANG_AT_THE_CAP = """
import sys, tempfile
from tests.fuzz.lua_worker import evaluate, make_server
for _ in range(8):
    srv, c = make_server(tempfile.mkdtemp())
    evaluate(srv, c, "return collectgarbage('stop')")
    print(evaluate(srv, c, sys.argv[1]).decode().strip(), flush=True)
"""


def test_a_table_reply_at_the_memory_cap_fails_the_script() -> None:
    # Found by seed 27a8a3c592c4, case 4484 of lua-server (after a script had stopped
    # the collector): redis.pcall's error table, built at the memory cap, made lupa
    # longjmp over Python frames; the GIL stayed taken and the server hung, one run
    # in three. In a child process, so a hang fails the test instead of stopping it.
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    script = "pcall(function() for i = 1, 1e6 do local v1 = redis.pcall(cjson, {1,2,3}) end end) return 1"
    r = subprocess.run([sys.executable, "-c", HANG_AT_THE_CAP, script], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=str(root)), cwd=root)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 8, r.stdout + r.stderr
    # The memory cap, or on a loaded machine the 300 ms kill limit first: no hang either way.
    assert all(line.startswith("-ERR Script exceeded the") for line in lines), lines


@pytest.mark.parametrize("script", [
    "return coroutine.wrap(function() return redis.call('set', 'k', 'v') end)()",
    "local co = coroutine.create(function() return redis.pcall('get', 'k') end) "
    "local ok, err = coroutine.resume(co) error(err)",
])
def test_redis_call_inside_a_coroutine_is_refused(engine: tuple[Any, Any], script: str) -> None:
    # Found by seed d1b96c44b565 (cases 378..403): redis.call inside a coroutine made
    # lupa re-enter the main Lua state while it was suspended in resume; a later
    # script then crashed the process in lua_rawseti. Refused, and nothing written.
    got = evaluate(*engine, script)
    assert b"redis.call and redis.pcall cannot be used inside a coroutine" in got, got
    assert evaluate(*engine, "return redis.call('exists', 'k')") == b":0\r\n"


CRASH_SEQUENCE = [  # seed d1b96c44b565, cases 378, 390, 391 and 403, in one engine
    "pcall(function() local v1 = coroutine.wrap(function() return redis.call('set', 'k', string) end)() x = ARGV do return (newproxy(true) .. (string + struct.unpack(2^53, 'x'))) end end) return _G",
    "local v1 = redis.setresp((function(...) if (function() local t = {} for i = 1, 1e6 do t[i] = {i} end return #t end)() then local v2 = string.dump(function() return 2^31 end) getmetatable('').__index = struct[2^31] local v3 = string[coroutine] else local _ = {2^53, struct, k = _G} end if cmsgpack then pcall(function()  end) local v4 = {KEYS, false, k = os} math.random = {cmsgpack, KEYS, k = cjson} else local v5 = (function(...)  end)(...) end end)(os)) pcall(function() for i = 1, 1e6 do local v6 = ARGV[1] for i = 1, 1e9 do pcall(function()  end) local v7 = rawequal('', 0) local v8 = (1/0 ~= table) end end end) redis.call = string",
    "if (ARGV ^ _G) then local _ = select(2, pcall(function() return '\\27Lua' end)) for i = 1, 1e3 do  end pcall(function()  end) else local v1 = struct.unpack(2^31-1, 0) ARGV = (nil .. ...) end return (function(...) for i = 1, 1e9 do  end local v2 = KEYS[1] end)((function(...)  end)(1))",
    "local v1 = {redis.call('eval', 'return 1', 0), 2^53, k = getmetatable('')}",
]

RUN_SEQUENCE = """
import json, sys, tempfile
from tests.fuzz.lua_worker import evaluate, make_server
srv, c = make_server(tempfile.mkdtemp())
for script in json.loads(sys.argv[1]):
    print(evaluate(srv, c, script)[:60], flush=True)
"""


def test_the_coroutine_crash_sequence_runs_to_its_end() -> None:
    """Before the fix this sequence ended in a segfault (exit 139) at its last script."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-c", RUN_SEQUENCE, json.dumps(CRASH_SEQUENCE)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=root)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 4, r.stdout + r.stderr


AT_THE_CAP = """
import sys, tempfile
from tests.fuzz.lua_worker import evaluate, make_server
srv, c = make_server(tempfile.mkdtemp())
srv.execute(c, [b"SET", b"big", b"z" * 3_000_000])
for script in sys.argv[1:]:
    if script.startswith("ARG "):  # the next EVAL carries a 4 MB argument
        reply = srv.execute(c, [b"EVAL", script[4:].encode(), b"0", b"y" * 4_000_000])
        print(reply if isinstance(reply, int) else repr(reply), flush=True)
    else:
        print(evaluate(srv, c, script).decode().strip(), flush=True)
"""

# Leaves about 14 MB of garbage behind (the cap is 16 MB), the collector stopped or not.
GARBAGE = "local t = {} for i = 1, 200 do t[i] = string.rep('x', 70000) .. i end return 1"
# Fills the heap up to the cap, keeps it alive, then asks Python for a 3 MB value.
FULL_THEN_CALL = (
    "local t = {} pcall(function() for i = 1, 1e6 do t[#t+1] = string.rep('x', 100000) .. i end end) "
    "for j = 1, 40 do t[#t] = nil end local v = redis.call('get', 'big') return #t"
)


@pytest.mark.parametrize("scripts,want", [
    # Found by seed c39bc43dd647, case 343 of lua-server: after scripts that stopped the
    # collector, the arguments of the next EVAL were pushed onto a full heap outside
    # Lua's protected call, and lupa's panic handler aborted the process
    # ("PANIC: unprotected error in call to Lua API (not enough memory)").
    (["return collectgarbage('stop')", GARBAGE, "ARG return #ARGV[1]", "return 2"],
     [":0", ":1", "4000000", ":2"]),
    # The same without touching the collector: garbage short of the cap is enough.
    ([GARBAGE, "ARG return #ARGV[1]", "return 2"], [":1", "4000000", ":2"]),
    # A value returned to Lua by redis.call onto a full heap: the error jumped over
    # Python's frames and the GIL stayed taken (the process hung). Now the script is
    # aborted as out of memory and rolled back, and the next one runs.
    ([FULL_THEN_CALL, FULL_THEN_CALL, "return 3"], ["-ERR Script exceeded the memory limit"] * 2 + [":3"]),
    # Small values and other calls into Python on a full heap: the same.
    ([FULL_THEN_CALL.replace("redis.call('get', 'big')", "redis.call('ping')"),
      FULL_THEN_CALL.replace("redis.call('get', 'big')", "redis.pcall('nosuchcommand')"),
      FULL_THEN_CALL.replace("redis.call('get', 'big')", "redis.sha1hex('x')"), "return 4"],
     ["-ERR Script exceeded the memory limit"] * 3 + [":4"]),
])
def test_pushes_onto_a_full_heap_fail_the_script_not_the_process(scripts: list[str], want: list[str]) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    r = subprocess.run([sys.executable, "-c", AT_THE_CAP, *scripts], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=str(root)), cwd=root)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == len(want), r.stdout + r.stderr
    for got, w in zip(lines, want, strict=True):
        assert got.startswith(w) if w.startswith("-") else got == w, (got, w)


@pytest.mark.parametrize("change,read", [
    ("collectgarbage('setpause', 1)", "return collectgarbage('setpause', 200)"),
    ("collectgarbage('setstepmul', 1000)", "return collectgarbage('setstepmul', 200)"),
])
def test_a_script_changes_the_collector_only_for_itself(
    engine: tuple[Any, Any], change: str, read: str
) -> None:
    # Redis 7.0 lets the settings carry over (its next script reads 1 or 1000 back);
    # moonkv puts the runtime's back after each script (docs/compatibility.md).
    evaluate(*engine, change)
    assert evaluate(*engine, read) == b":200\r\n"
    # Within the script the option works as in Redis (it answers the previous value).
    assert evaluate(*engine, "collectgarbage('setpause', 150) return collectgarbage('setpause', 200)") == b":150\r\n"


def test_a_stopped_collector_is_running_again_for_the_next_script(tmp_path: Path) -> None:
    engine = make_server(str(tmp_path / "data"))
    # With the collector stopped, 200 rounds of 1 MB garbage pass the 16 MB cap.
    script = "for i = 1, 200 do local s = string.rep('x', 1000000) .. i end return 1"
    assert evaluate(*engine, "collectgarbage('stop') " + script).startswith(b"-ERR Script exceeded the memory")
    assert evaluate(*engine, "collectgarbage('stop') return 1") == b":1\r\n"
    assert evaluate(*engine, script) == b":1\r\n"
