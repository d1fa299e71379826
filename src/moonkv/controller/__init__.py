"""The cluster controller (``moonkv cluster controller``, docs/cluster.md).

Keeps the topology record in etcd and pushes it to the nodes; one of several
controllers leads through an etcd lease (:mod:`._leader`); every change is an etcd
transaction comparing the revision read (:mod:`._store`); the leader fails over a
primary whose liveness lease expired (:mod:`._controller`). Talks RESP to the nodes
(:mod:`._resp`). Imports ``cluster.topology``/``cluster.etcd`` and the TLS contexts,
never the engine or the server.
"""

from moonkv.controller._changes import mark_back, promotion
from moonkv.controller._controller import Controller
from moonkv.controller._leader import Election
from moonkv.controller._resp import NodeAuth, NodeError, NodeLink, info_fields
from moonkv.controller._store import Mutation, NotLeader, TopologyStore

__all__ = [
    "Controller",
    "Election",
    "Mutation",
    "NodeAuth",
    "NodeError",
    "NodeLink",
    "NotLeader",
    "TopologyStore",
    "info_fields",
    "mark_back",
    "promotion",
]
