"""``moonkv test``: run Lua script tests, each case on a fresh in-process moonkv.

    moonkv test [PATH ...]

PATH is a test file or a directory searched for ``*_test.lua`` (default: the
current directory).  A test file is Lua (docs/scripting.md, "Testing scripts")::

    script "transfer.lua"           -- the script under test, relative to this file
                                    -- (or: source [[ return redis.call('GET', KEYS[1]) ]])
    case "moves an amount" {
      setup = { {"SET", "balance:alice", "100"} },  -- commands run before the script
      keys  = { "balance:alice", "balance:bob" },
      args  = { "30" },
      reply = 70,                                    -- what the script returns (NIL: nil)
      data  = { ["balance:alice"] = "70", ["balance:bob"] = "30" },  -- keys afterwards
    }
    case "an overdraft leaves nothing behind" {
      setup = { {"SET", "balance:alice", "10"} },
      keys  = { "balance:alice", "balance:bob" }, args = { "30" },
      error = "insufficient funds",   -- a Lua pattern the error text must match
      unchanged = true,               -- the keyspace is exactly as the setup left it
    }

Each case runs in a new in-memory moonkv (:func:`moonkv.open`), through
EVAL, so the script meets the same sandbox, errors and rollback as on a
server.  Exit status: 0 when every case passed, 1 when one failed or a test
file is bad, 2 when there is nothing to run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lupa.lua51 import LuaError, LuaRuntime, lua_type

CASE_FIELDS = frozenset({"setup", "keys", "args", "reply", "error", "data", "unchanged"})

_PRELUDE = """
local record_script, record_case, nil_value = ...
NIL = nil_value
function script(path)
  if type(path) ~= "string" then error("script needs a file name: script \\"file.lua\\"", 2) end
  record_script("file", path, debug.getinfo(2, "l").currentline)
end
function source(text)
  if type(text) ~= "string" then error("source needs the script's text: source [[ ... ]]", 2) end
  record_script("source", text, debug.getinfo(2, "l").currentline)
end
function case(name)
  local line = debug.getinfo(2, "l").currentline
  if type(name) ~= "string" then error("case needs a name: case \\"what it checks\\" { ... }", 2) end
  return function(t)
    if type(t) ~= "table" then error("case \\"" .. name .. "\\" needs a table: case \\"...\\" { ... }", 2) end
    record_case(name, t, line)
  end
end
return function(text)
  -- Lua shortens long chunk names in messages: Python puts the file's path back.
  local chunk, err = loadstring(text, "=testfile")
  if not chunk then return err end
  local ok, e = pcall(chunk)
  if not ok then return tostring(e) end
  return nil
