"""Fencing: a primary without a refreshed lease stops taking writes before anyone
replaces it; etcd away means reads with the last topology and no writes.

How soon (0.8 × cluster-node-timeout after the last refresh) is bench/cluster_fencing.py's
to measure: here a loaded machine stretches every delay, so only the order is asserted."""

from __future__ import annotations

import signal
import time

import pytest

from tests.cluster.etcd_harness import Cluster, Prober, call, wait_until

pytestmark = pytest.mark.timeout(180)

CLUSTERDOWN = b"-CLUSTERDOWN The cluster is down\r\n"


def _set(port: int, key: str = "probe") -> bytes:
    try:
        return call(port, "SET", key, "v", timeout=1)
    except OSError as e:
        return f"-conn {e}".encode()


def test_etcd_sigkilled_reads_go_on_writes_fence_then_everything_recovers() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1)
    try:
        primary = cluster.nodes[cluster.primary()].port
        assert _set(primary, "before") == b"+OK\r\n"
        version = cluster.record().version
        cluster.etcd.kill()
        wait_until(lambda: _set(primary) == CLUSTERDOWN, 30, "the primary to fence itself")
        time.sleep(2)  # etcd away for a while: reads keep being served, writes refused
        assert call(primary, "GET", "before") == b"$1\r\nv\r\n"
        assert _set(primary) == CLUSTERDOWN
        cluster.etcd.start()
        wait_until(lambda: _set(primary, "after") == b"+OK\r\n", 30, "writes to resume after etcd returns")
        record = cluster.wait_pushed()
        assert record.owner(0).port == primary  # nobody was failed over
        assert record.version == version
    finally:
        cluster.close()


def test_primary_cut_off_from_etcd_fences_before_its_replacement_writes() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1, proxy_first=True)
    try:
        old = cluster.primary()
        (new,) = cluster.replicas(old)
        assert cluster.proxy is not None
        ports = {old: cluster.nodes[old].port, new: cluster.nodes[new].port}
        wait_until(lambda: _set(ports[old]) == b"+OK\r\n", 30, "the restarted primary to take writes")
        # Probe both nodes without pause; record every accepted write per node.
        prober = Prober(ports)
        try:
            wait_until(lambda: prober.accepted[old], 30, "the old primary to accept probes")
            cluster.proxy.cut()
            cut = time.monotonic()
            wait_until(lambda: prober.accepted[new], 30, "the replacement to accept writes")
            time.sleep(0.5)
        finally:
            prober.stop()
        last_old = max(prober.accepted[old])
        first_new = min(prober.accepted[new])
        assert last_old < first_new, f"two writable primaries: old until {last_old - cut:.2f}, new from {first_new - cut:.2f}"
        record = cluster.record()
        assert record.owner(0).id == new and record.node(old).failed
    finally:
        cluster.close()


def test_sigstopped_primary_is_replaced_and_stays_fenced_when_it_wakes() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1)
    try:
        old = cluster.primary()
        (new,) = cluster.replicas(old)
        cluster.nodes[old].proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: cluster.record().owner(0).id == new, 30, "the replica's promotion")
        cluster.nodes[old].proc.send_signal(signal.SIGCONT)
        # Awake, its lease is gone: it must not take a write as a primary, and it follows.
        for _ in range(20):
            assert _set(cluster.nodes[old].port) != b"+OK\r\n"
            time.sleep(0.05)
        wait_until(lambda: not cluster.record().node(old).failed, 30, "the old primary to register again")
        cluster.wait_pushed()
        assert _set(cluster.nodes[new].port) == b"+OK\r\n"
    finally:
        cluster.close()


def test_with_the_controller_away_a_restarted_primary_serving_the_current_version_writes() -> None:
    cluster = Cluster(primaries=1, replicas=1, controllers=1)
    try:
        for proc in cluster.controllers:
            proc.kill()
            proc.wait()
        primary = cluster.primary()
        version = cluster.record().version
        cluster.restart_node(primary)  # registers anew: fenced until it knows it is current
        wait_until(lambda: _set(cluster.nodes[primary].port) == b"+OK\r\n", 30, "writes without a controller")
        assert cluster.record().version == version and cluster.primary() == primary
    finally:
        cluster.close()
