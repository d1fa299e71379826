"""Certificates made for the TLS tests (trustme), and servers started with them."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
import trustme

from tests.helpers import REDIS_SERVER, ServerHandle, free_port, start_moonkv


@dataclass
class Pair:
    cert: str
    key: str


@dataclass
class Certs:
    dir: str
    ca: str  # the CA the servers trust, and that signed ``server`` and ``client``
    server: Pair
    server2: Pair  # another server certificate from the same CA (reloads)
    client: Pair
    other_ca: str  # a CA nobody trusts
    other_server: Pair  # signed by other_ca
    other_client: Pair  # signed by other_ca
    expired_client: Pair  # signed by ca, expired yesterday


def _write(ca: trustme.CA, d: str, name: str, **kw: object) -> Pair:
    leaf = ca.issue_cert("127.0.0.1", "localhost", common_name=name, **kw)  # type: ignore[arg-type]
    pair = Pair(os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key"))
    leaf.cert_chain_pems[0].write_to_path(pair.cert)
    leaf.private_key_pem.write_to_path(pair.key)
    return pair


@pytest.fixture(scope="session")
def certs() -> Certs:
    d = tempfile.mkdtemp(prefix="moonkv-tls-")
    ca, other = trustme.CA(), trustme.CA()
    ca_path, other_path = os.path.join(d, "ca.crt"), os.path.join(d, "other-ca.crt")
    ca.cert_pem.write_to_path(ca_path)
    other.cert_pem.write_to_path(other_path)
    now = datetime.datetime.now(datetime.UTC)
    return Certs(
        dir=d,
        ca=ca_path,
        server=_write(ca, d, "server"),
        server2=_write(ca, d, "server2"),
        client=_write(ca, d, "client"),
        other_ca=other_path,
        other_server=_write(other, d, "other-server"),
        other_client=_write(other, d, "other-client"),
        expired_client=_write(
            ca,
            d,
            "expired-client",
            not_before=now - datetime.timedelta(days=10),
            not_after=now - datetime.timedelta(days=1),
        ),
    )


def server_args(certs: Certs, tls_port: int, *extra: str) -> list[str]:
    return [
        "--tls-port", str(tls_port),
        "--tls-cert-file", certs.server.cert,
        "--tls-key-file", certs.server.key,
        "--tls-ca-cert-file", certs.ca,
        *extra,
    ]


def client_context(certs: Certs, pair: Pair | None = None, ca: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca or certs.ca)
    if pair is not None:
        ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def tls_connect(port: int, ctx: ssl.SSLContext, timeout: float = 10.0) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


def tls_call(port: int, ctx: ssl.SSLContext, payload: bytes = b"PING\r\n") -> bytes:
    """One request over a new TLS connection; raises if the handshake or the request fails.
    With TLS 1.3 a refused client certificate shows only at the first read."""
    with tls_connect(port, ctx) as s:
        s.sendall(payload)
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed by the server")
        return data


def wait_tls(port: int, ctx: ssl.SSLContext, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            if tls_call(port, ctx).startswith(b"+PONG"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no TLS PING answer on port {port}")


def start_tls_moonkv(certs: Certs, *extra: str, plain: bool = True) -> tuple[ServerHandle, int]:
    """moonkv with a TLS port (and its plaintext port unless ``plain`` is False)."""
    tls_port = free_port()
    args = ["--appendonly", "no", "--save", "", *server_args(certs, tls_port, *extra)]
    if plain:
        return start_moonkv(args), tls_port
    h = start_moonkv([*args, "--port", "0"], wait=False)
    try:
        wait_tls(tls_port, client_context(certs, certs.client), h.proc)
    except RuntimeError as e:
        h.stop()
        raise RuntimeError(f"{e}\n{h.read_log()}") from None
    return h, tls_port


def start_tls_redis(certs: Certs, *extra: str) -> tuple[ServerHandle, int]:
    """Debian's redis-server with the same TLS settings, TLS port only."""
    tls_port = free_port()
    d = tempfile.mkdtemp(prefix="redis-tls-")
    log = os.path.join(d, "redis.log")
    cmd = [
        REDIS_SERVER, "--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", d, "--logfile", log, *server_args(certs, tls_port, *extra),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    h = ServerHandle(proc, tls_port, d, log)
    try:
        wait_tls(tls_port, client_context(certs, certs.client), proc)
    except RuntimeError:
        h.stop()
        raise
    return h, tls_port


@pytest.fixture
def tls_moonkv(certs: Certs) -> Iterator[tuple[ServerHandle, int]]:
    h, port = start_tls_moonkv(certs)
    yield h, port
    h.stop()


def starts(cmd: Sequence[str], certs: Certs, tls_port: int) -> tuple[bool, str]:
    """Whether a server command line comes up on its TLS port (True) or exits (False);
    with what it printed."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_tls(tls_port, client_context(certs, certs.client), proc)
            up = True
        except RuntimeError:
            up = False
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        out.seek(0)
        return up, out.read().decode(errors="replace")
