"""The scripting engine: EVAL and FCALL as transactional, budgeted units.

A script runs against the live keyspace, so it reads its own writes, while
the keyspace's undo log records how to reverse every change it makes.  On
success the script's effects stay in the executor's unit and are committed
(one durable record) when the command ends; on any failure (Lua error, a
raised ``redis.call`` error, a budget exceeded, SCRIPT KILL, out of memory)
the undo log is replayed backwards and the effects, WATCH notifications and
blocked-client wake-ups the script produced are dropped.

Budgets: a Lua count hook asks :meth:`ScriptEngine._hook` every
``HOOK_INTERVAL`` VM instructions whether to stop (SCRIPT KILL, or
``lua-kill-time-limit``, 0 = off).  Past ``lua-time-limit`` the network
layer's watchdog thread (:meth:`ScriptEngine.check_busy`) turns the server
busy, so other clients get -BUSY and SCRIPT KILL / FUNCTION KILL / SHUTDOWN
NOSAVE are served while the script runs.  Memory is
capped per runtime with lupa's ``max_memory`` (``lua-memory-limit``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from lupa.lua51 import LuaError, LuaMemoryError

from moonkv.commands._util import parse_int
from moonkv.commands.table import CommandSpec, lookup
from moonkv.engine import MASTERDOWN, SCRIPT_CACHE, Client, Server
from moonkv.errors import NoScriptError, RespError
from moonkv.keyspace.memory import bytes_size
from moonkv.monitoring import record
from moonkv.protocol import NULL_ARRAY, BigNumber, OrderedSet, RawReply, Verbatim
from moonkv.scripting._runtime import ROOM_RESERVE, LuaRuntime
from moonkv.scripting._shebang import parse_shebang
from moonkv.scripting._source import protect_tail_returns
from moonkv.scripting._stats import (
    ERROR_REPLY,
    FAILED,
    KILLED,
    MEMORY_BUDGET,
    TIME_BUDGET,
    ScriptStats,
    StatsTable,
)

log: Final = logging.getLogger("moonkv.scripting")

KILLED_MSG: Final = "Script killed by user with SCRIPT KILL..."
# kill_message of a run aborted because a value for Lua did not fit under the cap.
OOM_MSG: Final = "not enough memory"
FN_KILLED_MSG: Final = "Script killed by user with FUNCTION KILL..."


_monotonic: Final = time.monotonic  # a static in the native build (no attribute lookup)
_E17: Final = 10**17
# A value for Lua larger than this is checked against the cap before it goes
# (smaller ones fit in what prelude's room check leaves free: ROOM_RESERVE).
_BIG: Final = ROOM_RESERVE // 2
# An array reply of at most this many strings and integers travels to Lua
# as plain values (see _flat_array).
_FLAT_MAX: Final = 1000


def _numbers_as_bytes(argv: list[Any], start: int) -> list[bytes] | None:
    """redis.call's arguments from ``start`` on as strings (Lua numbers formatted
    as Redis does, ``%.17g``); None if one is neither a string nor a number."""
    i = start
    for a in argv[start:] if start else argv:
        t = type(a)
        if t is not bytes:
            if t is int and -_E17 < a < _E17:  # lupa gives integral numbers as int
                argv[i] = str(a).encode()  # what %.17g prints for it, 4x faster
            elif t is int or t is float:
                argv[i] = b"%.17g" % a
            else:
                return None
        i += 1
    return argv


def _flat_size(items: tuple[object, ...]) -> int:
    """About what a short array reply takes in Lua (its strings and the table)."""
    n = 32 * len(items)
    for x in items:
        if type(x) is bytes:
            n += len(x)  # type: ignore[arg-type]
    return n


def _flat_array(items: list[object], resp: int) -> tuple[object, ...] | None:
    """A short array of strings and integers (nulls: false in RESP2) as the
    values from which prelude's caller() makes the Lua table: ``{pyitems()}``
    costs a fraction of lupa's table_from (an ABC Mapping check, then one Lua
    API call per item) or of a call into Lua.  None for anything else."""
    if len(items) > _FLAT_MAX:
        return None
    nulls = False
    for x in items:
        tx = type(x)
        if tx is not bytes and tx is not int:
            if x is not None or resp != 2:
                return None
            nulls = True
    return tuple([False if x is None else x for x in items]) if nulls else tuple(items)


class ScriptCallError(Exception):
    """Raised into Lua by redis.call; its text is the Redis error line."""


class _ArgError(RespError):
    """An error in the arguments of redis.call/pcall (not counted in the error stats)."""

    def __init__(self, text: str) -> None:
        super().__init__(full=text)


_NO_FAST: Final[dict[bytes, CommandSpec]] = {}  # no redis.call fast path (an ACL user calls, or no script runs)


def sha1hex(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


@dataclass
class Script:
    body: bytes
    fn: Any  # compiled Lua function
    flags: set[str]
    has_shebang: bool
    loaded: bool  # from SCRIPT LOAD (kept) rather than EVAL (bounded, LRU)

    def __post_init__(self) -> None:
        # What every run needs from the flags, decided once.
        self.no_writes = "no-writes" in self.flags
        self.allow_oom = "allow-oom" in self.flags



def _entry_size(body: bytes) -> int:
    """A cache entry's memory: the body, its sha, the Script object and its dict slot."""
    return bytes_size(len(body)) + 256

