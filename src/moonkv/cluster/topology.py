"""The cluster's topology record: nodes, their roles and slots, migrations, a version.

One JSON document (docs/cluster.md fixes its shape), the same in etcd, in a
node's ``cluster-state.json`` and in ``CLUSTER SETTOPOLOGY``.
:meth:`Topology.from_json` validates everything a node relies on and raises
:class:`TopologyError` with a message naming the problem;
:meth:`Topology.to_json` writes the canonical form (sorted keys, no spaces,
each node's slot ranges sorted and adjacent ranges merged), so two equal
records are equal bytes.  Imports nothing of moonkv's but the slot count: the
controller and the CLI use it without the engine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from moonkv.cluster.slots import SLOTS

PRIMARY: Final = "primary"
REPLICA: Final = "replica"
_ID: Final = re.compile(r"[0-9a-f]{40}")
_TOP_KEYS: Final = frozenset({"version", "name", "nodes", "migrations"})
_NODE_KEYS: Final = frozenset({"id", "host", "port", "tls_port", "role", "primary", "slots", "failed"})
_MIGRATION_KEYS: Final = frozenset({"slot", "from", "to"})


class TopologyError(ValueError):
    """A malformed topology record; the message says what is wrong."""


@dataclass(frozen=True)
class Node:
    id: str
    host: str
    port: int
    tls_port: int = 0
    role: str = PRIMARY
    primary: str | None = None
    slots: tuple[tuple[int, int], ...] = ()
    failed: bool = False

    @property
    def is_primary(self) -> bool:
        return self.role == PRIMARY

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "host": self.host, "port": self.port, "tls_port": self.tls_port,
            "role": self.role, "primary": self.primary, "slots": [list(r) for r in self.slots],
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Migration:
    slot: int
    source: str  # "from" in JSON
    target: str  # "to" in JSON

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "from": self.source, "to": self.target}


@dataclass(frozen=True)
class Topology:
    version: int
    name: str
    nodes: tuple[Node, ...]
    migrations: tuple[Migration, ...] = ()
    # Derived from the above by validate(): slot -> owning primary, id -> node.
    _owners: list[Node | None] = field(default_factory=list, repr=False, compare=False)
    _by_id: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()

    # -- queries ---------------------------------------------------------------

    def owner(self, slot: int) -> Node | None:
        """The primary serving ``slot`` (None: unassigned)."""
        return self._owners[slot]

    def node(self, node_id: str) -> Node | None:
        return self._by_id.get(node_id)

    def primaries(self) -> list[Node]:
        return [n for n in self.nodes if n.is_primary]

    def replicas_of(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes if n.primary == node_id]

    def migration(self, slot: int) -> Migration | None:
        for m in self.migrations:
            if m.slot == slot:
                return m
        return None

    def assigned(self) -> int:
        """How many slots have an owner."""
        return sum(1 for n in self._owners if n is not None)

    # -- JSON ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "name": self.name,
            "nodes": [n.to_dict() for n in self.nodes],
            "migrations": [m.to_dict() for m in self.migrations],
        }

    def to_json(self) -> bytes:
        """The canonical encoding: sorted keys, no spaces, ASCII."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Topology:
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise TopologyError(f"topology is not valid JSON: {e}") from None
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls, obj: object) -> Topology:
        if not isinstance(obj, dict):
            raise TopologyError("topology must be a JSON object")
        _no_unknown(obj, _TOP_KEYS, "topology")
        for k in ("version", "name", "nodes"):
            if k not in obj:
                raise TopologyError(f"topology has no '{k}'")
        version = obj["version"]
        if not _is_int(version) or version < 1:
            raise TopologyError("topology 'version' must be an integer of at least 1")
        name = obj["name"]
        if not isinstance(name, str) or not name:
            raise TopologyError("topology 'name' must be a non-empty string")
        nodes = obj["nodes"]
        if not isinstance(nodes, list):
            raise TopologyError("topology 'nodes' must be an array")
        migrations = obj.get("migrations", [])
        if not isinstance(migrations, list):
            raise TopologyError("topology 'migrations' must be an array")
        return cls(version, name, tuple(_node(n, i) for i, n in enumerate(nodes)),
                   tuple(_migration(m, i) for i, m in enumerate(migrations)))

    # -- validation ------------------------------------------------------------

    def _validate(self) -> None:
        by_id = self._by_id
        for n in self.nodes:
            if n.id in by_id:
                raise TopologyError(f"node {n.id} appears twice")
            by_id[n.id] = n
        owners: list[Node | None] = [None] * SLOTS
        for n in self.nodes:
            if not n.is_primary:
                p = by_id.get(n.primary or "")
                if p is None:
                    raise TopologyError(f"replica {n.id} names an unknown primary {n.primary}")
                if not p.is_primary:
                    raise TopologyError(f"replica {n.id} names {p.id}, which is not a primary")
                continue
            for lo, hi in n.slots:
                for s in range(lo, hi + 1):
                    other = owners[s]
                    if other is not None:
                        raise TopologyError(f"slot {s} is assigned to both {other.id} and {n.id}")
                    owners[s] = n
        self._owners[:] = owners
        seen: set[int] = set()
        for m in self.migrations:
            if m.slot in seen:
                raise TopologyError(f"slot {m.slot} is migrated twice")
            seen.add(m.slot)
            src, dst = by_id.get(m.source), by_id.get(m.target)
            if src is None or dst is None:
                raise TopologyError(f"migration of slot {m.slot} names an unknown node")
            if not (src.is_primary and dst.is_primary) or src.id == dst.id:
                raise TopologyError(f"migration of slot {m.slot} must go between two different primaries")
            if owners[m.slot] is not src:
                raise TopologyError(f"migration of slot {m.slot} is not from its owner")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _no_unknown(obj: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise TopologyError(f"{what} has unknown field '{extra[0]}'")


def _node(obj: object, i: int) -> Node:
    where = f"node {i}"
    if not isinstance(obj, dict):
        raise TopologyError(f"{where} must be a JSON object")
    _no_unknown(obj, _NODE_KEYS, where)
    for k in ("id", "host", "port", "role"):
        if k not in obj:
            raise TopologyError(f"{where} has no '{k}'")
    nid = obj["id"]
    if not isinstance(nid, str) or not _ID.fullmatch(nid):
        raise TopologyError(f"{where} 'id' must be 40 lowercase hexadecimal digits")
    where = f"node {nid}"
    host = obj["host"]
    if not isinstance(host, str) or not host or any(ch.isspace() or ch in ",@" for ch in host):
        raise TopologyError(f"{where} 'host' must be a non-empty host name or address")
    port, tls_port = obj["port"], obj.get("tls_port", 0)
    for key, p in (("port", port), ("tls_port", tls_port)):
        if not _is_int(p) or not 0 <= p <= 65535:
            raise TopologyError(f"{where} '{key}' must be an integer in 0..65535")
    if not port and not tls_port:
        raise TopologyError(f"{where} needs a 'port' or a 'tls_port'")
    role = obj["role"]
    if role not in (PRIMARY, REPLICA):
        raise TopologyError(f"{where} 'role' must be 'primary' or 'replica'")
    primary = obj.get("primary")
    if role == PRIMARY and primary is not None:
        raise TopologyError(f"{where} is a primary: its 'primary' must be null")
    if role == REPLICA and (not isinstance(primary, str) or not _ID.fullmatch(primary)):
        raise TopologyError(f"{where} is a replica: its 'primary' must be its primary's id")
    failed = obj.get("failed", False)
    if not isinstance(failed, bool):
        raise TopologyError(f"{where} 'failed' must be true or false")
    raw = obj.get("slots", [])
    if not isinstance(raw, list):
        raise TopologyError(f"{where} 'slots' must be an array of [first, last] ranges")
    ranges: list[tuple[int, int]] = []
    for r in raw:
        if not (isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1])):
            raise TopologyError(f"{where} 'slots' must be an array of [first, last] ranges")
        lo, hi = r
        if not (0 <= lo <= hi < SLOTS):
            raise TopologyError(f"{where} has slot range [{lo}, {hi}] outside 0..{SLOTS - 1} or reversed")
        ranges.append((lo, hi))
    if ranges and role != PRIMARY:
        raise TopologyError(f"{where} is a replica: only primaries own slots")
    return Node(nid, host, port, tls_port, role, primary, _merge(ranges, where), failed)


def _merge(ranges: list[tuple[int, int]], where: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            raise TopologyError(f"{where} lists slot {lo} twice")
        if out and lo == out[-1][1] + 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _migration(obj: object, i: int) -> Migration:
    where = f"migration {i}"
    if not isinstance(obj, dict):
        raise TopologyError(f"{where} must be a JSON object")
    _no_unknown(obj, _MIGRATION_KEYS, where)
    slot, src, dst = obj.get("slot"), obj.get("from"), obj.get("to")
    if not isinstance(slot, int) or isinstance(slot, bool) or not 0 <= slot < SLOTS:
        raise TopologyError(f"{where} 'slot' must be an integer in 0..{SLOTS - 1}")
    if not isinstance(src, str) or not isinstance(dst, str):
        raise TopologyError(f"{where} needs 'from' and 'to' node ids")
    return Migration(slot, src, dst)
