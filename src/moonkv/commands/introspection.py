"""COMMAND and its subcommands: the command table, as clients and tools read it."""

from __future__ import annotations

from collections.abc import Callable

from moonkv.commands._util import glob_match
from moonkv.commands.table import CommandSpec, KeySpec, all_commands, command, lookup
from moonkv.engine import Client
from moonkv.errors import RespError, syntax_error
from moonkv.protocol import OrderedSet

_S = "server"


_RW_FLAGS = frozenset({"RW", "RO", "OW", "RM"})


def _keyspec_reply(ks: KeySpec) -> dict[bytes, object]:
    begin: dict[bytes, object]
    find: dict[bytes, object]
    if ks.unknown:
        begin = find = {b"type": b"unknown", b"spec": {}}
    else:
        if ks.keyword is not None:
            begin = {
                b"type": b"keyword",
                b"spec": {b"keyword": ks.keyword.upper(), b"startfrom": ks.startfrom},
            }
        else:
            begin = {b"type": b"index", b"spec": {b"index": ks.begin}}
        if ks.keynum is not None:
            find = {
                b"type": b"keynum",
                b"spec": {b"keynumidx": ks.keynum, b"firstkey": ks.firstkey, b"keystep": ks.step},
            }
        else:
            find = {
                b"type": b"range",
                b"spec": {b"lastkey": ks.lastkey, b"keystep": ks.step, b"limit": ks.limit},
            }
    reply: dict[bytes, object] = {b"notes": ks.notes.encode()} if ks.notes else {}
    # Status strings, as Redis: RW/RO/OW/RM upper case, the others lower case.
    reply[b"flags"] = OrderedSet([f if f in _RW_FLAGS else f.lower() for f in ks.flags])
    reply[b"begin_search"] = begin
    reply[b"find_keys"] = find
    return reply


# Categories Redis 7.0 declares that the flags and group do not imply.
_EXTRA_CATEGORIES: dict[str, tuple[str, ...]] = {
    "flushall": ("@keyspace", "@dangerous"),
    "flushdb": ("@keyspace", "@dangerous"),
    "swapdb": ("@keyspace", "@dangerous"),
    "dbsize": ("@keyspace",),
    "keys": ("@dangerous",),
    "info": ("@dangerous",),
    "restore": ("@dangerous",),
    "sort": ("@set", "@sortedset", "@list", "@dangerous"),
    "command": ("@connection",),
    "lastsave": ("@admin", "@dangerous"),
    "role": ("@admin", "@dangerous"),
    "randomkey": ("@keyspace",),
    "sort_ro": ("@set", "@sortedset", "@list", "@dangerous"),
    "asking": ("@connection",),
    "wait": ("@connection",),
    "readonly": ("@connection",),
    "readwrite": ("@connection",),
}


def _acl_categories(spec: CommandSpec) -> list[str]:
    cats = [f"@{a}" for a in spec.acl]
    f = spec.flags
    if "write" in f:
        cats.append("@write")
    if "readonly" in f and spec.group != "scripting":
        cats.append("@read")
    if "admin" in f:
        cats += ["@admin", "@dangerous"]
    if "fast" in f:
        cats.append("@fast")
    elif "slow" not in cats:
        cats.append("@slow")
    if "blocking" in f:
        cats.append("@blocking")
    if "pubsub" in f:  # the flag, not the group: PUBSUB HELP is @slow only
        cats.append("@pubsub")
    group_cat = {
        "string": "@string",
        "bitmap": "@bitmap",
        "hash": "@hash",
        "list": "@list",
        "set": "@set",
        "sorted-set": "@sortedset",
        "generic": "@keyspace",
        "connection": "@connection",
        "transactions": "@transaction",
        "scripting": "@scripting",
    }.get(spec.group)
    if spec.handler is None:  # a container: its subcommands carry the data categories
        return ["@admin", "@slow", "@dangerous"] if "admin" in spec.flags else ["@slow"]
    if group_cat and group_cat not in cats and spec.name not in ("sort", "sort_ro", "wait"):
        cats.append(group_cat)
    cats.extend(_EXTRA_CATEGORIES.get(spec.name, ()))
    if spec.parent is not None:
        cats.extend(_EXTRA_CATEGORIES.get(spec.parent.name, ()))
    uniq = list(dict.fromkeys(cats))
    # Redis lists categories in the order of its category table.
    return sorted(uniq, key=lambda c: _CATEGORY_ORDER.get(c, len(_CATEGORY_ORDER)))


_CATEGORY_ORDER = {
    c: i
    for i, c in enumerate(
        [
            "@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string",
            "@bitmap", "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow",
            "@blocking", "@dangerous", "@connection", "@transaction", "@scripting",
        ]
    )
}


