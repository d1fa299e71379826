"""RESP protocol, sans-I/O: request parsing and reply encoding.

Imports only :mod:`moonkv.errors`; no sockets, no event loop.
"""

from moonkv.protocol._encoder import (
    bulk,
    encode,
    encode_command,
    encode_command_into,
    encode_many,
    format_double,
)
from moonkv.protocol._parser import RespParser, split_args
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

__all__ = [
    "NULL_ARRAY",
    "BigNumber",
    "Double",
    "OrderedSet",
    "Push",
    "RawReply",
    "Replies",
    "RespParser",
    "Verbatim",
    "bulk",
    "encode",
    "encode_command",
    "encode_command_into",
    "encode_many",
    "format_double",
    "split_args",
]
