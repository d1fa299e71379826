"""HyperLogLog values: Redis 7.0's representation and algorithms (hyperloglog.c), as data.

A HyperLogLog is a Redis string, byte for byte the one Redis writes, so values
move between the two servers with GET/SET, DUMP/RESTORE or a replica:

* a 16-byte header: ``HYLL``, the encoding (0 dense, 1 sparse), 3 unused
  bytes, and the cached cardinality as 8 bytes little-endian whose byte 7's
  top bit says "stale" (every change sets it, PFCOUNT clears it);
* dense: 16384 registers of 6 bits, register ``i`` at bit ``6*i`` counted from
  the least significant bit of each byte (12288 bytes);
* sparse: run-length opcodes, ``ZERO`` (``00xxxxxx``: 1-64 zero registers),
  ``XZERO`` (``01xxxxxx yyyyyyyy``: 1-16384 zero registers) and ``VAL``
  (``1vvvvvxx``: 1-4 registers of value 1-32).  A sparse value turns dense
  when a register would exceed 32 or the string would exceed
  ``hll-sparse-max-bytes``.

An element is hashed with MurmurHash64A (seed 0xadc83b19); its low 14 bits
choose the register and the position of the lowest set bit among the rest
(+1, at most 51) is the register's candidate value.  The estimate is Otmar
Ertl's improved estimator over the histogram of register values, with the
same floating-point steps as Redis so the answers are identical.

Values are immutable ``bytes`` in the keyspace; a change builds a new value
and the command stores it with ``db.set`` (undo log, WATCH, durable log).
Nothing here knows about RESP.  Dense registers are unpacked and packed with
``bytes.translate`` tables and big-integer bit operations over whole streams
of registers rather than a Python loop per register.

Register-wise maxima (PFCOUNT of several keys, PFMERGE) and histograms (the
estimate) work on *bit planes*: six 16384-bit integers, plane ``k`` holding
bit ``k`` of every register, so a maximum is a few dozen bitwise operations
and a histogram a few dozen ANDs and ``int.bit_count`` calls, each over 2 KB.
A value's planes are remembered in a small cache keyed by the value object
(values are immutable, so a write is a new object and a miss).
"""

from __future__ import annotations

import math
import random
import re
import struct
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from itertools import accumulate
from typing import Final, TypeAlias

from moonkv.errors import CorruptedHllError

P: Final = 14  # register index bits
Q: Final = 64 - P  # bits left for the run of zeroes
REGISTERS: Final = 1 << P
P_MASK: Final = REGISTERS - 1
REGISTER_MAX: Final = 63
HEADER: Final = 16
DENSE_BYTES: Final = REGISTERS * 6 // 8
DENSE_SIZE: Final = HEADER + DENSE_BYTES
DENSE: Final = 0
SPARSE: Final = 1
SPARSE_VAL_MAX_VALUE: Final = 32
SPARSE_VAL_MAX_LEN: Final = 4
SPARSE_ZERO_MAX_LEN: Final = 64
SPARSE_XZERO_MAX_LEN: Final = 16384
ALPHA_INF: Final = 0.721347520444481703680  # 1 / (2 ln 2)
MAGIC: Final = b"HYLL"
STALE_BIT: Final = 0x80  # in byte 15, the cached cardinality's last byte

_M: Final = 0xC6A4A7935BD1E995
_R: Final = 47
_SEED: Final = 0xADC83B19
_U64: Final = (1 << 64) - 1
_BLOCKS: Final = [struct.Struct(f"<{n}Q") for n in range(65)]  # elements up to 519 bytes


# -- hashing -----------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A of ``data`` (little-endian blocks, as Redis on any host)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _U64
    nblocks = n >> 3
    if nblocks:
        blocks = _BLOCKS[nblocks] if nblocks <= 64 else struct.Struct(f"<{nblocks}Q")
        for k in blocks.unpack_from(data):
            k = (k * _M) & _U64
            k ^= k >> _R
            h ^= (k * _M) & _U64
            h = (h * _M) & _U64
    tail = n & 7
    if tail:
        h ^= int.from_bytes(data[n - tail:], "little")
        h = (h * _M) & _U64
    h ^= h >> _R
    h = (h * _M) & _U64
    return h ^ (h >> _R)


