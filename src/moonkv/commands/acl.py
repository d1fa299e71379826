"""ACL and its subcommands (users live in :mod:`moonkv.engine._acl`)."""

from __future__ import annotations

import time

from moonkv.commands._util import parse_int
from moonkv.commands.table import command, container, lookup, resolve_subcommand
from moonkv.engine import ACL_USERS, Client
from moonkv.engine._acl import (
    CATEGORIES,
    DENIED_CMD,
    DENIED_KEY,
    OK,
    AclRuleError,
    Selector,
    genpass,
)
from moonkv.engine._aclfile import (
    SAVE_FAILED,
    AclFileError,
    UnmatchedSelector,
    load_file,
    merge_selectors,
    save_file,
)
from moonkv.errors import RespError, wrong_arity
from moonkv.protocol import RawReply, bulk

_S = "server"
_ADMIN = "admin noscript loading stale"
_ACL_FILE = (
    "This Redis instance is not configured to use an ACL file. You may want to specify users via "
    "the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
    "configuration file set) in order to store users in the Redis configuration."
)

container("acl", group=_S, since="6.0.0", summary="A container for Access List Control commands.")


def _user_changed(c: Client, name: bytes) -> None:
    """The whole user as an effect, with hashed passwords only (docs/durability.md): the log
    keeps it and replicas replace their user of that name with it (docs/replication.md)."""
    acl = c.server.acl
    c.server.emit(ACL_USERS, [b"ACL", b"SETUSER", name, *acl.rules(acl.users[name])])


def _users_deleted(c: Client, names: list[bytes]) -> None:
    c.server.emit(ACL_USERS, [b"ACL", b"DELUSER", *names])


def _bad_args(sub: str) -> RespError:
    return RespError(
        f"unknown subcommand or wrong number of arguments for '{sub}'. Try ACL HELP."
    )


@command("acl|setuser", -3, _ADMIN, group=_S, since="6.0.0",
         summary="Creates and modifies an ACL user and its rules.",
         complexity="O(N). Where N is the number of rules provided.")
def acl_setuser(c: Client, argv: list[bytes]) -> object:
    name = argv[2]
    if b" " in name or b"\0" in name:
        raise RespError("Usernames can't contain spaces or null characters")
    try:
        rules = merge_selectors(argv[3:])
    except UnmatchedSelector as e:
        raise RespError(e.text()) from None
    acl = c.server.acl
    try:
        acl.setuser(name, rules, c)
    except AclRuleError as e:
        rule, reason = e.args
        raise RespError(
            f"Error in ACL SETUSER modifier '{rule.decode('utf-8', 'replace')}': {reason}"
        ) from None
    _user_changed(c, name)
    if acl.shared is not None:  # cluster mode: on every node before the reply
        return acl.shared.users_changed(c, "OK", [name])
    return "OK"


@command("acl|getuser", 3, _ADMIN, group=_S, since="6.0.0",
         summary="Lists the ACL rules of a user.",
         complexity="O(N). Where N is the number of password, command and pattern rules that the user has.")
def acl_getuser(c: Client, argv: list[bytes]) -> object:
    acl = c.server.acl
    u = acl.get(argv[2])
    if u is None:
        return None

    def sel_info(sel: Selector) -> dict[bytes, object]:
        return {
            b"commands": acl.describe_commands(sel).encode(),
            b"keys": acl.describe_keys(sel).encode("utf-8", "surrogateescape"),
            b"channels": acl.describe_channels(sel).encode("utf-8", "surrogateescape"),
        }

    root = sel_info(u.root)
    names = [f.encode() for f in acl.flags(u)]
    flags: object = names
    if c.resp == 3:  # a RESP3 set, in Redis's order
        flags = RawReply(
            b"~%d\r\n" % len(names) + b"".join(bulk(f) for f in names)
        )
    return {
        b"flags": flags,
        b"passwords": [h.encode() for h in u.passwords],
        **root,
        b"selectors": [sel_info(s) for s in u.selectors],
    }


@command("acl|deluser", -3, _ADMIN, group=_S, since="6.0.0",
         summary="Deletes ACL users, and terminates their connections.",
         complexity="O(1) amortized time considering the typical user.")
def acl_deluser(c: Client, argv: list[bytes]) -> object:
    names = argv[2:]
    if b"default" in names:
        raise RespError("The 'default' user cannot be removed")
    acl = c.server.acl
    gone = [n for n in names if acl.deluser(n, c)]
    if not gone:
        return 0
    _users_deleted(c, gone)
    if acl.shared is not None:
        return acl.shared.users_changed(c, len(gone), gone)
    return len(gone)


@command("acl|users", 2, _ADMIN, group=_S, since="6.0.0",
         summary="Lists all ACL users.", complexity="O(N). Where N is the number of configured users.")
def acl_users(c: Client, argv: list[bytes]) -> object:
    return sorted(c.server.acl.users)


@command("acl|list", 2, _ADMIN, group=_S, since="6.0.0",
         summary="Dumps the effective rules in ACL file format.",
         complexity="O(N). Where N is the number of configured users.")
def acl_list(c: Client, argv: list[bytes]) -> object:
    return c.server.acl.user_lines()


