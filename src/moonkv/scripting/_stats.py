"""Per-script statistics: SCRIPT STATS, FUNCTION CALLSTATS, the slow log's
note on EVAL/FCALL entries and the metrics endpoint.

One :class:`ScriptStats` per cached script (by sha) and per function (by
name).  :meth:`ScriptEngine.run` updates it once per run, inline: on success
two additions (successes are ``calls - errors``); a failure also calls
:meth:`ScriptStats.failed`, which classifies it and keeps the error text and
its line.  The run's time is the EVAL/EVALSHA/FCALL command's, which
``Server.call`` measures for INFO commandstats anyway and hands over through
:meth:`ScriptEngine.ran` (one addition and one histogram bucket): a run reads
no clock of its own.  CONFIG RESETSTAT clears them.
"""

from __future__ import annotations

import re
from typing import Final

from moonkv.monitoring import percentile_usec

# How a failed run ended, as ScriptEngine.run classifies it.
ERROR_REPLY: Final = 1  # the script returned an error reply: its writes stand
FAILED: Final = 2  # a Lua or redis.call error: rolled back
KILLED: Final = 3  # SCRIPT KILL / FUNCTION KILL: rolled back
TIME_BUDGET: Final = 4  # lua-kill-time-limit: rolled back
MEMORY_BUDGET: Final = 5  # lua-memory-limit: rolled back

_STOPS: Final = {KILLED: b"killed", TIME_BUDGET: b"time-budget", MEMORY_BUDGET: b"memory-budget"}
_LINE: Final = re.compile(rb"@?user_(?:script|function):(\d+)")


def error_line(text: bytes) -> int | None:
    """The script line an error text names (Redis's ``user_script:N`` forms)."""
    m = _LINE.search(text)
    return int(m.group(1)) if m else None


class ScriptStats:
    __slots__ = (
        "name", "is_eval", "calls", "errors", "rollbacks", "kills", "time_stops", "memory_stops",
        "total_ns", "latency", "keys_written", "last_error", "last_error_line", "stopped_at",
        "stop_note",
    )

    def __init__(self, name: bytes, is_eval: bool) -> None:
        self.name = name
        self.is_eval = is_eval
        self.calls = 0
        self.errors = 0
        self.rollbacks = 0
        self.kills = 0
        self.time_stops = 0
        self.memory_stops = 0
        self.total_ns = 0
        self.latency: list[int] = []  # moonkv.monitoring histogram of run times
        self.keys_written = 0
        self.last_error = b""
        self.last_error_line = -1
        self.stopped_at = -1  # the run (by calls) a kill or budget stopped last
        self.stop_note = b""

    def failed(self, outcome: int, text: bytes, rolled_back: bool) -> None:
        """The run just counted failed (``text``: the error the caller gets)."""
        self.errors += 1
        if rolled_back:
            self.rollbacks += 1
        if outcome == KILLED:
            self.kills += 1
        elif outcome == TIME_BUDGET:
            self.time_stops += 1
        elif outcome == MEMORY_BUDGET:
            self.memory_stops += 1
        line = error_line(text)
        self.last_error = text[:256]
        self.last_error_line = -1 if line is None else line
        if outcome in _STOPS:
            self.stopped_at = self.calls
            self.stop_note = b" stopped=" + _STOPS[outcome]
            if line is not None:
                self.stop_note += b" line=%d" % line

    def note(self) -> bytes:
        """The slow log's 7th element for the run just counted."""
        note = (b"script=" if self.is_eval else b"function=") + self.name
        if self.stopped_at == self.calls:
            note += self.stop_note
        return note

    def fields(self) -> dict[bytes, object]:
        """The reply map (the same names in SCRIPT STATS, FUNCTION CALLSTATS and metrics)."""
        p50, p99 = percentile_usec(self.latency, [50.0, 99.0]) if self.calls else (0.0, 0.0)
        return {
            b"calls": self.calls,
            b"successes": self.calls - self.errors,
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

    def new(self, name: bytes, is_eval: bool) -> ScriptStats:
        s = ScriptStats(name, is_eval)
        (self.scripts if is_eval else self.functions)[name] = s
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
                st = ScriptStats(name, is_eval)
            out[name] = st.fields()
        return out
