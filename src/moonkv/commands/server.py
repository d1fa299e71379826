"""Server commands: INFO DBSIZE FLUSHDB FLUSHALL SWAPDB CONFIG TIME LASTSAVE SHUTDOWN DEBUG."""

from __future__ import annotations

import errno
import logging
import os
import random
import resource
import sys
import time
from typing import Final

from moonkv import REDIS_VERSION, __version__, native
from moonkv.commands._util import atoi, glob_match, parse_int, strtod
from moonkv.commands.debug import debug_subcommand, unknown_subcommand
from moonkv.commands.keys import describe_value
from moonkv.commands.table import all_commands, command, container
from moonkv.engine import NO_REPLY, Client, Server, enabled_for, parse_memory, rewrite_config_file
from moonkv.errors import RespError, syntax_error
from moonkv.keyspace.digest import dataset_digest, value_digest
from moonkv.monitoring import percentile_usec
from moonkv.protocol import BigNumber, RawReply, Verbatim

_S: Final = "server"
log = logging.getLogger("moonkv")
_SLEEP_MAX: Final = float(2**31)  # DEBUG SLEEP's seconds (time.sleep refuses infinity)
_PACKED_THRESHOLD_MAX: Final = 2**32 - 2**20  # DEBUG QUICKLIST-PACKED-THRESHOLD: under 4 GB
_ASCII: Final = bytes(b & 127 for b in range(256))  # a byte table: rand() % 128, as Redis's fuzzer


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _human(n: int) -> str:
    for unit, size in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n}B"


def _section_server(srv: Server) -> list[str]:
    up = int(time.time() - srv.start_time)
    return [
        f"redis_version:{REDIS_VERSION}",
        f"moonkv_version:{__version__}",
        f"moonkv_build:{native.build_kind()}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        f"redis_mode:{'standalone' if srv.cluster is None else 'cluster'}",
        f"os:{os.uname().sysname} {os.uname().release} {os.uname().machine}",
        "arch_bits:64",
        "monotonic_clock:POSIX clock_gettime",
        "multiplexing_api:epoll",
        "atomicvar_api:c11-builtin",
        f"gcc_version:{sys.version.split()[0]}",
        f"process_id:{srv.pid}",
        "process_supervised:no",
        f"run_id:{srv.run_id}",
        f"tcp_port:{srv.port or srv.config['tls-port']}",
        f"server_time_usec:{time.time_ns() // 1000}",
        f"uptime_in_seconds:{up}",
        f"uptime_in_days:{up // 86400}",
        f"hz:{srv.config['hz']}",
        f"configured_hz:{srv.config['hz']}",
        f"lru_clock:{srv.ks.clock.lru}",
        f"executable:{sys.executable}",
        f"config_file:{srv.config.file}",
        "io_threads_active:0",
    ]


def _section_clients(srv: Server) -> list[str]:
    # The largest buffers now (Redis: over the last seconds, sampled by its cron).
    max_in = max_out = 0
    for c in srv.clients.values():
        qbuf, out, _, free, argv = c.buffers()
        max_in = max(max_in, qbuf + free + argv)  # the buffer as allocated, and the argv
        max_out = max(max_out, out)
    return [
        f"connected_clients:{len(srv.clients)}",
        "cluster_connections:0",
        f"maxclients:{srv.config['maxclients']}",
        f"client_recent_max_input_buffer:{max_in}",
        f"client_recent_max_output_buffer:{max_out}",
        f"blocked_clients:{srv.blocked_count}",
        f"tracking_clients:{len(srv.tracker.clients)}",
        "clients_in_timeout_table:0",
    ]


