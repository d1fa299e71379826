"""ACL users and permission checks (Redis 7.0 semantics).

A :class:`User` has flags (on/off, nopass, sanitize-payload), password hashes
and a root :class:`Selector` plus optional extra selectors; a command is
allowed when any selector allows it.  A selector holds the allowed commands as
a bitmask over command ids (:class:`Acl` numbers every command and subcommand
of the table), first-arg exceptions (``+select|0``), key patterns with R/W
permissions and channel patterns.

The executor checks permissions only for clients whose ``acl_user`` is set: a
client's ``acl_user`` is its user when that user is restricted, else None, so
the unrestricted default user costs one attribute test per command.  Every
change of a user goes through :meth:`Acl.refresh_clients`.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from moonkv.commands._util import glob_match
from moonkv.commands.table import CommandSpec, all_commands, lookup
from moonkv.errors import ExecAbortError, NoPermError

if TYPE_CHECKING:
    from moonkv.engine._client import Client
    from moonkv.engine._server import Server

# Redis 7.0's categories, in ACL CAT order (the describe algorithm walks them in this order).
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
)

OK, DENIED_CMD, DENIED_KEY, DENIED_CHANNEL, DENIED_AUTH = 0, 1, 2, 3, 4

READ, WRITE = 1, 2
ALL_PERM = READ | WRITE

ERR_NOENT = "Unknown command or category name in ACL"
ERR_SYNTAX = "Syntax error"
ERR_ALLKEYS = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
    "any effect. Try 'resetkeys' to start with an empty list of patterns"
)
ERR_ALLCHANNELS = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
    "have any effect. Try 'resetchannels' to start with an empty list of channels"
)
ERR_NOPASS = "The password you are trying to remove from the user does not exist"
ERR_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)
ERR_CHILD = "Allowing first-arg of a subcommand is not supported"

_HEX = frozenset(b"0123456789abcdef")

log = logging.getLogger("moonkv")


class AclRuleError(Exception):
    """A rule ACL SETUSER cannot apply; ``str()`` is Redis's reason text."""


def hash_password(pw: bytes) -> str:
    return hashlib.sha256(pw).hexdigest()


class Selector:
    __slots__ = ("allowed", "allcommands", "future", "firstargs", "patterns", "allkeys",
                 "channels", "allchannels")

    def __init__(self) -> None:
        self.allowed = 0  # bitmask over command ids
        self.allcommands = False  # +@all and nothing removed since: skip command checks
        self.future = False  # +@all was the base (commands added later are allowed)
        self.firstargs: dict[int, list[bytes]] = {}
        self.patterns: list[list[Any]] = []  # [flags, pattern bytes]
        self.allkeys = False
        self.channels: list[bytes] = []
        self.allchannels = False

    def clone(self) -> Selector:
        s = Selector()
        s.allowed = self.allowed
        s.allcommands = self.allcommands
        s.future = self.future
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [list(p) for p in self.patterns]
        s.allkeys = self.allkeys
        s.channels = list(self.channels)
        s.allchannels = self.allchannels
        return s


class User:
    def __init__(self, name: bytes) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = ""  # "", "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []
        self.root = Selector()
        self.selectors: list[Selector] = []
        self.restricted = True

    def clone(self) -> User:
        u = copy.copy(self)
        u.passwords = list(self.passwords)
        u.root = self.root.clone()
        u.selectors = [s.clone() for s in self.selectors]
        return u

    def update_restricted(self) -> None:
        r = self.root
        self.restricted = not (r.allcommands and r.allkeys and r.allchannels)


class LogEntry:
    __slots__ = ("count", "reason", "context", "obj", "username", "ctime", "cinfo")

    def __init__(self, reason: str, context: str, obj: bytes, username: bytes, cinfo: str) -> None:
        self.count = 1
        self.reason = reason
        self.context = context
        self.obj = obj
        self.username = username
        self.ctime = int(time.time() * 1000)
        self.cinfo = cinfo


