"""``moonkv cluster add-node / remove-node / rebalance``: the membership and the slots' spread.

    moonkv cluster add-node HOST:PORT [--replica-of ID] [--tls-port N] [node options] (--etcd HOST:PORT[,...] | --dir D)
    moonkv cluster remove-node ID (--etcd ... | --dir D)
    moonkv cluster rebalance (--etcd ... | --dir D)

Each changes the record in etcd (a transaction comparing the revision it read); the leading
controller pushes every version and commits the slot moves the nodes finish
(moonkv/controller/_reshard.py, docs/cluster.md "Operations").
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from moonkv.cluster.etcd import Keys, close_quietly, connect
from moonkv.cluster.topology import PRIMARY, REPLICA, Topology
from moonkv.controller import NodeAuth, NodeLink, TopologyStore
from moonkv.controller._reshard import Move, add_node, drain, rebalance, remove_node, run_moves

Endpoints = Callable[[argparse.Namespace], list[tuple[str, int]]]


def add_commands(sub: Any, etcd_options: Callable[..., None], node_options: Callable[[Any], None],
                 node_auth: Callable[[argparse.Namespace], NodeAuth], endpoints: Endpoints) -> None:
    """Declare the three subcommands on ``moonkv cluster``'s parser (its option helpers given)."""
    a = sub.add_parser("add-node", help="add a running node, as a primary without slots or a replica")
    a.add_argument("address", metavar="HOST:PORT")
    a.add_argument("--replica-of", metavar="ID", help="the primary it replicates (an id or its prefix)")
    a.add_argument("--tls-port", type=int, default=0, help="the node's tls-port (with --tls, asked there)")
    node_options(a)
    a.set_defaults(run=_add_node, node_auth=node_auth)
    r = sub.add_parser("remove-node", help="move a primary's slots away, then drop the node")
    r.add_argument("node", metavar="ID", help="the node's id or a prefix of it")
    r.set_defaults(run=_remove_node)
    b = sub.add_parser("rebalance", help="give every primary the same number of slots")
    b.set_defaults(run=_rebalance)
    for p in (a, r, b):
        etcd_options(p, required=False)
        p.set_defaults(endpoints=endpoints)
    for p in (r, b):
        p.add_argument("--batch", type=int, default=1024, help="slots moved per topology change")
        p.add_argument("--timeout", type=float, default=120.0, metavar="S", help="longest wait for one batch")


async def _store(opts: argparse.Namespace) -> tuple[Any, TopologyStore]:
    client = await connect(opts.endpoints(opts), timeout=2.0)
    return client, TopologyStore(client, Keys(opts.cluster))


def _find(topology: Topology, prefix: str) -> str:
    matches = [n.id for n in topology.nodes if n.id.startswith(prefix)]
    if len(matches) != 1:
        raise ValueError(f"'{prefix}' names {'no' if not matches else 'more than one'} node")
    return matches[0]


async def _add_node(opts: argparse.Namespace) -> int:
    host, sep, port = opts.address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"bad address '{opts.address}' (expected HOST:PORT)")
    auth: NodeAuth = opts.node_auth(opts)
    if auth.tls is not None and not opts.tls_port:
        raise ValueError("--tls needs the node's --tls-port")
    link = NodeLink(host, opts.tls_port if auth.tls is not None else int(port), auth, timeout=5.0)
    try:
        node_id = (await link.call("CLUSTER", "MYID")).decode()
        keys = await link.call("DBSIZE")
    finally:
        link.close()
    client, store = await _store(opts)
    try:
        topology, _ = await store.read()
        if topology is None:
            raise ValueError("no topology in etcd yet")
        if keys and topology.node(node_id) is None:
            # As redis-cli --cluster add-node: a primary would delete them (slots it does not own).
            raise ValueError(f"node {host}:{port} is not empty: it holds {keys} key(s); a node joins empty")
        primary = _find(topology, opts.replica_of) if opts.replica_of else None
        node = {"id": node_id, "host": host, "port": int(port), "tls_port": opts.tls_port,
                "role": REPLICA if primary else PRIMARY, "primary": primary, "slots": [], "failed": False}
        new = await store.change(add_node(node))
    finally:
        await close_quietly(client)
    role = f"replica of {primary}" if primary else "primary without slots (`moonkv cluster rebalance` gives it some)"
    print(f"add-node: {node_id} at {host}:{port} is a {role}"
          + (f" (topology version {new.version})" if new else " (already there)"), flush=True)
    return 0


async def _remove_node(opts: argparse.Namespace) -> int:
    client, store = await _store(opts)
    try:
        topology, _ = await store.read()
        if topology is None:
            raise ValueError("no topology in etcd yet")
        node_id = _find(topology, opts.node)
        moves = drain(topology, node_id)
        await _move(store, moves, opts)
        new = await store.change(remove_node(node_id))
    finally:
        await close_quietly(client)
    print(f"remove-node: {node_id} left the cluster"
          + (f" (topology version {new.version}); stop it" if new else ""), flush=True)
    return 0


async def _rebalance(opts: argparse.Namespace) -> int:
    client, store = await _store(opts)
    try:
        topology, _ = await store.read()
        if topology is None:
            raise ValueError("no topology in etcd yet")
        moves = rebalance(topology)
        await _move(store, moves, opts)
    finally:
        await close_quietly(client)
    print(f"rebalance: {len(moves)} slot(s) moved", flush=True)
    return 0


async def _move(store: TopologyStore, moves: list[Move], opts: argparse.Namespace) -> None:
    def progress(done: int, total: int) -> None:
        print(f"moved {done}/{total} slot(s)", flush=True)

    await run_moves(store, moves, batch=max(1, opts.batch), timeout=opts.timeout, progress=progress)
