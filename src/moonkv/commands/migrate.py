"""MIGRATE: move keys to another server (DUMP here, RESTORE there, DEL here), as Redis 7.0.

Like Redis, the transfer is synchronous: the server waits for the target (at most ``timeout``
ms per connect, write and read) before it serves anyone else. The payloads are moonkv's DUMP
format, so the target is another moonkv (a Redis target refuses them: ``Target instance
replied with error: ERR DUMP payload version or checksum are wrong``). Each MIGRATE opens
its own connection (Redis keeps one per target for 10 s: ``migrate_cached_sockets``).

In a script that fails afterwards, the rollback brings the moved keys back here; the target
keeps its copies (a transfer cannot be taken back).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import BinaryIO, Final

from moonkv.commands._util import parse_int
from moonkv.commands.table import KeySpec, command
from moonkv.engine import Client
from moonkv.errors import RespError, syntax_error
from moonkv.keyspace.codec import dump_payload
from moonkv.keyspace.events import GENERIC

_SKIP: Final = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
_LINE_MAX: Final = 1024  # Redis reads each reply line into a 1 KB buffer


class IoError(RespError):
    prefix = "IOERR"


def _keys(argv: Sequence[bytes]) -> list[int]:
    """Redis's migrateGetKeys: the key argument, or what follows KEYS (none when the key
    argument is not empty then: MIGRATE itself reports that)."""
    i = 6
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"keys":
            return [] if argv[3] else list(range(i + 1, len(argv)))
        i += _SKIP.get(opt, 0) + 1
    return [3]


def _encode(args: Sequence[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@command("migrate", -6, "write",
         keys=(KeySpec(begin=3, flags=("RW", "ACCESS", "DELETE")),
               KeySpec(keyword=b"keys", startfrom=-2, lastkey=-1,
                       flags=("RW", "ACCESS", "DELETE", "INCOMPLETE"))),
         get_keys=_keys, group="generic", since="2.6.0", acl="keyspace dangerous",
         tips="nondeterministic_output",
         summary="Atomically transfer a key from a Redis instance to another one.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a RESTORE "
                    "in the target instance. See the pages of these commands for time complexity. "
                    "Also an O(N) data transfer between the two instances is performed.")
def migrate(c: Client, argv: list[bytes]) -> object:
    copy = replace = False
    user: bytes | None = None
    password: bytes | None = None
    first, num = 3, 1
    j = 6
    while j < len(argv):
        opt, more = argv[j].lower(), len(argv) - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise syntax_error()
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                raise syntax_error()
            user, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise RespError("When using MIGRATE KEYS option, the key argument must be set to the empty string")
            first, num = j + 1, len(argv) - j - 1
            break
        else:
            raise syntax_error()
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = c.db
    present = [k for k in argv[first:first + num] if db.lookup_read(k) is not None]
    if not present:
        return "NOKEY"

    now = db.ks.now_ms()
    # In a cluster the target may be importing the slot: RESTORE-ASKING reaches it there.
    restore = b"RESTORE-ASKING" if c.server.config["cluster-enabled"] else b"RESTORE"
    request: list[bytes] = []
    if password is not None:
        request.append(_encode([b"AUTH", password] if user is None else [b"AUTH", user, password]))
    request.append(_encode([b"SELECT", b"%d" % dbid]))
    sent: list[bytes] = []
    for key in present:
        ttl = 0
        when = db.expires.get(key)
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        value = db.get(key)
        if value is None:
            continue
        args = [restore, key, b"%d" % ttl, dump_payload(value)]
        if replace:
            args.append(b"REPLACE")
        request.append(_encode(args))
        sent.append(key)

    seconds = timeout / 1000
    try:
        conn = socket.create_connection((argv[1].decode("utf-8", "replace"), _port(argv[2])), timeout=seconds)
    except ConnectionRefusedError:
        # Redis connects without blocking and learns of the refusal when it writes.
        raise IoError("error or timeout writing to target instance") from None
    except (OSError, ValueError, OverflowError):
        raise IoError("error or timeout connecting to the client") from None
    moved: list[bytes] = []
    failure: RespError | None = None
    with conn:
        try:
            conn.sendall(b"".join(request))
        except OSError:
            raise IoError("error or timeout writing to target instance") from None
        replies = conn.makefile("rb")
        try:
            # AUTH's and SELECT's replies first; the first error of all is the one reported,
            # and a key is moved when its RESTORE succeeded (and AUTH and SELECT did).
            head = [_line(replies) for _ in range(len(request) - len(sent))]
            target_error = next((r for r in head if r[:1] == b"-"), None)
            head_ok = target_error is None
            for key in sent:
                line = _line(replies)
                if line[:1] == b"-" or not head_ok:
                    target_error = target_error or line
                elif not copy:
                    moved.append(key)
        except OSError:
            failure = IoError("error or timeout reading to target instance")
        else:
            if target_error is not None:
                failure = RespError("Target instance replied with error: "
                                    + target_error[1:].rstrip(b"\r\n").decode("utf-8", "replace"))
    for key in moved:
        if db.delete(key):
            db.notify(GENERIC, b"del", key)
    if moved:
        c.server.emit(db.id, [b"DEL", *moved])  # replicas and the log see the deletion
    if failure is not None:
        raise failure
    return "OK"


def _line(replies: BinaryIO) -> bytes:
    line = replies.readline(_LINE_MAX)
    if not line.endswith(b"\n"):
        raise OSError("the target closed the connection or sent a line too long")
    return line


def _port(raw: bytes) -> int:
    """The port as C's atoi reads it (leading digits; 0 if none)."""
    digits = raw.lstrip()
    sign = -1 if digits[:1] == b"-" else 1
    digits = digits.lstrip(b"+-")
    n = 0
    for ch in digits:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    return sign * n