def info_reply(spec: CommandSpec) -> list[object]:
    """One command's COMMAND INFO entry.  Flags, ACL categories, tips and key specs are
    RESP3 sets in Redis's order, as the subcommands are when there are none (an array
    otherwise): Redis's addReplySetLen / addReplyArrayLen choices."""
    first, last, step = spec.legacy_range()
    flags: list[object] = [f for f in _FLAG_ORDER if f in spec.flags]
    if spec.movablekeys:
        flags.append("movablekeys")
    subs = [info_reply(s) for s in spec.subcommands.values()]
    return [
        spec.name.encode(),
        spec.arity,
        OrderedSet(flags),
        first,
        last,
        step,
        OrderedSet(list[object](_acl_categories(spec))),
        OrderedSet([t.encode() for t in spec.tips]),
        OrderedSet([_keyspec_reply(k) for k in spec.keys]),
        subs if subs else OrderedSet([]),
    ]


# Redis 7.0 does not list may_replicate in COMMAND INFO (PUBLISH, PFCOUNT carry it).
_FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "allow_busy",
)


def docs_reply(spec: CommandSpec) -> dict[bytes, object]:
    d: dict[bytes, object] = {
        b"summary": spec.summary.encode(),
        b"since": spec.since.encode(),
        b"group": spec.group.encode(),
        b"complexity": spec.complexity.encode(),
    }
    if spec.subcommands:
        d[b"subcommands"] = {
            s.name.encode(): docs_reply(s) for s in spec.subcommands.values()
        }
    return d


@command("command", -1, "loading stale", tips="nondeterministic_output_order", group=_S, since="2.8.13", summary="Returns detailed information about all commands.",
         complexity="O(N) where N is the total number of Redis commands")
def command_(c: Client, argv: list[bytes]) -> object:
    # Only bare COMMAND reaches here; the executor routes COMMAND <sub> to subcommands.
    c.deferred_reply()  # Redis counts each command's ACL categories: addReplyDeferredLen
    return [info_reply(s) for s in all_commands()]


@command("command|count", 2, "loading stale", group=_S, since="2.8.13", summary="Returns a count of commands.")
def command_count(c: Client, argv: list[bytes]) -> object:
    return len(all_commands())


@command("command|info", -2, "loading stale", tips="nondeterministic_output_order", group=_S, since="2.8.13",
         summary="Returns information about one, multiple or all commands.",
         complexity="O(N) where N is the number of commands to look up")
def command_info(c: Client, argv: list[bytes]) -> object:
    c.deferred_reply()  # as COMMAND (an unknown name's null is a few bytes)
    if len(argv) == 2:
        return [info_reply(s) for s in all_commands()]
    out: list[object] = []
    for name in argv[2:]:
        spec = _lookup_full(name)
        out.append(info_reply(spec) if spec else None)
    return out


def _lookup_full(name: bytes) -> CommandSpec | None:
    if b"|" in name:
        parent, sub = name.lower().split(b"|", 1)
        p = lookup(parent)
        return p.subcommands.get(sub) if p else None
    return lookup(name)


@command("command|docs", -2, "loading stale", tips="nondeterministic_output_order", group=_S, since="7.0.0",
         summary="Returns documentary information about one, multiple or all commands.",
         complexity="O(N) where N is the number of commands to look up")
