"""Scripting replies and errors, byte for byte against a real redis-server (RESP2 and RESP3)."""

from __future__ import annotations

import pytest

from tests.conftest import Differ

SCRIPTS = [
    "return 'hello'",
    "return 100.5",
    "return -100.9",
    "return 2^53",
    "return 1e300",
    "return 0/0",
    "return true",
    "return false",
    "return nil",
    "return {}",
    "return {1, 2, 3, 'ciao', {1, 2}}",
    "return {1, nil, 3}",
    "return {1, 2, x = 3}",
    "return {ok = 'fine'}",
    "return {err = 'My Error'}",
    "return {err = 'ERR x\\r\\ny'}",
    "return redis.status_reply('PONG')",
    "return redis.error_reply('CODE message')",
    "return redis.error_reply('nocode')",
    "return {double = 3.141}",
    "return {double = 0.1}",
    "return {map = {a = 1}}",
    "return {set = {a = true}}",
    "return {big_number = '123456789012345678901234567890'}",
    "return {verbatim_string = {format = 'txt', string = 'hi'}}",
    "return {1, {ok = 'nested'}, {err = 'NESTED e'}}",
    "return {ok = 'a\\r\\nb'}",
    "return {ok = 'OK'}",
    "local r = redis.call('set', KEYS[1], 'v'); return {type(r), r.ok}",
    "return redis.pcall('set', KEYS[1], 'v')",
    "return {redis.call('set', KEYS[1], 'v')}",
    "redis.call('set', KEYS[1], 'v'); return redis.call('expire', KEYS[1], 100)",
    "redis.call('set', KEYS[1], 'v'); return redis.call('expire', KEYS[1], 1.5)",
    "return redis.call('set', KEYS[1], 'v', 'ex', 100, 'get')",
    "return KEYS[1] .. ARGV[1]",
    "return #KEYS + #ARGV",
    "return redis.call('set', KEYS[1], 'v')",
    "return redis.call('get', KEYS[1])",
    "return redis.call('get', 'missing{k}')",
    "return redis.call('incr', 'counter{k}')",
    "return redis.pcall('incr', KEYS[1])",
    "return redis.call('incr', KEYS[1])",
    "redis.call('incr', KEYS[1])",
    "return redis.pcall('nosuch')",
    "redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.pcall('get')",
    "return redis.call()",
    "return redis.call('set', KEYS[1], {})",
    "return redis.call('ping', true)",
    "return redis.call('rpush', 'l{k}', 1, 2.5, 3)",
    "return redis.call('lrange', 'l{k}', 0, -1)",
    "return redis.call('hset', 'h{k}', 'f', 1)",
    "return redis.call('hgetall', 'h{k}')",
    "redis.setresp(3); return redis.call('hgetall', 'h{k}')",
    "redis.setresp(3); return redis.call('zadd', 'z{k}', 1.5, 'm')",
    "redis.setresp(3); return redis.call('zscore', 'z{k}', 'm')",
    "return redis.call('zscore', 'z{k}', 'm')",
    "redis.setresp(3); return redis.call('get', 'missing{k}')",
    "redis.setresp(3); return true",
    "redis.setresp(3); return false",
    "return redis.setresp(4)",
    "return redis.sha1hex('Pizza & Mandolino')",
    "return redis.sha1hex()",
    "return redis.log(redis.LOG_WARNING, 'hello')",
    "return redis.log(99, 'x')",
    "return redis.set_repl(12345)",
    "return redis.replicate_commands()",
    "return redis.REDIS_VERSION_NUM ~= nil",
    "return a",
    "a = 1",
    "error('boom')",
    "error({err = 'TABLE err'})",
    "local ok, e = pcall(redis.call, 'nosuch'); return e",
    "local ok, e = pcall(error, {err = 'X'}); return e",
    "return {pcall(function() return x end)}",
    "return cjson.encode({1, 2, {a = 'b'}})",
    "return cjson.decode('[1,2,3]')",
    "return cmsgpack.unpack(cmsgpack.pack({1, 2, 3}))",
    "return bit.band(0xff, 0x0f)",
    "return struct.pack('>I2', 258)",
    # Errors raised inside the libraries point at the script's line, as Redis's C libraries do.
    "return cmsgpack.unpack(ARGV[1])",
    "local t = cmsgpack.unpack('\\193')\nreturn t",
    "local t = cjson.decode('{')",
    "return struct.unpack('>I', 'a')",
    "\n\nreturn bit.band({})",
    "math.randomseed(42); return {math.random(100), math.random(1, 10), tostring(math.random())}",
    "return loadstring('return 1')()",
    "return loadstring(string.dump(function() return 1 end))",
    # What loadstring loads runs in the script's protected globals, not the real ones.
    "local f = loadstring('x = 1'); f(); return 1",
    "return type(loadstring('return setfenv')())",
    "return type(loadstring('return rawset')())",
    "return loadstring('return redis.call(\"get\", KEYS[1])')()",
    "return tostring(1e15) .. ' ' .. tostring(0.1)",
    "return string.format('%5.2f|%d|%s', 3.14159, 42, 'x')",
    "return redis.call('set', KEYS[1], 12039611435714932082)",
    "redis.call('set', KEYS[1], 9007199254740991); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], 0.1); return redis.call('get', KEYS[1])",
    # Integral numbers either side of where %.17g switches to an exponent.
    "redis.call('set', KEYS[1], 99999999999999984); return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], -1e17); return redis.call('get', KEYS[1])",
    "return redis.call('set', KEYS[1], -123456789, 'px', 1e5)",
    # Array replies: short ones with nulls and integers, and one past the flat path's 1000.
    "redis.call('hset', 'h{k}', 'a', 1); return redis.call('hmget', 'h{k}', 'a', 'no', 'a')",
    "local t = redis.call('hmget', 'h{k}', 'no', 'no'); return {#t, type(t[1]), t[2]}",
    "redis.call('rpush', 'l{k}', 1, 2); return redis.call('lpos', 'l{k}', 2, 'count', 0)",
    "local t = {} for i = 1, 1001 do t[i] = i end redis.call('rpush', 'l{k}', unpack(t)) "
    "local r = redis.call('lrange', 'l{k}', 0, -1) local s = redis.call('lrange', 'l{k}', 1, -1) "
    "return {#r, r[1], r[1000], r[1001], #s, s[1], s[1000]}",
    "return redis.call('blpop', 'x', 0)",
    "return redis.call('eval', 'return 1', 0)",
    "return redis.call('select', 99)",
    "return type(unpack)",
    "return {unpack({1,2,3}, -1, 5)}",
    "#!lua\nreturn x",
    "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 1)",
    "#!not-lua\nreturn 1",
    "#!lua flags=bad\nreturn 1",
    # Cluster flags mean nothing in standalone mode (tests/cluster: what they do there).
    "#!lua flags=no-cluster\nreturn redis.call('get', KEYS[1])",
    "#!lua flags=allow-cross-slot-keys\nredis.call('set', 'a', 1) return redis.call('get', KEYS[1])",
    "#!lua opt=1\nreturn 1",
    "return 'a' ..",
]


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("script", SCRIPTS)
def test_eval_matches_redis(diff: Differ, script: str, proto: int) -> None:
    if proto == 3:
        diff.both("HELLO", "3")
    diff("SET", "str{k}", "text")
    diff("EVAL", script, "1", "str{k}", "arg")
    diff("EVAL_RO", script, "1", "str{k}", "arg")


