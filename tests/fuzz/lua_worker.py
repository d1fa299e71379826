"""The in-process Lua fuzzer, run in a child process by test_lua_fuzz.py.

A script stuck inside one C call (a pattern match, a huge allocation) cannot
be interrupted, and a crash of the Lua runtime would take the process with it:
running the cases in a child lets the test see a hang or a crash, and name the
case that caused it (``case N`` is printed before each case is run).

Usage: ``python -m tests.fuzz.lua_worker DIR`` with the MOONKV_FUZZ_* variables.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from moonkv.errors import RespError
from moonkv.protocol import encode
from tests.fuzz import lua_programs
from tests.fuzz.budget import Run

BATCH = 20

# Budgets low enough that a case takes at most a fraction of a second.
SETTINGS = (("lua-kill-time-limit", "300"), ("lua-memory-limit", "16mb"), ("lua-time-limit", "5000"))


def make_server(dir: str) -> tuple[Any, Any]:
    from moonkv.commands import load
    from moonkv.engine import Config, Server
    from moonkv.scripting import attach

    load()
    cfg = Config()
    for k, v in (("dir", dir), ("appendonly", "no"), ("save", ""), *SETTINGS):
        cfg.load(k, v)
    srv = Server(cfg)
    attach(srv)
    return srv, srv.new_client()


def evaluate(srv: Any, c: Any, script: str) -> bytes:
    """The reply's wire form; any exception other than a reply is the caller's failure."""
    reply = srv.execute(c, [b"EVAL", script.encode(), b"0"])
    if isinstance(reply, RespError):
        text = str(reply)
        assert text and "\n" not in text.strip() and "\r" not in text, repr(text)
        # As the server encodes it: an error reply may carry any bytes (redis.error_reply).
        return b"-" + text.encode("utf-8", "surrogateescape") + b"\r\n"
    return encode(reply)


def files(dir: str) -> dict[str, float]:
    out = {}
    for root, _, names in os.walk(dir):
        for n in names:
            p = os.path.join(root, n)
            out[p] = os.stat(p).st_mtime
    return out


def main(dir: str) -> int:
    os.chdir(dir)
    data = os.path.join(dir, "data")
    os.makedirs(data)
    with open(os.path.join(dir, "canary.txt"), "w") as f:
        f.write("canary\n")
    target = os.path.join(dir, "pwned")
    fresh_srv, fresh_c = make_server(data)
    want = evaluate(fresh_srv, fresh_c, lua_programs.CANARY)
    assert want.startswith(b"$"), want
    srv, c = make_server(data)
    before = files(dir)
    run = Run("lua")
    n = 0
    for rng in run.cases(min_cases=BATCH):
        print(f"case {run.current}", flush=True)
        script = lua_programs.program(rng).replace(lua_programs.FILE_MARK, target)
        try:
            got = evaluate(srv, c, script)
            assert not lua_programs.PYTHON_LEAK.search(got), f"Python visible: {got[:300]!r}"
            n += 1
            if n % BATCH == 0 or run.only is not None:
                assert evaluate(srv, c, "return 'PONG'") == b"$4\r\nPONG\r\n"
                canary = evaluate(srv, c, lua_programs.CANARY)
                assert canary == want, f"state leaked between scripts:\n{canary!r}\n!=\n{want!r}"
                assert files(dir) == before, f"files changed: {sorted(set(files(dir)) ^ set(before))}"
        except Exception as e:  # noqa: BLE001 - reported with the case's seed
            print(f"FAIL {run.reproduce()}\nscript: {script}\n{type(e).__name__}: {e}", flush=True)
            return 1
    print(f"done {run.done}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
