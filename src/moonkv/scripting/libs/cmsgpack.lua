-- cmsgpack: pure Lua 5.1 re-implementation of lua-cmsgpack 0.4.0 as bundled
-- with Redis 7.0 (MessagePack encoder/decoder).  Encodings are chosen exactly
-- like the C library: smallest integer width, float when the number survives
-- a round trip through a C float, array only for tables keyed 1..N.
--
-- Every global used is captured as a local while the chunk loads.

local type, next, rawget, rawset, tostring, tonumber = type, next, rawget, rawset, tostring, tonumber
local pcall = pcall
local error, select = error, select
local sbyte, schar, sformat, ssub = string.byte, string.char, string.format, string.sub
local concat = table.concat
local floor, huge, frexp, ldexp = math.floor, math.huge, math.frexp, math.ldexp

local MAX_NESTING = 16
local MAXCSTACK = 8000
local INT_MAX = 2147483647
local TOO_MANY = "too many return values at once; use unpack_one or unpack_limit instead."

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

-- NaN values with a known sign bit (x86: 0/0 yields the negative quiet NaN).
local NAN_A = 0 / 0
local NAN_B = -NAN_A
local NEG_NAN, POS_NAN
if ssub(tostring(NAN_A), 1, 1) == "-" then
    NEG_NAN, POS_NAN = NAN_A, NAN_B
else
    NEG_NAN, POS_NAN = NAN_B, NAN_A
end

local function nan_is_negative(x)
    return ssub(tostring(x), 1, 1) == "-"
end

local function round_even(v)  -- v >= 0
    local f = floor(v)
    local d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 == 1) then
        return f + 1
    end
    return f
end

-- Value of (double)(float)x.
local function to_float32(x)
    if x ~= x or x == 0 or x == huge or x == -huge then
        return x
    end
    local a = x < 0 and -x or x
    local m, e = frexp(a)
    local r
    if e < -125 then
        r = ldexp(round_even(ldexp(a, 149)), -149)
    else
        r = ldexp(round_even(ldexp(m, 24)), e - 24)
    end
    if r >= 340282366920938463463374607431768211456 then  -- 2^128
        r = huge
    end
    if x < 0 then return -r end
    return r
end

-- Big endian IEEE-754 single precision bytes of a float-representable value.
local function float_bytes(f)
    local sign = 0
    if f ~= f then
        if nan_is_negative(f) then return "\255\192\0\0" end
        return "\127\192\0\0"
    end
    if f < 0 or (f == 0 and 1 / f < 0) then
        sign = 128
        f = -f
    end
    if f == huge then
        return schar(sign + 127, 128, 0, 0)
    elseif f == 0 then
        return schar(sign, 0, 0, 0)
    end
    local m, e = frexp(f)
    local exp = e + 126
    local mant
    if exp <= 0 then
        exp = 0
        mant = ldexp(f, 149)
    else
        mant = (m * 2 - 1) * 8388608
    end
    return schar(sign + floor(exp / 2), (exp % 2) * 128 + floor(mant / 65536),
                 floor(mant / 256) % 256, mant % 256)
end

-- Big endian IEEE-754 double precision bytes.
local function double_bytes(d)
    local sign = 0
    if d ~= d then
        if nan_is_negative(d) then return "\255\248\0\0\0\0\0\0" end
        return "\127\248\0\0\0\0\0\0"
    end
    if d < 0 or (d == 0 and 1 / d < 0) then
        sign = 128
        d = -d
    end
    if d == huge then
        return schar(sign + 127, 240, 0, 0, 0, 0, 0, 0)
    elseif d == 0 then
        return schar(sign, 0, 0, 0, 0, 0, 0, 0)
    end
    local m, e = frexp(d)
    local exp = e + 1022
    local mant
    if exp <= 0 then
        exp = 0
        mant = ldexp(d, 1074)
    else
        mant = (m * 2 - 1) * 4503599627370496
    end
    local hi = floor(mant / 4294967296)
    local lo = mant - hi * 4294967296
    return schar(sign + floor(exp / 16), (exp % 16) * 16 + floor(hi / 65536),
                 floor(hi / 256) % 256, hi % 256,
                 floor(lo / 16777216), floor(lo / 65536) % 256, floor(lo / 256) % 256, lo % 256)