@pytest.mark.parametrize(
    "args",
    [
        ("EVAL", "return 1", "-1"),
        ("EVAL", "return 1", "2", "a"),
        ("EVAL", "return 1", "x"),
        ("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"),
        ("EVALSHA", "short", "0"),
        ("SCRIPT", "EXISTS", "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9"),
        ("SCRIPT", "LOAD", "return 'loaded'"),
        ("EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
        ("EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"),
        ("EVALSHA_RO", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
        ("SCRIPT", "FLUSH", "BAD"),
        ("SCRIPT", "KILL"),
        ("SCRIPT", "NOPE"),
        ("SCRIPT", "FLUSH"),
        ("FCALL", "nosuch", "0"),
        ("FUNCTION", "LOAD", "return 1"),
        ("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function(k, a) return {k[1], a[1]} end)"),
        ("FCALL", "f1", "1", "key", "arg"),
        ("FCALL_RO", "f1", "1", "key", "arg"),
        ("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"),
        ("FUNCTION", "DELETE", "lib1"),
        ("FUNCTION", "DELETE", "lib1"),
        ("FUNCTION", "KILL"),
    ],
)
def test_script_commands_match_redis(diff: Differ, args: tuple[str, ...]) -> None:
    diff(*args)


def test_functions_loadstring_matches_redis(diff: Differ) -> None:
    diff.both("FUNCTION", "FLUSH")
    diff(
        "FUNCTION", "LOAD",
        "#!lua name=lst\n"
        "redis.register_function('ping', function() return loadstring('return redis.call(\"ping\")')() end)\n"
        "redis.register_function('write', function() return loadstring('y = 1')() end)\n"
        "redis.register_function('reach', function() return loadstring('return type(setfenv)')() end)",
    )
    for name in ("ping", "write", "reach"):
        diff("FCALL", name, "0")
    diff("FUNCTION", "LOAD", "#!lua name=top\nloadstring('return 1')")


ERRING_LIBRARY = """#!lua name=errs
local function helper(k)
  return redis.call('incr', k)
end
redis.register_function('reply', function(k, a) return redis.error_reply('MY own') end)
redis.register_function('runtime', function(k, a) local x = nil; return x.y end)
redis.register_function('raise', function(k, a) error('raised') end)
redis.register_function('raise_table', function(k, a) error({err='TBL raised'}) end)
redis.register_function('call', function(k, a) return redis.call('incr', k[1]) end)
redis.register_function('call_then', function(k, a)
  local v = redis.call('incr', k[1])
  return v
end)
redis.register_function('call_unknown', function(k, a) return redis.call('nosuch') end)
redis.register_function('call_arity', function(k, a) return redis.call('get') end)
redis.register_function('call_wrongtype', function(k, a) return redis.call('lpush', k[1], 'x') end)
redis.register_function('in_helper', function(k, a) return helper(k[1]) end)
redis.register_function('pcall', function(k, a) return redis.pcall('incr', k[1]) end)
redis.register_function{function_name='ro', callback=function(k, a) return redis.call('set', k[1], 'b') end,
  flags={'no-writes'}}
"""


def test_function_error_replies_match_redis(diff: Differ) -> None:
    """The text and the "script: <name>, on @user_function:<line>." suffix of each way a
    function fails, for FCALL and FCALL_RO: redis.call's errors included (moonkv's redis.call
    is a Lua function, whose tail call would lose the caller's line)."""
    diff.both("FUNCTION", "FLUSH")
    diff("SET", "str", "abc")
    diff("FUNCTION", "LOAD", ERRING_LIBRARY)
    assert ERRING_LIBRARY.encode() in diff.m.call("FUNCTION", "LIST", "WITHCODE")  # as loaded
    for name in ("reply", "runtime", "raise", "raise_table", "call", "call_then", "call_unknown",
                 "call_arity", "call_wrongtype", "in_helper", "pcall", "ro"):
        diff("FCALL", name, "1", "str")
        diff("FCALL_RO", name, "1", "str")
    diff("EVAL", "local function f(k)\n  return redis.call('incr', k)\nend\nreturn f(KEYS[1])", "1", "str")
    diff.both("FUNCTION", "FLUSH")


LIBRARY_BODIES = [
    "redis.register_function('a', 1)",
    "redis.register_function(1, function() end)",
    "redis.register_function(1.5, function() end)",
    "redis.register_function({function_name=12, callback=function() end, description=5})",
    "redis.register_function({function_name='a'})",
    "redis.register_function({callback=function() end})",
    "redis.register_function({function_name='a', callback=function() end, flags={'bad'}})",
    "redis.register_function({function_name='a', callback=function() end, other=1})",
    "redis.register_function('a')",
    "redis.register_function('a b', function() end)",
    "redis.register_function('a', function() end) redis.register_function('a', function() end)",
    "local t = {} t.x.y = 1",
    "error('boom')",
    "return nosuch",
    "redis.call('ping')",
    "return 'a' ..",
]


@pytest.mark.parametrize("body", LIBRARY_BODIES)
def test_function_load_errors_match_redis(diff: Differ, body: str) -> None:
    diff.both("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", "#!lua name=lib\n" + body)
    diff("FUNCTION", "LIST")


_TYPES = ("bignum", "map", "set", "double", "null", "verbatim", "true", "false", "attrib")


def test_debug_set_disable_deny_scripts(debug_diff: Differ) -> None:
    """DEBUG SET-DISABLE-DENY-SCRIPTS 1 lets scripts call noscript commands (the suite's
    DEBUG PROTOCOL and DEBUG SLEEP tests); 0 (or anything atoi reads as 0) refuses them."""
    d = debug_diff
    call_debug = "redis.setresp({lua}); return redis.call('debug', 'protocol', '{kind}')"
    try:
        d("EVAL", "return redis.call('debug', 'protocol', 'double')", "0")  # refused
        d("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
        for client in (2, 3):
            d.both("HELLO", client)  # (the replies hold each server's client id)
            for lua in (2, 3):
                for kind in _TYPES:
                    d("EVAL", call_debug.format(lua=lua, kind=kind), "0")
        d.both("HELLO", 2)
        # A script's time stands still across DEBUG SLEEP: the key has not expired in it.
        d("EVAL", "redis.call('SET', 'key', 'value', 'PX', '1') redis.call('DEBUG', 'SLEEP', '0.01') "
                  "return redis.call('EXISTS', 'key')", "0")
        d("EXISTS", "key")
        d("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "x")  # atoi: 0
        d("EVAL", "return redis.call('debug', 'protocol', 'double')", "0")
    finally:
        d.both("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")
        d.both("HELLO", 2)


def test_disabled_deny_still_refuses_what_would_run_a_script(r: object) -> None:
    """moonkv keeps refusing, even then, the commands that would start a script or turn the
    script's client into something else (Redis asserts on a nested EVAL)."""
    import redis

    assert isinstance(r, redis.Redis)
    r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
    try:
        for call in ("redis.call('eval', 'return 1', 0)", "redis.call('multi')",
                     "redis.call('subscribe', 'ch')", "redis.call('monitor')"):
            with pytest.raises(redis.ResponseError, match="not allowed from script"):
                r.eval(call, 0)
        assert r.eval("return redis.call('debug', 'protocol', 'integer')", 0) == 12345
    finally:
        r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")
