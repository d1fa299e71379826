"""Hash slots: which of the 16384 slots a key belongs to, as Redis Cluster computes it.

CRC16 is the XMODEM variant (polynomial 0x1021, initial value 0, no reflection)
of Redis's ``crc16.c``; :func:`binascii.crc_hqx` computes exactly that in C, so
a key's slot costs one call however long the key is.  A hash tag is the part
between the first ``{`` and the next ``}`` after it, if that part is not empty
(Redis's ``keyHashSlot``): ``{user1}.name`` and ``{user1}.mail`` share a slot,
``{}x`` hashes whole.  Imports nothing of moonkv's: the controller and the CLI
use it without the engine.
"""

from __future__ import annotations

from binascii import crc_hqx
from typing import Final

SLOTS: Final = 16384
MASK: Final = SLOTS - 1


def crc16(data: bytes) -> int:
    """CRC16/XMODEM of ``data`` (Redis's ``crc16``)."""
    return crc_hqx(data, 0)


def key_slot(key: bytes) -> int:
    """The hash slot of ``key``, honouring a non-empty ``{tag}``."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return crc_hqx(key[start + 1 : end], 0) & MASK
    return crc_hqx(key, 0) & MASK

