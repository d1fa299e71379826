"""Fencing: a primary without a refreshed lease stops taking writes before anyone
replaces it; etcd away means reads with the last topology and no writes."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.cluster.etcd_harness import Cluster, call, wait_until
from tests.helpers import RawClient

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
        killed = time.monotonic()
        wait_until(lambda: _set(primary) == CLUSTERDOWN, 5, "the primary to fence itself")
        fenced_after = time.monotonic() - killed
        assert fenced_after <= 0.8 * 3 + 0.5, fenced_after  # 0.8 × cluster-node-timeout after the last refresh
        time.sleep(2)  # etcd away for a while: reads keep being served, writes refused
        assert call(primary, "GET", "before") == b"$1\r\nv\r\n"
        assert _set(primary) == CLUSTERDOWN
        cluster.etcd.start()
        wait_until(lambda: _set(primary, "after") == b"+OK\r\n", 20, "writes to resume after etcd returns")
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
        wait_until(lambda: _set(ports[old]) == b"+OK\r\n", 15, "the restarted primary to take writes")
        # Probe both nodes without pause; record every accepted write per node.
        accepted: dict[str, list[float]] = {old: [], new: []}
        stop = threading.Event()

        def probe(node: str) -> None:
            c = None
            while not stop.is_set():
                try:
                    c = c or RawClient(ports[node], timeout=1)
                    t0 = time.monotonic()
                    if c.call("SET", f"probe-{node}", "v") == b"+OK\r\n":
                        accepted[node].append(t0)  # sent at t0: the node accepted it after t0
                except OSError:
                    if c is not None:
                        c.close()
                    c = None
                    time.sleep(0.01)
            if c is not None:
                c.close()

        threads = [threading.Thread(target=probe, args=(n,), daemon=True) for n in (old, new)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        cluster.proxy.cut()
        cut = time.monotonic()
        wait_until(lambda: accepted[new], 20, "the replacement to accept writes")
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(5)
        last_old = max(t for t in accepted[old])
        first_new = min(accepted[new])
        assert last_old < first_new, f"two writable primaries: old until {last_old - cut:.2f}, new from {first_new - cut:.2f}"
        assert last_old - cut <= 0.8 * 3 + 0.3
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
        wait_until(lambda: cluster.record().owner(0).id == new, 15, "the replica's promotion")
        cluster.nodes[old].proc.send_signal(signal.SIGCONT)
        # Awake, its lease is gone: it must not take a write as a primary, and it follows.
        for _ in range(20):
            assert _set(cluster.nodes[old].port) != b"+OK\r\n"
            time.sleep(0.05)
        wait_until(lambda: not cluster.record().node(old).failed, 15, "the old primary to register again")
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
        wait_until(lambda: _set(cluster.nodes[primary].port) == b"+OK\r\n", 10, "writes without a controller")
        assert cluster.record().version == version and cluster.primary() == primary
    finally:
        cluster.close()
