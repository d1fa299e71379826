"""Per-script statistics: SCRIPT STATS, FUNCTION STATS's ``scripts`` extension
and the metrics endpoint.

One :class:`ScriptStats` per cached script (by sha) and per function (by
name), updated once at the end of each run by :meth:`ScriptEngine.run`:
a dict lookup, a few integer additions and one histogram bucket.  Failure
details (the error text, the line) are worked out only when a run fails.
CONFIG RESETSTAT clears them.
"""

from __future__ import annotations

import re
from typing import Final

from moonkv.monitoring import percentile_usec, record

# Outcomes of a run, as ScriptEngine.run classifies them.
OK: Final = 0
ERROR_REPLY: Final = 1  # the script returned an error reply: its writes stand
FAILED: Final = 2  # a Lua or redis.call error: rolled back
KILLED: Final = 3  # SCRIPT KILL / FUNCTION KILL: rolled back
TIME_BUDGET: Final = 4  # lua-kill-time-limit: rolled back
MEMORY_BUDGET: Final = 5  # lua-memory-limit: rolled back

_LINE: Final = re.compile(rb"(?:@user_script|@user_function|user_script|user_function):(\d+)")


def error_line(text: bytes) -> int | None:
    """The script line an error text names (Redis's ``user_script:N`` forms)."""
    m = _LINE.search(text)
    return int(m.group(1)) if m else None


class ScriptStats:
    __slots__ = (
        "calls", "successes", "errors", "rollbacks", "kills", "time_stops", "memory_stops",
        "total_ns", "latency", "keys_written", "last_error", "last_error_line",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.successes = 0
        self.errors = 0
        self.rollbacks = 0
        self.kills = 0
        self.time_stops = 0
        self.memory_stops = 0
        self.total_ns = 0
        self.latency: dict[int, int] = {}
        self.keys_written = 0
        self.last_error = b""
        self.last_error_line = -1

    def add(self, outcome: int, ns: int, written: int, rolled_back: bool) -> None:
        self.calls += 1
        self.total_ns += ns
        record(self.latency, ns)
        if outcome == OK:
            self.successes += 1
        else:
            self.errors += 1
            if outcome == KILLED:
                self.kills += 1
            elif outcome == TIME_BUDGET:
                self.time_stops += 1
            elif outcome == MEMORY_BUDGET:
                self.memory_stops += 1
        if rolled_back:
            self.rollbacks += 1
        else:
            self.keys_written += written

    def failed(self, text: bytes, line: int | None) -> None:
        self.last_error = text[:256]
        self.last_error_line = -1 if line is None else line

    def fields(self) -> dict[bytes, object]:
        """The reply map (the same names in SCRIPT STATS, FUNCTION STATS and metrics)."""
        p50, p99 = percentile_usec(self.latency, [50.0, 99.0]) if self.calls else (0.0, 0.0)
        return {
            b"calls": self.calls,
            b"successes": self.successes,
            b"errors": self.errors,
            b"rollbacks": self.rollbacks,
            b"kills": self.kills,
            b"time_budget_stops": self.time_stops,
            b"memory_budget_stops": self.memory_stops,
            b"total_usec": self.total_ns // 1000,
            b"p50_usec": p50,
            b"p99_usec": p99,
            b"keys_written": self.keys_written,
            b"last_error": self.last_error,
            b"last_error_line": self.last_error_line,
        }


class StatsTable:
    """Statistics by script sha (EVAL/EVALSHA) and by function name (FCALL)."""

    def __init__(self) -> None:
        self.scripts: dict[bytes, ScriptStats] = {}
        self.functions: dict[bytes, ScriptStats] = {}

    def get(self, name: bytes, is_eval: bool) -> ScriptStats:
        table = self.scripts if is_eval else self.functions
        s = table.get(name)
        if s is None:
            s = table[name] = ScriptStats()
        return s

    def reset(self) -> None:
        self.scripts.clear()
        self.functions.clear()

    def report(self, names: list[bytes], known: list[bytes], is_eval: bool) -> dict[bytes, object]:
        """SCRIPT STATS / FUNCTION CALLSTATS: ``names`` (or every ``known`` one
        and every one with figures) -> its fields; unknown names are left out."""
        table = self.scripts if is_eval else self.functions
        wanted = names or list(dict.fromkeys([*known, *table]))
        out: dict[bytes, object] = {}
        for name in wanted:
            st = table.get(name)
            if st is None:
                if name not in known:
                    continue
                st = ScriptStats()
            out[name] = st.fields()
        return out
