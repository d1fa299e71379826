"""Typed container values (hash, list, set, sorted set).

Pure data structures: no RESP, no keyspace.  Each class has ``TYPE_NAME``
(the TYPE reply) and ``encoding(config)`` (the OBJECT ENCODING reply).
Strings are stored as plain ``bytes``.

``REGISTRY`` maps a ``TYPE_NAME`` to its class (snapshots and DUMP use it
with ``dump_state``/``load_state``).
"""

from __future__ import annotations

REGISTRY: dict[bytes, type] = {}


def _register_builtin() -> None:
    from moonkv.keyspace.types.hash import Hash
    from moonkv.keyspace.types.list import List
    from moonkv.keyspace.types.set import Set
    from moonkv.keyspace.types.stream import Stream
    from moonkv.keyspace.types.zset import ZSet

    for cls in (Hash, List, Set, ZSet, Stream):
        REGISTRY[cls.TYPE_NAME] = cls


_register_builtin()
