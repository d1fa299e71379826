"""FUNCTION LIST's whole reply beside a real redis-server, RESP2 and RESP3.

Redis keeps libraries, and each library's functions, in dicts whose hash seed is
random per process (dictSetHashFunctionSeed at start-up): the order of libraries in
the reply, and of functions in a library, differs from one redis-server to the next.
Those two levels are compared as sets; everything else (the map keys and their order,
every element's RESP type, each function's flags in Redis's flag-table order, a
description's null) is compared as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Differ
from tests.helpers import parse_reply

LIBRARIES = (
    "#!lua name=mylib\n"
    "redis.register_function('f1', function(keys, args) return 1 end)\n"
    "redis.register_function{function_name='f2', callback=function() return 2 end,"
    " flags={'allow-stale', 'no-writes'}, description='the second'}\n"
    "redis.register_function{function_name='f3', callback=function() return 3 end, flags={'allow-oom'}}\n"
    "redis.register_function{function_name='f4', callback=function() return 4 end,"
    " flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}}\n"
    "redis.register_function{function_name='f5', callback=function() return 5 end, flags={},"
    " description=''}\n",
    "#!lua name=Other\nredis.register_function('o1', function() return 1 end)\n",
    "#!lua name=third\n"
    "redis.register_function{function_name='t1', callback=function() return 1 end,"
    " flags={'no-cluster', 'no-cluster'}, description='dup flag'}\n"
    "redis.register_function('t2', function() return 2 end)\n",
)


@pytest.fixture
def fdiff(diff: Differ) -> Iterator[Differ]:
    """``diff`` with no function libraries before and after (FLUSHALL keeps them)."""
    diff.both("FUNCTION", "FLUSH")
    yield diff
    diff.both("FUNCTION", "FLUSH")


def _pairs(items: list[Any]) -> list[tuple[Any, Any]]:
    return [(items[i], items[i + 1]) for i in range(0, len(items), 2)]


def _unordered(raw: bytes) -> Any:
    """The reply with its libraries, and each library's functions, sorted."""
    t, libraries = parse_reply(raw)
    if t != b"*":
        return parse_reply(raw)
    out = []
    for lt, fields in libraries:
        entry = []
        for key, value in _pairs(fields):
            if key == (b"$", b"functions"):
                ft, functions = value
                value = (ft, sorted(functions, key=repr))
            entry.append((key, value))
        out.append(repr((lt, entry)))
    return (t, sorted(out))


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize(
    "args",
    [
        (),
        ("WITHCODE",),
        ("LIBRARYNAME", "mylib"),
        ("LIBRARYNAME", "*LIB"),  # Redis matches the pattern ignoring case
        ("libraryname", "o?HER", "withcode"),
        ("LIBRARYNAME", "nothing*"),
        ("LIBRARYNAME", "*"),
    ],
)
def test_function_list_matches_redis(fdiff: Differ, proto: int, args: tuple[str, ...]) -> None:
    fdiff.both("HELLO", proto)
    for code in LIBRARIES:
        fdiff("FUNCTION", "LOAD", code)
    got, want = fdiff.both("FUNCTION", "LIST", *args)
    assert _unordered(got) == _unordered(want), f"moonkv {got!r} != redis {want!r}"


def test_function_list_flags_are_status_strings_in_table_order(fdiff: Differ) -> None:
    # One function per library: the whole reply is in a fixed order, byte for byte.
    fdiff(
        "FUNCTION", "LOAD",
        "#!lua name=one\nredis.register_function{function_name='f', callback=function() return 1 end,"
        " flags={'no-cluster', 'allow-oom', 'allow-cross-slot-keys', 'no-writes', 'allow-stale'}}",
    )
    reply = fdiff("FUNCTION", "LIST")
    assert b"*5\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n+allow-cross-slot-keys\r\n" in reply
    fdiff.both("HELLO", 3)
    assert b"~5\r\n+no-writes\r\n" in fdiff("FUNCTION", "LIST", "WITHCODE")


@pytest.mark.parametrize(
    "args",
    [
        ("WITHCODE", "WITHCODE"),
        ("LIBRARYNAME",),
        ("LIBRARYNAME", "a", "LIBRARYNAME", "b"),
        ("foo",),
        ("WITHCODE", "LIBRARYNAME"),
    ],
)
def test_function_list_argument_errors_match_redis(diff: Differ, args: tuple[str, ...]) -> None:
    diff("FUNCTION", "LIST", *args)
