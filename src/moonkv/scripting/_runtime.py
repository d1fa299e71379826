"""One sandboxed Lua 5.1 runtime (lupa) with Redis's script environment.

The runtime is created with lupa's Python bridge closed (no ``python.eval``,
no builtins, an attribute filter that refuses every Python attribute) and
the ``python`` global removed.  Python functions given to Lua live only in
upvalues of the prelude's closures (see ``prelude.lua``); scripts see Lua
functions and read-only proxy tables.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import lupa.lua51 as lua51

from moonkv.scripting.libs import install as install_libs

# How deep a script's reply may nest before Redis's "reached lua stack limit".
MAX_REPLY_DEPTH = 1000

# The budget hook runs every this many Lua VM instructions (about 0.1 ms).
HOOK_INTERVAL = 10_000

# Heap kept free beyond what a push outside a protected call needs for itself:
# lupa's stack checks, a registry reference, a userdata for a raised error.
ROOM_SLACK = 64 * 1024
# What a call from Lua into Python finds free (prelude's room_at): a value up to
# this size goes back to Lua without a check of its own.
ROOM_RESERVE = 256 * 1024


def _deny_attributes(obj: object, name: object, is_setting: bool) -> object:
    raise AttributeError("access to Python attributes is not allowed")


class LuaRuntime:
    """A Lua VM plus the entry points the engine needs."""

    def __init__(
        self,
        pycall: Callable[..., Any],
        pypcall: Callable[..., Any],
        pycall_packed: Callable[..., Any],
        pypcall_packed: Callable[..., Any],
        pyitems: Callable[[], Any],
        pyacl: Callable[..., Any],
        pyhook: Callable[[], Any],
        pylog: Callable[[int, bytes], None],
        pysha1: Callable[[bytes], bytes],
        pysetresp: Callable[[int], None],
        pyroom: Callable[..., bool],
        max_memory: int = 0,
    ) -> None:
        self.lua = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
            max_memory=0,  # tracking on; the cap is set once the base is loaded
        )
        lua = self.lua
        libs = install_libs(lua)
        libtable = lua.table()
        for name, tbl in libs.items():
            libtable[name] = tbl
        prelude = resources.files("moonkv.scripting").joinpath("prelude.lua").read_bytes()
        # The budget hook goes through a function of this (never compiled)
        # module: running its bytecode is what makes Python call pending
        # signal handlers, so SIGTERM/SIGINT reach a script that loops in Lua
        # even when the engine is native code, which never checks for them.
        def hook() -> Any:
            return pyhook()

        api = lua.execute(prelude, pycall, pypcall, pycall_packed, pypcall_packed, pyitems, pyacl, hook, pylog, pysha1, pysetresp, pyroom, libtable, MAX_REPLY_DEPTH)
        # Nothing of Python stays reachable through the real globals either.
        lua.execute(b"python = nil; io = nil; os = nil; require = nil; package = nil; dofile = nil; loadfile = nil; module = nil; debug = nil")
        from moonkv import REDIS_VERSION

        major, minor, patch = (int(x) for x in REDIS_VERSION.split("."))
        api[b"redis"][b"REDIS_VERSION"] = REDIS_VERSION.encode()
        api[b"redis"][b"REDIS_VERSION_NUM"] = (major << 16) | (minor << 8) | patch
        self.run = api[b"run"]
        self.fail = api[b"fail"]
        self.compile_fn = api[b"compile"]
        self.load_library = api[b"load_library"]
        self.set_hook = api[b"set_hook"]
        self._gc = api[b"gc"]
        self._mem = api[b"mem"]
        self._set_room = api[b"set_room"]
        self.table_from = lua.table_from
        self.max_memory = max_memory
        # The heap may be past prelude's room_at (after a compile, a library load,
        # a run that could not make room): the next run checks its arguments' room.
        self.tight = False
        # The count hook stays installed: it only runs while Lua code runs,
        # i.e. while a script (or a library load) executes.
        self.set_hook(HOOK_INTERVAL)
        self._gc()
        self.base_memory = int(self._mem())
        if max_memory:
            self.set_memory_cap(max_memory)

    def memory_used(self) -> int:
        """Bytes of Lua heap beyond the runtime's fixed base (prelude and libraries).

        Redis implements cjson, cmsgpack, bit and struct in C, outside the Lua
        heap; moonkv's are Lua code, so their fixed cost is not counted, to keep
        ``used_memory_lua`` comparable.
        """
        self.recover_memory()
        return max(0, int(self._mem()) - self.base_memory)

    def fits(self, n: int) -> bool:
        """Whether ``n`` more bytes may be allocated outside a protected call.

        Lua raises "not enough memory" where an allocation fails. Outside a
        protected call (pushing the arguments of a call into Lua, turning a
        result into a registry reference) that ends in lupa's panic handler,
        which aborts the process; inside a Python function called from Lua
        (pushing its return value, or its exception) the error jumps over
        Python's frames and the GIL stays taken: the process hangs. So every
        such push first checks that it fits under the cap, with room for Lua's
        string table to double (a new string may trigger it: its array of
        8-byte slots, one per string, each string at least 25 bytes, so half
        the heap bounds the new array). Cheap: one counter read.
        """
        cap = self.max_memory
        if not cap:
            return True
        used = int(self.lua.get_memory_used())
        return used + (used >> 1) + n + ROOM_SLACK <= cap

    def room(self, n: int) -> bool:
        """:meth:`fits`, after collecting the garbage if it does not fit at once."""
        ok = self.fits(n)
        if not ok:
            self.recover_memory()
            ok = self.fits(n)
        self.tight = not self.fits(ROOM_RESERVE)
        return ok

    def lift(self) -> None:
        """Lift the cap (a run being aborted unwinds without it; see ScriptEngine)."""
        self.lua.set_max_memory(0)

    def arm(self) -> None:
        """Put the cap back after :meth:`lift`."""
        if self.max_memory:
            self.lua.set_max_memory(self.max_memory)

    def set_memory_cap(self, cap: int) -> None:
        """Cap the memory scripts may allocate (beyond the runtime's own base)."""
        self.max_memory = cap
        self.lua.set_max_memory(0)
        self.lua.set_max_memory(cap)
        # Below this heap size (KB, as gcinfo() counts it: a little more than lupa
        # does), fits(ROOM_RESERVE) holds: prelude calls Python without asking first.
        self._set_room((cap - ROOM_RESERVE - ROOM_SLACK) / 1.5 / 1024 if cap else float("inf"))

    def recover_memory(self) -> None:
        """After an out-of-memory error: lift the cap, collect inside Lua, cap again.

        Lua 5.1 has no emergency GC; collecting from Python while the VM is at
        its cap can abort the process, so the collection runs as Lua code with
        the cap lifted.
        """
        self.lift()
        self._gc()
        self.arm()
