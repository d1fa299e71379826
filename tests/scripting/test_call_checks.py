"""redis.call's fast path never skips an in-script check (against real Redis).

A command that a script has already run unchecked (so its name is in the
engine's fast table) must still be refused, with Redis's exact error, when the
next script may not run it: EVAL_RO, a no-writes shebang, min-replicas-to-write,
maxmemory, an ACL user without the permission.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Differ

WARM = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2]) return redis.call('GET', KEYS[1])"
WRITE = "return redis.call('SET', KEYS[1], ARGV[1])"
PWRITE = "return redis.pcall('SET', KEYS[1], ARGV[1])"


@pytest.fixture
def warm(diff: Differ) -> Iterator[Differ]:
    assert diff("EVAL", WARM, 2, "k", "n", "v") == b"$1\r\nv\r\n"
    yield diff


def test_eval_ro_refuses_a_warm_write(warm: Differ) -> None:
    warm("EVAL_RO", WRITE, 1, "k", "w")
    warm("EVAL_RO", PWRITE, 1, "k", "w")
    warm("EVAL_RO", "return redis.call('GET', KEYS[1])", 1, "k")
    warm("GET", "k")


def test_no_writes_shebang_refuses_a_warm_write(warm: Differ) -> None:
    warm("EVAL", "#!lua flags=no-writes\n" + WRITE, 1, "k", "w")
    warm("EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "k")
    warm("GET", "k")


@pytest.mark.parametrize("directive", ["min-replicas-to-write", "maxmemory"])
def test_directive_refuses_a_warm_write(warm: Differ, directive: str) -> None:
    warm("CONFIG", "SET", directive, "1")
    try:
        warm("EVAL", WRITE, 1, "k", "w")
        warm("EVAL", PWRITE, 1, "k", "w")
        warm("EVAL", "return redis.call('GET', KEYS[1])", 1, "k")
    finally:
        warm("CONFIG", "SET", directive, "0")
    warm("EVAL", WRITE, 1, "k", "w")
    warm("GET", "k")


def test_acl_user_refused_a_warm_write(warm: Differ) -> None:
    warm("ACL", "SETUSER", "fastpath", "on", ">pw", "~*", "+@all", "-set")
    try:
        warm("AUTH", "fastpath", "pw")
        warm("EVAL", WRITE, 1, "k", "w")
        warm("EVAL", PWRITE, 1, "k", "w")
        warm("EVAL", "return redis.call('INCR', KEYS[1])", 1, "n")
        warm("AUTH", "default", "")
    finally:
        warm.both("AUTH", "default", "")
        warm("ACL", "DELUSER", "fastpath")
    warm("GET", "k")
    warm("GET", "n")
