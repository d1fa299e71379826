"""Leader election among controllers: one etcd key under the leader's lease.

A controller campaigns by putting ``controller/leader`` (its name and address) under a
fresh lease in a transaction that requires the key to be absent; the others poll until
the key is gone (the leader resigned, or its lease expired because it died). The
leader refreshes its lease every third of the TTL and considers itself deposed
(:attr:`Election.lost`) when a refresh is refused or none succeeded for 0.8 × the TTL.
Every topology transaction of the leader also compares the key with its own value
(:class:`~moonkv.controller._store.TopologyStore`), so a deposed leader that has not
noticed yet still cannot commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from moonkv.cluster.etcd import Keys

log = logging.getLogger("moonkv.controller")


class Election:
    def __init__(self, client: Any, keys: Keys, token: bytes, ttl: int) -> None:
        self.client = client
        self.keys = keys
        self.token = token
        self.ttl = ttl
        self.lease_id: int | None = None
        self.lost = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None

    async def campaign(self, poll: float = 0.25) -> None:
        """Returns once this controller leads."""
        tx = self.client.transactions
        while True:
            current = await self.client.get(self.keys.leader)
            if current is None:
                sent = time.monotonic()
                lease = await self.client.lease(self.ttl)
                ok, _ = await self.client.transaction(
                    compare=[tx.create(self.keys.leader) == 0],
                    success=[tx.put(self.keys.leader, self.token, lease=lease.id)],
                    failure=[],
                )
                if ok:
                    self.lease_id = lease.id
                    self.lost.clear()
                    self._keeper = asyncio.get_running_loop().create_task(self._keep(sent))
                    log.info("controller: leading (lease %x)", lease.id)
                    return
                await self.client.revoke_lease(lease.id)
            await asyncio.sleep(poll)

    async def _keep(self, last_ok: float) -> None:
        step = self.ttl / 3
        while True:
            await asyncio.sleep(step)
            sent = time.monotonic()
            try:
                reply = await asyncio.wait_for(self.client.refresh_lease(self.lease_id), step)
                if reply is None or reply.TTL <= 0:
                    log.warning("controller: etcd dropped the leader lease")
                    break
                last_ok = sent
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - retried until the lease is too old
                log.info("controller: leader lease refresh failed: %s %s", type(e).__name__, e)
                if time.monotonic() - last_ok > 0.8 * self.ttl:
                    break
        self.lost.set()

    async def resign(self) -> None:
        """Stops leading; revokes the lease so that another controller takes over at once."""
        if self._keeper is not None:
            self._keeper.cancel()
            try:
                await self._keeper
            except asyncio.CancelledError:
                pass
            self._keeper = None
        self.lost.set()
        if self.lease_id is not None:
            lease_id, self.lease_id = self.lease_id, None
            try:
                await asyncio.wait_for(self.client.revoke_lease(lease_id), 2.0)
            except Exception as e:  # noqa: BLE001 - it expires by itself
                log.info("controller: could not revoke the leader lease: %s", e)
