"""A log-linear latency histogram in a plain ``list[int]`` of bucket counts.

Redis keeps one hdr_histogram per command (2 significant figures).  Here a
duration of ``ns`` nanoseconds with ``b`` significant bits falls in bucket
``b * 16 + the 4 bits after its leading one`` (``(ns << 5) >> b`` holds the
leading one and those 4 bits for any ``b``, so there is no branch): every
power of two splits into 16 buckets, at most 6.25 % wide.  Recording is a
``bit_length``, three shifts on machine integers and a list increment;
percentiles are worked out only when someone asks (INFO latencystats, LATENCY
HISTOGRAM, SCRIPT STATS, the metrics endpoint).  A histogram is an empty list
until its first sample (commands never called cost no memory), then 2 x 1024
counters (64 bits of ns).

A bucket's count is kept in two places: ``h[i]`` counts up to 255 and each
256th sample carries into ``h[BUCKETS + i]``.  Counts below 257 are the
interpreter's cached small ints, so a sample allocates and frees no int
object; that halves the cost of :func:`record` (measured in the compiled
build: about 150 CPU instructions per sample instead of 340).  Readers take
the counts through :func:`counts` or :func:`total`.

Compiled by mypyc in the native build (moonkv.native): the executor calls
:func:`record` for every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # machine integers for mypyc; plain ints (annotations only) otherwise
    from mypy_extensions import i64

_SUB: Final = 4  # bits of precision below the leading one
_MASK: Final = (1 << _SUB) - 1
BUCKETS: Final = 64 << _SUB
_CARRY: Final = 256  # the low count's limit (see the module doc)


def record(h: list[int], ns: int) -> None:
    """Count one sample of ``ns`` (>= 0, below 2**58) nanoseconds into ``h``."""
    if not h:
        h.extend([0] * (2 * BUCKETS))
    x: i64 = ns
    b: i64 = ns.bit_length()
    i: i64 = (b << _SUB) | (((x << (_SUB + 1)) >> b) & _MASK)
    n: i64 = h[i] + 1
    if n == _CARRY:
        h[i] = 0
        h[BUCKETS + i] += 1
    else:
        h[i] = n


def counts(h: list[int]) -> list[int]:
    """Each bucket's count (empty for a histogram without samples)."""
    if not h:
        return []
    return [h[i] + h[BUCKETS + i] * _CARRY for i in range(BUCKETS)]


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
    return sum(h[:BUCKETS]) + sum(h[BUCKETS:]) * _CARRY


def percentile_usec(h: list[int], percentiles: list[float]) -> list[float]:
    """The value (µs) at each percentile (0-100), as hdr_value_at_percentile
    answers: the highest value of the bucket holding that rank."""
    buckets = counts(h)
    n = sum(buckets)
    out: list[float] = []
    for p in percentiles:
        rank = max(1, int(p / 100.0 * n + 0.5)) if n else 0
        seen = 0
        value = 0
        for i, cnt in enumerate(buckets):
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
    buckets = counts(h)
    bound_ns = 1024
    seen = 0
    prev = 0
    left = sum(buckets)
    i = 0
    while left:
        while i < len(buckets) and highest(i) < bound_ns:
            seen += buckets[i]
            left -= buckets[i]
            i += 1
        if seen > prev:
            out[bound_ns // 1024] = seen
            prev = seen
        bound_ns *= 2
    return out
