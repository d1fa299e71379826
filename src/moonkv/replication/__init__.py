"""Replication: primary/replica over Redis's protocol (PSYNC, REPLCONF, WAIT).

See ``docs/replication.md``.  :func:`attach` is called by the assembler and
registers the node as ``server.replication``; the listener starts it once the
event loop runs.  The node is an effects sink on a primary; on a replica a
:class:`~moonkv.replication._link.ReplicaLink` applies the primary's stream.
Never imports the network layer: replica connections are engine clients.
"""

from __future__ import annotations

from moonkv.engine import Server
from moonkv.replication._node import Peer, Replication


def attach(server: Server) -> Replication:
    node = Replication(server)
    server.replication = node
    p = server.persistence
    if p is not None:  # a restarted primary takes up its stream and rebuilds its backlog
        p.load_observer = node.observe_record
        p.after_load.append(node.restore)
    return node


__all__ = ["Peer", "Replication", "attach"]
