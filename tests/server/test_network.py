"""The network layer against a real moonkv process (and real Redis where behaviour is compared)."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
import redis.asyncio

from tests.helpers import RawClient, ServerHandle, encode_command, free_port, start_moonkv


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True) or goes quiet (False)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def exchange(port: int, payload: bytes, quiet: float = 0.3) -> tuple[bytes, bool]:
    """Send ``payload``; return the replies and whether the server closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_closed(s, quiet)


def assert_alive(port: int) -> None:
    c = RawClient(port)
    try:
        assert c.call("PING") == b"+PONG\r\n"
    finally:
        c.close()


# --------------------------------------------------------------------------- pipelining


def test_pipeline_of_1000_commands_in_order(moonkv_server: ServerHandle) -> None:
    c = RawClient(moonkv_server.port)
    try:
        cmds = []
        for i in range(1000):
            if i % 2:
                cmds.append(encode_command(["ECHO", f"v{i}"]))
            else:
                cmds.append(encode_command(["SET", f"pipe:{i}", f"x{i}"]))
        c.send_raw(b"".join(cmds))
        for i in range(1000):
            reply = c.read_reply()
            want = b"$%d\r\nv%d\r\n" % (len(f"v{i}"), i) if i % 2 else b"+OK\r\n"
            assert reply == want, i
        assert c.call("GET", "pipe:998") == b"$4\r\nx998\r\n"
    finally:
        c.close()


def test_pipeline_split_into_single_bytes(moonkv_server: ServerHandle) -> None:
    payload = b"".join(encode_command(["ECHO", f"{i:03d}"]) for i in range(20)) + b"PING\r\n"
    with socket.create_connection(("127.0.0.1", moonkv_server.port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(payload)):
            s.sendall(payload[i : i + 1])
        want = b"".join(b"$3\r\n%03d\r\n" % i for i in range(20)) + b"+PONG\r\n"
        got = b""
        while len(got) < len(want):
            chunk = s.recv(65536)
            assert chunk
            got += chunk
        assert got == want


def test_large_value_roundtrip(r: redis.Redis) -> None:
    val = bytes(random.Random(1).getrandbits(8) for _ in range(1 << 16)) * 64  # 4 MiB
    r.set("big", val)
    assert r.get("big") == val


# --------------------------------------------------------------------------- protocol errors


PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b"SET a \"b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"*2\r\n$4\r\nECHO\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
]


@pytest.mark.parametrize(("payload", "error"), PROTOCOL_ERRORS)
def test_protocol_error_replies_then_closes(
    moonkv_server: ServerHandle, payload: bytes, error: bytes
) -> None:
    other = RawClient(moonkv_server.port)
    try:
        data, closed = exchange(moonkv_server.port, encode_command(["PING"]) + payload, quiet=3)
        assert data == b"+PONG\r\n" + error
        assert closed
        assert other.call("PING") == b"+PONG\r\n"
    finally:
        other.close()


def test_huge_bulk_header_fails_immediately(moonkv_server: ServerHandle) -> None:
    # Only the header: no payload follows, the error must not wait for it.
    with socket.create_connection(("127.0.0.1", moonkv_server.port), timeout=5) as s:
        t0 = time.monotonic()
        s.sendall(b"*2\r\n$3\r\nSET\r\n$1073741824\r\n")
        data, closed = read_until_closed(s, 3)
        assert data == b"-ERR Protocol error: invalid bulk length\r\n"
        assert closed and time.monotonic() - t0 < 2


def test_huge_multibulk_count_waits_like_redis(moonkv_server: ServerHandle) -> None:
    # 2^31-1 arguments is a legal header: Redis waits for them (and so must we, cheaply).
    with socket.create_connection(("127.0.0.1", moonkv_server.port), timeout=5) as s:
        s.sendall(b"*2147483647\r\n$4\r\nPING\r\n")
        data, closed = read_until_closed(s, 0.5)
        assert data == b"" and not closed
    assert_alive(moonkv_server.port)


def test_too_big_inline_request(moonkv_server: ServerHandle) -> None:
    data, closed = exchange(moonkv_server.port, b"x" * (70 * 1024), quiet=3)
    assert data == b"-ERR Protocol error: too big inline request\r\n" and closed


