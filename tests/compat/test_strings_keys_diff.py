"""Differential checks of string, bitmap and generic key commands against redis-server 7.0.

Every reply is compared byte for byte (the ``diff`` fixture).  Hand-written sequences
cover the options and error paths of each command; a Hypothesis test drives random
deterministic command sequences over a few keys.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Differ

# -- strings -----------------------------------------------------------------------


def test_get_set_family(diff: Differ) -> None:
    diff("SET", "k", "v")
    diff("GET", "k")
    diff("SET", "k", "v2", "NX")
    diff("SET", "k", "v2", "XX")
    diff("SET", "k", "v3", "XX", "GET")
    diff("SET", "new", "v", "XX", "GET")
    diff("SET", "new", "v", "NX", "GET")
    diff("SET", "new", "v", "NX", "GET")
    diff("SET", "k", "v", "NX", "XX")
    diff("SET", "k", "v", "XX", "NX")
    diff("SET", "k", "v", "EX", "0")
    diff("SET", "k", "v", "EX", "-1")
    diff("SET", "k", "v", "PX", "0")
    diff("SET", "k", "v", "EX", "x")
    diff("SET", "k", "v", "EX")
    diff("SET", "k", "v", "EX", "10", "PX", "10")
    diff("SET", "k", "v", "EX", "10", "EX", "20")
    diff("SET", "k", "v", "KEEPTTL", "EX", "10")
    diff("SET", "k", "v", "EX", "10", "KEEPTTL")
    diff("SET", "k", "v", "PERSIST")
    diff("SET", "k", "v", "EX", "9223372036854775807")
    diff("SET", "k", "v", "EX", "9223372036854775")
    diff("SET", "k", "v", "PX", "9223372036854775807")
    diff("SET", "k", "v", "EXAT", "9223372036854775")
    diff("SET", "k", "v", "PXAT", "9223372036854775807")
    diff("SET", "k", "v", "FOO")
    diff("SET", "k", "v", "KEEPTTL")
    diff("SET", "k", "v", "GET", "GET")
    diff("LPUSH", "list", "a")
    diff("SET", "list", "v", "GET")
    diff("GET", "list")
    diff("SET", "list", "v")
    diff("GET", "list")
    diff("SET", "k", "")
    diff("GET", "k")
    diff("SET")
    diff("SET", "k")


def test_setnx_setex_psetex(diff: Differ) -> None:
    diff("SETNX", "a", "1")
    diff("SETNX", "a", "2")
    diff("GET", "a")
    diff("SETEX", "b", "100", "v")
    diff("GET", "b")
    diff("SETEX", "b", "0", "v")
    diff("SETEX", "b", "-10", "v")
    diff("SETEX", "b", "x", "v")
    diff("SETEX", "b", "9223372036854775807", "v")
    diff("PSETEX", "c", "100000", "v")
    diff("PSETEX", "c", "0", "v")
    diff("PSETEX", "c", "1.5", "v")
    diff("SETEX", "b", "100")
    diff("SETNX", "a")


def test_mget_mset_msetnx(diff: Differ) -> None:
    diff("MSET", "a", "1", "b", "2")
    diff("MSET", "a", "1", "b")
    diff("MGET", "a", "b", "nokey")
    diff("LPUSH", "l", "x")
    diff("MGET", "a", "l", "b")
    diff("MSETNX", "c", "3", "d", "4")
    diff("MSETNX", "c", "3", "e", "4")
    diff("MSETNX", "x", "1", "y")
    diff("MGET", "c", "d", "e")
    diff("MSETNX", "f", "1", "f", "2")
    diff("GET", "f")


def test_getset_getdel_getex(diff: Differ) -> None:
    diff("GETSET", "k", "v1")
    diff("GETSET", "k", "v2")
    diff("GETDEL", "k")
    diff("GETDEL", "k")
    diff("LPUSH", "l", "x")
    diff("GETSET", "l", "v")
    diff("GETDEL", "l")
    diff("GETEX", "l")
    diff("SET", "k", "v")
    diff("GETEX", "k")
    diff("GETEX", "k", "EX", "100")
    diff("TTL", "k")
    diff("GETEX", "k", "PERSIST")
    diff("TTL", "k")
    diff("GETEX", "k", "PX", "100000")
    diff("GETEX", "k", "EXAT", "4000000000")
    diff("EXPIRETIME", "k")
    diff("GETEX", "k", "PXAT", "4000000000000")
    diff("PEXPIRETIME", "k")
    diff("GETEX", "k", "EX", "0")
    diff("GETEX", "k", "EX", "-1")
    diff("GETEX", "k", "EX", "x")
    diff("GETEX", "k", "EX", "1", "PX", "1")
    diff("GETEX", "k", "PERSIST", "EX", "1")
    diff("GETEX", "k", "EX", "1", "PERSIST")
    diff("GETEX", "k", "NX")
    diff("GETEX", "k", "KEEPTTL")
    diff("GETEX", "k", "GET")
    diff("GETEX", "k", "EX")
    diff("GETEX", "k", "EX", "9223372036854775807")
    diff("GETEX", "k", "EXAT", "1")
    diff("EXISTS", "k")
    diff("GETEX", "nokey", "EX", "10")
    diff("GETEX", "nokey", "FOO")


def test_append_strlen_ranges(diff: Differ) -> None:
    diff("APPEND", "s", "hello")
    diff("APPEND", "s", " world")
    diff("STRLEN", "s")
    diff("STRLEN", "nokey")
    diff("SET", "n", "123")
    diff("APPEND", "n", "4")
    diff("GET", "n")
    for start, end in [(0, 3), (-3, -1), (0, -1), (5, 3), (-1, -5), (-100, 100), (100, 200),
                       (0, 0), (-1, -1), (3, -100)]:
        diff("GETRANGE", "s", start, end)
        diff("SUBSTR", "s", start, end)
    diff("GETRANGE", "nokey", 0, -1)
    diff("GETRANGE", "s", "a", 1)
    diff("GETRANGE", "s", 0, "b")
    diff("SET", "e", "")
    diff("GETRANGE", "e", 0, -1)
    diff("SETRANGE", "s", 6, "WORLD")
    diff("GET", "s")
    diff("SETRANGE", "s", 20, "x")
    diff("GET", "s")
    diff("SETRANGE", "s", -1, "x")
    diff("SETRANGE", "s", "a", "x")
    diff("SETRANGE", "s", 0, "")
    diff("SETRANGE", "new", 0, "")
    diff("EXISTS", "new")
    diff("SETRANGE", "new", 3, "abc")
    diff("GET", "new")
    diff("SETRANGE", "new", 536870911, "x")
    diff("SETRANGE", "new", 536870912, "x")
    diff("SETRANGE", "new", 9223372036854775807, "x")
    diff("LPUSH", "l", "x")
    diff("APPEND", "l", "x")
    diff("STRLEN", "l")
    diff("GETRANGE", "l", 0, 1)
    diff("SETRANGE", "l", 0, "x")
    diff("SETRANGE", "l", 0, "")


def test_proto_max_bulk_len(diff: Differ) -> None:
    diff("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        diff("SET", "k", "x" * 1000)
        diff("APPEND", "k", "y" * 1048000)
        diff("APPEND", "k", "y" * 1000)
        diff("SETRANGE", "k", 1048576, "x")
        diff("SETRANGE", "k", 1048575, "x")
        diff("SETBIT", "b", 8 * 1048576, 1)
        diff("SETBIT", "b", 8 * 1048576 - 1, 1)
        diff("STRLEN", "b")
        diff("GETBIT", "b", 8 * 1048576)
        diff("BITFIELD", "b", "SET", "u8", 8 * 1048576, 1)
        diff("LCS", "k", "b", "LEN")
    finally:
        diff("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_incr_decr(diff: Differ) -> None:
    diff("INCR", "n")
    diff("INCRBY", "n", 10)
    diff("DECR", "n")
    diff("DECRBY", "n", 100)
    diff("INCRBY", "n", "-0")
    diff("INCRBY", "n", "01")
    diff("INCRBY", "n", "+1")
    diff("INCRBY", "n", "1.5")
    diff("INCRBY", "n", " 1")
    diff("SET", "n", "9223372036854775806")
    diff("INCR", "n")
    diff("INCR", "n")
    diff("SET", "n", "-9223372036854775807")
    diff("DECR", "n")
    diff("DECR", "n")
    diff("DECRBY", "n", "-9223372036854775808")
    diff("DECRBY", "x", "-9223372036854775808")
    diff("INCRBY", "x", "9223372036854775808")
    for v in [" 1", "1 ", "1.0", "-0", "00", "0x1", "", "abc", "12345678901234567890"]:
        diff("SET", "s", v)
        diff("INCR", "s")
    diff("SET", "t", "5", "EX", "100")
    diff("INCR", "t")
    diff("TTL", "t")
    diff("LPUSH", "l", "x")
    diff("INCR", "l")
    diff("DECRBY", "l", "x")


def test_incrbyfloat(diff: Differ) -> None:
    cases = ["10.5", "0.1", "-5", "1e5", "1.5e-3", "3.0e3", "-1e30", "1e30", "5.0e-20",
             "0x10", "0x1.8p1", ".5", "5.", "+1", "1e4932", "1e-4960", "inf", "-inf", "nan",
             "abc", "1 ", " 1", "", "1e", "1_0", "123456789012345678901234567890",
             "0.00000000000000000001", "-0.00000000000000000001", "17179869184", "1.7976931348623157e308"]
    for inc in cases:
        diff("INCRBYFLOAT", "f", inc)
        diff("GET", "f")
    for start in ["10.50", "5.0e3", "0", "-0", "1.1", "3e-20", "99999999999999999999.5", "inf", "x"]:
        diff("SET", "g", start)
        diff("INCRBYFLOAT", "g", "0.1")
        diff("INCRBYFLOAT", "g", "-0.1")
    diff("SET", "h", "1", "EX", "100")
    diff("INCRBYFLOAT", "h", "1.5")
    diff("TTL", "h")
    diff("LPUSH", "l", "x")
    diff("INCRBYFLOAT", "l", "1")


def test_lcs(diff: Differ) -> None:
    diff("MSET", "a", "ohmytext", "b", "mynewtext")
    diff("LCS", "a", "b")
    diff("LCS", "a", "b", "LEN")
    diff("LCS", "a", "b", "IDX")
    diff("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    diff("LCS", "a", "b", "IDX", "MINMATCHLEN", "4")
    diff("LCS", "a", "b", "IDX", "MINMATCHLEN", "-4", "WITHMATCHLEN")
    diff("LCS", "a", "b", "IDX", "LEN")
    diff("LCS", "a", "b", "FOO")
    diff("LCS", "a", "b", "MINMATCHLEN")
    diff("LCS", "a", "b", "MINMATCHLEN", "x")
    diff("LCS", "a", "nokey")
    diff("LCS", "nokey", "nokey2", "IDX")
    diff("MSET", "c", "aaaaabbbbbaaaaa", "d", "ababababaaaaab")
    diff("LCS", "c", "d", "IDX", "WITHMATCHLEN")
    diff("LCS", "d", "c", "IDX", "WITHMATCHLEN")
    diff("LCS", "c", "d")
    diff("LPUSH", "l", "x")
    diff("LCS", "a", "l")
    diff("LCS", "a")


# -- bitmaps -------------------------------------------------------------------------


def test_setbit_getbit(diff: Differ) -> None:
    diff("SETBIT", "b", 7, 1)
    diff("SETBIT", "b", 7, 1)
    diff("SETBIT", "b", 7, 0)
    diff("SETBIT", "b", 100, 1)
    diff("GET", "b")
    diff("GETBIT", "b", 100)
    diff("GETBIT", "b", 101)
    diff("GETBIT", "b", 100000)
    diff("GETBIT", "nokey", 0)
    diff("SETBIT", "b", -1, 1)
    diff("SETBIT", "b", "x", 1)
    diff("SETBIT", "b", 1, 2)
    diff("SETBIT", "b", 1, -1)
    diff("SETBIT", "b", 1, "x")
    diff("SETBIT", "b", 4294967296, 1)
    diff("GETBIT", "b", -1)
    diff("GETBIT", "b", 4294967296)
    diff("SETBIT", "c", 0, 0)
    diff("GET", "c")
    diff("LPUSH", "l", "x")
    diff("SETBIT", "l", 0, 1)
    diff("GETBIT", "l", 0)


def test_bitcount_bitpos(diff: Differ) -> None:
    diff("SET", "s", "foobar")
    diff("BITCOUNT", "s")
    diff("BITCOUNT", "nokey")
    diff("BITCOUNT", "nokey", "a", "b")
    for rng in [(0, 0), (1, 1), (1, -2), (-2, -1), (-1, -2), (5, 1), (-100, 100), (0, 100)]:
        diff("BITCOUNT", "s", *rng)
        diff("BITCOUNT", "s", *rng, "BYTE")
        diff("BITCOUNT", "s", *rng, "BIT")
    diff("BITCOUNT", "s", 5, 30, "bit")
    diff("BITCOUNT", "s", 0)
    diff("BITCOUNT", "s", 0, 1, "FOO")
    diff("BITCOUNT", "s", 0, 1, "BIT", "x")
    diff("BITCOUNT", "s", "x", 1)
    diff("SET", "z", "\xff\xf0\x00")
    diff("SET", "e", "")
    for key in ["s", "z", "e", "nokey"]:
        for bit in (0, 1):
            diff("BITPOS", key, bit)
            for rng in [(0,), (1,), (-1,), (2, -1), (0, 0), (1, 1), (3, 1), (-100, 100)]:
                diff("BITPOS", key, bit, *rng)
            for rng in [(0, 7), (7, 15), (9, 11), (12, 23), (-5, -1), (5, 3), (0, 100)]:
                diff("BITPOS", key, bit, *rng, "BIT")
                diff("BITPOS", key, bit, *rng, "BYTE")
    diff("BITPOS", "s", 2)
    diff("BITPOS", "s", "x")
    diff("BITPOS", "s", 1, 0, 1, "FOO")
    diff("BITPOS", "s", 1, 0, 1, "BIT", "x")
    diff("BITPOS", "s", 1, "x")
    diff("LPUSH", "l", "x")
    diff("BITCOUNT", "l")
    diff("BITPOS", "l", 1)


def test_bitop(diff: Differ) -> None:
    diff("SET", "a", "foobar")
    diff("SET", "b", "abcdef")
    diff("SET", "c", "xy")
    for op in ("AND", "OR", "XOR"):
        diff("BITOP", op, "d", "a", "b", "c")
        diff("GET", "d")
        diff("BITOP", op, "d", "a", "nokey")
        diff("GET", "d")
    diff("BITOP", "NOT", "d", "a")
    diff("GET", "d")
    diff("BITOP", "NOT", "d", "a", "b")
    diff("BITOP", "NAND", "d", "a")
    diff("BITOP", "AND", "d", "nokey", "nokey2")
    diff("EXISTS", "d")
    diff("SET", "d", "x")
    diff("BITOP", "OR", "d", "nokey")
    diff("EXISTS", "d")
    diff("LPUSH", "l", "x")
    diff("BITOP", "OR", "d", "a", "l")
    diff("BITOP", "OR", "l", "a")
    diff("TYPE", "l")
    diff("BITOP", "OR", "d")


def test_bitfield(diff: Differ) -> None:
    diff("BITFIELD", "bf", "SET", "i8", 0, 100, "GET", "u4", 0, "GET", "i4", 4)
    diff("BITFIELD", "bf", "INCRBY", "i8", 0, 100)
    diff("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", 0, 100, "INCRBY", "i8", 0, -1000)
    diff("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, 100, "GET", "i8", 0)
    diff("BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u8", 0, 300, "INCRBY", "u8", 0, -300)
    diff("BITFIELD", "bf", "SET", "u8", "#1", 255, "GET", "u8", 8, "SET", "i5", "#3", -1)
    diff("BITFIELD", "bf", "SET", "u2", 0, -1, "OVERFLOW", "SAT", "SET", "u2", 2, 7, "SET", "i3", 4, -9)
    diff("BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "u2", 0, 5, "SET", "i2", 0, -3)
    diff("BITFIELD", "bf", "SET", "i64", 0, "-9223372036854775808", "INCRBY", "i64", 0, -1)
    diff("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", 0, -1, "INCRBY", "i64", 64, 9223372036854775807,
         "INCRBY", "i64", 64, 1)
    diff("BITFIELD", "bf", "SET", "u63", 3, 9223372036854775807, "GET", "u63", 3, "GET", "i64", 3)
    diff("GET", "bf")
    diff("BITFIELD", "bf", "GET", "u64", 0)
    diff("BITFIELD", "bf", "GET", "i65", 0)
    diff("BITFIELD", "bf", "GET", "i0", 0)
    diff("BITFIELD", "bf", "GET", "x8", 0)
    diff("BITFIELD", "bf", "GET", "I8", 0)
    diff("BITFIELD", "bf", "GET", "u8", -1)
    diff("BITFIELD", "bf", "GET", "u8", "#x")
    diff("BITFIELD", "bf", "GET", "u8")
    diff("BITFIELD", "bf", "SET", "u8", 0)
    diff("BITFIELD", "bf", "SET", "u8", 0, "x")
    diff("BITFIELD", "bf", "OVERFLOW", "FOO")
    diff("BITFIELD", "bf", "FOO")
    diff("BITFIELD", "bf")
    diff("BITFIELD", "nokey", "GET", "u8", 0)
    diff("EXISTS", "nokey")
    diff("BITFIELD", "nokey2", "OVERFLOW", "FAIL", "INCRBY", "u2", 100, 10)
    diff("GET", "nokey2")
    diff("BITFIELD", "bf", "GET", "u8", 10000, "GET", "i16", 60)
    diff("BITFIELD_RO", "bf", "GET", "u8", 0, "GET", "i3", 5)
    diff("BITFIELD_RO", "bf", "OVERFLOW", "SAT", "GET", "u8", 0)
    diff("BITFIELD_RO", "bf", "SET", "u8", 0, 1)
    diff("BITFIELD_RO", "bf", "INCRBY", "u8", 0, 1)
    diff("BITFIELD_RO", "bf", "FOO")
    diff("BITFIELD_RO", "nokey", "GET", "u8", 0)
    diff("LPUSH", "l", "x")
    diff("BITFIELD", "l", "GET", "u8", 0)
    diff("BITFIELD", "l", "SET", "u8", 0, 1)
    diff("BITFIELD_RO", "l", "GET", "u8", 0)


# -- keys -----------------------------------------------------------------------------


def test_del_exists_type_touch(diff: Differ) -> None:
    diff("MSET", "a", "1", "b", "2", "c", "3")
    diff("LPUSH", "l", "x")
    diff("SADD", "s", "x")
    diff("HSET", "h", "f", "v")
    diff("ZADD", "z", "1", "m")
    diff("EXISTS", "a", "a", "nokey", "b")
    diff("TOUCH", "a", "a", "nokey")
    for k in ("a", "l", "s", "h", "z", "nokey"):
        diff("TYPE", k)
    diff("DEL", "a", "a", "nokey")
    diff("UNLINK", "b", "c", "l")
    diff("DEL")
    diff("EXISTS")
    diff("DBSIZE")


def test_rename_move_copy(diff: Differ) -> None:
    diff("SET", "a", "1", "EX", "1000")
    diff("RENAME", "a", "b")
    diff("EXISTS", "a")
    diff("EXPIRETIME", "b")
    diff("RENAME", "nokey", "x")
    diff("RENAMENX", "nokey", "x")
    diff("RENAME", "b", "b")
    diff("RENAMENX", "b", "b")
    diff("SET", "c", "3")
    diff("RENAMENX", "b", "c")
    diff("RENAME", "c", "b")
    diff("TTL", "b")
    diff("LPUSH", "l", "x")
    diff("RENAME", "l", "ll")
    diff("TYPE", "ll")
    diff("MOVE", "b", "1")
    diff("MOVE", "b", "1")
    diff("MOVE", "nokey", "1")
    diff("MOVE", "ll", "0")
    diff("MOVE", "ll", "16")
    diff("MOVE", "ll", "-1")
    diff("MOVE", "ll", "x")
    diff("MOVE", "ll", "4294967296")
    diff("SET", "b", "again")
    diff("SELECT", "1")
    diff("MOVE", "b", "0")
    diff("GET", "b")
    diff("SELECT", "0")
    diff("SET", "src", "v", "PX", "100000000")
    diff("COPY", "src", "dst")
    diff("COPY", "src", "dst")
    diff("COPY", "src", "dst", "REPLACE")
    diff("EXPIRETIME", "dst")
    diff("COPY", "src", "src")
    diff("COPY", "src", "src", "DB", "0")
    diff("COPY", "src", "src", "DB", "1")
    diff("COPY", "src", "x", "DB", "16")
    diff("COPY", "src", "x", "DB", "y")
    diff("COPY", "src", "x", "DB")
    diff("COPY", "src", "x", "FOO")
    diff("COPY", "nokey", "x")
    diff("COPY", "ll", "ll2")
    diff("LRANGE", "ll2", 0, -1)
    diff("SELECT", "1")
    diff("GET", "src")
    diff("FLUSHDB")
    diff("SELECT", "0")


def test_keys_patterns(diff: Differ) -> None:
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo", "h[a]llo", "a\\b",
             "", "x", "foo:1", "foo:2", "foo:10", "^", "-", "]", "[", "abc"]
    for n in names:
        diff("SET", n, "1")
    patterns = ["h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "*", "",
                "h\\*llo", "h\\?llo", "foo:[0-9]", "foo:*", "*o*", "[", "[abc", "[^]", "\\",
                "a\\\\b", "[]]", "[-]", "*[", "x*", "?", "h[\\]]llo", "[a-]", "*a*b*c*", "**", "?*"]
    for p in patterns:
        got, want = diff.both("KEYS", p)
        assert sorted(_array(got)) == sorted(_array(want)), p
    diff("SET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1")
    diff("KEYS", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
    diff("KEYS")


def _array(reply: bytes) -> list[bytes]:
    """Elements of a flat RESP2 array of bulk strings."""
    lines = reply.split(b"\r\n")
    assert lines[0].startswith(b"*")
    out = []
    i = 1
    for _ in range(int(lines[0][1:])):
        out.append(lines[i + 1])
        i += 2
    return out


def test_keys_skip_expired(diff: Differ) -> None:
    diff.m.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # real Redis: DEBUG disabled
    try:
        diff("SET", "a", "1", "PX", "1")
        diff("SET", "b", "1")
        time.sleep(0.01)
        diff("KEYS", "*")
        assert diff.m.call("DBSIZE") == b":2\r\n"  # counted until removed, as in Redis
        diff("SCAN", "0", "COUNT", "100")
        assert diff.m.call("DBSIZE") == b":1\r\n"  # SCAN removed it
        diff("RANDOMKEY")
    finally:
        diff.m.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_scan_and_randomkey(r: object, diff: Differ) -> None:
    diff("RANDOMKEY")
    for i in range(300):
        diff("SET", f"key:{i}", "v")
    diff("SADD", "aset", "x")
    keys_seen: set[bytes] = set()
    cursor = b"0"
    import redis as redis_py

    assert isinstance(r, redis_py.Redis)
    while True:
        cursor_int, batch = r.scan(int(cursor), count=7)
        keys_seen.update(batch)
        cursor = str(cursor_int).encode()
        if cursor_int == 0:
            break
    assert len(keys_seen) == 301
    assert set(r.scan_iter(match="key:1*", count=20)) == {f"key:{i}".encode() for i in range(300)
                                                          if str(i).startswith("1")}
    assert list(r.scan_iter(_type="set")) == [b"aset"]
    assert r.randomkey() is not None
    diff("SCAN", "x")
    assert diff.m.call("SCAN", "-1").startswith(b"*2\r\n")  # strtoull accepts it; keys differ
    diff("SCAN", "18446744073709551616")
    diff("SCAN", "0", "COUNT", "0")
    diff("SCAN", "0", "COUNT", "x")
    diff("SCAN", "0", "COUNT")
    diff("SCAN", "0", "FOO", "bar")
    diff("SCAN", "0", "MATCH")


def test_scan_cursor_and_options_parsing(diff: Differ) -> None:
    """SCAN and HSCAN/SSCAN/ZSCAN read the cursor as Redis's strtoul does (one parser)."""
    diff("SET", "k", "v")
    diff("HSET", "h", "f", "v")
    diff("SADD", "s", "1")  # an intset: Redis 7.0 keeps small sets of strings in a hash table
    diff("ZADD", "z", "1", "m")
    # Zero or refused: the same reply. (A small container ignores the cursor.)
    zero_or_bad = ["", "+", "-", "+0", "-0", " 1", "1 ", "0x10", "1e3", "18446744073709551616",
                   "-18446744073709551616", "\u0661"]
    for cur in zero_or_bad:
        diff("SCAN", cur, "MATCH", "k", "COUNT", "1000")
    # Accepted, wrapping modulo 2**64 (which keys a nonzero cursor finds is the server's own).
    for cur in [*zero_or_bad, "18446744073709551615", "-18446744073709551615", "-1"]:
        for cmd, key in (("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")):
            diff(cmd, key, cur)
    for cur in ("18446744073709551615", "-18446744073709551615", "-1"):
        assert diff.m.call("SCAN", cur).startswith(b"*2\r\n$")
        assert diff.real.call("SCAN", cur).startswith(b"*2\r\n$")
    # MATCH *, alone or after another pattern (the last one counts), filters nothing.
    diff("SCAN", "0", "MATCH", "*", "TYPE", "string")
    diff("SCAN", "0", "MATCH", "x*", "MATCH", "*", "TYPE", "string")
    diff("SCAN", "0", "MATCH", "*", "MATCH", "x*")
    diff("HSCAN", "h", "0", "MATCH", "x*", "MATCH", "*")
    diff("SCAN", "0", "TYPE", "STRING", "COUNT", "5")


