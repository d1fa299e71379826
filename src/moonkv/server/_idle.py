"""``timeout``: close clients idle for more than that many seconds (Redis's client timeout).

Nothing is counted on the request path: the check runs once a second from the
cron, only while ``timeout`` is set, and calls a connection active when, since
the previous check, a command ran (``Client.last_cmd`` is a new object for each
command executed) or bytes arrived that do not yet complete one (the parser's
buffer changed).  A client whose requests are all refused before they run
(unknown commands, wrong arity, NOAUTH) is therefore idle.  Blocked clients and
clients with commands waiting behind a blocked or paused one are never closed
for being idle, as in Redis (their own timeout answers them); nor are
subscribed clients (Redis's CLIENT_PUBSUB), which wait for messages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moonkv.server._connection import Connection

log = logging.getLogger("moonkv")


def close_idle(connections: list[Connection], timeout: int, now: float) -> None:
    for conn in connections:
        c = conn.client
        if c is None:
            continue
        buffered = conn.parser.buffered
        if c.last_cmd is not conn.idle_cmd or buffered != conn.idle_buffered or conn.pending:
            conn.idle_cmd = c.last_cmd
            conn.idle_buffered = buffered
            conn.idle_since = now
            continue
        if c.blocked is None and c.subs is None and now - conn.idle_since > timeout:
            log.debug("Closing idle client")
            conn.close_client()
