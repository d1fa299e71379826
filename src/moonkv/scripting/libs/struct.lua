-- struct: pure Lua 5.1 re-implementation of lua_struct 0.2 (Roberto
-- Ierusalimschy) as bundled with Redis 7.0, including Redis' offset check in
-- struct.unpack.  Native layout is that of x86-64 Linux: little endian,
-- short = 2, int = 4, long = size_t = 8 bytes, maximum alignment 8.
--
-- Every global used is captured as a local while the chunk loads.

local type, tostring, tonumber, error, select = type, tostring, tonumber, error, select
local pcall, next = pcall, next
local sbyte, schar, sfind, sformat, ssub, srep, sreverse =
    string.byte, string.char, string.find, string.format, string.sub, string.rep, string.reverse
local concat = table.concat
local floor, huge, frexp, ldexp = math.floor, math.huge, math.frexp, math.ldexp

local INT_MAX = 2147483647
local MAXINTSIZE = 32
local MAXALIGN = 8
local MAXCSTACK = 8000
local BIG, LITTLE = 0, 1
local NATIVE = LITTLE
local TWO32 = 4294967296

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

local function typename(i, nargs, v)
    if i > nargs then return "no value" end
    return type(v)
end

-- struct.pack pushes a nil right after its arguments.
local function pack_nargs(nargs)
    return nargs + 1
end

local function checkstring(fname, i, nargs, v)
    local t = type(v)
    if t == "string" then
        return v
    elseif t == "number" then
        return tostring(v)
    end
    argerror(fname, i, "string expected, got " .. typename(i, nargs, v))
end

local function checknumber(fname, i, nargs, v)
    local n = v
    if type(n) ~= "number" then
        n = (type(v) == "string") and tonumber(v) or nil
        if n == nil then
            argerror(fname, i, "number expected, got " .. typename(i, nargs, v))
        end
    end
    return n
end

-- C truncation towards zero.
local function trunc(n)
    if n >= 0 then return floor(n) end
    return -floor(-n)
end

-- bitwise and of two small non-negative integers (m < 64).
local function band_small(a, m)
    local r, bitv = 0, 1
    a = a % 64
    while m > 0 do
        if a % 2 == 1 and m % 2 == 1 then r = r + bitv end
        a, m, bitv = floor(a / 2), floor(m / 2), bitv * 2
    end
    return r
end

-- ===== IEEE-754 helpers =====================================================

local NAN_A = 0 / 0
local NAN_B = -NAN_A
local NEG_NAN, POS_NAN
if ssub(tostring(NAN_A), 1, 1) == "-" then
    NEG_NAN, POS_NAN = NAN_A, NAN_B
else
    NEG_NAN, POS_NAN = NAN_B, NAN_A
end

local function round_even(v)
    local f = floor(v)
    local d = v - f
    if d > 0.5 or (d == 0.5 and f % 2 == 1) then
        return f + 1
    end
    return f
end

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
    if r >= 340282366920938463463374607431768211456 then
        r = huge
    end
    if x < 0 then return -r end
    return r
end

local function float_bytes_be(f)
    local sign = 0
    if f ~= f then
        if ssub(tostring(f), 1, 1) == "-" then return "\255\192\0\0" end
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

local function double_bytes_be(d)
    local sign = 0
    if d ~= d then
        if ssub(tostring(d), 1, 1) == "-" then return "\255\248\0\0\0\0\0\0" end
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
    local hi = floor(mant / TWO32)
    local lo = mant - hi * TWO32
    return schar(sign + floor(exp / 16), (exp % 16) * 16 + floor(hi / 65536),
                 floor(hi / 256) % 256, hi % 256,
                 floor(lo / 16777216), floor(lo / 65536) % 256, floor(lo / 256) % 256, lo % 256)
end

local function float_from_be(b1, b2, b3, b4)
    local neg = b1 >= 128
    local exp = (b1 % 128) * 2 + floor(b2 / 128)
    local mant = ((b2 % 128) * 256 + b3) * 256 + b4
    local v
    if exp == 255 then
        if mant ~= 0 then return neg and NEG_NAN or POS_NAN end
        v = huge
    elseif exp == 0 then
        v = ldexp(mant, -149)
    else
        v = ldexp(mant + 8388608, exp - 150)
    end
    if neg then return -v end
    return v
