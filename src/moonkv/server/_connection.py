"""One client connection: bytes in → parser → executor → encoder → bytes out.

Replies are encoded per pipeline batch and held on the connection until the
end of the event loop iteration, as Redis writes replies before it sleeps:
one flush per iteration (:class:`Outbox`) first makes the iteration's log
records durable (group commit), so no reply is seen before its write is
safe, then writes every held reply.  Writing them together, rather than one
as each request is served, also spares the kernel work: clients woken by a
reply no longer interleave with the reads still to do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from moonkv.engine import (
    BLOCKED,
    DENIED,
    NO_REPLY,
    NOT_DATA,
    REPLY_OFF,
    REPLY_ON,
    REPLY_SKIP,
    Client,
    ClientMemory,
    is_local_peer,
    pause_holds,
    refuses_peer,
)
from moonkv.engine._config import ObufLimits
from moonkv.errors import ProtocolError, RespError
from moonkv.protocol import RawReply, Replies, RespParser, bulk, encode, encode_many

_OK: Final = b"+OK\r\n"
_OK_STR: Final = "OK"  # handlers return this very object (an interned literal)

# Flow control.  The transport tells the connection (pause_writing) once more than
# _HIGH_WATER bytes wait to be written, and again (resume_writing) under _LOW_WATER.  The
# connection goes on reading, as Redis does: a client may send all its requests before it
# reads a reply, and what piles up is client memory (used_memory, maxmemory-clients,
# client-output-buffer-limit bound it).  A pipeline stops being served once its replies of
# one batch pass _BATCH_BYTES: the rest waits, unread input included, until the transport
# has taken those replies (one read cannot ask for gigabytes at once).
_HIGH_WATER: Final = 1024 * 1024
_LOW_WATER: Final = 256 * 1024
_BATCH_BYTES: Final = 4 * 1024 * 1024

# Redis answers into a 16 KiB buffer each client has, and counts only what overflows it
# (its reply list) as the output buffer: its limits and CLIENT LIST's omem. A reply whose
# length Redis sends deferred goes to the list whole, and so does all that follows it
# (Client.deferred_reply): only what the output held before it can be in the buffer.
_REPLY_BUFFER: Final = 16 * 1024

# client-output-buffer-limit's classes (Outbox.obuf_limits) by index.
_NORMAL: Final = 0
_PUBSUB: Final = 2

log = logging.getLogger("moonkv")

if TYPE_CHECKING:
    from moonkv.engine import Server
    from moonkv.server._listener import ServerProcess


class Outbox:
    """The connections holding replies in this event loop iteration, and their flush."""

    __slots__ = ("conns", "tasks", "scheduled", "server", "call_soon", "durable", "obuf_limits", "memory")

    def __init__(self, server: Server, durable: Callable[[list[Connection], bool], None]) -> None:
        self.conns: list[Connection] = []
        # Work that must run at the flush, before the replies go (defer): the replication
        # stream's once-per-iteration hand-over to the replica connections.
        self.tasks: list[Callable[[], None]] = []
        self.scheduled = False
        self.server = server
        # The loop's call_soon: the flush runs after this iteration's I/O callbacks.
        self.call_soon: Callable[[Callable[[], None]], object] | None = None
        self.durable = durable  # releases replies once the log records are durable
        # client-output-buffer-limit of the normal and pubsub classes (replicas: replication);
        # None for a class without limits, so a write pays one test for it.
        self.obuf_limits = _obuf_active(server.config["client-output-buffer-limit"])
        # The clients' memory total while it must be current (ClientMemory.exact): a
        # connection is measured again after each write and each read that leaves bytes in
        # its query buffer; None otherwise (the cron measures), so a write pays one test.
        self.memory: ClientMemory | None = None
        self._config_changed("maxmemory", None)
        server.config.on_change(self._config_changed)

    def _config_changed(self, name: str, value: object) -> None:
        if name == "client-output-buffer-limit":
            self.obuf_limits = _obuf_active(value)  # type: ignore[arg-type]
        elif name in ("maxmemory", "maxmemory-clients"):
            # (ClientMemory's own hook ran first: it was registered when the server was made.)
            m = self.server.client_memory
            self.memory = m if m.exact else None

    def defer(self, task: Callable[[], None]) -> None:
        """Run ``task`` at this iteration's flush, before the held replies are written (what
        it holds for connections then leaves with them)."""
        self.tasks.append(task)
        if not self.scheduled and self.call_soon is not None:
            self.scheduled = True
            self.call_soon(self.flush)

    def flush(self, wait: bool = False) -> None:
        """Write the held replies; ``wait``: a durable flush must not go on in the background."""
        tasks = self.tasks
        if tasks:  # while still scheduled: what they hold joins this flush
            self.tasks = []
            for task in tasks:
                task()
        self.scheduled = False
        conns = self.conns
        if not conns:
            return
        self.conns = []
        p = self.server.persistence
        if p is not None and p.needs_flush():
            self.durable(conns, wait)
            return
        for conn in conns:
            conn.write_now(conn.take_held())


class Connection(asyncio.Protocol):
    __slots__ = (
        "proc", "server", "outbox", "transport", "client", "parser", "pending", "held", "batch", "closed",
        "idle_cmd", "idle_buffered", "idle_since",
        "congested", "throttled", "soft_since", "deferred_at", "out_counted",
    )

    def __init__(self, proc: ServerProcess, client: Client | None = None) -> None:
        self.proc = proc
        self.server = proc.server
        self.outbox: Outbox = proc.outbox
        self.transport: asyncio.Transport | None = None
        # A client made while a script was busy (HELLO/AUTH served then) is kept.
        self.client: Client | None = client
        self.parser = RespParser(self.server.config["proto-max-bulk-len"])
        self.pending: list[list[bytes]] = []  # commands waiting behind a blocked one
        self.held: list[bytes] | None = None  # replies waiting for the iteration's flush
        self.batch: list[bytes] | None = None  # the replies run_commands is gathering
        self.closed = False
        # What the idle timeout last saw (server/_idle.py).
        self.idle_cmd = b""
        self.idle_buffered = 0
        self.idle_since = time.monotonic()
        self.congested = False  # the transport holds more than _HIGH_WATER (pause_writing)
        self.throttled = False  # a pipeline stopped at _BATCH_BYTES waits for its replies to go
        self.soft_since = 0.0  # when the output first passed the soft limit (0: under it)
        # Where the first reply of deferred length starts in the held output (-1: none).
        self.deferred_at = -1
        self.out_counted = 0  # the unwritten output when its client was last measured at a write

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        srv = self.server
        if len(srv.clients) >= srv.config["maxclients"]:
            self._refuse(b"-ERR max number of clients reached\r\n")
            return
        c = self.client
        pending = b""
        early = self.proc.early
        if c is None and early:  # served by the busy responder before this ran (_busy.py)
            sock = transport.get_extra_info("socket")
            if sock is not None:
                c, pending = early.pop(sock.fileno(), (None, b""))
        if c is None:
            peer = transport.get_extra_info("peername")
            local = is_local_peer(peer)
            if refuses_peer(srv, local):  # protected mode, decided once per connection
                self._refuse(DENIED)
                return
            sock = transport.get_extra_info("socket")
            if sock is not None:
                keepalive(sock, srv.config["tcp-keepalive"])
            c = Client(
                srv, _address(peer), _address(transport.get_extra_info("sockname")),
                sock.fileno() if sock is not None else -1, local,
            )
        c.send = self.send_async
        c.push = self.push
        c.push_after = self.push_after
        c.close = self.close_client
        c.abort = self.abort_client
        c.out_pending = transport.get_write_buffer_size  # type: ignore[attr-defined]
        c.buffers = self.buffers
        c.reply_room = self.reply_room
        c.deferred_reply = self.deferred_reply
        transport.set_write_buffer_limits(_HIGH_WATER, _LOW_WATER)  # type: ignore[attr-defined]
        self.client = c
        srv.add_client(c)
        self.proc.connections[c.id] = self
        self.parser.auth_required = not c.authenticated
        if pending:
            self.data_received(pending)

    def _refuse(self, reply: bytes) -> None:
        """Answer a connection that is not accepted, and close it (counted as Redis counts it)."""
        t = self.transport
        assert t is not None
        t.write(reply)
        t.close()
        self.server.stats["rejected_connections"] += 1
        self.closed = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        c = self.client
        if c is not None:
            self.server.remove_client(c)
            self.proc.connections.pop(c.id, None)
        if self.proc.pause_waiters:
            self.proc.release(self)

    def pause_writing(self) -> None:
        """The client reads slower than it is answered (a throttled pipeline waits for it)."""
        self.congested = True
        t = self.transport
        if t is not None and not self.closed:
            c = self.client
            if c is not None and not c.authenticated:
                # Redis closes a client that has not authenticated once 1024 bytes of its
                # output wait; moonkv at this mark, so that other writes pay nothing for it.
                # Not from inside the transport's write that called us: at the next turn.
                asyncio.get_event_loop().call_soon(self.drop_unauthenticated)

    def drop_unauthenticated(self) -> None:
        c = self.client
        if c is not None and not c.authenticated and not self.closed and self.transport is not None:
            self.drop_over_limit()

    def resume_writing(self) -> None:
        self.congested = False
        m = self.outbox.memory
        c = self.client
        t = self.transport
        if m is not None and c is not None and t is not None:
            self.out_counted = t.get_write_buffer_size()
            m.update(c)  # the client read most of its output
        self.unthrottle()

    def unthrottle(self) -> None:
        """Serve what a stopped pipeline left, then read again unless that stopped too."""
        self.throttled = False
        c = self.client
        t = self.transport
        if c is None or t is None or self.closed:
            return
        if self.pending and c.blocked is None:
            self.resume()
        if not self.throttled and not self.congested and not self.closed:
            t.resume_reading()

    def data_received(self, data: bytes) -> None:
        c = self.client
        if self.closed or c is None or c.closing:
            return  # closing: nothing after QUIT or a protocol error is served
        srv = self.server
        srv.net_input_bytes += len(data)
        parser = self.parser
        if self.pending or c.blocked is not None:
            # Waiting (blocked, paused): the bytes stay unparsed, as in Redis's query
            # buffer, so client-query-buffer-limit bounds them; resume() parses them.
            parser.feed(data)
            if parser.buffered > 1048576 and parser.buffered > srv.config["client-query-buffer-limit"]:
                self.close_client()
            else:
                self.count_query_buffer(c)
            return
        cmds = parser.parse_whole(data)
        if cmds is None:
            parser.feed(data)
            # The limit is at least 1 MiB: look it up only for big buffers.
            if parser.buffered > 1048576 and parser.buffered > srv.config["client-query-buffer-limit"]:
                self.close_client()
                return
            # Counted before the commands are parsed and run: a large request is client
            # memory while it runs (Redis counts its argv), so maxmemory-clients evicts
            # its sender first.
            self.count_query_buffer(c)
            if c.closing:
                return  # evicted (maxmemory-clients)
            cmds = parser.parse()
            if not cmds and parser.buffered:
                # Only part of a command: measured again as parsed (Redis gives a big
                # argument's whole size to its buffer once its header is read); with
                # commands, the write of their replies measures it.
                self.count_query_buffer(c)
                if c.closing:
                    return
        if (
            len(cmds) == 1
            and c.reply_mode == REPLY_ON
            and not srv.paused_until
            and parser.error is None
        ):
            # Fast path for the common non-pipelined request: one command, one
            # reply; anything unusual afterwards takes the general path.
            reply = srv.execute(c, cmds[0])
            parser.auth_required = not c.authenticated
            t = type(reply)
            if not c.closing and srv.shutdown_requested is None and c.reply_mode == REPLY_ON:
                if t is bytes:
                    self.send(bulk(reply))  # type: ignore[arg-type]
                    return
                if t is str and reply == "OK":
                    self.send(_OK)
                    return
                if t is int:
                    self.send(b":%d\r\n" % reply)  # type: ignore[str-format]
                    return
            out = self._after(reply, [])
            if out:
                self.write(out)
            return
        out = self.run_commands(cmds)
        # AUTH/HELLO AUTH lift Redis's limits for unauthenticated clients.
        parser.auth_required = not c.authenticated
        if parser.error is not None:
            self._protocol_error(parser.error, out)
            return
        if out:
            self.write(out)

    def count_query_buffer(self, c: Client) -> None:
        """A read took the general path: its client's query buffer grew (the fast path
        leaves none); the write of its replies measures it again (once parsed, the buffer
        is gone)."""
        m = self.outbox.memory
        if m is not None:
            m.update(c)
            self.out_counted = -1

    def run_commands(self, cmds: list[list[bytes]]) -> list[bytes]:
        """Execute commands in order; returns encoded replies (stops at a block)."""
        out: list[bytes] = []
        self.batch = out  # a push to this client joins its replies in order (see push)
        try:
            self._run(cmds, out)
        finally:
            self.batch = None
        return out

    def _run(self, cmds: list[list[bytes]], out: list[bytes]) -> None:
        c = self.client
        assert c is not None
        srv = self.server
        proc = self.proc
        start = 0
        if len(cmds) > 1 and not srv.paused_until and c.reply_mode == REPLY_ON and srv.plain(c):
            # A pipeline: its leading data commands skip the per-command checks
            # (Server.execute_data); none of them can pause, close or switch the client.
            run = srv.execute_data
            size = 0
            for argv in cmds:
                reply = run(c, argv)
                if reply is NOT_DATA:
                    break
                start += 1
                t = type(reply)
                if t is bytes:
                    out.append(bulk(reply))  # type: ignore[arg-type]
                    size += len(reply)  # type: ignore[arg-type]
                    if size > _BATCH_BYTES and start < len(cmds):
                        self.throttle(cmds[start:])
                        return
                elif reply is _OK_STR:
                    out.append(_OK)
                elif t is int:  # PUBLISH, INCR, counts
                    out.append(b":%d\r\n" % reply)  # type: ignore[str-format]
                elif reply is BLOCKED:
                    self.pending.extend(cmds[start:])
                    return
                else:
                    n = len(out)
                    self._emit(reply, out)
                    for chunk in out[n:]:
                        size += len(chunk)
                    if size > _BATCH_BYTES and start < len(cmds):
                        self.throttle(cmds[start:])
                        return
            else:
                return
        size = 0
        for i, argv in enumerate(cmds[start:] if start else cmds, start):
            if c.closing:
                break
            if srv.paused_until and pause_holds(srv, c, argv):
                self.pending.extend(cmds[i:])
                proc.hold(self)
                break
            reply = srv.execute(c, argv)
            if reply is BLOCKED:
                self.pending.extend(cmds[i + 1 :])
                break
            n = len(out)
            self._emit(reply, out)
            if c.closing:
                break
            if srv.shutdown_requested is not None:
                break
            for chunk in out[n:]:
                size += len(chunk)
            if size > _BATCH_BYTES and i + 1 < len(cmds):
                self.throttle(cmds[i + 1 :])
                break
        if srv.shutdown_requested is not None:
            proc.request_shutdown()

    def throttle(self, rest: list[list[bytes]]) -> None:
        """Stop a pipeline whose replies passed _BATCH_BYTES: ``rest`` waits (see unthrottle)."""
        self.pending[:0] = rest
        self.throttled = True
        t = self.transport
        if t is not None and not self.closed:
            t.pause_reading()

    def _after(self, reply: object, out: list[bytes]) -> list[bytes]:
        """The general handling of one executed command's reply (see run_commands)."""
        if reply is not BLOCKED:
            self._emit(reply, out)
        if self.server.shutdown_requested is not None:
            self.proc.request_shutdown()
        return out

    def _emit(self, reply: object, out: list[bytes]) -> None:
        """Append one reply's bytes to ``out``, honouring CLIENT REPLY."""
        c = self.client
        assert c is not None
        mode = c.reply_mode
        if mode == REPLY_ON:
            if reply is not NO_REPLY:
                # The common replies are encoded inline (no call per reply).
                t = type(reply)
                if t is bytes:
                    out.append(bulk(reply))  # type: ignore[arg-type]
                elif t is str:
                    out.append(_OK if reply == "OK" else encode(reply, c.resp))
                elif t is int:
                    out.append(b":%d\r\n" % reply)  # type: ignore[str-format]
                elif t is RawReply:  # a script's reply, already encoded
                    out.append(reply.data)  # type: ignore[attr-defined]
                else:
                    encode_many([reply], c.resp, out.append)
        else:
            if type(reply) is Replies:  # pub/sub confirmations are pushes: never silenced
                encode_many([reply], c.resp, out.append)
            if mode == REPLY_SKIP and reply is not NO_REPLY:
                # This reply is the skipped one; CLIENT REPLY SKIP's own (none) does not count.
                c.reply_mode = REPLY_ON

    # -- output ------------------------------------------------------------

    def write(self, out: list[bytes]) -> None:
        self.send(b"".join(out) if len(out) != 1 else out[0])

    def send(self, data: bytes) -> None:
        """Hold ``data`` for the end of this event loop iteration (see the module doc)."""
        held = self.held
        if held is not None:
            held.append(data)
        else:
            self.held = [data]
            box = self.outbox
            box.conns.append(self)
            if not box.scheduled and box.call_soon is not None:
                box.scheduled = True
                box.call_soon(box.flush)

    def push(self, data: bytes) -> None:
        """Out-of-band bytes for this client (Client.push): a pub/sub message.

        In order with the replies: while this connection runs a pipeline the
        push joins the replies gathered so far, otherwise it is held like one.
        """
        if self.closed:
            return
        batch = self.batch
        if batch is not None:
            batch.append(data)
            return
        # send(), inlined: one call less per delivered message.
        held = self.held
        if held is not None:
            held.append(data)
        else:
            self.held = [data]
            box = self.outbox
            box.conns.append(self)
            if not box.scheduled and box.call_soon is not None:
                box.scheduled = True
                box.call_soon(box.flush)

    def push_after(self, data: bytes) -> None:
        """A push that follows the reply of the command running now (Client.push_after):
        that reply is held or gathered before the loop's next callback runs."""
        asyncio.get_event_loop().call_soon(self.push, data)

    def take_held(self) -> bytes:
        held = self.held
        self.held = None
        if held is None:
            return b""
        return held[0] if len(held) == 1 else b"".join(held)

    def deferred_reply(self) -> None:
        """Client.deferred_reply: the reply being built has a deferred length in Redis.

        Noted only while the client's class has a limit, so that the flush, which reads
        it only then, costs nothing more without one. (A reply noted while an earlier
        flush of this connection waits for the group commit is taken for that flush's:
        both are then counted up to 16 KiB off.)"""
        c = self.client
        if (
            self.deferred_at < 0
            and c is not None
            and self.outbox.obuf_limits[_PUBSUB if c.subs is not None else _NORMAL] is not None
        ):
            held = self.held
            batch = self.batch  # the replies of the pipeline run so far, held after ``held``
            self.deferred_at = (sum(len(b) for b in held) if held is not None else 0) + (
                sum(len(b) for b in batch) if batch is not None else 0
            )

    def write_now(self, data: bytes) -> None:
        t = self.transport
        if t is None or self.closed:
            return
        c = self.client
        if data:
            if c is not None:
                limit = self.outbox.obuf_limits[_PUBSUB if c.subs is not None else _NORMAL]
                if limit is not None:
                    # Redis's reply buffer holds at most 16 KiB of what precedes the first
                    # reply of deferred length (deferred_at), and nothing after it.
                    before = self.deferred_at
                    if before < 0:
                        before = len(data)
                    else:
                        self.deferred_at = -1
                    pending = t.get_write_buffer_size()
                    used = len(data) + pending - min(_REPLY_BUFFER, pending + before)
                    if self.over_limit(limit, used):
                        return
            self.server.net_output_bytes += len(data)
            t.write(data)
            if self.throttled and not self.congested:
                # The transport took the replies without filling up: go on at once.
                asyncio.get_event_loop().call_soon(self.unthrottle)
        if c is not None:
            if c.closing:
                self.closed = True
                t.close()
                self.server.remove_client(c)  # gone now: no longer subscribed or counted
                return
            m = self.outbox.memory
            if m is not None:
                # Measured again when its unwritten output changed (most writes leave none,
                # as the last one did): one call per write, not a measurement.
                out = t.get_write_buffer_size()
                if out != self.out_counted:
                    self.out_counted = out
                    m.update(c)

    def over_limit(self, limit: tuple[int, int, int], used: int) -> bool:
        """client-output-buffer-limit: close the client once ``used`` passes its hard limit,
        or its soft limit for longer than the soft seconds (Redis's rule); True if closed."""
        hard, soft, seconds = limit
        if hard and used >= hard:
            self.drop_over_limit()
            return True
        if soft and used >= soft:
            now = time.monotonic()
            if not self.soft_since:
                self.soft_since = now
                # Redis's cron closes a client that stays over the limit with no more traffic.
                asyncio.get_event_loop().call_later(seconds + 0.1, self.check_soft_limit)
            elif now - self.soft_since > seconds:
                self.drop_over_limit()
                return True
        else:
            self.soft_since = 0.0
        return False

    def check_soft_limit(self) -> None:
        c = self.client
        t = self.transport
        if c is None or t is None or self.closed or not self.soft_since:
            return
        limit = self.outbox.obuf_limits[_PUBSUB if c.subs is not None else _NORMAL]
        if limit is None:
            self.soft_since = 0.0
            return
        self.over_limit(limit, t.get_write_buffer_size() - _REPLY_BUFFER)
        if not self.closed and self.soft_since:
            asyncio.get_event_loop().call_later(0.5, self.check_soft_limit)

    def drop_over_limit(self) -> None:
        """client-output-buffer-limit: close at once, as Redis frees such a client."""
        c = self.client
        assert c is not None
        log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", c.info_line())
        self.abort_client()

    def abort_client(self) -> None:
        """Close at once, dropping every unwritten reply (Client.abort)."""
        c = self.client
        t = self.transport
        if c is None or t is None or self.closed:
            return
        c.closing = True
        self.closed = True
        self.held = None
        t.abort()
        self.server.remove_client(c)

    def reply_room(self) -> int | None:
        """Reply bytes this client may still be sent before its class's hard
        client-output-buffer-limit closes it at the flush; None without a hard limit."""
        c = self.client
        limit = self.outbox.obuf_limits[_PUBSUB if c is not None and c.subs is not None else _NORMAL]
        if limit is None or not limit[0]:
            return None
        return max(0, limit[0] - self._counted()[0])

    def buffers(self) -> tuple[int, int, int, int, int]:
        """(qbuf, output bytes over the reply buffer, output chunks, qbuf-free, argv-mem) for
        CLIENT LIST (RespParser.query_buffer has the query side): the output is what is
        held for this iteration's flush and not yet written."""
        used, chunks = self._counted()
        qbuf, free, argv = self.parser.query_buffer()
        return qbuf, max(0, used), chunks, free, argv

    def _counted(self) -> tuple[int, int]:
        """(output bytes counted against the limits, output chunks) of what is held and
        what the transport has not written: all but what Redis's reply buffer would hold."""
        held = self.held
        t = self.transport
        pending = t.get_write_buffer_size() if t is not None and not self.closed else 0
        size = sum(len(b) for b in held) if held is not None else 0
        before = self.deferred_at if self.deferred_at >= 0 else size
        chunks = (len(held) if held is not None else 0) + (pending > 0)
        return pending + size - min(_REPLY_BUFFER, pending + before), chunks

    def send_async(self, reply: object) -> None:
        """Deliver a reply produced outside this connection's request (blocked client served)."""
        c = self.client
        if c is None or self.closed:
            return
        if c.reply_mode != REPLY_OFF:
            out: list[bytes] = []
            encode_many([reply], c.resp, out.append)
            self.write(out)
        # Resume the commands that were pipelined behind the blocking one.
        if (self.pending or self.parser.buffered) and c.blocked is None:
            asyncio.get_event_loop().call_soon(self.resume)

    def resume(self) -> None:
        c = self.client
        if c is None or self.closed or c.blocked is not None:
            return
        cmds, self.pending = self.pending, []
        out = self.run_commands(cmds)
        if out:
            self.write(out)
        parser = self.parser
        if parser.error is not None and not self.pending:
            self._protocol_error(parser.error, [])
            return
        # Then the bytes that arrived while waiting, a slice at a time (as reads would
        # bring them): what follows a command that waits again stays unparsed.
        if parser.buffered and not self.pending and parser.error is None:
            rest = parser.take_buffer()
            self.server.net_input_bytes -= len(rest)  # counted when they arrived
            for i in range(0, len(rest), 65536):
                self.data_received(rest[i : i + 65536])

    def close_client(self) -> None:
        c = self.client
        if c is not None:
            c.closing = True
        t = self.transport
        if t is not None and not self.closed:
            self.closed = True  # replies it still holds are dropped, as Redis drops them
            t.close()

    def _protocol_error(self, err: ProtocolError, out: list[bytes]) -> None:
        srv = self.server
        e = srv.error_reply(RespError(f"Protocol error: {err.message}"))
        out.append(encode(e, 2))
        c = self.client
        if c is not None:
            c.closing = True
        self.write(out)  # the connection closes once this is written


def keepalive(sock: Any, interval: int) -> None:
    """tcp-keepalive: SO_KEEPALIVE with Redis's timings (idle ``interval`` s, probes every
    interval/3 s, 3 probes); 0 leaves the socket as it is."""
    if interval <= 0:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(interval // 3, 1))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except OSError:
        pass  # a socket that is already gone: the connection ends anyway


def _obuf_active(limits: ObufLimits) -> tuple[tuple[int, int, int] | None, ...]:
    """The classes with a limit (hard, or soft with its seconds); None for the others."""
    return tuple(lim if lim[0] or lim[1] else None for lim in limits)


def _address(name: object) -> str:
    """A socket name as CLIENT LIST shows it (host:port)."""
    return f"{name[0]}:{name[1]}" if isinstance(name, tuple) else str(name or "")