def test_scan_returns_keys_present_during_whole_scan(r: object) -> None:
    import redis as redis_py

    assert isinstance(r, redis_py.Redis)
    for i in range(500):
        r.set(f"k{i}", "v")
    seen: set[bytes] = set()
    cursor = 0
    n = 0
    while True:
        cursor, batch = r.scan(cursor, count=10)
        seen.update(batch)
        # Writes during the scan: new keys and deletions of keys not counted below.
        r.set(f"new{n}", "v")
        r.delete(f"k{400 + n % 100}")
        n += 1
        if cursor == 0:
            break
    assert {f"k{i}".encode() for i in range(400)} <= seen


def test_expire_family(diff: Differ) -> None:
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100")
    diff("TTL", "k")
    diff("EXPIRE", "k", "100", "NX")
    diff("EXPIRE", "k", "200", "XX")
    diff("EXPIRE", "k", "100", "GT")
    diff("EXPIRE", "k", "300", "GT")
    diff("EXPIRE", "k", "400", "LT")
    diff("EXPIRE", "k", "50", "LT", "XX")
    diff("TTL", "k")
    diff("PERSIST", "k")
    diff("PERSIST", "k")
    diff("EXPIRE", "k", "100", "XX")
    diff("EXPIRE", "k", "100", "GT")
    diff("EXPIRE", "k", "100", "LT")
    diff("EXPIRE", "k", "100", "NX", "XX")
    diff("EXPIRE", "k", "100", "NX", "GT")
    diff("EXPIRE", "k", "100", "GT", "LT")
    diff("EXPIRE", "k", "100", "FOO")
    diff("EXPIRE", "k", "x", "FOO")
    diff("EXPIRE", "k", "x")
    diff("EXPIRE", "k", "")
    diff("EXPIRE", "k", "9223372036854775807")
    diff("EXPIRE", "k", "9223372036854775")
    diff("EXPIRE", "k", "-9223372036854775")
    diff("EXPIRE", "k", "-9223372036854775807")
    diff("PEXPIRE", "k", "9223372036854775807")
    diff("PEXPIREAT", "k", "9223372036854775807")
    diff("PEXPIRETIME", "k")
    diff("EXPIREAT", "k", "9223372036854775807")
    diff("EXPIREAT", "k", "4000000000")
    diff("EXPIRETIME", "k")
    diff("PEXPIRETIME", "k")
    diff("PEXPIREAT", "k", "4000000000123")
    diff("EXPIRETIME", "k")
    diff("PEXPIREAT", "k", "-9223372036854775808")
    diff("EXISTS", "k")
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "-1")
    diff("EXISTS", "k")
    diff("SET", "k", "v", "EX", "100")
    diff("EXPIRE", "k", "0", "GT")
    diff("EXPIRE", "k", "0", "LT")
    diff("EXISTS", "k")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        diff(cmd, "nokey", "100")
        diff(cmd, "nokey", "100", "NX")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        diff(cmd, "nokey")
        diff("SET", "p", "v")
        diff(cmd, "p")
    diff("PERSIST", "nokey")
    diff("EXPIRE", "k")


