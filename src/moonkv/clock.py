"""Injected time.

All code that needs "now" (expiry, script budgets, INFO uptime) asks a
:class:`Clock`, so tests move time with :class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Any, Final

# Statics in the native build: no attribute lookup on the time module per call.
_time_ns: Final = time.time_ns
_monotonic: Final = time.monotonic

LRU_CLOCK_MAX: Final = (1 << 24) - 1  # Redis's LRU clock: seconds, 24 bits, wrapping


class Clock:
    """Wall clock in milliseconds and a monotonic clock in seconds, and the access clock.

    ``lru`` is Redis's cached ``server.lruclock``: the wall clock in seconds (24 bits),
    read by every key access and refreshed by :meth:`tick` from the cron, not per access.
    It is typed ``Any`` so that the compiled build keeps it as one Python int object:
    every key accessed within a tick stores that same object, so an access allocates
    nothing (an ``int`` attribute is unboxed, and boxing a value past 256 allocates).
    """

    def __init__(self) -> None:
        self.lru: Any = 0
        self.tick()

    def tick(self) -> None:
        """Refresh the access clock (the cron calls this ``hz`` times a second)."""
        self.lru = (self.now_ms() // 1000) & LRU_CLOCK_MAX

    def now_ms(self) -> int:
        return _time_ns() // 1_000_000

    def now_us(self) -> int:
        return _time_ns() // 1_000

    def monotonic(self) -> float:
        return _monotonic()


class ManualClock(Clock):
    """A clock that only moves when told to (tests); with ``step_ms``, each reading of the
    wall clock is that much later than the one before (a loaded machine, where time passes
    during a command)."""

    def __init__(self, start_ms: int = 1_700_000_000_000, step_ms: int = 0) -> None:
        self._ms = start_ms
        self._mono = 1000.0
        self.step_ms = step_ms
        super().__init__()

    def now_ms(self) -> int:
        self._ms += self.step_ms
        return self._ms

    def now_us(self) -> int:
        return self._ms * 1000

    def monotonic(self) -> float:
        return self._mono

    def advance(self, ms: int) -> None:
        self._ms += ms
        self._mono += ms / 1000.0
        self.tick()  # as if the cron ran
