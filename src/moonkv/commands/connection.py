"""Connection commands: PING ECHO SELECT QUIT RESET HELLO AUTH CLIENT."""

from __future__ import annotations

from typing import Final

from moonkv import REDIS_VERSION
from moonkv.commands._util import parse_int
from moonkv.commands.table import command, container
from moonkv.engine import NO_REPLY, REPLY_OFF, REPLY_ON, REPLY_SKIP, Client, pause, unpause
from moonkv.errors import NoProtoError, RespError, UnblockedError, WrongPassError, syntax_error
from moonkv.protocol import RawReply, Verbatim
from moonkv.tracking import TrackingState

_C: Final = "connection"


@command("ping", -1, "fast", tips="request_policy:all_shards response_policy:all_succeeded", group=_C, summary="Returns the server's liveliness response.")
def ping(c: Client, argv: list[bytes]) -> object:
    if len(argv) > 2:
        raise RespError("wrong number of arguments for 'ping' command")
    if c.subs is not None and c.resp == 2:  # subscribed (RESP2): an array, as a message is
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else "PONG"


@command("echo", 2, "loading stale fast", group=_C, summary="Returns the given string.")
def echo(c: Client, argv: list[bytes]) -> object:
    return argv[1]


@command("select", 2, "loading stale fast", group=_C, summary="Changes the selected database.")
def select(c: Client, argv: list[bytes]) -> object:
    idx = parse_int(argv[1], "value is not an integer or out of range")
    if idx != 0 and c.server.cluster is not None:
        raise RespError("SELECT is not allowed in cluster mode")
    if idx < 0 or idx >= len(c.server.ks.dbs):
        raise RespError("DB index is out of range")
    c.select(idx)
    return "OK"


@command("quit", -1, "noscript loading stale fast no_auth allow_busy", group=_C,
         summary="Closes the connection.")
def quit_(c: Client, argv: list[bytes]) -> object:
    c.closing = True
    return "OK"


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", group=_C, since="6.2.0",
         summary="Resets the connection.")
def reset(c: Client, argv: list[bytes]) -> object:
    srv = c.server
    c.multi = None
    c.multi_error = False
    srv.unwatch(c)
    srv.pubsub.drop(c)
    srv.monitors.pop(c, None)
    srv.track(c, None, [])
    c.select(0)
    c.resp = 2
    c.name = b""
    c.reply_mode = REPLY_ON
    c.no_evict = False
    c.readonly = c.asking = False  # cluster mode's READONLY and ASKING
    srv.acl.attach(c, srv.acl.default)
    c.authenticated = srv.acl.default_open
    return "RESET"


def _check_password(c: Client, user: bytes, password: bytes) -> None:
    # A failed attempt leaves the connection as it was (as in Redis).
    if not c.server.acl.authenticate(c, user, password):
        raise WrongPassError("invalid username-password pair or user is disabled.")


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", group=_C,
         summary="Authenticates the connection.")
def auth(c: Client, argv: list[bytes]) -> object:
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 2 and c.server.acl.default.nopass:
        raise RespError(
            "AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    user, password = (b"default", argv[1]) if len(argv) == 2 else (argv[1], argv[2])
    _check_password(c, user, password)
    return "OK"


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", group=_C, since="6.0.0",
         summary="Handshakes with the Redis server.")
def hello(c: Client, argv: list[bytes]) -> object:
    ver = c.resp
    i = 1
    if len(argv) >= 2:
        try:
            ver = parse_int(argv[1])
        except RespError:
            raise RespError("Protocol version is not an integer or out of range") from None
        if ver < 2 or ver > 3:
            raise NoProtoError("unsupported protocol version")
        i = 2
    setname: bytes | None = None
    while i < len(argv):
        opt = argv[i].lower()
        left = len(argv) - i - 1
        if opt == b"auth" and left >= 2:
            _check_password(c, argv[i + 1], argv[i + 2])
            i += 3
        elif opt == b"setname" and left >= 1:
            setname = argv[i + 1]
            _validate_name(setname)
            i += 2
        else:
            raise RespError(f"Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'")
    if not c.authenticated:
        from moonkv.errors import NoAuthError

        raise NoAuthError("HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    if setname is not None:
        c.name = setname
    c.resp = ver
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": ver,
        b"id": c.id,
        b"mode": b"standalone" if c.server.cluster is None else b"cluster",
        b"role": b"master",
        b"modules": [],
    }