def test_object(diff: Differ) -> None:
    for v in ["1", "-1", "12345", "9223372036854775807", "9223372036854775808", "-0", "01",
              "abc", "x" * 44, "x" * 45, "1" * 20, "1" * 21, ""]:
        diff("SET", "s", v)
        diff("OBJECT", "ENCODING", "s")
    diff("OBJECT", "ENCODING", "nokey")
    diff("OBJECT", "REFCOUNT", "nokey")
    diff("OBJECT", "IDLETIME", "nokey")
    diff("OBJECT", "FREQ", "nokey")
    diff("OBJECT", "FREQ", "s")
    diff("SET", "s", "hello world")
    diff("OBJECT", "REFCOUNT", "s")
    diff("OBJECT", "HELP")
    diff("OBJECT", "FOO")
    diff("OBJECT", "ENCODING")
    diff("OBJECT")


def test_object_refcount_of_shared_integers_follows_the_policy(diff: Differ) -> None:
    # Redis shares the integers 0..9999 unless maxmemory is set with an LRU or LFU policy.
    try:
        for maxmemory, policy in (("0", "allkeys-lru"), ("1gb", "allkeys-random"),
                                  ("1gb", "allkeys-lru"), ("1gb", "volatile-lfu"),
                                  ("1gb", "noeviction")):
            diff("CONFIG", "SET", "maxmemory", maxmemory, "maxmemory-policy", policy)
            diff("SET", "n", "1")
            diff("OBJECT", "REFCOUNT", "n")
            diff("SET", "n", "10000")
            diff("OBJECT", "REFCOUNT", "n")
    finally:
        diff("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")


