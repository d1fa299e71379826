"""``moonkv cluster ...``: run a controller, a local cluster, look at one, fail over.

    moonkv cluster controller --etcd HOST:PORT[,...] [--name NAME] [--cluster NAME]
                              [--user U] [--password P | --auth P] [--tls ...]
    moonkv cluster up --primaries 3 --replicas 1 --dir D [--port-base 7000]
    moonkv cluster status (--etcd HOST:PORT[,...] | --dir D)
    moonkv cluster failover [--node ID] (--etcd HOST:PORT[,...] | --dir D)
    moonkv cluster add-node / remove-node / rebalance (moonkv/cli/reshard.py)

See docs/cluster.md ("Operations").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:
    from moonkv.cluster.etcd import Keys, close_quietly, connect, parse_endpoints
except ImportError as _e:  # aetcd is the cluster extra
    raise SystemExit(f"moonkv cluster needs aetcd ({_e}); install it with: pip install 'moonkv[cluster]'") from None
from moonkv.cli import reshard
from moonkv.cluster.slots import SLOTS
from moonkv.cluster.topology import PRIMARY, REPLICA, Node, Topology
from moonkv.controller import (
    Controller,
    NodeAuth,
    NodeError,
    NodeLink,
    TopologyStore,
    info_fields,
    promotion,
)

ENDPOINT_FILE = "etcd-endpoint"  # written by `cluster up` in its directory


def main(cmd: str, args: list[str]) -> int:
    parser = _parser()
    if not args:
        parser.print_help()
        return 2
    opts = parser.parse_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        return int(asyncio.run(opts.run(opts)))
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as e:
        print(f"moonkv cluster: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="moonkv cluster", description="cluster mode (docs/cluster.md)")
    sub = p.add_subparsers(metavar="COMMAND")

    c = sub.add_parser("controller", help="run a controller (several may run; one leads)")
    _etcd_options(c, required=True)
    c.add_argument("--name", default="", help="this controller's name (default: random)")
    c.add_argument("--node-timeout", type=int, default=3000, metavar="MS",
                   help="the nodes' cluster-node-timeout (grace at takeover)")
    _node_options(c)
    c.set_defaults(run=_controller)

    u = sub.add_parser("up", help="start etcd, nodes and a controller on this machine")
    u.add_argument("--primaries", type=int, default=3)
    u.add_argument("--replicas", type=int, default=1, help="replicas per primary")
    u.add_argument("--dir", required=True, help="where etcd and the nodes keep their data")
    u.add_argument("--port-base", type=int, default=7000, help="nodes listen on port-base+1, +2, ...")
    u.add_argument("--cluster", default="moonkv", help="the cluster's name in etcd")
    u.add_argument("--node-timeout", type=int, default=3000, metavar="MS")
    u.set_defaults(run=_up)

    s = sub.add_parser("status", help="slots, nodes, roles, replication lag, version, leader")
    _etcd_options(s, required=False)
    _node_options(s)
    s.set_defaults(run=_status)

    fo = sub.add_parser("failover", help="swap a primary with its replica, losing no write")
    _etcd_options(fo, required=False)
    _node_options(fo)
    fo.add_argument("--node", help="a replica to promote, or a primary to replace (default: every primary)")
    fo.add_argument("--timeout", type=int, default=5000, metavar="MS", help="FAILOVER's TIMEOUT")
    fo.set_defaults(run=_failover)

    reshard.add_commands(sub, _etcd_options, _node_options, _node_auth, _endpoints)
    return p


def _etcd_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--etcd", required=required, help="etcd endpoints, HOST:PORT[,...]")
    if not required:
        p.add_argument("--dir", help="a `cluster up` directory (instead of --etcd)")
    p.add_argument("--cluster", default="moonkv", help="the cluster's name in etcd")


_TLS_FILES = ("cert-file", "key-file", "key-file-pass", "ca-cert-file", "ca-cert-dir")


def _node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", help="ACL user for AUTH to the nodes")
    p.add_argument("--password", "--auth", dest="password", help="password for AUTH to the nodes")
    p.add_argument("--tls", action="store_true", help="talk TLS to the nodes' tls-port")
    for f in _TLS_FILES:
        p.add_argument(f"--tls-{f}", default="")


def _node_auth(opts: argparse.Namespace) -> NodeAuth:
    tls = None
    if opts.tls:
        from moonkv.engine import Config
        from moonkv.tls import client_context

        cfg = Config()
        for f in _TLS_FILES:
            cfg.load(f"tls-{f}", getattr(opts, f"tls_{f.replace('-', '_')}"))
        tls = client_context(cfg)
    return NodeAuth(opts.user, opts.password, tls)


def _endpoints(opts: argparse.Namespace) -> list[tuple[str, int]]:
    if opts.etcd:
        return parse_endpoints(opts.etcd)
    if getattr(opts, "dir", None):
        return parse_endpoints(Path(opts.dir, ENDPOINT_FILE).read_text().strip())
    raise ValueError("give --etcd HOST:PORT or --dir D")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


# -- controller ---------------------------------------------------------------------


async def _controller(opts: argparse.Namespace) -> int:
    controller = Controller(
        endpoints=parse_endpoints(opts.etcd),
        cluster=opts.cluster,
        name=opts.name,
        auth=_node_auth(opts),
        node_timeout_ms=opts.node_timeout,
    )
    await controller.run(_stop_event())
    return 0


# -- up ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Children:
    """The processes `up` started, stopped in reverse order (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


async def _up(opts: argparse.Namespace) -> int:
    if opts.primaries < 1 or opts.replicas < 0:
        raise ValueError("--primaries must be at least 1 and --replicas at least 0")
    d = Path(opts.dir).resolve()
    d.mkdir(parents=True, exist_ok=True)
    # The same ports again when the directory is reused: etcd keeps its peer URL.
    ports_file = d / "etcd-ports.json"
    if ports_file.exists():
        client_port, peer_port = json.loads(ports_file.read_text())
    else:
        client_port, peer_port = _free_port(), _free_port()
        ports_file.write_text(json.dumps([client_port, peer_port]))
    endpoint = f"127.0.0.1:{client_port}"
    (d / ENDPOINT_FILE).write_text(endpoint + "\n")
    children = _Children()
    stop = _stop_event()
    try:
        peer = f"http://127.0.0.1:{peer_port}"
        children.start("etcd", [
            "etcd", "--name", "moonkv", "--data-dir", str(d / "etcd"),
            "--listen-client-urls", f"http://{endpoint}", "--advertise-client-urls", f"http://{endpoint}",
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"moonkv={peer}",
        ], d / "etcd.log")
        count = opts.primaries * (1 + opts.replicas)
        ports = [opts.port_base + 1 + i for i in range(count)]
        nodes = []
        for port in ports:
            node_dir = d / f"node-{port}"
            node_dir.mkdir(exist_ok=True)
            nodes.append(children.start(f"node {port}", [
                sys.executable, "-m", "moonkv", "server", "--port", str(port), "--bind", "127.0.0.1",
                "--dir", str(node_dir), "--cluster-enabled", "yes", "--cluster-name", opts.cluster,
                "--cluster-etcd-endpoints", endpoint, "--cluster-node-timeout", str(opts.node_timeout),
            ], d / f"node-{port}.log"))
        ids = [await _node_id(port, proc, d / f"node-{port}.log", stop) for port, proc in zip(ports, nodes, strict=True)]
        client = await connect([("127.0.0.1", client_port)], timeout=2.0)
        try:
            await TopologyStore(client, Keys(opts.cluster)).change(
                _initial(opts.cluster, ports, ids, opts.primaries, opts.replicas)
            )
            topology, _ = await TopologyStore(client, Keys(opts.cluster)).read()
        finally:
            await close_quietly(client)
        assert topology is not None
        children.start("controller", [
            sys.executable, "-m", "moonkv", "cluster", "controller", "--etcd", endpoint,
            "--cluster", opts.cluster, "--name", "up", "--node-timeout", str(opts.node_timeout),
        ], d / "controller.log")
        await _healthy(topology, stop)
        if not stop.is_set():
            first = topology.primaries()[0]
            print(f"moonkv cluster '{opts.cluster}' is up: {opts.primaries} primaries, "
                  f"{opts.replicas} replica(s) each, topology version {topology.version}\n"
                  f"  connect:  redis-cli -c -p {first.port}\n"
                  f"  status:   moonkv cluster status --dir {d}\n"
                  f"  logs:     {d}/*.log\n"
                  f"Ctrl-C stops etcd, the nodes and the controller.", flush=True)
            await stop.wait()
    finally:
        children.stop()
    print("moonkv cluster: stopped", flush=True)
    return 0


async def _node_id(port: int, proc: subprocess.Popen[bytes], log: Path, stop: asyncio.Event) -> str:
    link = NodeLink("127.0.0.1", port, NodeAuth(), timeout=2.0)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                return str((await link.call("CLUSTER", "MYID")).decode())
            except (OSError, TimeoutError, NodeError):
                if proc.poll() is not None:
                    tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                    raise RuntimeError(f"the node on port {port} exited: {' '.join(tail)} ({log})") from None
                if stop.is_set() or time.monotonic() > deadline:
                    raise RuntimeError(f"the node on port {port} did not start (see {log})") from None
                await asyncio.sleep(0.1)
    finally:
        link.close()


def _initial(name: str, ports: list[int], ids: list[str], primaries: int, replicas: int) -> Any:
    """The first record (when etcd has none): slots split over the primaries as
    ``redis-cli --cluster create`` splits them, replicas assigned round-robin."""

    def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
        if rec is not None:
            return None  # a directory used before: its record stands
        nodes: list[dict[str, Any]] = []
        for i in range(primaries):
            lo, hi = round(i * SLOTS / primaries), round((i + 1) * SLOTS / primaries) - 1
            nodes.append({"id": ids[i], "host": "127.0.0.1", "port": ports[i], "tls_port": 0,
                          "role": PRIMARY, "primary": None, "slots": [[lo, hi]], "failed": False})
        for j in range(primaries, len(ids)):
            nodes.append({"id": ids[j], "host": "127.0.0.1", "port": ports[j], "tls_port": 0,
                          "role": REPLICA, "primary": ids[(j - primaries) % primaries], "slots": [],
                          "failed": False})
        return {"version": 0, "name": name, "nodes": nodes, "migrations": []}

    return mutate


async def _healthy(topology: Topology, stop: asyncio.Event, timeout: float = 60.0) -> None:
    """Until every node serves the record's version and every replica's link is up."""
    deadline = time.monotonic() + timeout
    pending = list(topology.nodes)
    while pending and not stop.is_set():
        n = pending[0]
        link = NodeLink(n.host, n.port, NodeAuth(), timeout=2.0)
        try:
            version = (await link.call("CLUSTER", "TOPOLOGY"))[0]
            info = info_fields(await link.call("INFO", "replication"))
            if version >= topology.version and (n.role == PRIMARY or info.get("master_link_status") == "up"):
                pending.pop(0)
                continue
        except (OSError, TimeoutError, NodeError):
            pass
        finally:
            link.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"node {n.host}:{n.port} is not healthy after {timeout:.0f} s (see its log)")
        await asyncio.sleep(0.1)


