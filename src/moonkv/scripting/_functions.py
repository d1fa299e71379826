"""Redis 7 functions: libraries loaded with FUNCTION LOAD, called with FCALL.

Libraries run in their own Lua runtime (as in Redis, separate from EVAL's),
with the same sandbox; their callbacks execute through the script engine,
so FCALL is transactional and budgeted exactly like EVAL.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from moonkv.errors import RespError
from moonkv.scripting._shebang import parse_shebang
from moonkv.scripting._source import protect_tail_returns

_NAME_RE = re.compile(rb"^[A-Za-z0-9_]+$")


def _lua_string(v: Any) -> bytes | None:
    """A Lua value as Redis's lua_isstring/lua_tolstring takes it: a string, or
    a number in Lua's own format (%.14g); None for anything else."""
    t = type(v)
    if t is bytes:
        return v  # type: ignore[no-any-return]
    if t is int or t is float:
        return b"%.14g" % v
    return None
LOAD_TIMEOUT = 0.5
# In the order of Redis's flag table (scripts_flags_def): FUNCTION LIST lists them so.
FUNCTION_FLAGS = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")


@dataclass
class Function:
    name: bytes
    callback: Any
    flags: set[bytes]
    description: bytes | None
    library: Library | None = None


@dataclass
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, Function] = field(default_factory=dict)


class FunctionRegistry:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.rt = engine.new_runtime()
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self._pending: dict[bytes, Function] | None = None

    # -- registration (called from Lua while a library loads) -----------------------

    def _register(self, *args: Any) -> bytes | None:
        """redis.register_function during FUNCTION LOAD; returns an error text or None."""
        pending = self._pending
        if pending is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        flags: set[bytes] = set()
        desc: bytes | None = None
        if len(args) == 1:
            tbl = args[0]
            if type(tbl).__name__ != "_LuaTable":
                return (
                    b"calling redis.register_function with a single argument is only applicable "
                    b"to Lua table (representing named arguments)."
                )
            name = cb = None
            for k, v in list(tbl.items()):
                if k == b"function_name":
                    name = _lua_string(v)
                    if name is None:
                        return b"function_name argument given to redis.register_function must be a string"
                elif k == b"callback":
                    if type(v).__name__ != "_LuaFunction":
                        return b"callback argument given to redis.register_function must be a function"
                    cb = v
                elif k == b"description":
                    desc = _lua_string(v)
                    if desc is None:
                        return b"description argument given to redis.register_function must be a string"
                elif k == b"flags":
                    if type(v).__name__ != "_LuaTable":
                        return b"flags argument to redis.register_function must be a table representing function flags"
                    for f in list(v.values()):
                        if f not in FUNCTION_FLAGS:
                            return b"unknown flag given"
                        flags.add(f)
                else:
                    return b"unknown argument given to redis.register_function"
            if name is None:
                return b"redis.register_function must get a function name argument"
            if cb is None:
                return b"redis.register_function must get a callback argument"
        elif len(args) == 2:
            name, cb = _lua_string(args[0]), args[1]
            if name is None:
                return b"first argument to redis.register_function must be a string"
            if type(cb).__name__ != "_LuaFunction":
                return b"second argument to redis.register_function must be a function"
        else:
            return b"wrong number of arguments to redis.register_function"
        if not _NAME_RE.match(name):
            # Redis 7.0 says "Library names" here too.
            return (
                b"Library names can only contain letters, numbers, or underscores(_) and must "
                b"be at least one character long"
            )
        if name.lower() in pending:
            return b"Function already exists in the library"
        pending[name.lower()] = Function(name, cb, flags, desc)
        return None

    # -- library management -------------------------------------------------------

    def load(self, code: bytes, replace: bool) -> bytes:
        try:
            has, _flags, opts, source = parse_shebang(code, for_library=True)
        except RespError:
            raise
        if not has:
            raise RespError("Missing library metadata")
        name = opts.get("name")
        if not name:
            raise RespError("Library name was not given")
        lname = name.encode()
        if not _NAME_RE.match(lname):
            raise RespError(
                "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
            )
        old = self.libraries.get(lname)
        if old is not None and not replace:
            raise RespError(f"Library '{name}' already exists")
        self._pending = {}
        try:
            # The tail-call-safe form (error locations as Redis's); if it does not compile,
            # the original, whose compile error is the one to report.
            ok, err = self._load_code(protect_tail_returns(source, chunk=False))
            if not ok and (err or b"").startswith(b"\0compile:"):
                self._pending = {}
                ok, err = self._load_code(source)
            if not ok:
                text = (err or b"").decode("utf-8", "replace")
                if text.startswith("\0compile:"):
                    raise RespError(f"Error compiling function: {text[9:]}")
                raise RespError(f"Error registering functions: {text}")
            funcs = self._pending
        finally:
            self._pending = None
        if not funcs:
            raise RespError("No functions registered")
        for fname in funcs:
            owner = self.functions.get(fname)
            if owner is not None and owner.library is not None and owner.library.name != lname:
                raise RespError(f"Function {fname.decode('utf-8', 'replace')} already exists")
        if old is not None:
            self._remove(old)
        lib = Library(lname, code, funcs)
        for key, f in funcs.items():
            f.library = lib
            self.functions[key] = f
        self.libraries[lname] = lib
        return lname

    def _load_code(self, source: bytes) -> tuple[bool, bytes | None]:
        # The source goes to Lua outside a protected call: it must fit under the cap.
        if not self.rt.room(2 * len(source)):
            return False, b"not enough memory"
        # As Redis: a library's top-level code gets 500 ms.
        self.engine.load_deadline = time.monotonic() + LOAD_TIMEOUT
        try:
            res = self.rt.load_library(source, self._register)
        finally:
            self.engine.load_deadline = None
            self.rt.arm()  # a timeout unwound the load without the cap
            self.rt.tight = True  # the library takes heap: the next run checks its room
        if type(res) is tuple:
            return bool(res[0]), res[1] if len(res) > 1 else None
        return bool(res), None

    def _remove(self, lib: Library) -> None:
        for fname in lib.functions:
            self.functions.pop(fname, None)
        self.libraries.pop(lib.name, None)

    def delete(self, name: bytes) -> None:
        lib = self.libraries.get(name)
        if lib is None:
            raise RespError("Library not found")
        self._remove(lib)

    def flush(self) -> None:
        self.libraries.clear()
        self.functions.clear()
        self.rt = self.engine.new_runtime()

    def dump_codes(self) -> list[bytes]:
        return [lib.code for lib in self.libraries.values()]
