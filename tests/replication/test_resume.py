"""Replicas resume: a dropped link or a killed replica continues with a partial
resync from the stream position its log ends with; nothing applied twice, nothing
skipped. Outside the backlog, a full sync."""

from __future__ import annotations

import signal
import threading
import time

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


class Writer:
    """Units of several writes (a MULTI and a script) in a loop, counting them."""

    def __init__(self, port: int) -> None:
        self.r = redis.Redis(port=port, socket_timeout=20)
        self.stop = threading.Event()
        self.units = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            p = self.r.pipeline(transaction=True)
            p.incr("ctr").rpush("log", self.units).hincrby("h", f"f{self.units % 7}", 1)
            p.execute()
            self.r.eval("redis.call('INCR', 'sctr') redis.call('LPUSH', 'slog', ARGV[1])", 0, self.units)
            self.units += 1

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def check_counters(r: redis.Redis, units: int) -> None:
    # Every unit applied exactly once: counters and list lengths agree.
    assert int(r.get("ctr")) == units
    assert r.llen("log") == units
    assert int(r.get("sctr")) == units
    assert r.llen("slog") == units


def test_sigkill_of_a_replica_mid_stream_resumes_partially() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        rh = start_moonkv(replica_args(ph))
        try:
            replica = client(rh)
            caught_up(primary, replica)
            with Writer(ph.port) as w:
                for _ in range(3):
                    time.sleep(0.4)
                    rh.stop(signal.SIGKILL)
                    time.sleep(0.2)
                    rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
                    replica = client(rh)
                    link_up(replica)
                time.sleep(0.3)
            caught_up(primary, replica)
            check_counters(replica, w.units)
            assert dataset(primary) == dataset(replica)
            st = info(primary, "stats")
            assert st["sync_full"] == "1", st
            assert st["sync_partial_ok"] == "3", st
        finally:
            rh.stop()


def test_a_dropped_link_continues_from_the_backlog() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        with nodes(replica_args(ph)) as (rh,):
            replica = client(rh)
            caught_up(primary, replica)
            with Writer(ph.port) as w:
                for k in range(1, 4):
                    wait_until(lambda: "state=online" in info(primary).get("slave0", ""), what="the link")
                    time.sleep(0.3)
                    assert primary.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
                    wait_until(lambda k=k: info(primary, "stats")["sync_partial_ok"] == str(k),
                               what="the partial resync")
            caught_up(primary, replica)
            check_counters(replica, w.units)
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == ("1", "3"), st


def test_outside_the_backlog_a_full_sync() -> None:
    with nodes([]) as (ph,):
        primary = client(ph)
        primary.config_set("repl-backlog-size", "16384")
        rh = start_moonkv(replica_args(ph))
        try:
            replica = client(rh)
            caught_up(primary, replica)
            rh.stop(signal.SIGKILL)
            primary.set("big", "x" * 100_000)  # more than the backlog keeps
            primary.set("after", "1")
            rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
            replica = client(rh)
            caught_up(primary, replica)
            assert replica.get("after") == b"1"
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_ok"], st["sync_partial_err"]) == ("2", "0", "1"), st
            assert dataset(primary) == dataset(replica)
        finally:
            rh.stop()


def test_a_restarted_replica_does_not_copy_again() -> None:
    """A clean restart too: the position is in the log (and in snapshots, after BGREWRITEAOF)."""
    with nodes([]) as (ph,):
        primary = client(ph)
        rh = start_moonkv(replica_args(ph))
        try:
            replica = client(rh)
            primary.set("a", "1")
            primary.execute_command("SELECT", 2)
            primary.set("in2", "x")
            caught_up(primary, replica)
            replica.bgrewriteaof()
            wait_until(lambda: info(replica, "persistence")["aof_rewrite_in_progress"] == "0", what="the rewrite")
            rh.stop()
            primary.set("in2-later", "y")  # the stream goes on in db 2 without a new SELECT
            rh = start_moonkv(replica_args(ph), dir=rh.dir, port=rh.port)
            replica = client(rh)
            caught_up(primary, replica)
            replica.execute_command("SELECT", 2)
            assert replica.get("in2-later") == b"y"
            st = info(primary, "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == ("1", "1"), st
        finally:
            rh.stop()
