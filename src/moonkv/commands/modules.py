"""MODULE: Redis's module commands, answered as a Redis with no module loaded.

moonkv has no module API: MODULE LIST is empty, MODULE LOAD/LOADEX fail with Redis's
reply to a library it could not load (the log says why), MODULE UNLOAD finds no module.
LOAD, LOADEX and UNLOAD are protected commands, refused unless ``enable-module-command``
allows them, as in Redis (engine/_protect.py).
"""

from __future__ import annotations

import logging

from moonkv.commands.table import command, container
from moonkv.engine import Client
from moonkv.errors import RespError

log = logging.getLogger("moonkv")

_LOAD_FAILED = "Error loading the extension. Please check the server logs."

container("module", summary="Manages the server's modules.", since="4.0.0")


@command("module|help", 2, "loading stale", group="server", since="5.0.0",
         summary="Returns helpful text about the different subcommands.")
def module_help(c: Client, argv: list[bytes]) -> object:
    return [
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST", "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]", "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>", "    Unload a module.",
        "HELP", "    Prints this help.",
    ]


@command("module|list", 2, "admin noscript", group="server", since="4.0.0", summary="Returns the loaded modules.",
         complexity="O(N) where N is the number of loaded modules.", tips="nondeterministic_output_order")
def module_list(c: Client, argv: list[bytes]) -> object:
    return []


@command("module|load", -3, "admin noscript no_async_loading protected", group="server", since="4.0.0",
         summary="Loads a module.")
def module_load(c: Client, argv: list[bytes]) -> object:
    log.warning("Module %s failed to load: moonkv has no module API", argv[2].decode("utf-8", "replace"))
    raise RespError(_LOAD_FAILED)


@command("module|loadex", -3, "admin noscript no_async_loading protected", group="server", since="7.0.0",
         summary="Loads a module with configurations and arguments.")
def module_loadex(c: Client, argv: list[bytes]) -> object:
    return module_load(c, argv)


@command("module|unload", 3, "admin noscript no_async_loading protected", group="server", since="4.0.0",
         summary="Unloads a module.")
def module_unload(c: Client, argv: list[bytes]) -> object:
    raise RespError("Error unloading module: no such module with that name")