class Acl:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.users: dict[bytes, User] = {}
        # Loading restores the data directory's users unless an ACL file or config users
        # define them (the data directory records them either way: they replicate).
        self.durable = True
        self.file = ""  # aclfile: ACL LOAD / ACL SAVE
        # The cluster-wide registry of users (moonkv.cluster._shared), attached by the
        # listener in cluster mode with etcd; None otherwise.
        self.shared: Any = None
        self.log: list[LogEntry] = []
        self._ids: dict[str, int] = {}
        self._specs: list[CommandSpec] = []
        self._cats: dict[str, int] = {}
        self._top = 0  # mask of top-level commands
        self._known = -1
        self._auth_failures = 0  # not yet in the server log
        self._auth_logged_at = -2.0
        default = User(b"default")
        self.default = default
        self.users[b"default"] = default
        default.enabled = True
        default.nopass = True
        r = default.root
        r.allkeys = True
        r.allchannels = True
        self._set_all(r, True)
        default.update_restricted()
        pw = server.config["requirepass"]
        if pw:
            self.set_default_password(pw)

    # -- the command universe ----------------------------------------------------

    def _universe(self) -> None:
        """Number every command and subcommand (ids never change); category masks."""
        tops = all_commands()
        n = sum(1 + len(s.subcommands) for s in tops)
        if n == self._known:
            return
        from moonkv.commands.introspection import _acl_categories

        added = 0
        for s in tops:
            for spec in (s, *s.subcommands.values()):
                if spec.name not in self._ids:
                    self._ids[spec.name] = len(self._specs)
                    self._specs.append(spec)
                    added |= 1 << self._ids[spec.name]
        # Commands declared after a +@all rule are allowed too (Redis's "future commands" bit).
        for u in self.users.values():
            for sel in (u.root, *u.selectors):
                if sel.future:
                    sel.allowed |= added
        cats = {c: 0 for c in CATEGORIES}
        top = 0
        for i, spec in enumerate(self._specs):
            bit = 1 << i
            if spec.parent is None:
                top |= bit
            if spec.handler is None and spec.subcommands:
                names = ["@fast"] if "fast" in spec.flags else ["@slow"]  # containers: flags only
            else:
                names = _acl_categories(spec)
            for c in names:
                c = c[1:]
                if c in cats:
                    cats[c] |= bit
        self._cats = cats
        self._top = top
        self._known = n

    def cmd_id(self, spec: CommandSpec) -> int:
        i = self._ids.get(spec.name)
        if i is None:
            self._known = -1
            self._universe()
            i = self._ids[spec.name]
        return i

    def all_mask(self) -> int:
        self._universe()
        return (1 << len(self._specs)) - 1

    def category_mask(self, name: str) -> int | None:
        self._universe()
        return self._cats.get(name.lower())

    def category_commands(self, name: str) -> list[bytes] | None:
        mask = self.category_mask(name)
        if mask is None:
            return None
        return [s.name.encode() for i, s in enumerate(self._specs) if mask >> i & 1]

    # -- users ----------------------------------------------------------------------

    def get(self, name: bytes) -> User | None:
        return self.users.get(name)

    def set_default_password(self, password: str) -> None:
        """requirepass: resetpass, then >password (nopass when empty)."""
        u = self.default
        u.passwords = []
        if password:
            u.nopass = False
            u.passwords.append(hash_password(password.encode("utf-8", "surrogateescape")))
        else:
            u.nopass = True
        self.refresh_clients()

    @property
    def default_open(self) -> bool:
        d = self.default
        return d.nopass and d.enabled

    def new_user(self, name: bytes) -> User:
        """A user as ACL SETUSER creates it: off, no password, no permissions."""
        u = User(name)
        u.root = self.new_selector()
        return u

    def new_selector(self) -> Selector:
        """An empty selector; its channels follow ``acl-pubsub-default``, as in Redis 7.0."""
        sel = Selector()
        sel.allchannels = self.server.config["acl-pubsub-default"] == "allchannels"
        return sel

    def build(self, u: User, rules: Sequence[bytes]) -> User:
        """Apply rules to ``u`` (raises AclRuleError(rule, reason) at the first bad one)."""
        self._universe()
        for rule in rules:
            try:
                self.apply(u, rule)
            except AclRuleError as e:
                raise AclRuleError(rule, str(e)) from None
        u.update_restricted()
        return u

    def setuser(self, name: bytes, rules: Sequence[bytes], me: Client | None = None) -> None:
        """Apply rules atomically (raises AclRuleError(rule, reason) and changes nothing).

        ``me``, the client running ACL SETUSER, gets its reply before it is dropped."""
        old = self.users.get(name)
        u = self.build(old.clone() if old is not None else self.new_user(name), rules)
        if old is None:
            self.users[name] = u
        else:
            # Subscribers whose channels the new rules no longer allow are dropped.
            self._kill_revoked_subscribers(old, u, me)
            # Keep the object identity: clients hold a reference to their user.
            old.__dict__.update(u.__dict__)
        self.refresh_clients()

    def _kill_revoked_subscribers(self, old: User, new: User, me: Client | None) -> None:
        """Redis 7.0's ACLKillPubsubClientsIfNeeded: unless the new channel rules
        keep every old one, each subscribed client of the user is checked and
        closed if one of its subscriptions is no longer allowed."""
        sels = (new.root, *new.selectors)
        if any(s.allchannels for s in sels):
            return
        upcoming = [ch for s in sels for ch in s.channels]
        kept = True
        for s in (old.root, *old.selectors):
            if s.allchannels or any(ch not in upcoming for ch in s.channels):
                kept = False
                break
        if kept:
            return
        for cl in list(self.server.clients.values()):
            subs = cl.subs
            if cl.user is not old or subs is None:
                continue
            if (
                any(pat not in upcoming for pat in subs.patterns)
                or any(not _channel_allowed(upcoming, ch) for ch in subs.channels)
                or any(not _channel_allowed(upcoming, ch) for ch in subs.shard)
            ):
                cl.closing = True
                if cl is not me:
                    self.server.remove_client(cl)
                    cl.close()

    def replace_user(self, name: bytes, rules: Sequence[bytes]) -> None:
        """Make ``name`` exactly the user its ACL LIST rules describe (replayed ACL effects,
        snapshots): built from nothing, so no earlier state or default leaks in."""
        u = self.build(User(name), rules)
        old = self.users.get(name)
        if old is None:
            self.users[name] = u
        else:
            old.__dict__.update(u.__dict__)
        self.refresh_clients()

    def install(self, users: dict[bytes, User], me: Client | None = None) -> None:
        """Replace every user (ACL LOAD): the default user keeps its identity and takes the new
        rules; clients authenticated as any other user are disconnected, as Redis frees those
        users (``me`` gets its reply first)."""
        new_default = users.get(b"default")
        for name in [n for n in self.users if n != b"default"]:
            self.deluser(name, me)
        if new_default is None:
            new_default = self.new_user(b"default")
            self.build(new_default, [b"on", b"nopass", b"~*", b"&*", b"+@all"])
        self._kill_revoked_subscribers(self.default, new_default, me)
        self.default.__dict__.update(new_default.__dict__)
        self.users = {**users, b"default": self.default}
        self.refresh_clients()

    def rules(self, u: User) -> list[bytes]:
        """ACL LIST's rules for ``u`` as separate arguments (a selector stays one argument)."""
        out = [*(f.encode() for f in self.flags(u)), *(b"#" + h.encode() for h in u.passwords)]
        out += self.describe_selector(u.root).encode("utf-8", "surrogateescape").split(b" ")
        out += [f"({self.describe_selector(s)})".encode("utf-8", "surrogateescape") for s in u.selectors]
        return out

    # -- the users as state: snapshots, full syncs, and the changes that replicate ------

    def snapshot_state(self) -> list[list[Any]]:
        return [[name, self.rules(u)] for name, u in sorted(self.users.items())]

    def restore_state(self, state: list[list[Any]]) -> None:
        names = set()
        for name, rules in state:
            self.replace_user(name, rules)
            names.add(name)
        for name in [n for n in self.users if n not in names]:
            self.deluser(name)

    def replay(self, argv: Sequence[bytes]) -> None:
        """Apply one ACL effect (logged, replicated, or from the cluster's registry):
        ``ACL SETUSER name rules...`` (the whole user, as :meth:`rules` gives it) or
        ``ACL DELUSER name...``.  Raises AclRuleError(rule, reason) for anything else."""
        sub = argv[1].lower() if len(argv) > 2 else b""
        if sub == b"setuser":
            self.replace_user(argv[2], argv[3:])
        elif sub == b"deluser":
            for name in argv[2:]:
                if name != b"default":  # (it cannot be removed)
                    self.deluser(name)
        else:
            raise AclRuleError(b" ".join(argv[:2]), "not an ACL change (SETUSER or DELUSER)")

    def deluser(self, name: bytes, me: Client | None = None) -> bool:
        """Remove a user and disconnect its clients (``me`` gets its reply first)."""
        u = self.users.pop(name, None)
        if u is None:
            return False
        for cl in list(self.server.clients.values()):
            if cl.user is u:
                self.attach(cl, self.default)
                cl.authenticated = False
                cl.closing = True
                if cl is not me:
                    self.server.remove_client(cl)
                    cl.close()
        return True

    def refresh_clients(self) -> None:
        d_open = self.default_open
        for cl in self.server.clients.values():
            self.attach(cl, cl.user)
            if d_open and cl.user is self.default:
                cl.authenticated = True

    def attach(self, c: Client, user: User) -> None:
        c.user = user
        c.acl_user = user if user.restricted else None

    def authenticate(self, c: Client, name: bytes, password: bytes) -> bool:
        u = self.users.get(name)
        ok = u is not None and u.enabled and (u.nopass or hash_password(password) in u.passwords)
        if ok:
            assert u is not None
            self.attach(c, u)
            c.authenticated = True
        else:
            self.add_log(c, DENIED_AUTH, "toplevel" if c.multi is None else "multi", name)
            self._log_auth_failure(c, name)
        return ok

    def _log_auth_failure(self, c: Client, name: bytes) -> None:
        """One server log line per second at most (a password guesser must not flood the log)."""
        self._auth_failures += 1
        now = time.monotonic()
        if now < self._auth_logged_at + 1.0:
            return
        user = name.decode("utf-8", "backslashreplace")
        more = self._auth_failures - 1
        also = f" ({more} more failures since the previous line)" if more else ""
        log.warning("AUTH failed for user '%s' from %s%s", user, c.addr or "an internal client", also)
        self._auth_logged_at = now
        self._auth_failures = 0

    # -- rules ------------------------------------------------------------------

    def apply(self, u: User, rule: bytes) -> None:
        low = rule.lower()
        if low == b"on":
            u.enabled = True
        elif low == b"off":
            u.enabled = False
        elif low == b"skip-sanitize-payload":
            u.sanitize = "skip-sanitize-payload"
        elif low == b"sanitize-payload":
            u.sanitize = "sanitize-payload"
        elif low == b"nopass":
            u.nopass = True
            u.passwords = []
        elif low == b"resetpass":
            u.nopass = False
            u.passwords = []
        elif rule[:1] in (b">", b"#"):
            if rule[:1] == b">":
                h = hash_password(rule[1:])
            else:
                if len(rule) != 65 or not set(rule[1:]) <= _HEX:
                    raise AclRuleError(ERR_HASH)
                h = rule[1:].decode()
            if h not in u.passwords:
                u.passwords.append(h)
            u.nopass = False
        elif rule[:1] in (b"<", b"!"):
            if rule[:1] == b"<":
                h = hash_password(rule[1:])
            else:
                if len(rule) != 65 or not set(rule[1:]) <= _HEX:
                    raise AclRuleError(ERR_HASH)
                h = rule[1:].decode()
            if h not in u.passwords:
                raise AclRuleError(ERR_NOPASS)
            u.passwords.remove(h)
            u.nopass = False
        elif low == b"reset":
            u.passwords = []
            u.nopass = False
            u.enabled = False
            u.sanitize = "sanitize-payload"
            u.selectors = []
            u.root = self.new_selector()
            self._set_all(u.root, False)
        elif low == b"clearselectors":
            u.selectors = []
        elif rule[:1] == b"(" and rule[-1:] == b")":
            sel = self.new_selector()
            self._set_all(sel, False)
            for op in rule[1:-1].split():
                self.apply_selector(sel, op)
            u.selectors.append(sel)
        else:
            self.apply_selector(u.root, rule)

    def _set_all(self, sel: Selector, allow: bool) -> None:
        sel.firstargs = {}
        sel.future = allow
        sel.allcommands = allow
        sel.allowed = self.all_mask() if allow else 0

    def _change(self, sel: Selector, spec: CommandSpec, allow: bool) -> None:
        i = self.cmd_id(spec)
        mask = 1 << i
        sel.firstargs.pop(i, None)
        for sub in spec.subcommands.values():
            mask |= 1 << self.cmd_id(sub)
        if allow:
            sel.allowed |= mask
        else:
            sel.allowed &= ~mask
            sel.allcommands = False

    def apply_selector(self, sel: Selector, op: bytes) -> None:
        low = op.lower()
        if low == b"allkeys" or low == b"~*":
            sel.allkeys = True
            sel.patterns = []
            return
        if low == b"resetkeys":
            sel.allkeys = False
            sel.patterns = []
            return
        if low in (b"allchannels", b"&*"):
            sel.allchannels = True
            sel.channels = []
            return
        if low == b"resetchannels":
            sel.allchannels = False
            sel.channels = []
            return
        if low in (b"allcommands", b"+@all"):
            self._set_all(sel, True)
            return
        if low in (b"nocommands", b"-@all"):
            self._set_all(sel, False)
            return
        first = op[:1]
        if first in (b"~", b"%"):
            if sel.allkeys:
                raise AclRuleError(ERR_ALLKEYS)
            if first == b"%":
                flags = 0
                i = 1
                while i < len(op):
                    ch = op[i : i + 1].upper()
                    if ch == b"R" and not flags & READ:
                        flags |= READ
                    elif ch == b"W" and not flags & WRITE:
                        flags |= WRITE
                    elif ch == b"~":
                        i += 1
                        break
                    else:
                        raise AclRuleError(ERR_SYNTAX)
                    i += 1
                else:
                    raise AclRuleError(ERR_SYNTAX)
                if not flags:
                    raise AclRuleError(ERR_SYNTAX)
                pat = op[i:]
            else:
                flags = ALL_PERM
                pat = op[1:]
            if first == b"~" and pat == b"*":
                sel.allkeys = True
                sel.patterns = []
                return
            for p in sel.patterns:
                if p[1] == pat:
                    p[0] |= flags
                    return
            sel.patterns.append([flags, pat])
            return
        if first == b"&":
            if sel.allchannels:
                raise AclRuleError(ERR_ALLCHANNELS)
            if op[1:] not in sel.channels:
                sel.channels.append(op[1:])
            return
        if op[:2] in (b"+@", b"-@"):
            mask = self.category_mask(op[2:].decode("utf-8", "replace"))
            if mask is None:
                raise AclRuleError(ERR_NOENT)
            allow = first == b"+"
            for i, spec in enumerate(self._specs):
                if mask >> i & 1:
                    self._change(sel, spec, allow)
            return
        if first == b"+":
            name = op[1:]
            if b"|" not in name:
                found = _lookup_full(name)
                if found is None:
                    raise AclRuleError(ERR_NOENT)
                self._change(sel, found, True)
                return
            head, sub = name.rsplit(b"|", 1)
            parent = _lookup_full(head)
            if parent is None:
                raise AclRuleError(ERR_NOENT)
            if parent.parent is not None:
                raise AclRuleError(ERR_CHILD)
            if not sub:
                raise AclRuleError(ERR_SYNTAX)
            if parent.subcommands:
                found = parent.subcommands.get(sub.lower())
                if found is None:
                    raise AclRuleError(ERR_NOENT)
                self._change(sel, found, True)
                return
            i = self.cmd_id(parent)
            args = sel.firstargs.setdefault(i, [])
            if not any(a.lower() == sub.lower() for a in args):
                args.append(sub)
            return
        if first == b"-":
            found = _lookup_full(op[1:])
            if found is None:
                raise AclRuleError(ERR_NOENT)
            self._change(sel, found, False)
            return
        raise AclRuleError(ERR_SYNTAX)

    # -- checks -------------------------------------------------------------------

    def enforce(self, c: Client, spec: CommandSpec, argv: Sequence[bytes]) -> None:
        """The executor's check for a restricted client: raise -NOPERM and log."""
        res, idx = self.check_user(c.acl_user, spec, argv)
        if res == OK:
            return
        # Redis's client-info in the log (and CLIENT LIST) shows it, subcommand included.
        c.last_cmd = argv[0] if spec.parent is None else argv[0] + b"|" + argv[1]
        self.log_denied(c, res, idx, spec, argv, "toplevel" if c.multi is None else "multi")
        if res == DENIED_CMD:
            err = NoPermError(f"this user has no permissions to run the '{spec.name}' command")
        elif res == DENIED_KEY:
            err = NoPermError("this user has no permissions to access one of the keys used as arguments")
        else:
            err = NoPermError(
                "this user has no permissions to access one of the channels used as arguments"
            )
        if spec.name == "exec":  # a refused EXEC aborts the transaction (as Redis's rejectCommand)
            c.multi = None
            c.multi_error = False
            self.server.unwatch(c)
            raise ExecAbortError(f"Transaction discarded because of: {err}")
        raise err

    def exec_error(self, c: Client, spec: CommandSpec, argv: Sequence[bytes]) -> NoPermError | None:
        """EXEC re-checks each queued command (rules may have changed since it was queued)."""
        res, idx = self.check_user(c.acl_user, spec, argv)
        if res == OK:
            return None
        self.log_denied(c, res, idx, spec, argv, "multi")
        reason = (
            "no permission to execute the command or subcommand" if res == DENIED_CMD
            else "no permission to touch the specified keys" if res == DENIED_KEY
            else "no permission to access one of the channels used as arguments"
        )
        return NoPermError(
            "ACLs rules changed between the moment the transaction was accumulated and the EXEC "
            f"call. This command is no longer allowed for the following reason: {reason}"
        )

    def script_error(self, run_client: Client, spec: CommandSpec, argv: Sequence[bytes]) -> str | None:
        """A script's inner command: None when allowed, else Redis's refusal text."""
        user = run_client.acl_user
        if user is None:
            return None
        res, idx = self.check_user(user, spec, argv)
        if res == OK:
            return None
        self.log_denied(run_client, res, idx, spec, argv, "lua")
        if res == DENIED_CMD:
            return "ERR The user executing the script can't run this command or subcommand"
        if res == DENIED_CHANNEL:
            return "ERR The user executing the script can't publish to the channel mentioned in the command"
        return (
            "ERR The user executing the script can't access at least one of the keys mentioned "
            "in the command arguments"
        )

    def check(self, c: Client | None, spec: CommandSpec, argv: Sequence[bytes]) -> bool:
        """redis.acl_check_cmd: may the client's user run argv (spec may be the container)?"""
        if c is None:
            return True
        user = c.acl_user
        if user is None:
            return True
        if spec.subcommands and len(argv) >= 2:
            sub = spec.subcommands.get(argv[1].lower())
            if sub is not None:
                spec = sub
        return self.check_user(user, spec, argv)[0] == OK

    def check_user(self, user: User, spec: CommandSpec, argv: Sequence[bytes]) -> tuple[int, int]:
        """(result, argv index of the denied key) over all of the user's selectors."""
        res, idx = self._check_selector(user.root, spec, argv)
        if res == OK or not user.selectors:
            return res, idx
        relevant, last = res, idx
        for sel in user.selectors:
            r, i = self._check_selector(sel, spec, argv)
            if r == OK:
                return OK, 0
            if r > relevant or (r == relevant and i > last):
                relevant, last = r, i
        return relevant, last

    def _check_selector(self, sel: Selector, spec: CommandSpec, argv: Sequence[bytes]) -> tuple[int, int]:
        if not sel.allcommands and not spec.no_auth:
            i = self.cmd_id(spec)
            if not sel.allowed >> i & 1:
                args = sel.firstargs.get(i)
                if not args or len(argv) < 2:
                    return DENIED_CMD, 0
                a = argv[2 if spec.parent is not None else 1].lower()
                if not any(x.lower() == a for x in args):
                    return DENIED_CMD, 0
        if not sel.allkeys and (spec.keys or spec.get_keys is not None):
            for pos, need in _keys_and_flags(spec, argv):
                key = argv[pos]
                for pflags, pat in sel.patterns:
                    if pflags & need == need and glob_match(pat, key):
                        break
                else:
                    return DENIED_KEY, pos
        if not sel.allchannels:
            how = _CHANNEL_ARGS.get(spec.name)
            if how is not None:
                first, only_first, is_pattern = how
                end = first + 1 if only_first else len(argv)
                for pos in range(first, end):
                    ch = argv[pos]
                    if not (ch in sel.channels if is_pattern else _channel_allowed(sel.channels, ch)):
                        return DENIED_CHANNEL, pos
        return OK, 0

    # -- ACL LOG ------------------------------------------------------------------

    def add_log(self, c: Client, reason: int, context: str, obj: bytes) -> None:
        rname = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_CHANNEL: "channel",
                 DENIED_AUTH: "auth"}[reason]
        stats = self.server.stats
        stat = "acl_access_denied_" + ("cmd" if reason == DENIED_CMD else rname)
        stats[stat] += 1
        username = obj if reason == DENIED_AUTH else c.user.name
        if reason == DENIED_AUTH:
            obj = c.last_cmd if c.last_cmd != b"NULL" else b"auth"  # as typed, as Redis
        now = int(time.time() * 1000)
        for i, e in enumerate(self.log[:10]):
            if (e.reason == rname and e.context == context and e.obj == obj
                    and e.username == username and now - e.ctime < 60000):
                e.count += 1
                e.ctime = now
                e.cinfo = c.info_line()
                self.log.insert(0, self.log.pop(i))
                return
        self.log.insert(0, LogEntry(rname, context, obj, username, c.info_line()))
        limit = self.server.config["acllog-max-len"]
        del self.log[max(limit, 0):]

    def log_denied(self, c: Client, res: int, idx: int, spec: CommandSpec, argv: Sequence[bytes],
                   context: str) -> None:
        obj = spec.name.encode() if res == DENIED_CMD else argv[idx]
        self.add_log(c, res, context, obj)

    # -- describing users (ACL LIST / GETUSER) ------------------------------------

    def describe_commands(self, sel: Selector) -> str:
        """Rebuild rules from the bitmask as Redis 7.0 does: +@all/-@all, best-fit
        categories, then single commands and first-args."""
        self._universe()
        full = self.all_mask()
        additive = not sel.future
        rules = ["-@all" if additive else "+@all"]
        fake = 0 if additive else full
        user = sel.allowed
        temp = user
        top = self._top
        applied: set[str] = set()
        while True:
            best = None
            mindiff, maxsame = 1 << 62, 0
            for cat in CATEGORIES:
                if cat in applied:
                    continue
                cmask = self._cats[cat] & top
                on = bin(temp & cmask).count("1")
                off = bin(cmask).count("1") - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            cm = self._expand(self._cats[best])
            if additive:
                fake |= cm
                temp &= ~cm
            else:
                fake &= ~cm
                temp |= cm
            rules.append(("+@" if additive else "-@") + best)
            applied.add(best)
        for s in self._specs:
            if s.parent is not None:
                continue
            for spec in (s, *s.subcommands.values()):
                i = self._ids[spec.name]
                ub, fb = user >> i & 1, fake >> i & 1
                if ub != fb:
                    rules.append(("+" if ub else "-") + spec.name)
                    m = 1 << i
                    for sub in spec.subcommands.values():
                        m |= 1 << self._ids[sub.name]
                    fake = fake | m if ub else fake & ~m
                if not ub:
                    for a in sel.firstargs.get(i, ()):
                        rules.append(f"+{spec.name}|{a.decode('utf-8', 'replace')}")
        return " ".join(rules)

    def _expand(self, mask: int) -> int:
        """A category mask as +@cat applies it: containers bring their subcommands."""
        out = mask
        for i, spec in enumerate(self._specs):
            if mask >> i & 1 and spec.subcommands:
                for sub in spec.subcommands.values():
                    out |= 1 << self._ids[sub.name]
        return out

    @staticmethod
    def describe_keys(sel: Selector) -> str:
        if sel.allkeys:
            return "~*"
        out = []
        for flags, pat in sel.patterns:
            p = pat.decode("utf-8", "surrogateescape")
            out.append(f"~{p}" if flags == ALL_PERM else f"%{'R' if flags & READ else 'W'}~{p}")
        return " ".join(out)

    @staticmethod
    def describe_channels(sel: Selector) -> str:
        if sel.allchannels:
            return "&*"
        return " ".join("&" + ch.decode("utf-8", "surrogateescape") for ch in sel.channels)

    def describe_selector(self, sel: Selector) -> str:
        parts = []
        keys = self.describe_keys(sel)
        if keys:
            parts.append(keys)
        if sel.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            ch = self.describe_channels(sel)
            if ch:
                parts.append(ch)
        parts.append(self.describe_commands(sel))
        return " ".join(parts)

    def flags(self, u: User) -> list[str]:
        out = ["on" if u.enabled else "off"]
        if u.nopass:
            out.append("nopass")
        if u.sanitize:
            out.append(u.sanitize)
        return out

    def describe_user(self, u: User) -> str:
        parts = [*self.flags(u), *("#" + h for h in u.passwords), self.describe_selector(u.root)]
        parts += [f"({self.describe_selector(s)})" for s in u.selectors]
        return " ".join(parts)

    def user_lines(self) -> list[bytes]:
        """``user <name> <rules>`` for every user, by name: ACL LIST, ACL SAVE's file and
        CONFIG REWRITE's ``user`` directives."""
        return [
            b"user " + name + b" " + self.describe_user(self.users[name]).encode("utf-8", "surrogateescape")
            for name in sorted(self.users)
        ]