def _section_memory(srv: Server) -> list[str]:
    rss = _rss()
    used, not_counted = srv.evictor.memory()
    backlog, replicas = srv.evictor.replication_memory()
    dataset = srv.ks.dataset_memory()
    peak = srv.evictor.peak
    eng = srv.scripting
    lua = eng.memory_used() if eng is not None else 0
    nscripts = eng.cached_count() if eng is not None else 0
    maxmem = srv.config["maxmemory"]
    return [
        f"used_memory:{used}",
        f"used_memory_human:{_human(used)}",
        f"used_memory_rss:{rss}",
        f"used_memory_rss_human:{_human(rss)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{_human(peak)}",
        f"used_memory_peak_perc:{100 * used / max(peak, 1):.2f}%",
        f"used_memory_overhead:{used - dataset}",
        "used_memory_startup:0",
        f"used_memory_dataset:{dataset}",
        # pymalloc has no jemalloc figures: the allocator's view is the process's.
        f"allocator_allocated:{rss}",
        f"allocator_active:{rss}",
        f"allocator_resident:{rss}",
        f"used_memory_lua:{lua}",
        f"used_memory_vm_eval:{lua}",
        f"used_memory_lua_human:{_human(lua)}",
        f"used_memory_scripts_eval:{eng.cache_bytes if eng is not None else 0}",
        f"number_of_cached_scripts:{nscripts}",
        "number_of_functions:0",
        "number_of_libraries:0",
        f"used_memory_vm_functions:{lua}",
        f"used_memory_vm_total:{lua}",
        "used_memory_functions:0",
        "used_memory_scripts:0",
        f"maxmemory:{maxmem}",
        f"maxmemory_human:{_human(maxmem)}",
        f"maxmemory_policy:{srv.config['maxmemory-policy']}",
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        f"mem_fragmentation_ratio:{rss / max(used, 1):.2f}",
        "mem_fragmentation_bytes:0",
        f"mem_not_counted_for_evict:{not_counted}",
        f"mem_replication_backlog:{backlog}",
        f"mem_clients_slaves:{replicas}",
        f"mem_clients_normal:{srv.client_memory.normal}",
        "mem_aof_buffer:0",
        "mem_allocator:pymalloc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:0",
        "lazyfreed_objects:0",
    ]


def _section_persistence(srv: Server) -> list[str]:
    p = srv.persistence
    if p is not None:
        return list(p.info_lines())
    return [
        f"loading:{int(srv.loading)}",
        "async_loading:0",
        "current_cow_peak:0",
        "current_cow_size:0",
        "current_cow_size_age:0",
        "current_fork_perc:0.00",
        "current_save_keys_processed:0",
        "current_save_keys_total:0",
        f"rdb_changes_since_last_save:{srv.ks.dirty}",
        "rdb_bgsave_in_progress:0",
        f"rdb_last_save_time:{srv.lastsave}",
        "rdb_last_bgsave_status:ok",
        "rdb_last_bgsave_time_sec:-1",
        "rdb_current_bgsave_time_sec:-1",
        "aof_enabled:0",
        "aof_rewrite_in_progress:0",
        "aof_rewrite_scheduled:0",
        "aof_last_rewrite_time_sec:-1",
        "aof_current_rewrite_time_sec:-1",
        "aof_last_bgrewrite_status:ok",
        "aof_rewrites:0",
        "aof_last_write_status:ok",
        "aof_last_cow_size:0",
        "module_fork_in_progress:0",
        "module_fork_last_cow_size:0",
    ]


def _section_stats(srv: Server) -> list[str]:
    st = srv.stats
    ks = srv.ks
    tracked = srv.tracker.info()
    return [
        f"total_connections_received:{st['total_connections_received']}",
        f"total_commands_processed:{srv.commands_processed}",
        "instantaneous_ops_per_sec:0",
        f"total_net_input_bytes:{srv.net_input_bytes}",
        f"total_net_output_bytes:{srv.net_output_bytes}",
        "instantaneous_input_kbps:0.00",
        "instantaneous_output_kbps:0.00",
        f"rejected_connections:{st['rejected_connections']}",
        *(srv.replication.stats_lines() if srv.replication is not None
          else ["sync_full:0", "sync_partial_ok:0", "sync_partial_err:0"]),
        f"expired_keys:{ks.expired_keys}",
        f"expired_stale_perc:{ks.expired_stale_perc:.2f}",
        "expired_time_cap_reached_count:0",
        "expire_cycle_cpu_milliseconds:0",
        f"evicted_keys:{st['evicted_keys']}",
        f"evicted_clients:{st['evicted_clients']}",
        "total_eviction_exceeded_time:0",
        "current_eviction_exceeded_time:0",
        f"keyspace_hits:{ks.hits}",
        f"keyspace_misses:{ks.misses}",
        f"pubsub_channels:{len(srv.pubsub.channels)}",
        f"pubsub_patterns:{len(srv.pubsub.patterns)}",
        f"pubsubshard_channels:{len(srv.pubsub.shard)}",
        "latest_fork_usec:0",
        "total_forks:0",
        "migrate_cached_sockets:0",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        f"tracking_total_keys:{tracked[0]}",
        f"tracking_total_items:{tracked[1]}",
        f"tracking_total_prefixes:{tracked[2]}",
        f"unexpected_error_replies:{st['unexpected_error_replies']}",
        f"total_error_replies:{st['total_error_replies']}",
        f"dump_payload_sanitizations:{st['dump_payload_sanitizations']}",
        f"total_reads_processed:{st['total_reads_processed']}",
        f"total_writes_processed:{st['total_writes_processed']}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        # Redis 7.2's counters of ACL refusals (7.0 has none): see docs/security.md.
        f"acl_access_denied_auth:{st['acl_access_denied_auth']}",
        f"acl_access_denied_cmd:{st['acl_access_denied_cmd']}",
        f"acl_access_denied_key:{st['acl_access_denied_key']}",
        f"acl_access_denied_channel:{st['acl_access_denied_channel']}",
    ]


