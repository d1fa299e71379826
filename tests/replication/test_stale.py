"""replica-serve-stale-data no: while its link is not up a replica answers -MASTERDOWN to
every command without the stale flag, and to scripts that do not declare allow-stale;
compared byte for byte with a real redis-server in the same state."""

from __future__ import annotations

from tests.helpers import RawClient, both, free_port, start_moonkv
from tests.replication.util import client, info, link_up, nodes, replica_args, wait_until

_LIB = "#!lua name=lib\nredis.register_function('f', function() return 1 end)"
_STALE_LIB = (
    "#!lua name=stalelib\n"
    "redis.register_function{function_name='g', callback=function() return redis.call('get', 'a') end,"
    " flags={'no-writes', 'allow-stale'}}\n"
    "redis.register_function{function_name='h', callback=function() return redis.call('echo', 'e') end,"
    " flags={'no-writes', 'allow-stale'}}\n"
    "redis.register_function{function_name='ro', callback=function() return 1 end, flags={'no-writes'}}"
)

CASES: list[list[str]] = [
    ["GET", "a"], ["PING"], ["ECHO", "x"], ["SET", "a", "2"], ["DBSIZE"], ["EXISTS", "a"], ["TTL", "a"],
    ["KEYS", "*"], ["SCAN", "0"], ["MEMORY", "USAGE", "a"], ["OBJECT", "FREQ", "a"], ["PFCOUNT", "h"],
    ["GETEX", "a"], ["SORT_RO", "a"], ["INCR", "n"],
    ["EVAL", "return 1", "0"], ["EVAL", "return redis.call('get','a')", "0"],
    ["EVAL_RO", "return redis.call('get','a')", "0"],
    ["EVAL", "#!lua\nreturn 1", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
    ["EVAL", "#!lua flags=allow-stale\nreturn 1", "0"],
    ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('get','a')", "0"],
    ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.pcall('get','a')", "0"],
    ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','e')", "0"],
    ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('ping')", "0"],
    ["EVALSHA", "0" * 40, "0"],
    ["FCALL", "nosuch", "0"], ["FCALL", "f", "0"], ["FCALL_RO", "ro", "0"], ["FCALL_RO", "h", "0"],
    ["PUBLISH", "x", "y"], ["CONFIG", "GET", "replica-serve-stale-data"], ["SELECT", "1"], ["SELECT", "0"],
    ["SCRIPT", "LOAD", "return 1"], ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
    ["FUNCTION", "LIST"], ["WAIT", "0", "0"], ["SAVE"], ["LATENCY", "LATEST"], ["SLOWLOG", "LEN"],
    ["ROLE"], ["INFO", "keyspace"], ["PUBSUB", "CHANNELS"],
    ["MULTI"], ["GET", "a"], ["EXEC"],
    ["MULTI"], ["ECHO", "a"], ["EXEC"],
    ["MULTI"], ["EVAL", "return 1", "0"], ["EXEC"],
    ["MULTI"], ["SET", "a", "1"], ["EXEC"],
    ["WATCH", "a"], ["UNWATCH"], ["DISCARD"],
    ["SUBSCRIBE", "ch"], ["PING"], ["UNSUBSCRIBE"],
]


def _make_stale(port: int, dead: int) -> None:
    c = RawClient(port)
    for argv in (["SET", "a", "1"], ["FUNCTION", "LOAD", _LIB], ["FUNCTION", "LOAD", _STALE_LIB],
                 ["CONFIG", "SET", "replica-serve-stale-data", "no"], ["REPLICAOF", "127.0.0.1", str(dead)]):
        assert not c.call(*argv).startswith(b"-"), argv
    c.close()


def test_a_stale_replica_answers_as_redis() -> None:
    dead = free_port()  # nobody listens: the link never comes up
    # The slow log off on both: SLOWLOG LEN is compared, and on a loaded machine moonkv's
    # FUNCTION LOAD or SAVE can pass the default 10 ms where Redis's did not.
    with both(["--slowlog-log-slower-than", "-1"]) as (m, real):
        _make_stale(m.port, dead)
        _make_stale(real.port, dead)
        mc, rc = RawClient(m.port), RawClient(real.port)
        try:
            for argv in CASES:
                assert mc.call(*argv) == rc.call(*argv), argv
            # The same refusal inside a function, with Redis's " script: g, on
            # @user_function:2." suffix.
            got = mc.call("FCALL", "g", "0")
            assert got == rc.call("FCALL", "g", "0")
            assert got.startswith(b"-ERR Can not execute the command on a stale replica script: g,")
            # Pipelined (the data path of a pipeline is refused too).
            batch = b"".join(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n" for _ in range(3)) + b"*2\r\n$4\r\nECHO\r\n$1\r\nz\r\n"
            mc.send_raw(batch)
            rc.send_raw(batch)
            assert [mc.read_reply() for _ in range(4)] == [rc.read_reply() for _ in range(4)]
        finally:
            mc.close()
            rc.close()


def test_serving_resumes_with_the_link() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        primary.set("a", "1")
        rh = start_moonkv(replica_args(ph, "--replica-serve-stale-data", "no"))
        try:
            replica = client(rh)
            link_up(replica)
            wait_until(lambda: replica.get("a") == b"1", what="the key")
            raw = RawClient(rh.port)
            ph.stop()
            wait_until(lambda: info(replica)["master_link_status"] == "down", what="the link down")
            masterdown = b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
            assert raw.call("GET", "a") == masterdown
            assert raw.call("INFO", "replication").startswith(b"$")  # INFO is stale-ok
            raw.call("CONFIG", "SET", "replica-serve-stale-data", "yes")
            assert raw.call("GET", "a") == b"$1\r\n1\r\n"
            raw.call("CONFIG", "SET", "replica-serve-stale-data", "no")
            assert raw.call("GET", "a") == masterdown
            ph = start_moonkv([], dir=ph.dir, port=ph.port)
            link_up(replica)
            assert raw.call("GET", "a") == b"$1\r\n1\r\n"
            raw.close()
        finally:
            rh.stop()
            ph.stop()