end

local function double_from_be(b1, b2, b3, b4, b5, b6, b7, b8)
    local neg = b1 >= 128
    local exp = (b1 % 128) * 16 + floor(b2 / 16)
    local mant = (((b2 % 16) * 256 + b3) * 256 + b4) * TWO32
        + ((b5 * 256 + b6) * 256 + b7) * 256 + b8
    local v
    if exp == 2047 then
        if mant ~= 0 then return neg and NEG_NAN or POS_NAN end
        v = huge
    elseif exp == 0 then
        v = ldexp(mant, -1074)
    else
        v = ldexp(mant + 4503599627370496, exp - 1075)
    end
    if neg then return -v end
    return v
end

-- ===== Format parsing =======================================================

local function getnum(fmt, i, df)
    local s, e = sfind(fmt, "^%d+", i)
    if not s then
        return df, i
    end
    local a = 0
    for j = s, e do
        local d = sbyte(fmt, j) - 48
        if a > floor(INT_MAX / 10) or a * 10 > INT_MAX - d then
            error("integral size overflow", 0)
        end
        a = a * 10 + d
    end
    return a, e + 1
end

local FIXED_SIZES = {
    b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1,
}

-- Returns size of option `opt` and the position after its count.
local function optsize(opt, fmt, i)
    local sz = FIXED_SIZES[opt]
    if sz then
        return sz, i
    elseif opt == "c" then
        return getnum(fmt, i, 1)
    elseif opt == "i" or opt == "I" then
        sz, i = getnum(fmt, i, 4)
        if sz > MAXINTSIZE then
            error(sformat("integral size %d is larger than limit of %d", sz, MAXINTSIZE), 0)
        end
        return sz, i
    end
    return 0, i
end

local function gettoalign(len, align, opt, size)
    if size == 0 or opt == "c" then
        return 0
    end
    if size > align then
        size = align
    end
    return band_small(size - band_small(len, size - 1), size - 1)
end

local function isp2(x)
    if x <= 0 then
        return false
    end
    while x % 2 == 0 do
        x = x / 2
    end
    return x == 1
end

-- Handles endianness/alignment options; returns endian, align, next pos.
local function controloptions(fname, opt, fmt, i, endian, align)
    if opt == " " then
        return endian, align, i
    elseif opt == ">" then
        return BIG, align, i
    elseif opt == "<" then
        return LITTLE, align, i
    elseif opt == "!" then
        local a
        a, i = getnum(fmt, i, MAXALIGN)
        if not isp2(a) then
            error(sformat("alignment %d is not a power of 2", a), 0)
        end
        return endian, a, i
    end
    argerror(fname, 1, sformat("invalid format option '%s'", opt))
end

local INT_OPTS = { b = true, B = true, h = true, H = true, l = true, L = true, T = true,
                   i = true, I = true }

-- The C library stops at the first NUL of the format.
local function cformat(fmt)
    local z = sfind(fmt, "%z")
    if z then
        return ssub(fmt, 1, z - 1)
    end
    return fmt
end

-- ===== Integers =============================================================

-- Bytes (little endian, least significant first) of the C conversion
-- `n < 0 ? (long)n : (unsigned long)n` written out over `size` bytes.
local function int_bytes_le(n, size)
    local hi, lo
    if n ~= n then
        hi, lo = 2147483648, 0
    elseif n >= 0 then
        local t = floor(n)
        if t >= 18446744073709551616 then
            hi, lo = 0, 0
        else
            hi = floor(t / TWO32)
            lo = t - hi * TWO32
        end
    else
        local t = trunc(n)
        if t < -9223372036854775808 then
            hi, lo = 2147483648, 0
        else
            hi = floor(t / TWO32)
            lo = t - hi * TWO32
            hi = hi + TWO32
            if hi >= TWO32 then hi = hi - TWO32 end
        end
    end
    local bytes = {}
    for k = 1, size do
        local b
        if k <= 4 then
            b = floor(lo / 256 ^ (k - 1)) % 256
        elseif k <= 8 then
            b = floor(hi / 256 ^ (k - 5)) % 256
        else
            b = 0
        end
        bytes[k] = b
    end
    return bytes
