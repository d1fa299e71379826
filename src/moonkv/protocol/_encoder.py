"""Encode reply values (see :mod:`moonkv.protocol._types`) as RESP2 or RESP3."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from moonkv.errors import RespError
from moonkv.protocol._types import (
    NULL_ARRAY,
    BigNumber,
    Double,
    OrderedSet,
    Push,
    RawReply,
    Replies,
    Verbatim,
)

_CRLF: Final = b"\r\n"
# "$<n>\r\n" for the usual bulk lengths: concatenating three strings costs
# about half of formatting them with ``%``.
_BULK_HEADERS: Final = tuple(b"$%d\r\n" % i for i in range(1025))
_NBULK: Final = len(_BULK_HEADERS)
_ARRAY_HEADERS: Final = tuple(b"*%d\r\n" % i for i in range(16))
_NARRAY: Final = len(_ARRAY_HEADERS)


def bulk(data: bytes) -> bytes:
    """The bulk string reply (or request argument) carrying ``data``."""
    n = len(data)
    if n < _NBULK:
        return _BULK_HEADERS[n] + data + _CRLF
    return b"$%d\r\n%s\r\n" % (n, data)


def encode_command(argv: list[bytes]) -> bytes:
    """A command as RESP, an array of bulk strings (the replication stream, requests).

    The same bytes as ``encode(argv)``, in one pass that calls nothing per argument:
    about a third of the instructions for a SET (each replicated write pays it).
    """
    out: list[bytes] = []
    encode_command_into(argv, out)
    return b"".join(out)


def encode_command_into(argv: list[bytes], out: list[bytes]) -> int:
    """:func:`encode_command`'s pieces appended to ``out`` (to be joined with others: the
    replication stream joins an iteration's commands once); returns their size."""
    n = len(argv)
    head = _ARRAY_HEADERS[n] if n < _NARRAY else b"*%d\r\n" % n
    out.append(head)
    total = len(head)
    for arg in argv:
        size = len(arg)
        head = _BULK_HEADERS[size] if size < _NBULK else b"$%d\r\n" % size
        out.append(head)
        out.append(arg)
        out.append(_CRLF)
        total += len(head) + size + 2
    return total


def format_double(d: float) -> bytes:
    """Redis 7.0's ``%.17g`` rendering of a double, with ``inf``/``-inf``."""
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    if math.isnan(d):
        return b"nan"
    return (b"%.17g" % d)


def encode(value: object, proto: int = 2) -> bytes:
    """Return the wire form of one reply value."""
    t = type(value)
    if t is bytes:
        return bulk(value)  # type: ignore[arg-type]
    if t is str:
        return b"+%s\r\n" % value.encode()  # type: ignore[attr-defined]
    if t is int:
        return b":%d\r\n" % value  # type: ignore[str-format]
    out: list[bytes] = []
    _encode(value, proto, out.append)
    return b"".join(out)


def encode_many(values: list[object], proto: int, emit: Callable[[bytes], None]) -> None:
    for v in values:
        _encode(v, proto, emit)


def _encode(value: object, proto: int, emit: Callable[[bytes], None]) -> None:
    t = type(value)
    if t is bytes or t is bytearray or t is memoryview:
        emit(bulk(bytes(value)))  # type: ignore[call-overload]
    elif t is str:
        emit(b"+%s\r\n" % value.encode())  # type: ignore[attr-defined]
    elif t is bool:
        if proto == 3:
            emit(b"#t\r\n" if value else b"#f\r\n")
        else:
            emit(b":1\r\n" if value else b":0\r\n")
    elif t is int:
        emit(b":%d\r\n" % value)  # type: ignore[str-format]
    elif value is None:
        emit(b"_\r\n" if proto == 3 else b"$-1\r\n")
    elif t is list or t is tuple:
        emit(b"*%d\r\n" % len(value))  # type: ignore[arg-type]
        for item in value:  # type: ignore[attr-defined]
            # Bulk strings dominate arrays (LRANGE, ZRANGE, MGET): encode them inline.
            if type(item) is bytes:
                emit(bulk(item))
            else:
                _encode(item, proto, emit)
    elif isinstance(value, RespError):
        text = str(value).replace("\r", " ").replace("\n", " ")
        emit(b"-%s\r\n" % text.encode("utf-8", "surrogateescape"))
    elif t is float or t is Double:
        d = value.value if t is Double else value  # type: ignore[attr-defined]
        s = format_double(d)  # type: ignore[arg-type]
        if proto == 3:
            emit(b",%s\r\n" % s)
        else:
            emit(bulk(s))
    elif t is dict:
        if proto == 3:
            emit(b"%%%d\r\n" % len(value))  # type: ignore[arg-type]
        else:
            emit(b"*%d\r\n" % (2 * len(value)))  # type: ignore[arg-type]
        for k, v in value.items():  # type: ignore[attr-defined]
            _encode(k, proto, emit)
            _encode(v, proto, emit)
    elif t is set or t is frozenset:
        emit((b"~%d\r\n" if proto == 3 else b"*%d\r\n") % len(value))  # type: ignore[arg-type,operator]
        for item in value:  # type: ignore[attr-defined]
            _encode(item, proto, emit)
    elif value is NULL_ARRAY:
        emit(b"_\r\n" if proto == 3 else b"*-1\r\n")
    elif t is Verbatim:
        if proto == 3:
            body = value.fmt + b":" + value.text  # type: ignore[attr-defined]
            emit(b"=%d\r\n%s\r\n" % (len(body), body))
        else:
            _encode(value.text, proto, emit)  # type: ignore[attr-defined]
    elif t is BigNumber:
        if proto == 3:
            emit(b"(%s\r\n" % value.digits)  # type: ignore[attr-defined]
        else:
            _encode(value.digits, proto, emit)  # type: ignore[attr-defined]
    elif t is Push:
        items = value.items  # type: ignore[attr-defined]
        emit((b">%d\r\n" if proto == 3 else b"*%d\r\n") % len(items))
        for item in items:
            _encode(item, proto, emit)
    elif t is OrderedSet:
        items = value.items  # type: ignore[attr-defined]
        emit((b"~%d\r\n" if proto == 3 else b"*%d\r\n") % len(items))
        for item in items:
            _encode(item, proto, emit)
    elif t is RawReply:
        emit(value.data)  # type: ignore[attr-defined]
    elif t is Replies:
        for item in value.items:  # type: ignore[attr-defined]
            _encode(item, proto, emit)
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")
