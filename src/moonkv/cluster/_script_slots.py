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
(None in standalone mode, where a run pays nothing for it): in cluster mode its
fast-path tables stay empty, so every call takes the general path, where
:meth:`ScriptSlots.verify` runs.
"""

from __future__ import annotations

from typing import Any, Final

from moonkv.cluster._routing import DOWN, IMPORTING, MINE, Router
from moonkv.cluster.slots import key_slot
from moonkv.commands.table import CommandSpec
from moonkv.scripting import RunState

NON_LOCAL: Final = "ERR Script attempted to access a non local key in a cluster node"
CLUSTER_DOWN: Final = "ERR Script attempted to execute a command while the cluster is down"
CROSS_SLOT: Final = "ERR Script attempted to access keys that do not hash to the same slot"


_FREE: Final = -2  # RunState.slot of a script that may use any local slot


def _declared_slot(run: RunState) -> int:
    """The slot of the script's declared keys (routing admitted the script there), or -1."""
    command = run.command
    return key_slot(command[3]) if len(command) > 3 and int(command[2]) > 0 else -1


class ScriptSlots:
    """The check of each call of the running script; the slot it is bound to is kept on
    the run (``RunState.slot``, set at its first keyed call)."""

    def __init__(self, router: Router, engine: Any) -> None:
        self.router = router
        self.engine = engine  # the ScriptEngine (its scripts' and functions' flags)

    def _bind(self, run: RunState) -> int:
        """A run's first keyed call: its declared keys' slot, or _FREE for a script
        flagged allow-cross-slot-keys or without shebang."""
        if run.legacy:
            free = True
        elif run.is_eval:
            script = self.engine.scripts.get(run.name)
            free = script is not None and "allow-cross-slot-keys" in script.flags
        else:
            fn = self.engine.functions.functions.get(run.name.lower())
            free = fn is not None and b"allow-cross-slot-keys" in fn.flags
        slot = _FREE if free else _declared_slot(run)
        run.slot = slot
        return slot

    def verify(self, run: RunState, spec: CommandSpec, argv: list[bytes]) -> str | None:
        """None if the running script may run this command here, else Redis's refusal."""
        router = self.router
        if spec.one_key:  # GET, SET, ...: the key is argv[1]; a stable slot of this node needs no routing
            slot = key_slot(argv[1])
            refused = None if router.states[slot] == MINE else router.route(run.caller, spec, argv)
        else:
            if not spec.keys and spec.get_keys is None:
                return None
            positions = spec.key_positions(argv)
            if not positions:
                return None
            slot = key_slot(argv[positions[0]])
            refused = router.route(run.caller, spec, argv)
        if refused is not None:
            text = str(refused)
            if text == DOWN:
                return CLUSTER_DOWN
            if not (
                router.states[slot] == IMPORTING
                and text.startswith("MOVED ")
                and slot == _declared_slot(run)
            ):
                return NON_LOCAL
        try:
            bound = run.slot
        except AttributeError:
            bound = self._bind(run)
        if bound == _FREE:
            return None
        if bound < 0:
            run.slot = slot
        elif slot != bound:
            return CROSS_SLOT
        return None
