"""EXEC on a server that refuses writes (NOREPLICAS, READONLY) against real Redis 7.0: the
EXEC is refused as a whole when it arrives, not command by command."""

from __future__ import annotations

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle


def test_exec_refused_as_a_write(diff: Differ, moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    other_m, other_r = RawClient(moonkv_server.port), RawClient(redis_server.port)
    try:
        diff("SET", "xx", "1")
        diff("MULTI")
        diff("INCR", "xx")
        for o in (other_m, other_r):
            assert o.call("CONFIG", "SET", "min-replicas-to-write", "2") == b"+OK\r\n"
        diff("EXEC")  # EXECABORT ... NOREPLICAS
        diff("MULTI")
        diff("GET", "xx")
        diff("EXEC")  # reads only: runs
        diff("GET", "xx")
    finally:
        for o in (other_m, other_r):
            o.call("CONFIG", "SET", "min-replicas-to-write", "0")
            o.close()


def test_replicaof_inside_a_transaction(diff: Differ) -> None:
    try:
        diff("MULTI")
        diff("SET", "foo2", "bar")
        diff("REPLICAOF", "127.0.0.1", "1")  # nothing listens there
        diff("SET", "foo3", "bar")
        diff("EXEC")  # the write after REPLICAOF still runs
        diff("SET", "foo4", "bar")  # READONLY
        diff("MULTI")
        diff("SET", "foo5", "bar")  # READONLY at queueing
        diff("EXEC")
    finally:
        diff.both("REPLICAOF", "NO", "ONE")


def test_exec_refused_before_it_runs_discards_the_transaction(
    diff: Differ, moonkv_server: ServerHandle, redis_server: ServerHandle
) -> None:
    """Redis's execCommandAbort: an EXEC that processCommand refuses (arity, OOM, MASTERDOWN)
    answers EXECABORT with the reason and the transaction is gone."""
    other_m, other_r = RawClient(moonkv_server.port), RawClient(redis_server.port)
    others = (other_m, other_r)
    try:
        diff("MULTI")
        diff("SET", "a", "1")
        diff("EXEC", "extra")  # EXECABORT ... wrong number of arguments (without its ERR)
        diff("EXEC")  # EXEC without MULTI
        diff("GET", "a")

        diff("SET", "x", "value")
        diff("MULTI")
        diff("SET", "x", "1")
        diff("GET", "x")
        for o in others:
            assert o.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
        diff("EXEC")  # EXECABORT ... OOM
        diff("EXEC")
        diff("MULTI")
        diff("GET", "x")
        diff("EXEC")  # reads only: runs while out of memory
        for o in others:
            assert o.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"

        for o in others:
            assert o.call("CONFIG", "SET", "replica-serve-stale-data", "no") == b"+OK\r\n"
        diff("MULTI")
        diff("GET", "x")
        for o in others:  # nothing listens there: the link stays down, the replica stale
            assert o.call("REPLICAOF", "127.0.0.1", "1") == b"+OK\r\n"
        diff("EXEC")  # EXECABORT ... MASTERDOWN
        diff("EXEC")
    finally:
        for o in others:
            o.call("CONFIG", "SET", "maxmemory", "0")
            o.call("REPLICAOF", "NO", "ONE")
            o.call("CONFIG", "SET", "replica-serve-stale-data", "yes")
            o.close()
