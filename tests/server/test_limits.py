"""Limits that stop abuse: maxclients, timeout, tcp-keepalive, the query buffer of a waiting
client, AUTH failures counted and logged, and error replies that do not grow with the request.

Behaviour a client can see is checked on moonkv and on a redis-server started alike.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from moonkv.server._connection import keepalive
from tests.conftest import Differ
from tests.helpers import RawClient, both, encode_command, start_moonkv


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def one_call(port: int, *cmd: str) -> bytes:
    c = RawClient(port)
    try:
        return c.call(*cmd)
    finally:
        c.close()


def info_field(c: RawClient, section: str, name: str) -> int:
    text = c.call("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"{name} not in INFO {section}")


def test_maxclients_refuses_with_redis_text_and_counts() -> None:
    with both(["--maxclients", "2"]) as (m, real):
        for h in (m, real):
            first = RawClient(h.port)
            # The start-up probes (tests/helpers.py wait_port) are closed, but a loaded server
            # may not have seen them go yet: until it has, they count against maxclients, and
            # one that gave up waiting for PONG may have been refused already (counted).
            deadline = time.monotonic() + 30
            while info_field(first, "clients", "connected_clients") != 1:
                assert time.monotonic() < deadline, "the start-up probes' connections never went"
                time.sleep(0.05)
            second = RawClient(h.port)
            assert second.call("PING") == b"+PONG\r\n"
            rejected = info_field(first, "stats", "rejected_connections")
            third = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            assert third.recv(100) == b"-ERR max number of clients reached\r\n"
            assert closed_within(third, 5)
            third.close()
            assert info_field(first, "stats", "rejected_connections") == rejected + 1
            second.close()
            first.close()


def test_idle_clients_are_closed_but_not_blocked_subscribed_or_active_ones() -> None:
    with both(["--timeout", "1"]) as (m, real):
        for h in (m, real):
            idle = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            blocked = RawClient(h.port)
            blocked.send_raw(encode_command(["BLPOP", "nothing", "0"]))
            subscriber = RawClient(h.port)
            assert subscriber.call("SUBSCRIBE", "news") == b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
            active = RawClient(h.port)
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                assert active.call("PING") == b"+PONG\r\n"
                time.sleep(0.3)
            assert closed_within(idle, 0.1)
            pusher = RawClient(h.port)
            assert pusher.call("RPUSH", "nothing", "v") == b":1\r\n"
            assert blocked.read_reply() == b"*2\r\n$7\r\nnothing\r\n$1\r\nv\r\n"
            assert pusher.call("PUBLISH", "news", "hi") == b":1\r\n"
            assert subscriber.read_reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
            for c in (blocked, subscriber, active, pusher):
                c.close()
            idle.close()


def test_a_slow_upload_is_not_idle() -> None:
    with both(["--timeout", "1"]) as (m, real):
        for h in (m, real):
            c = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            c.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000\r\n")
            for _ in range(10):  # 4 s of trickling, 1 KB every 0.4 s
                time.sleep(0.4)
                c.sendall(b"x" * 400)
            c.sendall(b"\r\n")
            assert c.recv(100) == b"+OK\r\n"
            c.close()


def test_timeout_set_at_run_time() -> None:
    with both() as (m, real):
        for h in (m, real):
            idle = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            c = RawClient(h.port)
            assert not closed_within(idle, 1.5)
            assert c.call("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
            assert closed_within(idle, 4)
            c.close()
            idle.close()


def test_keepalive_sets_redis_timings() -> None:
    with socket.socket() as s:
        keepalive(s, 300)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 300
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 100
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
    with socket.socket() as s:
        keepalive(s, 0)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_accepted_sockets_get_keepalive() -> None:
    # The server side of a connection, as the kernel reports it (ss shows the keepalive timer).
    import shutil
    import subprocess

    ss = shutil.which("ss")
    if ss is None:
        pytest.fail("ss (iproute2) is needed to see the server's socket options")
    h = start_moonkv(["--appendonly", "no", "--save", "", "--tcp-keepalive", "77"])
    try:
        c = RawClient(h.port)
        assert c.call("PING") == b"+PONG\r\n"
        out = subprocess.run([ss, "-tno", "state", "established", f"( sport = :{h.port} )"],
                             capture_output=True, text=True, timeout=10).stdout
        # What is left of the 77 s (Linux's default is 2 h): ss may start seconds later on a
        # loaded machine, so not only 1min16sec or 1min17sec.
        timer = re.search(r"timer:\(keepalive,(?:(\d+)min)?(\d+)sec", out)
        assert timer is not None, out
        left = int(timer.group(1) or 0) * 60 + int(timer.group(2))
        assert 47 <= left <= 77, out
        c.close()
    finally:
        h.stop()


def test_a_waiting_client_keeps_its_bytes_under_the_query_buffer_limit() -> None:
    with both(["--client-query-buffer-limit", "1mb"]) as (m, real):
        for h in (m, real):
            c = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            c.sendall(encode_command(["BLPOP", "k", "0"]))
            time.sleep(0.2)
            cmd = encode_command(["SET", "a", "b"])
            try:
                for _ in range(2 * 1024 * 1024 // len(cmd) // 1000 + 1):
                    c.sendall(cmd * 1000)
            except OSError:
                pass
            assert closed_within(c, 5)
            c.close()
            assert one_call(h.port, "EXISTS", "a") == b":0\r\n"


def test_commands_behind_a_blocked_one_run_in_order_after_it() -> None:
    with both() as (m, real):
        replies = []
        for h in (m, real):
            c = RawClient(h.port)
            cmds = [["BLPOP", "q", "0"], *(["INCR", "n"] for _ in range(3000)), ["GET", "n"]]
            c.send_raw(b"".join(encode_command(x) for x in cmds))
            time.sleep(0.3)
            assert one_call(h.port, "GET", "n") == b"$-1\r\n"  # all of them wait
            assert one_call(h.port, "RPUSH", "q", "x") == b":1\r\n"
            replies.append(b"".join(c.read_reply() for _ in cmds))
            c.close()
        assert replies[0] == replies[1]
        assert replies[0].endswith(b"$4\r\n3000\r\n")


def test_unknown_command_echoes_at_most_128_bytes_of_arguments(diff: Differ) -> None:
    diff("NOSUCH", *["abcdefghij"] * 30)
    diff("NOSUCH", "x" * 200, "b")
    diff("NOSUCH", "x" * 127, "yy", "z")
    diff("NOSUCH", *["é"] * 100)


def test_auth_failures_are_counted_logged_and_in_the_acl_log() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", "", "--requirepass", "right"])
    try:
        c = RawClient(h.port)
        began = time.monotonic()
        for _ in range(3):
            assert c.call("AUTH", "wrong") == (
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        assert c.call("AUTH", "nobody", "x").startswith(b"-WRONGPASS")
        took = time.monotonic() - began
        assert c.call("AUTH", "right") == b"+OK\r\n"
        assert info_field(c, "stats", "acl_access_denied_auth") == 4
        log = c.call("ACL", "LOG", "1")
        assert b"$6\r\nreason\r\n$4\r\nauth\r\n" in log and b"$8\r\nusername\r\n$6\r\nnobody\r\n" in log
        c.call("ACL", "SETUSER", "limited", "on", "nopass", "~k", "+get")
        lc = RawClient(h.port)
        lc.call("AUTH", "limited", "x")
        assert lc.call("SET", "k", "v").startswith(b"-NOPERM")
        assert lc.call("GET", "other").startswith(b"-NOPERM")
        lc.close()
        assert info_field(c, "stats", "acl_access_denied_cmd") == 1
        assert info_field(c, "stats", "acl_access_denied_key") == 1
        c.close()
        time.sleep(0.2)
        logged = [ln for ln in h.read_log().splitlines() if "AUTH failed" in ln]
        # At most one line a second: the first failure, then the rest summed up later (the
        # four failures take milliseconds, or seconds on a loaded machine).
        assert logged and "AUTH failed for user 'default' from 127.0.0.1:" in logged[0]
        assert len(logged) <= 1 + int(took), (took, logged)
    finally:
        h.stop()
