"""Which keys a script may reach in cluster mode: Redis 7.0's ``scriptVerifyClusterState``.

A script runs on the node its declared keys route to (the executor routes EVAL,
EVALSHA and FCALL by their declared keys like any command: ``CROSSSLOT`` when they
do not share a slot).  Each ``redis.call``/``redis.pcall`` is routed again, with the
caller's READONLY, and refused when the node would not run it for the caller:

- a key of a slot this node does not serve (another node's, an unowned one, one
  being migrated away whose key is missing, several keys of different slots):
  ``ERR Script attempted to access a non local key in a cluster node``;
- any keyed command while the cluster is down:
  ``ERR Script attempted to execute a command while the cluster is down``;
- a key of another slot than the script's (the declared keys', else the first key
  it reached), unless the script is flagged ``allow-cross-slot-keys`` or has no
  shebang (Redis 7.0 keeps EVAL's old leniency for those):
  ``ERR Script attempted to access keys that do not hash to the same slot``.

A refused ``redis.call`` fails the script, which is rolled back whole (moonkv's
all-or-nothing); ``redis.pcall`` returns the error table.  The ASKING that admitted
the script holds for its calls in that slot, as Redis keeps the flag for the
command's whole run (the executor has already cleared it when the script starts).

The script engine holds a :class:`ScriptSlots` as ``ScriptEngine.cluster_check``
(None in standalone mode: one attribute test per run) and, in cluster mode, sends
every call through its general path, where :meth:`ScriptSlots.verify` runs.
"""

from __future__ import annotations

from typing import Any, Final

from moonkv.cluster._routing import DOWN, IMPORTING, Router
from moonkv.cluster.slots import key_slot
from moonkv.commands.table import CommandSpec
from moonkv.engine import Client

NON_LOCAL: Final = "ERR Script attempted to access a non local key in a cluster node"
CLUSTER_DOWN: Final = "ERR Script attempted to execute a command while the cluster is down"
CROSS_SLOT: Final = "ERR Script attempted to access keys that do not hash to the same slot"


class ScriptSlots:
    """The slot the running script is bound to, and the check of each of its calls."""

    def __init__(self, router: Router, engine: Any) -> None:
        self.router = router
        self.engine = engine  # the ScriptEngine (its scripts' and functions' flags)
        self.slot = -1  # the running script's slot (-1: not bound yet)
        self.declared = -1  # the slot of its declared keys (routing admitted it there)
        self.cross_slot = False  # allow-cross-slot-keys, or a script without shebang

    def begin(self, name: bytes, is_eval: bool, legacy: bool, nkeys: int, command: list[bytes]) -> None:
        """A script starts: bind it to its declared keys' slot, read its flags."""
        self.declared = self.slot = key_slot(command[3]) if nkeys else -1
        if legacy:
            self.cross_slot = True
        elif is_eval:
            script = self.engine.scripts.get(name)
            self.cross_slot = script is not None and "allow-cross-slot-keys" in script.flags
        else:
            fn = self.engine.functions.functions.get(name.lower())
            self.cross_slot = fn is not None and b"allow-cross-slot-keys" in fn.flags

    def verify(self, caller: Client, spec: CommandSpec, argv: list[bytes]) -> str | None:
        """None if the running script may run this command here, else Redis's refusal."""
        if not spec.keys and spec.get_keys is None:
            return None
        positions = spec.key_positions(argv)
        if not positions:
            return None
        slot = key_slot(argv[positions[0]])
        refused = self.router.route(caller, spec, argv)
        if refused is not None:
            text = str(refused)
            if text == DOWN:
                return CLUSTER_DOWN
            if not (
                slot == self.declared
                and self.router.states[slot] == IMPORTING
                and text.startswith("MOVED ")
            ):
                return NON_LOCAL
        if self.cross_slot:
            return None
        if self.slot < 0:
            self.slot = slot
        elif slot != self.slot:
            return CROSS_SLOT
        return None
