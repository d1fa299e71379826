"""redis-py's command arguments → argv; engine replies → what redis-py's parser returns.

Arguments are encoded with the connection's redis-py ``Encoder`` (its
DataError for a bad type, its ``str``/``int``/``float`` forms); a first
argument holding spaces ("CLIENT SETNAME") is split, as redis-py's packer
splits it.

Replies: the common values (bulk strings, integers, nulls, statuses, arrays of them,
errors) are converted directly.  Everything else (RESP3 maps, sets, doubles,
booleans, verbatim strings, big numbers, a script's pre-encoded reply) is
encoded with moonkv's encoder and parsed by a hiredis reader set up as
redis-py sets up its own, so the result is the same by construction.

Errors become the exception redis-py's parser makes (``parse_error``: its
table of prefixes such as NOSCRIPT, WRONGTYPE, BUSY); inside an array they
are values, as redis-py returns them (EXEC's replies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hiredis

from moonkv.errors import RespError
from moonkv.protocol import encode

_HEADS: dict[str, list[bytes]] = {}  # command name → its argv head ("CLIENT SETNAME" → 2 words)
_MAX_HEADS = 1024


def pack_args(args: tuple[Any, ...], encoder: Any) -> list[bytes]:
    """argv for ``args`` as redis-py's packer would send it (``encoder``: the connection's Encoder)."""
    first = args[0]
    head = _HEADS.get(first) if type(first) is str else None
    if head is None:
        if isinstance(first, str):
            head = first.encode().split()
            if len(_HEADS) < _MAX_HEADS:
                _HEADS[first] = head
        else:
            b = _arg(first, encoder.encode)
            head = b.split() if b" " in b else [b]
    out = list(head)
    encoding = encoder.encoding
    errors = encoder.encoding_errors
    for a in args[1:]:
        t = type(a)
        if t is str:
            a = a.encode(encoding, errors)
        elif t is int:
            a = b"%d" % a  # what redis-py's repr() gives for an int
        elif t is not bytes:
            a = _arg(a, encoder.encode)
        out.append(a)
    return out


def _arg(a: Any, encode: Callable[[Any], Any]) -> bytes:
    b = encode(a)
    return b if type(b) is bytes else bytes(b)


class Converter:
    __slots__ = ("parse_error", "encoding", "errors", "_readers")

    def __init__(self, parse_error: Callable[[str], Exception], encoding: str, errors: str) -> None:
        self.parse_error = parse_error
        self.encoding = encoding
        self.errors = errors
        self._readers: list[Any] = [None, None]  # made on first use: raw, decoding

    def convert(self, reply: object, resp: int, decode: bool) -> Any:
        if isinstance(reply, bytes):
            return reply.decode(self.encoding, self.errors) if decode else reply
        t = type(reply)
        if t is int or reply is None:
            return reply
        if isinstance(reply, str):
            return reply if decode else reply.encode()
        if isinstance(reply, list):
            return [self.convert(x, resp, decode) for x in reply]
        if isinstance(reply, RespError):
            return self.parse_error(str(reply).replace("\r", " ").replace("\n", " "))
        reader = self._readers[decode]
        if reader is None:
            reader = self._readers[decode] = self._reader(decode)
        reader.feed(encode(reply, resp))
        return reader.gets()

    def _reader(self, decode: bool) -> Any:
        from redis.exceptions import InvalidResponse

        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": self.parse_error,
            "errors": self.errors,
        }
        if decode:
            kwargs["encoding"] = self.encoding
        return hiredis.Reader(**kwargs)
