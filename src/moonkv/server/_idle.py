"""``timeout``: close clients idle for more than that many seconds (Redis's client timeout).

A connection counts its reads (one increment per read, the only cost on the
request path); the check runs once a second from the cron, and only while
``timeout`` is set: a connection whose count has not moved since the previous
check has been idle since then.  Blocked clients are never closed for being
idle, as in Redis (their own timeout answers them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moonkv.server._connection import Connection

log = logging.getLogger("moonkv")


def close_idle(connections: list[Connection], timeout: int, now: float) -> None:
    for conn in connections:
        if conn.reads != conn.idle_reads:
            conn.idle_reads = conn.reads
            conn.idle_since = now
            continue
        c = conn.client
        if c is not None and c.blocked is None and now - conn.idle_since > timeout:
            log.debug("Closing idle client")
            conn.close_client()
