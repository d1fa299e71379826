"""Resharding, the controller's side (docs/cluster.md, "Resharding" and "Operations").

A migration starts when someone (``moonkv cluster rebalance``/``remove-node``) adds entries
to the topology's ``migrations`` with :func:`start`; the leading controller pushes that
version, and each source node moves its slots by itself (``moonkv/cluster/_migrate.py``).
The leader's :class:`Handover` asks each target with slots in flight (``CLUSTER
MIGRATIONS``) which ones it holds whole and commits, in one change, the version where they
own them and the migrations are gone (:func:`finish`); the push that follows turns the
sources' ``ASK`` into ``MOVED``.  The plans (:func:`rebalance`, :func:`drain`) are pure
functions of the record; :func:`add_node` and :func:`remove_node` change the membership.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from moonkv.cluster.topology import PRIMARY, Node, Topology
from moonkv.controller._resp import NodeError, NodeLink
from moonkv.controller._store import Mutation, TopologyStore

log = logging.getLogger("moonkv.controller")

Move = tuple[int, str, str]  # slot, from, to
POLL = 0.01  # seconds between the leader's questions to targets while slots move


# -- slot ranges ------------------------------------------------------------------------


def slot_set(ranges: Iterable[Iterable[int]]) -> set[int]:
    out: set[int] = set()
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return out


def slot_ranges(slots: Iterable[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for s in sorted(slots):
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


# -- plans --------------------------------------------------------------------------------


def rebalance(topo: Topology) -> list[Move]:
    """Moves that leave every primary that is not failed with the same number of assigned
    slots (give or take one), moving as few as that takes; slots of failed primaries stay."""
    primaries = sorted((p for p in topo.primaries() if not p.failed), key=lambda p: p.id)
    if not primaries:
        return []
    owned = {p.id: sorted(slot_set(p.slots)) for p in primaries}
    total = sum(len(s) for s in owned.values())
    base, extra = divmod(total, len(primaries))
    # The ones holding most keep the extra slot: fewer moves.
    order = sorted(primaries, key=lambda p: -len(owned[p.id]))
    want = {p.id: base + (1 if i < extra else 0) for i, p in enumerate(order)}
    spare: list[tuple[int, str]] = []
    for p in order:
        slots = owned[p.id]
        surplus = len(slots) - want[p.id]
        if surplus > 0:
            spare.extend((s, p.id) for s in slots[len(slots) - surplus :])
    moves: list[Move] = []
    for p in order:
        need = want[p.id] - len(owned[p.id])
        while need > 0:
            slot, source = spare.pop()
            moves.append((slot, source, p.id))
            need -= 1
    return sorted(moves)


def drain(topo: Topology, node_id: str) -> list[Move]:
    """Moves that give ``node_id``'s slots to the other primaries, the emptiest first."""
    node = topo.node(node_id)
    if node is None:
        raise ValueError(f"no node {node_id} in the topology")
    others = [p for p in topo.primaries() if p.id != node_id and not p.failed]
    slots = sorted(slot_set(node.slots))
    if slots and not others:
        raise ValueError(f"node {node_id} owns slots and no other primary can take them")
    counts = {p.id: len(slot_set(p.slots)) for p in others}
    moves: list[Move] = []
    for s in slots:
        to = min(counts, key=lambda i: (counts[i], i))
        counts[to] += 1
        moves.append((s, node_id, to))
    return moves


# -- the two topology changes of a migration ----------------------------------------------


def start(moves: list[Move]) -> Mutation:
    """Add ``moves`` to the record's migrations (those already listed stay as they are)."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is None:
            raise ValueError("there is no topology yet")
        listed = {m["slot"] for m in rec.get("migrations", [])}
        owners = {s: n["id"] for n in rec["nodes"] for s in slot_set(n["slots"])}
        add = []
        for slot, source, target in moves:
            if slot in listed:
                continue
            if owners.get(slot) != source:
                raise ValueError(f"slot {slot} is not owned by {source}")
            add.append({"slot": slot, "from": source, "to": target})
        if not add:
            return None
        rec["migrations"] = rec.get("migrations", []) + add
        return rec

    return mutate


def finish(complete: dict[str, set[int]]) -> Mutation:
    """The version where the slots each target holds whole (``complete``: target id -> slots)
    belong to it and their migrations are gone."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is None:
            return None
        nodes = {n["id"]: n for n in rec["nodes"]}
        done: list[dict[str, Any]] = []
        keep: list[dict[str, Any]] = []
        for m in rec.get("migrations", []):
            (done if m["slot"] in complete.get(m["to"], ()) else keep).append(m)
        if not done:
            return None
        owned = {i: slot_set(n["slots"]) for i, n in nodes.items() if n["role"] == PRIMARY}
        for m in done:
            owned[m["from"]].discard(m["slot"])
            owned[m["to"]].add(m["slot"])
        for i, slots in owned.items():
            nodes[i]["slots"] = slot_ranges(slots)
        rec["migrations"] = keep
        return rec

    return mutate


