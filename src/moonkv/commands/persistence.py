"""Persistence commands: SAVE BGSAVE BGREWRITEAOF, and DEBUG PERSIST-FAULT for tests.

LASTSAVE lives with the other server commands (it only reads ``server.lastsave``).
"""

from __future__ import annotations

import errno

from moonkv.commands.debug import debug_subcommand
from moonkv.commands.table import command
from moonkv.engine import Client
from moonkv.errors import RespError, syntax_error

_S = "server"


def _engine(c: Client) -> object:
    p = c.server.persistence
    if p is None:
        raise RespError("Persistence is not available on this server")
    return p


@command("save", 1, "admin noscript no_async_loading no_multi", group=_S,
         summary="Synchronously saves the database(s) to disk.",
         complexity="O(N) where N is the total number of keys in all databases")
def save(c: Client, argv: list[bytes]) -> object:
    p = _engine(c)
    if p.child_pid:  # type: ignore[attr-defined]
        raise RespError("Background save already in progress")
    err = p.save()  # type: ignore[attr-defined]
    if err:
        raise RespError(err)
    return "OK"


@command("bgsave", -1, "admin noscript no_async_loading", group=_S,
         summary="Asynchronously saves the database(s) to disk.",
         complexity="O(N) where N is the total number of keys in all databases")
def bgsave(c: Client, argv: list[bytes]) -> object:
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise syntax_error()
    return _engine(c).bgsave(schedule)  # type: ignore[attr-defined]


@command("bgrewriteaof", 1, "admin noscript no_async_loading", group=_S,
         summary="Asynchronously rewrites the append-only file to disk.",
         complexity="O(1)")
def bgrewriteaof(c: Client, argv: list[bytes]) -> object:
    return _engine(c).bgrewriteaof()  # type: ignore[attr-defined]


@debug_subcommand("persist-fault", -3)
def debug_persist_fault(c: Client, argv: list[bytes]) -> object:
    """DEBUG PERSIST-FAULT write|fsync ENOSPC|EIO|OFF  (or DEBUG PERSIST-FAULT OFF)."""
    from moonkv.persistence._format import FAULTS

    op = argv[2].lower()
    if op == b"off" and len(argv) == 3:
        FAULTS.clear()
        return "OK"
    if op not in (b"write", b"fsync") or len(argv) != 4:
        raise syntax_error()
    what = argv[3].upper()
    if what == b"OFF":
        FAULTS.pop(op.decode(), None)
        return "OK"
    code = getattr(errno, what.decode("ascii", "replace"), None)
    if not isinstance(code, int):
        raise RespError("unknown errno name")
    FAULTS[op.decode()] = code
    return "OK"
