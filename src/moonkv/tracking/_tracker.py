"""The tracking table and the invalidation messages (see the package doc)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from moonkv.protocol import encode

_INVALIDATE: Final = b"$10\r\ninvalidate\r\n"
_PUSH: Final = b">2\r\n" + _INVALIDATE
_MESSAGE: Final = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_BROKEN: Final = b">2\r\n$21\r\ntracking-redir-broken\r\n"


class TrackingState:
    """One client's CLIENT TRACKING options (the client's ``tracking`` while on)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "prefixes", "caching", "broken", "keys")

    def __init__(self, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool) -> None:
        self.redirect = redirect  # client id, 0 for none
        self.bcast = bcast
        self.optin = optin
        self.optout = optout
        self.noloop = noloop
        self.prefixes: list[bytes] = []  # BCAST only; [b""] when none was given
        self.caching = False  # CLIENT CACHING yes (OPTIN) / no (OPTOUT) for the next command
        self.broken = False  # the redirect client is gone
        # Keys the table holds for this client (not BCAST): a re-read is one probe of this
        # set, which keeps the database's own key objects (Tracker.remember_key).
        self.keys: set[bytes] = set()


class Tracker:
    """The server's tracking table, BCAST prefixes and tracking clients."""

    def __init__(self, find_client: Callable[[int], Any]) -> None:
        self.find_client = find_client  # client id -> Client or None
        self.table: dict[bytes, int | set[int]] = {}  # key -> client id, or ids if several
        self.prefixes: dict[bytes, dict[int, Any]] = {}  # BCAST prefix -> clients by id
        self.clients: dict[int, Any] = {}  # id -> Client with tracking on
        self.items = 0  # (key, client) pairs in the table: INFO tracking_total_items
        self.max_keys = 1000000
        self.current: Any = None  # the client whose command runs (NOLOOP)
        self.script_read = False  # the running script called a read command
        # How many of the running unit's touched keys (the keyspace's list ``touched_list``,
        # a new one per unit) lost their table entries already (invalidate_written), so the
        # unit's end does not invalidate them again.
        self.written = 0
        self.touched_list: list[tuple[int, bytes]] | None = None

    # -- turning it on and off ---------------------------------------------

    def enable(self, c: Any, state: TrackingState, prefixes: list[bytes]) -> None:
        old = c.tracking
        if old is not None:
            # ON again: options are replaced, BCAST prefixes added.
            state.prefixes = old.prefixes
            state.keys = old.keys
        self.clients[c.id] = c
        c.tracking = state
        if state.bcast:
            new = prefixes or ([b""] if not state.prefixes else [])
            for p in new:
                self.prefixes.setdefault(p, {})[c.id] = c
                state.prefixes.append(p)

    def disable(self, c: Any) -> None:
        state = c.tracking
        if state is None:
            return
        for p in state.prefixes:
            clients = self.prefixes.get(p)
            if clients is not None:
                clients.pop(c.id, None)
                if not clients:
                    del self.prefixes[p]
        self.clients.pop(c.id, None)
        c.tracking = None

    def active(self) -> bool:
        """Whether writes must be reported: a client tracks, or the table still holds keys
        read by clients that turned tracking off (Redis keeps them until they change or a
        flush)."""
        return bool(self.clients or self.table)

    # -- reads and writes -----------------------------------------------------

    def remember_key(self, c: Any, cid: int, state: TrackingState, key: bytes, db: Any) -> None:
        """``c`` (its id ``cid``, read by the typed caller: ``c.id`` would be a generic
        attribute lookup here) read ``key`` in ``db`` (the common one-key read, see remember).

        Re-reading a key the client tracks already writes nothing: one probe of the
        client's own set.  That set and the table keep ``db``'s key object (its
        ``stored_key``), which the read just compared: no copy of the key, and the probe
        compares in cache (a million tracked keys made a table lookup a few cache misses)."""
        # Tracked unless BCAST; with OPTIN only after CACHING yes, with OPTOUT unless after
        # CACHING no (caching is set only in those modes).
        if state.bcast or state.caching is not state.optin or key in state.keys:
            return
        self._insert(cid, state, db.stored_key(key))
        if self.max_keys and len(self.table) > self.max_keys:
            self.shrink(c)

    def remember(self, c: Any, keys: Iterable[bytes], db: Any) -> None:
        """``c`` read ``keys`` in ``db``: it may cache them until they change."""
        state: TrackingState = c.tracking
        if state.bcast or state.caching is not state.optin:
            return
        cid: int = c.id
        mine = state.keys
        for k in keys:
            if k not in mine:
                self._insert(cid, state, db.stored_key(k))
        if self.max_keys and len(self.table) > self.max_keys:
            self.shrink(c)

    def _insert(self, cid: int, state: TrackingState, key: bytes) -> None:
        """The table's entry for ``key`` gets ``cid`` (it may have it: the client read the key
        before it turned tracking off and on again)."""
        table = self.table
        ids = table.get(key)
        if ids is None:
            table[key] = cid
            self.items += 1
        elif ids != cid:
            self._add(key, ids, cid)
        state.keys.add(key)

    def _add(self, key: bytes, ids: int | set[int], cid: int) -> None:
        """A second reader of ``key``: the entry becomes a set (one reader: its id alone,
        which costs a fraction of a set's memory per tracked key)."""
        if type(ids) is int:
            self.table[key] = {ids, cid}
            self.items += 1
        elif cid not in ids:  # type: ignore[operator]
            ids.add(cid)  # type: ignore[union-attr]
            self.items += 1

    def shrink(self, current: Any = None) -> None:
        """Over tracking-table-max-keys: forget (and invalidate) the oldest keys.

        ``current``: the client whose read filled the table gets its messages after
        the reply (Redis evicts between commands)."""
        table = self.table
        excess = len(table) - self.max_keys
        for k in list(table)[:excess]:
            ids = _ids(table.pop(k))
            self.items -= len(ids)
            for cid in ids:
                c = self.clients.get(cid)
                if c is not None and not c.tracking.bcast:
                    c.tracking.keys.discard(k)
                    self.send(c, [k], current)

    def invalidate_written(self, touched: list[tuple[int, bytes]], current: Any) -> None:
        """Before a command's reads are remembered: the keys the unit wrote so far lose their
        entries now, as Redis's trackingInvalidateKey does at each write, so a read later in
        the same transaction or script tracks them afresh instead of being invalidated by a
        write that came before it."""
        start = self.written if touched is self.touched_list else 0
        table = self.table
        if table:
            for i in range(start, len(touched)):
                key = touched[i][1]
                if key in table:
                    self.invalidate_key(key, current)
        self.written = len(touched)
        self.touched_list = touched

    def invalidate(self, touched: list[tuple[int, bytes]], flushed: bool,
                   expired: Sequence[tuple[int, list[bytes]]] = ()) -> None:
        """A unit committed: ``touched`` changed; ``flushed``: a database was emptied;
        ``expired``: the DEL effects of keys that expired in it (also in ``touched``). As in
        Redis, NOLOOP holds back what the running client's command touched from that client
        (table mode: whatever caused it), but in BCAST mode not a key that also expired: Redis
        remembers an expiry as the server's change."""
        current, self.current = self.current, None
        written = self.written if touched is self.touched_list else 0
        self.written = 0
        self.touched_list = None
        if flushed:
            for c in list(self.clients.values()):
                c.tracking.keys.clear()
                self.send(c, None, current)
            self.table.clear()
            self.items = 0
        if not touched:
            return
        table = self.table
        if table:
            for i in range(written, len(touched)):
                key = touched[i][1]
                if key in table:
                    self.invalidate_key(key, current)
        if self.prefixes:
            self.broadcast(touched, current, {argv[1] for _db, argv in expired} if expired else None)

    def invalidate_key(self, key: bytes, current: Any) -> None:
        ids = _ids(self.table.pop(key))
        self.items -= len(ids)
        for cid in ids:
            c = self.clients.get(cid)
            if c is None or c.tracking.bcast:
                continue  # turned off since it read the key
            c.tracking.keys.discard(key)
            if c is current and c.tracking.noloop:
                continue
            self.send(c, [key], current)

    def broadcast(self, touched: list[tuple[int, bytes]], current: Any, gone: set[bytes] | None = None) -> None:
        """BCAST: each client gets the changed keys under its prefixes, once per unit (a
        NOLOOP client whose command ran, only those that also expired: ``gone``)."""
        keys = list(dict.fromkeys(k for _db, k in touched))
        for prefix, clients in self.prefixes.items():
            matched = [k for k in keys if k.startswith(prefix)]
            if not matched:
                continue
            for c in clients.values():
                if c is current and c.tracking.noloop:
                    expired = [k for k in matched if k in gone] if gone else []
                    if expired:
                        self.send(c, expired, current)
                    continue
                self.send(c, matched, current)

    def send(self, c: Any, keys: list[bytes] | None, current: Any = None) -> None:
        """One invalidation message (None: every key) to ``c`` or the client it redirects to.

        A message for ``current`` (whose command caused it) follows that command's reply,
        as in Redis 7.0 (``push_after``)."""
        state = c.tracking
        target = c
        via_redirect = False
        if state.redirect:
            target = self.find_client(state.redirect)
            if target is None:
                # Redis tells a RESP3 client once per message that its redirect is gone.
                state.broken = True
                if c.resp == 3:
                    (c.push_after if c is current else c.push)(_BROKEN + b":%d\r\n" % state.redirect)
                return
            via_redirect = True
        push = target.push_after if target is current else target.push
        if target.resp == 3:
            push(_PUSH + encode(keys, 3))
        elif via_redirect and target.subs is not None:
            push(_MESSAGE + (encode(keys, 2) if keys is not None else b"$-1\r\n"))

    def info(self) -> tuple[int, int, int]:
        """INFO stats: tracked keys, (key, client) items, BCAST prefixes."""
        return len(self.table), self.items, len(self.prefixes)


def _ids(entry: int | set[int]) -> set[int] | tuple[int]:
    return (entry,) if type(entry) is int else entry  # type: ignore[return-value]
