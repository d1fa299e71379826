"""Replication commands and replica behaviour against Redis 7.0: the same commands
to a moonkv pair and a Redis pair, replies compared byte for byte; bad input."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from tests.helpers import RawClient, ServerHandle, running, start_redis
from tests.replication.util import caught_up, client, info, link_up, nodes, replica_args, wait_until

WRITE = "return redis.call('SET', KEYS[1], ARGV[1])"


@pytest.fixture(scope="module")
def pairs() -> Iterator[tuple[tuple[ServerHandle, ServerHandle], tuple[ServerHandle, ServerHandle]]]:
    with running(start_redis()) as rp, nodes([]) as (mp,):
        with running(start_redis(["--replicaof", "127.0.0.1", str(rp.port)])) as rr:
            with nodes(replica_args(mp)) as (mr,):
                for p, r in ((rp, rr), (mp, mr)):
                    caught_up(client(p), client(r))
                yield (mp, mr), (rp, rr)


def both(pairs: object, which: int, *cmd: str | int) -> tuple[bytes, bytes]:
    (mp, mr), (rp, rr) = pairs  # type: ignore[misc]
    out = []
    for h in ((mp, rp) if which == 0 else (mr, rr)):
        c = RawClient(h.port)
        try:
            out.append(c.call(*cmd))
        finally:
            c.close()
    return out[0], out[1]


@pytest.mark.parametrize("cmd", [
    ("SET", "k", "v"),
    ("EVAL", WRITE, 1, "k", "v"),
    ("EVAL", "#!lua\n" + WRITE, 1, "k", "v"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "k"),
    ("EVAL_RO", "return redis.call('GET', KEYS[1])", 1, "k"),
    ("EVAL", "return redis.call('GET', KEYS[1])", 1, "k"),
    ("WAIT", 1, 0),
    ("REPLICAOF", "127.0.0.1", "x"),
    ("REPLICAOF", "127.0.0.1", "99999"),
    ("SLAVEOF", "no", "two"),
    ("REPLCONF", "foo", "bar"),
    ("REPLCONF", "listening-port"),
    ("REPLCONF", "listening-port", "x"),
    ("PSYNC", "abc", "def"),
    ("SYNC", "x"),
    ("INCR", "n"),
    ("FAILOVER",),
    ("PSYNC", "abc", 1, "FAILOVER"),
], ids=lambda c: " ".join(str(a) for a in c)[:40])
def test_replica_replies_as_redis(pairs: object, cmd: tuple[str | int, ...]) -> None:
    mine, theirs = both(pairs, 1, *cmd)
    assert mine == theirs


@pytest.mark.parametrize("cmd", [
    ("ROLE",),
    ("WAIT", 0, 0),
    ("WAIT", "x", 0),
    ("WAIT", 1, -1),
    ("REPLCONF", "foo", "bar"),
    ("REPLCONF", "capa", "eof"),
    ("REPLCONF",),
    ("PSYNC", "abc", "def"),
    ("PSYNC", "a", "b", "c"),
    ("FAILOVER", "ABORT"),
    ("FAILOVER", "ABORT", "FORCE"),
    ("FAILOVER", "TO", "127.0.0.1"),
    ("FAILOVER", "TIMEOUT", 0),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "bla"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "TO", "127.0.0.1", 1),
], ids=lambda c: " ".join(str(a) for a in c)[:40])
def test_primary_replies_as_redis(pairs: object, cmd: tuple[str | int, ...]) -> None:
    mine, theirs = both(pairs, 0, *cmd)
    if cmd == ("ROLE",):  # offsets and ports differ: compare the shape
        mine, theirs = _shape(mine), _shape(theirs)
    assert mine == theirs


def _shape(raw: bytes) -> list[bytes]:
    """Reply types and array lengths, values left out."""
    return [line if line[:1] == b"*" else line[:1] if line[:1] in b":$+-" else b"v"
            for line in raw.split(b"\r\n")]


def test_info_replication_fields_as_redis(pairs: object) -> None:
    (mp, mr), (rp, rr) = pairs  # type: ignore[misc]
    for m, r in ((mp, rp), (mr, rr)):
        mine, theirs = info(client(m)), info(client(r))
        assert list(mine) == list(theirs)
        assert mine["slave0" if "slave0" in mine else "role"].split("=")[0] == theirs[
            "slave0" if "slave0" in theirs else "role"].split("=")[0]
    assert info(client(mr))["role"] == "slave"


def test_replicaof_replies_as_redis() -> None:
    with running(start_redis()) as rp, running(start_redis()) as rr, nodes([], []) as (mp, mr):
        for p, r in ((rp, rr), (mp, mr)):
            c = RawClient(r.port)
            try:
                assert c.call("REPLICAOF", "no", "one") == b"+OK\r\n"
                assert c.call("REPLICAOF", "127.0.0.1", p.port) == b"+OK\r\n"
                assert c.call("REPLICAOF", "127.0.0.1", p.port) == b"+OK Already connected to specified master\r\n"
                link_up(client(r))
                assert c.call("REPLICAOF", "no", "one") == b"+OK\r\n"
                assert c.call("SET", "k", "v") == b"+OK\r\n"
            finally:
                c.close()


def test_scripts_and_functions_reach_the_replica() -> None:
    """FUNCTION LOAD is replicated, as in Redis 7.0; so is the script cache (SCRIPT LOAD,
    EVAL's caching), which Redis does not replicate: EVALSHA works on a replica at once."""
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph)) as (rh,):
            replica = client(rh)
            link_up(replica)  # (a full sync's snapshot would carry the primary's cache)
            sha = primary.script_load("return redis.call('GET', KEYS[1])")
            primary.function_load("#!lua name=lib\nredis.register_function{function_name='rd', "
                                  "callback=function(k) return redis.call('GET', k[1]) end, flags={'no-writes'}}")
            primary.set("k", "v")
            caught_up(primary, replica)
            assert replica.script_exists(sha) == [True]  # through the stream
            assert replica.evalsha(sha, 1, "k") == b"v"
            assert replica.execute_command("EVALSHA_RO", sha, 1, "k") == b"v"
            assert replica.execute_command("FCALL_RO", "rd", 1, "k") == b"v"
            assert replica.execute_command("FCALL", "rd", 1, "k") == b"v"


