"""List commands, including the blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP)."""

from __future__ import annotations

from typing import Any, Final

from moonkv.commands._util import parse_int, parse_mpop_count, parse_timeout
from moonkv.commands.table import KeySpec, command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error, wrong_arity
from moonkv.keyspace.events import GENERIC, LIST
from moonkv.keyspace.types.list import List
from moonkv.protocol import NULL_ARRAY

_G: Final = "list"
LONG_MAX: Final = 2**63 - 1
LEFT: Final = 0
RIGHT: Final = 1


def _read(c: Client, key: bytes) -> List | None:
    return c.db.read_typed(key, List)  # type: ignore[no-any-return]


def _get_w(c: Client, key: bytes) -> List | None:
    return c.db.get_typed(key, List)  # type: ignore[no-any-return]


def _where(b: bytes) -> int:
    low = b.lower()
    if low == b"left":
        return LEFT
    if low == b"right":
        return RIGHT
    raise syntax_error()


def _positive(b: bytes, msg: str | None = None) -> int:
    v = parse_int(b, msg)
    if v < 0:
        raise RespError(msg or "value is out of range, must be positive")
    return v


# -- mutation primitives (touch + undo + empty removal) ------------------------------


def push(c: Client, key: bytes, values: list[bytes], where: int, lst: List | None = None) -> List:
    """Push ``values`` one by one at ``where``; creates the list when needed."""
    db = c.db
    if lst is None:
        lst = List()
        if where == LEFT:
            lst.extendleft(values)
        else:
            lst.extend(values)
        db.set(key, lst)
    else:
        n = len(values)
        if where == LEFT:
            lst.extendleft(values)
            if db.ks.undo is not None:
                db.undo(lambda: _drop(lst, n, LEFT))
        else:
            lst.extend(values)
            if db.ks.undo is not None:
                db.undo(lambda: _drop(lst, n, RIGHT))
        db.touch(key)
    db.notify(LIST, b"lpush" if where == LEFT else b"rpush", key)
    db.signal_ready(key)
    return lst


def _drop(lst: List, n: int, where: int) -> None:
    pop = lst.popleft if where == LEFT else lst.pop
    for _ in range(n):
        pop()


def pop_n(c: Client, key: bytes, lst: List, n: int, where: int) -> list[bytes]:
    """Pop up to ``n`` elements from ``where`` (in pop order); removes an emptied list."""
    db = c.db
    if n == 1:
        out = [lst.popleft() if where == LEFT else lst.pop()]
    else:
        pop = lst.popleft if where == LEFT else lst.pop
        out = [pop() for _ in range(min(n, len(lst)))]
    if db.ks.undo is not None:
        if where == LEFT:
            db.undo(lambda: lst.extendleft(reversed(out)))
        else:
            db.undo(lambda: lst.extend(reversed(out)))
    db.touch(key)
    db.notify(LIST, b"lpop" if where == LEFT else b"rpop", key)
    if not lst:
        db.remove_if_empty(key, lst)
        db.notify(GENERIC, b"del", key)
    return out


# -- pushes ----------------------------------------------------------------------------


def _push_cmd(c: Client, argv: list[bytes], where: int, xx: bool) -> object:
    db = c.db
    key = argv[1]
    lst = db.lookup_write(key)
    if lst is None:
        if xx:
            return 0
    elif type(lst) is not List:
        raise WrongTypeError()
    vals = argv[2:]
    return len(push(c, key, vals, where, lst))


