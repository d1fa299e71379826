"""Routing: whether this node runs a command, or which Redis Cluster error answers it.

The engine holds a :class:`Router` as ``Server.cluster`` (None in standalone
mode, where routing costs that one attribute test) and asks :meth:`Router.route`
about every command before it runs or is queued into MULTI, and about EXEC's
whole queue.  The keys come from the command table's key specs (the walk
COMMAND GETKEYS uses), so EVAL/EVALSHA/FCALL are routed by their declared keys
like any command.  The rules are Redis 7.0's ``getNodeByQuery``:

* no key: run here;
* keys of different slots (within one command or one transaction): ``CROSSSLOT``;
* a slot nobody owns: ``CLUSTERDOWN Hash slot not served`` (so is every keyed
  command before the node has a topology); some slot unowned or owned by a
  failed primary: ``CLUSTERDOWN The cluster is down``;
* a slot this node owns: run here, unless it is migrating out: then the move
  decides (docs/cluster.md "Resharding"): run here while the keys are copied,
  ``TRYAGAIN`` for writes during the pause, ``MOVED`` (or ``ASK``) to the target once
  handed over (moonkv keeps every key until then, so Redis's per-key test does not apply);
* a slot migrating in: run here once it arrived whole (ASKING or not: the
  source no longer writes it), ``MOVED`` to the owner before;
* a replica serves reads of its primary's slots to READONLY connections;
  everything else is ``MOVED slot host:port`` of the owner.

Fencing (a primary that lost its liveness lease) is a write refusal
(``Server.write_refusal``), checked by the executor after routing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from moonkv.cluster.slots import SLOTS, key_slot
from moonkv.commands.table import CommandSpec
from moonkv.engine import Client
from moonkv.errors import RespError

# What this node does with a slot (Router.states).
UNBOUND: Final = 0
MINE: Final = 1  # owned here, stable, cluster up: the fast path
OWNED: Final = 2  # owned here, stable, but the cluster is down
ELSEWHERE: Final = 3
MIGRATING: Final = 4  # owned here, moving to another primary
IMPORTING: Final = 5  # owned by another primary, moving here
PRIMARYS: Final = 6  # owned by this replica's primary

CROSSSLOT: Final = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN: Final = "TRYAGAIN Multiple keys request during rehashing of slot"
UNSERVED: Final = "CLUSTERDOWN Hash slot not served"
DOWN: Final = "CLUSTERDOWN The cluster is down"


class Router:
    """The slot table of the topology a node serves, and the routing decision."""

    def __init__(self, node: Any) -> None:
        self.node: Any = node  # the ClusterNode (identity, topology, persistence)
        # UNBOUND until a topology arrives; bytes, not bytearray: the compiled build reads
        # an item of bytes inline.
        self.states = bytes(SLOTS)
        self.addrs: list[str] = [""] * SLOTS  # the owner's "host:port" per slot
        self.asks: dict[int, str] = {}  # migrating slot -> the target's "host:port"
        self.ok = False  # every slot has a live owner (CLUSTER INFO's cluster_state:ok)
        self.fenced = False  # set through ClusterNode.set_fenced

    def load(self, states: bytearray, addrs: list[str], asks: dict[int, str], ok: bool) -> None:
        self.states = bytes(states)
        self.addrs = addrs
        self.asks = asks
        self.ok = ok

    def route(self, c: Client, spec: CommandSpec, argv: list[bytes]) -> RespError | None:
        """None when this node runs the command, else the error that answers it."""
        if spec.one_key and self.states[key_slot(argv[1])] == MINE:
            return None
        if spec.keys or spec.get_keys is not None:
            return self._decide(c, [(spec, argv)])
        if spec.name == "exec" and c.multi:
            return self._decide(c, c.multi)
        return None

    def eviction_keeps(self) -> Callable[[bytes], bool] | None:
        """For eviction: the test of the keys that must stay, None while no slot needs it."""
        return self._keeps if self.node.migrations.handing() else None

    def _keeps(self, key: bytes) -> bool:
        """Whether ``key`` must stay: its slot is moving out and was handed over, so the target
        has it and this node's copy serves reads until the commit deletes it; evicting it here
        would make a key readers saw go come back on the target."""
        slot = key_slot(key)
        return self.states[slot] == MIGRATING and bool(self.node.migrations.handed(slot))

    def consume(self, c: Client, spec: CommandSpec, argv: list[bytes]) -> RespError | None:
        """:meth:`route`, then end an ASKING that held for this command (or transaction)."""
        err = self.route(c, spec, argv)
        name = spec.name
        if c.asking and name != "asking" and (name == "exec" or (c.multi is None and name != "multi")):
            c.asking = False
        return err

    def _decide(self, c: Client, cmds: list[tuple[Any, list[bytes]]]) -> RespError | None:
        states = self.states
        slot = -1
        state = UNBOUND
        write = False
        for spec, argv in cmds:
            if not spec.keys and spec.get_keys is None:
                continue
            write = write or spec.is_write
            for i in spec.key_positions(argv):
                key = argv[i]
                s = key_slot(key)
                if slot < 0:
                    slot = s
                    state = states[s]
                    if state == UNBOUND:
                        return RespError(full=UNSERVED)
                elif s != slot:
                    return RespError(full=CROSSSLOT)
        if slot < 0:
            return None
        if not self.ok:
            return RespError(full=DOWN)
        if state == MINE or state == OWNED:
            return None
        if state == MIGRATING:  # the source's move decides (cluster/_migrate.py)
            write = write or any(spec.may_replicate for spec, _ in cmds)
            err = self.node.migrations.redirect(slot, write)
            return None if err is None else RespError(full=err)
        if state == IMPORTING and self.node.migrations.importing(slot):
            return None
        if state == PRIMARYS and c.readonly and not write:
            return None
        return RespError(full=f"MOVED {slot} {self.addrs[slot]}")
