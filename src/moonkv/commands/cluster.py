"""CLUSTER, READONLY, READWRITE, ASKING in standalone mode (cluster mode comes later)."""

from __future__ import annotations

from typing import Final

from moonkv.commands.table import command, container
from moonkv.engine import Client
from moonkv.errors import RespError

_G = "cluster"
_DISABLED = "This instance has cluster support disabled"

container("cluster", group=_G, summary="A container for Redis Cluster commands.", since="3.0.0")


def _disabled(c: Client, argv: list[bytes]) -> object:
    raise RespError(_DISABLED)


# name, arity, flags, since, summary
_SUBCOMMANDS: Final = (
    ("info", 2, "stale", "3.0.0", "Returns information about the state of a node."),
    ("nodes", 2, "stale", "3.0.0", "Returns the cluster configuration for a node."),
    ("slots", 2, "stale", "3.0.0", "Returns the mapping of cluster slots to nodes."),
    ("shards", 2, "stale", "3.0.0", "Returns the mapping of cluster slots to shards."),
    ("myid", 2, "stale", "3.0.0", "Returns the ID of a node."),
    ("keyslot", 3, "stale", "3.0.0", "Returns the hash slot for a key."),
    ("countkeysinslot", 3, "stale", "3.0.0", "Returns the number of keys in a hash slot."),
    ("getkeysinslot", 4, "stale", "3.0.0", "Returns the key names in a hash slot."),
    ("reset", -2, "admin noscript stale", "3.0.0", "Resets a node."),
    ("meet", -4, "admin no_async_loading stale", "3.0.0", "Forces a node to handshake with another node."),
    ("addslots", -3, "admin no_async_loading stale", "3.0.0", "Assigns new hash slots to a node."),
    ("delslots", -3, "admin no_async_loading stale", "3.0.0", "Sets hash slots as unbound for a node."),
    ("failover", -2, "admin no_async_loading stale", "3.0.0", "Forces a replica to perform a manual failover of its master."),
    ("replicate", 3, "admin no_async_loading stale", "3.0.0", "Configure a node as replica of a master node."),
    ("addslotsrange", -4, "admin no_async_loading stale", "7.0.0", "Assigns new hash slot ranges to a node."),
    ("delslotsrange", -4, "admin no_async_loading stale", "7.0.0", "Sets hash slot ranges as unbound for a node."),
    ("bumpepoch", 2, "admin no_async_loading stale", "3.0.0", "Advances the cluster config epoch."),
    ("count-failure-reports", 3, "admin stale", "3.0.0", "Returns the number of active failure reports active for a node."),
    ("flushslots", 2, "admin no_async_loading stale", "3.0.0", "Deletes all slots information from a node."),
    ("forget", 3, "admin no_async_loading stale", "3.0.0", "Removes a node from the nodes table."),
    ("help", 2, "loading stale", "5.0.0", "Returns helpful text about the different subcommands."),
    ("links", 2, "stale", "7.0.0", "Returns a list of all TCP links to and from peer nodes."),
    ("replicas", 3, "admin stale", "5.0.0", "Lists the replica nodes of a master node."),
    ("slaves", 3, "admin stale", "3.0.0", "Lists the replica nodes of a master node."),
    ("saveconfig", 2, "admin no_async_loading stale", "3.0.0", "Forces a node to save the cluster configuration to disk."),
    ("set-config-epoch", 3, "admin no_async_loading stale", "3.0.0", "Sets the configuration epoch for a new node."),
    ("setslot", -4, "admin no_async_loading stale", "3.0.0", "Binds a hash slot to a node."),
)
# Standalone Redis 7.0 answers every CLUSTER subcommand, HELP included, with this error.
for _name, _arity, _flags, _since, _summary in _SUBCOMMANDS:
    command(f"cluster|{_name}", _arity, _flags, group=_G, since=_since, summary=_summary)(_disabled)


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
