"""Resharding between real moonkv nodes, the topology pushed by hand (no etcd, no controller):
the node's side of docs/cluster.md "Resharding" (moonkv/cluster/_migrate.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis

from moonkv.cluster.slots import key_slot
from moonkv.controller._reshard import slot_ranges
from tests.cluster.conftest import migrations, wait_handed
from tests.cluster.load import Writer
from tests.helpers import RawClient, ServerHandle, start_moonkv

pytestmark = pytest.mark.timeout(180)

CLUSTER_ARGS = ["--cluster-enabled", "yes", "--appendfsync", "always"]


class Node:
    def __init__(self, handle: ServerHandle, args: tuple[str, ...] = ()) -> None:
        self.h = handle
        self.args = args  # beyond CLUSTER_ARGS, for a restart
        self.r = redis.Redis(port=handle.port, socket_timeout=20)
        self.id = self.r.execute_command("CLUSTER", "MYID").decode()

    @property
    def port(self) -> int:
        return self.h.port

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.h.stop(sig)
        self.r.close()
        self.h = start_moonkv([*CLUSTER_ARGS, *self.args], dir=self.h.dir, port=self.h.port)
        self.r = redis.Redis(port=self.h.port, socket_timeout=20)


class Cluster:
    """Nodes and the topology record this test keeps and pushes (the controller's part)."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.version = 0
        self.owned: dict[str, set[int]] = {n.id: set() for n in nodes}
        self.migrations: list[tuple[int, str, str]] = []

    def record(self) -> bytes:
        return json.dumps({
            "version": self.version, "name": "moonkv",
            "nodes": [{"id": n.id, "host": "127.0.0.1", "port": n.port, "tls_port": 0, "role": "primary",
                       "primary": None, "slots": slot_ranges(self.owned[n.id]), "failed": False} for n in self.nodes],
            "migrations": [{"slot": s, "from": a, "to": b} for s, a, b in self.migrations],
        }).encode()

    def push(self) -> None:
        self.version += 1
        rec = self.record()
        for n in reversed(self.nodes):  # targets first, as the controller may push in any order
            assert n.r.execute_command("CLUSTER", "SETTOPOLOGY", self.version, rec) == b"OK"

    def start_moves(self, slots: list[int], src: Node, dst: Node) -> None:
        self.migrations += [(s, src.id, dst.id) for s in slots]
        self.push()

    def finish_moves(self, slots: list[int], src: Node, dst: Node) -> None:
        gone = set(slots)
        self.migrations = [m for m in self.migrations if m[0] not in gone]
        self.owned[src.id] -= gone
        self.owned[dst.id] |= gone
        self.push()

    def owner(self, slot: int) -> Node:
        return next(n for n in self.nodes if slot in self.owned[n.id])


B_SLOTS = set(range(16100, 16384))  # B owns these from the start (none of the keys below)


@contextmanager
def pair(b_slots: set[int], *args: str) -> Iterator[tuple[Cluster, Node, Node]]:
    with ExitStack() as stack:
        a = Node(start_moonkv([*CLUSTER_ARGS, *args]), args)
        stack.callback(lambda: a.h.stop())
        b = Node(start_moonkv([*CLUSTER_ARGS, *args]), args)
        stack.callback(lambda: b.h.stop())
        c = Cluster([a, b])
        c.owned[a.id] = set(range(16384)) - b_slots
        c.owned[b.id] = set(b_slots)
        c.push()
        yield c, a, b


@pytest.fixture
def two() -> Iterator[tuple[Cluster, Node, Node]]:
    with pair(B_SLOTS) as nodes:
        yield nodes


def test_slots_move_under_load_and_no_acknowledged_write_is_lost(two: tuple[Cluster, Node, Node]) -> None:
    c, a, b = two
    for i in range(3000):  # a first copy of every key, in every slot moved below
        c.owner(key_slot(b"key:%d" % i)).r.set(b"key:%d" % i, b"seed")
    writers = [Writer(a.port), Writer(a.port, use_asyncio=True, prefix=b"async")]
    for w in writers:
        w.start()
    try:
        time.sleep(0.3)
        tags = [key_slot(w.tag) for w in writers]
        batches = [[*tags, *range(200)], list(range(200, 1500)), list(range(1500, 4096))]
        pauses = []
        for slots in batches:
            c.start_moves(slots, a, b)
            rows = wait_handed(a.port, slots)
            pauses.append(max(int(r[5]) for r in rows) / 1e6)  # type: ignore[call-overload]
            c.finish_moves(slots, a, b)
            time.sleep(0.2)
        # Enough writes to mean something, however slow the machine (not a rate test).
        deadline = time.monotonic() + 60
        while any(w.incrs == 0 or len(w.acked) <= 100 for w in writers) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for w in writers:
            w.stop_flag.set()
            w.join(30)
    # Bounded; the 0.4 s target is bench/cluster_reshard.py's to measure (a loaded machine
    # stretches any pause, and speed lives in benchmarks, not in tests).
    assert max(pauses) < 5, pauses
    for w in writers:
        assert not w.errors, (pauses, w.trace)
        assert w.incrs > 0 and len(w.acked) > 100
        # Every acknowledged write is on the node the topology gives its slot.
        for key, val in w.acked.items():
            owner = c.owner(key_slot(key))
            assert owner.r.get(key) == val, (key, owner.port)
        assert c.owner(key_slot(w.counter)) is b
        assert int(b.r.get(w.counter) or 0) == w.incrs
    moved = set(c.owned[b.id]) - B_SLOTS

    def left_on_a() -> list[bytes]:
        return [k for k in a.r.scan_iter(count=1000) if key_slot(k) in moved]

    deadline = time.monotonic() + 20
    while left_on_a() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left_on_a() == []
    assert all(c.owner(key_slot(k)) is b for k in b.r.scan_iter(count=1000))


@pytest.fixture
def two_ask() -> Iterator[tuple[Cluster, Node, Node]]:
    with pair(B_SLOTS, "--cluster-migration-ask", "yes") as nodes:
        yield nodes


def test_handover_answers_ask_then_moved_and_a_restarted_source_waits_for_the_target(
    two_ask: tuple[Cluster, Node, Node],
) -> None:
    c, a, b = two_ask
    slot = key_slot(b"{user}")
    a.r.mset({b"{user}:name": b"ann", b"{user}:mail": b"ann@x"})
    a.r.set(b"other", b"stays")
    c.start_moves([slot], a, b)
    wait_handed(a.port, [slot])
    # Handed over, not yet committed: the source sends every command on the slot to the
    # target with ASK (single and multi-key alike: it no longer has those keys)...
    ra = RawClient(a.port)
    assert ra.call("GET", "{user}:name") == b"-ASK %d 127.0.0.1:%d\r\n" % (slot, b.port)
    assert ra.call("MSET", "{user}:name", "x", "{user}:new", "y") == b"-ASK %d 127.0.0.1:%d\r\n" % (slot, b.port)
    assert ra.call("GET", "other") == b"$5\r\nstays\r\n"
    # ... the target serves them (it has the whole slot), and redis-cli -c follows the ASK.
    rb = RawClient(b.port)
    assert rb.call("ASKING") == b"+OK\r\n"
    assert rb.call("GET", "{user}:name") == b"$3\r\nann\r\n"
    assert rb.call("GET", "{user}:name") == b"$3\r\nann\r\n"  # without ASKING too
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    out = subprocess.run([cli, "-c", "-p", str(a.port), "SET", "{user}:mail", "ann@y"],
                         capture_output=True, timeout=20, check=True).stdout
    assert out.strip() == b"OK"
    out = subprocess.run([cli, "-c", "-p", str(a.port), "GET", "{user}:mail"],
                         capture_output=True, timeout=20, check=True).stdout
    assert out.strip() == b"ann@y"
    # The source crashes before the handover is committed, and the target is away when it
    # returns: it recorded that it was ending, so it refuses writes on the slot (TRYAGAIN,
    # as Redis for a slot being moved) until the target says it has the slot.
    os.kill(b.h.proc.pid, signal.SIGSTOP)
    try:
        ra.close()
        a.restart()
        ra = RawClient(a.port)
        assert ra.call("MSET", "{user}:name", "z", "{user}:mail", "z") == (
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n")
        assert ra.call("SET", "{user}:name", "z") == b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        assert ra.call("GET", "other") == b"$5\r\nstays\r\n"
    finally:
        os.kill(b.h.proc.pid, signal.SIGCONT)
    wait_handed(a.port, [slot])
    assert ra.call("GET", "{user}:mail") == b"-ASK %d 127.0.0.1:%d\r\n" % (slot, b.port)
    # The commit: MOVED from the source, the keys are the target's alone.
    c.finish_moves([slot], a, b)
    assert ra.call("GET", "{user}:mail") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, b.port)
    assert rb.call("MGET", "{user}:name", "{user}:mail") == b"*2\r\n$3\r\nann\r\n$5\r\nann@y\r\n"
    deadline = time.monotonic() + 10
    while a.r.dbsize() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.r.dbsize() == 1
    ra.close()
    rb.close()


def _start_big_move(c: Cluster, a: Node, b: Node, tag: bytes) -> tuple[int, bytes]:
    """300 keys of 64 KiB in the slot of ``{tag}`` (~20 MB: the copy takes a while), moved from
    ``a`` to ``b``; returns once the move copies or streams: (the slot, the keys' value)."""
    slot = key_slot(b"{%s}" % tag)
    payload = os.urandom(64 * 1024)
    for i in range(300):
        a.r.set(b"{%s}:%d" % (tag, i), payload)
    c.start_moves([slot], a, b)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = [r for r in migrations(a.port) if r[0] == slot]
        if rows and rows[0][3] in ("copy", "stream"):
            break
        time.sleep(0.005)
    return slot, payload


def test_a_target_killed_during_the_copy_restarts_the_migration(two: tuple[Cluster, Node, Node]) -> None:
    c, a, b = two
    slot, payload = _start_big_move(c, a, b, b"big")
    b.restart()  # SIGKILL mid-copy, back on the same directory and port
    a.r.set(b"{big}:written-meanwhile", b"yes")
    rows = wait_handed(a.port, [slot])
    assert int(rows[0][6]) >= 2  # type: ignore[call-overload]
    c.finish_moves([slot], a, b)
    assert b.r.dbsize() == 301
    assert b.r.get(b"{big}:299") == payload
    assert b.r.get(b"{big}:written-meanwhile") == b"yes"


@pytest.mark.parametrize("ask", ["no", "yes"])
def test_a_handed_over_slot_answers_moved_before_the_commit(ask: str) -> None:
    """Once handed over, the source sends every command on the slot to the target with MOVED,
    without waiting for the commit (redis-py retries TRYAGAIN for about 0.4 s only), even
    with cluster-migration-ask yes when the target owns no slot: such a node is not in
    CLUSTER SLOTS, and redis-py cannot follow an ASK to it (issue 4015), but follows a
    MOVED. The target serves the slot from then on."""
    with pair(set(), "--cluster-migration-ask", ask) as (c, a, b):
        slot = key_slot(b"{user}")
        a.r.set(b"{user}:name", b"ann")
        c.start_moves([slot], a, b)
        wait_handed(a.port, [slot])
        moved = b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, b.port)
        ra, rb = RawClient(a.port), RawClient(b.port)
        try:
            assert ra.call("GET", "{user}:name") == moved
            assert ra.call("SET", "{user}:name", "bob") == moved
            assert rb.call("GET", "{user}:name") == b"$3\r\nann\r\n"
            assert rb.call("SET", "{user}:name", "bob") == b"+OK\r\n"
            c.finish_moves([slot], a, b)
            assert ra.call("GET", "{user}:name") == moved
        finally:
            ra.close()
            rb.close()
        assert b.r.get(b"{user}:name") == b"bob"
        rc = redis.RedisCluster(host="127.0.0.1", port=a.port, socket_timeout=20)
        try:
            assert rc.get(b"{user}:name") == b"bob"
        finally:
            rc.close()


