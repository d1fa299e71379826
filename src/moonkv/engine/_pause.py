"""CLIENT PAUSE: the pause state and which requests wait for its end (Redis 7.0's rules).

``Server.paused_until`` (a ``time.monotonic()`` instant, 0.0 when not paused) is what the
request path tests; while it is set the network layer asks :func:`holds` for each request
and keeps the requests it holds, with everything the client sent after them, until the
pause ends (``Server.on_unpause`` is told at once when CLIENT UNPAUSE lifts it).  The
keyspace holds key expiry for as long (``Keyspace.expiry_paused``): keys whose TTL passed
read as missing but are neither deleted nor counted as expired.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from moonkv.commands.table import CommandSpec, lookup, resolve_subcommand
from moonkv.errors import RespError

if TYPE_CHECKING:
    from moonkv.engine._client import Client
    from moonkv.engine._server import Server

# Script runners: they write unless their script or function declares no-writes.
_SCRIPTS = frozenset({"eval", "evalsha", "fcall"})


def pause(srv: Server, ms: int, writes_only: bool) -> None:
    """CLIENT PAUSE: a second pause keeps the stronger mode (ALL) and the later end."""
    now = time.monotonic()
    until = now + ms / 1000
    if srv.paused_until > now:
        writes_only = writes_only and srv.pause_writes_only
        until = max(until, srv.paused_until)
    srv.paused_until = until
    srv.pause_writes_only = writes_only
    srv.ks.expiry_paused_until = until


def unpause(srv: Server) -> None:
    srv.paused_until = 0.0
    srv.ks.expiry_paused_until = 0.0
    if srv.on_unpause is not None:
        srv.on_unpause()


def is_paused(srv: Server) -> bool:
    """Whether the pause is still on (clearing it once its time has passed)."""
    if srv.paused_until > time.monotonic():
        return True
    srv.paused_until = 0.0  # over: the request path skips the pause checks again
    srv.ks.expiry_paused_until = 0.0
    return False


def holds(srv: Server, c: Client, argv: list[bytes]) -> bool:
    """Whether ``c``'s request ``argv`` waits for the end of the pause.

    As Redis: PAUSE ALL holds every request; PAUSE WRITE the ones that may write or
    replicate (EXEC when a queued command does; scripts unless they declare no-writes,
    which EVAL_RO/FCALL_RO imply), even when a transaction would only queue them.  An
    unknown command or a wrong number of arguments is answered at once.
    """
    if not is_paused(srv):
        return False
    spec = lookup(argv[0])
    if spec is None:
        return False
    if spec.subcommands and len(argv) >= 2:
        try:
            spec = resolve_subcommand(spec, argv)
        except RespError:
            return False
    if not spec.arity_ok(len(argv)):
        return False
    if not srv.pause_writes_only:
        return True
    if spec.name == "exec":
        queued = c.multi
        return queued is not None and any(_may_replicate(srv, s, a) for s, a in queued)
    return _may_replicate(srv, spec, argv)


def _may_replicate(srv: Server, spec: CommandSpec, argv: list[bytes]) -> bool:
    if spec.is_write:
        return True
    if spec.name in _SCRIPTS:
        eng = srv.scripting
        return eng is None or bool(eng.may_write(spec, argv))
    return spec.may_replicate
