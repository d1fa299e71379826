"""A node's replication state: its role, the stream it serves, the replicas attached.

On a primary the node is an effects sink (``server.sinks``): each committed unit
is encoded as the commands a Redis replica receives (:mod:`._stream`), appended
to the backlog and sent to every online replica.  The bytes leave through the
replica connections' held replies, so the group commit makes the primary's own
log record durable before any replica sees it.

On a replica the node is fed by its :class:`~moonkv.replication._link.ReplicaLink`
with the primary's bytes, unit by unit once applied, and serves them unchanged
to its own replicas (chains keep the primary's replication id and offsets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from moonkv.engine import BLOCKED, NO_REPLY, Client, Server
from moonkv.engine._config import REPLICA_CLASS
from moonkv.errors import RespError
from moonkv.protocol import RawReply, encode_command_into
from moonkv.replication import _stream
from moonkv.replication._backlog import Backlog

log = logging.getLogger("moonkv")

NO_ID: Final = "0" * 40
# The stream bytes of a primary's empty log records, told apart by length.
_CONTROL: Final = {len(_stream.PING): _stream.PING, len(_stream.GETACK): _stream.GETACK}


def new_replid() -> str:
    return os.urandom(20).hex()


@dataclass(eq=False)
class Peer:
    """A replica attached to this node (its connection's client)."""

    client: Client
    ip: str
    port: int = 0
    state: str = "wait_bgsave"  # wait_bgsave | send_bulk | online
    ack_offset: int = 0
    ack_time: float = field(default_factory=time.monotonic)
    pending: list[bytes] | None = None  # the stream since its snapshot's instant
    pending_bytes: int = 0
    soft_since: float = 0.0  # when its output first passed the soft limit (0: below it)
    legacy: bool = False  # SYNC (redis-cli --replica): the snapshot without +FULLRESYNC


@dataclass(eq=False)
class _SyncChild:
    pid: int
    path: str
    tmpdir: str
    offset: int
    peers: list[Peer]


@dataclass(eq=False)
class _Waiter:
    client: Client
    state: Any  # the engine's BlockState while the client waits
    offset: int
    needed: int
    timer: Any = None


class Replication:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.config = server.config
        self.replid = new_replid()
        self.replid2 = NO_ID
        self.second_offset = -1
        self.offset = 0  # master_repl_offset: the stream's last byte (served or applied)
        self.backlog: Backlog | None = None
        # A primary streaming its units (its sink registered): PUBLISH becomes an effect.
        self.propagating = False
        self.rebuilt: Backlog | None = None  # while loading: the log tail's stream
        self.rebuilt_db = -1
        self.peers: list[Peer] = []
        self.seldb = -1  # the database the stream last selected (-1: send SELECT next)
        self.outgoing: list[bytes] = []  # stream bytes of this iteration: not in the backlog yet
        self.send_scheduled = False
        # The Outbox's defer (set by the listener): _send_outgoing runs in the iteration's
        # flush, before the replies are written.  None (embedded): it runs at once.
        self.defer: Callable[[Callable[[], None]], None] | None = None
        self.link: Any = None  # a ReplicaLink while this node is a replica
        self.master: tuple[str, int] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.child: _SyncChild | None = None
        self.waiting_sync: list[Peer] = []
        self.waiters: list[_Waiter] = []
        self.getack_scheduled = False
        self.last_ping = time.monotonic()
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.good_replicas = 0  # online replicas that ACKed within min-replicas-max-lag
        self._ports: dict[int, int] = {}  # client id -> REPLCONF listening-port before PSYNC
        # FAILOVER: no-failover | waiting-for-sync | failover-in-progress
        self.failover_state = "no-failover"
        self.failover_target: tuple[str, int] | None = None
        self.failover_deadline = 0.0
        self.failover_force = False
        # client-output-buffer-limit's replica class (normal and pubsub: server/_connection.py).
        self.limits: tuple[int, int, int] = self.config["client-output-buffer-limit"][REPLICA_CLASS]
        self.config.on_change(self._config_changed)

    # -- lifecycle ---------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, defer: Callable[[Callable[[], None]], None]) -> None:
        """Called by the listener once the loop runs, with its Outbox's ``defer``: follow
        ``replicaof`` if configured."""
        self.loop = loop
        self.defer = defer
        loop.call_later(1.0, self._cron)
        target = self.config["replicaof"].split()
        if len(target) == 2:
            self.follow(target[0], int(target[1]))

    def _config_changed(self, name: str, value: Any) -> None:
        if name == "repl-backlog-size" and self.backlog is not None:
            self.backlog.resize(value)
        elif name == "client-output-buffer-limit":
            self.limits = value[REPLICA_CLASS]
        elif name == "replica-serve-stale-data":
            self.server.refresh_write_refusal()

    @property
    def is_replica(self) -> bool:
        return self.master is not None

    @property
    def stale(self) -> bool:
        """A replica whose link is not up (connecting, handshaking or syncing) while
        replica-serve-stale-data is no: it answers -MASTERDOWN (Server.stale)."""
        if self.master is None or self.config["replica-serve-stale-data"]:
            return False
        link = self.link
        return link is None or link.state != "connected"

    def _ensure_backlog(self) -> Backlog:
        if self.backlog is None:
            self.backlog = Backlog(self.config["repl-backlog-size"], self.offset)
        return self.backlog

    # -- the stream a primary serves (the EffectsSink) ----------------------------

    def commit(self, effects: list[tuple[int, list[bytes]]]) -> None:
        if len(effects) == 1:  # the usual unit: one command, most often in the same db
            db, argv = effects[0]
            if db == self.seldb and self.backlog is not None:
                # Its pieces join the iteration's: one b"".join per iteration, not per unit.
                self._advance(encode_command_into(argv, self.outgoing))
                return
        data, self.seldb = _stream.unit(effects, self.seldb)
        self.feed(data)

    def feed(self, data: bytes) -> None:
        """Stream bytes: they join the backlog and leave for the replicas once per loop
        iteration, at its end (:meth:`_send_outgoing`)."""
        if self.backlog is None:
            return
        self.outgoing.append(data)
        self._advance(len(data))

    def _advance(self, size: int) -> None:
        """``size`` bytes were added to ``outgoing``.  On a primary the position reached goes
        into the unit's log record (this sink commits before the persistence's), so a
        restart knows its stream's end."""
        self.offset += size
        if self.master is None:
            p = self.server.persistence
            if p is not None:
                p.repl_pos = [self.replid, self.offset, self.seldb]
        if not self.send_scheduled:
            defer = self.defer
            if defer is None:
                self._send_outgoing()
            else:
                self.send_scheduled = True
                defer(self._send_outgoing)

    def _settle(self) -> bytes:
        """The iteration's stream bytes so far, appended to the backlog (one append per
        iteration, not per unit).  Whoever reads the backlog calls :meth:`_send_outgoing`
        first, never this alone while replicas are attached: they would miss the bytes."""
        out = self.outgoing
        if not out:
            return b""
        self.outgoing = []
        data = out[0] if len(out) == 1 else b"".join(out)
        backlog = self.backlog
        if backlog is not None:
            backlog.append(data)
        return data

    def _send_outgoing(self) -> None:
        """One write per replica per loop iteration, from the Outbox's flush (through the
        replicas' held replies: the group commit releases them after the iteration's log
        records are durable)."""
        self.send_scheduled = False
        data = self._settle()
        if data and self.peers:
            hard, soft, _secs = self.limits
            over: list[Peer] = []
            for p in self.peers:
                if p.state == "online":
                    # Client.push: held for the iteration's flush like a reply, with no reply
                    # encoding (send() of a RawReply encoded it again and checked REPLY OFF).
                    p.client.push(data)
                    size = p.client.out_pending()
                elif p.pending is not None:
                    p.pending.append(data)
                    p.pending_bytes += len(data)
                    size = p.pending_bytes
                else:
                    continue
                if (hard and size > hard) or (soft and size > soft) or p.soft_since:
                    over.append(p)
            if over:
                self._check_limits(over)

    def _check_limits(self, peers: list[Peer]) -> None:
        """client-output-buffer-limit's replica class: a replica that does not read is dropped."""
        hard, soft, secs = self.limits
        now = time.monotonic()
        for p in peers:
            size = p.client.out_pending() if p.state == "online" else p.pending_bytes
            if soft and size > soft:
                if not p.soft_since:
                    p.soft_since = now
            else:
                p.soft_since = 0.0
            if (hard and size > hard) or (p.soft_since and now - p.soft_since > secs):
                log.warning("Client %s (a replica) scheduled to be closed ASAP for overcoming of "
                            "output buffer limits.", p.client.addr)
                p.client.close()
                if p in self.peers:
                    self.peers.remove(p)
                self._refresh_good()

    def feed_control(self, data: bytes) -> None:
        """A primary's PING or GETACK: stream bytes that are no unit of the log.  An empty
        record carries the position past them, written (and fsynced with ``always``)
        before they leave, so a restarted primary never lags behind what its replicas got."""
        self.feed(data)
        p = self.server.persistence
        if p is not None and p.logging:
            p.commit([])

    def _register_sink(self) -> None:
        sinks = self.server.sinks
        if self not in sinks:
            sinks.insert(0, self)  # before the persistence: its record carries our position
        self.propagating = True

    def _unregister_sink(self) -> None:
        sinks = self.server.sinks
        if self in sinks:
            sinks.remove(self)
        self.propagating = False

    # -- PSYNC / SYNC (a replica attaching to this node) --------------------------------

    def psync(self, c: Client, replid: bytes, offset: int, *, legacy: bool = False,
              failover: bool = False) -> object:
        srv = self.server
        if failover:
            # Our primary hands over (FAILOVER): it follows us once we are the primary.
            if replid.decode("utf-8", "replace") != self.replid:
                raise RespError("PSYNC FAILOVER replid must match my replid.")
            self.promote()
            log.info("MASTER MODE enabled (failover request from %s)", c.addr)
        if self.is_replica and (self.link is None or self.link.state != "connected"):
            raise RespError(full="NOMASTERLINK Can't SYNC while not connected with my master")
        if srv.persistence is None:
            raise RespError("replication needs a data directory")
        if any(p.client is c for p in self.peers):
            return NO_REPLY  # already a replica: Redis ignores a second SYNC
        self._send_outgoing()  # the others' share first: the newcomer starts after it
        peer = Peer(c, c.addr.rsplit(":", 1)[0], self._ports.pop(c.id, 0), legacy=legacy)
        c.flags = "S"
        rid = replid.decode("utf-8", "replace")
        if not legacy and self._can_continue(rid, offset):
            assert self.backlog is not None
            tail = self.backlog.since(offset)
            assert tail is not None
            peer.state = "online"
            peer.ack_offset = offset - 1
            self.peers.append(peer)
            self.sync_partial_ok += 1
            c.send(RawReply(b"+CONTINUE %s\r\n" % self.replid.encode() + tail))
            log.info("Partial resynchronization request from %s accepted, sending %d bytes of backlog",
                     c.addr, len(tail))
            self._refresh_good()
            return NO_REPLY
        if not legacy and rid != "?":
            self.sync_partial_err += 1
        self.sync_full += 1
        self._ensure_backlog()
        if not self.is_replica:
            self._register_sink()
        self.peers.append(peer)
        self._start_full_sync(peer)
        return NO_REPLY

    def _can_continue(self, rid: str, offset: int) -> bool:
        """Whether PSYNC ``rid`` ``offset`` can continue; says why not in the log, as Redis."""
        backlog = self.backlog
        if backlog is None:
            return False
        if rid != self.replid and (rid != self.replid2 or offset > self.second_offset):
            if rid == "?":
                return False
            if rid != self.replid2:
                log.info("Partial resynchronization not accepted: Replication ID mismatch "
                         "(Replica asked for '%s', my replication IDs are '%s' and '%s')",
                         rid, self.replid, self.replid2)
            else:
                log.info("Partial resynchronization not accepted: Requested offset for second ID "
                         "was %d, but I can reply up to %d", offset, self.second_offset)
            return False
        if backlog.since(offset) is None:
            log.info("Unable to partial resync with replica for lack of backlog (Replica request "
                     "was: %d).", offset)
            return False
        return True

    def _start_full_sync(self, peer: Peer) -> None:
        child = self.child
        if child is not None:
            if child.offset == self.offset:  # nothing written since the fork: share it
                self._fullresync_line(peer, child.offset)
                child.peers.append(peer)
            else:
                self.waiting_sync.append(peer)
            return
        self._fork([peer])

    def _fullresync_line(self, peer: Peer, offset: int) -> None:
        peer.pending = []
        if not peer.legacy:
            peer.client.send(RawReply(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), offset)))

    def _fork(self, peers: list[Peer]) -> None:
        self._send_outgoing()  # the snapshot holds those bytes: they are not the peers' to get
        p = self.server.persistence
        tmpdir = tempfile.mkdtemp(prefix="moonkv-sync-")
        path = os.path.join(tmpdir, "sync.mkv")
        try:
            pid = p.fork_snapshot(path)  # with the ACL users: the replica takes ours
        except OSError as e:
            log.error("Can't fork for a replica's full sync: %s", e)
            shutil.rmtree(tmpdir, ignore_errors=True)
            for peer in peers:
                peer.client.close()
            return
        # The snapshot is the state at this offset; the next unit selects its database.
        self.seldb = -1
        for peer in peers:
            self._fullresync_line(peer, self.offset)
        self.child = _SyncChild(pid, path, tmpdir, self.offset, list(peers))
        log.info("Starting a snapshot for %d replica(s) by pid %d", len(peers), pid)
        if self.loop is not None:
            self.loop.call_later(0.01, self._poll_child)

    def _poll_child(self) -> None:
        child = self.child
        if child is None:
            return
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = child.pid, 1 << 8
        if pid == 0:
            if self.loop is not None:
                self.loop.call_later(0.01, self._poll_child)
            return
        self.child = None
        ok = os.waitstatus_to_exitcode(status) == 0
        data = b""
        if ok:
            try:
                with open(child.path, "rb") as f:
                    data = f.read()
            except OSError as e:
                log.error("Can't read the replica snapshot: %s", e)
                ok = False
        shutil.rmtree(child.tmpdir, ignore_errors=True)
        for peer in child.peers:
            if peer not in self.peers:
                continue
            if not ok:
                peer.client.close()
                continue
            pending = peer.pending or []
            peer.pending = None
            peer.state = "online"
            peer.ack_time = time.monotonic()
            peer.client.send(RawReply(b"".join([b"$%d\r\n" % len(data), data, *pending])))
            log.info("Synchronization with replica %s succeeded", peer.client.addr)
        waiting, self.waiting_sync = self.waiting_sync, []
        waiting = [p for p in waiting if p in self.peers]
        if waiting:
            self._fork(waiting)
        self._refresh_good()

    # -- REPLCONF from a replica ------------------------------------------------------

    def replconf_listening_port(self, c: Client, port: int) -> None:
        self._ports[c.id] = port
        for p in self.peers:
            if p.client is c:
                p.port = port

    def ack(self, c: Client, offset: int) -> None:
        for p in self.peers:
            if p.client is c:
                if offset > p.ack_offset:
                    p.ack_offset = offset
                p.ack_time = time.monotonic()
                break
        else:
            return
        self._check_waiters()
        self._refresh_good()
        if self.failover_state == "waiting-for-sync":
            self._failover_step()

    def memory(self) -> tuple[int, int]:
        """(the backlog's bytes, what the stream holds for the replicas: their connections'
        unwritten output, and the stream kept for a replica still loading its snapshot), for
        used_memory: INFO mem_replication_backlog and mem_clients_slaves, the latter not
        counted for eviction (Redis's freeMemoryGetNotCountedMemory)."""
        backlog = len(self.backlog.buf) if self.backlog is not None else 0
        held = 0
        for p in self.peers:
            held += p.client.buffers()[1] if p.state == "online" else p.pending_bytes
        return backlog, held

    def client_gone(self, c: Client) -> None:
        self._ports.pop(c.id, None)
        for w in self.waiters:
            if w.client is c:  # a client that left while in WAIT
                self.waiters.remove(w)
                if w.timer is not None:
                    w.timer.cancel()
                break
        for p in self.peers:
            if p.client is c:
                self.peers.remove(p)
                log.info("Connection with replica %s lost", c.addr)
                self._refresh_good()
                break

    def _refresh_good(self) -> None:
        srv = self.server
        lag = self.config["min-replicas-max-lag"]
        now = time.monotonic()
        good = sum(1 for p in self.peers if p.state == "online" and now - p.ack_time <= lag)
        if good != self.good_replicas:
            self.good_replicas = good
            srv.refresh_write_refusal()

    def disconnect_peers(self) -> None:
        for p in list(self.peers):
            p.client.close()
        self.peers = []
        self.waiting_sync = []
        self._settle()  # the iteration's bytes are the backlog's, no longer theirs
        self._refresh_good()

    # -- WAIT -------------------------------------------------------------------------

    def acked(self, offset: int) -> int:
        return sum(1 for p in self.peers if p.state == "online" and p.ack_offset >= offset)

    def wait(self, c: Client, needed: int, timeout_ms: int) -> object:
        srv = self.server
        if self.is_replica:
            raise RespError(
                "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if "
                "a replica is configured to be writable (which is not the default) writes to replicas "
                "are just local and are not propagated."
            )
        target = self.offset
        count = self.acked(target)
        if count >= needed or not srv.can_block(c) or self.loop is None:
            return count  # (an embedded instance has no replicas to wait for)
        srv.block(c, [], 0, timeout_reply=count)
        w = _Waiter(c, c.blocked, target, needed)
        if timeout_ms > 0 and self.loop is not None:
            w.timer = self.loop.call_later(timeout_ms / 1000.0, lambda: self._wait_done(w))
        self.waiters.append(w)
        self._request_acks()
        return BLOCKED

    def _request_acks(self) -> None:
        if self.getack_scheduled or self.loop is None:
            return
        self.getack_scheduled = True

        def send() -> None:
            self.getack_scheduled = False
            if self.waiters and any(p.state == "online" for p in self.peers):
                self.feed_control(_stream.GETACK)

        self.loop.call_soon(send)

    def _check_waiters(self) -> None:
        for w in list(self.waiters):
            if self.acked(w.offset) >= w.needed:
                self._wait_done(w)

    def _wait_done(self, w: _Waiter) -> None:
        if w in self.waiters:
            self.waiters.remove(w)
        if w.timer is not None:
            w.timer.cancel()
        if w.client.blocked is w.state:
            self.server.unblock_with(w.client, self.acked(w.offset))

    # -- FAILOVER ----------------------------------------------------------------------

    def failover(self, target: tuple[str, int] | None, force: bool, timeout_ms: int) -> str:
        """FAILOVER: pause writes, wait for a replica to have everything, hand over to it."""
        if self.is_replica:
            raise RespError("FAILOVER is not valid when server is a replica.")
        if not self.peers:
            raise RespError("FAILOVER requires connected replicas.")
        if self.failover_state != "no-failover":
            raise RespError("FAILOVER already in progress.")
        if force and (not timeout_ms or target is None):
            raise RespError("FAILOVER with force option requires both a timeout and target HOST and IP.")
        if target is not None:
            peer = next((p for p in self.peers if (p.ip, p.port) == target), None)
            if peer is None:
                raise RespError("FAILOVER target HOST and PORT is not a replica.")
            if peer.state != "online":
                raise RespError("FAILOVER target replica is not online.")
        srv = self.server
        self.failover_state = "waiting-for-sync"
        self.failover_target = target
        self.failover_force = force
        self.failover_deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else 0.0
        # Writes wait (CLIENT PAUSE WRITE) until the failover ends either way.
        srv.paused_until = float("inf")
        srv.pause_writes_only = True
        log.info("FAILOVER requested to %s", f"{target[0]}:{target[1]}" if target else "any replica")
        self.feed_control(_stream.GETACK)
        return "OK"

    def _failover_step(self) -> None:
        """While waiting for sync: hand over once a (the) replica has ACKed our whole stream."""
        now = time.monotonic()
        target = self.failover_target
        ready = [p for p in self.peers if p.state == "online" and p.ack_offset >= self.offset
                 and (target is None or (p.ip, p.port) == target)]
        if ready:
            chosen: tuple[str, int] = (ready[0].ip, ready[0].port)
        elif self.failover_deadline and now >= self.failover_deadline:
            if not (self.failover_force and target is not None):
                self.abort_failover("Replica never caught up before timeout")
                return
            chosen = target
        else:
            return
        self.failover_state = "failover-in-progress"
        log.info("Failover target %s:%d is synced, failing over", *chosen)
        self.follow(chosen[0], chosen[1], failover=True)

    def abort_failover(self, why: str) -> None:
        if self.failover_state == "failover-in-progress":
            self.promote()  # the target refused: take the primary role back
        self._end_failover()
        log.warning("FAILOVER aborted: %s", why)

    def failover_done(self) -> None:
        """The link to the new primary is up: the handover succeeded."""
        if self.failover_state == "failover-in-progress":
            self._end_failover()
            log.info("Failover to the new primary succeeded")

    def _end_failover(self) -> None:
        self.failover_state = "no-failover"
        self.failover_target = None
        srv = self.server
        srv.paused_until = 0.0  # paused writers resume at the listener's next tick
        srv.pause_writes_only = False

    # -- roles -----------------------------------------------------------------------

    def follow(self, host: str, port: int, *, failover: bool = False) -> str:
        """REPLICAOF host port: become (or stay) a replica of that primary."""
        from moonkv.replication._link import ReplicaLink

        if self.loop is None:
            raise RespError("REPLICAOF needs a network server (this instance is embedded)")
        if self.master == (host, port) and self.link is not None:
            return "OK Already connected to specified master"
        srv = self.server
        was_primary = self.master is None
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.disconnect_peers()
        self._abort_child()
        self._unregister_sink()
        self._ensure_backlog()
        self.master = (host, port)
        srv.refresh_write_refusal()
        srv.ks.active_expire_enabled = False  # expiries come from the primary's DELs
        self._fail_waiters()
        p = srv.persistence
        if was_primary and p is not None and p.loaded and self.offset:
            # A primary turned replica offers its own history: a partial resync if the new
            # primary's history contains it, a full one (dropping a divergent tail) if not.
            p.repl_pos = [self.replid, self.offset, self.seldb]
        self.link = ReplicaLink(self, host, port, failover=failover)
        log.info("Connecting to MASTER %s:%d", host, port)
        return "OK"

    def promote(self) -> str:
        """REPLICAOF NO ONE: become a primary, keeping the old history as replid2."""
        if self.failover_state != "no-failover" and self.master is not None:
            self._end_failover()
        if self.master is None:
            return "OK"
        srv = self.server
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.master = None
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = new_replid()
        self.seldb = -1
        self.disconnect_peers()  # they reconnect and continue under the new id
        self._ensure_backlog()
        self._register_sink()
        srv.refresh_write_refusal()
        srv.ks.active_expire_enabled = True
        self._start_history()
        log.info("MASTER MODE enabled (replid %s, replid2 %s up to offset %d)",
                 self.replid, self.replid2, self.second_offset - 1)
        return "OK"

    def change_replid(self) -> None:
        """DEBUG CHANGE-REPL-ID: a new history id, the old one forgotten."""
        self.replid = new_replid()
        self.replid2 = NO_ID
        self.second_offset = -1
        if self.master is None and self.backlog is not None:
            self._start_history()

    def restore(self) -> None:
        """The data directory is loaded: a primary takes up the stream its log (or snapshot)
        ends with, as Redis 7.0 does from its RDB's replication fields: that history becomes
        replid2 up to its offset, under a new replid, with an empty backlog at the offset, so
        a replica that had it all continues with a partial resync.  A replica offers its
        position in PSYNC instead (:meth:`position`)."""
        p = self.server.persistence
        pos = p.repl_pos if p is not None else None
        rebuilt, self.rebuilt = self.rebuilt, None
        if pos is None or self.master is not None:
            return
        if self.loop is None:
            # An embedded instance serves no replicas: its writes belong to no stream, so its
            # records carry no position and the next server starts a new history.
            p.repl_pos = None
            return
        self.offset = int(pos[1])
        self.replid2 = str(pos[0])
        self.second_offset = self.offset + 1
        self.replid = new_replid()
        self.seldb = -1
        if rebuilt is not None and rebuilt.offset == self.offset:
            rebuilt.resize(self.config["repl-backlog-size"])
            self.backlog = rebuilt
        self._ensure_backlog()
        self._register_sink()
        self._start_history()
        log.info("Restored the replication stream: replid2 %s up to offset %d, %d bytes of backlog "
                 "rebuilt from the log", self.replid2, self.offset, len(self._ensure_backlog().buf))

    def observe_record(self, effects: list[Any] | None, pos: list[Any] | None) -> None:
        """While loading: rebuild the backlog from the log's tail (the snapshot's position
        first, with ``effects`` None).  A record's stream bytes are its unit as the stream
        had it (from the database the previous position selected) or, for an empty record,
        the PING or GETACK its offset moved by.  Where they do not reach the record's offset
        exactly (a replica's records, whose stream held its primary's PINGs; a record
        without a position) the rebuilt backlog starts again, empty, at that offset."""
        if pos is None:
            self.rebuilt = None
            return
        offset = int(pos[1])
        rb = self.rebuilt
        if rb is not None and effects is not None:
            if effects:
                data, _ = _stream.unit(effects, self.rebuilt_db)
            else:
                data = _CONTROL.get(offset - rb.offset, b"")
            if rb.offset + len(data) == offset:
                rb.append(data)
            else:
                rb = None
        if rb is None:
            self.rebuilt = Backlog(self.config["repl-backlog-size"], offset)
        self.rebuilt_db = int(pos[2])

    def _start_history(self) -> None:
        """A primary's new history starts here: durable now (an empty record), so a restart
        before the next write keeps it."""
        p = self.server.persistence
        if p is None:
            return
        p.repl_pos = [self.replid, self.offset, self.seldb]
        if p.logging:
            p.commit([])

    def _abort_child(self) -> None:
        child = self.child
        if child is None:
            return
        self.child = None
        with contextlib.suppress(OSError):
            os.kill(child.pid, 9)
        with contextlib.suppress(OSError):
            os.waitpid(child.pid, 0)
        shutil.rmtree(child.tmpdir, ignore_errors=True)

    def _fail_waiters(self) -> None:
        for w in list(self.waiters):
            self._wait_done(w)

    # -- called by the link on a replica ------------------------------------------------

    def position(self) -> tuple[str, int] | None:
        """What to offer in PSYNC: the history this node holds, None for a first sync.

        Called once the data directory is loaded: a restarted replica takes up the
        stream position its log ends with.
        """
        p = self.server.persistence
        pos = p.repl_pos if p is not None else None
        if pos is None:
            return None
        if self.offset == 0 and self.replid != pos[0]:
            self.replid = str(pos[0])
            self.offset = int(pos[1])
            self._ensure_backlog().reset(self.offset)
        return self.replid, self.offset

    def full_synced(self, replid: str, offset: int) -> None:
        self.replid = replid
        self.replid2 = NO_ID
        self.second_offset = -1
        self.offset = offset
        self.disconnect_peers()
        self._ensure_backlog().reset(offset)

    def continued(self, replid: str) -> None:
        if self.replid != replid:
            # The primary was promoted: our history is its replid2 up to here.
            self.replid2 = self.replid
            self.second_offset = self.offset + 1
            self.replid = replid
            self.disconnect_peers()

    # -- cron ---------------------------------------------------------------------------

    def _cron(self) -> None:
        loop = self.loop
        if loop is None:
            return
        try:
            now = time.monotonic()
            if self.peers and not self.is_replica:
                if now - self.last_ping >= self.config["repl-ping-replica-period"]:
                    self.last_ping = now
                    self.feed_control(_stream.PING)
            timeout = self.config["repl-timeout"]
            for p in list(self.peers):
                if p.state == "online" and now - p.ack_time > timeout:
                    log.warning("Disconnecting timedout replica %s", p.client.addr)
                    p.client.close()
            self._refresh_good()
            if self.failover_state == "waiting-for-sync":
                self.feed_control(_stream.GETACK)
                self._failover_step()
        except Exception:  # noqa: BLE001 - the cron must never stop
            log.exception("replication cron failed")
        loop.call_later(1.0, self._cron)

    # -- introspection -------------------------------------------------------------------

    def role(self) -> list[object]:
        if self.master is None:
            return [
                b"master",
                self.offset,
                [[p.ip.encode(), b"%d" % p.port, b"%d" % p.ack_offset] for p in self.peers if p.state == "online"],
            ]
        link = self.link
        return [
            b"slave",
            self.master[0].encode(),
            self.master[1],
            (link.role_state() if link is not None else "connect").encode(),
            self.offset if link is not None and link.synced else -1,
        ]

    def info_lines(self) -> list[str]:
        out: list[str] = []
        if self.master is None:
            out.append("role:master")
        else:
            link = self.link
            host, port = self.master
            up = link is not None and link.state == "connected"
            out += [
                "role:slave",
                f"master_host:{host}",
                f"master_port:{port}",
                f"master_link_status:{'up' if up else 'down'}",
                f"master_last_io_seconds_ago:{link.last_io_ago() if link is not None and up else -1}",
                f"master_sync_in_progress:{int(link is not None and link.state == 'sync')}",
                f"slave_read_repl_offset:{link.read_offset() if link is not None else self.offset}",
                f"slave_repl_offset:{self.offset}",
            ]
            if link is not None and link.state == "sync":
                out += link.sync_lines()
            if not up:
                down = link.down_seconds() if link is not None else -1
                out.append(f"master_link_down_since_seconds:{down}")
            out += [
                f"slave_priority:{self.config['replica-priority']}",
                f"slave_read_only:{int(self.config['replica-read-only'])}",
                f"replica_announced:{int(self.config['replica-announced'])}",
            ]
        out.append(f"connected_slaves:{len(self.peers)}")
        now = time.monotonic()
        for i, p in enumerate(self.peers):
            out.append(
                f"slave{i}:ip={p.ip},port={p.port},state={p.state},offset={p.ack_offset},"
                f"lag={int(now - p.ack_time)}"
            )
        self._send_outgoing()  # the backlog as it stands (its bytes still leave in this flush)
        b = self.backlog
        out += [
            f"master_failover_state:{self.failover_state}",
            f"master_replid:{self.replid}",
            f"master_replid2:{self.replid2}",
            f"master_repl_offset:{self.offset}",
            f"second_repl_offset:{self.second_offset}",
            f"repl_backlog_active:{int(b is not None)}",
            f"repl_backlog_size:{self.config['repl-backlog-size']}",
            f"repl_backlog_first_byte_offset:{b.first_byte if b is not None else 0}",
            f"repl_backlog_histlen:{len(b.buf) if b is not None else 0}",
        ]
        return out

    def stats_lines(self) -> list[str]:
        return [
            f"sync_full:{self.sync_full}",
            f"sync_partial_ok:{self.sync_partial_ok}",
            f"sync_partial_err:{self.sync_partial_err}",
        ]