def _lookup_full(name: bytes) -> CommandSpec | None:
    if b"|" in name:
        parent, sub = name.lower().split(b"|", 1)
        p = lookup(parent)
        return p.subcommands.get(sub) if p is not None else None
    return lookup(name)


# The commands that name channels ACL rules apply to: (first argv index,
# only that one, given as a pattern).  A PSUBSCRIBE pattern must equal an
# allowed pattern; a channel matches them as globs (Redis 7.0).
_CHANNEL_ARGS: Final = {
    "publish": (1, True, False),
    "spublish": (1, True, False),
    "subscribe": (1, False, False),
    "ssubscribe": (1, False, False),
    "psubscribe": (1, False, True),
}


def _channel_allowed(allowed: Sequence[bytes], channel: bytes) -> bool:
    return any(glob_match(pat, channel) for pat in allowed)


def _key_need(flags: Sequence[str]) -> int:
    need = 0
    for f in flags:
        if f == "ACCESS":
            need |= READ
        elif f in ("INSERT", "DELETE", "UPDATE"):
            need |= WRITE
    return need


def _keys_and_flags(spec: CommandSpec, argv: Sequence[bytes]) -> list[tuple[int, int]]:
    """(argv index, needed R/W permission) of each key, from the key specs."""
    name = spec.name
    if name == "set":  # VARIABLE_FLAGS: only SET ... GET reads the key
        need = ALL_PERM if any(a.lower() == b"get" for a in argv[3:]) else WRITE
        return [(1, need)] if len(argv) > 1 else []
    if name == "bitfield":
        ops = {a.lower() for a in argv[2:]}
        writes = ops & {b"set", b"incrby"}
        return [(1, ALL_PERM if writes else READ)] if len(argv) > 1 else []
    if spec.get_keys is not None:
        positions = spec.get_keys(argv)
        flagged: dict[int, int] = {}
        for ks in spec.keys:
            for p in ks.positions(argv):
                flagged.setdefault(p, _key_need(ks.flags))
        default = ALL_PERM if spec.is_write else READ
        return [(p, flagged.get(p, default)) for p in positions]
    out = []
    for ks in spec.keys:
        if "NOT_KEY" in ks.flags:  # a shard channel named for routing, not a key
            continue
        need = _key_need(ks.flags)
        for p in ks.positions(argv):
            out.append((p, need))
    return out


def genpass(bits: int) -> str:
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars]