end

-- Value of getinteger(): bytes are given least significant first.
local function int_value(bytes, size, issigned)
    -- only the 8 least significant bytes survive the 64-bit shifts
    local hi, lo = 0, 0
    for k = 8, 5, -1 do
        hi = hi * 256 + (k <= size and bytes[k] or 0)
    end
    for k = 4, 1, -1 do
        lo = lo * 256 + (k <= size and bytes[k] or 0)
    end
    if issigned then
        local s = (size * 8 - 1) % 64
        if s >= 32 then
            local p = 2 ^ (s - 32)
            if hi >= p then
                hi = hi % p + (TWO32 - p)
            end
        else
            local p = 2 ^ s
            if hi > 0 or lo >= p then
                hi = TWO32 - 1
                lo = lo % p + (TWO32 - p)
            end
        end
    end
    if issigned and hi >= 2147483648 then
        hi = hi - TWO32
    end
    return hi * TWO32 + lo
end

-- ===== Module ===============================================================

local function values(t, i, n)
    local left = n - i + 1
    if left <= 0 then
        return
    elseif left == 1 then
        return t[i]
    elseif left == 2 then
        return t[i], t[i + 1]
    elseif left < 8 then
        return t[i], t[i + 1], t[i + 2], values(t, i + 3, n)
    end
    return t[i], t[i + 1], t[i + 2], t[i + 3], t[i + 4], t[i + 5], t[i + 6], t[i + 7],
        values(t, i + 8, n)
end

local M = {}

function M.pack(...)
    local nargs = select("#", ...)
    local args = { ... }
    local fmt = cformat(checkstring("pack", 1, nargs, args[1]))
    local endian, align = NATIVE, 1
    local arg = 2
    local totalsize = 0
    local buf, nb = {}, 0
    local i, flen = 1, #fmt
    while i <= flen do
        local opt = ssub(fmt, i, i)
        i = i + 1
        local size
        size, i = optsize(opt, fmt, i)
        local toalign = gettoalign(totalsize, align, opt, size)
        totalsize = totalsize + toalign
        if toalign > 0 then
            nb = nb + 1
            buf[nb] = srep("\0", toalign)
        end
        if INT_OPTS[opt] then
            local n = checknumber("pack", arg, pack_nargs(nargs), args[arg])
            arg = arg + 1
            local bytes = int_bytes_le(n, size)
            local parts = {}
            for k = 1, size do
                parts[k] = schar(bytes[k])
            end
            local s = concat(parts)
            if endian == BIG then s = sreverse(s) end
            nb = nb + 1
            buf[nb] = s
        elseif opt == "x" then
            nb = nb + 1
            buf[nb] = "\0"
        elseif opt == "f" then
            local n = checknumber("pack", arg, pack_nargs(nargs), args[arg])
            arg = arg + 1
            local s = float_bytes_be(to_float32(n))
            if endian == LITTLE then s = sreverse(s) end
            nb = nb + 1
            buf[nb] = s
        elseif opt == "d" then
            local n = checknumber("pack", arg, pack_nargs(nargs), args[arg])
            arg = arg + 1
            local s = double_bytes_be(n)
            if endian == LITTLE then s = sreverse(s) end
            nb = nb + 1
            buf[nb] = s
        elseif opt == "c" or opt == "s" then
            local s = checkstring("pack", arg, pack_nargs(nargs), args[arg])
            arg = arg + 1
            local l = #s
            if size == 0 then size = l end
            if l < size then
                argerror("pack", arg, "string too short")
            end
            nb = nb + 1
            buf[nb] = ssub(s, 1, size)
            if opt == "s" then
                nb = nb + 1
                buf[nb] = "\0"
                size = size + 1
            end
        else
            endian, align, i = controloptions("pack", opt, fmt, i, endian, align)
        end
        totalsize = totalsize + size
    end
    return concat(buf, "", 1, nb)
end

