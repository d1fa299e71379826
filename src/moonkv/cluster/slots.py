"""Hash slots: which of the 16384 slots a key belongs to, as Redis Cluster computes it.

CRC16 is the XMODEM variant (polynomial 0x1021, initial value 0, no reflection)
of Redis's ``crc16.c``.  A hash tag is the part between the first ``{`` and the
next ``}`` after it, if that part is not empty (Redis's ``keyHashSlot``):
``{user1}.name`` and ``{user1}.mail`` share a slot, ``{}x`` hashes whole.
Imports nothing of moonkv's: the controller and the CLI use it without the engine.

Two ways to the same CRC (docs/cluster.md "What the slot check costs").  Compiled by
mypyc (the native build routes every keyed command through :func:`key_slot`), a
key of up to :data:`SHORT` bytes goes through a loop on machine integers (CRC16's
table-free byte step) that looks for the ``{`` as it goes: ~20 instructions plus
~21 a byte, where calling :func:`binascii.crc_hqx` costs ~500 (the global's lookup,
argument parsing, the buffer, a new int for the result) plus ~5 a byte, so a
longer key takes crc_hqx.
Interpreted, the loop costs ~120 ns a byte (crc_hqx ~75 ns for a 16-byte key): crc_hqx always.
"""

from __future__ import annotations

from binascii import crc_hqx
from types import FunctionType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # machine integers for mypyc; plain ints (annotations only) otherwise
    from mypy_extensions import i64

SLOTS: Final = 16384
MASK: Final = SLOTS - 1
SHORT: Final = 32  # the longest key the compiled build's loop hashes (see the module doc)
# A static in the compiled build: no lookup of the module's globals per call.
_CRC_HQX: Final = crc_hqx


def _compiled() -> bool:
    """Whether this module runs compiled: mypyc makes its functions built-in functions."""
    return not isinstance(_compiled, FunctionType)


COMPILED: Final = _compiled()


def _crc(data: bytes, start: i64, end: i64) -> i64:
    """CRC16/XMODEM of ``data[start:end]``: the compiled build's loop (see key_slot)."""
    crc: i64 = 0
    while start < end:
        x: i64 = ((crc >> 8) ^ data[start]) & 255
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xFFFF
        start += 1
    return crc


def crc16(data: bytes) -> int:
    """CRC16/XMODEM of ``data`` (Redis's ``crc16``)."""
    n = len(data)
    return _crc(data, 0, n) if COMPILED and n <= SHORT else _CRC_HQX(data, 0)


def key_slot(key: bytes) -> i64:
    """The hash slot of ``key``, honouring a non-empty ``{tag}``."""
    n: i64 = len(key)
    if not COMPILED or n > SHORT:
        return _binascii_slot(key)
    # One pass: the CRC of the whole key, unless a "{" (123) stops it.  A byte's step is the
    # table-free form of CRC16/XMODEM's (polynomial x^16 + x^12 + x^5 + 1: the three shifts).
    crc: i64 = 0
    j: i64 = 0
    while j < n:
        b: i64 = key[j]
        if b == 123:
            return _tagged_slot(key, j)
        x: i64 = ((crc >> 8) ^ b) & 255
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xFFFF
        j += 1
    return crc & MASK


def _tagged_slot(key: bytes, start: i64) -> i64:
    """The slot of ``key``, whose first "{" is at ``start``."""
    end = key.find(b"}", start + 1)
    if end > start + 1:
        return crc16(key[start + 1 : end]) & MASK
    return crc16(key) & MASK


def _binascii_slot(key: bytes) -> i64:
    """key_slot through crc_hqx (a "{" found by ``in`` with an int operand: a memchr)."""
    return _tagged_slot(key, key.find(b"{")) if 123 in key else _CRC_HQX(key, 0) & MASK
