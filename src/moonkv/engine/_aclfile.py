"""Where ACL users come from: an ACL file, ``user`` directives, or moonkv's data directory.

* ``aclfile``: read at start and by ACL LOAD, all or nothing, with Redis 7.0's
  error texts (each naming the file and line); ACL SAVE replaces it atomically
  (temporary file, fsync, rename, fsync of the directory).
* ``user`` directives in the configuration: applied at start; combining them
  with ``aclfile`` is refused as Redis refuses it.
* Neither: users are durable through the data directory (``Acl.durable``):
  loading restores them from the log's ACL effects and the snapshots' users
  (docs/durability.md).  Those are written whatever the source, since users
  replicate (docs/replication.md); with a file or directives they are not
  restored at start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from moonkv.engine._acl import ERR_NOENT, Acl, AclRuleError, User

if TYPE_CHECKING:
    from moonkv.engine._client import Client

log = logging.getLogger("moonkv")

BOTH_SOURCES: Final = (
    "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path "
    "is invalid. This setup is very likely to lead to configuration errors and security holes, "
    "please define either an ACL file or declare users directly in your redis.conf, but not both."
)
SAVE_FAILED: Final = (
    "There was an error trying to save the ACLs. Please check the server logs for more information"
)
_ROLLED_BACK: Final = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
_SPACES: Final = frozenset(b" \t\n\r\v\f\0")


class AclFileError(Exception):
    """ACL LOAD's error reply text (after ``-ERR``)."""


class UnmatchedSelector(Exception):
    """A ``(`` selector that never closes; ``args[0]`` is the argument that opened it."""

    def text(self) -> str:
        return f"Unmatched parenthesis in acl selector starting at '{_text(self.args[0])}'."


def merge_selectors(rules: Sequence[bytes]) -> list[bytes]:
    """Join a ``(...)`` selector spread over several arguments (as Redis accepts them)."""
    out: list[bytes] = []
    open_at: list[bytes] | None = None
    for r in rules:
        if open_at is None and r[:1] == b"(" and r[-1:] != b")":
            open_at = [r]
        elif open_at is not None:
            open_at.append(r)
            if r[-1:] == b")":
                out.append(b" ".join(open_at))
                open_at = None
        else:
            out.append(r)
    if open_at is not None:
        raise UnmatchedSelector(open_at[0])
    return out


def parse_file(acl: Acl, path: str) -> dict[bytes, User]:
    """The users an ACL file defines; raises AclFileError with every error Redis reports."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise AclFileError(f"Error loading ACLs, opening file '{path}': {e.strerror}") from None
    users: dict[bytes, User] = {}
    errors: list[str] = []
    for i, raw in enumerate(text.split(b"\n")):
        lineno = i + 1
        line = raw.strip(b" \t\r\n")
        if not line:
            continue
        # Redis splits on single spaces (no quoting; '#' lines are errors, not comments).
        argv = line.split(b" ")
        if argv[0] != b"user" or len(argv) < 2:
            errors.append(f"{path}:{lineno} should start with user keyword followed by the username. ")
            continue
        name = argv[1]
        if any(ch in _SPACES for ch in name):
            errors.append(f"'{path}:{lineno}: username '{_text(name)}' contains invalid characters. ")
            continue
        if name in users:
            errors.append(f"WARNING: Duplicate user '{_text(name)}' found on line {lineno}. ")
            continue
        try:
            rules = merge_selectors(argv[2:])
        except UnmatchedSelector:
            # (Redis 7.0.15 crashes here; later versions report this line.)
            errors.append(f"{path}:{lineno}: Unmatched parenthesis in selector definition.")
            continue
        u = acl.new_user(name)
        for rule in rules:
            rule = rule.strip(b"\t\r\n")
            try:
                acl.build(u, [rule])
            except AclRuleError as e:
                reason = e.args[1]
                if reason == ERR_NOENT:
                    errors.append(f"{path}:{lineno}: Error in applying operation '{_text(rule)}': {reason}. ")
                else:
                    errors.append(f"{path}:{lineno}: {reason}. ")
        users[name] = u
    if errors:
        raise AclFileError("".join(errors) + _ROLLED_BACK)
    return users


def load_file(acl: Acl, path: str, me: Client | None = None) -> None:
    """ACL LOAD: replace every user with the file's, or change nothing."""
    acl.install(parse_file(acl, path), me)


def save_file(acl: Acl, path: str) -> None:
    """ACL SAVE: the users in ACL LIST's format, replacing the file atomically.

    Raises OSError (logged here, as Redis logs it) and leaves the old file in place.
    """
    data = b"".join(line + b"\n" for line in acl.user_lines())
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        log.warning("Saving the ACL file %s for ACL SAVE: %s", path, e.strerror)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_config_users(acl: Acl, users: Sequence[Sequence[bytes]]) -> None:
    """The ``user`` directives (name, rules...), in order; raises ValueError with the reason."""
    seen: set[bytes] = set()
    for name, *rules in users:
        if name in seen:
            raise ValueError("Duplicate user found. A user can only be defined once in config files")
        seen.add(name)
        if not name or any(ch in _SPACES for ch in name):
            raise ValueError("Spaces not allowed in ACL usernames")
        try:
            merged = merge_selectors(rules)
        except UnmatchedSelector as e:
            raise ValueError(e.text()) from None
        u = acl.new_user(name) if name != b"default" else acl.build(acl.new_user(name), [b"reset"])
        try:
            acl.build(u, merged)
        except AclRuleError as e:
            raise ValueError(f"Error in user declaration '{_text(e.args[0])}': {e.args[1]}") from None
        if not u.enabled:
            log.info("The user '%s' is disabled (there is no 'on' modifier in the user description). "
                     "Make sure this is not a configuration error.", _text(name))
        if name == b"default":
            acl.default.__dict__.update(u.__dict__)
        else:
            acl.users[name] = u
    acl.refresh_clients()


def load_at_start(acl: Acl, path: str, users: Sequence[Sequence[bytes]]) -> None:
    """Users from the configuration or the ACL file; raises ValueError (the server must not start)."""
    if path and users:
        raise ValueError(BOTH_SOURCES)
    if users:
        load_config_users(acl, users)
        acl.durable = False
    if path:
        acl.file = path
        acl.durable = False
        try:
            load_file(acl, path)
        except AclFileError as e:
            raise ValueError(f"Aborting Redis startup because of ACL errors: {e}") from None


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")