def test_dump_restore(diff: Differ) -> None:
    # Payloads differ by design (moonkv's own format): compare moonkv with itself.
    m = diff.m
    m.call("SET", "s", "hello")
    payload_reply = m.call("DUMP", "s")
    assert payload_reply.startswith(b"$")
    payload = payload_reply.split(b"\r\n", 1)[1][:-2]
    assert m.call("RESTORE", "s", "0", payload) == b"-BUSYKEY Target key name already exists.\r\n"
    assert m.call("RESTORE", "s2", "0", payload) == b"+OK\r\n"
    assert m.call("GET", "s2") == b"$5\r\nhello\r\n"
    assert m.call("RESTORE", "s2", "0", payload, "REPLACE", "ABSTTL") == b"+OK\r\n"
    assert m.call("RESTORE", "s3", "100000", payload) == b"+OK\r\n"
    assert int(m.call("PTTL", "s3")[1:-2]) > 90000
    assert m.call("RESTORE", "s4", "1", payload, "ABSTTL") == b"+OK\r\n"
    assert m.call("EXISTS", "s4") == b":0\r\n"
    bad = payload[:-1] + bytes([payload[-1] ^ 1])
    assert m.call("RESTORE", "s5", "0", bad) == b"-ERR DUMP payload version or checksum are wrong\r\n"
    m.call("RPUSH", "l", "a", "b", "c")
    lp = m.call("DUMP", "l").split(b"\r\n", 1)[1][:-2]
    assert m.call("RESTORE", "l2", "0", lp) == b"+OK\r\n"
    assert m.call("LRANGE", "l2", "0", "-1") == m.call("LRANGE", "l", "0", "-1")
    # Error paths shared with Redis.
    diff("SET", "s", "hello")
    diff("DUMP", "nokey")
    diff("RESTORE", "s", "0", "garbage")
    diff("RESTORE", "x", "0", "garbage")
    diff("RESTORE", "x", "-1", "garbage")
    diff("RESTORE", "x", "abc", "garbage")
    diff("RESTORE", "x", "0", "garbage", "FOO")
    diff("RESTORE", "x", "0", "garbage", "IDLETIME", "-1")
    diff("RESTORE", "x", "0", "garbage", "IDLETIME", "x")
    diff("RESTORE", "x", "0", "garbage", "FREQ", "256")
    diff("RESTORE", "x", "0", "garbage", "FREQ", "1", "IDLETIME", "1")
    diff("RESTORE", "x", "0", "garbage", "IDLETIME", "1", "FREQ", "1")
    diff("RESTORE", "x", "0", "garbage", "IDLETIME")
    diff("RESTORE", "x", "0")