end

local function float_from_bytes(b1, b2, b3, b4)
    local neg = b1 >= 128
    local exp = (b1 % 128) * 2 + floor(b2 / 128)
    local mant = ((b2 % 128) * 256 + b3) * 256 + b4
    local v
    if exp == 255 then
        if mant ~= 0 then
            return neg and NEG_NAN or POS_NAN
        end
        v = huge
    elseif exp == 0 then
        v = ldexp(mant, -149)
    else
        v = ldexp(mant + 8388608, exp - 150)
    end
    if neg then return -v end
    return v
end

local function double_from_bytes(b1, b2, b3, b4, b5, b6, b7, b8)
    local neg = b1 >= 128
    local exp = (b1 % 128) * 16 + floor(b2 / 16)
    local mant = (((b2 % 16) * 256 + b3) * 256 + b4) * 4294967296
        + ((b5 * 256 + b6) * 256 + b7) * 256 + b8
    local v
    if exp == 2047 then
        if mant ~= 0 then
            return neg and NEG_NAN or POS_NAN
        end
        v = huge
    elseif exp == 0 then
        v = ldexp(mant, -1074)
    else
        v = ldexp(mant + 4503599627370496, exp - 1075)
    end
    if neg then return -v end
    return v
end

-- ===== Encoding ===========================================================

local function be16(n)
    return schar(floor(n / 256), n % 256)
end

