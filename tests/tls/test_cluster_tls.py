"""Cluster mode under ``tls-cluster yes``: nodes advertise their TLS ports, as Redis does."""

from __future__ import annotations

import json
import time

from moonkv.cluster.slots import key_slot
from tests.cluster.conftest import call, node_id, set_topology, topology
from tests.helpers import RawClient, running
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


def test_a_slot_moves_over_tls_with_auth(certs: Certs) -> None:
    """The source reaches the target's tls_port (tls-cluster) and authenticates with
    masterauth (docs/cluster.md "Resharding")."""
    args = ("--cluster-enabled", "yes", "--tls-cluster", "yes", "--requirepass", "pw", "--masterauth", "pw",
            "--cluster-migration-ask", "yes")
    a, a_tls = start_tls_moonkv(certs, *args)
    with running(a):
        b, b_tls = start_tls_moonkv(certs, *args)
        with running(b):
            ca, cb = RawClient(a.port), RawClient(b.port)
            try:
                for c in (ca, cb):
                    assert c.call("AUTH", "pw") == b"+OK\r\n"
                ids = [c.call("CLUSTER", "MYID").split(b"\r\n")[1].decode() for c in (ca, cb)]
                slot = key_slot(b"{k}")
                top = topology(1, [(ids[0], a.port, [(0, 16382)]), (ids[1], b.port, [(16383, 16383)])])
                top["nodes"][0]["tls_port"], top["nodes"][1]["tls_port"] = a_tls, b_tls
                for version, migrations in ((1, []), (2, [{"slot": slot, "from": ids[0], "to": ids[1]}])):
                    if version == 2:
                        assert ca.call("SET", "{k}:x", "over tls") == b"+OK\r\n"
                    top = dict(top, version=version, migrations=migrations)
                    for c in (cb, ca):
                        assert c.call("CLUSTER", "SETTOPOLOGY", version, json.dumps(top)) == b"+OK\r\n"
                deadline = time.monotonic() + 30
                while ca.call("GET", "{k}:x") != b"-ASK %d 127.0.0.1:%d\r\n" % (slot, b_tls):
                    assert time.monotonic() < deadline, ca.call("CLUSTER", "MIGRATIONS")
                    time.sleep(0.02)
                assert cb.call("ASKING") == b"+OK\r\n"
                assert cb.call("GET", "{k}:x") == b"$8\r\nover tls\r\n"
            finally:
                ca.close()
                cb.close()
