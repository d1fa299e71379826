"""The controller: election, takeover after SIGKILL, revision-compared changes, pushes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from typing import Any

import pytest

from moonkv.cluster.topology import Topology
from moonkv.controller import NotLeader, TopologyStore, promotion
from tests.cluster.etcd_harness import Cluster, call, etcd_call, wait_until

pytestmark = pytest.mark.timeout(120)


def test_leader_sigkill_another_takes_over_topology_unchanged() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=2)
    try:
        before = cluster.record()
        leader = wait_until(cluster.leader, 10, "a leader")
        index = int(leader[1:])
        cluster.controllers[index].send_signal(signal.SIGKILL)
        cluster.controllers[index].wait()
        killed = time.monotonic()
        other = wait_until(lambda: (lambda lead: lead if lead not in (None, leader) else None)(cluster.leader()),
                           15, "the other controller to lead")
        took = time.monotonic() - killed
        assert other == f"c{1 - index}"
        assert took < 3 + 2  # the leader lease's TTL (3 s) and the poll
        after = cluster.wait_pushed()
        assert after.to_json() == before.to_json()  # nothing changed hands
        # The new leader serves: a node down while the topology changed gets the
        # current version from it when it starts again.
        (node,) = cluster.replicas(cluster.primary())
        cluster.nodes[node].stop()
        newer = etcd_call(cluster.etcd.endpoint, lambda c: TopologyStore(c, cluster.keys).change(lambda rec: rec))
        assert newer.version == after.version + 1
        cluster.restart_node(node)
        wait_until(lambda: cluster.node_version(node) == newer.version, 15, "the push to the restarted node")
    finally:
        cluster.close()


def test_changes_compare_the_revision_and_the_leader_key() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=0)
    try:
        keys = cluster.keys

        async def race(c: Any) -> list[int]:
            a, b = TopologyStore(c, keys), TopologyStore(c, keys)
            read: list[int] = []

            def bump(rec: dict[str, Any] | None) -> dict[str, Any] | None:
                read.append(rec["version"] if rec else 0)
                return rec

            results = await asyncio.gather(a.change(bump), b.change(bump))
            return sorted(r.version for r in results if r is not None) + [len(read)]

        v2, v3, reads = etcd_call(cluster.etcd.endpoint, race)
        assert (v2, v3) == (2, 3)  # both applied, one after the other
        assert reads >= 2

        async def deposed(c: Any) -> None:
            await c.put(keys.leader, b"someone-else")
            await TopologyStore(c, keys, leader_token=b"me").change(lambda rec: rec)

        with pytest.raises(NotLeader):
            etcd_call(cluster.etcd.endpoint, deposed)
        assert cluster.record().version == 3

        # A failover commits only while the failed primary's key is absent.
        primary = cluster.primary()
        (replica,) = cluster.replicas(primary)
        key = keys.node(primary)

        async def fail_over(c: Any) -> Any:
            return await TopologyStore(c, keys).change(promotion(primary, replica, failed=True), absent=(key,))

        async def put_key(c: Any) -> None:
            await c.put(key, b"{}")

        async def delete_key(c: Any) -> None:
            await c.delete(key)

        etcd_call(cluster.etcd.endpoint, put_key)  # the node registered again
        assert etcd_call(cluster.etcd.endpoint, fail_over) is None
        assert cluster.record().version == 3
        etcd_call(cluster.etcd.endpoint, delete_key)
        assert etcd_call(cluster.etcd.endpoint, fail_over).owner(0).id == replica
    finally:
        cluster.close()


def test_stale_push_refused_and_the_controller_pushes_the_current_version() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1)
    try:
        record = cluster.wait_pushed()
        node = cluster.primary()
        port = cluster.nodes[node].port
        # A change made outside the controller (the operator's CLI) reaches every node.
        etcd_call(cluster.etcd.endpoint, lambda c: TopologyStore(c, cluster.keys).change(lambda rec: rec))
        newer = cluster.wait_pushed(timeout=10)
        assert newer.version == record.version + 1
        reply = call(port, "CLUSTER", "SETTOPOLOGY", record.version, record.to_json())
        assert reply == b"-ERR topology version %d is older than this node's %d\r\n" % (record.version, newer.version)
        # A different record under the version the node has is refused too.
        other = Topology.from_dict({**newer.to_dict(), "name": "other"})
        reply = call(port, "CLUSTER", "SETTOPOLOGY", other.version, other.to_json())
        assert reply.startswith(b"-ERR topology version %d is already applied" % newer.version)
    finally:
        cluster.close()


def test_controller_authenticates_to_nodes_that_require_a_password() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1, password="s3cret")  # waits for the pushes
    try:
        record = cluster.record()
        (replica,) = cluster.replicas(cluster.primary())
        wait_until(lambda: b"master_link_status:up" in call(cluster.nodes[replica].port, "INFO", "replication",
                                                             password="s3cret"), 15, "the replica's link")
        # A controller with the wrong password reaches no node; the right one does.
        cluster.controllers[0].kill()
        cluster.controllers[0].wait()
        newer = etcd_call(cluster.etcd.endpoint, lambda c: TopologyStore(c, cluster.keys).change(lambda rec: rec))
        wrong = cluster.start_controller("wrong", password="nope")
        wait_until(lambda: cluster.leader() == "wrong", 15, "the wrong controller to lead")
        wait_until(lambda: "WRONGPASS" in cluster.controller_log("wrong"), 5, "its AUTH to be refused")
        assert {cluster.node_version(n) for n in cluster.nodes} == {record.version}
        wrong.kill()
        wrong.wait()
        cluster.start_controller("right")
        wait_until(lambda: {cluster.node_version(n) for n in cluster.nodes} == {newer.version}, 20,
                   "the pushes with the right password")
    finally:
        cluster.close()


def test_controller_talks_tls_to_the_nodes_tls_port() -> None:
    import trustme

    d = tempfile.mkdtemp(prefix="moonkv-ctl-tls-")
    ca, other = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {name: os.path.join(d, name) for name in ("ca.crt", "other.crt", "node.crt", "node.key")}
    ca.cert_pem.write_to_path(files["ca.crt"])
    other.cert_pem.write_to_path(files["other.crt"])
    leaf.cert_chain_pems[0].write_to_path(files["node.crt"])
    leaf.private_key_pem.write_to_path(files["node.key"])
    cluster = Cluster(primaries=1, replicas=1, controllers=0,
                      tls=(files["ca.crt"], files["node.crt"], files["node.key"]))
    try:
        assert all(n.tls_port for n in cluster.record().nodes)
        # A controller that does not trust the nodes' CA pushes nothing.
        cluster.start_controller("untrusting", ca=files["other.crt"])
        wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in cluster.controller_log("untrusting"), 15,
                   "the certificate check to fail")
        assert {cluster.node_version(n) for n in cluster.nodes} == {0}
        cluster.controllers[0].kill()
        cluster.controllers[0].wait()
        cluster.start_controller("trusting")
        cluster.wait_pushed(timeout=20)
    finally:
        cluster.close()
        shutil.rmtree(d, ignore_errors=True)
