"""Test helpers: start real servers (moonkv and Debian's redis-server) on free loopback ports,
and talk raw RESP to them so replies can be compared byte for byte."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                # Once connected, wait for the answer rather than open another probe: on a
                # loaded machine each abandoned probe is one more client until the server
                # sees it close (a --maxclients server refuses the next ones meanwhile).
                s.settimeout(max(0.5, min(5.0, deadline - time.monotonic())))
                s.sendall(b"PING\r\n")
                data = s.recv(64)
                if data.startswith((b"+PONG", b"-NOAUTH")):  # up (NOAUTH: a password is set)
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING")


class ServerHandle:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, dir: str, log: str) -> None:
        self.proc = proc
        self.port = port
        self.dir = dir
        self.log = log

    def stop(self, sig: int | None = None) -> None:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def read_log(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def start_moonkv(
    args: Sequence[str] = (), dir: str | None = None, port: int | None = None, wait: bool = True
) -> ServerHandle:
    port = port or free_port()
    dir = dir or tempfile.mkdtemp(prefix="moonkv-test-")
    log = os.path.join(tempfile.mkdtemp(prefix="moonkv-log-"), "server.log")
    cmd = [sys.executable, "-m", "moonkv", "server", "--port", str(port), "--dir", dir, *args]
    with open(log, "wb") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
    h = ServerHandle(proc, port, dir, log)
    return _ready(h) if wait else h


def _ready(h: ServerHandle) -> ServerHandle:
    """``h`` once it answers on its port; stopped, with its log in the error, if it cannot."""
    try:
        wait_port(h.port, h.proc)
    except RuntimeError as e:
        h.stop()
        raise RuntimeError(f"{e}\n{h.read_log()}") from None
    return h


def start_redis(args: Sequence[str] = (), port: int | None = None) -> ServerHandle:
    port = port or free_port()
    dir = tempfile.mkdtemp(prefix="redis-test-")
    log = os.path.join(dir, "redis.log")
    cmd = [
        REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", dir, "--logfile", log, *args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return ServerHandle(proc, port, dir, log)


def start_from_file(kind: str, conf: str, port: int, args: Sequence[str] = ()) -> ServerHandle:
    """moonkv or redis-server (``kind``) started with the configuration file ``conf`` (then
    ``args``), as ``<server> FILE [OPTIONS]``; the file sets the port (``port``) and the data
    directory."""
    log = os.path.join(tempfile.mkdtemp(prefix=f"{kind}-log-"), "server.log")
    cmd = [*([sys.executable, "-m", "moonkv", "server"] if kind == "moonkv" else [REDIS_SERVER]), conf, *args]
    with open(log, "wb") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return _ready(ServerHandle(proc, port, os.path.dirname(conf), log))


@contextmanager
def running(handle: ServerHandle) -> Iterator[ServerHandle]:
    try:
        yield handle
    finally:
        handle.stop()


def encode_command(args: Sequence[bytes | str | int]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RawClient:
    """A minimal RESP client that returns each reply's exact bytes."""

    def __init__(self, port: int, timeout: float = 10.0, source: str | None = None) -> None:
        # ``source``: connect from another loopback address (127.0.0.2 is not local to Redis).
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args: bytes | str | int) -> bytes:
        self.sock.sendall(encode_command(args))
        return self.read_reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_reply(self) -> bytes:
        line = self._line()
        t = line[:1]
        if t in (b"$", b"="):
            n = int(line[1:-2])
            if n < 0:
                return line
            while len(self.buf) < n + 2:
                self._fill()
            body, self.buf = self.buf[: n + 2], self.buf[n + 2 :]
            return line + body
        if t in (b"*", b"~", b">", b"%"):
            n = int(line[1:-2])
            if n < 0:
                return line
            items = n * 2 if t == b"%" else n
            return line + b"".join(self.read_reply() for _ in range(items))
        return line


def parse_reply(raw: bytes) -> Any:
    """A RESP2/RESP3 reply as nested Python values (type markers kept)."""

    def one(i: int) -> tuple[Any, int]:
        t = raw[i : i + 1]
        j = raw.index(b"\r\n", i)
        head = raw[i + 1 : j]
        i = j + 2
        if t in (b"$", b"="):
            n = int(head)
            if n < 0:
                return (t, None), i
            return (t, raw[i : i + n]), i + n + 2
        if t in (b"*", b"~", b">", b"%"):
            n = int(head)
            if n < 0:
                return (t, None), i
            items = []
            for _ in range(n * 2 if t == b"%" else n):
                v, i = one(i)
                items.append(v)
            return (t, items), i
        return (t, head), i

    v, _ = one(0)
    return v


def read_back(r: Any, dbs: Sequence[int] = (0,)) -> dict[tuple[int, bytes], object]:
    """Every key of ``dbs`` read back through a redis-py client: type, contents and
    whether it has a TTL (hashes and sets unordered, as Redis leaves big ones)."""
    out: dict[tuple[int, bytes], object] = {}
    for db in dbs:
        r.select(db)
        for k in r.keys("*"):
            t = r.type(k)
            if t == b"string":
                v: object = r.get(k)
            elif t == b"hash":
                v = r.hgetall(k)
            elif t == b"list":
                v = r.lrange(k, 0, -1)
            elif t == b"set":
                v = sorted(r.smembers(k))
            elif t == b"zset":
                v = r.zrange(k, 0, -1, withscores=True)
            elif t == b"stream":
                groups = r.xinfo_groups(k)
                v = (r.xrange(k), r.xinfo_stream(k)["last-generated-id"], sorted(str(g) for g in groups))
            else:  # "none": it expired since KEYS listed it
                continue
            out[(db, k)] = (t, v, r.pttl(k) > 0)
    r.select(0)
    return out


@contextmanager
def both(args: Sequence[str] = ()) -> Iterator[tuple[ServerHandle, ServerHandle]]:
    """moonkv and a real redis-server started with the same directives, both stopped after."""
    m = start_moonkv(["--appendonly", "no", "--save", "", *args])
    try:
        real = start_redis(args)
        try:
            yield m, real
        finally:
            real.stop()
    finally:
        m.stop()
