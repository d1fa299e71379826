"""A restarted primary keeps its stream: its replicas continue with a partial resync.

Redis 7.0 keeps the replication id and offset in the RDB it writes at shutdown; moonkv
keeps them in every log record, so a SIGKILL (with ``appendfsync always``) keeps them
too. Either way the old id becomes ``master_replid2`` up to the offset, under a new id.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess

import redis

from tests.helpers import REDIS_SERVER, ServerHandle, start_moonkv, start_redis, wait_port
from tests.replication.test_resume import Writer
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


def _restart(h: ServerHandle, sig: int | None) -> ServerHandle:
    h.stop(sig)
    return start_moonkv([], dir=h.dir, port=h.port)


def _restart_redis(h: ServerHandle) -> ServerHandle:
    r = redis.Redis(port=h.port)
    try:
        with contextlib.suppress(redis.ConnectionError):  # SHUTDOWN SAVE writes the RDB with
            r.shutdown(save=True)  # the replication fields
    finally:
        r.close()  # (a dropped client's socket is a ResourceWarning in a later test)
    h.proc.wait(timeout=15)
    # start_redis picks a new port and directory: start it by hand on the old ones.
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(h.port), "--bind", "127.0.0.1", "--dir", h.dir, "--logfile", h.log],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(h.port, proc)
    return ServerHandle(proc, h.port, h.dir, h.log)


class _Writer(Writer):
    """Writes until its primary is killed."""

    def run(self) -> None:
        with contextlib.suppress(redis.ConnectionError):
            super().run()


def _fields(r: redis.Redis) -> dict[str, str]:
    i = info(r)
    return {k: i[k] for k in ("master_replid", "master_replid2", "master_repl_offset", "second_repl_offset")}


def _scenario(primary: ServerHandle, replica: ServerHandle, restart: object) -> tuple[dict[str, str], dict[str, str]]:
    """Write, let the replica catch up, restart the primary; the INFO fields before and after."""
    p, r = client(primary), client(replica)
    link_up(r)
    for i in range(50):
        p.set(f"k{i}", i)
    p.execute_command("SELECT", 2)
    p.rpush("l", *range(10))
    caught_up(p, r)
    before = _fields(p)
    primary = restart(primary)  # type: ignore[operator]
    try:  # (the restarted server is no longer the one its caller stops)
        p = client(primary)
        wait_until(lambda: info(p)["connected_slaves"] == "1" and "state=online" in info(p)["slave0"],
                   what="the replica to come back")
        after = _fields(p)
        p.set("after", "1")
        caught_up(p, r)
        assert dataset(p, (0, 2)) == dataset(r, (0, 2))
        st = info(p, "stats")
        assert (st["sync_full"], st["sync_partial_ok"]) == ("0", "1"), st
    finally:
        primary.stop()
    return before, after


def _check(before: dict[str, str], after: dict[str, str]) -> None:
    assert after["master_replid2"] == before["master_replid"]
    assert after["master_replid"] not in (before["master_replid"], "0" * 40)
    assert int(after["second_repl_offset"]) == int(after["master_repl_offset"]) + 1
    assert int(after["master_repl_offset"]) >= int(before["master_repl_offset"])


def test_a_restarted_primary_is_continued_beside_redis() -> None:
    ph = start_redis()
    try:
        rh = start_redis(["--replicaof", "127.0.0.1", str(ph.port)])
        try:
            _check(*_scenario(ph, rh, _restart_redis))
        finally:
            rh.stop()
    finally:
        ph.stop()
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        _check(*_scenario(ph, rh, lambda h: _restart(h, None)))


def test_a_primary_killed_idle_is_continued() -> None:
    """Redis 7.0 copies everything again here (its RDB is older than the stream)."""
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        _check(*_scenario(ph, rh, lambda h: _restart(h, signal.SIGKILL)))


def test_sigkill_of_the_primary_under_writes() -> None:
    """Units acknowledged to the writer are on the restarted primary and on the replica,
    which continues from the primary's log without a copy, twice."""
    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        replica = client(rh)
        link_up(replica)
        acked = 0
        try:
            for round_ in range(1, 3):
                w = _Writer(ph.port)
                w.thread.start()
                wait_until(lambda w=w: w.units > 30, what="writes")
                ph.stop(signal.SIGKILL)
                w.stop.set()
                w.thread.join(timeout=20)
                acked += w.units
                ph = start_moonkv([], dir=ph.dir, port=ph.port)
                primary = client(ph)
                # Every acknowledged unit survived; the one in flight may have committed.
                ctr = int(primary.get("ctr"))
                assert acked <= ctr <= acked + 1, (acked, ctr)
                acked = ctr
                for k in ("sctr", "ctr"):  # the writer's two units per round: align both counters
                    if int(primary.get(k)) < acked:
                        primary.incr(k)
                caught_up(primary, replica)
                assert dataset(primary) == dataset(replica)
                st = info(primary, "stats")
                assert (st["sync_full"], st["sync_partial_ok"]) == ("0", "1"), (round_, st)
        finally:
            ph.stop()  # the last one started (nodes() stops the first)


