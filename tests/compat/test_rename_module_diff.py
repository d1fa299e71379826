"""The command table's size and names beside a real redis-server: COMMAND COUNT, COMMAND
LIST/INFO of renamed commands (``rename-command``) and MODULE, which moonkv answers as a
Redis with no module loaded.

Redis keeps a container's subcommands in a dict whose hash seed is random per process, so
COMMAND INFO of a container (OBJECT, MODULE) lists them in an order two redis-servers do
not agree on: those subcommands are compared as sets, everything else byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, parse_reply, start_moonkv, start_redis

RENAMES = ["--rename-command", "get", "mynew", "--rename-command", "set", "", "--rename-command", "object", "obj"]


def _pair(args: list[str]) -> Iterator[Differ]:
    real = start_redis(args)
    try:
        mine = start_moonkv([*args, "--save", "", "--appendonly", "no"])
    except BaseException:
        real.stop()
        raise
    m, r = RawClient(mine.port), RawClient(real.port)
    try:
        yield Differ(m, r)
    finally:
        m.close()
        r.close()
        mine.stop()
        real.stop()


@pytest.fixture(scope="module")
def renamed() -> Iterator[Differ]:
    """moonkv and redis-server started with the same ``rename-command`` options."""
    yield from _pair(RENAMES)


@pytest.fixture(scope="module")
def modules_local() -> Iterator[Differ]:
    """moonkv and redis-server with ``enable-module-command local`` (this client is local)."""
    yield from _pair(["--enable-module-command", "local"])


def _info_unordered_subcommands(raw: bytes) -> object:
    t, entries = parse_reply(raw)
    out = []
    for entry in entries:
        if entry[1] is None:
            out.append(entry)
            continue
        et, fields = entry
        subs_t, subs = fields[9]
        out.append((et, fields[:9] + [(subs_t, sorted(subs, key=repr))]))
    return (t, out)


def _names(raw: bytes) -> set[bytes]:
    return {name for (_, name) in parse_reply(raw)[1]}


def test_command_count_matches_redis(diff: Differ) -> None:
    diff("COMMAND", "COUNT")
    got, want = diff.both("COMMAND", "LIST")
    mine, theirs = _names(got), _names(want)
    assert mine >= theirs  # moonkv adds subcommands of its own (SCRIPT LIST, ...)
    assert {n for n in mine if b"|" not in n} == {n for n in theirs if b"|" not in n}


@pytest.mark.parametrize(
    "args",
    [
        ("COMMAND", "COUNT"),
        ("COMMAND", "INFO", "get", "mynew", "set", "GET", "MYNEW"),
        ("COMMAND", "INFO", "obj|encoding", "object|encoding", "OBJ|FREQ"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "my*"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "get"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "set"),
        ("COMMAND", "GETKEYS", "mynew", "k"),
        ("COMMAND", "GETKEYS", "get", "k"),
        ("COMMAND", "GETKEYS", "set", "k", "v"),
        ("mynew", "k"),
        ("MYNEW", "k"),
        ("get", "k"),
        ("set", "k", "v"),
        ("obj", "encoding", "k"),
        ("object", "encoding", "k"),
        ("obj", "nosuch"),
    ],
)
def test_renamed_commands_match_redis(renamed: Differ, args: tuple[str, ...]) -> None:
    renamed(*args)


def test_renamed_container_info_matches_redis(renamed: Differ) -> None:
    got, want = renamed.both("COMMAND", "INFO", "obj", "object", "mynew")
    assert _info_unordered_subcommands(got) == _info_unordered_subcommands(want)


def test_renamed_command_list_matches_redis(renamed: Differ) -> None:
    got, want = renamed.both("COMMAND", "LIST")
    mine = {n for n in _names(got) if b"|" not in n}
    assert mine == {n for n in _names(want) if b"|" not in n}
    # Redis lists a renamed command under its own name, and a removed one not at all.
    assert {b"get", b"object", b"module"} <= mine and not {b"mynew", b"obj", b"set"} & mine
    got, want = renamed.both("COMMAND", "LIST", "FILTERBY", "PATTERN", "obj*")
    assert _names(got) == _names(want)
    assert b"object" in _names(got)


@pytest.mark.parametrize(
    "args",
    [
        ("MODULE", "LIST"),
        ("MODULE", "HELP"),
        ("MODULE", "help"),
        ("MODULE", "LOAD", "/nonexistent/module.so"),
        ("MODULE", "LOAD", "/nonexistent/module.so", "a", "b"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "CONFIG", "a", "b", "ARGS", "c"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "CONFIG", "a"),
        ("MODULE", "UNLOAD", "foo"),
        ("MODULE", "UNLOAD"),
        ("MODULE", "LOAD"),
        ("MODULE",),
        ("MODULE", "FOO"),
        ("MODULE", "LIST", "x"),
        ("MODULE", "HELP", "x"),
    ],
)
def test_module_matches_redis(diff: Differ, modules_local: Differ, args: tuple[str, ...]) -> None:
    diff(*args)  # enable-module-command no: LOAD, LOADEX and UNLOAD are refused
    modules_local(*args)


def test_module_in_multi_and_info_match_redis(diff: Differ) -> None:
    diff("MULTI")
    diff("MODULE", "LOAD", "/nonexistent/module.so")  # refused when queued
    diff("MODULE", "LIST")
    diff("EXEC")
    got, want = diff.both("COMMAND", "INFO", "module")
    assert _info_unordered_subcommands(got) == _info_unordered_subcommands(want)