end
"""


class BadTestFile(Exception):
    """A test file that cannot be run; the text says where and why."""


@dataclass
class Case:
    name: str
    line: int
    setup: list[list[bytes]] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    args: list[bytes] = field(default_factory=list)
    reply: Any = None
    has_reply: bool = False
    error: bytes | None = None
    data: dict[bytes, Any] = field(default_factory=dict)
    unchanged: bool = False


@dataclass
class TestFile:
    path: str
    body: bytes = b""
    cases: list[Case] = field(default_factory=list)


class _Nil:
    def __repr__(self) -> str:
        return "NIL"


NIL = _Nil()


class Loader:
    """Reads test files with a small Lua runtime of its own (not the server's sandbox)."""

    def __init__(self) -> None:
        self.lua = LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        self._current: TestFile | None = None
        self._errors: list[str] = []
        self._nil = self.lua.table()
        self._load = self.lua.execute(_PRELUDE, self._record_script, self._record_case, self._nil)
        self._find = self.lua.eval("string.find")
        self._rawequal = self.lua.eval("rawequal")

    def load(self, path: str) -> TestFile:
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as e:
            raise BadTestFile(f"{path}: cannot read: {e.strerror}") from None
        tf = TestFile(path)
        self._current = tf
        self._errors = []
        try:
            err = self._load(text)
        finally:
            self._current = None
        if self._errors:
            raise BadTestFile(self._errors[0])
        if err is not None:
            msg = _text(err)
            raise BadTestFile(path + msg[len("testfile"):] if msg.startswith("testfile:") else f"{path}: {msg}")
        if not tf.body:
            raise BadTestFile(f"{path}: no script under test: add script \"file.lua\" or source [[ ... ]]")
        if not tf.cases:
            raise BadTestFile(f"{path}: no cases: add case \"name\" {{ ... }}")
        return tf

    def matches(self, text: str, pattern: bytes) -> bool:
        """Lua's string.find(text, pattern): the pattern language Lua developers know."""
        return self._find(text.encode("utf-8", "surrogateescape"), pattern) is not None

    # -- called from Lua while a file runs ----------------------------------------------

    def _record_script(self, kind: bytes, value: bytes, line: int) -> None:
        tf = self._current
        assert tf is not None
        where = f"{tf.path}:{line}"
        if tf.body:
            self._errors.append(f"{where}: the script under test is already named")
            return
        if kind == b"source":
            tf.body = value
            return
        path = os.path.join(os.path.dirname(tf.path), value.decode("utf-8", "surrogateescape"))
        try:
            with open(path, "rb") as f:
                tf.body = f.read()
        except OSError as e:
            self._errors.append(f"{where}: cannot read the script {path}: {e.strerror}")

    def _record_case(self, name: bytes, t: Any, line: int) -> None:
        tf = self._current
        assert tf is not None
        where = f"{tf.path}:{line}"
        case = Case(name.decode("utf-8", "replace"), line)
        try:
            for k, v in t.items():
                key = k.decode() if isinstance(k, bytes) else str(k)
                if key not in CASE_FIELDS:
                    raise ValueError(f"unknown field '{key}' (fields: {', '.join(sorted(CASE_FIELDS))})")
                if key == "setup":
                    case.setup = [self._strings(cmd, "each setup command") for cmd in self._array(v, "setup")]
                elif key == "keys":
                    case.keys = self._strings(v, "keys")
                elif key == "args":
                    case.args = self._strings(v, "args")
                elif key == "reply":
                    case.reply = self._value(v)
                    case.has_reply = True
                elif key == "error":
                    if not isinstance(v, bytes):
                        raise ValueError("error must be a string (a Lua pattern)")
                    case.error = v
                elif key == "data":
                    if lua_type(v) != "table":
                        raise ValueError("data must be a table of key = expected value")
                    case.data = {self._string(dk, "a data key"): self._value(dv) for dk, dv in v.items()}
                elif key == "unchanged":
                    if not isinstance(v, bool):
                        raise ValueError("unchanged must be true or false")
                    case.unchanged = v
            if case.has_reply and case.error is not None:
                raise ValueError("a case expects either a reply or an error, not both")
        except ValueError as e:
            self._errors.append(f"{where}: case \"{case.name}\": {e}")
            return
        tf.cases.append(case)

    def _array(self, v: Any, what: str) -> list[Any]:
        if lua_type(v) != "table":
            raise ValueError(f"{what} must be a table")
        n = len(v)
        if sorted(v.keys()) != list(range(1, n + 1)):
            raise ValueError(f"{what} must be an array: {{ ..., ... }}")
        return [v[i] for i in range(1, n + 1)]

    def _string(self, v: Any, what: str) -> bytes:
        if isinstance(v, bytes):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return _number(v)
        raise ValueError(f"{what} must be strings or numbers")

    def _strings(self, v: Any, what: str) -> list[bytes]:
        return [self._string(x, what) for x in self._array(v, what)]

    def _value(self, v: Any) -> Any:
        """An expected value, as redis-py returns replies: bytes, int, float, list, dict, NIL."""
        if v is False:
            return NIL
        if lua_type(v) == "table":
            if self._rawequal(v, self._nil):
                return NIL
            n = len(v)
            keys = list(v.keys())
            if n and sorted(keys) == list(range(1, n + 1)):
                return [self._value(v[i]) for i in range(1, n + 1)]
            if not keys:
                return []
            return {self._string(k, "table keys"): self._value(x) for k, x in v.items()}
        return v


def _number(v: float) -> bytes:
    return str(int(v)).encode() if float(v).is_integer() else repr(v).encode()


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


# -- running ------------------------------------------------------------------------------


def _snapshot(r: Any) -> dict[tuple[int, bytes], tuple[bytes, bool]]:
    """Every key of every database, exactly (DUMP payload, encoding included) and whether it has a TTL."""
    out: dict[tuple[int, bytes], tuple[bytes, bool]] = {}
    for db in range(int(r.config_get("databases")["databases"])):
        r.select(db)
        for k in r.scan_iter(count=1000):
            out[(db, k)] = (r.dump(k), r.pttl(k) > 0)
    r.select(0)
    return out


def _actual(r: Any, key: bytes) -> Any:
    t = r.type(key)
    if t == b"none":
        return NIL
    if t == b"string":
        return r.get(key)
    if t == b"list":
        return r.lrange(key, 0, -1)
    if t == b"hash":
        return r.hgetall(key)
    if t == b"set":
        return sorted(r.smembers(key))
    if t == b"zset":
        return {m: s for m, s in r.zrange(key, 0, -1, withscores=True)}
    return r.xrange(key)


def _same(expected: Any, actual: Any) -> bool:
    if expected is NIL:
        return actual is None or actual is NIL
    if isinstance(expected, bytes) and isinstance(actual, (int, float)):
        return expected == _number(actual)
    if isinstance(expected, (int, float)) and isinstance(actual, bytes):
        return _number(expected) == actual
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_same(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _show(v: Any) -> str:
    if v is NIL or v is None:
        return "nil"
    if isinstance(v, bytes):
        return '"' + v.decode("utf-8", "backslashreplace").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "{" + ", ".join(_show(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"[{_show(k)}] = {_show(x)}" for k, x in v.items()) + "}"
    return repr(v)


def run_case(loader: Loader, tf: TestFile, case: Case) -> list[str]:
    """Run one case on a fresh moonkv; returns what went wrong (empty: passed)."""
    import redis

    from moonkv.embedded import eval_script
    from moonkv.embedded import open as open_embedded

    problems: list[str] = []
    with open_embedded() as r:
        for i, cmd in enumerate(case.setup, 1):
            try:
                r.execute_command(*cmd)
            except redis.ResponseError as e:
                return [f"setup command {i} ({' '.join(_text(a) for a in cmd)}) failed: {e}"]
        before = _snapshot(r) if case.unchanged else None
        reply, error = eval_script(r, tf.body, case.keys, case.args)
        if case.error is not None:
            if error is None:
                problems.append(f"expected: an error matching {_show(case.error)}\nactual:   reply {_show(reply)}")
            elif not loader.matches(error, case.error):
                problems.append(f"expected: an error matching {_show(case.error)}\nactual:   error \"{error}\"")
        elif error is not None:
            problems.append(
                (f"expected: reply {_show(case.reply)}\n" if case.has_reply else "expected: no error\n")
                + f"actual:   error \"{error}\""
            )
        elif case.has_reply and not _same(case.reply, reply):
            problems.append(f"expected: reply {_show(case.reply)}\nactual:   reply {_show(reply)}")
        for key, want in case.data.items():
            got = _actual(r, key)
            if not _same(want, got):
                problems.append(f"key {_show(key)}\n  expected: {_show(want)}\n  actual:   {_show(got)}")
        if before is not None:
            after = _snapshot(r)
            if after != before:
                changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
                problems.append(
                    "expected: the keyspace unchanged\nactual:   changed "
                    + ", ".join(_show(k) if db == 0 else f"{_show(k)} (db {db})" for db, k in changed[:10])
                )
    return problems


def discover(paths: Sequence[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith("_test.lua")]
        else:
            files.append(p)
    return files


def main(command: str, args: Sequence[str]) -> int:
    try:
        return _main(args)
    except BrokenPipeError:  # output piped into head, say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(args: Sequence[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    paths = list(args) or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"moonkv test: no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    files = discover(paths)
    if not files:
        print(f"moonkv test: no *_test.lua files under {', '.join(paths)}", file=sys.stderr)
        return 2
    loader = Loader()
    passed = failed = bad = 0
    for path in files:
        try:
            tf = loader.load(path)
        except BadTestFile as e:
            print(f"{path}\n  ERROR {e}")
            bad += 1
            continue
        except LuaError as e:
            print(f"{path}\n  ERROR {path}: {e}")
            bad += 1
            continue
        print(path)
        for case in tf.cases:
            problems = run_case(loader, tf, case)
            if problems:
                failed += 1
                print(f"  FAIL {case.name} ({tf.path}:{case.line})")
                for p in problems:
                    print("    " + p.replace("\n", "\n    "))
            else:
                passed += 1
                print(f"  ok   {case.name}")
    summary = f"{passed} passed, {failed} failed"
    if bad:
        summary += f", {bad} bad test file{'s' if bad > 1 else ''}"
    print(summary)
    return 1 if failed or bad else 0
