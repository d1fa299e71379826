"""Bounded client buffers: client-output-buffer-limit (hard and soft, normal and pubsub),
flow control under a pipelined flood, and the buffer fields of CLIENT LIST and INFO.

Each test starts its own moonkv so the server's RSS can be read from /proc."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, ServerHandle, encode_command, running, start_moonkv

MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with running(start_moonkv(["--appendonly", "no", "--save", ""])) as h:
        yield h


def rss_kb(h: ServerHandle) -> int:
    with open(f"/proc/{h.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def client_line(admin: RawClient, name: str) -> str | None:
    listing = admin.call("CLIENT", "LIST").decode()
    for line in listing.split("\n"):
        if f"name={name} " in line:
            return line
    return None


def field(line: str, name: str) -> int:
    m = re.search(rf"\b{name}=(\d+)", line)
    assert m is not None, line
    return int(m.group(1))


def closed_by_server(sock: socket.socket, timeout: float = 10.0) -> bool:
    """Drain ``sock`` until the server closes it (True) or ``timeout`` passes (False)."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def test_config_formats_and_errors_as_redis(diff: Differ) -> None:
    d = diff
    d("CONFIG", "GET", "client-output-buffer-limit")
    try:
        for value in [
            "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80",
            "PUBSUB 1k 2K 3",  # k is 1000, kb 1024; the class is case-insensitive
            "slave 1 2 3",
            "normal 1 2 3 normal 4 5 6",  # the last group wins
            "",  # nothing changes
            "wrong number",
            "normal 1 2",
            "invalid_class 10mb 10mb 60",
            "master 10mb 10mb 60",
            "normal 10mbs 10mb 60",
            "replica 10mb 10mbs 60",
            "pubsub 10mb 10mb 60s",
            "normal -1 2 3",
            "normal 1 -2 3",
            "normal 1 2 -3",
            "normal 7 8 9 pubsub x 1 1",  # refused as a whole: normal stays as it was
        ]:
            d("CONFIG", "SET", "client-output-buffer-limit", value)
            d("CONFIG", "GET", "client-output-buffer-limit")
    finally:
        d("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60")


def _answer(port: int, db: int, *cmds: tuple[str, ...]) -> list[bytes] | None:
    """The replies to ``cmds``, sent in one pipeline from a new connection to ``db``; None
    when the server closes the connection (its output limit) instead."""
    cl = RawClient(port)
    try:
        cl.call("SELECT", db)
        cl.send_raw(b"".join(encode_command(cmd) for cmd in cmds))
        return [cl.read_reply() for _ in cmds]
    except OSError:  # closed or reset
        return None
    finally:
        cl.close()


def test_deferred_length_replies_count_whole_against_the_limit(diff: Differ) -> None:
    """Redis answers into a 16 KiB buffer that its output limit does not count, except for a
    reply whose length it sends deferred (KEYS, SMEMBERS, ZRANGEBYSCORE, ...): that one, and
    what follows it, is counted whole. Each reply here is 100-116 KB under a 100000-byte limit."""
    d = diff
    name = "x" * 96
    d("SELECT", "9")
    d("FLUSHDB")
    for i in range(1000):
        d("SET", f"{i:04d}{name}", "v")
    d("SELECT", "10")
    d("FLUSHDB")
    d("SET", "big", "v" * 108000)
    d("SET", "half", "v" * 50000)
    for i in range(0, 1000, 100):
        members = [f"{j:04d}{name}" for j in range(i, i + 100)]
        d("RPUSH", "list", *members)
        d("SADD", "set", *members)
        d("ZADD", "zset", *[x for m in members for x in ("0", m)])
    d("SET", "65k", "v" * 65000)
    for db, n in ((11, 500), (12, 324)):  # KEYS replies of 54 KB and 35 KB
        d("SELECT", str(db))
        d("FLUSHDB")
        for i in range(n):
            d("SET", f"{i:04d}{name}", "v")
    d("SELECT", "0")
    cases: list[tuple[int, tuple[tuple[str, ...], ...], bool]] = [
        # (db, a pipeline, whether Redis closes the client)
        (9, (("KEYS", "*"),), True),
        (10, (("GET", "big"),), False),
        (10, (("SMEMBERS", "set"),), True),
        (10, (("SINTER", "set"),), True),
        (10, (("ZRANGEBYSCORE", "zset", "-inf", "+inf"),), True),
        (10, (("ZRANGE", "zset", "-", "+", "BYLEX"),), True),
        (10, (("ZREVRANGEBYSCORE", "zset", "+inf", "-inf", "LIMIT", "0", "1000"),), True),
        # What follows a deferred reply counts whole too (104 KB): closed.
        (11, (("KEYS", "*"), ("SELECT", "10"), ("GET", "half")), True),
        # What precedes it may fill the reply buffer (100 KB, 16 KiB of it in the buffer).
        (12, (("SELECT", "10"), ("GET", "65k"), ("SELECT", "12"), ("KEYS", "*")), False),
    ]
    m_port, r_port = d.m.sock.getpeername()[1], d.real.sock.getpeername()[1]
    for db, cmds, _closed in cases:  # each single reply is between the limit and limit + 16 KiB
        if len(cmds) == 1:
            replies = _answer(m_port, db, *cmds)
            assert replies is not None and 100000 < len(replies[0]) < 100000 + 16384, cmds
    try:
        for server in (d.m, d.real):
            server.call("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0")
        for db, cmds, closed in cases:
            got = _answer(m_port, db, *cmds)
            want = _answer(r_port, db, *cmds)
            assert (want is None) == closed, (cmds, "redis")
            assert (got is None) == closed, (cmds, "moonkv")
            if got is not None and cmds[-1][0] != "KEYS":  # KEYS: each server's own order
                assert got == want, cmds
    finally:
        for server in (d.m, d.real):
            server.call("CONFIG", "SET", "client-output-buffer-limit",
                        "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60")
            for db in ("9", "10", "11", "12"):
                server.call("SELECT", db)
                server.call("FLUSHDB")
            server.call("SELECT", "0")


