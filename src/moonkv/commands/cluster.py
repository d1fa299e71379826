"""CLUSTER, READONLY, READWRITE, ASKING in standalone mode (cluster mode comes later)."""

from __future__ import annotations

from moonkv.commands.table import command, container
from moonkv.engine import Client
from moonkv.errors import RespError

_G = "cluster"
_DISABLED = "This instance has cluster support disabled"

container("cluster", group=_G, summary="A container for Redis Cluster commands.", since="3.0.0")


def _disabled(c: Client, argv: list[bytes]) -> object:
    raise RespError(_DISABLED)


for _name, _arity, _flags, _summary in (
    ("info", 2, "stale", "Returns information about the state of a node."),
    ("nodes", 2, "stale", "Returns the cluster configuration for a node."),
    ("slots", 2, "stale", "Returns the mapping of cluster slots to nodes."),
    ("shards", 2, "stale", "Returns the mapping of cluster slots to shards."),
    ("myid", 2, "stale", "Returns the ID of a node."),
    ("keyslot", 3, "stale", "Returns the hash slot for a key."),
    ("countkeysinslot", 3, "stale", "Returns the number of keys in a hash slot."),
    ("getkeysinslot", 4, "stale", "Returns the key names in a hash slot."),
    ("reset", -2, "admin noscript stale", "Resets a node."),
    ("meet", -4, "admin no_async_loading stale", "Forces a node to handshake with another node."),
    ("addslots", -3, "admin no_async_loading stale", "Assigns new hash slots to a node."),
    ("delslots", -3, "admin no_async_loading stale", "Sets hash slots as unbound for a node."),
    ("failover", -2, "admin no_async_loading stale", "Forces a replica to perform a manual failover of its master."),
    ("replicate", 3, "admin no_async_loading stale", "Configure a node as replica of a master node."),
):
    command(f"cluster|{_name}", _arity, _flags, group=_G, since="3.0.0", summary=_summary)(_disabled)


@command("readonly", 1, "loading stale fast", group=_G, since="3.0.0",
         summary="Enables read-only queries for a connection to a Redis Cluster replica node.")
def readonly(c: Client, argv: list[bytes]) -> object:
    raise RespError(_DISABLED)


@command("readwrite", 1, "loading stale fast", group=_G, since="3.0.0",
         summary="Enables read-write queries for a connection to a Reids Cluster replica node.")
def readwrite(c: Client, argv: list[bytes]) -> object:
    raise RespError(_DISABLED)


@command("asking", 1, "fast", group=_G, since="3.0.0",
         summary="Signals that a cluster client is following an -ASK redirect.")
def asking(c: Client, argv: list[bytes]) -> object:
    raise RespError(_DISABLED)