def _validate_name(name: bytes) -> None:
    for ch in name:
        if ch < 33 or ch > 126:
            raise RespError("Client names cannot contain spaces, newlines or special characters.")


container("client", group=_C, summary="A container for client connection commands.", since="2.4.0")


@command("client|id", 2, "noscript loading stale", group=_C, since="5.0.0",
         summary="Returns the unique client ID of the connection.")
def client_id(c: Client, argv: list[bytes]) -> object:
    return c.id


@command("client|setname", 3, "noscript loading stale", group=_C, since="2.6.9",
         summary="Sets the connection name.")
def client_setname(c: Client, argv: list[bytes]) -> object:
    _validate_name(argv[2])
    c.name = argv[2]
    return "OK"


@command("client|getname", 2, "noscript loading stale", group=_C, since="2.6.9",
         summary="Returns the name of the connection.")
def client_getname(c: Client, argv: list[bytes]) -> object:
    return c.name or None


@command("client|info", 2, "noscript loading stale", tips="nondeterministic_output", group=_C, since="6.2.0",
         summary="Returns information about the connection.")
def client_info(c: Client, argv: list[bytes]) -> object:
    return Verbatim((c.info_line(argv) + "\n").encode())


@command("client|list", -2, "admin noscript loading stale", tips="nondeterministic_output", group=_C, since="2.4.0",
         summary="Lists open connections.", complexity="O(N) where N is the number of client connections")
def client_list(c: Client, argv: list[bytes]) -> object:
    clients = list(c.server.clients.values())
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"type" and i + 1 < len(argv):
            t = argv[i + 1].lower()
            if t not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise RespError(f"Unknown client type '{argv[i + 1].decode('utf-8', 'replace')}'")
            clients = [cl for cl in clients if _client_type(cl) == _TYPE_ALIASES.get(t, t)]
            i += 2
        elif opt == b"id" and i + 1 < len(argv):
            ids = set()
            for a in argv[i + 1 :]:
                try:
                    n = parse_int(a)
                    if n <= 0:
                        raise RespError("")
                except RespError:
                    raise RespError("Invalid client ID") from None
                ids.add(n)
            clients = [cl for cl in clients if cl.id in ids]
            break
        else:
            raise syntax_error()
    return Verbatim("".join(cl.info_line(argv if cl is c else None) + "\n" for cl in clients).encode())


@command("client|kill", -3, "admin noscript loading stale", group=_C, since="2.4.0",
         summary="Terminates open connections.")
def client_kill(c: Client, argv: list[bytes]) -> object:
    srv = c.server
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "replace")
        for cl in list(srv.clients.values()):
            if cl.addr == addr:
                _kill(c, cl)
                return "OK"
        raise RespError("No such client")
    if len(argv) % 2 == 1:
        raise syntax_error()
    filt: dict[bytes, bytes] = {}
    skipme = True
    for i in range(2, len(argv), 2):
        opt, val = argv[i].lower(), argv[i + 1]
        if opt == b"skipme":
            if val.lower() not in (b"yes", b"no"):
                raise syntax_error()
            skipme = val.lower() == b"yes"
        elif opt in (b"id", b"addr", b"laddr", b"type", b"user"):  # MAXAGE came in 7.2
            if opt == b"id":
                try:
                    if parse_int(val) <= 0:
                        raise RespError("")
                except RespError:
                    raise RespError("client-id should be greater than 0") from None
            if opt == b"type" and val.lower() not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise RespError(f"Unknown client type '{val.decode('utf-8', 'replace')}'")
            if opt == b"user" and srv.acl.get(val) is None:
                raise RespError(f"No such user '{val.decode('utf-8', 'replace')}'")
            filt[opt] = val
        else:
            raise syntax_error()
    killed = 0
    for cl in list(srv.clients.values()):
        if skipme and cl is c:
            continue
        if b"id" in filt and cl.id != int(filt[b"id"]):
            continue
        if b"addr" in filt and cl.addr.encode() != filt[b"addr"]:
            continue
        if b"laddr" in filt and cl.laddr.encode() != filt[b"laddr"]:
            continue
        if b"type" in filt and _client_type(cl) != _TYPE_ALIASES.get(filt[b"type"].lower(), filt[b"type"].lower()):
            continue
        if b"user" in filt and (cl.user.name if cl.user is not None else b"default") != filt[b"user"]:
            continue
        _kill(c, cl)
        killed += 1
    return killed


