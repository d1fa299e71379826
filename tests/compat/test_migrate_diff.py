"""MIGRATE beside real Redis: moonkv migrating to a moonkv target and Redis to a Redis target
run the same scenario, and every reply (and what the target then holds) must be the same bytes.

(The payloads are each server's own DUMP format, so each migrates to its own kind.)
"""

from __future__ import annotations

from collections.abc import Iterator

import hiredis
import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle, start_moonkv, start_redis


@pytest.fixture(scope="module")
def targets() -> Iterator[tuple[ServerHandle, ServerHandle]]:
    """A moonkv and a redis-server to migrate to, each with a password."""
    m = start_moonkv(["--appendonly", "no", "--save", "", "--requirepass", "secret"])
    try:
        real = start_redis(["--requirepass", "secret"])
        try:
            yield m, real
        finally:
            real.stop()
    finally:
        m.stop()


def _scenario(src: RawClient, tgt: RawClient, port: int) -> list[bytes]:
    out: list[bytes] = []

    def both_sides(*args: str | int) -> None:
        out.append(src.call(*args))

    def target(*args: str | int) -> None:
        out.append(tgt.call(*args))

    p = str(port)
    target("FLUSHALL")
    both_sides("SET", "a", "1")
    both_sides("PEXPIRE", "a", "100000")
    both_sides("RPUSH", "list", "x", "y", "z")
    both_sides("HSET", "h", "f", "v")
    both_sides("MIGRATE", "127.0.0.1", p, "a", "0", "5000")  # no AUTH: the target refuses
    both_sides("EXISTS", "a")
    both_sides("MIGRATE", "127.0.0.1", p, "a", "0", "5000", "AUTH", "wrong")
    both_sides("MIGRATE", "127.0.0.1", p, "a", "0", "5000", "AUTH2", "default", "wrong")
    both_sides("MIGRATE", "127.0.0.1", p, "a", "3", "5000", "AUTH", "secret")
    both_sides("EXISTS", "a")
    target("SELECT", "3")
    target("GET", "a")
    target("PTTL", "a")
    out[-1] = b":ttl\r\n" if out[-1].startswith(b":") and int(out[-1][1:-2]) > 90000 else out[-1]
    both_sides("SET", "a", "2")
    both_sides("MIGRATE", "127.0.0.1", p, "a", "3", "5000", "AUTH", "secret")  # BUSYKEY there
    both_sides("MIGRATE", "127.0.0.1", p, "a", "3", "5000", "COPY", "REPLACE", "AUTH", "secret")
    both_sides("GET", "a")
    target("GET", "a")
    both_sides("MIGRATE", "127.0.0.1", p, "", "3", "5000", "AUTH2", "default", "secret",
               "KEYS", "list", "nosuch", "h")
    both_sides("EXISTS", "list", "h")
    target("LRANGE", "list", "0", "-1")
    target("HGETALL", "h")
    target("TTL", "list")
    both_sides("MIGRATE", "127.0.0.1", p, "", "3", "5000", "KEYS", "nosuch", "other")  # NOKEY
    both_sides("MIGRATE", "127.0.0.1", "1", "a", "0", "1000")  # nobody listens: IOERR
    both_sides("EXISTS", "a")
    target("SELECT", "0")
    return out


def test_migrate_moves_copies_and_reports_target_errors_as_redis(
        diff: Differ, targets: tuple[ServerHandle, ServerHandle]) -> None:
    mt, rt = RawClient(targets[0].port), RawClient(targets[1].port)
    try:
        for t in (mt, rt):
            assert t.call("AUTH", "secret") == b"+OK\r\n"
        mine = _scenario(diff.m, mt, targets[0].port)
        theirs = _scenario(diff.real, rt, targets[1].port)
        assert mine == theirs
    finally:
        mt.close()
        rt.close()


@pytest.mark.parametrize("args", [
    ["127.0.0.1", "1", "k", "0", "1000", "bogus"],
    ["127.0.0.1", "1", "k", "0", "1000", "AUTH"],
    ["127.0.0.1", "1", "k", "0", "1000", "AUTH2", "user"],
    ["127.0.0.1", "1", "k", "0", "1000", "KEYS", "a"],
    ["127.0.0.1", "1", "", "0", "1000", "COPY", "KEYS"],
    ["127.0.0.1", "1", "k", "0", "x"],
    ["127.0.0.1", "1", "k", "x", "1000"],
    ["127.0.0.1", "1", "k", "x", "y"],
    ["127.0.0.1", "1", "k", "0", "99999999999999999999"],
    ["127.0.0.1", "1", "nokey", "0", "0"],
    ["127.0.0.1", "1", "", "0", "0", "REPLACE", "KEYS", "nokey", "nokey2"],
    ["127.0.0.1", "1", "k", "0", "1000"],
    ["127.0.0.1", "notaport", "k", "0", "1000", "COPY"],
])
def test_migrate_argument_errors(diff: Differ, args: list[str]) -> None:
    diff("SET", "k", "v")
    diff("MIGRATE", *args)
    diff("EXISTS", "k")