def _section_replication(srv: Server) -> list[str]:
    if srv.replication is not None:
        return srv.replication.info_lines()  # type: ignore[no-any-return]
    return [
        "role:master",
        "connected_slaves:0",
        "master_failover_state:no-failover",
        f"master_replid:{srv.run_id}",
        "master_replid2:0000000000000000000000000000000000000000",
        "master_repl_offset:0",
        "second_repl_offset:-1",
        "repl_backlog_active:0",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:0",
        "repl_backlog_histlen:0",
    ]


def _section_cpu(srv: Server) -> list[str]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        f"used_cpu_sys:{ru.ru_stime:.6f}",
        f"used_cpu_user:{ru.ru_utime:.6f}",
        f"used_cpu_sys_children:{rc.ru_stime:.6f}",
        f"used_cpu_user_children:{rc.ru_utime:.6f}",
        f"used_cpu_sys_main_thread:{ru.ru_stime:.6f}",
        f"used_cpu_user_main_thread:{ru.ru_utime:.6f}",
    ]


def _section_commandstats(srv: Server) -> list[str]:
    out = []
    for spec in all_commands():
        for s in [spec, *spec.subcommands.values()]:
            if s.calls or s.rejected_calls or s.failed_calls:
                usec = s.nsec // 1000
                per = usec / s.calls if s.calls else 0.0
                out.append(
                    f"cmdstat_{s.name}:calls={s.calls},usec={usec},usec_per_call={per:.2f},"
                    f"rejected_calls={s.rejected_calls},failed_calls={s.failed_calls}"
                )
    return out


def _section_latencystats(srv: Server) -> list[str]:
    pcts: list[float] = srv.config["latency-tracking-info-percentiles"]
    out = []
    for spec in all_commands():
        for s in [spec, *spec.subcommands.values()]:
            if s.latency:
                values = percentile_usec(s.latency, pcts)
                out.append(
                    f"latency_percentiles_usec_{s.name}:"
                    + ",".join(f"p{p:g}={v:.3f}" for p, v in zip(pcts, values, strict=True))
                )
    return out


def _section_errorstats(srv: Server) -> list[str]:
    return [f"errorstat_{k}:count={v}" for k, v in sorted(srv.errorstats.items())]


def _section_keyspace(srv: Server) -> list[str]:
    out = []
    for db in srv.ks.dbs:
        if db.data:
            out.append(f"db{db.id}:keys={len(db.data)},expires={len(db.expires)},avg_ttl={db.avg_ttl}")
    return out


def _section_modules(srv: Server) -> list[str]:
    return []


def _section_cluster(srv: Server) -> list[str]:
    return [f"cluster_enabled:{int(srv.cluster is not None)}"]


SECTIONS: Final = {
    "server": _section_server,
    "clients": _section_clients,
    "memory": _section_memory,
    "persistence": _section_persistence,
    "stats": _section_stats,
    "replication": _section_replication,
    "cpu": _section_cpu,
    "modules": _section_modules,
    "commandstats": _section_commandstats,
    "latencystats": _section_latencystats,
    "errorstats": _section_errorstats,
    "cluster": _section_cluster,
    "keyspace": _section_keyspace,
}
DEFAULT_SECTIONS: Final = [
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
    "errorstats", "cluster", "keyspace",
]


