-- moonkv script environment, built once per Lua runtime.
--
-- Receives the Python bridge functions as arguments; they are kept in locals
-- (upvalues) of the closures below and never stored anywhere a script can
-- reach: scripts see only Lua functions and read-only proxy tables.
-- Returns a table of internal entry points for Python.

local pycall, pypcall, pycall_packed, pypcall_packed, pyitems, pyacl, pyhook, pylog, pysha1, pysetresp, pyroom, libs, max_depth = ...

local type, error, select, tostring, tonumber = type, error, select, tostring, tonumber
local setmetatable, getmetatable, rawget, rawset, rawequal = setmetatable, getmetatable, rawget, rawset, rawequal
local pairs, ipairs, next, unpack = pairs, ipairs, next, unpack
local orig_pcall, orig_xpcall, orig_loadstring, orig_load = pcall, xpcall, loadstring, load
local setfenv, getfenv, collectgarbage, gcinfo = setfenv, getfenv, collectgarbage, gcinfo
local string_format, string_sub, string_byte, string_rep = string.format, string.sub, string.byte, string.rep
local string_gsub, string_find, string_dump = string.gsub, string.find, string.dump
local table_concat, table_insert = table.concat, table.insert
local math_floor, math_huge = math.floor, math.huge
local coroutine_create, coroutine_resume, coroutine_wrap = coroutine.create, coroutine.resume, coroutine.wrap
local coroutine_status, coroutine_yield, coroutine_running = coroutine.status, coroutine.yield, coroutine.running
local dbg = debug

local protected = setmetatable({}, {__mode = "k"})  -- proxy -> true
local READONLY = "Attempt to modify a readonly table"

local function readonly_error() error(READONLY, 2) end

-- A read-only view of t.  Lua 5.1 cannot freeze a table, so scripts get an
-- empty proxy whose reads go to t; rawset/setmetatable are wrapped to refuse
-- proxies (see below), so nothing a script does can change shared state.
local function readonly(t)
  -- __metatable = false: getmetatable(proxy) must not lead to t itself.
  local proxy = setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
  protected[proxy] = true
  return proxy
end

-- State of the running script (one at a time per runtime).
-- aborting: the message of a budget/kill abort in progress; resp: the
-- protocol redis.setresp() chose.  Upvalues, which cost less than fields.
local aborting, resp = nil, 2

local function check_abort()
  local msg = aborting
  if msg then error(msg, 0) end
end

-- Error objects are tables {err='CODE message'}; Redis 7 (Debian 7.0.15)
-- converts them to their text when a script catches them with pcall.
local function unwrap_error(e)
  local t = type(e)
  if t == "table" then
    local m = rawget(e, "err")
    if m ~= nil then return m end
  elseif t == "userdata" then  -- an error raised by redis.call (from Python)
    return tostring(e)
  end
  return e
end

local function pcall_(f, ...)
  local res = {orig_pcall(f, ...)}
  check_abort()  -- a budget/kill abort cannot be caught
  if not res[1] then res[2] = unwrap_error(res[2]) end
  return unpack(res, 1, table.maxn(res))
end

local function xpcall_(f, handler)
  local res = {orig_xpcall(f, function(e)
    if aborting then return e end
    if type(e) == "userdata" then e = tostring(e) end
    return handler(e)
  end)}
  check_abort()
  return unpack(res, 1, table.maxn(res))
end

