from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis

# redis-py 8 retries a command after a socket timeout (5 s by default): on a
# loaded 2-core machine that re-sends non-idempotent writes. Tests want each
# command sent once, with a generous timeout.
CLIENT_OPTIONS: dict[str, object] = {
    "socket_timeout": 120,
    "retry": Retry(NoBackoff(), 0),
}


@pytest.fixture(scope="session")
def moonkv_server() -> Iterator[ServerHandle]:
    # DEBUG from loopback: tests/compat/test_strings_keys_diff.py stops the active expiry.
    h = start_moonkv(["--appendonly", "no", "--save", "", "--enable-debug-command", "local"])
    yield h
    h.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerHandle]:
    h = start_redis()
    yield h
    h.stop()


@pytest.fixture
def r(moonkv_server: ServerHandle) -> Iterator[redis.Redis]:
    client = redis.Redis(port=moonkv_server.port, **CLIENT_OPTIONS)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def rr(redis_server: ServerHandle) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, **CLIENT_OPTIONS)
    client.flushall()
    yield client
    client.close()


class Differ:
    """Sends the same command to moonkv and to real Redis and compares raw replies."""

    def __init__(self, m: RawClient, real: RawClient) -> None:
        self.m = m
        self.real = real

    def __call__(self, *args: bytes | str | int) -> bytes:
        got = self.m.call(*args)
        want = self.real.call(*args)
        assert got == want, f"{args!r}: moonkv {got!r} != redis {want!r}"
        return got

    def both(self, *args: bytes | str | int) -> tuple[bytes, bytes]:
        return self.m.call(*args), self.real.call(*args)


@pytest.fixture
def diff(moonkv_server: ServerHandle, redis_server: ServerHandle) -> Iterator[Differ]:
    m = RawClient(moonkv_server.port)
    real = RawClient(redis_server.port)
    m.call("FLUSHALL")
    real.call("FLUSHALL")
    yield Differ(m, real)
    m.close()
    real.close()


@pytest.fixture(scope="session")
def redis_debug_server() -> Iterator[ServerHandle]:
    """A redis-server that allows DEBUG (from loopback), as the shared moonkv does."""
    h = start_redis(["--enable-debug-command", "local"])
    yield h
    h.stop()


@pytest.fixture
def debug_diff(moonkv_server: ServerHandle, redis_debug_server: ServerHandle) -> Iterator[Differ]:
    m = RawClient(moonkv_server.port)
    real = RawClient(redis_debug_server.port)
    m.call("FLUSHALL")
    real.call("FLUSHALL")
    yield Differ(m, real)
    m.call("FLUSHALL")
    m.close()
    real.close()
