"""A node's liveness lease in etcd, and the write fencing it implies (docs/cluster.md).

The node keeps ``/moonkv/<name>/nodes/<id>`` under an etcd lease whose time to live is
``cluster-node-timeout``, refreshed every quarter of it. Fencing follows from the lease:

- A primary whose last successful refresh was *sent* more than 0.8 × the timeout ago is
  fenced (``fenced(True)``: it refuses writes) until a refresh succeeds again. etcd keeps
  the lease at least the full timeout after it received that refresh, and the controller
  promotes a replacement only once the key is gone, so the old primary stops writing
  before the new one starts.
- A lease etcd no longer has (expired, or this process is new) means a replacement may
  have been promoted meanwhile: the node registers again under a new lease, then reads
  the record's version in etcd, and stays fenced until it serves that version or a newer
  one (at once when it has it already; otherwise the controller's push brings it,
  :meth:`Membership.topology_pushed`). The controller's failover transaction requires the
  node's key to be absent, so no failover commits after the registration the read follows.

Everything runs on the node's event loop through aetcd's asyncio client; a refresh that
hangs is abandoned after a quarter of the timeout, and the fence is a timer, so nothing on
the request path looks at the clock. :func:`join` wires it to a node: the node's id,
its announced address and role, ``ClusterNode.set_fenced`` and ``ClusterNode.on_push``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moonkv.cluster.etcd import Keys, close_quietly, connect, parse_endpoints

if TYPE_CHECKING:
    from moonkv.cluster._node import ClusterNode

log = logging.getLogger("moonkv.cluster")

FENCE_FRACTION = 0.8


class Membership:
    """The lease keeper of one node. ``fence`` is called with True/False when the node
    must stop/may resume accepting writes; it starts fenced."""

    def __init__(
        self,
        *,
        endpoints: list[tuple[str, int]],
        name: str,
        node_id: str,
        timeout_ms: int,
        registration: Callable[[], dict[str, Any]],
        fence: Callable[[bool], None],
        version: Callable[[], int],
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.keys = Keys(name)
        self.node_id = node_id
        self.timeout = timeout_ms / 1000.0
        self.registration = registration
        self._fence_cb = fence
        self.version = version  # the topology version the node serves
        # The record's version in etcd read after the last registration (unknown: inf).
        self.needed_version = math.inf
        self.username = username
        self.password = password
        self.fenced = True
        # Monotonic time at which the last successful refresh (or grant) was sent.
        self.last_ok_sent = -math.inf
        self.lease_id: int | None = None
        self.awaiting_push = True
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._registered_as: dict[str, Any] | None = None
        fence(True)

    # -- life cycle --------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Stops refreshing and revokes the lease (the controller sees the node go at
        once rather than after the timeout)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._timer is not None:
            self._timer.cancel()
        client, lease_id = self._client, self.lease_id
        self._client = None
        if client is not None:
            if lease_id is not None:
                try:
                    await asyncio.wait_for(client.revoke_lease(lease_id), self.timeout / 4)
                except Exception as e:  # noqa: BLE001 - the lease expires by itself
                    log.info("cluster: could not revoke the node's lease: %s", e)
            await close_quietly(client)

    def topology_pushed(self) -> None:
        """The node applied a pushed topology: once it serves the version etcd had after
        it registered, it knows its role."""
        if self.awaiting_push and self.version() >= self.needed_version:
            self.awaiting_push = False
            self._set_fence()
        if self._task is not None and self.registration() != self._registered_as:
            self._task.get_loop().create_task(self._reregister())

    # -- fencing -----------------------------------------------------------------

    def _set_fence(self) -> None:
        stale = time.monotonic() - self.last_ok_sent > FENCE_FRACTION * self.timeout
        fenced = self.awaiting_push or self.lease_id is None or stale
        if fenced != self.fenced:
            self.fenced = fenced
            self._fence_cb(fenced)
            if fenced:
                log.warning("cluster: fenced: no lease refresh acknowledged within %.0f ms", FENCE_FRACTION * self.timeout * 1000)
            else:
                log.info("cluster: writes allowed again (lease refreshed)")

    def _refreshed(self, sent: float) -> None:
        self.last_ok_sent = sent
        self._set_fence()
        if self._timer is not None:
            self._timer.cancel()
        # The fence timer: fires when this refresh becomes too old, unless another
        # success moved last_ok_sent (then _set_fence finds nothing stale).
        loop = asyncio.get_running_loop()
        delay = sent + FENCE_FRACTION * self.timeout - time.monotonic()
        self._timer = loop.call_later(max(0.0, delay) + 0.001, self._set_fence)

    # -- the lease ---------------------------------------------------------------

    async def _run(self) -> None:
        quarter = self.timeout / 4
        while True:
            began = time.monotonic()
            try:
                if self._client is None:
                    self._client = await connect(
                        self.endpoints, timeout=quarter, username=self.username, password=self.password
                    )
                if self.lease_id is None:
                    await self._register()
                else:
                    await self._refresh()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - etcd unreachable: retry, fenced by the timer
                log.info("cluster: etcd lease refresh failed: %s %s", type(e).__name__, e)
                client, self._client = self._client, None
                if client is not None:
                    await close_quietly(client)
            await asyncio.sleep(max(0.0, quarter - (time.monotonic() - began)))

    async def _register(self) -> None:
        client = self._client
        ttl = max(1, math.ceil(self.timeout))
        self.awaiting_push = True
        self.needed_version = math.inf
        sent = time.monotonic()
        lease = await asyncio.wait_for(client.lease(ttl), self.timeout / 4)
        value = self.registration()
        await asyncio.wait_for(
            client.put(self.keys.node(self.node_id), json.dumps(value).encode(), lease=lease.id),
            self.timeout / 4,
        )
        self.lease_id = lease.id
        self._registered_as = value
        got = await asyncio.wait_for(client.get(self.keys.topology), self.timeout / 4)
        # A record that does not parse raises: the node stays fenced and tries again.
        self.needed_version = int(json.loads(got.value)["version"]) if got is not None else 0
        log.info("cluster: registered in etcd under lease %x (ttl %ss); topology version there: %d",
                 lease.id, lease.ttl, self.needed_version)
        self.topology_pushed()  # it may serve that version already
        self._refreshed(sent)

    async def _refresh(self) -> None:
        sent = time.monotonic()
        try:
            reply = await asyncio.wait_for(self._client.refresh_lease(self.lease_id), self.timeout / 4)
        except Exception as e:
            if "not found" not in str(e):
                raise
            reply = None
        if reply is None or reply.TTL <= 0:
            log.warning("cluster: etcd no longer has the node's lease; registering again")
            self.lease_id = None
            self._set_fence()
            await self._register()
            return
        self._refreshed(sent)

    async def _reregister(self) -> None:
        """The registration changed (a new role): the same key under the same lease."""
        client, lease_id = self._client, self.lease_id
        if client is None or lease_id is None:
            return
        value = self.registration()
        try:
            await asyncio.wait_for(
                client.put(self.keys.node(self.node_id), json.dumps(value).encode(), lease=lease_id),
                self.timeout / 4,
            )
            self._registered_as = value
        except Exception as e:  # noqa: BLE001 - informational; the next push retries
            log.info("cluster: could not update the node's registration: %s", e)


def join(node: ClusterNode, loop: asyncio.AbstractEventLoop) -> Membership:
    """Starts the lease keeper of ``node`` (fenced until registered and pushed to)."""
    cfg = node.server.config

    def registration() -> dict[str, Any]:
        me = node.me
        return {
            "host": cfg["cluster-announce-ip"] or (cfg["bind"].split() or ["127.0.0.1"])[0],
            "port": cfg["cluster-announce-port"] or node.server.port or cfg["port"],
            "role": me.role if me is not None else "unassigned",
        }

    membership = Membership(
        endpoints=parse_endpoints(cfg["cluster-etcd-endpoints"]),
        name=cfg["cluster-name"],
        node_id=node.myid,
        timeout_ms=cfg["cluster-node-timeout"],
        registration=registration,
        fence=node.set_fenced,
        version=lambda: node.version,
    )
    node.on_push = membership.topology_pushed
    membership.start(loop)
    return membership
