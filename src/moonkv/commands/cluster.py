"""CLUSTER, READONLY, READWRITE, ASKING.

In standalone mode every one of them answers Redis's "cluster support
disabled" error.  In cluster mode (``cluster-enabled yes``, docs/cluster.md)
they read the node's :class:`moonkv.cluster.ClusterNode`: the Redis 7.0 views
of the topology (SLOTS, SHARDS, NODES, INFO, REPLICAS), the slot helpers, and
moonkv's own SETTOPOLOGY/TOPOLOGY, through which the controller changes the
topology.  Redis's gossip-era commands that would change it from a node
(MEET, ADDSLOTS, SETSLOT, FAILOVER, ...) are refused with a clear error.
"""

from __future__ import annotations

from typing import Any, Final

from moonkv.cluster.slots import SLOTS, key_slot
from moonkv.cluster.topology import Node
from moonkv.commands._util import parse_int
from moonkv.commands.table import command, container
from moonkv.engine import Client
from moonkv.errors import RespError
from moonkv.protocol import Verbatim

_G = "cluster"
_DISABLED = "This instance has cluster support disabled"
_BY_CONTROLLER: Final = (
    "CLUSTER {} is not supported: moonkv's topology changes go through its controller "
    "(CLUSTER SETTOPOLOGY; see docs/cluster.md)"
)

container("cluster", group=_G, summary="A container for Redis Cluster commands.", since="3.0.0")


def _node(c: Client) -> Any:
    router = c.server.cluster
    if router is None:
        raise RespError(_DISABLED)
    return router.node


def _slot_arg(b: bytes, err: str = "Invalid slot") -> int:
    slot = parse_int(b)
    if not 0 <= slot < SLOTS:
        raise RespError(err)
    return slot


# -- moonkv's own: the controller's push ---------------------------------------------


@command("cluster|settopology", 4, "admin noscript loading stale", group=_G, since="7.0.0",
         summary="Replaces the topology this node serves (moonkv: sent by the cluster controller).")
