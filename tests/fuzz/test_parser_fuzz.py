"""Fuzzing the request parser: random and mutated RESP2/RESP3/inline requests.

Oracles, for every input:

* no exception escapes ``feed``/``parse``/``parse_whole`` (a malformed request
  sets ``parser.error``, a ProtocolError with one of Redis's texts);
* the result (commands, error text, bytes left) is the same however the bytes
  are split -- whole, byte by byte, at random cut points -- and on both paths
  (hiredis fast path and pure Python), with the connection's ``parse_whole``
  tried first as it does;
* bounded memory: on a sample, tracemalloc's peak while parsing stays under a
  constant factor of the input's size.
"""

from __future__ import annotations

import random
import tracemalloc
from itertools import pairwise

from moonkv.protocol import RespParser
from tests.fuzz import requests
from tests.fuzz.budget import Run

# Every text the parser may give (the server prefixes "Protocol error: ").
PROTOCOL_ERRORS = {
    "invalid multibulk length", "invalid bulk length", "too big inline request",
    "too big mbulk count string", "too big bulk count string", "unbalanced quotes in request",
    "unauthenticated multibulk length", "unauthenticated bulk length",
}

Result = tuple[list[list[bytes]], str | None, int]

# Parsing may allocate at most this many bytes per input byte (plus a fixed
# allowance): an inline request of one-byte arguments ("a b c ...") is the
# worst case, a bytes object and a list slot (about 42 bytes) per 2 input bytes.
MEMORY_FACTOR = 32
MEMORY_SLACK = 256 * 1024


def run(chunks: list[bytes], fast: bool, auth: bool, whole_first: bool) -> Result:
    p = RespParser(use_fast_path=fast)
    p.auth_required = auth
    out: list[list[bytes]] = []
    for chunk in chunks:
        if whole_first:
            cmds = p.parse_whole(chunk)
            if cmds is not None:
                out.extend(cmds)
                continue
        p.feed(chunk)
        out.extend(p.parse())
        if p.error is not None:
            msg = p.error.message
            assert msg in PROTOCOL_ERRORS or (msg.startswith("expected '$', got '") and msg.endswith("'")), msg
            return out, msg, 0
    return out, None, p.buffered


def splits(rng: random.Random, data: bytes) -> list[list[bytes]]:
    out = [[data]]
    if len(data) <= 3000:
        out.append([data[i : i + 1] for i in range(len(data))])
    if len(data) > 1:
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 8))))
        bounds = [0, *cuts, len(data)]
        out.append([data[a:b] for a, b in pairwise(bounds)])
    return out


def check_splits(rng: random.Random) -> None:
    data = requests.stream(rng)
    auth = rng.random() < 0.15
    want = run([data], fast=False, auth=auth, whole_first=False)
    for chunks in splits(rng, data):
        for fast in (True, False):
            got = run(chunks, fast=fast, auth=auth, whole_first=fast)
            assert got == want, (
                f"input {data!r} split in {len(chunks)} chunks (fast={fast}, auth={auth}): "
                f"{got!r} != {want!r}"
            )


def test_parser_split_invariance() -> None:
    Run("parser").check(check_splits, min_cases=50)


def test_parser_memory_is_linear() -> None:
    run_ = Run("parser-memory", share=0.5)
    worst = [0.0, b""]

    def check(rng: random.Random) -> None:
        if rng.random() < 0.5:
            data = requests.stream(rng)
        else:  # many tiny arguments: the most objects per input byte
            data = rng.choice((b"a " * 20000 + b"\r\n", b"*20000\r\n" + b"$0\r\n\r\n" * 20000))
            data = requests.mutate(rng, data)
        for fast in (True, False):
            tracemalloc.start()
            try:
                run([data], fast=fast, auth=False, whole_first=fast)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak <= MEMORY_FACTOR * len(data) + MEMORY_SLACK, (
                f"{peak} bytes allocated for {len(data)} input bytes (fast={fast}): {data[:200]!r}"
            )
            ratio = peak / max(len(data), 1)
            if len(data) > 10000 and ratio > worst[0]:
                worst[:] = [ratio, data[:40]]

    run_.check(check, min_cases=10)
    print(f"worst allocation ratio (inputs > 10 kB): {worst[0]:.1f} bytes per input byte, {worst[1]!r}")