def test_wrongtype_and_arity(diff: Differ) -> None:
    diff("LPUSH", "l", "x")
    for cmd in (["GET", "l"], ["GETDEL", "l"], ["GETEX", "l"], ["APPEND", "l", "x"], ["INCR", "l"],
                ["DECR", "l"], ["INCRBYFLOAT", "l", "1"], ["STRLEN", "l"], ["SETRANGE", "l", "0", "x"],
                ["GETRANGE", "l", "0", "1"], ["GETBIT", "l", "0"], ["BITCOUNT", "l"],
                ["BITPOS", "l", "0"]):
        diff(*cmd)
    for name in ("GET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX", "MGET", "MSET",
                 "MSETNX", "APPEND", "STRLEN", "INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT",
                 "GETRANGE", "SETRANGE", "SUBSTR", "LCS", "SETBIT", "GETBIT", "BITCOUNT", "BITPOS",
                 "BITOP", "BITFIELD", "BITFIELD_RO", "DEL", "UNLINK", "EXISTS", "TYPE", "RENAME",
                 "RENAMENX", "MOVE", "COPY", "KEYS", "SCAN", "TOUCH", "EXPIRE", "PEXPIRE",
                 "EXPIREAT", "PEXPIREAT", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST",
                 "DUMP", "RESTORE"):
        diff(name)
    diff("RANDOMKEY", "x")


