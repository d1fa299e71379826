"""The topology record in etcd, changed only by transactions that compare its revision.

:meth:`TopologyStore.change` is THE way the topology changes (failover, a manual swap,
adding or removing nodes, resharding orders): read the record and its mod revision, let
a function mutate a copy, validate the result with :mod:`moonkv.cluster.topology`, bump
the version and put it in an etcd transaction that compares the revision read (and,
for a controller, that its leader key is still its own); on conflict, read again and
run the function again. Pushing the result to the nodes is the caller's part
(:meth:`moonkv.controller.Controller.change`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from moonkv.cluster.etcd import Keys
from moonkv.cluster.topology import Topology

# A mutation gets a copy of the record as the JSON object docs/cluster.md describes
# (None when etcd has none yet) and returns the new record, or None for "no change".
Mutation = Callable[[dict[str, Any] | None], dict[str, Any] | None]


class NotLeader(Exception):
    """The controller's leader key is no longer its own: it must stop changing things."""


class TopologyStore:
    def __init__(self, client: Any, keys: Keys, leader_token: bytes | None = None) -> None:
        self.client = client
        self.keys = keys
        # A leading controller's transactions also compare the leader key with its own
        # value: one that lost its lease cannot commit anything after its successor.
        self.leader_token = leader_token

    async def read(self) -> tuple[Topology | None, int]:
        """The record and its mod revision (0 when etcd has none)."""
        got = await self.client.get(self.keys.topology)
        if got is None:
            return None, 0
        return Topology.from_json(got.value), int(got.mod_revision)

    async def change(
        self, mutate: Mutation, *, absent: tuple[bytes, ...] = (), attempts: int = 20
    ) -> Topology | None:
        """Applies ``mutate`` to the current record; returns the committed record, or
        None when ``mutate`` asked for no change or a key of ``absent`` exists (the
        transaction requires them absent: a failover requires the failed node's
        ``nodes/<id>`` to be). Raises TopologyError for a result that does not validate,
        NotLeader, or RuntimeError after ``attempts`` conflicts."""
        for _ in range(attempts):
            current, revision = await self.read()
            before = current.to_dict() if current is not None else None
            after = mutate(copy.deepcopy(before))
            if after is None:
                return None
            after["version"] = (current.version if current is not None else 0) + 1
            new = Topology.from_dict(after)
            outcome = await self._put(new, revision, absent)
            if outcome == "committed":
                return new
            if outcome == "present":
                return None
        raise RuntimeError(f"the topology changed under {attempts} attempts in a row; giving up")

    async def _put(self, new: Topology, revision: int, absent: tuple[bytes, ...]) -> str:
        """"committed", "present" (a key of ``absent`` exists) or "conflict"."""
        tx = self.client.transactions
        compare = [tx.mod(self.keys.topology) == revision]
        compare += [tx.create(key) == 0 for key in absent]
        if self.leader_token is not None:
            compare.append(tx.value(self.keys.leader) == self.leader_token)
        ok, responses = await self.client.transaction(
            compare=compare,
            success=[tx.put(self.keys.topology, new.to_json())],
            failure=[tx.get(self.keys.leader), *(tx.get(key) for key in absent)],
        )
        if ok:
            return "committed"
        # Each get answers [(value, meta)], or [] for a missing key.
        leader, present = responses[0], responses[1:]
        if self.leader_token is not None and (not leader or leader[0][0] != self.leader_token):
            raise NotLeader("this controller no longer leads")
        return "present" if any(present) else "conflict"


def node_registration(value: bytes) -> dict[str, Any]:
    """The value a node keeps under ``nodes/<id>`` (``{"host", "port", "role"}``)."""
    try:
        obj = json.loads(value)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