def test_quit_closes(moonkv_server: ServerHandle) -> None:
    data, closed = exchange(moonkv_server.port, encode_command(["QUIT"]) + encode_command(["PING"]), 3)
    assert data == b"+OK\r\n" and closed


def test_inline_commands(moonkv_server: ServerHandle) -> None:
    data, closed = exchange(moonkv_server.port, b"PING\r\nECHO \"a b\"\n\r\nPING x\r\n")
    assert data == b"+PONG\r\n$3\r\na b\r\n$1\r\nx\r\n" and not closed


GARBAGE_PIECES = [
    b"*1\r\n$4\r\nPING\r\n", b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", b"PING\r\n", b"\r\n", b"*0\r\n",
    b"*-1\r\n", b"*", b"$", b"\r", b"\n", b"1", b"-1", b"x", b"\"", b"'", b" ", b"\x00", b"*3\r\n",
    b"$5\r\n", b"ECHO", b"+OK\r\n", b":1\r\n", b"*2147483648\r\n", b"$-1\r\n", b"\\x41",
]


def garbage(rng: random.Random, ascii_only: bool = False) -> bytes:
    out = []
    top = 128 if ascii_only else 256
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.8:
            out.append(rng.choice(GARBAGE_PIECES))
        else:
            out.append(bytes(rng.randrange(top) for _ in range(rng.randint(1, 8))))
    return b"".join(out)


def test_garbage_fuzz_never_kills_the_server(moonkv_server: ServerHandle) -> None:
    rng = random.Random(20261122)
    for _ in range(150):
        payload = garbage(rng)
        exchange(moonkv_server.port, payload, quiet=0.02)
        assert moonkv_server.proc.poll() is None, payload
    assert_alive(moonkv_server.port)


def compare_with_redis(
    moonkv_server: ServerHandle, redis_server: ServerHandle, payloads: list[bytes]
) -> list[tuple[bytes, tuple[bytes, bool], tuple[bytes, bool]]]:
    mismatches = []
    for payload in payloads:
        got = exchange(moonkv_server.port, payload, quiet=0.15)
        want = exchange(redis_server.port, payload, quiet=0.15)
        if got != want:
            mismatches.append((payload, got, want))
    return mismatches


def test_garbage_fuzz_matches_redis(moonkv_server: ServerHandle, redis_server: ServerHandle) -> None:
    """Same bytes in, same bytes out (and same close) as real Redis (ASCII garbage)."""
    rng = random.Random(7)
    payloads = [garbage(rng, ascii_only=True) for _ in range(120)]
    mismatches = compare_with_redis(moonkv_server, redis_server, payloads)
    assert not mismatches, mismatches[:3]


def _pipe(*cmds: str) -> bytes:
    return b"".join(encode_command(c.split()) for c in cmds)


@pytest.mark.parametrize("payload", [
    # Data commands around a transaction, an error inside it, and an EXECABORT.
    _pipe("DEL pl:a pl:b", "SET pl:a 1", "MULTI", "SET pl:b 2", "INCR pl:a", "EXEC", "GET pl:a",
          "GET pl:b"),
    _pipe("SET pl:a 1", "MULTI", "GET pl:a", "SET pl:a", "EXEC", "GET pl:a"),
    _pipe("SET pl:a x", "MULTI", "INCR pl:a", "SET pl:b y", "EXEC", "MGET pl:a pl:b"),
    # CLIENT REPLY and SELECT change how later data commands are answered.
    _pipe("SET pl:c x", "CLIENT REPLY OFF", "SET pl:c y", "CLIENT REPLY ON", "GET pl:c"),
    _pipe("SET pl:c x", "CLIENT REPLY SKIP", "GET pl:c", "GET pl:c"),
    _pipe("SET pl:d 1", "SELECT 1", "GET pl:d", "SET pl:d 2", "SELECT 0", "GET pl:d"),
    # A blocking pop in the middle: what follows waits for it.
    _pipe("DEL pl:l", "RPUSH pl:l a", "LPOP pl:l", "BLPOP pl:l 0.1", "RPUSH pl:l b", "LPOP pl:l"),
    # Errors of every kind between data commands.
    _pipe("SET pl:e 1", "INCR pl:e", "HSET pl:e f v", "GET", "NOSUCH x", "get pl:e", "Get pl:e"),
    _pipe("SET pl:f 1", "WATCH pl:f", "SET pl:f 2", "MULTI", "GET pl:f", "EXEC", "GET pl:f"),
    _pipe("SET pl:g 1", "RESET", "GET pl:g", "PING"),
])
def test_pipelines_mixing_data_and_state_commands_match_redis(
    moonkv_server: ServerHandle, redis_server: ServerHandle, payload: bytes
) -> None:
    """Pipelined data commands take a shorter path (Server.execute_data) until a command
    that can change the client's state: the replies must stay Redis's, byte for byte."""
    got = exchange(moonkv_server.port, payload, quiet=0.6)  # BLPOP's timeout is 0.1 s
    want = exchange(redis_server.port, payload, quiet=0.6)
    assert got == want


