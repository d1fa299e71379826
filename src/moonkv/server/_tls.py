"""The TLS port (``tls-port``), beside the plaintext port or instead of it.

The event loop does the TLS (the standard library's ``ssl`` through uvloop's
``create_server(ssl=...)``) and hands decrypted bytes to an ordinary
:class:`Connection`, so the request path is the same as for plaintext
clients, and the plaintext port pays nothing for TLS.

The port listens on every ``bind`` address (server/_bind.py; CONFIG SET bind
moves it with the plain port: server/_listener.py).  CONFIG SET of any
``tls-*`` directive builds a new context; only if it is good does it replace
the old one: the loop's TLS servers are then started again on the same
listening sockets with the new context, so connections
accepted from then on use it, while existing connections keep theirs and
are not interrupted.  A failed handshake (a plaintext client, an unknown
CA, an expired certificate, no certificate where one is required) is logged
as Redis logs it and that connection closed; nothing else is affected.

TLS connections are never handed to the busy-script responder
(server/_busy.py): it answers from duplicated raw sockets, which would
corrupt a TLS stream.  While a script is busy they wait for it, and new TLS
clients wait in the listen backlog (docs/tls.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from typing import TYPE_CHECKING

from moonkv.engine import Config
from moonkv.errors import RespError
from moonkv.server._bind import ListenError, listen_all
from moonkv.server._connection import Connection
from moonkv.tls import TlsConfigError, client_context, reason, server_context, tls_wanted

if TYPE_CHECKING:
    from moonkv.server._listener import ServerProcess

log = logging.getLogger("moonkv")


class _LoggedHandshake(ssl.SSLObject):
    """The TLS state of one connection; logs a failed handshake as Redis does."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except OSError as e:
            log.warning("Error accepting a client connection: %s", reason(e))
            raise


class TlsPort:
    """The context in force and the listener of ``tls-port``."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.config = proc.server.config
        self.context: ssl.SSLContext | None = None
        # The bound sockets of tls-port, one per bind address; the loop's servers run on
        # duplicates of them, so they can be replaced (a new context) without closing the port.
        self.socks: list[socket.socket] = []
        self.port = 0
        self._aservers: list[asyncio.base_events.Server] = []
        self._started = False
        self.config.on_commit(self._on_commit)

    def configure(self) -> None:
        """At start-up: the context when anything uses TLS, and the bound port.
        Raises TlsConfigError (a bad setting) or ListenError (the port)."""
        cfg = self.config
        if tls_wanted(cfg):
            self.context = _server_context(cfg)
        self.port = cfg["tls-port"]
        self.open_port(cfg["bind"])

    async def start(self) -> None:
        self._started = True
        await self._serve()

    def close(self) -> None:
        self._started = False
        self.close_port()

    def close_port(self) -> None:
        """Stop listening (connections stay)."""
        self._stop_serving()
        for sock in self.socks:
            sock.close()
        self.socks = []

    def open_port(self, bind: str) -> None:
        """Listen on tls-port at ``bind``'s addresses (nothing with no tls-port); raises
        ListenError, nothing bound."""
        if self.port:
            self.socks = listen_all(bind, self.port, self.config["tcp-backlog"])
            if self._started:
                asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        """Serve the port with the context in force (the previous servers are closed)."""
        socks, ctx = self.socks, self.context
        if not socks or ctx is None or not self._started:
            return
        loop = asyncio.get_running_loop()
        for sock in socks:
            if sock.fileno() < 0:
                continue  # closed by a later CONFIG SET before this task ran
            dup = socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
            self._aservers.append(await loop.create_server(
                lambda: Connection(self.proc), sock=dup, ssl=ctx, backlog=self.config["tcp-backlog"]
            ))
        log.info("Ready to accept connections tls on %s:%d", self.config["bind"], self.port)

    def _stop_serving(self) -> None:
        for aserver in self._aservers:
            aserver.close()  # stops accepting; the connections stay
        self._aservers = []

    # -- CONFIG SET ------------------------------------------------------------------

    def _on_commit(self, names: list[str]) -> None:
        tls_names = [n for n in names if n.startswith("tls-")]
        if not tls_names:
            return
        cfg = self.config
        ctx = self.context
        if tls_wanted(cfg):
            try:
                ctx = _server_context(cfg)
            except TlsConfigError as e:
                self._refuse(tls_names[0], str(e), "Unable to update TLS configuration. Check server logs.")
        port = cfg["tls-port"]
        if port != self.port:
            socks = []
            if port:
                try:
                    socks = listen_all(cfg["bind"], port, cfg["tcp-backlog"])
                except ListenError as e:
                    self._refuse(
                        "tls-port",
                        f"Could not create server TLS listening socket {e.strerror}",
                        "Unable to listen on this port. Check server logs.",
                    )
            self._stop_serving()
            for sock in self.socks:
                sock.close()
            self.socks, self.port = socks, port
        self.context = ctx
        self._stop_serving()
        if self._started:
            # The old server is closed already: a client that connects after this
            # CONFIG SET waits in the backlog for the new one, never meets the old context.
            asyncio.get_running_loop().create_task(self._serve())

    @staticmethod
    def _refuse(name: str, why: str, reply: str) -> None:
        log.warning("%s", why)
        log.warning(
            "Failed applying new configuration. Possibly related to new %s setting. "
            "Restoring previous settings.",
            name,
        )
        raise RespError(f"CONFIG SET failed (possibly related to argument '{name}') - {reply}")


def _server_context(cfg: Config) -> ssl.SSLContext:
    """The TLS port's context.  With TLS on the replication or cluster links the
    context of those links is built too, so their settings are refused now, as Redis
    refuses them, rather than when a link opens."""
    ctx = server_context(cfg)
    ctx.sslobject_class = _LoggedHandshake
    if cfg["tls-replication"] or cfg["tls-cluster"]:
        client_context(cfg)
    return ctx
