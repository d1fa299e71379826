"""ACL users that outlive the process: aclfile (ACL LOAD/SAVE), ``user`` directives,
acl-pubsub-default, and moonkv's own durability through the data directory.

Where a client can observe it, the same files and commands go to a redis-server and the
raw replies are compared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from tests.conftest import Differ
from tests.helpers import (
    REDIS_SERVER,
    RawClient,
    ServerHandle,
    free_port,
    start_moonkv,
    start_redis,
    wait_port,
)

BASE = "user default on nopass ~* &* +@all\n"


@contextmanager
def both_with_file(text: str) -> Iterator[tuple[str, RawClient, RawClient]]:
    """moonkv and redis-server reading the same ACL file; yields (path, moonkv, redis)."""
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    path = os.path.join(d, "users.acl")
    with open(path, "w") as f:
        f.write(text)
    m = start_moonkv(["--appendonly", "no", "--save", "", "--aclfile", path])
    try:
        real = start_redis(["--aclfile", path])
        try:
            mc, rc = RawClient(m.port), RawClient(real.port)
            try:
                yield path, mc, rc
            finally:
                mc.close()
                rc.close()
        finally:
            real.stop()
    finally:
        m.stop()


def same(mc: RawClient, rc: RawClient, *cmd: str) -> bytes:
    got, want = mc.call(*cmd), rc.call(*cmd)
    assert got == want, f"{cmd}: moonkv {got!r} != redis {want!r}"
    return got


BAD_FILES = [
    "foo bar\n",
    "user\n",
    "# a comment is an error in an ACL file\n",
    'user bob "quoted\n',
    "user a on\nuser a off\n",
    "user a badrule\nuser b +nosuch\n",
    "user c on #abc\n",
    "user d <nopw\n",
    "USER e on\n",
    "user f ~x allkeys ~y\n",
    "user g on +@nosuch &ch allchannels &x\n",
    "user h\ton\n",
    "\n\nuser ok on\nuser bad on %Z~x\n",
]


@pytest.mark.parametrize("bad", BAD_FILES)
def test_acl_load_errors_are_redis_texts_and_change_nothing(bad: str) -> None:
    with both_with_file(BASE + "user keep on >pw ~k* +get\n") as (path, mc, rc):
        before = same(mc, rc, "ACL", "LIST")
        with open(path, "w") as f:
            f.write(BASE + bad)
        err = same(mc, rc, "ACL", "LOAD")
        assert err.startswith(b"-ERR ") and err.endswith(
            b"WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n")
        assert same(mc, rc, "ACL", "LIST") == before


def test_acl_load_replaces_every_user_and_disconnects_their_clients() -> None:
    with both_with_file(BASE + "user alice on >pw ~a* +@all\n") as (path, mc, rc):
        m_alice, r_alice = RawClient(mc.sock.getpeername()[1]), RawClient(rc.sock.getpeername()[1])
        try:
            same(m_alice, r_alice, "AUTH", "alice", "pw")
            with open(path, "w") as f:
                f.write("user default on >secret ~* &* +@all\nuser bob on nopass ~b* &* +@read\n")
            assert same(mc, rc, "ACL", "LOAD") == b"+OK\r\n"
            same(mc, rc, "ACL", "LIST")
            for c in (m_alice, r_alice):
                with pytest.raises((ConnectionError, OSError)):
                    c.call("PING")
            # The default user's connections stay, with the new rules.
            same(mc, rc, "ACL", "WHOAMI")
            same(mc, rc, "AUTH", "bob", "x")
            same(mc, rc, "GET", "b1")
            same(mc, rc, "SET", "b1", "v")
        finally:
            m_alice.close()
            r_alice.close()


def test_acl_load_without_a_file_keeps_the_default_user() -> None:
    with both_with_file("user alice on nopass ~* +@all\n") as (path, mc, rc):
        same(mc, rc, "ACL", "LIST")
        os.unlink(path)
        same(mc, rc, "ACL", "LOAD")  # "Error loading ACLs, opening file ..."


def test_unmatched_selector_in_a_file_is_an_error() -> None:
    # Redis 7.0.15 crashes on this line; moonkv reports it as later Redis versions do.
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    path = os.path.join(d, "users.acl")
    with open(path, "w") as f:
        f.write(BASE)
    m = start_moonkv(["--appendonly", "no", "--save", "", "--aclfile", path])
    try:
        c = RawClient(m.port)
        with open(path, "w") as f:
            f.write(BASE + "user x on (~x +get\n")
        assert c.call("ACL", "LOAD") == (
            f"-ERR {path}:2: Unmatched parenthesis in selector definition.WARNING: ACL errors "
            "detected, no change to the previously active ACL rules was performed\r\n").encode()
        c.close()
    finally:
        m.stop()


def test_acl_save_writes_acl_list_atomically() -> None:
    with both_with_file(BASE) as (path, mc, rc):
        for cmd in (
            ("ACL", "SETUSER", "alice", "on", ">pw", "~a*", "&news", "+get", "-@dangerous"),
            ("ACL", "SETUSER", "bob", "off", "resetchannels", "(", "~x", "+get", ")", "%R~r*"),
            ("ACL", "SETUSER", "carol", "on", "nopass", "skip-sanitize-payload", "+@all", "-debug", "+select|0"),
        ):
            same(mc, rc, *cmd)
        listing = same(mc, rc, "ACL", "LIST")
        inode = os.stat(path).st_ino
        assert mc.call("ACL", "SAVE") == b"+OK\r\n"
        with open(path, "rb") as f:
            saved = f.read()
        assert os.stat(path).st_ino != inode  # a new file renamed over the old one
        assert not [n for n in os.listdir(os.path.dirname(path)) if n != "users.acl"]
        # The file is ACL LIST's lines (a RESP array of bulk strings without spaces to split).
        assert listing == b"*%d\r\n" % saved.count(b"\n") + b"".join(
            b"$%d\r\n%s\r\n" % (len(line), line) for line in saved.splitlines())
        assert same(mc, rc, "ACL", "SAVE") == b"+OK\r\n"  # Redis writes the same file
        with open(path, "rb") as f:
            assert f.read() == saved
        assert same(mc, rc, "ACL", "LOAD") == b"+OK\r\n"
        assert same(mc, rc, "ACL", "LIST") == listing


def test_acl_save_failure_leaves_what_was_there() -> None:
    with both_with_file(BASE) as (path, mc, rc):
        # The rename cannot replace a directory (this holds for root too).
        os.unlink(path)
        os.mkdir(path)
        same(mc, rc, "ACL", "SETUSER", "x", "on")
        assert same(mc, rc, "ACL", "SAVE") == (
            b"-ERR There was an error trying to save the ACLs. Please check the server logs for more "
            b"information\r\n")
        assert os.listdir(os.path.dirname(path)) == ["users.acl"]  # no temporary file left
        assert os.path.isdir(path)


def test_acl_file_and_commands_without_it_diff(diff: Differ) -> None:
    diff("ACL", "LOAD")
    diff("ACL", "SAVE")
    diff("CONFIG", "GET", "aclfile")
    diff("CONFIG", "SET", "aclfile", "/tmp/x.acl")


def test_acl_pubsub_default_decides_new_users_channels(diff: Differ) -> None:
    try:
        diff("CONFIG", "GET", "acl-pubsub-default")
        diff("CONFIG", "SET", "acl-pubsub-default", "allchannels")
        diff("ACL", "SETUSER", "pd1")
        diff("ACL", "SETUSER", "pd2", "reset")
        diff("ACL", "SETUSER", "pd3", "(~x +get)")
        diff("ACL", "SETUSER", "pd4", "resetchannels")
        diff("ACL", "GETUSER", "pd1")
        diff("ACL", "GETUSER", "pd3")
        diff("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
        diff("ACL", "SETUSER", "pd5", "&x")
        diff("ACL", "SETUSER", "pd6", "reset")
        diff("ACL", "SETUSER", "pd1", "reset")  # an existing user follows the new default too
        diff("ACL", "LIST")
        diff("ACL", "GETUSER", "pd5")
        diff("CONFIG", "SET", "acl-pubsub-default", "bad")
    finally:
        for c in (diff.m, diff.real):
            c.call("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
            c.call("ACL", "DELUSER", "pd1", "pd2", "pd3", "pd4", "pd5", "pd6")


def _start_fails(args: Sequence[str], moonkv: bool, conf: Sequence[str] = ()) -> str:
    port = free_port()
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    if moonkv:
        cmd = [sys.executable, "-m", "moonkv", "server", *conf, "--port", str(port), "--dir", d, *args]
    else:
        cmd = [REDIS_SERVER, *conf, "--port", str(port), "--save", "", "--dir", d, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=30, text=True)
    assert p.returncode != 0
    return p.stdout + p.stderr


def test_config_users_and_aclfile_cannot_be_combined() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    path = os.path.join(d, "users.acl")
    with open(path, "w") as f:
        f.write(BASE)
    args = ["--aclfile", path, "--user", "alice", "on", "nopass"]
    text = "please define either an ACL file or declare users directly in your redis.conf, but not both."
    assert text in _start_fails(args, moonkv=True)
    assert text in _start_fails(args, moonkv=False)


def test_a_bad_aclfile_stops_the_start() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    path = os.path.join(d, "users.acl")
    with open(path, "w") as f:
        f.write(BASE + "user a +nosuch\n")
    for moonkv in (True, False):
        assert f"Aborting Redis startup because of ACL errors: {path}:2: Error in applying operation" in (
            _start_fails(["--aclfile", path], moonkv))
    assert "Error loading ACLs, opening file" in _start_fails(["--aclfile", path + ".missing"], moonkv=True)


def test_a_relative_aclfile_is_in_dir() -> None:
    """Redis changes into `dir`: `aclfile user.acl` names dir/user.acl (Redis's unit/acl)."""
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    with open(os.path.join(d, "users.acl"), "w") as f:
        f.write(BASE)
    m = start_moonkv(["--appendonly", "no", "--save", "", "--aclfile", "users.acl"], dir=d)
    try:
        c = RawClient(m.port)
        assert c.call("ACL", "LOAD") == b"+OK\r\n"
        assert c.call("ACL", "SAVE") == b"+OK\r\n"
        c.close()
    finally:
        m.stop()
    # Another dir, without the file (moonkv names the path it opened; Redis, in dir, 'users.acl').
    where = re.escape(tempfile.gettempdir()) + r"/moonkv-acl-\w+/users.acl"
    assert re.search(f"Error loading ACLs, opening file '{where}'",
                     _start_fails(["--aclfile", "users.acl"], moonkv=True))


def test_user_directives_from_a_config_file() -> None:
    d = tempfile.mkdtemp(prefix="moonkv-acl-")
    conf = os.path.join(d, "moonkv.conf")
    with open(conf, "w") as f:
        f.write("user default on >adminpw ~* &* +@all\nuser app on >apppw ~app:* resetchannels +@read +set\n")
    m = _start_conf(conf)
    try:
        c = RawClient(m.port)
        assert c.call("GET", "x") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("AUTH", "app", "apppw") == b"+OK\r\n"
        assert c.call("SET", "app:1", "v") == b"+OK\r\n"
        assert c.call("SET", "other", "v").startswith(b"-NOPERM")
        assert c.call("ACL", "SAVE").startswith(b"-NOPERM")
        c.close()
    finally:
        m.stop()
    with open(conf, "w") as f:
        f.write("user app on +nosuch\n")
    assert "Error in user declaration '+nosuch': Unknown command or category name in ACL" in (
        _start_fails([], moonkv=True, conf=[conf]))
    with open(conf, "w") as f:
        f.write("user app on\nuser app off\n")
    assert "Duplicate user found. A user can only be defined once in config files" in (
        _start_fails([], moonkv=True, conf=[conf]))


def _start_conf(conf: str) -> ServerHandle:
    # The config file goes first, as redis-server takes it; start_moonkv appends options.
    port = free_port()
    d = tempfile.mkdtemp(prefix="moonkv-test-")
    log = os.path.join(d, "server.log")
    with open(log, "wb") as lf:
        proc = subprocess.Popen([sys.executable, "-m", "moonkv", "server", conf, "--port", str(port),
                                 "--dir", d, "--appendonly", "no", "--save", ""],
                                stdout=lf, stderr=subprocess.STDOUT)
    h = ServerHandle(proc, port, d, log)
    try:
        wait_port(port, proc)
    except RuntimeError:
        h.stop()
        raise
    return h


USERS = (
    ("ACL", "SETUSER", "alice", "on", ">pw", "~a*", "&news", "+get", "+set", "sanitize-payload"),
    ("ACL", "SETUSER", "bob", "on", "nopass", "(", "~x", "+get", ")", "%R~r*", "+@read"),
    ("ACL", "SETUSER", "gone", "on"),
    ("ACL", "DELUSER", "gone"),
    ("ACL", "SETUSER", "default", ">adminpw"),
)


@pytest.mark.parametrize("how", ["log", "snapshot", "snapshot+log"])
def test_acls_survive_a_restart_through_the_data_directory(how: str) -> None:
    h = start_moonkv(["--save", ""])
    try:
        c = RawClient(h.port)
        for cmd in USERS[:-1] if how == "snapshot+log" else USERS:
            assert c.call(*cmd) in (b"+OK\r\n", b":1\r\n")
        if how != "log":
            assert c.call("SAVE") == b"+OK\r\n"
        if how == "snapshot+log":
            assert c.call(*USERS[-1]) == b"+OK\r\n"
        assert c.call("AUTH", "adminpw") == b"+OK\r\n"
        listing = c.call("ACL", "LIST")
        assert b"gone" not in listing and b"alice" in listing
        c.close()
        h.stop()
        logs = b""
        for n in os.listdir(h.dir):
            if n.startswith(("log-", "snap-")):
                with open(os.path.join(h.dir, n), "rb") as f:
                    logs += f.read()
        assert b">pw" not in logs and b"adminpw" not in logs  # hashes only
        h = start_moonkv(["--save", ""], dir=h.dir)
        c = RawClient(h.port)
        assert c.call("AUTH", "adminpw") == b"+OK\r\n"
        assert c.call("ACL", "LIST") == listing
        assert c.call("AUTH", "alice", "pw") == b"+OK\r\n"
        assert c.call("GET", "b").startswith(b"-NOPERM")
        c.close()
    finally:
        h.stop()


def test_an_aclfile_takes_over_from_the_data_directory() -> None:
    """At start the file's users win; the data directory still records what ACL commands
    change (they replicate either way), so without the file those changes are back."""
    h = start_moonkv(["--save", ""])
    try:
        c = RawClient(h.port)
        assert c.call("ACL", "SETUSER", "fromlog", "on") == b"+OK\r\n"
        assert c.call("SAVE") == b"+OK\r\n"
        assert c.call("ACL", "SETUSER", "fromlog2", "on") == b"+OK\r\n"
        c.close()
        h.stop()
        path = os.path.join(tempfile.mkdtemp(prefix="moonkv-acl-"), "users.acl")
        with open(path, "w") as f:
            f.write(BASE + "user fromfile on\n")
        h = start_moonkv(["--save", "", "--aclfile", path], dir=h.dir)
        c = RawClient(h.port)
        assert c.call("ACL", "USERS") == b"*2\r\n$7\r\ndefault\r\n$8\r\nfromfile\r\n"
        assert c.call("ACL", "SETUSER", "bycommand", "on") == b"+OK\r\n"
        c.close()
        h.stop()
        h = start_moonkv(["--save", "", "--aclfile", path], dir=h.dir)  # the file wins again
        c = RawClient(h.port)
        assert c.call("ACL", "USERS") == b"*2\r\n$7\r\ndefault\r\n$8\r\nfromfile\r\n"
        c.close()
        h.stop()
        h = start_moonkv(["--save", ""], dir=h.dir)  # back to the data directory's users
        c = RawClient(h.port)
        assert c.call("ACL", "USERS") == (
            b"*4\r\n$9\r\nbycommand\r\n$7\r\ndefault\r\n$7\r\nfromlog\r\n$8\r\nfromlog2\r\n"
        )
        c.close()
    finally:
        h.stop()
