"""Lua scripting: EVAL and functions as transactional, budgeted units.

Uses the engine's executor (``Server.call``) for ``redis.call``; never
imports the network layer.  The network layer registers ``on_busy`` /
``on_busy_end`` to serve SCRIPT KILL and -BUSY while a slow script runs.
"""

from __future__ import annotations

from moonkv.engine import Server
from moonkv.scripting._engine import RunState, Script, ScriptEngine, sha1hex
from moonkv.scripting._functions import FunctionRegistry


def attach(server: Server) -> ScriptEngine:
    engine = ScriptEngine(server)
    engine.functions = FunctionRegistry(engine)
    server.scripting = engine
    return engine


__all__ = ["FunctionRegistry", "RunState", "Script", "ScriptEngine", "attach", "sha1hex"]
