"""Typed configuration: redis.conf directives, CONFIG GET/SET, command-line options.

Each directive is declared once in :data:`DIRECTIVES`.  Values are kept as
Python values (ints, bools, strings) and rendered as Redis renders them in
CONFIG GET.  Components that must react to a change register a listener.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from moonkv.errors import RespError
from moonkv.keyspace.events import classes_string, parse_classes

_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


# The bounds of Redis's numeric directives, by their C types.
INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
UINT_MAX: Final = 2**32 - 1
LLONG_MAX: Final = 2**63 - 1  # LONG_MAX, SSIZE_MAX on 64 bits
ULLONG_MAX: Final = 2**64 - 1


def parse_memory(text: str) -> int:
    """A memory value as Redis's memtoull reads it: digits, then an optional unit (b, k, kb,
    m, mb, g, gb, any case). The digits saturate at 2**64 - 1 and the product wraps modulo
    2**64, as in C; no sign, no spaces."""
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    mul = _UNITS.get(text[i:].lower())
    if mul is None or text[:1] == "-" or i >= 128:
        raise ValueError("argument must be a memory value")
    return min(int(text[:i] or "0"), ULLONG_MAX) * mul % 2**64


def parse_integer(text: str) -> int:
    """A 64-bit signed integer as Redis's string2ll reads it: no sign but '-', no leading
    zeros, no spaces."""
    digits = text[1:] if text[:1] == "-" else text
    if not (digits.isascii() and digits.isdigit()) or (digits[0] == "0" and text != "0"):
        raise ValueError("argument couldn't be parsed into an integer")
    n = int(text)
    if not -LLONG_MAX - 1 <= n <= LLONG_MAX:
        raise ValueError("argument couldn't be parsed into an integer")
    return n


# client-output-buffer-limit: the client classes in CONFIG GET's order, and their
# names on input (replica and slave are one class).
OBUF_CLASSES: Final = ("normal", "slave", "pubsub")
REPLICA_CLASS: Final = 1  # the index of the replica class in the parsed value
_OBUF_INDEX: Final = {"normal": 0, "slave": 1, "replica": 1, "pubsub": 2}
ObufLimits = tuple[tuple[int, int, int], ...]  # (hard, soft, soft seconds) per class


def parse_obuf_limits(raw: str, current: ObufLimits) -> ObufLimits:
    """``class hard soft seconds`` groups over ``current``, with Redis's error texts."""
    parts = raw.split()
    if len(parts) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    out = list(current)
    for i in range(0, len(parts), 4):
        index = _OBUF_INDEX.get(parts[i].lower())
        if index is None:
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(parts[i + 1]), parse_memory(parts[i + 2])
            if not parts[i + 3].lstrip("+").isdigit():
                raise ValueError
            seconds = int(parts[i + 3])
        except ValueError:
            raise ValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
        out[index] = (hard, soft, seconds)
    return tuple(out)


