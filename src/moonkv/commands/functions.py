"""FUNCTION and FCALL: front-ends of moonkv.scripting's function libraries."""

from __future__ import annotations

import msgpack

from moonkv.commands.table import KeySpec, command, container
from moonkv.engine import Client
from moonkv.errors import RespError
from moonkv.protocol import OrderedSet

_G = "scripting"
_FCALL_KEYS = (KeySpec(begin=2, keynum=0, firstkey=1, step=1, flags=("RW", "ACCESS", "UPDATE"),
                 notes="We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"),)
_FCALL_RO_KEYS = (KeySpec(begin=2, keynum=0, firstkey=1, step=1, flags=("RO", "ACCESS"),
                 notes="We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"),)
_DUMP_VERSION = b"MOONKV-FUNCTIONS-1"


def _subcommand_error(name: str) -> RespError:
    return RespError(f"unknown subcommand or wrong number of arguments for '{name}'. Try FUNCTION HELP.")


def _registry(c: Client):  # type: ignore[no-untyped-def]
    eng = c.server.scripting
    if eng is None or eng.functions is None:
        raise RespError("functions are not available")
    return eng.functions


def _fcall(c: Client, argv: list[bytes], read_only: bool) -> object:
    if c.server.monitors:  # shown before the commands it runs, as Redis does
        c.server.feed_monitors(c, argv)
    reg = _registry(c)
    eng = reg.engine
    fn = reg.functions.get(argv[1].lower())
    if fn is None:
        if eng.shared is not None:  # loaded on another node? (the client waits)
            return eng.shared.find_function(c, argv[1])
        raise RespError("Function not found")
    try:
        nkeys = eng.parse_numkeys(argv[2], len(argv) - 3)
    except RespError as e:
        if "integer" in str(e):
            raise RespError("Bad number of keys provided") from None
        raise
    if b"no-cluster" in fn.flags:
        eng.check_no_cluster()
    ro = b"no-writes" in fn.flags
    if read_only and not ro:
        raise RespError("Can not execute a script with write flag using *_ro command.")
    flags = {f.decode() for f in fn.flags}
    eng.check_script_flags(True, flags, ro)
    return eng.run(
        c,
        fn.callback,
        fn.name,
        nkeys,
        argv,
        is_eval=False,
        read_only=ro or read_only,
        allow_oom="allow-oom" in flags or ro,
        legacy=False,
        runtime=reg.rt,
    )


@command("fcall", -3, "noscript skip_monitor no_mandatory_keys stale may_replicate", runs_script=True, keys=_FCALL_KEYS,
         group=_G, since="7.0.0", summary="Invokes a function.", complexity="Depends on the function that is executed.")
def fcall(c: Client, argv: list[bytes]) -> object:
    return _fcall(c, argv, read_only=False)


@command("fcall_ro", -3, "readonly noscript skip_monitor no_mandatory_keys stale", runs_script=True, keys=_FCALL_RO_KEYS,
         group=_G, since="7.0.0", summary="Invokes a read-only function.",
         complexity="Depends on the function that is executed.")
def fcall_ro(c: Client, argv: list[bytes]) -> object:
    return _fcall(c, argv, read_only=True)


container("function", group=_G, summary="A container for function commands.", since="7.0.0")


@command("function|load", -3, "write denyoom noscript", tips="request_policy:all_shards response_policy:all_succeeded", group=_G, since="7.0.0",
         summary="Creates a library.", complexity="O(1) (considering compilation time is redundant)")
def function_load(c: Client, argv: list[bytes]) -> object:
    replace = False
    i = 2
    while i < len(argv) - 1:
        if argv[i].lower() == b"replace":
            replace = True
        else:
            raise RespError(f"Unknown option given: {argv[i].decode('utf-8', 'replace')}")
        i += 1
    if i != len(argv) - 1:
        raise RespError("Function code was not given")
    reg = _registry(c)
    name = reg.load(argv[-1], replace)
    c.server.ks.dirty += 1
    if reg.engine.shared is not None:  # cluster mode: on every node before the reply
        return reg.engine.shared.library_loaded(c, name)
    return name


@command("function|delete", 3, "write noscript", tips="request_policy:all_shards response_policy:all_succeeded", group=_G, since="7.0.0", summary="Deletes a library and its functions.")
def function_delete(c: Client, argv: list[bytes]) -> object:
    reg = _registry(c)
    reg.delete(argv[2])
    c.server.ks.dirty += 1
    if reg.engine.shared is not None:
        return reg.engine.shared.library_deleted(c, argv[2])
    return "OK"


@command("function|flush", -2, "write noscript", tips="request_policy:all_shards response_policy:all_succeeded", group=_G, since="7.0.0",
         summary="Deletes all libraries and functions.", complexity="O(N) where N is the number of functions deleted")
def function_flush(c: Client, argv: list[bytes]) -> object:
    if len(argv) > 3:
        raise _subcommand_error("flush")
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise RespError("FUNCTION FLUSH only supports SYNC|ASYNC option")
    reg = _registry(c)
    reg.flush()
    c.server.ks.dirty += 1
    if reg.engine.shared is not None:
        return reg.engine.shared.functions_replaced(c, flushed=True)
    return "OK"


