"""The command table against Redis 7.0's: every command and subcommand moonkv implements is
declared with Redis's arity, flags, legacy key range, ACL categories, tips and key
specifications (COMMAND output; tips and key specs compared exactly, in Redis's order, key specs'
notes included)."""

from __future__ import annotations

from typing import Any

import hiredis

from tests.helpers import RawClient, ServerHandle


def _command_table(port: int) -> dict[bytes, list[Any]]:
    c = RawClient(port)
    try:
        raw = c.call("COMMAND")
    finally:
        c.close()
    reader = hiredis.Reader()
    reader.feed(raw)
    out: dict[bytes, list[Any]] = {}
    for entry in reader.gets():
        out[entry[0]] = entry
        for sub in entry[9]:
            out[sub[0]] = sub
    return out


def test_command_info_matches_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    mine = _command_table(moonkv_server.port)
    theirs = _command_table(redis_server.port)
    assert len(mine) > 250
    problems = []
    for name in sorted(set(mine) & set(theirs)):
        a, b = mine[name], theirs[name]
        for idx, label in (
            (1, "arity"), (2, "flags"), (3, "first"), (4, "last"), (5, "step"), (6, "acl"), (7, "tips"),
            (8, "key specs"),
        ):
            av, bv = a[idx], b[idx]
            if label in ("flags", "acl"):
                av, bv = sorted(av), sorted(bv)
            if av != bv:
                problems.append(f"{name.decode()} {label}: moonkv {av} redis {bv}")
    assert problems == [], "\n".join(problems)
