"""Expiry with an injected clock: tests move time instead of sleeping."""

from __future__ import annotations

import time

from moonkv.clock import ManualClock
from moonkv.commands import load
from moonkv.engine import Client, Config, Server
from moonkv.server._expire import active_expire_cycle


def _server() -> tuple[Server, Client, ManualClock, list[list[tuple[int, list[bytes]]]]]:
    load()
    clock = ManualClock()
    srv = Server(Config(), clock)
    units: list[list[tuple[int, list[bytes]]]] = []

    class Sink:
        def commit(self, effects: list[tuple[int, list[bytes]]]) -> None:
            units.append(list(effects))

    srv.sinks.append(Sink())
    return srv, Client(srv), clock, units


def test_lazy_expiry_follows_the_clock() -> None:
    srv, c, clock, units = _server()
    assert srv.execute(c, [b"SET", b"k", b"v", b"PX", b"1500"]) == "OK"
    assert srv.execute(c, [b"PTTL", b"k"]) == 1500
    clock.advance(1499)
    assert srv.execute(c, [b"GET", b"k"]) == b"v"
    clock.advance(1)
    assert srv.execute(c, [b"GET", b"k"]) is None
    # The relative expire was logged as an absolute one, the removal as DEL.
    assert units[0] == [(0, [b"SET", b"k", b"v", b"PXAT", b"%d" % (1_700_000_000_000 + 1500)])]
    assert units[-1] == [(0, [b"DEL", b"k"])]
    assert srv.ks.expired_keys == 1


def test_expire_in_the_past_deletes_and_logs_del() -> None:
    srv, c, clock, units = _server()
    srv.execute(c, [b"SET", b"k", b"v"])
    assert srv.execute(c, [b"EXPIREAT", b"k", b"1"]) == 1
    assert srv.execute(c, [b"EXISTS", b"k"]) == 0
    assert units[-1] == [(0, [b"DEL", b"k"])]


def test_active_cycle_removes_expired_keys_within_budget() -> None:
    srv, c, clock, units = _server()
    for i in range(5000):
        srv.execute(c, [b"SET", b"k%d" % i, b"v", b"PX", b"100"])
    for i in range(100):
        srv.execute(c, [b"SET", b"keep%d" % i, b"v"])
    clock.advance(101)
    budget = 0.002
    removed = 0
    cycles = 0
    while srv.ks.dbs[0].expires and cycles < 10_000:
        t0 = time.perf_counter()
        removed += active_expire_cycle(srv, budget_s=budget)
        # One cycle never runs far past its budget (one slice of keys at most).
        assert time.perf_counter() - t0 < budget + 0.25
        cycles += 1
    assert removed == 5000
    assert len(srv.ks.dbs[0].data) == 100
    srv.end_unit()
    dels = [e for unit in units for e in unit if e[1][0] == b"DEL"]
    assert len(dels) == 5000


def test_active_cycle_leaves_live_keys_alone() -> None:
    srv, c, clock, _ = _server()
    for i in range(1000):
        srv.execute(c, [b"SET", b"k%d" % i, b"v", b"EX", b"10"])
    clock.advance(9_999)
    for _ in range(50):
        active_expire_cycle(srv, budget_s=0.01)
    assert len(srv.ks.dbs[0].data) == 1000
    clock.advance(1)
    for _ in range(200):
        active_expire_cycle(srv, budget_s=0.01)
    assert len(srv.ks.dbs[0].data) == 0


def test_scripts_see_time_frozen() -> None:
    srv, c, clock, _ = _server()
    from moonkv.scripting import attach

    attach(srv)
    srv.execute(c, [b"SET", b"k", b"v", b"PX", b"10"])
    clock.advance(5)
    # Inside a script "now" does not move: the key is still there at the end.
    script = b"local a = redis.call('exists', KEYS[1]); return {a, redis.call('pttl', KEYS[1])}"
    reply = srv.execute(c, [b"EVAL", script, b"1", b"k"])
    assert reply.data == b"*2\r\n:1\r\n:5\r\n"  # type: ignore[attr-defined]
