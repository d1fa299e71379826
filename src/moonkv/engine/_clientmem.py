"""Client memory: what connections hold, counted in ``used_memory``, and client eviction.

Redis 7.0 keeps a running total of its clients' memory (``stat_clients_type_memory``,
INFO ``mem_clients_normal``) instead of summing over every client when memory is read:
each client remembers the figure it last added (``Client.mem``) and replaces it when it
is measured again.  So does :class:`ClientMemory`.  A client is measured

- by the cron, a slice of the clients per tick so that each is seen about once a second
  (Redis's ``clientsCron``), always;
- where its buffers change, only while the figure is needed at once (``maxmemory`` or
  ``maxmemory-clients`` set, :attr:`ClientMemory.exact`): after the Outbox wrote its
  replies if that changed its unwritten output, after a read on the general path (a partial
  or large request in its query buffer) and at the next write after that, and when the
  transport drained its output (``server/_connection.py``); so a request pays one test per
  write without a limit, and one call (the transport's buffer size) with one.  Its smaller
  parts (queued MULTI commands, subscriptions, watched keys, tracking prefixes) change with
  commands that leave no buffer: those the cron's measurement catches up with;
- when it leaves (:meth:`ClientMemory.forget`).

Replicas are not counted here: what the replication stream holds for them is the
replication node's (INFO ``mem_clients_slaves``, not counted for eviction, as Redis's
``freeMemoryGetNotCountedMemory``).

``maxmemory-clients`` (bytes, or a percentage of ``maxmemory``; at least 128 KiB) closes
the clients that use the most memory, largest first, until the total is under it again
(Redis's ``evictClients``, which takes them from its power-of-two buckets, largest bucket
first); ``CLIENT NO-EVICT on`` exempts a client, and replicas are never evicted (a
replica's link to its primary is no connection of this server's clients).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from moonkv.engine._client import Client
    from moonkv.engine._server import Server

log = logging.getLogger("moonkv")

# Redis refuses to evict clients under a smaller limit (getClientEvictionLimit).
MIN_LIMIT: Final = 128 * 1024
_CRON_MIN: Final = 5  # clients measured per cron tick at least (CLIENTS_CRON_MIN_ITERATIONS)


def eviction_limit(maxmemory_clients: int, maxmemory: int) -> int:
    """maxmemory-clients in bytes (a percentage is kept negative), 0 for none."""
    if maxmemory_clients < 0:
        if not maxmemory:
            return 0
        limit = maxmemory * -maxmemory_clients // 100
    elif maxmemory_clients > 0:
        limit = maxmemory_clients
    else:
        return 0
    return max(limit, MIN_LIMIT)


class ClientMemory:
    """The running total of the normal (and pub/sub) clients' memory, and their eviction."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.normal = 0  # INFO mem_clients_normal, MEMORY STATS clients.normal
        self.limit = 0  # maxmemory-clients in bytes, 0: no client eviction
        # Measure clients where their buffers change (maxmemory or maxmemory-clients set).
        self.exact = False
        self.evicting = False
        self._round: list[Client] = []  # the cron's clients still to measure this second
        self.configure()
        server.config.on_change(self._config_changed)

    def _config_changed(self, name: str, _value: object) -> None:
        if name in ("maxmemory", "maxmemory-clients"):
            self.configure()

    def configure(self) -> None:
        cfg = self.server.config
        maxmemory = cfg["maxmemory"]
        self.limit = eviction_limit(cfg["maxmemory-clients"], maxmemory)
        exact = bool(maxmemory or self.limit)
        if exact and not self.exact:
            # From now on the figure must be current: measure everyone once.
            for c in list(self.server.clients.values()):
                self.update(c)
        self.exact = exact
        self.evict()

    def update(self, c: Client) -> None:
        """Measure ``c`` again (its buffers changed) and evict clients if over the limit."""
        if c.closing or "S" in c.flags:
            return
        if c.reply_room() == 0:
            # Past its client-output-buffer-limit hard limit: the flush of its held replies
            # closes it. Redis closes such a client as the reply is added, before anything
            # measures it, so the output limit takes precedence: it frees its memory
            # itself and is no reason to evict others.
            self.forget(c)
            return
        mem = c.memory()
        self.normal += mem - c.mem
        c.mem = mem
        if self.limit and self.normal >= self.limit:
            self.evict()

    def forget(self, c: Client) -> None:
        """``c`` is gone: its memory no longer counts."""
        self.normal -= c.mem
        c.mem = 0

    def cron(self, hz: int) -> None:
        """Measure a slice of the clients, so that each is measured about once a second."""
        clients = self.server.clients
        todo = self._round
        if not todo:
            todo.extend(clients.values())
        for _ in range(min(len(todo), max(_CRON_MIN, len(clients) // max(hz, 1)))):
            c = todo.pop()
            if clients.get(c.id) is c:
                self.update(c)

    def evict(self) -> None:
        """Close the clients using the most memory until the total is under the limit."""
        limit = self.limit
        if not limit or self.normal < limit or self.evicting:
            return
        self.evicting = True  # closing a client may measure others (a flush)
        try:
            clients = sorted(
                (c for c in self.server.clients.values() if not c.no_evict and "S" not in c.flags),
                key=lambda c: c.mem, reverse=True,
            )
            for c in clients:
                if self.normal < limit:
                    return
                if c.closing:
                    continue
                log.info("Evicting client: %s", c.info_line())
                c.abort()
                self.forget(c)
                self.server.stats["evicted_clients"] += 1
            if self.normal >= limit:
                log.warning("Over client maxmemory after evicting all evictable clients")
        finally:
            self.evicting = False