def command_docs(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 2:
        specs = all_commands()
    else:
        specs = [s for s in map(_lookup_full, argv[2:]) if s]
        c.deferred_reply()  # Redis counts the commands it finds: addReplyDeferredLen
    return {s.name.encode(): docs_reply(s) for s in specs}


@command("command|list", -2, "loading stale", tips="nondeterministic_output_order", group=_S, since="7.0.0",
         summary="Returns a list of command names.", complexity="O(N) where N is the total number of Redis commands")
def command_list(c: Client, argv: list[bytes]) -> object:
    names = _command_names(argv)
    c.deferred_reply()  # Redis counts the names as it lists them: addReplyDeferredLen
    return names


def _command_names(argv: list[bytes]) -> list[bytes]:
    """COMMAND LIST [FILTERBY ...]'s names."""
    names: list[bytes] = []
    for s in all_commands():
        names.append(s.name.encode())
        names.extend(sub.name.encode() for sub in s.subcommands.values())
    if len(argv) == 2:
        return names
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise syntax_error()
    kind, val = argv[3].lower(), argv[4]
    if kind == b"pattern":
        return [n for n in names if glob_match(val, n, nocase=True)]
    if kind == b"aclcat":
        cat = b"@" + val.lower()
        out = []
        for s in all_commands():
            for spec in [s, *s.subcommands.values()]:
                if cat.decode() in _acl_categories(spec):
                    out.append(spec.name.encode())
        return out
    if kind == b"module":
        return []
    raise syntax_error()


@command("command|getkeys", -4, "loading stale", group=_S, since="2.8.13",
         summary="Extracts the key names from an arbitrary command.",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(c: Client, argv: list[bytes]) -> object:
    return [argv[2 + pos] for pos, _ in _keys_and_flags(argv[2:])]


@command("command|getkeysandflags", -4, "loading stale", group=_S, since="7.0.0",
         summary="Extracts the key names and access flags for an arbitrary command.",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(c: Client, argv: list[bytes]) -> object:
    out: list[object] = []
    for pos, flags in _keys_and_flags(argv[2:]):
        names: list[object] = [
            f if f in _RW_FLAGS else f.lower() for f in sorted(flags, key=_KEY_FLAG_ORDER.index)
        ]
        out.append([argv[2 + pos], OrderedSet(names)])  # a RESP3 set, in Redis's order
    return out


# Key flags in the order Redis 7.0 lists them (addReplyFlagsForKeyArgs).
_KEY_FLAG_ORDER = ("RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
                   "INCOMPLETE", "VARIABLE_FLAGS")
_RW_ACCESS_UPDATE = ("RW", "ACCESS", "UPDATE")


def _set_key_flags(cmd: list[bytes]) -> tuple[str, ...]:
    """setGetKeys: SET with GET reads the old value."""
    return _RW_ACCESS_UPDATE if any(a.lower() == b"get" for a in cmd[3:]) else ("OW", "UPDATE")


def _bitfield_key_flags(cmd: list[bytes]) -> tuple[str, ...]:
    """bitfieldGetKeys: read-only when every operation is a GET (or OVERFLOW)."""
    i = 2
    n = len(cmd)
    while i < n:
        arg = cmd[i].lower()
        left = n - i - 1
        if arg == b"get" and left >= 2:
            i += 3
        elif arg == b"overflow" and left >= 1:
            i += 2
        else:
            return _RW_ACCESS_UPDATE
    return ("RO", "ACCESS")


# Commands whose key spec says VARIABLE_FLAGS: Redis asks the command for the flags.
_VARIABLE_FLAGS: dict[str, Callable[[list[bytes]], tuple[str, ...]]] = {
    "set": _set_key_flags,
    "bitfield": _bitfield_key_flags,
}


def _invalid(ks: KeySpec, cmd: list[bytes]) -> bool:
    """A key spec Redis's getKeysUsingKeySpecs rejects (then the command has no keys):
    a start past the arguments, a bad or zero key count, keys past the end."""
    if ks.keyword is not None:
        return False  # keyword not found: the spec is skipped
    n = len(cmd)
    if ks.begin >= n:
        return True
    if ks.keynum is None:
        return False
    idx = ks.begin + ks.keynum
    if idx >= n:
        return True
    try:
        num = int(cmd[idx])
    except ValueError:
        return True
    first = ks.begin + ks.firstkey
    return num <= 0 or first + (num - 1) * ks.step >= n


def _spec_for(cmd: list[bytes]) -> CommandSpec:
    """The command GETKEYS/GETKEYSANDFLAGS is asked about, checked in Redis's order."""
    spec = lookup(cmd[0])
    if spec is None:
        raise RespError("Invalid command specified")
    if spec.subcommands and len(cmd) >= 2:
        sub = spec.subcommands.get(cmd[1].lower())
        if sub is not None:
            spec = sub
    if spec.get_keys is None and all("NOT_KEY" in k.flags for k in spec.keys):
        raise RespError("The command has no key arguments")  # none, or shard channels only
    if not spec.arity_ok(len(cmd)):
        raise RespError("Invalid number of arguments specified for command")
    return spec


def _keys_and_flags(cmd: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Key positions in ``cmd`` with their flags (getKeysFromCommandWithSpecs).

    The key specs answer, unless one has variable flags (the command decides) or the
    command finds its keys itself (SORT's STORE, MIGRATE's KEYS).
    """
    spec = _spec_for(cmd)
    variable = _VARIABLE_FLAGS.get(spec.name)
    out: list[tuple[int, tuple[str, ...]]] = []
    if variable is not None:
        out = [(pos, variable(cmd)) for pos in spec.key_positions(cmd)]
    elif spec.get_keys is not None:
        # The command's own key finder: a second key of SORT is its STORE (written over);
        # every key of MIGRATE is moved away, as its first spec says (migrateGetKeys).
        later = spec.keys[0].flags if spec.name == "migrate" else ("OW", "UPDATE")
        out = [(pos, spec.keys[0].flags if i == 0 else later)
               for i, pos in enumerate(spec.get_keys(cmd))]
    elif not any(_invalid(ks, cmd) for ks in spec.keys):
        for ks in spec.keys:
            out += [(pos, ks.flags) for pos in ks.positions(cmd)]
    if not out:
        if "no_mandatory_keys" in spec.flags:
            return []
        raise RespError("Invalid arguments specified for command")
    return out


@command("command|help", 2, "loading stale", group=_S, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def command_help(c: Client, argv: list[bytes]) -> object:
    return [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
        "HELP", "    Print this help.",
    ]

