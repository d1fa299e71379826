"""The size estimate of a key and its value, in bytes: the one place that knows
how much memory moonkv's values take (MEMORY USAGE, MEMORY STATS, and the
memory accounting that eviction needs).

The figures are CPython's: ``sys.getsizeof`` of the containers plus, per
element, the bytes object (33 bytes of header + its length) and the slot that
refers to it.  Containers with more than ``samples`` elements are estimated
from their first ``samples`` elements, as Redis's MEMORY USAGE samples
(``samples == 0``: all of them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Final

from moonkv.keyspace.types.hash import Hash
from moonkv.keyspace.types.list import List
from moonkv.keyspace.types.set import Set
from moonkv.keyspace.types.stream import Stream
from moonkv.keyspace.types.zset import ZSet

BYTES_HEADER: Final = 33  # sys.getsizeof(b"")
SLOT: Final = 8  # a pointer in a dict, set or list slot
DICT_ENTRY: Final = 3 * SLOT  # hash, key and value pointers of a dict entry
DEFAULT_SAMPLES: Final = 5


def key_size(key: bytes) -> int:
    """A key in the main dict (and the entry that holds it)."""
    return BYTES_HEADER + len(key) + DICT_ENTRY


def _sampled(items: Iterable[int], n: int, samples: int) -> int:
    """The sum of ``items`` (per-element sizes), extrapolated past ``samples``."""
    if samples <= 0 or n <= samples:
        return sum(items)
    total = 0
    seen = 0
    for size in items:
        total += size
        seen += 1
        if seen == samples:
            break
    return total * n // seen if seen else 0


def value_size(v: object, samples: int = 0) -> int:
    """The bytes the value ``v`` occupies (a string is ``bytes``)."""
    if type(v) is bytes:
        return sys.getsizeof(v)
    if isinstance(v, Hash):
        return sys.getsizeof(v) + _sampled(
            (2 * BYTES_HEADER + len(k) + len(x) for k, x in v.items()), len(v), samples
        )
    if isinstance(v, Set):
        return sys.getsizeof(v) + _sampled((BYTES_HEADER + len(m) for m in v), len(v), samples)
    if isinstance(v, ZSet):
        # member bytes, its dict entry and float score, and its skip-list node
        per = BYTES_HEADER + DICT_ENTRY + 24 + 64
        return sys.getsizeof(v.dict) + 64 + _sampled((per + len(m) for m in v.dict), len(v.dict), samples)
    if isinstance(v, List):
        return _list_size(v)
    if isinstance(v, Stream):
        size = sys.getsizeof(v.entries) + 64 * len(v.nodes) + 120
        size += _sampled(
            (len(blob) + BYTES_HEADER + 100 for blob in v.entries.values()), len(v.entries), samples
        )
        for g in v.groups.values():
            size += 200 + 120 * len(g.pel) + 100 * len(g.consumers)
        return size
    return sys.getsizeof(v)


def _list_size(v: List) -> int:
    size = sys.getsizeof(v.chunks) + 64
    for ch in v.chunks:
        blob = List.packed_blob(ch)
        if blob is not None:
            size += sys.getsizeof(blob) + 56  # the packed chunk object
        else:
            size += sys.getsizeof(ch) + sum(BYTES_HEADER + len(x) for x in ch)
    return size


def entry_size(key: bytes, v: object, samples: int = 0) -> int:
    """MEMORY USAGE: the key, its entry and its value."""
    return key_size(key) + value_size(v, samples)