def test_expired_key_semantics(diff: Differ) -> None:
    diff.m.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # real Redis: DEBUG disabled
    try:
        diff("SET", "k", "5", "PX", "1")
        diff("SET", "j", "abc", "PX", "1")
        time.sleep(0.01)
        diff("GET", "k")
        diff("INCR", "j")
        diff("TTL", "j")
        diff("SET", "k", "5", "PX", "1")
        time.sleep(0.01)
        diff("APPEND", "k", "x")
        diff("TTL", "k")
        diff("SET", "k", "5", "PX", "1")
        time.sleep(0.01)
        diff("RENAME", "k", "z")
        diff("SET", "k", "5", "PX", "1")
        time.sleep(0.01)
        diff("SETNX", "k", "1")
        diff("SET", "k", "5", "PX", "1")
        time.sleep(0.01)
        diff("EXPIRE", "k", "100")
        diff("DEL", "k")
        diff("EXISTS", "k")
    finally:
        diff.m.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# -- generated sequences ----------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "c", "n"])
_VALS = st.sampled_from(["", "0", "1", "-1", "10", "abc", "9223372036854775807", "3.5", "foobar",
                         "\x00\xff", "-9223372036854775808", "1e3", " 1"])
_INTS = st.sampled_from(["0", "1", "-1", "2", "7", "-3", "100", "x", "9223372036854775807",
                         "-9223372036854775808", "17"])
