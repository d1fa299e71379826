"""What a client may do depending on where it connects from (Redis 7.0's rules).

Redis 7.0 calls a connection local when its peer address is exactly
``127.0.0.1`` or ``::1`` (or a unix socket): another address of 127.0.0.0/8,
such as 127.0.0.2, is not local.  Three things depend on it:

* **protected mode**: with ``protected-mode yes`` and no password on the
  default user, a connection that is not local gets :data:`DENIED` at accept
  and is closed.  Redis 7.0 no longer looks at ``bind`` for this.
* ``enable-debug-command`` and ``enable-module-command`` ``no|yes|local``: DEBUG, and
  MODULE LOAD/LOADEX/UNLOAD (Redis's protected commands), are refused unless allowed.
* ``enable-protected-configs`` ``no|yes|local``: CONFIG SET of the protected
  directives (``dir``, ``dbfilename``) is refused unless allowed.

The network layer decides locality once per connection (``Client.local``);
nothing here runs per command except for the protected commands themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from moonkv.engine._client import Client
    from moonkv.engine._server import Server

LOCAL_ADDRESSES: Final = frozenset(("127.0.0.1", "::1"))

DENIED: Final = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from the "
    b"loopback interface. If you want to connect from external computers to Redis you may adopt "
    b"one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    b"you can just disable the protected mode by editing the Redis configuration file, and setting "
    b"the protected mode option to 'no', and then restarting the server. 3) If you started the "
    b"server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup "
    b"a an authentication password for the default user. NOTE: You only need to do one of the "
    b"above things in order for the server to start accepting connections from the outside.\r\n"
)

def is_local_peer(peer: object) -> bool:
    """Whether a socket peer name (as ``getpeername()`` gives it) is local for Redis 7.0."""
    if isinstance(peer, tuple):
        return peer[0] in LOCAL_ADDRESSES
    return True  # a unix socket's peer name is a path (or empty)


def refuses_peer(server: Server, local: bool) -> bool:
    """Protected mode: must a new connection from a (non-)local peer get DENIED?"""
    return not local and server.config["protected-mode"] and server.acl.default.nopass


def enabled_for(setting: str, c: Client) -> bool:
    """An ``enable-*`` setting (no|yes|local) applied to a client."""
    return setting == "yes" or (setting == "local" and c.local)


def protected_refusal(server: Server, c: Client, module: bool) -> str | None:
    """The error refusing a protected command to ``c`` (MODULE LOAD/LOADEX/UNLOAD when
    ``module``, otherwise DEBUG), or None when its ``enable-*-command`` directive allows it."""
    setting = "enable-module-command" if module else "enable-debug-command"
    if enabled_for(server.config[setting], c):
        return None
    return (
        f'{"MODULE" if module else "DEBUG"} command not allowed. If the {setting} option is set to '
        '"local", you can run it from a local connection, otherwise you need to set this option in '
        "the configuration file, and then restart the server."
    )
