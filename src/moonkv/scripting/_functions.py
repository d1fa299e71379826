"""Redis 7 functions: libraries loaded with FUNCTION LOAD, called with FCALL.

Libraries run in their own Lua runtime (as in Redis, separate from EVAL's),
with the same sandbox; their callbacks execute through the script engine,
so FCALL is transactional and budgeted exactly like EVAL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from moonkv.errors import RespError
from moonkv.scripting._runtime import LuaRuntime
from moonkv.scripting._shebang import parse_shebang

_NAME_RE = re.compile(rb"^[A-Za-z0-9_]+$")
FUNCTION_FLAGS = frozenset({b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys"})


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
        self.rt = self._new_runtime()
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self._pending: dict[bytes, Function] | None = None

    def _new_runtime(self) -> LuaRuntime:
        e = self.engine
        from moonkv.scripting._engine import sha1hex

        return LuaRuntime(
            e._call_raise,
            e._call_protected,
            e._call_raise_packed,
            e._call_protected_packed,
            e._acl_check,
            e._hook,
            e._log,
            sha1hex,
            max_memory=e.config["lua-memory-limit"],
        )

    # -- registration (called from Lua while a library loads) -----------------------

    def _register(self, *args: Any) -> bytes | None:
        pending = self._pending
        if pending is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        if len(args) == 1 and not isinstance(args[0], (bytes, int, float)) and args[0] is not None:
            tbl = args[0]
            name = cb = None
            flags: set[bytes] = set()
            desc = None
            try:
                items = list(tbl.items())
            except Exception:  # noqa: BLE001 - not a table
                return b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
            for k, v in items:
                if k == b"function_name":
                    name = v
                elif k == b"callback":
                    cb = v
                elif k == b"description":
                    if not isinstance(v, bytes):
                        return b"description argument given to redis.register_function must be a string"
                    desc = v
                elif k == b"flags":
                    try:
                        fl = list(v.values())
                    except Exception:  # noqa: BLE001
                        return b"flags argument to redis.register_function must be a table representing function flags"
                    for f in fl:
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
            name, cb = args
            flags, desc = set(), None
        else:
            return b"wrong number of arguments to redis.register_function"
        if not isinstance(name, bytes) or not _NAME_RE.match(name):
            return b"Function names can only contain letters, numbers, or underscores(_) and must be at least one character long"
        if type(cb).__name__ != "_LuaFunction":
            return b"callback argument given to redis.register_function must be a function"
        if name in pending:
            return b"Function already exists in the library"
        pending[name] = Function(name, cb, flags, desc)
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
            ok, err = self._load_code(source)
            if not ok:
                raise RespError(f"Error registering functions: {(err or b'').decode('utf-8', 'replace')}")
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
        for f in funcs.values():
            f.library = lib
            self.functions[f.name] = f
        self.libraries[lname] = lib
        return lname

    def _load_code(self, source: bytes) -> tuple[bool, bytes | None]:
        res = self.rt.load_library(source, self._register)
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
        self.rt = self._new_runtime()

    def dump_codes(self) -> list[bytes]:
        return [lib.code for lib in self.libraries.values()]