local function rawset_(t, k, v)
  if protected[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end

local function setmetatable_(t, mt)
  if protected[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end

-- The environment of the code running now: G for EVAL scripts, lib_env for
-- function libraries (set by run() and load_library()).
local chunk_env, lib_env

-- loadstring/load refuse precompiled bytecode (as Redis does), and what they
-- load runs in the script's protected environment, as in Redis, never in
-- this state's real globals (which hold the unwrapped setfenv, rawset, ...).
local function loadstring_(s, name)
  if type(s) == "string" and string_byte(s, 1) == 27 then return nil, "binary chunks are not allowed" end
  local f, err = orig_loadstring(s, name)
  if f then setfenv(f, chunk_env) end
  return f, err
end

local function load_(fn, name)
  local parts = {}
  while true do
    local piece = fn()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  return loadstring_(table_concat(parts), name)
end

local co_resume = function(co, ...)
  local res = {coroutine_resume(co, ...)}
  check_abort()
  if not res[1] then res[2] = unwrap_error(res[2]) end
  return unpack(res, 1, table.maxn(res))
end

local co_wrap = function(f)
  local co = coroutine_create(f)
  return function(...)
    local res = {coroutine_resume(co, ...)}
    check_abort()
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, table.maxn(res))
  end
end

-- redis.call / redis.pcall ------------------------------------------------
-- Python cannot be called with more than ~7990 arguments from Lua (lupa's
-- C stack use), while Redis allows up to Lua's 8000-slot limit
-- (redis.call('sadd', k, unpack(members)) with 7999 members): beyond a
-- threshold the arguments travel packed in one table.
-- Python returns most replies as one value.  The {ok=...} table of a status
-- reply and the table of a short array reply are built here, which costs far
-- less than building them through lupa: a status comes as (text, 1), an array
-- of strings and integers as (nil, 2), its items then from pyitems() (a call
-- without arguments is lupa's cheapest).
-- Not from inside a coroutine: lupa then re-enters the interpreter on the main
-- thread's state while that thread is suspended in resume, and the fuzzer
-- (docs/fuzzing.md) found that this corrupts the Lua heap (a later script
-- crashed the process). Redis allows it; moonkv refuses it with an error the
-- script can catch (docs/compatibility.md).
local IN_COROUTINE = "redis.call and redis.pcall cannot be used inside a coroutine"
-- A call into Python must not meet the memory cap: lupa turns its
-- arguments into Python objects and its result or error into Lua values
-- where Lua cannot fail to allocate without taking the process down
-- (LuaRuntime.fits). So before calling Python, a heap past room_at (KB as
-- gcinfo() counts, set
-- with the cap) asks Python to make room (pyroom: collect, with the cap
-- lifted); pyroom answers true when there is still none, and the run is
-- aborted as out of memory (at a run's end, pyroom(true) only collects, and
-- the next run's arguments are checked in Python), as when Python answers status 3 (or nil where it
-- returns one value) for a large value that does not fit. Like a kill, the
-- abort cannot be caught.
local OOM = "not enough memory"
local room_at = math_huge
local function out_of_memory()
  aborting = OOM
  error(OOM, 0)
end
local function make_room()
  if gcinfo() > room_at and pyroom() then out_of_memory() end
end
local PACK_ABOVE = 7000
local function caller(py, py_packed)
  return function(...)
    if coroutine_running() then error(IN_COROUTINE, 2) end
    if gcinfo() > room_at and pyroom() then out_of_memory() end
    local r, status
    if select("#", ...) > PACK_ABOVE then
      r, status = py_packed({...}, select("#", ...))
    else
      r, status = py(...)
    end
    if not status then return r end
    if status == 1 then return {ok = r} end
    if status == 2 then return {pyitems()} end
    out_of_memory()
  end
end
local call_ = caller(pycall, pycall_packed)
local pcall_raw = caller(pypcall, pypcall_packed)

local redis = {}
redis.call = call_
redis.pcall = pcall_raw
do
  -- Python callables are lupa userdata sharing one metatable: hide it.
  local mt = getmetatable(pycall)
  if type(mt) == "table" then rawset(mt, "__metatable", false) end
end
redis.error_reply = function(msg)
  if type(msg) ~= "string" then error("wrong number or type of arguments", 0) end
  -- As Redis: "-CODE message" keeps its code; a text without one gets ERR.
  if string_sub(msg, 1, 1) == "-" then msg = string_sub(msg, 0) end
  if not string_find(msg, " ", 1, true) then msg = "ERR " .. msg end
  msg = string_gsub(msg, "[\r\n]+$", "")
  return {err = msg}
end
redis.status_reply = function(msg)
  if type(msg) ~= "string" then error("wrong number or type of arguments", 0) end
  return {ok = msg}
end
redis.sha1hex = function(...)
  if select("#", ...) ~= 1 then error("wrong number of arguments", 0) end
  local s = ...
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then s = "" end
  make_room()
  return pysha1(s)
end
redis.log = function(...)
  local n = select("#", ...)
  if n < 2 then error("redis.log() requires two arguments or more.", 0) end
  local level = ...
  if type(level) ~= "number" then error("First argument must be a number (log level).", 0) end
  if level < 0 or level > 3 then error("Invalid debug level.", 0) end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if type(v) == "string" or type(v) == "number" then parts[#parts + 1] = tostring(v) end
  end
  pylog(level, table_concat(parts, " "))
end
redis.setresp = function(...)
  if select("#", ...) ~= 1 then error("redis.setresp() requires one argument.", 0) end
  local v = tonumber((...))
  if v ~= 2 and v ~= 3 then error("RESP version must be 2 or 3.", 0) end
  resp = v
  pysetresp(v)
end
redis.set_repl = function(...)
  if select("#", ...) ~= 1 then error("redis.set_repl() requires one argument.", 0) end
  local v = ...
  if type(v) ~= "number" or v < 0 or v > 3 or v ~= math_floor(v) then
    error("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", 0)
  end
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = function(...)
  make_room()
  return pyacl(...)
end
redis.setresp_get = nil
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3

-- math.random: Redis's rand48, so seeded sequences match Redis exactly.
local rx0, rx1, rx2 = 0x330E, 0xABCD, 0x1234
local function low16(v) return v % 65536 end
local function rand48_next()
  local a0, a1, a2, c = 0xE66D, 0xDEEC, 0x5, 0xB
  local p = a0 * rx0
  local p0, p1 = low16(p), math_floor(p / 65536) % 65536
  local t = p0 + c
  local carry0 = t > 65535 and 1 or 0
  p0 = low16(t)
  t = p1 + carry0
  local carry1 = t > 65535 and 1 or 0
  p1 = low16(t)
  local q = a0 * rx1
  local q0, q1 = low16(q), math_floor(q / 65536) % 65536
  t = p1 + q0
  carry0 = t > 65535 and 1 or 0
  p1 = low16(t)
  local r = a1 * rx0
  local r0, r1 = low16(r), math_floor(r / 65536) % 65536
  local carry2 = (p1 + r0) > 65535 and 1 or 0
  local nx2 = low16(carry0 + carry1 + carry2 + q1 + r1 + a0 * rx2 + a1 * rx1 + a2 * rx0)
  local nx1 = low16(p1 + r0)
  rx0, rx1, rx2 = p0, nx1, nx2
  return nx2 * 32768 + math_floor(nx1 / 2)
end
local LRAND48_MAX = 2147483647
local mathlib = {}
for k, v in pairs(math) do mathlib[k] = v end
mathlib.random = function(...)
  local r = (rand48_next() % LRAND48_MAX) / LRAND48_MAX
  local n = select("#", ...)
  if n == 0 then return r end
  if n == 1 then
    local u = math_floor(tonumber((...)) or error("bad argument #1 to 'random' (number expected)", 0))
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 0) end
    return math_floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l, u = math_floor(tonumber(l)), math_floor(tonumber(u))
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 0) end
    return math_floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 0)
