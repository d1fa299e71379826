"""EVAL / EVALSHA / EVAL_RO / EVALSHA_RO and SCRIPT: front-ends of moonkv.scripting."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from moonkv.commands._util import atoi
from moonkv.commands.debug import debug_subcommand
from moonkv.commands.table import KeySpec, command, container
from moonkv.engine import SCRIPT_CACHE, Client
from moonkv.errors import RespError

if TYPE_CHECKING:  # moonkv.scripting imports the command table: no import at run time
    from moonkv.scripting._engine import ScriptEngine

_G: Final = "scripting"
# EVALSHA's key specs are EVAL's without Redis's notes (as in Redis's command files).
_EVALSHA_KEYS: Final = (KeySpec(begin=2, keynum=0, firstkey=1, step=1, flags=("RW", "ACCESS", "UPDATE")),)
_EVALSHA_RO_KEYS: Final = (KeySpec(begin=2, keynum=0, firstkey=1, step=1, flags=("RO", "ACCESS")),)
_EVAL_KEYS: Final = (replace(
    _EVALSHA_KEYS[0], notes="We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"),)
_EVAL_RO_KEYS: Final = (replace(
    _EVALSHA_RO_KEYS[0], notes="We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"),)


def _engine(c: Client) -> ScriptEngine:
    # Typed, so the native build calls the engine's methods directly.
    eng: ScriptEngine | None = c.server.scripting
    if eng is None:
        raise RespError("scripting is not available")
    return eng


@command("eval", -3, "noscript skip_monitor no_mandatory_keys stale may_replicate", runs_script=True, keys=_EVAL_KEYS,
         group=_G, since="2.6.0", summary="Executes a server-side Lua script.",
         complexity="Depends on the script that is executed.")
def eval_(c: Client, argv: list[bytes]) -> object:
    return _engine(c).eval(c, argv, by_sha=False, read_only=False)


@command("evalsha", -3, "noscript skip_monitor no_mandatory_keys stale may_replicate", runs_script=True, keys=_EVALSHA_KEYS,
         group=_G, since="2.6.0", summary="Executes a server-side Lua script by SHA1 digest.",
         complexity="Depends on the script that is executed.")
def evalsha(c: Client, argv: list[bytes]) -> object:
    return _engine(c).eval(c, argv, by_sha=True, read_only=False)


@command("eval_ro", -3, "readonly noscript skip_monitor no_mandatory_keys stale", runs_script=True, keys=_EVAL_RO_KEYS,
         group=_G, since="7.0.0", summary="Executes a read-only server-side Lua script.",
         complexity="Depends on the script that is executed.")
def eval_ro(c: Client, argv: list[bytes]) -> object:
    return _engine(c).eval(c, argv, by_sha=False, read_only=True)


@command("evalsha_ro", -3, "readonly noscript skip_monitor no_mandatory_keys stale", runs_script=True, keys=_EVALSHA_RO_KEYS,
         group=_G, since="7.0.0", summary="Executes a read-only server-side Lua script by SHA1 digest.",
         complexity="Depends on the script that is executed.")
def evalsha_ro(c: Client, argv: list[bytes]) -> object:
    return _engine(c).eval(c, argv, by_sha=True, read_only=True)


container("script", group=_G, summary="A container for Lua scripts management commands.", since="2.6.0")


@command("script|load", 3, "noscript stale", tips="request_policy:all_nodes response_policy:all_succeeded", group=_G, since="2.6.0",
         summary="Loads a server-side Lua script to the script cache.",
         complexity="O(N) with N being the length in bytes of the script body.")
def script_load(c: Client, argv: list[bytes]) -> object:
    # A 4th argument "EVAL" only comes from log replay: an EVAL-created entry.
    loaded = not (len(argv) == 4 and argv[3] == b"EVAL")
    eng = _engine(c)
    sha, _ = eng.get_or_create(argv[2], loaded=loaded)
    if eng.shared is not None and loaded:  # cluster mode: on every node before the reply
        return eng.shared.script_loaded(c, sha, argv[2])
    return sha


@command("script|exists", -3, "noscript", tips="request_policy:all_shards response_policy:agg_logical_and", group=_G, since="2.6.0",
         summary="Determines whether server-side Lua scripts exist in the script cache.",
         complexity="O(N) with N being the number of scripts to check.")
def script_exists(c: Client, argv: list[bytes]) -> object:
    eng = _engine(c)
    return [1 if eng.exists(sha) else 0 for sha in argv[2:]]


@command("script|flush", -2, "noscript", tips="request_policy:all_nodes response_policy:all_succeeded", group=_G, since="2.6.0",
         summary="Removes all server-side Lua scripts from the script cache.",
         complexity="O(N) with N being the number of scripts in cache")
def script_flush(c: Client, argv: list[bytes]) -> object:
    if len(argv) > 3:
        raise RespError("SCRIPT FLUSH only support SYNC|ASYNC option")
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise RespError("SCRIPT FLUSH only support SYNC|ASYNC option")
    eng = _engine(c)
    eng.flush()
    c.server.emit(SCRIPT_CACHE, [b"SCRIPT", b"FLUSH"])  # durable and replicated (Redis: neither)
    if eng.shared is not None:  # cluster mode: on every node before the reply
        return eng.shared.scripts_flushed(c)
    return "OK"


@command("script|kill", 2, "noscript allow_busy", tips="request_policy:all_shards response_policy:one_succeeded", group=_G, since="2.6.0",
         summary="Terminates a server-side Lua script during execution.")
def script_kill(c: Client, argv: list[bytes]) -> object:
    return _engine(c).kill(is_eval=True)


@command("script|debug", 3, "noscript", group=_G, since="3.2.0",
         summary="Sets the debug mode of server-side Lua scripts.")
def script_debug(c: Client, argv: list[bytes]) -> object:
    mode = argv[2].lower()
    if mode == b"no":
        return "OK"
    if mode in (b"yes", b"sync"):
        raise RespError("moonkv does not support the Lua debugger (SCRIPT DEBUG); use redis.log")
    raise RespError("Use SCRIPT DEBUG YES/SYNC/NO")


@command("script|list", 2, "noscript stale", group=_G, since="7.0.0",
         summary="Lists the cached scripts (moonkv extension): sha1, origin and first line.",
         complexity="O(N) with N being the number of scripts in cache")
def script_list(c: Client, argv: list[bytes]) -> object:
    out: list[object] = []
    for sha, script in _engine(c).scripts.items():
        first = script.body.split(b"\n", 1)[0][:80]
        out.append([sha, b"load" if script.loaded else b"eval", len(script.body), first])
    return out


@command("script|stats", -2, "noscript", group=_G, since="7.0.0",
         summary="Per-script statistics (moonkv extension): calls, outcomes, run times, keys written.",
         complexity="O(N) with N being the number of scripts reported")
def script_stats(c: Client, argv: list[bytes]) -> object:
    eng = _engine(c)
    return eng.stats.report([a.lower() for a in argv[2:]], list(eng.scripts), True)


@debug_subcommand("set-disable-deny-scripts", 3)  # lets scripts call noscript commands
def debug_set_disable_deny_scripts(c: Client, argv: list[bytes]) -> object:
    _engine(c).allow_noscript = atoi(argv[2]) != 0
    return "OK"


@command("script|help", 2, "loading stale", group=_G, since="5.0.0",
         summary="Returns helpful text about the different subcommands.")
def script_help(c: Client, argv: list[bytes]) -> object:
    return [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)", "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]", "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "KILL", "    Kill the currently executing Lua script.",
        "LOAD <script>", "    Load a script into the scripts cache without executing it.",
        "LIST", "    (moonkv) List cached scripts: sha1, origin (load|eval), size, first line.",
        "STATS [<sha1> ...]", "    (moonkv) Per-script statistics of the cached scripts (docs/scripting.md).",
        "HELP", "    Print this help.",
    ]

