"""Escape attempts: each fails cleanly and the server stays healthy."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import Differ

ATTEMPTS = [
    # The Python bridge.
    ("return python.eval('1+1')", "nonexistent global variable 'python'"),
    ("return python", "nonexistent global variable 'python'"),
    ("return redis.call.__class__", None),
    ("return getmetatable(redis.call)", "ok"),
    ("local mt = getmetatable(redis.call); mt.__index = function() return 1 end", None),
    # os, io, loaders, debug.
    ("return os.execute('id')", None),
    ("return os.getenv('HOME')", None),
    ("return io.open('/etc/passwd')", "nonexistent global variable 'io'"),
    ("return dofile('/etc/passwd')", "nonexistent global variable 'dofile'"),
    ("return loadfile('/etc/passwd')", "nonexistent global variable 'loadfile'"),
    ("return require('os')", "nonexistent global variable 'require'"),
    ("return package.loaded", "nonexistent global variable 'package'"),
    ("return module('x')", "nonexistent global variable 'module'"),
    ("return debug.getregistry()", "nonexistent global variable 'debug'"),
    ("return newproxy(true)", "nonexistent global variable 'newproxy'"),
    # Bytecode.
    ("return loadstring(string.dump(function() return 1 end))()", "attempt to call a nil value"),
    (
        "local done = false; return load(function() if done then return nil end done = true "
        "return string.dump(function() return 1 end) end)()",
        "attempt to call",
    ),
    ("local f = loadstring('\\27Lua'); return f == nil", "ok"),
    # Environments and protected tables.
    ("return getfenv(1)", "nonexistent global variable 'getfenv'"),
    ("setfenv(1, {})", "nonexistent global variable 'setfenv'"),
    ("_G.x = 1", "readonly"),
    ("rawset(_G, 'x', 1)", "readonly"),
    ("rawset(redis, 'call', tostring)", "readonly"),
    ("rawset(string, 'rep', nil)", "readonly"),
    ("setmetatable(_G, nil)", "readonly"),
    # loadstring's chunks get the protected globals, never the real ones
    # (where setfenv, getfenv and the unwrapped rawset/setmetatable live).
    ("loadstring('rawset(redis, \"call\", tostring)')()", "readonly"),
    ("loadstring('setmetatable(string, nil)')()", "readonly"),
    ("return loadstring('return getfenv(0)')()", "nonexistent global variable 'getfenv'"),
    ("loadstring('z = 1')()", "readonly"),
    ("local done = false; load(function() if done then return nil end done = true "
     "return 'rawset(_G, 1, 1)' end)()", "readonly"),
    ("getmetatable('').__index = {}", "readonly"),
    ("getmetatable('').__index.upper = nil", "readonly"),
    ("local mt = getmetatable(_G); rawset(mt, '__index', {})", "readonly"),
    # The globals' shared table sits behind a table __index: never reachable.
    ("getmetatable(_G).__index = {}", "readonly"),
    ("getmetatable(_G).__index.redis = {}", "attempt to index"),
    ("local f = getmetatable(_G).__index; return f(_G, 'redis')", None),
    ("string.rep = nil", "readonly"),
    ("cjson.encode = nil", "readonly"),
    ("math.random = nil", "readonly"),
    # Coroutines and error objects.
    ("local co = coroutine.create(function() return os end); return coroutine.resume(co)", None),
    ("local function f() coroutine.wrap(f)() end f()", "C stack overflow"),
    ("error(setmetatable({}, {__tostring = function() return 'x' end}))", None),
    ("error({})", None),
    ("error({err = 'table error'})", "table error"),
    ("local t = setmetatable({}, {__gc = function() redis.call('set','gc','1') end}) t = nil collectgarbage()", None),
    # Crashers of stock Lua 5.1.
    ("return {unpack({1,2,3}, -2, 2147483647)}", "too many results to unpack"),
    ("return {unpack({1,2,3}, 0, 2147483647)}", "too many results to unpack"),
    ("local a = {} ; for i = 1, 400 do a = {a} end; return a", None),
    ("local function r() r() end r()", "stack overflow"),
    ("return string.rep('x', 2^40)", None),
    ("return ('x'):rep(1e9)", None),
    ("local s = string.rep('a', 5000); return s:find('.-.-.-.-b')", "pattern too complex"),
]


@pytest.mark.parametrize("code,expect", ATTEMPTS)
def test_escape_attempt_fails_cleanly(r: redis.Redis, code: str, expect: str | None) -> None:
    try:
        res = r.eval(code, 0)
        outcome = "ok"
        text = repr(res)
    except redis.ResponseError as e:
        outcome = "error"
        text = str(e)
    if expect == "ok":
        assert outcome == "ok", text
    elif expect is not None:
        assert expect in text, text
    # Whatever happened, the server is healthy and the sandbox intact.
    assert r.ping()
    assert r.get("gc") is None
    assert r.eval("return type(redis.call) ~= nil and string.rep('a', 2) .. tostring(os == nil)", 0) == b"aafalse"
    res = r.eval("return {pcall(function() return x end)}", 0)
    assert res[0] is None and b"nonexistent global variable 'x'" in res[1]
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'print'"):
        r.eval("return print", 0)


def test_globals_metatable_looks_like_redis(diff: Differ) -> None:
    diff("EVAL", "return type(getmetatable(_G))", 0)
    diff("EVAL", "return type(getmetatable(_G).__index)", 0)
    diff("EVAL", "return type(getmetatable(_G).__newindex)", 0)
    diff("EVAL", "local ok, e = pcall(function() return nosuch end) return e", 0)


def test_lupa_bridge_is_not_reachable(r: redis.Redis) -> None:
    # Walk every table reachable from the globals: no Python object anywhere
    # except the redis.call/pcall callables, whose metatable is hidden.
    script = """
    local seen, found = {}, {}
    local function walk(t, path, depth)
      if depth > 6 or seen[t] then return end
      seen[t] = true
      for k, v in pairs(t) do
        local tv = type(v)
        if tv == 'userdata' and v ~= cjson.null then found[#found+1] = path .. '.' .. tostring(k) end
        if tv == 'table' then walk(v, path .. '.' .. tostring(k), depth + 1) end
      end
      local mt = getmetatable(t)
      if type(mt) == 'table' then walk(mt, path .. '<mt>', depth + 1) end
    end
    for _, name in ipairs({'redis','string','table','math','cjson','cmsgpack','bit','struct','os','coroutine'}) do
      walk(_G[name], name, 0)
    end
    table.sort(found)
    return found
    """
    assert r.eval(script, 0) == []


def test_memory_limit_aborts_and_rolls_back(r: redis.Redis) -> None:
    r.set("m", "before")
    with pytest.raises(redis.ResponseError, match="memory"):
        r.eval("redis.call('set','m','after'); local t = {} for i = 1, 1e8 do t[i] = {i, i, i, i} end", 0)
    assert r.get("m") == b"before"
    assert r.eval("return #string.rep('y', 1000)", 0) == 1000
