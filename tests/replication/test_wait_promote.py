"""WAIT, min-replicas-to-write, and promotion with the other replicas' partial resync."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis

from tests.helpers import start_moonkv
from tests.replication.util import (
    caught_up,
    client,
    dataset,
    info,
    link_up,
    nodes,
    replica_args,
    wait_until,
)


def test_wait_counts_replicas_that_acknowledged() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        t = time.monotonic()
        assert primary.execute_command("WAIT", 1, 200) == 0  # no replica: times out
        assert time.monotonic() - t >= 0.19
        with nodes(replica_args(ph)) as (rh,):
            link_up(client(rh))
            primary.set("k", "v")
            t = time.monotonic()
            assert primary.execute_command("WAIT", 1, 5000) == 1
            assert time.monotonic() - t < 1.0  # GETACK asked for the ACK at once
            t = time.monotonic()
            assert primary.execute_command("WAIT", 2, 300) == 1
            assert time.monotonic() - t >= 0.29
            # Pipelined behind a WAIT: served once it returns, in order.
            p = primary.pipeline(transaction=False)
            p.set("a", "1").execute_command("WAIT", 1, 0).get("a")
            assert p.execute() == [True, 1, b"1"]
            # Inside MULTI WAIT does not block.
            p = primary.pipeline(transaction=True)
            p.set("b", "1").execute_command("WAIT", 5, 0)
            assert p.execute()[1] in (0, 1)


def test_min_replicas_to_write_is_enforced() -> None:
    with nodes(["--min-replicas-to-write", "1", "--min-replicas-max-lag", "2"]) as (ph,):
        primary = client(ph)
        try:
            primary.set("k", "v")
            raise AssertionError("a write was accepted without replicas")
        except redis.ResponseError as e:
            assert str(e) == "NOREPLICAS Not enough good replicas to write."
        assert primary.get("k") is None
        rh = start_moonkv(replica_args(ph))
        try:
            link_up(client(rh))
            wait_until(lambda: _writable(primary), what="writes to be accepted")
            rh.stop(signal.SIGKILL)
            wait_until(lambda: not _writable(primary), timeout=10, what="NOREPLICAS after the replica died")
        finally:
            rh.stop()


def _writable(r: redis.Redis) -> bool:
    try:
        r.set("probe", "1")
        return True
    except redis.ResponseError as e:
        assert str(e) == "NOREPLICAS Not enough good replicas to write."
        return False


def test_a_write_acknowledged_by_wait_survives_the_primary() -> None:
    fsync = ["--appendfsync", "always"]
    ph = start_moonkv(fsync)
    rh = start_moonkv(replica_args(ph, *fsync))
    try:
        replica = client(rh)
        link_up(replica)
        acked: list[int] = []
        stop = threading.Event()

        def write() -> None:
            r = redis.Redis(port=ph.port, socket_timeout=10)
            i = 0
            try:
                while not stop.is_set():
                    r.set(f"k{i}", i)
                    if r.execute_command("WAIT", 1, 5000) == 1:
                        acked.append(i)
                    i += 1
            except redis.ConnectionError:
                pass

        th = threading.Thread(target=write, daemon=True)
        th.start()
        time.sleep(1.0)
        ph.stop(signal.SIGKILL)  # the primary dies under writes
        stop.set()
        th.join(timeout=10)
        assert len(acked) > 10
        rh.stop(signal.SIGKILL)  # and the replica too: what it acknowledged is on its disk
        rh = start_moonkv([], dir=rh.dir, port=rh.port)
        replica = client(rh)
        assert replica.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        missing = [i for i in acked if replica.get(f"k{i}") != str(i).encode()]
        assert missing == []
        replica.set("writable", "yes")
    finally:
        ph.stop()
        rh.stop()


def test_promotion_keeps_the_other_replicas_partial() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph), replica_args(ph)) as (r1h, r2h):
            r1, r2 = client(r1h), client(r2h)
            for i in range(100):
                primary.set(f"k{i}", i)
            caught_up(primary, r1)
            caught_up(primary, r2)
            old_id = info(primary)["master_replid"]
            old_offset = int(info(primary)["master_repl_offset"])
            assert r1.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
            i1 = info(r1)
            assert i1["role"] == "master"
            assert i1["master_replid2"] == old_id and i1["master_replid"] != old_id
            assert int(i1["second_repl_offset"]) == old_offset + 1
            assert r2.execute_command("REPLICAOF", "127.0.0.1", r1h.port) == b"OK"
            r1.set("after", "promotion")
            caught_up(r1, r2)
            assert r2.get("after") == b"promotion"
            st = info(r1, "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == ("0", "1"), st
            assert info(r2)["master_replid"] == info(r1)["master_replid"]
            # The old primary took a write the new one never saw: following the new
            # primary drops it through a full resync, and it stops accepting writes.
            primary.set("divergent", "x")
            assert primary.execute_command("REPLICAOF", "127.0.0.1", r1h.port) == b"OK"
            caught_up(r1, primary)
            assert primary.get("divergent") is None
            try:
                primary.set("more", "x")
                raise AssertionError("the old primary accepted a write")
            except redis.ReadOnlyError:
                pass
            assert info(r1, "stats")["sync_full"] == "1"
            assert dataset(primary) == dataset(r1) == dataset(r2)


def test_failover_hands_over_to_a_replica() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph), replica_args(ph)) as (r1h, r2h):
            r1, r2 = client(r1h), client(r2h)
            for i in range(200):
                primary.set(f"k{i}", i)
            caught_up(primary, r1)
            caught_up(primary, r2)
            assert primary.execute_command("FAILOVER", "TO", "127.0.0.1", r1h.port, "TIMEOUT", 5000) == b"OK"
            wait_until(lambda: info(r1)["role"] == "master" and info(primary)["role"] == "slave", what="the handover")
            link_up(primary)
            assert info(primary)["master_port"] == str(r1h.port)
            assert info(primary)["master_failover_state"] == "no-failover"
            with pytest.raises(redis.ReadOnlyError):
                primary.set("x", "1")
            r1.set("on-new-primary", "1")
            caught_up(r1, primary)
            caught_up(primary, r2)  # the other replica follows through the old primary
            assert r2.get("on-new-primary") == b"1"
            assert info(r1, "stats")["sync_full"] == "0"  # the old primary continued partially
            assert dataset(primary) == dataset(r1) == dataset(r2)


def test_failover_times_out_and_resumes_writes() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph)) as (rh,):
            caught_up(primary, client(rh))
            os.kill(rh.proc.pid, signal.SIGSTOP)  # a replica that cannot catch up
            try:
                assert primary.execute_command("FAILOVER", "TIMEOUT", 300) == b"OK"
                assert info(primary)["master_failover_state"] == "waiting-for-sync"
                with pytest.raises(redis.ResponseError, match="FAILOVER already in progress."):
                    primary.execute_command("FAILOVER")
                t = time.monotonic()
                assert primary.set("during", "1") is True  # held until the failover gave up
                assert time.monotonic() - t >= 0.1
                assert info(primary)["role"] == "master"
                assert info(primary)["master_failover_state"] == "no-failover"
            finally:
                os.kill(rh.proc.pid, signal.SIGCONT)
