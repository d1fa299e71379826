"""Resharding, the node's side: moving slots to another primary while clients write.

The source drives it (docs/cluster.md, "Resharding").  When the topology it serves lists
migrations of its slots, the node makes one :class:`Export` per target for the slots
listed together, which connects to the target (AUTH with ``masteruser``/``masterauth``, TLS
with ``tls-cluster``) and sends, in one ordered stream of pipelined internal commands
(``CLUSTER IMPORTSLOTS``):

1. ``BEGIN source-id slot...``: the target forgets what an earlier attempt left of those
   slots; it answers ``COMPLETE`` instead when it already received all of them (the source
   restarted after handing over).
2. ``KEYS``: the slots' keys, DUMP payloads with absolute expiry times, in batches, while
   the source keeps serving the slots.  From ``BEGIN`` on, every unit the source commits
   that touches them is sent too (``APPLY``): the node is an effects sink filtering by
   slot.  A key's payload and the effects that changed it go out in the order the source
   made them, so an effect that reached the target before its key's payload (read later)
   is overwritten by it, and none that the payload holds is applied twice.
3. When the payloads are sent and the unacknowledged tail is small, the source *pauses*
   the slots (writes get ``TRYAGAIN``, reads are served), records on disk that it is
   ending, and sends ``END`` with the number of commands it sent.  The target checks the
   count, records on disk that the slots are complete and answers; its log holds
   everything it applied before the reply leaves (group commit).
4. The source has *handed over*: like Redis's source once ``CLUSTER SETSLOT NODE`` gave a
   slot away, it answers every command on those slots with ``MOVED target`` (with
   ``cluster-migration-ask yes`` and a target that owns slots, ``ASK target``), without
   waiting for the commit, so clients see ``TRYAGAIN`` for the pause only.  The target
   serves the slots from then on.  The controller sees
   them complete in the target's ``CLUSTER MIGRATIONS``, commits the topology where the
   target owns them and pushes it; then both nodes drop their state, the source answers
   ``MOVED`` and deletes the slots' keys (as ``DEL`` units, so its log and replicas follow).

Guarantees: before ``END`` the source has every write (a crash of either side, or a lost
connection, restarts the migration from ``BEGIN``); after the target's ``END`` reply the
migration only goes forward.  The two records on disk cover the moment in between: a
source that restarts with "ending" serves no write on those slots until the target said
whether it completed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from moonkv.cluster._routing import TRYAGAIN
from moonkv.cluster.slots import key_slot
from moonkv.commands.table import CommandSpec, lookup, resolve_subcommand
from moonkv.engine import Client
from moonkv.errors import RespError
from moonkv.keyspace.codec import dump_payload
from moonkv.tls import client_context

if TYPE_CHECKING:
    from moonkv.cluster.topology import Node, Topology
    from moonkv.engine import Server
    from moonkv.keyspace import Database

log = logging.getLogger("moonkv")

STATE_FILE: Final = "cluster-migrations.json"
_BATCH: Final = 128  # keys per KEYS command and per DEL
_SMALL_GAP: Final = 64 * 1024  # unacknowledged bytes under which the source pauses the slots
_WINDOW: Final = 8 << 20  # unacknowledged bytes past which the copy waits for the target
_BEHIND: Final = 64 << 20  # unacknowledged bytes past which the attempt gives up (memory bound)
_FLUSH_VERBS: Final = frozenset({b"flushall", b"flushdb"})
_PAST_END: Final = frozenset({"paused", "handed", "recovering"})  # Export states after END went out


def _command(argv: Iterable[bytes]) -> bytes:
    args = list(argv)
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out += (b"$%d\r\n" % len(a), a, b"\r\n")
    return b"".join(out)


class ExportError(Exception):
    pass


class Export:
    """The source's job for slots going to one target: copy, stream, pause, hand over."""

    def __init__(self, node: Migrations, slots: frozenset[int], target: str, host: str, port: int,
                 *, ending: bool, ask: bool) -> None:
        self.node = node
        self.slots = slots
        self.target = target  # the target's node id
        self.host = host
        self.port = port
        # Whether handed-over slots get ASK rather than MOVED (cluster-migration-ask, and the
        # target owns slots: one that owns none is missing from CLUSTER SLOTS, and redis-py
        # cannot follow an ASK to a node it does not know; it adds one a MOVED names).
        self.ask = ask
        # start | copy | stream | paused | handed, and recovering: a source that restarted
        # after it recorded "ending" cannot know yet whether the target took over.
        self.state = "recovering" if ending else "start"
        self.streaming = False  # the slots' units go to the target (from BEGIN on)
        self.units: list[list[list[bytes]]] = []  # committed, not yet written
        self.sent = 0  # commands written in this attempt after BEGIN
        self.unacked = 0  # bytes written whose reply has not come
        self.inflight: list[int] = []  # sizes of the commands awaiting a reply, in order
        self.copied = 0
        self.attempts = 0
        self.pause_s = 0.0  # how long writes to the slots were refused
        self.error = ""
        self.writer: asyncio.StreamWriter | None = None
        self.acked = asyncio.Event()
        self.flush_scheduled = False
        self.task = asyncio.ensure_future(self._run())

    # -- what routing asks -------------------------------------------------------------

    def redirect(self, slot: int, write: bool) -> str | None:
        """The error line for a command on ``slot``, None to serve it here."""
        state = self.state
        if state == "handed":
            # The target holds the slots whole and the move only goes forward. Not TRYAGAIN
            # until the commit: redis-py retries TRYAGAIN for about 0.4 s, and the commit
            # waits for the controller's poll, etcd and the push (longer on a loaded machine).
            return f"{'ASK' if self.ask else 'MOVED'} {slot} {self.host}:{self.port}"
        if state == "recovering" or (write and state == "paused"):
            return TRYAGAIN
        return None

    # -- the stream ----------------------------------------------------------------------

    def add_unit(self, cmds: list[list[bytes]]) -> None:
        self.units.append(cmds)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the committed units (one APPLY each), in commit order."""
        self.flush_scheduled = False
        units = self.units
        if not units:
            return
        self.units = []
        for cmds in units:
            argv = [b"CLUSTER", b"IMPORTSLOTS", b"APPLY"]
            for cmd in cmds:
                argv.append(b"%d" % len(cmd))
                argv.extend(cmd)
            self._write(argv)

    def _write(self, argv: list[bytes]) -> None:
        w = self.writer
        if w is None:
            return
        data = _command(argv)
        if self.unacked + len(data) > _BEHIND and not self.error:
            # Writes on the slots outrun the target: drop this attempt rather than buffer
            # without bound; the next one starts from BEGIN.
            self.error = f"the target is more than {_BEHIND >> 20} MiB behind"
            self.acked.set()
            self._close()
            return
        w.write(data)
        self.sent += 1
        self.unacked += len(data)
        self.inflight.append(len(data))

    def stop(self) -> None:
        self.streaming = False
        self.task.cancel()
        self._close()

    def _close(self) -> None:
        w = self.writer
        self.writer = None
        if w is not None:
            w.close()

    # -- one attempt after another ----------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._attempt()
                return
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, EOFError, ValueError, ExportError, asyncio.IncompleteReadError) as e:
                self.error = str(e) or type(e).__name__
                log.warning("migration of %d slot(s) to %s:%d: %s", len(self.slots), self.host, self.port,
                            self.error)
            except Exception as e:  # noqa: BLE001 - the migration retries whatever happened
                self.error = f"internal error: {type(e).__name__}"
                log.exception("migration of %d slot(s) failed", len(self.slots))
            self.streaming = False
            self.units = []
            self._close()
            if self.node.ending(self.slots):
                self.state = "recovering"  # END went out: the target may have completed
            else:
                self.state = "start"  # nothing was handed over: the source serves the slots
            await asyncio.sleep(0.5)

    async def _attempt(self) -> None:
        node = self.node
        srv = node.server
        while srv.loading:  # a restarted source copies what it has once it has loaded it
            await asyncio.sleep(0.05)
        self.attempts += 1
        timeout = float(srv.config["repl-timeout"])
        tls = client_context(srv.config) if srv.config["tls-cluster"] else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=tls, server_hostname="" if tls else None),
            timeout,
        )
        self.writer = writer
        self.sent = self.unacked = 0
        self.inflight = []
        self.error = ""

        async def ask(*argv: bytes) -> bytes:
            writer.write(_command(argv))
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                raise EOFError("connection closed by the target")
            return line.rstrip(b"\r\n")

        cfg = srv.config
        if cfg["masterauth"]:
            auth = [b"AUTH"]
            if cfg["masteruser"]:
                auth.append(cfg["masteruser"].encode())
            auth.append(cfg["masterauth"].encode())
            reply = await ask(*auth)
            if reply.startswith(b"-"):
                raise ExportError(f"the target refused AUTH: {reply.decode('utf-8', 'replace')}")
        slots = [b"%d" % s for s in sorted(self.slots)]
        reply = await ask(b"CLUSTER", b"IMPORTSLOTS", b"BEGIN", node.my_id.encode(), *slots)
        if reply == b"+COMPLETE":
            self._handed(time.monotonic())
            return
        if reply != b"+OK":
            raise ExportError(f"the target refused the slots: {reply.decode('utf-8', 'replace')}")
        if self.state == "recovering":  # the target did not complete: the source serves again
            node.set_ending(self.slots, False)
        self.state = "copy"
        self.streaming = True
        reads = asyncio.ensure_future(self._read_replies(reader))
        try:
            await self._copy(timeout)
            self.state = "stream"
            self.flush()
            while self.unacked > _SMALL_GAP:
                await self._wait_ack(timeout)
            # The pause: no write on the slots from here; what was committed goes out first.
            paused_at = time.monotonic()
            self.state = "paused"
            self.flush()
            node.set_ending(self.slots, True)
            self._write([b"CLUSTER", b"IMPORTSLOTS", b"END", b"%d" % (self.sent + 1)])
            # Writes are refused from here; what still changes the slots is expiry, which the
            # target does by itself (the payloads carry the expiry times).
            self.streaming = False
            while self.inflight:
                await self._wait_ack(timeout)
            self._handed(paused_at)
        finally:
            reads.cancel()
            self.streaming = False

    def _handed(self, paused_at: float) -> None:
        self.state = "handed"
        self.pause_s = time.monotonic() - paused_at
        self._close()
        log.info("%d slot(s) handed over to %s:%d (writes refused for %.1f ms)", len(self.slots), self.host,
                 self.port, self.pause_s * 1000)

    async def _wait_ack(self, timeout: float) -> None:
        self.acked.clear()
        if self.error:
            raise ExportError(self.error)
        await asyncio.wait_for(self.acked.wait(), timeout)
        if self.error:
            raise ExportError(self.error)

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    self.error = "connection closed by the target"
                    break
                if line.startswith(b"-"):
                    self.error = f"the target failed a command: {line.rstrip().decode('utf-8', 'replace')}"
                    break
                if self.inflight:
                    self.unacked -= self.inflight.pop(0)
                self.acked.set()
        except (OSError, ValueError) as e:  # reset by the target, or a line past the limit
            self.error = str(e) or type(e).__name__
        finally:
            self.acked.set()

    async def _copy(self, timeout: float) -> None:
        """Send the slots' keys, a batch at a time, without holding the loop."""
        db = self.node.server.ks.dbs[0]
        keys = _keys_of(db, self.slots)
        for i in range(0, len(keys), _BATCH):
            argv = [b"CLUSTER", b"IMPORTSLOTS", b"KEYS"]
            data, expires = db.data, db.expires
            for k in keys[i : i + _BATCH]:
                v = data.get(k)
                if v is None:  # deleted meanwhile: its DEL went (or goes) out as an effect
                    continue
                argv += (k, b"%d" % expires.get(k, 0), dump_payload(v))
            if len(argv) > 3:
                self.flush()  # effects committed before this read of the values go first
                self._write(argv)
                self.copied += (len(argv) - 3) // 3
            while self.unacked > _WINDOW:
                await self._wait_ack(timeout)
            await asyncio.sleep(0)


