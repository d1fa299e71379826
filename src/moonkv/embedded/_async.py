"""redis-py's asyncio client over an in-process :class:`Instance`.

The same design as :mod:`moonkv.embedded._sync`: a connection whose stream is
an engine :class:`Session`, and a short path in ``execute_command``.  Commands
run on the calling (event loop) thread under the instance lock; a command
that blocks (BLPOP, XREAD BLOCK...) finishes on a worker thread
(``asyncio.to_thread``), so the loop goes on meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import redis.asyncio
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TimeoutError

from moonkv.embedded._codec import Converter, pack_args
from moonkv.embedded._instance import Closed, Instance, LogWriteFailed, Session
from moonkv.engine import BLOCKED
from moonkv.errors import RespError
from moonkv.protocol import Replies

_NEVER_DECODE = "NEVER_DECODE"
_EMPTY_RESPONSE = "EMPTY_RESPONSE"
_SENTINEL: Any = object()


class _Stream:
    """What redis-py keeps as the connection's reader and writer: the engine session."""

    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session

    def close(self) -> None:
        self.session.close()

    async def wait_closed(self) -> None:
        pass


class AsyncEmbeddedConnection(AbstractConnection):  # type: ignore[misc]
    """A redis-py asyncio connection to an in-process moonkv."""

    def __init__(self, *, instance: Instance, **kwargs: Any) -> None:
        self.instance = instance
        self._replies: deque[tuple[object, int]] = deque()
        super().__init__(**kwargs)
        self.converter = Converter(self._parse_error, self.encoder.encoding, self.encoder.encoding_errors)

    def _parse_error(self, text: str) -> Exception:
        return self._parser.parse_error(text)  # type: ignore[no-any-return]

    def repr_pieces(self) -> list[tuple[str, Any]]:
        return [("path", self.instance.path or ":memory:"), ("db", self.db)]

    async def _connect(self) -> None:
        if self.instance.closed:
            raise RedisConnectionError("the moonkv instance is closed")
        self._replies.clear()
        stream = _Stream(Session(self.instance))
        self._reader = stream
        self._writer = stream

    def _host_error(self) -> str:
        return f"moonkv {self.instance.path or ':memory:'}"

    @property
    def session(self) -> Session:
        stream = self._writer
        if stream is None:
            raise RedisConnectionError("the connection is closed")
        return stream.session  # type: ignore[no-any-return]

    # -- commands ---------------------------------------------------------------------

    def pack_command(self, *args: Any) -> list[list[bytes]]:
        return [pack_args(args, self.encoder)]

    def pack_commands(self, commands: Any) -> list[list[bytes]]:
        encoder = self.encoder
        return [pack_args(tuple(cmd), encoder) for cmd in commands]

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        await self.send_packed_command([pack_args(args, self.encoder)])

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()
        session = self.session
        for argv in command:
            reply = await self._call(session, argv)
            if type(reply) is Replies:  # SUBSCRIBE and friends: one reply per channel
                self._replies.extend((r, session.client.resp) for r in reply.items)
            else:
                self._replies.append((reply, session.client.resp))

    async def _call(self, session: Session, argv: list[bytes]) -> object:
        inst = self.instance
        try:
            reply = inst.call(session, argv, wait=False)
            if reply is BLOCKED:
                reply = await asyncio.to_thread(inst.finish_blocked, session)
            return reply
        except (Closed, LogWriteFailed) as e:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(str(e)) from None

    async def run(self, args: tuple[Any, ...]) -> Any:
        """One command, its reply converted (AsyncEmbeddedRedis's short path)."""
        if not self.is_connected:
            await self.connect()
        session = self.session
        reply = await self._call(session, pack_args(args, self.encoder))
        if isinstance(reply, RespError):
            raise self._parse_error(str(reply))
        t = type(reply)
        if (t is bytes and not self.encoder.decode_responses) or t is int or reply is None:
            return reply
        return self.converter.convert(reply, session.client.resp, self.encoder.decode_responses)

    async def _push(self, timeout: float | None) -> object | None:
        session = self.session
        try:
            if timeout is not None and timeout <= 0:
                return session.wait_push(0)
            return await asyncio.to_thread(session.wait_push, timeout)
        except Closed as e:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(str(e)) from None

    async def can_read_destructive(self) -> bool:
        return bool(self._replies)

    async def can_read(self) -> bool:
        return bool(self._replies)

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: Any = _SENTINEL,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        if self._replies:
            reply, resp = self._replies.popleft()
        else:
            wait = self.socket_timeout if timeout is _SENTINEL else timeout
            reply = await self._push(wait)
            if reply is None:
                raise TimeoutError(f"Timeout reading from {self._host_error()}")
            resp = self.session.client.resp
        response = self.converter.convert(reply, resp, self.encoder.decode_responses and not disable_decoding)
        if isinstance(response, ResponseError):
            raise response
        return response


class AsyncEmbeddedRedis(redis.asyncio.Redis):  # type: ignore[misc]
    """``redis.asyncio.Redis`` over an in-process moonkv; :func:`moonkv.open_async` makes one."""

    def __init__(self, instance: Instance, **connection_kwargs: Any) -> None:
        pool = redis.asyncio.ConnectionPool(
            connection_class=AsyncEmbeddedConnection, instance=instance, max_connections=2**31,
            **connection_kwargs,
        )
        super().__init__(connection_pool=pool)
        self.instance = instance
        self._free: list[AsyncEmbeddedConnection] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.single_connection_client or _NEVER_DECODE in options or _EMPTY_RESPONSE in options:
            return await super().execute_command(*args, **options)
        free = self._free
        try:
            conn = free.pop()
        except IndexError:
            conn = self.connection_pool.make_connection()
        try:
            response = await conn.run(args)
        finally:
            free.append(conn)
        callback = self.response_callbacks.get(args[0])
        if callback is None:
            return response
        options.pop("keys", None)
        return callback(response, **options)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the instance: flush the log, release the data directory (idempotent)."""
        try:
            await super().aclose(close_connection_pool)
            await self.connection_pool.disconnect()
            for conn in self._free:
                await conn.disconnect()
        finally:
            await asyncio.to_thread(self.instance.close)

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
