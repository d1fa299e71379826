"""Durable storage: the effects log, snapshots, checkpoints and recovery.

See ``docs/durability.md``.  :func:`attach` is called by the assembler: it
locks the data directory, reads its manifest and registers the engine as
``server.persistence``; the data is loaded once the event loop runs (clients
meanwhile get ``-LOADING``), or at once with :meth:`Persistence.load_now`.
"""

from __future__ import annotations

from typing import Any

from moonkv.persistence._engine import DirectoryLocked, Persistence, lock_owner, write_snapshot
from moonkv.persistence._format import write_file_atomic

__all__ = ["DirectoryLocked", "Persistence", "attach", "lock_owner", "write_file_atomic", "write_snapshot"]


def attach(server: Any, note: str | None = None) -> Persistence:
    """``note``: who holds the directory lock, for the lock file (a server's port by default)."""
    cfg = server.config
    p = Persistence(server)
    if note is None:
        note = f"port {cfg['port']} bind {cfg['bind'].split()[0] if cfg['bind'] else '127.0.0.1'}"
    p.open(note=note)
    server.persistence = p
    server.loading = True
    cfg.on_change(p.config_changed)
    return p
