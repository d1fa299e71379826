"""Replication commands: REPLICAOF/SLAVEOF, ROLE, PSYNC/SYNC, REPLCONF, WAIT, FAILOVER.

Front-ends of :mod:`moonkv.replication` (``server.replication``); a server built
without a data directory has no replication and answers as a lone primary.
"""

from __future__ import annotations

from typing import Any, Final

from moonkv.commands._util import parse_int
from moonkv.commands.table import command
from moonkv.engine import NO_REPLY, Client
from moonkv.errors import RespError

_S: Final = "server"


def _node(c: Client) -> Any:
    node = c.server.replication
    if node is None:
        raise RespError("replication is not available on this server (no data directory)")
    return node


def _replicaof(c: Client, argv: list[bytes]) -> object:
    node = _node(c)
    host, port = argv[1], argv[2]
    if host.lower() == b"no" and port.lower() == b"one":
        return node.promote()
    try:
        p = parse_int(port)
    except RespError:
        p = -1
    if not 0 <= p <= 65535:
        raise RespError("Invalid master port")
    return node.follow(host.decode("utf-8", "replace"), p)


@command("replicaof", 3, "admin noscript stale no_async_loading", group=_S, since="5.0.0",
         summary="Make the server a replica of another instance, or promote it as master.")
def replicaof(c: Client, argv: list[bytes]) -> object:
    return _replicaof(c, argv)


@command("slaveof", 3, "admin noscript stale no_async_loading", group=_S, since="1.0.0",
         summary="Make the server a replica of another instance, or promote it as master.")
def slaveof(c: Client, argv: list[bytes]) -> object:
    return _replicaof(c, argv)


@command("role", 1, "noscript loading stale fast", group=_S, since="2.8.12",
         summary="Return the role of the instance in the context of replication")
def role(c: Client, argv: list[bytes]) -> object:
    node = c.server.replication
    if node is None:
        return [b"master", 0, []]
    return node.role()


@command("psync", -3, "admin noscript no_async_loading no_multi", group=_S, since="2.8.0",
         summary="Internal command used for replication")
def psync(c: Client, argv: list[bytes]) -> object:
    offset = parse_int(argv[2])
    failover = len(argv) > 3 and argv[3].lower() == b"failover"
    return _node(c).psync(c, argv[1], offset, failover=failover)


@command("sync", 1, "admin noscript no_async_loading no_multi", group=_S, since="1.0.0",
         summary="Internal command used for replication")
def sync(c: Client, argv: list[bytes]) -> object:
    return _node(c).psync(c, b"?", -1, legacy=True)


@command("replconf", -1, "admin noscript loading stale allow_busy", group=_S, since="3.0.0",
         summary="An internal command for configuring the replication stream")
def replconf(c: Client, argv: list[bytes]) -> object:
    if len(argv) % 2 == 0:
        raise RespError("syntax error")
    node = _node(c)
    for i in range(1, len(argv), 2):
        opt = argv[i].lower()
        val = argv[i + 1]
        if opt == b"listening-port":
            node.replconf_listening_port(c, parse_int(val))
        elif opt == b"ack":
            # Sent by a replica on the replication link: no reply, as in Redis.
            try:
                node.ack(c, int(val))
            except ValueError:
                pass
            return NO_REPLY
        elif opt == b"getack":
            return NO_REPLY  # only a primary asks; a client asking gets nothing
        elif opt in (b"capa", b"ip-address", b"rdb-only", b"rdb-filter-only"):
            pass
        else:
            raise RespError(f"Unrecognized REPLCONF option: {argv[i].decode('utf-8', 'replace')}")
    return "OK"


@command("wait", 3, "noscript", group="generic", since="3.0.0",
         tips="request_policy:all_shards response_policy:agg_min",
         summary="Wait for the synchronous replication of all the write commands sent in the "
                 "context of the current connection")
def wait(c: Client, argv: list[bytes]) -> object:
    needed = parse_int(argv[1])
    timeout = parse_int(argv[2])
    if timeout < 0:
        raise RespError("timeout is negative")
    node = c.server.replication
    if node is None:
        return 0
    return node.wait(c, needed, timeout)


@command("failover", -1, "admin noscript stale", group=_S, since="6.2.0",
         summary="Start a coordinated failover between this server and one of its replicas.")
def failover(c: Client, argv: list[bytes]) -> object:
    target: tuple[str, int] | None = None
    timeout = 0
    force = abort = False
    i = 1
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"to" and i + 2 < len(argv) and target is None:
            target = (argv[i + 1].decode("utf-8", "replace"), parse_int(argv[i + 2]))
            i += 3
        elif opt == b"timeout" and i + 1 < len(argv) and not timeout:
            timeout = parse_int(argv[i + 1])
            if timeout <= 0:
                raise RespError("FAILOVER timeout must be greater than 0")
            i += 2
        elif opt == b"force" and not force:
            force = True
            i += 1
        elif opt == b"abort" and not abort:
            abort = True
            i += 1
        else:
            raise RespError("syntax error")
    node = _node(c)
    if abort:
        if force or timeout or target is not None:
            raise RespError("syntax error")
        if node.failover_state == "no-failover":
            raise RespError("No failover in progress.")
        node.abort_failover("Failover manually aborted")
        return "OK"
    return node.failover(target, force, timeout)
