"""The engine: server state, clients, configuration and the executor.

Imports keyspace, protocol types, errors and the command *table* (never the
handler modules, which import the engine).  No sockets here: the network
layer (:mod:`moonkv.server`) drives it, and so does the in-process API.
"""

from moonkv.engine._aclfile import load_at_start as load_acl_at_start
from moonkv.engine._client import REPLY_OFF, REPLY_ON, REPLY_SKIP, Client
from moonkv.engine._clientmem import ClientMemory
from moonkv.engine._conffile import ConfigFileError, quote
from moonkv.engine._conffile import load_text as load_config_text
from moonkv.engine._conffile import read as read_config_file
from moonkv.engine._conffile import rewrite as rewrite_config_file
from moonkv.engine._config import DIRECTIVES, Config, Directive, parse_memory
from moonkv.engine._pause import holds as pause_holds
from moonkv.engine._pause import is_paused, pause, unpause
from moonkv.engine._protect import DENIED, enabled_for, is_local_peer, refuses_peer
from moonkv.engine._server import (
    ACL_USERS,
    BLOCKED,
    MASTERDOWN,
    NO_REPLY,
    NOT_DATA,
    SCRIPT_CACHE,
    BlockState,
    Effect,
    EffectsSink,
    Scheduler,
    Server,
)

__all__ = [
    "ACL_USERS",
    "BLOCKED",
    "DENIED",
    "MASTERDOWN",
    "NO_REPLY",
    "NOT_DATA",
    "DIRECTIVES",
    "REPLY_OFF",
    "REPLY_ON",
    "REPLY_SKIP",
    "SCRIPT_CACHE",
    "BlockState",
    "ConfigFileError",
    "Client",
    "ClientMemory",
    "Config",
    "Directive",
    "Effect",
    "EffectsSink",
    "Scheduler",
    "Server",
    "enabled_for",
    "is_local_peer",
    "is_paused",
    "load_acl_at_start",
    "load_config_text",
    "parse_memory",
    "pause",
    "pause_holds",
    "quote",
    "read_config_file",
    "refuses_peer",
    "rewrite_config_file",
    "unpause",
]
