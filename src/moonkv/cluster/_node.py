"""A node's cluster state: its id, the topology it serves, kept in its data directory.

``cluster-state.json`` holds ``{"id": <this node's id>, "topology": <record or
null>}``; the id is made at the first start in cluster mode and kept, the
topology is replaced (write, fsync, rename) by each accepted
``CLUSTER SETTOPOLOGY`` before it is applied.  Applying a topology rebuilds the
:class:`~moonkv.cluster._routing.Router`'s slot table and changes the node's
role through the replication package: a node the record makes a replica
follows its primary (REPLICAOF), a replica it makes a primary is promoted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any, Final

from moonkv.cluster._migrate import Migrations
from moonkv.cluster._routing import (
    ELSEWHERE,
    IMPORTING,
    MIGRATING,
    MINE,
    OWNED,
    PRIMARYS,
    Router,
)
from moonkv.cluster._slotkeys import SlotKeys
from moonkv.cluster.slots import SLOTS
from moonkv.cluster.topology import Node, Topology, TopologyError
from moonkv.engine import Server
from moonkv.errors import RespError
from moonkv.persistence import write_file_atomic

STATE_FILE: Final = "cluster-state.json"
log: Final = logging.getLogger("moonkv")


def new_node_id() -> str:
    return os.urandom(20).hex()


class ClusterNode:
    def __init__(self, server: Server, directory: str) -> None:
        self.server = server
        self.path = os.path.join(directory, STATE_FILE)
        self.topology: Topology | None = None
        self.router = Router(self)
        # cluster-etcd-endpoints: the lease keeper, told of every push (cluster/_membership.py).
        self.on_push: Callable[[], None] | None = None
        self.myid = self._load()
        if self.topology is not None:
            self._build_routes(self.topology)
        self.migrations = Migrations(server, directory, self.myid)  # resharding (cluster/_migrate.py)
        db = server.ks.dbs[0]  # cluster mode has one database
        db.slot_keys = SlotKeys()
        db.slot_keys.rebuild(db.data)
        server.config.on_change(self._config_changed)

    # -- the state file ------------------------------------------------------------

    def _load(self) -> str:
        """Read ``cluster-state.json``; a first start makes the id and writes the file."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            myid = new_node_id()
            self._save(myid, None)
            log.info("No cluster configuration found, I'm %s", myid)
            return myid
        try:
            obj = json.loads(raw)
            myid = obj["id"]
            if not (isinstance(myid, str) and len(myid) == 40 and all(ch in "0123456789abcdef" for ch in myid)):
                raise TopologyError("'id' is not 40 lowercase hexadecimal digits")
            top = obj["topology"]
            self.topology = None if top is None else Topology.from_dict(top)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{self.path} is damaged ({e}); move it away to start as a new node") from None
        log.info("Node configuration loaded, I'm %s (topology version %d)", myid, self.version)
        return myid

    def _save(self, myid: str, topology: Topology | None) -> None:
        doc = {"id": myid, "topology": None if topology is None else topology.to_dict()}
        write_file_atomic(self.path, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")

    # -- the topology ----------------------------------------------------------------

    @property
    def version(self) -> int:
        return self.topology.version if self.topology is not None else 0

    @property
    def me(self) -> Node | None:
        """This node's entry in the topology (None before one names it)."""
        return self.topology.node(self.myid) if self.topology is not None else None

    def set_topology(self, version: int, raw: bytes) -> None:
        """CLUSTER SETTOPOLOGY: persist and apply a newer record (the same one again is a no-op)."""
        try:
            top = Topology.from_json(raw)
        except TopologyError as e:
            raise RespError(f"invalid topology: {e}") from None
        if top.version != version:
            raise RespError(f"topology version {version} does not match the record's version {top.version}")
        cur = self.topology
        if cur is not None:
            if version < cur.version:
                raise RespError(f"topology version {version} is older than this node's {cur.version}")
            if version == cur.version:
                if top.to_json() == cur.to_json():
                    self._pushed()
                    return
                raise RespError(f"topology version {version} is already applied with a different record")
        try:
            self._save(self.myid, top)
        except OSError as e:
            raise RespError(f"cannot persist the topology in {self.path}: {e.strerror}") from None
        self.topology = top
        self._build_routes(top)
        self.apply_role()
        log.info("Topology version %d applied", version)
        self._pushed()

    def _pushed(self) -> None:
        if self.on_push is not None:
            self.on_push()

    def address(self, n: Node) -> tuple[str, int]:
        """The address clients are sent to: the TLS port under ``tls-cluster``, as Redis."""
        tls = self.server.config["tls-cluster"] and n.tls_port
        return n.host, n.tls_port if tls else n.port

    def _build_routes(self, top: Topology) -> None:
        me = top.node(self.myid)
        mine = self.myid if me is not None and me.is_primary else None
        my_primary = me.primary if me is not None else None
        ok = True
        states = bytearray(SLOTS)
        addrs = [""] * SLOTS
        for n in top.primaries():
            if n.slots and n.failed:
                ok = False
        if top.assigned() != SLOTS:
            ok = False
        for n in top.primaries():
            host, port = self.address(n)
            addr = f"{host}:{port}"
            state = (MINE if ok else OWNED) if n.id == mine else PRIMARYS if n.id == my_primary else ELSEWHERE
            for lo, hi in n.slots:
                count = hi - lo + 1
                states[lo : hi + 1] = bytes((state,)) * count
                addrs[lo : hi + 1] = [addr] * count
        asks: dict[int, str] = {}
        for m in top.migrations:
            if m.source == mine:
                target = top.node(m.target)
                assert target is not None  # validated
                host, port = self.address(target)
                states[m.slot] = MIGRATING
                asks[m.slot] = f"{host}:{port}"
            elif m.target == self.myid:
                states[m.slot] = IMPORTING
        self.router.load(states, addrs, asks, ok)

    def _config_changed(self, name: str, value: Any) -> None:
        if name == "tls-cluster" and self.topology is not None:
            self._build_routes(self.topology)

    # -- roles -------------------------------------------------------------------

    def apply_role(self) -> None:
        """Make the replication role and the slot migrations match the topology (the listener
        calls it at start too)."""
        if self.topology is not None:
            self.migrations.follow(self.topology, self.address)
        me = self.me
        repl = self.server.replication
        if me is None or repl is None or repl.loop is None:
            return
        if me.is_primary:
            if repl.is_replica:
                log.info("The topology makes this node a primary: promoting")
                repl.promote()
            return
        assert self.topology is not None and me.primary is not None
        primary = self.topology.node(me.primary)
        assert primary is not None  # validated
        tls = self.server.config["tls-replication"] and primary.tls_port
        repl.follow(primary.host, primary.tls_port if tls else primary.port)

    # -- fencing -----------------------------------------------------------------

    def set_fenced(self, fenced: bool) -> None:
        """Refuse writes (``-CLUSTERDOWN The cluster is down``) while ``fenced`` (lost lease)."""
        self.router.fenced = fenced
        self.server.refresh_write_refusal()
