"""CONFIG SET/GET with several parameters against real Redis: errors, order, rollback."""

from __future__ import annotations

import hiredis
import pytest

from tests.conftest import Differ

BAD_SETS = [
    ["maxmemory-clients", "200%"],
    ["maxmemory-clients", "-5%"],
    ["maxmemory-clients", "1.5%"],
    ["maxmemory-clients", "x"],
    ["MAXMEMORY-clients", "200%"],  # a bad value is reported by the directive's own name
    ["maxmemory", "10%"],
    ["maxmemory", "-5"],  # memory values take no sign
    ["hash-max-listpack-value", "-1"],
    ["hash-max-listpack-value", "abc"],
    ["maxmemory", "1", "maxmemory-clients", "200%", "nosuch", "2"],  # names first
    ["maxmemory", "1", "nosuch", "2", "databases", "3"],
    ["maxmemory", "1", "databases", "3", "nosuch", "2"],
    ["maxmemory-clients", "1", "MAXMEMORY-CLIENTS", "2"],
    ["maxmemory", "1", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid"],
    ["maxmemory", "1", "client-query-buffer-limit", "invalid", "maxmemory-clients", "200%"],
]


@pytest.mark.parametrize("args", BAD_SETS, ids=lambda a: " ".join(a))
def test_config_set_errors_and_rollback(diff: Differ, args: list[str]) -> None:
    for name in ("maxmemory", "maxmemory-clients", "client-query-buffer-limit"):
        diff("CONFIG", "GET", name)
    diff("CONFIG", "SET", *args)
    for name in ("maxmemory", "maxmemory-clients", "client-query-buffer-limit"):
        diff("CONFIG", "GET", name)  # nothing changed


def test_listpack_values_are_memory_values(diff: Differ) -> None:
    for name in ("hash-max-listpack-value", "zset-max-ziplist-value"):
        diff("CONFIG", "SET", name, "1kb")
        diff("CONFIG", "GET", name)
        diff("CONFIG", "SET", name, "64")


def test_config_set_several(diff: Differ) -> None:
    diff("CONFIG", "SET", "maxmemory-clients", "10%", "maxmemory", "10000001", "save", "3000 5")
    for name in ("maxmemory-clients", "maxmemory", "save"):  # (several: Redis's dict order)
        diff("CONFIG", "GET", name)
    diff("CONFIG", "SET", "maxmemory-clients", "0%")
    diff("CONFIG", "GET", "maxmemory-clients")
    diff("CONFIG", "SET", "maxmemory-clients", "0", "maxmemory", "0", "save", "")


def _pairs(reply: bytes) -> set[tuple[bytes, bytes]]:
    """CONFIG GET's name/value pairs (RESP2), as a set: Redis answers in its dict's order."""
    reader = hiredis.Reader()
    reader.feed(reply)
    flat = reader.gets()
    return set(zip(flat[::2], flat[1::2], strict=True))


@pytest.mark.parametrize("args", [
    ["key-load-delay"],  # hidden: shown when named (as named), never for a pattern
    ["KEY-Load-Delay"],
    ["key-load-*"],
    ["key-load-dela?"],
    ["maxmemory", "MAXMEMORY", "maxmem*"],  # each directive once, whatever its case
    ["maxmemory", "maxmemory*", "bind", "*of"],  # names and aliases: replicaof and slaveof
    ["slaveof"],
    ["REPLICAOF", "slaveof"],
], ids=lambda a: " ".join(a))
def test_config_get_names_patterns_hidden_and_aliases(diff: Differ, args: list[str]) -> None:
    m, real = diff.both("CONFIG", "GET", *args)
    assert _pairs(m) == _pairs(real)


def test_hidden_directive_is_settable(diff: Differ) -> None:
    diff("CONFIG", "SET", "key-load-delay", "99999999999")
    diff("CONFIG", "SET", "key-load-delay", "x")
    diff("CONFIG", "SET", "key-load-delay", "-50")
    diff("CONFIG", "GET", "key-load-delay")
    diff("CONFIG", "SET", "key-load-delay", "0")
    diff("CONFIG", "SET", "replicaof", "")


def test_replicaof_shows_the_primary_followed(diff: Differ) -> None:
    try:
        diff("REPLICAOF", "127.0.0.1", "1")  # nobody listens there: the link keeps failing
        diff("CONFIG", "GET", "replicaof")
        diff("CONFIG", "GET", "SLAVEOF")
    finally:
        diff("REPLICAOF", "NO", "ONE")
    diff("CONFIG", "GET", "replicaof")


def test_repl_diskless_sync_delay_is_accepted(diff: Differ) -> None:
    """Accepted and shown as Redis (integration/redis-cli's "Connecting as a replica" sets it);
    moonkv's full syncs always go through a snapshot file."""
    diff("CONFIG", "GET", "repl-diskless-sync-delay")
    diff("CONFIG", "SET", "repl-diskless-sync-delay", "-1")
    diff("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    diff("CONFIG", "GET", "repl-diskless-sync-delay")
    diff("CONFIG", "SET", "repl-diskless-sync-delay", "5")


# Out of range, or not numbers as Redis reads them (string2ll, memtoull), for C's int, unsigned
# int, long long and unsigned long long alike.
NUMBERS = ["-1", "-2147483649", "2147483648", "4294967296", "9223372036854775808",
           "18446744073709551616", "-9223372036854775809", "007", "-0", "+5", " 5", "5 ", "1.5", "x",
           "", "1kb", "-1kb", "99999999999999999999gb"]
# moonkv's own bound where Redis's would not do: a cluster node's timeout is its etcd lease.
OWN_MINIMUM = {"cluster-node-timeout": "1"}
# Values in range that Redis would act on at length: room for 2**31 clients.
NOT_SENT = {("maxclients", "2147483648")}


def test_numeric_directives_refuse_as_redis(diff: Differ) -> None:
    from moonkv.engine import DIRECTIVES

    names = [d.name for d in DIRECTIVES if d.kind in ("int", "memory", "percent-memory")]
    shared = [n for n in names if diff.real.call("CONFIG", "GET", n) != b"*0\r\n"]
    assert len(shared) > 40, shared
    before = {n: (diff.m.call("CONFIG", "GET", n), diff.real.call("CONFIG", "GET", n)) for n in shared}
    try:
        for name in shared:
            refused = 0
            for value in NUMBERS:
                if (name, value) in NOT_SENT:
                    continue
                want = diff.real.call("CONFIG", "SET", name, value)
                if want == b"+OK\r\n":  # in range: Redis took it (put back below)
                    diff.real.call("CONFIG", "SET", name, _value(before[name][1]))
                    continue
                refused += 1
                got = diff.m.call("CONFIG", "SET", name, value)
                if name in OWN_MINIMUM and value.startswith("-") and b"between" in want:
                    assert got == want.replace(b"between 0 ", b"between %s " % OWN_MINIMUM[name].encode())
                else:
                    assert got == want, (name, value, got, want)
            assert refused >= 3, name
        # hz: any value from 0 to INT_MAX, kept between 1 and 500.
        for value in ("0", "501", "7"):
            diff("CONFIG", "SET", "hz", value)
            diff("CONFIG", "GET", "hz")
    finally:
        for name, (m, real) in before.items():
            diff.m.call("CONFIG", "SET", name, _value(m))
            diff.real.call("CONFIG", "SET", name, _value(real))
        for name, (m, real) in before.items():
            assert diff.m.call("CONFIG", "GET", name) == m, name
            assert diff.real.call("CONFIG", "GET", name) == real, name


def _value(reply: bytes) -> bytes:
    """The value in a CONFIG GET reply of one directive."""
    parsed = hiredis.Reader()
    parsed.feed(reply)
    pair = parsed.gets()
    assert isinstance(pair, list) and len(pair) == 2, reply
    return pair[1]
