"""Cluster mode (docs/cluster.md): slots, the topology record, and a node's side of it.

:mod:`moonkv.cluster.slots` and :mod:`moonkv.cluster.topology` are standalone
(the controller and the CLI use them).  :func:`attach` gives an assembled
server its :class:`ClusterNode` as ``server.cluster`` when ``cluster-enabled``
is on; the engine's executor then asks :func:`route` about every command.
"""

from __future__ import annotations

from moonkv.cluster._node import STATE_FILE, ClusterNode
from moonkv.cluster._routing import Router
from moonkv.engine import Server


def attach(server: Server, directory: str) -> ClusterNode:
    """Cluster mode: load (or make) the node's state in ``directory``; route through it."""
    node = ClusterNode(server, directory)
    server.cluster = node.router
    return node


__all__ = ["STATE_FILE", "ClusterNode", "Router", "attach"]
