"""Fuzzing the Lua sandbox with generated hostile scripts (see lua_programs.py).

Oracles: every script returns or fails with a Redis-style error; no reply
shows a Python object or traceback; the server stays up and answers; after
each batch a fixed canary script (globals, library tables, shared
metatables, error texts) gives the same answer as on a fresh server; the file
system is untouched (no new or modified files, the watched path never made).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fuzz import budget, lua_programs
from tests.fuzz.budget import Run, seconds, seed
from tests.fuzz.lua_worker import BATCH, SETTINGS, files
from tests.helpers import RawClient, start_moonkv

ROOT = Path(__file__).resolve().parents[2]


def test_lua_sandbox_in_process(tmp_path: Path) -> None:
    """Many scripts through the real engine, in a child process (a hang or crash is seen)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MOONKV_FUZZ_SEED=seed())
    cmd = [sys.executable, "-m", "tests.fuzz.lua_worker", str(tmp_path)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds() + 60, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        lines = out.splitlines()
        raise AssertionError(f"the Lua fuzzer hung: {lines[:1]} ... last {lines[-1:]}") from None
    lines = r.stdout.splitlines()
    done = [line for line in lines if line.startswith("done ")]
    budget.RESULTS.extend(f"lua: {d[5:]} cases" for d in done)
    if r.returncode != 0 or not done:
        cases = [line for line in lines if line.startswith("case ")]
        tail = "\n".join(line for line in lines[-40:] if not line.startswith("case "))
        raise AssertionError(
            f"the Lua fuzzer exited with {r.returncode} at {cases[-1:]} (seed {seed()}; the cases "
            f"before it ran in the same engine, so replay with MOONKV_FUZZ_SEED and the same or a "
            f"longer MOONKV_FUZZ_SECONDS)\n{tail}\n{r.stderr[-3000:]}"
        )


def test_lua_sandbox_on_a_server(tmp_path: Path) -> None:
    """A smaller batch against a real server: replies on the wire, the server's own files."""
    data = tmp_path / "data"
    target = str(tmp_path / "pwned")
    args = ["--appendonly", "yes", "--save", ""]
    for k, v in SETTINGS:
        args += [f"--{k}", v]
    h = start_moonkv(args, dir=str(data))
    try:
        c = RawClient(h.port, timeout=60)
        want = c.call("EVAL", lua_programs.CANARY, 0)
        assert want.startswith(b"$"), want
        before = files(str(tmp_path))
        run = Run("lua-server", share=0.5)
        for rng in run.cases(min_cases=BATCH):
            script = lua_programs.program(rng).replace(lua_programs.FILE_MARK, target)
            try:
                got = c.call("EVAL", script, 0)
                assert not lua_programs.PYTHON_LEAK.search(got), f"Python visible: {got[:300]!r}"
                if run.current % BATCH == BATCH - 1 or run.only is not None:
                    fresh = RawClient(h.port, timeout=60)
                    assert fresh.call("PING") == b"+PONG\r\n"
                    fresh.close()
                    assert c.call("EVAL", lua_programs.CANARY, 0) == want, "state leaked between scripts"
                    now = files(str(tmp_path))
                    changed = {p for p in set(now) | set(before) if now.get(p) != before.get(p)}
                    # The server's own log grows with every write; nothing else may change.
                    assert all(p.startswith(str(data)) and ".mkl" in p for p in changed), changed
                    assert not os.path.exists(target)
            except Exception as e:
                raise AssertionError(
                    f"{run.reproduce()}\nscript: {script}\n{type(e).__name__}: {e}\n{h.read_log()[-3000:]}"
                ) from e
        c.close()
    finally:
        h.stop()
    assert "Traceback" not in h.read_log()