def position(element: bytes) -> tuple[int, int]:
    """(register index, run of zeroes + 1) for an element (hllPatLen)."""
    h = murmurhash64a(element)
    rest = (h >> P) | (1 << Q)
    return h & P_MASK, (rest & -rest).bit_length()


# -- header --------------------------------------------------------------------------


def is_hll(value: bytes) -> bool:
    """Whether a string may be used as a HyperLogLog (isHLLObjectOrReply)."""
    n = len(value)
    if n < HEADER or value[:4] != MAGIC:
        return False
    enc = value[4]
    return enc == SPARSE or (enc == DENSE and n == DENSE_SIZE)


def new() -> bytes:
    """An empty HyperLogLog: sparse, one XZERO over every register, cached count 0."""
    return MAGIC + bytes((SPARSE,)) + bytes(11) + _xzero(REGISTERS)


def cached_count(value: bytes) -> int | None:
    """The cached cardinality, or None when it is stale."""
    if value[15] & STALE_BIT:
        return None
    return int.from_bytes(value[8:16], "little")


def stale(value: bytes) -> bytes:
    """``value`` with its cached cardinality marked stale."""
    return value[:15] + bytes((value[15] | STALE_BIT,)) + value[16:]


def with_count(value: bytes, card: int) -> bytes:
    """``value`` with ``card`` cached in its header."""
    return value[:8] + card.to_bytes(8, "little") + value[16:]


def encoding_name(value: bytes) -> str:
    return "sparse" if value[4] == SPARSE else "dense"


# -- dense registers -----------------------------------------------------------------


def _table(fn: Callable[[int], int]) -> bytes:
    return bytes(fn(b) & 0xFF for b in range(256))


# Unpacking: byte k of a 3-byte group holds parts of registers 4g..4g+3.
_LO6: Final = _table(lambda b: b & 63)
_HI2: Final = _table(lambda b: b >> 6)
_LO4_UP2: Final = _table(lambda b: (b & 15) << 2)
_HI4: Final = _table(lambda b: b >> 4)
_LO2_UP4: Final = _table(lambda b: (b & 3) << 4)
_HI6: Final = _table(lambda b: b >> 2)
# Packing registers (values 0..63) back into the three byte streams.
_LO2_UP6: Final = _table(lambda b: (b & 3) << 6)
_DOWN2: Final = _table(lambda b: (b >> 2) & 15)
_LO4_UP4: Final = _table(lambda b: (b & 15) << 4)
_DOWN4: Final = _table(lambda b: (b >> 4) & 3)
_UP2: Final = _table(lambda b: (b & 63) << 2)


