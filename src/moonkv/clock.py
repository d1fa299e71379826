"""Injected time.

All code that needs "now" (expiry, script budgets, INFO uptime) asks a
:class:`Clock`, so tests move time with :class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Final

# Statics in the native build: no attribute lookup on the time module per call.
_time_ns: Final = time.time_ns
_monotonic: Final = time.monotonic


class Clock:
    """Wall clock in milliseconds and a monotonic clock in seconds."""

    def now_ms(self) -> int:
        return _time_ns() // 1_000_000

    def now_us(self) -> int:
        return _time_ns() // 1_000

    def monotonic(self) -> float:
        return _monotonic()


class ManualClock(Clock):
    """A clock that only moves when told to (tests)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._ms = start_ms
        self._mono = 1000.0

    def now_ms(self) -> int:
        return self._ms

    def now_us(self) -> int:
        return self._ms * 1000

    def monotonic(self) -> float:
        return self._mono

    def advance(self, ms: int) -> None:
        self._ms += ms
        self._mono += ms / 1000.0
