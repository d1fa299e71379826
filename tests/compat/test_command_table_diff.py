"""The command table against Redis 7.0's: every command and subcommand moonkv implements is
declared with Redis's arity, flags, legacy key range, ACL categories, tips and key
specifications (COMMAND output; tips and key specs compared exactly, in Redis's order, key specs'
notes included)."""

from __future__ import annotations

from typing import Any

import hiredis

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle, parse_reply


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


def _resp3_entries(port: int) -> dict[bytes, tuple[Any, ...]]:
    """COMMAND's entries in RESP3 with their type markers, subcommands too (a subcommand list
    is kept as its type marker and emptiness: each subcommand is an entry of its own)."""
    c = RawClient(port)
    try:
        c.call("HELLO", "3")
        raw = c.call("COMMAND")
    finally:
        c.close()
    out: dict[bytes, tuple[Any, ...]] = {}

    def walk(entry: Any) -> None:
        kind, items = entry
        sub_kind, subs = items[9]
        out[items[0][1]] = (kind, *items[:9], (sub_kind, bool(subs)))
        for sub in subs:
            walk(sub)

    for entry in parse_reply(raw)[1]:
        walk(entry)
    return out


def test_command_info_resp3_types_match_redis(
    moonkv_server: ServerHandle, redis_server: ServerHandle
) -> None:
    """In RESP3 Redis sends flags, ACL categories, tips, key specs and their flags as sets
    (``~``), and an empty subcommand list as a set: compared with the type markers."""
    mine = _resp3_entries(moonkv_server.port)
    theirs = _resp3_entries(redis_server.port)
    common = sorted(set(mine) & set(theirs))
    assert len(common) > 250
    problems = [
        f"{name.decode()}: moonkv {mine[name]} redis {theirs[name]}"
        for name in common
        if mine[name] != theirs[name]
    ]
    assert problems == [], "\n".join(problems)


# A script's view of a reply, written out with sets and maps sorted: Lua iterates a set
# whose members are tables ({ok = 'write'}) in address order, in Redis as in moonkv.
_SERIALIZE = """
local function ser(v)
  if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end
  if v.ok then return '+' .. v.ok end
  if v.err then return '-' .. v.err end
  local parts = {}
  if v.map then
    for k, x in pairs(v.map) do table.insert(parts, ser(k) .. '=' .. ser(x)) end
    table.sort(parts)
    return '%{' .. table.concat(parts, ',') .. '}'
  end
  if v.set then
    for k, x in pairs(v.set) do table.insert(parts, ser(k) .. ':' .. tostring(x)) end
    table.sort(parts)
    return '~{' .. table.concat(parts, ',') .. '}'
  end
  for i = 1, #v do parts[i] = ser(v[i]) end
  return '*[' .. table.concat(parts, ',') .. ']'
end
redis.setresp(3)
return ser(redis.call('COMMAND', unpack(ARGV)))
"""


def test_command_info_in_scripts_matches_redis(
    moonkv_server: ServerHandle, redis_server: ServerHandle, diff: Differ
) -> None:
    """What redis.call('COMMAND', ...) gives a script: RESP2 arrays of status tables (the
    reply compared byte for byte), RESP3 sets ({set = ...}) and maps, for every command and
    subcommand without subcommands of its own (a container's list is in dict order)."""
    mine = _command_table(moonkv_server.port)
    theirs = _command_table(redis_server.port)
    names = [n for n in sorted(set(mine) & set(theirs)) if not theirs[n][9]]
    assert len(names) > 250
    for name in names:
        diff("EVAL", "return redis.call('COMMAND', 'INFO', ARGV[1])", 0, name)
        diff("EVAL", _SERIALIZE, 0, "INFO", name)
    diff("EVAL", _SERIALIZE, 0, "GETKEYSANDFLAGS", "smove", "a", "b", "m")
    diff("EVAL", _SERIALIZE, 0, "GETKEYSANDFLAGS", "sort", "k", "STORE", "d")