_FLOATS = st.sampled_from(["0.1", "-0.1", "1.5", "1e10", "-2", "x", "0", "3e-5", "inf"])


def _cmd() -> st.SearchStrategy[list[str]]:
    k, v, i, f = _KEYS, _VALS, _INTS, _FLOATS
    return st.one_of(
        st.tuples(st.just("SET"), k, v).map(list),
        st.tuples(st.just("SET"), k, v, st.sampled_from(["NX", "XX", "GET", "KEEPTTL", "EX"])).map(list),
        st.tuples(st.just("SET"), k, v, st.sampled_from(["NX", "XX"]), st.just("GET")).map(list),
        st.tuples(st.just("GET"), k).map(list),
        st.tuples(st.just("SETNX"), k, v).map(list),
        st.tuples(st.just("GETSET"), k, v).map(list),
        st.tuples(st.just("GETDEL"), k).map(list),
        st.tuples(st.just("GETEX"), k, st.sampled_from(["PERSIST", "EX", "FOO"])).map(list),
        st.tuples(st.just("MGET"), k, k, k).map(list),
        st.tuples(st.just("MSET"), k, v, k, v).map(list),
        st.tuples(st.just("MSETNX"), k, v, k, v).map(list),
        st.tuples(st.just("APPEND"), k, v).map(list),
        st.tuples(st.just("STRLEN"), k).map(list),
        st.tuples(st.sampled_from(["INCR", "DECR"]), k).map(list),
        st.tuples(st.sampled_from(["INCRBY", "DECRBY"]), k, i).map(list),
        st.tuples(st.just("INCRBYFLOAT"), k, f).map(list),
        st.tuples(st.sampled_from(["GETRANGE", "SUBSTR"]), k, i, i).map(list),
        st.tuples(st.just("SETRANGE"), k, st.sampled_from(["0", "1", "3", "-1", "10"]), v).map(list),
        st.tuples(st.just("LCS"), k, k).map(list),
        st.tuples(st.just("LCS"), k, k, st.sampled_from(["LEN", "IDX"])).map(list),
        st.tuples(st.just("SETBIT"), k, st.sampled_from(["0", "7", "9", "63", "-1"]),
                  st.sampled_from(["0", "1", "2"])).map(list),
        st.tuples(st.just("GETBIT"), k, st.sampled_from(["0", "7", "9", "100"])).map(list),
        st.tuples(st.just("BITCOUNT"), k).map(list),
        st.tuples(st.just("BITCOUNT"), k, i, i, st.sampled_from(["BIT", "BYTE"])).map(list),
        st.tuples(st.just("BITPOS"), k, st.sampled_from(["0", "1"]), i, i,
                  st.sampled_from(["BIT", "BYTE"])).map(list),
        st.tuples(st.just("BITPOS"), k, st.sampled_from(["0", "1"]), i).map(list),
        st.tuples(st.just("BITOP"), st.sampled_from(["AND", "OR", "XOR", "NOT"]), k, k).map(list),
        st.tuples(st.just("BITOP"), st.sampled_from(["AND", "OR", "XOR"]), k, k, k).map(list),
        st.tuples(st.just("BITFIELD"), k, st.sampled_from(["GET", "SET", "INCRBY"]),
                  st.sampled_from(["u8", "i8", "u3", "i5", "i64", "u63"]),
                  st.sampled_from(["0", "3", "#1"]), i).map(
            lambda t: list(t) if t[2] != "GET" else list(t[:5])),
        st.tuples(st.just("BITFIELD"), k, st.just("OVERFLOW"), st.sampled_from(["SAT", "FAIL", "WRAP"]),
                  st.just("INCRBY"), st.sampled_from(["u4", "i4"]), st.just("0"), i).map(list),
        st.tuples(st.sampled_from(["DEL", "UNLINK", "EXISTS", "TOUCH"]), k, k).map(list),
        st.tuples(st.just("TYPE"), k).map(list),
        st.tuples(st.sampled_from(["RENAME", "RENAMENX"]), k, k).map(list),
        st.tuples(st.just("COPY"), k, k).map(list),
        st.tuples(st.just("COPY"), k, k, st.just("REPLACE")).map(list),
        st.tuples(st.just("EXPIRE"), k, st.sampled_from(["100", "-1", "1000", "x"]),
                  st.sampled_from(["NX", "XX", "GT", "LT"])).map(list),
        st.tuples(st.just("EXPIRE"), k, st.sampled_from(["100", "200"])).map(list),
        st.tuples(st.just("PERSIST"), k).map(list),
        st.tuples(st.just("TTL"), k).map(list),
        st.tuples(st.just("PEXPIREAT"), k, st.sampled_from(["4000000000000", "5000000000000", "1"])).map(list),
        st.tuples(st.just("LPUSH"), k, v).map(list),
    )


@pytest.mark.timeout(600)
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_cmd(), min_size=1, max_size=40))
def test_generated_sequences(diff: Differ, cmds: list[list[str]]) -> None:
    diff("FLUSHALL")
    for cmd in cmds:
        diff(*cmd)
    for k in ("a", "b", "c", "n"):
        diff("TYPE", k)
        diff("GET", k)


def test_resp3_replies(diff: Differ) -> None:
    diff.both("HELLO", "3")  # the reply carries the connection id
    diff("SET", "a", "ohmytext")
    diff("SET", "b", "mynewtext")
    diff("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    diff("INCRBYFLOAT", "f", "1.5")
    diff("GET", "nokey")
    diff("MGET", "a", "nokey")
    diff("GETEX", "nokey")
    diff("OBJECT", "ENCODING", "nokey")
    diff("DUMP", "nokey")
    diff("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5")
    diff("TYPE", "a")
    diff("SCAN", "0", "MATCH", "a")
    diff("SET", "a", "x", "NX")
    diff("SET", "a", "x", "NX", "GET")
    diff.both("HELLO", "2")
