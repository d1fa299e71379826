"""HyperLogLog commands (Redis's hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

The values are Redis strings in Redis's exact representation
(:mod:`moonkv.keyspace.hyperloglog`); every change stores a new value with
``db.set(..., keep_ttl=True)``, so the undo log, WATCH and the durable log see it.

PFCOUNT of one key caches the estimate in the value's header when the cache
was stale, which is a write (Redis signals the key and propagates PFCOUNT):
moonkv stores the value the same way and logs ``PFCOUNT key``, whose replay
recomputes the same cache.
"""

from __future__ import annotations

from typing import Final

from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError
from moonkv.keyspace import hyperloglog as hll
from moonkv.keyspace.events import STRING

_G: Final = "hyperloglog"
_NOT_HLL: Final = "Key is not a valid HyperLogLog string value."


class _NotHll(WrongTypeError):
    def __init__(self) -> None:
        RespError.__init__(self, _NOT_HLL)


def _check(value: object) -> bytes:
    """isHLLObjectOrReply: the string if it is a HyperLogLog, else the WRONGTYPE error."""
    if type(value) is not bytes:
        raise WrongTypeError()
    if not hll.is_hll(value):
        raise _NotHll()
    return value


def _union(c: Client, keys: list[bytes]) -> tuple[hll.Planes, bool]:
    """The register-wise maximum of the HyperLogLogs at ``keys`` (missing keys count as
    empty), and whether one of them is dense (hllMerge)."""
    db = c.db
    merged: hll.Planes | None = None
    any_dense = False
    for key in keys:
        value = db.lookup_read(key)
        if value is not None:
            value = _check(value)
            any_dense = any_dense or value[4] == hll.DENSE
            p = hll.planes(value)
            merged = p if merged is None else hll.union(merged, p)
    return (hll.NO_REGISTERS if merged is None else merged), any_dense


def _max_bytes(c: Client) -> int:
    return int(c.server.config["hll-sparse-max-bytes"])


@command("pfadd", -2, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G, acl=_G,
         since="2.8.9", summary="Adds the specified elements to the specified HyperLogLog.",
         complexity="O(1) to add every element.")
def pfadd(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key = argv[1]
    old = db.lookup_write(key)
    if old is None:
        value = hll.new()
        new = hll.add(value, argv[2:], _max_bytes(c))
        db.set(key, new if new is not None else hll.stale(value))  # creating it is a change too
        db.notify(STRING, b"pfadd", key)
        return 1
    new = hll.add(_check(old), argv[2:], _max_bytes(c))
    if new is None:
        return 0
    db.set(key, new, keep_ttl=True)
    db.notify(STRING, b"pfadd", key)
    return 1


@command("pfcount", -2, "readonly may_replicate", keys=keys(1, -1, flags="RW ACCESS", notes="RW because it may change the internal representation of the key, and propagate to replicas"),
         group=_G, acl=_G,
         since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
         complexity="O(1) with a very small average constant time when called with a single key. "
                    "O(N) with N being the number of keys, and much bigger constant times, "
                    "when called with multiple keys.")
def pfcount(c: Client, argv: list[bytes]) -> object:
    db = c.db
    if len(argv) > 2:
        return hll.count_planes(_union(c, argv[1:])[0])
    key = argv[1]
    value = db.lookup_write(key)
    if value is None:
        return 0
    value = _check(value)
    card = hll.cached_count(value)
    if card is None:
        card = hll.count(value)
        db.set(key, hll.with_count(value, card), keep_ttl=True)
        c.server.emit(db.id, [b"PFCOUNT", key])
    return card


@command("pfmerge", -2, "write denyoom",
         keys=(*keys(1, flags="RW ACCESS INSERT"), *keys(2, -1, flags="RO ACCESS")), group=_G, acl=_G,
         since="2.8.9", summary="Merge N different HyperLogLogs into a single one.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.")
def pfmerge(c: Client, argv: list[bytes]) -> object:
    db = c.db
    merged, use_dense = _union(c, argv[1:])  # the destination is merged too
    dest = db.lookup_write(argv[1])
    if dest is None:
        db.set(argv[1], hll.merge_into(hll.new(), merged, use_dense, _max_bytes(c)))
    else:
        db.set(argv[1], hll.merge_into(dest, merged, use_dense, _max_bytes(c)), keep_ttl=True)
    db.notify(STRING, b"pfadd", argv[1])  # as Redis: a merge is a mass add
    return "OK"


@command("pfdebug", 3, "write denyoom admin", keys=keys(2, flags="RW ACCESS"), group=_G, acl=_G,
         since="2.8.9", summary="Internal commands for debugging HyperLogLog values", complexity="N/A")
def pfdebug(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key = argv[2]
    value = db.get(key)
    if value is None:
        raise RespError("The specified key does not exist")
    value = _check(value)
    sub = argv[1].lower()
    if sub == b"getreg":
        if value[4] == hll.SPARSE:
            value = hll.to_dense(value)
            db.set(key, value, keep_ttl=True)
        return hll.dense_registers(value)
    if sub == b"decode":
        if value[4] != hll.SPARSE:
            raise RespError("HLL encoding is not sparse")
        return hll.decode(value).encode()
    if sub == b"encoding":
        return hll.encoding_name(value)
    if sub == b"todense":
        if value[4] == hll.DENSE:
            return 0
        db.set(key, hll.to_dense(value), keep_ttl=True)
        return 1
    name = argv[1].decode("utf-8", "surrogateescape")
    raise RespError(f"Unknown PFDEBUG subcommand '{name}'")


@command("pfselftest", 1, "admin", group=_G, acl=_G, since="2.8.9",
         summary="An internal command for testing HyperLogLog values", complexity="N/A")
def pfselftest(c: Client, argv: list[bytes]) -> object:
    failure = hll.selftest(_max_bytes(c))
    if failure is not None:
        raise RespError(full=failure)
    return "OK"
