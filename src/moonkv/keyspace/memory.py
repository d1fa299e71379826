"""What values cost in memory: the estimate behind ``used_memory``, maxmemory and MEMORY USAGE.

The figures are CPython's object sizes, not Redis's encodings: a string is a
``bytes`` object (33 bytes of header plus its content, rounded up to
pymalloc's 16-byte blocks), a dict or set costs what ``sys.getsizeof`` says
of its table plus the objects it holds.  Containers are measured from a
sample of their first elements (as Redis's MEMORY USAGE samples), so
:func:`value_size` costs O(samples), never O(n).  ``docs/operations.md``
("Memory") compares the estimate with the RSS growth per type.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any, Final

SAMPLES: Final = 8
_getsizeof: Final = sys.getsizeof
_FLOAT: Final = 32  # a float object in a 16-byte-aligned block
_INT: Final = 32  # an int beyond the cached small ones (timestamps, ids)
_TUPLE2: Final = 64  # a 2-tuple (a sorted set's (score, member))
_PTR: Final = 8
_SHARED_FIELD: Final = 32  # field names up to this length are interned in small hashes


def bytes_size(n: int) -> int:
    """The memory of a ``bytes`` object holding ``n`` bytes: 33 bytes of header and the
    content in 16-byte blocks (Database.set inlines this formula for SET's overwrite)."""
    return (n + 48) & -16


def _first(items: Any, samples: int) -> Any:
    """The first ``samples`` of ``items``; all of them when ``samples`` is 0."""
    return items if samples <= 0 else islice(items, samples)


def _avg_bytes(items: Any, n: int, samples: int) -> float:
    """The mean size of the first ``samples`` ``bytes`` objects of ``items``."""
    got = [bytes_size(len(x)) for x in _first(items, samples)]
    return sum(got) / len(got) if got else 0.0


def value_size(value: object, samples: int = SAMPLES) -> int:
    """Estimated bytes held by a stored value (not its key), from the first ``samples``
    elements of a container (0: every element, as MEMORY USAGE ... SAMPLES 0)."""
    if type(value) is bytes:
        return bytes_size(len(value))
    name = value.TYPE_NAME  # type: ignore[attr-defined]
    if name == b"hash":
        return _hash_size(value, samples)
    if name == b"set":
        return _set_size(value, samples)
    if name == b"zset":
        return _zset_size(value, samples)
    if name == b"list":
        return _list_size(value, samples)
    return _stream_size(value, samples)


def _hash_size(h: Any, samples: int) -> int:
    n = len(h)
    pairs = list(_first(h.items(), samples))
    # a small hash's short field names are shared by all hashes (commands/hashes.py _field)
    shared = 0 if h.big else _SHARED_FIELD
    per = sum(
        (bytes_size(len(f)) if len(f) > shared else 0) + bytes_size(len(v)) for f, v in pairs
    ) / len(pairs) if pairs else 0.0
    return _getsizeof(h) + int(per * n)


def _set_size(s: Any, samples: int) -> int:
    n = len(s)
    return _getsizeof(s) + int(_avg_bytes(iter(s), n, samples) * n)


def _zset_size(z: Any, samples: int) -> int:
    n = len(z.dict)
    member = _avg_bytes(iter(z.dict), n, samples)
    # the member is shared by the dict and the sorted list's (score, member) tuple
    per = member + _FLOAT + _TUPLE2 + _PTR
    if z.big:
        per += _PTR  # sortedcontainers' per-element index overhead, about one pointer
    return _getsizeof(z.dict) + _getsizeof(z.sl) + int(per * n)


def _list_size(lst: Any, samples: int) -> int:
    chunks = lst.chunks
    nchunks = len(chunks)
    if not nchunks:
        return _getsizeof(lst)
    # deque blocks hold 64 pointers (+16 bytes of links) each
    total = _getsizeof(lst) + (nchunks // 64 + 1) * 528 + _chunk_size(chunks[0])
    if nchunks > 1:
        total += _chunk_size(chunks[-1])
    interior = nchunks - 2  # packed chunks, measured from an even sample
    if interior > 0:
        k = interior if samples <= 0 else min(samples, interior)
        sample = [_chunk_size(chunks[1 + i * interior // k]) for i in range(k)]
        total += int(sum(sample) / k * interior)
    return total


def _chunk_size(ch: Any) -> int:
    if type(ch) is list:
        return _getsizeof(ch) + sum(bytes_size(len(x)) for x in ch)
    return 48 + bytes_size(len(ch.blob))  # a packed chunk: its slots object and blob


def _stream_size(st: Any, samples: int) -> int:
    n = len(st.entries)
    per = _avg_bytes(iter(st.entries.values()), n, samples) + _INT + _PTR  # packed entry, id, sorted id
    size = _getsizeof(st.entries) + int(per * n) + len(st.nodes) * 160
    for g in st.groups.values():
        size += 256 + len(g.pel) * 200 + len(g.consumers) * 256
    return size


def key_size(key: bytes) -> int:
    """A key's own object (the dict's slot for it is counted with the dict's table)."""
    return bytes_size(len(key))


EXPIRE_SIZE: Final = _INT
"""An entry of a database's TTL table: the timestamp object (the table itself is measured)."""


def table_size(d: object) -> int:
    """A dict's or set's own table, as ``sys.getsizeof`` reports it (O(1))."""
    return _getsizeof(d)
