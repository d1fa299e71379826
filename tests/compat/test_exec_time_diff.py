"""Time inside MULTI/EXEC beside a real redis-server: as Redis 7.0 (call()'s
fixed_time_expire), keys expire by the time EXEC started, never in the middle of the
transaction, however long its commands take (DEBUG SLEEP stands for a slow command)."""

from __future__ import annotations

from tests.conftest import Differ


def test_a_key_set_in_the_transaction_does_not_expire_in_it(debug_diff: Differ) -> None:
    d = debug_diff
    d("MULTI")
    d("SET", "k", "v", "PX", "5")
    d("DEBUG", "SLEEP", "0.05")
    d("EXISTS", "k")
    d("GET", "k")
    d("RPOPLPUSH", "k", "other")  # still the string: WRONGTYPE
    d("EXEC")  # OK OK 1 v WRONGTYPE
    d("EXISTS", "k")  # after the EXEC: gone


def test_a_key_alive_when_exec_starts_lives_through_it(debug_diff: Differ) -> None:
    # Each server runs the whole sequence in turn: the other's EXEC sleeps meanwhile.
    steps = [("SET", "k", "v", "PX", "1000"), ("MULTI",), ("DEBUG", "SLEEP", "1.1"), ("EXISTS", "k"),
             ("EXEC",), ("EXISTS", "k")]
    got = [debug_diff.m.call(*step) for step in steps]
    want = [debug_diff.real.call(*step) for step in steps]
    assert got == want
    assert got[4] == b"*2\r\n+OK\r\n:1\r\n"
