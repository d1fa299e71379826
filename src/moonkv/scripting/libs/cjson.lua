-- cjson: pure Lua 5.1 re-implementation of the lua-cjson 2.1.0 module that
-- Redis 7.0 exposes to scripts.  Behaviour (output format, configuration
-- functions, error texts) follows the C library bundled with Redis.
--
-- Every global used is captured as a local while the chunk loads; after
-- loading, the chunk environment is locked, so nothing here reads globals.

local type, next, rawget, tostring, tonumber = type, next, rawget, tostring, tonumber
local pcall = pcall
local error, select, getmetatable, newproxy = error, select, getmetatable, newproxy
local sbyte, schar, sfind, sformat, ssub, sgsub, slower =
    string.byte, string.char, string.find, string.format, string.sub, string.gsub, string.lower
local concat = table.concat
local floor, huge = math.floor, math.huge

-- Lua's C API refuses to grow a C function's stack frame past this many slots
-- (LUAI_MAXCSTACK); the C library hits it on very deep nesting.
local MAXCSTACK = 8000
local INT_MAX = 2147483647
local INT_MIN = -2147483648

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

-- lua_typename() of a value (light and full userdata are both "userdata").
local function typename(v)
    return type(v)
end

-- cjson.null: a unique userdata shared by every cjson instance.  The C module
-- uses a NULL lightuserdata, which tostring() renders as "userdata: (nil)".
local null = newproxy(true)
do
    local mt = getmetatable(null)
    mt.__tostring = function() return "userdata: (nil)" end
    mt.__metatable = false
end

-- C int conversion of a Lua number as done by lua_tointeger + (int) cast on
-- x86-64: truncation towards zero, then the low 32 bits.
local function to_cint(n)
    if n ~= n or n == huge or n == -huge then
        return 0
    end
    if n >= 0 then n = floor(n) else n = -floor(-n) end
    if n >= -2147483648 and n <= 2147483647 then
        return n
    end
    if n >= 9223372036854775808 or n < -9223372036854775808 then
        return 0  -- (int)(int64)INT64_MIN
    end
    n = n % 4294967296
    if n >= 2147483648 then n = n - 4294967296 end
    return n
end

-- luaL_checkinteger() semantics (numbers and numeric strings accepted).
local function checkinteger(fname, narg, v)
    local n = v
    if type(v) == "string" then n = tonumber(v) end
    if type(n) ~= "number" then
        argerror(fname, narg, "number expected, got " .. typename(v))
    end
    return to_cint(n)
end

-- ===== Encoding ===========================================================

local escapes = {
    ["\""] = "\\\"", ["\\"] = "\\\\", ["/"] = "\\/",
    ["\b"] = "\\b", ["\t"] = "\\t", ["\n"] = "\\n", ["\f"] = "\\f", ["\r"] = "\\r",
    ["\127"] = "\\u007f",
}
for i = 0, 31 do
    local c = schar(i)
    if not escapes[c] then
        escapes[c] = sformat("\\u%04x", i)
    end
end
local ESCAPE_PATTERN = "[%z\1-\31\"\\/\127]"

local function encode_string(s)
    if sfind(s, ESCAPE_PATTERN) then
        s = sgsub(s, ESCAPE_PATTERN, escapes)
    end
    return "\"" .. s .. "\""
end

-- ===== Decoding ===========================================================

local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = 0, 1, 2, 3
local T_STRING, T_NUMBER, T_BOOLEAN, T_NULL = 4, 5, 6, 7
local T_COLON, T_COMMA, T_END, T_ERROR, T_UNKNOWN = 8, 9, 10, 12, 13

local token_names = {
    [0] = "T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
    "T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END",
    "T_WHITESPACE", "T_ERROR", "T_UNKNOWN",
}

