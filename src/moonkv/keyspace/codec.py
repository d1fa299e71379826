"""Serialise stored values: the one format shared by DUMP/RESTORE, COPY and snapshots.

A value's *state* is a msgpack-able object:

* a string (``bytes``) is its own state;
* a container is ``[TYPE_NAME, cls.dump_state()]``, a two-element list whose first
  element is the type name (``b"hash"``, ``b"list"``, ...) looked up in
  :data:`moonkv.keyspace.types.REGISTRY` to find the class whose ``load_state``
  rebuilds it.

Snapshot writers that already build a larger msgpack document should embed
:func:`value_to_state` objects directly (no double encoding); :func:`encode_value`
/ :func:`decode_value` are the standalone byte forms (msgpack with ``bin`` for
bytes, maps may have bytes keys).

:func:`dump_payload` / :func:`load_payload` wrap a value for DUMP/RESTORE::

    +---------+--------------------------+-------------------------------+
    | 0x01    | encode_value(value)      | CRC32 of the preceding bytes  |
    | version | (msgpack)                | (4 bytes, little endian)      |
    +---------+--------------------------+-------------------------------+

It is moonkv's own format (not Redis's RDB encoding), so payloads only travel
between moonkv servers.  Only this module knows the layout.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, Final

import msgpack

from moonkv.keyspace import types as _types

__all__ = [
    "PAYLOAD_VERSION",
    "CodecError",
    "decode_value",
    "dump_payload",
    "encode_value",
    "load_payload",
    "value_from_state",
    "value_to_state",
]

PAYLOAD_VERSION: Final = 1
_CRC: Final = struct.Struct("<I")


class CodecError(ValueError):
    """Bytes that are not a valid encoded value (bad checksum, version or state)."""


def value_to_state(value: Any) -> Any:
    """The msgpack-able state of a stored value."""
    if type(value) is bytes:
        return value
    return [value.TYPE_NAME, value.dump_state()]


def value_from_state(state: Any) -> Any:
    """Rebuild a value from :func:`value_to_state`'s output (after a msgpack round trip)."""
    t = type(state)
    if t is bytes:
        return state
    if t is bytearray or t is memoryview:
        return bytes(state)
    if (t is list or t is tuple) and len(state) == 2:
        name = state[0]
        if type(name) is str:
            name = name.encode()
        cls = _types.REGISTRY.get(bytes(name))
        if cls is not None:
            try:
                return cls.load_state(state[1])  # type: ignore[attr-defined]
            except (TypeError, ValueError, KeyError, IndexError) as e:
                raise CodecError(f"bad {name!r} state: {e}") from None
        raise CodecError(f"unknown value type {name!r}")
    raise CodecError(f"not a value state: {t.__name__}")


_packb: Final = msgpack.Packer(use_bin_type=True).pack


def encode_value(value: Any) -> bytes:
    """A stored value as standalone bytes (msgpack of its state)."""
    return _packb(value_to_state(value))  # type: ignore[no-any-return]


def decode_value(data: bytes) -> Any:
    """Inverse of :func:`encode_value`; raises :class:`CodecError` on malformed input."""
    try:
        state = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as e:  # noqa: BLE001 - msgpack raises several unrelated types
        raise CodecError(f"malformed value: {e}") from None
    return value_from_state(state)


def dump_payload(value: Any) -> bytes:
    """DUMP's serialized value: version byte + encoded value + CRC32 footer."""
    body = bytes((PAYLOAD_VERSION,)) + encode_value(value)
    return body + _CRC.pack(zlib.crc32(body))


def verify_payload(data: bytes) -> bool:
    """Whether ``data`` has moonkv's payload version and a matching checksum."""
    if len(data) < 6 or data[0] != PAYLOAD_VERSION:
        return False
    return bool(_CRC.unpack_from(data, len(data) - 4)[0] == zlib.crc32(memoryview(data)[:-4]))


def load_payload(data: bytes) -> Any:
    """The value in a DUMP payload (call :func:`verify_payload` first for the error split)."""
    if not verify_payload(data):
        raise CodecError("payload version or checksum are wrong")
    return decode_value(data[1:-4])