_TYPE_ALIASES: Final = {b"replica": b"slave"}


def _client_type(cl: Client) -> bytes:
    """Redis's client type (a MONITOR client counts as normal; replication marks replicas "S")."""
    if "S" in cl.flags:
        return b"slave"
    return b"pubsub" if cl.subs is not None else b"normal"


def _kill(me: Client, target: Client) -> None:
    if target is me:
        target.closing = True  # reply first, then close
        return
    target.server.remove_client(target)
    target.close()


@command("client|pause", -3, "admin noscript loading stale", group=_C, since="3.0.0",
         summary="Suspends commands processing.")
def client_pause(c: Client, argv: list[bytes]) -> object:
    ms = parse_int(argv[2], "timeout is not an integer or out of range")
    if ms < 0:
        raise RespError("timeout is negative")
    writes_only = False
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            writes_only = True
        elif mode != b"all":
            raise syntax_error()
    elif len(argv) > 4:
        raise syntax_error()
    pause(c.server, ms, writes_only)
    return "OK"


@command("client|unpause", 2, "admin noscript loading stale", group=_C, since="6.2.0",
         summary="Resumes processing of clients that were paused.")
def client_unpause(c: Client, argv: list[bytes]) -> object:
    unpause(c.server)
    return "OK"


@command("client|reply", 3, "noscript loading stale", group=_C, since="3.2.0",
         summary="Instructs the server whether to reply to commands.")
def client_reply(c: Client, argv: list[bytes]) -> object:
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = REPLY_ON
        return "OK"
    if mode == b"off":
        c.reply_mode = REPLY_OFF
    elif mode == b"skip":
        if c.reply_mode == REPLY_ON:
            c.reply_mode = REPLY_SKIP
    else:
        raise syntax_error()
    return NO_REPLY


@command("client|no-evict", 3, "admin noscript loading stale", group=_C, since="7.0.0",
         summary="Set client eviction mode for the current connection.")
def client_no_evict(c: Client, argv: list[bytes]) -> object:
    v = argv[2].lower()
    if v not in (b"on", b"off"):
        raise syntax_error()
    c.no_evict = v == b"on"
    return "OK"


@command("client|unblock", -3, "admin noscript loading stale", group=_C, since="5.0.0",
         summary="Unblocks a client blocked by a blocking command from a different connection.")
