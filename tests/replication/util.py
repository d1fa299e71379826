"""Helpers for replication tests: start nodes, wait for a replica to catch up,
compare datasets key by key."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import redis

from tests.helpers import ServerHandle, start_moonkv

DBS = (0, 1, 3)


def info(r: redis.Redis, section: str = "replication") -> dict[str, str]:
    """One INFO section, every value as text (redis-py parses the numbers)."""
    return {
        k: ",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v)
        for k, v in r.info(section).items()
    }


def client(h: ServerHandle) -> redis.Redis:
    return redis.Redis(port=h.port, socket_timeout=20)


def wait_until(pred: object, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():  # type: ignore[operator]
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def link_up(replica: redis.Redis) -> None:
    wait_until(lambda: info(replica)["master_link_status"] == "up", what="the link to the primary")


def caught_up(primary: redis.Redis, replica: redis.Redis, timeout: float = 20.0) -> None:
    """Wait until the replica has applied everything the primary has streamed."""

    def done() -> bool:
        p, r = info(primary), info(replica)
        return r.get("master_link_status") == "up" and r["slave_repl_offset"] == p["master_repl_offset"]

    wait_until(done, timeout, "the replica to catch up")


def dataset(r: redis.Redis, dbs: Sequence[int] = DBS) -> dict[tuple[int, bytes], tuple[bytes, bool]]:
    """Every key's DUMP (a stream's content) and whether it has a TTL."""
    out: dict[tuple[int, bytes], tuple[bytes, bool]] = {}
    for db in dbs:
        r.execute_command("SELECT", db)
        for k in r.execute_command("KEYS", "*"):
            if r.type(k) == b"stream":
                # Delivery and seen times are each node's clock (as in Redis): compare the rest.
                groups = [(g["name"], g["last-delivered-id"], g["pending"]) for g in r.xinfo_groups(k)]
                d = repr((r.xrange(k), r.xinfo_stream(k)["last-generated-id"], groups)).encode()
            else:
                d = r.execute_command("DUMP", k)
                if d is None:
                    continue
            out[(db, k)] = (d, r.execute_command("PTTL", k) > 0)
    r.execute_command("SELECT", 0)
    return out


@contextmanager
def nodes(*args_list: Sequence[str]) -> Iterator[list[ServerHandle]]:
    """Start one moonkv per argument list; all are stopped at the end."""
    with ExitStack() as stack:
        handles = []
        for args in args_list:
            h = start_moonkv(list(args))
            stack.callback(h.stop)
            handles.append(h)
        yield handles


def replica_args(primary: ServerHandle, *extra: str) -> list[str]:
    return ["--replicaof", "127.0.0.1", str(primary.port), *extra]
