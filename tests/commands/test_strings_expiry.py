"""SET's expiry when the clock moves during the command (a loaded machine): a relative EX/PX
is never in the past, so the key is written with its TTL, as Redis does, and expires when
next found; only EXAT/PXAT in the past delete it at once."""

from __future__ import annotations

from moonkv.clock import ManualClock
from tests.inprocess import InProcessServer


def slow_clock() -> ManualClock:
    """Each reading of the wall clock is 5 ms later than the one before (not a subclass:
    the native build compiles ManualClock, and interpreted classes cannot extend it)."""
    return ManualClock(step_ms=5)


def test_set_px_keeps_the_key_when_the_clock_moves_during_the_command() -> None:
    clock = slow_clock()
    s = InProcessServer(clock)
    assert s("SET", "k", "v", "PX", "1") == "OK"
    assert b"k" in s.data
    assert [argv[:4] for _, argv in s.effects] == [[b"SET", b"k", b"v", b"PXAT"]]
    assert s.srv.ks.expired_keys == 0
    assert s("GET", "k") is None  # found expired at the next access, as Redis
    assert s.effects[-1] == (0, [b"DEL", b"k"])
    assert s.srv.ks.expired_keys == 1


def test_setex_and_psetex_keep_the_key_too() -> None:
    s = InProcessServer(slow_clock())
    assert s("PSETEX", "a", "1", "v") == "OK"
    assert s("SETEX", "b", "1", "v") == "OK"
    assert b"a" in s.data and b"b" in s.data


def test_set_pxat_in_the_past_deletes_at_once() -> None:
    clock = ManualClock()
    s = InProcessServer(clock)
    assert s("SET", "k", "v", "PXAT", clock.now_ms() - 1) == "OK"
    assert b"k" not in s.data
    assert s.effects == [(0, [b"DEL", b"k"])]
    assert s.srv.ks.expired_keys == 1
