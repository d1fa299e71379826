"""A replica's connection to its primary: handshake, sync, and reading the stream.

The stream is applied unit by unit by an :class:`~moonkv.replication._apply.Applier`;
a unit cut by a disconnect is dropped and received again, since the PSYNC that
follows asks for the stream from the end of the last applied unit.  Each record
carries the stream position reached (``Persistence.repl_pos``), so a restarted
replica resumes where its log ends.  ``REPLCONF ACK`` reports an offset only once
the records up to it are written (and fsynced with ``appendfsync always``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import time
from typing import TYPE_CHECKING

from moonkv.engine import Client
from moonkv.protocol import encode_command
from moonkv.replication import _stream
from moonkv.replication._apply import Applier
from moonkv.tls import client_context

if TYPE_CHECKING:
    from moonkv.replication._node import Replication

log = logging.getLogger("moonkv")

_RECV_NAME = "replica-sync.tmp"


class LinkError(Exception):
    pass


class ReplicaLink:
    def __init__(self, node: Replication, host: str, port: int, *, failover: bool = False) -> None:
        self.node = node
        self.server = node.server
        self.host = host
        self.port = port
        self.state = "connect"  # connect | connecting | handshake | sync | connected
        self.synced = False  # a sync with this primary completed (ROLE shows the offset)
        self.active = True
        self.client = Client(self.server)
        self.client.authenticated = True
        self.client.in_exec = True  # never blocks
        self.applier = Applier(node, self.client)
        self.writer: asyncio.StreamWriter | None = None
        self.last_io = time.monotonic()
        self.down_since: float | None = None
        self.sync_total = 0
        self.sync_read = 0
        self.silent = False  # the acker closed the link: the primary sent nothing for repl-timeout
        self.failover = failover  # PSYNC ... FAILOVER: the target takes over as primary
        self.task = asyncio.ensure_future(self._run())

    # -- introspection -------------------------------------------------------------

    def role_state(self) -> str:
        return self.state

    def last_io_ago(self) -> int:
        return int(time.monotonic() - self.last_io)

    def read_offset(self) -> int:
        return self.node.offset + self.applier.parser.pending()

    def down_seconds(self) -> int:
        return -1 if self.down_since is None else int(time.monotonic() - self.down_since)

    def sync_lines(self) -> list[str]:
        left = self.sync_total - self.sync_read
        perc = 100.0 * self.sync_read / self.sync_total if self.sync_total else 0.0
        return [
            f"master_sync_total_bytes:{self.sync_total}",
            f"master_sync_read_bytes:{self.sync_read}",
            f"master_sync_left_bytes:{left}",
            f"master_sync_perc:{perc:.2f}",
            f"master_sync_last_io_seconds_ago:{self.last_io_ago()}",
        ]

    # -- the connection ------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        """Into or out of ``connected``: whether a stale replica refuses commands changes."""
        self.state = state
        self.server.refresh_write_refusal()

    def stop(self) -> None:
        self.active = False
        self.task.cancel()
        self._close()

    def _close(self) -> None:
        w = self.writer
        self.writer = None
        if w is not None:
            w.close()

    async def _run(self) -> None:
        while self.active:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, EOFError, ValueError, LinkError, asyncio.IncompleteReadError,
                    _stream.StreamError) as e:
                log.warning("MASTER <-> REPLICA link with %s:%d: %s", self.host, self.port,
                            e or type(e).__name__)
            except Exception:  # noqa: BLE001 - the link retries whatever happened
                log.exception("MASTER <-> REPLICA link failed")
            self._close()
            # A unit cut by the disconnect is dropped: the next PSYNC asks for it again.
            self.applier.reset()
            if self.state == "connected" or self.down_since is None:
                self.down_since = time.monotonic()
            self._set_state("connect")
            if self.active:
                await asyncio.sleep(1.0)

    async def _session(self) -> None:
        srv = self.server
        while srv.loading:
            await asyncio.sleep(0.05)
        timeout = float(srv.config["repl-timeout"])
        self.state = "connecting"
        # tls-replication: the primary's port is a TLS port; moonkv presents its client
        # certificate (tls-client-cert-file, else tls-cert-file) and checks the primary's
        # against the CA, as Redis does (docs/tls.md).
        tls = client_context(srv.config) if srv.config["tls-replication"] else None
        source = srv.config["bind-source-addr"]
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=tls, server_hostname="" if tls else None,
                local_addr=(source, 0) if source else None), timeout)
        except OSError as e:
            if not source or e.errno != errno.EADDRNOTAVAIL:
                raise
            # As Redis's best-effort binding: a source address the machine lacks is left out.
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=tls, server_hostname="" if tls else None), timeout)
        self.writer = writer
        self.state = "handshake"

        async def ask(*argv: bytes) -> bytes:
            writer.write(encode_command(list(argv)))
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                raise EOFError("connection closed by the primary")
            self.last_io = time.monotonic()
            return line.rstrip(b"\r\n")

        reply = await ask(b"PING")
        if reply.startswith(b"-") and not reply.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
            raise LinkError(f"error reply to PING from master: '{reply.decode('utf-8', 'replace')}'")
        cfg = srv.config
        if cfg["masterauth"]:
            argv = [b"AUTH"]
            if cfg["masteruser"]:
                argv.append(cfg["masteruser"].encode())
            argv.append(cfg["masterauth"].encode())
            reply = await ask(*argv)
            if reply.startswith(b"-"):
                raise LinkError(f"Unable to AUTH to MASTER: {reply.decode('utf-8', 'replace')}")
        reply = await ask(b"REPLCONF", b"listening-port", b"%d" % srv.port)
        if reply.startswith(b"-"):
            log.info("(Non critical) Master does not understand REPLCONF listening-port: %s", reply.decode("utf-8", "replace"))
        reply = await ask(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
        node = self.node
        pos = node.position()  # after loading: a restarted replica resumes from its log
        p = srv.persistence
        if p is not None and p.repl_pos is not None and int(p.repl_pos[2]) >= 0:
            self.client.select(int(p.repl_pos[2]))  # the stream's database at that offset
        if pos is None:
            psync = [b"PSYNC", b"?", b"-1"]
        else:
            psync = [b"PSYNC", pos[0].encode(), b"%d" % (pos[1] + 1)]
        if self.failover:
            psync.append(b"FAILOVER")
        reply = await ask(*psync)
        if self.failover and not reply.startswith((b"+FULLRESYNC", b"+CONTINUE")):
            self.failover = False
            node.abort_failover(f"the target refused: {reply.decode('utf-8', 'replace')}")
            return
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) != 3:
                raise LinkError(f"bad FULLRESYNC reply {reply!r}")
            replid, offset = parts[1].decode(), int(parts[2])
            self.state = "sync"
            await self._full_sync(reader, timeout, replid, offset)
        elif reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            replid = parts[1].decode() if len(parts) > 1 else node.replid
            node.continued(replid)
            self.applier.record_position()
            log.info("Successful partial resynchronization with master %s:%d", self.host, self.port)
        else:
            raise LinkError(f"unexpected reply to PSYNC from master: '{reply.decode('utf-8', 'replace')}'")
        self._set_state("connected")
        self.synced = True
        self.down_since = None
        self.failover = False
        node.failover_done()
        # No timer per read (asyncio.wait_for builds a task and a timer each time: ~25 µs
        # per read, more than applying a SET); the acker's tick checks the silence instead.
        acker = asyncio.ensure_future(self._ack_every_second(writer, timeout))
        applier = self.applier
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    if self.silent:
                        raise TimeoutError(f"no data from the primary for {timeout:g} seconds")
                    raise EOFError("connection closed by the primary")
                self.last_io = time.monotonic()
                applier.parser.feed(data)
                applier.process()
                if applier.ack_wanted:
                    applier.ack_wanted = False
                    self._send_ack()
        finally:
            acker.cancel()
            self.silent = False

    async def _full_sync(self, reader: asyncio.StreamReader, timeout: float, replid: str, offset: int) -> None:
        line = await asyncio.wait_for(reader.readline(), timeout)
        while line == b"\n":  # keep-alives while the primary prepares the snapshot
            line = await asyncio.wait_for(reader.readline(), timeout)
        if not line.startswith(b"$"):
            raise LinkError(f"bad snapshot header {line[:64]!r}")
        size = int(line[1:].strip())
        self.sync_total = size
        self.sync_read = 0
        p = self.server.persistence
        path = os.path.join(p.dir, _RECV_NAME)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            while self.sync_read < size:
                chunk = await asyncio.wait_for(reader.read(min(1 << 20, size - self.sync_read)), timeout)
                if not chunk:
                    raise EOFError("connection closed by the primary during the snapshot")
                os.write(fd, chunk)
                self.sync_read += len(chunk)
                self.last_io = time.monotonic()
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        os.close(fd)
        log.info("MASTER <-> REPLICA sync: received %d bytes, loading", size)
        self.applier.reset()
        self.node.full_synced(replid, offset)
        db = p.adopt_snapshot(path, replid, offset)
        self.client.select(db)
        log.info("MASTER <-> REPLICA sync: Finished with success")

    async def _ack_every_second(self, writer: asyncio.StreamWriter, timeout: float) -> None:
        """REPLCONF ACK each second, and repl-timeout: a primary silent that long (it PINGs
        every repl-ping-replica-period) is dropped; the read then ends and says why."""
        while True:
            await asyncio.sleep(1.0)
            if time.monotonic() - self.last_io > timeout:
                self.silent = True
                writer.close()
                return
            self._send_ack()

    def _send_ack(self) -> None:
        w = self.writer
        # After a failed log write the applied offset is not durable: no ACK until the
        # persistence's recovery checkpoint has written memory afresh.
        if w is not None and self.server.write_error is None:
            w.write(encode_command([b"REPLCONF", b"ACK", b"%d" % self.node.offset]))
