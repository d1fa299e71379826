"""ACL against redis-server: same rules, same replies byte for byte.

Rule lists with several single commands are avoided where Redis's order depends on its
command dict's (randomly seeded) hash order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle


@pytest.fixture
def acl(
    diff: Differ, moonkv_server: ServerHandle, redis_server: ServerHandle
) -> Iterator[tuple[Differ, Callable[[], Differ]]]:
    admins = [RawClient(moonkv_server.port), RawClient(redis_server.port)]
    opened: list[Differ] = []

    def new() -> Differ:
        d = Differ(RawClient(moonkv_server.port), RawClient(redis_server.port))
        opened.append(d)
        return d

    yield diff, new
    for d in opened:
        d.m.close()
        d.real.close()
    for a in admins:  # put the shared servers back as the other tests expect them
        a.call("CONFIG", "SET", "requirepass", "")
        a.call("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all", "clearselectors")
        users = a.call("ACL", "USERS").split(b"\r\n")[2::2]
        for u in users:
            if u and u != b"default":
                a.call("ACL", "DELUSER", u)
        a.call("ACL", "LOG", "RESET")
        a.close()


def test_setuser_getuser_list(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, _ = acl
    d("ACL", "LIST")
    d("ACL", "GETUSER", "default")
    d("ACL", "SETUSER", "bob", "on", ">123", "+@scripting", "+set", "~x*")
    d("ACL", "GETUSER", "bob")
    d("ACL", "LIST")
    d("ACL", "USERS")
    d("ACL", "WHOAMI")
    d("ACL", "CAT")
    d("ACL", "SETUSER", "u1")
    d("ACL", "GETUSER", "u1")
    d("ACL", "SETUSER", "u1", "resetkeys", "resetchannels", "reset")
    d("ACL", "GETUSER", "u1")
    d("ACL", "SETUSER", "u1", "+get|x")
    d("ACL", "GETUSER", "u1")
    d("ACL", "SETUSER", "u1", ">p1", ">p2", "<p1", ">p3")
    d("ACL", "GETUSER", "u1")
    d("ACL", "GETUSER", "nonexist")
    d("ACL", "DELUSER", "default")
    d("ACL", "DELUSER", "u1", "nonexist", "bob")
    d("ACL", "USERS")


def test_resp3_replies(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, _ = acl
    d.both("HELLO", "3")
    d("ACL", "SETUSER", "t", "on", "nopass", "skip-sanitize-payload", "~a", "(+get ~b)", "-@all",
      "+get")
    d("ACL", "GETUSER", "t")
    d("ACL", "GETUSER", "default")
    d("ACL", "GETUSER", "nobody")
    d("ACL", "LIST")
    d("ACL", "CAT")
    d("ACL", "DRYRUN", "t", "GET", "c")
    d("ACL", "LOG", "0")


@pytest.mark.parametrize("rules", [
    ["on", "nopass", "%R~r*", "%W~w*", "%RW~rw*", "~k*", "&ch*", "+@all", "-config|set",
     "+config|get", "+select|0", "-@admin", "+acl|whoami"],
    ["on", "resetkeys", "~a", "%R~b", "allchannels", "nocommands", "+get", "+get|foo"],
    ["-@all", "+config", "+config|get", "-config|set"],
    ["-@all", "+select|0", "+select|1", "+select"],
    ["-@all", "+select|0", "+select|1"],
    ["-@all", "+select|0", "+select|1", "-select"],
    ["+@all", "-client|id"],
    ["-@all", "+@fast"],
    ["-@all", "+@slow"],
    ["-@all", "+@all", "-@admin", "~*", "&*"],
    ["skip-sanitize-payload", "on", "nopass", ">x"],
    ["sanitize-payload", "resetpass", ">x", "nopass", "off"],
    ["~a", "(+get ~b)", "(", "+set", "%R~c", "&ch", ")"],
    ["%R~x", "%W~x", "%R~*", "%R~"],
    ["resetkeys", "%RW~*", "~y"],
    ["#" + "a" * 64, "!" + "a" * 64],
])
def test_rule_descriptions(acl: tuple[Differ, Callable[[], Differ]], rules: list[str]) -> None:
    d, _ = acl
    d("ACL", "SETUSER", "t", *rules)
    d("ACL", "GETUSER", "t")
    d("ACL", "LIST")
    d("ACL", "SETUSER", "t", "clearselectors", "reset")
    d("ACL", "LIST")


def test_rule_errors(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, _ = acl
    d("ACL", "SETUSER", "t", "on", "+get")
    for rule in ["+nosuch", "+@nosuch", "foo", "#abc", "%X~a", "%~x", "%RR~x", "+config|",
                 "+config|get|x", "+config|nosub", "-config|nosub", "-get|x", "<nonexist",
                 "!" + "b" * 64, "(+get", "(+get ~x"]:
        d("ACL", "SETUSER", "t", "+set", rule)
    d("ACL", "GETUSER", "t")
    d("ACL", "SETUSER", "t", "allkeys")
    d("ACL", "SETUSER", "t", "~y")
    d("ACL", "SETUSER", "t", "allchannels")
    d("ACL", "SETUSER", "t", "&y")
    d("ACL", "SETUSER", "a b")
    d("ACL", "SETUSER")
    d("ACL", "GETUSER")
    d("ACL", "CAT", "nosuch")
    d("ACL", "CAT", "a", "b")
    d("ACL", "cAt", "a", "b")
    d("ACL", "LOG", "reset", "x")
    d("ACL", "GENPASS", "1", "2")
    d("ACL", "GENPASS", "0")
    d("ACL", "GENPASS", "5000")
    d("ACL", "GENPASS", "x")
    d("ACL", "LOG", "1", "2")
    d("ACL", "LOG", "x")
    d("ACL", "LOG", "0")
    d("ACL", "USERS", "x")
    d("ACL", "LOAD")
    d("ACL", "SAVE")
    d("ACL", "HELP")
    d("ACL", "NOPE")


def test_auth_whoami_noperm(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, new = acl
    d("ACL", "SETUSER", "w", "on", ">p", "-@all", "+get", "+mget", "+select|0", "+config|get",
      "~k*")
    c = new()
    c("AUTH", "w", "p")
    c("GET", "zz")
    c("GET", "k1")
    c("MGET", "k1", "k2", "zz")
    c("SET", "k1", "v")
    c("SELECT", "0")
    c("SELECT", "1")
    c("CONFIG", "SET", "maxmemory", "0")
    c("CONFIG", "GET", "maxmemory")
    c("AUTH", "w", "bad")
    c("ACL", "WHOAMI")
    c("EVAL", "return 1", "0")
    c("MULTI")
    c("GET", "zz")
    c("EXEC")
    c("AUTH", "nobody", "x")
    c("AUTH", "default", "x")
    c("ACL", "WHOAMI")
    c("AUTH", "x")
    c("AUTH", "a", "b", "c")
    c("HELLO", "3", "AUTH", "w", "bad")
    c("HELLO", "2", "AUTH", "w", "p", "foo")  # authenticates before the syntax error
    c("ACL", "WHOAMI")
    d("ACL", "SETUSER", "w", "off")
    c("GET", "k1")  # a disabled user's connections keep working
    c2 = new()
    c2("AUTH", "w", "p")
    c2("ACL", "WHOAMI")
    d("ACL", "DRYRUN", "w", "GET", "zz")
    d("ACL", "DRYRUN", "w", "GET", "k1")
    d("ACL", "DRYRUN", "w", "SET", "k1", "v")
    d("ACL", "DRYRUN", "w", "GET")
    d("ACL", "DRYRUN", "nouser", "GET", "x")
    d("ACL", "DRYRUN", "w", "nocmd")


def test_read_write_patterns(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, new = acl
    d("ACL", "SETUSER", "t", "on", "nopass", "+@all", "%R~r*", "%W~w*")
    c = new()
    c("AUTH", "t", "x")
    for args in (["GET", "r1"], ["SET", "r1", "v"], ["SET", "w1", "v"], ["SET", "w1", "v", "GET"],
                 ["GET", "w1"], ["APPEND", "w1", "x"], ["INCR", "w1"], ["LPUSH", "w2", "x"],
                 ["GETDEL", "w1"], ["DEL", "w1"], ["EXISTS", "w1"], ["RENAME", "w1", "w2"],
                 ["COPY", "r1", "w2"], ["STRLEN", "r1"], ["BITFIELD", "r1", "GET", "u8", "0"],
                 ["BITFIELD", "r1", "SET", "u8", "0", "1"]):
        c(*args)
        d("ACL", "DRYRUN", "t", *args)


def test_requirepass_and_default_user(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, new = acl
    d("CONFIG", "SET", "requirepass", "secret")
    d("ACL", "LIST")
    d("PING")  # existing connections stay authenticated
    c = new()
    c("PING")
    c("HELLO", "3")
    c("AUTH", "wrong")
    c("AUTH", "secret")
    c("PING")
    c2 = new()
    for got in c2.both("HELLO", "2", "AUTH", "default", "secret"):  # ids differ
        assert got.startswith(b"*14\r\n$6\r\nserver\r\n")
    c2("ACL", "WHOAMI")
    d("CONFIG", "SET", "requirepass", "")
    d("ACL", "LIST")
    d("ACL", "SETUSER", "default", ">other")
    d("ACL", "GETUSER", "default")
    c3 = new()
    c3("PING")
    c3("AUTH", "other")
    d("ACL", "SETUSER", "default", "nopass")
    c4 = new()
    c4("PING")
    c4("AUTH", "x")


def test_scripts(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, new = acl
    d("ACL", "SETUSER", "bob", "on", ">123", "+@scripting", "+set", "~x*")
    c = new()
    c("AUTH", "bob", "123")
    c("EVAL", "return redis.acl_check_cmd('set','xx',1)", "1", "xx")
    c("EVAL", "return redis.acl_check_cmd('hset','xx','f',1)", "1", "xx")
    c("EVAL", "return redis.acl_check_cmd('set','yy',1)", "0")
    c("EVAL", "return redis.pcall('set','yy',1)", "0")
    c("EVAL", "return redis.pcall('hset','xx','f',1)", "0")
    c("EVAL", "return redis.call('set','xx','1')", "1", "xx")
    got_m, got_r = c.both("EVAL", "return redis.call('hset','xx','f',1)", "1", "xx")
    for got in (got_m, got_r):  # the error position part differs between Lua builds
        assert got.startswith(
            b"-ERR The user executing the script can't run this command or subcommand script: "
        )
    c("GET", "x")
    c("SET", "yy", "1")
    c("SET", "xx", "1")


def test_exec_rechecks_and_deluser(acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, new = acl
    d("ACL", "SETUSER", "e", "on", "nopass", "+@all", "~*")
    c = new()
    c("AUTH", "e", "x")
    c("MULTI")
    c("SET", "a", "1")
    c("GET", "a")
    c("SET", "b", "1")
    d("ACL", "SETUSER", "e", "-get", "resetkeys", "~b")
    c("EXEC")
    d("ACL", "SETUSER", "e", "-exec")
    c("MULTI")
    c("EXEC")
    c("PING")
    d("ACL", "SETUSER", "e", "-@all", "+acl|whoami", "+acl|deluser")
    c("ACL", "WHOAMI")
    other = new()
    other("AUTH", "e", "x")
    c("ACL", "DELUSER", "e")
    for conn in (c, other):
        for raw in (conn.m, conn.real):
            with pytest.raises((ConnectionError, OSError)):
                raw.call("PING")


def test_acl_log_of_a_failed_auth_names_the_command_as_sent(
        acl: tuple[Differ, Callable[[], Differ]]) -> None:
    d, _ = acl
    for cmd in (("AUTH", "antirez", "wrong"), ("Auth", "x", "y"), ("HELLO", "2", "AUTH", "a", "b")):
        d("ACL", "LOG", "RESET")
        d(*cmd)
        objects = []
        for server in (d.m, d.real):
            entry = server.call("ACL", "LOG", "1")
            objects.append(entry.split(b"\r\n$6\r\nobject\r\n", 1)[1].split(b"\r\n")[1])
        assert objects[0] == objects[1] == cmd[0].encode(), objects
