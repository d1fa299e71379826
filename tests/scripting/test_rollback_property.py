"""Rollback, generated: any mix of write commands a script may call is undone exactly.

Every write command that scripts may call is described once in ``CATALOGUE``
(an argument generator); a test checks that the catalogue covers the command
table, so a new write command cannot escape these tests.  Hypothesis draws
sequences of them over keys of every type (with TTLs, a second database, a key
that has already expired) and runs them through the real executor:

* inside a script that then fails: every database must be left exactly as it
  was (same encoded values, same expiry times), nothing may be committed and
  no WATCHed key may be touched;
* inside a script that succeeds: the result must equal running the same
  commands one by one outside a script (so the rollback tests exercise real
  changes, and scripts do what plain commands do).

In-process (no sockets): the executor, keyspace and Lua runtime are the real ones.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moonkv.clock import ManualClock
from moonkv.commands import load
from moonkv.commands.table import TABLE
from moonkv.engine import Config, Server
from moonkv.errors import RespError
from moonkv.keyspace.codec import decode_value, encode_value
from moonkv.keyspace.types.stream import Stream
from moonkv.keyspace.types.zset import ZSet
from moonkv.persistence import attach as attach_persistence
from moonkv.protocol import RawReply
from moonkv.scripting import attach as attach_scripting

KEYS = [b"s", b"n", b"f", b"h", b"l", b"st", b"z", b"x", b"geo", b"bits", b"gone", b"new", b"new2"]
MEMBERS = [b"a", b"b", b"c", b"d", b"long" * 20]  # 80 bytes: past the listpack limits
START_MS = 1_700_000_000_000

SCRIPT = b"""
local cmds = cmsgpack.unpack(ARGV[1])
for i = 1, #cmds do redis.pcall(unpack(cmds[i])) end
if ARGV[2] == 'fail' then error('roll it back') end
return #cmds
"""

Draw = Callable[[st.SearchStrategy[Any]], Any]


# Keys by the type they hold at the start ("new" and "new2" do not exist).
OF_TYPE = {
    "str": [b"s", b"n", b"f", b"bits"], "hash": [b"h"], "list": [b"l"], "set": [b"st"],
    "zset": [b"z", b"geo"], "stream": [b"x"], "any": KEYS,
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


def _ttl(d: Draw) -> list[bytes]:
    return [_int(d, 1, 500)] + _opt(d, [b"NX"], [b"XX"], [b"GT"], [b"LT"])


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
    "psetex": lambda d: [b"PSETEX", _key(d, "str"), _int(d, 1, 100), _m(d)],
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
    "expire": lambda d: [b"EXPIRE", _key(d), *_ttl(d)],
    "pexpire": lambda d: [b"PEXPIRE", _key(d), *_ttl(d)],
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
    # not a write, but it moves the script's later writes to another database
    "select": lambda d: [b"SELECT", d(st.sampled_from([b"0", b"1"]))],
}

# Behave differently inside a script than from a client, by design: blocking
# commands do not block in scripts.  Left out of the script-vs-client comparison.
SCRIPT_ONLY = {"blmpop", "bzmpop"}


def _script_writes() -> set[str]:
    names = set()
    for spec in TABLE.values():
        for s in [spec, *(spec.subcommands or {}).values()]:
            if s.is_write and not (s.noscript or (s.parent is not None and s.parent.noscript)):
                names.add(s.name)
    return names


def _call(srv: Server, c: Any, *argv: bytes) -> Any:
    return srv.execute(c, list(argv))


@contextlib.contextmanager
def _server() -> Iterator[tuple[Server, Any, bytes]]:
    """A server with a durable log (in a temporary directory) holding keys of
    every type, with TTLs, a second db and an expired key; and the test script's sha."""
    load()
    d = tempfile.mkdtemp(prefix="moonkv-rollback-")
    cfg = Config()
    for name, value in (("dir", d), ("appendfsync", "no"), ("save", "")):
        cfg.load(name, value)
    srv = Server(cfg, clock=ManualClock(START_MS - 10_000))
    attach_scripting(srv)
    p = attach_persistence(srv)
    try:
        p.load_now()
        yield _populate(srv)
    finally:
        p.shutdown(save=False)
        shutil.rmtree(d, ignore_errors=True)