local ch2token = {}
for i = 0, 255 do ch2token[i] = T_ERROR end
ch2token[123] = T_OBJ_BEGIN  -- {
ch2token[125] = T_OBJ_END    -- }
ch2token[91] = T_ARR_BEGIN   -- [
ch2token[93] = T_ARR_END     -- ]
ch2token[44] = T_COMMA       -- ,
ch2token[58] = T_COLON       -- :
for _, c in next, { "f", "i", "I", "n", "N", "t", "\"", "+", "-",
                    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" } do
    ch2token[sbyte(c)] = T_UNKNOWN
end

local escape2char = {
    [34] = "\"", [92] = "\\", [47] = "/", [98] = "\b", [116] = "\t",
    [110] = "\n", [102] = "\f", [114] = "\r",
}

local hexval = {}
for i = 0, 9 do hexval[48 + i] = i end
for i = 0, 5 do
    hexval[65 + i] = 10 + i
    hexval[97 + i] = 10 + i
end

-- Parser state (decode never runs user code, so module level state is safe).
local S, LEN = "", 0

local function decode_hex4(p)
    local a, b, c, d = sbyte(S, p, p + 3)
    a, b, c, d = hexval[a], hexval[b], hexval[c], hexval[d]
    if not (a and b and c and d) then
        return -1
    end
    return ((a * 16 + b) * 16 + c) * 16 + d
end

local function codepoint_to_utf8(cp)
    if cp <= 0x7F then
        return schar(cp)
    elseif cp <= 0x7FF then
        return schar(0xC0 + floor(cp / 64), 0x80 + cp % 64)
    elseif cp <= 0xFFFF then
        return schar(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
    end
    return schar(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
                 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

-- Parses a string token starting at the opening quote at p.  Returns
-- T_STRING, value, next position or T_ERROR, message, error position.
local function string_token(p)
    local parts, np = nil, 0
    local start = p + 1
    while true do
        local q = sfind(S, "[\"\\]", start)
        if not q then
            return T_ERROR, "unexpected end of string", LEN + 1
        end
        if sbyte(S, q) == 34 then  -- closing quote
            local tail = ssub(S, start, q - 1)
            if not parts then
                return T_STRING, tail, q + 1
            end
            np = np + 1
            parts[np] = tail
            return T_STRING, concat(parts, "", 1, np), q + 1
        end
        -- backslash escape
        parts = parts or {}
        np = np + 1
        parts[np] = ssub(S, start, q - 1)
        local c = sbyte(S, q + 1)
        if c == 117 then  -- \uXXXX
            local cp = decode_hex4(q + 2)
            local esc_len = 6
            if cp < 0 then
                return T_ERROR, "invalid unicode escape code", q
            end
            if cp >= 0xD800 and cp <= 0xDFFF then
                if cp >= 0xDC00 then
                    return T_ERROR, "invalid unicode escape code", q
                end
                if sbyte(S, q + 6) ~= 92 or sbyte(S, q + 7) ~= 117 then
                    return T_ERROR, "invalid unicode escape code", q
                end
                local low = decode_hex4(q + 8)
                if low < 0xDC00 or low > 0xDFFF then
                    return T_ERROR, "invalid unicode escape code", q
                end
                cp = (cp - 0xD800) * 1024 + (low - 0xDC00) + 0x10000
                esc_len = 12
            end
            np = np + 1
            parts[np] = codepoint_to_utf8(cp)
            start = q + esc_len
        else
            local ch = c and escape2char[c]
            if not ch then
                return T_ERROR, "invalid escape code", q
            end
            np = np + 1
            parts[np] = ch
            start = q + 2
        end
    end
end

-- Length of the prefix of S at p that C strtod() would consume (0 if none).
local function strtod_length(p)
    local q = p
    local c = sbyte(S, q)
    if c == 43 or c == 45 then q = q + 1 end
    -- hexadecimal
    if sfind(S, "^0[xX]", q) then
        local _, e = sfind(S, "^%x*", q + 2)
        local ndig = e - (q + 2) + 1
        local last = e
        if sbyte(S, e + 1) == 46 then
            local _, f = sfind(S, "^%x*", e + 2)
            ndig = ndig + (f - (e + 2) + 1)
            if ndig > 0 then last = f end
        end
        if ndig == 0 then
            return q - p + 1  -- just the "0"
        end
        local _, x = sfind(S, "^[pP][+-]?%d+", last + 1)
        if x then last = x end
        return last - p + 1
    end
    -- infinity / nan
    if sfind(S, "^[iI][nN][fF]", q) then
        if sfind(S, "^[iI][nN][iI][tT][yY]", q + 3) then
            return q + 7 - p + 1
        end
        return q + 2 - p + 1
    end
    if sfind(S, "^[nN][aA][nN]", q) then
        local _, x = sfind(S, "^%([%w_]*%)", q + 3)
        if x then return x - p + 1 end
        return q + 2 - p + 1
    end
    -- decimal
    local _, e = sfind(S, "^%d*", q)
    local ndig = e - q + 1
    local last = e
    if sbyte(S, e + 1) == 46 then
        local _, f = sfind(S, "^%d*", e + 2)
        ndig = ndig + (f - (e + 2) + 1)
        last = f
    end
    if ndig == 0 then
        return 0
    end
    local _, x = sfind(S, "^[eE][+-]?%d+", last + 1)
    if x then last = x end
    return last - p + 1
end

local function number_token(p)
    local n = strtod_length(p)
    if n == 0 then
        return T_ERROR, "invalid number", p
    end
    local v = tonumber(ssub(S, p, p + n - 1))
    if v == nil then
        return T_ERROR, "invalid number", p
    end
    return T_NUMBER, v, p + n
end

-- json_is_invalid_number(): things strtod() accepts but JSON does not.
local function is_invalid_number(p)
    local c = sbyte(S, p)
    if c == 43 then return true end  -- '+'
    if c == 45 then
        p = p + 1
        c = sbyte(S, p)
    end
    if c == 48 then  -- '0'
        local c2 = sbyte(S, p + 1)
        if c2 == 120 or c2 == 88 or (c2 and c2 >= 48 and c2 <= 57) then
            return true
        end
        return false
    elseif c == nil or c <= 57 then
        return false
    end
    local w = slower(ssub(S, p, p + 2))
    return w == "inf" or w == "nan"
end

-- Returns token type, value, position of the token (1-based), next position.
local function next_token(p, cfg)
    local c = sbyte(S, p)
    if c == 32 or c == 9 or c == 10 or c == 13 then
        p = sfind(S, "[^ \t\n\r]", p) or (LEN + 1)
        c = sbyte(S, p)
    end
    if c == nil then
        return T_END, nil, p, p
    end
    local t = ch2token[c]
    if t == T_ERROR then
        return T_ERROR, "invalid token", p, p
    end
    if t ~= T_UNKNOWN then
        return t, nil, p, p + 1
    end
    local v, np
    if c == 34 then
        t, v, np = string_token(p)
        if t == T_ERROR then return t, v, np, np end
        return t, v, p, np
    elseif c == 45 or (c >= 48 and c <= 57) then
        if not cfg.decode_invalid_numbers and is_invalid_number(p) then
            return T_ERROR, "invalid number", p, p
        end
        t, v, np = number_token(p)
        if t == T_ERROR then return t, v, np, np end
        return t, v, p, np
    elseif ssub(S, p, p + 3) == "true" then
        return T_BOOLEAN, true, p, p + 4
    elseif ssub(S, p, p + 4) == "false" then
        return T_BOOLEAN, false, p, p + 5
    elseif ssub(S, p, p + 3) == "null" then
        return T_NULL, nil, p, p + 4
    elseif cfg.decode_invalid_numbers and is_invalid_number(p) then
        t, v, np = number_token(p)
        if t == T_ERROR then return t, v, np, np end
        return t, v, p, np
    end
    return T_ERROR, "invalid token", p, p
end

local function parse_error(expected, t, v, tpos)
    local found = (t == T_ERROR) and v or token_names[t]
    error(sformat("Expected %s but found %s at character %d", expected, found, tpos), 0)
end

local process_value

local function descend(depth, top, slots, p, cfg)
    if depth > cfg.decode_max_depth or top + slots > MAXCSTACK then
        error(sformat("Found too many nested data structures (%d) at character %d",
                      depth, p - 1), 0)
    end
end

local function parse_object(p, depth, top, cfg)
    depth = depth + 1
    descend(depth, top, 3, p, cfg)
    local obj = {}
    local t, v, tpos
    t, v, tpos, p = next_token(p, cfg)
    if t == T_OBJ_END then
        return obj, p
    end
    while true do
        if t ~= T_STRING then parse_error("object key string", t, v, tpos) end
        local key = v
        t, v, tpos, p = next_token(p, cfg)
        if t ~= T_COLON then parse_error("colon", t, v, tpos) end
        t, v, tpos, p = next_token(p, cfg)
        v, p = process_value(t, v, tpos, p, depth, top + 2, cfg)
        obj[key] = v
        t, v, tpos, p = next_token(p, cfg)
        if t == T_OBJ_END then
            return obj, p
        end
        if t ~= T_COMMA then parse_error("comma or object end", t, v, tpos) end
        t, v, tpos, p = next_token(p, cfg)
    end
end

local function parse_array(p, depth, top, cfg)
    depth = depth + 1
    descend(depth, top, 2, p, cfg)
    local arr = {}
    local t, v, tpos
    t, v, tpos, p = next_token(p, cfg)
    if t == T_ARR_END then
        return arr, p
    end
    local i = 1
    while true do
        v, p = process_value(t, v, tpos, p, depth, top + 1, cfg)
        arr[i] = v
        i = i + 1
        t, v, tpos, p = next_token(p, cfg)
        if t == T_ARR_END then
            return arr, p
        end
        if t ~= T_COMMA then parse_error("comma or array end", t, v, tpos) end
        t, v, tpos, p = next_token(p, cfg)
    end
end

process_value = function(t, v, tpos, p, depth, top, cfg)
    if t == T_STRING or t == T_NUMBER or t == T_BOOLEAN then
        return v, p
    elseif t == T_NULL then
        return null, p
    elseif t == T_OBJ_BEGIN then
        return parse_object(p, depth, top, cfg)
    elseif t == T_ARR_BEGIN then
        return parse_array(p, depth, top, cfg)
    end
    parse_error("value", t, v, tpos)
end

-- ===== Module construction ================================================

local bool_options = { "off", "on" }
local invalid_number_options = { "off", "on", "null" }

local function new_instance()
    local cfg = {
        encode_sparse_convert = 0,
        encode_sparse_ratio = 2,
        encode_sparse_safe = 10,
        encode_max_depth = 1000,
        decode_max_depth = 1000,
        encode_invalid_numbers = 0,
        decode_invalid_numbers = true,
        encode_keep_buffer = 1,
        encode_number_precision = 14,
        number_fmt = "%.14g",
    }

    -- json_arg_init(): at most nargs arguments.
    local function arg_init(fname, nargs, ...)
        if select("#", ...) > nargs then
            argerror(fname, nargs + 1, "found too many arguments")
        end
    end

    local function integer_option(fname, optindex, v, key, min, max)
        if v ~= nil then
            local value = checkinteger(fname, optindex, v)
            if value < min or value > max then
                argerror(fname, 1, sformat("expected integer between %d and %d", min, max))
            end
            cfg[key] = value
        end
        return cfg[key]
    end

    -- json_enum_option() with bool_true == 1; setting stored as integer.
    local function enum_option(fname, optindex, v, key, options)
        if v ~= nil then
            if type(v) == "boolean" then
                cfg[key] = v and 1 or 0
            else
                local s = v
                if type(s) == "number" then s = tostring(s) end
                if type(s) ~= "string" then
                    argerror(fname, optindex, "string expected, got " .. typename(v))
                end
                local found
                for i = 1, #options do
                    if options[i] == s then found = i - 1 break end
                end
                if not found then
                    argerror(fname, optindex, sformat("invalid option '%s'", s))
                end
                cfg[key] = found
            end
        end
        local setting = cfg[key]
        if setting == 0 or setting == 1 then
            return setting == 1
        end
        return options[setting + 1]
    end

    local M = {}

    function M.encode_sparse_array(...)
        arg_init("encode_sparse_array", 3, ...)
        local convert, ratio, safe = ...
        local a = enum_option("encode_sparse_array", 1, convert, "encode_sparse_convert",
                              bool_options)
        local b = integer_option("encode_sparse_array", 2, ratio, "encode_sparse_ratio",
                                 0, INT_MAX)
        local c = integer_option("encode_sparse_array", 3, safe, "encode_sparse_safe",
                                 0, INT_MAX)
        return a, b, c
    end

    function M.encode_max_depth(...)
        arg_init("encode_max_depth", 1, ...)
        return integer_option("encode_max_depth", 1, (...), "encode_max_depth", 1, INT_MAX)
    end

    function M.decode_max_depth(...)
        arg_init("decode_max_depth", 1, ...)
        return integer_option("decode_max_depth", 1, (...), "decode_max_depth", 1, INT_MAX)
    end

    function M.encode_number_precision(...)
        arg_init("encode_number_precision", 1, ...)
        local r = integer_option("encode_number_precision", 1, (...),
                                 "encode_number_precision", 1, 14)
        cfg.number_fmt = "%." .. r .. "g"
        return r
    end

    function M.encode_keep_buffer(...)
        arg_init("encode_keep_buffer", 1, ...)
        return enum_option("encode_keep_buffer", 1, (...), "encode_keep_buffer", bool_options)
    end

    function M.encode_invalid_numbers(...)
        arg_init("encode_invalid_numbers", 1, ...)
        return enum_option("encode_invalid_numbers", 1, (...), "encode_invalid_numbers",
                           invalid_number_options)
    end

    function M.decode_invalid_numbers(...)
        arg_init("decode_invalid_numbers", 1, ...)
        local dec = cfg.decode_invalid_numbers and 1 or 0
        cfg.decode_invalid_numbers_setting = dec
        local r = enum_option("decode_invalid_numbers", 1, (...),
                              "decode_invalid_numbers_setting", bool_options)
        cfg.decode_invalid_numbers = cfg.decode_invalid_numbers_setting == 1
        return r
    end

    -- Encoder ----------------------------------------------------------------

    local buf, nbuf

    local function encode_number(num)
        if num ~= num or num == huge or num == -huge then
            local mode = cfg.encode_invalid_numbers
            if mode == 0 then
                error("Cannot serialise number: must not be NaN or Inf", 0)
            elseif mode == 2 then
                return "null"
            elseif num ~= num then
                return "nan"
            end
        end
        return sformat(cfg.number_fmt, num)
    end

    local append_value

    local function append_table(t, depth, top)
        depth = depth + 1
        if depth > cfg.encode_max_depth or top + 3 > MAXCSTACK then
            error(sformat("Cannot serialise, excessive nesting (%d)", depth), 0)
        end
        -- lua_array_length()
        local max, items = 0, 0
        local k = next(t)
        while k ~= nil do
            if type(k) == "number" and k ~= 0 and floor(k) == k and k >= 1 then
                if k > max then
                    if k <= INT_MAX then max = k else max = INT_MIN end
                end
                items = items + 1
            else
                max = -1
                break
            end
            k = next(t, k)
        end
        if max > 0 then
            local ratio = cfg.encode_sparse_ratio
            if ratio > 0 and max > items * ratio and max > cfg.encode_sparse_safe then
                if cfg.encode_sparse_convert == 0 then
                    error("Cannot serialise table: excessively sparse array", 0)
                end
                max = -1
            end
        end
        if max > 0 then
            nbuf = nbuf + 1
            buf[nbuf] = "["
            for i = 1, max do
                if i > 1 then
                    nbuf = nbuf + 1
                    buf[nbuf] = ","
                end
                append_value(rawget(t, i), depth, top + 1)
            end
            nbuf = nbuf + 1
            buf[nbuf] = "]"
            return
        end
        nbuf = nbuf + 1
        buf[nbuf] = "{"
        local first = true
        local v
        k, v = next(t)
        while k ~= nil do
            if first then
                first = false
            else
                nbuf = nbuf + 1
                buf[nbuf] = ","
            end
            local kt = type(k)
            if kt == "string" then
                nbuf = nbuf + 1
                buf[nbuf] = encode_string(k)
                nbuf = nbuf + 1
                buf[nbuf] = ":"
            elseif kt == "number" then
                nbuf = nbuf + 1
                buf[nbuf] = "\"" .. encode_number(k) .. "\":"
            else
                error("Cannot serialise " .. typename(k) ..
                      ": table key must be a number or string", 0)
            end
            append_value(v, depth, top + 2)
            k, v = next(t, k)
        end
        nbuf = nbuf + 1
        buf[nbuf] = "}"
    end

    append_value = function(v, depth, top)
        local vt = type(v)
        local s
        if vt == "string" then
            s = encode_string(v)
        elseif vt == "number" then
            s = encode_number(v)
        elseif vt == "boolean" then
            s = v and "true" or "false"
        elseif vt == "table" then
            return append_table(v, depth, top)
        elseif v == nil or v == null then
            s = "null"
        else
            error("Cannot serialise " .. typename(v) .. ": type not supported", 0)
        end
        nbuf = nbuf + 1
        buf[nbuf] = s
    end

    function M.encode(...)
        if select("#", ...) ~= 1 then
            argerror("encode", 1, "expected 1 argument")
        end
        local v = ...
        local vt = type(v)
        -- fast paths for scalars
        if vt == "string" then
            return encode_string(v)
        elseif vt == "number" then
            return encode_number(v)
        end
        buf, nbuf = {}, 0
        append_value(v, 0, 1)
        local out = concat(buf, "", 1, nbuf)
        buf = nil
        return out
    end

    -- Decoder ----------------------------------------------------------------

    function M.decode(...)
        if select("#", ...) ~= 1 then
            argerror("decode", 1, "expected 1 argument")
        end
        local s = ...
        if type(s) == "number" then
            s = tostring(s)
        elseif type(s) ~= "string" then
            argerror("decode", 1, "string expected, got " .. typename(s))
        end
        local len = #s
        if len >= 2 and (sbyte(s, 1) == 0 or sbyte(s, 2) == 0) then
            error("JSON parser does not support UTF-16 or UTF-32", 0)
        end
        -- The C parser works on a NUL terminated buffer.
        local z = sfind(s, "%z")
        if z then
            s = ssub(s, 1, z - 1)
            len = z - 1
        end
        S, LEN = s, len
        local t, v, tpos, p = next_token(1, cfg)
        local value
        value, p = process_value(t, v, tpos, p, 0, 1, cfg)
        t, v, tpos = next_token(p, cfg)
        if t ~= T_END then
            parse_error("the end", t, v, tpos)
        end
        S = ""
        return value
    end

    for k, v in next, M do
        M[k] = api(v)
    end
    M.new = new_instance
    M.null = null
    M._NAME = "cjson"
    M._VERSION = "2.1.0"
    return M
end

return new_instance()
