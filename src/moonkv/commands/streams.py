"""Stream commands (Redis 7.0): XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID, XREAD and
XREADGROUP (blocking), consumer groups (XGROUP XACK XPENDING XCLAIM XAUTOCLAIM) and XINFO.

Replies and error texts follow t_stream.c.  Effects are deterministic: XADD logs the ID it
generated and turns ``~`` trimming into the exact threshold it reached; XREADGROUP, XCLAIM and
XAUTOCLAIM log ``XCLAIM ... FORCE JUSTID LASTID`` per delivered entry plus ``XGROUP SETID``.
"""

from __future__ import annotations

from typing import Any

from moonkv.commands._util import parse_int
from moonkv.commands.table import KeySpec, command, container
from moonkv.engine import Client
from moonkv.errors import RespError, UnblockedError, WrongTypeError, syntax_error
from moonkv.keyspace.events import STREAM
from moonkv.keyspace.types.stream import (
    INVALID_READ,
    M64,
    MAX_ID,
    Consumer,
    Group,
    Nack,
    Stream,
    fmt_id,
)
from moonkv.protocol import NULL_ARRAY

_G = "stream"
INVALID_ID = "Invalid stream ID specified as stream command argument"
LLONG_MAX = 2**63 - 1
XREAD_BLOCKED_DEFAULT_COUNT = 1000
_WS = b" \t\n\v\f\r"


# -- IDs ---------------------------------------------------------------------------------


def _ull(b: bytes) -> int | None:
    """Redis's string2ull: string2ll (negatives rejected), else strtoull."""
    if b and len(b) <= 20 and (b[0] == 45 or 48 <= b[0] <= 57):
        try:
            v = int(b)
        except ValueError:
            v = None
        if v is not None and b"%d" % v == b and -(2**63) <= v < 2**63:
            return v if v >= 0 else None
    s = b.lstrip(_WS)
    neg = False
    if s[:1] in (b"+", b"-"):
        neg = s[:1] == b"-"
        s = s[1:]
    if not s or not s.isdigit():
        return None
    v = int(s)
    if v > M64:
        return None
    return (-v) & M64 if neg else v


def _parse_id(b: bytes, missing_seq: int = 0, strict: bool = False, star: bool = False) -> tuple[int, bool]:
    """streamGenericParseIDOrReply: (id, seq_given). ``star`` allows ``ms-*``."""
    if len(b) > 127:
        raise RespError(INVALID_ID)
    if b == b"-":
        if strict:
            raise RespError(INVALID_ID)
        return 0, True
    if b == b"+":
        if strict:
            raise RespError(INVALID_ID)
        return MAX_ID, True
    dot = b.find(b"-")
    ms = _ull(b if dot < 0 else b[:dot])
    if ms is None:
        raise RespError(INVALID_ID)
    if dot < 0:
        return (ms << 64) | missing_seq, True
    rest = b[dot + 1 :]
    if star and rest == b"*":
        return ms << 64, False
    seq = _ull(rest)
    if seq is None:
        raise RespError(INVALID_ID)
    return (ms << 64) | seq, True


def parse_id(b: bytes, missing_seq: int = 0, strict: bool = False) -> int:
    return _parse_id(b, missing_seq, strict)[0]


def _try_strict_id(b: bytes) -> int | None:
    try:
        return _parse_id(b, 0, True)[0]
    except RespError:
        return None


def parse_interval(b: bytes, missing_seq: int) -> tuple[int, bool]:
    """streamParseIntervalIDOrReply: a leading ``(`` makes the bound exclusive."""
    if len(b) > 1 and b[0] == 40:
        return _parse_id(b[1:], missing_seq, True)[0], True
    return _parse_id(b, missing_seq, False)[0], False


def _start_bound(b: bytes) -> int:
    sid, ex = parse_interval(b, 0)
    if ex:
        if sid == MAX_ID:
            raise RespError("invalid start ID for the interval")
        sid += 1
    return sid


def _end_bound(b: bytes) -> int:
    eid, ex = parse_interval(b, M64)
    if ex:
        if eid == 0:
            raise RespError("invalid end ID for the interval")
        eid -= 1
    return eid


# -- helpers -------------------------------------------------------------------------------


def _read(c: Client, key: bytes) -> Stream | None:
    return c.db.read_typed(key, Stream)  # type: ignore[no-any-return]


def _write(c: Client, key: bytes) -> Stream | None:
    v = c.db.lookup_write(key)
    if v is not None and type(v) is not Stream:
        raise WrongTypeError()
    return v


def _entry(sid: int, fv: tuple[bytes, ...]) -> list[object]:
    return [fmt_id(sid), list(fv)]


def _entries(items: list[tuple[int, tuple[bytes, ...]]]) -> list[object]:
    return [[fmt_id(i), list(fv)] for i, fv in items]


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _nogroup(key: bytes, group: bytes) -> RespError:
    return RespError(full=f"NOGROUP No such key '{_s(key)}' or consumer group '{_s(group)}'")


def _undo(c: Client) -> Any:
    return c.db.ks.undo


def _dirty(c: Client, n: int = 1) -> None:
    """A change that Redis counts in server.dirty without signalling the key (WATCH)."""
    c.db.ks.dirty += n


# -- trimming arguments (streamParseAddOrTrimArgsOrReply) ------------------------------


