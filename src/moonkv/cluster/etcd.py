"""etcd as the cluster's nodes and controllers reach it (docs/cluster.md, "etcd keys").

The key names under ``/moonkv/<cluster-name>/``, the parsing of an endpoint list, and
:func:`connect`, which returns an ``aetcd`` client on the first endpoint that answers.
``aetcd`` (the ``cluster`` extra) is imported here, so only a node with
``cluster-etcd-endpoints``, a controller and the cluster CLI import this module.
Imports nothing of moonkv's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aetcd


class EtcdUnavailable(ConnectionError):
    """No endpoint answered."""


def parse_endpoints(spec: str) -> list[tuple[str, int]]:
    """``host:port[,host:port...]`` → pairs; raises ValueError with the bad part."""
    out: list[tuple[str, int]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad etcd endpoint '{part}' (expected host:port)")
        out.append((host.strip("[]"), int(port)))
    if not out:
        raise ValueError("no etcd endpoint given")
    return out


class Keys:
    """The cluster's keys in etcd, all under ``/moonkv/<name>/``."""

    __slots__ = ("prefix", "topology", "leader", "nodes")

    def __init__(self, name: str) -> None:
        self.prefix = f"/moonkv/{name}/".encode()
        self.topology = self.prefix + b"topology"
        self.leader = self.prefix + b"controller/leader"
        self.nodes = self.prefix + b"nodes/"

    def node(self, node_id: str) -> bytes:
        return self.nodes + node_id.encode()

    def node_id(self, key: bytes) -> str:
        return key[len(self.nodes) :].decode()


async def connect(
    endpoints: list[tuple[str, int]],
    *,
    timeout: float,
    username: str | None = None,
    password: str | None = None,
) -> Any:
    """An ``aetcd.Client`` on the first endpoint that answers within ``timeout``.

    Every call made through it carries ``timeout`` too (aetcd's per-call deadline),
    so nothing waits on an etcd that went away longer than that."""
    errors: list[str] = []
    for host, port in endpoints:
        client = aetcd.Client(
            host=host, port=port, username=username, password=password, timeout=timeout
        )
        try:
            await asyncio.wait_for(client.status(), timeout)
            return client
        except Exception as e:  # noqa: BLE001 - any failure means: try the next endpoint
            errors.append(f"{host}:{port}: {type(e).__name__} {e}".strip())
            await close_quietly(client)
    raise EtcdUnavailable("no etcd endpoint answered (" + "; ".join(errors) + ")")


async def close_quietly(client: Any) -> None:
    try:
        await asyncio.wait_for(client.close(), 2.0)
    except Exception:  # noqa: BLE001 - closing a dead channel
        pass