def _populate(srv: Server) -> tuple[Server, Any, bytes]:
    c = srv.new_client()
    for argv in (
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
        *([b"XADD", b"x", b"%d-0" % i, b"f", b"%d" % i] for i in range(1, 6)),
        [b"XGROUP", b"CREATE", b"x", b"g", b"0"],
        [b"XGROUP", b"CREATE", b"x", b"g2", b"$"],
        [b"XREADGROUP", b"GROUP", b"g", b"alice", b"COUNT", b"2", b"STREAMS", b"x", b">"],
        [b"SELECT", b"1"],
        [b"SET", b"s", b"in db 1"],
        [b"RPUSH", b"l", b"one"],
        [b"SELECT", b"0"],
    ):
        reply = _call(srv, c, *argv)
        assert not isinstance(reply, RespError), (argv, reply)
    if not PAYLOADS:
        for k in (b"s", b"h", b"l", b"st", b"z", b"x"):
            PAYLOADS[k] = _call(srv, c, b"DUMP", k)
    srv.clock._ms = START_MS  # type: ignore[attr-defined]  # "gone" has expired, not yet removed
    sha = _call(srv, c, b"SCRIPT", b"LOAD", SCRIPT)
    srv.end_unit()
    return srv, c, sha


Snapshot = list[dict[bytes, tuple[bytes, int | None]]]


def _reloaded(srv: Server) -> Snapshot:
    """The snapshot after reloading the data from the durable log alone."""
    assert _call(srv, srv.new_client(), b"DEBUG", b"LOADAOF") == "OK"
    return _durable(_snapshot(srv))


def _durable(snap: Snapshot) -> Snapshot:
    """A snapshot without the stream consumers' last-seen times: they are not
    propagated (Redis does not propagate them either), so a reload resets them."""
    out: Snapshot = []
    for db in snap:
        kept = {}
        for k, (enc, exp) in db.items():
            v = decode_value(enc)
            if isinstance(v, Stream):
                for g in v.groups.values():
                    for consumer in g.consumers.values():
                        consumer.seen = 0
                enc = encode_value(v)
            kept[k] = (enc, exp)
        out.append(kept)
    return out


def _snapshot(srv: Server) -> Snapshot:
    """Every live key of every database: encoded value and expiry time."""
    now = srv.clock.now_ms()
    out = []
    for db in srv.ks.dbs:
        assert set(db.expires) <= set(db.data), f"db {db.id}: expiry without a key"
        live: dict[bytes, tuple[bytes, int | None]] = {}
        for k, v in db.data.items():
            exp = db.expires.get(k)
            if exp is not None and exp <= now:
                continue
            if isinstance(v, ZSet):  # the two halves of a sorted set must agree
                assert dict((m, s) for s, m in v.sl) == v.dict, k
            live[k] = (encode_value(v), exp)
        out.append(live)
    return out


class Sink:
    def __init__(self) -> None:
        self.effects: list[Any] = []

    def commit(self, effects: list[Any]) -> None:
        self.effects.extend(effects)


