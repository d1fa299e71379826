"""The network layer: asyncio (uvloop) listener and per-connection byte pumping.

Imports engine, protocol, commands (to fill the table), scripting and
persistence; nothing imports it except the CLI and the in-process API
(:mod:`moonkv.embedded`), which builds its engine with :func:`assemble` and
runs :func:`active_expire_cycle` from its own timer thread.
"""

from moonkv.server._assemble import assemble
from moonkv.server._expire import active_expire_cycle
from moonkv.server._listener import ServerProcess, run_server

__all__ = ["ServerProcess", "active_expire_cycle", "assemble", "run_server"]