def test_client_reply_skip_one_request_at_a_time_matches_redis(
    moonkv_server: ServerHandle, redis_server: ServerHandle
) -> None:
    """CLIENT REPLY SKIP silences the *next* command, also when each arrives in its own read."""
    cmds = ["SET pl:s x", "CLIENT REPLY SKIP", "GET pl:s", "INCR pl:n", "CLIENT REPLY SKIP",
            "CLIENT REPLY SKIP", "GET pl:s", "GET pl:s", "CLIENT REPLY OFF", "GET pl:s",
            "CLIENT REPLY ON", "DEL pl:n"]

    def replies(port: int) -> tuple[bytes, bool]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for cmd in cmds:
                sock.sendall(encode_command(cmd.split()))
                time.sleep(0.03)  # one read per request on the server side
            return read_until_closed(sock, 0.3)

    assert replies(moonkv_server.port) == replies(redis_server.port)


def test_protocol_error_names_the_raw_byte(
    moonkv_server: ServerHandle, redis_server: ServerHandle
) -> None:
    payloads = [b"*1\r\n\xc7\r\n", b"*1\r\n\x7f\r\n", b"*2\r\n$1\r\na\r\n\r\n"]
    assert not compare_with_redis(moonkv_server, redis_server, payloads)


def test_unknown_command_echoes_raw_bytes(
    moonkv_server: ServerHandle, redis_server: ServerHandle
) -> None:
    payloads = [b"\x93PING\r\n", encode_command([b"\xff\xfe", b"\x80arg"])]
    assert not compare_with_redis(moonkv_server, redis_server, payloads)


# --------------------------------------------------------------------------- clients


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sync(moonkv_server: ServerHandle, protocol: int) -> None:
    r = redis.Redis(port=moonkv_server.port, protocol=protocol)
    try:
        assert r.ping() is True
        assert r.set("net:k", "v") is True
        assert r.get("net:k") == b"v"
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set(f"net:{i}", i)
        p.get("net:99")
        assert p.execute()[-1] == b"99"
        assert r.echo(b"\x00\xff") == b"\x00\xff"
    finally:
        r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_asyncio(moonkv_server: ServerHandle, protocol: int) -> None:
    async def main() -> None:
        r = redis.asyncio.Redis(port=moonkv_server.port, protocol=protocol)
        try:
            assert await r.ping() is True
            await asyncio.gather(*(r.set(f"anet:{i}", i) for i in range(50)))
            got = await asyncio.gather(*(r.get(f"anet:{i}") for i in range(50)))
            assert got == [str(i).encode() for i in range(50)]
        finally:
            await r.aclose()

    asyncio.run(main())


