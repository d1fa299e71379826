"""Tests for the pure Lua cjson / cmsgpack / bit / struct libraries.

Most cases are differential: the same Lua snippet runs in a real Redis 7.0
(``/usr/bin/redis-server``, started by a module fixture) and in a lupa Lua 5.1
runtime with our libraries installed, and the (serialised) results, including
error messages, must be byte-identical.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
import redis

try:
    from moonkv.scripting.libs import install
except ImportError:  # running from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from moonkv.scripting.libs import install

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# Serialises the results of a snippet deterministically (sorted table keys,
# %.17g numbers, %q strings) so both sides can be compared byte for byte.
PRELUDE = r"""
local function __pack(...) return {n = select("#", ...), ...} end
local function __dump(v, depth)
  local t = type(v)
  if t == "nil" then return "nil"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if v ~= v then return tostring(v) end
    if v == 0 and 1/v < 0 then return "-0" end
    return string.format("%.17g", v)
  elseif t == "string" then return string.format("%q", v)
  elseif t == "table" then
    depth = depth or 0
    if depth > 20 then return "<deep>" end
    local ks = {}
    for k, x in pairs(v) do ks[#ks+1] = {__dump(k, depth+1), __dump(x, depth+1)} end
    table.sort(ks, function(a, b) return a[1] < b[1] end)
    local out = {}
    for i, p in ipairs(ks) do out[i] = "[" .. p[1] .. "]=" .. p[2] end
    return "{" .. table.concat(out, ",") .. "}"
  elseif v == cjson.null then return "NULL"
  else return t end
end
local __r = __pack(pcall(function() __CODE__ end))
local __out = {}
for __i = 2, __r.n do __out[#__out+1] = __dump(__r[__i]) end
return (__r[1] and "OK " or "ERR ") .. table.concat(__out, " | ")
"""


def wrap(code: str) -> bytes:
    """Embed a snippet ending in ``return <exprs>`` into PRELUDE.

    The final return is rewritten so that the library call is not a tail
    call (a pure Lua function cannot see the frame of a caller that
    tail-called it, see test_tail_call_error_has_no_position).
    """
    head, sep, expr = code.rpartition("return ")
    if sep:
        code = head + "local __t = __pack(" + expr + ") return unpack(__t, 1, __t.n)"
    return PRELUDE.replace("__CODE__", code).encode()


def new_runtime() -> Any:
    rt = lua51.LuaRuntime(
        encoding=None, register_eval=False, register_builtins=False, unpack_returned_tuples=True
    )
    g = rt.globals()
    for name, table in install(rt).items():
        g[name] = table
    return rt


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def real_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def rt() -> Any:
    return new_runtime()


def ours(rt: Any, code: str) -> bytes:
    result: bytes = rt.execute(wrap(code), name=b"=user_script")
    return result


def theirs(client: Any, code: str) -> bytes:
    # EVAL takes the script as bytes so that binary snippets survive intact.
    result: bytes = client.eval(wrap(code), 0)
    return result


def check_same(rt: Any, client: redis.Redis, code: str) -> bytes:
    mine = ours(rt, code)
    expected = theirs(client, code)
    assert mine == expected, f"\ncode:  {code}\nmine:  {mine!r}\nredis: {expected!r}"
    return mine


# Each snippet ends with `return <exprs>`; it runs inside pcall on both sides.
CJSON = [
    r"return cjson.encode({1,2,3})",
    r"return cjson.encode({})",
    r"return cjson.encode({a=1})",
    r'return cjson.encode("a/b\\c\"d\n\r\t\b\f\0\1\31\127\128\255")',
    r"return cjson.encode(0.1), cjson.encode(1/3), cjson.encode(-0.0), cjson.encode(2^53), cjson.encode(2^63), cjson.encode(1e300), cjson.encode(-1e-300), cjson.encode(123456789012345)",
    r"return cjson.encode(100), cjson.encode(-7), cjson.encode(1e14), cjson.encode(1e15), cjson.encode(12345678901234567890)",
    r"return cjson.encode(math.huge)",
    r"return cjson.encode(-math.huge)",
    r"return cjson.encode(0/0)",
    r"return cjson.encode({1, 2, nil, 4})",
    r"return cjson.encode({[1]=1, [2]=2, [5]=5})",
    r"return cjson.encode({[1]=1, [20]=2})",
    r"return cjson.encode({[1]=1, [11]=2})",
    r"return cjson.encode({[10]=1})",
    r"return cjson.encode({[11]=1})",
    r"return cjson.encode({[0]=1})",
    r"return cjson.encode({[-1]=1})",
    r"return cjson.encode({[1.5]=1})",
    r"return cjson.encode({[true]=1})",
    r"return cjson.encode({[{}]=1})",
    r"return cjson.encode(function() end)",
    r"return cjson.encode(coroutine.create(function() end))",
    r"return cjson.encode({f=tostring})",
    r"return cjson.encode()",
    r"return cjson.encode(1, 2)",
    r"return cjson.encode(nil)",
    r"return cjson.encode(true), cjson.encode(false)",
    r"return cjson.encode(cjson.null), cjson.encode({cjson.null, 1})",
    r"return cjson.encode({{{{{}}}}})",
    r"local t = {} t[1] = t return cjson.encode(t)",
    r"local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end return cjson.encode(t)",
    r"local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return #cjson.encode(t)",
    r'return cjson.encode({["a\"b"]=1})',
    r'return cjson.encode({[1.5]="x"})',
    r"return cjson.encode({[math.huge]=1})",
    r"return cjson.encode({[2^53]=1, a=1}) ~= nil",
    r'return cjson.encode({"\226\130\172", "\240\159\152\128"})',
    r"return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_sparse_array()",
    r"local j = cjson.new() return j.encode_sparse_array(true), j.encode({[1]=1,[20]=2})",
    r"local j = cjson.new() j.encode_sparse_array(true, 0) return j.encode({[1]=1,[20]=2})",
    r"local j = cjson.new() return j.encode_sparse_array(false, 3, 15), j.encode({[1]=1,[15]=2})",
    r"local j = cjson.new() return j.encode_sparse_array(false, 3, 1), j.encode({[1]=1,[4]=2})",
    r"local j = cjson.new() return j.encode_sparse_array(1)",
    r'local j = cjson.new() return j.encode_sparse_array("on", 1, 1)',
    r'local j = cjson.new() return j.encode_sparse_array("off", -1)',
    r'local j = cjson.new() return j.encode_sparse_array(nil, nil, "5")',
    r"local j = cjson.new() return j.encode_sparse_array(true, 1, 2, 3)",
    r'local j = cjson.new() return j.encode_sparse_array(true, "x")',
    r"local j = cjson.new() return j.encode_sparse_array(true, {})",
    r"local j = cjson.new() return j.encode_max_depth(2), j.encode({{1}})",
    r"local j = cjson.new() j.encode_max_depth(2) return j.encode({{{1}}})",
    r"local j = cjson.new() return j.encode_max_depth(0)",
    r"local j = cjson.new() return j.encode_max_depth(2.7)",
    r'local j = cjson.new() return j.decode_max_depth(2), j.decode("[[1]]")',
    r'local j = cjson.new() j.decode_max_depth(2) return j.decode("[[[1]]]")',
    r'local j = cjson.new() j.decode_max_depth(2) return j.decode("{\"a\":{\"b\":{}}}")',
    r"local j = cjson.new() return j.encode_number_precision(3), j.encode(math.pi), j.encode({1/3})",
    r"local j = cjson.new() return j.encode_number_precision(15)",
    r"local j = cjson.new() return j.encode_number_precision(0)",
    r"local j = cjson.new() return j.encode_keep_buffer(false), j.encode_keep_buffer(), j.encode({1})",
    r'local j = cjson.new() return j.encode_keep_buffer("on"), j.encode_keep_buffer("bad")',
    r"local j = cjson.new() return j.encode_invalid_numbers(true), j.encode(0/0), j.encode(math.huge), j.encode(-math.huge), j.encode({[math.huge]=1})",
    r'local j = cjson.new() return j.encode_invalid_numbers("null"), j.encode(0/0), j.encode({1/0, -1/0})',
    r'local j = cjson.new() return j.encode_invalid_numbers("on")',
    r'local j = cjson.new() return j.encode_invalid_numbers("maybe")',
    r"local j = cjson.new() return j.encode_invalid_numbers(false)",
    r"local j = cjson.new() return j.encode_invalid_numbers(1, 2)",
    r'local j = cjson.new() return j.decode_invalid_numbers(false), j.decode("1")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("0x10")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("NaN")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("-Infinity")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("+1")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("01")',
    r'local j = cjson.new() j.decode_invalid_numbers(false) return j.decode("-0.5e3")',
    r"return cjson._NAME, cjson._VERSION, tostring(cjson.null), type(cjson.null)",
    r'return cjson.decode("[1,2,3]")',
    r'return cjson.decode("{\"a\":1,\"b\":[true,false,null]}")',
    r'return cjson.decode("  \t\r\n 42 \n")',
    r'return cjson.decode("\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\u0000x\"")',
    r'return cjson.decode("\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"")',
    r'return cjson.decode("\"\\ud83d\"")',
    r'return cjson.decode("\"\\ude00\"")',
    r'return cjson.decode("\"\\ud83d\\u0041\"")',
    r'return cjson.decode("\"\\u12\"")',
    r'return cjson.decode("\"\\x\"")',
    r'return cjson.decode("\"abc")',
    r'return cjson.decode("\"ab\\")',
    r'return cjson.decode("[1,2")',
    r'return cjson.decode("[1 2]")',
    r'return cjson.decode("{\"a\" 1}")',
    r'return cjson.decode("{1:2}")',
    r'return cjson.decode("{\"a\":1,}")',
    r'return cjson.decode("{\"a\":1 \"b\"}")',
    r'return cjson.decode("[1,]")',
    r'return cjson.decode("]")',
    r'return cjson.decode("")',
    r'return cjson.decode("   ")',
    r'return cjson.decode("nul")',
    r'return cjson.decode("tru")',
    r'return cjson.decode("truex")',
    r'return cjson.decode("[1] x")',
    r'return cjson.decode("[1]\0garbage")',
    r'return cjson.decode("\0[1]")',
    r'return cjson.decode("[\0]")',
    r'return cjson.decode("@")',
    r'return cjson.decode("\"a\0b\"")',
    r"return cjson.decode()",
    r'return cjson.decode("1", "2")',
    r"return cjson.decode(nil)",
    r"return cjson.decode({})",
    r"return cjson.decode(123)",
    r'return cjson.decode("0x1F"), cjson.decode("-0x10"), cjson.decode("0X1p4"), cjson.decode("0x1.8")',
    r'return cjson.decode("+5"), cjson.decode("01"), cjson.decode("-.5"), cjson.decode("1."), cjson.decode("1e5"), cjson.decode("1E+2"), cjson.decode("1e-2")',
    r'return cjson.decode("inf"), cjson.decode("-Infinity"), cjson.decode("INF"), cjson.decode("nan"), cjson.decode("-nan")',
    r'return cjson.decode("nan(123)")',
    r'return cjson.decode("infinit")',
    r'return cjson.decode("inx")',
    r'return cjson.decode("-")',
    r'return cjson.decode("-x")',
    r'return cjson.decode("1.5e")',
    r'return cjson.decode("0x")',
    r'return cjson.decode(".5")',
    r'return cjson.decode("1e400"), cjson.decode("-1e400"), cjson.decode("1e-400")',
    r'return cjson.decode("9007199254740993"), cjson.decode("-9223372036854775808"), cjson.decode("123456789012345678901234567890")',
    r'return cjson.decode("[[[[[[[[[[1]]]]]]]]]]")',
    r'return cjson.decode(string.rep("[", 1000) .. string.rep("]", 1000)) ~= nil',
    r'return cjson.decode(string.rep("[", 1001) .. string.rep("]", 1001))',
    r'return cjson.decode(string.rep("{\"a\":", 1001) .. "1" .. string.rep("}", 1001))',
    r'return cjson.decode("{\"a\":1,\"a\":2}")',
    r'return cjson.decode("[\"\1\2\31\"]")',
    r'return cjson.decode("{\"\":\"\"}")',
    r'return cjson.decode("[1,[2,[3,{}]],{\"x\":[]}]")',
    r'return cjson.decode(cjson.encode({a={1,2,{b="c"}}, d="e\n"}))',
    r'return cjson.decode("[null]")[1] == cjson.null, #cjson.decode("[null,null]")',
    r'return cjson.decode("[true,false]")',
    r'return cjson.decode("{\"a\":[1,2],\"b\":{\"c\":null}}")',
]

CMSGPACK = [
    r"return cmsgpack.pack(0), cmsgpack.pack(1), cmsgpack.pack(127), cmsgpack.pack(128), cmsgpack.pack(255), cmsgpack.pack(256)",
    r"return cmsgpack.pack(65535), cmsgpack.pack(65536), cmsgpack.pack(4294967295), cmsgpack.pack(4294967296), cmsgpack.pack(2^53), cmsgpack.pack(2^63 - 2^11)",
    r"return cmsgpack.pack(-1), cmsgpack.pack(-32), cmsgpack.pack(-33), cmsgpack.pack(-128), cmsgpack.pack(-129), cmsgpack.pack(-32768), cmsgpack.pack(-32769)",
    r"return cmsgpack.pack(-2147483648), cmsgpack.pack(-2147483649), cmsgpack.pack(-2^53), cmsgpack.pack(-2^63)",
    r"return cmsgpack.pack(2^63), cmsgpack.pack(2^64), cmsgpack.pack(-2^64), cmsgpack.pack(2^63 + 2^12)",
    r"return cmsgpack.pack(0.5), cmsgpack.pack(1.5), cmsgpack.pack(0.1), cmsgpack.pack(-2.25), cmsgpack.pack(1e300), cmsgpack.pack(1e-300), cmsgpack.pack(3.4028234663852886e38), cmsgpack.pack(1e39)",
    r"return cmsgpack.pack(math.huge), cmsgpack.pack(-math.huge), cmsgpack.pack(0/0), cmsgpack.pack(-(0/0)), cmsgpack.pack(-0.0)",
    r"return cmsgpack.pack(1.401298464324817e-45), cmsgpack.pack(2^-149), cmsgpack.pack(2^-150), cmsgpack.pack(2^-126), cmsgpack.pack(5e-324), cmsgpack.pack(2.2250738585072014e-308)",
    r'return cmsgpack.pack(""), cmsgpack.pack("a"), cmsgpack.pack(string.rep("x", 31)), cmsgpack.pack(string.rep("x", 32)), cmsgpack.pack(string.rep("x", 255))',
    r'return cmsgpack.pack(string.rep("x", 256)) == "\218\1\0" .. string.rep("x", 256), #cmsgpack.pack(string.rep("x", 65535)), string.sub(cmsgpack.pack(string.rep("x", 65536)), 1, 5)',
    r"return cmsgpack.pack(nil), cmsgpack.pack(true), cmsgpack.pack(false), cmsgpack.pack(tostring), cmsgpack.pack(cjson.null)",
    r"return cmsgpack.pack({}), cmsgpack.pack({1,2,3}), cmsgpack.pack({a=1}), cmsgpack.pack({1,2,nil,4}), cmsgpack.pack({[2]=1})",
    r"return cmsgpack.pack({[1.5]=1}), cmsgpack.pack({[0]=1}), cmsgpack.pack({[-1]=1}), cmsgpack.pack({[2^31]=1}), cmsgpack.pack({[true]=false})",
    r"local t = {} for i = 1, 15 do t[i] = i end local a = cmsgpack.pack(t) t[16] = 16 return a, string.sub(cmsgpack.pack(t), 1, 4)",
    r"local t = {} for i = 1, 65536 do t[i] = 0 end return string.sub(cmsgpack.pack(t), 1, 6), #cmsgpack.pack(t)",
    r"local t = {} for i = 1, 65535 do t[i] = 0 end return string.sub(cmsgpack.pack(t), 1, 6), #cmsgpack.pack(t)",
    r'local t = {} for i = 1, 16 do t["k" .. i] = 1 end return string.sub(cmsgpack.pack(t), 1, 3), #cmsgpack.pack(t)',
    r'local t = {} for i = 1, 65536 do t["k" .. i] = 1 end return string.sub(cmsgpack.pack(t), 1, 5), #cmsgpack.pack(t)',
    r"local t = {} t[1] = t return cmsgpack.pack(t)",
    r"local t = {a = {}} t.a.b = t return cmsgpack.pack(t)",
    r"return cmsgpack.pack()",
    r'return cmsgpack.pack(1, "a", {2})',
    r'return cmsgpack.unpack(cmsgpack.pack(1, "a", {2}, nil, true, 1.5))',
    r'return cmsgpack.unpack("")',
    r"return cmsgpack.unpack()",
    r"return cmsgpack.unpack(nil)",
    r"return cmsgpack.unpack({})",
    r"return cmsgpack.unpack(5)",
    r'return cmsgpack.unpack("\204")',
    r'return cmsgpack.unpack("\193")',
    r'return cmsgpack.unpack("\196\1a")',
    r'return cmsgpack.unpack("\212\1\1")',
    r'return cmsgpack.unpack("\145")',
    r'return cmsgpack.unpack("\147\1\2")',
    r'return cmsgpack.unpack("\129\192\1")',
    r'return cmsgpack.unpack("\129\203\127\248\0\0\0\0\0\0\1")',
    r'return cmsgpack.unpack("\146\192\1"), cmsgpack.unpack("\146\1\192")',
    r'return cmsgpack.unpack("\204\200\205\1\0\206\255\255\255\255\207\255\255\255\255\255\255\255\255")',
    r'return cmsgpack.unpack("\208\128\209\128\0\210\128\0\0\0\211\128\0\0\0\0\0\0\0\211\255\255\255\255\255\255\255\255")',
    r'return cmsgpack.unpack("\207\0\32\0\0\0\0\0\1\211\255\223\255\255\255\255\255\255")',
    r'return cmsgpack.unpack("\202\63\192\0\0\202\255\128\0\0\202\127\192\0\0\202\0\0\0\1\202\128\0\0\0")',
    r'return cmsgpack.unpack("\203\63\241\153\153\153\153\153\154\203\0\0\0\0\0\0\0\1\203\255\240\0\0\0\0\0\0\203\128\0\0\0\0\0\0\0")',
    r'return cmsgpack.unpack("\217\3abc\218\0\2xy\219\0\0\0\1z")',
    r'return cmsgpack.unpack("\220\0\2\1\2\221\0\0\0\1\3\222\0\1\1\2\223\0\0\0\1\3\4")',
    r'return cmsgpack.unpack("\217\5ab")',
    r'return cmsgpack.unpack("\221\0\0\0")',
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))",
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)",
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)",
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)",
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)",
    r"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)",
    r'return cmsgpack.unpack_one("")',
    r'return cmsgpack.unpack_one("\1", "x")',
    r'return cmsgpack.unpack_one("\1", "0")',
    r"return cmsgpack.unpack_one()",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 10)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))",
    r"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), nil)",
    r"return cmsgpack.unpack_limit(nil, 1)",
    r'return cmsgpack.unpack(cmsgpack.pack({a={b={c={1,2,{d="e"}}}}, [1.5]=-3.25}))',
    r'local t = {} for i = 1, 7998 do t[i] = i end local s = cmsgpack.pack(unpack(t, 1, 7000)) return select("#", cmsgpack.unpack(s))',
    r'local p = {} for i = 1, 7998 do p[i] = "\1" end local s = table.concat(p) return select("#", cmsgpack.unpack(s))',
    r'local p = {} for i = 1, 7999 do p[i] = "\1" end local s = table.concat(p) return select("#", cmsgpack.unpack(s))',
    r'local s = string.rep("\145", 5000) .. "\1" return select("#", cmsgpack.unpack(s))',
    r'local s = string.rep("\145", 3998) .. "\1" return select("#", cmsgpack.unpack(s))',
    r'local s = string.rep("\145", 3999) .. "\1" return select("#", cmsgpack.unpack(s))',
    r'local s = string.rep("\129\1", 3999) .. "\1" return select("#", cmsgpack.unpack(s))',
    r'local s = string.rep("\129\1", 4000) .. "\1" return select("#", cmsgpack.unpack(s))',
    r"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION",
]

BIT = [
    r"return bit.tobit(0), bit.tobit(1), bit.tobit(-1), bit.tobit(2^31), bit.tobit(2^32), bit.tobit(2^32 + 5), bit.tobit(-2^31 - 1)",
    r"return bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(-2.5), bit.tobit(0.49999999999999994), bit.tobit(2^52), bit.tobit(2^53 + 2), bit.tobit(2^60 + 2^33 + 7)",
    r"return bit.tobit(2^51), bit.tobit(2^51 + 1), bit.tobit(-2^51), bit.tobit(-2^51 - 1), bit.tobit(-2^52), bit.tobit(-2^52 - 2^51), bit.tobit(-2^53 - 6), bit.tobit(2^100 + 2^70), bit.tobit(1e300)",
    r'return bit.tobit(math.huge), bit.tobit(-math.huge), bit.tobit(0/0), bit.tobit("10"), bit.tobit("0x10"), bit.tobit(" 7 ")',
    r'return bit.tobit("x")',
    r"return bit.tobit()",
    r"return bit.tobit(nil)",
    r"return bit.tobit({})",
    r"return bit.tohex(1), bit.tohex(-1), bit.tohex(0x12345678, 4), bit.tohex(0x12345678, -4), bit.tohex(255, 2), bit.tohex(255, 0), bit.tohex(255, 20), bit.tohex(255, -20), bit.tohex(2^32 + 0xabc)",
    r"return bit.tohex(1, nil)",
    r"return bit.bnot(0), bit.bnot(-1), bit.bnot(5), bit.bnot(2^32 + 5), bit.bnot(2^31)",
    r"return bit.band(0xff, 0x0f), bit.band(-1, -2), bit.band(0xffffffff, 0x7fffffff), bit.band(1), bit.band(7, 3, 2), bit.band(-2^31, -1), bit.band(2^40 + 3, 1)",
    r"return bit.bor(1, 2, 4, 8), bit.bor(-1, 0), bit.bor(0x80000000, 1), bit.bor(2^32, 1)",
    r"return bit.bxor(1, 3), bit.bxor(-1, 1), bit.bxor(0xaaaaaaaa, 0x55555555), bit.bxor(1, 2, 4, 7)",
    r"return bit.band()",
    r"return bit.band(1, nil)",
    r"return bit.band(1, 2, {})",
    r'return bit.band({}, 2, "x")',
    r'return bit.bor(1, "x", nil)',
    r"return bit.lshift(1, 0), bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(-1, 4), bit.lshift(0x12345678, 8), bit.lshift(3, -1)",
    r"return bit.rshift(-1, 0), bit.rshift(-1, 1), bit.rshift(-1, 31), bit.rshift(0x80000000, 4), bit.rshift(256, 36), bit.rshift(5, -31)",
    r"return bit.arshift(-1, 1), bit.arshift(-256, 4), bit.arshift(0x80000000, 31), bit.arshift(256, 4), bit.arshift(-7, 33)",
    r"return bit.rol(0x12345678, 4), bit.rol(-1, 7), bit.rol(0x80000000, 1), bit.rol(1, 0), bit.rol(1, 32), bit.rol(1, 35)",
    r"return bit.ror(0x12345678, 4), bit.ror(1, 1), bit.ror(-2, 1), bit.ror(1, 0), bit.ror(1, -1)",
    r"return bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(1), bit.bswap(0x80), bit.bswap(2^32 + 0x01020304)",
    r"return bit.lshift(1)",
    r'return bit.rol("a", 1)',
    r"return bit.bswap()",
]

STRUCT = [
    r'return struct.pack("b", -1), struct.pack("B", 255), struct.pack("h", -2), struct.pack(">h", -2), struct.pack("H", 65535), struct.pack("i", 1), struct.pack(">I", 1)',
    r'return struct.pack("l", -1), struct.pack(">L", 2^53), struct.pack("<l", -2^63), struct.pack("T", 5), struct.pack("i3", 0x123456), struct.pack(">i3", -2)',
    r'return struct.pack("b", 300), struct.pack("B", -1), struct.pack("h", 70000), struct.pack("i", 2^40 + 1), struct.pack("b", 1.9), struct.pack("b", -1.9), struct.pack("i", "12")',
    r'return struct.pack("L", 2^64), struct.pack("L", 2^63), struct.pack("l", -2^64), struct.pack("i16", -1), struct.pack("i12", 1), struct.pack(">i9", -2)',
    r'return struct.pack("f", 1.5), struct.pack(">f", -0.1), struct.pack("f", 1e40), struct.pack("f", 1e-46), struct.pack("f", 0/0), struct.pack("f", -0.0)',
    r'return struct.pack("d", 1.5), struct.pack(">d", -0.1), struct.pack("d", 1/0), struct.pack("d", 5e-324), struct.pack("d", -0.0)',
    r'return struct.pack("s", "abc"), struct.pack("c", "abc"), struct.pack("c3", "abcd"), struct.pack("c0", "hello"), struct.pack("x"), struct.pack("xxb", 1)',
    r'return struct.pack("c5", "ab")',
    r'return struct.pack("i", "x")',
    r'return struct.pack("i")',
    r'return struct.pack("s", {})',
    r'return struct.pack("z", 1)',
    r'return struct.pack("b3", 1)',
    r'return struct.pack("i33", 1)',
    r'return struct.pack("i99999999999", 1)',
    r'return struct.pack("!3i", 1)',
    r'return struct.pack("!0i", 1)',
    r"return struct.pack()",
    r"return struct.pack(5)",
    r'return struct.pack("!bi", 1, 2), struct.pack("!4bd", 1, 2), struct.pack("!bd", 1, 2), struct.pack("!2bi", 1, 2), struct.pack("!bhbi", 1, 2, 3, 4), struct.pack("!8bi3", 1, 2), struct.pack("!b c3 i", 1, "abc", 2)',
    r'return struct.pack(" < b > h ", 1, 2)',
    r'return struct.pack("b\0h", 1, 2)',
    r'return struct.unpack("b", "\255"), struct.unpack("B", "\255"), struct.unpack("<h", "\254\255"), struct.unpack(">H", "\255\254"), struct.unpack("<i", "\1\0\0\0"), struct.unpack(">i", "\255\255\255\254")',
    r'return struct.unpack("<l", "\255\255\255\255\255\255\255\255"), struct.unpack("<L", "\255\255\255\255\255\255\255\255"), struct.unpack("<L", "\1\0\0\0\0\0\0\128"), struct.unpack("<l", "\1\0\0\0\0\0\32\0")',
    r'return struct.unpack("<i3", "\255\255\255"), struct.unpack("<I3", "\255\255\255"), struct.unpack(">i7", "\128\0\0\0\0\0\1"), struct.unpack("<I7", "\255\255\255\255\255\255\255")',
    r'return struct.unpack("<i9", "\200\0\0\0\0\0\0\0\0"), struct.unpack("<I9", "\1\0\0\0\0\0\0\0\9"), struct.unpack(">i12", "\0\0\0\0\0\0\0\0\0\0\0\5"), struct.unpack("<i16", string.rep("\255", 16))',
    r'return struct.unpack("<f", "\0\0\192\63"), struct.unpack(">f", "\255\128\0\0"), struct.unpack("<d", "\0\0\0\0\0\0\248\63"), struct.unpack(">d", "\0\0\0\0\0\0\0\1")',
    r'return struct.unpack("s", "abc\0def"), struct.unpack("c2", "abc"), struct.unpack("bc0", "\3abcd"), struct.unpack("xb", "\1\2")',
    r'return struct.unpack("s", "abc")',
    r'return struct.unpack("c0", "abc")',
    r'return struct.unpack("c2c0", "3abcd")',
    r'return struct.unpack("i", "ab")',
    r'return struct.unpack("b", "ab", 2), struct.unpack("b", "ab", 3)',
    r'return struct.unpack("b", "ab", 4)',
    r'return struct.unpack("b", "ab", 0)',
    r'return struct.unpack("b", "ab", -1)',
    r'return struct.unpack("", "ab", -1)',
    r'return struct.unpack("", "ab", 10)',
    r'return struct.unpack("<", "ab", 10)',
    r'return struct.unpack("b", "ab", 1.9)',
    r'return struct.unpack("b", "ab", "x")',
    r'return struct.unpack("b")',
    r"return struct.unpack()",
    r'return struct.unpack("!bi", struct.pack("!bi", -5, 7))',
    r'return struct.unpack("!4bd", struct.pack("!4bd", 1, 2.5))',
    r'return struct.unpack(">bhilfdsc3", struct.pack(">bhilfdsc3", -1, -2, -3, -4, 1.5, -2.25, "hi", "xyz"))',
    r'return struct.size("b"), struct.size("bhil"), struct.size("!bhil"), struct.size("!4bd"), struct.size("c10"), struct.size("i7"), struct.size("x"), struct.size("<>"), struct.size("")',
    r'return struct.size("z")',
    r'return struct.size("s")',
    r'return struct.size("c0")',
    r'return struct.size("!5")',
    r'return struct.size("#")',
    r"return struct.size()",
    r'local t = {} for i = 1, 8000 do t[i] = "b" end local f = table.concat(t) return select("#", struct.unpack(f, string.rep("\1", 8000)))',
    r'local t = {} for i = 1, 7995 do t[i] = "b" end local f = table.concat(t) return select("#", struct.unpack(f, string.rep("\1", 8000)))',
    r'local t = {} for i = 1, 7996 do t[i] = "b" end local f = table.concat(t) return select("#", struct.unpack(f, string.rep("\1", 8000)))',
]


# ---------------------------------------------------------------------------
# Differential tests against the real Redis
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", CJSON)
def test_cjson_matches_redis(rt: Any, real_redis: redis.Redis, code: str) -> None:
    check_same(rt, real_redis, code)


@pytest.mark.parametrize("code", CMSGPACK)
def test_cmsgpack_matches_redis(rt: Any, real_redis: redis.Redis, code: str) -> None:
    check_same(rt, real_redis, code)


@pytest.mark.parametrize("code", BIT)
def test_bit_matches_redis(rt: Any, real_redis: redis.Redis, code: str) -> None:
    check_same(rt, real_redis, code)


@pytest.mark.parametrize("code", STRUCT)
def test_struct_matches_redis(rt: Any, real_redis: redis.Redis, code: str) -> None:
    check_same(rt, real_redis, code)


def _random_value(r: random.Random, depth: int = 0) -> str:
    """A Lua expression for a random value (no NaN: it cannot be a table key)."""
    kind = r.randrange(10 if depth < 3 else 6)
    if kind == 0:
        return r.choice(["true", "false"])
    if kind == 1:
        return str(r.randint(-(2**40), 2**40))
    if kind == 2:
        return repr(r.choice([0.5, -1.25, 1e-300, 3.14159, 2.0**60, -(2.0**63), 1e20, 0.1]))
    if kind == 3:
        n = r.choice([0, 1, 5, 31, 32, 40, 255, 256, 300])
        char = repr(chr(r.randrange(32, 127))).replace("\\", "\\\\")
        return f"string.rep({char}, {n})"
    if kind == 4:
        return str(r.randint(-200, 300))
    if kind == 5:
        raw = bytes(r.randrange(256) for _ in range(r.randrange(12)))
        return '"' + "".join(f"\\{b}" for b in raw) + '"'
    if kind in (6, 7):
        items = [_random_value(r, depth + 1) for _ in range(r.randrange(0, 20))]
        return "{" + ", ".join(items) + "}"
    pairs = []
    for i in range(r.randrange(1, 18)):
        key = r.choice([f'["k{i}"]', f"[{r.randint(-5, 40)}]", f"[{i + 0.5}]"])
        pairs.append(f"{key} = {_random_value(r, depth + 1)}")
    return "{" + ", ".join(pairs) + "}"


@pytest.mark.parametrize("seed", range(40))
def test_random_values_match_redis(rt: Any, real_redis: redis.Redis, seed: int) -> None:
    r = random.Random(seed)
    values = ", ".join(_random_value(r) for _ in range(8))
    code = (
        f"local vals = {{{values}}} "
        "local out = {} "
        "for i = 1, 8 do "
        "  local v = vals[i] "
        "  local p = cmsgpack.pack(v) "
        "  out[#out + 1] = p "
        "  out[#out + 1] = cjson.encode(cmsgpack.unpack(p)) "
        "  local ok, j = pcall(cjson.encode, v) "
        "  out[#out + 1] = tostring(ok) .. ':' .. tostring(j) "
        "  if ok then out[#out + 1] = cjson.encode(cjson.decode(j)) end "
        "end "
        "out[#out + 1] = cmsgpack.pack(unpack(vals, 1, 8)) "
        "return out"
    )
    check_same(rt, real_redis, code)


@pytest.mark.parametrize("seed", range(10))
def test_random_bit_ops_match_redis(rt: Any, real_redis: redis.Redis, seed: int) -> None:
    r = random.Random(1000 + seed)
    nums = []
    for _ in range(40):
        nums.append(
            r.choice(
                [
                    str(r.randint(-(2**31), 2**32)),
                    str(r.randint(-(2**60), 2**60)),
                    repr(r.uniform(-1e6, 1e6)),
                    repr(r.uniform(-(2.0**55), 2.0**55)),
                    str(r.randint(-40, 40)),
                ]
            )
        )
    code = (
        f"local n = {{{', '.join(nums)}}} local out = {{}} "
        "for i = 1, #n - 1 do local a, b = n[i], n[i + 1] "
        "  out[#out + 1] = table.concat({bit.tobit(a), bit.tohex(a), bit.bnot(a), "
        "    bit.band(a, b), bit.bor(a, b), bit.bxor(a, b), bit.lshift(a, b), "
        "    bit.rshift(a, b), bit.arshift(a, b), bit.rol(a, b), bit.ror(a, b), "
        "    bit.bswap(a), bit.tohex(a, b)}, ',') "
        "end return out"
    )
    check_same(rt, real_redis, code)


@pytest.mark.parametrize("seed", range(10))
def test_random_struct_match_redis(rt: Any, real_redis: redis.Redis, seed: int) -> None:
    r = random.Random(2000 + seed)
    opts = []
    args = []
    for _ in range(12):
        opt = r.choice(["b", "B", "h", "H", "i", "I", "l", "L", "f", "d", "i3", "I5", "i7", "x"])
        opts.append(r.choice(["", "<", ">", "!", "!4"]) + opt)
        if opt != "x":
            args.append(
                repr(
                    r.choice(
                        [r.randint(-(2**62), 2**62), r.randint(-300, 300), r.uniform(-1e10, 1e10)]
                    )
                )
            )
    fmt = "".join(opts)
    code = (
        f'local s = struct.pack("{fmt}", {", ".join(args)}) '
        f'return s, struct.size("{fmt}"), struct.unpack("{fmt}", s)'
    )
    check_same(rt, real_redis, code)


def test_tail_call_error_has_no_position(rt: Any, real_redis: redis.Redis) -> None:
    # Known deviation: C functions see the frame of a caller that tail-called
    # them, a pure Lua function cannot.  Non tail calls are prefixed alike.
    src = b"return cjson.decode('x')"
    mine = rt.execute(b"return pcall(function() " + src + b" end)", name=b"=user_script")
    assert mine == (False, b"Expected value but found invalid token at character 1")
    client: Any = real_redis
    with pytest.raises(redis.ResponseError, match="user_script:1: Expected value"):
        client.eval(src, 0)
    non_tail = b"local v = cjson.decode('x') return v"
    mine = rt.execute(b"return pcall(function() " + non_tail + b" end)", name=b"=user_script")
    assert mine == (False, b"user_script:1: Expected value but found invalid token at character 1")


# ---------------------------------------------------------------------------
# Direct expectations (no Redis needed)
# ---------------------------------------------------------------------------


def test_install_returns_the_four_tables() -> None:
    runtime = lua51.LuaRuntime(
        encoding=None, register_eval=False, register_builtins=False, unpack_returned_tuples=True
    )
    tables = install(runtime)
    assert sorted(tables) == [b"bit", b"cjson", b"cmsgpack", b"struct"]
    lua_type = runtime.eval(b"type")
    for table in tables.values():
        assert lua_type(table) == b"table"
    encode = tables[b"cjson"][b"encode"]  # type: ignore[index]
    assert encode(runtime.table(1, 2, 3)) == b"[1,2,3]"


def test_cjson_basics(rt: Any) -> None:
    ev = rt.execute
    assert ev(b"return cjson.encode({1, 2, 3})") == b"[1,2,3]"
    assert ev(b"return cjson.encode({})") == b"{}"
    assert ev(b'return cjson.encode("a/b")') == b'"a\\/b"'
    assert ev(b"return cjson.encode(0.1)") == b"0.1"
    assert ev(b"return cjson.encode(2^53)") == b"9.007199254741e+15"
    assert ev(b"return cjson.encode(-0.0)") == b"-0"
    assert ev(b"return cjson.encode({cjson.null})") == b"[null]"
    assert ev(b'return cjson.decode("[1,null]")[2] == cjson.null') is True
    assert ev(b'return cjson.decode("\\"\\\\ud83d\\\\ude00\\"")') == "\U0001f600".encode()
    assert ev(b"return tostring(cjson.null)") == b"userdata: (nil)"
    assert ev(b"return pcall(cjson.encode, 0/0)") == (
        False,
        b"Cannot serialise number: must not be NaN or Inf",
    )
    assert ev(b"return pcall(cjson.decode, '[1,')") == (
        False,
        b"Expected value but found T_END at character 4",
    )


def test_cmsgpack_widths(rt: Any) -> None:
    cases = {
        b"0": b"\x00",
        b"127": b"\x7f",
        b"128": b"\xcc\x80",
        b"256": b"\xcd\x01\x00",
        b"65536": b"\xce\x00\x01\x00\x00",
        b"2^32": b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
        b"-1": b"\xff",
        b"-33": b"\xd0\xdf",
        b"-129": b"\xd1\xff\x7f",
        b"-32769": b"\xd2\xff\xff\x7f\xff",
        b"-2^31-1": b"\xd3\xff\xff\xff\xff\x7f\xff\xff\xff",
        b"1.5": b"\xca\x3f\xc0\x00\x00",
        b"0.1": b"\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a",
        b"nil": b"\xc0",
        b"true": b"\xc3",
        b"false": b"\xc2",
        b"'abc'": b"\xa3abc",
        b"string.rep('x', 32)": b"\xd9\x20" + b"x" * 32,
        b"{}": b"\x90",
        b"{1, 2}": b"\x92\x01\x02",
        b"{a = 1}": b"\x81\xa1a\x01",
    }
    for expr, packed in cases.items():
        assert rt.execute(b"return cmsgpack.pack(" + expr + b")") == packed, expr
    assert rt.execute(b"return cmsgpack.unpack('\\1\\2\\3')") == (1, 2, 3)
    assert rt.execute(b"return cmsgpack.unpack_one('\\1\\2\\3')") == (1, 1)
    assert rt.execute(b"return cmsgpack.unpack_limit('\\1\\2\\3', 2)") == (2, 1, 2)


def test_bit_and_struct_basics(rt: Any) -> None:
    ev = rt.execute
    assert ev(b"return bit.tobit(2^32 + 5)") == 5
    assert ev(b"return bit.band(-1, 0xff)") == 255
    assert ev(b"return bit.tohex(-1)") == b"ffffffff"
    assert ev(b"return bit.lshift(1, 31)") == -2147483648
    assert ev(b"return bit.bswap(0x12345678)") == 0x78563412
    assert ev(b"return struct.pack('>i', 1)") == b"\x00\x00\x00\x01"
    assert ev(b"return struct.unpack('<h', '\\254\\255')") == (-2, 3)
    assert ev(b"return struct.size('!bd')") == 16


def test_libraries_do_not_leak_an_environment(rt: Any) -> None:
    # getfenv() of a library function gives a locked, empty table.
    assert rt.execute(b"return next(getfenv(cjson.encode))") is None
    ok, err = rt.execute(b"return pcall(function() getfenv(bit.band).x = 1 end)")
    assert ok is False and b"must not access global" in err
    assert rt.execute(b"return getmetatable(getfenv(struct.pack))") is False
    assert rt.execute(b"return getmetatable(cjson.null)") is False


def test_libraries_survive_hidden_globals() -> None:
    runtime = new_runtime()
    runtime.execute(
        b"string, table, math, type, pairs, next, tostring, tonumber, select, error, "
        b"pcall, rawget, rawset, setmetatable, getmetatable, unpack = nil"
    )
    g = runtime.globals()
    assert g[b"cjson"][b"encode"](g[b"cjson"][b"decode"](b'{"a":[1,2.5,"x"]}')) in (
        b'{"a":[1,2.5,"x"]}',
    )
    packed = g[b"cmsgpack"][b"pack"](1, b"two", 3.5)
    assert g[b"cmsgpack"][b"unpack"](packed) == (1, b"two", 3.5)
    assert g[b"bit"][b"bxor"](5, 3) == 6
    assert g[b"struct"][b"unpack"](b"<i", g[b"struct"][b"pack"](b"<i", -7)) == (-7, 5)


def test_large_inputs_are_reasonably_fast(rt: Any) -> None:
    start = time.perf_counter()
    n = rt.execute(
        b"local t = {} for i = 1, 20000 do t[i] = {id = i, name = 'item' .. i, v = i / 3} end "
        b"local s = cjson.encode(t) local back = cjson.decode(s) "
        b"local p = cmsgpack.pack(back) local again = cmsgpack.unpack(p) "
        b"return #again"
    )
    assert n == 20000
    assert time.perf_counter() - start < 20