local function be32(n)
    return schar(floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

-- 64-bit two's complement of an integral double in [-2^63, 2^64).
local function be64(n)
    local hi = floor(n / 4294967296)
    local lo = n - hi * 4294967296
    if hi < 0 then hi = hi + 4294967296 end
    return be32(hi) .. be32(lo)
end

local function encode_int(n)
    if n >= 0 then
        if n <= 127 then
            return schar(n)
        elseif n <= 255 then
            return "\204" .. schar(n)
        elseif n <= 65535 then
            return "\205" .. be16(n)
        elseif n <= 4294967295 then
            return "\206" .. be32(n)
        end
        return "\207" .. be64(n)
    end
    if n >= -32 then
        return schar(n + 256)
    elseif n >= -128 then
        return "\208" .. schar(n + 256)
    elseif n >= -32768 then
        return "\209" .. be16(n + 65536)
    elseif n >= -2147483648 then
        return "\210" .. be32(n + 4294967296)
    end
    return "\211" .. be64(n)
end

local function encode_number(n)
    -- IS_INT64_EQUIVALENT(n): (int64_t)n == n
    if n == n and n >= -9223372036854775808 and n < 9223372036854775808 and floor(n) == n then
        return encode_int(n)
    end
    if to_float32(n) == n then
        return "\202" .. float_bytes(n)
    end
    return "\203" .. double_bytes(n)
end

local function encode_string(s)
    local len = #s
    if len < 32 then
        return schar(160 + len) .. s
    elseif len <= 255 then
        return "\217" .. schar(len) .. s
    elseif len <= 65535 then
        return "\218" .. be16(len) .. s
    end
    return "\219" .. be32(len) .. s
end

local function array_header(len)
    if len <= 15 then
        return schar(144 + len)
    elseif len <= 65535 then
        return "\220" .. be16(len)
    end
    return "\221" .. be32(len)
end

local function map_header(len)
    if len <= 15 then
        return schar(128 + len)
    elseif len <= 65535 then
        return "\222" .. be16(len)
    end
    return "\223" .. be32(len)
end

-- table_is_an_array(): only positive integer (C int) keys, no holes.
local function table_is_array(t)
    local count, max = 0, 0
    local k = next(t)
    while k ~= nil do
        if type(k) ~= "number" or k <= 0 or k > INT_MAX or floor(k) ~= k then
            return false
        end
        if k > max then max = k end
        count = count + 1
        k = next(t, k)
    end
    return max == count, count
end

local encode_value

local function encode_table(t, level, buf, n)
    local is_array, count = table_is_array(t)
    if is_array then
        n = n + 1
        buf[n] = array_header(count)
        for i = 1, count do
            n = encode_value(rawget(t, i), level + 1, buf, n)
        end
        return n
    end
    local len = 0
    local k = next(t)
    while k ~= nil do
        len = len + 1
        k = next(t, k)
    end
    n = n + 1
    buf[n] = map_header(len)
    local v
    k, v = next(t)
    while k ~= nil do
        n = encode_value(k, level + 1, buf, n)
        n = encode_value(v, level + 1, buf, n)
        k, v = next(t, k)
    end
    return n
end

encode_value = function(v, level, buf, n)
    local t = type(v)
    if t == "table" and level == MAX_NESTING then
        t = "nil"
    end
    local s
    if t == "boolean" then
        s = v and "\195" or "\194"
    elseif t == "number" then
        s = encode_number(v)
    elseif t == "string" then
        s = encode_string(v)
    elseif t == "table" then
        return encode_table(v, level, buf, n)
    else
        s = "\192"
    end
    n = n + 1
    buf[n] = s
    return n
end

local function pack(...)
    local nargs = select("#", ...)
    if nargs == 0 then
        argerror("pack", 0, "MessagePack pack needs input.")
    end
    if nargs + nargs > MAXCSTACK then
        argerror("pack", 0, "Too many arguments for MessagePack pack.")
    end
    local args = { ... }
    local buf, n = {}, 0
    for i = 1, nargs do
        n = encode_value(args[i], 0, buf, n)
    end
    return concat(buf, "", 1, n)
end

-- ===== Decoding ===========================================================

-- Decoder state (decoding never runs user code).
local S, LEN, POS = "", 0, 1
local ERR_EOF, ERR_BADFMT = 1, 2

local function stack_check(top, msg)
    if top + 1 > MAXCSTACK then
        error("stack overflow (" .. msg .. ")", 0)
    end
end

local decode_value

-- Returns value, error code (nil on success).  `top` mirrors the C stack
-- usage of the reference implementation (to fail where it fails).
local function decode_array(len, top)
    local t = {}
    stack_check(top + 1, "in function mp_decode_to_lua_array")
    for i = 1, len do
        local v, err = decode_value(top + 2)
        if err then return nil, err end
        t[i] = v
    end
    return t
end

local function decode_map(len, top)
    local t = {}
    for _ = 1, len do
        local k, err = decode_value(top + 1)
        if err then return nil, err end
        local v
        v, err = decode_value(top + 2)
        if err then return nil, err end
        if k == nil then
            error({ "table index is nil" }, 0)
        elseif k ~= k then
            error({ "table index is NaN" }, 0)
        end
        rawset(t, k, v)
    end
    return t
end

local function need(n)
    return LEN - POS + 1 >= n
end

local function u16(p)
    local a, b = sbyte(S, p, p + 1)
    return a * 256 + b
end

local function u32(p)
    local a, b, c, d = sbyte(S, p, p + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

decode_value = function(top)
    if POS > LEN then
        return nil, ERR_EOF
    end
    stack_check(top, TOO_MANY)
    local c = sbyte(S, POS)
    if c <= 0x7f then  -- positive fixint
        POS = POS + 1
        return c
    elseif c >= 0xe0 then  -- negative fixint
        POS = POS + 1
        return c - 256
    elseif c >= 0xa0 and c <= 0xbf then  -- fixstr
        local l = c - 0xa0
        if not need(1 + l) then return nil, ERR_EOF end
        local s = ssub(S, POS + 1, POS + l)
        POS = POS + 1 + l
        return s
    elseif c >= 0x90 and c <= 0x9f then  -- fixarray
        POS = POS + 1
        return decode_array(c - 0x90, top)
    elseif c >= 0x80 and c <= 0x8f then  -- fixmap
        POS = POS + 1
        return decode_map(c - 0x80, top)
    elseif c == 0xc0 then
        POS = POS + 1
        return nil
    elseif c == 0xc2 then
        POS = POS + 1
        return false
    elseif c == 0xc3 then
        POS = POS + 1
        return true
    elseif c == 0xcc or c == 0xd0 then  -- uint8 / int8
        if not need(2) then return nil, ERR_EOF end
        local v = sbyte(S, POS + 1)
        POS = POS + 2
        if c == 0xd0 and v >= 128 then v = v - 256 end
        return v
    elseif c == 0xcd or c == 0xd1 then  -- uint16 / int16
        if not need(3) then return nil, ERR_EOF end
        local v = u16(POS + 1)
        POS = POS + 3
        if c == 0xd1 and v >= 32768 then v = v - 65536 end
        return v
    elseif c == 0xce or c == 0xd2 then  -- uint32 / int32
        if not need(5) then return nil, ERR_EOF end
        local v = u32(POS + 1)
        POS = POS + 5
        if c == 0xd2 and v >= 2147483648 then v = v - 4294967296 end
        return v
    elseif c == 0xcf or c == 0xd3 then  -- uint64 / int64
        if not need(9) then return nil, ERR_EOF end
        local hi, lo = u32(POS + 1), u32(POS + 5)
        POS = POS + 9
        -- both are pushed as a signed 64-bit integer by the C library
        if hi >= 2147483648 then hi = hi - 4294967296 end
        return hi * 4294967296 + lo
    elseif c == 0xca then  -- float 32
        if not need(5) then return nil, ERR_EOF end
        local v = float_from_bytes(sbyte(S, POS + 1, POS + 4))
        POS = POS + 5
        return v
    elseif c == 0xcb then  -- float 64
        if not need(9) then return nil, ERR_EOF end
        local v = double_from_bytes(sbyte(S, POS + 1, POS + 8))
        POS = POS + 9
        return v
    elseif c == 0xd9 then  -- str 8
        if not need(2) then return nil, ERR_EOF end
        local l = sbyte(S, POS + 1)
        if not need(2 + l) then return nil, ERR_EOF end
        local s = ssub(S, POS + 2, POS + 1 + l)
        POS = POS + 2 + l
        return s
    elseif c == 0xda then  -- str 16
        if not need(3) then return nil, ERR_EOF end
        local l = u16(POS + 1)
        if not need(3 + l) then return nil, ERR_EOF end
        local s = ssub(S, POS + 3, POS + 2 + l)
        POS = POS + 3 + l
        return s
    elseif c == 0xdb then  -- str 32
        if not need(5) then return nil, ERR_EOF end
        local l = u32(POS + 1)
        if not need(5 + l) then return nil, ERR_EOF end
        local s = ssub(S, POS + 5, POS + 4 + l)
        POS = POS + 5 + l
        return s
    elseif c == 0xdc then  -- array 16
        if not need(3) then return nil, ERR_EOF end
        local l = u16(POS + 1)
        POS = POS + 3
        return decode_array(l, top)
    elseif c == 0xdd then  -- array 32
        if not need(5) then return nil, ERR_EOF end
        local l = u32(POS + 1)
        POS = POS + 5
        return decode_array(l, top)
    elseif c == 0xde then  -- map 16
        if not need(3) then return nil, ERR_EOF end
        local l = u16(POS + 1)
        POS = POS + 3
        return decode_map(l, top)
    elseif c == 0xdf then  -- map 32
        if not need(5) then return nil, ERR_EOF end
        local l = u32(POS + 1)
        POS = POS + 5
        return decode_map(l, top)
    end
    return nil, ERR_BADFMT
end

-- Returns t[i..n] as multiple values without the C stack limit of unpack().
local function values(t, i, n)
    local left = n - i + 1
    if left <= 0 then
        return
    elseif left == 1 then
        return t[i]
    elseif left == 2 then
        return t[i], t[i + 1]
    elseif left == 3 then
        return t[i], t[i + 1], t[i + 2]
    elseif left < 8 then
        return t[i], t[i + 1], t[i + 2], values(t, i + 3, n)
    end
    return t[i], t[i + 1], t[i + 2], t[i + 3], t[i + 4], t[i + 5], t[i + 6], t[i + 7],
        values(t, i + 8, n)
end

local function checkstring(fname, narg, v)
    local tv = type(v)
    if tv == "string" then
        return v
    elseif tv == "number" then
        return tostring(v)
    end
    argerror(fname, narg, "string expected, got " .. tv)
end

-- luaL_optinteger(): truncated to a C int as the C code stores it in an int.
local function optint(fname, narg, v, default)
    if v == nil then
        return default
    end
    local n = v
    if type(v) == "string" then n = tonumber(v) end
    if type(n) ~= "number" then
        argerror(fname, narg, "number expected, got " .. type(v))
    end
    if n ~= n or n == huge or n == -huge or n >= 9223372036854775808
            or n < -9223372036854775808 then
        return 0
    end
    if n >= 0 then n = floor(n) else n = -floor(-n) end
    n = n % 4294967296
    if n >= 2147483648 then n = n - 4294967296 end
    return n
end

local function unpack_full(fname, s, nargs_s, limit, offset)
    if nargs_s == 0 then
        argerror(fname, 1, "string expected, got no value")
    end
    s = checkstring(fname, 1, s)
    local len = #s
    local decode_all = (limit == 0 and offset == 0)
    if offset < 0 or limit < 0 then
        error(sformat("Invalid request to unpack with offset of %d and limit of %d.",
                      offset, len), 0)
    elseif offset > len then
        error(sformat("Start offset %d greater than input length %d.", offset, len), 0)
    end
    if decode_all then limit = INT_MAX end
    S, LEN, POS = s, len, offset + 1
    local results, cnt = {}, 0
    while POS <= LEN and cnt < limit do
        local v, err = decode_value(1 + cnt)
        if err == ERR_EOF then
            S = ""
            error("Missing bytes in input.", 0)
        elseif err == ERR_BADFMT then
            S = ""
            error("Bad data format in input.", 0)
        end
        cnt = cnt + 1
        results[cnt] = v
    end
    S = ""
    if not decode_all then
        local left = LEN - POS + 1
        local nxt = (left == 0) and -1 or (POS - 1)
        return nxt, values(results, 1, cnt)
    end
    return values(results, 1, cnt)
end

local M = {}

M.pack = pack

function M.unpack(...)
    return unpack_full("unpack", (...), select("#", ...), 0, 0)
end

function M.unpack_one(...)
    local s, off = ...
    local offset = optint("unpack_one", 2, off, 0)
    return unpack_full("unpack_one", s, select("#", ...), 1, offset)
end

function M.unpack_limit(...)
    local s, lim, off = ...
    if lim == nil then
        argerror("unpack_limit", 2, "number expected, got " ..
                 (select("#", ...) >= 2 and "nil" or "no value"))
    end
    local limit = optint("unpack_limit", 2, lim, 0)
    local offset = optint("unpack_limit", 3, off, 0)
    return unpack_full("unpack_limit", s, select("#", ...), limit, offset)
end

M._NAME = "cmsgpack"
M._VERSION = "lua-cmsgpack 0.4.0"
M._COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo"
M._DESCRIPTION = "MessagePack C implementation for Lua"

for k, v in next, M do
    if type(v) == "function" then
        M[k] = api(v)
    end
end

return M
