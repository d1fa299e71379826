"""moonkv: a Redis-compatible key-value server with transactional Lua scripting.

Layers (imports flow downwards only)::

    cli ─► server (asyncio network) ─► commands (handlers) ─► engine (executor, clients,
           config) ─► commands.table ─► keyspace ─► errors, clock; protocol (sans-I/O)
    scripting and persistence plug into the engine; they never import server.
"""

from moonkv import native

__version__ = "0.1.0"
REDIS_VERSION = "7.0.15"

__all__ = ["REDIS_VERSION", "__version__"]

# Before any other module of the package is imported (see moonkv.native).
native.install()
