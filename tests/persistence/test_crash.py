"""Crash tests: real servers under concurrent writes, killed with SIGKILL at random moments.

After every restart each acknowledged write must be present and each MULTI/EXEC
batch all-or-nothing.  Some rounds kill the server while a compaction (BGREWRITEAOF)
or a snapshot (BGSAVE) is running.  A fixed number of rounds, each killed once every
writer got going (waited for, not slept for): 30 to 90 s for the module on two busy cores.  (A process crash loses nothing with ``everysec``
either: the records are in the OS's page cache; only power loss tells the policies apart.)
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.helpers import ServerHandle, free_port, start_moonkv

BATCH = 5
ROUNDS = 6  # each kind of round (plain, during a compaction, during a snapshot) twice


class Writer(threading.Thread):
    """Writes until its connection breaks; remembers what was acknowledged."""

    def __init__(self, port: int, wid: int, state: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.wid = wid
        self.state = state  # survives rounds: acked keys, counters, batches
        self.attempted_ctr = int(state.get("ctr_attempted", 0))  # type: ignore[arg-type]
        self.ops = 0  # operations acknowledged by this writer (this round)

    def run(self) -> None:
        st = self.state
        acked: dict[bytes, bytes] = st.setdefault("acked", {})  # type: ignore[assignment]
        batches: list[tuple[int, bool]] = st.setdefault("batches", [])  # type: ignore[assignment]
        seq = int(st.get("seq", 0))  # type: ignore[arg-type]
        # No retry: redis-py 8 would otherwise send a command again after a timeout or a
        # broken connection, on a new connection, possibly to the next round's server
        # (an INCR applied twice, a write of this round landing after the next _verify).
        r = redis.Redis(port=self.port, socket_timeout=60, retry=Retry(NoBackoff(), 0))
        try:
            while True:
                seq += 1
                st["seq"] = seq
                op = seq % 3
                if op == 0:
                    key = f"w{self.wid}:k{seq}".encode()
                    val = f"v{seq}-{random.random()}".encode()
                    assert r.set(key, val) is True
                    acked[key] = val
                elif op == 1:
                    self.attempted_ctr += 1
                    st["ctr_attempted"] = self.attempted_ctr
                    got = r.incr(f"ctr{self.wid}")
                    st["ctr_acked"] = got
                else:
                    batches.append((seq, False))
                    p = r.pipeline(transaction=True)
                    for j in range(BATCH):
                        p.set(f"b{self.wid}:{seq}:{j}", seq)
                    p.execute()
                    batches[-1] = (seq, True)
                self.ops += 1
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            return
        except redis.ResponseError as e:  # pragma: no cover - would be a bug
            st["error"] = repr(e)
        finally:
            r.close()


def _verify(port: int, states: list[dict[str, object]]) -> None:
    r = redis.Redis(port=port)
    for wid, st in enumerate(states):
        assert "error" not in st, st["error"]
        acked: dict[bytes, bytes] = st.get("acked", {})  # type: ignore[assignment]
        keys = list(acked)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            vals = r.mget(chunk)
            for k, v in zip(chunk, vals, strict=True):
                assert v == acked[k], f"acknowledged {k!r} lost or wrong: {v!r}"
        ctr = r.get(f"ctr{wid}")
        n = int(ctr) if ctr is not None else 0
        lo = int(st.get("ctr_acked", 0))  # type: ignore[arg-type]
        hi = int(st.get("ctr_attempted", 0))  # type: ignore[arg-type]
        assert lo <= n <= hi, f"counter {wid}: {n} not in [{lo}, {hi}]"
        # The server now holds n: later rounds continue from there.
        st["ctr_acked"] = n
        st["ctr_attempted"] = n
        for seq, ok in st.get("batches", []):  # type: ignore[attr-defined]
            vals = r.mget([f"b{wid}:{seq}:{j}" for j in range(BATCH)])
            present = [v is not None for v in vals]
            assert all(present) or not any(present), f"batch {seq} torn: {present}"
            if ok:
                assert all(present), f"acknowledged batch {seq} lost"
        # Batches are settled now: forget unacked ones that are absent.
        st["batches"] = []
    r.close()


def _kill(h: ServerHandle) -> None:
    h.proc.kill()
    h.proc.wait()


def _wait_for_writes(writers: list[Writer], n: int) -> None:
    """Until every writer had ``n`` operations acknowledged (a loaded machine is slow to start)."""
    deadline = time.monotonic() + 60
    while any(w.ops < n for w in writers):
        assert time.monotonic() < deadline, f"the writers did not get going: {[w.ops for w in writers]}"
        assert all(w.is_alive() for w in writers), f"a writer stopped: {[w.state.get('error') for w in writers]}"
        time.sleep(0.02)


def _background(port: int, command: str) -> None:
    r = redis.Redis(port=port, retry=Retry(NoBackoff(), 0))
    try:
        r.execute_command(command)
    finally:
        r.close()


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_sigkill_under_concurrent_writes(fsync: str) -> None:
    d = tempfile.mkdtemp(prefix="moonkv-crash-")
    port = free_port()
    states: list[dict[str, object]] = [{} for _ in range(3)]
    rng = random.Random(1234)
    try:
        for rounds in range(ROUNDS):
            h = start_moonkv(["--appendfsync", fsync, "--save", ""], dir=d, port=port)
            writers: list[Writer] = []
            try:
                _verify(port, states)
                writers = [Writer(port, i, states[i]) for i in range(3)]
                for w in writers:
                    w.start()
                _wait_for_writes(writers, 20)
                time.sleep(rng.uniform(0.0, 0.6))
                if rounds % 3 == 1:
                    # Crash during a compaction: kill soon after it starts.
                    _background(port, "BGREWRITEAOF")
                    time.sleep(rng.uniform(0.0, 0.05))
                elif rounds % 3 == 2:
                    _background(port, "BGSAVE")
                    time.sleep(rng.uniform(0.0, 0.2))
            finally:
                _kill(h)
                for w in writers:
                    w.join(timeout=30)
            # Its connection broke at the kill: a writer still running would write into the
            # next round's server behind its _verify.
            assert not any(w.is_alive() for w in writers), "a writer outlived its server"
        h = start_moonkv(["--save", ""], dir=d, port=port)
        try:
            _verify(port, states)
        finally:
            h.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_kill_at_every_stage_of_compaction() -> None:
    """A bigger dataset, so the kill lands inside the snapshot child or at the switch."""
    d = tempfile.mkdtemp(prefix="moonkv-compact-")
    port = free_port()
    try:
        h = start_moonkv(["--save", ""], dir=d, port=port)
        r = redis.Redis(port=port)
        p = r.pipeline(transaction=False)
        for i in range(30000):
            p.set(f"key:{i}", i)
        p.execute()
        expected = 30000
        _kill(h)
        for delay in (0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4):
            h = start_moonkv(["--save", ""], dir=d, port=port)
            r = redis.Redis(port=port)
            assert r.dbsize() == expected, f"after kill at +{delay}s"
            r.bgrewriteaof()
            t0 = time.monotonic()
            i = 0
            while time.monotonic() - t0 < delay:
                r.set(f"extra:{delay}:{i}", i)
                i += 1
            r.set(f"last:{delay}", 1)
            expected += i + 1
            _kill(h)
        h = start_moonkv(["--save", ""], dir=d, port=port)
        try:
            assert redis.Redis(port=port).dbsize() == expected
        finally:
            h.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)
