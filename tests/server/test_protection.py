"""Protected mode, enable-debug-command and enable-protected-configs, beside Redis 7.0.

Redis 7.0 calls a peer local only when its address is exactly 127.0.0.1 or ::1,
so a client connecting from 127.0.0.2 stands in for a remote one end to end:
every test sends the same thing to moonkv and to a redis-server started with the
same options, and compares the raw replies.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from moonkv.engine import is_local_peer
from tests.helpers import RawClient, ServerHandle, both, start_moonkv

REMOTE = "127.0.0.2"  # on Linux, the whole 127.0.0.0/8 reaches the loopback interface


def greeting(port: int, source: str) -> tuple[bytes, bool]:
    """What a new connection from ``source`` receives before it sends anything, and whether
    the server then closed it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
            s.settimeout(0.3)
    finally:
        s.close()


def call_from(port: int, source: str, *cmds: Sequence[str]) -> list[bytes]:
    c = RawClient(port, source=source)
    try:
        return [c.call(*cmd) for cmd in cmds]
    finally:
        c.close()


def same(m: ServerHandle, real: ServerHandle, source: str, *cmds: Sequence[str]) -> list[bytes]:
    got, want = call_from(m.port, source, *cmds), call_from(real.port, source, *cmds)
    assert got == want
    return got


