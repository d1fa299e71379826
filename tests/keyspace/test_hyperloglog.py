"""The HyperLogLog representation: encodings, promotion, corruption, estimates, and the
commands' effects and rollback (Redis byte-compatibility is in tests/compat)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from moonkv.errors import CorruptedHllError
from moonkv.keyspace import hyperloglog as hll
from tests.helpers import RawClient, start_moonkv
from tests.inprocess import InProcessServer


def _regs(rnd: random.Random, top: int) -> bytes:
    return bytes(rnd.randrange(top + 1) for _ in range(hll.REGISTERS))


def test_empty_value_layout() -> None:
    v = hll.new()
    assert v == b"HYLL\x01" + bytes(11) + b"\x7f\xff"
    assert hll.is_hll(v) and hll.cached_count(v) == 0
    assert hll.count(v) == 0
    assert hll.decode(v) == "Z:16384"


def test_murmurhash_positions_are_in_range() -> None:
    rnd = random.Random(1)
    for n in range(40):
        index, run = hll.position(rnd.randbytes(n))
        assert 0 <= index < hll.REGISTERS and 1 <= run <= hll.Q + 1
    assert hll.murmurhash64a(b"") != hll.murmurhash64a(b"\x00")
    assert hll.murmurhash64a(b"a" * 600) != hll.murmurhash64a(b"a" * 601)  # past the block table


@pytest.mark.parametrize("top", [1, 32, 63])
def test_dense_pack_unpack_and_single_registers(top: int) -> None:
    rnd = random.Random(top)
    regs = _regs(rnd, top)
    value = hll.to_dense(hll.new())
    buf = bytearray(value)
    for i, r in enumerate(regs):
        hll._dense_set(buf, i, r)
    assert bytes(buf[hll.HEADER:]) == hll._pack(regs)
    assert hll.registers(bytes(buf)) == regs
    assert [hll.dense_get(buf, i) for i in range(hll.REGISTERS)] == list(regs)


def test_sparse_to_dense_keeps_registers_and_header() -> None:
    v = hll.add(hll.new(), [b"e%d" % i for i in range(300)], 3000)
    assert v is not None and v[4] == hll.SPARSE
    v = hll.with_count(v, 12345)
    d = hll.to_dense(v)
    assert len(d) == hll.DENSE_SIZE and d[4] == hll.DENSE
    assert d[:4] == v[:4] and d[5:16] == v[5:16]  # the cached count survives, as in Redis
    assert hll.registers(d) == hll.registers(v)
    assert hll.count(d) == hll.count(v)


def test_promotion_by_size_and_by_run() -> None:
    els = [b"e%d" % i for i in range(2000)]
    small = hll.add(hll.new(), els, 200)
    large = hll.add(hll.new(), els, 100_000)
    assert small is not None and small[4] == hll.DENSE
    assert large is not None and large[4] == hll.SPARSE and len(large) > 200
    assert hll.registers(small) == hll.registers(large)
    # A run of zeroes longer than a VAL opcode holds (p = 2^-32 per element: set directly).
    w = hll.SparseWriter(large, 100_000)
    assert w.set(77, hll.SPARSE_VAL_MAX_VALUE + 1)
    promoted = w.value()
    assert w.is_dense and promoted[4] == hll.DENSE and promoted[:4] == large[:4]
    assert hll.dense_get(promoted, 77) == hll.SPARSE_VAL_MAX_VALUE + 1


def test_add_reports_changes_and_marks_cache_stale() -> None:
    v = hll.add(hll.new(), [b"a", b"b"], 3000)
    assert v is not None and hll.cached_count(v) is None
    assert hll.add(v, [b"a", b"b"], 3000) is None
    counted = hll.with_count(v, hll.count(v))
    assert hll.cached_count(counted) == 2
    d = hll.to_dense(counted)
    assert hll.add(d, [b"a"], 3000) is None
    changed = hll.add(d, [b"c"], 3000)
    assert changed is not None and hll.cached_count(changed) is None and hll.count(changed) == 3


def test_merge_equals_register_by_register_sets() -> None:
    rnd = random.Random(5)
    for n in (5, 200, 900):
        dest = hll.add(hll.new(), [b"d%d" % rnd.randrange(10**9) for _ in range(n)], 3000)
        src = hll.add(hll.new(), [b"s%d" % rnd.randrange(10**9) for _ in range(n)], 3000)
        assert dest is not None and src is not None
        regs = bytes(max(x, y) for x, y in zip(hll.registers(dest), hll.registers(src), strict=True))
        merged = hll.merge_into(dest, hll.union(hll.planes(dest), hll.planes(src)), False, 3000)
        w = hll.SparseWriter(dest, 3000)
        for i in range(hll.REGISTERS):
            if regs[i]:
                w.set(i, regs[i])
        assert merged == hll.stale(w.value())
        assert hll.registers(merged) == regs


def _random_value(rnd: random.Random, top: int, dense: bool) -> bytes:
    """A value with random registers up to ``top``: dense, or sparse (top at most 32)."""
    regs = _regs(rnd, top)
    if dense:
        return hll.to_dense(hll.new())[:hll.HEADER] + hll._pack(regs)
    w = hll.SparseWriter(hll.new(), 1 << 20, indexed=True)
    for i, r in enumerate(regs):
        if r:
            w.set(i, r)
    assert not w.is_dense
    return w.value()


@pytest.mark.parametrize("top", [0, 1, 5, 32, 63])
def test_bit_planes_round_trip_both_encodings(top: int) -> None:
    rnd = random.Random(top)
    for dense in (True, False) if top <= 32 else (True,):
        v = _random_value(rnd, top, dense)
        p = hll._planes_of_dense(v) if dense else hll._planes_of_registers(hll.registers(v))
        assert len(p) == hll.PLANE_COUNT and all(0 <= x < 1 << hll.REGISTERS for x in p)
        assert hll.planes_registers(p) == hll.registers(v)
        if dense:
            assert hll._dense_body(p) == v[hll.HEADER:]


@pytest.mark.parametrize("seed", range(4))
def test_union_and_histogram_against_bytewise(seed: int) -> None:
    rnd = random.Random(seed)
    top = (1, 7, 32, 63)[seed]
    a = _random_value(rnd, top, True)
    b = _random_value(rnd, min(top, 32), False)
    want = bytes(max(x, y) for x, y in zip(hll.registers(a), hll.registers(b), strict=True))
    u = hll.union(hll.planes(a), hll.planes(b))
    assert hll.planes_registers(u) == want
    assert hll.histogram(u) == [want.count(v) for v in range(64)]
    assert hll.count_planes(u) == hll.estimate([want.count(v) for v in range(64)])
    assert hll.union(u, hll.NO_REGISTERS) == u == hll.union(hll.NO_REGISTERS, u)


def test_planes_cache_is_bounded_and_keyed_by_the_value_object() -> None:
    rnd = random.Random(3)
    values = [_random_value(rnd, 20, True) for _ in range(hll._CACHE_SIZE + 5)]
    for v in values:
        hll.planes(v)
    assert len(hll._cache) == hll._CACHE_SIZE
    assert id(values[0]) not in hll._cache and id(values[-1]) in hll._cache
    # An equal value that is another object is decoded again, to the same planes.
    copy = bytes(bytearray(values[-1]))
    assert copy is not values[-1] and hll.planes(copy) == hll.planes(values[-1])
    # A value about to be replaced is not remembered.
    other = _random_value(rnd, 20, True)
    hll.planes(other, keep=False)
    assert id(other) not in hll._cache


@pytest.mark.parametrize("body", [b"", b"\x7f\xfe", b"\x7f\xff\x00", b"\x7f\xff\x80", b"\x80" * 5000, b"\x7f"])
def test_corrupted_sparse_values_raise(body: bytes) -> None:
    v = b"HYLL\x01" + bytes(10) + b"\x80" + body
    assert hll.is_hll(v)
    with pytest.raises(CorruptedHllError):
        hll.registers(v)
    with pytest.raises(CorruptedHllError):
        hll.to_dense(v)
    with pytest.raises(CorruptedHllError):
        hll.count(v)


def test_add_to_a_register_past_a_short_sparse_raises() -> None:
    v = b"HYLL\x01" + bytes(10) + b"\x80" + b"\x00"  # covers register 0 only
    index, run = next(hll.position(b"%d" % i) for i in range(1000) if hll.position(b"%d" % i)[0] > 0)
    with pytest.raises(CorruptedHllError):
        hll.SparseWriter(v, 3000).set(index, min(run, 32))


@pytest.mark.parametrize("value", [b"", b"HYLL", b"HYLL\x02" + bytes(11) + b"\x7f\xff", b"HYLX\x01" + bytes(13),
                                   b"HYLL\x00" + bytes(20)])
def test_not_hyperloglogs(value: bytes) -> None:
    assert not hll.is_hll(value)


def test_estimates_track_the_truth() -> None:
    v = hll.new()
    rnd = random.Random(3)
    seen = 0
    for n in (10, 100, 1000, 10_000, 50_000):
        new = hll.add(v, [rnd.randbytes(8) for _ in range(n - seen)], 3000)
        assert new is not None
        v, seen = new, n
        assert abs(hll.count(v) - n) <= max(1, 0.05 * n)
    assert hll.selftest(3000) is None


# -- the commands: effects and rollback -------------------------------------------------


def test_effects_of_the_commands() -> None:
    s = InProcessServer()
    s("PFADD", "h", "a", "b")
    assert s.effects[-1] == (0, [b"PFADD", b"h", b"a", b"b"])
    n = len(s.effects)
    assert s("PFADD", "h", "a") == 0
    assert len(s.effects) == n  # nothing changed, nothing logged
    assert s("PFCOUNT", "h") == 2
    assert s.effects[-1] == (0, [b"PFCOUNT", b"h"])  # the cache written back, replayed as in Redis
    n = len(s.effects)
    assert s("PFCOUNT", "h") == 2
    assert len(s.effects) == n  # cached: a pure read
    s("PFMERGE", "d", "h")
    assert s.effects[-1] == (0, [b"PFMERGE", b"d", b"h"])


def test_replaying_the_effects_gives_the_same_bytes() -> None:
    s = InProcessServer()
    s("PFADD", "h", *[f"e{i}" for i in range(500)])
    s("PFCOUNT", "h")
    s("PFMERGE", "d", "h")
    s("PFDEBUG", "TODENSE", "h")
    replica = InProcessServer()
    for _, argv in s.effects:
        replica(*argv)
    assert replica.snap() == s.snap()


@pytest.mark.parametrize("cmd", [
    ("PFADD", "h", "x", "y"), ("PFADD", "new", "x"), ("PFADD", "new"), ("PFCOUNT", "h"), ("PFCOUNT", "d"),
    ("PFMERGE", "h", "d"), ("PFMERGE", "d", "h"), ("PFMERGE", "fresh", "h", "d"), ("PFDEBUG", "TODENSE", "h"),
    ("PFDEBUG", "GETREG", "h"), ("PFADD", "d", *[f"z{i}" for i in range(100)]),
])
def test_rollback_restores_every_byte(cmd: tuple[str, ...]) -> None:
    s = InProcessServer()
    s("PFADD", "h", "a", "b", "c")
    s("PFADD", "d", *[f"e{i}" for i in range(3000)])
    s("EXPIRE", "h", "1000")
    s.undone(*cmd)


def test_values_and_cached_counts_survive_a_restart(tmp_path: Path) -> None:
    # The durable log replays PFADD, PFMERGE and PFCOUNT's cache write-back to the same bytes.
    h = start_moonkv(dir=str(tmp_path))
    try:
        c = RawClient(h.port)
        c.call("PFADD", "a", *[f"e{i}" for i in range(3000)])
        c.call("PFADD", "b", "x", "y")
        c.call("PFMERGE", "m", "a", "b")
        c.call("PFCOUNT", "a")
        c.call("PFCOUNT", "m")
        before = [c.call("GET", k) for k in ("a", "b", "m")]
        c.close()
        h.proc.kill()  # no shutdown snapshot: recovery reads the log
        h.proc.wait()
        h = start_moonkv(dir=str(tmp_path))
        c = RawClient(h.port)
        assert [c.call("GET", k) for k in ("a", "b", "m")] == before
        c.close()
    finally:
        h.stop()
