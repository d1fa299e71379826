"""Cluster mode under ``tls-cluster yes``: nodes advertise their TLS ports, as Redis does."""

from __future__ import annotations

from tests.cluster.conftest import call, node_id, set_topology, topology
from tests.helpers import running
from tests.tls.conftest import Certs, start_tls_moonkv


def test_tls_cluster_advertises_the_tls_ports(certs: Certs) -> None:
    h, tls_port = start_tls_moonkv(certs, "--cluster-enabled", "yes", "--tls-cluster", "yes")
    with running(h):
        myid, other = node_id(h.port), "f" * 40
        top = topology(1, [(myid, h.port, [(0, 8191)]), (other, 7002, [(8192, 16383)])])
        top["nodes"][0]["tls_port"] = tls_port
        top["nodes"][1]["tls_port"] = 7444
        assert set_topology(h.port, top) == b"+OK\r\n"
        assert call(h.port, "GET", "foo") == b"-MOVED 12182 127.0.0.1:7444\r\n"
        slots = call(h.port, "CLUSTER", "SLOTS")
        assert b":%d\r\n" % tls_port in slots and b":7444\r\n" in slots and b":%d\r\n" % h.port not in slots
        shards = call(h.port, "CLUSTER", "SHARDS")
        assert b"$4\r\nport\r\n:7002\r\n$8\r\ntls-port\r\n:7444\r\n" in shards
        assert b" 127.0.0.1:%d@0 myself,master " % tls_port in call(h.port, "CLUSTER", "NODES")
        assert call(h.port, "CONFIG", "SET", "tls-cluster", "no") == b"+OK\r\n"
        assert call(h.port, "GET", "foo") == b"-MOVED 12182 127.0.0.1:7002\r\n"
        assert b":7444\r\n" not in call(h.port, "CLUSTER", "SLOTS")