end
mathlib.randomseed = function(seed)
  local s = math_floor(tonumber(seed) or error("bad argument #1 to 'randomseed' (number expected)", 0))
  s = s % 4294967296
  rx0, rx1, rx2 = 0x330E, low16(s), math_floor(s / 65536) % 65536
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- collectgarbage: as in Redis, a script may stop the collector or tune it,
-- but only for itself: run() puts the runtime's settings back after a script
-- that changed them (in Redis they carry over to later scripts, and a
-- stopped collector fills the heap up to the memory cap).
local GC_PAUSE = collectgarbage("setpause", 200)
collectgarbage("setpause", GC_PAUSE)
local GC_STEPMUL = collectgarbage("setstepmul", 200)
collectgarbage("setstepmul", GC_STEPMUL)
local GC_CHANGES = {stop = true, restart = true, setpause = true, setstepmul = true}
local gc_changed = false
local function collectgarbage_(opt, arg)
  if GC_CHANGES[opt] then gc_changed = true end
  return collectgarbage(opt, arg)
end
local function gc_reset()
  gc_changed = false
  collectgarbage("setpause", GC_PAUSE)
  collectgarbage("setstepmul", GC_STEPMUL)
  collectgarbage("restart")
end

-- unpack: Lua 5.1's C unpack overflows (and crashes) on huge ranges such as
-- unpack(t, -2, 2^31-1); check the count first, as Redis's patched Lua does.
local MAX_UNPACK = 7999 + 100
local function unpack_(t, i, j)
  i = i == nil and 1 or math_floor(tonumber(i) or error("bad argument #2 to 'unpack' (number expected)", 0))
  if j == nil then
    if type(t) ~= "table" then error("bad argument #1 to 'unpack' (table expected, got " .. type(t) .. ")", 0) end
    j = #t
  else
    j = math_floor(tonumber(j) or error("bad argument #3 to 'unpack' (number expected)", 0))
  end
  if i > j then return end
  if j - i >= MAX_UNPACK then error("too many results to unpack", 0) end
  -- Fewer arguments leave more of the C stack (8000 slots) for the results.
  if i == 1 and j == #t then return unpack(t) end
  return unpack(t, i, j)
