"""ACL users replicate (a deliberate difference from Redis, docs/replication.md): ACL
SETUSER/DELUSER/LOAD on a primary reach its replicas and theirs in the unit that made them,
a full sync gives a replica exactly the primary's users, and a replica keeps them through
its restarts."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.helpers import RawClient, ServerHandle, start_moonkv
from tests.replication.util import caught_up as _caught_up
from tests.replication.util import client, info, link_up, nodes, replica_args, wait_until


def _call(h: ServerHandle, *args: str) -> bytes:
    c = RawClient(h.port)
    try:
        return c.call(*args)
    finally:
        c.close()


def _auth(h: ServerHandle, user: str, password: str) -> bytes:
    return _call(h, "AUTH", user, password)


def _acl_list(h: ServerHandle) -> bytes:
    return _call(h, "ACL", "LIST")


def _users(h: ServerHandle) -> list[bytes]:
    reply = _call(h, "ACL", "USERS")
    return sorted(line for line in reply.split(b"\r\n")[1:] if line and line[:1] != b"$")


@contextmanager
def _clients(*handles: ServerHandle) -> Iterator[list[redis.Redis]]:
    """redis-py clients, closed at the end (an unclosed socket warns in a later test)."""
    made = [client(h) for h in handles]
    try:
        yield made
    finally:
        for r in made:
            r.close()


def caught_up(primary: ServerHandle, replica: ServerHandle) -> None:
    with _clients(primary, replica) as (p, r):
        _caught_up(p, r)


OK = b"+OK\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def _link_up(*replicas: ServerHandle) -> None:
    with _clients(*replicas) as made:
        for r in made:
            link_up(r)


def _stat(h: ServerHandle, section: str, field: str) -> str:
    with _clients(h) as (r,):
        return info(r, section)[field]


def test_acl_changes_reach_replicas_and_their_replicas() -> None:
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (r1,), nodes(replica_args(r1)) as (r2,):
        _link_up(r1, r2)
        assert _call(ph, "ACL", "SETUSER", "alice", "on", ">pw", "~a*", "+get") == OK
        caught_up(ph, r2)
        for h in (r1, r2):
            assert _auth(h, "alice", "pw") == OK
        watcher = RawClient(r2.port)  # alice's connection on the chain's end
        try:
            assert watcher.call("AUTH", "alice", "pw") == OK
            assert watcher.call("GET", "b").startswith(b"-NOPERM")
            # A change replaces the whole user: the old password is gone, the new rules apply.
            assert _call(ph, "ACL", "SETUSER", "alice", "resetpass", ">pw2", "~*") == OK
            with _clients(ph) as (primary,), primary.pipeline(transaction=True) as p:
                # an ACL change in a unit with a write
                p.execute_command("ACL", "SETUSER", "carol", "on", ">x", "+@all", "~*").set("x", "1")
                p.execute()
            caught_up(ph, r2)
            assert watcher.call("GET", "b") == b"$-1\r\n"
            for h in (r1, r2):
                assert _auth(h, "alice", "pw") == WRONGPASS
                assert _auth(h, "alice", "pw2") == OK
                assert _auth(h, "carol", "x") == OK
                assert _call(h, "GET", "x") == b"$1\r\n1\r\n"
                assert _acl_list(h) == _acl_list(ph)
            assert _call(ph, "ACL", "DELUSER", "alice") == b":1\r\n"
            caught_up(ph, r2)
            for h in (r1, r2):
                assert _auth(h, "alice", "pw2") == WRONGPASS
                assert _acl_list(h) == _acl_list(ph)
            # Deleting a user disconnects its clients on the replicas too.
            try:
                reply = watcher.call("PING")
            except (ConnectionError, OSError):
                reply = b""
            assert reply == b""
        finally:
            watcher.close()


def test_the_stream_carries_plain_acl_commands() -> None:
    """What a Redis-shaped consumer (redis-cli --replica) sees: ACL SETUSER with the whole
    user (hashed passwords) and ACL DELUSER, with no SELECT before them."""
    with nodes([]) as (ph,):
        assert _call(ph, "SET", "before", "1") == OK
        cli = subprocess.Popen(
            ["redis-cli", "-p", str(ph.port), "--replica"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: _stat(ph, "replication", "connected_slaves") == "1", what="redis-cli to attach")
            time.sleep(0.2)
            assert _call(ph, "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+get") == OK
            assert _call(ph, "ACL", "DELUSER", "alice") == b":1\r\n"
            time.sleep(0.5)
        finally:
            cli.terminate()
            out, _ = cli.communicate(timeout=10)
        text = out.decode()
        lines = text[text.lower().index("sync done"):].splitlines()[1:]
        digest = hashlib.sha256(b"pw").hexdigest()
        assert lines == [
            f'"ACL","SETUSER","alice","on","#{digest}","~*","resetchannels","-@all","+get"',
            '"ACL","DELUSER","alice"',
        ]


def test_a_full_sync_gives_the_replica_exactly_the_primarys_users() -> None:
    with nodes([]) as (ph,), nodes([]) as (rh,):
        assert _call(ph, "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all") == OK
        assert _call(ph, "ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all", "-debug") == OK
        assert _call(rh, "ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all") == OK
        assert _call(rh, "REPLICAOF", "127.0.0.1", str(ph.port)) == OK
        caught_up(ph, rh)
        assert _stat(ph, "stats", "sync_full") == "1"
        assert _acl_list(rh) == _acl_list(ph)
        assert _users(rh) == [b"alice", b"default"]  # bob is gone, default is the primary's
        assert _auth(rh, "bob", "pw") == WRONGPASS
        # The replica's data directory holds them: a restart keeps the primary's users.
        rh.stop()
        rh2 = start_moonkv([], dir=rh.dir, port=rh.port)
        try:
            assert _acl_list(rh2) == _acl_list(ph)
        finally:
            rh2.stop()


def test_a_replica_restarted_after_sigkill_keeps_the_users_and_resyncs_partially() -> None:
    with nodes([]) as (ph,):
        rh = start_moonkv(replica_args(ph))
        try:
            _link_up(rh)
            assert _call(ph, "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all") == OK
            assert _call(ph, "SET", "k", "v") == OK
            caught_up(ph, rh)
            assert _auth(rh, "alice", "pw") == OK
            rh.stop(signal.SIGKILL)
            assert _call(ph, "ACL", "SETUSER", "dave", "on", ">d", "+ping") == OK  # while it is down
            rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
            caught_up(ph, rh)
            assert (_stat(ph, "stats", "sync_full"), _stat(ph, "stats", "sync_partial_ok")) == ("1", "1")
            assert _auth(rh, "alice", "pw") == OK
            assert _auth(rh, "dave", "d") == OK
            assert _acl_list(rh) == _acl_list(ph)
        finally:
            rh.stop()


def test_a_failed_transaction_sends_no_acl_change() -> None:
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        _link_up(rh)
        c = RawClient(ph.port)
        try:
            assert c.call("MULTI") == OK
            assert c.call("ACL", "SETUSER", "bob", "on", ">pw") == b"+QUEUED\r\n"
            assert c.call("GET").startswith(b"-ERR wrong number of arguments")
            assert c.call("EXEC").startswith(b"-EXECABORT")
            # A rule error inside EXEC: that command fails and changes nothing.
            assert c.call("MULTI") == OK
            assert c.call("ACL", "SETUSER", "eve", "on", "+nosuchcommand") == b"+QUEUED\r\n"
            assert c.call("SET", "after", "1") == b"+QUEUED\r\n"
            reply = c.call("EXEC")
            assert reply.startswith(b"*2\r\n-ERR Error in ACL SETUSER modifier '+nosuchcommand'")
        finally:
            c.close()
        caught_up(ph, rh)
        assert _call(rh, "GET", "after") == b"$1\r\n1\r\n"
        assert _users(ph) == _users(rh) == [b"default"]
        # Nothing of either reached the replica's log.
        for n in os.listdir(rh.dir):
            if n.startswith("log-"):
                with open(os.path.join(rh.dir, n), "rb") as f:
                    assert b"SETUSER" not in f.read()


def test_acl_load_on_the_primary_replaces_the_replicas_users() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="moonkv-acl-"), "users.acl")
    with open(path, "w") as f:
        f.write("user default on nopass ~* &* +@all\nuser alice on >pw ~* +@all\n")
    with nodes(["--aclfile", path]) as (ph,), nodes(replica_args(ph)) as (rh,):
        caught_up(ph, rh)
        assert _acl_list(rh) == _acl_list(ph)  # the full sync brought the file's users
        assert _call(ph, "ACL", "SETUSER", "zed", "on", ">z") == OK
        with open(path, "w") as f:
            f.write("user default on nopass ~* &* +@all -debug\nuser bob on >b ~* +@all\n")
        assert _call(ph, "ACL", "LOAD") == OK
        caught_up(ph, rh)
        assert _users(rh) == [b"bob", b"default"]
        assert _acl_list(rh) == _acl_list(ph)
        assert _auth(rh, "bob", "b") == OK
        assert _auth(rh, "alice", "pw") == WRONGPASS


def test_a_replica_with_its_own_aclfile_applies_replicated_users_until_it_restarts() -> None:
    """Documented rule: replicated changes apply in memory and in the replica's log; at
    start its ACL file defines its users, as it would on Redis."""
    path = os.path.join(tempfile.mkdtemp(prefix="moonkv-acl-"), "users.acl")
    with open(path, "w") as f:
        f.write("user default on nopass ~* &* +@all\nuser local on >l ~* +@all\n")
    with nodes([]) as (ph,):
        rh = start_moonkv(replica_args(ph, "--aclfile", path))
        try:
            caught_up(ph, rh)
            assert _users(rh) == [b"default"]  # the primary's set, from the full sync
            assert _call(ph, "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all") == OK
            caught_up(ph, rh)
            assert _auth(rh, "alice", "pw") == OK
            with open(path) as f:
                assert "alice" not in f.read()  # the file is the operator's (ACL SAVE writes it)
            rh.stop()
            rh = start_moonkv(replica_args(ph, "--aclfile", path), dir=rh.dir, port=rh.port)
            caught_up(ph, rh)
            assert _users(rh) == [b"default", b"local"]
        finally:
            rh.stop()
