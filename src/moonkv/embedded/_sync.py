"""redis-py's synchronous client over an in-process :class:`Instance`.

:class:`EmbeddedConnection` is a redis-py connection whose "socket" is a
:class:`Session`: ``send_command`` runs the command at once through the
engine, ``read_response`` hands back the converted reply.  Pipelines,
transactions, WATCH, pub/sub and redis-py's handshake (HELLO, AUTH, SELECT,
CLIENT SETNAME) go through it unchanged.

:class:`EmbeddedRedis` is a ``redis.Redis`` whose ``execute_command`` takes a
shorter path for plain commands: a free connection from its own list (no
pool lock, no retry wrapper), the engine call, the reply conversion and
redis-py's response callback.  Options it does not handle itself
(``NEVER_DECODE``, ``EMPTY_RESPONSE``) and a single-connection client take
redis-py's own path.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import redis
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TimeoutError

from moonkv.embedded._codec import Converter, pack_args
from moonkv.embedded._instance import Closed, Instance, LogWriteFailed, Session
from moonkv.errors import RespError
from moonkv.protocol import Replies

_NEVER_DECODE = "NEVER_DECODE"
_EMPTY_RESPONSE = "EMPTY_RESPONSE"
_SENTINEL: Any = object()


class _Socket:
    """What redis-py keeps as the connection's socket: the engine session."""

    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self.session.close()


class EmbeddedConnection(AbstractConnection):  # type: ignore[misc]
    """A redis-py connection to an in-process moonkv (no socket, no RESP bytes)."""

    def __init__(self, *, instance: Instance, **kwargs: Any) -> None:
        self.instance = instance
        self._replies: deque[tuple[object, int]] = deque()
        super().__init__(**kwargs)
        self.converter = Converter(self._parse_error, self.encoder.encoding, self.encoder.encoding_errors)

    def _parse_error(self, text: str) -> Exception:
        return self._parser.parse_error(text)  # type: ignore[no-any-return]

    def repr_pieces(self) -> list[tuple[str, Any]]:
        return [("path", self.instance.path or ":memory:"), ("db", self.db)]

    def _connect(self) -> _Socket:
        if self.instance.closed:
            raise RedisConnectionError("the moonkv instance is closed")
        self._replies.clear()
        return _Socket(Session(self.instance))

    def _host_error(self) -> str:
        return f"moonkv {self.instance.path or ':memory:'}"

    # -- commands ---------------------------------------------------------------------

    def pack_command(self, *args: Any) -> list[list[bytes]]:
        return [pack_args(args, self.encoder)]

    def pack_commands(self, commands: Any) -> list[list[bytes]]:
        encoder = self.encoder
        return [pack_args(tuple(cmd), encoder) for cmd in commands]

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self.send_packed_command([pack_args(args, self.encoder)])

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:
            self.connect()
        session = self._sock.session
        for argv in command:
            reply = self._call(session, argv)
            if type(reply) is Replies:  # SUBSCRIBE and friends: one reply per channel
                self._replies.extend((r, session.client.resp) for r in reply.items)
            else:
                self._replies.append((reply, session.client.resp))

    def _call(self, session: Session, argv: list[bytes]) -> object:
        try:
            return session.call(argv)
        except (Closed, LogWriteFailed) as e:
            self.disconnect()
            raise RedisConnectionError(str(e)) from None

    def run(self, args: tuple[Any, ...]) -> Any:
        """One command, its reply converted (EmbeddedRedis's short path)."""
        sock = self._sock
        if not sock:
            self.connect()
            sock = self._sock
        session = sock.session
        reply = self._call(session, pack_args(args, self.encoder))
        if isinstance(reply, RespError):
            raise self._parse_error(str(reply))
        t = type(reply)
        if (t is bytes and not self.encoder.decode_responses) or t is int or reply is None:
            return reply
        return self.converter.convert(reply, session.client.resp, self.encoder.decode_responses)

    def can_read(self, timeout: float = 0) -> bool:
        if not self._sock:
            self.connect()
        if self._replies:
            return True
        try:
            push = self._sock.session.wait_push(timeout)
        except Closed as e:
            self.disconnect()
            raise RedisConnectionError(str(e)) from None
        if push is None:
            return False
        self._replies.append((push, self._sock.session.client.resp))
        return True

    def read_response(
        self,
        disable_decoding: bool = False,
        *,
        timeout: Any = _SENTINEL,
        disconnect_on_error: bool = True,
        push_request: bool = False,
    ) -> Any:
        if self._replies:
            reply, resp = self._replies.popleft()
        else:
            if not self._sock:
                raise RedisConnectionError("the connection is closed")
            wait = self.socket_timeout if timeout is _SENTINEL else timeout
            session = self._sock.session
            try:
                reply = session.wait_push(wait)
            except Closed as e:
                self.disconnect()
                raise RedisConnectionError(str(e)) from None
            if reply is None:
                raise TimeoutError(f"Timeout reading from {self._host_error()}")
            resp = session.client.resp
        response = self.converter.convert(reply, resp, self.encoder.decode_responses and not disable_decoding)
        if isinstance(response, ResponseError):
            raise response
        return response


class EmbeddedRedis(redis.Redis):  # type: ignore[misc]
    """``redis.Redis`` over an in-process moonkv; :func:`moonkv.open` makes one."""

    def __init__(self, instance: Instance, **connection_kwargs: Any) -> None:
        pool = redis.ConnectionPool(
            connection_class=EmbeddedConnection, instance=instance, max_connections=2**31,
            **connection_kwargs,
        )
        super().__init__(connection_pool=pool)
        self.instance = instance
        # The short path's connections (outside the pool: no lock, no bookkeeping).
        self._free: list[EmbeddedConnection] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.connection is not None or _NEVER_DECODE in options or _EMPTY_RESPONSE in options:
            return super().execute_command(*args, **options)
        free = self._free
        try:
            conn = free.pop()
        except IndexError:
            conn = self.connection_pool.make_connection()
        try:
            response = conn.run(args)
        finally:
            free.append(conn)
        callback = self.response_callbacks.get(args[0])
        if callback is None:
            return response
        options.pop("keys", None)
        return callback(response, **options)

    def close(self) -> None:
        """Close the instance: flush the log, release the data directory (idempotent)."""
        try:
            super().close()
            self.connection_pool.disconnect()
            for conn in self._free:
                conn.disconnect()
        finally:
            self.instance.close()
