"""HyperLogLog against a real redis-server: replies and the raw value bytes compared.

Seeded random element streams (sparse, promoted by size and by a long run of
zeroes, dense), merges of every mix of encodings, PFCOUNT's cache, values
copied between the servers in both directions, corrupted values and errors.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import Differ


def _elements(rnd: random.Random, n: int) -> list[bytes]:
    return [b"e:%d" % rnd.randrange(10**12) for _ in range(n)]


def _add(diff: Differ, key: str, elements: list[bytes], batch: int) -> None:
    for i in range(0, len(elements), batch):
        diff("PFADD", key, *elements[i:i + batch])


@pytest.mark.parametrize("seed", range(6))
def test_random_adds_same_bytes_and_counts(diff: Differ, seed: int) -> None:
    rnd = random.Random(seed)
    for n in (1, 7, 60, 400, 1500, 5000):
        key = f"h{n}"
        _add(diff, key, _elements(rnd, n), rnd.choice((1, 3, 40)))
        diff("GET", key)
        diff("PFDEBUG", "ENCODING", key)
        diff("PFCOUNT", key)
        diff("GET", key)  # the cached count in the header
        diff("PFCOUNT", key)
        diff("PFADD", key, *_elements(rnd, 2))
        diff("GET", key)


@pytest.mark.parametrize("max_bytes", ["0", "40", "3000", "12000"])
def test_sparse_limit(diff: Differ, max_bytes: str) -> None:
    diff("CONFIG", "SET", "hll-sparse-max-bytes", max_bytes)
    try:
        rnd = random.Random(max_bytes)
        for step in range(40):
            _add(diff, "h", _elements(rnd, 50), 5)
            if step % 4 == 0:
                diff("GET", "h")
                diff("PFCOUNT", "h")
        diff("GET", "h")
    finally:
        diff("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_dense_registers_above_sparse_values(diff: Differ) -> None:
    # Registers above 32 (runs no sparse VAL holds) written into a dense value by SETRANGE.
    diff("PFADD", "dense", "a")
    diff("PFDEBUG", "TODENSE", "dense")
    for offset in (16, 100, 12303):
        diff("SETRANGE", "dense", str(offset), "\xff")
    diff("PFCOUNT", "dense")
    diff("PFADD", "sparse", "b", "c")
    diff("PFMERGE", "sparse", "dense")
    diff("GET", "sparse")
    diff("PFCOUNT", "sparse", "dense")
    diff("PFDEBUG", "GETREG", "sparse")


@pytest.mark.parametrize("seed", range(8))
def test_merges(diff: Differ, seed: int) -> None:
    rnd = random.Random(100 + seed)
    sizes = [rnd.choice((0, 1, 20, 300, 1200, 6000)) for _ in range(rnd.randint(1, 4))]
    sources = []
    for i, n in enumerate(sizes):
        if n:
            _add(diff, f"s{i}", _elements(rnd, n), 500)
        sources.append(f"s{i}")
    if rnd.random() < 0.6:
        _add(diff, "d", _elements(rnd, rnd.choice((1, 100, 2500))), 500)
        if rnd.random() < 0.5:
            diff("PFCOUNT", "d")
    diff("PFMERGE", "d", *sources)
    diff("GET", "d")
    diff("PFCOUNT", "d")
    diff("PFCOUNT", *sources)
    diff("PFCOUNT", "d", *sources, "missing")
    diff("PFMERGE", "d")
    diff("GET", "d")
    diff("PFMERGE", "fresh")
    diff("GET", "fresh")


def test_values_copied_between_servers(diff: Differ) -> None:
    # GET/SET carries the bytes; DUMP/RESTORE payloads are each server's own format
    # (docs/compatibility.md), so RESTORE carries values between two moonkvs only.
    rnd = random.Random(7)
    for n in (3, 900, 8000):
        for src, dst in ((diff.real, diff.m), (diff.m, diff.real)):
            key = f"k{n}"
            els = _elements(rnd, n)
            for i in range(0, n, 200):
                src.call("PFADD", key, *els[i:i + 200])
            raw = src.call("GET", key)
            value = raw[raw.index(b"\r\n") + 2:-2]
            assert dst.call("SET", key, value) == b"+OK\r\n"
            diff("PFCOUNT", key)
            diff("GET", key)
            diff("PFADD", key, "x", "y")
            diff("GET", key)


def test_errors_and_debug(diff: Differ) -> None:
    diff("SET", "s", "hello")
    diff("RPUSH", "l", "a")
    for cmd in (("PFADD", "s", "a"), ("PFADD", "l", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "l"), ("PFCOUNT", "x", "s"),
                ("PFMERGE", "d", "s"), ("PFMERGE", "l"), ("PFMERGE", "s", "x"), ("PFDEBUG", "GETREG", "s"),
                ("PFDEBUG", "GETREG", "nokey"), ("PFDEBUG", "nosuch", "s"), ("PFADD",), ("PFCOUNT",), ("PFMERGE",),
                ("PFDEBUG", "GETREG"), ("PFDEBUG", "GETREG", "a", "b"), ("PFSELFTEST", "x")):
        diff(*cmd)
    diff("PFADD", "h", "a", "b", "c")
    diff("PFADD", "h")
    diff("PFADD", "new")
    diff("GET", "new")
    diff("PFDEBUG", "DECODE", "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFDEBUG", "nosuch", "h")
    diff("PFDEBUG", "GETREG", "h")  # converts to dense
    diff("GET", "h")
    diff("PFDEBUG", "DECODE", "h")
    diff("PFDEBUG", "TODENSE", "h")
    diff("PFADD", "h2", "a")
    diff("PFDEBUG", "todense", "h2")
    diff("GET", "h2")
    diff("PFSELFTEST")
    # Not HyperLogLogs: wrong magic, unknown encoding, dense of the wrong size, too short.
    for bad in (b"HYLL", b"HYLX\x01" + bytes(11) + b"\x7f\xff", b"HYLL\x02" + bytes(11) + b"\x7f\xff",
                b"HYLL\x00" + bytes(11) + bytes(100), b"HYLL\x01" + bytes(10)):
        diff("SET", "bad", bad)
        diff("PFADD", "bad", "a")
        diff("PFCOUNT", "bad")
        diff("PFCOUNT", "bad", "h")
        diff("PFMERGE", "bad")


def test_corrupted_sparse(diff: Differ) -> None:
    header = b"HYLL\x01" + bytes(10) + b"\x80"  # cache stale
    for body in (b"", b"\x7f\xfe", b"\x7f\xff\x00", b"\x7f\xff\x80", b"\xff" * 5000, b"\x7f",
                 b"\x80" * 10 + b"\x7f\xf5", b"\x3f" * 300):
        diff("SET", "c", header + body)
        diff("PFCOUNT", "c")
        diff("PFCOUNT", "c", "c")
        diff("PFMERGE", "d", "c")
        diff("PFDEBUG", "DECODE", "c")
        diff("PFDEBUG", "GETREG", "c")
        diff("GET", "c")


def test_cache_and_transactions(diff: Differ) -> None:
    diff("PFADD", "h", *[f"e{i}" for i in range(50)])
    diff("GET", "h")
    diff("MULTI")
    diff("PFCOUNT", "h")
    diff("PFADD", "h", "new")
    diff("PFCOUNT", "h")
    diff("EXEC")
    diff("GET", "h")
    diff("EVAL", "redis.call('PFADD', KEYS[1], 'x', 'y') return redis.call('PFCOUNT', KEYS[1])", "1", "h")
    diff("EVAL_RO", "return redis.call('PFCOUNT', KEYS[1])", "1", "h")
    diff("EVAL_RO", "return redis.call('PFADD', KEYS[1], 'z')", "1", "h")
    diff("GET", "h")
    diff("EXPIRE", "h", "100")
    diff("PFADD", "h", "zz", "zzz")
    diff("TTL", "h")
    diff("PFMERGE", "h", "h")
    diff("TTL", "h")


@pytest.mark.parametrize("seed", range(6))
def test_multi_key_counts_and_merges_after_every_kind_of_change(diff: Differ, seed: int) -> None:
    # PFCOUNT of several keys and PFMERGE over sparse/dense mixes while the keys keep
    # changing (moonkv remembers decoded registers per value: every change must show).
    rnd = random.Random(500 + seed)
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        n = rnd.choice((0, 1, 30, 400, 3000, 9000))
        if n:
            _add(diff, key, _elements(rnd, n), 1000)
    for _ in range(40):
        op = rnd.random()
        picked = rnd.sample(keys + ["missing"], rnd.randint(2, 4))
        if op < 0.3:
            diff("PFADD", rnd.choice(keys), *_elements(rnd, rnd.choice((1, 5, 200))))
        elif op < 0.5:
            diff("PFMERGE", *picked)
            diff("GET", picked[0])
        elif op < 0.6 and diff("PFDEBUG", "ENCODING", picked[0]) == b"+dense\r\n":
            # A register above any sparse value, or down to 0, written over the bytes.
            diff("SETRANGE", picked[0], str(16 + rnd.randrange(12288)), bytes((rnd.choice((0, 0xFF)),)))
        elif op < 0.7:
            diff("COPY", picked[0], picked[1], "REPLACE")
        elif op < 0.75:
            diff("DEL", picked[0])
        diff("PFCOUNT", *picked)
        diff("PFCOUNT", rnd.choice(keys))
    for key in keys:
        diff("GET", key)