def test_the_rebuilt_backlog_starts_at_the_last_checkpoint() -> None:
    """A replica behind the snapshot the primary restarts from is copied again, and one
    within the log's tail continues: the backlog holds only what the log has.  (A clean
    shutdown that saves a snapshot leaves an empty backlog, as in Redis.)"""
    with nodes([]) as (ph,):
        primary = client(ph)
        rh = start_moonkv(replica_args(ph))
        try:
            replica = client(rh)
            caught_up(primary, replica)
            rh.stop()
            primary.set("missed", "1")
            primary.bgrewriteaof()
            wait_until(lambda: info(primary, "persistence")["aof_rewrite_in_progress"] == "0", what="the rewrite")
            primary.set("after-checkpoint", "1")
            ph = _restart(ph, signal.SIGKILL)
            primary = client(ph)
            rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
            replica = client(rh)
            caught_up(primary, replica)
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_err"]) == ("1", "1"), st
            assert dataset(primary) == dataset(replica)
            rh.stop(signal.SIGKILL)
            primary.set("later", "1")
            ph = _restart(ph, signal.SIGKILL)
            primary = client(ph)
            rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
            replica = client(rh)
            caught_up(primary, replica)
            assert replica.get("later") == b"1"
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == ("0", "1"), st
            assert dataset(primary) == dataset(replica)
        finally:
            rh.stop()
            ph.stop()


def test_a_snapshot_taken_before_any_select_syncs_a_replica() -> None:
    """The position a primary's snapshot carries may have no database selected (-1)."""
    with nodes(["--repl-ping-replica-period", "1"]) as (ph,), nodes(replica_args(ph)) as (rh,):
        primary = client(ph)
        caught_up(primary, client(rh))  # the first sync's fork: nothing selected in the stream
        # A PING: a record at db -1, the position the next snapshot carries.
        wait_until(lambda: info(primary)["master_repl_offset"] != "0", what="a PING")
        with nodes(replica_args(ph)) as (r2,):
            second = client(r2)
            caught_up(primary, second)
            primary.set("after", "1")
            caught_up(primary, second)
            assert dataset(primary) == dataset(second)


def test_writes_made_in_process_on_a_primarys_directory_end_its_stream() -> None:
    """moonkv.open() serves no replicas: what it writes is in no backlog, so the server that
    reopens the directory starts a new history and its replica is copied again."""
    import moonkv

    with nodes([]) as (ph,), nodes(replica_args(ph)) as (rh,):
        primary, replica = client(ph), client(rh)
        primary.set("a", "1")
        caught_up(primary, replica)
        old = info(primary)["master_replid"]
        ph.stop()
        with moonkv.open(ph.dir) as r:
            r.set("in-process", "1")
        ph = start_moonkv([], dir=ph.dir, port=ph.port)
        try:
            primary = client(ph)
            caught_up(primary, replica)
            assert replica.get("in-process") == b"1"
            assert old not in (info(primary)["master_replid"], info(primary)["master_replid2"])
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == ("1", "0"), st
            assert dataset(primary) == dataset(replica)
        finally:
            ph.stop()