commands = st.lists(st.sampled_from(sorted(CATALOGUE)), min_size=1, max_size=8)
SETTINGS = settings(max_examples=int(os.environ.get("MOONKV_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _argvs(data: st.DataObject, names: list[str]) -> list[list[bytes]]:
    return [CATALOGUE[n](data.draw) for n in names]


def _run_script(srv: Server, c: Any, sha: bytes, argvs: list[list[bytes]], outcome: bytes) -> Any:
    random.seed(7)  # SPOP and friends: the same choices as the client run
    reply = _call(srv, c, b"EVALSHA", sha, b"0", msgpack.packb(argvs, use_bin_type=False), outcome)
    srv.end_unit()
    return reply


def test_the_catalogue_covers_every_write_command_scripts_may_call() -> None:
    load()
    assert _script_writes() <= set(CATALOGUE), sorted(_script_writes() - set(CATALOGUE))


@SETTINGS
@given(names=commands, data=st.data())
def test_a_failed_script_leaves_every_database_as_it_was(names: list[str], data: st.DataObject) -> None:
    with _server() as (srv, c, sha):
        sink = Sink()
        srv.sinks.append(sink)
        watcher = srv.new_client()
        _call(srv, watcher, b"WATCH", *KEYS)
        argvs = _argvs(data, names)
        before = _snapshot(srv)
        reply = _run_script(srv, c, sha, argvs, b"fail")
        assert isinstance(reply, RespError) and "roll it back" in str(reply), reply
        assert _snapshot(srv) == before, argvs
        # Not even the lazy expiry of "gone" (or of a key the script gave a past TTL).
        assert sink.effects == [], sink.effects
        assert not watcher.dirty_cas, "a rolled-back script must not touch WATCHed keys"
        assert _reloaded(srv) == _durable(before), argvs


@SETTINGS
@given(names=commands, data=st.data())
def test_a_successful_script_does_what_the_same_commands_do(names: list[str], data: st.DataObject) -> None:
    # ... and what it did survives a reload from the durable log (its effects).
    argvs = _argvs(data, [n for n in names if n not in SCRIPT_ONLY])
    with _server() as (by_script, c, sha), _server() as (by_client, _c, _sha):
        reply = _run_script(by_script, c, sha, argvs, b"ok")
        assert reply == len(argvs), reply
        random.seed(7)
        c2 = by_client.new_client()
        for argv in argvs:
            _call(by_client, c2, *argv)
            by_client.end_unit()
        after = _snapshot(by_script)
        assert after == _snapshot(by_client), argvs
        assert _reloaded(by_script) == _durable(after), argvs
        assert _reloaded(by_client) == _durable(after), argvs


def test_a_failed_script_logs_no_expiry_it_caused() -> None:
    # The script gives "s" a TTL that has already passed, then touches it: the
    # lazy expiry is the script's doing and must go with it, or a reload from
    # the log would delete the "s" the rollback restored.
    with _server() as (srv, c, _sha):
        before = _snapshot(srv)
        body = b"redis.call('set', 's', 'x', 'pxat', ARGV[1]); redis.call('append', 's', 'y'); error('no')"
        reply = _call(srv, c, b"EVAL", body, b"0", b"%d" % START_MS)
        srv.end_unit()
        assert isinstance(reply, RespError)
        assert _snapshot(srv) == before
        assert _reloaded(srv) == _durable(before)


def test_the_undo_log_is_proportional_to_the_change() -> None:
    # Small writes to big values: their undo entries may refer to the live
    # values, but must not hold copies of them.
    with _server() as (srv, c, _sha):
        _check_undo_entries(srv, c)


def _check_undo_entries(srv: Server, c: Any) -> None:
    n = 50_000
    for argv in (
        [b"RPUSH", b"big:l", *[b"%d" % i for i in range(n)]],
        [b"HSET", b"big:h", *[b"%d" % (i // 2) for i in range(2 * n)]],
        [b"SADD", b"big:s", *[b"m%d" % i for i in range(n)]],
        [b"ZADD", b"big:z", *[b"%d" % (i // 2) for i in range(2 * n)]],
    ):
        _call(srv, c, *argv)
    before = _contents(srv)
    live = {id(v) for v in srv.ks.dbs[0].data.values()}
    srv.ks.undo = undo = []
    for argv in (
        [b"LPUSH", b"big:l", b"x"], [b"RPOP", b"big:l"], [b"LSET", b"big:l", b"7", b"y"],
        [b"HSET", b"big:h", b"new", b"v"], [b"HDEL", b"big:h", b"3"],
        [b"SADD", b"big:s", b"new"], [b"SREM", b"big:s", b"m3"],
        [b"ZADD", b"big:z", b"5", b"new"], [b"ZREM", b"big:z", b"3"], [b"ZINCRBY", b"big:z", b"1", b"4"],
    ):
        assert not isinstance(_call(srv, c, *argv), RespError), argv
    srv.ks.undo = None
    assert len(undo) <= 30
    for fn in undo:
        for cell in fn.__closure__ or ():
            held = cell.cell_contents
            if isinstance(held, (list, tuple, dict, set)) and id(held) not in live:
                assert len(held) < 10, f"an undo entry holds a {type(held).__name__} of {len(held)}"
    for fn in reversed(undo):
        fn()
    assert _contents(srv) == before


def _contents(srv: Server) -> dict[bytes, object]:
    """Database 0's values, compared without the order of big hashes and sets
    (arbitrary in Redis too, and not kept by a rollback)."""
    out: dict[bytes, object] = {}
    for k, v in srv.ks.dbs[0].data.items():
        if isinstance(v, ZSet):
            out[k] = (list(v.sl), v.dict, v.big)
        elif isinstance(v, (dict, set)):
            out[k] = (type(v)(v), v.big)  # type: ignore[attr-defined]
        else:
            out[k] = encode_value(v)
    return out


_BLOCKING = {"blmpop": [b"BLMPOP", b"0", b"1", b"new", b"LEFT"], "bzmpop": [b"BZMPOP", b"0", b"1", b"new", b"MIN"]}


@pytest.mark.parametrize("name", sorted(SCRIPT_ONLY))
def test_blocking_commands_do_not_block_in_scripts(name: str) -> None:
    with _server() as (srv, c, _sha):
        reply = _call(srv, c, b"EVAL", b"return redis.call(unpack(ARGV))", b"0", *_BLOCKING[name])
    assert isinstance(reply, RawReply) and reply.data == b"$-1\r\n"  # a null reply at once, not BLOCKED
