"""Lua libraries that Redis 7.0 exposes to scripts: cjson, cmsgpack, bit, struct.

They are written in plain Lua 5.1 (the ``*.lua`` files next to this module), so
nothing implemented in Python or C becomes reachable from scripts through them.

Each library chunk is loaded with a private environment holding only the base
functions it captures as locals while loading.  Once loaded, that environment
is emptied and locked, so ``getfenv(cjson.encode)`` exposes nothing and cannot
be used to share state between scripts.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["LIBRARY_NAMES", "install", "lua_source"]

#: Library global name -> Lua source file.
LIBRARY_NAMES: dict[bytes, str] = {
    b"cjson": "cjson.lua",
    b"cmsgpack": "cmsgpack.lua",
    b"bit": "bit.lua",
    b"struct": "struct.lua",
}

# Runs in the runtime's unrestricted globals *before* any sandbox is built.
# Returns a loader: loader(source, chunkname) -> module table.
_BOOTSTRAP = b"""
local loadstring, setfenv, setmetatable, error, tostring, pairs =
    loadstring, setfenv, setmetatable, error, tostring, pairs
local base = {
    assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs,
    newproxy = newproxy, next = next, pairs = pairs, pcall = pcall, rawequal = rawequal,
    rawget = rawget, rawset = rawset, select = select, setmetatable = setmetatable,
    tonumber = tonumber, tostring = tostring, type = type, unpack = unpack,
}
local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
end
local function locked_env_error(_, key)
    error("library code must not access global '" .. tostring(key) .. "'", 2)
end
return function(source, chunkname)
    local fn, err = loadstring(source, chunkname)
    if not fn then
        error(err, 0)
    end
    local env = copy(base)
    env.string = copy(string)
    env.table = copy(table)
    env.math = copy(math)
    setfenv(fn, env)
    local module = fn()
    for k in pairs(env) do
        env[k] = nil
    end
    setmetatable(env, {
        __index = locked_env_error,
        __newindex = locked_env_error,
        __metatable = false,
    })
    return module
end
"""


def lua_source(filename: str) -> bytes:
    """Return the Lua source of one of the bundled library files."""
    return resources.files(__name__).joinpath(filename).read_bytes()


def install(runtime: Any) -> dict[bytes, object]:
    """Create the four library tables inside ``runtime``.

    ``runtime`` is a ``lupa.lua51.LuaRuntime`` created with ``encoding=None``.
    Returns ``{b"cjson": tbl, b"cmsgpack": tbl, b"bit": tbl, b"struct": tbl}``;
    the caller decides where the tables become visible to scripts.
    """
    loader = runtime.execute(_BOOTSTRAP)
    tables: dict[bytes, object] = {}
    for name, filename in LIBRARY_NAMES.items():
        chunkname = b"=" + name
        tables[name] = loader(lua_source(filename), chunkname)
    return tables
