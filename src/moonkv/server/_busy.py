"""Serving clients while a slow script runs (Redis's "busy script" state).

The event loop thread is inside Lua while a script runs, so once the script
passes ``lua-time-limit`` the engine asks for a :class:`BusyResponder`: a
short-lived thread that polls duplicates of the client sockets and the
listening sockets.  Every complete request gets ``-BUSY``, except SCRIPT KILL,
FUNCTION KILL and SHUTDOWN NOSAVE, which it serves.  Requests are parsed with
each connection's own parser, so a request cut in half by the end of the busy
period is finished by the event loop afterwards; connections accepted during
the busy period are handed to the event loop when it ends.  So are the ones
the event loop accepted in the very iteration the script started in: they are
neither waiting in the listening socket's queue nor known to the listener yet
(their ``connection_made`` is scheduled after the running callback), so the
responder finds them among the process's sockets and hands what it did for
them (their client, an unfinished request) to their ``connection_made``.  TLS connections
are left alone (they wait for the script): their bytes can only go through
the event loop's TLS layer (server/_tls.py).

Short scripts never start this thread; lupa releases the GIL while Lua code
runs, and the count hook's Python call gives it turns.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import stat
import threading
import time
from typing import TYPE_CHECKING, Any

from moonkv.commands.table import lookup
from moonkv.engine import DENIED, Client, is_local_peer, refuses_peer
from moonkv.errors import RespError, wrong_arity
from moonkv.protocol import RespParser, encode
from moonkv.server._connection import _address, keepalive

if TYPE_CHECKING:
    from moonkv.server._connection import Connection
    from moonkv.server._listener import ServerProcess

log = logging.getLogger("moonkv")

_BUSY_EVAL = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
_BUSY_FUNCTION = (
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
)


class _Peer:
    __slots__ = ("sock", "parser", "conn", "client", "fd")

    def __init__(
        self, sock: socket.socket, parser: RespParser, conn: Connection | None, client: Client, fd: int = -1
    ) -> None:
        self.sock = sock
        self.parser = parser
        self.conn = conn  # None: accepted during the busy period, adopted after it
        self.client = client
        self.fd = fd  # >= 0: the loop's own socket, its connection_made still to run


def _unmade(port: int, known: set[int]) -> list[int]:
    """The descriptors of TCP connections to ``port`` other than ``known`` ones (Linux).

    A connection the event loop accepted in the iteration a script started in
    has its ``connection_made`` scheduled behind the script: the listener does
    not know it, and it no longer waits in the listening socket's queue.
    """
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: such a connection waits for the script
        return []
    out = []
    for fd in fds:
        if fd in known:
            continue
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            with sock:
                if (
                    sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.type == socket.SOCK_STREAM
                    and sock.getsockname()[1] == port
                    and sock.getpeername()  # connected: not a listening socket
                ):
                    out.append(fd)
        except OSError:
            continue
    return out


class BusyResponder:
    def __init__(self, proc: ServerProcess, run: Any) -> None:
        self.proc = proc
        self.run = run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="moonkv-busy", daemon=True)
        self._sel = selectors.DefaultSelector()
        self._new: list[_Peer] = []

    def start(self) -> None:
        caller_id = self.run.caller.id
        conns = list(self.proc.connections.values())
        lsocks = self.proc.listen_sockets
        if lsocks:
            # Before this method opens descriptors of its own on the same sockets.
            known = {conn.client.fd for conn in conns if conn.client is not None}
            known.update(s.fileno() for s in lsocks)
            for fd in _unmade(self.proc.server.port, known):
                self._early(fd)
        for conn in conns:
            c = conn.client
            t = conn.transport
            if c is None or c.id == caller_id or t is None or conn.closed or c.fd < 0:
                continue
            if t.get_extra_info("sslcontext") is not None:
                continue  # TLS: bytes written beside the TLS layer would corrupt the stream
            try:
                if conn.held is not None or t.get_write_buffer_size() > 0:
                    continue  # replies still queued: answering now could reorder them
                sock = socket.socket(fileno=os.dup(c.fd))
            except OSError:
                continue
            sock.setblocking(False)
            self._sel.register(sock, selectors.EVENT_READ, _Peer(sock, conn.parser, conn, c))
        for lsock in lsocks:
            try:
                listen = socket.socket(fileno=os.dup(lsock.fileno()))
            except OSError:
                continue
            listen.setblocking(False)
            self._sel.register(listen, selectors.EVENT_READ, None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for key in list(self._sel.get_map().values()):
            peer = key.data
            if peer is None or peer.conn is not None:
                key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()
        loop = self.proc.loop
        for peer in self._new:
            if peer.fd >= 0:  # the loop's connection_made takes it over
                peer.sock.close()
                self.proc.early[peer.fd] = (peer.client, peer.parser.take_buffer())
            elif loop is not None:
                loop.create_task(self.proc.adopt(peer.sock, peer.parser.take_buffer(), peer.client))

    # -- the thread ---------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(0.02):
                    if key.data is None:
                        self._accept(key.fileobj)  # type: ignore[arg-type]
                    else:
                        self._read(key.data)
        except Exception:  # noqa: BLE001 - never let the thread die silently
            log.exception("busy responder failed")

    def _accept(self, listen: socket.socket) -> None:
        try:
            sock, _ = listen.accept()
        except OSError:
            return
        self._serve_new(sock, -1)

    def _early(self, fd: int) -> None:
        """Serve a connection the loop accepted but has not made yet (see _unmade)."""
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return
        self._serve_new(sock, fd)

    def _serve_new(self, sock: socket.socket, fd: int) -> None:
        """Serve ``sock`` as a new client (``fd``: the loop's descriptor of an unmade connection)."""
        srv = self.proc.server
        try:
            peer_name = sock.getpeername()
            local = is_local_peer(peer_name)
            if refuses_peer(srv, local):  # protected mode, as at a normal accept
                if fd >= 0:
                    sock.close()  # connection_made refuses it
                    return
                sock.settimeout(1.0)
                sock.sendall(DENIED)
                sock.close()
                srv.stats["rejected_connections"] += 1
                return
            sock.setblocking(False)
            keepalive(sock, srv.config["tcp-keepalive"])
            client = Client(
                srv, _address(peer_name), _address(sock.getsockname()), fd if fd >= 0 else sock.fileno(), local
            )
        except OSError:
            sock.close()
            return
        parser = RespParser()
        parser.auth_required = not client.authenticated
        peer = _Peer(sock, parser, None, client, fd)
        self._new.append(peer)
        self._sel.register(sock, selectors.EVENT_READ, peer)

    def _read(self, peer: _Peer) -> None:
        try:
            data = peer.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._sel.unregister(peer.sock)
            if peer.conn is None:
                peer.sock.close()
                self._new.remove(peer)  # an unmade one: its connection_made sees the end too
            return
        peer.parser.feed(data)
        out = [self._answer(argv, peer.client) for argv in peer.parser.parse()]
        peer.parser.auth_required = not peer.client.authenticated  # AUTH/HELLO may have changed it
        if out:
            try:
                peer.sock.setblocking(True)
                peer.sock.sendall(b"".join(out))
                peer.sock.setblocking(False)
            except OSError:
                pass

    def _exit_if_stuck(self) -> None:
        # The script may be inside one long C call that cannot be interrupted;
        # SHUTDOWN NOSAVE must still end the process (acknowledged writes are
        # already durable: replies are sent only after their fsync).  Past a
        # longer grace the process exits whatever holds it up: SHUTDOWN NOSAVE
        # is the way out of a busy server and must not depend on the event loop.
        time.sleep(2.0)
        if self.proc.server.scripting.running is not None:
            log.warning("SHUTDOWN NOSAVE: the script did not stop, exiting now")
            os._exit(0)
        time.sleep(8.0)
        log.warning("SHUTDOWN NOSAVE: the server did not stop within 10 s of the request, exiting now")
        os._exit(0)

    def _answer(self, argv: list[bytes], client: Client) -> bytes:
        eng = self.proc.server.scripting
        name = argv[0].lower()
        sub = argv[1].lower() if len(argv) > 1 else b""
        busy = _BUSY_EVAL if self.run.is_eval else _BUSY_FUNCTION
        if name in (b"hello", b"auth") and client.multi is None:
            # Redis serves these while busy (flag allow_busy): clients such as
            # redis-py send HELLO as their first command on a new connection.
            return self._connection_command(name, argv, client)
        # MULTI state follows Redis: MULTI and DISCARD are served, EXEC is
        # refused and aborts the transaction, anything queued is refused
        # and marks the transaction failed.
        if name == b"multi" and len(argv) == 1:
            if client.multi is not None:
                return b"-ERR MULTI calls can not be nested\r\n"
            client.multi = []
            client.multi_error = False
            return b"+OK\r\n"
        if client.multi is not None:
            if name == b"discard" and len(argv) == 1:
                client.multi = None
                client.multi_error = False
                return b"+OK\r\n"
            if name == b"exec" and len(argv) == 1:
                client.multi = None
                client.multi_error = False
                return b"-EXECABORT Transaction discarded because of: " + busy[1:]
            if not (name in (b"script", b"function") and sub == b"kill"):
                client.multi_error = True
                return busy
        try:
            if name == b"script" and sub == b"kill" and len(argv) == 2:
                return encode(eng.kill(is_eval=True))
            if name == b"function" and sub == b"kill" and len(argv) == 2:
                return encode(eng.kill(is_eval=False))
            if name == b"function" and sub == b"stats" and len(argv) == 2:
                # Read-only view of the engine, safe while the script runs.
                spec = lookup(b"function").subcommands[b"stats"]  # type: ignore[union-attr]
                return encode(spec.handler(Client(self.proc.server), argv))  # type: ignore[misc]
            if name == b"shutdown" and any(a.lower() == b"nosave" for a in argv[1:]):
                srv = self.proc.server
                srv.shutdown_requested = "nosave"
                run = eng.running
                if run is not None:
                    run.kill_message = "Script killed by SHUTDOWN NOSAVE"
                self.proc.request_shutdown_threadsafe()
                threading.Thread(target=self._exit_if_stuck, daemon=True).start()
                return b""
        except RespError as e:
            return encode(e)
        return busy

    def _connection_command(self, name: bytes, argv: list[bytes], client: Client) -> bytes:
        """HELLO or AUTH for a client while the script runs: they touch only the client."""
        spec = lookup(name)
        assert spec is not None and spec.handler is not None
        if not spec.arity_ok(len(argv)):
            return encode(wrong_arity(spec.name))
        try:
            reply = spec.handler(client, argv)
        except RespError as e:
            return encode(e)
        return encode(reply, client.resp)

