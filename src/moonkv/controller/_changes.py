"""Topology mutations the controller and the CLI share (see ``TopologyStore.change``).

Each takes the record as the JSON object of docs/cluster.md and returns it changed, or
None when there is nothing to do (another change got there first).
"""

from __future__ import annotations

from typing import Any

from moonkv.cluster.topology import PRIMARY, REPLICA
from moonkv.controller._store import Mutation


def promotion(primary_id: str, replica_id: str | None, *, failed: bool) -> Mutation:
    """``replica_id`` takes over ``primary_id``'s slots and replicas; the old primary
    becomes its replica (``failed`` after a crash: marked so until it registers again).
    Without a replica, a crashed primary is only marked failed (its slots are down)."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is None:
            return None
        nodes = {n["id"]: n for n in rec["nodes"]}
        old = nodes.get(primary_id)
        if old is None or old["role"] != PRIMARY:
            return None
        new = nodes.get(replica_id) if replica_id is not None else None
        if new is None or new["primary"] != primary_id:
            if not failed or old["failed"]:
                return None
            old["failed"] = True
            return rec
        new.update(role=PRIMARY, primary=None, slots=old["slots"])
        old.update(role=REPLICA, primary=replica_id, slots=[], failed=failed)
        for n in rec["nodes"]:
            if n["primary"] == primary_id:
                n["primary"] = replica_id
        # A slot being moved from or to the old primary stays where the record says it
        # is: the move is abandoned (resharding starts it again).
        rec["migrations"] = [m for m in rec.get("migrations", []) if primary_id not in (m["from"], m["to"])]
        return rec

    return mutate


def mark_back(node_id: str) -> Mutation:
    """A failed node registered again: it is no longer failed (a demoted primary now
    follows its replacement, resyncing in full)."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        for n in rec["nodes"] if rec is not None else ():
            if n["id"] == node_id and n["failed"]:
                n["failed"] = False
                return rec
        return None

    return mutate
