"""Real etcd, moonkv nodes and controllers on loopback for the cluster tests and the
failover benchmark: every process started here is stopped by ``close()``."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from moonkv.cluster.etcd import Keys, close_quietly, connect
from moonkv.cluster.topology import Topology
from moonkv.controller import TopologyStore
from tests.cluster.conftest import split_slots, topology
from tests.helpers import RawClient, ServerHandle, free_port, start_moonkv

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def call(port: int, *args: str | int | bytes, timeout: float = 10, password: str | None = None) -> bytes:
    """One command on a fresh connection (after AUTH with ``password``); the raw reply."""
    c = RawClient(port, timeout=timeout)
    try:
        if password is not None:
            assert c.call("AUTH", password) == b"+OK\r\n"
        return c.call(*args)
    finally:
        c.close()


def wait_until(cond: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Etcd:
    """One etcd member; ``kill`` and ``start`` again keep its data and ports."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="moonkv-etcd-")
        self.port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        client = f"http://127.0.0.1:{self.port}"
        with open(os.path.join(self.dir, "etcd.log"), "ab") as log:
            self.proc = subprocess.Popen(
                [ETCD, "--name", "t", "--data-dir", os.path.join(self.dir, "data"),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"t={peer}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, 20, "etcd to answer")

    def _answers(self) -> bool:
        async def ask() -> bool:
            try:
                c = await connect([("127.0.0.1", self.port)], timeout=1.0)
            except Exception:
                return False
            await close_quietly(c)
            return True

        return asyncio.run(ask())

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def etcd_call(endpoint: str, fn: Callable[[Any], Any]) -> Any:
    """Runs ``await fn(client)`` against etcd in a fresh event loop."""

    async def run() -> Any:
        host, port = endpoint.rsplit(":", 1)
        c = await connect([(host, int(port))], timeout=2.0)
        try:
            return await fn(c)
        finally:
            await close_quietly(c)

    return asyncio.run(run())


class Cluster:
    """etcd, ``primaries`` × (1 + ``replicas``) nodes with the record written, and
    ``controllers`` controller processes. ``proxy_first``: the first primary reaches etcd
    through ``self.proxy`` (a :class:`Proxy`), which a test may cut. ``password``: the
    nodes require it (requirepass, masterauth) and the controllers give it. ``tls``: (CA,
    certificate, key) files: each node also listens on a TLS port (in the record as
    ``tls_port``) and the controllers talk TLS to it with that certificate."""

    def __init__(self, primaries: int = 1, replicas: int = 1, controllers: int = 1,
                 node_timeout: int = 3000, name: str = "t", node_args: tuple[str, ...] = (),
                 proxy_first: bool = False, password: str | None = None,
                 tls: tuple[str, str, str] | None = None) -> None:
        self.name = name
        self.keys = Keys(name)
        self.node_timeout = node_timeout
        self.etcd = Etcd()
        self.nodes: dict[str, ServerHandle] = {}
        self.password = password
        self.tls = tls
        self.tls_ports: dict[int, int] = {}  # node port -> its TLS port
        self.node_args = node_args + (("--requirepass", password, "--masterauth", password) if password else ())
        self.controllers: list[subprocess.Popen[bytes]] = []
        self.logdir = tempfile.mkdtemp(prefix="moonkv-ctl-")
        self.proxy = Proxy(self.etcd.port) if proxy_first else None
        try:
            handles = [self._start_node(endpoint=self.proxy.endpoint if self.proxy and i == 0 else "")
                       for i in range(primaries * (1 + replicas))]
            ids = [call(h.port, "CLUSTER", "MYID", password=password).split(b"\r\n")[1].decode()
                   for h in handles]
            self.nodes = dict(zip(ids, handles, strict=True))
            self._write_initial(ids, handles, primaries)
            for i in range(controllers):
                self.start_controller(f"c{i}")
            if controllers:
                self.wait_pushed()
        except BaseException:
            self.close()
            raise

    def _start_node(self, dir: str | None = None, port: int | None = None, endpoint: str = "") -> ServerHandle:
        port = port or free_port()
        tls: tuple[str, ...] = ()
        if self.tls is not None:
            ca, cert, key = self.tls
            tls_port = self.tls_ports.setdefault(port, free_port())
            tls = ("--tls-port", str(tls_port), "--tls-cert-file", cert, "--tls-key-file", key,
                   "--tls-ca-cert-file", ca)
        return start_moonkv([
            *tls,
            "--cluster-enabled", "yes", "--cluster-etcd-endpoints", endpoint or self.etcd.endpoint,
            "--cluster-name", self.name, "--cluster-node-timeout", str(self.node_timeout),
            *self.node_args,
        ], dir=dir, port=port)

    def _write_initial(self, ids: list[str], handles: list[ServerHandle], primaries: int) -> None:
        prim = [(ids[i], handles[i].port, [r]) for i, r in enumerate(split_slots(primaries))]
        reps = [(ids[j], handles[j].port, ids[(j - primaries) % primaries]) for j in range(primaries, len(ids))]
        record = topology(0, prim, reps, name=self.name)
        for n in record["nodes"]:
            n["tls_port"] = self.tls_ports.get(n["port"], 0)
        etcd_call(self.etcd.endpoint, lambda c: TopologyStore(c, self.keys).change(lambda _: record))

    def start_controller(self, name: str, password: str | None = None, ca: str | None = None) -> subprocess.Popen[bytes]:
        password = password or self.password
        tls: tuple[str, ...] = ()
        if self.tls is not None:
            tls = ("--tls", "--tls-ca-cert-file", ca or self.tls[0], "--tls-cert-file", self.tls[1],
                   "--tls-key-file", self.tls[2])
        with open(os.path.join(self.logdir, f"{name}.log"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moonkv", "cluster", "controller", "--etcd", self.etcd.endpoint,
                 "--cluster", self.name, "--name", name, "--node-timeout", str(self.node_timeout),
                 *(("--password", password) if password else ()), *tls],
                stdout=log, stderr=subprocess.STDOUT,
            )
        self.controllers.append(proc)
        return proc

    def controller_log(self, name: str) -> str:
        with open(os.path.join(self.logdir, f"{name}.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    # -- what etcd and the nodes say -------------------------------------------

    def record(self) -> Topology:
        topology, _ = etcd_call(self.etcd.endpoint, lambda c: TopologyStore(c, self.keys).read())
        assert topology is not None
        return topology

    def leader(self) -> str | None:
        async def get(c: Any) -> Any:
            return await c.get(self.keys.leader)

        got = etcd_call(self.etcd.endpoint, get)
        return got.value.decode().split(" ")[0] if got is not None else None

    def node_version(self, node_id: str) -> int:
        try:
            reply = call(self.nodes[node_id].port, "CLUSTER", "TOPOLOGY", timeout=2, password=self.password)
        except OSError:
            return -1
        return int(reply.split(b"\r\n")[1][1:])

    def wait_pushed(self, timeout: float = 30) -> Topology:
        """Until every running node serves the record's version."""
        record = self.record()
        wait_until(lambda: all(self.node_version(n) == record.version for n, h in self.nodes.items()
                               if h.proc.poll() is None), timeout, f"version {record.version} everywhere")
        return record

    def primary(self, slot: int = 0) -> str:
        owner = self.record().owner(slot)
        assert owner is not None
        return owner.id

    def replicas(self, primary: str) -> list[str]:
        return [n.id for n in self.record().replicas_of(primary)]

    def restart_node(self, node_id: str) -> ServerHandle:
        """Stops the node (if it runs) and starts it again on its data."""
        old = self.nodes[node_id]
        old.stop()
        self.nodes[node_id] = self._start_node(dir=old.dir, port=old.port)
        return self.nodes[node_id]

    def close(self) -> None:
        for proc in self.controllers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for h in self.nodes.values():
            if h.proc.poll() is None:
                h.proc.send_signal(signal.SIGCONT)
            h.stop()
        if self.proxy is not None:
            self.proxy.cut()
        self.etcd.close()
        shutil.rmtree(self.logdir, ignore_errors=True)


class Writer:
    """Writes ``k<i>`` = ``k<i>`` forever, each followed by ``WAIT 1``, to whichever node
    takes it; records when each SET was answered +OK and which writes a replica
    acknowledged."""

    def __init__(self, cluster: Cluster, wait_ms: int = 1000) -> None:
        self.cluster = cluster
        self.wait_ms = wait_ms
        self.ok: list[float] = []  # when each SET was answered +OK
        self.written: set[bytes] = set()  # keys whose SET was answered +OK
        self.acked: set[bytes] = set()  # keys WAIT 1 confirmed
        self.last_error = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def first_ok_after(self, t: float) -> float | None:
        return next((x for x in self.ok if x > t), None)

    def _run(self) -> None:
        i = 0
        conns: dict[int, socket.socket] = {}
        while not self._stop.is_set():
            key = b"k%d" % i
            for h in list(self.cluster.nodes.values()):
                if self._write(conns, h.port, key):
                    i += 1
                    break
            else:
                time.sleep(0.01)
        for s in conns.values():
            s.close()

    def _write(self, conns: dict[int, socket.socket], port: int, key: bytes) -> bool:
        s = conns.get(port)
        try:
            if s is None:
                s = conns[port] = socket.create_connection(("127.0.0.1", port), timeout=2)
            wait = str(self.wait_ms).encode()
            s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(key), key)
                      + b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$%d\r\n%s\r\n" % (len(wait), wait))
            buf = b""
            while b"\r\n" not in buf:
                buf += self._recv(s)
            if not buf.startswith(b"+OK\r\n"):
                self.last_error = buf.split(b"\r\n")[0]
                return False
            self.ok.append(time.monotonic())
            self.written.add(key)
            while buf.count(b"\r\n") < 2:
                buf += self._recv(s)
            second = buf.split(b"\r\n")[1]
            if second.startswith(b":") and int(second[1:]) >= 1:
                self.acked.add(key)
            return True
        except (OSError, ValueError):
            if s is not None:
                s.close()
            conns.pop(port, None)
            return False

    @staticmethod
    def _recv(s: socket.socket) -> bytes:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        return chunk

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


class Prober:
    """``SET probe-<node> v`` on each node of ``ports`` without pause, a thread per node (one
    connection, 1 s timeout, made again after an error); ``accepted[node]``: when each SET
    answered +OK was sent (the node accepted it after that instant)."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.accepted: dict[str, list[float]] = {node: [] for node in ports}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._probe, args=(n,), daemon=True) for n in ports]
        for t in self._threads:
            t.start()

    def _probe(self, node: str) -> None:
        c = None
        while not self._stop.is_set():
            try:
                c = c or RawClient(self.ports[node], timeout=1)
                t0 = time.monotonic()
                if c.call("SET", f"probe-{node}", "v") == b"+OK\r\n":
                    self.accepted[node].append(t0)
            except OSError:
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.01)
        if c is not None:
            c.close()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)


class Proxy:
    """A TCP relay to ``port`` (a way to cut one process off from etcd): ``cut()`` closes
    the listener and every relayed connection."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                a, _ = self.sock.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                a.close()
                continue
            with self._lock:
                if self._cut:
                    a.close()
                    b.close()
                    return
                self._conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            src.settimeout(None)
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            self.sock.close()
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()


def read_keys(port: int, keys: list[bytes]) -> dict[bytes, bytes | None]:
    c = RawClient(port)
    c.call("READONLY")  # a replica serves the reads too
    out: dict[bytes, bytes | None] = {}
    for k in keys:
        reply = c.call("GET", k)
        out[k] = None if reply.startswith(b"$-1") else reply.split(b"\r\n")[1]
    c.close()
    return out


__all__ = ["Cluster", "call", "Etcd", "Proxy", "Writer", "etcd_call", "read_keys", "wait_until"]
