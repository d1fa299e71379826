"""The command table: every command is declared here once.

A :class:`CommandSpec` carries name, arity, flags, key specification, handler
and documentation.  That one declaration drives arity and unknown-command
errors, ``COMMAND``/``COMMAND INFO``/``DOCS``/``GETKEYS``, the no-writes check
of read-only scripts, noscript checks, and later cluster routing.

Handlers are ``handler(client, argv) -> reply`` (see :mod:`moonkv.protocol`
for reply values); they never encode bytes.

This module imports nothing from the rest of moonkv except errors, so every
layer can read the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from moonkv.errors import RespError

Handler = Callable[[Any, list[bytes]], object]

# Redis 7.0's command flag names, in the order COMMAND INFO lists them.
FLAG_NAMES: Final = (
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "no_mandatory_keys",
    "no_multi",
    "movablekeys",
    "allow_busy",
)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One Redis 7 key specification.

    ``begin`` is the argument index where the search starts (``begin_search
    index``), or, with ``keyword``, the keyword after which keys start.
    ``keynum`` (an offset from the begin position) switches ``find_keys`` from
    ``range`` to ``keynum``.  ``unknown`` is Redis's ``unknown`` begin_search and
    find_keys (SORT's BY/GET/STORE keys: the command's own key finder names them);
    such a spec locates no key.  ``notes`` is documentation only (COMMAND INFO).
    """

    begin: int = 1
    lastkey: int = 0  # range: relative to begin; -1 means the last argument
    step: int = 1
    limit: int = 0
    keynum: int | None = None  # keynumidx, relative to begin
    firstkey: int = 1  # keynum: first key, relative to begin
    keyword: bytes | None = None  # begin_search keyword
    startfrom: int = 1  # keyword search start (negative: from the end)
    flags: tuple[str, ...] = ("RW",)
    unknown: bool = False
    notes: str = ""

    def positions(self, argv: Sequence[bytes]) -> list[int]:
        if self.unknown:
            return []
        n = len(argv)
        begin = self.begin
        if self.keyword is not None:
            begin = -1
            rng = (
                range(self.startfrom, n)
                if self.startfrom > 0
                else range(n + self.startfrom, 0, -1)
            )
            for i in rng:
                if argv[i].lower() == self.keyword:
                    begin = i + 1
                    break
            if begin < 0:
                return []
        if begin >= n:
            return []
        if self.keynum is not None:
            idx = begin + self.keynum
            if idx >= n:
                return []
            try:
                num = int(argv[idx])
            except ValueError:
                return []
            first = begin + self.firstkey
            last = first + (num - 1) * self.step
            if num <= 0 or last >= n:
                return []
            return list(range(first, last + 1, self.step))
        if self.lastkey >= 0:
            last = begin + self.lastkey
        elif self.limit > 1:
            # Redis's getKeysUsingKeySpecs (lastkey is -1 here): XREAD ... STREAMS a b c names
            # only a, the arguments past the last whole group being no keys.
            last = begin + (n - begin) // self.limit + self.lastkey
        else:
            last = n + self.lastkey
        last = min(last, n - 1)
        return list(range(begin, last + 1, self.step))