def client_unblock(c: Client, argv: list[bytes]) -> object:
    cid = parse_int(argv[2])
    how = b"timeout"
    if len(argv) == 4:
        how = argv[3].lower()
        if how not in (b"timeout", b"error"):
            raise RespError("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    elif len(argv) > 4:
        raise syntax_error()
    target = c.server.clients.get(cid)
    if target is None or target.blocked is None:
        return 0
    if how == b"error":
        reply: object = UnblockedError("client unblocked via CLIENT UNBLOCK")
    else:
        reply = target.blocked.timeout_reply
    c.server.unblock_with(target, reply)
    return 1


@command("client|getredir", 2, "noscript loading stale", group=_C, since="6.0.0",
         summary="Returns the client ID to which the connection's tracking notifications are redirected.")
def client_getredir(c: Client, argv: list[bytes]) -> object:
    return c.tracking.redirect if c.tracking is not None else -1


@command("client|tracking", -3, "noscript loading stale", group=_C, since="6.0.0",
         summary="Enable or disable server assisted client side caching support",
         complexity="O(1). Some options may introduce additional complexity.")
def client_tracking(c: Client, argv: list[bytes]) -> object:
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        more = j + 1 < len(argv)
        if opt == b"redirect" and more:
            j += 1
            if redirect:
                raise RespError("A client can only redirect to a single other client")
            redirect = parse_int(argv[j])
            if redirect != c.id and redirect not in c.server.clients:
                raise RespError("The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise syntax_error()
        j += 1
    mode = argv[2].lower()
    if mode == b"off":
        c.server.track(c, None, [])
        return "OK"
    if mode != b"on":
        raise syntax_error()
    old = c.tracking
    if prefixes and not bcast:
        raise RespError("PREFIX option requires BCAST mode to be enabled")
    if old is not None and old.bcast != bcast:
        raise RespError(
            "You can't switch BCAST mode on/off before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if bcast and (optin or optout):
        raise RespError("OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise RespError("You can't specify both OPTIN mode and OPTOUT mode")
    if old is not None and ((optin and old.optout) or (optout and old.optin)):
        raise RespError(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if bcast:
        _check_prefixes(prefixes, old.prefixes if old is not None else [])
    c.server.track(c, TrackingState(redirect, bcast, optin, optout, noloop), prefixes)
    return "OK"


def _check_prefixes(new: list[bytes], existing: list[bytes]) -> None:
    """BCAST prefixes of one client must not overlap (Redis's texts)."""
    for i, p in enumerate(new):
        for e in existing:
            if p.startswith(e) or e.startswith(p):
                raise RespError(
                    f"Prefix '{_text(p)}' overlaps with an existing prefix '{_text(e)}'. "
                    "Prefixes for a single client must not overlap."
                )
        for q in new[i + 1 :]:
            if p.startswith(q) or q.startswith(p):
                raise RespError(
                    f"Prefix '{_text(p)}' overlaps with another provided prefix '{_text(q)}'. "
                    "Prefixes for a single client must not overlap."
                )


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


@command("client|caching", 3, "noscript loading stale", group=_C, since="6.0.0",
         summary="Instruct the server about tracking or not keys in the next request", complexity="O(1)")
def client_caching(c: Client, argv: list[bytes]) -> object:
    state = c.tracking
    if state is None:
        raise RespError(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
        )
    opt = argv[2].lower()
    if opt == b"yes":
        if not state.optin:
            raise RespError("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif opt == b"no":
        if not state.optout:
            raise RespError("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise syntax_error()
    state.caching = True
    return "OK"


@command("client|trackinginfo", 2, "noscript loading stale", group=_C, since="6.2.0",
         summary="Return information about server assisted client side caching for the current connection",
         complexity="O(1)")
def client_trackinginfo(c: Client, argv: list[bytes]) -> object:
    state = c.tracking
    if state is None:
        return {b"flags": _flag_set(c, [b"off"]), b"redirect": -1, b"prefixes": []}
    flags = [b"on"]
    if state.bcast:
        flags.append(b"bcast")
    if state.optin:
        flags.append(b"optin")
        if state.caching:
            flags.append(b"caching-yes")
    if state.optout:
        flags.append(b"optout")
        if state.caching:
            flags.append(b"caching-no")
    if state.noloop:
        flags.append(b"noloop")
    if state.broken:
        flags.append(b"broken_redirect")
    return {b"flags": _flag_set(c, flags), b"redirect": state.redirect, b"prefixes": sorted(state.prefixes)}


def _flag_set(c: Client, flags: list[bytes]) -> RawReply:
    """A RESP3 set (RESP2 array) in Redis's order, which a Python set would not keep."""
    out = [(b"~%d\r\n" if c.resp == 3 else b"*%d\r\n") % len(flags)]
    out.extend(b"$%d\r\n%s\r\n" % (len(f), f) for f in flags)
    return RawReply(b"".join(out))


@command("client|help", 2, "loading stale", group=_C, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def client_help(c: Client, argv: list[bytes]) -> object:
    return [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID", "    Return the ID of the current connection.",
        "GETNAME", "    Return the name of the current connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]", "    Return information about client connections.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "HELP", "    Print this help.",
    ]