def _or(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equally long strings whose set bits never overlap."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def _streams(dense: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """The four register streams (registers 4g, 4g+1, 4g+2, 4g+3) of a dense value."""
    b0 = dense[HEADER::3]
    b1 = dense[HEADER + 1::3]
    b2 = dense[HEADER + 2::3]
    return (
        b0.translate(_LO6),
        _or(b0.translate(_HI2), b1.translate(_LO4_UP2)),
        _or(b1.translate(_HI4), b2.translate(_LO2_UP4)),
        b2.translate(_HI6),
    )


def _unpack(dense: bytes) -> bytes:
    """One byte per register, in register order."""
    out = bytearray(REGISTERS)
    r0, r1, r2, r3 = _streams(dense)
    out[0::4] = r0
    out[1::4] = r1
    out[2::4] = r2
    out[3::4] = r3
    return bytes(out)


def _pack(registers: bytes) -> bytes:
    """The 12288 bytes of dense registers for one byte per register (values 0..63)."""
    r0 = registers[0::4]
    r1 = registers[1::4]
    r2 = registers[2::4]
    r3 = registers[3::4]
    out = bytearray(DENSE_BYTES)
    out[0::3] = _or(r0, r1.translate(_LO2_UP6))
    out[1::3] = _or(r1.translate(_DOWN2), r2.translate(_LO4_UP4))
    out[2::3] = _or(r2.translate(_DOWN4), r3.translate(_UP2))
    return bytes(out)


def dense_get(buf: bytes | bytearray, index: int) -> int:
    """Register ``index`` of a dense value (HLL_DENSE_GET_REGISTER)."""
    bit = index * 6
    pos = HEADER + (bit >> 3)
    fb = bit & 7
    if fb <= 2:
        return (buf[pos] >> fb) & 63
    return ((buf[pos] >> fb) | (buf[pos + 1] << (8 - fb))) & 63


def _dense_set(buf: bytearray, index: int, value: int) -> None:
    bit = index * 6
    pos = HEADER + (bit >> 3)
    fb = bit & 7
    buf[pos] = (buf[pos] & ~(63 << fb) & 0xFF) | ((value << fb) & 0xFF)
    if fb > 2:
        fb8 = 8 - fb
        buf[pos + 1] = (buf[pos + 1] & ~(63 >> fb8) & 0xFF) | (value >> fb8)


# -- sparse opcodes --------------------------------------------------------------------


def _xzero(n: int) -> bytes:
    n -= 1
    return bytes((0x40 | (n >> 8), n & 0xFF))


def _val(value: int, n: int) -> int:
    return 0x80 | ((value - 1) << 2) | (n - 1)


def _sparse_registers(value: bytes | bytearray) -> bytes:
    """One byte per register of a sparse value (hllSparseToDense's walk); corrupt: raise."""
    regs = bytearray(REGISTERS)
    idx = 0
    p = HEADER
    end = len(value)
    while p < end:
        op = value[p]
        if op < 0x40:
            idx += op + 1
            p += 1
        elif op < 0x80:
            low = value[p + 1] if p + 1 < end else 0
            idx += ((op & 0x3F) << 8 | low) + 1
            p += 2
        else:
            run = (op & 3) + 1
            if idx + run > REGISTERS:
                raise CorruptedHllError()
            v = ((op >> 2) & 31) + 1
            regs[idx:idx + run] = bytes((v,)) * run
            idx += run
            p += 1
    if idx != REGISTERS:
        raise CorruptedHllError()
    return bytes(regs)


def _sparse_histogram(value: bytes) -> list[int]:
    """Register-value histogram of a sparse value (hllSparseRegHisto); corrupt: raise."""
    histo = [0] * 64
    idx = 0
    p = HEADER
    end = len(value)
    while p < end:
        op = value[p]
        if op < 0x40:
            run = op + 1
            histo[0] += run
            p += 1
        elif op < 0x80:
            low = value[p + 1] if p + 1 < end else 0
            run = ((op & 0x3F) << 8 | low) + 1
            histo[0] += run
            p += 2
        else:
            run = (op & 3) + 1
            histo[((op >> 2) & 31) + 1] += run
            p += 1
        idx += run
    if idx != REGISTERS:
        raise CorruptedHllError()
    return histo


def to_dense(value: bytes | bytearray) -> bytes:
    """The dense form of a value; the header (cached count, unused bytes) is kept."""
    if value[4] == DENSE:
        return bytes(value)
    regs = _sparse_registers(value)
    return bytes(value[:4]) + bytes((DENSE,)) + bytes(value[5:HEADER]) + _pack(regs)


# Registers each single-byte opcode covers (ZERO, VAL); an XZERO's bytes are set apart.
_SPAN: Final = bytes((b + 1) if b < 0x40 else ((b & 3) + 1) if b >= 0x80 else 0 for b in range(256))
# XZERO opcodes, found left to right as the opcodes are read (the last one may be cut short).
_XZERO_RE: Final = re.compile(rb"[\x40-\x7f](?:[\x00-\xff]|\Z)")


class SparseWriter:
    """hllSparseSet over one value, for any number of registers, then :meth:`value`.

    ``ops`` holds the bytes of the sparse opcodes as a list, so a split or a
    merge is a list slice.  The opcode holding a register is found by
    scanning from the start, as Redis does; a writer made for many registers
    (``indexed``) also keeps ``firsts``, the first register each byte's
    opcode covers (an XZERO's second byte gets the next opcode's, so
    bisection lands on an opcode's first byte), and bisects instead.  The
    bytes, and the promotion to dense past ``max_bytes``, are exactly those
    of Redis's in-place edits.  Once dense, sets go to the dense registers.
    """

    __slots__ = ("header", "ops", "firsts", "max_bytes", "dense")

    def __init__(self, value: bytes, max_bytes: int, indexed: bool = False) -> None:
        self.header = value[:HEADER]
        self.max_bytes = max_bytes
        self.dense: bytearray | None = bytearray(value) if value[4] == DENSE else None
        body = value[HEADER:] if self.dense is None else b""
        self.ops = list(body)
        self.firsts: list[int] | None = None
        if indexed:
            spans = list(body.translate(_SPAN))
            for m in _XZERO_RE.finditer(body):
                p = m.start()
                low = body[p + 1] if p + 1 < len(body) else 0  # cut short: C reads the terminator
                spans[p] = ((body[p] & 0x3F) << 8 | low) + 1
                if p + 1 < len(body):
                    spans[p + 1] = 0
            self.firsts = list(accumulate(spans, initial=0))  # one more: the end of the last opcode

    @property
    def is_dense(self) -> bool:
        return self.dense is not None

    def value(self) -> bytes:
        if self.dense is not None:
            return bytes(self.dense)
        return self.header + bytes(self.ops)

    def _find(self, index: int) -> tuple[int, int, int, int]:
        """(position, first register, registers covered) of the opcode holding ``index``,
        and the position of the opcode before it (-1: none)."""
        ops = self.ops
        n = len(ops)
        firsts = self.firsts
        if firsts is not None:
            i = bisect_right(firsts, index) - 1
            if i >= n:
                raise CorruptedHllError()  # the opcodes end before the register
            first = firsts[i]
            step = 2 if 0x40 <= ops[i] < 0x80 and i + 1 < n else 1
            prev = bisect_right(firsts, first - 1) - 1 if i > 0 else -1
            return i, first, firsts[i + step] - first, prev
        p = 0
        first = 0
        prev = -1
        while p < n:
            op = ops[p]
            if op < 0x40:
                span = op + 1
                step = 1
            elif op >= 0x80:
                span = (op & 3) + 1
                step = 1
            else:
                span = ((op & 0x3F) << 8 | (ops[p + 1] if p + 1 < n else 0)) + 1
                step = 2
            if index < first + span:
                return p, first, span, prev
            prev = p
            p += step
            first += span
        raise CorruptedHllError()  # the opcodes end before the register

    def set(self, index: int, count: int) -> bool:
        """Raise register ``index`` to ``count``; whether it changed. Corrupt: raise."""
        dense = self.dense
        if dense is not None:
            if dense_get(dense, index) >= count:
                return False
            _dense_set(dense, index, count)
            return True
        if count > SPARSE_VAL_MAX_VALUE:
            return self._promote_set(index, count)
        ops = self.ops
        i, first, span, prev = self._find(index)
        op = ops[i]
        if op >= 0x80:
            if ((op >> 2) & 31) + 1 >= count:
                return False
            if span == 1:
                ops[i] = _val(count, 1)
                self._updated(prev)
                return True
        elif op < 0x40 and span == 1:
            ops[i] = _val(count, 1)
            self._updated(prev)
            return True
        oplen = 1
        if 0x40 <= op < 0x80:
            if i + 1 == len(ops):
                raise CorruptedHllError()  # cut short: Redis would write past the string's end
            oplen = 2
        last = first + span - 1
        seq: list[int] = []
        starts: list[int] = []
        if op < 0x80:
            if index != first:
                _zero_op(seq, starts, first, index - first)
            seq.append(_val(count, 1))
            starts.append(index)
            if index != last:
                _zero_op(seq, starts, index + 1, last - index)
        else:
            cur = ((op >> 2) & 31) + 1
            if index != first:
                seq.append(_val(cur, index - first))
                starts.append(first)
            seq.append(_val(count, 1))
            starts.append(index)
            if index != last:
                seq.append(_val(cur, last - index))
                starts.append(index + 1)
        delta = len(seq) - oplen
        if delta > 0 and HEADER + len(ops) + delta > self.max_bytes:
            return self._promote_set(index, count)
        ops[i:i + oplen] = seq
        if self.firsts is not None:
            self.firsts[i:i + oplen] = starts
        self._updated(prev)
        return True

    def _promote_set(self, index: int, count: int) -> bool:
        dense = bytearray(to_dense(self.value()))
        self.dense = dense
        _dense_set(dense, index, count)  # the register was below count, at most 32
        return True

    def _updated(self, prev: int) -> None:
        """Join adjacent VAL opcodes of equal value over 5 opcodes from ``prev`` (the one
        before the changed opcode: hllSparseSet's step 4); mark the cached count stale."""
        ops = self.ops
        firsts = self.firsts
        q = prev if prev >= 0 else 0
        scan = 5
        end = len(ops)
        while q < end and scan:
            scan -= 1
            op = ops[q]
            if op < 0x80:
                q += 2 if op >= 0x40 else 1
                continue
            if q + 1 < end:
                nxt = ops[q + 1]
                if nxt >= 0x80 and (op >> 2) & 31 == (nxt >> 2) & 31:
                    n = (op & 3) + (nxt & 3) + 2
                    if n <= SPARSE_VAL_MAX_LEN:
                        ops[q + 1] = (nxt & 0xFC) | (n - 1)
                        del ops[q]
                        if firsts is not None:
                            del firsts[q + 1]
                        end -= 1
                        continue
            q += 1
        self.header = stale(self.header)


def _zero_op(seq: list[int], starts: list[int], first: int, n: int) -> None:
    """Append a ZERO opcode, or an XZERO past ZERO's 64 registers, covering ``n`` registers."""
    if n > SPARSE_ZERO_MAX_LEN:
        seq += (0x40 | ((n - 1) >> 8), (n - 1) & 0xFF)
        starts += (first, first + n)
    else:
        seq.append(n - 1)
        starts.append(first)


# -- the commands' operations ----------------------------------------------------------


def add(value: bytes, elements: list[bytes], max_bytes: int) -> bytes | None:
    """PFADD: the new value if some register grew (cached count marked stale), else None."""
    if value[4] == DENSE:
        buf: bytearray | None = None
        for e in elements:
            index, count = position(e)
            if dense_get(buf if buf is not None else value, index) < count:
                if buf is None:
                    buf = bytearray(value)
                _dense_set(buf, index, count)
        if buf is None:
            return None
        buf[15] |= STALE_BIT
        return bytes(buf)
    w = SparseWriter(value, max_bytes, indexed=len(elements) > _SCAN_MAX)
    changed = False
    for e in elements:
        index, count = position(e)
        if w.set(index, count):
            changed = True
    if not changed:
        return None
    return stale(w.value())


_SCAN_MAX: Final = 8  # a PFADD of more elements bisects (SparseWriter ``indexed``)


def registers(value: bytes) -> bytes:
    """One byte per register, in register order; corrupt sparse values raise."""
    if value[4] == DENSE:
        return _unpack(value)
    return _sparse_registers(value)


# -- bit planes ------------------------------------------------------------------------
#
# Plane k of a value is an integer whose bit 4096*j + g is bit k of register 4g + j: the
# registers in the order of the dense encoding's four register streams end to end. Every
# plane of every value uses that order, which is all a maximum or a histogram needs.  The
# planes come from one byte per register (or per stream byte) by an 8x8 bit-matrix
# transpose of each 8-byte word, done on the whole string as one integer (Hacker's
# Delight 7-3: three rounds of shifts and masks that never cross a word).

Planes: TypeAlias = tuple[int, ...]  # 6 planes of REGISTERS bits
PLANE_COUNT: Final = 6
NO_REGISTERS: Final[Planes] = (0,) * PLANE_COUNT
_ALL: Final = int.from_bytes(b"\xff" * (REGISTERS // 8), "little")  # not 1 << REGISTERS: mypyc would fold it
_PLANE_BYTES: Final = REGISTERS // 8
_STREAM_BYTES: Final = REGISTERS // 4  # one of the dense encoding's three byte streams
_PIECE: Final = _STREAM_BYTES // 8  # bytes holding one bit of each byte of a stream


def _word_mask(pattern: int) -> int:
    return int.from_bytes(pattern.to_bytes(8, "little") * (REGISTERS // 8), "little")


_T7: Final = _word_mask(0x00AA00AA00AA00AA)
_T14: Final = _word_mask(0x0000CCCC0000CCCC)
_T28: Final = _word_mask(0x00000000F0F0F0F0)


def _transpose(x: int) -> int:
    """Each 64-bit word of ``x`` (up to REGISTERS bytes) as an 8x8 bit matrix, transposed:
    bit m of byte k becomes bit k of byte m. Its own inverse."""
    t = (x ^ (x >> 7)) & _T7
    x ^= t ^ (t << 7)
    t = (x ^ (x >> 14)) & _T14
    x ^= t ^ (t << 14)
    t = (x ^ (x >> 28)) & _T28
    return x ^ t ^ (t << 28)


# Where bit k of register 4g + j sits in the dense encoding: (stream, bit) of byte g of
# stream 0 (bytes 0, 3, 6, ...), 1 or 2; _SOURCE[j][k].
_SOURCE: Final = (
    tuple((0, k) for k in range(6)),
    ((0, 6), (0, 7), (1, 0), (1, 1), (1, 2), (1, 3)),
    ((1, 4), (1, 5), (1, 6), (1, 7), (2, 0), (2, 1)),
    tuple((2, 2 + k) for k in range(6)),
)
# The inverse: the (register stream j, plane k) of bit b of stream s; _TARGET[b][s].
_TARGET: Final = tuple(
    tuple(next((j, k) for j in range(4) for k in range(6) if _SOURCE[j][k] == (s, b)) for s in range(3))
    for b in range(8)
)


def _planes_of_dense(value: bytes) -> Planes:
    streams = value[HEADER::3] + value[HEADER + 1::3] + value[HEADER + 2::3]
    t = _transpose(int.from_bytes(streams, "little")).to_bytes(DENSE_BYTES, "little")
    bits = [t[b::8] for b in range(8)]  # bit b of stream 0, then of 1, then of 2
    out = []
    for k in range(PLANE_COUNT):
        parts = []
        for j in range(4):
            s, b = _SOURCE[j][k]
            parts.append(bits[b][s * _PIECE:(s + 1) * _PIECE])
        out.append(int.from_bytes(b"".join(parts), "little"))
    return tuple(out)


def _planes_of_registers(regs: bytes) -> Planes:
    ordered = regs[0::4] + regs[1::4] + regs[2::4] + regs[3::4]
    t = _transpose(int.from_bytes(ordered, "little")).to_bytes(REGISTERS, "little")
    return tuple(int.from_bytes(t[k::8], "little") for k in range(PLANE_COUNT))


def _dense_body(planes: Planes) -> bytes:
    """The 12288 bytes of dense registers of ``planes``."""
    raw = [p.to_bytes(_PLANE_BYTES, "little") for p in planes]
    t = bytearray(DENSE_BYTES)
    for b in range(8):
        parts = []
        for s in range(3):
            j, k = _TARGET[b][s]
            parts.append(raw[k][j * _PIECE:(j + 1) * _PIECE])
        t[b::8] = b"".join(parts)
    streams = _transpose(int.from_bytes(t, "little")).to_bytes(DENSE_BYTES, "little")
    body = bytearray(DENSE_BYTES)
    for s in range(3):
        body[s::3] = streams[s * _STREAM_BYTES:(s + 1) * _STREAM_BYTES]
    return bytes(body)


def planes_registers(planes: Planes) -> bytes:
    """One byte per register of ``planes``, in register order."""
    t = bytearray(REGISTERS)
    for k in range(PLANE_COUNT):
        t[k::8] = planes[k].to_bytes(_PLANE_BYTES, "little")
    ordered = _transpose(int.from_bytes(t, "little")).to_bytes(REGISTERS, "little")
    regs = bytearray(REGISTERS)
    for j in range(4):
        regs[j::4] = ordered[j * _STREAM_BYTES:(j + 1) * _STREAM_BYTES]
    return bytes(regs)


# The planes of recently read or written values, keyed by the value's id: an entry holds
# the value itself, so no other live object has that id. Oldest out first; at most
# _CACHE_SIZE * (12 KB of planes + the value) of memory.
_CACHE_SIZE: Final = 64
_cache: OrderedDict[int, tuple[bytes, Planes]] = OrderedDict()


def _remember(value: bytes, planes: Planes) -> None:
    if len(_cache) >= _CACHE_SIZE:
        _cache.popitem(last=False)
    _cache[id(value)] = (value, planes)


def planes(value: bytes, keep: bool = True) -> Planes:
    """The bit planes of a value, remembered for the next call unless ``keep`` is false
    (a value about to be replaced); corrupt sparse values raise."""
    hit = _cache.get(id(value))
    if hit is not None:
        return hit[1]
    p = _planes_of_dense(value) if value[4] == DENSE else _planes_of_registers(_sparse_registers(value))
    if keep:
        _remember(value, p)
    return p


def union(a: Planes, b: Planes) -> Planes:
    """Register-wise maximum (hllMerge): a bit-serial comparison from the top plane down."""
    a_greater = 0
    equal = _ALL
    for k in range(PLANE_COUNT - 1, -1, -1):
        differ = a[k] ^ b[k]
        a_greater |= equal & a[k] & differ
        equal &= ~differ
    return tuple(bk ^ ((ak ^ bk) & a_greater) for ak, bk in zip(a, b, strict=True))


def histogram(planes: Planes) -> list[int]:
    """Register-value histogram of ``planes`` (hllRawRegHisto): the registers are split by
    each plane from the top, counting only the groups that are not empty."""
    groups = [(_ALL, 0, REGISTERS)]  # (registers as a mask, value so far, how many)
    for k in range(PLANE_COUNT - 1, -1, -1):
        plane = planes[k]
        split = []
        for mask, v, n in groups:
            ones = mask & plane
            c = ones.bit_count() if ones else 0
            if c:
                split.append((ones, v | (1 << k), c))
            if c != n:
                split.append((mask ^ ones, v, n - c))
        groups = split
    histo = [0] * 64
    for _, v, n in groups:
        histo[v] = n
    return histo


def merge_into(dest: bytes, merged: Planes, use_dense: bool, max_bytes: int) -> bytes:
    """PFMERGE's write: ``dest`` with its registers raised to ``merged`` (which includes
    ``dest``'s own); the cached count goes stale."""
    if use_dense or dest[4] == DENSE:
        out = stale(dest[:4] + bytes((DENSE,)) + dest[5:HEADER] + _dense_body(merged))
    else:
        out = _merge_sparse(dest, merged, max_bytes)
    _remember(out, merged)
    return out


def _merge_sparse(dest: bytes, merged: Planes, max_bytes: int) -> bytes:
    regs = planes_registers(merged)
    w = SparseWriter(dest, max_bytes, indexed=True)
    for m in _NONZERO_RE.finditer(regs):  # in register order, as Redis sets them
        w.set(m.start(), regs[m.start()])
        if w.is_dense:  # the rest are raised in the dense registers
            return stale(w.value()[:HEADER] + _dense_body(merged))
    return stale(w.value())


_NONZERO_RE: Final = re.compile(rb"[^\x00]")

def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1.0 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z_prev == z:
            return z / 3.0


def estimate(histo: list[int]) -> int:
    """Ertl's estimator over a register histogram, with hllCount's exact steps."""
    m = float(REGISTERS)
    z = m * _tau((m - histo[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)  # llroundl: halves away from zero


def count(value: bytes) -> int:
    """The estimate for one value (ignoring its cache); corrupt sparse values raise."""
    if value[4] == DENSE:
        return estimate(histogram(planes(value, keep=False)))
    return estimate(_sparse_histogram(value))


def count_planes(planes: Planes) -> int:
    """The estimate for the registers of ``planes`` (PFCOUNT of several keys)."""
    return estimate(histogram(planes))

# -- PFDEBUG ---------------------------------------------------------------------------


def decode(value: bytes) -> str:
    """PFDEBUG DECODE's text for a sparse value."""
    parts = []
    p = HEADER
    end = len(value)
    while p < end:
        op = value[p]
        if op < 0x40:
            parts.append(f"z:{op + 1}")
            p += 1
        elif op < 0x80:
            low = value[p + 1] if p + 1 < end else 0
            parts.append(f"Z:{((op & 0x3F) << 8 | low) + 1}")
            p += 2
        else:
            parts.append(f"v:{((op >> 2) & 31) + 1},{(op & 3) + 1}")
            p += 1
    return " ".join(parts)


def dense_registers(value: bytes) -> list[int]:
    """Every register of a dense value, in order (PFDEBUG GETREG)."""
    return list(_unpack(value))


# -- PFSELFTEST ------------------------------------------------------------------------


def selftest(sparse_max_bytes: int) -> str | None:
    """PFSELFTEST's checks; None when they pass, else the error text (Redis's texts).

    1. Register access: random values written to every register read back,
       through the single-register accessors and the bulk unpacking.
    2. Estimates: the same elements added to a sparse and to a dense value
       agree, the sparse one stays sparse while small, and the error stays
       within 6 standard errors, at cardinalities 1, 10, ... 100000.  (Redis
       goes on to 10 million and repeats test 1 a thousand times: seconds of
       C, minutes of Python.)
    """
    rnd = random.Random()
    for _ in range(_SELFTEST_CYCLES):
        buf = bytearray(DENSE_SIZE)
        want = bytes(rnd.randrange(REGISTER_MAX + 1) for _ in range(REGISTERS))
        for i in range(REGISTERS):
            _dense_set(buf, i, want[i])
        got = _unpack(bytes(buf))
        for i in range(REGISTERS):
            val = dense_get(buf, i)
            if val != want[i] or got[i] != want[i]:
                return f"TESTFAILED Register error, counter {i} should be {want[i]} but is {val}"
    dense = SparseWriter(to_dense(new()), DENSE_SIZE)
    sparse = SparseWriter(new(), sparse_max_bytes, indexed=True)
    relerr = 1.04 / math.sqrt(REGISTERS)
    seed = rnd.getrandbits(64)
    checkpoint = 1
    for j in range(1, _SELFTEST_MAX_CARD + 1):
        index, run = position(struct.pack("<Q", j ^ seed))
        dense.set(index, run)
        sparse.set(index, run)
        if j != checkpoint:
            continue
        if j < sparse_max_bytes // 2 and sparse.is_dense:
            return "TESTFAILED sparse encoding not used"
        card = count(dense.value())
        if card != count(sparse.value()):
            return "TESTFAILED dense/sparse disagree"
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - card) > maxerr:
            return f"TESTFAILED Too big error. card:{checkpoint} abserr:{abs(checkpoint - card)}"
        checkpoint *= 10
    return None


_SELFTEST_CYCLES: Final = 2
_SELFTEST_MAX_CARD: Final = 100_000
