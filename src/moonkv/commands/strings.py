"""String commands."""

from __future__ import annotations

from moonkv.commands._util import parse_int
from moonkv.commands.table import command, keys
from moonkv.engine import Client
from moonkv.errors import RespError, WrongTypeError, syntax_error

_G = "string"


def get_string(c: Client, key: bytes) -> bytes | None:
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not bytes:
        raise WrongTypeError()
    return v  # type: ignore[no-any-return]


@command("get", 2, "readonly fast", keys=keys(1, flags="RO ACCESS"), group=_G,
         summary="Returns the string value of a key.")
def get(c: Client, argv: list[bytes]) -> object:
    return get_string(c, argv[1])


@command("set", -3, "write denyoom", keys=keys(1, flags="RW ACCESS UPDATE VARIABLE_FLAGS"), group=_G,
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
def set_(c: Client, argv: list[bytes]) -> object:
    db = c.db
    key, value = argv[1], argv[2]
    if len(argv) == 3:
        db.set(key, value)
        return "OK"
    nx = xx = get = keepttl = False
    expire_ms: int | None = None
    unit_seen = False
    i = 3
    n = len(argv)
    now = db.ks.now_ms()
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get = True
        elif opt == b"keepttl" and not unit_seen:
            keepttl = True
        elif opt in (b"ex", b"px", b"exat", b"pxat") and not keepttl and not unit_seen and i + 1 < n:
            unit_seen = True
            t = parse_int(argv[i + 1])
            if t <= 0 or (opt in (b"ex", b"exat") and t > (2**63 - 1) // 1000):
                raise RespError("invalid expire time in 'set' command")
            if opt == b"ex":
                expire_ms = now + t * 1000
            elif opt == b"px":
                expire_ms = now + t
            elif opt == b"exat":
                expire_ms = t * 1000
            else:
                expire_ms = t
            i += 1
        else:
            raise syntax_error()
        i += 1
    old = db.get(key)
    old_reply = None
    if get:
        if old is not None and type(old) is not bytes:
            raise WrongTypeError()
        old_reply = old
    if (nx and old is not None) or (xx and old is None):
        return old_reply if get else None
    db.set(key, value, keep_ttl=keepttl)
    srv = c.server
    if expire_ms is not None:
        if expire_ms <= now and not c.in_script:
            # Already in the past: the key is gone (propagated as DEL).
            db.delete(key)
            srv.emit(db.id, [b"DEL", key])
            return old_reply if get else "OK"
        db.set_expire(key, expire_ms)
        eff = [b"SET", key, value, b"PXAT", b"%d" % expire_ms]
        if get:
            eff.append(b"GET")
        srv.emit(db.id, eff)
    return old_reply if get else "OK"