def render_info(srv: Server, args: list[bytes]) -> str:
    wanted: list[str] = []
    names = [a.decode("utf-8", "replace").lower() for a in args]
    if not names or "default" in names:
        wanted += DEFAULT_SECTIONS
    if "all" in names or "everything" in names:
        wanted += list(SECTIONS)
    for n in names:
        if n in SECTIONS:
            wanted.append(n)
    seen: set[str] = set()
    parts = []
    for name in wanted:
        if name in seen or name not in SECTIONS:
            continue
        seen.add(name)
        title = name.capitalize() if name != "cpu" else "CPU"
        lines = SECTIONS[name](srv)
        parts.append("# " + title + "\r\n" + "".join(line + "\r\n" for line in lines))
    return "\r\n".join(parts)


@command("info", -1, "loading stale", group=_S, summary="Returns information and statistics about the server.",
         tips="nondeterministic_output request_policy:all_shards response_policy:special", complexity="O(1)")
def info(c: Client, argv: list[bytes]) -> object:
    return Verbatim(render_info(c.server, argv[1:]).encode())


@command("dbsize", 1, "readonly fast", tips="request_policy:all_shards response_policy:agg_sum", group=_S, summary="Returns the number of keys in the database.")
def dbsize(c: Client, argv: list[bytes]) -> object:
    return len(c.db.data)


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2:
        raise syntax_error()
    if len(argv) == 2 and argv[1].lower() not in (b"async", b"sync"):
        raise syntax_error()


@command("flushdb", -1, "write", tips="request_policy:all_shards response_policy:all_succeeded", group=_S, summary="Removes all keys from the current database.",
         complexity="O(N) where N is the number of keys in the selected database")
def flushdb(c: Client, argv: list[bytes]) -> object:
    _flush_mode(argv)
    c.server.touch_all_watched(c.db.id)
    c.db.flush()
    return "OK"


@command("flushall", -1, "write", tips="request_policy:all_shards response_policy:all_succeeded", group=_S, summary="Removes all keys from all databases.",
         complexity="O(N) where N is the total number of keys in all databases")
def flushall(c: Client, argv: list[bytes]) -> object:
    _flush_mode(argv)
    srv = c.server
    for db in srv.ks.dbs:
        srv.touch_all_watched(db.id)
        db.flush()
    p = srv.persistence
    if p is not None and not c.in_script and not c.in_exec:
        p.after_flushall()
    return "OK"