def test_what_is_local_is_what_redis_7_0_calls_local() -> None:
    assert is_local_peer(("127.0.0.1", 5000))
    assert is_local_peer(("::1", 5000, 0, 0))
    assert is_local_peer("/tmp/moonkv.sock")  # a unix socket
    assert is_local_peer("")
    for remote in ("127.0.0.2", "10.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "fe80::1"):
        assert not is_local_peer((remote, 5000))


def test_protected_mode_denies_a_remote_peer_as_redis_does() -> None:
    with both() as (m, real):
        got, want = greeting(m.port, REMOTE), greeting(real.port, REMOTE)
        assert got == want
        assert got[0].startswith(b"-DENIED Redis is running in protected mode") and got[1]
        # A loopback client is served, and sees the refusal counted.
        for h in (m, real):
            info = call_from(h.port, "127.0.0.1", ("INFO", "stats"))[0]
            assert b"rejected_connections:1\r\n" in info


def test_protected_mode_lets_remote_peers_in_once_the_default_user_has_a_password() -> None:
    with both(["--requirepass", "secret"]) as (m, real):
        assert same(m, real, REMOTE, ("PING",), ("AUTH", "secret"), ("PING",)) == [
            b"-NOAUTH Authentication required.\r\n", b"+OK\r\n", b"+PONG\r\n"]


def test_protected_mode_follows_config_set_and_acl_changes() -> None:
    with both() as (m, real):
        for h in (m, real):
            assert greeting(h.port, REMOTE)[1]
        same(m, real, "127.0.0.1", ("CONFIG", "SET", "protected-mode", "no"))
        assert same(m, real, REMOTE, ("PING",)) == [b"+PONG\r\n"]
        same(m, real, "127.0.0.1", ("CONFIG", "SET", "protected-mode", "yes"))
        assert greeting(m.port, REMOTE) == greeting(real.port, REMOTE)
        # A password set through ACL counts as well as requirepass.
        same(m, real, "127.0.0.1", ("ACL", "SETUSER", "default", ">pw"))
        assert same(m, real, REMOTE, ("AUTH", "pw"), ("PING",)) == [b"+OK\r\n", b"+PONG\r\n"]


def test_protected_mode_off_from_the_command_line() -> None:
    with both(["--protected-mode", "no"]) as (m, real):
        assert same(m, real, REMOTE, ("PING",)) == [b"+PONG\r\n"]


DEBUG_CMDS = (
    ("DEBUG", "SLEEP", "0"),
    ("DEBUG", "HELP"),
    ("DEBUG", "NOSUCH"),
    ("DEBUG",),
    ("debug", "set-active-expire", "1"),
    ("CONFIG", "SET", "enable-debug-command", "yes"),
)


def test_debug_is_refused_by_default_with_redis_text() -> None:
    with both() as (m, real):
        got = same(m, real, "127.0.0.1", *DEBUG_CMDS, ("MULTI",), ("DEBUG", "SLEEP", "0"), ("EXEC",))
        assert got[0].startswith(b"-ERR DEBUG command not allowed. If the enable-debug-command")
        assert got[3] == b"-ERR wrong number of arguments for 'debug' command\r\n"
        info = [call_from(h.port, "127.0.0.1", ("INFO", "commandstats"))[0] for h in (m, real)]
        for text in info:
            assert b"cmdstat_debug:calls=0," in text


def test_debug_refusal_comes_before_authentication() -> None:
    with both(["--requirepass", "pw"]) as (m, real):
        got = same(m, real, "127.0.0.1", ("DEBUG", "SLEEP", "0"), ("GET", "k"))
        assert got[0].startswith(b"-ERR DEBUG command not allowed")
        assert got[1].startswith(b"-NOAUTH")


def test_debug_local_allows_loopback_only() -> None:
    with both(["--enable-debug-command", "local", "--protected-mode", "no"]) as (m, real):
        assert same(m, real, "127.0.0.1", ("DEBUG", "SLEEP", "0")) == [b"+OK\r\n"]
        assert same(m, real, REMOTE, ("DEBUG", "SLEEP", "0"))[0].startswith(b"-ERR DEBUG command not allowed")


def test_debug_yes_allows_everyone() -> None:
    with both(["--enable-debug-command", "yes", "--protected-mode", "no"]) as (m, real):
        for source in ("127.0.0.1", REMOTE):
            assert same(m, real, source, ("DEBUG", "SLEEP", "0")) == [b"+OK\r\n"]


def test_protected_configs_are_refused_by_default() -> None:
    with both() as (m, real):
        got = same(
            m, real, "127.0.0.1",
            ("CONFIG", "SET", "dbfilename", "other.rdb"),
            ("CONFIG", "SET", "dir", "/tmp"),
            ("CONFIG", "SET", "maxmemory", "0", "dbfilename", "x.rdb"),
            ("CONFIG", "GET", "dbfilename"),
            ("CONFIG", "SET", "enable-protected-configs", "yes"),
        )
        assert got[0] == (b"-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - "
                          b"can't set protected config\r\n")


def test_protected_configs_local_and_yes() -> None:
    with both(["--enable-protected-configs", "local", "--protected-mode", "no"]) as (m, real):
        assert same(m, real, "127.0.0.1", ("CONFIG", "SET", "dbfilename", "x.rdb"),
                    ("CONFIG", "GET", "dbfilename"))[0] == b"+OK\r\n"
        assert b"protected config" in same(m, real, REMOTE, ("CONFIG", "SET", "dbfilename", "y.rdb"))[0]
    with both(["--enable-protected-configs", "yes", "--protected-mode", "no"]) as (m, real):
        assert same(m, real, REMOTE, ("CONFIG", "SET", "dbfilename", "y.rdb"))[0] == b"+OK\r\n"


def test_moonkv_dir_stays_immutable_even_when_protected_configs_are_enabled() -> None:
    # A documented difference (docs/compatibility.md): the data directory is fixed at start.
    m = start_moonkv(["--appendonly", "no", "--save", "", "--enable-protected-configs", "yes"])
    try:
        got = call_from(m.port, "127.0.0.1", ("CONFIG", "SET", "dir", "/tmp"))
        assert got == [b"-ERR CONFIG SET failed (possibly related to argument 'dir') - "
                       b"can't set immutable config\r\n"]
    finally:
        m.stop()


@pytest.mark.parametrize("value", ["no", "yes", "local"])
def test_enable_options_are_reported_as_redis_does(value: str) -> None:
    with both(["--enable-debug-command", value, "--enable-protected-configs", value]) as (m, real):
        same(m, real, "127.0.0.1", ("CONFIG", "GET", "enable-debug-command"),
             ("CONFIG", "GET", "enable-protected-configs"))


def test_in_process_clients_count_as_local() -> None:
    import redis

    import moonkv

    local = moonkv.open(enable_debug_command="local")
    off = moonkv.open()
    try:
        assert local.execute_command("DEBUG", "SLEEP", "0") == b"OK"
        with pytest.raises(redis.ResponseError, match="DEBUG command not allowed"):
            off.execute_command("DEBUG", "SLEEP", "0")
    finally:
        local.close()
        off.close()
