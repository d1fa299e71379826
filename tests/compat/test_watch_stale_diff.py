"""WATCH of keys already expired when watched (Redis 7.0): their deletion or replacement by
another expired key is no change; against real Redis with active expiry stopped."""

from __future__ import annotations

import time

from tests.conftest import Differ


def _scenario(d: Differ, setup: list[tuple[str, ...]], change: tuple[str, ...]) -> None:
    d("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for argv in setup:
            d(*argv)
        time.sleep(0.01)
        d("WATCH", "x")
        d(*change)
        d("MULTI")
        d("PING")
        d("EXEC")
    finally:
        d("SELECT", "0")
        d("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_deleting_a_stale_watched_key(debug_diff: Differ) -> None:
    _scenario(debug_diff, [("SET", "x", "foo", "PX", "1")], ("EXISTS", "x"))
    _scenario(debug_diff, [("SET", "x", "foo", "PX", "1")], ("DEL", "x"))
    _scenario(debug_diff, [("SET", "x", "foo", "PX", "1")], ("FLUSHDB",))
    _scenario(debug_diff, [("SET", "x", "foo", "PX", "1")], ("SET", "x", "new"))  # a change


def test_swapdb_and_stale_watched_keys(debug_diff: Differ) -> None:
    # expired key replaced with no key
    _scenario(debug_diff, [("SELECT", "1"), ("SET", "x", "foo", "PX", "1")], ("SWAPDB", "0", "1"))
    # no key replaced with an expired key
    _scenario(debug_diff, [("SET", "x", "foo", "PX", "1"), ("SELECT", "1")], ("SWAPDB", "0", "1"))
    # expired key replaced with another expired key
    _scenario(debug_diff, [("SELECT", "1"), ("SET", "x", "foo", "PX", "1"), ("SELECT", "0"),
                           ("SET", "x", "bar", "PX", "1"), ("SELECT", "1")], ("SWAPDB", "0", "1"))
    # expired key replaced with a live one: a change
    _scenario(debug_diff, [("SELECT", "1"), ("SET", "x", "foo", "PX", "1"), ("SELECT", "0"),
                           ("SET", "x", "bar"), ("SELECT", "1")], ("SWAPDB", "0", "1"))
