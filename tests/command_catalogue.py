"""Commands as generated data: one argument generator per write command scripts may call
(``CATALOGUE``), and per read command whose reply has a deterministic order (``READS``).

Shared by the generated rollback tests (tests/scripting/test_rollback_property.py) and the
generated script differential tests (tests/compat/test_scripting_generated_diff.py).
``INITIAL`` fills a database with keys of every type for them to work on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from moonkv.commands import load
from moonkv.commands.table import TABLE

KEYS = [b"s", b"n", b"f", b"h", b"l", b"st", b"z", b"x", b"geo", b"bits", b"hll", b"big", b"gone", b"new", b"new2"]
MEMBERS = [b"a", b"b", b"c", b"d", b"long" * 20]  # 80 bytes: past the listpack limits
START_MS = 1_700_000_000_000

Draw = Callable[[st.SearchStrategy[Any]], Any]


# Keys by the type they hold at the start ("new" and "new2" do not exist).
OF_TYPE = {
    "str": [b"s", b"n", b"f", b"bits"], "hash": [b"h"], "list": [b"l"], "set": [b"st"],
    "zset": [b"z", b"geo"], "stream": [b"x"], "hll": [b"hll", b"big"], "any": KEYS,
}


def _pick(kind: str) -> st.SearchStrategy[bytes]:
    # Mostly a key of the command's type (so most commands change something),
    # sometimes a missing key, sometimes any key (wrong types, errors).
    return st.one_of(
        st.sampled_from(OF_TYPE[kind]), st.sampled_from(OF_TYPE[kind]), st.sampled_from(OF_TYPE[kind]),
        st.sampled_from([b"new", b"new2"]), st.sampled_from(KEYS),
    )


def _key(d: Draw, kind: str = "any") -> bytes:
    return d(_pick(kind))  # type: ignore[no-any-return]


def _keys(d: Draw, kind: str = "any", lo: int = 1, hi: int = 3) -> list[bytes]:
    return d(st.lists(_pick(kind), min_size=lo, max_size=hi))  # type: ignore[no-any-return]


def _m(d: Draw) -> bytes:
    return d(st.sampled_from(MEMBERS))  # type: ignore[no-any-return]


def _int(d: Draw, lo: int = -3, hi: int = 5) -> bytes:
    return b"%d" % d(st.integers(lo, hi))


def _score(d: Draw) -> bytes:
    return d(st.sampled_from([b"0", b"1", b"2.5", b"-1", b"10", b"inf"]))  # type: ignore[no-any-return]


def _opt(d: Draw, *choices: list[bytes]) -> list[bytes]:
    return d(st.sampled_from([[], *choices]))  # type: ignore[no-any-return]


def _ttl(d: Draw, unit: int = 1) -> list[bytes]:
    # At least ten seconds, in the command's unit: tests against real servers
    # read the data back while the keys live.
    return [b"%d" % (d(st.integers(10, 500)) * unit)] + _opt(d, [b"NX"], [b"XX"], [b"GT"], [b"LT"])


def _at(d: Draw, unit: int) -> bytes:
    return b"%d" % ((START_MS + d(st.integers(-5_000, 500_000))) // unit)


def _side(d: Draw) -> bytes:
    return d(st.sampled_from([b"LEFT", b"RIGHT"]))  # type: ignore[no-any-return]


def _minmax(d: Draw) -> bytes:
    return d(st.sampled_from([b"MIN", b"MAX"]))  # type: ignore[no-any-return]


def _range(d: Draw) -> list[bytes]:
    return [_score(d), d(st.sampled_from([b"+inf", b"(2", b"3"]))]


def _lex(d: Draw) -> list[bytes]:
    return [d(st.sampled_from([b"-", b"[a", b"(b"])), d(st.sampled_from([b"+", b"[c", b"(d"]))]


def _sid(d: Draw) -> bytes:
    return d(st.sampled_from([b"0", b"1-0", b"3-0", b"5-0", b"7-0", b"99-0", b"$"]))  # type: ignore[no-any-return]


def _new_sid(d: Draw) -> bytes:
    return d(st.sampled_from([b"*", b"6-0", b"50-1", b"2-0"]))  # type: ignore[no-any-return]


def _group(d: Draw) -> bytes:
    return d(st.sampled_from([b"g", b"g2", b"nog"]))  # type: ignore[no-any-return]


def _consumer(d: Draw) -> bytes:
    return d(st.sampled_from([b"alice", b"bob"]))  # type: ignore[no-any-return]


def _store(d: Draw, name: bytes) -> list[bytes]:
    ks = _keys(d, "zset", 1, 3)
    return [name.upper(), _key(d, "zset"), b"%d" % len(ks), *ks]


def _xtrim(d: Draw) -> list[bytes]:
    return d(st.sampled_from([[b"MAXLEN", b"2"], [b"MAXLEN", b"~", b"1"], [b"MINID", b"3-0"]]))  # type: ignore[no-any-return]


def _dump(d: Draw) -> bytes:
    return d(st.sampled_from(sorted(PAYLOADS)))  # type: ignore[no-any-return]


PAYLOADS: dict[bytes, bytes] = {}  # DUMP payloads of the initial values (filled by _populate)

# One generator per write command scripts may call: argv from a hypothesis draw.
CATALOGUE: dict[str, Callable[[Draw], list[bytes]]] = {
    # strings and bitmaps
    "set": lambda d: [b"SET", _key(d, "str"), _m(d)] + _opt(d, [b"NX"], [b"XX"], [b"GET"], [b"KEEPTTL"], [b"EX", b"100"],
                                                      [b"PXAT", _at(d, 1)]),
    "setnx": lambda d: [b"SETNX", _key(d, "str"), _m(d)],
    "setex": lambda d: [b"SETEX", _key(d, "str"), _int(d, 1, 100), _m(d)],
    "psetex": lambda d: [b"PSETEX", _key(d, "str"), _int(d, 10_000, 100_000), _m(d)],
    "getset": lambda d: [b"GETSET", _key(d, "str"), _m(d)],
    "getdel": lambda d: [b"GETDEL", _key(d, "str")],
    "getex": lambda d: [b"GETEX", _key(d, "str")] + _opt(d, [b"PERSIST"], [b"EX", b"50"], [b"PXAT", _at(d, 1)]),
    "mset": lambda d: [b"MSET", _key(d, "str"), _m(d), _key(d, "str"), _m(d)],
    "msetnx": lambda d: [b"MSETNX", _key(d, "str"), _m(d), _key(d, "str"), _m(d)],
    "append": lambda d: [b"APPEND", _key(d, "str"), _m(d)],
    "setrange": lambda d: [b"SETRANGE", _key(d, "str"), _int(d, 0, 8), _m(d)],
    "incr": lambda d: [b"INCR", _key(d, "str")],
    "decr": lambda d: [b"DECR", _key(d, "str")],
    "incrby": lambda d: [b"INCRBY", _key(d, "str"), _int(d)],
    "decrby": lambda d: [b"DECRBY", _key(d, "str"), _int(d)],
    "incrbyfloat": lambda d: [b"INCRBYFLOAT", _key(d, "str"), _score(d)],
    "setbit": lambda d: [b"SETBIT", _key(d, "str"), _int(d, 0, 40), _int(d, 0, 1)],
    "bitop": lambda d: [b"BITOP", d(st.sampled_from([b"AND", b"OR", b"XOR"])), _key(d, "str"), *_keys(d, "str", 1, 2)],
    "bitfield": lambda d: [b"BITFIELD", _key(d, "str"), b"INCRBY", b"u8", _int(d, 0, 16), _int(d)]
                           + _opt(d, [b"SET", b"i5", b"3", b"7"]),
    # keys and expiry
    "del": lambda d: [b"DEL", *_keys(d)],
    "unlink": lambda d: [b"UNLINK", *_keys(d)],
    "rename": lambda d: [b"RENAME", _key(d), _key(d)],
    "renamenx": lambda d: [b"RENAMENX", _key(d), _key(d)],
    "copy": lambda d: [b"COPY", _key(d), _key(d)] + _opt(d, [b"REPLACE"], [b"DB", b"1"], [b"DB", b"1", b"REPLACE"]),
    "move": lambda d: [b"MOVE", _key(d), b"1"],
    "restore": lambda d: [b"RESTORE", _key(d), d(st.sampled_from([b"0", b"90000"])), _dump(d)]
                          + _opt(d, [b"REPLACE"], [b"REPLACE", b"ABSTTL"]),
    "restore-asking": lambda d: [b"RESTORE-ASKING", _key(d), d(st.sampled_from([b"0", b"90000"])), _dump(d)]
                                + _opt(d, [b"REPLACE"]),
    # Nobody listens on port 1: the move fails (+NOKEY for a missing key), nothing changes.
    "migrate": lambda d: [b"MIGRATE", b"127.0.0.1", b"1", _key(d), b"0", b"100"] + _opt(d, [b"COPY"], [b"REPLACE"]),
    "expire": lambda d: [b"EXPIRE", _key(d), *_ttl(d)],
    "pexpire": lambda d: [b"PEXPIRE", _key(d), *_ttl(d, 1000)],
    "expireat": lambda d: [b"EXPIREAT", _key(d), _at(d, 1000)],
    "pexpireat": lambda d: [b"PEXPIREAT", _key(d), _at(d, 1)],
    "persist": lambda d: [b"PERSIST", _key(d)],
    "flushdb": lambda d: [b"FLUSHDB"],
    "flushall": lambda d: [b"FLUSHALL"],
    "swapdb": lambda d: [b"SWAPDB", b"0", b"1"],
    "sort": lambda d: [b"SORT", _key(d), b"ALPHA", b"STORE", _key(d)],
    # hashes
    "hset": lambda d: [b"HSET", _key(d, "hash"), _m(d), _m(d)],
    "hmset": lambda d: [b"HMSET", _key(d, "hash"), _m(d), _int(d), _m(d), _m(d)],
    "hsetnx": lambda d: [b"HSETNX", _key(d, "hash"), _m(d), _m(d)],
    "hdel": lambda d: [b"HDEL", _key(d, "hash"), _m(d), _m(d)],
    "hincrby": lambda d: [b"HINCRBY", _key(d, "hash"), _m(d), _int(d)],
    "hincrbyfloat": lambda d: [b"HINCRBYFLOAT", _key(d, "hash"), _m(d), _score(d)],
    # lists
    "lpush": lambda d: [b"LPUSH", _key(d, "list"), _m(d), _m(d)],
    "rpush": lambda d: [b"RPUSH", _key(d, "list"), _m(d)],
    "lpushx": lambda d: [b"LPUSHX", _key(d, "list"), _m(d)],
    "rpushx": lambda d: [b"RPUSHX", _key(d, "list"), _m(d), _m(d)],
    "lpop": lambda d: [b"LPOP", _key(d, "list")] + _opt(d, [b"2"], [b"10"]),
    "rpop": lambda d: [b"RPOP", _key(d, "list")] + _opt(d, [b"1"], [b"3"]),
    "lset": lambda d: [b"LSET", _key(d, "list"), _int(d), _m(d)],
    "linsert": lambda d: [b"LINSERT", _key(d, "list"), d(st.sampled_from([b"BEFORE", b"AFTER"])), _m(d), _m(d)],
    "lrem": lambda d: [b"LREM", _key(d, "list"), _int(d), _m(d)],
    "ltrim": lambda d: [b"LTRIM", _key(d, "list"), _int(d), _int(d)],
    "lmove": lambda d: [b"LMOVE", _key(d, "list"), _key(d, "list"), _side(d), _side(d)],
    "rpoplpush": lambda d: [b"RPOPLPUSH", _key(d, "list"), _key(d, "list")],
    "lmpop": lambda d: [b"LMPOP", b"2", _key(d, "list"), _key(d, "list"), _side(d)] + _opt(d, [b"COUNT", b"2"]),
    "blmpop": lambda d: [b"BLMPOP", b"0", b"1", _key(d, "list"), _side(d)] + _opt(d, [b"COUNT", b"3"]),
    # sets
    "sadd": lambda d: [b"SADD", _key(d, "set"), _m(d), _m(d)],
    "srem": lambda d: [b"SREM", _key(d, "set"), _m(d), _m(d)],
    "spop": lambda d: [b"SPOP", _key(d, "set")] + _opt(d, [b"2"], [b"9"]),
    "smove": lambda d: [b"SMOVE", _key(d, "set"), _key(d, "set"), _m(d)],
    "sinterstore": lambda d: [b"SINTERSTORE", _key(d, "set"), *_keys(d, "set")],
    "sunionstore": lambda d: [b"SUNIONSTORE", _key(d, "set"), *_keys(d, "set")],
    "sdiffstore": lambda d: [b"SDIFFSTORE", _key(d, "set"), *_keys(d, "set")],
    # sorted sets (and geo, which are sorted sets)
    "zadd": lambda d: [b"ZADD", _key(d, "zset")] + _opt(d, [b"NX"], [b"XX"], [b"GT"], [b"CH"], [b"INCR"])
                      + [_score(d), _m(d)],
    "zincrby": lambda d: [b"ZINCRBY", _key(d, "zset"), _score(d), _m(d)],
    "zrem": lambda d: [b"ZREM", _key(d, "zset"), _m(d), _m(d)],
    "zpopmin": lambda d: [b"ZPOPMIN", _key(d, "zset")] + _opt(d, [b"2"]),
    "zpopmax": lambda d: [b"ZPOPMAX", _key(d, "zset")] + _opt(d, [b"5"]),
    "zmpop": lambda d: [b"ZMPOP", b"2", _key(d, "zset"), _key(d, "zset"), _minmax(d)] + _opt(d, [b"COUNT", b"2"]),
    "bzmpop": lambda d: [b"BZMPOP", b"0", b"1", _key(d, "zset"), _minmax(d)],
    "zremrangebyscore": lambda d: [b"ZREMRANGEBYSCORE", _key(d, "zset"), *_range(d)],
    "zremrangebyrank": lambda d: [b"ZREMRANGEBYRANK", _key(d, "zset"), _int(d), _int(d)],
    "zremrangebylex": lambda d: [b"ZREMRANGEBYLEX", _key(d, "zset"), *_lex(d)],
    "zrangestore": lambda d: [b"ZRANGESTORE", _key(d, "zset"), _key(d, "zset"), b"0", _int(d)],
    "zunionstore": lambda d: _store(d, b"zunionstore") + _opt(d, [b"AGGREGATE", b"MAX"], [b"WEIGHTS", b"2", b"3", b"4"]),
    "zinterstore": lambda d: _store(d, b"zinterstore"),
    "zdiffstore": lambda d: _store(d, b"zdiffstore"),
    "geoadd": lambda d: [b"GEOADD", _key(d, "zset")] + _opt(d, [b"NX"], [b"XX"], [b"CH"]) + [b"13.36", b"38.11", _m(d)],
    "georadius": lambda d: [b"GEORADIUS", _key(d, "zset"), b"15", b"37", b"300", b"km", b"STORE", _key(d, "zset")],
    "georadiusbymember": lambda d: [b"GEORADIUSBYMEMBER", _key(d, "zset"), _m(d), b"300", b"km", b"STOREDIST", _key(d, "zset")],
    "geosearchstore": lambda d: [b"GEOSEARCHSTORE", _key(d, "zset"), _key(d, "zset"), b"FROMLONLAT", b"15", b"37",
                                 b"BYRADIUS", b"300", b"km"],
    # streams
    "xadd": lambda d: [b"XADD", _key(d, "stream")] + _opt(d, [b"NOMKSTREAM"], [b"MAXLEN", b"3"]) + [_new_sid(d), _m(d), _m(d)],
    "xdel": lambda d: [b"XDEL", _key(d, "stream"), _sid(d), _sid(d)],
    "xtrim": lambda d: [b"XTRIM", _key(d, "stream"), *_xtrim(d)],
    "xsetid": lambda d: [b"XSETID", _key(d, "stream"), d(st.sampled_from([b"99-0", b"5-0", b"1-0"]))],
    "xack": lambda d: [b"XACK", _key(d, "stream"), _group(d), _sid(d), _sid(d)],
    "xclaim": lambda d: [b"XCLAIM", _key(d, "stream"), _group(d), _consumer(d), b"0", _sid(d)] + _opt(d, [b"FORCE"], [b"JUSTID"]),
    "xautoclaim": lambda d: [b"XAUTOCLAIM", _key(d, "stream"), _group(d), _consumer(d), b"0", b"0"],
    "xreadgroup": lambda d: [b"XREADGROUP", b"GROUP", _group(d), _consumer(d)] + _opt(d, [b"NOACK"])
                             + [b"STREAMS", _key(d, "stream"), d(st.sampled_from([b">", b"0"]))],
    "xgroup|create": lambda d: [b"XGROUP", b"CREATE", _key(d, "stream"), _group(d), _sid(d)] + _opt(d, [b"MKSTREAM"]),
    "xgroup|createconsumer": lambda d: [b"XGROUP", b"CREATECONSUMER", _key(d, "stream"), _group(d), _consumer(d)],
    "xgroup|delconsumer": lambda d: [b"XGROUP", b"DELCONSUMER", _key(d, "stream"), _group(d), _consumer(d)],
    "xgroup|destroy": lambda d: [b"XGROUP", b"DESTROY", _key(d, "stream"), _group(d)],
    "xgroup|setid": lambda d: [b"XGROUP", b"SETID", _key(d, "stream"), _group(d), _sid(d)],
    # HyperLogLogs ("hll" sparse, "big" dense); PFCOUNT is read-only but writes its cache
    "pfadd": lambda d: [b"PFADD", _key(d, "hll"), _m(d), _m(d)],
    "pfmerge": lambda d: [b"PFMERGE", _key(d, "hll"), *_keys(d, "hll", 0, 2)],
    "pfcount": lambda d: [b"PFCOUNT", *_keys(d, "hll", 1, 2)],
    "pfdebug": lambda d: [b"PFDEBUG", d(st.sampled_from([b"TODENSE", b"ENCODING", b"DECODE"])), _key(d, "hll")],
    # not a write, but it moves the script's later writes to another database
    "select": lambda d: [b"SELECT", d(st.sampled_from([b"0", b"1"]))],
}

# Read commands whose replies Redis orders deterministically (no SMEMBERS, HGETALL of big
# hashes, random members or times): their replies cross Lua's conversions in both directions.
READS: dict[str, Callable[[Draw], list[bytes]]] = {
    "get": lambda d: [b"GET", _key(d, "str")],
    "mget": lambda d: [b"MGET", *_keys(d, "str")],
    "strlen": lambda d: [b"STRLEN", _key(d, "str")],
    "getrange": lambda d: [b"GETRANGE", _key(d, "str"), _int(d), _int(d)],
    "getbit": lambda d: [b"GETBIT", _key(d, "str"), _int(d, 0, 20)],
    "bitcount": lambda d: [b"BITCOUNT", _key(d, "str")] + _opt(d, [b"0", b"-1"], [b"1", b"3", b"BIT"]),
    "bitpos": lambda d: [b"BITPOS", _key(d, "str"), _int(d, 0, 1)],
    "exists": lambda d: [b"EXISTS", *_keys(d)],
    "type": lambda d: [b"TYPE", _key(d)],
    "hget": lambda d: [b"HGET", _key(d, "hash"), _m(d)],
    "hmget": lambda d: [b"HMGET", _key(d, "hash"), _m(d), _m(d)],
    "hlen": lambda d: [b"HLEN", _key(d, "hash")],
    "hexists": lambda d: [b"HEXISTS", _key(d, "hash"), _m(d)],
    "hstrlen": lambda d: [b"HSTRLEN", _key(d, "hash"), _m(d)],
    "lrange": lambda d: [b"LRANGE", _key(d, "list"), _int(d), _int(d)],
    "lindex": lambda d: [b"LINDEX", _key(d, "list"), _int(d)],
    "llen": lambda d: [b"LLEN", _key(d, "list")],
    "lpos": lambda d: [b"LPOS", _key(d, "list"), _m(d)] + _opt(d, [b"COUNT", b"0"], [b"RANK", b"-1"]),
    "sismember": lambda d: [b"SISMEMBER", _key(d, "set"), _m(d)],
    "smismember": lambda d: [b"SMISMEMBER", _key(d, "set"), _m(d), _m(d)],
    "scard": lambda d: [b"SCARD", _key(d, "set")],
    "sintercard": lambda d: [b"SINTERCARD", b"2", _key(d, "set"), _key(d, "set")],
    "zrange": lambda d: [b"ZRANGE", _key(d, "zset"), _int(d), _int(d)] + _opt(d, [b"WITHSCORES"], [b"REV", b"WITHSCORES"]),
    "zrangebyscore": lambda d: [b"ZRANGEBYSCORE", _key(d, "zset"), *_range(d), b"WITHSCORES"],
    "zrangebylex": lambda d: [b"ZRANGEBYLEX", _key(d, "zset"), *_lex(d)],
    "zscore": lambda d: [b"ZSCORE", _key(d, "zset"), _m(d)],
    "zmscore": lambda d: [b"ZMSCORE", _key(d, "zset"), _m(d), _m(d)],
    "zrank": lambda d: [b"ZRANK", _key(d, "zset"), _m(d)],
    "zcard": lambda d: [b"ZCARD", _key(d, "zset")],
    "zcount": lambda d: [b"ZCOUNT", _key(d, "zset"), *_range(d)],
    "zunion": lambda d: [b"ZUNION", b"2", _key(d, "zset"), _key(d, "zset"), b"WITHSCORES"],
    "zinter": lambda d: [b"ZINTER", b"2", _key(d, "zset"), _key(d, "zset"), b"WITHSCORES"],
    "geopos": lambda d: [b"GEOPOS", _key(d, "zset"), _m(d), _m(d)],
    "geodist": lambda d: [b"GEODIST", _key(d, "zset"), _m(d), _m(d)],
    "geosearch": lambda d: [b"GEOSEARCH", _key(d, "zset"), b"FROMLONLAT", b"15", b"37", b"BYRADIUS", b"300",
                            b"km", b"ASC", b"WITHDIST", b"WITHCOORD"],
    "xrange": lambda d: [b"XRANGE", _key(d, "stream"), b"-", b"+"] + _opt(d, [b"COUNT", b"2"]),
    "xrevrange": lambda d: [b"XREVRANGE", _key(d, "stream"), b"+", b"-"],
    "xlen": lambda d: [b"XLEN", _key(d, "stream")],
    "xpending": lambda d: [b"XPENDING", _key(d, "stream"), _group(d)],
}


# Behave differently inside a script than from a client, by design: blocking
# commands do not block in scripts.  Left out of the script-vs-client comparison.
SCRIPT_ONLY = {"blmpop", "bzmpop"}


def script_writes() -> set[str]:
    """The names of the write commands scripts may call (from the command table)."""
    load()
    names = set()
    for spec in TABLE.values():
        for s in [spec, *(spec.subcommands or {}).values()]:
            if s.is_write and not (s.noscript or (s.parent is not None and s.parent.noscript)):
                names.add(s.name)
    return names


# Keys of every type (with TTLs, a second database, and "gone", due to expire soon).
INITIAL: list[list[bytes]] = [
    [b"SET", b"gone", b"soon", b"PX", b"5000"],
    [b"SET", b"s", b"hello", b"EX", b"1000"],
    [b"SET", b"n", b"10"],
    [b"SET", b"f", b"1.5", b"PX", b"700000"],
    [b"HSET", b"h", b"a", b"1", b"b", b"x", b"c", b"3"],
    [b"PEXPIRE", b"h", b"900000"],
    [b"RPUSH", b"l", b"a", b"b", b"c", b"a", b"d"],
    [b"SADD", b"st", b"a", b"b", b"c"],
    [b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"],
    [b"EXPIRE", b"z", b"2000"],
    [b"GEOADD", b"geo", b"13.361389", b"38.115556", b"a", b"15.087269", b"37.502669", b"b"],
    [b"SETBIT", b"bits", b"7", b"1"],
    [b"PFADD", b"hll", b"a", b"b", b"c"],
    [b"PFADD", b"big", *(b"%d" % i for i in range(40))],
    [b"PFDEBUG", b"TODENSE", b"big"],
    *([b"XADD", b"x", b"%d-0" % i, b"f", b"%d" % i] for i in range(1, 6)),
    [b"XGROUP", b"CREATE", b"x", b"g", b"0"],
    [b"XGROUP", b"CREATE", b"x", b"g2", b"$"],
    [b"XREADGROUP", b"GROUP", b"g", b"alice", b"COUNT", b"2", b"STREAMS", b"x", b">"],
    [b"SELECT", b"1"],
    [b"SET", b"s", b"in db 1"],
    [b"RPUSH", b"l", b"one"],
    [b"SELECT", b"0"],
]
