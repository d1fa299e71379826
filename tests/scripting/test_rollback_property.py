"""Rollback, generated: any mix of write commands a script may call is undone exactly.

Every write command that scripts may call is described once in
``tests/command_catalogue.py`` (an argument generator); a test checks that the
catalogue covers the command table, so a new write command cannot escape these
tests.  Hypothesis draws sequences of them over keys of every type (with TTLs,
a second database, a key that has already expired) and runs them through the
real executor, in an EVALSHA script or an FCALL function:

* when it then fails (an error, the hard time limit, the memory limit), every database must be left exactly as it was (same
  encoded values, same expiry times), nothing may reach the durable log and no
  WATCHed key may be touched;
* when it succeeds, the result must equal running the same commands one by one
  from a client (so the rollback tests exercise real changes), and survive a
  reload from the durable log and a snapshot round trip.

In-process (no sockets): the executor, keyspace, Lua runtime and log are the real ones.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moonkv.clock import ManualClock
from moonkv.commands import load
from moonkv.engine import BLOCKED, Config, Server
from moonkv.errors import RespError
from moonkv.keyspace.codec import decode_value, encode_value
from moonkv.keyspace.types.stream import Stream
from moonkv.keyspace.types.zset import ZSet
from moonkv.persistence import attach as attach_persistence
from moonkv.protocol import RawReply
from moonkv.scripting import attach as attach_scripting
from tests.command_catalogue import (
    CATALOGUE,
    INITIAL,
    KEYS,
    PAYLOADS,
    SCRIPT_ONLY,
    START_MS,
    script_writes,
)

# The same body as an EVAL script and as a function (FCALL apply).
BODY = b"""
local cmds = cmsgpack.unpack(ARGV[1])
for i = 1, #cmds do redis.pcall(unpack(cmds[i])) end
if ARGV[2] == 'fail' then error('roll it back') end
if ARGV[2] == 'kill' then while true do end end
if ARGV[2] == 'oom' then
  local t, i = {}, 0
  while true do i = i + 1; t[i] = string.rep('x', 4096) .. i end
end
return #cmds
"""
SCRIPT = BODY
LIBRARY = b"#!lua name=gen\nredis.register_function('apply', function(KEYS, ARGV)\n" + BODY + b"end)\n"

def _call(srv: Server, c: Any, *argv: bytes) -> Any:
    return srv.execute(c, list(argv))


@contextlib.contextmanager
def _server() -> Iterator[tuple[Server, Any, bytes]]:
    """A server with a durable log (in a temporary directory) holding keys of
    every type, with TTLs, a second db and an expired key; and the test script's sha."""
    load()
    d = tempfile.mkdtemp(prefix="moonkv-rollback-")
    cfg = Config()
    for name, value in (("dir", d), ("appendfsync", "no"), ("save", ""), ("enable-debug-command", "yes")):
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
    for argv in INITIAL:
        reply = _call(srv, c, *argv)
        assert not isinstance(reply, RespError), (argv, reply)
    if not PAYLOADS:
        for k in (b"s", b"h", b"l", b"st", b"z", b"x"):
            PAYLOADS[k] = _call(srv, c, b"DUMP", k)
    srv.clock._ms = START_MS  # type: ignore[attr-defined]  # "gone" has expired, not yet removed
    sha = _call(srv, c, b"SCRIPT", b"LOAD", SCRIPT)
    assert _call(srv, c, b"FUNCTION", b"LOAD", LIBRARY) == b"gen"
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


runners = st.sampled_from([b"EVALSHA", b"FCALL"])
commands = st.lists(st.sampled_from(sorted(CATALOGUE)), min_size=1, max_size=8)
SETTINGS = settings(max_examples=int(os.environ.get("MOONKV_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _argvs(data: st.DataObject, names: list[str]) -> list[list[bytes]]:
    return [CATALOGUE[n](data.draw) for n in names]


def _run_script(srv: Server, c: Any, sha: bytes, argvs: list[list[bytes]], outcome: bytes, via: bytes) -> Any:
    random.seed(7)  # SPOP and friends: the same choices as the client run
    reply = _call(srv, c, via, sha if via == b"EVALSHA" else b"apply", b"0",
                  msgpack.packb(argvs, use_bin_type=False), outcome)
    srv.end_unit()
    return reply


def test_the_catalogue_covers_every_write_command_scripts_may_call() -> None:
    assert script_writes() <= set(CATALOGUE), sorted(script_writes() - set(CATALOGUE))


# How a script fails: an error, stopped by the hard time limit, out of memory.
FAILURES = {
    b"fail": ((), "roll it back"),
    b"kill": ((b"lua-kill-time-limit", b"30"), "Script exceeded the time limit of 30 ms"),
    b"oom": ((b"lua-memory-limit", b"8mb"), "Script exceeded the memory limit"),
}


@SETTINGS
@given(names=commands, via=runners, how=st.sampled_from(sorted(FAILURES)), data=st.data())
def test_a_failed_script_leaves_every_database_as_it_was(
    names: list[str], via: bytes, how: bytes, data: st.DataObject
) -> None:
    with _server() as (srv, c, sha):
        config, text = FAILURES[how]
        if config:
            assert _call(srv, c, b"CONFIG", b"SET", *config) == "OK"
        sink = Sink()
        srv.sinks.append(sink)
        watcher = srv.new_client()
        _call(srv, watcher, b"WATCH", *KEYS)
        waiter = srv.new_client()  # blocked on keys the script may push to
        sent: list[object] = []
        waiter.send = sent.append  # type: ignore[method-assign]
        assert _call(srv, waiter, b"BLPOP", b"new", b"new2", b"0") is BLOCKED
        argvs = _argvs(data, names)
        before = _snapshot(srv)
        reply = _run_script(srv, c, sha, argvs, how, via)
        assert isinstance(reply, RespError) and text in str(reply), reply
        assert _snapshot(srv) == before, argvs
        # Not even the lazy expiry of "gone" (or of a key the script gave a past TTL).
        assert sink.effects == [], sink.effects
        assert not watcher.dirty_cas, "a rolled-back script must not touch WATCHed keys"
        assert waiter.blocked is not None and sent == [], "a rolled-back script must not serve blocked clients"
        assert _reloaded(srv) == _durable(before), argvs


@SETTINGS
@given(names=commands, via=runners, data=st.data())
def test_a_successful_script_does_what_the_same_commands_do(names: list[str], via: bytes, data: st.DataObject) -> None:
    # ... and what it did survives a reload from the durable log (its effects).
    argvs = _argvs(data, [n for n in names if n not in SCRIPT_ONLY])
    with _server() as (by_script, c, sha), _server() as (by_client, _c, _sha):
        reply = _run_script(by_script, c, sha, argvs, b"ok", via)
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
        # And through a snapshot (DEBUG RELOAD saves one and loads it): exact.
        replayed = _snapshot(by_script)
        assert _call(by_script, c, b"DEBUG", b"RELOAD") == "OK"
        assert _snapshot(by_script) == replayed, argvs


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


def _captured(fn: Any) -> list[Any]:
    """The values an undo entry holds: a Python closure's cells, or, compiled
    by mypyc, the attributes of the environment object the closure refers to."""
    if hasattr(fn, "__code__"):
        return [cell.cell_contents for cell in fn.__closure__ or ()]
    return [held for env in gc.get_referents(fn) for held in gc.get_referents(env)]


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
        for held in _captured(fn):
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