def test_a_source_killed_during_the_copy_restarts_the_migration_and_loses_nothing(
    two: tuple[Cluster, Node, Node],
) -> None:
    c, a, b = two
    slot, payload = _start_big_move(c, a, b, b"big")
    a.r.set(b"{big}:acknowledged-before-the-kill", b"yes")  # appendfsync always: durable
    a.restart()  # SIGKILL mid-copy; back with its log and the topology that lists the move
    wait_handed(a.port, [slot])
    c.finish_moves([slot], a, b)
    assert b.r.dbsize() == 301
    assert b.r.get(b"{big}:acknowledged-before-the-kill") == b"yes"
    assert b.r.get(b"{big}:0") == payload


def slot_keys(r: redis.Redis, slot: int) -> set[bytes]:
    return set(r.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000))


def test_keys_evicted_on_the_source_during_a_move_are_gone_on_the_target(two: tuple[Cluster, Node, Node]) -> None:
    c, a, b = two
    a.r.config_set("maxmemory-policy", "allkeys-random")
    slot, payload = _start_big_move(c, a, b, b"ev")
    # The target stops reading: the source cannot finish the copy (nothing is acknowledged),
    # and evicts half of the slot meanwhile.
    os.kill(b.h.proc.pid, signal.SIGSTOP)
    try:
        assert [r[3] for r in migrations(a.port) if r[0] == slot] in (["copy"], ["stream"])
        a.r.config_set("maxmemory", a.r.info("memory")["used_memory"] // 2)
        deadline = time.monotonic() + 20
        while len(slot_keys(a.r, slot)) > 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        a.r.config_set("maxmemory", 0)
    finally:
        os.kill(b.h.proc.pid, signal.SIGCONT)
    left = slot_keys(a.r, slot)
    assert 0 < len(left) <= 200
    wait_handed(a.port, [slot])
    assert slot_keys(b.r, slot) == left  # the evictions were streamed as deletions
    # Handed over, not committed: the source's evictor leaves the slot alone (it served reads
    # of it until END, and the target would keep what a reader saw go); the commit deletes it.
    a.r.config_set("maxmemory", a.r.info("memory")["used_memory"] // 2)
    try:
        ra = RawClient(a.port)
        try:
            assert ra.call("SET", "other", "y") == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        finally:
            ra.close()
        assert slot_keys(a.r, slot) == left
    finally:
        a.r.config_set("maxmemory", 0)
    c.finish_moves([slot], a, b)
    assert slot_keys(b.r, slot) == left
    assert all(b.r.get(k) == payload for k in left)
    deadline = time.monotonic() + 10
    while a.r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.r.dbsize() == 0


def test_a_migration_called_off_mid_copy_leaves_no_keys_on_the_target(two: tuple[Cluster, Node, Node]) -> None:
    """What a target received of a slot whose migration is dropped (the controller's
    failover of the source does that) is not its data: it deletes it."""
    c, a, b = two
    slot = key_slot(b"{part}")
    payload = os.urandom(64 * 1024)
    for i in range(300):
        a.r.set(b"{part}:%d" % i, payload)
    c.start_moves([slot], a, b)
    deadline = time.monotonic() + 20
    while not slot_keys(b.r, slot) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(a.h.proc.pid, signal.SIGSTOP)  # the copy stops half way
    try:
        assert 0 < len(slot_keys(b.r, slot)) < 300
        c.migrations = []
        c.version += 1
        assert b.r.execute_command("CLUSTER", "SETTOPOLOGY", c.version, c.record()) == b"OK"
    finally:
        os.kill(a.h.proc.pid, signal.SIGCONT)
    assert a.r.execute_command("CLUSTER", "SETTOPOLOGY", c.version, c.record()) == b"OK"
    deadline = time.monotonic() + 20
    while b.r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b.r.dbsize() == 0
    assert len(slot_keys(a.r, slot)) == 300 and a.r.get(b"{part}:7") == payload


def test_a_source_killed_while_deleting_moved_keys_leaves_no_orphans(two: tuple[Cluster, Node, Node]) -> None:
    c, a, b = two
    slot = key_slot(b"{many}")
    for i in range(0, 100_000, 1000):  # a slot whose deletion takes many event-loop turns
        a.r.mset({b"{many}:%d" % j: b"x" for j in range(i, i + 1000)})
    a.r.set(b"other", b"stays")
    c.start_moves([slot], a, b)
    wait_handed(a.port, [slot], timeout=120)
    c.finish_moves([slot], a, b)  # A deletes the slot's keys from here, a batch per turn...
    a.restart()  # ... and is SIGKILLed meanwhile; back with its log and the new topology
    deadline = time.monotonic() + 30
    while a.r.dbsize() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.r.dbsize() == 1 and not slot_keys(a.r, slot)
    assert a.r.get(b"other") == b"stays"
    assert b.r.dbsize() == 100_000


def test_a_slot_moved_back_while_its_old_keys_are_deleted_keeps_every_key(two: tuple[Cluster, Node, Node]) -> None:
    c, a, b = two
    slot = key_slot(b"{back}")
    for i in range(0, 100_000, 1000):  # A's deletion after the first move takes many turns
        a.r.mset({b"{back}:%d" % j: b"%d" % j for j in range(i, i + 1000)})
    c.start_moves([slot], a, b)
    wait_handed(a.port, [slot], timeout=120)
    c.finish_moves([slot], a, b)
    c.start_moves([slot], b, a)  # at once: A is still deleting what it handed over
    wait_handed(b.port, [slot], timeout=120)
    c.finish_moves([slot], b, a)
    deadline = time.monotonic() + 30
    while b.r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.r.dbsize() == 0
    assert a.r.dbsize() == 100_000
    assert a.r.mget([b"{back}:%d" % j for j in range(0, 100_000, 997)]) == [
        b"%d" % j for j in range(0, 100_000, 997)]
