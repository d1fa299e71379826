"""Databases, lazy expiry and the mutation hooks every write goes through."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from moonkv.clock import LRU_CLOCK_MAX, Clock
from moonkv.errors import WrongTypeError
from moonkv.keyspace.access import Tracker
from moonkv.keyspace.events import EXPIRED, KEY_MISS, NEW
from moonkv.keyspace.memory import (
    EXPIRE_SIZE,
    bytes_size,
    key_size,
    table_size,
    value_size,
)

UndoFn = Callable[[], None]
Notifier = Callable[[bytes, bytes, int], None]  # (event, key, db id)


def type_name(value: object) -> bytes:
    """Redis's TYPE answer for a stored value."""
    if type(value) is bytes:
        return b"string"
    return value.TYPE_NAME  # type: ignore[attr-defined,no-any-return]


class Keyspace:
    """All databases plus the bookkeeping shared by them.

    * ``dirty`` counts changes (Redis's ``server.dirty``); the executor compares
      it before and after a command to decide whether to propagate an effect.
    * ``touched`` lists ``(db, key)`` modified by the running unit while some
      client WATCHes keys (``watched``, the executor's table, shared here); the
      executor invalidates WATCHes from it once the unit commits; also while
      ``tracking`` (a client tracks keys), for client-side caching's invalidations.
    * ``undo`` is a list while a transactional unit (a script) runs: every
      mutation appends a function that reverses it.
    * ``expired_effects`` collects ``DEL`` effects of keys removed because their
      TTL passed; they are facts, committed even if the unit's own effects are
      not (a failed script drops only those it caused, see ``expire_now``).
    * ``ready`` collects keys that a blocked client may now be served from.
    * ``events`` holds the enabled keyspace notification classes (0 while
      none is published, see :mod:`moonkv.keyspace.events`); ``notifier``
      publishes an enabled event.
    """

    def __init__(self, ndbs: int = 16, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        # The eviction policy's tracker (see moonkv.keyspace.access):
        # (lfu, lfu-log-factor, lfu-decay-time) while one is kept, else None.
        self.access_clock: tuple[bool, int, int] | None = None
        self.keep_lru = False  # an LRU policy: every database keeps its keys' last access
        self.dbs = [Database(i, self) for i in range(ndbs)]
        self.dirty = 0
        self.touched: list[tuple[int, bytes]] = []
        self.watched: dict[tuple[int, bytes], set[Any]] = {}  # (db, key) -> WATCHing clients
        self.flushed: list[int] = []  # db ids flushed/swapped in the running unit
        self.undo: list[UndoFn] | None = None
        self.expired_effects: list[tuple[int, list[bytes]]] = []
        # The unit's expired keys go out one DEL per unit, never framed in MULTI: Redis
        # propagates its active expiry and the lazy expiries of SCAN and RANDOMKEY run
        # directly (CMD_TOUCHES_ARBITRARY_KEYS) that way.  Reset when the unit commits.
        self.expire_apart = False
        self.ready: list[tuple[int, bytes]] = []
        self.blocking_keys: dict[tuple[int, bytes], Any] = {}
        self.frozen_ms: int | None = None  # scripts see time stand still
        self.hits = 0
        self.misses = 0
        self.expired_keys = 0
        self.expired_stale_perc = 0.0
        self.active_expire_enabled = True
        # CLIENT PAUSE: until this time.monotonic() instant keys whose TTL passed read as
        # missing but stay, so a pause changes nothing (see expiry_paused).
        self.expiry_paused_until = 0.0
        self.events = 0
        self.tracking = False  # some client has CLIENT TRACKING on: record touched keys
        self.tracker: Any = None  # the engine's tracking.Tracker (client-side caching)
        self.notifier: Notifier = _no_notifier

    def now_ms(self) -> int:
        f = self.frozen_ms
        return f if f is not None else self.clock.now_ms()

    def expiry_paused(self) -> bool:
        """Whether a CLIENT PAUSE holds key expiry now (lazy and active)."""
        until = self.expiry_paused_until
        return until != 0.0 and time.monotonic() < until

    def record(self, fn: UndoFn) -> None:
        u = self.undo
        if u is not None:
            u.append(fn)

    def dataset_memory(self) -> int:
        """Estimated bytes held by the keys, values, TTLs and eviction bookkeeping of all dbs."""
        return sum(db.memory() for db in self.dbs if db.data)

    def track_access(self, tracking: tuple[bool, int, int] | None, lru: bool) -> None:
        """Keep (or drop) every database's tracker: ``(lfu, log_factor, decay_time)``; and,
        if ``lru``, its keys' last access times (``Database.lru``), else drop them.

        Switching to an LRU policy starts every key's clock now; switching between LRU
        and LFU starts every key afresh (Redis too warns that the data "will take some
        time to adjust").
        """
        old = self.access_clock
        self.access_clock = tracking
        self.keep_lru = lru
        now = self.now_ms()
        for db in self.dbs:
            if not lru:
                db.lru = None
            elif db.lru is None:
                db.lru = dict.fromkeys(db.data, self.clock.lru)
            db.clocked = lru or (tracking is not None and tracking[0])
            if tracking is None:
                db.tracker = None
            elif old is not None and old[0] == tracking[0] and db.tracker is not None:
                db.tracker.log_factor = tracking[1]
                db.tracker.decay_time = tracking[2]
            else:
                t = db.tracker = Tracker(*tracking)
                for key in db.data:
                    t.add(key, now)

    def recount(self) -> None:
        """Measure every key again (after a load that filled the tables directly)."""
        for db in self.dbs:
            db.recount()


class Database:
    """One database.  Besides its tables it keeps its memory estimate up to date:

    * ``used``: the keys' and values' bytes (:mod:`moonkv.keyspace.memory`),
      adjusted by every write that goes through these methods;
    * ``sizes``: the last measured size of each container value (a string's
      is its length, so strings need no entry);
    * ``stale``: containers changed in place (:meth:`touch`) since they were
      last measured, settled when the figure is read or the set grows;
    * ``tracker``: the LFU counters and eviction's sampling array while a policy needs them
      (:mod:`moonkv.keyspace.access`).

    And, under an LRU policy only (otherwise None, so that reads and writes under the others
    pay nothing for it), ``lru``: each key's last access as Redis's LRU clock has it
    (``Clock.lru``, seconds, 24 bits), which OBJECT IDLETIME and LRU eviction read.  Reads
    through :meth:`lookup_read` and writes update it; EXISTS, TYPE, TTL and OBJECT
    (:meth:`lookup_notouch`, :meth:`get`) do not, as Redis's NOTOUCH lookups.  ``clocked``
    says whether an access is recorded at all (``lru`` is kept, or the LFU counters): the
    request path's one test.
    """

    __slots__ = ("id", "data", "expires", "ks", "avg_ttl", "used", "sizes", "stale", "tracker", "lru",
                 "clocked", "slot_keys")

    def __init__(self, index: int, ks: Keyspace) -> None:
        self.id = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.ks = ks
        self.avg_ttl = 0
        self.used = 0
        self.sizes: dict[bytes, int] = {}
        self.stale: set[bytes] = set()
        self.tracker: Tracker | None = None
        self.lru: dict[bytes, Any] | None = {} if ks.keep_lru else None
        self.clocked = ks.keep_lru
        if ks.access_clock is not None:
            self.tracker = Tracker(*ks.access_clock)
            self.clocked = self.clocked or ks.access_clock[0]
        # Cluster mode's index of keys by hash slot (moonkv.cluster SlotKeys), else None.
        self.slot_keys: Any = None

    # -- reads -----------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The live value of ``key`` or None (expiring it lazily). No stats."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self.ks.now_ms():
                if not self.ks.expiry_paused():
                    self.expire_now(key)
                return None
        return v

    def stored_key(self, key: bytes) -> bytes:
        """The key object this database stores for ``key`` (``key`` itself when absent).

        Another index keyed by the same names (client-side caching's tracking table) that
        keeps these objects, rather than the equal ones each request parses, holds no copy
        of the key, and its lookup right after this database's compares the key in cache."""
        probe = _KeyProbe(key)
        return probe.found if probe in self.data else key

    def lookup_read(self, key: bytes) -> Any:
        """Like :meth:`get`, and counts keyspace hits and misses."""
        v = self.get(key)
        if v is None:
            self.ks.misses += 1
            if self.ks.events:
                self.notify(KEY_MISS, b"keymiss", key)
        else:
            self.ks.hits += 1
            if self.clocked:
                self.accessed(key)
        return v

    def lookup_notouch(self, key: bytes) -> Any:
        """Like :meth:`lookup_read` without counting as an access (EXISTS, as Redis's NOTOUCH)."""
        v = self.get(key)
        if v is None:
            self.ks.misses += 1
            if self.ks.events:
                self.notify(KEY_MISS, b"keymiss", key)
        else:
            self.ks.hits += 1
        return v

    def lookup_write(self, key: bytes) -> Any:
        """Like :meth:`get`, for a write command: finding the key counts as an access, even
        if the command then changes nothing (Redis's lookupKeyWrite). No stats."""
        v = self.get(key)
        if v is not None and self.clocked:
            self.accessed(key)
        return v

    def accessed(self, key: bytes) -> None:
        """``key`` (present) was accessed: its last access time (LRU), or its LFU counter."""
        lru = self.lru
        if lru is not None:
            lru[key] = self.ks.clock.lru
        elif self.clocked:
            tracker = self.tracker
            assert tracker is not None  # an LFU policy always keeps one
            tracker.access(key, self.ks.now_ms())

    def idle(self, key: bytes) -> int:
        """Seconds since ``key``'s last access, as Redis's estimateObjectIdleTime (its clock
        wraps after 2**24 s); 0 without an LRU policy (none is kept)."""
        lru = self.lru
        if lru is None:
            return 0
        return lru_idle(self.ks.clock.lru, lru.get(key, self.ks.clock.lru))

    def set_access(self, key: bytes, idle: int, freq: int) -> None:
        """RESTORE's IDLETIME (seconds) or FREQ, each ignored if negative or if the policy
        does not keep it (Redis's objectSetLRUOrLFU)."""
        lru = self.lru
        if lru is None:
            if freq >= 0 and self.clocked:  # (LFU)
                assert self.tracker is not None
                self.tracker.set_freq(key, freq, self.ks.now_ms())
        elif idle >= 0:
            at = self.ks.clock.lru - idle
            if at < 0:
                at += LRU_CLOCK_MAX  # (as Redis; the 24-bit field then keeps the low bits)
            lru[key] = at & LRU_CLOCK_MAX

    def get_typed(self, key: bytes, cls: type) -> Any:
        """For a write: the value if it is of ``cls``; None if missing; WRONGTYPE otherwise."""
        v = self.lookup_write(key)
        if v is not None and type(v) is not cls:
            raise WrongTypeError()
        return v

    def read_typed(self, key: bytes, cls: type) -> Any:
        v = self.lookup_read(key)
        if v is not None and type(v) is not cls:
            raise WrongTypeError()
        return v

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def is_expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= self.ks.now_ms()

    def ttl_ms(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def __len__(self) -> int:
        return len(self.data)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))

    def random_key(self) -> bytes | None:
        # Try a few times to find a key that is not logically expired.
        for _ in range(100):
            if not self.data:
                return None
            key = random.choice(list(self.data)) if len(self.data) < 64 else _sample_key(self.data)
            if self.get(key) is not None:
                return key
        return None

    # -- writes ----------------------------------------------------------

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value`` at ``key`` (replacing any value; TTL cleared unless kept)."""
        data = self.data
        ks = self.ks
        if ks.events:
            if key in self.expires:
                self.get(key)  # a stale key expires first ("expired", then "new"), as in Redis
            if ks.events & NEW and key not in data:
                ks.notifier(b"new", key, self.id)
        old = data.get(key)
        if ks.undo is not None:
            ks.undo.append(_restore(self, key, old, self.expires.get(key)))
        data[key] = value
        if type(value) is bytes and type(old) is bytes:  # the common overwrite, bytes_size inlined
            self.used += ((len(value) + 48) & -16) - ((len(old) + 48) & -16)
        else:
            self.account(key, old, value)
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        if old is not None and self.clocked:  # (a new key starts afresh in account())
            self.accessed(key)
        ks.dirty += 1
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))
        if ks.blocking_keys and (self.id, key) in ks.blocking_keys:
            ks.ready.append((self.id, key))  # a list/zset moved into place may serve waiters

    def delete(self, key: bytes) -> bool:
        """Remove ``key`` (if live). Returns whether something was removed."""
        if self.get(key) is None:
            return False
        ks = self.ks
        old = self.data.pop(key)
        old_exp = self.expires.pop(key, None) if self.expires else None
        self.account(key, old, None)
        if ks.undo is not None:
            ks.undo.append(_restore(self, key, old, old_exp))
        ks.dirty += 1
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))
        if ks.blocking_keys and (self.id, key) in ks.blocking_keys:
            ks.ready.append((self.id, key))  # a blocked XREADGROUP answers that its stream is gone
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        ks = self.ks
        if ks.undo is not None:
            ks.undo.append(_restore_expire(self, key, self.expires.get(key)))
        self.expires[key] = when_ms
        ks.dirty += 1
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))

    def persist(self, key: bytes) -> bool:
        if key not in self.expires:
            return False
        ks = self.ks
        old = self.expires.pop(key)
        if ks.undo is not None:
            ks.undo.append(_restore_expire(self, key, old))
        ks.dirty += 1
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))
        return True

    def touch(self, key: bytes, changes: int = 1) -> None:
        """Announce an in-place change of the container at ``key``."""
        ks = self.ks
        ks.dirty += changes
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))
        self.mark_stale(key)
        if self.clocked:
            self.accessed(key)

    def notify(self, cls: int, event: bytes, key: bytes) -> None:
        """Announce a keyspace event of class ``cls`` (see :mod:`moonkv.keyspace.events`)."""
        ks = self.ks
        if ks.events & cls:
            ks.notifier(event, key, self.id)

    def undo(self, fn: UndoFn) -> None:
        """Record how to reverse an in-place change (only while a script runs)."""
        u = self.ks.undo
        if u is not None:
            u.append(fn)

    def signal_ready(self, key: bytes) -> None:
        """A push made ``key`` servable for clients blocked on it."""
        if (self.id, key) in self.ks.blocking_keys:
            self.ks.ready.append((self.id, key))

    def remove_if_empty(self, key: bytes, value: Any) -> None:
        """Delete a container that a pop/remove left empty (Redis never keeps empty ones)."""
        if not value:
            data = self.data
            if data.get(key) is value:
                ks = self.ks
                del data[key]
                old_exp = self.expires.pop(key, None) if self.expires else None
                self.account(key, value, None)
                if ks.undo is not None:
                    ks.undo.append(_restore(self, key, value, old_exp))

    def expire_now(self, key: bytes) -> None:
        """Remove a key whose TTL has passed and record its ``DEL`` effect.

        Inside a script the removal is undone with the script (which also drops
        the ``DEL``): the script may have given the key its past TTL itself, and
        a key that had expired before stays expired, for a later removal.
        """
        ks = self.ks
        value = self.data.pop(key, None)
        when = self.expires.pop(key, None)
        self.account(key, value, None)
        if ks.undo is not None:
            ks.undo.append(_restore(self, key, value, when))
        ks.expired_keys += 1
        ks.expired_effects.append((self.id, [b"DEL", key]))
        if ks.watched or ks.tracking:
            ks.touched.append((self.id, key))
        if ks.events & EXPIRED:
            ks.notifier(b"expired", key, self.id)

    # -- memory ------------------------------------------------------------

    def account(self, key: bytes, old: Any, new: Any) -> None:
        """``key``'s value went from ``old`` to ``new`` (None: absent): adjust the estimate.

        Also keeps the access times' and the tracker's key sets (a new key enters them,
        accessed now; a removed one leaves).
        """
        delta = 0
        if old is None:
            if new is None:
                return
            delta = key_size(key)
            if self.lru is not None:
                self.lru[key] = self.ks.clock.lru
            if self.tracker is not None:
                self.tracker.add(key, self.ks.now_ms())
            if self.slot_keys is not None:
                self.slot_keys.add(key)
        elif type(old) is bytes:
            delta = -bytes_size(len(old))
        else:
            delta = -self.sizes.pop(key, 0)
        if new is None:
            delta -= key_size(key)
            if self.lru is not None:
                self.lru.pop(key, None)
            if self.tracker is not None:
                self.tracker.remove(key)
            if self.slot_keys is not None:
                self.slot_keys.remove(key)
        elif type(new) is bytes:
            delta += bytes_size(len(new))
        else:
            size = value_size(new)
            self.sizes[key] = size
            delta += size
            self.mark_stale(key)  # handlers often store a new container, then fill it
        self.used += delta

    def mark_stale(self, key: bytes) -> None:
        """``key``'s container changed in place: measure it again before the figure is read."""
        stale = self.stale
        stale.add(key)
        if len(stale) > 1024 and self.ks.undo is None:
            self.settle()

    def settle(self) -> None:
        """Measure again the containers changed in place since they were last measured.

        While a script runs they stay marked: its rollback may change them again.
        """
        data = self.data
        sizes = self.sizes
        for key in self.stale:
            v = data.get(key)
            if v is None or type(v) is bytes:
                continue
            size = value_size(v)
            self.used += size - sizes.get(key, 0)
            sizes[key] = size
        if self.ks.undo is None:
            self.stale = set()

    def memory(self) -> int:
        """Estimated bytes held by this database (keys, values, TTLs, bookkeeping)."""
        if self.stale:
            self.settle()
        m = self.used + table_size(self.data) + table_size(self.expires) + EXPIRE_SIZE * len(self.expires)
        if self.sizes:
            m += table_size(self.sizes) + EXPIRE_SIZE * len(self.sizes)
        if self.lru is not None:
            m += table_size(self.lru)  # (its values: one int object per cron tick, shared)
        if self.tracker is not None:
            m += self.tracker.memory()
        return m

    def recount(self) -> None:
        """Measure every key from scratch (after a load that filled the tables directly)."""
        self.used = 0
        self.sizes = {}
        self.stale = set()
        if self.lru is not None:
            self.lru = {}  # account() enters each key
        if self.ks.access_clock is not None:
            self.tracker = Tracker(*self.ks.access_clock)  # account() enters each key
        if self.slot_keys is not None:
            self.slot_keys.clear()  # account() enters each key
        for key, v in self.data.items():
            self.account(key, None, v)

    def swap(self, other: Database) -> None:
        """SWAPDB: exchange contents (and their accounting) with ``other``."""
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.used, other.used = other.used, self.used
        self.sizes, other.sizes = other.sizes, self.sizes
        self.stale, other.stale = other.stale, self.stale
        self.tracker, other.tracker = other.tracker, self.tracker
        self.lru, other.lru = other.lru, self.lru

    def flush(self) -> int:
        """Remove every key; returns how many there were."""
        ks = self.ks
        n = len(self.data)
        if ks.undo is not None:
            old_data, old_exp = self.data, self.expires
            old_acct = (self.used, self.sizes, self.stale, self.tracker, self.lru)

            def restore() -> None:
                self.data, self.expires = old_data, old_exp
                self.used, self.sizes, self.stale, self.tracker, self.lru = old_acct
                if self.slot_keys is not None:
                    self.slot_keys.rebuild(old_data)

            ks.undo.append(restore)
        self.data = {}
        self.expires = {}
        self.used = 0
        self.sizes = {}
        self.stale = set()
        if self.lru is not None:
            self.lru = {}
        if ks.access_clock is not None:
            self.tracker = Tracker(*ks.access_clock)
        if self.slot_keys is not None:
            self.slot_keys.clear()
        ks.dirty += max(n, 1)
        ks.flushed.append(self.id)
        if ks.blocking_keys:
            ks.ready.extend(k for k in ks.blocking_keys if k[0] == self.id)
        return n


