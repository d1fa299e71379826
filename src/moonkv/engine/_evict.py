"""maxmemory: evicting keys before a command, as Redis's ``performEvictions`` does.

``Server`` calls :meth:`Evictor.perform` before every command while
``maxmemory`` is set (never inside a script or EXEC: their commands do not
come through the client path).  It deletes keys chosen by the policy until the
estimate (:meth:`Evictor.used_memory`) is back under the limit; each key is
a ``DEL`` effect, committed as a unit of its own before the command runs, so
the durable log and replicas see evictions as ordinary deletions.

The LRU/LFU/TTL policies use Redis's approximation: each round samples
``maxmemory-samples`` keys per database into a pool of the 16 best
candidates seen so far, and evicts the best of the pool that still exists.
A round stops after ``maxmemory-eviction-tenacity``'s time limit; the rest is
evicted by a timer, and the command is let through meanwhile (Redis's
``EVICT_RUNNING``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, Final

from moonkv.engine._clientmem import ClientMemory
from moonkv.keyspace import Database
from moonkv.keyspace.events import EVICTED

if TYPE_CHECKING:
    from moonkv.engine._server import Server

POOL_SIZE: Final = 16
_TTL_MAX: Final = (1 << 63) - 1

_KEPT_TRIES: Final = 16  # random samples for a key that is not kept, when some are

Keeps = Callable[[bytes], bool] | None  # a key that must not be evicted (cluster mode)

EVICT_OK: Final = 0
EVICT_RUNNING: Final = 1
EVICT_FAIL: Final = 2


def time_limit_us(tenacity: int) -> float:
    """Redis's evictionTimeLimitUs: the time one round may spend evicting."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


def tracking_for(policy: str, log_factor: int, decay_time: int) -> tuple[bool, int, int] | None:
    """Which tracker the keyspace must keep (moonkv.keyspace.access): every policy but
    noeviction (eviction samples keys from it; LFU ranks them by its counters, which OBJECT
    FREQ reads; LRU by the databases' last access times, see keeps_lru), limit or not. It is
    counted in used_memory, so it exists before maxmemory is set: a CONFIG SET maxmemory
    just above used_memory must not find memory over it because of what that same CONFIG
    SET made (Redis's unit/maxmemory sets limits 10 KB above used_memory)."""
    if policy == "noeviction":
        return None
    return (policy.endswith("-lfu"), log_factor, decay_time)


def keeps_lru(policy: str) -> bool:
    """Whether the databases keep each key's last access (OBJECT IDLETIME, LRU eviction):
    under an LRU policy only, limit or not, so that reads under the others pay nothing
    for it (issue 18; docs/performance.md)."""
    return policy.endswith("-lru")


