"""Mutated request streams over sockets, to a running moonkv and to redis-server.

Each case sends one stream on its own connection (in random chunks) to both
servers and reads what comes back until the server closes the connection or
stays idle.  Oracles: moonkv's replies are well-formed RESP; a connection it
closes ends with one of Redis's ``-ERR Protocol error: ...`` replies; the
number of replies and the protocol error (if any) are the ones redis-server
gives for the same bytes; after each batch a fresh connection gets PONG.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from tests.fuzz import requests
from tests.fuzz.budget import Run
from tests.helpers import ServerHandle, start_moonkv, start_redis

BATCH = 12
IDLE = 0.4  # seconds without data after which a connection is considered done


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerHandle, ServerHandle]]:
    m = start_moonkv(["--appendonly", "no", "--save", ""])
    try:
        r = start_redis()
    except BaseException:
        m.stop()
        raise
    try:
        yield m, r
    finally:
        m.stop()
        r.stop()


def replies(data: bytes) -> tuple[list[bytes], bytes]:
    """Split RESP2 replies; returns (complete replies, incomplete rest)."""
    out: list[bytes] = []
    pos = 0

    def one(p: int) -> int:
        nl = data.find(b"\r\n", p)
        if nl < 0:
            return -1
        t = data[p : p + 1]
        if t in (b"+", b"-", b":"):
            return nl + 2
        n = int(data[p + 1 : nl])
        if t == b"$":
            if n < 0:
                return nl + 2
            return nl + 2 + n + 2 if nl + 2 + n + 2 <= len(data) else -1
        assert t == b"*", f"not a RESP2 reply: {data[p:p + 40]!r}"
        q = nl + 2
        for _ in range(max(n, 0)):
            q = one(q)
            if q < 0:
                return -1
        return q

    while pos < len(data):
        end = one(pos)
        if end < 0:
            break
        out.append(data[pos:end])
        pos = end
    return out, data[pos:]


def exchange(port: int, streams: list[tuple[bytes, list[int]]]) -> list[tuple[list[bytes], bool]]:
    """Send each stream on its own connection; (replies, closed by the server) for each."""
    socks = []
    for data, cuts in streams:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        bounds = [0, *cuts, len(data)]
        for a, b in pairwise(bounds):
            try:
                s.sendall(data[a:b])
            except OSError:
                break  # closed after a protocol error: the rest is not read anyway
        socks.append(s)
    got = [b""] * len(socks)
    closed = [False] * len(socks)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    last = time.monotonic()
    try:
        while len(sel.get_map()) and time.monotonic() - last < IDLE:
            for key, _ in sel.select(0.05):
                i = key.data
                try:
                    chunk = socks[i].recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    got[i] += chunk
                else:
                    closed[i] = True
                    sel.unregister(socks[i])
                last = time.monotonic()
    finally:
        sel.close()
        for s in socks:
            s.close()
    out = []
    for data, c in zip(got, closed, strict=True):
        reps, rest = replies(data)
        assert not rest or not c, f"incomplete reply before close: {rest[:80]!r}"
        out.append((reps, c))
    return out


def ping(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(64) == b"+PONG\r\n"


def protocol_error(reps: list[bytes]) -> bytes | None:
    return reps[-1] if reps and reps[-1].startswith(b"-ERR Protocol error: ") else None


def test_network_streams(servers: tuple[ServerHandle, ServerHandle]) -> None:
    m, r = servers
    run = Run("network", share=0.5)
    stats = {"streams": 0, "replies": 0, "protocol errors": 0}
    for rng in run.cases(min_cases=2):
        try:
            batch = []
            for _ in range(BATCH):
                data = requests.stream(rng, 20000)
                if rng.random() < 0.08:  # beyond Redis's 64 KiB limits on inline and header lines
                    data += rng.choice((b"x", b"*1\r\n$", b"*", b"$")) + bytes([rng.choice(b"9a ")]) * 70000
                k = rng.randint(0, min(6, max(len(data) - 1, 0)))
                batch.append((data, sorted(rng.sample(range(1, len(data)), k)) if k else []))
            ours = exchange(m.port, batch)
            theirs = exchange(r.port, batch)
            for (data, _), (reps, closed), (want, want_closed) in zip(batch, ours, theirs, strict=True):
                err = protocol_error(reps)
                stats["streams"] += 1
                stats["replies"] += len(reps)
                stats["protocol errors"] += err is not None
                if closed:
                    assert err is not None, f"closed without a protocol error: {data!r} -> {reps!r}"
                assert (len(reps), err, closed) == (len(want), protocol_error(want), want_closed), (
                    f"{data!r}: moonkv {reps!r} closed={closed}, redis {want!r} closed={want_closed}"
                )
            ping(m.port)
        except Exception as e:
            raise AssertionError(f"{run.reproduce()}\n{type(e).__name__}: {e}\n{m.read_log()[-3000:]}") from e
    assert m.proc.poll() is None
    print(f"fuzz network: {stats}")
