"""Set commands."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from moonkv.commands._util import parse_cursor, parse_int
from moonkv.commands.hashes import LONG_MAX, parse_range_long, scan_reply
from moonkv.commands.table import command, keynum, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error
from moonkv.keyspace.events import GENERIC, SET
from moonkv.keyspace.types import _limits
from moonkv.keyspace.types.set import Set, is_int_member

_G: Final = "set"


def _read(c: Client, key: bytes) -> Set | None:
    return c.db.read_typed(key, Set)  # type: ignore[no-any-return]


def _get_w(c: Client, key: bytes) -> Set | None:
    return c.db.get_typed(key, Set)  # type: ignore[no-any-return]


def members_reply(s: Set) -> list[bytes]:
    """Members in Redis's order where it is deterministic (intsets are sorted)."""
    if not s.big:
        return sorted(s, key=int)
    return list(s)


def new_set(c: Client, members: Any) -> Set:
    _limits.bind(c.server.config)
    s = Set(members)
    s.check_encoding()
    return s


def _undo_add(s: Set, added: list[bytes], was_big: bool) -> Callable[[], None]:
    """The undo of adding ``added`` to ``s``, which was big (a hashtable) or not."""

    def undo() -> None:
        s.difference_update(added)
        s.big = was_big

    return undo


def _remove_members(c: Client, key: bytes, s: Set, removed: list[bytes], event: bytes) -> None:
    """Bookkeeping after ``removed`` left ``s`` (already applied)."""
    db = c.db
    if db.ks.undo is not None:
        db.undo(lambda: s.update(removed))
    db.touch(key)
    db.notify(SET, event, key)
    if not s:
        db.remove_if_empty(key, s)
        db.notify(GENERIC, b"del", key)


@command("sadd", -3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G,
         summary="Adds one or more members to a set.")