# -- status --------------------------------------------------------------------------


async def _status(opts: argparse.Namespace) -> int:
    keys = Keys(opts.cluster)
    client = await connect(_endpoints(opts), timeout=2.0)
    try:
        topology, _ = await TopologyStore(client, keys).read()
        leader = await client.get(keys.leader)
        alive = {keys.node_id(kv.key) for kv in await client.get_prefix(keys.nodes)}
    finally:
        await close_quietly(client)
    if topology is None:
        print(f"cluster '{opts.cluster}': no topology in etcd yet")
        return 1
    print(f"cluster '{topology.name}'  topology version {topology.version}  "
          f"leader: {leader.value.decode().split(' ')[0] if leader is not None else '(none)'}")
    print(f"slots assigned: {topology.assigned()}/{SLOTS}"
          + (f"  migrating: {len(topology.migrations)}" if topology.migrations else ""))
    auth = _node_auth(opts)
    facts = await asyncio.gather(*(_node_facts(n, auth) for n in topology.nodes))
    offsets = {n.id: f.get("master_repl_offset") for n, f in zip(topology.nodes, facts, strict=True)}
    print(f"{'ID':<12} {'ADDRESS':<21} {'ROLE':<20} {'SLOTS':<22} {'STATE':<8} {'LAG':>10} {'VERSION':>7}")
    for n, f in zip(topology.nodes, facts, strict=True):
        state = "failed" if n.failed else "alive" if n.id in alive else "no-lease"
        if "error" in f:
            state = "down" if n.id not in alive else state
        lag = ""
        if n.role == REPLICA and f.get("slave_repl_offset") and offsets.get(n.primary or ""):
            lag = str(int(offsets[n.primary or ""] or 0) - int(f["slave_repl_offset"]))
        slots = ",".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in n.slots)
        role = n.role if n.role == PRIMARY else f"replica of {n.primary[:8] if n.primary else '?'}"
        print(f"{n.id[:12]:<12} {n.host + ':' + str(n.port):<21} {role:<20} {slots or '-':<22} {state:<8} "
              f"{lag:>10} {f.get('version', '-'):>7}")
    return 0


