"""ACL users are each node's own, as in Redis: ACL SETUSER/DELUSER on a primary do not
reach its replicas (neither in the stream nor in a full sync's snapshot), and a replica's
own users survive a full sync and its restarts."""

from __future__ import annotations

import signal

import redis

from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis
from tests.replication.util import caught_up, client, info, link_up, nodes, replica_args, wait_until


def _acl_after_replication(ph: ServerHandle, rh: ServerHandle) -> tuple[bytes, bytes]:
    primary, replica = client(ph), client(rh)
    link_up(replica)
    primary.execute_command("ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all")
    primary.execute_command("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all", "-debug")
    with primary.pipeline(transaction=True) as p:  # an ACL change inside a unit with a write
        p.execute_command("ACL", "SETUSER", "carol", "on", ">x").set("x", "1")
        p.execute()
    primary.execute_command("ACL", "DELUSER", "alice")
    primary.execute_command("ACL", "SETUSER", "alice", "on", ">pw2")
    primary.set("y", "2")
    wait_until(lambda: replica.get("y") == b"2", what="the replica to apply the writes")
    r = RawClient(rh.port)
    p = RawClient(ph.port)
    try:
        return r.call("ACL", "LIST"), p.call("ACL", "LIST")
    finally:
        r.close()
        p.close()


def test_acl_changes_stay_on_the_primary_as_in_redis() -> None:
    ph = start_redis()
    try:
        rh = start_redis(["--replicaof", "127.0.0.1", str(ph.port)])
        try:
            expected = _acl_after_replication(ph, rh)
        finally:
            rh.stop()
    finally:
        ph.stop()
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        got = _acl_after_replication(ph, rh)
    assert got == expected
    assert b"alice" not in got[0] and b"alice" in got[1]


def test_a_replica_keeps_its_own_users_through_full_syncs_and_restarts() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        primary.execute_command("ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all")
        primary.set("k", "v")
        rh = start_moonkv(replica_args(ph))
        try:
            replica = client(rh)
            caught_up(primary, replica)
            replica.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all")
            # A second full sync: the primary starts a new history.
            replica.execute_command("REPLICAOF", "NO", "ONE")
            primary.set("k2", "v2")
            replica.execute_command("REPLICAOF", "127.0.0.1", str(ph.port))
            caught_up(primary, replica)
            assert replica.get("k2") == b"v2"
            assert info(primary, "stats")["sync_full"] == "2"

            def users(r: redis.Redis) -> list[str]:
                return sorted(u.split()[1] for u in r.acl_list())

            assert users(replica) == ["bob", "default"]
            for sig in (signal.SIGKILL, None):
                rh.stop(sig)
                rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
                replica = client(rh)
                caught_up(primary, replica)
                assert users(replica) == ["bob", "default"]
            assert users(primary) == ["alice", "default"]
        finally:
            rh.stop()