function M.unpack(...)
    local nargs = select("#", ...)
    local fmt_v, data_v, pos_v = ...
    local fmt = cformat(checkstring("unpack", 1, nargs, fmt_v))
    local data = checkstring("unpack", 2, nargs, data_v)
    local ld = #data
    local pos = 1
    if pos_v ~= nil then
        pos = checknumber("unpack", 3, nargs, pos_v)
        if pos ~= pos or pos == huge or pos == -huge then
            pos = -9223372036854775808
        else
            pos = trunc(pos)
        end
    end
    if pos == 0 then
        argerror("unpack", 3, "offset must be 1 or greater")
    end
    local negative = pos < 0  -- a huge size_t in C
    pos = pos - 1
    local results, n = {}, 0
    local endian, align = NATIVE, 1
    local stacktop = nargs < 3 and nargs or 3
    if stacktop < 2 then stacktop = 2 end
    local i, flen = 1, #fmt
    while i <= flen do
        local opt = ssub(fmt, i, i)
        i = i + 1
        local size
        size, i = optsize(opt, fmt, i)
        if negative then
            argerror("unpack", 2, "data string too short")
        end
        pos = pos + gettoalign(pos, align, opt, size)
        if not (size <= ld and pos <= ld - size) then
            argerror("unpack", 2, "data string too short")
        end
        if stacktop + n + 2 > MAXCSTACK then
            error("stack overflow (too many results)", 0)
        end
        if INT_OPTS[opt] then
            local bytes = { sbyte(data, pos + 1, pos + size) }
            if endian == BIG then
                local rev = {}
                for k = 1, size do rev[k] = bytes[size + 1 - k] end
                bytes = rev
            end
            n = n + 1
            results[n] = int_value(bytes, size, opt == "b" or opt == "h" or opt == "l"
                                   or opt == "i")
        elseif opt == "x" then
            -- padding byte: nothing to return
        elseif opt == "f" then
            local s = ssub(data, pos + 1, pos + 4)
            if endian == LITTLE then s = sreverse(s) end
            n = n + 1
            results[n] = float_from_be(sbyte(s, 1, 4))
        elseif opt == "d" then
            local s = ssub(data, pos + 1, pos + 8)
            if endian == LITTLE then s = sreverse(s) end
            n = n + 1
            results[n] = double_from_be(sbyte(s, 1, 8))
        elseif opt == "c" then
            if size == 0 then
                local prev = n > 0 and results[n]
                local sz = prev and tonumber(prev)
                if not sz then
                    error("format 'c0' needs a previous size", 0)
                end
                results[n] = nil
                n = n - 1
                if sz ~= sz or sz < 0 or sz >= 18446744073709551616 then
                    argerror("unpack", 2, "data string too short")
                end
                size = floor(sz)
                if not (size <= ld and pos <= ld - size) then
                    argerror("unpack", 2, "data string too short")
                end
            end
            n = n + 1
            results[n] = ssub(data, pos + 1, pos + size)
        elseif opt == "s" then
            local e = sfind(data, "%z", pos + 1)
            if not e then
                error("unfinished string in data", 0)
            end
            size = e - pos
            n = n + 1
            results[n] = ssub(data, pos + 1, e - 1)
        else
            endian, align, i = controloptions("unpack", opt, fmt, i, endian, align)
        end
        pos = pos + size
    end
    n = n + 1
    results[n] = pos + 1
    return values(results, 1, n)
end

function M.size(...)
    local nargs = select("#", ...)
    local fmt = cformat(checkstring("size", 1, nargs, (...)))
    local endian, align = NATIVE, 1
    local pos = 0
    local i, flen = 1, #fmt
    while i <= flen do
        local opt = ssub(fmt, i, i)
        i = i + 1
        local size
        size, i = optsize(opt, fmt, i)
        pos = pos + gettoalign(pos, align, opt, size)
        if opt == "s" then
            argerror("size", 1, "option 's' has no fixed size")
        elseif opt == "c" and size == 0 then
            argerror("size", 1, "option 'c0' has no fixed size")
        end
        if not sfind(opt, "^%w") then
            endian, align, i = controloptions("size", opt, fmt, i, endian, align)
        end
        pos = pos + size
    end
    return pos
end

for k, v in next, M do
    if type(v) == "function" then
        M[k] = api(v)
    end
end

return M
