"""The controller's connection to a node: RESP over TCP or TLS, AUTH, one call at a time."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

import hiredis


class NodeError(Exception):
    """An error reply (``-ERR ...``) from a node."""


@dataclass(frozen=True)
class NodeAuth:
    """How the controller reaches nodes: AUTH (ACL user or requirepass) and TLS."""

    user: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None


def encode(args: tuple[bytes | str | int, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


class NodeLink:
    """One connection; ``call`` raises NodeError for an error reply, OSError or
    TimeoutError when the node is away (the link is then closed)."""

    def __init__(self, host: str, port: int, auth: NodeAuth, timeout: float) -> None:
        self.host = host
        self.port = port
        self.auth = auth
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = hiredis.Reader(replyError=NodeError)
        self._lock = asyncio.Lock()

    async def _open(self) -> None:
        tls = self.auth.tls
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=tls, server_hostname="" if tls else None),
            self.timeout,
        )
        self._parser = hiredis.Reader(replyError=NodeError)
        if self.auth.password is not None:
            argv: tuple[bytes | str | int, ...] = ("AUTH", self.auth.password)
            if self.auth.user:
                argv = ("AUTH", self.auth.user, self.auth.password)
            try:
                await self._roundtrip(argv)
            except NodeError:
                self.close()  # not authenticated: never reuse this connection
                raise

    async def _roundtrip(self, args: tuple[bytes | str | int, ...]) -> Any:
        assert self._reader is not None and self._writer is not None
        self._writer.write(encode(args))
        while True:
            reply = self._parser.gets()
            if reply is not False:
                if isinstance(reply, NodeError):
                    raise reply
                return reply
            data = await asyncio.wait_for(self._reader.read(65536), self.timeout)
            if not data:
                raise ConnectionResetError(f"{self.host}:{self.port} closed the connection")
            self._parser.feed(data)

    async def call(self, *args: bytes | str | int) -> Any:
        async with self._lock:
            try:
                if self._writer is None:
                    await self._open()
                return await self._roundtrip(args)
            except NodeError:
                raise
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def info_fields(text: bytes | str) -> dict[str, str]:
    """``INFO``'s ``name:value`` lines as a dict."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            out[name] = value
    return out