@dataclass
class Directive:
    name: str
    kind: str  # int | memory | percent-memory | bool | enum | string | save | flags | events | percentiles | obuf
    default: Any
    choices: tuple[str, ...] = ()
    # Bounds of an int or memory directive (Redis's, or of the C type it gives the value).
    minimum: int = 0
    maximum: int = LLONG_MAX
    # A value the range admits is then brought into these bounds (hz: Redis's 1 to 500).
    clamp: tuple[int, int] | None = None
    immutable: bool = False
    aliases: tuple[str, ...] = ()
    sensitive: bool = False
    # PROTECTED_CONFIG: CONFIG SET only where enable-protected-configs allows it.
    protected: bool = False
    # HIDDEN_CONFIG, as Redis's: CONFIG GET shows it when named, never for a pattern.
    hidden: bool = False
    # CONFIG REWRITE (engine/_conffile.py): a string of several arguments, written unquoted
    # (Redis's MULTI_ARG_CONFIG strings: bind, shutdown-on-sig*) ...
    words: bool = False
    # ... and an empty string kept as ``name ""`` (Redis's ALLOW_EMPTY_STRING with an empty
    # default); other empty strings whose default is empty are no value: their lines go.
    keep_empty: bool = False
    # Most words a value may hold (bind's 16 addresses; 0: no limit).
    max_words: int = 0
    # An enum's choices that are another's (Redis's entries of equal value): (given, kept).
    same: tuple[tuple[str, str], ...] = ()

    @property
    def arity(self) -> int:
        """How many arguments a configuration line gives it (0: any number)."""
        if self.kind in ("save", "obuf", "percentiles", "oom") or self.words:
            return 0
        return 2 if self.name == "replicaof" else 1

    def parse(self, raw: str) -> Any:
        k = self.kind
        if k == "bool":
            v = raw.lower()
            if v not in ("yes", "no"):
                raise ValueError("argument must be 'yes' or 'no'")
            return v == "yes"
        if k == "percent-memory":  # bytes, or N% (kept negative, as Redis keeps it)
            if raw.endswith("%"):
                if not raw[:-1].isdigit():
                    raise ValueError("argument must be a memory or percent value")
                pct = int(raw[:-1])
                if pct > 100:
                    raise ValueError("percentage argument must be less or equal to 100")
                return -pct
            try:
                n = parse_memory(raw)
            except ValueError:
                raise ValueError("argument must be a memory or percent value") from None
            if n > self.maximum:  # negative as C's signed size: Redis takes it for a percentage
                raise ValueError("percentage argument must be less or equal to 100")
            return n
        if k in ("int", "memory"):
            n = parse_memory(raw) if k == "memory" else parse_integer(raw)
            if not self.minimum <= n <= self.maximum:
                raise ValueError(f"argument must be between {self.minimum} and {self.maximum} inclusive")
            if self.clamp is not None:
                n = min(max(n, self.clamp[0]), self.clamp[1])
            return n
        if k == "enum":
            v = raw.lower()
            if v not in self.choices:
                raise ValueError("argument(s) must be one of the following: " + ", ".join(self.choices))
            return dict(self.same).get(v, v)
        if k == "flags":  # words of ``choices``, kept in their order (Redis's flags enum)
            given = {w.lower() for w in raw.split()}
            if not given or not given <= set(self.choices):
                raise ValueError("argument(s) must be one of the following: " + ", ".join(self.choices))
            return " ".join(c for c in self.choices[1:] if c in given) or self.choices[0]
        if k == "oom":  # a primary's, a replica's and a background child's OOM score
            parts = raw.split()
            if len(parts) != 3:
                raise ValueError("wrong number of arguments")
            try:
                scores = tuple(int(x) for x in parts)
            except ValueError:
                scores = (-2001,)
            if any(not -2000 <= x <= 2000 for x in scores):
                raise ValueError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
            return scores
        if self.name == "replicaof" and raw and raw.lower() != "no one":
            port = raw.split()[-1]
            if not port.isdigit() or int(port) > 65535:
                raise ValueError("Invalid master port")
            return raw
        if k == "events":
            return parse_classes(raw)
        if k == "percentiles":
            try:
                values = [float(p) for p in raw.split()]
            except ValueError:
                raise ValueError("Invalid latency-tracking-info-percentiles parameters") from None
            if any(not 0.0 <= v <= 100.0 for v in values):
                raise ValueError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
            return values
        if k == "obuf":
            return parse_obuf_limits(raw, self.default)
        if k == "save":
            parts = raw.split()
            if len(parts) % 2:
                raise ValueError("Invalid save parameters")
            rules = []
            for i in range(0, len(parts), 2):
                if not parts[i].isdigit() or not parts[i + 1].isdigit():
                    raise ValueError("Invalid save parameters")
                rules.append((int(parts[i]), int(parts[i + 1])))
            return rules
        if self.max_words:
            words = raw.split()
            if len(words) > self.max_words:
                raise ValueError("Too many bind addresses specified.")
            return " ".join(words)
        return raw

    def render(self, value: Any) -> str:
        k = self.kind
        if k == "bool":
            return "yes" if value else "no"
        if k == "save":
            return " ".join(f"{s} {c}" for s, c in value)
        if k == "events":
            return classes_string(value)
        if k == "percentiles":
            return " ".join(f"{v:g}" for v in value)
        if k == "oom":
            return " ".join(str(v) for v in value)
        if k == "percent-memory" and value < 0:
            return f"{-value}%"
        if k == "obuf":
            return " ".join(f"{cls} {h} {s} {sec}" for cls, (h, s, sec) in zip(OBUF_CLASSES, value, strict=True))
        return str(value)

    def parse_onto(self, raw: str, current: Any) -> Any:
        """The value after setting ``raw`` over ``current``: client-output-buffer-limit
        changes only the classes it names, as Redis's; every other kind ignores ``current``."""
        if self.kind == "obuf":
            return parse_obuf_limits(raw, current)
        return self.parse(raw)


