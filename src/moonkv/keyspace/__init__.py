"""The keyspace: databases of typed values with expiry.

Imports only :mod:`moonkv.errors` and :mod:`moonkv.clock`.  Values are plain
``bytes`` for strings and the classes in :mod:`moonkv.keyspace.types` for the
other types; none of them knows about RESP.

Every mutation goes through :class:`Database` methods (or, for in-place
changes of a container, is announced with :meth:`Database.touch` and, while a
script runs, recorded with :meth:`Database.undo`), so WATCH, blocking pops,
durability and script rollback all see the same events.
"""

from moonkv.keyspace.db import Database, Keyspace, type_name

__all__ = ["Database", "Keyspace", "type_name"]