@dataclass(slots=True)
class CommandSpec:
    name: str  # lower case; "parent|sub" for subcommands
    arity: int
    flags: frozenset[str]
    handler: Handler | None
    keys: tuple[KeySpec, ...] = ()
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = "O(1)"
    acl: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()
    subcommands: dict[bytes, CommandSpec] = field(default_factory=dict)
    get_keys: Callable[[Sequence[bytes]], list[int]] | None = None
    parent: CommandSpec | None = None
    # Hot-path booleans derived from flags (checked on every call).
    is_write: bool = False
    is_readonly: bool = False
    # Redis's hidden may-replicate: read-only scripts refuse it like a write, CLIENT PAUSE
    # WRITE holds it (EVAL/EVALSHA/FCALL: unless the script declares no-writes).
    may_replicate: bool = False
    noscript: bool = False
    denyoom: bool = False
    loading_ok: bool = False
    no_auth: bool = False
    stale_ok: bool = False
    allow_busy: bool = False
    no_multi: bool = False
    movablekeys: bool = False
    # Redis's internal CMD_PROTECTED (DEBUG; MODULE LOAD/LOADEX/UNLOAD): refused unless
    # enable-debug-command (enable-module-command) allows it.
    protected: bool = False
    # execute()'s fast path may run it: neither a container (its subcommand is resolved on
    # the general path) nor protected (its enable-*-command directive is checked there).
    fast_path: bool = True
    one_key: bool = False  # its only key is argv[1] (GET, HGET, ...): no key spec walk
    # It runs a script (EVAL, EVALSHA, FCALL and their _RO forms): it may write without
    # the write flag, and Server.call hands its duration to the script's statistics.
    runs_script: bool = False
    # Statistics (INFO commandstats).
    calls: int = 0
    nsec: int = 0  # summed in ns (one division per INFO, not per call)
    rejected_calls: int = 0
    failed_calls: int = 0
    # Latency histogram (INFO latencystats, LATENCY HISTOGRAM): moonkv.monitoring.record.
    latency: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        f = self.flags
        self.is_write = "write" in f
        self.is_readonly = "readonly" in f
        self.may_replicate = "may_replicate" in f
        self.noscript = "noscript" in f
        self.denyoom = "denyoom" in f
        self.loading_ok = "loading" in f
        self.no_auth = "no_auth" in f
        self.stale_ok = "stale" in f
        self.allow_busy = "allow_busy" in f
        self.no_multi = "no_multi" in f
        self.protected = "protected" in f
        self.fast_path = not self.protected
        self.movablekeys = self.get_keys is not None or any(
            k.keynum is not None or k.keyword is not None or k.unknown for k in self.keys
        )
        ks = self.keys
        self.one_key = (
            self.get_keys is None and len(ks) == 1 and ks[0].keyword is None and ks[0].keynum is None
            and ks[0].begin == 1 and ks[0].lastkey == 0
        )

    @property
    def full_name(self) -> str:
        return self.name

    def key_positions(self, argv: Sequence[bytes]) -> list[int]:
        if self.get_keys is not None:
            return self.get_keys(argv)
        if len(self.keys) == 1:
            return self.keys[0].positions(argv)
        out: list[int] = []
        for ks in self.keys:
            out.extend(ks.positions(argv))
        return out

    def legacy_range(self) -> tuple[int, int, int]:
        """(first, last, step) of the pre-7 key range, derived as Redis does."""
        if not self.keys:
            return (0, 0, 0)
        first = last = step = 0
        for ks in self.keys:
            if ks.keyword is not None or ks.keynum is not None or ks.unknown:
                # Movable keys: Redis still reports the plain range part.
                continue
            if ks.lastkey >= 0:
                klast = ks.begin + ks.lastkey
            else:
                klast = ks.lastkey
            if first == 0:
                first, last, step = ks.begin, klast, ks.step
            else:
                if ks.step != step:
                    return (first, last, step)
                first = min(first, ks.begin)
                if last >= 0 and klast >= 0:
                    last = max(last, klast)
                else:
                    last = min(last, klast) if last < 0 and klast < 0 else -1
        return (first, last, step)

    def arity_ok(self, n: int) -> bool:
        a = self.arity
        return n == a if a > 0 else n >= -a


TABLE: Final[dict[bytes, CommandSpec]] = {}


def _flags(flags: str | Sequence[str]) -> frozenset[str]:
    if isinstance(flags, str):
        return frozenset(flags.split())
    return frozenset(flags)


def keys(
    begin: int = 1, last: int = 0, step: int = 1, flags: str = "RW", limit: int = 0, notes: str = ""
) -> tuple[KeySpec, ...]:
    """A single ``index``/``range`` key spec (the common case)."""
    return (
        KeySpec(begin=begin, lastkey=last, step=step, limit=limit, flags=tuple(flags.split()), notes=notes),
    )


