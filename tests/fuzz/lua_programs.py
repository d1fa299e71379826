"""Grammar-based generator of hostile Lua scripts, and the sandbox's oracles.

Programs are built from expressions and statements over a vocabulary of the
things a script must not reach or abuse: environments (getfenv/setfenv),
``debug``, bytecode (``string.dump``, ``\\27Lua``), ``newproxy``, metatables
of shared values (strings, ``redis``, ``_G``), raw access to protected tables,
coroutines, loaders, ``io``/``os``/``python``, the garbage collector, and
resource exhaustion (huge strings, unpack ranges, formats, pattern bombs,
big tables, deep recursion).  ``@FILE@`` stands for a path the oracle watches.
"""

from __future__ import annotations

import random
import re
from typing import Final

FILE_MARK: Final = "@FILE@"

ATOMS: Final = (
    "nil", "true", "false", "0", "1", "-1", "2^31", "2^31-1", "2^53", "-2^63", "1e308", "0/0",
    "1/0", "'x'", "''", "'\\27Lua'", "'\\0'", "'%d'", "'" + FILE_MARK + "'", "KEYS", "ARGV",
    "{}", "{1,2,3}", "_G", "redis", "string", "table", "math", "coroutine", "os", "cjson",
    "cmsgpack", "bit", "struct", "...", "KEYS[1]", "ARGV[1]",
)

# Dangerous expressions; {e} holes are filled with generated expressions.
DANGER: Final = (
    "getfenv({e})", "getfenv(0)", "getfenv(1)", "setfenv(1, {e})", "setfenv({e}, {e})",
    "debug", "debug.getinfo(1)", "debug.getregistry()", "debug.sethook()",
    "debug.getupvalue(redis.call, 1)", "debug.setmetatable('', {e})",
    "load({e})", "load(function() return {e} end)", "loadstring({e})",
    "loadstring('\\27Lua\\81\\0\\1\\4\\8\\4\\8\\0')", "loadstring(string.dump(function() return 1 end))",
    "string.dump({e})", "string.dump(function() return {e} end)", "newproxy(true)", "newproxy({e})",
    "getmetatable('')", "getmetatable('').__index", "getmetatable(_G)", "getmetatable(redis)",
    "getmetatable(redis.call)", "getmetatable({e})", "setmetatable({e}, {e})",
    "setmetatable(_G, nil)", "setmetatable({}, {__index = _G})",
    "setmetatable({}, {__gc = function() return {e} end})",
    "rawset(_G, 'x', {e})", "rawset({e}, {e}, {e})", "rawget(_G, 'redis')", "rawget({e}, {e})",
    "rawset(getmetatable(''), '__index', {e})", "rawset(string, 'rep', nil)", "rawequal({e}, {e})",
    "coroutine.create(function() return {e} end)", "coroutine.wrap(function() return {e} end)()",
    "coroutine.resume(coroutine.create(function() coroutine.yield({e}) end))",
    "coroutine.running()", "module('x')", "require('os')", "require({e})", "package",
    "io.open('" + FILE_MARK + "', 'w')", "io.write({e})", "io.popen('id')", "os.execute('touch "
    + FILE_MARK + "')", "os.remove('" + FILE_MARK + "')", "os.rename('" + FILE_MARK + "', 'x')",
    "os.exit(1)", "os.getenv('HOME')", "os.clock()", "os.time()", "python", "python.eval('1')",
    "python.builtins", "python.import_module('os')", "dofile('/etc/passwd')", "loadfile('/etc/passwd')",
    "collectgarbage()", "collectgarbage('count')", "collectgarbage('stop')",
    "collectgarbage('step', 100000)", "collectgarbage('setpause', 1)",
    "string.rep('x', 1e9)", "string.rep('x', 2^31)", "string.rep({e}, {e})", "('x'):rep(2^24)",
    "unpack({}, 1, 1e8)", "unpack({1}, -2^31, 2^31-1)", "unpack({e}, {e}, {e})",
    "string.format('%999999d', 1)", "string.format('%99d', {e})", "string.format({e}, {e})",
    "string.format('%s', setmetatable({}, {__tostring = function() return {e} end}))",
    "string.rep('a', 5000):find('.-.-.-.-b')", "string.rep('a', 40):match(string.rep('a?', 40)"
    " .. string.rep('a', 40))", "string.gsub(string.rep('a', 1e5), 'a', {e})",
    "string.find(string.rep('a', 1e4), string.rep('a*', 50) .. 'b')",
    "table.concat({e}, {e})", "table.sort({3, 1, 2}, function(a, b) return {e} end)",
    "tostring({e})", "tonumber({e}, {e})", "select('#', {e})", "select(-1, {e})",
    "(function() local t = {} for i = 1, 1e7 do t[i] = i end return #t end)()",
    "(function() local t = {} for i = 1, 1e6 do t[i] = {i} end return #t end)()",
    "(function() local function r(n) return r(n + 1) + 1 end return r(1) end)()",
    "(function() local s = 'x' for i = 1, 40 do s = s .. s end return #s end)()",
    "redis.call({e})", "redis.pcall({e}, {e})", "redis.call('set', 'k', {e})", "redis.call('get', 'k')",
    "redis.call('eval', 'return 1', 0)", "redis.setresp({e})", "redis.set_repl({e})",
    "redis.sha1hex({e})", "redis.error_reply({e})", "redis.status_reply({e})",
    "cjson.decode({e})", "cjson.decode(string.rep('[', 1e5))", "cjson.encode({e})",
    "cmsgpack.unpack({e})", "cmsgpack.pack({e})", "struct.unpack({e}, {e})", "bit.tohex({e})",
    "error({e})", "error(setmetatable({}, {__tostring = function() return {e} end}))",
    "assert({e}, {e})", "pcall({e})", "xpcall(function() return {e} end, function(m) return {e} end)",
)

