"""The network layer: asyncio (uvloop) listener and per-connection byte pumping.

Imports engine, protocol, commands (to fill the table), scripting and
persistence; nothing imports it except the CLI.
"""

from moonkv.server._listener import ServerProcess, run_server

__all__ = ["ServerProcess", "run_server"]
