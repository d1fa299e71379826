"""DEBUG: one command in the table, as in Redis, whose handler dispatches on its first argument.

Redis declares no subcommands for DEBUG, so COMMAND INFO, INFO commandstats and latencystats,
the slow log and ACL rules see one command (``+debug|object`` is a first-argument rule, as
``+select|0``). moonkv's modules declare the subcommands they implement with
:func:`debug_subcommand`; a name it does not know, or a wrong number of arguments, gets
Redis's ``unknown subcommand or wrong number of arguments`` error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from moonkv.commands.table import Handler, command
from moonkv.engine import Client
from moonkv.errors import RespError

# name (lower case) -> (arity counting DEBUG itself, negative for "at least"), handler
_SUBCOMMANDS: Final[dict[bytes, tuple[int, Handler]]] = {}


def debug_subcommand(name: str, arity: int) -> Callable[[Handler], Handler]:
    """Declare ``DEBUG <name>``; ``arity`` as a command's (DEBUG SLEEP <s>: 3)."""

    def register(fn: Handler) -> Handler:
        key = name.lower().encode()
        if key in _SUBCOMMANDS:
            raise RuntimeError(f"DEBUG {name} declared twice")
        _SUBCOMMANDS[key] = (arity, fn)
        return fn

    return register


@command("debug", -2, "admin noscript loading stale protected", group="server",
         summary="A container for debugging commands.", complexity="Depends on subcommand.")
def debug(c: Client, argv: list[bytes]) -> object:
    found = _SUBCOMMANDS.get(argv[1].lower())
    if found is not None:
        arity, fn = found
        n = len(argv)
        if n == arity or (arity < 0 and n >= -arity):
            return fn(c, argv)
    raise unknown_subcommand(argv)


def unknown_subcommand(argv: list[bytes]) -> RespError:
    """Redis's error for a DEBUG subcommand it does not know (or takes otherwise)."""
    name = argv[1][:128].decode("utf-8", "surrogateescape")
    return RespError(f"unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP.")