@pytest.mark.parametrize("args", [
    ["MIGRATE", "h", "1", "k", "0", "1000"],
    ["MIGRATE", "h", "1", "", "0", "1000", "KEYS", "a", "b"],
    ["MIGRATE", "h", "1", "", "0", "1000", "COPY", "AUTH", "keys", "KEYS", "a"],
    ["MIGRATE", "h", "1", "", "0", "1000", "AUTH2", "u", "keys", "KEYS", "a"],
    ["MIGRATE", "h", "1", "k", "0", "1000", "KEYS", "a", "b"],
    ["MIGRATE", "h", "1", "k", "0", "1000", "REPLACE"],
])
def test_migrate_keys(diff: Differ, args: list[str]) -> None:
    diff("COMMAND", "GETKEYS", *args)
    diff("COMMAND", "GETKEYSANDFLAGS", *args)


def test_migrate_command_info(diff: Differ) -> None:
    diff("COMMAND", "INFO", "migrate")


def test_migrate_secrets_are_redacted_in_the_slow_log(diff: Differ) -> None:
    for c in (diff.m, diff.real):
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("SLOWLOG", "RESET")
    for extra in ([], ["AUTH", "user"], ["AUTH2", "user", "password"], ["COPY", "AUTH", "p", "KEYS", "x"]):
        key = "" if "KEYS" in extra else "key"
        diff("MIGRATE", "127.0.0.1", "1", key, "9", "5000", *extra)
    entries = []
    for c in (diff.m, diff.real):
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        entries.append(c.call("SLOWLOG", "GET"))
    # The arguments of each entry (ids, times and addresses differ): compare the argument lists.
    args = []
    for raw in entries:
        reader = hiredis.Reader()
        reader.feed(raw)
        args.append([e[3] for e in reader.gets()])
    assert args[0] == args[1]
    assert [b"AUTH2", b"(redacted)", b"(redacted)"] == args[0][1][-3:]


def test_migrated_keys_stay_deleted_after_a_restart(targets: tuple[ServerHandle, ServerHandle]) -> None:
    # The source logs the move as DEL of the keys the target took (a durable effect).
    src = start_moonkv([])
    try:
        c = RawClient(src.port)
        c.call("MSET", "gone", "1", "kept", "2")
        assert c.call("MIGRATE", "127.0.0.1", targets[0].port, "gone", "5", "5000", "AUTH", "secret") == b"+OK\r\n"
        c.close()
        src.stop()
        src = start_moonkv([], dir=src.dir)
        c = RawClient(src.port)
        assert c.call("EXISTS", "gone", "kept") == b":1\r\n"
        c.close()
    finally:
        src.stop()


def test_a_failed_script_keeps_the_keys_it_migrated(diff: Differ,
                                                    targets: tuple[ServerHandle, ServerHandle]) -> None:
    # moonkv's difference (docs/compatibility.md): the script is rolled back here, so the key
    # comes back; the target keeps the copy it received. A script that succeeds moves it.
    port = targets[0].port
    t = RawClient(port)
    try:
        assert t.call("AUTH", "secret") == b"+OK\r\n"
        t.call("FLUSHALL")
        diff.m.call("SET", "k", "v")
        script = "redis.call('migrate', '127.0.0.1', ARGV[1], 'k', '0', '5000', 'AUTH', 'secret') "
        got = diff.m.call("EVAL", script + "error('boom')", "0", port)
        assert got.startswith(b"-") and b"boom" in got, got
        assert diff.m.call("GET", "k") == b"$1\r\nv\r\n"
        assert t.call("GET", "k") == b"$1\r\nv\r\n"
        busy = diff.m.call("EVAL", script + "return 1", "0", port)  # the copy is there already
        assert b"Target instance replied with error: BUSYKEY" in busy, busy
        t.call("DEL", "k")
        assert diff.m.call("EVAL", script + "return 1", "0", port) == b":1\r\n"
        assert diff.m.call("EXISTS", "k") == b":0\r\n"
        assert t.call("GET", "k") == b"$1\r\nv\r\n"
    finally:
        t.close()
