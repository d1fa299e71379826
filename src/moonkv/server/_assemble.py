"""Build a ready engine from a configuration: keyspace, commands, scripting, persistence."""

from __future__ import annotations

import os

from moonkv.cluster import attach as attach_cluster
from moonkv.cluster._script_slots import ScriptSlots
from moonkv.commands import load as load_commands
from moonkv.engine import Config, Server, load_acl_at_start
from moonkv.persistence import attach as attach_persistence
from moonkv.replication import attach as attach_replication
from moonkv.scripting import attach as attach_scripting


def assemble(config: Config, *, with_persistence: bool = True, lock_note: str | None = None) -> Server:
    """The engine with its commands, scripting and (``with_persistence``) the data directory.

    ``lock_note`` says who holds the directory lock (a server writes its port there).
    """
    load_commands()
    server = Server(config)
    data_dir = config["dir"]
    aclfile = config["aclfile"]
    if with_persistence and aclfile:
        # Redis works in its `dir` (it changes into it): a relative aclfile names a file there.
        aclfile = os.path.join(data_dir, aclfile)
    load_acl_at_start(server.acl, aclfile, config.users)  # ValueError: do not start
    if with_persistence:
        try:
            os.makedirs(data_dir, exist_ok=True)
        except OSError as e:
            raise OSError(f"cannot use data directory {data_dir!r}: {e.strerror}") from None
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise OSError(f"cannot use data directory {data_dir!r}: permission denied")
    attach_scripting(server)
    if with_persistence:
        attach_persistence(server, note=lock_note)
        attach_replication(server)
        if config["cluster-enabled"]:
            node = attach_cluster(server, data_dir)
            # Each redis.call is routed too (Redis's scriptVerifyClusterState).
            server.scripting.cluster_check = ScriptSlots(node.router, server.scripting)
    elif config["cluster-enabled"]:
        raise ValueError("cluster-enabled needs a data directory (a network server)")
    return server