def test_failed_and_killed_scripts_leave_no_trace() -> None:
    # The offsets are compared across a script that runs past lua-time-limit (5 s): no PING
    # of the primary's cron may land in between (it did, every 10 s, on a loaded machine).
    with nodes(["--repl-ping-replica-period", "3600"]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph)) as (rh,):
            replica = client(rh)
            link_up(replica)
            primary.set("k", "before")  # streamed (with its SELECT), not in the full sync
            # The script's body is cached before its run fails: load it first, so the
            # offset can only move for its effects.
            sha = primary.script_load("redis.call('SET', KEYS[1], 'x') redis.call('INCR', KEYS[1])")
            caught_up(primary, replica)
            before = info(primary)["master_repl_offset"]
            with pytest.raises(redis.ResponseError):
                primary.evalsha(sha, 1, "k")
            assert info(primary)["master_repl_offset"] == before
            killer = redis.Redis(port=ph.port)

            def kill() -> bool:
                try:
                    return bool(killer.script_kill())
                except redis.ResponseError:  # NOTBUSY: not declared busy yet
                    return False

            slow_sha = primary.script_load("redis.call('SET', KEYS[1], 'y') while true do end")
            caught_up(primary, replica)
            before = info(primary)["master_repl_offset"]
            s = socket.create_connection(("127.0.0.1", ph.port), timeout=10)
            try:
                s.sendall(b"*4\r\n$7\r\nEVALSHA\r\n$40\r\n" + slow_sha.encode() + b"\r\n$1\r\n1\r\n$1\r\nk\r\n")
                wait_until(kill, what="SCRIPT KILL")
                assert s.recv(200).startswith(b"-ERR Script killed")
            finally:
                s.close()
            primary.set("marker", "1")
            caught_up(primary, replica)
            assert replica.get("k") == b"before"
            after = int(info(primary)["master_repl_offset"])
            # Only the marker's SET went out: no trace of either script.
            marker = b"*3\r\n$3\r\nSET\r\n$6\r\nmarker\r\n$1\r\n1\r\n"
            assert after - int(before) == len(marker)