class RunState:
    """The script being executed (at most one at a time).

    Only :meth:`ScriptEngine.run` creates one, and fills every field itself:
    a class with an ``__init__`` costs about 1k more instructions per call,
    a few percent of a short EVALSHA.
    """

    __slots__ = (
        "caller", "command", "name", "is_eval", "read_only", "allow_oom", "legacy", "start",
        "kill_message", "busy", "undo", "rt", "slot",
    )

    caller: Client
    command: list[bytes]  # the caller's EVAL/FCALL request
    name: bytes  # sha for EVAL, function name for FCALL
    is_eval: bool
    read_only: bool
    allow_oom: bool
    legacy: bool  # no shebang: per-command OOM/replica checks
    start: float
    kill_message: str | None
    busy: bool
    undo: list[Callable[[], None]]
    rt: LuaRuntime  # EVAL's runtime, or FUNCTION's for FCALL
    # Cluster mode: the slot the script is bound to (-1: none yet; -2: any local slot), set by the cluster
    # check at the run's first keyed call (run() leaves it unset: standalone pays nothing).
    slot: int


def _stopped_by(run: RunState, message: object) -> int:
    """How a failed run ended (scripting._stats). A function of its own: ``run`` sets
    ``run.kill_message = None`` at its start, and mypy keeps that attribute narrowed to
    None through the rest of ``run``, so the compiled build raised "None object expected"
    when a kill had set it since."""
    if message == b"not enough memory":
        return MEMORY_BUDGET
    stop = run.kill_message
    if stop is None:
        return FAILED
    if stop == OOM_MSG:
        return MEMORY_BUDGET
    if stop == KILLED_MSG or stop == FN_KILLED_MSG:
        return KILLED
    return TIME_BUDGET


# What DEBUG SET-DISABLE-DENY-SCRIPTS still refuses: commands that would start a script or
# change what the script's own client is (a transaction, a subscription, a replica, MONITOR).
# Redis lets them through and asserts or misbehaves; the flag exists for DEBUG's sake.
_NOSCRIPT_ALWAYS_GROUPS: Final = frozenset({"scripting", "transactions", "pubsub"})
_NOSCRIPT_ALWAYS_NAMES: Final = frozenset({"monitor", "sync", "psync"})


def _may_bypass_noscript(spec: CommandSpec) -> bool:
    top = spec.parent or spec
    return top.group not in _NOSCRIPT_ALWAYS_GROUPS and top.name not in _NOSCRIPT_ALWAYS_NAMES