end

-- Lua patterns backtrack inside C, where the budget hook cannot stop them.
-- Refuse the combinations that explode (several wildcard repetitions such as
-- ".-.-.-b" over a long subject: cost grows as length^(repetitions+1));
-- everything Redis scripts normally do stays allowed.
-- Runs of one single-character class repeated with quantifiers ("a?a?a?",
-- "a*a*a*b", "%s*%s*"): a run of r items over n characters can backtrack
-- through C(n + r, r) splits (2^r if every quantifier is "?"), even on short
-- subjects.  The lengths of a pattern's runs of 2 or more (negative: "?" only)
-- are cached by pattern; most patterns have none.
local run_cache, run_cache_size = {}, 0
local function quantified_runs(p)
  local runs = run_cache[p]
  if runs then return runs end
  runs = {}
  local i, len, prev, run, optional = 1, #p, nil, 0, true
  while i <= len do
    local c, item = string.sub(p, i, i), nil
    if c == "%" then
      local k = string.sub(p, i + 1, i + 1)
      if k == "b" then i = i + 4
      elseif k == "f" then i = i + 2
      else item = string.sub(p, i, i + 1); i = i + 2 end
    elseif c == "[" then
      local j = i + 1
      if string.sub(p, j, j) == "^" then j = j + 1 end
      if string.sub(p, j, j) == "]" then j = j + 1 end
      while j <= len and string.sub(p, j, j) ~= "]" do
        if string.sub(p, j, j) == "%" then j = j + 1 end
        j = j + 1
      end
      item = string.sub(p, i, j); i = j + 1
    elseif c == "(" or c == ")" then
      i = i + 1  -- captures consume nothing: "(a*)(a*)" is still one run
    else
      item = c; i = i + 1
    end
    if item then
      local q = string.sub(p, i, i)
      if q == "*" or q == "+" or q == "-" or q == "?" then
        i = i + 1
        if item == prev then
          run, optional = run + 1, optional and q == "?"
        else
          if run >= 2 then runs[#runs + 1] = optional and -run or run end
          prev, run, optional = item, 1, q == "?"
        end
      else
        if run >= 2 then runs[#runs + 1] = optional and -run or run end
        prev, run = nil, 0
      end
    end
  end
  if run >= 2 then runs[#runs + 1] = optional and -run or run end
  if run_cache_size >= 1000 then run_cache, run_cache_size = {}, 0 end
  run_cache[p], run_cache_size = runs, run_cache_size + 1
  return runs
end

local function pattern_cost_ok(s, p)
  if type(s) ~= "string" or type(p) ~= "string" then return true end
  local runs = quantified_runs(p)
  if runs[1] then
    local n, cost = #s, #s + 1
    for _, r in ipairs(runs) do
      local splits = 1
      for j = 1, math.abs(r) do splits = splits * (n + j) / j end
      cost = cost * (r < 0 and math.min(splits, 2 ^ -r) or splits)
    end
    if cost > 1e9 then return false end
  end
  if #s < 256 then return true end
  local reps = 0
  for _ in string.gmatch(string.gsub(p, "%%.", ""), "%.[%*%-%+]") do reps = reps + 1 end
  if reps < 2 then return true end
  return (#s) ^ (reps + 1) <= 1e13
end
local function guard_pattern(name, fn)
  return function(s, p, ...)
    if not pattern_cost_ok(s, p) then
      error("pattern too complex for string." .. name .. " on a string of " .. #s .. " bytes", 2)
    end
    return fn(s, p, ...)
  end
end

local strlib = copy(string)
for _, name in ipairs({"find", "match", "gmatch", "gsub"}) do
  strlib[name] = guard_pattern(name, string[name])
end
local tablib = copy(table)
local corolib = {create = coroutine_create, resume = co_resume, wrap = co_wrap, status = coroutine_status,
                 yield = coroutine_yield, running = coroutine_running}
local oslib = {clock = os.clock}

-- Global environment shared by all scripts of this runtime (read-only).
local base = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall_,
  xpcall = xpcall_, rawequal = rawequal, rawget = rawget, rawset = rawset_, select = select,
  setmetatable = setmetatable_, getmetatable = getmetatable, tonumber = tonumber, tostring = tostring,
  type = type, unpack = unpack_, gcinfo = gcinfo, collectgarbage = collectgarbage_,
  loadstring = loadstring_, load = load_, _VERSION = _VERSION,
  string = readonly(strlib), table = readonly(tablib), math = readonly(mathlib),
  coroutine = readonly(corolib), os = readonly(oslib), redis = nil,
}
for name, lib in pairs(libs) do base[name] = readonly(lib) end
local redis_ro = readonly(redis)
base.redis = redis_ro

-- Globals: a script's reads go from its (empty) environment table G to
-- base through a table __index, which the VM follows without calling Lua
-- code; only a name base lacks reaches the function that raises Redis's
-- error.  Scripts never see base itself: getmetatable(_G) answers a
-- read-only stand-in whose __index is that function, as Redis's is one.
local function missing_global(_, k)
  if k ~= "KEYS" and k ~= "ARGV" then
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
end
setmetatable(base, {__index = missing_global})
local globals_mt = {__index = base, __newindex = readonly_error}
local G = setmetatable({}, globals_mt)
chunk_env = G
globals_mt.__metatable = readonly({__index = missing_global})  -- what Redis shows
protected[G] = true
base._G = G

-- Strings' shared metatable: reads work ('x'):upper(), writes are refused.
local string_mt = getmetatable("")
string_mt.__index = strlib
string_mt.__metatable = setmetatable({}, {__index = {__index = base.string}, __newindex = readonly_error})
protected[string_mt.__metatable] = true

-- Budget hook: every `count` VM instructions ask Python whether to stop.
local function hook()
  local msg = aborting
  if msg == nil then
    msg = pyhook()
    if msg == nil then return end
    aborting = msg
  end
  error(msg, 0)
end

-- Error handler: adds where the error happened, like Redis's __redis__err__handler.
local PRELUDE_SOURCE = dbg.getinfo(1, "S").source
local LIBS_SOURCE = {}
for _, lib in pairs(libs) do
  for _, f in pairs(lib) do
    if type(f) == "function" then
      local info = dbg.getinfo(f, "S")
      if info then LIBS_SOURCE[info.source] = true end
    end
  end
end
local function err_handler(err)
  -- Report the script's own frame: skip C functions, the placeholders of
  -- tail calls, and moonkv's Lua wrappers and libraries (which stand where
  -- Redis has C code).
  local i
  for level = 2, 40 do
    i = dbg.getinfo(level, "nSl")
    if i == nil then break end
    if i.what ~= "C" and i.what ~= "tail" and i.source ~= PRELUDE_SOURCE and not LIBS_SOURCE[i.source] then break end
  end
  local t = type(err)
  if t == "userdata" then
    -- redis.call failed: the text is Redis's, already counted in the stats.
    err = {err = tostring(err), ignore_stats = true}
  elseif t ~= "table" then
    err = {err = "ERR " .. tostring(err)}
  end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

-- Script return value -> RESP bytes (client_resp: the caller's protocol).
local function to_resp(v, client_resp, out, depth)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = "$" .. #v .. "\r\n" .. v .. "\r\n"
  elseif t == "number" then
    local n = v >= 0 and math_floor(v) or -math_floor(-v)
    if n ~= n or n >= 9223372036854775807 or n < -9223372036854775807 then
      out[#out + 1] = ":-9223372036854775808\r\n"
    else
      out[#out + 1] = string_format(":%.0f\r\n", n)
    end
  elseif t == "boolean" then
    if resp == 2 then
      if v then out[#out + 1] = ":1\r\n"
      else out[#out + 1] = client_resp == 3 and "_\r\n" or "$-1\r\n" end
    else
      if client_resp == 3 then out[#out + 1] = v and "#t\r\n" or "#f\r\n"
      else out[#out + 1] = v and ":1\r\n" or ":0\r\n" end
    end
  elseif t == "table" then
    if depth > max_depth then
      out[#out + 1] = "-ERR reached lua stack limit\r\n"
      return
    end
    local e = rawget(v, "err")
    if type(e) == "string" then
      out[#out + 1] = "-" .. string_gsub(e, "[\r\n]", " ") .. "\r\n"
      return
    end
    local ok = rawget(v, "ok")
    if type(ok) == "string" then
      out[#out + 1] = "+" .. string_gsub(ok, "[\r\n]", " ") .. "\r\n"
      return
    end
    local d = rawget(v, "double")
    if type(d) == "number" then
      local s
      if d ~= d then s = "nan" elseif d == math_huge then s = "inf" elseif d == -math_huge then s = "-inf"
      else s = string_format("%.17g", d) end
      if client_resp == 3 then out[#out + 1] = "," .. s .. "\r\n"
      else out[#out + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n" end
      return
    end
    local bn = rawget(v, "big_number")
    if type(bn) == "string" then
      bn = string_gsub(bn, "[\r\n]", " ")
      if client_resp == 3 then out[#out + 1] = "(" .. bn .. "\r\n"
      else out[#out + 1] = "$" .. #bn .. "\r\n" .. bn .. "\r\n" end
      return
    end
    local vs = rawget(v, "verbatim_string")
    if type(vs) == "table" then
      local fmt, s = rawget(vs, "format"), rawget(vs, "string")
      if type(fmt) == "string" and type(s) == "string" then
        if client_resp == 3 then
          out[#out + 1] = "=" .. (#s + 4) .. "\r\n" .. fmt .. ":" .. s .. "\r\n"
        else
          out[#out + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n"
        end
        return
      end
    end
    local m = rawget(v, "map")
    if type(m) == "table" then
      local parts, n = {}, 0
      for k, val in next, m do
        n = n + 1
        to_resp(k, client_resp, parts, depth + 1)
        to_resp(val, client_resp, parts, depth + 1)
      end
      out[#out + 1] = (client_resp == 3 and "%" .. n or "*" .. (2 * n)) .. "\r\n"
      out[#out + 1] = table_concat(parts)
      return
    end
    local s = rawget(v, "set")
    if type(s) == "table" then
      local parts, n = {}, 0
      for k, _ in next, s do
        n = n + 1
        to_resp(k, client_resp, parts, depth + 1)
      end
      out[#out + 1] = (client_resp == 3 and "~" or "*") .. n .. "\r\n"
      out[#out + 1] = table_concat(parts)
      return
    end
    local parts, n = {}, 0
    while true do
      local item = rawget(v, n + 1)
      if item == nil then break end
      n = n + 1
      out[#out + 1] = nil
      to_resp(item, client_resp, parts, depth + 1)
    end
    out[#out + 1] = "*" .. n .. "\r\n"
    out[#out + 1] = table_concat(parts)
  else
    out[#out + 1] = client_resp == 3 and "_\r\n" or "$-1\r\n"
  end
end

-- A script's outcome, for Python (ScriptEngine.run):
--   s                           it returned a string (a bulk reply)
--   n                           it returned a number that fits (an integer reply)
--   nothing                     it returned nil (a null reply)
--   4, s                        it returned {ok=s} (a status reply)
--   true, resp_bytes            any other value, already encoded
--   "reply", error_text, nostats  it returned an error table (its writes stand)
--   false, err                  it failed: Python rolls back, then asks fail() for the text
-- The common replies travel as plain values: encoding them here would cost
-- more Lua work (string.format, concatenation) than Python's encoder does,
-- and one value crosses to Python more cheaply than two (no tuple).
-- run() returns the first three itself; outcome() is the rest.
-- A failure's error object stays here until fail() reads it: a table handed
-- to Python becomes a registry reference, an allocation outside the
-- protected call (see LuaRuntime.room).
local failed
local function outcome(ok, res, client_resp)
  if not ok then
    aborting = nil  -- from here on the budget hook must not raise again
    failed = res
    if type(res) == "string" then return false, res end
    return false, nil  -- two values: Python reads r[1]
  end
  if type(res) == "table" then
    local e = rawget(res, "err")
    if type(e) == "string" then
      return "reply", (string_gsub(e, "[\r\n]", " ")), rawget(res, "ignore_stats") and true or false
    end
    local s = rawget(res, "ok")
    if type(s) == "string" then return 4, s end
  end
  local out = {}
  to_resp(res, client_resp, out, 1)
  return true, table_concat(out)
end

-- The text of a failed script's error (and whether it is already counted in
-- the error stats: a redis.call error is counted where it arose).
local function fail(funcname, text)
  local res = text or failed
  failed = nil
  local msg, nostats = res, false
  if type(res) == "table" then
    nostats = rawget(res, "ignore_stats") and true or false
    msg = tostring(rawget(res, "err") or "execution failure")
    local line, source = rawget(res, "line"), rawget(res, "source")
    if line and source then
      msg = msg .. " script: " .. funcname .. ", on " .. source .. ":" .. line .. "."
    end
  else
    msg = tostring(res)
  end
  return (string_gsub(msg, "[\r\n]", " ")), nostats
end

-- Runs a compiled script: an EVAL script (as_function false: KEYS and ARGV are
-- globals, as in Redis) or an FCALL function (it receives KEYS and ARGV as
-- arguments).  KEYS and ARGV are fresh tables each run: a script may change
-- them.  The common outcomes are returned here rather than through outcome()
-- (a Lua call costs about as much as the rest of a short run).
local function run(fn, as_function, client_resp, nkeys, ...)
  local keys, argv = {...}, {}
  local n = #keys  -- the arguments are strings: no holes
  if nkeys < n then
    for i = nkeys + 1, n do
      argv[i - nkeys] = keys[i]
      keys[i] = nil
    end
  end
  aborting, resp = nil, 2
  local ok, res
  if as_function then
    chunk_env = lib_env
    ok, res = orig_xpcall(function() return fn(keys, argv) end, err_handler)
  else
    chunk_env = G
    base.KEYS, base.ARGV = keys, argv
    ok, res = orig_xpcall(fn, err_handler)
  end
  if gc_changed then gc_reset() end
  -- Leave room for the next call's arguments, or tell Python there is none
  -- (this run's arguments are garbage from here on).
  if gcinfo() > room_at then
    base.KEYS, base.ARGV = nil, nil
    pyroom(true)
  end
  if ok then
    local t = type(res)
    if t == "string" then return res end
    if t == "number" and res == res and res > -1e15 and res < 1e15 then return res end
    if t == "nil" then return end
  end
  return outcome(ok, res, client_resp)
end

local function compile(body, chunkname)
  local fn, err = orig_loadstring(body, chunkname)
  if not fn then return nil, err end
  setfenv(fn, G)
  return fn
end

-- Function libraries (FUNCTION LOAD).  As in Redis 7, while a library's code
-- loads, its globals are only `redis` = the library API (register_function,
-- log, LOG_*, REDIS_VERSION*); when its functions run later, the same globals
-- are the full read-only script environment (where redis has no
-- register_function).  One environment serves all libraries of the runtime.
local loading = false
local current_register = nil
local LIB_API_KEYS = {log = true, LOG_DEBUG = true, LOG_VERBOSE = true, LOG_NOTICE = true,
                      LOG_WARNING = true, REDIS_VERSION = true, REDIS_VERSION_NUM = true}
local function register_function(...)
  if current_register == nil then
    error("redis.register_function can only be called on FUNCTION LOAD command", 2)
  end
  make_room()
  local err = current_register(...)
  if err then error(err, 0) end  -- Redis reports no position for these
end
local lib_api = setmetatable({}, {
  __index = function(_, k)
    if k == "register_function" then return register_function end
    if LIB_API_KEYS[k] then return redis[k] end
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = readonly_error,
  __metatable = false,
})
protected[lib_api] = true
lib_env = setmetatable({}, {
  __index = function(_, k)
    if loading then
      if k == "redis" then return lib_api end
    else
      local v = rawget(base, k)
      if v ~= nil then return v end
    end
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = readonly_error,
  __metatable = false,
})
protected[lib_env] = true

local function load_library(body, register)
  local fn, err = orig_loadstring(body, "@user_function")
  if not fn then return false, "\0compile:" .. err end
  setfenv(fn, lib_env)
  chunk_env = lib_env
  loading, current_register = true, register
  aborting = nil  -- an earlier load's timeout must not stop this one
  local ok, e = orig_xpcall(fn, err_handler)
  loading, current_register = false, nil
  if gc_changed then gc_reset() end
  if not ok then
    if type(e) == "table" then e = rawget(e, "err") end
    return false, tostring(e)
  end
  return true
end

local function set_hook(count)
  if count and count > 0 then
    dbg.sethook(hook, "", count)
  else
    dbg.sethook()
  end
end

local function gc()
  collectgarbage("collect")
end

local function mem() return collectgarbage("count") * 1024 end

local function set_room(kb) room_at = kb end

return {
  run = run, fail = fail, compile = compile, load_library = load_library,
  set_hook = set_hook, gc = gc, mem = mem, redis = redis, set_room = set_room,
}
