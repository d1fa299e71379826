"""moonkv: a Redis-compatible key-value server with transactional Lua scripting.

Layers (imports flow downwards only)::

    cli ─► server (asyncio network) ─► commands (handlers) ─► engine (executor, clients,
           config) ─► commands.table ─► keyspace ─► errors, clock; protocol (sans-I/O)
    scripting and persistence plug into the engine; they never import server.
    embedded (the in-process API, ``moonkv.open``) sits beside server and uses it
    to assemble its engine.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__version__ = "0.1.0"
REDIS_VERSION = "7.0.15"

__all__ = ["REDIS_VERSION", "__version__", "open", "open_async"]


def open(path: str | os.PathLike[str] | None = None, **options: Any) -> redis.Redis:
    """moonkv in this process as a ``redis.Redis`` client (see :func:`moonkv.embedded.open`)."""
    from moonkv.embedded import open as open_embedded

    return open_embedded(path, **options)


def open_async(path: str | os.PathLike[str] | None = None, **options: Any) -> redis.asyncio.Redis:
    """moonkv in this process as a ``redis.asyncio.Redis`` client (see :mod:`moonkv.embedded`)."""
    from moonkv.embedded import open_async as open_embedded_async

    return open_embedded_async(path, **options)

