"""MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP, with Redis's
field names and moonkv's own figures (sizes from moonkv.keyspace.memory)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import sys
from typing import Final

from moonkv.commands.server import _rss
from moonkv.commands.table import command, container, keys
from moonkv.engine import Client, Server
from moonkv.errors import RespError, syntax_error
from moonkv.keyspace.memory import EXPIRE_SIZE, key_size, value_size
from moonkv.protocol import Verbatim

_S: Final = "server"
DEFAULT_SAMPLES: Final = 5  # MEMORY USAGE without SAMPLES, as Redis
# The process size once the server is assembled (the command modules load at
# start-up, before any client): MEMORY STATS's startup.allocated.
_STARTUP: Final = _rss()

container("memory", summary="A container for memory diagnostics commands.", since="4.0.0")


@command("memory|usage", -3, "readonly", keys=keys(2, flags="RO"), group=_S, since="4.0.0",
         summary="Estimates the memory usage of a key.", complexity="O(N) where N is the number of samples.")
def memory_usage(c: Client, argv: list[bytes]) -> object:
    samples = DEFAULT_SAMPLES
    j = 3
    while j < len(argv):
        if argv[j].lower() == b"samples" and j + 1 < len(argv):
            try:
                samples = int(argv[j + 1])
            except ValueError:
                raise RespError("value is not an integer or out of range") from None
            if samples < 0:
                raise syntax_error()
            j += 2
        else:
            raise syntax_error()
    v = c.db.get(argv[2])
    if v is None:
        return None
    return key_size(argv[2]) + value_size(v, samples)


def dataset_bytes(srv: Server) -> tuple[int, int]:
    """(keys, bytes) of every database: keys, entries, values and expiries."""
    n = size = 0
    for db in srv.ks.dbs:
        n += len(db.data)
        for k, v in db.data.items():
            size += key_size(k) + value_size(v)
        size += len(db.expires) * EXPIRE_SIZE
    return n, size


def _stats(srv: Server) -> dict[bytes, object]:
    rss = _rss()
    startup = _STARTUP
    eng = srv.scripting
    lua = eng.memory_used() if eng is not None else 0
    fn = eng.functions.rt.memory_used() if eng is not None and eng.functions is not None else 0
    nkeys, dataset = dataset_bytes(srv)
    clients = srv.client_memory.normal  # kept as buffers change (engine/_clientmem.py)
    backlog, replicas = srv.evictor.replication_memory()
    dbs: dict[bytes, object] = {}
    overhead = startup + clients + replicas + backlog + lua + fn
    for db in srv.ks.dbs:
        if db.data:
            main = sys.getsizeof(db.data)
            exp = sys.getsizeof(db.expires)
            overhead += main + exp
            dbs[b"db.%d" % db.id] = {
                b"overhead.hashtable.main": main,
                b"overhead.hashtable.expires": exp,
                b"overhead.hashtable.slot-to-keys": 0,
            }
    total = overhead + dataset
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss)
    out: dict[bytes, object] = {
        b"peak.allocated": peak,
        b"total.allocated": total,
        b"startup.allocated": startup,
        b"replication.backlog": backlog,
        b"clients.slaves": replicas,
        b"clients.normal": clients,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": lua,
        b"functions.caches": fn,
    }
    out.update(dbs)
    net = max(total - startup, 1)
    out.update({
        b"overhead.total": overhead,
        b"keys.count": nkeys,
        b"keys.bytes-per-key": (total - startup) // nkeys if nkeys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": dataset * 100.0 / net,
        b"peak.percentage": total * 100.0 / peak if peak else 0.0,
        b"allocator.allocated": total,
        b"allocator.active": rss,
        b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": rss / total if total else 1.0,
        b"allocator-fragmentation.bytes": rss - total,
        b"allocator-rss.ratio": 1.0,
        b"allocator-rss.bytes": 0,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": rss / total if total else 1.0,
        b"fragmentation.bytes": rss - total,
    })
    return out


@command("memory|stats", 2, "", group=_S, since="4.0.0", summary="Returns details about memory usage.",
         tips="nondeterministic_output request_policy:all_shards response_policy:special")
def memory_stats(c: Client, argv: list[bytes]) -> object:
    return _stats(c.server)


@command("memory|doctor", 2, "", group=_S, since="4.0.0", summary="Outputs a memory problems report.",
         tips="nondeterministic_output request_policy:all_shards response_policy:special")
def memory_doctor(c: Client, argv: list[bytes]) -> object:
    st = _stats(c.server)
    total = st[b"total.allocated"]
    assert isinstance(total, int)
    if total < 5 * 1024 * 1024:
        return Verbatim(
            b"Hi Sam, this instance is empty or is using very little memory, my issues detector "
            b"can't be used in these conditions. Please, leave for your mission on Earth and fill "
            b"it with some data. The new Sam and I will be back to our programming as soon as I "
            b"finished rebooting."
        )
    issues = []
    frag = st[b"fragmentation"]
    assert isinstance(frag, float)
    if frag > 1.4:
        issues.append(
            f" * High process RSS overhead: the process holds {frag:.2f} times the memory moonkv "
            "estimates for its data. Python's allocator keeps freed memory in its arenas; "
            "MEMORY PURGE returns what it can to the system.\n"
        )
    peak = st[b"peak.allocated"]
    assert isinstance(peak, int)
    if peak > total * 1.5:
        issues.append(
            " * Peak memory: in the past this instance used more than 150% the memory that is "
            "currently using. The allocator is normally not able to release memory after a peak, "
            "so you can expect to see a big fragmentation ratio.\n"
        )
    # Redis's two buffer checks, on the clients' memory (engine/_clientmem.py).
    srv = c.server
    replicas = sum(1 for cl in srv.clients.values() if "S" in cl.flags)
    normal = len(srv.clients) - replicas
    slaves = st[b"clients.slaves"]
    assert isinstance(slaves, int)
    if replicas and slaves > 10 * 1024 * 1024:
        issues.append(
            " * Big replica buffers: The replica output buffers in this instance are greater than 10MB "
            "for each replica (on average). This likely means that there is some replica instance that "
            "is struggling receiving data, either because it is too slow or because of networking "
            "issues. As a result, data piles on the master output buffers. Please try to identify what "
            "replica is not receiving data correctly and why. You can use the INFO output in order to "
            "check the replicas delays and the CLIENT LIST command to check the output buffers of each "
            "replica.\n"
        )
    if normal and srv.client_memory.normal // normal > 200 * 1024:
        issues.append(
            " * Big client buffers: The clients output buffers in this instance are greater than 200K "
            "per client (on average). This may result from different causes, like Pub/Sub clients "
            "subscribed to channels bot not receiving data fast enough, so that data piles on the "
            "Redis instance output buffer, or clients sending commands with large replies or very "
            "large sequences of commands in the same pipeline. Please use the CLIENT LIST command in "
            "order to investigate the issue if it causes problems in your instance, or to understand "
            "better why certain clients are using a big amount of memory.\n"
        )
    if not issues:
        return Verbatim(b"Hi Sam, I can't find any memory issue in your instance. "
                        b"I can only account for what occurs on this base.")
    text = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
    text += "\n".join(issues)
    text += "\nI'm here to keep you safe, Sam. I want to help you.\n"
    return Verbatim(text.encode())


@command("memory|malloc-stats", 2, "", group=_S, since="4.0.0", summary="Returns the allocator statistics.",
         tips="nondeterministic_output request_policy:all_shards response_policy:special")
def memory_malloc_stats(c: Client, argv: list[bytes]) -> object:
    """Python's allocator, not jemalloc: the garbage collector's generations and
    per-type object counts of the largest types (what the interpreter holds)."""
    lines = ["___ Begin pymalloc statistics ___", f"Python {sys.version.split()[0]}"]
    lines.append(f"allocated blocks: {sys.getallocatedblocks()}")
    for i, g in enumerate(gc.get_stats()):
        lines.append(
            f"gc generation {i}: collections={g['collections']} collected={g['collected']} "
            f"uncollectable={g['uncollectable']}"
        )
    lines.append(f"gc tracked objects: {len(gc.get_objects())}")
    lines.append("--- End pymalloc statistics ---")
    return Verbatim(("\n".join(lines) + "\n").encode())


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


@command("memory|purge", 2, "", group=_S, since="4.0.0", summary="Asks the allocator to release memory.",
         tips="request_policy:all_shards response_policy:all_succeeded")
def memory_purge(c: Client, argv: list[bytes]) -> object:
    gc.collect()
    _malloc_trim()
    return "OK"


@command("memory|help", 2, "loading stale", group=_S, since="4.0.0",
         summary="Returns helpful text about the different subcommands.")
def memory_help(c: Client, argv: list[bytes]) -> object:
    return [
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]