class ScriptEngine:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.config = server.config
        self.scripts: dict[bytes, Script] = {}
        # EVAL-created entries (bounded by lua-eval-cache-size), least recently
        # used first; SCRIPT LOAD entries are kept and not listed here.
        self._lru: OrderedDict[bytes, None] = OrderedDict()
        self.running: RunState | None = None
        # Guards running/busy between the event loop thread and the network
        # layer's watchdog thread, which declares a script busy.
        self.lock = threading.Lock()
        self.client = Client(server)
        self.client.in_script = True
        self.client.authenticated = True
        self.on_busy: Callable[[RunState], None] | None = None
        self.on_busy_end: Callable[[RunState], None] | None = None
        self.functions: Any = None  # FunctionRegistry, attached by moonkv.scripting
        # The cluster-wide registry of scripts and libraries (moonkv.cluster._shared),
        # attached by the listener in cluster mode with etcd; None otherwise.
        self.shared: Any = None
        # Cluster mode's check of each redis.call (moonkv.cluster._script_slots.ScriptSlots),
        # attached by the assembler; None in standalone mode. With it the fast-path tables
        # stay empty (see _dispatch), so every call of every run is checked.
        self.cluster_check: Any = None
        self.load_deadline: float | None = None  # a library's load code must finish by then
        # DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged noscript
        # (Redis's test suite calls DEBUG from scripts), except those that run a script.
        self.allow_noscript = False
        self.evictions = 0
        self.stats = StatsTable()  # per-script statistics (SCRIPT STATS)
        # The statistics of the last run: the slow log's note on EVAL/FCALL
        # entries (slowlog_note).  Not the RunState: its undo log would stay alive.
        self.last_stats: ScriptStats | None = None
        # The last run's statistics until Server.call hands them its duration (ran): the
        # command's time as commandstats measures it, so a run reads no clock of its own.
        self.untimed: ScriptStats | None = None
        self.cache_bytes = 0  # the cached bodies and entries (INFO used_memory_scripts_eval)
        # Directives redis.call consults on every write, kept as attributes.
        self._maxmemory = self.config["maxmemory"]
        # Command names as scripts spell them -> specs that need no
        # subcommand resolution and may run from scripts, filled as scripts
        # name them: every one (_plain) and those that cannot write (_plain_ro).
        # Each run picks the table its redis.call fast path may use (_fast).
        self._plain: dict[bytes, CommandSpec] = {}
        self._plain_ro: dict[bytes, CommandSpec] = {}
        self._fast: dict[bytes, CommandSpec] = _NO_FAST
        self._items: tuple[object, ...] = ()  # a short array reply on its way to Lua
        self._call_raise = self._caller(protected=False)
        self._call_protected = self._caller(protected=True)
        self.rt = self.new_runtime()
        server.config.on_change(self._config_changed)

    # -- runtime -------------------------------------------------------------

    def new_runtime(self) -> LuaRuntime:
        """A Lua runtime whose redis.* calls come to this engine (EVAL's, FUNCTION's)."""
        call, pcall = self._call_raise, self._call_protected
        return LuaRuntime(
            call,
            pcall,
            lambda tbl, n: call(*[tbl[i] for i in range(1, n + 1)]),
            lambda tbl, n: pcall(*[tbl[i] for i in range(1, n + 1)]),
            self._take_items,
            self._acl_check,
            self._hook,
            self._log,
            sha1hex,
            self._setresp,
            self._room,
            max_memory=self.config["lua-memory-limit"],
        )

    def _config_changed(self, name: str, value: Any) -> None:
        if name == "maxmemory":
            self._maxmemory = value
        if name == "lua-memory-limit":
            self.rt.set_memory_cap(value)
            if self.functions is not None:
                self.functions.rt.set_memory_cap(value)

    def close(self) -> None:
        self.scripts.clear()
        self._lru.clear()
        self.cache_bytes = 0

    def memory_used(self) -> int:
        return self.rt.memory_used()

    def cached_count(self) -> int:
        return len(self.scripts)

    # -- the script cache ---------------------------------------------------------

    def get_or_create(self, body: bytes, *, loaded: bool) -> tuple[bytes, Script]:
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            if not script.loaded:
                if loaded:  # SCRIPT LOAD of an EVAL-created entry: kept from now on
                    script.loaded = True
                    del self._lru[sha]
                    self._persist_script(body, loaded=True)
                else:
                    self._lru.move_to_end(sha)
            return sha, script
        has_shebang, flags, _opts, source = parse_shebang(body)
        fn, err = self._compile(source, sha)
        if fn is None:
            raise RespError(f"Error compiling script (new function): {err}")
        script = Script(body, fn, flags, has_shebang, loaded)
        self.scripts[sha] = script
        self.cache_bytes += _entry_size(body)
        self._persist_script(body, loaded=loaded)
        if not loaded:
            self._lru[sha] = None
            self._evict()
        return sha, script

    def _compile(self, source: bytes, sha: bytes) -> tuple[Any, str]:
        # Compile the tail-call-safe form; if it does not compile, the
        # original's error is the one to report (its "near ..." is the user's).
        if not self.rt.room(2 * len(source)):  # the body goes to Lua outside a protected call
            return None, "user_script: not enough memory"
        try:
            fn, _err = self._load(protect_tail_returns(source))
            if fn is not None:
                return fn, ""
            fn, err = self._load(source)
        except LuaMemoryError:
            self.rt.recover_memory()
            return None, "user_script: not enough memory"
        if fn is None:
            return None, (err or b"").decode("utf-8", "replace")
        return fn, ""

    def _load(self, source: bytes) -> tuple[Any, bytes | None]:
        res = self.rt.compile_fn(source, b"@user_script")
        self.rt.tight = True  # the function takes heap: the next run checks its room
        return res if type(res) is tuple else (res, None)

    def _persist_script(self, body: bytes, *, loaded: bool) -> None:
        # The cache survives restarts through the durable log: the script body
        # is an effect of the unit that created it (before any rollback mark).
        # SCRIPT_CACHE: the stream sends it ahead of the unit's framed effects, so EVALSHA
        # works on replicas (Redis 7.0 does not replicate its cache).
        eff = [b"SCRIPT", b"LOAD", body]
        if not loaded:
            eff.append(b"EVAL")  # internal marker: an EVAL-created (bounded) entry
        self.server.emit(SCRIPT_CACHE, eff)

    def _evict(self) -> None:
        lru = self._lru
        limit = self.config["lua-eval-cache-size"]
        while len(lru) > limit:
            sha, _ = lru.popitem(last=False)
            self.cache_bytes -= _entry_size(self.scripts.pop(sha).body)
            self.evictions += 1
            if self.shared is not None:  # the cluster's copy goes too (it stays bounded)
                self.shared.evicted(sha)

    def forget(self, sha: bytes) -> None:
        """Drop one script (the cluster registry's deletion of it)."""
        script = self.scripts.pop(sha, None)
        if script is not None:
            self._lru.pop(sha, None)
            self.cache_bytes -= _entry_size(script.body)

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a fresh Lua VM."""
        self.scripts.clear()
        self._lru.clear()
        self.cache_bytes = 0
        self.rt = self.new_runtime()

    def exists(self, sha: bytes) -> bool:
        return sha.lower() in self.scripts

    def snapshot_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            # Kept entries, then EVAL entries in LRU order (restored in that order).
            "scripts": [[s.body, True] for s in self.scripts.values() if s.loaded]
            + [[self.scripts[sha].body, False] for sha in self._lru],
        }
        if self.functions is not None:
            state["functions"] = self.functions.dump_codes()
        return state

    def restore_state(self, state: dict[str, Any]) -> None:
        for body, loaded in state.get("scripts", []):
            sha = sha1hex(body)
            if sha in self.scripts:
                continue
            has_shebang, flags, _o, source = parse_shebang(body)
            fn, _err = self._compile(source, sha)
            if fn is not None:
                self.scripts[sha] = Script(body, fn, flags, has_shebang, bool(loaded))
                self.cache_bytes += _entry_size(body)
                if not loaded:
                    self._lru[sha] = None
        self._evict()
        if self.functions is not None:
            for code in state.get("functions", []):
                self.functions.load(code, replace=True)

    # -- EVAL / EVALSHA ---------------------------------------------------------

    def eval(self, c: Client, argv: list[bytes], *, by_sha: bool, read_only: bool) -> object:
        if not by_sha and self.shared is not None and sha1hex(argv[1]) not in self.scripts:
            # A new script: the registry creates it, runs this EVAL and holds the
            # reply until the other nodes can have it.
            return self.shared.eval_new(c, argv, read_only)
        if self.server.monitors:  # shown before the commands it runs, as Redis does
            self.server.feed_monitors(c, argv)
        k = argv[2]
        nkeys = k[0] - 48 if len(k) == 1 else -1  # the usual single-digit key count
        if not 0 <= nkeys <= len(argv) - 3:
            nkeys = self.parse_numkeys(k, len(argv) - 3)
        if by_sha:
            sha = argv[1]
            script = self.scripts.get(sha)
            if script is None:
                sha = sha.lower()
                script = self.scripts.get(sha)
                if script is None:
                    if self.shared is not None:  # loaded on another node? (the client waits)
                        return self.shared.find_script(c, sha)
                    raise NoScriptError()
            if not script.loaded:
                self._lru.move_to_end(sha)
        else:
            sha, script = self.get_or_create(argv[1], loaded=False)
        ro = read_only or script.no_writes
        if script.has_shebang:
            if "no-cluster" in script.flags:
                self.check_no_cluster()
            if read_only and not script.no_writes:
                raise RespError("Can not execute a script with write flag using *_ro command.")
        self.check_script_flags(script.has_shebang, script.flags, ro)
        return self.run(c, script.fn, sha, nkeys, argv, True, ro, script.allow_oom or ro, not script.has_shebang)

    @staticmethod
    def parse_numkeys(raw: bytes, nargs: int) -> int:
        n = parse_int(raw)
        if n > nargs:
            raise RespError("Number of keys can't be greater than number of args")
        if n < 0:
            raise RespError("Number of keys can't be negative")
        return n

    def may_write(self, spec: CommandSpec, argv: list[bytes]) -> bool:
        """Whether an EVAL/EVALSHA/FCALL request might write (MISCONF checks, CLIENT PAUSE WRITE)."""
        name = spec.name
        if name.endswith("_ro"):
            return False
        if name in ("eval", "evalsha") and len(argv) > 1:
            script = self.scripts.get(argv[1].lower() if name == "evalsha" else sha1hex(argv[1]))
            if script is not None:
                return "no-writes" not in script.flags
            if name == "eval":  # not cached yet: its shebang tells, as Redis reads it
                try:
                    has_shebang, flags, _opts, _source = parse_shebang(argv[1])
                except RespError:
                    return True  # the error comes when it runs
                return not has_shebang or "no-writes" not in flags
        elif name == "fcall" and len(argv) > 1 and self.functions is not None:
            fn = self.functions.functions.get(argv[1].lower())
            if fn is not None:
                return b"no-writes" not in fn.flags
        return True

    def check_no_cluster(self) -> None:
        """A script or function flagged no-cluster, refused in cluster mode (before the *_ro check, as Redis)."""
        if self.config["cluster-enabled"]:
            raise RespError("Can not run script on cluster, 'no-cluster' flag is set.")

    def check_script_flags(self, has_shebang: bool, flags: set[str], read_only: bool) -> None:
        """Checks Redis makes before running a script (mostly one that declared flags)."""
        srv = self.server
        refusal = srv.write_refusal  # a read-only or stale replica, too few good replicas
        if not has_shebang:
            if refusal is not None and srv.stale():
                raise RespError(full=MASTERDOWN)  # as Redis's eval compatibility mode
            return
        stale = refusal is not None and srv.stale()
        if not read_only:
            if "allow-oom" not in flags and self.over_maxmemory():
                raise RespError(full="OOM command not allowed when used memory > 'maxmemory'.")
            # (A writable stale replica's refusal is MASTERDOWN, which allow-stale lifts.)
            if refusal is not None and not (refusal == MASTERDOWN and "allow-stale" in flags):
                raise RespError(full=refusal)
        if stale and "allow-stale" not in flags:
            raise RespError(full=MASTERDOWN)

    def over_maxmemory(self) -> bool:
        """Whether the check before this command found memory over maxmemory (eviction
        runs before a script, never inside it)."""
        return bool(self._maxmemory) and self.server.oom

    # -- running ------------------------------------------------------------------

    def run(
        self,
        c: Client,
        fn: Any,
        name: bytes,
        nkeys: int,
        command: list[bytes],
        is_eval: bool,
        read_only: bool,
        allow_oom: bool,
        legacy: bool,
        runtime: LuaRuntime | None = None,
    ) -> object:
        if self.running is not None:
            raise RespError("Scripts cannot be nested")
        srv = self.server
        ks = srv.ks
        rt = runtime or self.rt
        sc = self.client
        sc.db = c.db
        sc.resp = 2
        undo: list[Callable[[], None]] = []
        run = RunState()
        run.caller = c
        run.command = command
        run.name = name
        run.is_eval = is_eval
        run.read_only = read_only
        run.allow_oom = allow_oom
        run.legacy = legacy
        run.start = _monotonic()
        run.kill_message = None
        run.busy = False
        run.undo = undo
        run.rt = rt
        self.running = run
        # Which commands redis.call may run without the general checks.
        if c.acl_user is not None or (srv.write_refusal is not None and srv.stale()):
            self._fast = _NO_FAST  # (a stale replica: each call checks the stale flag)
        elif read_only or (legacy and (srv.write_refusal is not None or self._maxmemory)):
            self._fast = self._plain_ro  # writes need _write_check's per-command checks
        else:
            self._fast = self._plain
        # Everything the script does from here on can be rolled back.
        mark_effects = len(srv.effects)
        mark_touched = len(ks.touched)
        mark_flushed = len(ks.flushed)
        mark_ready = len(ks.ready)
        mark_expired = len(ks.expired_effects)
        dirty = ks.dirty
        ks.undo = undo
        outer_now = ks.frozen_ms  # (EXEC's, for a script inside a transaction)
        ks.frozen_ms = ks.clock.now_ms()
        try:
            try:
                # A fixed number of arguments spares building a list and a
                # tuple from a slice (the usual one or two key/arguments).
                n = len(command)
                r: Any
                # The arguments are pushed outside Lua's protected call: they must fit
                # (LuaRuntime.fits). After a run, prelude leaves room for small ones.
                size = 0 if n == 3 else len(command[3]) if n == 4 else sum(map(len, command))
                if (rt.tight or (size > _BIG and rt.max_memory)) and not rt.room(size + 64 * n):
                    r = (False, b"not enough memory")
                elif n == 4:
                    r = rt.run(fn, not is_eval, c.resp, nkeys, command[3])
                elif n == 5:
                    r = rt.run(fn, not is_eval, c.resp, nkeys, command[3], command[4])
                else:
                    r = rt.run(fn, not is_eval, c.resp, nkeys, *command[3:])
            except LuaMemoryError:
                r = (False, b"not enough memory")
            except LuaError as e:  # an error raised outside the protected call
                r = (False, str(e).encode())
        except BaseException:
            srv.pubsub.discard()
            raise
        finally:
            ks.undo = None
            ks.frozen_ms = outer_now
            self._fast = _NO_FAST
            self.running = None
            # The watchdog thread may be declaring this run busy right now
            # (check_busy holds the lock while it looks at self.running): let
            # it finish, then look.  Once running is None it leaves runs alone.
            if self.lock.locked():
                with self.lock:
                    pass
            if run.busy and self.on_busy_end is not None:
                self.on_busy_end(run)
        # Per-script statistics: on success one addition here, the duration in ran().
        table = self.stats.scripts if is_eval else self.stats.functions
        stats = table.get(name)
        if stats is None:
            stats = self.stats.new(name, is_eval)
        self.last_stats = self.untimed = stats
        stats.calls += 1
        # See outcome() in prelude.lua for what the Lua side returns.
        t = type(r)
        if t is not tuple or r[0] is True or r[0] == 4:
            stats.keys_written += ks.dirty - dirty
        hub = srv.pubsub
        if hub.held:  # what the script published goes out if it commits
            if t is tuple and r[0] is False:
                hub.discard()
            else:
                hub.release()
        if t is bytes or t is int:  # a string or an integer
            return r
        if r is None:  # nil
            return None
        if t is float:  # a number with a fraction (Redis truncates it)
            return int(r)
        status = r[0]
        if status is True:
            return RawReply(r[1])
        if status == 4:
            s = r[1]
            if s == b"OK":
                return "OK"
            if b"\r" in s or b"\n" in s:
                s = s.replace(b"\r", b" ").replace(b"\n", b" ")
            return RawReply(b"+%s\r\n" % s)
        if status == b"reply":
            # The script completed and returned an error reply: its writes stand
            # (raised like every error reply; nothing above rolls back).
            stats.keys_written += ks.dirty - dirty
            stats.failed(ERROR_REPLY, r[1], False)
            err = RespError(full=r[1].decode("utf-8", "surrogateescape"))
            err.no_stats = bool(r[2])  # type: ignore[attr-defined]
            raise err
        # Failure: put the keyspace back exactly as it was.
        outcome = _stopped_by(run, r[1])
        rolled_back = bool(undo)
        for fn_undo in reversed(undo):
            fn_undo()
        del srv.effects[mark_effects:]
        del ks.touched[mark_touched:]
        del ks.flushed[mark_flushed:]
        del ks.ready[mark_ready:]
        del ks.expired_effects[mark_expired:]
        rt.tight = True  # the failure's text (below) takes heap, too: the next run checks
        if outcome == MEMORY_BUDGET:  # (not run.kill_message here: see _stopped_by)
            rt.recover_memory()
            limit = self.config["lua-memory-limit"]
            msg = (
                f"Script exceeded the memory limit of {limit} bytes (lua-memory-limit); "
                "its writes were rolled back"
            )
            stats.failed(outcome, b"ERR " + msg.encode(), rolled_back)
            raise RespError(msg)
        # The text is built in Lua outside a protected call: without the cap
        # (an aborted run, too, unwound without it).
        rt.lift()
        try:
            text, nostats = rt.fail(name, r[1])
        except LuaError as e:  # e.g. an error object whose __tostring fails
            text, nostats = b"ERR " + str(e).encode(), False
        finally:
            rt.arm()
        stats.failed(outcome, text, rolled_back)
        err = RespError(full=text.decode("utf-8", "surrogateescape"))
        err.no_stats = bool(nostats)  # type: ignore[attr-defined]
        raise err

    def ran(self, ns: int) -> None:
        """Server.call measured the EVAL/FCALL that just ended: ``ns`` is the run's time
        (nothing when the command ran no script, e.g. NOSCRIPT)."""
        stats = self.untimed
        if stats is not None:
            self.untimed = None
            stats.total_ns += ns
            record(stats.latency, ns)

    def slowlog_note(self) -> bytes | None:
        """The slow log's 7th element for the EVAL/FCALL that just ran:
        ``script=<sha>`` or ``function=<name>``, and for a run that a kill or a
        budget stopped, how and at which line (docs/operations.md)."""
        st = self.last_stats
        return None if st is None else st.note()

    # -- budget hook ---------------------------------------------------------------

    def _hook(self) -> bytes | None:
        run = self.running
        if run is None:
            deadline = self.load_deadline
            if deadline is not None and _monotonic() > deadline:
                return self._abort(b"FUNCTION LOAD timeout")
            return None
        if run.kill_message is not None:
            return self._abort(run.kill_message.encode())
        elapsed_ms = (_monotonic() - run.start) * 1000
        if not run.busy and elapsed_ms > self.config["lua-time-limit"]:
            self.check_busy()
        hard = self.config["lua-kill-time-limit"]
        if hard and elapsed_ms > hard:
            run.kill_message = (
                f"Script exceeded the time limit of {hard} ms (lua-kill-time-limit) and was stopped"
            )
            return self._abort(run.kill_message.encode())
        return None

    def _running_rt(self) -> LuaRuntime:
        """The runtime running Lua code now: the script's, or FUNCTION LOAD's."""
        run = self.running
        return run.rt if run is not None else self.functions.rt  # type: ignore[no-any-return]

    def _abort(self, message: bytes) -> bytes:
        """The message that aborts the running Lua code (the hook's answer).

        It goes to Lua as a new string, outside a protected call: the cap is
        lifted first. The abort cannot be caught, so no script code runs
        without the cap; the run's end puts it back (``run``, ``FunctionRegistry``).
        """
        self._running_rt().lift()
        return message

    def _fits(self, n: int) -> bool:
        """Whether a value of about ``n`` bytes may go back to Lua from Python
        (``LuaRuntime.fits``; collects the garbage first if it does not fit at once)."""
        rt = self._running_rt()
        return not rt.max_memory or rt.fits(n) or rt.room(n)

    def _room(self, settle: bool = False) -> bool:
        """prelude's pyroom: the heap is past room_at; True when collecting
        leaves no room either (the script is then aborted as out of memory).
        ``settle``: the run is ending; only collect (LuaRuntime.tight says the rest)."""
        if self._running_rt().room(ROOM_RESERVE) or settle:
            return False
        self._out_of_memory()
        return True

    def _out_of_memory(self) -> tuple[None, int]:
        """What a Python function called from Lua answers when its value does not
        fit under the cap: the script is aborted as out of memory (prelude's
        out_of_memory), unwinding without the cap; ``run`` rolls it back."""
        run = self.running
        self._running_rt().lift()
        if run is not None:
            run.kill_message = OOM_MSG
        return None, 3

    def check_busy(self, grace_ms: int = 0) -> None:
        """Declare a slow script busy (past lua-time-limit).

        Called from the count hook while the script runs Lua code, and by the
        network layer's watchdog thread, so a script stuck inside one long C
        call (a huge sort, a pattern match) still turns the server busy and
        lets other clients get -BUSY and SHUTDOWN NOSAVE through.  The
        watchdog passes ``grace_ms`` so a script in Lua code is declared busy
        by the hook, in the event loop thread, which can release held replies.
        """
        with self.lock:
            run = self.running
            if run is None or run.busy:
                return
            elapsed_ms = (_monotonic() - run.start) * 1000
            if elapsed_ms <= self.config["lua-time-limit"] + grace_ms:
                return
            run.busy = True
            log.warning(
                "Slow script detected: still in execution after %d milliseconds. "
                "You can try killing the script using the SCRIPT KILL command.",
                int(elapsed_ms),
            )
            if self.on_busy is not None:
                self.on_busy(run)

    def kill(self, is_eval: bool) -> object:
        """SCRIPT KILL / FUNCTION KILL (served while a script is busy)."""
        from moonkv.errors import BusyError, NotBusyError

        run = self.running
        if run is None:
            raise NotBusyError("No scripts in execution right now.")
        if is_eval and not run.is_eval:
            raise BusyError(
                "Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            )
        if not is_eval and run.is_eval:
            raise BusyError(
                "Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            )
        # moonkv differs from Redis on purpose: a script that has written is
        # killed too, and its writes are rolled back (Redis answers UNKILLABLE).
        run.kill_message = KILLED_MSG if is_eval else FN_KILLED_MSG
        return "OK"

    # -- redis.call ------------------------------------------------------------------

    def _log(self, level: int, msg: bytes) -> None:
        lvl = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.WARNING}.get(
            level, logging.INFO
        )
        log.log(lvl, "%s", msg.decode("utf-8", "replace"))

    def _caller(self, *, protected: bool) -> Callable[..., Any]:
        """redis.call (errors raised into Lua: the script fails unless it pcalls)
        or redis.pcall (errors returned as {err=...} tables).

        The fast path: a command this run's ``_fast`` table holds (plain, seen
        before, allowed without further checks), string or number arguments,
        the right arity, and no failed log write if it writes.  Everything
        else goes through :meth:`_dispatch` and its in-script checks.
        """
        srv = self.server
        sc = self.client
        dispatch = self._dispatch
        to_lua = self._to_lua
        fits = self._fits
        oom = self._out_of_memory

        def call(*args: Any) -> Any:
            spec = self._fast.get(args[0]) if args else None
            if spec is not None:
                argv: list[Any] | None = list(args)
                for a in args:
                    if type(a) is not bytes:  # a Lua number, most likely
                        argv = _numbers_as_bytes(argv, 1)  # type: ignore[arg-type]
                        break
                a_ = spec.arity
                n = len(args)
                if (
                    argv is not None
                    and (n == a_ if a_ > 0 else n >= -a_)
                    and (srv.write_error is None or not spec.is_write)
                ):
                    reply = srv.call(sc, spec, argv)
                else:
                    reply = dispatch(args)
            else:
                reply = dispatch(args)
            # What goes back to Lua is pushed where an allocation must not fail (_fits).
            t = type(reply)
            if t is int:
                return reply
            if t is bytes:
                if len(reply) > _BIG and not fits(len(reply)):  # type: ignore[arg-type]
                    return oom()
                return reply
            if t is str:  # a status reply: prelude's caller() makes it {ok=...}
                if len(reply) > _BIG and not fits(len(reply)):  # type: ignore[arg-type]
                    return oom()
                return reply.encode(), 1  # type: ignore[attr-defined]
            if t is list:
                flat = _flat_array(reply, sc.resp)  # type: ignore[arg-type]
                if flat is not None:
                    size = _flat_size(flat)
                    if size > _BIG and not fits(size):
                        return oom()
                    self._items = flat  # prelude's caller() takes them (_take_items)
                    return None, 2
            if not protected and isinstance(reply, RespError):
                text = str(reply)
                if len(text) > _BIG and not fits(len(text)):
                    return oom()
                raise ScriptCallError(text)
            return to_lua(reply)

        return call

    def _dispatch(self, args: tuple[Any, ...]) -> object:
        """Run one command for the running script, with Redis's in-script checks."""
        if not args:
            return _ArgError("ERR Please specify at least one argument for this redis lib call")
        argv = _numbers_as_bytes(list(args), 0)
        if argv is None:
            return _ArgError("ERR Lua redis lib command arguments must be strings or integers")
        run = self.running
        if run is None:
            return _ArgError("ERR redis.call called outside a script")
        srv = self.server
        spec = lookup(argv[0])
        if spec is None:
            return self._refuse("ERR Unknown Redis command called from script")
        if spec.subcommands and (len(argv) >= 2 or spec.handler is None):
            if len(argv) < 2:
                return self._refuse("ERR Wrong number of args calling Redis command from script")
            sub = spec.subcommands.get(argv[1].lower())
            if sub is None:
                return self._refuse("ERR Unknown Redis command called from script")
            spec = sub
        elif (
            not spec.subcommands and not spec.noscript and type(args[0]) is bytes
            and self.cluster_check is None  # cluster mode: every call is routed, here
        ):
            # The next call by this name takes the fast path.
            self._plain[args[0]] = spec
            if not spec.is_write and not spec.denyoom and not spec.may_replicate:
                self._plain_ro[args[0]] = spec
        if not spec.arity_ok(len(argv)):
            return self._refuse("ERR Wrong number of args calling Redis command from script")
        if (spec.noscript or (spec.parent is not None and spec.parent.noscript)) and (
            not self.allow_noscript or not _may_bypass_noscript(spec)
        ):
            return self._refuse("ERR This Redis command is not allowed from script")
        if run.caller.acl_user is not None:  # ACL: the calling user's permissions
            denied = srv.acl.script_error(run.caller, spec, argv)
            if denied is not None:
                return self._refuse(denied)
        refused = self._write_check(run, spec)
        if refused is not None:
            return refused
        check = self.cluster_check
        if check is not None:  # Redis's order: after the ACL, write and OOM checks
            not_here = check.verify(run, spec, argv)
            if not_here is not None:
                spec.rejected_calls += 1
                return self._refuse(not_here)
        if not spec.stale_ok and srv.write_refusal is not None and srv.stale():
            spec.rejected_calls += 1
            return self._refuse("ERR Can not execute the command on a stale replica")
        # Handlers shape RESP3 replies (maps, doubles) by the client's protocol,
        # which is the script's redis.setresp() choice (see _setresp).
        return srv.call(self.client, spec, argv)

    def _write_check(self, run: RunState, spec: CommandSpec) -> RespError | None:
        """Why a write (or denyoom) command may not run in this script now, if it may not."""
        srv = self.server
        # Redis's scriptVerifyWriteCommandAllow: may-replicate commands (PUBLISH, PFCOUNT's
        # cache) count as writes here.
        if run.read_only and (spec.is_write or spec.may_replicate):
            spec.rejected_calls += 1
            return self._refuse("ERR Write commands are not allowed from read-only scripts.")
        if spec.is_write:
            if srv.write_error is not None:
                spec.rejected_calls += 1
                return self._refuse("MISCONF " + srv.write_error)
            if run.legacy and srv.write_refusal is not None:
                spec.rejected_calls += 1
                return self._refuse(srv.write_refusal)
        # As Redis: only while the script has not written yet (then it cannot stop halfway).
        if spec.denyoom and not run.allow_oom and run.legacy and not run.undo and self.over_maxmemory():
            spec.rejected_calls += 1
            return self._refuse("OOM command not allowed when used memory > 'maxmemory'.")
        return None

    def _take_items(self) -> tuple[object, ...]:
        """The items of the array reply redis.call just returned as (nil, 2)."""
        items, self._items = self._items, ()
        return items

    def _setresp(self, version: int) -> None:
        self.client.resp = int(version)

    def _refuse(self, text: str) -> RespError:
        # A command refused inside a script counts once in the error stats.
        return self.server.error_reply(RespError(full=text))

    def _acl_check(self, *args: Any) -> Any:
        argv = [a if type(a) is bytes else b"%.17g" % a for a in args if type(a) in (bytes, int, float)]
        spec = lookup(argv[0]) if argv else None
        if spec is None:
            raise ScriptCallError("ERR Invalid command passed to redis.acl_check_cmd()")
        acl = getattr(self.server, "acl", None)
        if acl is None:
            return True
        return bool(acl.check(self.running.caller if self.running else None, spec, argv))  # type: ignore[no-any-return]

    def _to_lua(self, reply: object) -> Any:
        """A handler's reply, other than a string, integer or status, as what
        redis.call returns to Lua (see the callers built by _caller)."""
        rt = self._running_rt()
        # Out of memory inside lupa's table_from would longjmp over the Python
        # frames of this call to the script's protected call, leaving the GIL
        # taken for good (the process hangs): build with the cap lifted; the
        # script's next allocation meets the cap again, in Lua.
        cap = rt.max_memory
        if cap:
            rt.lua.set_max_memory(0)
        try:
            if isinstance(reply, RespError):
                return rt.table_from(
                    {b"err": str(reply).encode("utf-8", "surrogateescape"), b"ignore_stats": True}
                )
            return self._to_lua_value(reply, rt, self.client.resp)
        finally:
            if cap:
                rt.lua.set_max_memory(cap)

    def _to_lua_value(self, v: object, rt: LuaRuntime, resp: int) -> Any:
        t = type(v)
        if t is bytes or t is int:
            return v
        if t is bool:
            if resp == 3:
                return v
            return 1 if v else 0
        if v is None or v is NULL_ARRAY:
            return None if resp == 3 else False
        if t is str:
            return rt.table_from({b"ok": v.encode()})  # type: ignore[attr-defined]
        if t is list or t is tuple:
            conv = self._to_lua_value
            return rt.table_from(
                [x if type(x) is bytes else conv(x, rt, resp) for x in v]  # type: ignore[attr-defined]
            )
        if t is float:
            if resp == 3:
                return rt.table_from({b"double": v})
            from moonkv.protocol import format_double

            return format_double(v)  # type: ignore[arg-type]
        if t is dict:
            if resp == 3:
                m = rt.table_from(
                    {self._to_lua_value(k, rt, resp): self._to_lua_value(x, rt, resp) for k, x in v.items()}  # type: ignore[attr-defined]
                )
                return rt.table_from({b"map": m})
            flat: list[Any] = []
            for k, x in v.items():  # type: ignore[attr-defined]
                flat.append(self._to_lua_value(k, rt, resp))
                flat.append(self._to_lua_value(x, rt, resp))
            return rt.table_from(flat)
        if t is set or t is frozenset or t is OrderedSet:
            # A set is met in its reply order (COMMAND INFO's flags: OrderedSet's items).
            items: Any = v.items if t is OrderedSet else v  # type: ignore[attr-defined]
            if resp == 3:
                s = rt.table_from({self._to_lua_value(k, rt, resp): True for k in items})
                return rt.table_from({b"set": s})
            return rt.table_from([self._to_lua_value(x, rt, resp) for x in items])
        if isinstance(v, RespError):
            return rt.table_from({b"err": str(v).encode("utf-8", "surrogateescape")})
        if t is Verbatim:
            if resp == 3:
                inner = rt.table_from({b"format": v.fmt, b"string": v.text})  # type: ignore[attr-defined]
                return rt.table_from({b"verbatim_string": inner})
            return v.text  # type: ignore[attr-defined]
        if t is BigNumber:
            if resp == 3:
                return rt.table_from({b"big_number": v.digits})  # type: ignore[attr-defined]
            return v.digits  # type: ignore[attr-defined]
        if t is RawReply:
            return v.data  # type: ignore[attr-defined]
        return False