_SHUTDOWN_FLAGS: Final = ("default", "save", "nosave", "now", "force")

DIRECTIVES: Final[list[Directive]] = [
    # bind, port, metrics-port: CONFIG SET listens anew (server/_listener.py).
    # Up to 16 addresses, each optional with a leading "-" (server/_bind.py).
    Directive("bind", "string", "127.0.0.1", words=True, max_words=16),
    Directive("port", "int", 6379, minimum=0, maximum=65535),
    Directive("dir", "string", "./moonkv-data", immutable=True, protected=True),
    Directive("unixsocket", "string", "", immutable=True),
    Directive("databases", "int", 16, minimum=1, maximum=1 << 20, immutable=True),
    Directive("daemonize", "bool", False, immutable=True),
    Directive("pidfile", "string", "", immutable=True),
    Directive("logfile", "string", "", immutable=True, keep_empty=True),
    Directive("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
    Directive("requirepass", "string", "", sensitive=True),
    Directive("masterauth", "string", "", sensitive=True),
    Directive("maxclients", "int", 10000, minimum=1, maximum=UINT_MAX),
    Directive("timeout", "int", 0, maximum=INT_MAX),
    Directive("tcp-keepalive", "int", 300, maximum=INT_MAX),
    Directive("tcp-backlog", "int", 511, maximum=INT_MAX, immutable=True),
    Directive("protected-mode", "bool", True),
    Directive("hz", "int", 10, maximum=INT_MAX, clamp=(1, 500)),
    Directive("dynamic-hz", "bool", True),
    Directive("maxmemory", "memory", 0, maximum=ULLONG_MAX),
    Directive(
        "maxmemory-policy",
        "enum",
        "noeviction",
        choices=(
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ),
    ),
    Directive("maxmemory-samples", "int", 5, minimum=1, maximum=INT_MAX),
    Directive("maxmemory-eviction-tenacity", "int", 10, minimum=0, maximum=100),
    Directive("maxmemory-clients", "percent-memory", 0),
    Directive("lfu-log-factor", "int", 10, maximum=INT_MAX),
    Directive("lfu-decay-time", "int", 1, maximum=INT_MAX),
    Directive("proto-max-bulk-len", "memory", 512 * 1024 * 1024, minimum=1024 * 1024),
    Directive("client-query-buffer-limit", "memory", 1024**3, minimum=1024 * 1024),
    Directive(
        "client-output-buffer-limit", "obuf",
        ((0, 0, 0), (268435456, 67108864, 60), (33554432, 8388608, 60)),
    ),
    # Persistence (issue: durable storage).
    Directive("appendonly", "bool", True),
    Directive("appendfsync", "enum", "always", choices=("everysec", "always", "no")),  # Redis's order
    Directive("appendfilename", "string", "appendonly.aof", immutable=True),
    Directive("appenddirname", "string", "appendonlydir", immutable=True),
    Directive("auto-aof-rewrite-percentage", "int", 100, maximum=INT_MAX),
    Directive("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024),
    Directive("no-appendfsync-on-rewrite", "bool", False),
    Directive("aof-use-rdb-preamble", "bool", True),
    Directive("aof-load-truncated", "bool", True),
    Directive("aof-timestamp-enabled", "bool", False),
    Directive("save", "save", [(3600, 1), (300, 100), (60, 10000)]),
    Directive("dbfilename", "string", "dump.rdb", protected=True),
    Directive("rdbcompression", "bool", True),
    Directive("rdbchecksum", "bool", True),
    Directive("stop-writes-on-bgsave-error", "bool", True),
    # Scripting.
    # Redis 7's name; lua-time-limit is its alias (CONFIG REWRITE writes this one).
    Directive("busy-reply-threshold", "int", 5000, minimum=0, aliases=("lua-time-limit",)),
    # Microseconds slept per key loaded (negative: 1 µs once per -N keys): persistence/_load.py.
    Directive("key-load-delay", "int", 0, minimum=INT_MIN, maximum=INT_MAX, hidden=True),
    # Accepted, no effect, hidden as Redis's: moonkv's loading serves events every 10 ms
    # (persistence/_load.py), not every so many bytes.
    Directive("loading-process-events-interval-bytes", "int", 2 * 1024 * 1024, minimum=1024,
              maximum=INT_MAX, hidden=True),
    Directive("lua-kill-time-limit", "int", 0, minimum=0),
    Directive("lua-memory-limit", "memory", 64 * 1024 * 1024, minimum=1024 * 1024),
    Directive("lua-eval-cache-size", "int", 500, minimum=1, maximum=INT_MAX),
    # Encodings (only change what OBJECT ENCODING reports).
    Directive("hash-max-listpack-entries", "int", 128, aliases=("hash-max-ziplist-entries",)),
    Directive("hash-max-listpack-value", "memory", 64, aliases=("hash-max-ziplist-value",)),
    Directive("list-max-listpack-size", "int", -2, minimum=INT_MIN, maximum=INT_MAX, aliases=("list-max-ziplist-size",)),
    Directive("list-compress-depth", "int", 0, maximum=INT_MAX),
    Directive("set-max-intset-entries", "int", 512),
    Directive("set-max-listpack-entries", "int", 128),
    Directive("set-max-listpack-value", "memory", 64),
    Directive("zset-max-listpack-entries", "int", 128, aliases=("zset-max-ziplist-entries",)),
    Directive("zset-max-listpack-value", "memory", 64, aliases=("zset-max-ziplist-value",)),
    Directive("stream-node-max-bytes", "memory", 4096),
    Directive("stream-node-max-entries", "int", 100),
    Directive("hll-sparse-max-bytes", "memory", 3000),
    Directive("activerehashing", "bool", True),
    Directive("active-expire-effort", "int", 1, minimum=1, maximum=10),
    Directive("lazyfree-lazy-eviction", "bool", False),
    Directive("lazyfree-lazy-expire", "bool", False),
    Directive("lazyfree-lazy-server-del", "bool", False),
    Directive("lazyfree-lazy-user-del", "bool", False),
    Directive("lazyfree-lazy-user-flush", "bool", False),
    Directive("slowlog-log-slower-than", "int", 10000, minimum=-1),
    Directive("slowlog-max-len", "int", 128),
    Directive("latency-monitor-threshold", "int", 0, minimum=0),
    Directive("latency-tracking", "bool", True),
    # moonkv: the Prometheus endpoint's port on the bind address (0: off).
    Directive("metrics-port", "int", 0, minimum=0, maximum=65535),
    Directive("latency-tracking-info-percentiles", "percentiles", [50.0, 99.0, 99.9]),
    Directive("notify-keyspace-events", "events", 0),
    Directive("enable-debug-command", "enum", "no", choices=("no", "yes", "local"), immutable=True),
    Directive("enable-protected-configs", "enum", "no", choices=("no", "yes", "local"), immutable=True),
    Directive("enable-module-command", "enum", "no", choices=("no", "yes", "local"), immutable=True),
    Directive("replica-read-only", "bool", True, aliases=("slave-read-only",)),
    Directive("replica-serve-stale-data", "bool", True, aliases=("slave-serve-stale-data",)),
    Directive("repl-diskless-sync", "bool", True),
    # Accepted, no effect: a full sync sends a snapshot file at once (docs/replication.md).
    Directive("repl-diskless-sync-delay", "int", 5, maximum=INT_MAX),
    # Accepted, no effect: a failed command from the primary or the log is counted and its
    # first failure logged, Redis's "ignore" (docs/compatibility.md, "Replication").
    Directive("propagation-error-behavior", "enum", "ignore",
              choices=("ignore", "panic", "panic-on-replicas")),
    Directive("min-replicas-to-write", "int", 0, maximum=INT_MAX, aliases=("min-slaves-to-write",)),
    Directive("min-replicas-max-lag", "int", 10, maximum=INT_MAX, aliases=("min-slaves-max-lag",)),
    # CONFIG GET answers the primary followed now (commands/server.py), "" on a primary.
    Directive("replicaof", "string", "", aliases=("slaveof",), immutable=True),
    Directive("masteruser", "string", ""),
    Directive("repl-backlog-size", "memory", 1048576, minimum=1),
    Directive("repl-ping-replica-period", "int", 10, minimum=1, maximum=INT_MAX, aliases=("repl-ping-slave-period",)),
    Directive("repl-timeout", "int", 60, minimum=1, maximum=INT_MAX),
    Directive("replica-priority", "int", 100, maximum=INT_MAX, aliases=("slave-priority",)),
    Directive("replica-announced", "bool", True),
    # Cluster mode (docs/cluster.md): moonkv.cluster.
    Directive("cluster-enabled", "bool", False, immutable=True),
    # moonkv's own start-up-only directives are hidden from CONFIG GET patterns (answered when
    # named): tools that set back every directive CONFIG GET * lists skip only Redis's
    # immutable ones (unit/introspection's "CONFIG sanity").
    Directive("cluster-etcd-endpoints", "string", "", immutable=True, hidden=True),
    Directive("cluster-name", "string", "moonkv", immutable=True, hidden=True),
    Directive("cluster-node-timeout", "int", 3000, minimum=1),
    Directive("cluster-announce-ip", "string", ""),
    Directive("cluster-announce-port", "int", 0, minimum=0, maximum=65535),
    # Resharding (docs/cluster.md): a source that handed slots over answers ASK (yes) or keeps
    # writes waiting with TRYAGAIN until the commit's MOVED (no: what redis-py can follow).
    Directive("cluster-migration-ask", "bool", False),
    # TLS (docs/tls.md): moonkv.tls builds the contexts, server/_tls.py listens.
    Directive("tls-port", "int", 0, minimum=0, maximum=65535),
    Directive("tls-cert-file", "string", ""),
    Directive("tls-key-file", "string", ""),
    Directive("tls-key-file-pass", "string", "", sensitive=True),
    Directive("tls-client-cert-file", "string", ""),
    Directive("tls-client-key-file", "string", ""),
    Directive("tls-client-key-file-pass", "string", "", sensitive=True),
    Directive("tls-dh-params-file", "string", ""),
    Directive("tls-ca-cert-file", "string", ""),
    Directive("tls-ca-cert-dir", "string", ""),
    Directive("tls-auth-clients", "enum", "yes", choices=("no", "yes", "optional")),
    Directive("tls-protocols", "string", ""),
    Directive("tls-ciphers", "string", ""),
    Directive("tls-ciphersuites", "string", ""),
    Directive("tls-prefer-server-ciphers", "bool", False),
    Directive("tls-session-caching", "bool", True),
    Directive("tls-session-cache-size", "int", 20 * 1024, maximum=INT_MAX),
    Directive("tls-session-cache-timeout", "int", 300, maximum=INT_MAX),
    Directive("tls-replication", "bool", False),
    Directive("tls-cluster", "bool", False),
    Directive("io-threads", "int", 1, minimum=1, maximum=128, immutable=True),
    Directive("supervised", "enum", "no", choices=("upstart", "systemd", "auto", "no"), immutable=True),
    Directive("always-show-logo", "bool", False, immutable=True),
    Directive("set-proc-title", "bool", True, immutable=True),
    Directive("crash-log-enabled", "bool", True),
    Directive("crash-memcheck-enabled", "bool", True),
    Directive("jemalloc-bg-thread", "bool", True),
    Directive("activedefrag", "bool", False),
    # server/_oom.py writes /proc/self/oom_score_adj; "relative" is "yes", as Redis's.
    Directive("oom-score-adj", "enum", "no", choices=("no", "yes", "relative", "absolute"),
              same=(("relative", "yes"),)),
    Directive("oom-score-adj-values", "oom", (0, 200, 800)),
    # The source address of the replication link (replication/_link.py).
    Directive("bind-source-addr", "string", ""),
    # Accepted, no effect (Redis's redis.conf sets them): moonkv has no fork child, no RDB
    # transfer, no transparent huge pages to disable, no process title template
    # (docs/compatibility.md, "Configuration").
    Directive("aof-rewrite-incremental-fsync", "bool", True),
    Directive("rdb-save-incremental-fsync", "bool", True),
    Directive("rdb-del-sync-files", "bool", False),
    Directive("disable-thp", "bool", True, immutable=True),
    Directive("proc-title-template", "string", "{title} {listen-addr} {server-mode}"),
    Directive("repl-disable-tcp-nodelay", "bool", False),
    Directive("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb")),
    Directive("repl-diskless-sync-max-replicas", "int", 0, maximum=INT_MAX),
    Directive("replica-lazy-flush", "bool", False),
    Directive("tracking-table-max-keys", "int", 1000000),
    Directive("acllog-max-len", "int", 128),
    Directive("aclfile", "string", "", immutable=True, keep_empty=True),
    Directive("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels")),
    Directive("shutdown-timeout", "int", 10, maximum=INT_MAX),
    Directive("shutdown-on-sigint", "flags", "default", choices=_SHUTDOWN_FLAGS, words=True),
    Directive("shutdown-on-sigterm", "flags", "default", choices=_SHUTDOWN_FLAGS, words=True),
]

