"""The server core: state shared by all clients and THE executor.

``execute`` is the client path (lookup → arity → auth → MULTI queueing →
loading/MISCONF checks → run as a unit).  ``call`` runs one command's handler
and records its effect; scripts and EXEC call it for each inner command.
``end_unit`` commits the unit's effects to the sinks (one record per unit),
then invalidates WATCHes and serves blocked clients.

The engine has no sockets: the network layer gives it a :class:`Scheduler`
for timers and sets each client's ``send``/``close``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from moonkv.clock import Clock
from moonkv.commands.table import TABLE, CommandSpec, lookup, resolve_subcommand
from moonkv.engine._acl import Acl
from moonkv.engine._client import REPLY_ON, Client
from moonkv.engine._clientmem import ClientMemory
from moonkv.engine._config import Config
from moonkv.engine._evict import EVICT_FAIL, Evictor, keeps_lru, tracking_for
from moonkv.engine._monitor import line as monitor_line
from moonkv.engine._protect import protected_refusal
from moonkv.errors import (
    ExecAbortError,
    LoadingError,
    MisconfError,
    NoAuthError,
    OomError,
    RespError,
    wrong_arity,
)
from moonkv.keyspace import Keyspace, events
from moonkv.monitoring import REDACT, LatencyMonitor, SlowLog, record
from moonkv.pubsub import Hub
from moonkv.tracking import Tracker, TrackingState

if TYPE_CHECKING:  # types only: cluster imports the engine, never the reverse; the
    # scripting engine plugs in (assembler), no import at run time
    from moonkv.cluster._routing import Router
    from moonkv.scripting._engine import ScriptEngine

Effect = tuple[int, list[bytes]]
# Effects that belong to no database: ACL users go to the log and to replicas (the stream
# sends them without a SELECT) and are replayed through Acl.replay (moonkv replicates them,
# Redis does not); so does the script cache (a newly cached body, SCRIPT FLUSH), which the
# stream sends ahead of its unit's framed effects (Redis 7.0 does not replicate its cache).
# (-1 is PUBLISH in logs written before it took its publisher's database: the loader skips
# it, the stream sends it without a SELECT.)
ACL_USERS: Final = -2
SCRIPT_CACHE: Final = -3

log: Final = logging.getLogger("moonkv")
_perf_ns: Final = time.perf_counter_ns  # the per-command clock of INFO commandstats
_NEVER: Final = 1 << 62  # a threshold no duration reaches


class _Blocked:
    def __repr__(self) -> str:
        return "BLOCKED"


BLOCKED: Final[Any] = _Blocked()
"""A handler returns this after :meth:`Server.block`: the reply comes later."""

NO_REPLY: Final[Any] = object()
"""A handler returns this when the client must get no reply (CLIENT REPLY OFF)."""

NOT_DATA: Final[Any] = object()
""":meth:`Server.execute_data` declined the command: use :meth:`Server.execute`."""


class EffectsSink(Protocol):
    """Where committed units go (the durable log; later, replicas)."""

    def commit(self, effects: list[Effect]) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay: float, fn: Callable[[], None]) -> Any: ...


class _NoScheduler:
    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        return None


@dataclass
class BlockState:
    keys: list[tuple[int, bytes]]
    timeout_reply: Any
    deadline: float | None
    timer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The command to re-run, set by Server.call when the handler returns BLOCKED.
    spec: CommandSpec = field(init=False)
    argv: list[bytes] = field(init=False)


_MULTI_PASSTHROUGH: Final = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
# Neither write nor readonly, but data commands all the same (see execute_data): they
# change nothing plain() looks at.
_PUBLISHERS: Final = frozenset({"publish", "spublish"})
# What a RESP2 client may run while subscribed (Redis's processCommand list).
_PUBSUB_ALLOWED: Final = frozenset({
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe",
    "quit", "reset",
})
# Commands a client in MULTI may still send when out of memory (Redis's processCommand).
# A replica whose link is down, with replica-serve-stale-data no, to commands without the
# stale flag (and scripts that do not declare allow-stale).
MASTERDOWN: Final = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
_MULTI_OOM_OK: Final = frozenset({"exec", "discard", "quit", "reset"})


class Server:
    def __init__(self, config: Config | None = None, clock: Clock | None = None) -> None:
        self.config = config or Config()
        self.ks = Keyspace(self.config["databases"], clock or Clock())
        self.clients: dict[int, Client] = {}
        self.sinks: list[EffectsSink] = []
        self.scheduler: Scheduler = _NoScheduler()
        self.effects: list[Effect] = []
        self._explicit = 0
        self.watched: dict[tuple[int, bytes], set[Client]] = self.ks.watched
        self.pubsub = Hub(self.ks)
        self.monitors: dict[Client, None] = {}  # MONITOR clients, in the order they came
        self.ks.notifier = self.pubsub.notify
        self.ks.events = events.active(self.config["notify-keyspace-events"])
        self.loading = False
        self.write_error: str | None = None  # set by persistence on a failed write/fsync
        # Why writes are refused now (the full error line), None when they are not:
        # a read-only replica (READONLY) or too few good replicas (NOREPLICAS).
        self.write_refusal: str | None = None
        self.start_time = time.time()
        self.run_id = os.urandom(20).hex()
        self.port = self.config["port"]
        self.shutdown_requested: str | None = None
        self.blocked_count = 0
        self.paused_until = 0.0
        self.pause_writes_only = False
        self.cron_paused = False  # DEBUG PAUSE-CRON: the periodic tasks skip their rounds
        self.on_unpause: Callable[[], None] | None = None  # see engine/_pause.py
        # Told after each refresh_write_refusal (the role or the link may have changed).
        self.on_role_change: Callable[[], None] | None = None
        self.scripting: Any = None  # moonkv.scripting engine, attached by the assembler
        self.persistence: Any = None  # moonkv.persistence engine, attached by the assembler
        self.replication: Any = None  # moonkv.replication node, attached by the assembler
        # Cluster mode's moonkv.cluster Router (None in standalone mode: routing is this test).
        # Typed, so that the compiled build calls route() directly, not as a Python method.
        self.cluster: Router | None = None
        # The three counters bumped on every request are attributes (cheaper
        # than dict items); INFO shows them with the others in ``stats``.
        self.commands_processed = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self._data: dict[bytes, CommandSpec] = {}  # see execute_data
        self.stats: dict[str, int] = {
            "total_connections_received": 0,
            "rejected_connections": 0,
            "expired_keys": 0,
            "evicted_keys": 0,
            "evicted_clients": 0,
            "unexpected_error_replies": 0,
            "total_error_replies": 0,
            "dump_payload_sanitizations": 0,
            "total_reads_processed": 0,
            "total_writes_processed": 0,
            "acl_access_denied_auth": 0,
            "acl_access_denied_cmd": 0,
            "acl_access_denied_key": 0,
            "acl_access_denied_channel": 0,
        }
        self.errorstats: dict[str, int] = {}
        self.lastsave = int(time.time())
        self.acl = Acl(self)
        # The operator's view (moonkv.monitoring), fed by call() from the one
        # clock reading it takes per command for INFO commandstats.
        cfg = self.config
        self.slowlog = SlowLog(cfg["slowlog-max-len"])
        self.latency = LatencyMonitor()
        self.latency_tracking: bool = cfg["latency-tracking"]
        self.slowlog_ns = _NEVER
        self.latency_ns = _NEVER
        self.slow_ns = _NEVER  # min of the two: call()'s single test
        self._thresholds()
        # maxmemory, as an attribute: execute() tests it before every command.
        self.maxmemory: int = self.config["maxmemory"]
        self.oom = False  # the last check found memory over the limit (Redis's pre_command_oom_state)
        self.evictor = Evictor(self)
        self._track_access()
        self.config.on_change(self._config_changed)
        tracker = Tracker(self.clients.get)
        tracker.max_keys = self.config["tracking-table-max-keys"]
        self.ks.tracker = tracker
        self.refresh_write_refusal()

    # Instance attributes cost the whole request path: with 29, a 30th made every GET cost
    # 5 % more CPU instructions in the Python build (callgrind: 9,862 -> 10,349; the instance
    # dict outgrows its key table). Values that can be derived are properties.

    @property
    def pid(self) -> int:
        return os.getpid()

    @property
    def clock(self) -> Clock:
        return self.ks.clock

    @property
    def client_memory(self) -> ClientMemory:
        """The clients' memory total and client eviction (kept by the evictor, which
        counts it in used_memory)."""
        return self.evictor.clients

    @property
    def tracker(self) -> Tracker:
        """Client-side caching's table, kept on the keyspace (see the note above)."""
        return self.ks.tracker  # type: ignore[no-any-return]

    # -- configuration ---------------------------------------------------

    def _config_changed(self, name: str, value: Any) -> None:
        if name == "notify-keyspace-events":
            self.ks.events = events.active(value)
        elif name == "tracking-table-max-keys":
            self.tracker.max_keys = value
            if value and len(self.tracker.table) > value:
                self.tracker.shrink()
        elif name == "requirepass":
            # The default user's password; existing connections stay authenticated, as in Redis.
            self.acl.set_default_password(value)
        elif name in ("min-replicas-to-write", "replica-read-only"):
            self.refresh_write_refusal()
        elif name == "latency-tracking":
            self.latency_tracking = value
        elif name in ("slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold"):
            self._thresholds()
        elif name in ("maxmemory", "maxmemory-policy", "lfu-log-factor", "lfu-decay-time"):
            self.maxmemory = self.config["maxmemory"]
            self.oom = False
            self._track_access()
            if name == "maxmemory" and self.maxmemory:
                self.evictor.start()

    def _track_access(self) -> None:
        cfg = self.config
        policy = str(cfg["maxmemory-policy"])
        self.ks.track_access(tracking_for(policy, cfg["lfu-log-factor"], cfg["lfu-decay-time"]),
                             keeps_lru(policy))

    # -- maxmemory ---------------------------------------------------------

    def out_of_memory(self, c: Client, spec: CommandSpec) -> bool:
        """Evict before a command (maxmemory is set); whether the command must be refused.

        Every command first lets eviction run, as in Redis; only those that may
        grow memory are refused when it could not make room: denyoom ones, EXEC
        of a transaction holding one, and anything queued into MULTI.
        """
        repl = self.replication
        if repl is not None and repl.is_replica:
            return False  # a replica gets its primary's evictions (replica-ignore-maxmemory)
        self.oom = self.evictor.perform() == EVICT_FAIL
        if not self.oom:
            return False
        if spec.denyoom:
            return True
        if c.multi is not None:
            if spec.name == "exec":
                return any(s.denyoom for s, _ in c.multi)
            return spec.name not in _MULTI_OOM_OK
        return False

    def oom_reply(self, c: Client, spec: CommandSpec) -> RespError:
        spec.rejected_calls += 1
        err = OomError("command not allowed when used memory > 'maxmemory'.")
        if c.multi is not None:
            if spec.name == "exec":
                return self.error_reply(self._abort_exec(c, err))
            c.multi_error = True
        return self.error_reply(err)

    def refresh_write_refusal(self) -> None:
        """Recompute :attr:`write_refusal` (replication reports role, link and good replicas).

        A stale replica (:meth:`stale`) always has one, so the paths that let reads skip
        the checks while writes are refused send its reads to the check too.
        """
        cfg = self.config
        repl = self.replication
        cluster = self.cluster
        if cluster is not None and cluster.fenced:  # a primary that lost its liveness lease
            self.write_refusal = "CLUSTERDOWN The cluster is down"
        elif repl is not None and repl.is_replica:
            if cfg["replica-read-only"]:
                self.write_refusal = "READONLY You can't write against a read only replica."
            else:
                self.write_refusal = MASTERDOWN if repl.stale else None
        elif cfg["min-replicas-to-write"] > (repl.good_replicas if repl is not None else 0):
            self.write_refusal = "NOREPLICAS Not enough good replicas to write."
        else:
            self.write_refusal = None
        if self.on_role_change is not None:
            self.on_role_change()

    def stale(self) -> bool:
        """Whether this replica refuses what has no stale flag (-MASTERDOWN): its link to
        the primary is not up and replica-serve-stale-data is no.  Only asked while
        :attr:`write_refusal` is set."""
        repl = self.replication
        return repl is not None and bool(repl.stale)

    def _thresholds(self) -> None:
        cfg = self.config
        us = cfg["slowlog-log-slower-than"]
        self.slowlog.max_len = cfg["slowlog-max-len"]
        self.slowlog_ns = _NEVER if us < 0 or self.slowlog.max_len == 0 else us * 1000
        ms = cfg["latency-monitor-threshold"]
        self.latency_ns = ms * 1_000_000 if ms > 0 else _NEVER
        self.slow_ns = min(self.slowlog_ns, self.latency_ns)

    # -- the client path -------------------------------------------------

    def execute(self, c: Client, argv: list[bytes]) -> object:
        """Run one request from a client; returns the reply (or BLOCKED)."""
        self.commands_processed += 1
        spec = TABLE.get(argv[0])
        # Fast path: a known command with the right arity, from a plain client
        # (authenticated, no ACL restrictions, not in MULTI, not subscribed) on
        # a healthy server.
        # The conditions are plain()'s, inlined: calling it costs 2.5 % of a GET.
        if (
            spec is not None
            and spec.fast_path
            and c.multi is None
            and c.acl_user is None
            and c.subs is None
            and c.authenticated
            and not self.loading
            and self.write_error is None
            # A replica's reads stay fast (unless it is stale).
            and (self.write_refusal is None or not (spec.is_write or self.stale()))
        ):
            a = spec.arity
            n = len(argv)
            cluster = self.cluster
            if (n == a if a > 0 else n >= -a) and (
                cluster is None or (not c.asking and cluster.route(c, spec, argv) is None)
            ):
                if self.maxmemory and self.out_of_memory(c, spec):
                    return self.oom_reply(c, spec)
                c.last_cmd = argv[0]
                reply = self.call(c, spec, argv)
                self.end_unit()
                return reply
        if spec is None:
            spec = lookup(argv[0])
        try:
            if spec is None:
                raise self.unknown_command(argv)
            if spec.subcommands and (len(argv) >= 2 or spec.handler is None):
                spec = resolve_subcommand(spec, argv)
            if not spec.arity_ok(len(argv)):
                raise wrong_arity(spec.name)
            if spec.protected:  # after the arity, before auth, as Redis
                # DEBUG, or a subcommand of MODULE (the only protected subcommands)
                refusal = protected_refusal(self, c, spec.parent is not None)
                if refusal is not None:
                    raise RespError(refusal)
            if not c.authenticated and not spec.no_auth:
                raise NoAuthError("Authentication required.")
            if c.acl_user is not None:
                self.acl.enforce(c, spec, argv)
            if self.cluster is not None:
                self._route(self.cluster, c, spec, argv)
            if self.write_refusal is not None and spec.is_write:
                raise RespError(full=self.write_refusal)
            if c.subs is not None and c.resp == 2 and spec.name not in _PUBSUB_ALLOWED:
                raise RespError(
                    f"Can't execute '{spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                    "PING / QUIT / RESET are allowed in this context"
                )
            if self.write_refusal is not None and self.stale() and (
                not spec.stale_ok
                or (spec.name == "exec" and c.multi is not None and not all(s.stale_ok for s, _ in c.multi))
            ):
                raise RespError(full=MASTERDOWN)
        except RespError as e:
            if spec is not None:
                spec.rejected_calls += 1
            if c.multi is not None:
                if spec is not None and spec.name == "exec":
                    return self.error_reply(self._abort_exec(c, e))
                c.multi_error = True
            return self.error_reply(e)
        if self.maxmemory and not self.loading and self.out_of_memory(c, spec):  # (the load counts at its end)
            return self.oom_reply(c, spec)
        # CLIENT LIST's cmd=: the full name (client|list) as Redis shows it; a new object per
        # request (server/_idle.py tells from it that a command ran).
        c.last_cmd = argv[0] if spec.parent is None else argv[0] + b"|" + argv[1]
        if c.multi is not None and spec.name not in _MULTI_PASSTHROUGH:
            if spec.no_multi:
                c.multi_error = True
                return self.error_reply(RespError("Command not allowed inside a transaction"))
            c.queue(spec, argv)
            return "QUEUED"
        if self.loading and not spec.loading_ok:
            spec.rejected_calls += 1
            return self.error_reply(LoadingError())
        if self.write_error is not None and (spec.is_write or spec.runs_script):
            if spec.is_write or self._script_may_write(spec, argv):
                spec.rejected_calls += 1
                return self.error_reply(MisconfError(self.write_error))
        reply = self.call(c, spec, argv)
        self.end_unit()
        return reply

    def _route(self, cluster: Router, c: Client, spec: CommandSpec, argv: list[bytes]) -> None:
        """Cluster mode: raise the redirection or error that answers a command run elsewhere.

        Redis's order: after the ACL check, before queueing into MULTI; a refused EXEC
        discards its transaction (a refused queued command makes EXEC abort)."""
        err = cluster.consume(c, spec, argv)
        if err is None:
            return
        if spec.name == "exec" and c.multi is not None:
            c.multi = None
            c.multi_error = False
            self.unwatch(c)
        raise err

    def plain(self, c: Client) -> bool:
        """Whether ``c``'s data commands may skip execute()'s general checks (see execute_data).

        execute()'s fast path inlines these same conditions; change both together.
        """
        return (
            c.multi is None
            and c.acl_user is None
            and c.subs is None
            and c.authenticated
            and not self.loading
            and self.write_error is None
        )

    def execute_data(self, c: Client, argv: list[bytes]) -> object:
        """Run one data command of a pipeline from a :meth:`plain` client; NOT_DATA otherwise.

        Data commands (flagged write or readonly, running a script, or
        publishing; without subcommands) cannot change the client state
        ``plain()`` checks (MULTI,
        AUTH, HELLO, CLIENT and RESET are neither, nor may scripts call them),
        so the connection checks ``plain()``
        once per pipeline and sends each command here: execute()'s fast path
        without repeating the client checks.  A failed log write can happen
        inside a command (a flush forced by FLUSHALL's snapshot, say), so that
        one is checked every time, and so is a refusal of writes (a read-only
        replica's reads keep this path).
        """
        if self.write_error is not None:
            return NOT_DATA
        spec = (self._data or self._data_commands()).get(argv[0])
        if spec is None or (self.write_refusal is not None and (spec.is_write or self.stale())):
            return NOT_DATA
        a = spec.arity
        n = len(argv)
        if not (n == a if a > 0 else n >= -a):
            return NOT_DATA
        cluster = self.cluster
        if cluster is not None and (c.asking or cluster.route(c, spec, argv) is not None):
            return NOT_DATA  # execute() answers with the redirection
        self.commands_processed += 1
        if self.maxmemory and self.out_of_memory(c, spec):
            return self.oom_reply(c, spec)
        c.last_cmd = argv[0]
        reply = self.call(c, spec, argv)
        self.end_unit()
        return reply

    def _data_commands(self) -> dict[bytes, CommandSpec]:
        """execute_data's table, derived from the command table on first use
        (commands register themselves at import, before any request)."""
        self._data = {
            name: s for name, s in TABLE.items()
            if (s.is_write or s.is_readonly or s.runs_script or s.name in _PUBLISHERS)
            and not s.subcommands and s.handler is not None
        }
        return self._data

    def _script_may_write(self, spec: CommandSpec, argv: list[bytes]) -> bool:
        eng = self.scripting
        return eng is None or eng.may_write(spec, argv)

    def unknown_command(self, argv: list[bytes]) -> RespError:
        # surrogateescape: the reply echoes the client's raw bytes, as Redis does, and
        # only their first 128 bytes (the reply must not grow with the request).
        args = b""
        for a in argv[1:]:
            if len(args) >= 128:
                break
            args += b"'" + a[: 128 - len(args)] + b"' "
        name = argv[0][:128].decode("utf-8", "surrogateescape")
        return RespError(
            f"unknown command '{name}', with args beginning with: {args.decode('utf-8', 'surrogateescape')}"
        )

    def error_reply(self, e: RespError) -> RespError:
        # The error becomes a reply: its traceback would keep the frames that raised it, and
        # through them the request's arguments, alive until a full GC (reply -> traceback ->
        # frame -> caller's frame -> reply is a cycle).
        e.__traceback__ = None
        if getattr(e, "no_stats", False):
            return e  # already counted where it arose (an error inside a script)
        self.stats["total_error_replies"] += 1
        code = e.code
        self.errorstats[code] = self.errorstats.get(code, 0) + 1
        return e

    # -- running commands --------------------------------------------------

    def call(self, c: Client, spec: CommandSpec, argv: list[bytes]) -> object:
        """Run a handler; record its effect if it changed data."""
        ks = self.ks
        dirty = ks.dirty
        explicit = self._explicit
        t0 = _perf_ns()
        try:
            reply = spec.handler(c, argv)  # type: ignore[misc]
        except RespError as e:
            spec.failed_calls += 1
            reply = self.error_reply(e)
        except Exception as e:  # noqa: BLE001 - a bug must not take the connection down
            log.exception("internal error in %s", spec.name)
            spec.failed_calls += 1
            reply = self.error_reply(RespError(f"internal error in '{spec.name}': {type(e).__name__}"))
        if reply is not BLOCKED:  # a blocked command counts once, when it is answered
            spec.calls += 1
        else:  # block() parked the client: what to re-run when a key it waits on is ready
            state = c.blocked
            assert state is not None
            state.spec = spec
            state.argv = argv
        dt = _perf_ns() - t0
        spec.nsec += dt
        if spec.runs_script:  # the script's statistics take this duration (ScriptEngine.ran)
            eng: ScriptEngine | None = self.scripting  # typed: a direct call in the native build
            if eng is not None:
                eng.ran(dt)
        if self.latency_tracking and reply is not BLOCKED:
            record(spec.latency, dt)
        if dt >= self.slow_ns and reply is not BLOCKED:
            self._slow(c, spec, argv, dt)
        if self.monitors and not ("admin" in spec.flags or "skip_monitor" in spec.flags):
            self.feed_monitors(c, argv)
        if ks.tracking:  # some client tracks keys (client-side caching)
            self._track(c, spec, argv)
        # Effects are recorded only while a sink (the durable log) takes them,
        # as Redis propagates only with an AOF or replicas.
        if ks.dirty != dirty and spec.is_write and self.sinks and self._explicit == explicit:
            self.effects.append((c.db.id, argv))
        return reply

    def _track(self, c: Client, spec: CommandSpec, argv: list[bytes]) -> None:
        """After a command while tracking is on: remember what a tracking client read.

        A script that called a read command tracks its declared keys for its caller,
        as Redis does (the keys it reads by name are not tracked)."""
        tracker = self.tracker
        if c.in_script:
            if spec.is_readonly:
                tracker.script_read = True
            return
        tracker.current = c
        script_read = tracker.script_read
        tracker.script_read = False
        touched = self.ks.touched
        if touched and (touched is not tracker.touched_list or len(touched) > tracker.written):
            tracker.invalidate_written(touched, c)
        state = c.tracking
        if state is None:
            return
        # EVAL_RO and FCALL_RO are flagged readonly, but track only as scripts do.
        if script_read if spec.runs_script else spec.is_readonly:
            if spec.one_key:
                tracker.remember_key(c, c.id, state, argv[1], c.db)
            else:
                tracker.remember(c, [argv[i] for i in spec.key_positions(argv)], c.db)
        # CLIENT CACHING applies to the next command (the whole of a MULTI/EXEC).
        if state.caching and not c.in_exec and c.multi is None and not spec.name.startswith("client|"):
            state.caching = False

    def track(self, c: Client, state: TrackingState | None, prefixes: list[bytes]) -> None:
        """CLIENT TRACKING ON (``state``) or OFF (None)."""
        if state is None:
            self.tracker.disable(c)
        else:
            self.tracker.enable(c, state, prefixes)
        self.ks.tracking = self.tracker.active()

    def feed_monitors(self, c: Client, argv: list[bytes]) -> None:
        """Show a command to the MONITOR clients (after it ran; scripts before they run)."""
        if self.loading:
            return
        data = monitor_line(c.db.id, "lua" if c.in_script else c.addr, argv)
        for m in self.monitors:
            m.push(data)

    def latency_sample(self, event: str, ns: int) -> None:
        """Record ``event`` in the latency monitor if it took the threshold or more."""
        if ns >= self.latency_ns:
            self.latency.add(event, ns // 1_000_000)

    def _slow(self, c: Client, spec: CommandSpec, argv: list[bytes], ns: int) -> None:
        """A command took at least one of the slow-log / latency-monitor thresholds."""
        if ns >= self.latency_ns:
            self.latency.add("fast-command" if "fast" in spec.flags else "command", ns // 1_000_000)
        if ns < self.slowlog_ns or "skip_slowlog" in spec.flags:
            return
        redact = REDACT.get(spec.name)
        if redact is not None:
            argv = redact(argv)
        elif spec.name == "config|set":
            argv = self.config.redact_set(argv)
        if c.in_script:  # a command a script called: Redis shows its fake client
            peer, name = b"?:0", b""
        else:
            peer, name = c.addr.encode(), c.name
        eng = self.scripting
        note = eng.slowlog_note() if eng is not None and spec.runs_script else None
        self.slowlog.push(argv, ns // 1000, peer, name, note)

    def emit(self, db: int, argv: list[bytes]) -> None:
        """Record an explicit effect (instead of the command's own argv)."""
        if self.sinks:
            self.effects.append((db, argv))
        self._explicit += 1

    def suppress_effect(self) -> None:
        """The running command changed data but must not propagate itself."""
        self._explicit += 1

    def end_unit(self) -> None:
        """Commit the finished unit: log its effects, fire WATCH, serve blocked clients."""
        ks = self.ks
        if not (self.effects or ks.touched or ks.expired_effects or ks.ready or ks.flushed):
            return
        exp = ks.expired_effects
        if exp:
            ks.expired_effects = []
            self.stats["expired_keys"] += len(exp)
            if ks.expire_apart:
                ks.expire_apart = False
                for one in exp:
                    for sink in self.sinks:
                        sink.commit([one])
            else:
                for sink in self.sinks:
                    sink.commit(exp)
        if self.effects:
            effects = self.effects
            self.effects = []
            for sink in self.sinks:
                sink.commit(effects)
        if ks.touched or ks.flushed:
            if self.watched:
                self._invalidate_watches()
            if ks.tracking:
                # Keys that expired were changed by the server, not the client: a BCAST
                # NOLOOP client hears of them (Redis signals them with no client).
                self.tracker.invalidate(ks.touched, bool(ks.flushed), exp)
                ks.tracking = self.tracker.active()
            ks.touched = []
            ks.flushed = []
        if ks.ready:
            self._serve_ready()

    def discard_unit(self) -> None:
        """Forget a rolled-back unit's effects and notifications."""
        ks = self.ks
        self.effects = []
        ks.touched = []
        ks.flushed = []
        ks.ready = []

    # -- WATCH ------------------------------------------------------------

    def watch(self, c: Client, key: bytes) -> None:
        k = (c.db.id, key)
        if k in c.watched:
            return
        c.watched.add(k)
        self.watched.setdefault(k, set()).add(c)
        if c.db.is_expired(key):
            c.watch_expired.add(k)

    def unwatch(self, c: Client) -> None:
        for k in c.watched:
            s = self.watched.get(k)
            if s is not None:
                s.discard(c)
                if not s:
                    del self.watched[k]
        c.watched = set()
        c.watch_expired = set()
        c.dirty_cas = False

    def _invalidate_watches(self) -> None:
        ks = self.ks
        watched = self.watched
        for k in ks.touched:
            clients = watched.get(k)
            if clients:
                for cl in clients:
                    if k in cl.watch_expired:
                        # Watched while already expired (Redis 7.0): its deletion changes
                        # nothing logically, nor does its staying expired.
                        db = ks.dbs[k[0]]
                        if k[1] not in db.data:
                            cl.watch_expired.discard(k)  # deleted keys are not "expired"
                            continue
                        if db.is_expired(k[1]):
                            continue
                    cl.dirty_cas = True

    def touch_all_watched(self, dbid: int, only_existing: bool = True) -> None:
        """FLUSHDB/FLUSHALL: the watched keys of the db that exist count as changed.

        Recorded as touches of the running unit, so a rolled-back script's
        FLUSHDB does not fire WATCHes.
        """
        db = self.ks.dbs[dbid]
        touched = self.ks.touched
        for wdb, key in self.watched:
            if wdb == dbid and (not only_existing or key in db.data):
                touched.append((wdb, key))

    def watch_expired_now(self, c: Client) -> bool:
        """Redis 7: a watched key that expired after WATCH fails EXEC."""
        for dbid, key in c.watched:
            if (dbid, key) in c.watch_expired:
                continue
            if self.ks.dbs[dbid].is_expired(key):
                return True
        return False

    # -- blocking -----------------------------------------------------------

    def can_block(self, c: Client) -> bool:
        return not (c.in_exec or c.in_script)

    def block(
        self, c: Client, keys: list[bytes], timeout: float, timeout_reply: object
    ) -> Any:
        """Park ``c`` until one of ``keys`` is ready or ``timeout`` seconds pass (0: forever)."""
        if c.blocked is not None:  # re-run while still blocked: keep its place
            return BLOCKED
        dbid = c.db.id
        ks = self.ks
        state = BlockState(
            keys=[(dbid, k) for k in keys],
            timeout_reply=timeout_reply,
            deadline=None if timeout == 0 else time.monotonic() + timeout,
        )
        for k in state.keys:
            q = ks.blocking_keys.get(k)
            if q is None:
                q = ks.blocking_keys[k] = deque()
            if c not in q:
                q.append(c)
        c.blocked = state
        self.blocked_count += 1
        if timeout:
            state.timer = self.scheduler.call_later(timeout, lambda: self._block_timeout(c, state))
        return BLOCKED

    def unblock(self, c: Client) -> BlockState | None:
        state = c.blocked
        if state is None:
            return None
        ks = self.ks
        for k in state.keys:
            q = ks.blocking_keys.get(k)
            if q is not None:
                try:
                    q.remove(c)
                except ValueError:
                    pass
                if not q:
                    del ks.blocking_keys[k]
        if state.timer is not None:
            try:
                state.timer.cancel()
            except Exception:  # noqa: BLE001 - a timer that already fired
                pass
        c.blocked = None
        self.blocked_count -= 1
        return state  # type: ignore[no-any-return]

    def _block_timeout(self, c: Client, state: BlockState) -> None:
        if c.blocked is state:
            self.unblock(c)
            state.spec.calls += 1
            c.send(state.timeout_reply)

    def unblock_with(self, c: Client, reply: object) -> bool:
        """CLIENT UNBLOCK: end the wait with ``reply``."""
        if c.blocked is None:
            return False
        state = self.unblock(c)
        if isinstance(reply, RespError):  # UNBLOCKED: a failed call and an error reply
            reply = self.error_reply(reply)
            if state is not None:
                state.spec.failed_calls += 1
        if state is not None:
            state.spec.calls += 1
        c.send(reply)
        return True

    def _serve_ready(self) -> None:
        ks = self.ks
        while ks.ready:
            ready = ks.ready
            ks.ready = []
            seen: set[tuple[int, bytes]] = set()
            for k in ready:
                if k in seen:
                    continue
                seen.add(k)
                q = ks.blocking_keys.get(k)
                if not q:
                    continue
                for cl in list(q):
                    state = cl.blocked
                    if state is None:
                        continue
                    db = ks.dbs[k[0]]
                    if db.get(k[1]) is None and not state.extra.get("wake_on_missing"):
                        continue  # (XREADGROUP wants to hear that its stream went away)
                    saved_db = cl.db
                    cl.db = db
                    state.extra["ready"] = k[1]  # serve from the key that became ready
                    reply = self.call(cl, state.spec, state.argv)
                    if cl.db is db:
                        cl.db = saved_db
                    if reply is BLOCKED:
                        continue
                    self.unblock(cl)
                    self.end_unit_nested()
                    cl.send(reply)

    def end_unit_nested(self) -> None:
        # Commit what serving a blocked client did (its effects form their own unit).
        ks = self.ks
        if self.effects:
            effects = self.effects
            self.effects = []
            for sink in self.sinks:
                sink.commit(effects)
        if ks.touched or ks.flushed:
            if self.watched:
                self._invalidate_watches()
            if ks.tracking:
                self.tracker.invalidate(ks.touched, bool(ks.flushed))
                ks.tracking = self.tracker.active()
            ks.touched = []
            ks.flushed = []

    # -- clients --------------------------------------------------------------

    def add_client(self, c: Client) -> None:
        self.clients[c.id] = c
        self.stats["total_connections_received"] += 1
        self.evictor.clients.update(c)  # its fixed cost counts from now (once per connection)

    def remove_client(self, c: Client) -> None:
        if c.blocked is not None:
            self.unblock(c)
        if c.watched:
            self.unwatch(c)
        if c.subs is not None:
            self.pubsub.drop(c)
        self.monitors.pop(c, None)
        if c.mem:
            self.evictor.clients.forget(c)
        if self.replication is not None:
            self.replication.client_gone(c)
        if c.tracking is not None:
            self.track(c, None, [])
        self.clients.pop(c.id, None)

    def new_client(self) -> Client:
        return Client(self)

    # -- MULTI/EXEC -------------------------------------------------------------

    def exec_transaction(self, c: Client) -> object:
        queued = c.multi
        if queued is None:
            raise RespError("EXEC without MULTI")
        c.multi = None
        refusal = self.write_refusal
        if refusal is not None and any(spec.is_write for spec, _argv in queued):
            # Redis refuses EXEC itself, as a write (READONLY, NOREPLICAS), checked when
            # it arrives: a REPLICAOF inside the transaction does not stop its later writes.
            raise self._abort_exec(c, RespError(full=refusal))
        if c.multi_error:
            c.multi_error = False
            self.unwatch(c)
            raise ExecAbortError("Transaction discarded because of previous errors.")
        if c.dirty_cas or self.watch_expired_now(c):
            self.unwatch(c)
            from moonkv.protocol import NULL_ARRAY

            return NULL_ARRAY
        self.unwatch(c)
        replies: list[object] = []
        c.in_exec = True
        # As Redis 7.0 (call()'s fixed_time_expire): keys expire by the time EXEC started,
        # never in the middle of the transaction.
        ks = self.ks
        frozen = ks.frozen_ms
        if frozen is None:
            ks.frozen_ms = ks.clock.now_ms()
        try:
            for spec, argv in queued:
                if self.write_error is not None and spec.is_write:
                    replies.append(self.error_reply(MisconfError(self.write_error)))
                    continue
                if c.acl_user is not None:  # ACL rules may have changed since queueing
                    denied = self.acl.exec_error(c, spec, argv)
                    if denied is not None:
                        replies.append(self.error_reply(denied))
                        continue
                replies.append(self.call(c, spec, argv))
        finally:
            c.in_exec = False
            ks.frozen_ms = frozen
        return replies

    def _abort_exec(self, c: Client, err: RespError) -> ExecAbortError:
        """Redis's execCommandAbort: an EXEC refused before it runs (arity, MASTERDOWN,
        OOM, READONLY, ...) discards the transaction and says why (a generic error without
        its ERR, as Redis formats those)."""
        c.multi = None
        c.multi_error = False
        self.unwatch(c)
        text = err.text
        return ExecAbortError("Transaction discarded because of: " + (text[4:] if text.startswith("ERR ") else text))

    def is_reply_on(self, c: Client) -> bool:
        return c.reply_mode == REPLY_ON