def keynum(
    begin: int = 1, firstkey: int = 1, step: int = 1, flags: str = "RW", notes: str = ""
) -> tuple[KeySpec, ...]:
    """Keys counted by an argument (``EVAL script numkeys key ...``)."""
    return (
        KeySpec(begin=begin, keynum=0, firstkey=firstkey, step=step, flags=tuple(flags.split()), notes=notes),
    )


def command(
    name: str,
    arity: int,
    flags: str | Sequence[str] = "",
    *,
    keys: tuple[KeySpec, ...] = (),
    group: str = "generic",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "O(1)",
    acl: str = "",
    tips: str = "",
    get_keys: Callable[[Sequence[bytes]], list[int]] | None = None,
    runs_script: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a command (or, with ``name='parent|sub'``, a subcommand)."""

    def register(fn: Handler) -> Handler:
        spec = CommandSpec(
            name=name.lower(),
            arity=arity,
            flags=_flags(flags),
            handler=fn,
            keys=keys,
            group=group,
            summary=summary,
            since=since,
            complexity=complexity,
            acl=tuple(acl.split()),
            tips=tuple(tips.split()),
            get_keys=get_keys,
            runs_script=runs_script,
        )
        _register(spec)
        return fn

    return register


def container(
    name: str, *, group: str = "server", summary: str = "", since: str = "1.0.0", flags: str = ""
) -> None:
    """Declare a command that only dispatches to subcommands (CONFIG, CLIENT ...)."""
    _register(
        CommandSpec(
            name=name.lower(),
            arity=-2,
            flags=_flags(flags),
            handler=None,
            group=group,
            summary=summary,
            since=since,
            complexity="Depends on subcommand.",
        )
    )


def _register(spec: CommandSpec) -> None:
    if "|" in spec.name:
        parent_name, sub = spec.name.split("|", 1)
        parent = TABLE[parent_name.encode()]
        spec.parent = parent
        parent.subcommands[sub.encode()] = spec
        parent.fast_path = False
        return
    key = spec.name.encode()
    if key in TABLE:
        raise RuntimeError(f"command {spec.name} declared twice")
    TABLE[key] = spec
    TABLE[key.upper()] = spec


def rename(old: str, new: str) -> None:
    """``rename-command old new`` of the configuration: the command answers to ``new`` only
    (to no name when ``new`` is empty), as Redis's; raises ValueError with Redis's text."""
    o, n = old.lower().encode(), new.lower().encode()
    spec = TABLE.get(o)
    if spec is None:
        raise ValueError("No such command in rename-command")
    if n and n in TABLE:
        raise ValueError("Target command name already exists")
    for key in (o, o.upper()):
        TABLE.pop(key, None)
    if n:
        TABLE[n] = spec
        TABLE[n.upper()] = spec


def lookup(name: bytes) -> CommandSpec | None:
    spec = TABLE.get(name)
    if spec is None:
        spec = TABLE.get(name.lower())
    return spec


def all_commands() -> list[CommandSpec]:
    seen: dict[str, CommandSpec] = {}
    for spec in TABLE.values():
        seen[spec.name] = spec
    return list(seen.values())


def resolve_subcommand(spec: CommandSpec, argv: Sequence[bytes]) -> CommandSpec:
    """For a container command, the subcommand spec named by ``argv[1]``."""
    if len(argv) < 2:
        raise RespError(f"wrong number of arguments for '{spec.name}' command")
    sub = spec.subcommands.get(argv[1].lower())
    if sub is None:
        name = argv[1][:128].decode("utf-8", "surrogateescape")
        # The container as the client named it (``rename-command`` may have renamed it).
        typed = argv[0].upper().decode("utf-8", "surrogateescape")
        raise RespError(f"unknown subcommand '{name}'. Try {typed} HELP.")
    return sub
