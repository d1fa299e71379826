"""Replication over TLS (tls-replication): the replica connects to its primary's TLS port,
presents its client certificate and checks the primary's against the CA."""

from __future__ import annotations

from contextlib import ExitStack

import redis

from tests.helpers import start_moonkv
from tests.replication.util import caught_up, dataset, info, wait_until
from tests.tls.conftest import Certs, Pair, start_tls_moonkv


def _replica_args(certs: Certs, tls_port: int, pair: Pair) -> list[str]:
    return [
        "--appendonly", "no", "--save", "",
        "--replicaof", "127.0.0.1", str(tls_port),
        "--tls-replication", "yes",
        # Redis too wants a server certificate whenever TLS is configured at all.
        "--tls-cert-file", certs.server.cert,
        "--tls-key-file", certs.server.key,
        "--tls-client-cert-file", pair.cert,
        "--tls-client-key-file", pair.key,
        "--tls-ca-cert-file", certs.ca,
    ]


def _tls_client(certs: Certs, port: int) -> redis.Redis:
    return redis.Redis(port=port, ssl=True, ssl_ca_certs=certs.ca, ssl_certfile=certs.client.cert,
                       ssl_keyfile=certs.client.key, ssl_check_hostname=False, socket_timeout=20)


def test_a_replica_follows_its_primary_over_tls(certs: Certs) -> None:
    # The primary listens on TLS only and requires client certificates (the default).
    primary, tls_port = start_tls_moonkv(certs, plain=False)
    with ExitStack() as stack:
        stack.callback(primary.stop)
        replica = start_moonkv(_replica_args(certs, tls_port, certs.client))
        stack.callback(replica.stop)
        p = stack.enter_context(_tls_client(certs, tls_port))
        r = stack.enter_context(redis.Redis(port=replica.port, socket_timeout=20))
        for i in range(200):  # before and after the full sync
            p.set(f"k{i}", "v" * i)
        p.rpush("list", *range(50))
        wait_until(lambda: info(r)["master_link_status"] == "up", what="the TLS link")
        p.hset("h", mapping={"a": 1, "b": 2})
        p.eval("redis.call('INCR', KEYS[1]); return redis.call('SADD', KEYS[2], 'x')", 2, "n", "s")
        caught_up(p, r)
        assert dataset(r, (0,)) == dataset(p, (0,))
        assert r.get("k199") == b"v" * 199


def test_a_replica_whose_certificate_the_primary_does_not_trust_never_syncs(certs: Certs) -> None:
    primary, tls_port = start_tls_moonkv(certs, plain=False)
    with ExitStack() as stack:
        stack.callback(primary.stop)
        replica = start_moonkv(_replica_args(certs, tls_port, certs.other_client))
        stack.callback(replica.stop)
        p = stack.enter_context(_tls_client(certs, tls_port))
        r = stack.enter_context(redis.Redis(port=replica.port, socket_timeout=20))
        p.set("secret", "1")
        # Give the link time for a few attempts: it must stay down, and nothing arrives.
        wait_until(lambda: "Error accepting a client connection" in primary.read_log(), what="a refused handshake")
        assert info(r)["master_link_status"] == "down"
        assert r.get("secret") is None