def sadd(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key = argv[1]
    s = db.lookup_write(key)
    if s is None:
        s = new_set(c, argv[2:])
        db.set(key, s)
        db.notify(SET, b"sadd", key)
        return len(s)
    if type(s) is not Set:
        raise WrongTypeError()
    if len(argv) == 3:
        m = argv[2]
        if m in s:
            return 0
        s.add(m)
        added = [m]
    else:
        added = list({m: None for m in argv[2:] if m not in s})
        if not added:
            return 0
        s.update(added)
    was_big = s.big
    if not was_big:
        s.check_encoding(added)
    if db.ks.undo is not None:
        db.undo(_undo_add(s, added, was_big))
    db.touch(key)
    db.notify(SET, b"sadd", key)
    return len(added)


@command("srem", -3, "write fast", keys=keys(1, flags="RW DELETE"), group=_G,
         summary="Removes one or more members from a set.")
def srem(c: Client, argv: list[bytes]) -> object:
    s = _get_w(c, argv[1])
    if s is None:
        return 0
    removed = list({m: None for m in argv[2:] if m in s})
    if not removed:
        return 0
    s.difference_update(removed)
    _remove_members(c, argv[1], s, removed, b"srem")
    return len(removed)


@command("smembers", 2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns all members of a set.", complexity="O(N)", tips="nondeterministic_output_order")
def smembers(c: Client, argv: list[bytes]) -> object:
    s = _read(c, argv[1])
    if s is None:
        return set()
    c.deferred_reply()  # SMEMBERS is SINTER of one set in Redis 7.0: addReplyDeferredLen
    return _as_set(c, members_reply(s))


def _as_set(c: Client, items: list[bytes]) -> object:
    # RESP3 wants a set type; a list keeps Redis's order in RESP2.
    if c.resp == 3:
        return set(items)
    return items


@command("sismember", 3, "readonly fast", keys=keys(1, flags="RO"), group=_G,
         summary="Determines whether a member belongs to a set.")
def sismember(c: Client, argv: list[bytes]) -> object:
    s = c.db.lookup_read(argv[1])
    if s is None:
        return 0
    if type(s) is not Set:
        raise WrongTypeError()
    return 1 if argv[2] in s else 0


@command("smismember", -3, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.2.0",
         summary="Determines whether multiple members belong to a set.", complexity="O(N)")
def smismember(c: Client, argv: list[bytes]) -> object:
    s = _read(c, argv[1])
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


@command("scard", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G,
         summary="Returns the number of members in a set.")
def scard(c: Client, argv: list[bytes]) -> object:
    s = _read(c, argv[1])
    return 0 if s is None else len(s)


def _emit_srem(c: Client, key: bytes, members: list[bytes]) -> None:
    srv = c.server
    for i in range(0, len(members), 1024):
        srv.emit(c.db.id, [b"SREM", key, *members[i : i + 1024]])


@command("spop", -2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G,
         summary="Returns one or more random members from a set after removing them.",
         tips="nondeterministic_output")
def spop(c: Client, argv: list[bytes]) -> object:
    key = argv[1]
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count < 0:
            raise RespError("value is out of range, must be positive")
        s = _get_w(c, key)
        if s is None or count == 0:
            return _as_set(c, [])
        if count >= len(s):
            picked = members_reply(s)
            s.clear()
            _remove_members(c, key, s, picked, b"spop")
            c.server.emit(c.db.id, [b"DEL", key])
            return _as_set(c, picked)
        if len(s) >= _BIG:
            picked = [s.pop() for _ in range(count)]
        else:
            picked = random.sample(list(s), count)
        s.difference_update(picked)
        _remove_members(c, key, s, picked, b"spop")
        _emit_srem(c, key, picked)
        return _as_set(c, picked)
    s = _get_w(c, key)
    if s is None:
        return None
    if len(s) >= _BIG:
        m = s.pop()
    else:
        m = random.choice(list(s))
        s.discard(m)
    _remove_members(c, key, s, [m], b"spop")
    _emit_srem(c, key, [m])
    return m


# Python sets have no random access: below _BIG members a uniform choice copies the
# members (O(n)); from _BIG on, set.pop() takes the next member in hash-table order,
# which is a per-process pseudo-random permutation (bytes hashes are seeded randomly),
# so pops stay O(1) on big sets (job queues) and still come out in random order.
_BIG: Final = 4096


def _peek(s: Set, n: int) -> list[bytes]:
    """``n`` distinct members of a big set in hash-table order, leaving the set as it was."""
    out = [s.pop() for _ in range(n)]
    s.update(out)
    return out


@command("srandmember", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Get one or multiple random members from a set", tips="nondeterministic_output")
def srandmember(c: Client, argv: list[bytes]) -> object:
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 3:
        cnt = parse_range_long(argv[2], -LONG_MAX, LONG_MAX)
        s = _read(c, argv[1])
        if s is None or cnt == 0:
            return []
        if cnt < 0:
            n = c.reply_elements(-cnt)
            if len(s) >= _BIG and n < len(s) // 4:
                pool = _peek(s, min(len(s), 4 * n))
                return random.choices(pool, k=n)
            return random.choices(list(s), k=n)
        if cnt >= len(s):
            return members_reply(s)
        if len(s) >= _BIG and cnt < len(s) // 4:
            return _peek(s, cnt)
        return random.sample(list(s), cnt)
    s = _read(c, argv[1])
    if s is None:
        return None
    if len(s) >= _BIG:
        return _peek(s, 1)[0]
    return random.choice(list(s))


@command("smove", 4, "write fast", keys=keys(1, flags="RW ACCESS DELETE") + keys(2, flags="RW INSERT"), group=_G,
         summary="Moves a member from one set to another.")
def smove(c: Client, argv: list[bytes]) -> object:
    db = c.db
    src, dst, m = argv[1], argv[2], argv[3]
    s = db.lookup_write(src)
    d = db.lookup_write(dst)
    if s is None:
        return 0
    if type(s) is not Set or (d is not None and type(d) is not Set):
        raise WrongTypeError()
    if s is d:
        return 1 if m in s else 0
    if m not in s:
        return 0
    s.discard(m)
    _remove_members(c, src, s, [m], b"srem")
    if d is None:
        d = new_set(c, [m])
        db.set(dst, d)
        db.notify(SET, b"sadd", dst)
    else:
        if m not in d:
            d.add(m)
            was_big = d.big
            if not was_big:
                d.check_encoding([m])
            if db.ks.undo is not None:
                db.undo(_undo_add(d, [m], was_big))
            db.touch(dst)
            db.notify(SET, b"sadd", dst)
    return 1


def _lookup_all(c: Client, names: list[bytes]) -> list[Set | None]:
    return [_read(c, k) for k in names]


def _inter(c: Client, names: list[bytes]) -> list[bytes] | None:
    """Members of the intersection (None when a key is missing)."""
    found = [_read(c, k) for k in names]
    sets: list[Set] = [s for s in found if s is not None]
    if len(sets) < len(found):
        return None
    sets.sort(key=len)
    first = sets[0]
    rest = sets[1:]
    base = members_reply(first)
    return [m for m in base if all(m in o for o in rest)]


def _store(c: Client, dst: bytes, members: list[bytes], event: bytes) -> int:
    db = c.db
    if not members:
        if db.delete(dst):
            db.notify(GENERIC, b"del", dst)
        return 0
    db.set(dst, new_set(c, members))
    db.notify(SET, event, dst)
    return len(members)


@command("sinter", -2, "readonly", keys=keys(1, -1, flags="RO ACCESS"), group=_G,
         summary="Returns the intersect of multiple sets.", complexity="O(N*M)",
         tips="nondeterministic_output_order")
def sinter(c: Client, argv: list[bytes]) -> object:
    r = _inter(c, argv[1:])
    if r is None:
        return _as_set(c, [])
    c.deferred_reply()  # Redis counts the members as it finds them: addReplyDeferredLen
    return _as_set(c, r)


@command("sintercard", -3, "readonly", keys=keynum(1, flags="RO ACCESS"), group=_G, since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sets.",
         complexity="O(N*M)")
def sintercard(c: Client, argv: list[bytes]) -> object:
    numkeys = parse_int(argv[1], "numkeys should be greater than 0")
    if numkeys < 1:
        raise RespError("numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise RespError("Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].lower() == b"limit" and j + 1 < len(argv):
            j += 1
            limit = parse_int(argv[j], "LIMIT can't be negative")
            if limit < 0:
                raise RespError("LIMIT can't be negative")
        else:
            raise syntax_error()
        j += 1
    found = [_read(c, k) for k in argv[2 : 2 + numkeys]]
    sets: list[Set] = [s for s in found if s is not None]
    if len(sets) < len(found):
        return 0
    sets.sort(key=len)
    rest = sets[1:]
    n = 0
    for m in sets[0]:
        if all(m in o for o in rest):
            n += 1
            if limit and n >= limit:
                break
    return n


@command("sinterstore", -3, "write denyoom", keys=keys(1, flags="RW UPDATE") + keys(2, -1, flags="RO ACCESS"),
         group=_G, summary="Stores the intersect of multiple sets in a key.", complexity="O(N*M)")
def sinterstore(c: Client, argv: list[bytes]) -> object:
    r = _inter(c, argv[2:])
    return _store(c, argv[1], r or [], b"sinterstore")


def _union(c: Client, names: list[bytes]) -> list[bytes]:
    sets = _lookup_all(c, names)
    out: dict[bytes, None] = {}
    for s in sets:
        if s is not None:
            for m in members_reply(s) if not s.big else s:
                out[m] = None
    return list(out)


def _diff(c: Client, names: list[bytes]) -> list[bytes]:
    sets = _lookup_all(c, names)
    first = sets[0]
    if first is None:
        return []
    others = [s for s in sets[1:] if s is not None]
    return [m for m in members_reply(first) if not any(m in o for o in others)]


def _sorted_if_ints(members: list[bytes]) -> list[bytes]:
    if len(members) <= _limits.get("set-max-intset-entries") and all(is_int_member(m) for m in members):
        return sorted(members, key=int)
    return members


@command("sunion", -2, "readonly", keys=keys(1, -1, flags="RO ACCESS"), group=_G,
         summary="Returns the union of multiple sets.", complexity="O(N)",
         tips="nondeterministic_output_order")
def sunion(c: Client, argv: list[bytes]) -> object:
    return _as_set(c, _sorted_if_ints(_union(c, argv[1:])))


@command("sunionstore", -3, "write denyoom", keys=keys(1, flags="OW UPDATE") + keys(2, -1, flags="RO ACCESS"),
         group=_G, summary="Stores the union of multiple sets in a key.", complexity="O(N)")
def sunionstore(c: Client, argv: list[bytes]) -> object:
    return _store(c, argv[1], _union(c, argv[2:]), b"sunionstore")


@command("sdiff", -2, "readonly", keys=keys(1, -1, flags="RO ACCESS"), group=_G,
         summary="Returns the difference of multiple sets.", complexity="O(N)",
         tips="nondeterministic_output_order")
def sdiff(c: Client, argv: list[bytes]) -> object:
    return _as_set(c, _diff(c, argv[1:]))


@command("sdiffstore", -3, "write denyoom", keys=keys(1, flags="OW UPDATE") + keys(2, -1, flags="RO ACCESS"),
         group=_G, summary="Stores the difference of multiple sets in a key.", complexity="O(N)")
def sdiffstore(c: Client, argv: list[bytes]) -> object:
    return _store(c, argv[1], _diff(c, argv[2:]), b"sdiffstore")


@command("sscan", -3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="2.8.0",
         summary="Iterates over members of a set.", complexity="O(1) per call",
         tips="nondeterministic_output")
def sscan(c: Client, argv: list[bytes]) -> object:
    parse_cursor(argv[2])
    s = _read(c, argv[1])
    if s is None:
        return scan_reply(c, argv, None, True, None)
    return scan_reply(c, argv, members_reply(s) if not s.big else s, not s.big, None)