def test_redis_cli(moonkv_server: ServerHandle) -> None:
    p = subprocess.run(["redis-cli", "-p", str(moonkv_server.port), "ping"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0 and p.stdout.strip() == "PONG"
    p = subprocess.run(["redis-cli", "-p", str(moonkv_server.port), "set", "cli:k", "a b"],
                       capture_output=True, text=True, timeout=20)
    assert p.stdout.strip() == "OK"
    p = subprocess.run(["redis-cli", "-p", str(moonkv_server.port), "get", "cli:k"],
                       capture_output=True, text=True, timeout=20)
    assert p.stdout.strip() == "a b"


def test_many_concurrent_clients(moonkv_server: ServerHandle) -> None:
    socks = [socket.create_connection(("127.0.0.1", moonkv_server.port), timeout=5)
             for _ in range(200)]
    try:
        for s in socks:
            s.sendall(b"PING\r\n")
        for s in socks:
            assert s.recv(16) == b"+PONG\r\n"
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------- process lifecycle


def test_sigterm_exits_cleanly() -> None:
    h = start_moonkv(["--appendonly", "no", "--save", ""])
    try:
        c = RawClient(h.port)
        assert c.call("SET", "k", "v") == b"+OK\r\n"
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(timeout=15) == 0
        assert "Traceback" not in h.read_log()
        c.close()
    finally:
        h.stop()


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moonkv", "server", *args],
                          capture_output=True, text=True, timeout=30)


def test_busy_port_gives_redis_lines() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = run_cli(["--port", str(port), "--appendonly", "no", "--save", ""])
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2, p.stderr
    assert lines[0].endswith(f"Warning: Could not create server TCP listening socket 127.0.0.1:{port}: "
                             "bind: Address already in use")
    assert lines[1].endswith(f"Failed listening on port {port} (TCP), aborting.")  # Redis's harness reads it


def test_limits_lift_after_auth() -> None:
    """Before AUTH: at most 10 arguments / 16 KiB bulks (Redis's limits); after AUTH: none."""
    h = start_moonkv(["--appendonly", "no", "--save", "", "--requirepass", "pw"], wait=False)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if exchange(h.port, b"PING\r\n", quiet=0.5)[0].startswith(b"-NOAUTH"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and h.proc.poll() is None, h.read_log()
            time.sleep(0.1)
        data, closed = exchange(h.port, encode_command(["MSET", *["k", "v"] * 6]), quiet=3)
        assert data == b"-ERR Protocol error: unauthenticated multibulk length\r\n" and closed
        c = RawClient(h.port)
        try:
            assert c.call("AUTH", "pw") == b"+OK\r\n"
            assert c.call("MSET", *["k", "v"] * 6) == b"+OK\r\n"
            assert c.call("SET", "big", "x" * 20000) == b"+OK\r\n"
        finally:
            c.close()
    finally:
        h.stop()


def test_config_set_port_and_bind_listen_anew_as_redis() -> None:
    from tests.helpers import both

    with both() as (m, real):
        for h in (m, real):
            c = RawClient(h.port)
            taken = socket.socket()
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            used = taken.getsockname()[1]
            try:
                # A port that cannot be bound: Redis's error, and every value of the
                # CONFIG SET rolled back (the apply step failed, not the checks).
                assert c.call("CONFIG", "SET", "maxmemory", "10000001", "port", used,
                              "client-query-buffer-limit", "10m") == (
                    b"-ERR CONFIG SET failed (possibly related to argument 'port') - "
                    b"Unable to listen on this port. Check server logs.\r\n")
                assert c.call("CONFIG", "GET", "maxmemory") == b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
                assert c.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n" % (
                    len(str(h.port)), h.port)
                assert c.call("CONFIG", "SET", "bind", "127.0.0.1", "port", used).startswith(
                    b"-ERR CONFIG SET failed (possibly related to argument 'bind') - ")
                # The same values again: nothing to do.
                assert c.call("CONFIG", "SET", "port", h.port) == b"+OK\r\n"
                assert c.call("PING") == b"+PONG\r\n"
            finally:
                taken.close()
            new = free_port()
            assert c.call("CONFIG", "SET", "port", new) == b"+OK\r\n"
            assert c.call("PING") == b"+PONG\r\n"  # connections stay
            n = RawClient(new)
            assert n.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n" % (len(str(new)), new)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", h.port), timeout=2).close()
            assert n.call("CONFIG", "SET", "bind", "127.0.0.1") == b"+OK\r\n"  # binds again
            again = RawClient(new)
            assert again.call("PING") == b"+PONG\r\n"
            again.close()
            n.close()
            c.close()
