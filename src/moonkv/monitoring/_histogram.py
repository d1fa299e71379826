"""A log-linear latency histogram in a plain ``list[int]`` of bucket counts.

Redis keeps one hdr_histogram per command (2 significant figures).  Here a
duration of ``ns`` nanoseconds with ``b`` significant bits falls in bucket
``b * 16 + the 4 bits after its leading one`` (``(ns << 5) >> b`` holds the
leading one and those 4 bits for any ``b``, so there is no branch): every
power of two splits into 16 buckets, at most 6.25 % wide.  Recording is a
``bit_length``, three shifts and a list increment; percentiles are worked out
only when someone asks (INFO latencystats, LATENCY HISTOGRAM, SCRIPT STATS,
the metrics endpoint).  A histogram is an empty list until its first sample
(commands never called cost no memory), then 1024 counters (64 bits of ns).

Compiled by mypyc in the native build (moonkv.native): the executor calls
:func:`record` for every command.
"""

from __future__ import annotations

from typing import Final

_SUB: Final = 4  # bits of precision below the leading one
_MASK: Final = (1 << _SUB) - 1
BUCKETS: Final = 64 << _SUB


def record(h: list[int], ns: int) -> None:
    """Count one sample of ``ns`` nanoseconds into ``h``."""
    if not h:
        h.extend([0] * BUCKETS)
    b = ns.bit_length()
    h[(b << _SUB) | (((ns << (_SUB + 1)) >> b) & _MASK)] += 1


def highest(i: int) -> int:
    """The largest duration (ns) that falls in bucket ``i``."""
    b, m = i >> _SUB, i & _MASK
    if b == 0:
        return 0
    lead = (1 << _SUB) | m  # the bucket's SUB+1 leading bits
    shift = b - _SUB - 1
    if shift < 0:  # few bits: the bucket holds one value
        return lead >> -shift
    return ((lead + 1) << shift) - 1


def total(h: list[int]) -> int:
    return sum(h)


def percentile_usec(h: list[int], percentiles: list[float]) -> list[float]:
    """The value (µs) at each percentile (0-100), as hdr_value_at_percentile
    answers: the highest value of the bucket holding that rank."""
    n = total(h)
    out: list[float] = []
    for p in percentiles:
        rank = max(1, int(p / 100.0 * n + 0.5)) if n else 0
        seen = 0
        value = 0
        for i, cnt in enumerate(h):
            if not cnt:
                continue
            seen += cnt
            value = highest(i)
            if seen >= rank:
                break
        out.append(value / 1000.0)
    return out


def cumulative_usec(h: list[int]) -> dict[int, int]:
    """LATENCY HISTOGRAM's ``histogram_usec``: for each power-of-two bound in µs
    (1, 2, 4, ...; Redis iterates its hdr_histogram in log steps from 1024 ns)
    the number of samples at or below it, listing only bounds that add samples."""
    out: dict[int, int] = {}
    bound_ns = 1024
    seen = 0
    prev = 0
    left = total(h)
    i = 0
    while left:
        while i < len(h) and highest(i) < bound_ns:
            seen += h[i]
            left -= h[i]
            i += 1
        if seen > prev:
            out[bound_ns // 1024] = seen
            prev = seen
        bound_ns *= 2
    return out
