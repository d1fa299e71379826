"""The latency monitor: per event, the last 160 spikes at or above
``latency-monitor-threshold`` ms (one sample per second, the worst of that
second) and the all-time maximum, as Redis 7.0 keeps them (LATENCY LATEST,
HISTORY, RESET, GRAPH, DOCTOR).

Events moonkv records, under Redis's names: ``command`` and ``fast-command``
(every command, by its ``fast`` flag), ``expire-cycle`` (the active expiry
cycle), ``aof-fsync-always`` and ``aof-write`` (the durable log's group commit).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Final

TS_LEN: Final = 160


class _Series:
    __slots__ = ("samples", "max")

    def __init__(self) -> None:
        self.samples: deque[tuple[int, int]] = deque(maxlen=TS_LEN)  # (unix time, ms)
        self.max = 0


class LatencyMonitor:
    def __init__(self) -> None:
        self.events: dict[str, _Series] = {}

    def add(self, event: str, ms: int) -> None:
        """Record a spike of ``ms`` milliseconds (the caller checked the threshold)."""
        s = self.events.get(event)
        if s is None:
            s = self.events[event] = _Series()
        if ms > s.max:
            s.max = ms
        now = int(time.time())
        if s.samples and s.samples[-1][0] == now:
            if ms > s.samples[-1][1]:
                s.samples[-1] = (now, ms)
            return
        s.samples.append((now, ms))

    def latest(self) -> list[object]:
        out: list[object] = []
        for name, s in self.events.items():
            if s.samples:
                t, ms = s.samples[-1]
                out.append([name.encode(), t, ms, s.max])
        return out

    def history(self, event: str) -> list[object]:
        s = self.events.get(event)
        if s is None:
            return []
        return [[t, ms] for t, ms in s.samples]

    def reset(self, events: list[str]) -> int:
        if not events:
            n = len(self.events)
            self.events.clear()
            return n
        n = 0
        for e in events:
            if self.events.pop(e, None) is not None:
                n += 1
        return n

    def graph(self, event: str) -> str | None:
        """An ASCII chart of the event's samples, oldest left (None: no samples)."""
        s = self.events.get(event)
        if s is None or not s.samples:
            return None
        values = [ms for _, ms in s.samples]
        hi, lo = max(values), min(values)
        head = f"{event} - high {hi} ms, low {lo} ms (all time high {s.max} ms)\n" + "-" * 80 + "\n"
        rows = 4
        levels = rows * 2  # each row shows two levels: '_' low half, '|' or '#' full
        cols: list[str] = []
        for v in values:
            level = levels if hi == lo else 1 + (v - lo) * (levels - 1) // (hi - lo)
            col = ""
            for r in range(rows):  # from the top row down
                top = levels - 2 * r  # the full level of this row
                col += "|" if level > top else "#" if level == top else "_" if level == top - 1 else " "
            cols.append(col)
        now = int(time.time())
        labels = [_age(now - t) for t, _ in s.samples]
        width = max(len(x) for x in labels)
        lines = ["".join(c[r] for c in cols) for r in range(rows)]
        lines.append(" " * len(cols))
        lines += ["".join(x.ljust(width)[i] for x in labels) for i in range(width)]
        return head + "\n".join(lines) + "\n"

    def doctor(self, threshold_ms: int) -> str:
        if threshold_ms == 0 and not self.events:
            return (
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                "<milliseconds>.\" in order to enable it. If we weren't in a deep space mission "
                "I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
            )
        if not any(s.samples for s in self.events.values()):
            return (
                "Dave, no latency spike was observed during the lifetime of this Redis "
                "instance, not in the slightest bit. I honestly think you ought to sit down "
                "calmly, take a stress pill, and think things over.\n"
            )
        out = ["Dave, I have observed latency spikes in this Redis instance. "
               "You don't mind talking about it, do you Dave?\n"]
        advice: list[str] = []
        for i, (name, s) in enumerate((n, s) for n, s in self.events.items() if s.samples):
            values = [ms for _, ms in s.samples]
            avg = sum(values) / len(values)
            mad = sum(abs(v - avg) for v in values) / len(values)
            times = [t for t, _ in s.samples]
            period = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.0
            out.append(
                f"{i + 1}. {name}: {len(values)} latency spikes (average {int(avg)}ms, mean "
                f"deviation {int(mad)}ms, period {period:.2f} sec). Worst all time event {s.max}ms."
            )
            if name in ("command", "fast-command") and not advice:
                advice.append(
                    "- Check your Slow Log to understand what are the commands you are running "
                    "which are too slow to execute. Please check https://redis.io/commands/slowlog "
                    "for more information."
                )
            if name.startswith("aof-"):
                advice.append(
                    "- The durable log waits for its fsync before replying (appendfsync always). "
                    "Use a faster disk, or appendfsync everysec if losing the last second of "
                    "writes in a crash is acceptable."
                )
            if name == "expire-cycle":
                advice.append(
                    "- Deleting, expiring or evicting large objects is a blocking operation. If "
                    "you have very large objects that are often deleted, expired, or evicted, try "
                    "to fragment those objects into multiple smaller objects."
                )
        out.append("")
        if advice:
            out.append("I have a few advices for you:\n")
            out += advice
        return "\n".join(out) + "\n"


def _age(secs: int) -> str:
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m"
    if secs < 86400:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"