class Import:
    """The target's state for slots it receives over one connection."""

    def __init__(self, slots: frozenset[int], source: str, client_id: int) -> None:
        self.slots = slots
        self.source = source
        self.client_id = client_id  # the connection that sent BEGIN: others are refused
        self.received = 0


class Migrations:
    """A node's migrations: the slots it exports and imports, and the effects sink."""

    def __init__(self, server: Server, directory: str, my_id: str) -> None:
        self.server = server
        self.my_id = my_id
        self.exports: dict[int, Export] = {}  # slot -> its job (one job for several slots)
        self.imports: dict[int, Import] = {}  # client id -> what that connection brings
        self.client = Client(server)  # runs imported keys and units
        self.client.authenticated = True
        self.client.in_exec = True  # never blocks
        self.path = os.path.join(directory, STATE_FILE)
        self.ending_slots: set[int] = set()  # source: END sent, the target may have completed
        self.complete: set[int] = set()  # target: those slots arrived whole
        self.incoming: set[int] = set()  # target: the topology lists them as coming here
        self.cleanups: set[asyncio.Task[None]] = set()
        self.dropping: set[int] = set()  # slots whose keys a cleanup task is deleting
        self.topology: Topology | None = None  # the one follow() was last given
        self._load()

    # -- the record on disk -------------------------------------------------------------------

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return
        self.ending_slots = {int(s) for s in doc.get("ending", [])}
        self.complete = {int(s) for s in doc.get("complete", [])}

    def _save(self) -> None:
        doc = {"ending": sorted(self.ending_slots), "complete": sorted(self.complete)}
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def ending(self, slots: frozenset[int]) -> bool:
        return not slots.isdisjoint(self.ending_slots)

    def set_ending(self, slots: frozenset[int], on: bool) -> None:
        if on:
            self.ending_slots |= slots
        else:
            self.ending_slots -= slots
        self._save()

    # -- following the topology ----------------------------------------------------------------

    def follow(self, topo: Topology, address: Callable[[Node], tuple[str, int]]) -> None:
        """Start and stop jobs for the migrations of the topology the node now serves.

        Slots this node exported and no longer owns are deleted here (handed over); slots
        it imported and now owns need nothing more.  A primary also deletes whatever else
        it holds of slots another primary owns (:meth:`_orphans`)."""
        me = self.my_id
        self.topology = topo
        out: dict[str, set[int]] = {}
        for m in topo.migrations:
            if m.source == me:
                out.setdefault(m.target, set()).add(m.slot)
        self.incoming = {m.slot for m in topo.migrations if m.target == me}
        gone: set[int] = set()
        # A job whose slots are not all listed any more stops; the slots still listed get a
        # new job below (it starts from BEGIN, which a complete target answers at once).
        ended = {job for slot, job in self.exports.items() if slot not in out.get(job.target, ())}
        for job in ended:
            job.stop()
            for slot in job.slots:
                del self.exports[slot]
                owner = topo.owner(slot)
                if owner is None or owner.id != me:
                    gone.add(slot)
        for target_id, slots in out.items():
            new = frozenset(s for s in slots if s not in self.exports)
            target = topo.node(target_id)
            if new and target is not None:
                host, port = address(target)
                ask = bool(self.server.config["cluster-migration-ask"] and target.slots)
                job = Export(self, new, target_id, host, port, ending=self.ending(new), ask=ask)
                for s in new:
                    self.exports[s] = job
        for cid, imp in list(self.imports.items()):
            if imp.slots.isdisjoint(self.incoming):
                del self.imports[cid]
        for slot in self.complete - self.incoming:
            owner = topo.owner(slot)
            if owner is None or owner.id != me:  # called off: what came is not ours
                gone.add(slot)
        changed = bool(self.ending_slots - set(self.exports) or self.complete - self.incoming)
        self.ending_slots &= set(self.exports)
        self.complete &= self.incoming
        if changed:
            self._save()
        srv = self.server
        if gone or srv.loading or self._orphans() - self.dropping:
            self._drop_slots(frozenset(gone))
        if self.exports and self not in srv.sinks:
            srv.sinks.append(self)
        elif not self.exports and self in srv.sinks:
            srv.sinks.remove(self)

    def redirect(self, slot: int, write: bool) -> str | None:
        """For routing: the error line for a command on ``slot`` this node exports, or None."""
        job = self.exports.get(slot)
        return None if job is None else job.redirect(slot, write)

    def handing(self) -> bool:
        """Whether some exported slot is past ``END`` (see :meth:`handed`)."""
        return any(job.state in _PAST_END for job in self.exports.values())

    def handed(self, slot: int) -> bool:
        """For eviction: ``slot`` is exported past ``END`` (or may be: recovering), so the
        target holds its keys and no deletion here reaches it any more."""
        job = self.exports.get(slot)
        return job is not None and job.state in _PAST_END

    def importing(self, slot: int) -> bool:
        """For routing: ``slot`` comes here and arrived whole, so this node serves it (with or
        without ASKING: the source serves no write on it any more)."""
        return slot in self.complete

    # -- the effects sink (source) -----------------------------------------------------------

    def commit(self, effects: list[tuple[int, list[bytes]]]) -> None:
        exports = self.exports
        per: dict[Export, list[list[bytes]]] = {}
        for db, argv in effects:
            if db != 0:
                continue
            if argv[0].lower() in _FLUSH_VERBS:
                for each in set(exports.values()):
                    per.setdefault(each, []).append(argv)
                continue
            slot = _effect_slot(argv)
            found = exports.get(slot) if slot is not None else None
            if found is not None:
                per.setdefault(found, []).append(argv)
        for job, cmds in per.items():
            if job.streaming:
                job.add_unit(cmds)

    # -- the target's commands ----------------------------------------------------------------

    def begin(self, c: Client, source: str, slots: frozenset[int]) -> str:
        if not slots <= self.incoming:
            raise RespError("the topology does not move those slots to this node")
        done = slots & self.complete
        if done == slots:
            return "COMPLETE"
        if done:
            raise RespError("some of those slots arrived whole in another migration")
        for cid, imp in list(self.imports.items()):  # an earlier attempt's connection
            if not imp.slots.isdisjoint(slots):
                del self.imports[cid]
        self._delete_now(slots)
        self.imports[c.id] = Import(slots, source, c.id)
        return "OK"

    def _import_for(self, c: Client) -> Import:
        imp = self.imports.get(c.id)
        if imp is None:
            raise RespError("no slots are being imported on this connection")
        imp.received += 1
        return imp

    def restore_keys(self, c: Client, args: list[bytes]) -> int:
        imp = self._import_for(c)
        if len(args) % 3:
            raise RespError("IMPORTSLOTS KEYS takes key, expiry and payload triples")
        restore = lookup(b"restore")
        assert restore is not None
        for i in range(0, len(args), 3):
            key, at, payload = args[i : i + 3]
            if key_slot(key) not in imp.slots:
                raise RespError(f"key of slot {key_slot(key)}, which is not being imported")
            self._run(restore, [b"RESTORE", key, at, payload, b"REPLACE", b"ABSTTL"])
        return len(args) // 3

    def apply(self, c: Client, args: list[bytes]) -> str:
        imp = self._import_for(c)
        i, n = 0, len(args)
        cmds: list[list[bytes]] = []
        while i < n:
            try:
                count = int(args[i])
            except ValueError:
                raise RespError("IMPORTSLOTS APPLY: bad command length") from None
            if count < 1 or i + 1 + count > n:
                raise RespError("IMPORTSLOTS APPLY: bad command length")
            cmds.append(args[i + 1 : i + 1 + count])
            i += 1 + count
        for argv in cmds:
            if argv[0].lower() in _FLUSH_VERBS:
                self._delete_now(imp.slots)
                continue
            spec = lookup(argv[0])
            if spec is None:
                raise RespError(f"IMPORTSLOTS APPLY: unknown command '{argv[0].decode('utf-8', 'replace')}'")
            if spec.subcommands:
                spec = resolve_subcommand(spec, argv)
            self._run(spec, argv)
        return "OK"

    def end(self, c: Client, count: int) -> str:
        imp = self._import_for(c)
        if imp.received != count:
            raise RespError(f"IMPORTSLOTS END: {imp.received} commands arrived, the source sent {count}")
        del self.imports[c.id]
        self.complete |= imp.slots
        self._save()
        return "OK"

    def _run(self, spec: CommandSpec, argv: list[bytes]) -> None:
        """Run one command for the import; the enclosing command commits the unit."""
        reply = self.server.call(self.client, spec, argv)
        if isinstance(reply, RespError):
            log.warning("an imported command failed: %r: %s", argv[:2], reply)

    # -- deleting slots' keys ---------------------------------------------------------------

    def _delete_now(self, slots: frozenset[int]) -> None:
        """Delete the slots' keys as DEL effects of the running unit."""
        keys = _keys_of(self.server.ks.dbs[0], slots)
        spec = lookup(b"del")
        assert spec is not None
        for i in range(0, len(keys), _BATCH):
            self._run(spec, [b"DEL", *keys[i : i + _BATCH]])

    def _orphans(self) -> set[int]:
        """The slots this node holds keys of though the topology gives them to another primary
        and does not move them here: what a crash while deleting moved slots left, or what a
        target received of a migration called off before it completed.  Only a primary has
        any: a replica holds what its primary sends (the primary's deletions reach it)."""
        topo = self.topology
        me = topo.node(self.my_id) if topo is not None else None
        if topo is None or me is None or not me.is_primary:
            return set()
        out: set[int] = set()
        for slot in self.server.ks.dbs[0].slot_keys.by_slot:
            owner = topo.owner(slot)
            if owner is not None and owner.id != self.my_id and slot not in self.incoming:
                out.add(slot)
        return out

    def _drop_slots(self, slots: frozenset[int]) -> None:
        """Delete the keys of slots that left this node, and of the orphans once the data
        directory is loaded, a batch per event-loop turn."""
        task = asyncio.ensure_future(self._drop(slots))
        self.cleanups.add(task)
        task.add_done_callback(self.cleanups.discard)

    async def _drop(self, slots: frozenset[int]) -> None:
        srv = self.server
        while srv.loading:
            await asyncio.sleep(0.05)
        orphans = self._orphans() - slots - self.dropping
        if orphans:
            log.warning("deleting the keys of %d slot(s) other primaries own (left by an interrupted deletion "
                        "or a migration called off)", len(orphans))
        slots |= orphans
        self.dropping |= slots
        try:
            keys = _keys_of(srv.ks.dbs[0], slots)
            spec = lookup(b"del")
            assert spec is not None
            for i in range(0, len(keys), _BATCH):
                # A slot that comes back here meanwhile (the topology moves it to this node
                # again) keeps its keys: they are the import's now.
                batch = [k for k in keys[i : i + _BATCH] if not self._mine(key_slot(k))]
                if batch:
                    self._run(spec, [b"DEL", *batch])
                    srv.end_unit()
                await asyncio.sleep(0)
        finally:
            self.dropping -= slots
        p = srv.persistence
        if p is not None and p.needs_flush():
            p.flush()  # durable now, not at the next client's group commit

    def _mine(self, slot: int) -> bool:
        """``slot`` is this node's again, or coming to it."""
        if slot in self.incoming:
            return True
        owner = self.topology.owner(slot) if self.topology is not None else None
        return owner is not None and owner.id == self.my_id

    # -- introspection ------------------------------------------------------------------------

    def status(self) -> list[list[object]]:
        """``CLUSTER MIGRATIONS``: one row per slot moving from or to this node:
        slot, direction, peer id, state, keys copied, pause in microseconds, attempts, error."""
        rows: list[list[object]] = []
        for slot, job in sorted(self.exports.items()):
            rows.append([slot, b"export", job.target.encode(), job.state.encode(), job.copied,
                         int(job.pause_s * 1_000_000), job.attempts, job.error.encode()])
        receiving = {s: imp for imp in self.imports.values() for s in imp.slots}
        for slot in sorted(self.incoming):
            imp = receiving.get(slot)
            state = b"complete" if slot in self.complete else b"receiving" if imp else b"waiting"
            source = imp.source.encode() if imp else b""
            rows.append([slot, b"import", source, state, imp.received if imp else 0, 0, 0, b""])
        return rows

    def stop(self) -> None:
        for job in set(self.exports.values()):
            job.stop()
        for task in self.cleanups:
            task.cancel()
        with contextlib.suppress(ValueError):
            self.server.sinks.remove(self)


def _keys_of(db: Database, slots: frozenset[int]) -> list[bytes]:
    """The keys of ``slots`` now (cluster mode's slot index, ``Database.slot_keys``)."""
    by_slot = db.slot_keys.by_slot
    return [k for s in sorted(slots) for k in by_slot.get(s, ())]


def _effect_slot(argv: list[bytes]) -> int | None:
    spec = lookup(argv[0])
    if spec is None:
        return None
    if spec.subcommands:
        try:
            spec = resolve_subcommand(spec, argv)
        except RespError:
            return None
    pos = spec.key_positions(argv)
    return key_slot(argv[pos[0]]) if pos else None
