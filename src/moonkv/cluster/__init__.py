"""Cluster mode (docs/cluster.md): slots, the topology record, and a node's side of it.

:mod:`moonkv.cluster.slots` and :mod:`moonkv.cluster.topology` are standalone
(the controller and the CLI use them).  :func:`attach` gives an assembled
server its :class:`ClusterNode` as ``server.cluster`` when ``cluster-enabled``
is on; the engine's executor then asks :func:`route` about every command.
:mod:`moonkv.cluster._shared` (scripts, libraries and ACL users on every node, through etcd)
is attached by the network layer with ``cluster-etcd-endpoints``; it imports aetcd,
the optional ``cluster`` extra.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

# gRPC (under aetcd, imported by this package's etcd modules) registers fork handlers that
# abort a forked child while another thread is inside gRPC ("Check failed:
# next_worker->state == KICKED"): a node forks for snapshots and full syncs, and its children
# never use gRPC.  gRPC reads the setting when it first starts, after this package's import.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from moonkv.cluster._node import STATE_FILE, ClusterNode
from moonkv.cluster._routing import Router
from moonkv.engine import Server

if TYPE_CHECKING:
    from moonkv.cluster._membership import Membership


def attach(server: Server, directory: str) -> ClusterNode:
    """Cluster mode: load (or make) the node's state in ``directory``; route through it."""
    node = ClusterNode(server, directory)
    server.cluster = node.router
    return node


def join_etcd(node: ClusterNode, loop: asyncio.AbstractEventLoop) -> Membership:
    """``cluster-etcd-endpoints``: keep the node's liveness lease and fence writes by it.
    The only place a node imports aetcd (the ``cluster`` extra)."""
    try:
        from moonkv.cluster._membership import join
    except ImportError as e:
        raise SystemExit(
            f"moonkv: cluster-etcd-endpoints needs aetcd ({e}); install it with: pip install 'moonkv[cluster]'"
        ) from None
    return join(node, loop)


__all__ = ["STATE_FILE", "ClusterNode", "Router", "attach", "join_etcd"]