class Evictor:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.pool: list[tuple[int, int, bytes]] = []  # (rank, db id, key), best candidate last
        self.timer_pending = False
        self.peak = 0  # the highest used_memory seen (INFO used_memory_peak)
        self.clients = ClientMemory(server)

    def replication_memory(self) -> tuple[int, int]:
        """(the backlog, what the stream holds for replicas): INFO mem_replication_backlog
        and mem_clients_slaves."""
        repl = self.server.replication
        return repl.memory() if repl is not None else (0, 0)  # type: ignore[no-any-return]

    def used_memory(self) -> int:
        """The estimate (INFO used_memory): the dataset and the server's own buffers."""
        return self.memory()[0]

    def memory(self) -> tuple[int, int]:
        """(used_memory, the part not counted for eviction: replicas' output, as Redis's
        freeMemoryGetNotCountedMemory)."""
        _, replicas = self.replication_memory()
        used = self.counted() + replicas
        if used > self.peak:
            self.peak = used
        return used, replicas

    def counted(self) -> int:
        """used_memory less what is not counted for eviction: what perform() compares with
        maxmemory before every command (so it reads only running totals)."""
        srv = self.server
        eng = srv.scripting
        # The script cache counts; the Lua heap does not (Redis: used_memory_vm_eval is
        # "not part of used_memory").
        used = srv.ks.dataset_memory() + self.clients.normal
        if eng is not None:
            used += eng.cache_bytes
        repl = srv.replication
        if repl is not None and repl.backlog is not None:
            used += len(repl.backlog.buf)
        return used

    def perform(self) -> int:
        """Evict until under maxmemory: EVICT_OK, EVICT_RUNNING (time is up, a timer
        continues) or EVICT_FAIL (nothing more can be evicted, or noeviction)."""
        srv = self.server
        limit = srv.maxmemory
        used = self.counted()
        if used > self.peak:
            self.peak = used
        if used <= limit:
            return EVICT_OK
        policy = str(srv.config["maxmemory-policy"])
        if policy == "noeviction":
            return EVICT_FAIL
        ks = srv.ks
        deadline = time.perf_counter() + time_limit_us(srv.config["maxmemory-eviction-tenacity"]) / 1e6
        volatile = policy.startswith("volatile-")
        kind = policy.split("-", 1)[1]
        samples = srv.config["maxmemory-samples"]
        effects: list[tuple[int, list[bytes]]] = []
        result = EVICT_OK
        # Cluster mode: keys of slots handed over to another node stay (docs/cluster.md).
        keeps = srv.cluster.eviction_keeps() if srv.cluster is not None else None
        while used > limit:
            if kind == "random":
                pick = self._random_pick(volatile, keeps)
            else:
                pick = self._pool_pick(kind, volatile, samples, keeps)
            if pick is None:
                result = EVICT_FAIL
                break
            db = ks.dbs[pick[0]]
            before = db.used  # (the tables keep their size: dicts do not shrink)
            db.delete(pick[1])
            used -= before - db.used
            if ks.events:
                db.notify(EVICTED, b"evicted", pick[1])
            effects.append((db.id, [b"DEL", pick[1]]))
            if len(effects) % 16 == 0 and time.perf_counter() > deadline:
                if used > limit:
                    result = EVICT_RUNNING
                    self._continue_later()
                break
        if effects:
            srv.stats["evicted_keys"] += len(effects)
            for one in effects:  # one DEL per unit, never framed in MULTI, as Redis
                for sink in srv.sinks:
                    sink.commit([one])
            # WATCH and client tracking hear of the evicted keys now, before the reply
            # of the command that let eviction run (Redis: the invalidation comes first).
            srv.end_unit_nested()
        return result

    def start(self) -> None:
        """Evict from the loop now, not at the next command: CONFIG SET maxmemory (Redis's
        updateMaxmemory starts its eviction timer)."""
        self._continue_later()

    def _continue_later(self) -> None:
        if not self.timer_pending:
            self.timer_pending = True
            self.server.scheduler.call_later(0.001, self._timer)

    def _timer(self) -> None:
        self.timer_pending = False
        srv = self.server
        if srv.maxmemory and not srv.ks.frozen_ms:
            self.perform()
            srv.end_unit()

    # -- choosing keys -----------------------------------------------------------

    def _random_pick(self, volatile: bool, keeps: Keeps) -> tuple[int, bytes] | None:
        dbs = self.server.ks.dbs
        start = random.randrange(len(dbs))
        for i in range(len(dbs)):
            db = dbs[(start + i) % len(dbs)]
            # Kept keys are skipped: a few samples find another (all of them kept: none).
            for key in _sample(db, 1 if keeps is None else _KEPT_TRIES, volatile):
                if keeps is None or not keeps(key):
                    return db.id, key
        return None

    def _pool_pick(self, kind: str, volatile: bool, samples: int, keeps: Keeps) -> tuple[int, bytes] | None:
        ks = self.server.ks
        pool = self.pool
        now = ks.now_ms()
        while True:
            for db in ks.dbs:
                tracker = db.tracker
                if not db.data:
                    continue
                for key in _sample(db, samples, volatile):
                    if keeps is not None and keeps(key):
                        continue
                    if kind == "ttl":
                        rank = _TTL_MAX - db.expires.get(key, _TTL_MAX)
                    elif kind == "lru":
                        rank = db.idle(key)
                    elif tracker is not None:
                        rank = tracker.rank(key, now)
                    else:
                        rank = 0
                    pool.append((rank, db.id, key))
            if not pool:
                return None
            pool.sort()
            del pool[:-POOL_SIZE]
            while pool:
                _, dbid, key = pool.pop()
                db = ks.dbs[dbid]
                if key in db.data and (not volatile or key in db.expires) and (keeps is None or not keeps(key)):
                    return dbid, key
            # every pooled key was gone (deleted since it was sampled): sample again


def _sample(db: Database, n: int, volatile: bool) -> list[bytes]:
    """Up to ``n`` random keys of ``db`` (only keys with a TTL if ``volatile``)."""
    tracker = db.tracker
    if tracker is None or not len(tracker):
        return []
    if not volatile:
        return [tracker.random_key() for _ in range(n)]
    expires = db.expires
    if not expires:
        return []
    out = [k for k in (tracker.random_key() for _ in range(n * 3)) if k in expires][:n]
    if len(out) < n:
        # few keys have a TTL: take a run of the TTL table from a bounded random offset
        skip = random.randrange(max(1, min(len(expires) - n + 1, 4096)))
        out.extend(islice(expires, skip, skip + n - len(out)))
    return out
