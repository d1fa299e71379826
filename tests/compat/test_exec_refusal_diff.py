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
