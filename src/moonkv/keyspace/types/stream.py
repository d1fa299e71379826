"""Stream values: entries in ID order, consumer groups, and Redis's node layout.

An entry ID ``ms-seq`` is held as one 128-bit int ``ms << 64 | seq``, so ID
order is int order and "the next ID" is ``+ 1``.  Live IDs sit in a
``SortedList`` (appends go to its tail, trims cut its head, ranges are
bisections) and ``entries`` maps an ID to its fields and values packed into
one length-prefixed ``bytes`` blob (about a third of the memory of a tuple of
``bytes`` objects); :meth:`Stream.entry` and :meth:`Stream.range` unpack.

Redis keeps entries in listpack "macro nodes" of at most
``stream-node-max-entries`` entries / ``stream-node-max-bytes`` bytes, and
that layout is visible: ``MAXLEN ~``/``MINID ~`` only drop whole nodes, and
XINFO reports ``radix-tree-keys``.  ``nodes`` mirrors it without storing the
entries twice: each :class:`Node` keeps its master ID, master fields, live and
deleted counts and its listpack size as Redis would encode it, so node
boundaries fall exactly where Redis puts them.

Consumer groups keep their pending entries (PEL) as ``dict`` ID -> :class:`Nack`
plus a ``SortedList`` of IDs per group and per consumer.

Mutating methods take ``u``, the running script's undo list (or None), and
append closures that reverse exactly what they changed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, ClassVar

from sortedcontainers import SortedList

from moonkv.keyspace.types import _limits

M64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
LP_MAX_SIZE = 1 << 30  # STREAM_LISTPACK_MAX_SIZE
INVALID_READ = -1  # SCG_INVALID_ENTRIES_READ

Undo = list[Callable[[], None]] | None


def fmt_id(i: int) -> bytes:
    return b"%d-%d" % (i >> 64, i & M64)


def make_id(ms: int, seq: int) -> int:
    return (ms << 64) | seq


# -- listpack size model (Redis's lpEncode* sizes incl. the back-length byte) ----------


def _int_size(v: int) -> int:
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -(2**31) <= v <= 2**31 - 1:
        return 6
    return 10


def _backlen(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _str_size(s: bytes) -> int:
    n = len(s)
    if 0 < n <= 20:
        c = s[0]
        if 48 <= c <= 57 or c == 45:  # maybe an integer: listpack stores it as one
            try:
                v = int(s)
            except ValueError:
                v = None
            if v is not None and -(2**63) <= v < 2**63 and b"%d" % v == s:
                return _int_size(v)
    if n <= 63:
        enc = 1 + n
    elif n <= 4095:
        enc = 2 + n
    else:
        enc = 5 + n
    return enc + _backlen(enc)


_HDR = [bytes([i]) for i in range(128)]


def pack(fv: tuple[bytes, ...]) -> bytes:
    """Fields and values as one blob: each item is a varint length then its bytes."""
    parts: list[bytes] = []
    app = parts.append
    hdr = _HDR
    for x in fv:
        n = len(x)
        if n < 128:
            app(hdr[n])
        else:
            h = bytearray()
            while n >= 128:
                h.append((n & 0x7F) | 0x80)
                n >>= 7
            h.append(n)
            app(bytes(h))
        app(x)
    return b"".join(parts)


def unpack(blob: bytes) -> tuple[bytes, ...]:
    out: list[bytes] = []
    app = out.append
    i = 0
    end = len(blob)
    while i < end:
        ln = blob[i]
        i += 1
        if ln & 0x80:
            ln &= 0x7F
            shift = 7
            while True:
                b = blob[i]
                i += 1
                ln |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
        app(blob[i : i + ln])
        i += ln
    return tuple(out)


def _signed64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >= 1 << 63 else v


class Node:
    """One listpack macro node, by its counters and encoded size only."""

    __slots__ = ("master", "fields", "live", "deleted", "base", "last")

    def __init__(self, master: int, fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.fields = fields
        self.live = 0
        self.deleted = 0
        self.last = master
        # header + end byte + num-fields + master fields + the master entry's 0 terminator
        self.base = 7 + _int_size(len(fields)) + sum(_str_size(f) for f in fields) + 2

    def nbytes(self) -> int:
        return self.base + _int_size(self.live) + _int_size(self.deleted)

    def entry_size(self, sid: int, fv: tuple[bytes, ...]) -> int:
        m = self.master
        size = 2  # flags
        size += _int_size(_signed64((sid >> 64) - (m >> 64)))
        size += _int_size(_signed64((sid & M64) - (m & M64)))
        nf = len(fv) // 2
        if fv[0::2] == self.fields:
            size += sum(_str_size(v) for v in fv[1::2])
            size += _int_size(nf + 3)
        else:
            size += _int_size(nf) + sum(_str_size(x) for x in fv)
            size += _int_size(nf * 2 + 4)
        return size


class Consumer:
    __slots__ = ("name", "seen", "pel")

    def __init__(self, name: bytes, seen: int) -> None:
        self.name = name
        self.seen = seen
        self.pel: SortedList = SortedList()


class Nack:
    __slots__ = ("time", "count", "consumer")

    def __init__(self, time: int, count: int, consumer: Consumer) -> None:
        self.time = time
        self.count = count
        self.consumer = consumer


class Group:
    __slots__ = ("name", "last_id", "entries_read", "pel", "pel_ids", "consumers")

    def __init__(self, name: bytes, last_id: int, entries_read: int) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: dict[int, Nack] = {}
        self.pel_ids: SortedList = SortedList()
        self.consumers: dict[bytes, Consumer] = {}

    # -- PEL primitives (each has an exact inverse) -----------------------------

    def pel_add(self, sid: int, nack: Nack) -> None:
        self.pel[sid] = nack
        self.pel_ids.add(sid)
        nack.consumer.pel.add(sid)

    def pel_remove(self, sid: int) -> Nack:
        nack = self.pel.pop(sid)
        self.pel_ids.remove(sid)
        nack.consumer.pel.remove(sid)
        return nack

    def pel_move(self, sid: int, nack: Nack, consumer: Consumer) -> None:
        nack.consumer.pel.remove(sid)
        nack.consumer = consumer
        consumer.pel.add(sid)

    def add_consumer(self, name: bytes, now: int, u: Undo) -> Consumer:
        c = Consumer(name, now)
        cons = self.consumers
        cons[name] = c
        if u is not None:
            def undo() -> None:
                cons.pop(name, None)
            u.append(undo)
        return c

    def del_consumer(self, name: bytes, u: Undo) -> int:
        c = self.consumers.pop(name)
        ids = list(c.pel)
        nacks = [self.pel_remove(i) for i in ids]
        if u is not None:
            def undo() -> None:
                self.consumers[name] = c
                for i, n in zip(ids, nacks, strict=True):
                    self.pel_add(i, n)
            u.append(undo)
        return len(ids)

    def set_last(self, last_id: int, entries_read: int, u: Undo) -> None:
        if u is not None:
            old = (self.last_id, self.entries_read)

            def undo() -> None:
                self.last_id, self.entries_read = old
            u.append(undo)
        self.last_id = last_id
        self.entries_read = entries_read

    def sorted_consumers(self) -> list[Consumer]:
        return [self.consumers[k] for k in sorted(self.consumers)]


class Stream:
    __slots__ = (
        "ids", "entries", "nodes", "node_keys", "last_id", "max_deleted", "entries_added",
        "groups",
    )
    TYPE_NAME: ClassVar[bytes] = b"stream"

    def __init__(self) -> None:
        self.ids: SortedList = SortedList()
        self.entries: dict[int, bytes] = {}  # id -> pack(fields and values)
        self.nodes: list[Node] = []
        self.node_keys: list[int] = []
        self.last_id = 0
        self.max_deleted = 0
        self.entries_added = 0
        self.groups: dict[bytes, Group] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        # An empty stream is still a value (Redis keeps empty streams).
        return True

    # -- reads ------------------------------------------------------------------

    @property
    def first_id(self) -> int:
        ids = self.ids
        return ids[0] if ids else 0  # type: ignore[no-any-return]

    def last_valid_id(self) -> int:
        """The last live entry's ID (Redis's streamLastValidID), 0 when empty."""
        ids = self.ids
        return ids[-1] if ids else 0  # type: ignore[no-any-return]

    def range(self, start: int, end: int, count: int = 0, rev: bool = False) -> list[tuple[int, tuple[bytes, ...]]]:
        """Entries with start <= id <= end (count 0: all), ascending or descending."""
        if start > end or not self.ids:
            return []
        it: Iterable[int] = self.ids.irange(start, end, reverse=rev)
        if count > 0:
            it = islice(it, count)
        e = self.entries
        return [(i, unpack(e[i])) for i in it]

    def entry(self, sid: int) -> tuple[bytes, ...] | None:
        blob = self.entries.get(sid)
        return None if blob is None else unpack(blob)

    def exists(self, sid: int) -> bool:
        return sid in self.entries

    # -- writes -----------------------------------------------------------------

    def next_id(self, now_ms: int) -> int | None:
        """The auto-generated ID after ``last_id`` (None when IDs are exhausted)."""
        last = self.last_id
        if now_ms > last >> 64:
            return now_ms << 64
        if last == MAX_ID:
            return None
        return last + 1

    def append(self, sid: int, fv: tuple[bytes, ...], u: Undo,
               max_entries: int | None = None, max_bytes: int | None = None) -> None:
        """Add an entry whose ID the caller checked is greater than ``last_id``."""
        if max_entries is None:
            max_entries = _cfg("stream-node-max-entries", 100)
        if max_bytes is None:
            max_bytes = _cfg("stream-node-max-bytes", 4096)
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            mb = max_bytes if 0 < max_bytes <= LP_MAX_SIZE else LP_MAX_SIZE
            tot = 0
            for x in fv:
                tot += len(x)
            if node.nbytes() + tot >= mb or (max_entries and node.live + node.deleted >= max_entries):
                node = None
        created = node is None
        if node is None:
            node = Node(sid, fv[0::2])
            nodes.append(node)
            self.node_keys.append(sid)
        size = node.entry_size(sid, fv)
        node.base += size
        node.live += 1
        prev_last = node.last
        node.last = sid
        self.ids.add(sid)
        self.entries[sid] = pack(fv)
        prev = (self.last_id, self.entries_added)
        self.last_id = sid
        self.entries_added += 1
        if u is not None:
            def undo() -> None:
                self.ids.remove(sid)
                del self.entries[sid]
                self.last_id, self.entries_added = prev
                if created:
                    nodes.pop()
                    self.node_keys.pop()
                else:
                    node.base -= size
                    node.live -= 1
                    node.last = prev_last
            u.append(undo)

    def _node_index(self, sid: int) -> int:
        return bisect_right(self.node_keys, sid) - 1

    def delete(self, sid: int, u: Undo) -> bool:
        """XDEL one entry (marks it deleted in its node; frees an emptied node)."""
        fv = self.entries.pop(sid, None)
        if fv is None:
            return False
        self.ids.remove(sid)
        ni = self._node_index(sid)
        node = self.nodes[ni]
        node.live -= 1
        node.deleted += 1
        freed = node.live == 0
        if freed:
            del self.nodes[ni]
            del self.node_keys[ni]
        old_max = self.max_deleted
        if sid > old_max:
            self.max_deleted = sid
        if u is not None:
            def undo() -> None:
                self.max_deleted = old_max
                if freed:
                    self.nodes.insert(ni, node)
                    self.node_keys.insert(ni, node.master)
                node.live += 1
                node.deleted -= 1
                self.entries[sid] = fv
                self.ids.add(sid)
            u.append(undo)
        return True

    def trim(self, maxlen: int | None, minid: int | None, approx: bool, limit: int, u: Undo) -> int:
        """Redis's streamTrim: whole nodes first, then (exact only) entries of the first node."""
        ids = self.ids
        entries = self.entries
        nodes = self.nodes
        deleted = 0
        removed: list[tuple[Node, list[int], list[bytes]]] = []
        partial: tuple[Node, list[int], list[bytes]] | None = None
        while nodes:
            n = len(entries)
            if maxlen is not None and n <= maxlen:
                break
            node = nodes[0]
            live = node.live
            if limit and deleted + live > limit:
                break
            if maxlen is not None:
                whole = n - live >= maxlen
            else:
                whole = node.last < minid  # type: ignore[operator]
            if whole:
                gone = list(islice(ids, 0, live))
                del ids[:live]
                fvs = [entries.pop(i) for i in gone]
                nodes.pop(0)
                self.node_keys.pop(0)
                removed.append((node, gone, fvs))
                deleted += live
                continue
            if approx:
                break
            k = n - maxlen if maxlen is not None else ids.bisect_left(minid)
            if k > 0:
                gone = list(islice(ids, 0, k))
                del ids[:k]
                fvs = [entries.pop(i) for i in gone]
                node.live -= k
                node.deleted += k
                deleted += k
                partial = (node, gone, fvs)
            break
        if u is not None and (removed or partial):
            def undo() -> None:
                if partial is not None:
                    pn, pg, pf = partial
                    pn.live += len(pg)
                    pn.deleted -= len(pg)
                    ids.update(pg)
                    entries.update(zip(pg, pf, strict=True))
                for node, gone, fvs in reversed(removed):
                    nodes.insert(0, node)
                    self.node_keys.insert(0, node.master)
                    ids.update(gone)
                    entries.update(zip(gone, fvs, strict=True))
            u.append(undo)
        return deleted

    def set_meta(self, last_id: int, entries_added: int, max_deleted: int, u: Undo) -> None:
        if u is not None:
            old = (self.last_id, self.entries_added, self.max_deleted)

            def undo() -> None:
                self.last_id, self.entries_added, self.max_deleted = old
            u.append(undo)
        self.last_id = last_id
        self.entries_added = entries_added
        self.max_deleted = max_deleted

    def add_group(self, name: bytes, last_id: int, entries_read: int, u: Undo) -> Group:
        g = Group(name, last_id, entries_read)
        groups = self.groups
        groups[name] = g
        if u is not None:
            def undo() -> None:
                groups.pop(name, None)
            u.append(undo)
        return g

    def del_group(self, name: bytes, u: Undo) -> None:
        g = self.groups.pop(name)
        if u is not None:
            groups = self.groups
            u.append(lambda: groups.__setitem__(name, g))

    def sorted_groups(self) -> list[Group]:
        return [self.groups[k] for k in sorted(self.groups)]

    # -- consumer group lag (Redis 7.0 t_stream.c) --------------------------------

    def range_has_tombstones(self, start: int | None, end: int | None = None) -> bool:
        md = self.max_deleted
        if not self.entries or md == 0:
            return False
        if self.first_id > md:
            return False
        s = 0 if start is None else start
        e = MAX_ID if end is None else end
        return s <= md <= e

    def estimate_distance(self, sid: int) -> int:
        """streamEstimateDistanceFromFirstEverEntry (INVALID_READ when unknown)."""
        added = self.entries_added
        if not added:
            return 0
        n = len(self.entries)
        if not n and sid <= self.last_id:
            return added
        if sid == self.last_id:
            return added
        if sid > self.last_id:
            return INVALID_READ
        md = self.max_deleted
        first = self.first_id
        if md == 0 or md < first:
            if sid < first:
                return added - n
            if sid == first:
                return added - n + 1
        return INVALID_READ

    def lag(self, g: Group) -> int | None:
        if not self.entries_added:
            return 0
        if g.entries_read != INVALID_READ and not self.range_has_tombstones(g.last_id):
            return self.entries_added - g.entries_read
        er = self.estimate_distance(g.last_id)
        if er != INVALID_READ:
            return self.entries_added - er
        return None

    # -- XINFO internals ------------------------------------------------------------

    def radix_tree_nodes(self) -> int:
        """Nodes of a rax holding the node keys (16-byte big-endian master IDs)."""
        keys = [k.to_bytes(16, "big") for k in self.node_keys]
        if not keys:
            return 1
        prefixes: set[bytes] = {b""}
        prefixes.update(keys)
        # branching points: the longest common prefix of each adjacent pair
        for a, b in zip(keys, keys[1:], strict=False):
            i = 0
            while a[i] == b[i]:
                i += 1
            p = a[:i]
            prefixes.add(p)
            prefixes.add(a[: i + 1])
            prefixes.add(b[: i + 1])
        # every child of a branching prefix starts a node: adjacent pairs cover all of them
        return len(prefixes)

    # -- value protocol -----------------------------------------------------------

    def encoding(self, config: Any = None) -> bytes:
        return b"stream"

    def copy(self) -> Stream:
        return Stream.load_state(self.dump_state())

    def dump_state(self) -> list[Any]:
        flat: list[Any] = []
        app = flat.append
        entries = self.entries
        for i in self.ids:
            app(i >> 64)
            app(i & M64)
            app(entries[i])
        nodes: list[Any] = []
        for n in self.nodes:
            nodes.append([n.master >> 64, n.master & M64, n.live, n.deleted, n.base,
                          n.last >> 64, n.last & M64, list(n.fields)])
        groups: list[Any] = []
        for g in self.sorted_groups():
            cons = [[c.name, c.seen] for c in g.sorted_consumers()]
            pel: list[Any] = []
            for i in g.pel_ids:
                nk = g.pel[i]
                pel.extend((i >> 64, i & M64, nk.time, nk.count, nk.consumer.name))
            groups.append([g.name, g.last_id >> 64, g.last_id & M64, g.entries_read, cons, pel])
        return [
            2,
            [self.last_id >> 64, self.last_id & M64, self.entries_added,
             self.max_deleted >> 64, self.max_deleted & M64],
            flat,
            nodes,
            groups,
        ]

    @classmethod
    def load_state(cls, state: Any) -> Stream:
        version, meta, flat, nodes, groups = state
        s = cls()
        s.last_id = make_id(int(meta[0]), int(meta[1]))
        s.entries_added = int(meta[2])
        s.max_deleted = make_id(int(meta[3]), int(meta[4]))
        ids: list[int] = []
        entries = s.entries
        i = 0
        nflat = len(flat)
        while i < nflat:
            sid = make_id(int(flat[i]), int(flat[i + 1]))
            if version == 1:  # flat fields and values
                n = int(flat[i + 2])
                i += 3
                entries[sid] = pack(tuple(bytes(x) for x in flat[i : i + n]))
                i += n
            else:
                entries[sid] = bytes(flat[i + 2])
                i += 3
            ids.append(sid)
        s.ids = SortedList(ids)
        for nd in nodes:
            node = Node(make_id(int(nd[0]), int(nd[1])), tuple(bytes(f) for f in nd[7]))
            node.live = int(nd[2])
            node.deleted = int(nd[3])
            node.base = int(nd[4])
            node.last = make_id(int(nd[5]), int(nd[6]))
            s.nodes.append(node)
            s.node_keys.append(node.master)
        if not nodes and ids:  # a state without node layout: rebuild it
            s._rebuild_nodes()
        for gd in groups:
            g = Group(bytes(gd[0]), make_id(int(gd[1]), int(gd[2])), int(gd[3]))
            for cname, seen in gd[4]:
                g.consumers[bytes(cname)] = Consumer(bytes(cname), int(seen))
            pel = gd[5]
            for j in range(0, len(pel), 5):
                sid = make_id(int(pel[j]), int(pel[j + 1]))
                cname = bytes(pel[j + 4])
                cons = g.consumers.get(cname)
                if cons is None:
                    cons = g.consumers[cname] = Consumer(cname, 0)
                g.pel_add(sid, Nack(int(pel[j + 2]), int(pel[j + 3]), cons))
            s.groups[g.name] = g
        return s

    def _rebuild_nodes(self) -> None:
        entries = self.entries
        ids = list(self.ids)
        last, added = self.last_id, self.entries_added
        self.ids = SortedList()
        self.entries = {}
        for i in ids:
            self.append(i, unpack(entries[i]), None)
        self.last_id, self.entries_added = last, added

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __repr__(self) -> str:
        return f"Stream(len={len(self.entries)}, last={fmt_id(self.last_id)!r})"


def _cfg(name: str, default: int) -> int:
    v = _limits._values.get(name)
    if v is None:
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default