def _link(n: Node, auth: NodeAuth, timeout: float) -> NodeLink:
    """A link to a node of the record: its TLS port when talking TLS."""
    return NodeLink(n.host, n.tls_port if auth.tls is not None and n.tls_port else n.port, auth, timeout)


async def _node_facts(n: Node, auth: NodeAuth) -> dict[str, str]:
    link = _link(n, auth, 1.0)
    try:
        info = info_fields(await link.call("INFO", "replication"))
        info["version"] = str((await link.call("CLUSTER", "TOPOLOGY"))[0])
        return info
    except (OSError, TimeoutError, NodeError) as e:
        return {"error": str(e)}
    finally:
        link.close()


# -- failover ------------------------------------------------------------------------


async def _failover(opts: argparse.Namespace) -> int:
    """A planned swap: FAILOVER on the primary (it pauses writes until the replica has
    everything, then follows it), then the topology records the swap."""
    keys = Keys(opts.cluster)
    client = await connect(_endpoints(opts), timeout=2.0)
    try:
        store = TopologyStore(client, keys)
        topology, _ = await store.read()
        if topology is None:
            raise RuntimeError("no topology in etcd yet")
        pairs = _failover_pairs(topology, opts.node)
        for primary_id, replica_id in pairs:
            await _swap(store, primary_id, replica_id, opts.timeout, _node_auth(opts))
    finally:
        await close_quietly(client)
    return 0