_BY_NAME: Final[dict[str, Directive]] = {}
for _d in DIRECTIVES:
    _BY_NAME[_d.name] = _d
    for _a in _d.aliases:
        _BY_NAME[_a] = _d

Listener = Callable[[str, Any], None]
Committer = Callable[[list[str]], None]


class Config:
    """Current directive values; ``config["port"]``."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {d.name: d.default for d in DIRECTIVES}
        self._listeners: list[Listener] = []
        self._committers: list[Committer] = []
        # ``user`` directives (name, rules...), applied at start (engine/_aclfile.py).
        self.users: list[list[bytes]] = []
        # The absolute path of the file the server started with (CONFIG REWRITE), or "".
        self.file = ""
        self._save_loaded = False  # a ``save`` line was read (load())

    def __getitem__(self, name: str) -> Any:
        return self._values[_BY_NAME[name].name]

    @staticmethod
    def directive(name: str) -> Directive | None:
        return _BY_NAME.get(name.lower())

    def on_change(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def on_commit(self, fn: Committer) -> None:
        """``fn(names)`` runs once per CONFIG SET, after every value is in place, with
        the names it set, in order: settings that only work together (a certificate and its
        key) are applied as one, as Redis's apply functions.  A RespError from it
        undoes the whole CONFIG SET."""
        self._committers.append(fn)

    def load_args(self, name: str, args: list[str]) -> None:
        """A configuration line's directive and arguments, with Redis's arity checks: a
        directive of one value takes exactly one, ``replicaof`` two, the others any number."""
        d = _BY_NAME.get(name.lower())
        if d is None:
            raise ValueError("Bad directive or wrong number of arguments")
        if d.arity and len(args) != d.arity:
            raise ValueError("wrong number of arguments")
        self.load(name, " ".join(args))

    def load(self, name: str, raw: str) -> None:
        """Set at start-up (file or command line): immutable directives allowed."""
        d = _BY_NAME.get(name.lower())
        if d is None:
            raise ValueError("Bad directive or wrong number of arguments")
        if d.kind == "save":
            # As Redis reads them: the first ``save`` replaces the default rules, later ones
            # add theirs (CONFIG REWRITE writes a line per rule), ``save ""`` clears them.
            rules = d.parse(raw)
            keep = self._save_loaded and raw.strip() != ""
            self._values[d.name] = (self._values[d.name] if keep else []) + rules
            self._save_loaded = True
            return
        self._values[d.name] = d.parse_onto(raw, self._values[d.name])

    def set_many(self, pairs: list[tuple[str, str]], allow_protected: bool = False) -> None:
        """CONFIG SET: all or nothing, with Redis's error texts.

        ``allow_protected``: enable-protected-configs allows this client to set
        the protected directives.
        """
        # As Redis: first every name (the first problem is the one reported), then every
        # value (a bad one is reported by its directive's own name).
        named: list[tuple[Directive, str]] = []
        for name, raw in pairs:
            d = _BY_NAME.get(name.lower())
            if d is None:
                raise RespError(f"Unknown option or number of arguments for CONFIG SET - '{name}'")
            problem = None
            # Protected first: no Redis directive is both, but moonkv's ``dir`` is (it cannot
            # change at run time), and Redis answers "protected" for it.
            if d.protected and not allow_protected:
                problem = "can't set protected config"
            elif d.immutable:
                problem = "can't set immutable config"
            elif any(prev is d for prev, _ in named):
                problem = "duplicate parameter"
            if problem is not None:
                raise RespError(f"CONFIG SET failed (possibly related to argument '{name}') - {problem}")
            named.append((d, raw))
        parsed: list[tuple[Directive, Any]] = []
        for d, raw in named:
            try:
                parsed.append((d, d.parse_onto(raw, self._values[d.name])))
            except ValueError as e:
                raise RespError(f"CONFIG SET failed (possibly related to argument '{d.name}') - {e}") from None
        old = [(d.name, self._values[d.name]) for d, _ in parsed]
        applied = 0
        try:
            for d, v in parsed:
                self._values[d.name] = v
                applied += 1
                for fn in self._listeners:
                    fn(d.name, v)
            if self._committers:
                names = [d.name for d, _ in parsed]
                for commit in self._committers:
                    commit(names)
        except RespError:
            # Undo every value, and tell the listeners of those they were told about.
            for i, (name, v) in enumerate(old):
                self._values[name] = v
                if i < applied:
                    for fn in self._listeners:
                        fn(name, v)
            raise

    @staticmethod
    def redact_set(argv: list[bytes]) -> list[bytes]:
        """CONFIG SET's argv with the values of sensitive directives hidden (the slow log)."""
        out = list(argv)
        for i in range(2, len(out) - 1, 2):
            d = _BY_NAME.get(out[i].decode("utf-8", "replace").lower())
            if d is not None and d.sensitive:
                out[i + 1] = b"(redacted)"
        return out

    def get(self, patterns: list[str], live: dict[str, str] | None = None) -> dict[bytes, bytes]:
        """CONFIG GET: a name is answered as given (hidden directives too), a pattern by every
        matching name and alias but the hidden ones; each directive once, whatever its case.
        ``live``: values kept elsewhere than here, by directive name (replicaof)."""
        out: dict[bytes, bytes] = {}
        seen: set[str] = set()

        def value(d: Directive) -> bytes:
            if live is not None and d.name in live:
                return live[d.name].encode()
            return d.render(self._values[d.name]).encode()

        for pat in patterns:
            p = pat.lower()
            if not any(c in p for c in "*?["):
                d = _BY_NAME.get(p)
                if d is not None and p not in seen:
                    seen.add(p)
                    out[pat.encode()] = value(d)
                continue
            for name, d in _BY_NAME.items():
                if not d.hidden and name not in seen and fnmatch.fnmatchcase(name, p):
                    seen.add(name)
                    out[name.encode()] = value(d)
        return out

    def items(self) -> list[tuple[str, str]]:
        return [(d.name, d.render(self._values[d.name])) for d in DIRECTIVES if not d.hidden]