def test_subscriber_that_stops_reading_is_closed_at_pubsub_limit(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    sub = socket.create_connection(("127.0.0.1", server.port))
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        base = rss_kb(server)
        sub.sendall(encode_command(["CLIENT", "SETNAME", "slowsub"]) + encode_command(["SUBSCRIBE", "ch"]))
        deadline = time.monotonic() + 10
        while client_line(admin, "slowsub") is None or "sub=1" not in (client_line(admin, "slowsub") or ""):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # The default pubsub limits: hard 32mb. 256 KiB messages, never read by the subscriber.
        msg = b"x" * (256 * 1024)
        pub = RawClient(server.port)
        for _ in range(400):  # 100 MiB published in all, far past the limit
            pub.send_raw(encode_command([b"PUBLISH", b"ch", msg]))
        for _ in range(400):
            assert pub.read_reply() in (b":1\r\n", b":0\r\n")
        assert client_line(admin, "slowsub") is None
        assert admin.call("PUBSUB", "NUMSUB", "ch") == b"*2\r\n$2\r\nch\r\n:0\r\n"
        assert rss_kb(server) - base < 80 * 1024, "the server kept what the subscriber did not read"
        assert "scheduled to be closed ASAP for overcoming of output buffer limits." in server.read_log()
        assert "name=slowsub" in server.read_log()
        pub.close()
    finally:
        sub.close()
        admin.close()


def test_normal_client_hard_limit_drops_its_replies(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    try:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0")
        admin.call("SET", "big", "x" * 10000)
        admin.call("RPUSH", "list", *(["y" * 1000] * 150))
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            # One read: the pipeline's replies (150 KB) pass the limit, none is sent.
            s.sendall(b"".join(encode_command(["GET", "big"]) for _ in range(15)))
            assert closed_by_server(s)
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(encode_command(["LRANGE", "list", "0", "-1"]))
            s.settimeout(5)
            assert s.recv(1 << 20) == b""
        # A reply under the limit still goes out.
        assert admin.call("GET", "big") == b"$10000\r\n" + b"x" * 10000 + b"\r\n"
        assert "overcoming of output buffer limits" in server.read_log()
    finally:
        admin.close()


def test_huge_random_count_stops_at_the_hard_limit(server: ServerHandle) -> None:
    """HRANDFIELD/SRANDMEMBER/ZRANDMEMBER with a count of -999999999 (Redis's unit/obuf-limits):
    the client is closed for its output buffer at once, the server neither builds the billion
    elements nor grows, and a count whose reply fits is answered in full."""
    admin = RawClient(server.port)
    try:
        admin.call("HSET", "h", "a", "b")
        admin.call("SADD", "s", "a")
        admin.call("ZADD", "z", "1", "a")
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "normal 1000000 0 0")
        base = rss_kb(server)
        for cmd in (["HRANDFIELD", "h", "-999999999"], ["HRANDFIELD", "h", "-499999999", "WITHVALUES"],
                    ["SRANDMEMBER", "s", "-999999999"], ["ZRANDMEMBER", "z", "-999999999"],
                    ["ZRANDMEMBER", "z", "-499999999", "WITHSCORES"]):
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                s.sendall(encode_command(cmd))
                assert closed_by_server(s), cmd
            assert time.monotonic() - start < 5, cmd
        assert rss_kb(server) - base < 100 * 1024
        assert admin.call("HRANDFIELD", "h", "-3") == b"*3\r\n" + b"$1\r\na\r\n" * 3
        assert admin.call("SRANDMEMBER", "s", "-2") == b"*2\r\n" + b"$1\r\na\r\n" * 2
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
        assert admin.call("ZRANDMEMBER", "z", "-100000").startswith(b"*100000\r\n$1\r\na\r\n")
    finally:
        admin.close()


def test_unauthenticated_client_output_is_limited() -> None:
    """A client that has not authenticated and floods requests without reading is closed once
    1 MiB of its replies wait (Redis: 1024 bytes; unit/auth checks it cannot take more than a
    few MB), instead of being paused as an authenticated one is."""
    with running(start_moonkv(["--appendonly", "no", "--save", "", "--requirepass", "foobar"])) as h:
        with socket.create_connection(("127.0.0.1", h.port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            flood = encode_command(["SET", "x", "5"]) * 1000
            closed = False
            try:
                for _ in range(2000):  # 2M requests, 62 MB of -NOAUTH replies
                    s.sendall(flood)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            assert closed or closed_by_server(s)
        admin = RawClient(h.port)
        try:
            assert admin.call("GET", "x").startswith(b"-NOAUTH")  # a reply under the limit
            assert admin.call("AUTH", "foobar") == b"+OK\r\n"
            admin.call("SET", "big", "x" * 100000)
            assert admin.call("GET", "big") == b"$100000\r\n" + b"x" * 100000 + b"\r\n"
            assert "overcoming of output buffer limits" in h.read_log()
        finally:
            admin.close()


def test_soft_limit_closes_only_after_its_seconds(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    sub = socket.create_connection(("127.0.0.1", server.port))
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    try:
        admin.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 100000 2")
        sub.sendall(encode_command(["CLIENT", "SETNAME", "softsub"]) + encode_command(["SUBSCRIBE", "ch"]))
        deadline = time.monotonic() + 10
        while "sub=1" not in (client_line(admin, "softsub") or ""):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # Fill the output past the soft limit, then stop publishing.
        over_at = None
        while over_at is None:
            admin.call("PUBLISH", "ch", "x" * 10000)
            line = client_line(admin, "softsub")
            assert line is not None, "closed before its soft seconds"
            if field(line, "omem") > 100000:
                over_at = time.monotonic()
            assert time.monotonic() < deadline
        time.sleep(1.0)
        assert client_line(admin, "softsub") is not None, "closed before its soft seconds"
        # No more traffic: the server still closes it once the seconds have passed.
        while client_line(admin, "softsub") is not None:
            assert time.monotonic() - over_at < 6, "not closed after its soft seconds"
            time.sleep(0.1)
        assert time.monotonic() - over_at >= 1.9
    finally:
        sub.close()
        admin.close()


def test_pipelined_flood_of_large_replies_keeps_memory_bounded(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    try:
        admin.call("SET", "big", b"v" * MB)
        base = rss_kb(server)
        request = encode_command(["GET", "big"])
        s = socket.create_connection(("127.0.0.1", server.port))
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 3
        payload = request * 10000  # 10k GETs of a 1 MB value, never read
        while sent < len(payload) and time.monotonic() < deadline:
            try:
                sent += s.send(payload[sent : sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        grown = rss_kb(server) - base
        # Without flow control the server would hold up to 10 GB of replies.
        assert grown < 100 * 1024, f"server RSS grew by {grown} KiB"
        # The requests fit in the kernel's socket buffers; the server serves only what the
        # transport can take.
        stats = admin.call("INFO", "commandstats").decode()
        m = re.search(r"cmdstat_get:calls=(\d+)", stats)
        assert m is not None and int(m.group(1)) < 1000, stats
        line = admin.call("CLIENT", "LIST").decode()
        assert "omem=" in line
        info = admin.call("INFO", "clients").decode()
        assert field(info.replace(":", "="), "client_recent_max_output_buffer") > 0
        s.close()
        assert admin.call("PING") == b"+PONG\r\n"
    finally:
        admin.close()


def test_throttled_pipeline_answers_every_request_in_order(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    try:
        admin.call("SET", "big", b"v" * MB)
        admin.call("SET", "n", "0")
        c = RawClient(server.port, timeout=60)
        n = 60  # 60 MB of replies: the pipeline is served in several batches
        c.send_raw(b"".join(encode_command(["GET", "big"]) + encode_command(["INCR", "n"]) for _ in range(n)))
        want_big = b"$%d\r\n%s\r\n" % (MB, b"v" * MB)
        for i in range(n):
            assert c.read_reply() == want_big
            assert c.read_reply() == b":%d\r\n" % (i + 1)
        c.close()
    finally:
        admin.close()


def test_client_list_shows_query_and_output_buffers(server: ServerHandle) -> None:
    admin = RawClient(server.port)
    s = socket.create_connection(("127.0.0.1", server.port))
    try:
        s.sendall(encode_command(["CLIENT", "SETNAME", "partial"]))
        s.recv(100)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")  # an unfinished request
        deadline = time.monotonic() + 5
        while True:
            line = client_line(admin, "partial")
            assert line is not None
            if field(line, "qbuf") > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        # As Redis: the headers and whole arguments are consumed (argv-mem), "abc" waits.
        assert (field(line, "qbuf"), field(line, "argv-mem")) == (3, 4)
        assert field(line, "tot-mem") >= field(line, "qbuf")
        info = admin.call("INFO", "clients").decode()
        assert field(info.replace(":", "="), "client_recent_max_input_buffer") >= field(line, "qbuf")
    finally:
        s.close()
        admin.close()
