"""A log-linear latency histogram in a plain ``dict[int, int]``.

Redis keeps one hdr_histogram per command (2 significant figures).  Here a
duration in nanoseconds maps to an int bucket: below 32 ns the value itself,
above it the position of its highest bit and the 4 bits after it, so every
power of two splits into 16 buckets (at most 6.25 % wide).  Recording is a
``bit_length``, two shifts and a dict increment; percentiles are computed only
when someone asks (INFO latencystats, LATENCY HISTOGRAM, the metrics endpoint).
"""

from __future__ import annotations

from typing import Final

_SUB: Final = 4  # bits of precision below the leading one
_MASK: Final = (1 << _SUB) - 1
_EXACT: Final = 1 << (_SUB + 1)  # values below this are their own bucket


def record(h: dict[int, int], ns: int) -> None:
    """Count one sample of ``ns`` nanoseconds into ``h``."""
    b = ns.bit_length()
    i = ns if b <= _SUB + 1 else (b << _SUB) | ((ns >> (b - _SUB - 1)) & _MASK)
    h[i] = h.get(i, 0) + 1


def highest(i: int) -> int:
    """The largest duration (ns) that falls in bucket ``i``."""
    if i < _EXACT:
        return i
    b, m = i >> _SUB, i & _MASK
    shift = b - _SUB - 1
    return (((1 << _SUB) | m) + 1 << shift) - 1


def total(h: dict[int, int]) -> int:
    return sum(h.values())


def percentile_usec(h: dict[int, int], percentiles: list[float]) -> list[float]:
    """The value (µs) at each percentile (0-100), as hdr_value_at_percentile
    answers: the highest value of the bucket holding that rank."""
    n = total(h)
    items = sorted(h.items())
    out: list[float] = []
    for p in percentiles:
        rank = max(1, int(p / 100.0 * n + 0.5)) if n else 0
        seen = 0
        value = 0
        for i, cnt in items:
            seen += cnt
            value = highest(i)
            if seen >= rank:
                break
        out.append(value / 1000.0)
    return out


def cumulative_usec(h: dict[int, int]) -> dict[int, int]:
    """LATENCY HISTOGRAM's ``histogram_usec``: for each power-of-two bound in µs
    (1, 2, 4, ...; Redis iterates its hdr_histogram in log steps from 1024 ns)
    the number of samples at or below it, listing only bounds that add samples."""
    out: dict[int, int] = {}
    items = sorted(h.items())
    bound_ns = 1024
    seen = 0
    j = 0
    prev = 0
    while j < len(items):
        while j < len(items) and highest(items[j][0]) < bound_ns:
            seen += items[j][1]
            j += 1
        if seen > prev:
            out[bound_ns // 1024] = seen
            prev = seen
        bound_ns *= 2
    return out