@command("lpush", -3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G,
         summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.")
def lpush(c: Client, argv: list[bytes]) -> object:
    return _push_cmd(c, argv, LEFT, False)


@command("rpush", -3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G,
         summary="Appends one or more elements to a list. Creates the key if it doesn't exist.")
def rpush(c: Client, argv: list[bytes]) -> object:
    return _push_cmd(c, argv, RIGHT, False)


@command("lpushx", -3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G, since="2.2.0",
         summary="Prepends one or more elements to a list only when the list exists.")
def lpushx(c: Client, argv: list[bytes]) -> object:
    return _push_cmd(c, argv, LEFT, True)


@command("rpushx", -3, "write denyoom fast", keys=keys(1, flags="RW INSERT"), group=_G, since="2.2.0",
         summary="Appends an element to a list only when the list exists.")
def rpushx(c: Client, argv: list[bytes]) -> object:
    return _push_cmd(c, argv, RIGHT, True)


# -- pops ------------------------------------------------------------------------------


def _pop_cmd(c: Client, argv: list[bytes], where: int) -> object:
    n = len(argv)
    if n > 3:
        raise wrong_arity(argv[0].decode("utf-8", "replace").lower())
    count = _positive(argv[2]) if n == 3 else -1
    key = argv[1]
    lst = _get_w(c, key)
    if lst is None:
        return NULL_ARRAY if n == 3 else None
    if count == 0:
        return []
    if count < 0:
        return pop_n(c, key, lst, 1, where)[0]
    return pop_n(c, key, lst, count, where)


@command("lpop", -2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G,
         summary="Returns the first elements in a list after removing it.")
def lpop(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 2:
        db = c.db
        key = argv[1]
        lst = db.lookup_write(key)
        if lst is None:
            return None
        if type(lst) is not List:
            raise WrongTypeError()
        v = lst.popleft()
        if db.ks.undo is not None:
            db.undo(lambda: lst.appendleft(v))
        db.touch(key)
        db.notify(LIST, b"lpop", key)
        if not lst:
            db.remove_if_empty(key, lst)
            db.notify(GENERIC, b"del", key)
        return v
    return _pop_cmd(c, argv, LEFT)


@command("rpop", -2, "write fast", keys=keys(1, flags="RW ACCESS DELETE"), group=_G,
         summary="Returns and removes the last elements of a list.")
def rpop(c: Client, argv: list[bytes]) -> object:
    return _pop_cmd(c, argv, RIGHT)


# -- reads -----------------------------------------------------------------------------


@command("llen", 2, "readonly fast", keys=keys(1, flags="RO"), group=_G,
         summary="Returns the length of a list.")
def llen(c: Client, argv: list[bytes]) -> object:
    lst = _read(c, argv[1])
    return 0 if lst is None else len(lst)


def range_items(lst: List, start: int, end: int) -> list[bytes]:
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return []
    if end >= n:
        end = n - 1
    return lst.slice(start, end + 1)


@command("lrange", 4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns a range of elements from a list.", complexity="O(S+N)")
def lrange(c: Client, argv: list[bytes]) -> object:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    lst = _read(c, argv[1])
    if lst is None:
        return []
    return range_items(lst, start, end)


@command("lindex", 3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns an element from a list by its index.", complexity="O(N)")
def lindex(c: Client, argv: list[bytes]) -> object:
    lst = _read(c, argv[1])
    if lst is None:
        return None
    i = parse_int(argv[2])
    n = len(lst)
    if i < 0:
        i += n
    if 0 <= i < n:
        return lst[i]
    return None


@command("lpos", -3, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, since="6.0.6",
         summary="Returns the index of matching elements in a list.", complexity="O(N)")
def lpos(c: Client, argv: list[bytes]) -> object:
    ele = argv[2]
    rank, count, maxlen = 1, -1, 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"rank" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank == 0:
                raise RespError(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                    "or use negative to start from the end of the list"
                )
            if rank < -LONG_MAX:
                raise RespError("value is out of range, value must between "
                                "-9223372036854775807 and 9223372036854775807")
        elif opt == b"count" and more:
            j += 1
            count = _positive(argv[j], "COUNT can't be negative")
        elif opt == b"maxlen" and more:
            j += 1
            maxlen = _positive(argv[j], "MAXLEN can't be negative")
        else:
            raise syntax_error()
        j += 1
    lst = _read(c, argv[1])
    if lst is None:
        return [] if count != -1 else None
    forward = rank > 0
    if not forward:
        rank = -rank
    size = len(lst)
    it = iter(lst) if forward else reversed(lst)
    matches = 0
    out: list[object] = []
    for index, v in enumerate(it):
        if maxlen and index >= maxlen:
            break
        if v == ele:
            matches += 1
            if matches >= rank:
                pos = index if forward else size - index - 1
                if count == -1:
                    return pos
                out.append(pos)
                if count and matches - rank + 1 >= count:
                    break
    if count == -1:
        return None
    c.deferred_reply()  # Redis counts the matches as it finds them: addReplyDeferredLen
    return out


# -- in-place edits ------------------------------------------------------------------


@command("lset", 4, "write denyoom", keys=keys(1, flags="RW UPDATE"), group=_G,
         summary="Sets the value of an element in a list by its index.", complexity="O(N)")
def lset(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key = argv[1]
    lst = _get_w(c, key)
    if lst is None:
        raise RespError("no such key")
    i = parse_int(argv[2])
    n = len(lst)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise RespError("index out of range")
    old = lst[i]
    lst[i] = argv[3]
    if db.ks.undo is not None:
        idx = i

        def undo() -> None:
            lst[idx] = old

        db.undo(undo)
    db.touch(key)
    db.notify(LIST, b"lset", key)
    return "OK"


@command("linsert", 5, "write denyoom", keys=keys(1, flags="RW INSERT"), group=_G, since="2.2.0",
         summary="Inserts an element before or after another element in a list.", complexity="O(N)")
def linsert(c: Client, argv: list[bytes]) -> object:
    opt = argv[2].lower()
    if opt == b"after":
        after = True
    elif opt == b"before":
        after = False
    else:
        raise syntax_error()
    db = c.db
    key = argv[1]
    lst = _get_w(c, key)
    if lst is None:
        return 0
    pivot = argv[3]
    try:
        i = lst.index(pivot)
    except ValueError:
        return -1
    if after:
        i += 1
    lst.insert(i, argv[4])
    if db.ks.undo is not None:
        idx = i

        def undo() -> None:
            del lst[idx]

        db.undo(undo)
    db.touch(key)
    db.notify(LIST, b"linsert", key)
    return len(lst)


@command("lrem", 4, "write", keys=keys(1, flags="RW DELETE"), group=_G,
         summary="Removes elements from a list.", complexity="O(N+M)")
def lrem(c: Client, argv: list[bytes]) -> object:
    count = parse_int(argv[2])
    db = c.db
    key = argv[1]
    lst = _get_w(c, key)
    if lst is None:
        return 0
    ele = argv[3]
    n = len(lst)
    removed_idx: list[int] = []
    if count >= 0:
        for i, v in enumerate(lst):
            if v == ele:
                removed_idx.append(i)
                if count and len(removed_idx) >= count:
                    break
    else:
        limit = -count
        for j, v in enumerate(reversed(lst)):
            if v == ele:
                removed_idx.append(n - 1 - j)
                if len(removed_idx) >= limit:
                    break
        removed_idx.reverse()
    if not removed_idx:
        return 0
    if len(removed_idx) > 64 and len(removed_idx) * 4 > n:
        drop = set(removed_idx)
        kept = [v for i, v in enumerate(lst) if i not in drop]
        lst.clear()
        lst.extend(kept)
    else:
        for i in reversed(removed_idx):
            del lst[i]
    if db.ks.undo is not None:
        idxs = removed_idx

        def undo() -> None:
            for i in idxs:
                lst.insert(i, ele)

        db.undo(undo)
    db.touch(key)
    db.notify(LIST, b"lrem", key)
    if not lst:
        db.remove_if_empty(key, lst)
        db.notify(GENERIC, b"del", key)
    return len(removed_idx)


@command("ltrim", 4, "write", keys=keys(1, flags="RW DELETE"), group=_G,
         summary="Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
         complexity="O(N)")
def ltrim(c: Client, argv: list[bytes]) -> object:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    db = c.db
    key = argv[1]
    lst = _get_w(c, key)
    if lst is None:
        return "OK"
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        ltrim_l, rtrim = n, 0
    else:
        if end >= n:
            end = n - 1
        ltrim_l = start
        rtrim = n - end - 1
    if ltrim_l == 0 and rtrim == 0:
        db.notify(LIST, b"ltrim", key)
        return "OK"
    head = [lst.popleft() for _ in range(min(ltrim_l, len(lst)))]
    tail = [lst.pop() for _ in range(min(rtrim, len(lst)))]
    if db.ks.undo is not None:

        def undo() -> None:
            lst.extendleft(reversed(head))
            lst.extend(reversed(tail))

        db.undo(undo)
    db.touch(key)
    db.notify(LIST, b"ltrim", key)
    if not lst:
        db.remove_if_empty(key, lst)
        db.notify(GENERIC, b"del", key)
    return "OK"


# -- moves ---------------------------------------------------------------------------


def _move(c: Client, src: bytes, dst: bytes, wfrom: int, wto: int) -> bytes | None:
    """LMOVE core: None when ``src`` is missing; WRONGTYPE checked for both first."""
    db = c.db
    s = _get_w(c, src)
    if s is None:
        return None
    d = _get_w(c, dst)
    v: bytes = s.popleft() if wfrom == LEFT else s.pop()
    if db.ks.undo is not None:
        if wfrom == LEFT:
            db.undo(lambda: s.appendleft(v))
        else:
            db.undo(lambda: s.append(v))
    db.touch(src)
    pop_event = b"lpop" if wfrom == LEFT else b"rpop"
    if s is d:
        # Rotation: the list is never empty in between.
        push(c, dst, [v], wto, d)
        db.notify(LIST, pop_event, src)
        return v
    db.remove_if_empty(src, s)
    push(c, dst, [v], wto, d)  # Redis's order: the push's events, then the pop's
    db.notify(LIST, pop_event, src)
    if not s:
        db.notify(GENERIC, b"del", src)
    return v


def _emit_move(c: Client, argv: list[bytes], src: bytes, dst: bytes, wfrom: int, wto: int, rpl: bool) -> None:
    if rpl:
        c.server.emit(c.db.id, [b"RPOPLPUSH", src, dst])
    else:
        c.server.emit(c.db.id, [b"LMOVE", src, dst, _POS[wfrom], _POS[wto]])


_POS: Final = (b"LEFT", b"RIGHT")


@command("lmove", 5, "write denyoom", keys=keys(1, flags="RW ACCESS DELETE") + keys(2, flags="RW INSERT"),
         group=_G, since="6.2.0", summary="Returns an element after popping it from one list and pushing it to another.")
def lmove(c: Client, argv: list[bytes]) -> object:
    wfrom = _where(argv[3])
    wto = _where(argv[4])
    return _move(c, argv[1], argv[2], wfrom, wto)


@command("rpoplpush", 3, "write denyoom", keys=keys(1, flags="RW ACCESS DELETE") + keys(2, flags="RW INSERT"),
         group=_G, since="1.2.0", summary="Returns the last element of a list after removing and pushing it to another list.")
def rpoplpush(c: Client, argv: list[bytes]) -> object:
    return _move(c, argv[1], argv[2], RIGHT, LEFT)


# -- LMPOP -----------------------------------------------------------------------------


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], int, int]:
    numkeys = parse_int(argv[numkeys_idx], "numkeys should be greater than 0")
    if numkeys < 1:
        raise RespError("numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise syntax_error()
    where = _where(argv[where_idx])
    count = parse_mpop_count(argv, where_idx + 1)
    return argv[numkeys_idx + 1 : where_idx], where, count


def _mpop_keys(numkeys_idx: int) -> Any:
    def get_keys(argv: Any) -> list[int]:
        try:
            n = int(argv[numkeys_idx])
        except (ValueError, IndexError):
            return []
        if n <= 0 or numkeys_idx + n >= len(argv):
            return []
        return list(range(numkeys_idx + 1, numkeys_idx + 1 + n))

    return get_keys


def _mpop_from(c: Client, key: bytes, lst: List, where: int, count: int) -> object:
    n = min(count, len(lst))
    out = pop_n(c, key, lst, n, where)
    c.server.emit(c.db.id, [b"LPOP" if where == LEFT else b"RPOP", key, b"%d" % n])
    return [key, out]


@command("lmpop", -4, "write", keys=(KeySpec(begin=1, keynum=0, firstkey=1, flags=("RW", "ACCESS", "DELETE")),),
         group=_G, since="7.0.0", summary="Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
         complexity="O(N+M)")
def lmpop(c: Client, argv: list[bytes]) -> object:
    names, where, count = _parse_mpop(argv, 1)
    for key in names:
        lst = _get_w(c, key)
        if lst:
            return _mpop_from(c, key, lst, where, count)
    return NULL_ARRAY


# -- blocking --------------------------------------------------------------------------


def _ready_order(c: Client, names: list[bytes]) -> tuple[list[bytes], bool]:
    """Keys to try: when re-run for a ready key, only that key (as Redis serves it)."""
    st = c.blocked
    if st is not None:
        ready = st.extra.get("ready")
        if ready is not None and ready in names:
            return [ready], True
    return names, st is not None


def _blocking_pop(c: Client, names: list[bytes], where: int, timeout: float, count: int) -> object:
    db = c.db
    order, rerun = _ready_order(c, names)
    for key in order:
        lst = db.lookup_write(key)
        if lst is None:
            continue
        if type(lst) is not List:
            if rerun:
                continue
            raise WrongTypeError()
        if count == -1:
            v = pop_n(c, key, lst, 1, where)[0]
            c.server.emit(db.id, [b"LPOP" if where == LEFT else b"RPOP", key])
            return [key, v]
        return _mpop_from(c, key, lst, where, count)
    srv = c.server
    if not srv.can_block(c):
        return NULL_ARRAY
    return srv.block(c, names, timeout, timeout_reply=NULL_ARRAY)


@command("blpop", -3, "write noscript blocking", keys=keys(1, -2, flags="RW ACCESS DELETE"), group=_G,
         summary="Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
def blpop(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], LEFT, timeout, -1)


@command("brpop", -3, "write noscript blocking", keys=keys(1, -2, flags="RW ACCESS DELETE"), group=_G,
         summary="Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.")
def brpop(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], RIGHT, timeout, -1)


@command("blmpop", -5, "write blocking", keys=(KeySpec(begin=2, keynum=0, firstkey=1, flags=("RW", "ACCESS", "DELETE")),),
         group=_G, since="7.0.0", summary="Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
         complexity="O(N+M)")
def blmpop(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[1])
    names, where, count = _parse_mpop(argv, 2)
    return _blocking_pop(c, names, where, timeout, count)


def _blocking_move(c: Client, argv: list[bytes], wfrom: int, wto: int, timeout: float, rpl: bool) -> object:
    # Redis 7.0 answers a timed-out BLMOVE/BRPOPLPUSH with a null array (*-1) but
    # the non-blocking fallback inside MULTI/scripts with a null bulk ($-1).
    db = c.db
    src, dst = argv[1], argv[2]
    s = db.lookup_write(src)
    if s is not None and type(s) is not List:
        if c.blocked is not None:
            return c.server.block(c, [src], timeout, timeout_reply=NULL_ARRAY)
        raise WrongTypeError()
    if s is None:
        srv = c.server
        if not srv.can_block(c):
            return None
        return srv.block(c, [src], timeout, timeout_reply=NULL_ARRAY)
    v = _move(c, src, dst, wfrom, wto)
    _emit_move(c, argv, src, dst, wfrom, wto, rpl)
    return v


@command("blmove", 6, "write denyoom noscript blocking", keys=keys(1, flags="RW ACCESS DELETE") + keys(2, flags="RW INSERT"),
         group=_G, since="6.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.")
def blmove(c: Client, argv: list[bytes]) -> object:
    wfrom = _where(argv[3])
    wto = _where(argv[4])
    timeout = parse_timeout(argv[5])
    return _blocking_move(c, argv, wfrom, wto, timeout, False)


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=keys(1, flags="RW ACCESS DELETE") + keys(2, flags="RW INSERT"),
         group=_G, since="2.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.")
def brpoplpush(c: Client, argv: list[bytes]) -> object:
    timeout = parse_timeout(argv[3])
    return _blocking_move(c, argv, RIGHT, LEFT, timeout, True)
