"""Which build runs: the request path compiled with mypyc, or plain Python.

Building a wheel (``pip install .``, ``pip wheel .``) compiles the modules in
:data:`MODULES` with mypyc, the compiler for type-annotated Python that mypy
ships, when a C compiler and Python's headers are present (setup.py reads this
list; docs/architecture.md has the decision). The extension modules sit beside
their ``.py`` files and Python's import system prefers them; the same source,
checked by ``mypy --strict``, then runs about 40 % fewer CPU instructions per
request (docs/performance.md). An editable install compiles nothing and runs
its sources. Either way the behaviour is the same; the test suite runs on both.

This module must import nothing at the top but the standard library: setup.py
runs it to read :data:`MODULES` before moonkv's dependencies are installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery

# The modules a request goes through, and the common data types: compiled.
# The rest (ACL, persistence, the CLI, set/zset containers that subclass
# builtins, which mypyc cannot compile as native classes) stays Python.
MODULES = (
    "moonkv.clock",
    "moonkv.cluster._routing",
    "moonkv.cluster.slots",
    "moonkv.commands._util",
    "moonkv.commands.bitmaps",
    "moonkv.commands.connection",
    "moonkv.commands.hashes",
    "moonkv.commands.keys",
    "moonkv.commands.lists",
    "moonkv.commands.scripting",
    "moonkv.commands.server",
    "moonkv.commands.sets",
    "moonkv.commands.strings",
    "moonkv.commands.table",
    "moonkv.commands.transactions",
    "moonkv.commands.zsets",
    "moonkv.engine._client",
    "moonkv.engine._config",
    "moonkv.engine._server",
    "moonkv.keyspace.codec",
    "moonkv.keyspace.db",
    "moonkv.keyspace.hyperloglog",
    "moonkv.keyspace.types.hash",
    "moonkv.keyspace.types.list",
    "moonkv.monitoring._histogram",
    "moonkv.protocol._encoder",
    "moonkv.protocol._parser",
    "moonkv.protocol._types",
    "moonkv.pubsub._hub",
    "moonkv.replication._apply",
    "moonkv.replication._backlog",
    "moonkv.replication._node",
    "moonkv.replication._stream",
    "moonkv.scripting._engine",
    "moonkv.scripting._stats",
    "moonkv.server._connection",
    "moonkv.tracking._tracker",
)


def is_compiled(module: str) -> bool:
    """Whether ``module`` (imported if it is not yet) was loaded from an extension module."""
    file = importlib.import_module(module).__file__ or ""
    return file.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


@functools.cache
def build_kind() -> str:
    """``native`` when every module of :data:`MODULES` is compiled, ``python`` when none is.

    Anything between means extension modules of one build beside the sources of
    another; the server says so rather than naming either build.
    """
    compiled = sum(is_compiled(m) for m in MODULES)
    if compiled == len(MODULES):
        return "native"
    if compiled == 0:
        return "python"
    return f"mixed ({compiled} of {len(MODULES)} request-path modules compiled)"
