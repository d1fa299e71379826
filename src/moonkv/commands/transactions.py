"""MULTI / EXEC / DISCARD / WATCH / UNWATCH."""

from __future__ import annotations

from typing import Final

from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import RespError

_T: Final = "transactions"


@command("multi", 1, "noscript loading stale fast allow_busy", group=_T, since="1.2.0",
         summary="Starts a transaction.")
def multi(c: Client, argv: list[bytes]) -> object:
    if c.multi is not None:
        raise RespError("MULTI calls can not be nested")
    c.multi = []
    c.multi_error = False
    return "OK"


@command("exec", 1, "noscript loading stale skip_slowlog", group=_T, since="1.2.0",
         summary="Executes all commands in a transaction.", complexity="Depends on commands in the transaction")
def exec_(c: Client, argv: list[bytes]) -> object:
    return c.server.exec_transaction(c)


@command("discard", 1, "noscript loading stale fast allow_busy", group=_T, since="2.0.0",
         summary="Discards a transaction.", complexity="O(N), when N is the number of queued commands")
def discard(c: Client, argv: list[bytes]) -> object:
    if c.multi is None:
        raise RespError("DISCARD without MULTI")
    c.multi = None
    c.multi_error = False
    c.server.unwatch(c)
    return "OK"


@command("watch", -2, "noscript loading stale fast allow_busy", keys=keys(1, -1, flags="RO"),
         group=_T, since="2.2.0", summary="Monitors changes to keys to determine the execution of a transaction.",
         complexity="O(1) for every key.")
def watch(c: Client, argv: list[bytes]) -> object:
    if c.multi is not None:
        raise RespError("WATCH inside MULTI is not allowed")
    for key in argv[1:]:
        c.server.watch(c, key)
    return "OK"


@command("unwatch", 1, "noscript loading stale fast allow_busy", group=_T, since="2.2.0",
         summary="Forgets about watched keys of a transaction.")
def unwatch(c: Client, argv: list[bytes]) -> object:
    c.server.unwatch(c)
    return "OK"
