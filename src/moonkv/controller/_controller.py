"""The controller: elected leader, keeper of the topology, failover (docs/cluster.md).

Several may run; :meth:`Controller.run` campaigns and, once leading:

- watches ``/moonkv/<name>/`` from the revision it read: ``nodes/<id>`` keys (present:
  the node's lease lives; deleted: its lease expired), the ``topology`` record (changed
  by the operator's CLI too), its own ``controller/leader`` key;
- pushes the current record to every node with ``CLUSTER SETTOPOLOGY`` until the node
  acknowledged that version, again to a node whose key reappears (it restarted, or
  registered under a new lease and waits for a push before it writes again);
- fails over a primary whose key is gone: the alive replica with the highest
  replication offset becomes primary with the old one's slots, the old primary is
  marked failed and made its replica (it resyncs in full when it returns, dropping a
  tail nobody acknowledged), the version is bumped and pushed;
- marks a failed node that registers again as not failed.

Every change goes through :meth:`Controller.change` (etcd transaction comparing the
revision read and the leader key, then a push). Never imports the engine or the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

from moonkv.cluster.etcd import Keys, close_quietly, connect
from moonkv.cluster.topology import Node, Topology
from moonkv.controller._changes import mark_back, promotion
from moonkv.controller._leader import Election
from moonkv.controller._reshard import Handover
from moonkv.controller._resp import NodeAuth, NodeError, NodeLink, info_fields
from moonkv.controller._store import Mutation, NotLeader, TopologyStore

log = logging.getLogger("moonkv.controller")

TICK = 0.1  # seconds between the leader's checks (failover, pushes still due)


class Controller:
    def __init__(
        self,
        *,
        endpoints: list[tuple[str, int]],
        cluster: str = "moonkv",
        name: str = "",
        auth: NodeAuth | None = None,
        node_timeout_ms: int = 3000,
        leader_ttl: int = 3,
        etcd_user: str | None = None,
        etcd_password: str | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.keys = Keys(cluster)
        self.name = name or f"controller-{secrets.token_hex(4)}"
        # The leader key's value: unique per campaign of this process.
        self.token = f"{self.name} {secrets.token_hex(8)}".encode()
        self.auth = auth or NodeAuth()
        self.node_timeout = node_timeout_ms / 1000.0
        self.leader_ttl = leader_ttl
        self.etcd_user = etcd_user
        self.etcd_password = etcd_password
        self.leading = asyncio.Event()
        self.topology: Topology | None = None
        self.store: TopologyStore | None = None
        self.alive: set[str] = set()
        self._missing_since: dict[str, float] = {}
        self._acked: dict[str, int] = {}
        self._inflight: set[str] = set()
        self._links: dict[str, NodeLink] = {}
        self._problems: dict[str, str] = {}  # node -> why the last push failed (logged once)
        self._lock = asyncio.Lock()
        # Commits the slot moves the nodes finished (controller/_reshard.py).
        self.handover = Handover(lambda: self.topology, self._link, self.change)

    # -- the loop ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Campaigns, leads while elected, campaigns again; returns when ``stop`` is set."""
        while not stop.is_set():
            client: Any = None
            election: Election | None = None
            try:
                client = await connect(
                    self.endpoints, timeout=2.0, username=self.etcd_user, password=self.etcd_password
                )
                election = Election(client, self.keys, self.token, self.leader_ttl)
                if await _until(election.campaign(), stop):
                    await self._lead(client, election, stop)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - etcd away or deposed: campaign again
                log.warning("controller: %s: %s", type(e).__name__, e)
                await _until(asyncio.sleep(0.5), stop)
            finally:
                self.leading.clear()
                self._forget()
                if election is not None:
                    await election.resign()
                if client is not None:
                    await close_quietly(client)

    async def _lead(self, client: Any, election: Election, stop: asyncio.Event) -> None:
        self.store = TopologyStore(client, self.keys, self.token)
        got = await client.get_prefix(self.keys.prefix)
        now = time.monotonic()
        for kv in got:
            self._observe(kv.key, kv.value, present=True)
        topology = self.topology
        if topology is not None:
            for n in topology.nodes:
                if n.id not in self.alive:
                    self._missing_since[n.id] = now  # a full timeout's grace: it may be starting
        watch = await client.watch_prefix(self.keys.prefix, start_revision=got.header.revision + 1)
        self.leading.set()
        log.info("controller %s leads; topology version %s", self.name, topology.version if topology else "-")
        watcher = asyncio.get_running_loop().create_task(self._watch(watch))
        try:
            while not (stop.is_set() or election.lost.is_set() or watcher.done()):
                await self._tick()
                await _until(asyncio.sleep(TICK), stop)
            if watcher.done() and not watcher.cancelled() and watcher.exception() is not None:
                raise watcher.exception()  # type: ignore[misc]
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watch.cancel()

    async def _watch(self, watch: Any) -> None:
        async for ev in watch:
            self._observe(ev.kv.key, ev.kv.value, present=ev.kind == "PUT")

    def _observe(self, key: bytes, value: bytes, *, present: bool) -> None:
        keys = self.keys
        if key == keys.topology and present:
            topology = Topology.from_json(value)
            if self.topology is None or topology.version > self.topology.version:
                self.topology = topology
        elif key.startswith(keys.nodes):
            node_id = keys.node_id(key)
            if present:
                self.alive.add(node_id)
                self._missing_since.pop(node_id, None)
                self._acked.pop(node_id, None)  # (re)registered: it gets the current version
            else:
                self.alive.discard(node_id)
                # The lease expired (or was revoked): the node fenced itself already.
                self._missing_since[node_id] = time.monotonic() - self.node_timeout
                log.info("controller: node %s lost its lease", node_id)

    def _forget(self) -> None:
        self.store = None
        self.handover.stop()
        self.alive.clear()
        self._missing_since.clear()
        self._acked.clear()
        self._problems.clear()
        for link in self._links.values():
            link.close()
        self._links.clear()

    async def _tick(self) -> None:
        topology = self.topology
        if topology is None:
            return
        now = time.monotonic()
        for p in topology.primaries():
            if p.failed or p.id in self.alive:
                continue
            since = self._missing_since.setdefault(p.id, now)
            if now - since >= self.node_timeout:
                await self.fail_over(p.id)
        for n in topology.nodes:
            if n.failed and n.id in self.alive:
                await self.change(mark_back(n.id))
        self._push_due()
        self.handover.poke()

    # -- changing the topology ---------------------------------------------------

    async def change(self, mutate: Mutation, *, absent: tuple[bytes, ...] = ()) -> Topology | None:
        """THE topology change of a leading controller: etcd transaction (see
        :meth:`TopologyStore.change`), then the new version goes to every node."""
        store = self.store
        if store is None:
            raise NotLeader("this controller does not lead")
        async with self._lock:
            new = await store.change(mutate, absent=absent)
            if new is not None:
                log.info("controller: topology version %d committed", new.version)
                if self.topology is None or new.version > self.topology.version:
                    self.topology = new
                self._push_due()
            return new

    async def fail_over(self, primary_id: str) -> Topology | None:
        """Promotes the most advanced alive replica of ``primary_id`` (or, without one,
        marks the primary failed: its slots are down until it returns)."""
        topology = self.topology
        if topology is None:
            return None
        candidates = [r for r in topology.replicas_of(primary_id) if not r.failed and r.id in self.alive]
        best = await self._most_advanced(candidates)
        log.warning("controller: primary %s is gone; promoting %s", primary_id, best or "nobody")
        # Only while its lease is gone: a primary that registered again meanwhile (and may
        # take writes once it serves the current version) keeps its slots.
        return await self.change(promotion(primary_id, best, failed=True), absent=(self.keys.node(primary_id),))

    async def _most_advanced(self, replicas: list[Node]) -> str | None:
        async def offset(n: Node) -> tuple[int, str]:
            try:
                info = info_fields(await self._link(n).call("INFO", "replication"))
                return int(info.get("slave_repl_offset") or info.get("master_repl_offset") or -1), n.id
            except (NodeError, OSError, TimeoutError, ValueError) as e:
                log.info("controller: replica %s did not tell its offset: %s", n.id, e)
                return -1, n.id

        if not replicas:
            return None
        offsets = await asyncio.gather(*(offset(n) for n in replicas))
        return max(offsets)[1]

    # -- pushing -----------------------------------------------------------------

    def _link(self, n: Node) -> NodeLink:
        port = n.tls_port if self.auth.tls is not None and n.tls_port else n.port
        link = self._links.get(n.id)
        if link is None or (link.host, link.port) != (n.host, port):
            if link is not None:
                link.close()
            link = self._links[n.id] = NodeLink(n.host, port, self.auth, timeout=1.0)
        return link

    def _push_due(self) -> None:
        topology = self.topology
        if topology is None:
            return
        loop = asyncio.get_running_loop()
        for gone in self._links.keys() - {n.id for n in topology.nodes}:  # removed nodes
            self._links.pop(gone).close()
        for n in topology.nodes:
            if self._acked.get(n.id) != topology.version and n.id not in self._inflight:
                self._inflight.add(n.id)
                loop.create_task(self._push(n, topology))

    async def _push(self, n: Node, topology: Topology) -> None:
        try:
            await self._link(n).call("CLUSTER", "SETTOPOLOGY", topology.version, topology.to_json())
            self._acked[n.id] = topology.version
            self._problems.pop(n.id, None)
        except NodeError as e:
            self._problem(n.id, f"refused version {topology.version}: {e}")
        except (OSError, TimeoutError) as e:
            self._problem(n.id, f"unreachable: {type(e).__name__} {e}")
        finally:
            self._inflight.discard(n.id)

    def _problem(self, node_id: str, what: str) -> None:
        """Logs why pushes to a node fail, once per reason (they are retried every tick)."""
        if self._problems.get(node_id) != what:
            self._problems[node_id] = what
            log.warning("controller: node %s %s", node_id, what)


async def _until(aw: Any, stop: asyncio.Event) -> bool:
    """Runs ``aw`` unless ``stop`` is set first; True when it completed."""
    task = asyncio.ensure_future(aw)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False