@command("acl|whoami", 2, "noscript loading stale", group=_S, since="6.0.0",
         summary="Returns the authenticated username of the current connection.")
def acl_whoami(c: Client, argv: list[bytes]) -> object:
    return c.user.name if c.user is not None else b"default"


@command("acl|cat", -2, "noscript loading stale", group=_S, since="6.0.0",
         summary="Lists the ACL categories, or the commands inside a category.",
         complexity="O(1) since the categories and commands are a fixed set.")
def acl_cat(c: Client, argv: list[bytes]) -> object:
    if len(argv) == 2:
        return [c.encode() for c in CATEGORIES]
    if len(argv) > 3:
        raise _bad_args(argv[1].decode("utf-8", "replace"))
    names = c.server.acl.category_commands(argv[2].decode("utf-8", "replace"))
    if names is None:
        raise RespError(f"Unknown category '{argv[2].decode('utf-8', 'replace')}'")
    return names


@command("acl|genpass", -2, "noscript loading stale", group=_S, since="6.0.0",
         summary="Generates a pseudorandom, secure password that can be used to identify ACL users.")
def acl_genpass(c: Client, argv: list[bytes]) -> object:
    bits = 256
    if len(argv) == 3:
        bits = parse_int(argv[2])
        if bits <= 0 or bits > 4096:
            raise RespError(
                "ACL GENPASS argument must be the number of bits for the output password, "
                "a positive number up to 4096"
            )
    elif len(argv) > 3:
        raise _bad_args(argv[1].decode("utf-8", "replace"))
    return genpass(bits).encode()


@command("acl|log", -2, _ADMIN, group=_S, since="6.0.0",
         summary="Lists recent security events generated due to ACL rejections.",
         complexity="O(N) with N being the number of entries shown.")
def acl_log(c: Client, argv: list[bytes]) -> object:
    acl = c.server.acl
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return "OK"
        count = parse_int(argv[2])
    elif len(argv) > 3:
        raise _bad_args(argv[1].decode("utf-8", "replace"))
    if count <= 0:
        return []
    now = int(time.time() * 1000)
    out: list[object] = []
    for e in acl.log[:count]:
        out.append({
            b"count": e.count,
            b"reason": e.reason.encode(),
            b"context": e.context.encode(),
            b"object": e.obj,
            b"username": e.username,
            b"age-seconds": (now - e.ctime) / 1000,
            b"client-info": e.cinfo.encode(),
        })
    return out


@command("acl|dryrun", -4, _ADMIN, group=_S, since="7.0.0",
         summary="Simulates the execution of a command by a user, without executing the command.",
         complexity="O(1).")
def acl_dryrun(c: Client, argv: list[bytes]) -> object:
    acl = c.server.acl
    u = acl.get(argv[2])
    if u is None:
        raise RespError(f"User '{argv[2].decode('utf-8', 'replace')}' not found")
    cmd = argv[3:]
    spec = lookup(cmd[0])
    if spec is None:
        raise RespError(f"Command '{cmd[0].decode('utf-8', 'replace')}' not found")
    if spec.subcommands and (len(cmd) >= 2 or spec.handler is None):
        spec = resolve_subcommand(spec, cmd)
    if not spec.arity_ok(len(cmd)):
        raise wrong_arity(spec.name)
    res, idx = acl.check_user(u, spec, cmd)
    if res == OK:
        return "OK"
    if res == DENIED_CMD:
        return f"This user has no permissions to run the '{spec.name}' command".encode()
    what = "key" if res == DENIED_KEY else "channel"
    return f"This user has no permissions to access the '{cmd[idx].decode('utf-8', 'replace')}' {what}".encode()


@command("acl|load", 2, _ADMIN, group=_S, since="6.0.0",
         summary="Reloads the rules from the configured ACL file.",
         complexity="O(N). Where N is the number of configured users.")
def acl_load(c: Client, argv: list[bytes]) -> object:
    acl = c.server.acl
    if not acl.file:
        raise RespError(_ACL_FILE)
    before = list(acl.users)
    try:
        load_file(acl, acl.file, c)
    except AclFileError as e:
        raise RespError(str(e)) from None
    # The new set as effects: the users it lacks, then each of its users whole.
    gone = [name for name in before if name not in acl.users]
    if gone:
        _users_deleted(c, gone)
    for name in sorted(acl.users):
        _user_changed(c, name)
    if acl.shared is not None:
        return acl.shared.users_replaced(c)
    return "OK"


@command("acl|save", 2, _ADMIN, group=_S, since="6.0.0",
         summary="Saves the effective ACL rules in the configured ACL file.",
         complexity="O(N). Where N is the number of configured users.")
def acl_save(c: Client, argv: list[bytes]) -> object:
    acl = c.server.acl
    if not acl.file:
        raise RespError(_ACL_FILE)
    try:
        save_file(acl, acl.file)
    except OSError:
        raise RespError(SAVE_FAILED) from None
    return "OK"


@command("acl|help", 2, "loading stale", group=_S, since="6.0.0",
         summary="Returns helpful text about the different subcommands.")
def acl_help(c: Client, argv: list[bytes]) -> object:
    return [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ]
