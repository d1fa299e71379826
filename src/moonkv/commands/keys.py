"""Generic keyspace commands (Redis's db.c, expire.c, object.c, cluster.c DUMP/RESTORE).

Every read goes through ``db.get``/``db.lookup_read`` (lazy expiry); every
change through the Database API (undo, WATCH, dirty).  Relative expiries are
propagated as ``PEXPIREAT`` with an absolute time, and an expiry already in
the past deletes the key and propagates ``DEL``.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Final

from moonkv.commands._util import I64_MAX, glob_match, parse_cursor, parse_int
from moonkv.commands.table import command, container, keys
from moonkv.engine import Client
from moonkv.errors import BusyKeyError, RespError, not_integer, syntax_error
from moonkv.keyspace import Database, type_name
from moonkv.keyspace.codec import (
    CodecError,
    decode_value,
    dump_payload,
    encode_value,
    load_payload,
    verify_payload,
)
from moonkv.keyspace.db import lru_idle
from moonkv.keyspace.events import GENERIC
from moonkv.keyspace.types.list import List

_G: Final = "generic"
_SAME_OBJECT: Final = "source and destination objects are the same"


def copy_value(v: Any) -> Any:
    """An independent copy of a stored value (strings are immutable and shared)."""
    if type(v) is bytes:
        return v
    cp = getattr(v, "copy", None)
    if cp is not None:
        return cp()
    return decode_value(encode_value(v))


def _db_index(c: Client, raw: bytes) -> Database:
    try:
        idx = parse_int(raw)
    except RespError:
        raise not_integer() from None
    if not -(2**31) <= idx <= 2**31 - 1:  # getIntFromObjectOrReply: a C int
        raise RespError("value is out of range, value must between -2147483648 and 2147483647")
    dbs = c.server.ks.dbs
    if not 0 <= idx < len(dbs):
        raise RespError("DB index is out of range")
    return dbs[idx]


# -- existence and deletion ---------------------------------------------------------

def _del(c: Client, argv: list[bytes]) -> object:
    db = c.db
    delete = db.delete
    n = 0
    for k in argv[1:]:
        if delete(k):
            db.notify(GENERIC, b"del", k)
            n += 1
    return n


@command("del", -2, "write", tips="request_policy:multi_shard response_policy:agg_sum", keys=keys(1, -1, flags="RM DELETE"), group=_G,
         summary="Deletes one or more keys.",
         complexity="O(N) where N is the number of keys that will be removed.")
def del_(c: Client, argv: list[bytes]) -> object:
    return _del(c, argv)


@command("unlink", -2, "write fast", tips="request_policy:multi_shard response_policy:agg_sum", keys=keys(1, -1, flags="RM DELETE"), group=_G, since="4.0.0",
         summary="Asynchronously deletes one or more keys.",
         complexity="O(1) for each key removed regardless of its size.")
def unlink(c: Client, argv: list[bytes]) -> object:
    return _del(c, argv)


@command("exists", -2, "readonly fast", tips="request_policy:multi_shard response_policy:agg_sum", keys=keys(1, -1, flags="RO"), group=_G, since="1.0.0",
         summary="Determines whether one or more keys exist.",
         complexity="O(N) where N is the number of keys to check.")
def exists(c: Client, argv: list[bytes]) -> object:
    lr = c.db.lookup_notouch  # counts hits and misses, leaves the access clock alone
    n = 0
    for k in argv[1:]:
        if lr(k) is not None:
            n += 1
    return n


@command("touch", -2, "readonly fast", tips="request_policy:multi_shard response_policy:agg_sum", keys=keys(1, -1, flags="RO"), group=_G, since="3.2.1",
         summary="Returns the number of existing keys out of those specified after updating the time they were last accessed.",
         complexity="O(N) where N is the number of keys that will be touched.")
def touch(c: Client, argv: list[bytes]) -> object:
    lr = c.db.lookup_read
    n = 0
    for k in argv[1:]:
        if lr(k) is not None:
            n += 1
    return n


@command("type", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G,
         summary="Determines the type of value stored at a key.")
def type_(c: Client, argv: list[bytes]) -> object:
    v = c.db.lookup_notouch(argv[1])
    if v is None:
        return "none"
    return type_name(v).decode()


# -- moving keys -----------------------------------------------------------------------

def _rename(c: Client, argv: list[bytes], nx: bool) -> object:
    src, dst = argv[1], argv[2]
    db = c.db
    v = db.lookup_write(src)
    if v is None:
        raise RespError("no such key")
    if src == dst:
        return 0 if nx else "OK"
    expire = db.expires.get(src)
    if db.lookup_write(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.set(dst, v)
    if expire is not None:
        db.set_expire(dst, expire)
    db.delete(src)
    db.notify(GENERIC, b"rename_from", src)
    db.notify(GENERIC, b"rename_to", dst)
    return 1 if nx else "OK"


@command("rename", 3, "write", keys=(*keys(1, flags="RW ACCESS DELETE"), *keys(2, flags="OW UPDATE")),
         group=_G, summary="Renames a key and overwrites the destination.")
def rename(c: Client, argv: list[bytes]) -> object:
    return _rename(c, argv, False)


@command("renamenx", 3, "write fast", keys=(*keys(1, flags="RW ACCESS DELETE"), *keys(2, flags="OW INSERT")),
         group=_G, summary="Renames a key only when the target key name doesn't exist.")
def renamenx(c: Client, argv: list[bytes]) -> object:
    return _rename(c, argv, True)


@command("move", 3, "write fast", keys=keys(1, flags="RW ACCESS UPDATE"), group=_G,
         summary="Moves a key to another database.")
def move(c: Client, argv: list[bytes]) -> object:
    if c.server.cluster is not None:
        raise RespError("MOVE is not allowed in cluster mode")
    src = c.db
    dst = _db_index(c, argv[2])
    if dst is src:
        raise RespError(_SAME_OBJECT)
    key = argv[1]
    v = src.lookup_write(key)
    if v is None:
        return 0
    expire = src.expires.get(key)
    if dst.lookup_write(key) is not None:
        return 0
    dst.set(key, v)
    if expire is not None:
        dst.set_expire(key, expire)
    src.delete(key)
    src.notify(GENERIC, b"move_from", key)
    dst.notify(GENERIC, b"move_to", key)
    return 1


@command("copy", -3, "write denyoom", keys=(*keys(1, flags="RO ACCESS"), *keys(2, flags="OW UPDATE")),
         group=_G, since="6.2.0", summary="Copies the value of a key to a new key.",
         complexity="O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")
def copy(c: Client, argv: list[bytes]) -> object:
    src = dst = c.db
    replace = False
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dst = _db_index(c, argv[j + 1])
            j += 1
        else:
            raise syntax_error()
        j += 1
    if dst is not src and c.server.cluster is not None:
        raise RespError("Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise RespError(_SAME_OBJECT)
    v = src.lookup_read(key)
    if v is None:
        return 0
    expire = src.expires.get(key)
    if dst.lookup_write(newkey) is not None:
        if not replace:
            return 0
        dst.delete(newkey)
    dst.set(newkey, copy_value(v))
    if expire is not None:
        dst.set_expire(newkey, expire)
    dst.notify(GENERIC, b"copy_to", newkey)
    return 1


# -- listing -------------------------------------------------------------------------------

@command("keys", 2, "readonly", group=_G, summary="Returns all key names that match a pattern.",
         complexity="O(N) with N being the number of keys in the database",
         tips="request_policy:all_shards nondeterministic_output_order")
def keys_(c: Client, argv: list[bytes]) -> object:
    db = c.db
    pat = argv[1]
    allkeys = pat == b"*"
    exp = db.expires
    now = db.ks.now_ms()
    out = []
    for k in db.data:
        if allkeys or glob_match(pat, k):
            if exp:
                when = exp.get(k)
                if when is not None and when <= now:
                    continue
            out.append(k)
    c.deferred_reply()  # Redis counts the keys as it finds them: addReplyDeferredLen
    return out


@command("randomkey", 1, "readonly", group=_G, summary="Returns a random key name from the database.",
         tips="request_policy:all_shards nondeterministic_output")
def randomkey(c: Client, argv: list[bytes]) -> object:
    key = c.db.random_key()
    _expired_apart(c)
    return key


def _expired_apart(c: Client) -> None:
    """SCAN and RANDOMKEY run directly (not in EXEC or a script): the keys they found
    expired are propagated one DEL at a time, as Redis does for CMD_TOUCHES_ARBITRARY_KEYS."""
    ks = c.db.ks
    if ks.expired_effects and not (c.in_exec or c.in_script):
        ks.expire_apart = True


# SCAN: a cursor is a position in hash order.  The key list sorted by hash is
# built when a scan starts (cursor 0) if the keyspace changed since the last
# build, and reused by later calls; every key present for the whole scan is
# in that list, and keys are returned in increasing hash order, so each of
# them is returned (exactly once, unless a newer list replaces the snapshot).
_HMASK: Final = (1 << 63) - 1
# Per database: (ks.dirty when built, id of the data dict, hashes, keys).  Only the
# id of the dict is kept (not the dict), so a flushed keyspace is freed at once.
_scan_cache: Final[dict[int, tuple[int, int, list[int], list[bytes]]]] = {}


def _scan_index(db: Database, start: bool) -> tuple[list[int], list[bytes]]:
    cached = _scan_cache.get(db.id)
    dirty = db.ks.dirty
    if cached is not None and cached[1] == id(db.data) and (not start or cached[0] == dirty):
        return cached[2], cached[3]
    pairs = sorted(((hash(k) & _HMASK) + 1, k) for k in db.data)
    hs = [h for h, _ in pairs]
    ks = [k for _, k in pairs]
    _scan_cache[db.id] = (dirty, id(db.data), hs, ks)
    return hs, ks


@command("scan", -2, "readonly", group=_G, since="2.8.0",
         summary="Iterates over the key names in the database.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
         tips="nondeterministic_output request_policy:special")
def scan(c: Client, argv: list[bytes]) -> object:
    cursor = parse_cursor(argv[1])
    count = 10
    pat: bytes | None = None
    typ: bytes | None = None
    i = 2
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if n - i < 2:
            raise syntax_error()
        if opt == b"count":
            count = parse_int(argv[i + 1])
            if count < 1:
                raise syntax_error()
        elif opt == b"match":
            pat = None if argv[i + 1] == b"*" else argv[i + 1]  # "*" matches all: no filter
        elif opt == b"type":
            typ = argv[i + 1].lower()
        else:
            raise syntax_error()
        i += 2
    db = c.db
    hs, ks = _scan_index(db, cursor == 0)
    pos = bisect_left(hs, cursor)
    end = min(pos + count, len(hs))
    while 0 < end < len(hs) and hs[end] == hs[end - 1]:
        end += 1  # never split keys with equal hashes between two calls
    out = []
    data = db.data
    for k in ks[pos:end]:
        if k not in data:
            continue
        if pat is not None and not glob_match(pat, k):
            continue
        v = db.get(k)  # lazily expires it
        if v is None:
            continue
        if typ is not None and type_name(v) != typ:
            continue
        out.append(k)
    _expired_apart(c)
    if end < len(hs):
        return [b"%d" % hs[end], out]
    _scan_cache.pop(db.id, None)  # a scan finished: free the snapshot (others rebuild it)
    return [b"0", out]


# -- expiry -------------------------------------------------------------------------------

_NX: Final = 1
_XX: Final = 2
_GT: Final = 4
_LT: Final = 8
_EXPIRE_FLAGS: Final = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _expire(c: Client, argv: list[bytes], unit_ms: int, relative: bool, name: str) -> object:
    flags = 0
    for opt in argv[3:]:
        f = _EXPIRE_FLAGS.get(opt.lower())
        if f is None:
            raise RespError(f"Unsupported option {opt.decode('utf-8', 'replace')}")
        flags |= f
    if flags:
        if flags & _NX and flags & (_XX | _GT | _LT):
            raise RespError("NX and XX, GT or LT options at the same time are not compatible")
        if flags & _GT and flags & _LT:
            raise RespError("GT and LT options at the same time are not compatible")
    when = parse_int(argv[2])
    if unit_ms == 1000:
        if when > I64_MAX // 1000 or when < -(I64_MAX // 1000):
            raise RespError(f"invalid expire time in '{name}' command")
        when *= 1000
    db = c.db
    now = db.ks.now_ms()
    if relative:
        if when > I64_MAX - now:
            raise RespError(f"invalid expire time in '{name}' command")
        when += now
    key = argv[1]
    if db.lookup_write(key) is None:
        return 0
    if flags:
        cur = db.expires.get(key)
        if flags & _NX and cur is not None:
            return 0
        if flags & _XX and cur is None:
            return 0
        if flags & _GT and (cur is None or when <= cur):
            return 0
        if flags & _LT and cur is not None and when >= cur:
            return 0
    srv = c.server
    if when <= now:
        db.delete(key)
        db.notify(GENERIC, b"del", key)
        srv.emit(db.id, [b"DEL", key])
        return 1
    db.set_expire(key, when)
    db.notify(GENERIC, b"expire", key)
    srv.emit(db.id, [b"PEXPIREAT", key, b"%d" % when])
    return 1


@command("expire", -3, "write fast", keys=keys(1, flags="RW UPDATE"), group=_G,
         summary="Sets the expiration time of a key in seconds.")
def expire(c: Client, argv: list[bytes]) -> object:
    return _expire(c, argv, 1000, True, "expire")


@command("pexpire", -3, "write fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.6.0",
         summary="Sets the expiration time of a key in milliseconds.")
def pexpire(c: Client, argv: list[bytes]) -> object:
    return _expire(c, argv, 1, True, "pexpire")


@command("expireat", -3, "write fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="1.2.0",
         summary="Sets the expiration time of a key to a Unix timestamp.")
def expireat(c: Client, argv: list[bytes]) -> object:
    return _expire(c, argv, 1000, False, "expireat")


@command("pexpireat", -3, "write fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.6.0",
         summary="Sets the expiration time of a key to a Unix milliseconds timestamp.")
def pexpireat(c: Client, argv: list[bytes]) -> object:
    return _expire(c, argv, 1, False, "pexpireat")


def _ttl(c: Client, key: bytes, ms: bool, absolute: bool) -> int:
    db = c.db
    if db.lookup_notouch(key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    t = when if absolute else when - db.ks.now_ms()
    if t < 0:
        t = 0
    return t if ms else (t + 500) // 1000


@command("ttl", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns the expiration time in seconds of a key.", tips="nondeterministic_output")
def ttl(c: Client, argv: list[bytes]) -> object:
    return _ttl(c, argv[1], False, False)


@command("pttl", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.6.0",
         summary="Returns the expiration time in milliseconds of a key.", tips="nondeterministic_output")
def pttl(c: Client, argv: list[bytes]) -> object:
    return _ttl(c, argv[1], True, False)


@command("expiretime", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="7.0.0",
         summary="Returns the expiration time of a key as a Unix timestamp.")
def expiretime(c: Client, argv: list[bytes]) -> object:
    return _ttl(c, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="7.0.0",
         summary="Returns the expiration time of a key as a Unix milliseconds timestamp.")
def pexpiretime(c: Client, argv: list[bytes]) -> object:
    return _ttl(c, argv[1], True, True)


@command("persist", 2, "write fast", keys=keys(1, flags="RW UPDATE"), group=_G, since="2.2.0",
         summary="Removes the expiration time of a key.")
def persist(c: Client, argv: list[bytes]) -> object:
    db = c.db
    if db.lookup_write(argv[1]) is None:
        return 0
    if not db.persist(argv[1]):
        return 0
    db.notify(GENERIC, b"persist", argv[1])
    return 1


# -- OBJECT -----------------------------------------------------------------------------------

container("object", group=_G, summary="A container for object introspection commands.", since="2.2.3")

_LFU_ERR: Final = ("An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
            "that when switching between policies at runtime LRU and LFU data will take some "
            "time to adjust.")
_LRU_ERR: Final = ("An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to adjust.")


def _int_encodable(v: bytes) -> int | None:
    if len(v) > 20:
        return None
    try:
        return parse_int(v)
    except RespError:
        return None


def string_encoding(v: bytes) -> bytes:
    """OBJECT ENCODING of a string: int, embstr (<= 44 bytes) or raw."""
    if _int_encodable(v) is not None:
        return b"int"
    return b"embstr" if len(v) <= 44 else b"raw"


def _lfu(c: Client) -> bool:
    return "lfu" in str(c.server.config["maxmemory-policy"]).lower()


@command("object|encoding", 3, "readonly", keys=keys(2, flags="RO"), group=_G, since="2.2.3",
         summary="Returns the internal encoding of a Redis object.",
         tips="nondeterministic_output")
def object_encoding(c: Client, argv: list[bytes]) -> object:
    v = c.db.get(argv[2])
    if v is None:
        return None
    if type(v) is bytes:
        return string_encoding(v)
    enc = v.encoding(c.server.config)
    return enc if type(enc) is bytes else str(enc).encode()


@command("object|freq", 3, "readonly", keys=keys(2, flags="RO"), group=_G, since="4.0.0",
         summary="Returns the logarithmic access frequency counter of a Redis object.",
         tips="nondeterministic_output")
def object_freq(c: Client, argv: list[bytes]) -> object:
    if c.db.get(argv[2]) is None:
        return None
    if not _lfu(c):
        raise RespError(_LFU_ERR)
    t = c.db.tracker  # an LFU policy always keeps one
    return t.freq(argv[2], c.db.ks.now_ms()) if t is not None else 0


@command("object|idletime", 3, "readonly", keys=keys(2, flags="RO"), group=_G, since="2.2.3",
         summary="Returns the time since the last access to a Redis object.",
         tips="nondeterministic_output")
def object_idletime(c: Client, argv: list[bytes]) -> object:
    if c.db.get(argv[2]) is None:
        return None
    if _lfu(c):
        raise RespError(_LRU_ERR)
    return c.db.idle(argv[2])  # 0 unless an LRU policy keeps the clock (docs/compatibility.md)


@command("object|refcount", 3, "readonly", keys=keys(2, flags="RO"), group=_G, since="2.2.3",
         summary="Returns the reference count of a value of a key.",
         tips="nondeterministic_output")
def object_refcount(c: Client, argv: list[bytes]) -> object:
    v = c.db.get(argv[2])
    if v is None:
        return None
    return _refcount(c, v)


def _refcount(c: Client, v: object) -> int:
    """Redis's shared integer objects (0..9999) answer INT_MAX, unless maxmemory is set with an
    LRU or LFU policy, where Redis stops sharing them (each value keeps its own access clock);
    Redis decides when the value is created, moonkv when asked."""
    if type(v) is bytes:
        i = _int_encodable(v)
        if i is not None and 0 <= i < 10000:
            cfg = c.server.config
            policy = cfg["maxmemory-policy"]
            if not cfg["maxmemory"] or not ("lru" in policy or "lfu" in policy):
                return 2147483647
    return 1


def describe_value(c: Client, key: bytes) -> str:
    """DEBUG OBJECT's line (commands/server.py): Redis's fields with moonkv's figures: the
    value's address, its encoding, the size of its serialized state, the access clock as
    Redis's ``lru`` field holds it (the last access under an LRU policy; under LFU the LFU
    word, which Redis then reads as an access time too; otherwise now, idle 0, as OBJECT
    IDLETIME) and, for a list, its chunks."""
    v = c.db.data.get(key)  # as Redis: the table itself, a key past its TTL included
    if v is None:
        raise RespError("no such key")
    if type(v) is bytes:
        enc = string_encoding(v)
    else:
        got = v.encoding(c.server.config)
        enc = got if type(got) is bytes else str(got).encode()
    refcount = _refcount(c, v)
    db = c.db
    now: int = db.ks.clock.lru
    if db.lru is not None:
        lru: int = db.lru.get(key, now)
    elif db.clocked:  # (LFU)
        assert db.tracker is not None
        lru = db.tracker.word(key)
    else:
        lru = now
    line = (f"Value at:{id(v):#x} refcount:{refcount} encoding:{enc.decode()} "
            f"serializedlength:{len(encode_value(v))} lru:{lru} lru_seconds_idle:{lru_idle(now, lru)}")
    if type(v) is List:
        sizes = v.node_bytes()
        cfg = c.server.config
        line += (f" ql_nodes:{len(sizes)} ql_avg_node:{len(v) / max(len(sizes), 1):.2f}"
                 f" ql_listpack_max:{cfg['list-max-listpack-size']}"
                 f" ql_compressed:{int(cfg['list-compress-depth'] != 0)} ql_uncompressed_size:{sum(sizes)}")
    return line


@command("object|help", 2, "loading stale", group=_G, since="6.2.0",
         summary="Returns helpful text about the different subcommands.")
def object_help(c: Client, argv: list[bytes]) -> object:
    return [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]


# -- DUMP / RESTORE -------------------------------------------------------------------------

@command("dump", 2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.6.0",
         summary="Returns a serialized representation of the value stored at a key.",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
         tips="nondeterministic_output")
def dump(c: Client, argv: list[bytes]) -> object:
    v = c.db.lookup_read(argv[1])
    if v is None:
        return None
    return dump_payload(v)


@command("restore", -4, "write denyoom", keys=keys(1, flags="OW UPDATE"), group=_G, since="2.6.0",
         summary="Creates a key from the serialized representation of a value.",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
def restore(c: Client, argv: list[bytes]) -> object:
    replace = absttl = False
    idle = freq = -1
    j = 4
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise RespError("Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[j + 1])
            if freq < 0 or freq > 255:
                raise RespError("Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise syntax_error()
        j += 1
    db = c.db
    key = argv[1]
    if not replace and db.lookup_write(key) is not None:
        raise BusyKeyError("Target key name already exists.")
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise RespError("Invalid TTL value, must be >= 0")
    payload = argv[3]
    if not verify_payload(payload):
        raise RespError("DUMP payload version or checksum are wrong")
    try:
        value = load_payload(payload)
    except CodecError:
        raise RespError("Bad data format") from None
    deleted = db.delete(key) if replace else False
    srv = c.server
    if ttl and not absttl:
        ttl += db.ks.now_ms()
    if ttl and ttl <= db.ks.now_ms():
        if deleted:
            db.notify(GENERIC, b"del", key)
            srv.emit(db.id, [b"DEL", key])
        return "OK"
    db.set(key, value)
    db.set_access(key, idle, freq)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            eff = list(argv)
            eff[2] = b"%d" % ttl
            eff.append(b"ABSTTL")
            srv.emit(db.id, eff)
    db.notify(GENERIC, b"restore", key)
    return "OK"


@command("restore-asking", -4, "write denyoom asking", keys=keys(1, flags="OW UPDATE"), group="server",
         acl="keyspace dangerous",
         since="3.0.0", summary="An internal command for migrating keys in a cluster",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
def restore_asking(c: Client, argv: list[bytes]) -> object:
    """RESTORE as MIGRATE sends it in a cluster: the ``asking`` flag lets it reach a slot
    being imported (cluster routing reads the flag)."""
    return restore(c, argv)
