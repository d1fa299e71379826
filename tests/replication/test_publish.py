"""PUBLISH reaches subscribers on replicas, in order with the writes of its unit (Redis
propagates it to replicas, not to the AOF). The same traffic against a moonkv pair and a
redis-server pair gives a replica's subscriber the same bytes."""

from __future__ import annotations

import signal

import redis

from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis
from tests.replication.util import caught_up, client, info, link_up, nodes, replica_args

_SET_AND_PUBLISH = "redis.call('set', KEYS[1], ARGV[1]) redis.call('publish', 'ch', ARGV[1]) return 1"


def _traffic(primary: redis.Redis) -> None:
    primary.publish("ch", "plain")
    primary.execute_command("SPUBLISH", "sch", "shard")
    with primary.pipeline(transaction=True) as p:
        p.set("k", "in-multi").publish("ch", "after-set").publish("other", "x")
        p.execute()
    primary.eval(_SET_AND_PUBLISH, 1, "k", "in-script")
    primary.execute_command("SELECT", 3)
    primary.publish("ch", "from-db-3")
    primary.execute_command("SELECT", 0)


def _received(primary_h: ServerHandle, replica_h: ServerHandle) -> list[bytes]:
    """What a subscriber on the replica gets, and what the replica holds when it gets it."""
    primary, replica = client(primary_h), client(replica_h)
    link_up(replica)
    sub = RawClient(replica_h.port)
    replies = [sub.call("SUBSCRIBE", "ch", "other"), sub.call("PSUBSCRIBE", "c*"), sub.call("SSUBSCRIBE", "sch")]
    reader = RawClient(replica_h.port)
    _traffic(primary)
    for _ in range(10):  # 4 on ch, each also matching c*; 1 on other; 1 sharded
        msg = sub.read_reply()
        replies.append(msg)
        if msg.endswith(b"after-set\r\n") and b"pmessage" not in msg:
            replies.append(reader.call("GET", "k"))  # the unit's write came before its message
    sub.close()
    reader.close()
    return replies


def test_subscribers_on_a_replica_get_what_redis_gives_them() -> None:
    ph = start_redis()
    try:
        rh = start_redis(["--replicaof", "127.0.0.1", str(ph.port)])
        try:
            expected = _received(ph, rh)
        finally:
            rh.stop()
    finally:
        ph.stop()
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        assert _received(ph, rh) == expected


def test_a_failed_script_publishes_nothing_anywhere_and_restarts_replay_nothing() -> None:
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,), nodes(replica_args(rh)) as (ch,):
        primary = client(ph)
        link_up(client(rh))
        link_up(client(ch))
        subs = [RawClient(h.port) for h in (ph, rh, ch)]
        for s in subs:
            s.call("SUBSCRIBE", "ch")
        primary.set("str", "not a number")
        try:
            primary.eval("redis.call('publish', 'ch', 'lost') redis.call('incr', 'str')", 0)
        except redis.ResponseError:
            pass
        primary.publish("ch", "kept")
        for s in subs:  # the chained replica too: the bytes pass on
            assert s.read_reply() == b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nkept\r\n"
            s.close()
        # Restarts replay nothing: the log keeps PUBLISH for the stream's offsets only.
        ph.stop(signal.SIGKILL)
        ph2 = start_moonkv([], dir=ph.dir, port=ph.port)
        try:
            p2 = client(ph2)
            assert p2.get("str") == b"not a number"
            sub = RawClient(rh.port)
            sub.call("SUBSCRIBE", "ch")
            caught_up(p2, client(rh))
            assert info(p2, "stats")["sync_partial_ok"] == "1"
            p2.publish("ch", "after-restart")
            assert sub.read_reply() == b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$13\r\nafter-restart\r\n"
            sub.close()
        finally:
            ph2.stop()