@command("function|kill", 2, "noscript allow_busy", tips="request_policy:all_shards response_policy:one_succeeded", group=_G, since="7.0.0",
         summary="Terminates a function during execution.")
def function_kill(c: Client, argv: list[bytes]) -> object:
    return _registry(c).engine.kill(is_eval=False)


@command("function|list", -2, "noscript", tips="nondeterministic_output_order", group=_G, since="7.0.0",
         summary="Returns information about all libraries.", complexity="O(N) where N is the number of functions")
def function_list(c: Client, argv: list[bytes]) -> object:
    withcode = False
    pattern: bytes | None = None
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"withcode" and not withcode:
            withcode = True
            i += 1
        elif opt == b"libraryname" and pattern is None:
            if i + 1 >= len(argv):
                raise RespError("library name argument was not given")
            pattern = argv[i + 1]
            i += 2
        else:
            raise RespError(f"Unknown argument {argv[i].decode('utf-8', 'replace')}")
    from moonkv.commands._util import glob_match
    from moonkv.scripting._functions import FUNCTION_FLAGS

    out = []
    for lib in _registry(c).libraries.values():
        # Redis matches the pattern ignoring case (stringmatchlen with nocase).
        if pattern is not None and not glob_match(pattern, lib.name, nocase=True):
            continue
        entry: dict[bytes, object] = {
            b"library_name": lib.name,
            b"engine": b"LUA",
            b"functions": [
                {
                    b"name": f.name,
                    b"description": f.description,
                    # Status strings, in Redis's flag table order.
                    b"flags": OrderedSet([flag.decode() for flag in FUNCTION_FLAGS if flag in f.flags]),
                }
                for f in lib.functions.values()
            ],
        }
        if withcode:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@command("function|dump", 2, "noscript", group=_G, since="7.0.0",
         summary="Dumps all libraries into a serialized binary payload.", complexity="O(N) where N is the number of functions")
def function_dump(c: Client, argv: list[bytes]) -> object:
    return _DUMP_VERSION + msgpack.packb(_registry(c).dump_codes())


@command("function|restore", -3, "write denyoom noscript", tips="request_policy:all_shards response_policy:all_succeeded", group=_G, since="7.0.0",
         summary="Restores all libraries from a payload.", complexity="O(N) where N is the number of functions on the payload")
def function_restore(c: Client, argv: list[bytes]) -> object:
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise RespError("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    elif len(argv) > 4:
        raise _subcommand_error("restore")
    payload = argv[2]
    if not payload.startswith(_DUMP_VERSION):
        raise RespError("payload version or checksum are wrong")
    try:
        codes = msgpack.unpackb(payload[len(_DUMP_VERSION):])
    except Exception:  # noqa: BLE001 - any malformed payload
        raise RespError("payload version or checksum are wrong") from None
    reg = _registry(c)
    if policy == b"flush":
        reg.flush()
    elif policy == b"append":
        from moonkv.scripting._shebang import parse_shebang

        for code in codes:
            _, _, opts, _ = parse_shebang(code, for_library=True)
            if opts.get("name", "").encode() in reg.libraries:
                raise RespError(f"Library {opts['name']} already exists")
    for code in codes:
        reg.load(code, replace=True)
    c.server.ks.dirty += 1
    if reg.engine.shared is not None:
        return reg.engine.shared.functions_replaced(c, flushed=policy == b"flush")
    return "OK"


@command("function|stats", 2, "noscript allow_busy", tips="nondeterministic_output request_policy:all_shards response_policy:special", group=_G, since="7.0.0",
         summary="Returns information about a function during execution.")
def function_stats(c: Client, argv: list[bytes]) -> object:
    reg = _registry(c)
    run = reg.engine.running
    running = None
    if run is not None:
        import time

        running = {
            b"name": run.name,
            b"command": list(run.command),
            b"duration_ms": int((time.monotonic() - run.start) * 1000),
        }
    return {
        b"running_script": running,
        b"engines": {b"LUA": {b"libraries_count": len(reg.libraries), b"functions_count": len(reg.functions)}},
    }


@command("function|callstats", -2, "noscript", group=_G, since="7.0.0",
         summary="Per-function statistics (moonkv extension): calls, outcomes, run times, keys written.",
         complexity="O(N) with N being the number of functions reported")
def function_callstats(c: Client, argv: list[bytes]) -> object:
    reg = _registry(c)
    return reg.engine.stats.report(list(argv[2:]), list(reg.functions), False)


@command("function|help", 2, "loading stale", group=_G, since="7.0.0", summary="Returns helpful text about the different subcommands.")
def function_help(c: Client, argv: list[bytes]) -> object:
    return [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>", "DELETE <LIBRARY NAME>", "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "FLUSH [ASYNC|SYNC]", "KILL", "STATS", "CALLSTATS [<FUNCTION NAME> ...]", "DUMP", "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]", "HELP",
    ]