def _failover_pairs(topology: Topology, node: str | None) -> list[tuple[str, str]]:
    if node is None:
        pairs = []
        for p in topology.primaries():
            replicas = [r for r in topology.replicas_of(p.id) if not r.failed]
            if replicas and not p.failed:
                pairs.append((p.id, replicas[0].id))
        if not pairs:
            raise RuntimeError("no primary has a replica to fail over to")
        return pairs
    matches = [n for n in topology.nodes if n.id.startswith(node)]
    if len(matches) != 1:
        raise RuntimeError(f"'{node}' names {'no' if not matches else 'more than one'} node")
    n = matches[0]
    if n.role == REPLICA:
        assert n.primary is not None
        return [(n.primary, n.id)]
    replicas = [r for r in topology.replicas_of(n.id) if not r.failed]
    if not replicas:
        raise RuntimeError(f"primary {n.id} has no replica to fail over to")
    return [(n.id, replicas[0].id)]


async def _swap(store: TopologyStore, primary_id: str, replica_id: str, timeout_ms: int, auth: NodeAuth) -> None:
    topology, _ = await store.read()
    assert topology is not None
    p, r = topology.node(primary_id), topology.node(replica_id)
    assert p is not None and r is not None
    link = _link(p, auth, timeout_ms / 1000 + 5)
    try:
        await link.call("FAILOVER", "TO", r.host, r.port, "TIMEOUT", timeout_ms)
    finally:
        link.close()
    target = _link(r, auth, 2.0)
    deadline = time.monotonic() + timeout_ms / 1000 + 5
    try:
        while (await target.call("ROLE"))[0] != b"master":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{r.host}:{r.port} did not become a primary (see FAILOVER's state on {p.port})")
            await asyncio.sleep(0.05)
    finally:
        target.close()

    new = await store.change(promotion(primary_id, replica_id, failed=False))
    # The leading controller sees the record change and pushes it to every node.
    promoted = new.node(replica_id) if new is not None else None
    if new is None or promoted is None:
        raise RuntimeError(f"the topology changed meanwhile: {replica_id} was not made the primary")
    ranges = ",".join(f"{lo}-{hi}" for lo, hi in promoted.slots)
    print(f"failover: {replica_id} is the primary of {ranges} (topology version {new.version})", flush=True)

__all__ = ["main"]