LVALUES: Final = (
    "x", "_G.x", "_G", "redis.call", "string.rep", "getmetatable('').__index",
    "getmetatable('').__index.upper", "getmetatable(_G).__index", "getmetatable(_G).__newindex",
    "math.random", "cjson.encode", "KEYS[1]", "ARGV", "os", "string", "python", "_G._G",
)

OPS: Final = ("+", "-", "*", "/", "%", "^", "..", "==", "~=", "<", "and", "or")


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.locals = 0

    def expr(self, d: int) -> str:
        r = self.rng
        k = r.random()
        if d <= 0 or k < 0.25:
            return r.choice(ATOMS)
        if k < 0.6:
            return self.fill(r.choice(DANGER), d - 1)
        if k < 0.7:
            return f"({self.expr(d - 1)} {r.choice(OPS)} {self.expr(d - 1)})"
        if k < 0.78:
            return f"{self.expr(d - 1)}[{self.expr(d - 1)}]"
        if k < 0.85:
            return f"{{{self.expr(d - 1)}, {self.expr(d - 1)}, k = {self.expr(d - 1)}}}"
        if k < 0.92:
            return f"select(2, pcall(function() return {self.expr(d - 1)} end))"
        return f"(function(...) {self.block(d - 1)} end)({self.expr(d - 1)})"

    def fill(self, template: str, d: int) -> str:
        while "{e}" in template:
            template = template.replace("{e}", self.expr(d), 1)
        return template

    def stmt(self, d: int) -> str:
        r = self.rng
        k = r.random()
        if k < 0.25:
            self.locals += 1
            return f"local v{self.locals} = {self.expr(d)}"
        if k < 0.4:
            return f"{r.choice(LVALUES)} = {self.expr(d)}"
        if k < 0.6:
            return f"pcall(function() {self.block(d - 1)} end)"
        if k < 0.68:
            return f"for i = 1, {r.choice(('3', '1e3', '1e6', '1e9'))} do {self.block(d - 1)} end"
        if k < 0.72:
            return f"while {self.expr(d - 1)} do {self.block(d - 1)} break end"
        if k < 0.8:
            return f"if {self.expr(d - 1)} then {self.block(d - 1)} else {self.block(d - 1)} end"
        if k < 0.92:
            return f"local _ = {self.expr(d)}"
        return f"do return {self.expr(d)} end"

    def block(self, d: int) -> str:
        if d <= 0:
            return ""
        return " ".join(self.stmt(d) for _ in range(self.rng.randint(1, 3)))


def program(rng: random.Random) -> str:
    g = Gen(rng)
    body = g.block(rng.randint(1, 4))
    if rng.random() < 0.5:
        body += f" return {g.expr(2)}"
    return body


# A fixed script that reads what a script could have changed for the next one:
# globals, library tables and their functions, shared metatables, error texts.
CANARY: Final = r"""
local out = {}
local function add(s) out[#out + 1] = s end
local names = {'redis', 'string', 'table', 'math', 'coroutine', 'os', 'cjson', 'cmsgpack', 'bit',
  'struct', 'pcall', 'xpcall', 'error', 'assert', 'type', 'tostring', 'tonumber', 'select', 'next',
  'pairs', 'ipairs', 'unpack', 'rawget', 'rawset', 'rawequal', 'setmetatable', 'getmetatable',
  'loadstring', 'load', 'gcinfo', 'collectgarbage', 'x', 'v1', 'python', 'debug', 'io', 'getfenv',
  'setfenv', 'newproxy', 'require', 'module', 'dofile', 'loadfile', 'package', 'print'}
for _, n in ipairs(names) do
  local ok, v = pcall(function() return _G[n] end)
  add(n .. '=' .. (ok and type(v) or ('error:' .. tostring(v))))
  if ok and type(v) == 'table' then
    local keys = {}
    for k, f in pairs(v) do keys[#keys + 1] = tostring(k) .. ':' .. type(f) end
    table.sort(keys)
    add(n .. '.{' .. table.concat(keys, ',') .. '}')
  end
end
add('strmt=' .. type(getmetatable('')) .. tostring(getmetatable('').__index == string))
add('gmt=' .. type(getmetatable(_G)))
add('redismt=' .. type(getmetatable(redis)))
add('newglobal=' .. tostring(select(2, pcall(function() newglobal = 1 end))))
add('rawset=' .. tostring(select(2, pcall(rawset, _G, 'y', 1))))
add('rep=' .. string.rep('ab', 3) .. ('x'):upper() .. string.format('%5.1f', 1.25))
math.randomseed(7)  -- the generator's state is shared by scripts, as in Redis: reseed it
add('random=' .. math.random(1000000) .. ',' .. math.random())
add('set=' .. tostring(redis.call('set', 'canary', 'v')['ok']) .. redis.call('get', 'canary'))
add('json=' .. cjson.encode({1, 2}) .. tostring(cjson.null))
add('tostring=' .. tostring(tostring(nil)))
return table.concat(out, ';')
"""

# A reply or error text that shows Python (a repr of an object, a traceback).
PYTHON_LEAK: Final = re.compile(
    rb"object at 0x|<lupa|_lupa|LuaRuntime|<class '|<function |<built-in|<module '|Traceback|"
    rb"File \"|\.py\"|lupa\.|builtins|__import__"
)
