"""Resharding's internal commands (not in Redis): CLUSTER IMPORTSLOTS and CLUSTER MIGRATIONS.

The source of a slot migration sends IMPORTSLOT to the target over its own connection;
the controller reads MIGRATIONS to learn when a source handed a slot over
(moonkv/cluster/_migrate.py, docs/cluster.md "Resharding").
"""

from __future__ import annotations

from moonkv.cluster._migrate import Migrations
from moonkv.cluster.slots import SLOTS
from moonkv.commands._util import parse_int
from moonkv.commands.table import command
from moonkv.engine import Client
from moonkv.errors import RespError, syntax_error

_G = "cluster"


def _migrations(c: Client) -> Migrations:
    router = c.server.cluster
    if router is None:
        raise RespError("This instance has cluster support disabled")
    mig: Migrations = router.node.migrations
    return mig


@command("cluster|importslots", -3, "write denyoom admin noscript", group=_G, since="7.0.0",
         summary="Receives slots from their source during resharding (moonkv, internal).")
def cluster_importslots(c: Client, argv: list[bytes]) -> object:
    mig = _migrations(c)
    verb = argv[2].lower()
    if verb == b"begin" and len(argv) >= 5:
        slots = frozenset(parse_int(a, "Invalid or out of range slot") for a in argv[4:])
        if not all(0 <= s < SLOTS for s in slots):
            raise RespError("Invalid or out of range slot")
        c.server.suppress_effect()  # the DELs it runs are the effects
        return mig.begin(c, argv[3].decode("utf-8", "replace"), slots)
    if verb == b"keys":
        c.server.suppress_effect()
        return mig.restore_keys(c, argv[3:])
    if verb == b"apply":
        c.server.suppress_effect()
        return mig.apply(c, argv[3:])
    if verb == b"end" and len(argv) == 4:
        return mig.end(c, parse_int(argv[3]))
    raise syntax_error()


@command("cluster|migrations", 2, "admin stale", group=_G, since="7.0.0",
         summary="Lists the slots moving from or to this node (moonkv, internal).")
def cluster_migrations(c: Client, argv: list[bytes]) -> object:
    return _migrations(c).status()
