"""ACL users in process: rules, descriptions, permission checks, AUTH/HELLO, scripts, MULTI."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from moonkv.engine import Client, Config, Server
from moonkv.errors import RespError
from moonkv.server._assemble import assemble


class Box:
    def __init__(self) -> None:
        self.srv: Server = assemble(Config(), with_persistence=False)
        self.admin = self.client()

    def client(self) -> Client:
        c = self.srv.new_client()
        self.srv.add_client(c)
        return c

    def run(self, c: Client, *args: Any) -> Any:
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        return self.srv.execute(c, argv)

    def __call__(self, *args: Any) -> Any:
        r = self.run(self.admin, *args)
        if isinstance(r, RespError):
            raise r
        return r

    def err(self, c: Client, *args: Any) -> str:
        r = self.run(c, *args)
        assert isinstance(r, RespError), r
        return str(r)

    def login(self, name: str, password: str = "pw") -> Client:
        c = self.client()
        assert self.run(c, "AUTH", name, password) == "OK"
        return c


@pytest.fixture
def b() -> Box:
    return Box()


NOCMD = "NOPERM this user has no permissions to run the '{}' command"
NOKEY = "NOPERM this user has no permissions to access one of the keys used as arguments"


def test_default_user_is_unrestricted_and_free(b: Box) -> None:
    c = b.client()
    assert c.acl_user is None  # the executor's only ACL cost for the default user
    assert c.user is b.srv.acl.default
    assert b("ACL", "WHOAMI") == b"default"
    assert b("ACL", "LIST") == [b"user default on nopass ~* &* +@all"]
    assert b("ACL", "USERS") == [b"default"]
    # Restricting the default user turns checks on for its clients, and back off.
    b("ACL", "SETUSER", "default", "-flushall")
    assert c.acl_user is not None
    assert b.err(c, "FLUSHALL") == NOCMD.format("flushall")
    b("ACL", "SETUSER", "default", "+@all")
    assert c.acl_user is None


def test_new_user_getuser_and_list(b: Box) -> None:
    assert b("ACL", "SETUSER", "u") == "OK"
    assert b("ACL", "GETUSER", "u") == {
        b"flags": [b"off"], b"passwords": [], b"commands": b"-@all", b"keys": b"",
        b"channels": b"", b"selectors": [],
    }
    b("ACL", "SETUSER", "bob", "on", ">123", "+@scripting", "+set", "~x*")
    h = hashlib.sha256(b"123").hexdigest()
    assert b("ACL", "LIST") == [
        f"user bob on #{h} ~x* resetchannels -@all +@scripting +set".encode(),
        b"user default on nopass ~* &* +@all",
        b"user u off resetchannels -@all",
    ]
    assert b("ACL", "GETUSER", "missing") is None


def test_rule_descriptions(b: Box) -> None:
    def cmds(*rules: str) -> bytes:
        b("ACL", "SETUSER", "t", "reset", *rules)
        return b("ACL", "GETUSER", "t")[b"commands"]  # type: ignore[no-any-return]

    assert cmds("+@all", "-client|id") == b"+@all -client|id"
    assert cmds("+@all", "-@admin") == b"+@all -@admin"
    assert cmds("-@all", "+config", "+config|get", "-config|set") == b"-@all +config -config|set"
    assert cmds("+select|0", "+select|1", "+select") == b"-@all +select"
    assert cmds("+select|0", "+select|1", "-select") == b"-@all"
    assert cmds("+get|x") == b"-@all +get|x"
    assert cmds("+@scripting") == b"-@all +@scripting"
    b("ACL", "SETUSER", "t", "reset", "%R~r*", "%W~w*", "%RW~rw*", "~k*", "%R~x", "%W~x", "&ch*")
    got = b("ACL", "GETUSER", "t")
    assert got[b"keys"] == b"%R~r* %W~w* ~rw* ~k* ~x"
    assert got[b"channels"] == b"&ch*"
    assert got[b"flags"] == [b"off", b"sanitize-payload"]


def test_rule_errors_are_atomic(b: Box) -> None:
    b("ACL", "SETUSER", "t", "on", "+get")
    cases = {
        "+nosuch": "Unknown command or category name in ACL",
        "+@nosuch": "Unknown command or category name in ACL",
        "foo": "Syntax error",
        "%X~a": "Syntax error",
        "+config|": "Syntax error",
        "+config|get|x": "Allowing first-arg of a subcommand is not supported",
        "-get|x": "Unknown command or category name in ACL",
        "#abc": "The password hash must be exactly 64 characters and contain only lowercase "
                "hexadecimal characters",
        "<nope": "The password you are trying to remove from the user does not exist",
    }
    for rule, reason in cases.items():
        e = b.err(b.admin, "ACL", "SETUSER", "t", "+set", rule)
        assert e == f"ERR Error in ACL SETUSER modifier '{rule}': {reason}"
    assert b("ACL", "GETUSER", "t")[b"commands"] == b"-@all +get"  # +set was not applied
    b("ACL", "SETUSER", "t", "allkeys")
    assert "Try 'resetkeys'" in b.err(b.admin, "ACL", "SETUSER", "t", "~y")
    assert b.err(b.admin, "ACL", "SETUSER", "a b") == (
        "ERR Usernames can't contain spaces or null characters"
    )
    assert b.err(b.admin, "ACL", "SETUSER", "t", "(+get", "~x") == (
        "ERR Unmatched parenthesis in acl selector starting at '(+get'."
    )


def test_auth_and_wrongpass(b: Box) -> None:
    b("ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*")
    c = b.client()
    wrong = "WRONGPASS invalid username-password pair or user is disabled."
    assert b.err(c, "AUTH", "bob", "bad") == wrong
    assert b.err(c, "AUTH", "nobody", "pw") == wrong
    assert b.err(c, "AUTH", "pw").startswith("ERR AUTH <password> called without any password")
    assert b.run(c, "AUTH", "bob", "pw") == "OK"
    assert b.run(c, "ACL", "WHOAMI") == b"bob"
    assert "user=bob" in c.info_line()
    assert b.err(c, "AUTH", "bob", "bad") == wrong
    assert b.run(c, "ACL", "WHOAMI") == b"bob"  # a failed AUTH keeps the current user
    b("ACL", "SETUSER", "bob", "off")
    assert b.err(c, "AUTH", "bob", "pw") == wrong
    b("ACL", "SETUSER", "bob", "on", "<pw", ">new")
    assert b.run(c, "HELLO", "3", "AUTH", "bob", "new")[b"proto"] == 3
    assert b.run(c, "RESET") == "RESET"
    assert b.run(c, "ACL", "WHOAMI") == b"default"
    log = b("ACL", "LOG")
    # Similar entries are grouped (count) and move to the head.
    assert [(e[b"reason"], e[b"username"], e[b"count"]) for e in log] == [
        (b"auth", b"bob", 3), (b"auth", b"nobody", 1)
    ]
    assert b("ACL", "LOG", "RESET") == "OK" and b("ACL", "LOG") == []


def test_requirepass_is_the_default_users_password(b: Box) -> None:
    old = b.client()
    b("CONFIG", "SET", "requirepass", "secret")
    assert b("ACL", "GETUSER", "default")[b"passwords"] == [
        hashlib.sha256(b"secret").hexdigest().encode()
    ]
    assert b.run(old, "PING") == "PONG"  # existing connections stay authenticated
    c = b.client()
    assert b.err(c, "PING") == "NOAUTH Authentication required."
    assert b.run(c, "AUTH", "secret") == "OK"
    c2 = b.client()
    assert b.run(c2, "AUTH", "default", "secret") == "OK"
    b("CONFIG", "SET", "requirepass", "")
    assert b("ACL", "GETUSER", "default")[b"flags"] == [b"on", b"nopass"]
    assert b.run(b.client(), "PING") == "PONG"
    b("ACL", "SETUSER", "default", "off")
    assert b.err(b.client(), "PING") == "NOAUTH Authentication required."


def test_command_and_key_permissions(b: Box) -> None:
    b("ACL", "SETUSER", "w", "on", ">pw", "-@all", "+get", "+set", "+mget", "+select|0",
      "+config|get", "~k*")
    c = b.login("w")
    assert c.acl_user is not None
    assert b.run(c, "SET", "k1", "v") == "OK"
    assert b.run(c, "GET", "k1") == b"v"
    assert b.err(c, "GET", "zz") == NOKEY
    assert b.err(c, "MGET", "k1", "zz") == NOKEY
    assert b.err(c, "DEL", "k1") == NOCMD.format("del")
    assert b.run(c, "SELECT", "0") == "OK"
    assert b.err(c, "SELECT", "1") == NOCMD.format("select")
    assert b.run(c, "CONFIG", "GET", "maxmemory")
    assert b.err(c, "CONFIG", "SET", "maxmemory", "0") == NOCMD.format("config|set")
    assert b.run(c, "AUTH", "w", "pw") == "OK"  # no_auth commands are always allowed
    b.srv.ks.dbs[0].data.clear()
    log = b("ACL", "LOG")
    assert (log[0][b"reason"], log[0][b"object"], log[0][b"context"]) == (
        b"command", b"config|set", b"toplevel"
    )
    assert any(e[b"reason"] == b"key" and e[b"object"] == b"zz" and e[b"count"] == 2 for e in log)


def test_read_write_key_patterns(b: Box) -> None:
    b("ACL", "SETUSER", "t", "on", "nopass", "+@all", "%R~r*", "%W~w*")
    c = b.login("t")
    assert b.run(c, "GET", "r1") is None
    assert b.err(c, "SET", "r1", "v") == NOKEY
    assert b.run(c, "SET", "w1", "v") == "OK"
    assert b.err(c, "SET", "w1", "v", "GET") == NOKEY  # SET ... GET also reads
    assert b.err(c, "GET", "w1") == NOKEY
    assert b.err(c, "INCR", "w1") == NOKEY  # access + update: needs both
    assert b.run(c, "APPEND", "w1", "x") == 2  # insert only: write
    assert b.run(c, "LPUSH", "w2", "x") == 1  # insert only: write
    dry = b("ACL", "DRYRUN", "t", "GET", "w1")
    assert dry == b"This user has no permissions to access the 'w1' key"
    assert b("ACL", "DRYRUN", "t", "GET", "r1") == "OK"


def test_selectors(b: Box) -> None:
    b("ACL", "SETUSER", "t", "on", "nopass", "-@all", "+mset", "~a*", "(+mset", "~b*)", "(~b* +get)")
    assert b("ACL", "LIST")[1] == (
        b"user t on nopass ~a* resetchannels -@all +mset (~b* resetchannels -@all +mset)"
        b" (~b* resetchannels -@all +get)"
    )
    c = b.login("t")
    assert b.run(c, "MSET", "a1", "1", "a2", "2") == "OK"
    assert b.run(c, "MSET", "b1", "1", "b2", "2") == "OK"
    assert b.err(c, "MSET", "a1", "1", "b2", "2") == NOKEY
    assert b.run(c, "GET", "b1") == b"1"
    assert b.err(c, "GET", "a1") == NOKEY
    b("ACL", "SETUSER", "t", "clearselectors")
    assert b.err(c, "GET", "a1") == NOCMD.format("get")


def test_multi_and_exec(b: Box) -> None:
    b("ACL", "SETUSER", "m", "on", "nopass", "+@all", "~*")
    c = b.login("m")
    b("ACL", "SETUSER", "m", "-get")
    assert b.run(c, "MULTI") == "OK"
    assert b.err(c, "GET", "a") == NOCMD.format("get")
    assert b.err(c, "EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert b.run(c, "MULTI") == "OK"
    assert b.run(c, "SET", "a", "1") == "QUEUED"
    assert b.run(c, "INCR", "a") == "QUEUED"
    b("ACL", "SETUSER", "m", "-incr")
    replies = b.run(c, "EXEC")
    assert replies[0] == "OK"
    assert str(replies[1]).startswith("NOPERM ACLs rules changed between the moment the transaction")
    b("ACL", "SETUSER", "m", "-exec")
    b.run(c, "MULTI")
    assert b.err(c, "EXEC") == (
        "EXECABORT Transaction discarded because of: " + NOCMD.format("exec")
    )
    assert c.multi is None


def test_scripts_check_the_calling_user(b: Box) -> None:
    b("ACL", "SETUSER", "bob", "on", ">pw", "+@scripting", "+set", "~x*")
    c = b.login("bob")
    ok = b.run(c, "EVAL", "return redis.acl_check_cmd('set','xx',1)", "1", "xx")
    assert ok.data == b":1\r\n"
    assert b.run(c, "EVAL", "return redis.acl_check_cmd('hset','xx','f',1)", "0").data == b"$-1\r\n"
    assert b.run(c, "EVAL", "return redis.acl_check_cmd('set','yy',1)", "0").data == b"$-1\r\n"
    e = b.err(c, "EVAL", "return redis.call('hset','xx','f',1)", "1", "xx")
    assert e.startswith("ERR The user executing the script can't run this command or subcommand")
    e = b.err(c, "EVAL", "return redis.pcall('set','yy',1)", "0")
    assert e == (
        "ERR The user executing the script can't access at least one of the keys mentioned in "
        "the command arguments"
    )
    assert b.run(c, "EVAL", "return redis.call('set','xx','1')", "1", "xx") == "OK"
    assert b("ACL", "LOG", "1")[0][b"context"] == b"lua"
    # Default user: unaffected.
    assert b("EVAL", "return redis.acl_check_cmd('hset','yy','f',1)", "0").data == b":1\r\n"


def test_deluser_disconnects(b: Box) -> None:
    b("ACL", "SETUSER", "d", "on", "nopass", "+@all", "~*")
    other = b.login("d")
    closed = []
    other.close = lambda: closed.append(True)
    me = b.login("d")
    assert b.run(me, "ACL", "DELUSER", "d", "nobody") == 1
    assert closed == [True] and other.id not in b.srv.clients
    assert me.closing  # the caller gets its reply, then the connection closes
    assert b.err(b.admin, "ACL", "DELUSER", "default") == "ERR The 'default' user cannot be removed"


def test_cat_genpass_help_dryrun(b: Box) -> None:
    cats = b("ACL", "CAT")
    assert cats[:3] == [b"keyspace", b"read", b"write"] and len(cats) == 21
    assert b"get" in b("ACL", "CAT", "string")
    assert b"config|get" in b("ACL", "CAT", "admin") or b"config|set" in b("ACL", "CAT", "admin")
    assert b.err(b.admin, "ACL", "CAT", "nosuch") == "ERR Unknown category 'nosuch'"
    p = b("ACL", "GENPASS")
    assert len(p) == 64 and int(p, 16) >= 0
    assert len(b("ACL", "GENPASS", "5")) == 2
    assert b.err(b.admin, "ACL", "GENPASS", "0").startswith("ERR ACL GENPASS argument must be")
    assert b("ACL", "HELP")[0] == "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b.err(b.admin, "ACL", "DRYRUN", "nouser", "get", "x") == "ERR User 'nouser' not found"
    assert b.err(b.admin, "ACL", "DRYRUN", "default", "nocmd") == "ERR Command 'nocmd' not found"
    assert b("ACL", "DRYRUN", "default", "get", "x") == "OK"
    assert b.err(b.admin, "ACL", "LOAD").startswith("ERR This Redis instance is not configured")


def test_client_kill_user(b: Box) -> None:
    b("ACL", "SETUSER", "k", "on", "nopass", "+@all", "~*")
    victim = b.login("k")
    victim.close = lambda: None
    assert b("CLIENT", "KILL", "USER", "k") == 1
    assert victim.id not in b.srv.clients
