"""moonkv in this process, like sqlite3 for SQL: a redis-py client with no server.

    import moonkv
    r = moonkv.open()                      # in memory
    r = moonkv.open("data/", appendfsync="everysec")   # a data directory

Commands run through the same command table, executor, script engine and
durable log as the server, with no socket.  redis-py is imported only here
(``moonkv`` itself does not need it).  See docs/embedding.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from moonkv.embedded._codec import Converter
from moonkv.embedded._instance import Instance, Session
from moonkv.errors import RespError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

# Options that belong to the redis-py client (its connections); every other
# keyword is a moonkv configuration directive (``appendfsync="everysec"``).
CLIENT_OPTIONS = frozenset({
    "db", "decode_responses", "encoding", "encoding_errors", "protocol", "client_name",
    "username", "password", "socket_timeout", "lib_name", "lib_version",
})

__all__ = ["CLIENT_OPTIONS", "Converter", "Instance", "Session", "eval_script", "open", "open_async"]


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    client = {k: v for k, v in options.items() if k in CLIENT_OPTIONS}
    directives = {k: v for k, v in options.items() if k not in CLIENT_OPTIONS}
    return client, directives


def open(path: str | os.PathLike[str] | None = None, **options: Any) -> redis.Redis:
    """A ``redis.Redis`` client over moonkv running in this process.

    ``path``: a data directory (created if missing, locked while open, readable
    by ``moonkv server --dir PATH``), or None for data in memory only.
    ``options``: redis-py client options (:data:`CLIENT_OPTIONS`) and moonkv
    configuration directives (``appendfsync="everysec"``, ``lua_time_limit=100``).
    Close it (``close()`` or a ``with`` block) to flush and release the directory.
    """
    from moonkv.embedded._sync import EmbeddedRedis

    client, directives = _split(options)
    return EmbeddedRedis(Instance(path, directives), **client)


def open_async(path: str | os.PathLike[str] | None = None, **options: Any) -> redis.asyncio.Redis:
    """The same as :func:`open`, as a ``redis.asyncio.Redis`` (close with ``await r.aclose()``)."""
    from moonkv.embedded._async import AsyncEmbeddedRedis

    client, directives = _split(options)
    return AsyncEmbeddedRedis(Instance(path, directives), **client)


def eval_script(r: Any, body: bytes, keys: list[bytes], args: list[bytes]) -> tuple[Any, str | None]:
    """EVAL on the instance behind ``r`` (made by :func:`open`), for tools that show errors.

    Returns the reply as redis-py returns it, or None and the error's full text:
    redis-py drops the ``ERR`` prefix from its exception's text, tools show Redis's.
    """
    from redis.exceptions import ResponseError

    session = Session(r.instance)
    try:
        reply = session.call([b"EVAL", body, b"%d" % len(keys), *keys, *args])
    finally:
        session.close()
    if isinstance(reply, RespError):
        return None, str(reply)
    return Converter(ResponseError, "utf-8", "strict").convert(reply, 2, False), None