@command("swapdb", 3, "write fast", group=_S, since="4.0.0", summary="Swaps two Redis databases.",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both databases.")
def swapdb(c: Client, argv: list[bytes]) -> object:
    srv = c.server
    if srv.cluster is not None:
        raise RespError("SWAPDB is not allowed in cluster mode")
    try:
        a = parse_int(argv[1])
    except RespError:
        raise RespError("invalid first DB index") from None
    try:
        b = parse_int(argv[2])
    except RespError:
        raise RespError("invalid second DB index") from None
    n = len(srv.ks.dbs)
    if not (0 <= a < n and 0 <= b < n):
        raise RespError("DB index is out of range")
    if a == b:
        return "OK"
    swap_databases(srv, a, b)
    return "OK"


def swap_databases(srv: Server, a: int, b: int) -> None:
    ks = srv.ks
    da, db_ = ks.dbs[a], ks.dbs[b]
    # Watched keys are touched if they exist in either database (Redis semantics), but a
    # missing key replaced by an expired one stays unchanged, logically: its watchers now
    # watch an expired key (see Server._invalidate_watches for keys watched expired).
    for (wdb, key), clients in srv.watched.items():
        if wdb != a and wdb != b:
            continue
        emptied, replaced = (da, db_) if wdb == a else (db_, da)
        if key not in emptied.data and key in replaced.data and replaced.is_expired(key):
            for cl in clients:
                if (wdb, key) not in cl.watch_expired:
                    cl.watch_expired.add((wdb, key))
        elif key in emptied.data or key in replaced.data:
            ks.touched.append((wdb, key))

    def do_swap() -> None:
        da.swap(db_)

    do_swap()
    ks.record(do_swap)
    ks.dirty += 1
    # Clients blocked on keys of either db may now be served.
    for (dbid, key) in list(ks.blocking_keys):
        if dbid in (a, b) and key in ks.dbs[dbid].data:
            ks.ready.append((dbid, key))


container("config", summary="A container for server configuration commands.", since="2.0.0")


@command("config|get", -3, "admin noscript loading stale", group=_S, since="2.0.0",
         summary="Returns the effective values of configuration parameters.",
         complexity="O(N) when N is the number of configuration parameters provided")
def config_get(c: Client, argv: list[bytes]) -> object:
    pats = [a.decode("utf-8", "replace") for a in argv[2:]]
    return c.server.config.get(pats, _live_config(c.server))


def _live_config(srv: Server) -> dict[str, str]:
    """Directive values kept elsewhere than ``Config``, as CONFIG GET and CONFIG REWRITE show
    them: the primary followed and the data directory resolved, as Redis's working directory
    (Redis changes into ``dir``)."""
    node = srv.replication
    master = node.master if node is not None else None
    return {"replicaof": f"{master[0]} {master[1]}" if master else "",
            "dir": os.path.realpath(srv.config["dir"])}


@command("config|set", -4, "admin noscript loading stale", tips="request_policy:all_nodes response_policy:all_succeeded", group=_S, since="2.0.0",
         summary="Sets configuration parameters in-flight.",
         complexity="O(N) when N is the number of configuration parameters provided")
def config_set(c: Client, argv: list[bytes]) -> object:
    if len(argv) % 2:
        raise RespError("wrong number of arguments for 'config|set' command")
    pairs = [
        (argv[i].decode("utf-8", "replace"), argv[i + 1].decode("utf-8", "surrogateescape"))
        for i in range(2, len(argv), 2)
    ]
    srv = c.server
    srv.config.set_many(pairs, enabled_for(srv.config["enable-protected-configs"], c))
    return "OK"


@command("config|resetstat", 2, "admin noscript loading stale", group=_S, since="2.0.0",
         summary="Resets the server's statistics.")
def config_resetstat(c: Client, argv: list[bytes]) -> object:
    srv = c.server
    for k in srv.stats:
        srv.stats[k] = 0
    srv.commands_processed = srv.net_input_bytes = srv.net_output_bytes = 0
    srv.errorstats.clear()
    srv.ks.hits = srv.ks.misses = srv.ks.expired_keys = 0
    for spec in all_commands():
        for s in [spec, *spec.subcommands.values()]:
            s.calls = s.nsec = s.rejected_calls = s.failed_calls = 0
            s.latency.clear()
    if srv.scripting is not None:
        srv.scripting.stats.reset()
    return "OK"


@command("config|rewrite", 2, "admin noscript loading stale", group=_S, since="2.8.0",
         summary="Persists the effective configuration to file.")
def config_rewrite(c: Client, argv: list[bytes]) -> object:
    if not c.server.config.file:
        raise RespError("The server is running without a config file")
    try:
        _rewrite_config(c.server, False)
    except OSError as e:
        log.warning("CONFIG REWRITE failed: %s", os.strerror(e.errno or 0))
        raise RespError(f"Rewriting config file: {os.strerror(e.errno or 0)}") from None
    log.warning("CONFIG REWRITE executed with success.")
    return "OK"


@debug_subcommand("config-rewrite-force-all", 2)
def debug_config_rewrite_force_all(c: Client, argv: list[bytes]) -> object:
    failed = "CONFIG-REWRITE-FORCE-ALL failed: "
    if not c.server.config.file:  # Redis opens its missing path, a NULL pointer
        raise RespError(failed + os.strerror(errno.EFAULT))
    try:
        _rewrite_config(c.server, True)
    except OSError as e:
        raise RespError(failed + os.strerror(e.errno or 0)) from None
    return "OK"


def _rewrite_config(srv: Server, force_all: bool) -> None:
    """The configuration file rewritten from the current values (engine/_conffile.py);
    raises OSError."""
    users = None if srv.config["aclfile"] else srv.acl.user_lines()
    live = _live_config(srv)
    if srv.cluster is not None:  # a cluster node's primary is the cluster's to say, not the file's
        live["replicaof"] = ""
    rewrite_config_file(srv.config, srv.config.file, users, live, force_all)


@command("config|help", 2, "loading stale", group=_S, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def config_help(c: Client, argv: list[bytes]) -> object:
    return [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Print this help.",
    ]


@command("time", 1, "loading stale fast", tips="nondeterministic_output", group=_S, since="2.6.0", summary="Returns the server time.")
def time_(c: Client, argv: list[bytes]) -> object:
    us = c.server.clock.now_us()
    return [str(us // 1_000_000).encode(), str(us % 1_000_000).encode()]


@command("lastsave", 1, "loading stale fast", tips="nondeterministic_output", group=_S, summary="Returns the Unix timestamp of the last successful save to disk.")
def lastsave(c: Client, argv: list[bytes]) -> object:
    return c.server.lastsave


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group=_S,
         summary="Synchronously saves the database(s) to disk and shuts down the Redis server.")
def shutdown(c: Client, argv: list[bytes]) -> object:
    mode = "default"
    for a in argv[1:]:
        opt = a.lower()
        if opt == b"nosave":
            mode = "nosave"
        elif opt == b"save":
            mode = "save"
        elif opt in (b"now", b"force", b"abort"):
            if opt == b"abort":
                raise RespError("No shutdown in progress.")
        else:
            raise syntax_error()
    c.server.shutdown_requested = mode
    return NO_REPLY


@command("monitor", 1, "admin noscript loading stale", group=_S,
         summary="Listens for all requests received by the server in real-time.")
def monitor(c: Client, argv: list[bytes]) -> object:
    if c.in_exec:  # Redis's CLIENT_DENY_BLOCKING: a reply per command is expected
        raise RespError("MONITOR isn't allowed for DENY BLOCKING client")
    monitors = c.server.monitors
    if c in monitors:
        return NO_REPLY  # already monitoring: ignored, as Redis does
    monitors[c] = None
    return "OK"


@debug_subcommand("error", 3)
def debug_error(c: Client, argv: list[bytes]) -> object:
    # The text as it is (its own prefix included), newlines blanked; as Redis, it is
    # sent as raw protocol and not counted as an error reply.
    return RawReply(b"-" + argv[2].replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")


@debug_subcommand("object", 3)
def debug_object(c: Client, argv: list[bytes]) -> object:
    return describe_value(c, argv[2])


@debug_subcommand("sleep", 3)
def debug_sleep(c: Client, argv: list[bytes]) -> object:
    secs = strtod(argv[2])  # as Redis: the leading number, else 0
    if secs > 0:  # (not NaN either)
        time.sleep(min(secs, _SLEEP_MAX))
    return "OK"


@debug_subcommand("set-active-expire", 3)
def debug_set_active_expire(c: Client, argv: list[bytes]) -> object:
    c.server.ks.active_expire_enabled = atoi(argv[2]) != 0
    return "OK"


@debug_subcommand("pause-cron", 3)
def debug_pause_cron(c: Client, argv: list[bytes]) -> object:
    c.server.cron_paused = atoi(argv[2]) != 0
    return "OK"


@debug_subcommand("replybuffer", 4)
def debug_replybuffer(c: Client, argv: list[bytes]) -> object:
    """Redis 7.0 shrinks and grows each client's reply buffer in its cron (RESIZING) after the
    peak of the last PEAK-RESET-TIME ms. moonkv's reply buffer is a fixed 16 KiB that is never
    counted (docs/compatibility.md): what Redis's settings make steady always is. The
    arguments are checked as Redis checks them."""
    what = argv[2].lower()
    if what == b"peak-reset-time":
        if argv[3].lower() not in (b"never", b"reset"):
            parse_int(argv[3])
    elif what != b"resizing":  # (RESIZING takes what atoi() makes of its argument)
        raise unknown_subcommand(argv)
    return "OK"


@debug_subcommand("quicklist-packed-threshold", 3)
def debug_quicklist(c: Client, argv: list[bytes]) -> object:
    # moonkv's lists have no packed nodes: the size is checked as Redis checks it, and unused.
    try:
        size = parse_memory(argv[2].decode("latin-1"))
    except ValueError:
        size = _PACKED_THRESHOLD_MAX + 1
    if size > _PACKED_THRESHOLD_MAX:
        raise RespError("argument must be a memory value bigger than 1 and smaller than 4gb")
    return "OK"


@debug_subcommand("stringmatch-test", 2)
def debug_stringmatch_test(c: Client, argv: list[bytes]) -> object:
    """Redis's fuzz test of its glob matcher: random patterns against random strings of
    ASCII bytes, each under 32 bytes (Redis runs ten million in C; ten thousand here)."""
    rnd = random.Random()
    for _ in range(10_000):
        pat = rnd.randbytes(rnd.randrange(32)).translate(_ASCII)
        glob_match(pat, rnd.randbytes(rnd.randrange(32)).translate(_ASCII))
    return "Apparently Redis did not crash: test passed"


@debug_subcommand("change-repl-id", 2)
def debug_change_repl_id(c: Client, argv: list[bytes]) -> object:
    repl = c.server.replication
    if repl is not None:
        repl.change_replid()
    else:
        c.server.run_id = os.urandom(20).hex()
    return "OK"


@debug_subcommand("reload", -2)
def debug_reload(c: Client, argv: list[bytes]) -> object:
    # Redis's options are checked as Redis checks them, but have no effect: moonkv's reload
    # always saves and replaces (docs/compatibility.md, "Redis's own test suite").
    for opt in argv[2:]:
        if opt.lower() not in (b"merge", b"noflush", b"nosave"):
            raise RespError("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    p = c.server.persistence
    if p is None:
        raise RespError("Persistence is not available")
    p.debug_reload()
    return "OK"


@debug_subcommand("loadaof", 2)
def debug_loadaof(c: Client, argv: list[bytes]) -> object:
    p = c.server.persistence
    if p is None:
        raise RespError("Persistence is not available")
    p.debug_reload(from_log=True)
    return "OK"


@debug_subcommand("digest", 2)
def debug_digest(c: Client, argv: list[bytes]) -> object:
    return dataset_digest(c.server.ks).hex()


@debug_subcommand("digest-value", -2)
def debug_digest_value(c: Client, argv: list[bytes]) -> object:
    return [value_digest(c.db, key).hex() for key in argv[2:]]


_ATTRIB_REPLY = b"$39\r\nSome real reply following the attribute\r\n"
_PUSH_REPLY = b"$40\r\nSome real reply following the push reply\r\n"


@debug_subcommand("protocol", 3)
def debug_protocol(c: Client, argv: list[bytes]) -> object:
    name = argv[2].lower()
    if name == b"string":
        return b"Hello World"
    if name == b"integer":
        return 12345
    if name == b"double":
        return 3.141
    if name == b"bignum":
        return BigNumber(b"1234567999999999999999999999999999999")
    if name == b"null":
        return None
    if name == b"array":
        return [0, 1, 2]
    if name == b"set":
        return {0, 1, 2}
    if name == b"map":
        return {0: False, 1: True, 2: False}
    if name == b"attrib":
        if c.in_script:  # Redis's reply parser for Lua skips attributes
            return _ATTRIB_REPLY[5:-2]
        if c.resp >= 3:  # an attribute, then the real reply (RESP2 has no attributes)
            return RawReply(b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n" + _ATTRIB_REPLY)
        return RawReply(_ATTRIB_REPLY)
    if name == b"push":
        if c.resp < 3:
            raise RespError("RESP2 is not supported by this command")
        return RawReply(b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n" + _PUSH_REPLY)
    if name == b"true":
        return True
    if name == b"false":
        return False
    if name == b"verbatim":
        return Verbatim(b"This is a verbatim\nstring")
    raise RespError("Wrong protocol type name. Please use one of the following: "
                    "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


@debug_subcommand("help", 2)
def debug_help(c: Client, argv: list[bytes]) -> object:
    return [
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "SLEEP <seconds>", "SET-ACTIVE-EXPIRE <0|1>", "RELOAD", "LOADAOF", "CHANGE-REPL-ID",
        "STRINGMATCH-TEST", "DIGEST", "DIGEST-VALUE <key> [<key> ...]", "PAUSE-CRON <0|1>",
        "REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|time>", "REPLYBUFFER RESIZING <0|1>",
        "PROTOCOL <type>", "CONFIG-REWRITE-FORCE-ALL", "HELP",
    ]
