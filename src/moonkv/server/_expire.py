"""The active expire cycle: removes keys whose TTL passed, within a time budget.

Keys are sampled in the order of a per-database snapshot of the TTL table,
walked a slice at a time, so every volatile key is visited once per pass and
one cycle never costs more than its budget.
"""

from __future__ import annotations

import time
from typing import Any

from moonkv.engine import Server

_SLICE = 64
_cursors: dict[int, tuple[list[bytes], int]] = {}


def active_expire_cycle(server: Server, budget_s: float) -> int:
    """Remove expired keys for at most ``budget_s`` seconds; returns how many."""
    deadline = time.perf_counter() + budget_s
    ks = server.ks
    if ks.expiry_paused():
        return 0
    now = ks.now_ms()
    removed = 0
    for db in ks.dbs:
        expires: dict[bytes, Any] = db.expires
        if not expires:
            _cursors.pop(id(db), None)
            continue
        snap, pos = _cursors.get(id(db), ([], 0))
        while True:
            if pos >= len(snap):
                snap, pos = list(expires), 0
                if not snap:
                    break
            end = min(pos + _SLICE, len(snap))
            sampled = 0
            expired = 0
            for key in snap[pos:end]:
                when = expires.get(key)
                if when is not None:
                    sampled += 1
                    if when <= now:
                        db.expire_now(key)
                        ks.expire_apart = True  # one DEL per unit, as Redis's active expiry
                        expired += 1
            pos = end
            removed += expired
            if time.perf_counter() > deadline:
                _cursors[id(db)] = (snap, pos)
                return removed
            # As Redis: keep going on this db only while many sampled keys were stale.
            if sampled == 0 or expired * 10 < sampled:
                break
        _cursors[id(db)] = (snap, pos)
    return removed