def add_node(node: dict[str, Any]) -> Mutation:
    """A node joins: a primary without slots, or a replica of a primary of the record."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is None:
            raise ValueError("there is no topology yet (`moonkv cluster up`, or write one)")
        for n in rec["nodes"]:
            if n["id"] == node["id"]:
                if n == node:
                    return None  # added already (a retry)
                raise ValueError(f"node {node['id']} is in the topology already")
            if (n["host"], n["port"]) == (node["host"], node["port"]):
                raise ValueError(f"{node['host']}:{node['port']} is node {n['id']} already")
        rec["nodes"].append(node)
        return rec

    return mutate


def remove_node(node_id: str) -> Mutation:
    """A node leaves; a primary only once it owns no slot and has no replica."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is None:
            return None
        nodes = [n for n in rec["nodes"] if n["id"] != node_id]
        if len(nodes) == len(rec["nodes"]):
            return None
        gone = next(n for n in rec["nodes"] if n["id"] == node_id)
        if gone["slots"] or any(m["from"] == node_id or m["to"] == node_id for m in rec.get("migrations", [])):
            raise ValueError(f"node {node_id} still owns or moves slots")
        replicas = [n["id"] for n in nodes if n["primary"] == node_id]
        if replicas:
            raise ValueError(f"node {node_id} has replicas ({', '.join(replicas)}): remove them first")
        rec["nodes"] = nodes
        return rec

    return mutate


# -- the leader's part ----------------------------------------------------------------------


class Handover:
    """Commits the slots whose targets hold them whole: :meth:`poke` from the leader's tick.

    The target is asked, not the source: a target completes slots only after their source
    paused them and sent everything, so the commit does not wait for a source that died
    after that moment (its failover would otherwise drop a migration whose target took
    writes through ``ASK``).  One round at a time, in its own task, so a node that does not
    answer delays no other duty of the leader."""

    def __init__(self, topology: Callable[[], Topology | None], link: Callable[[Node], NodeLink],
                 change: Callable[[Mutation], Awaitable[Topology | None]]) -> None:
        self.topology = topology
        self.link = link
        self.change = change
        self.task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Start watching the targets if migrations are in flight and nobody watches."""
        topo = self.topology()
        if topo is None or not topo.migrations or (self.task is not None and not self.task.done()):
            return
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        """Every ``POLL`` seconds while migrations are in flight: the writes on a handed-over
        slot wait for this commit when its target owned no slot before (docs/cluster.md)."""
        while True:
            topo = self.topology()
            if topo is None or not topo.migrations:
                return
            await self._round(topo)
            await asyncio.sleep(POLL)

    async def _round(self, topo: Topology) -> None:
        targets = sorted({m.target for m in topo.migrations})
        found = await asyncio.gather(*(self._complete(topo, t) for t in targets))
        complete = {t: slots for t, slots in zip(targets, found, strict=True) if slots}
        if not complete:
            return
        try:
            new = await self.change(finish(complete))
        except Exception as e:  # noqa: BLE001 - the next round tries again (NotLeader ends the lead)
            log.warning("controller: committing handed-over slots failed: %s: %s", type(e).__name__, e)
            return
        if new is not None:
            log.info("controller: %d slot(s) handed over (version %d)",
                     sum(len(s) for s in complete.values()), new.version)

    async def _complete(self, topo: Topology, target: str) -> set[int]:
        node = topo.node(target)
        if node is None:
            return set()
        try:
            rows = await self.link(node).call("CLUSTER", "MIGRATIONS")
        except (NodeError, OSError, TimeoutError) as e:
            log.info("controller: target %s did not report its migrations: %s", target, e)
            return set()
        return {int(r[0]) for r in rows if r[1] == b"import" and r[3] == b"complete"}


# -- the operator's side: run moves a batch at a time ------------------------------------------


async def run_moves(store: TopologyStore, moves: list[Move], *, batch: int = 1024, timeout: float = 120.0,
                    progress: Any = None) -> None:
    """Start ``moves`` ``batch`` slots at a time and wait until the leading controller
    committed each batch's handover; raises TimeoutError when a batch takes longer than
    ``timeout`` (the migrations stay listed: the nodes keep trying, a later run waits)."""
    for i in range(0, len(moves), batch):
        part = moves[i : i + batch]
        await store.change(start(part))
        wanted = {slot: target for slot, _, target in part}
        deadline = time.monotonic() + timeout
        while True:
            topo, _ = await store.read()
            if topo is not None and _arrived(topo, wanted):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"slots {min(wanted)}..{max(wanted)} did not move within {timeout:g} s; "
                                   "is a controller running? `moonkv cluster status` shows the migrations")
            await asyncio.sleep(0.05)
        if progress is not None:
            progress(min(i + batch, len(moves)), len(moves))


def _arrived(topo: Topology, wanted: dict[int, str]) -> bool:
    if any(m.slot in wanted for m in topo.migrations):
        return False
    for slot, target in wanted.items():
        owner = topo.owner(slot)
        if owner is None or owner.id != target:
            return False
    return True