class _KeyProbe:
    """Equal to the key it wraps, and remembers the equal object a dict compared it with
    (the dict's own key): Python's dict has no operation that returns its stored key, but
    a lookup compares the stored key with the probe, and ``bytes.__eq__`` leaves a
    non-bytes operand to the probe's ``__eq__``."""

    __slots__ = ("key", "found", "hashed")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.found = key
        self.hashed = hash(key)

    def __hash__(self) -> int:
        return self.hashed

    def __eq__(self, other: object) -> bool:
        if type(other) is bytes and other == self.key:
            self.found = other
            return True
        return False


def _no_notifier(event: bytes, key: bytes, dbid: int) -> None:
    pass


def lru_idle(now: int, at: int) -> int:
    """Seconds from LRU clock ``at`` to ``now`` (Redis's estimateObjectIdleTime / 1000)."""
    return now - at if now >= at else now + LRU_CLOCK_MAX - at


def _restore(db: Database, key: bytes, value: Any, expire: int | None) -> UndoFn:
    def undo() -> None:
        db.account(key, db.data.get(key), value)
        if value is None:
            db.data.pop(key, None)
            db.expires.pop(key, None)
        else:
            db.data[key] = value
            if expire is None:
                db.expires.pop(key, None)
            else:
                db.expires[key] = expire

    return undo


def _restore_expire(db: Database, key: bytes, expire: int | None) -> UndoFn:
    def undo() -> None:
        if expire is None:
            db.expires.pop(key, None)
        else:
            db.expires[key] = expire

    return undo


def _sample_key(data: dict[bytes, Any]) -> bytes:
    # dicts have no O(1) random access; sample an iterator offset bounded in cost.
    n = len(data)
    skip = random.randrange(min(n, 4096))
    it = iter(data)
    for _ in range(skip):
        next(it)
    return next(it)