class _TrimArgs:
    __slots__ = ("maxlen", "minid", "approx", "limit", "nomkstream", "id", "seq_given", "id_given",
                 "idx")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: int | None = None
        self.approx = False
        self.limit = 0
        self.nomkstream = False
        self.id = 0
        self.seq_given = True
        self.id_given = False
        self.idx = 0

    @property
    def strategy(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def _parse_trim(argv: list[bytes], xadd: bool, node_max_entries: int) -> _TrimArgs:
    a = _TrimArgs()
    limit_given = False
    limit = -1
    n = len(argv)
    i = 2
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low == b"maxlen" and more:
            if a.strategy:
                raise RespError("syntax error, MAXLEN and MINID options at the same time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            v = parse_int(argv[i + 1])
            if v < 0:
                raise RespError("The MAXLEN argument must be >= 0.")
            a.maxlen = v
            i += 1
        elif low == b"minid" and more:
            if a.strategy:
                raise RespError("syntax error, MAXLEN and MINID options at the same time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            a.minid = parse_id(argv[i + 1], 0, True)
            i += 1
        elif low == b"limit" and more:
            limit = parse_int(argv[i + 1])
            if limit < 0:
                raise RespError("The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            a.nomkstream = True
        elif xadd:
            a.id, a.seq_given = _parse_id(opt, 0, True, star=True)
            a.id_given = True
            break
        else:
            raise syntax_error()
        i += 1
    a.idx = i
    if limit_given and limit and not a.strategy:
        raise RespError("syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and not a.strategy:
        raise RespError("syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not a.approx:
            raise RespError("syntax error, LIMIT cannot be used without the special ~ option")
        a.limit = limit
    elif a.approx:
        lim = 100 * node_max_entries
        if lim <= 0 or lim > 1000000:
            lim = 10000 if lim <= 0 else 1000000
        a.limit = lim
    else:
        a.limit = 0
    return a


def _node_max_entries(c: Client) -> int:
    try:
        return int(c.server.config["stream-node-max-entries"])
    except Exception:  # noqa: BLE001 - a config without the directive
        return 100


def _node_max_bytes(c: Client) -> int:
    try:
        return int(c.server.config["stream-node-max-bytes"])
    except Exception:  # noqa: BLE001
        return 4096


def _trim_effect_args(s: Stream, a: _TrimArgs) -> list[bytes]:
    """The exact trim arguments that reproduce what an approximate trim did."""
    if a.maxlen is not None or not len(s):
        return [b"MAXLEN", b"=", b"%d" % len(s)]
    return [b"MINID", b"=", fmt_id(s.first_id)]


# -- XADD / XLEN / XRANGE / XDEL / XTRIM / XSETID ---------------------------------------


@command("xadd", -5, "write denyoom fast", group=_G, since="5.0.0",
         keys=(KeySpec(flags=("RW", "UPDATE"), notes="UPDATE instead of INSERT because of the optional trimming feature"),),
         acl="stream", tips="nondeterministic_output", summary="Appends a new entry to a stream",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.")
def xadd(c: Client, argv: list[bytes]) -> object:
    a = _parse_trim(argv, True, _node_max_entries(c))
    field_pos = a.idx + 1
    nf = len(argv) - field_pos
    if nf < 2 or nf % 2 == 1:
        raise RespError("wrong number of arguments for 'xadd' command")
    if a.id_given and a.seq_given and a.id == 0:
        raise RespError("The ID specified in XADD must be greater than 0-0")
    db = c.db
    key = argv[1]
    s = _write(c, key)
    created = False
    if s is None:
        if a.nomkstream:
            return None
        s = Stream()
        created = True
    if s.last_id == MAX_ID:
        raise RespError("The stream has exhausted the last possible ID, unable to add more items")
    # the new ID
    if a.id_given:
        if a.seq_given:
            sid = a.id
        elif s.last_id >> 64 == a.id >> 64:
            if s.last_id & M64 == M64:
                # Redis 7.0 fails here without setting errno to EDOM, hence this text
                raise RespError("Elements are too large to be stored")
            else:
                sid = s.last_id + 1
        else:
            sid = a.id
    else:
        nxt = s.next_id(db.ks.now_ms())
        sid = -1 if nxt is None else nxt
    if sid <= s.last_id:
        if created:
            db.set(key, s)  # Redis created the key before failing (never reached: 0-0 is refused above)
        raise RespError("The ID specified in XADD is equal or smaller than the target stream top item")
    u = _undo(c)
    fv = tuple(argv[field_pos:])
    if created:
        s.append(sid, fv, None, _node_max_entries(c), _node_max_bytes(c))
        db.set(key, s)
    else:
        s.append(sid, fv, u, _node_max_entries(c), _node_max_bytes(c))
        db.touch(key)
    db.notify(STREAM, b"xadd", key)
    db.signal_ready(key)
    if a.strategy:
        if s.trim(a.maxlen, a.minid, a.approx, a.limit, None if created else u):
            db.notify(STREAM, b"xtrim", key)
    if not (a.id_given and a.seq_given) or a.approx:
        eff: list[bytes] = [b"XADD", key]
        if a.nomkstream:
            eff.append(b"NOMKSTREAM")
        if a.strategy:
            if a.approx:
                eff.extend(_trim_effect_args(s, a))
            elif a.maxlen is not None:
                eff.extend((b"MAXLEN", b"=", b"%d" % a.maxlen))
            else:
                eff.extend((b"MINID", b"=", fmt_id(a.minid)))  # type: ignore[arg-type]
        eff.append(fmt_id(sid))
        eff.extend(fv)
        c.server.emit(db.id, eff)
    return fmt_id(sid)


@command("xlen", 2, "readonly fast", keys=(KeySpec(flags=("RO",)),), group=_G, since="5.0.0", acl="stream",
         summary="Return the number of entries in a stream")
def xlen(c: Client, argv: list[bytes]) -> object:
    s = _read(c, argv[1])
    return 0 if s is None else len(s)


def _range_cmd(c: Client, argv: list[bytes], rev: bool) -> object:
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start = _start_bound(start_arg)
    end = _end_bound(end_arg)
    count = -1
    j = 4
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"count" and n - j - 1 >= 1:
            count = parse_int(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise syntax_error()
    s = _read(c, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    c.deferred_reply()  # Redis counts the entries as it walks them: addReplyDeferredLen
    return _entries(s.range(start, end, max(count, 0), rev))


@command("xrange", -4, "readonly", keys=(KeySpec(flags=("RO", "ACCESS")),), group=_G, since="5.0.0", acl="stream",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval",
         complexity="O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
def xrange(c: Client, argv: list[bytes]) -> object:
    return _range_cmd(c, argv, False)


@command("xrevrange", -4, "readonly", keys=(KeySpec(flags=("RO", "ACCESS")),), group=_G, since="5.0.0", acl="stream",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
         complexity="O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
def xrevrange(c: Client, argv: list[bytes]) -> object:
    return _range_cmd(c, argv, True)


@command("xdel", -3, "write fast", keys=(KeySpec(flags=("RW", "DELETE")),), group=_G, since="5.0.0", acl="stream",
         summary="Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
         complexity="O(1) for each single item to delete in the stream, regardless of the stream size.")
def xdel(c: Client, argv: list[bytes]) -> object:
    key = argv[1]
    s = _write(c, key)
    if s is None:
        return 0
    ids = [parse_id(b, 0, True) for b in argv[2:]]
    u = _undo(c)
    deleted = 0
    for sid in ids:
        if s.delete(sid, u):
            deleted += 1
    if deleted:
        c.db.touch(key, deleted)
        c.db.notify(STREAM, b"xdel", key)
    return deleted


@command("xtrim", -4, "write", keys=(KeySpec(flags=("RW", "DELETE")),), group=_G, since="5.0.0", acl="stream",
         tips="nondeterministic_output", summary="Trims the stream to (approximately if '~' is passed) a certain size",
         complexity="O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.")
def xtrim(c: Client, argv: list[bytes]) -> object:
    key = argv[1]
    a = _parse_trim(argv, False, _node_max_entries(c))
    s = _write(c, key)
    if s is None:
        return 0
    deleted = s.trim(a.maxlen, a.minid, a.approx, a.limit, _undo(c))
    if deleted:
        c.db.touch(key, deleted)
        c.db.notify(STREAM, b"xtrim", key)
        if a.approx:
            c.server.emit(c.db.id, [b"XTRIM", key, *_trim_effect_args(s, a)])
    return deleted


@command("xsetid", -3, "write denyoom fast", keys=(KeySpec(flags=("RW", "UPDATE")),), group=_G, since="5.0.0",
         acl="stream", summary="An internal command for replicating stream values")
def xsetid(c: Client, argv: list[bytes]) -> object:
    sid = parse_id(argv[2], 0, True)
    entries_added = -1
    max_xdel = 0
    i = 3
    n = len(argv)
    while i < n:
        more = n - 1 - i
        opt = argv[i].lower()
        if opt == b"entriesadded" and more:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise RespError("entries_added must be positive")
            i += 2
        elif opt == b"maxdeletedid" and more:
            max_xdel = parse_id(argv[i + 1], 0, True)
            if sid < max_xdel:
                raise RespError("The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
            i += 2
        else:
            raise syntax_error()
    key = argv[1]
    s = _write(c, key)
    if s is None:
        raise RespError("no such key")
    if len(s):
        if sid < s.last_valid_id():
            raise RespError("The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and len(s) > entries_added:
            raise RespError("The entries_added specified in XSETID is smaller than the target stream length")
    s.set_meta(sid, s.entries_added if entries_added == -1 else entries_added,
               max_xdel if max_xdel else s.max_deleted, _undo(c))
    c.db.touch(key)
    c.db.notify(STREAM, b"xsetid", key)
    return "OK"


# -- XREAD / XREADGROUP -------------------------------------------------------------------


class _ReadArgs:
    __slots__ = ("timeout", "count", "streams_arg", "nstreams", "group", "consumer", "noack")

    def __init__(self) -> None:
        self.timeout = -1
        self.count = 0
        self.streams_arg = 0
        self.nstreams = 0
        self.group: bytes | None = None
        self.consumer = b""
        self.noack = False


def _parse_read(c: Client, argv: list[bytes], xreadgroup: bool) -> _ReadArgs:
    a = _ReadArgs()
    n = len(argv)
    i = 1
    while i < n:
        more = n - i - 1
        o = argv[i].lower()
        if o == b"block" and more:
            if c.in_script:
                raise RespError(f"{_s(argv[0])} command is not allowed with BLOCK option from scripts")
            i += 1
            t = parse_int(argv[i], "timeout is not an integer or out of range")
            if t < 0:
                raise RespError("timeout is negative")
            if t > 0 and t > LLONG_MAX - c.db.ks.now_ms():
                raise RespError("timeout is out of range")
            a.timeout = t
        elif o == b"count" and more:
            i += 1
            a.count = max(parse_int(argv[i]), 0)
        elif o == b"streams" and more:
            a.streams_arg = i + 1
            cnt = n - a.streams_arg
            if cnt % 2:
                raise RespError("Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                                "specified.")
            a.nstreams = cnt // 2
            break
        elif o == b"group" and more >= 2:
            if not xreadgroup:
                raise RespError("The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            a.group = argv[i + 1]
            a.consumer = argv[i + 2]
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise RespError("The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            a.noack = True
        else:
            raise syntax_error()
        i += 1
    if a.streams_arg == 0:
        raise syntax_error()
    if xreadgroup and a.group is None:
        raise RespError("Missing GROUP option for XREADGROUP")
    return a


def _xread_reply(c: Client, out: list[tuple[bytes, list[object]]]) -> object:
    c.deferred_reply()  # Redis counts the streams (and their entries) as it serves them
    if c.resp == 3:
        return {k: v for k, v in out}
    return [[k, v] for k, v in out]


def _get_consumer(c: Client, g: Group, name: bytes, effects: list[list[bytes]], key: bytes) -> Consumer:
    now = c.db.ks.now_ms()
    u = _undo(c)
    cons = g.consumers.get(name)
    if cons is None:
        cons = g.add_consumer(name, now, u)
        c.db.notify(STREAM, b"xgroup-createconsumer", key)
        effects.append([b"XGROUP", b"CREATECONSUMER", key, g.name, name])
    else:
        if u is not None:
            old = cons.seen

            def undo() -> None:
                cons.seen = old
            u.append(undo)
        cons.seen = now
    return cons


def _claim_effect(key: bytes, g: Group, sid: int, nack: Nack) -> list[bytes]:
    return [b"XCLAIM", key, g.name, nack.consumer.name, b"0", fmt_id(sid), b"TIME", b"%d" % nack.time,
            b"RETRYCOUNT", b"%d" % nack.count, b"FORCE", b"JUSTID", b"LASTID", fmt_id(g.last_id)]


def _setid_effect(key: bytes, g: Group) -> list[bytes]:
    return [b"XGROUP", b"SETID", key, g.name, fmt_id(g.last_id), b"ENTRIESREAD", b"%d" % g.entries_read]


def _deliver_new(c: Client, key: bytes, s: Stream, g: Group, cons: Consumer, count: int, noack: bool,
                 effects: list[list[bytes]]) -> list[object]:
    """Serve entries after the group's last ID (the ``>`` ID), creating/moving NACKs."""
    items = s.range(g.last_id + 1, MAX_ID, count)
    if not items:
        return []
    u = _undo(c)
    now = c.db.ks.now_ms()
    g.set_last(g.last_id, g.entries_read, u)  # snapshot for rollback
    for sid, _fv in items:
        if sid > g.last_id:
            if g.entries_read != INVALID_READ and not s.range_has_tombstones(sid):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = s.estimate_distance(sid)
            g.last_id = sid
        if noack:
            continue
        nack = g.pel.get(sid)
        if nack is None:
            nack = Nack(now, 1, cons)
            g.pel_add(sid, nack)
            if u is not None:
                u.append(lambda sid=sid: g.pel_remove(sid))  # type: ignore[misc]
        else:
            if u is not None:
                u.append(_nack_restorer(g, sid, nack))
            if nack.consumer is not cons:
                g.pel_move(sid, nack, cons)
            nack.time = now
            nack.count = 1
        effects.append(_claim_effect(key, g, sid, nack))
    effects.append(_setid_effect(key, g))
    return _entries(items)


def _nack_restorer(g: Group, sid: int, nack: Nack) -> Any:
    old_cons, old_time, old_count = nack.consumer, nack.time, nack.count

    def undo() -> None:
        if nack.consumer is not old_cons:
            g.pel_move(sid, nack, old_cons)
        nack.time = old_time
        nack.count = old_count
    return undo


def _history(c: Client, key: bytes, s: Stream, g: Group, cons: Consumer, start: int, count: int,
             effects: list[list[bytes]]) -> list[object]:
    """Re-deliver the consumer's pending entries from ``start`` (deleted ones as ``[id, nil]``).

    Redis does not propagate these delivery-count bumps; logging them as XCLAIM keeps the
    durable state exact.
    """
    out: list[object] = []
    u = _undo(c)
    now = c.db.ks.now_ms()
    for sid in list(cons.pel.irange(start, MAX_ID)):
        fv = s.entry(sid)
        if fv is None:
            out.append([fmt_id(sid), NULL_ARRAY])
        else:
            out.append(_entry(sid, fv))
            nack = g.pel[sid]
            if u is not None:
                u.append(_nack_restorer(g, sid, nack))
            nack.time = now
            nack.count += 1
            effects.append(_claim_effect(key, g, sid, nack))
        if count and len(out) >= count:
            break
    return out


def _finish_group_effects(c: Client, effects: list[list[bytes]]) -> None:
    if effects:
        for e in effects:
            c.server.emit(c.db.id, e)
    else:
        c.server.suppress_effect()


def _xread(c: Client, argv: list[bytes], xreadgroup: bool) -> object:
    a = _parse_read(c, argv, xreadgroup)
    sa, ns = a.streams_arg, a.nstreams
    names = argv[sa : sa + ns]
    st = c.blocked
    if st is not None and "xids" in st.extra:
        return _serve_blocked(c, a, names, st.extra)
    db = c.db
    ids: list[int] = []
    groups: list[Group | None] = []
    for idx in range(ns):
        key = names[idx]
        raw = argv[sa + ns + idx]
        s = _read(c, key)
        g: Group | None = None
        if a.group is not None:
            g = s.groups.get(a.group) if s is not None else None
            if g is None:
                raise RespError(full=f"NOGROUP No such key '{_s(key)}' or consumer group "
                                f"'{_s(a.group)}' in XREADGROUP with GROUP option")
        groups.append(g)
        if raw == b"$":
            if xreadgroup:
                raise RespError("The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                                "history of this consumer by specifying a proper ID, or use the > ID to get "
                                "new messages. The $ ID would just return an empty result set.")
            ids.append(s.last_id if s is not None else 0)
        elif raw == b">":
            if not xreadgroup:
                raise RespError("The > ID can be specified only when calling XREADGROUP using the GROUP "
                                "<group> <consumer> option.")
            ids.append(MAX_ID)
        else:
            ids.append(parse_id(raw, 0, True))
    out: list[tuple[bytes, list[object]]] = []
    effects: list[list[bytes]] = []
    for idx in range(ns):
        key = names[idx]
        s = db.get(key)
        if s is None:
            continue
        gt = ids[idx]
        g = groups[idx]
        if g is not None:
            if gt != MAX_ID:
                cons = _get_consumer(c, g, a.consumer, effects, key)
                start = gt + 1 if gt != MAX_ID else gt
                out.append((key, _history(c, key, s, g, cons, start, a.count, effects)))
                _dirty(c)
            elif len(s) and s.last_valid_id() > g.last_id:
                cons = _get_consumer(c, g, a.consumer, effects, key)
                out.append((key, _deliver_new(c, key, s, g, cons, a.count, a.noack, effects)))
                _dirty(c)
        elif len(s) and s.last_valid_id() > gt:
            out.append((key, _entries(s.range(gt + 1, MAX_ID, a.count))))
    if xreadgroup:
        _finish_group_effects(c, effects)
    if out:
        return _xread_reply(c, out)
    if a.timeout != -1:
        srv = c.server
        if not srv.can_block(c):
            return NULL_ARRAY
        xids: dict[bytes, int] = {}
        for key, gt in zip(names, ids, strict=True):
            xids.setdefault(key, gt)
        r = srv.block(c, list(xids), a.timeout / 1000.0, timeout_reply=NULL_ARRAY)
        if c.blocked is not None:
            c.blocked.extra["xids"] = xids
            if xreadgroup:
                c.blocked.extra["wake_on_missing"] = True
        return r
    return NULL_ARRAY


def _serve_blocked(c: Client, a: _ReadArgs, names: list[bytes], extra: dict[str, Any]) -> object:
    """Re-run for a blocked XREAD/XREADGROUP after a key it waits on changed."""
    xids: dict[bytes, int] = extra["xids"]
    ready = extra.get("ready")
    order = [ready] if ready in xids else list(xids)
    db = c.db
    count = a.count or XREAD_BLOCKED_DEFAULT_COUNT
    for key in order:
        v = db.get(key)
        if a.group is None:
            if type(v) is not Stream or not len(v):
                continue
            gt = xids[key]
            if v.last_valid_id() > gt:
                items = v.range(gt + 1, MAX_ID, count)
                if items:
                    return _xread_reply(c, [(key, _entries(items))])
            continue
        if type(v) is not Stream:
            raise UnblockedError("the stream key no longer exists")
        g = v.groups.get(a.group)
        if g is None:
            raise RespError(full="NOGROUP the consumer group this client was blocked on no longer exists")
        if len(v) and v.last_valid_id() > g.last_id:
            effects: list[list[bytes]] = []
            cons = _get_consumer(c, g, a.consumer, effects, key)
            got = _deliver_new(c, key, v, g, cons, count, a.noack, effects)
            _dirty(c)
            _finish_group_effects(c, effects)
            if got:
                return _xread_reply(c, [(key, got)])
    return c.server.block(c, list(xids), 0, timeout_reply=NULL_ARRAY)


@command("xread", -4, "readonly blocking",
         keys=(KeySpec(keyword=b"streams", startfrom=1, lastkey=-1, step=1, limit=2, flags=("RO", "ACCESS")),),
         group=_G, since="5.0.0", acl="stream",
         summary="Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
         complexity="For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.")
def xread(c: Client, argv: list[bytes]) -> object:
    return _xread(c, argv, False)


@command("xreadgroup", -7, "write blocking",
         keys=(KeySpec(keyword=b"streams", startfrom=4, lastkey=-1, step=1, limit=2, flags=("RO", "ACCESS")),),
         group=_G, since="5.0.0", acl="stream",
         summary="Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
         complexity="For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.")
def xreadgroup(c: Client, argv: list[bytes]) -> object:
    return _xread(c, argv, True)


# -- XACK / XPENDING / XCLAIM / XAUTOCLAIM ---------------------------------------------


@command("xack", -4, "write fast", keys=(KeySpec(flags=("RW", "UPDATE")),), group=_G, since="5.0.0", acl="stream",
         summary="Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
         complexity="O(1) for each message ID processed.")
def xack(c: Client, argv: list[bytes]) -> object:
    s = _read(c, argv[1])
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        return 0
    ids = [parse_id(b, 0, True) for b in argv[3:]]
    u = _undo(c)
    acked = 0
    for sid in ids:
        if sid in g.pel:
            nack = g.pel_remove(sid)
            if u is not None:
                u.append(lambda sid=sid, nack=nack: g.pel_add(sid, nack))  # type: ignore[misc]
            acked += 1
    if acked:
        _dirty(c, acked)
    return acked


@command("xpending", -3, "readonly", keys=(KeySpec(flags=("RO", "ACCESS")),), group=_G, since="5.0.0",
         acl="stream", tips="nondeterministic_output",
         summary="Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
         complexity="O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.")
def xpending(c: Client, argv: list[bytes]) -> object:
    n = len(argv)
    key, gname = argv[1], argv[2]
    justinfo = n == 3
    if n != 3 and (n < 6 or n > 9):
        raise syntax_error()
    minidle = 0
    start, end, count = 0, MAX_ID, -1
    consumer_name: bytes | None = None
    if n >= 6:
        si = 3
        if argv[3].lower() == b"idle":
            minidle = parse_int(argv[4])
            if n < 8:
                raise syntax_error()
            si += 2
        count = parse_int(argv[si + 2])
        if count < 0:
            count = 0
        start = _start_bound(argv[si])
        end = _end_bound(argv[si + 1])
        if si + 3 < n:
            consumer_name = argv[si + 3]
    s = _read(c, key)
    g = s.groups.get(gname) if s is not None else None
    if g is None:
        raise _nogroup(key, gname)
    if justinfo:
        if not g.pel:
            return [0, None, None, NULL_ARRAY]
        per: list[object] = [[cs.name, b"%d" % len(cs.pel)] for cs in g.sorted_consumers() if cs.pel]
        return [len(g.pel), fmt_id(g.pel_ids[0]), fmt_id(g.pel_ids[-1]), per]
    if consumer_name is not None:
        cs = g.consumers.get(consumer_name)
        if cs is None:
            return []
        source = cs.pel
    else:
        source = g.pel_ids
    now = c.db.ks.now_ms()
    out: list[object] = []
    if count == 0 or start > end:
        return out
    for sid in source.irange(start, end):
        nack = g.pel[sid]
        if minidle and now - nack.time < minidle:
            continue
        out.append([fmt_id(sid), nack.consumer.name, max(now - nack.time, 0), nack.count])
        if len(out) >= count:
            break
    return out


def _touch_seen(cons: Consumer, now: int, u: Any) -> None:
    if u is not None:
        old = cons.seen
        u.append(lambda: setattr(cons, "seen", old))
    cons.seen = now


def _claim_one(c: Client, g: Group, sid: int, nack: Nack, cons: Consumer, when: int, count: int | None) -> None:
    u = _undo(c)
    if u is not None:
        u.append(_nack_restorer(g, sid, nack))
    if nack.consumer is not cons:
        g.pel_move(sid, nack, cons)
    nack.time = when
    if count is not None:
        nack.count = count


def _drop_nack(c: Client, key: bytes, g: Group, sid: int, effects: list[list[bytes]]) -> None:
    nack = g.pel[sid]
    effects.append(_claim_effect(key, g, sid, nack))
    g.pel_remove(sid)
    u = _undo(c)
    if u is not None:
        u.append(lambda: g.pel_add(sid, nack))
    _dirty(c)


@command("xclaim", -6, "write fast", keys=(KeySpec(flags=("RW", "UPDATE")),), group=_G, since="5.0.0",
         acl="stream", tips="nondeterministic_output",
         summary="Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
         complexity="O(log N) with N being the number of messages in the PEL of the consumer group.")
def xclaim(c: Client, argv: list[bytes]) -> object:
    key, gname, cname = argv[1], argv[2], argv[3]
    s = _read(c, key)
    g = s.groups.get(gname) if s is not None else None
    if s is None or g is None:
        raise _nogroup(key, gname)
    minidle = max(parse_int(argv[4], "Invalid min-idle-time argument for XCLAIM"), 0)
    n = len(argv)
    ids: list[int] = []
    j = 5
    while j < n:
        sid = _try_strict_id(argv[j])
        if sid is None:
            break
        ids.append(sid)
        j += 1
    now = c.db.ks.now_ms()
    force = justid = False
    deliverytime = -1
    retrycount = -1
    last_id = 0
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            deliverytime = now - parse_int(argv[j], "Invalid IDLE option argument for XCLAIM")
        elif opt == b"time" and more:
            j += 1
            deliverytime = parse_int(argv[j], "Invalid TIME option argument for XCLAIM")
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = parse_int(argv[j], "Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"lastid" and more:
            j += 1
            last_id = parse_id(argv[j], 0, True)
        else:
            raise RespError(f"Unrecognized XCLAIM option '{_s(argv[j])}'")
        j += 1
    u = _undo(c)
    effects: list[list[bytes]] = []
    propagate_last = False
    if last_id > g.last_id:
        g.set_last(last_id, g.entries_read, u)
        propagate_last = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    cons: Consumer | None = None
    out: list[object] = []
    for sid in ids:
        nack = g.pel.get(sid)
        if not s.exists(sid):
            if nack is not None:
                _drop_nack(c, key, g, sid, effects)
                propagate_last = False
            continue
        created = False
        if force and nack is None:
            created = True
        if nack is None and not created:
            continue
        if nack is not None and minidle and now - nack.time < minidle:
            continue
        if cons is None:
            cons = g.consumers.get(cname)
            if cons is None:
                cons = g.add_consumer(cname, now, u)
                c.db.notify(STREAM, b"xgroup-createconsumer", argv[1])
            else:
                _touch_seen(cons, now, u)
        if created:
            nack = Nack(deliverytime, 0, cons)
            g.pel_add(sid, nack)
            if u is not None:
                u.append(lambda sid=sid: g.pel_remove(sid))  # type: ignore[misc]
            if retrycount >= 0:
                nack.count = retrycount
            elif not justid:
                nack.count += 1
        else:
            assert nack is not None
            if retrycount >= 0:
                newcount: int | None = retrycount
            elif not justid:
                newcount = nack.count + 1
            else:
                newcount = None
            _claim_one(c, g, sid, nack, cons, deliverytime, newcount)
        out.append(fmt_id(sid) if justid else _entry(sid, s.entry(sid) or ()))
        effects.append(_claim_effect(key, g, sid, nack))
        propagate_last = False
        _dirty(c)
    if propagate_last:
        effects.append(_setid_effect(key, g))
        _dirty(c)
    _finish_group_effects(c, effects)
    return out


@command("xautoclaim", -6, "write fast", keys=(KeySpec(flags=("RW", "DELETE")),), group=_G, since="6.2.0",
         acl="stream", tips="nondeterministic_output",
         summary="Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
         complexity="O(1) if COUNT is small.")
def xautoclaim(c: Client, argv: list[bytes]) -> object:
    key, gname, cname = argv[1], argv[2], argv[3]
    minidle = max(parse_int(argv[4], "Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = _start_bound(argv[5])
    count = 100
    justid = False
    n = len(argv)
    j = 6
    max_count = LLONG_MAX // 16
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and more:
            try:
                count = parse_int(argv[j + 1], "COUNT must be > 0")
            except RespError:
                raise RespError("COUNT must be > 0") from None
            if count < 1 or count > max_count:
                raise RespError("COUNT must be > 0")
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise syntax_error()
        j += 1
    s = _read(c, key)
    g = s.groups.get(gname) if s is not None else None
    if s is None or g is None:
        raise _nogroup(key, gname)
    attempts = count * 10
    now = c.db.ks.now_ms()
    u = _undo(c)
    effects: list[list[bytes]] = []
    out: list[object] = []
    deleted: list[bytes] = []
    cons: Consumer | None = None
    pel_ids = g.pel_ids
    pos = pel_ids.bisect_left(start)
    while attempts and count and pos < len(pel_ids):
        attempts -= 1
        sid = pel_ids[pos]
        if not s.exists(sid):
            _drop_nack(c, key, g, sid, effects)
            deleted.append(fmt_id(sid))
            count -= 1
            continue  # the removed ID's successor is now at ``pos``
        nack = g.pel[sid]
        pos += 1
        if minidle and now - nack.time < minidle:
            continue
        if cons is None:
            cons = g.consumers.get(cname)
            if cons is None:
                cons = g.add_consumer(cname, now, u)
                c.db.notify(STREAM, b"xgroup-createconsumer", argv[1])
            else:
                _touch_seen(cons, now, u)
        _claim_one(c, g, sid, nack, cons, now, None if justid else nack.count + 1)
        out.append(fmt_id(sid) if justid else _entry(sid, s.entry(sid) or ()))
        count -= 1
        effects.append(_claim_effect(key, g, sid, nack))
        _dirty(c)
    cursor = fmt_id(pel_ids[pos]) if pos < len(pel_ids) else b"0-0"
    _finish_group_effects(c, effects)
    return [cursor, out, deleted]


# -- XGROUP ----------------------------------------------------------------------------------

container("xgroup", group=_G, summary="A container for consumer groups commands", since="5.0.0")


def _subcmd_syntax(argv: list[bytes]) -> RespError:
    return RespError(f"unknown subcommand or wrong number of arguments for '{_s(argv[1])[:128]}'. "
                     f"Try {_s(argv[0]).upper()} HELP.")


def _xgroup_target(c: Client, argv: list[bytes], mkstream: bool, need_group: bool) -> tuple[Stream | None, Group | None]:
    s = _write(c, argv[2])
    if s is None and not mkstream:
        raise RespError("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
                        "to use the MKSTREAM option to create an empty stream automatically.")
    g = s.groups.get(argv[3]) if s is not None else None
    if g is None and need_group:
        raise RespError(full=f"NOGROUP No such consumer group '{_s(argv[3])}' for key name '{_s(argv[2])}'")
    return s, g


def _entries_read_arg(b: bytes) -> int:
    v = parse_int(b)
    if v < 0 and v != INVALID_READ:
        raise RespError("value for ENTRIESREAD must be positive or -1")
    return v


@command("xgroup|create", -5, "write denyoom", keys=(KeySpec(begin=2, flags=("RW", "INSERT")),), group=_G,
         since="5.0.0", acl="stream", summary="Create a consumer group.",
         complexity="O(1)")
def xgroup_create(c: Client, argv: list[bytes]) -> object:
    mkstream = False
    entries_read = INVALID_READ
    i = 5
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"mkstream":
            mkstream = True
            i += 1
        elif opt == b"entriesread" and i + 1 < n:
            entries_read = _entries_read_arg(argv[i + 1])
            i += 2
        else:
            raise _subcmd_syntax(argv)
    s, g = _xgroup_target(c, argv, mkstream, False)
    if n > 8:
        raise _subcmd_syntax(argv)
    if argv[4] == b"$":
        sid = s.last_id if s is not None else 0
    else:
        sid = parse_id(argv[4], 0, True)
    key = argv[2]
    u = _undo(c)
    if s is None:
        s = Stream()
        c.db.set(key, s)
        u = None
    if argv[3] in s.groups:
        raise RespError(full="BUSYGROUP Consumer Group name already exists")
    s.add_group(argv[3], sid, entries_read, u)
    _dirty(c)
    c.db.notify(STREAM, b"xgroup-create", key)
    return "OK"


@command("xgroup|setid", -5, "write", keys=(KeySpec(begin=2, flags=("RW", "UPDATE")),), group=_G, since="5.0.0",
         acl="stream", summary="Set a consumer group to an arbitrary last delivered ID value.",
         complexity="O(1)")
def xgroup_setid(c: Client, argv: list[bytes]) -> object:
    n = len(argv)
    s, g = _xgroup_target(c, argv, False, True)
    assert s is not None and g is not None
    if n not in (5, 7):
        raise _subcmd_syntax(argv)
    sid = s.last_id if argv[4] == b"$" else parse_id(argv[4], 0, False)
    entries_read = INVALID_READ
    if n == 7:
        if argv[5].lower() != b"entriesread":
            raise _subcmd_syntax(argv)
        entries_read = parse_int(argv[6])
        if entries_read < 0 and entries_read != INVALID_READ:
            raise RespError("value for ENTRIESREAD must be positive or -1")
    g.set_last(sid, entries_read, _undo(c))
    _dirty(c)
    c.db.notify(STREAM, b"xgroup-setid", argv[2])
    return "OK"


@command("xgroup|destroy", 4, "write", keys=(KeySpec(begin=2, flags=("RW", "DELETE")),), group=_G, since="5.0.0",
         acl="stream", summary="Destroy a consumer group.",
         complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).")
def xgroup_destroy(c: Client, argv: list[bytes]) -> object:
    s, g = _xgroup_target(c, argv, False, False)
    if s is None or g is None:
        return 0
    s.del_group(argv[3], _undo(c))
    _dirty(c)
    c.db.notify(STREAM, b"xgroup-destroy", argv[2])
    c.db.signal_ready(argv[2])
    return 1


@command("xgroup|createconsumer", 5, "write denyoom", keys=(KeySpec(begin=2, flags=("RW", "INSERT")),), group=_G,
         since="6.2.0", acl="stream", summary="Create a consumer in a consumer group.", complexity="O(1)")
def xgroup_createconsumer(c: Client, argv: list[bytes]) -> object:
    s, g = _xgroup_target(c, argv, False, True)
    assert g is not None
    if argv[4] in g.consumers:
        return 0
    g.add_consumer(argv[4], c.db.ks.now_ms(), _undo(c))
    _dirty(c)
    c.db.notify(STREAM, b"xgroup-createconsumer", argv[2])
    return 1


@command("xgroup|delconsumer", 5, "write", keys=(KeySpec(begin=2, flags=("RW", "DELETE")),), group=_G,
         since="5.0.0", acl="stream", summary="Delete a consumer from a consumer group.", complexity="O(1)")
def xgroup_delconsumer(c: Client, argv: list[bytes]) -> object:
    s, g = _xgroup_target(c, argv, False, True)
    assert g is not None
    if argv[4] not in g.consumers:
        return 0
    pending = g.del_consumer(argv[4], _undo(c))
    _dirty(c)
    c.db.notify(STREAM, b"xgroup-delconsumer", argv[2])
    return pending


@command("xgroup|help", 2, "loading stale", group=_G, since="5.0.0", acl="stream",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def xgroup_help(c: Client, argv: list[bytes]) -> object:
    return [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ]


# -- XINFO ------------------------------------------------------------------------------------

container("xinfo", group=_G, summary="A container for stream introspection commands", since="5.0.0")


def _xinfo_stream_of(c: Client, key: bytes) -> Stream:
    s = _read(c, key)
    if s is None:
        raise RespError("no such key")
    return s


@command("xinfo|consumers", 4, "readonly", keys=(KeySpec(begin=2, flags=("RO", "ACCESS")),), group=_G,
         since="5.0.0", acl="stream", tips="nondeterministic_output",
         summary="List the consumers in a consumer group", complexity="O(1)")
def xinfo_consumers(c: Client, argv: list[bytes]) -> object:
    s = _xinfo_stream_of(c, argv[2])
    g = s.groups.get(argv[3])
    if g is None:
        raise RespError(full=f"NOGROUP No such consumer group '{_s(argv[3])}' for key name '{_s(argv[2])}'")
    now = c.db.ks.now_ms()
    return [{b"name": cs.name, b"pending": len(cs.pel), b"idle": max(now - cs.seen, 0)}
            for cs in g.sorted_consumers()]


@command("xinfo|groups", 3, "readonly", keys=(KeySpec(begin=2, flags=("RO", "ACCESS")),), group=_G,
         since="5.0.0", acl="stream", summary="List the consumer groups of a stream", complexity="O(1)")
def xinfo_groups(c: Client, argv: list[bytes]) -> object:
    s = _xinfo_stream_of(c, argv[2])
    out: list[object] = []
    for g in s.sorted_groups():
        out.append({
            b"name": g.name,
            b"consumers": len(g.consumers),
            b"pending": len(g.pel),
            b"last-delivered-id": fmt_id(g.last_id),
            b"entries-read": None if g.entries_read == INVALID_READ else g.entries_read,
            b"lag": s.lag(g),
        })
    return out


@command("xinfo|stream", -3, "readonly", keys=(KeySpec(begin=2, flags=("RO", "ACCESS")),), group=_G,
         since="5.0.0", acl="stream", summary="Get information about a stream", complexity="O(1)")
def xinfo_stream(c: Client, argv: list[bytes]) -> object:
    s = _xinfo_stream_of(c, argv[2])
    opts = argv[3:]
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise _subcmd_syntax(argv)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise _subcmd_syntax(argv)
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    d: dict[bytes, object] = {
        b"length": len(s),
        b"radix-tree-keys": len(s.nodes),
        b"radix-tree-nodes": s.radix_tree_nodes(),
        b"last-generated-id": fmt_id(s.last_id),
        b"max-deleted-entry-id": fmt_id(s.max_deleted),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": fmt_id(s.first_id),
    }
    if not full:
        d[b"groups"] = len(s.groups)
        first = s.range(0, MAX_ID, 1)
        last = s.range(0, MAX_ID, 1, True)
        d[b"first-entry"] = _entry(*first[0]) if first else None
        d[b"last-entry"] = _entry(*last[0]) if last else None
        return d
    d[b"entries"] = _entries(s.range(0, MAX_ID, count))
    groups: list[object] = []
    for g in s.sorted_groups():
        pel: list[object] = []
        for sid in g.pel_ids:
            if count and len(pel) >= count:
                break
            nk = g.pel[sid]
            pel.append([fmt_id(sid), nk.consumer.name, nk.time, nk.count])
        consumers: list[object] = []
        for cs in g.sorted_consumers():
            cpel: list[object] = []
            for sid in cs.pel:
                if count and len(cpel) >= count:
                    break
                nk = g.pel[sid]
                cpel.append([fmt_id(sid), nk.time, nk.count])
            consumers.append({b"name": cs.name, b"seen-time": cs.seen, b"pel-count": len(cs.pel),
                              b"pending": cpel})
        groups.append({
            b"name": g.name,
            b"last-delivered-id": fmt_id(g.last_id),
            b"entries-read": None if g.entries_read == INVALID_READ else g.entries_read,
            b"lag": s.lag(g),
            b"pel-count": len(g.pel),
            b"pending": pel,
            b"consumers": consumers,
        })
    d[b"groups"] = groups
    return d


@command("xinfo|help", 2, "loading stale", group=_G, since="5.0.0", acl="stream",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def xinfo_help(c: Client, argv: list[bytes]) -> object:
    return [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ]

