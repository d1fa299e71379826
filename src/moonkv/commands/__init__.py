"""Command handlers, one module per group, and the command table they fill.

Handlers are ``handler(client, argv) -> reply`` and work on the keyspace
through the client's database; they import the engine and keyspace, never the
network layer.  Importing this package is cheap (the engine imports
:mod:`moonkv.commands.table`); :func:`load` imports the handler modules, which
declare themselves in the table.
"""

from __future__ import annotations

import importlib

MODULES = (
    "connection",
    "debug",
    "server",
    "monitoring",
    "memory",
    "lolwut",
    "introspection",
    "transactions",
    "keys",
    "migrate",
    "strings",
    "bitmaps",
    "hyperloglog",
    "hashes",
    "lists",
    "sets",
    "zsets",
    "geo",
    "streams",
    "sort",
    "scripting",
    "functions",
    "persistence",
    "cluster",
    "reshard",
    "replication",
    "acl",
    "pubsub",
    "modules",
)


def load() -> None:
    """Import every handler module (idempotent)."""
    for name in MODULES:
        importlib.import_module(f"moonkv.commands.{name}")