def cluster_settopology(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    node.set_topology(parse_int(argv[2]), argv[3])
    return "OK"


@command("cluster|topology", 2, "loading stale", group=_G, since="7.0.0",
         summary="Returns the version and the record of the topology this node serves (moonkv).")
def cluster_topology(c: Client, argv: list[bytes]) -> object:
    top = _node(c).topology
    return [0, None] if top is None else [top.version, top.to_json()]


# -- Redis's views --------------------------------------------------------------------


@command("cluster|myid", 2, "stale", group=_G, since="3.0.0", summary="Returns the ID of a node.")
def cluster_myid(c: Client, argv: list[bytes]) -> object:
    return _node(c).myid.encode()


@command("cluster|keyslot", 3, "stale", group=_G, since="3.0.0", summary="Returns the hash slot for a key.",
         complexity="O(N) where N is the number of bytes in the key")
def cluster_keyslot(c: Client, argv: list[bytes]) -> object:
    _node(c)
    return key_slot(argv[2])


@command("cluster|countkeysinslot", 3, "stale", group=_G, since="3.0.0",
         summary="Returns the number of keys in a hash slot.")
def cluster_countkeysinslot(c: Client, argv: list[bytes]) -> object:
    _node(c)
    return c.server.ks.dbs[0].slot_keys.count(_slot_arg(argv[2]))  # type: ignore[no-any-return]


@command("cluster|getkeysinslot", 4, "stale", tips="nondeterministic_output", group=_G, since="3.0.0",
         summary="Returns the key names in a hash slot.", complexity="O(N) where N is the number of requested keys")
def cluster_getkeysinslot(c: Client, argv: list[bytes]) -> object:
    _node(c)
    slot, count = parse_int(argv[2]), parse_int(argv[3])
    if count < 0 or not 0 <= slot < SLOTS:
        raise RespError("Invalid slot or number of keys")
    return c.server.ks.dbs[0].slot_keys.keys(slot, count)


def _port(node: Any, n: Node) -> int:
    return node.address(n)[1]  # type: ignore[no-any-return]


def _entry(node: Any, n: Node) -> list[object]:
    """A node in CLUSTER SLOTS: endpoint, port, id, and no extra metadata."""
    return [n.host.encode(), _port(node, n), n.id.encode(), {}]


@command("cluster|slots", 2, "stale", tips="nondeterministic_output", group=_G, since="3.0.0",
         summary="Returns the mapping of cluster slots to nodes.", complexity="O(N) where N is the total number of Cluster nodes")
def cluster_slots(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    top = node.topology
    if top is None:
        return []
    ranges: list[tuple[int, int, list[object]]] = []
    for p in top.primaries():
        serving: list[object] = [_entry(node, p)]
        serving += [_entry(node, r) for r in top.replicas_of(p.id) if not r.failed]
        ranges.extend((lo, hi, serving) for lo, hi in p.slots)
    ranges.sort(key=lambda r: r[0])
    return [[lo, hi, *serving] for lo, hi, serving in ranges]


def _offset(c: Client, node: Any, n: Node) -> int:
    repl = c.server.replication
    if n.id != node.myid or repl is None:
        return 0  # no gossip: a node knows only its own offset
    return repl.offset  # type: ignore[no-any-return]


def _shard_node(c: Client, node: Any, n: Node) -> dict[bytes, object]:
    out: dict[bytes, object] = {b"id": n.id.encode()}
    if c.server.config["tls-cluster"] and n.tls_port:
        if n.port:
            out[b"port"] = n.port
        out[b"tls-port"] = n.tls_port
    else:
        out[b"port"] = n.port
    out[b"ip"] = n.host.encode()
    out[b"endpoint"] = n.host.encode()
    out[b"role"] = b"master" if n.is_primary else b"replica"
    out[b"replication-offset"] = _offset(c, node, n)
    out[b"health"] = b"fail" if n.failed else b"online"
    return out


@command("cluster|shards", 2, "stale", tips="nondeterministic_output", group=_G, since="7.0.0",
         summary="Returns the mapping of cluster slots to shards.", complexity="O(N) where N is the total number of cluster nodes")
def cluster_shards(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    top = node.topology
    if top is None:
        return []
    return [
        {
            b"slots": [b for r in p.slots for b in r],
            b"nodes": [_shard_node(c, node, n) for n in (p, *top.replicas_of(p.id))],
        }
        for p in top.primaries()
    ]


def _line(c: Client, node: Any, n: Node) -> str:
    """One CLUSTER NODES line (no bus: cluster port 0, ping/pong 0, link always connected)."""
    top = node.topology
    me = n.id == node.myid
    flags = ("myself," if me else "") + ("master" if n.is_primary else "slave") + (",fail" if n.failed else "")
    slots = "".join(f" {lo}" if lo == hi else f" {lo}-{hi}" for lo, hi in n.slots)
    if me:
        for m in top.migrations:
            if m.source == n.id:
                slots += f" [{m.slot}->-{m.target}]"
            elif m.target == n.id:
                slots += f" [{m.slot}-<-{m.source}]"
    return (f"{n.id} {n.host}:{_port(node, n)}@0 {flags} {n.primary or '-'} 0 0 {top.version} "
            f"{'disconnected' if n.failed else 'connected'}{slots}")


def _nodes_text(c: Client, node: Any) -> str:
    top = node.topology
    lines = [_line(c, node, n) for n in top.nodes] if top is not None else []
    if node.me is None:  # not (yet) in the topology: only itself, as a Redis node before MEET
        lines.insert(0, f"{node.myid} :{c.server.port}@0 myself,master - 0 0 {node.version} connected")
    return "".join(line + "\n" for line in lines)


@command("cluster|nodes", 2, "stale", tips="nondeterministic_output", group=_G, since="3.0.0",
         summary="Returns the cluster configuration for a node.", complexity="O(N) where N is the total number of Cluster nodes")
def cluster_nodes(c: Client, argv: list[bytes]) -> object:
    return Verbatim(_nodes_text(c, _node(c)).encode())


@command("cluster|replicas", 3, "admin stale", tips="nondeterministic_output", group=_G, since="5.0.0",
         summary="Lists the replica nodes of a master node.", complexity="O(N) where N is the number of replicas.")
def cluster_replicas(c: Client, argv: list[bytes]) -> object:
    return _replicas(c, argv)


@command("cluster|slaves", 3, "admin stale", tips="nondeterministic_output", group=_G, since="3.0.0",
         summary="Lists the replica nodes of a master node.", complexity="O(N) where N is the number of replicas.")
def cluster_slaves(c: Client, argv: list[bytes]) -> object:
    return _replicas(c, argv)


def _replicas(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    top = node.topology
    name = argv[2].decode("utf-8", "surrogateescape")
    n = top.node(name) if top is not None else None
    if n is None:
        raise RespError(f"Unknown node {name}")
    if not n.is_primary:
        raise RespError("The specified node is not a master")
    return [_line(c, node, r).encode() for r in top.replicas_of(n.id)]


@command("cluster|info", 2, "stale", tips="nondeterministic_output", group=_G, since="3.0.0", summary="Returns information about the state of a node.")
def cluster_info(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    top = node.topology
    assigned = failed = size = 0
    if top is not None:
        for p in top.primaries():
            count = sum(hi - lo + 1 for lo, hi in p.slots)
            assigned += count
            size += count > 0
            failed += count if p.failed else 0
    lines = [
        f"cluster_state:{'ok' if node.router.ok else 'fail'}",
        f"cluster_slots_assigned:{assigned}",
        f"cluster_slots_ok:{assigned - failed}",
        "cluster_slots_pfail:0",
        f"cluster_slots_fail:{failed}",
        f"cluster_known_nodes:{len(top.nodes) + (node.me is None) if top is not None else 1}",
        f"cluster_size:{size}",
        f"cluster_current_epoch:{node.version}",
        f"cluster_my_epoch:{node.version}",
        "cluster_stats_messages_sent:0",
        "cluster_stats_messages_received:0",
        "total_cluster_links_buffer_limit_exceeded:0",
    ]
    return Verbatim("".join(line + "\r\n" for line in lines).encode())


@command("cluster|links", 2, "stale", tips="nondeterministic_output", group=_G, since="7.0.0",
         summary="Returns a list of all TCP links to and from peer nodes.", complexity="O(N) where N is the total number of Cluster nodes")
def cluster_links(c: Client, argv: list[bytes]) -> object:
    _node(c)
    return []  # moonkv nodes keep no bus links between them (docs/cluster.md)


@command("cluster|help", 2, "loading stale", group=_G, since="5.0.0",
         summary="Returns helpful text about the different subcommands.")
def cluster_help(c: Client, argv: list[bytes]) -> object:
    _node(c)
    return [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot.",
        "INFO", "    Return information about the cluster.",
        "KEYSLOT <key>", "    Return the hash slot for <key>.",
        "MYID", "    Return the node id.",
        "NODES", "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICAS <node-id>", "    Return <node-id> replicas.",
        "SLOTS", "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS", "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "SETTOPOLOGY <version> <json>", "    Replace the topology this node serves (sent by moonkv's controller).",
        "TOPOLOGY", "    Return the version and the record of the topology this node serves.",
        "HELP", "    Prints this help.",
    ]


# Redis subcommands that change the cluster from a node (gossip-era operations): moonkv's
# topology changes only through its controller. name, arity, flags, since, summary, tips
_REFUSED: Final = (
    ("reset", -2, "admin noscript stale", "3.0.0", "Resets a node.", ""),
    ("meet", -4, "admin no_async_loading stale", "3.0.0", "Forces a node to handshake with another node.", ""),
    ("addslots", -3, "admin no_async_loading stale", "3.0.0", "Assigns new hash slots to a node.", ""),
    ("delslots", -3, "admin no_async_loading stale", "3.0.0", "Sets hash slots as unbound for a node.", ""),
    ("failover", -2, "admin no_async_loading stale", "3.0.0", "Forces a replica to perform a manual failover of its master.", ""),
    ("replicate", 3, "admin no_async_loading stale", "3.0.0", "Configure a node as replica of a master node.", ""),
    ("addslotsrange", -4, "admin no_async_loading stale", "7.0.0", "Assigns new hash slot ranges to a node.", ""),
    ("delslotsrange", -4, "admin no_async_loading stale", "7.0.0", "Sets hash slot ranges as unbound for a node.", ""),
    ("bumpepoch", 2, "admin no_async_loading stale", "3.0.0", "Advances the cluster config epoch.", "nondeterministic_output"),
    ("count-failure-reports", 3, "admin stale", "3.0.0", "Returns the number of active failure reports active for a node.", "nondeterministic_output"),
    ("flushslots", 2, "admin no_async_loading stale", "3.0.0", "Deletes all slots information from a node.", ""),
    ("forget", 3, "admin no_async_loading stale", "3.0.0", "Removes a node from the nodes table.", ""),
    ("saveconfig", 2, "admin no_async_loading stale", "3.0.0", "Forces a node to save the cluster configuration to disk.", ""),
    ("set-config-epoch", 3, "admin no_async_loading stale", "3.0.0", "Sets the configuration epoch for a new node.", ""),
    ("setslot", -4, "admin no_async_loading stale", "3.0.0", "Binds a hash slot to a node.", ""),
)


def _refused(c: Client, argv: list[bytes]) -> object:
    _node(c)
    raise RespError(_BY_CONTROLLER.format(argv[1].decode("utf-8", "replace").upper()))


for _name, _arity, _flags, _since, _summary, _tips in _REFUSED:
    command(f"cluster|{_name}", _arity, _flags, group=_G, since=_since, summary=_summary, tips=_tips)(_refused)


# -- connection flags ------------------------------------------------------------------


@command("readonly", 1, "loading stale fast", group=_G, since="3.0.0",
         summary="Enables read-only queries for a connection to a Redis Cluster replica node.")
def readonly(c: Client, argv: list[bytes]) -> object:
    _node(c)
    c.readonly = True
    return "OK"


@command("readwrite", 1, "loading stale fast", group=_G, since="3.0.0",
         summary="Enables read-write queries for a connection to a Reids Cluster replica node.")
def readwrite(c: Client, argv: list[bytes]) -> object:
    _node(c)
    c.readonly = False
    return "OK"


@command("asking", 1, "fast", group=_G, since="3.0.0",
         summary="Signals that a cluster client is following an -ASK redirect.")
def asking(c: Client, argv: list[bytes]) -> object:
    _node(c)
    c.asking = True
    return "OK"
