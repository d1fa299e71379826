"""TLS against real moonkv processes, with certificates made by trustme, and the same
settings checked against Debian's redis-server where behaviour is compared."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis
import redis.asyncio
from cryptography.hazmat.primitives import serialization

from moonkv.engine import Config
from moonkv.tls import client_context as moonkv_client_context
from tests.helpers import (
    REDIS_SERVER,
    RawClient,
    ServerHandle,
    encode_command,
    free_port,
    start_moonkv,
)
from tests.tls.conftest import (
    Certs,
    client_context,
    server_args,
    start_tls_moonkv,
    start_tls_redis,
    starts,
    tls_call,
    tls_connect,
)

PONG = b"+PONG\r\n"


def peer_der(port: int, ctx: ssl.SSLContext) -> bytes:
    with tls_connect(port, ctx) as s:
        der = s.getpeercert(binary_form=True)
        assert der is not None
        return der


def file_der(path: str) -> bytes:
    with open(path, encoding="ascii") as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def refused(port: int, ctx: ssl.SSLContext) -> bool:
    try:
        tls_call(port, ctx)
    except (OSError, ConnectionError):
        return True
    return False


class TlsRaw(RawClient):
    """RawClient over TLS: exact reply bytes."""

    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 30.0) -> None:
        self.sock = tls_connect(port, ctx, timeout)
        self.buf = b""


# --------------------------------------------------------------------------- clients


def test_redis_cli_over_tls(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    _, port = tls_moonkv
    base = [
        "redis-cli", "-p", str(port), "--tls", "--cacert", certs.ca,
        "--cert", certs.client.cert, "--key", certs.client.key,
    ]
    out = subprocess.run([*base, "SET", "cli", "over tls"], capture_output=True, timeout=30)
    assert out.stdout == b"OK\n", out
    out = subprocess.run([*base, "GET", "cli"], capture_output=True, timeout=30)
    assert out.stdout == b"over tls\n", out
    # Without the CA redis-cli refuses the server's certificate.
    out = subprocess.run(["redis-cli", "-p", str(port), "--tls", "PING"], capture_output=True, timeout=30)
    assert b"PONG" not in out.stdout
    assert b"certificate verify failed" in out.stdout + out.stderr


def test_redis_py_sync_and_asyncio(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    _, port = tls_moonkv
    opts: dict[str, object] = {
        "port": port, "ssl": True, "ssl_ca_certs": certs.ca,
        "ssl_certfile": certs.client.cert, "ssl_keyfile": certs.client.key, "socket_timeout": 30,
    }
    r = redis.Redis(**opts)  # type: ignore[arg-type]
    try:
        assert r.set("py", "sync")
        assert r.get("py") == b"sync"
        pipe = r.pipeline(transaction=False)
        for _ in range(200):
            pipe.incr("py:n")
        assert pipe.execute()[-1] == 200
    finally:
        r.close()

    async def run() -> tuple[bytes | None, int]:
        a = redis.asyncio.Redis(**opts)  # type: ignore[arg-type]
        try:
            await a.set("py", "async")
            return await a.get("py"), await a.incrby("py:n", 5)
        finally:
            await a.aclose()

    assert asyncio.run(run()) == (b"async", 205)


# --------------------------------------------------------------------------- client certificates


def test_client_certificate_required(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    h, port = tls_moonkv
    assert tls_call(port, client_context(certs, certs.client)) == PONG
    assert refused(port, client_context(certs))  # no certificate
    assert refused(port, client_context(certs, certs.other_client))  # signed by an unknown CA
    assert refused(port, client_context(certs, certs.expired_client))
    assert tls_call(port, client_context(certs, certs.client)) == PONG
    log = h.read_log()
    assert "Error accepting a client connection: " in log
    assert "peer did not return a certificate" in log
    assert "certificate has expired" in log or "certificate verify failed" in log


def test_client_certificate_optional(certs: Certs) -> None:
    h, port = start_tls_moonkv(certs, "--tls-auth-clients", "optional")
    try:
        assert tls_call(port, client_context(certs)) == PONG
        assert tls_call(port, client_context(certs, certs.client)) == PONG
        # A certificate, when given, must still be good.
        assert refused(port, client_context(certs, certs.other_client))
        assert refused(port, client_context(certs, certs.expired_client))
    finally:
        h.stop()


def test_client_certificate_off(certs: Certs) -> None:
    h, port = start_tls_moonkv(certs, "--tls-auth-clients", "no")
    try:
        assert tls_call(port, client_context(certs)) == PONG
        assert tls_call(port, client_context(certs, certs.other_client)) == PONG
        # CONFIG SET turns it on for the connections that come next; this one stays.
        c = TlsRaw(port, client_context(certs))
        try:
            assert c.call("CONFIG", "SET", "tls-auth-clients", "yes") == b"+OK\r\n"
            assert refused(port, client_context(certs))
            assert tls_call(port, client_context(certs, certs.client)) == PONG
            assert c.call("PING") == PONG
        finally:
            c.close()
    finally:
        h.stop()


def test_server_certificate_from_an_unknown_ca_refused(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    _, port = tls_moonkv
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_call(port, client_context(certs, certs.client, ca=certs.other_ca))


# --------------------------------------------------------------------------- ports


def test_plaintext_client_on_the_tls_port(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    h, port = tls_moonkv
    good = TlsRaw(port, client_context(certs, certs.client))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"PING\r\n")
            started = time.monotonic()
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            assert data == b""  # closed, not answered
            assert time.monotonic() - started < 5
        assert good.call("PING") == PONG  # others go on
        assert tls_call(port, client_context(certs, certs.client)) == PONG
        assert_alive_plain(h.port)
        deadline = time.monotonic() + 5
        while "wrong version number" not in h.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Error accepting a client connection: [SSL: WRONG_VERSION_NUMBER] wrong version number" in h.read_log()
    finally:
        good.close()


def assert_alive_plain(port: int) -> None:
    c = RawClient(port)
    try:
        assert c.call("PING") == PONG
    finally:
        c.close()


def test_tls_and_plaintext_ports_at_once(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    h, port = tls_moonkv
    plain = RawClient(h.port)
    tls = TlsRaw(port, client_context(certs, certs.client))
    try:
        assert plain.call("SET", "both", "plain") == b"+OK\r\n"
        assert tls.call("GET", "both") == b"$5\r\nplain\r\n"
        assert tls.call("APPEND", "both", "+tls") == b":9\r\n"
        assert plain.call("GET", "both") == b"$9\r\nplain+tls\r\n"
        clients = plain.call("CLIENT", "LIST").decode()
        assert f"laddr=127.0.0.1:{port} " in clients
        assert f"laddr=127.0.0.1:{h.port} " in clients
    finally:
        plain.close()
        tls.close()


def test_port_0_serves_tls_only(certs: Certs) -> None:
    h, port = start_tls_moonkv(certs, plain=False)
    try:
        c = TlsRaw(port, client_context(certs, certs.client))
        try:
            assert c.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n"
            info = c.call("INFO", "server").decode()
            assert f"tcp_port:{port}\r\n" in info  # as Redis: the TLS port when port is 0
        finally:
            c.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", h.port), timeout=5).close()
    finally:
        h.stop()


def test_no_port_at_all_refuses_to_start(certs: Certs) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "moonkv", "server", "--port", "0", "--dir", tempfile.mkdtemp()],
        capture_output=True, timeout=60,
    )
    assert out.returncode == 1
    assert b"Configured to not listen anywhere, exiting." in out.stderr


def test_config_set_tls_port_moves_the_listener(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    h, port = tls_moonkv
    ctx = client_context(certs, certs.client)
    c = TlsRaw(port, ctx)
    try:
        new = free_port()
        assert c.call("CONFIG", "SET", "tls-port", new) == b"+OK\r\n"
        assert tls_call(new, ctx) == PONG
        with pytest.raises(OSError):
            tls_call(port, ctx)
        assert c.call("PING") == PONG  # the connection made on the old port stays
        busy = h.port
        assert c.call("CONFIG", "SET", "tls-port", busy) == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - "
            b"Unable to listen on this port. Check server logs.\r\n"
        )
        assert c.call("CONFIG", "GET", "tls-port") == b"*2\r\n$8\r\ntls-port\r\n$%d\r\n%d\r\n" % (len(str(new)), new)
        assert c.call("CONFIG", "SET", "tls-port", 0) == b"+OK\r\n"
        with pytest.raises(OSError):
            tls_call(new, ctx)
        assert c.call("PING") == PONG
        # And back on: a TLS port opened at run time.
        again = free_port()
        assert c.call("CONFIG", "SET", "tls-port", again) == b"+OK\r\n"
        assert tls_call(again, ctx) == PONG
    finally:
        c.close()


# --------------------------------------------------------------------------- reload


def test_reload_under_load(certs: Certs) -> None:
    """Clients keep sending while CONFIG SET switches the certificate back and forth:
    no command fails on the existing connections, new connections see the new one."""
    h, port = start_tls_moonkv(certs, plain=False)
    ctx = client_context(certs, certs.client)
    stop = threading.Event()
    counts = [0] * 4
    errors: list[str] = []

    def worker(i: int) -> None:
        try:
            c = TlsRaw(port, ctx)
        except OSError as e:
            errors.append(f"connect {i}: {e!r}")
            return
        try:
            while not stop.is_set():
                got = c.call("INCR", "reload:n")
                if not got.startswith(b":"):
                    errors.append(f"worker {i}: {got!r}")
                    return
                counts[i] += 1
        except OSError as e:
            errors.append(f"worker {i}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(counts))]
    for t in threads:
        t.start()
    admin = TlsRaw(port, ctx)
    try:
        deadline = time.monotonic() + 60
        for rnd in range(6):
            pair = certs.server2 if rnd % 2 == 0 else certs.server
            assert admin.call("CONFIG", "SET", "tls-cert-file", pair.cert, "tls-key-file", pair.key) == b"+OK\r\n"
            assert peer_der(port, ctx) == file_der(pair.cert)
            # New connections also do work while the others run.
            assert tls_call(port, ctx, encode_command(["INCR", "reload:fresh"])).startswith(b":")
            time.sleep(0.1)
            assert time.monotonic() < deadline
        stop.set()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert all(counts), counts
        assert admin.call("GET", "reload:n") == b"$%d\r\n%d\r\n" % (len(str(sum(counts))), sum(counts))
    finally:
        stop.set()
        admin.close()
        h.stop()


def test_reload_of_the_same_path_reads_the_file_again(certs: Certs) -> None:
    d = tempfile.mkdtemp(prefix="moonkv-tls-rotate-")
    cert, key = f"{d}/live.crt", f"{d}/live.key"
    shutil.copy(certs.server.cert, cert)
    shutil.copy(certs.server.key, key)
    h, port = start_tls_moonkv(certs, "--tls-cert-file", cert, "--tls-key-file", key, plain=False)
    ctx = client_context(certs, certs.client)
    try:
        assert peer_der(port, ctx) == file_der(certs.server.cert)
        shutil.copy(certs.server2.cert, cert)
        shutil.copy(certs.server2.key, key)
        c = TlsRaw(port, ctx)
        try:
            assert c.call("CONFIG", "SET", "tls-cert-file", cert, "tls-key-file", key) == b"+OK\r\n"
        finally:
            c.close()
        assert peer_der(port, ctx) == file_der(certs.server2.cert)
    finally:
        h.stop()


def test_bad_reload_keeps_the_old_context(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    h, port = tls_moonkv
    ctx = client_context(certs, certs.client)
    c = TlsRaw(port, ctx)
    try:
        # The key of another certificate: refused as a whole, nothing changes.
        got = c.call("CONFIG", "SET", "tls-cert-file", certs.server2.cert, "tls-key-file", certs.other_server.key)
        assert got == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - "
            b"Unable to update TLS configuration. Check server logs.\r\n"
        )
        assert c.call("CONFIG", "GET", "tls-cert-file") == b"*2\r\n$13\r\ntls-cert-file\r\n$%d\r\n%s\r\n" % (
            len(certs.server.cert), certs.server.cert.encode())
        assert peer_der(port, ctx) == file_der(certs.server.cert)
        assert c.call("PING") == PONG
        assert "Failed to load private key: " in h.read_log()
    finally:
        c.close()


# --------------------------------------------------------------------------- Redis's behaviour


TLS_DIRECTIVES = (
    "tls-port", "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
    "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file",
    "tls-ca-cert-dir", "tls-auth-clients", "tls-protocols", "tls-ciphers", "tls-ciphersuites",
    "tls-prefer-server-ciphers", "tls-session-caching", "tls-session-cache-size",
    "tls-session-cache-timeout", "tls-replication", "tls-cluster",
)


def test_config_get_and_set_as_redis(certs: Certs) -> None:
    ctx = client_context(certs, certs.client)
    m, mport = start_tls_moonkv(certs, plain=False)
    try:
        r, rport = start_tls_redis(certs)
        try:
            mc, rc = TlsRaw(mport, ctx), TlsRaw(rport, ctx)
            try:
                for name in TLS_DIRECTIVES:
                    if name == "tls-port":
                        continue  # the ports differ
                    assert mc.call("CONFIG", "GET", name) == rc.call("CONFIG", "GET", name), name
                bad = [
                    ("tls-cert-file", "/nonexistent/cert.pem"),
                    ("tls-key-file", certs.other_server.key),
                    ("tls-ca-cert-file", "/nonexistent/ca.pem"),
                    ("tls-protocols", "TLSv1.4"),
                    ("tls-ciphers", "NO-SUCH-CIPHER"),
                    ("tls-ciphersuites", "NO_SUCH_SUITE"),
                    ("tls-auth-clients", "maybe"),
                    ("tls-session-caching", "perhaps"),
                    ("tls-port", "70000"),
                ]
                for name, value in bad:
                    got, want = mc.call("CONFIG", "SET", name, value), rc.call("CONFIG", "SET", name, value)
                    assert got == want, (name, got, want)
                    assert got.startswith(b"-ERR CONFIG SET failed"), got
                good = [
                    ("tls-protocols", "TLSv1.2 TLSv1.3"),
                    ("tls-ciphers", "HIGH:!aNULL"),
                    ("tls-prefer-server-ciphers", "yes"),
                    ("tls-session-caching", "no"),
                    ("tls-replication", "yes"),
                    ("tls-cluster", "yes"),
                    ("tls-auth-clients", "optional"),
                    ("tls-cert-file", certs.server2.cert),
                ]
                for name, value in good:
                    # tls-cert-file alone mismatches the key: both refuse it.
                    got, want = mc.call("CONFIG", "SET", name, value), rc.call("CONFIG", "SET", name, value)
                    assert got == want, (name, got, want)
                assert mc.call("CONFIG", "SET", "tls-cert-file", certs.server2.cert, "tls-key-file", certs.server2.key) == (
                    rc.call("CONFIG", "SET", "tls-cert-file", certs.server2.cert, "tls-key-file", certs.server2.key)
                ) == b"+OK\r\n"
                # With tls-replication on, the client certificate of the links must load.
                bad_client = ["tls-client-cert-file", "/nonexistent/c.pem", "tls-client-key-file", "/nonexistent/c.key"]
                got, want = mc.call("CONFIG", "SET", *bad_client), rc.call("CONFIG", "SET", *bad_client)
                assert got == want, (got, want)
                assert got.startswith(b"-ERR CONFIG SET failed"), got
                for name in TLS_DIRECTIVES:
                    if name != "tls-port":
                        assert mc.call("CONFIG", "GET", name) == rc.call("CONFIG", "GET", name), name
                # Both still serve, with the new certificate.
                assert peer_der(mport, ctx) == peer_der(rport, ctx) == file_der(certs.server2.cert)
            finally:
                mc.close()
                rc.close()
        finally:
            r.stop()
    finally:
        m.stop()


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="complete"),
        pytest.param(["--tls-ca-cert-file", ""], id="no-ca-with-client-auth"),
        pytest.param(["--tls-ca-cert-file", "", "--tls-auth-clients", "no"], id="no-ca-without-client-auth"),
        pytest.param(["--tls-cert-file", ""], id="no-cert"),
        pytest.param(["--tls-key-file", ""], id="no-key"),
        pytest.param(["--tls-cert-file", "/nonexistent.crt"], id="missing-cert"),
        pytest.param(["KEY-MISMATCH"], id="key-mismatch"),
        pytest.param(["--tls-protocols", "TLSv1.2"], id="tls12-only"),
        pytest.param(["--tls-protocols", "SSLv3"], id="bad-protocol"),
        pytest.param(["--tls-ciphers", "NO-SUCH-CIPHER"], id="bad-ciphers"),
        pytest.param(["--tls-ciphersuites", "NO_SUCH_SUITE"], id="bad-ciphersuites"),
        pytest.param(["--tls-ca-cert-file", "", "--tls-ca-cert-dir", "CADIR"], id="ca-dir"),
        pytest.param(["--tls-dh-params-file", "DHPARAMS"], id="dh-params"),
        pytest.param(["--tls-dh-params-file", "/nonexistent/dh.pem"], id="missing-dh-params"),
    ],
)
def test_startup_accepts_and_refuses_as_redis(certs: Certs, extra: list[str]) -> None:
    if extra == ["KEY-MISMATCH"]:
        extra = ["--tls-key-file", certs.other_server.key]
    if "CADIR" in extra:
        cadir = tempfile.mkdtemp(prefix="moonkv-cadir-")
        shutil.copy(certs.ca, f"{cadir}/ca.pem")
        subprocess.run(["openssl", "rehash", cadir], check=True, capture_output=True)
        extra = [cadir if a == "CADIR" else a for a in extra]
    if "DHPARAMS" in extra:
        dh = f"{tempfile.mkdtemp(prefix='moonkv-dh-')}/dh.pem"
        subprocess.run(
            ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", dh],
            check=True, capture_output=True,
        )
        extra = [dh if a == "DHPARAMS" else a for a in extra]
    results = []
    for kind in ("moonkv", "redis"):
        port = free_port()
        d = tempfile.mkdtemp(prefix=f"{kind}-tls-start-")
        if kind == "moonkv":
            cmd = [sys.executable, "-m", "moonkv", "server", "--appendonly", "no", "--save", ""]
        else:
            cmd = [REDIS_SERVER, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
        cmd += ["--port", "0", "--dir", d, *server_args(certs, port, *extra)]
        results.append(starts(cmd, certs, port))
    (m_up, m_out), (r_up, r_out) = results
    assert m_up == r_up, f"moonkv up={m_up}:\n{m_out}\nredis up={r_up}:\n{r_out}"
    if not m_up:
        assert "Failed to configure TLS. Check logs for more info." in m_out
        assert "Failed to configure TLS. Check logs for more info." in r_out


def test_encrypted_key_with_its_pass_phrase(certs: Certs) -> None:
    d = tempfile.mkdtemp(prefix="moonkv-tls-pass-")
    with open(certs.server.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    locked = f"{d}/locked.key"
    with open(locked, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        ))
    h, port = start_tls_moonkv(certs, "--tls-key-file", locked, "--tls-key-file-pass", "s3cret", plain=False)
    h.stop()
    for extra in (["--tls-key-file-pass", "wrong"], []):
        tls_port = free_port()
        cmd = [
            sys.executable, "-m", "moonkv", "server", "--port", "0", "--dir", d, "--appendonly", "no",
            *server_args(certs, tls_port, "--tls-key-file", locked, *extra),
        ]
        up, out = starts(cmd, certs, tls_port)
        assert not up, out
        assert f"Failed to load private key: {locked}" in out


def test_client_context_for_moonkv_links_against_redis(certs: Certs) -> None:
    """The context replication and cluster links will use, against a TLS redis-server
    that requires client certificates."""
    r, rport = start_tls_redis(certs)
    try:
        for extra in (
            [],  # tls-cert-file doubles as the client certificate
            [("tls-client-cert-file", certs.client.cert), ("tls-client-key-file", certs.client.key)],
        ):
            cfg = Config()
            for name, value in [
                ("tls-cert-file", certs.server.cert),
                ("tls-key-file", certs.server.key),
                ("tls-ca-cert-file", certs.ca),
                *extra,
            ]:
                cfg.load(name, value)
            ctx = moonkv_client_context(cfg)
            with socket.create_connection(("127.0.0.1", rport), timeout=10) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.sendall(b"PING\r\n")
                    assert s.recv(100) == PONG
        # It checks the server: a CA that did not sign redis-server's certificate fails.
        cfg = Config()
        for name, value in [
            ("tls-cert-file", certs.client.cert),
            ("tls-key-file", certs.client.key),
            ("tls-ca-cert-file", certs.other_ca),
        ]:
            cfg.load(name, value)
        with socket.create_connection(("127.0.0.1", rport), timeout=10) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                moonkv_client_context(cfg).wrap_socket(raw)
    finally:
        r.stop()


# --------------------------------------------------------------------------- busy scripts


def test_busy_script_leaves_tls_connections_intact(certs: Certs) -> None:
    """While a script is busy, plaintext clients get -BUSY from the responder thread; a
    TLS client is left alone and gets its reply, intact, once the script ends."""
    h, port = start_tls_moonkv(certs, "--lua-time-limit", "100")
    ctx = client_context(certs, certs.client)
    tls = TlsRaw(port, ctx)
    runner = RawClient(h.port)
    try:
        assert tls.call("SET", "busy:k", "v") == b"+OK\r\n"
        runner.send_raw(encode_command(["EVAL", "while true do end", "0"]))
        deadline = time.monotonic() + 30
        while True:
            # A new connection each time: one that still held a reply when the script
            # turned busy is left to wait for the script (docs/architecture.md).
            # (A probe accepted just before the script started waits too: time it out.)
            probe = RawClient(h.port, timeout=1)
            try:
                got = probe.call("PING")
            except TimeoutError:
                got = b""
            finally:
                probe.close()
            if got.startswith(b"-BUSY"):
                break
            assert time.monotonic() < deadline, "the script never turned busy"
            time.sleep(0.02)
        tls.send_raw(encode_command(["GET", "busy:k"]))
        tls.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            tls.sock.recv(100)  # not answered (and not -BUSY) while the script runs
        tls.sock.settimeout(30)
        killer = RawClient(h.port)
        try:
            assert killer.call("SCRIPT", "KILL") == b"+OK\r\n"
        finally:
            killer.close()
        assert runner.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL")
        assert tls.read_reply() == b"$1\r\nv\r\n"
        assert tls.call("PING") == PONG
        assert tls_call(port, ctx) == PONG
    finally:
        tls.close()
        runner.close()
        h.stop()


def test_big_values_quit_and_protocol_errors_over_tls(certs: Certs, tls_moonkv: tuple[ServerHandle, int]) -> None:
    _, port = tls_moonkv
    ctx = client_context(certs, certs.client)
    c = TlsRaw(port, ctx)
    try:
        big = bytes(range(256)) * 40_000  # 10 MB: many TLS records each way
        assert c.call("SET", "tls:big", big) == b"+OK\r\n"
        assert c.call("GET", "tls:big") == b"$%d\r\n%s\r\n" % (len(big), big)
        # A pipeline of 1000 requests in one write.
        c.send_raw(b"".join(encode_command(["INCR", "tls:n"]) for _ in range(1000)))
        assert [c.read_reply() for _ in range(1000)][-1] == b":1000\r\n"
        assert c.call("QUIT") == b"+OK\r\n"
        assert c.sock.recv(100) == b""  # closed after the reply
    finally:
        c.close()
    c = TlsRaw(port, ctx)
    try:
        c.send_raw(b"*1\r\n$x\r\n")
        assert c.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n"
        assert c.sock.recv(100) == b""
    finally:
        c.close()
    assert tls_call(port, ctx) == PONG


def test_tls_turned_on_at_run_time(certs: Certs) -> None:
    h = start_moonkv(["--appendonly", "no", "--save", ""])
    c = RawClient(h.port)
    try:
        port = free_port()
        # Files are not read while nothing uses TLS, as in Redis.
        assert c.call("CONFIG", "SET", "tls-cert-file", "/nonexistent.crt") == b"+OK\r\n"
        assert c.call("CONFIG", "SET", "tls-port", port) == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - "
            b"Unable to update TLS configuration. Check server logs.\r\n"
        )
        assert c.call(
            "CONFIG", "SET", "tls-port", port, "tls-cert-file", certs.server.cert,
            "tls-key-file", certs.server.key, "tls-ca-cert-file", certs.ca,
        ) == b"+OK\r\n"
        assert tls_call(port, client_context(certs, certs.client)) == PONG
        assert c.call("PING") == PONG
    finally:
        c.close()
        h.stop()
