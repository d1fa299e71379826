"""Bad input on both ends of a link: a primary that disappears mid-snapshot or sends a
damaged one, a replica that stops reading, garbage in PSYNC/REPLCONF and in the stream."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import hiredis
import pytest

from moonkv.replication._stream import StreamError, StreamParser
from tests.helpers import RawClient, encode_command, running, start_moonkv
from tests.replication.util import client, info, nodes, wait_until


@contextmanager
def fake_primary(answer_psync: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[list[bytes]]]]:
    """A primary that completes the handshake, then lets ``answer_psync`` reply to each PSYNC."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    seen: list[list[bytes]] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        reader = hiredis.Reader()
        conn.settimeout(5)
        try:
            while not stop.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                reader.feed(data)
                while (cmd := reader.gets()) is not False:
                    seen.append(cmd)
                    if cmd[0].upper() == b"PING":
                        conn.sendall(b"+PONG\r\n")
                    elif cmd[0].upper() == b"PSYNC":
                        answer_psync(conn)
                        return
                    else:
                        conn.sendall(b"+OK\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1], seen
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def _cut_snapshot(conn: socket.socket) -> None:
    conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 100\r\n$100000\r\nMKVSNAP1" + b"\0" * 5000)


def _damaged_snapshot(conn: socket.socket) -> None:
    body = b"MKVSNAP1" + os.urandom(3000)
    conn.sendall(b"+FULLRESYNC " + b"b" * 40 + b" 7\r\n$%d\r\n" % len(body) + body)
    conn.recv(100)  # keep the link open until the replica gives up on it


@pytest.mark.parametrize("answer", [_cut_snapshot, _damaged_snapshot], ids=["cut", "damaged"])
def test_a_bad_snapshot_changes_nothing(answer: Callable[[socket.socket], None]) -> None:
    with nodes([]) as (h,), fake_primary(answer) as (port, seen):
        r = client(h)
        r.set("mine", "kept")
        assert r.execute_command("REPLICAOF", "127.0.0.1", port) == b"OK"
        # The handshake Redis replicas do, then the sync attempts, each failing.
        wait_until(lambda: sum(1 for c in seen if c[0].upper() == b"PSYNC") >= 2, what="two attempts")
        assert [c[0].upper() for c in seen[:5]] == [b"PING", b"REPLCONF", b"REPLCONF", b"PSYNC", b"PING"]
        assert seen[1][1:] == [b"listening-port", str(h.port).encode()]
        assert seen[2][1:] == [b"capa", b"eof", b"capa", b"psync2"]
        assert seen[3][1:] == [b"?", b"-1"]
        assert info(r)["master_link_status"] == "down"
        assert r.get("mine") == b"kept"
        assert r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert not [n for n in os.listdir(h.dir) if n.endswith(".tmp")]
        h.stop()
        # Nothing on disk changed either.
        with running(start_moonkv([], dir=h.dir, port=h.port)) as again:
            assert client(again).get("mine") == b"kept"


def test_masterauth_is_sent() -> None:
    with nodes(["--masterauth", "s3cret", "--masteruser", "repl"]) as (h,), fake_primary(_cut_snapshot) as (port, seen):
        r = client(h)
        r.execute_command("REPLICAOF", "127.0.0.1", port)
        wait_until(lambda: any(c[0].upper() == b"PSYNC" for c in seen), what="the handshake")
        assert seen[1] == [b"AUTH", b"repl", b"s3cret"]


def test_a_silent_primary_is_dropped_after_repl_timeout() -> None:
    """The primary accepts the PSYNC, then sends nothing (no PING): after repl-timeout the
    replica drops the link (its REPLCONF ACKs went out meanwhile) and connects again."""
    accepted: list[float] = []
    closed: list[float] = []
    received: list[bytes] = []

    def silent(conn: socket.socket) -> None:
        conn.sendall(b"+CONTINUE " + b"c" * 40 + b"\r\n")
        accepted.append(time.monotonic())
        got = b""
        while chunk := conn.recv(65536):  # until the replica hangs up
            got += chunk
        closed.append(time.monotonic())
        received.append(got)

    with nodes(["--repl-timeout", "2"]) as (h,), fake_primary(silent) as (port, seen):
        r = client(h)
        r.execute_command("REPLICAOF", "127.0.0.1", port)
        wait_until(lambda: sum(1 for c in seen if c[0].upper() == b"PSYNC") >= 2, 30, "a second PSYNC")
        assert closed, "the first link was not closed by the replica"
        assert 2.0 <= closed[0] - accepted[0] < 6.0
        assert received[0].startswith(encode_command(["REPLCONF", "ACK", "0"]))
        assert seen[-1][1:] == [b"c" * 40, b"1"]  # it continues the history it was given


def test_a_replica_that_stops_reading_is_dropped() -> None:
    with nodes(["--client-output-buffer-limit", "replica 262144 0 0"]) as (ph,):
        primary = client(ph)
        s = socket.create_connection(("127.0.0.1", ph.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.sendall(encode_command(["PSYNC", "?", "-1"]))  # and never read
            wait_until(lambda: info(primary)["connected_slaves"] == "1", what="the replica")
            wait_until(lambda: "state=online" in info(primary).get("slave0", ""), what="the sync")
            for _ in range(40):  # far more than the kernel's socket buffers hold
                p = primary.pipeline(transaction=False)
                for i in range(100):
                    p.set(f"k{i}", "x" * 10000)
                p.execute()
                if info(primary)["connected_slaves"] == "0":
                    break
            assert info(primary)["connected_slaves"] == "0"
            assert primary.ping()
            assert primary.dbsize() == 100
        finally:
            s.close()


def test_garbage_psync_and_replconf() -> None:
    with nodes([]) as (h,):
        c = RawClient(h.port)
        try:
            assert c.call("PSYNC", "x" * 40, "99999999999").startswith(b"+FULLRESYNC")
        finally:
            c.close()
        for args in (("PSYNC", "?", "-99999999999999999999"), ("PSYNC", "", ""), ("REPLCONF", "ACK")):
            c = RawClient(h.port)
            try:
                assert c.call(*args).startswith(b"-ERR")
            finally:
                c.close()
        c = RawClient(h.port)
        try:
            c.send_raw(encode_command(["REPLCONF", "ACK", "x"]) + encode_command(["REPLCONF", "GETACK", "*"])
                       + encode_command(["PING"]))
            assert c.read_reply() == b"+PONG\r\n"  # no reply to ACK and GETACK, as Redis
        finally:
            c.close()
        assert client(h).info("stats")["sync_full"] == 1


def test_stream_parser_rejects_garbage_and_waits_for_the_rest() -> None:
    p = StreamParser()
    p.feed(b"*2\r\n$3\r\nSET\r\n$1\r\nk")
    assert p.next() is None
    p.feed(b"\r\n*1\r\n$4\r\nPING\r\n")
    assert p.next() == [b"SET", b"k"]
    assert p.next() == [b"PING"]
    for bad in (b"+OK\r\n", b"*x\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$1\r\nab\r\n", b"*0\r\n"):
        q = StreamParser()
        q.feed(bad)
        with pytest.raises(StreamError):
            q.next()
