"""Process lifecycle: listen, run the event loop, cron, group commit, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from moonkv import native
from moonkv.engine import Client, Config, Server, is_paused
from moonkv.errors import RespError
from moonkv.server._bind import ListenError, first_host, listen_all
from moonkv.server._busy import BusyResponder
from moonkv.server._connection import Connection, Outbox
from moonkv.server._expire import active_expire_cycle
from moonkv.server._idle import close_idle
from moonkv.server._oom import PRIMARY, REPLICA, OomScore
from moonkv.server._tls import TlsPort
from moonkv.tls import TlsConfigError

log = logging.getLogger("moonkv")


class _LoopScheduler:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        return self.loop.call_later(delay, fn)


class ServerProcess:
    """A running moonkv server: the engine plus its network and timers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.connections: dict[int, Connection] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._aservers: list[asyncio.base_events.Server] = []
        self.outbox = Outbox(server, self._durable)
        self._stopping = False
        self.pause_waiters: dict[Connection, None] = {}  # paused connections, in order
        self._done: asyncio.Future[None] | None = None
        self.listen_sockets: list[socket.socket] = []  # the plain port's, one per bind address
        self._busy: BusyResponder | None = None
        # Connections the busy responder served before their connection_made ran
        # (accepted in the iteration a script started in): descriptor -> (client,
        # unparsed bytes), taken over by Connection.connection_made.
        self.early: dict[int, tuple[Client, bytes]] = {}
        self._loop_thread = 0
        self.tls = TlsPort(self)
        self._idle_check = 0.0  # when the cron next looks for idle clients
        self._metrics: Any = None  # moonkv.metrics.MetricsEndpoint when metrics-port is set
        self._bound: tuple[str, int] = ("", 0)  # the bind and port the plain port listens with
        # After the TLS port's: a CONFIG SET that TLS refuses never moves the plain ports.
        server.config.on_commit(self._on_commit)
        self._membership: Any = None  # moonkv.cluster's lease keeper with cluster-etcd-endpoints
        self._shared: Any = None  # moonkv.cluster._shared.SharedState in cluster mode with etcd
        self.oom = OomScore(server.config)
        server.on_role_change = self._role_changed

    # -- group commit --------------------------------------------------------------

    def _durable(self, conns: list[Connection], wait: bool) -> None:
        """Release held replies once the log records of their iteration are durable."""
        out = [(conn, conn.take_held()) for conn in conns]
        p = self.server.persistence
        assert p is not None
        flush_async = None if wait else getattr(p, "flush_async", None)
        # Pipelined group commit: the fsync runs while the loop serves others.
        if flush_async is None or not flush_async(lambda ok: self._release(out, ok)):
            self._release(out, p.flush())

    def _release(self, out: list[tuple[Connection, bytes]], ok: bool) -> None:
        for conn, data in out:
            if ok:
                conn.write_now(data)
            else:
                # The write failed: the replies must not claim success.
                conn.closed = True
                if conn.transport is not None:
                    conn.transport.close()

    # -- CLIENT PAUSE -------------------------------------------------------------

    def hold(self, conn: Connection) -> None:
        """Keep ``conn`` waiting for the end of the pause (counted as blocked, as Redis)."""
        if conn not in self.pause_waiters:
            self.pause_waiters[conn] = None
            self.server.blocked_count += 1

    def release(self, conn: Connection) -> None:
        """A waiting connection went away."""
        if self.pause_waiters.pop(conn, 0) is None:
            self.server.blocked_count -= 1

    def _unpaused(self) -> None:
        if self.loop is not None:  # after CLIENT UNPAUSE's own reply
            self.loop.call_soon(self._check_unpause)

    def _check_unpause(self) -> None:
        if self.pause_waiters and not is_paused(self.server):
            # In the order they came; one that a resumed command pauses again waits again.
            waiters, self.pause_waiters = self.pause_waiters, {}
            self.server.blocked_count -= len(waiters)
            for conn in waiters:
                conn.resume()

    # -- lifecycle -------------------------------------------------------------------

    async def serve(self, socks: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.outbox.call_soon = loop.call_soon
        self._loop_thread = threading.get_ident()
        srv = self.server
        srv.scheduler = _LoopScheduler(loop)
        srv.on_unpause = self._unpaused
        self._done = loop.create_future()
        if srv.cluster is not None and srv.config["cluster-etcd-endpoints"]:
            # Before the first client: the node is fenced until etcd holds its lease
            # and the controller pushed it a topology (docs/cluster.md).
            from moonkv.cluster import join_etcd

            self._membership = join_etcd(srv.cluster.node, loop)
        if socks is None:
            socks = self._listen(srv.config["bind"], srv.config["port"])
        eng = srv.scripting
        if eng is not None:
            eng.on_busy = self._busy_start
            eng.on_busy_end = self._busy_end
        self._bound = (srv.config["bind"], srv.config["port"])
        if socks:
            srv.port = socks[0].getsockname()[1]  # port 0 in tests: the kernel's choice
        self.listen_sockets = socks
        await self._serve_plain(socks)
        await self.tls.start()
        # A plain Python handler (not loop.add_signal_handler): it also runs
        # while a script keeps the loop busy (at the script's next budget
        # check), where it stops the script so the server can shut down.
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):
                signal.signal(sig, self._on_signal)
        p = srv.persistence
        if p is not None and hasattr(p, "start"):
            p.start(loop)  # loads the data directory in slices; clients get -LOADING meanwhile
        if srv.replication is not None:
            srv.replication.start(loop, self.outbox.defer)  # follows ``replicaof`` once the data is loaded
        if srv.cluster is not None:
            srv.cluster.node.apply_role()  # the role the persisted topology gives this node
        cfg = srv.config
        if cfg["cluster-enabled"] and cfg["cluster-etcd-endpoints"] and eng is not None:
            self._shared = _shared_state(srv)
            self._shared.start(loop)  # reads etcd once the data is loaded
        loop.call_later(0.1, self._cron)
        if eng is not None:
            threading.Thread(target=self._watchdog, name="moonkv-watchdog", daemon=True).start()
        if srv.config["metrics-port"]:
            self._metrics = self._metrics_endpoint(srv.config["bind"], srv.config["metrics-port"])
        log.info("Build: %s", native.build_kind())
        if socks:
            log.info("Ready to accept connections tcp on %s:%d", srv.config["bind"], srv.port)
        await self._done
        await self._shutdown()

    def _metrics_endpoint(self, bind: str, port: int) -> Any:
        # Imported only here: the default server never loads prometheus_client.
        try:
            from moonkv.metrics import MetricsEndpoint
        except ImportError as e:
            raise SystemExit(
                f"moonkv: metrics-port needs prometheus_client ({e}); "
                "install it with: pip install 'moonkv[metrics]'"
            ) from None
        assert self.loop is not None
        host = first_host(bind)
        endpoint = MetricsEndpoint(self.server, self.loop, host, port)
        log.info("Metrics on http://%s:%d/metrics", host, endpoint.port)
        return endpoint

    def _role_changed(self) -> None:
        repl = self.server.replication
        if repl is not None and self.server.config["oom-score-adj"] != "no":
            self.oom.set_role(REPLICA if repl.is_replica else PRIMARY)

    # -- CONFIG SET of the ports -----------------------------------------------------

    def _listen(self, bind: str, port: int) -> list[socket.socket]:
        """The plain port's sockets (none with port 0); raises ListenError."""
        return listen_all(bind, port, self.server.config["tcp-backlog"]) if port else []

    def _on_commit(self, names: list[str]) -> None:
        """CONFIG SET port, bind or metrics-port: listen anew, as Redis's changeListenPort and
        changeBindAddr do. A new port is bound before the old one closes; new addresses replace
        the old ones after those closed (the same address may be in both), on the plain and the
        TLS port. Anything that cannot be bound undoes the whole CONFIG SET: the old sockets are
        bound again. Connections stay open."""
        if self.loop is None or self._stopping:
            return
        cfg = self.server.config
        bind, port, mport = cfg["bind"], cfg["port"], cfg["metrics-port"]
        ours = [n for n in names if n in ("port", "bind", "metrics-port")]
        if not ours:
            return
        metrics = self._metrics
        new_metrics = mport != (metrics.port if metrics is not None else 0) or ("bind" in names and metrics is not None)
        if new_metrics:
            try:
                metrics = self._metrics_endpoint(bind, mport) if mport else None
            except (OSError, SystemExit) as e:
                log.warning("Could not serve metrics on port %d: %s", mport, e)
                raise RespError("CONFIG SET failed (possibly related to argument 'metrics-port') - "
                                "Unable to listen on this port. Check server logs.") from None
        rebind = "bind" in names  # even to the same addresses, as Redis's changeBindAddr
        try:
            if rebind:
                self._rebind(bind, port)
            elif port != self._bound[1]:
                self._move_port(port)
        except ListenError:
            if new_metrics and metrics is not None:
                metrics.close()
            name = "bind" if rebind else "port"
            why = ("Unable to listen on this port. Check server logs." if name == "port"
                   else "Failed to bind to specified addresses.")
            raise RespError(f"CONFIG SET failed (possibly related to argument '{name}') - {why}") from None
        if new_metrics:
            if self._metrics is not None:
                self._metrics.close()
            self._metrics = metrics

    def _move_port(self, port: int) -> None:
        """Redis's changeListenPort: the new port's sockets first, then the old ones close."""
        socks = self._listen(self._bound[0], port)
        self._stop_plain()
        self._start_plain(socks, self._bound[0], port)

    def _rebind(self, bind: str, port: int) -> None:
        """Redis's changeBindAddr: every listener closes, then the new addresses are bound on
        the plain and the TLS port; on failure the old addresses are bound again."""
        old_bind, old_port = self._bound
        self._stop_plain()
        self.tls.close_port()
        try:
            socks = self._listen(bind, port)
            try:
                self.tls.open_port(bind)
            except ListenError:
                for s in socks:
                    s.close()
                raise
        except ListenError:
            log.warning("Failed to bind")
            log.warning("Failed applying new configuration. Possibly related to new bind setting. "
                        "Restoring previous settings.")
            try:
                self._start_plain(self._listen(old_bind, old_port), old_bind, old_port)
                self.tls.open_port(old_bind)
            except ListenError as e:
                log.warning("Could not listen on the previous addresses again: %s", e.strerror)
            raise
        self._start_plain(socks, bind, port)

    def _start_plain(self, socks: list[socket.socket], bind: str, port: int) -> None:
        assert self.loop is not None
        self._bound = (bind, port)
        if socks:
            self.server.port = socks[0].getsockname()[1]
            log.info("Ready to accept connections tcp on %s:%d", bind, self.server.port)
        self.listen_sockets = socks
        self.loop.create_task(self._serve_plain(socks))

    def _stop_plain(self) -> None:
        """Close the plain port's listening sockets; connections stay."""
        for aserver in self._aservers:
            aserver.close()
        self._aservers = []
        for sock in self.listen_sockets:
            sock.close()
        self.listen_sockets = []

    async def _serve_plain(self, socks: list[socket.socket]) -> None:
        """The loop serves a duplicate of each socket: the socket itself stays ours to close,
        also when a later CONFIG SET closed it before this task ran (then it is skipped)."""
        assert self.loop is not None
        for sock in socks:
            if sock.fileno() < 0:
                continue
            dup = socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
            self._aservers.append(await self.loop.create_server(
                lambda: Connection(self), sock=dup, backlog=self.server.config["tcp-backlog"]
            ))

    def _cron(self) -> None:
        srv = self.server
        if self._stopping:
            return
        hz = srv.config["hz"]
        try:
            if not srv.cron_paused:  # DEBUG PAUSE-CRON 1: rounds skipped, as Redis's serverCron
                self._cron_round(hz)
        except Exception:  # noqa: BLE001 - the cron must never stop
            log.exception("cron failed")
        if self.loop is not None:
            self.loop.call_later(1.0 / hz, self._cron)

    def _cron_round(self, hz: int) -> None:
        """What Redis's serverCron does, once."""
        srv = self.server
        srv.ks.clock.tick()  # the access clock keys store (Redis's server.lruclock)
        if srv.ks.active_expire_enabled and not srv.loading:
            # Budget: 25% of one cron period, as Redis's slow cycle.
            t0 = time.perf_counter_ns()
            active_expire_cycle(srv, budget_s=0.25 / hz)
            srv.latency_sample("expire-cycle", time.perf_counter_ns() - t0)
        p = srv.persistence
        if p is not None:
            p.cron()
        self._check_unpause()
        srv.client_memory.cron(hz)  # each client measured about once a second
        timeout = srv.config["timeout"]
        now = time.monotonic()
        if timeout and now >= self._idle_check:
            self._idle_check = now + 1.0
            close_idle(list(self.connections.values()), timeout, now)
        if srv.ks.expired_effects:
            srv.end_unit()

    # -- slow scripts ---------------------------------------------------------------

    def _watchdog(self) -> None:
        eng = self.server.scripting
        # Scripts running Lua code are declared busy by the count hook; this
        # thread only catches a script stuck in one long C call, so it can poll
        # slowly (each wake-up costs the event loop a GIL hand-off), and it
        # leaves the hook a head start.
        while not self._stopping:
            time.sleep(0.25)
            if eng.running is not None:
                eng.check_busy(grace_ms=100)

    def _busy_start(self, run: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            # The count hook, inside the script: replies held this iteration
            # go out now (the watchdog thread cannot touch the transports;
            # BusyResponder leaves the connections that still hold replies).
            self.outbox.flush(wait=True)
        self._busy = BusyResponder(self, run)
        self._busy.start()

    def _busy_end(self, run: Any) -> None:
        busy, self._busy = self._busy, None
        if busy is not None:
            busy.stop()

    async def adopt(self, sock: socket.socket, pending: bytes, client: Client) -> None:
        """Take over a connection accepted while a script was busy, with its client."""
        assert self.loop is not None
        try:
            _t, conn = await self.loop.connect_accepted_socket(lambda: Connection(self, client), sock)
        except OSError:
            return
        if pending:
            conn.data_received(pending)

    def _on_signal(self, signum: int, frame: object) -> None:
        eng = self.server.scripting
        run = eng.running if eng is not None else None
        if run is not None:
            run.kill_message = "Script killed: the server is shutting down"
        log.info("Received %s, scheduling shutdown...", signal.Signals(signum).name)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.request_shutdown)

    def request_shutdown_threadsafe(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.request_shutdown)

    def request_shutdown(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _shutdown(self) -> None:
        self._stopping = True
        srv = self.server
        self._stop_plain()
        self.tls.close()
        if self._metrics is not None:
            self._metrics.close()
        self.outbox.flush()
        for conn in list(self.connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        if self._membership is not None:
            await self._membership.stop()  # revokes the lease: a replica takes over at once
        p = srv.persistence
        if p is not None:
            p.shutdown(save=srv.shutdown_requested != "nosave")
        if self._shared is not None:
            await self._shared.close()
        if srv.scripting is not None:
            srv.scripting.close()
        log.info("moonkv is now ready to exit, bye bye...")


def _shared_state(srv: Server) -> Any:
    """The cluster-wide registry of scripts, libraries and ACL users (docs/cluster.md);
    imported only in cluster mode with etcd, so a standalone server never loads aetcd and gRPC."""
    cfg = srv.config
    try:
        from moonkv.cluster._shared import SharedState
        from moonkv.cluster.etcd import parse_endpoints
    except ImportError as e:
        raise SystemExit(
            f"moonkv: cluster-etcd-endpoints needs aetcd ({e}); "
            "install it with: pip install 'moonkv[cluster]'"
        ) from None
    try:
        endpoints = parse_endpoints(cfg["cluster-etcd-endpoints"])
    except ValueError as e:
        raise SystemExit(f"moonkv: cluster-etcd-endpoints: {e}") from None
    return SharedState(srv, endpoints, cfg["cluster-name"], cfg["cluster-node-timeout"] / 1000)


def run_server(config: Config) -> int:
    """Run a server in the foreground until SIGTERM/SIGINT/SHUTDOWN. Returns the exit code."""
    from moonkv.server._assemble import assemble

    logging.basicConfig(
        level=logging.INFO,
        format="%(process)d:M %(asctime)s %(levelname).1s %(message)s",
        stream=sys.stderr,
    )
    try:
        socks = listen_all(config["bind"], config["port"], config["tcp-backlog"]) if config["port"] else []
    except ListenError:
        # Redis's words (after listen_all's warning naming the address): its test harness
        # retries another port when it reads "Failed listening on port".
        log.warning("Failed listening on port %d (TCP), aborting.", config["port"])
        return 1
    try:
        server = assemble(config)
    except SystemExit:
        raise
    except (OSError, ValueError) as e:
        print(f"moonkv: {e}", file=sys.stderr)
        return 1
    if config["always-show-logo"]:
        _banner(config)
    proc = ServerProcess(server)
    try:
        proc.tls.configure()
    except TlsConfigError as e:
        log.warning("%s", e)
        log.warning("Failed to configure TLS. Check logs for more info.")
        return 1
    except ListenError:
        log.warning("Failed listening on port %d (TLS), aborting.", config["tls-port"])
        return 1
    if not socks and not proc.tls.socks:
        log.warning("Configured to not listen anywhere, exiting.")
        return 1
    proc.oom.apply()  # a failure is logged; Redis starts anyway
    import uvloop

    uvloop.run(proc.serve(socks))
    return 0


def _banner(config: Config) -> None:
    """``always-show-logo yes``: the facts Redis's start-up logo shows (version, mode, port,
    pid), one log line each; Redis's test harness waits for `` PID: <pid>``."""
    from moonkv import REDIS_VERSION, __version__

    mode = "cluster" if config["cluster-enabled"] else "standalone"
    for line in (
        f"moonkv {__version__} (Redis {REDIS_VERSION} compatible, build {native.build_kind()})",
        f"Running in {mode} mode",
        f"Port: {config['port'] or config['tls-port']}",
        f"PID: {os.getpid()}",
    ):
        log.info("%s", line)
