-- bit: pure Lua 5.1 re-implementation of LuaBitOp 1.0.2 as bundled with
-- Redis 7.0.  All operations work on 32-bit integers and return signed
-- results, exactly like the C library (numbers are normalised the same way:
-- adding 2^52+2^51 and keeping the low 32 bits of the double).
--
-- Every global used is captured as a local while the chunk loads.

local type, tonumber, error, select = type, tonumber, error, select
local pcall, next = pcall, next
local sformat, ssub, supper = string.format, string.sub, string.upper
local floor, huge, frexp = math.floor, math.huge, math.frexp

local function argerror(fname, narg, msg)
    error(sformat("bad argument #%d to '%s' (%s)", narg, fname, msg), 0)
end

-- Public functions report errors like luaL_error(): prefixed with the
-- position of the calling Lua code.  Internal code raises plain messages
-- (level 0); a message wrapped in a table is re-raised without position.
local function finish(ok, ...)
    if ok then
        return ...
    end
    local e = ...
    if type(e) == "table" then
        error(e[1], 0)
    end
    error(e, 3)
end

local function api(impl)
    return function(...)
        return finish(pcall(impl, ...))
    end
end

-- 8-bit xor table, indexed by a * 256 + b + 1.
local XOR8 = {}
do
    local xor4 = {}
    for a = 0, 15 do
        for b = 0, 15 do
            local r, bitv, x, y = 0, 1, a, b
            for _ = 1, 4 do
                if x % 2 ~= y % 2 then r = r + bitv end
                x, y, bitv = floor(x / 2), floor(y / 2), bitv * 2
            end
            xor4[a * 16 + b] = r
        end
    end
    for a = 0, 255 do
        local ah, al = floor(a / 16) * 16, a % 16 * 16
        for b = 0, 255 do
            XOR8[a * 256 + b + 1] = xor4[ah + floor(b / 16)] * 16 + xor4[al + b % 16]
        end
    end
end

local TWO32 = 4294967296

-- Unsigned 32-bit xor of a, b in [0, 2^32).
local function uxor(a, b)
    local a0, b0 = a % 256, b % 256
    a, b = (a - a0) / 256, (b - b0) / 256
    local a1, b1 = a % 256, b % 256
    a, b = (a - a1) / 256, (b - b1) / 256
    local a2, b2 = a % 256, b % 256
    a, b = (a - a2) / 256, (b - b2) / 256
    return XOR8[a0 * 256 + b0 + 1] + XOR8[a1 * 256 + b1 + 1] * 256
        + XOR8[a2 * 256 + b2 + 1] * 65536 + XOR8[a * 256 + b + 1] * 16777216
end

local function uand(a, b)
    return (a + b - uxor(a, b)) / 2
end

local function uor(a, b)
    return (a + b + uxor(a, b)) / 2
end

-- barg(): argument i (1-based) of a call with nargs arguments, as an
-- unsigned 32-bit integer.
local function barg(fname, i, nargs, v)
    local n = v
    if type(n) ~= "number" then
        n = (type(v) == "string") and tonumber(v) or nil
        if n == nil then
            local got = (i > nargs) and "no value" or type(v)
            argerror(fname, i, "number expected, got " .. got)
        end
    end
    local x = n + 6755399441055744.0  -- 2^52 + 2^51
    if x >= 4503599627370496 and x < 9007199254740992 then  -- 2^52 <= x < 2^53
        return x % TWO32
    end
    if x ~= x or x == huge or x == -huge or x == 0 then
        return 0
    end
    if x < 0 then x = -x end
    local m = frexp(x)
    return (m * 9007199254740992) % TWO32  -- low 32 bits of the significand
end

local function signed(b)
    if b >= 2147483648 then
        return b - TWO32
    end
    return b
end

local M = {}

function M.tobit(...)
    return signed(barg("tobit", 1, select("#", ...), (...)))
end

function M.bnot(...)
    return signed(4294967295 - barg("bnot", 1, select("#", ...), (...)))
end

local function variadic(fname, op)
    return function(...)
        local nargs = select("#", ...)
        local b = barg(fname, 1, nargs, (...))
        for i = nargs, 2, -1 do
            b = op(b, barg(fname, i, nargs, (select(i, ...))))
        end
        return signed(b)
    end
end

M.band = variadic("band", uand)
M.bor = variadic("bor", uor)
M.bxor = variadic("bxor", uxor)

local function shift_args(fname, ...)
    local nargs = select("#", ...)
    local a, n = ...
    local b = barg(fname, 1, nargs, a)
    return b, barg(fname, 2, nargs, n) % 32
end

local POW2 = {}
for i = 0, 32 do POW2[i] = 2 ^ i end

local function ulshift(b, n)
    return (b * POW2[n]) % TWO32
end

local function urshift(b, n)
    return floor(b / POW2[n])
end

function M.lshift(...)
    local b, n = shift_args("lshift", ...)
    return signed(ulshift(b, n))
end

function M.rshift(...)
    local b, n = shift_args("rshift", ...)
    return signed(urshift(b, n))
end

function M.arshift(...)
    local b, n = shift_args("arshift", ...)
    return floor(signed(b) / POW2[n])
end

function M.rol(...)
    local b, n = shift_args("rol", ...)
    if n == 0 then return signed(b) end
    return signed(ulshift(b, n) + urshift(b, 32 - n))
end

function M.ror(...)
    local b, n = shift_args("ror", ...)
    if n == 0 then return signed(b) end
    return signed(urshift(b, n) + ulshift(b, 32 - n))
end

function M.bswap(...)
    local b = barg("bswap", 1, select("#", ...), (...))
    local b0 = b % 256
    local b1 = floor(b / 256) % 256
    local b2 = floor(b / 65536) % 256
    local b3 = floor(b / 16777216)
    return signed(((b0 * 256 + b1) * 256 + b2) * 256 + b3)
end

function M.tohex(...)
    local nargs = select("#", ...)
    local x, w = ...
    local b = barg("tohex", 1, nargs, x)
    local n = 8
    if nargs >= 2 then
        n = signed(barg("tohex", 2, nargs, w))
    end
    local upper = false
    if n < 0 then
        n = -n
        upper = true
    end
    if n > 8 then n = 8 end
    if n >= 2147483648 then
        return ""
    end
    local s = sformat("%08x", b)
    if upper then s = supper(s) end
    return ssub(s, 9 - n)
end

for k, v in next, M do
    if type(v) == "function" then
        M[k] = api(v)
    end
end

return M
