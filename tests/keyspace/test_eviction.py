"""maxmemory in process: the memory estimate, each eviction policy, the access clock."""

from __future__ import annotations

import random

import pytest

from moonkv.clock import LRU_CLOCK_MAX, ManualClock
from moonkv.commands.keys import describe_value
from moonkv.errors import RespError
from moonkv.keyspace.memory import value_size
from tests.inprocess import InProcessServer


def _fresh_count(s: InProcessServer) -> list[int]:
    """Every database's estimate measured from scratch (what the counters must equal)."""
    out = []
    for db in s.srv.ks.dbs:
        db.settle()
        kept = (db.used, dict(db.sizes))
        db.recount()
        out.append(db.used)
        db.used, db.sizes = kept
    return out


def _counted(s: InProcessServer) -> list[int]:
    for db in s.srv.ks.dbs:
        db.settle()
    return [db.used for db in s.srv.ks.dbs]


def test_estimate_follows_every_kind_of_write() -> None:
    s = InProcessServer()
    rnd = random.Random(7)
    for _ in range(400):
        k = f"k{rnd.randrange(40)}"
        op = rnd.randrange(12)
        try:
            if op == 0:
                s("SET", k, "v" * rnd.randrange(100))
            elif op == 1:
                s("HSET", k, f"f{rnd.randrange(200)}", "x" * rnd.randrange(50))
            elif op == 2:
                s("RPUSH", k, *[f"e{j}" for j in range(rnd.randrange(1, 300))])
            elif op == 3:
                s("SADD", k, *[f"m{j}" for j in range(rnd.randrange(1, 200))])
            elif op == 4:
                s("ZADD", k, rnd.randrange(100), f"z{rnd.randrange(300)}")
            elif op == 5:
                s("DEL", k)
            elif op == 6:
                s("XADD", k, "*", "f", "v")
            elif op == 7:
                s("LPOP", k, rnd.randrange(1, 50))
            elif op == 8:
                s("APPEND", k, "tail")
            elif op == 9:
                s("RENAME", k, f"k{rnd.randrange(40)}")
            elif op == 10:
                s("SWAPDB", 0, 1)
            else:
                s("SELECT", rnd.randrange(2))
        except RespError:
            pass  # WRONGTYPE, missing keys: the estimate must still hold
    assert _counted(s) == _fresh_count(s)
    s("FLUSHALL")
    assert _counted(s) == [0] * len(s.srv.ks.dbs)


def test_estimate_survives_a_rolled_back_script_of_in_place_changes() -> None:
    s = InProcessServer()
    s("RPUSH", "l", *[f"e{i}" for i in range(500)])
    s("HSET", "h", "a", "1")
    before = _counted(s)
    db = s.srv.ks.dbs[0]
    db.ks.undo = []  # what the script engine does for a script's run
    s("RPUSH", "l", *[f"x{i}" for i in range(300)])
    s("HSET", "h", *[x for i in range(200) for x in (f"f{i}", "v")])
    s("SET", "new", "v")
    _counted(s)  # read mid-script (INFO inside a script)
    for fn in reversed(db.ks.undo):
        fn()
    db.ks.undo = None
    assert _counted(s) == before == _fresh_count(s)


def test_value_size_grows_with_the_value() -> None:
    s = InProcessServer()
    s("RPUSH", "small", "a")
    s("RPUSH", "big", *[b"x" * 50] * 5000)
    data = s.data
    assert value_size(data[b"big"]) > 5000 * 50 > value_size(data[b"small"])
    assert value_size(b"x" * 1000) >= 1000


def _filled(policy: str, n: int = 200, clock: ManualClock | None = None) -> InProcessServer:
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", policy)
    s("CONFIG", "SET", "maxmemory-eviction-tenacity", 100)  # no time limit: deterministic counts
    for i in range(n):
        s("SET", f"key:{i:04d}", "v" * 100)
        if clock is not None:
            clock.advance(10)
    return s


def _limit_to_drop(s: InProcessServer, n: int) -> None:
    """Set maxmemory so that about ``n`` of the keys must go."""
    s("CONFIG", "SET", "maxmemory", "1gb")  # first a limit: eviction's sampling array counts too
    used = s.srv.evictor.used_memory()
    s("CONFIG", "SET", "maxmemory", used - n * 200)


def test_noeviction_refuses_denyoom_commands_only() -> None:
    s = _filled("noeviction", 50)
    s("CONFIG", "SET", "maxmemory", 1)
    with pytest.raises(RespError, match=r"^OOM command not allowed when used memory > 'maxmemory'\.$"):
        s("SET", "x", "y")
    assert s("GET", "key:0001") == b"v" * 100
    assert s("DEL", "key:0001") == 1  # DEL is not denyoom: it frees memory
    assert s.srv.stats["evicted_keys"] == 0


def test_allkeys_lru_evicts_the_least_recently_used() -> None:
    clock = ManualClock()
    s = _filled("allkeys-lru", 300, clock)
    for i in range(150, 300):  # the second half is read again: recent
        s("GET", f"key:{i:04d}")
        clock.advance(10)
    s("CONFIG", "SET", "maxmemory-samples", 10)
    _limit_to_drop(s, 100)
    s("PING")  # eviction runs before any command
    evicted = {k for k in (f"key:{i:04d}".encode() for i in range(300)) if k not in s.data}
    assert len(evicted) >= 100
    old = sum(1 for k in evicted if int(k[4:]) < 150)
    assert old / len(evicted) >= 0.9, evicted  # approximated LRU: nearly all from the idle half
    assert s.srv.stats["evicted_keys"] == len(evicted)
    assert sorted(e[1][1] for e in s.effects if e[1][0] == b"DEL") == sorted(evicted)


def test_allkeys_lfu_evicts_the_least_frequently_used() -> None:
    s = _filled("allkeys-lfu", 200)
    s("CONFIG", "SET", "lfu-log-factor", 0)  # every access counts: a deterministic counter
    for i in range(100, 200):
        for _ in range(10):
            s("GET", f"key:{i:04d}")
    assert s("OBJECT", "FREQ", "key:0150") == 15  # LFU_INIT_VAL 5 + 10 accesses
    assert s("OBJECT", "FREQ", "key:0050") == 5
    s("CONFIG", "SET", "maxmemory-samples", 10)
    _limit_to_drop(s, 60)
    s("PING")
    evicted = [i for i in range(200) if f"key:{i:04d}".encode() not in s.data]
    assert len(evicted) >= 60
    cold = sum(1 for i in evicted if i < 100)
    assert cold / len(evicted) >= 0.9, evicted  # sampled: nearly all from the cold half


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl(policy: str) -> None:
    s = _filled(policy, 200)
    for i in range(0, 200, 4):
        s("PEXPIRE", f"key:{i:04d}", 100_000 + i * 1000)
    _limit_to_drop(s, 20)
    s("PING")
    gone = [i for i in range(200) if f"key:{i:04d}".encode() not in s.data]
    assert len(gone) >= 20
    assert all(i % 4 == 0 for i in gone), gone
    if policy == "volatile-ttl":  # the nearest expiries go first (sampled: nearly)
        assert sum(gone) / len(gone) < 100, gone


def test_volatile_policy_without_volatile_keys_is_out_of_memory() -> None:
    s = _filled("volatile-lru", 50)
    s("CONFIG", "SET", "maxmemory", 1)
    with pytest.raises(RespError, match="^OOM "):
        s("SET", "x", "y")
    assert len(s.data) == 50
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    with pytest.raises(RespError, match="^OOM "):
        s("SET", "x", "y")  # every key went, and that was not enough
    assert s.srv.stats["evicted_keys"] == 50
    assert not s.data


def test_multi_under_oom_is_refused_and_discarded() -> None:
    s = _filled("noeviction", 10)
    s("CONFIG", "SET", "maxmemory", 1)
    s("MULTI")
    with pytest.raises(RespError, match="^OOM "):
        s("GET", "key:0001")
    with pytest.raises(RespError, match="^EXECABORT "):
        s("EXEC")


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_idletime_counts_from_the_last_access_and_ttl_type_exists_leave_it(policy: str) -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", policy)
    s("SET", "k", "v")
    clock.advance(5000)
    for cmd in (("TTL", "k"), ("PTTL", "k"), ("TYPE", "k"), ("EXISTS", "k"), ("OBJECT", "ENCODING", "k"),
                ("SCAN", "0", "TYPE", "string"), ("RANDOMKEY",), ("KEYS", "*"), ("MEMORY", "USAGE", "k")):
        s(*cmd)
    assert s("OBJECT", "IDLETIME", "k") == 5
    s("GET", "k")
    assert s("OBJECT", "IDLETIME", "k") == 0
    clock.advance(3000)
    s("TOUCH", "k")
    assert s("OBJECT", "IDLETIME", "k") == 0
    clock.advance(3000)
    s("MULTI")
    s("STRLEN", "k")
    s("EXEC")
    assert s("OBJECT", "IDLETIME", "k") == 0
    clock.advance(3000)
    s("EXPIRE", "k", 100)  # a write's lookup counts, as Redis's lookupKeyWrite
    assert s("OBJECT", "IDLETIME", "k") == 0
    clock.advance(999)  # the clock has Redis's resolution: whole seconds
    assert s("OBJECT", "IDLETIME", "k") == 0


@pytest.mark.parametrize("policy", ["noeviction", "volatile-ttl", "allkeys-random"])
def test_no_access_clock_without_an_lru_policy(policy: str) -> None:
    # issue 18: reads must not get slower without a policy that needs the clock; OBJECT
    # IDLETIME then answers 0, as before the clock (a difference, docs/compatibility.md)
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", policy)
    s("CONFIG", "SET", "maxmemory", "1gb")  # with a limit as without one
    s("SET", "k", "v")
    clock.advance(5000)
    s("GET", "k")
    s("SET", "k", "w")
    s("RPUSH", "l", "a")
    s("LPUSH", "l", "b")
    assert all(db.lru is None and not db.clocked for db in s.srv.ks.dbs)
    assert (s("OBJECT", "IDLETIME", "k"), s("OBJECT", "IDLETIME", "l")) == (0, 0)
    s("RESTORE", "r", 0, s("DUMP", "k"), "IDLETIME", 1000)  # nothing keeps it
    assert s("OBJECT", "IDLETIME", "r") == 0
    s("RESTORE", "f", 0, s("DUMP", "k"), "FREQ", 100)  # nor this: not an LFU policy
    with pytest.raises(RespError, match="^ERR An LFU maxmemory policy is not selected"):
        s("OBJECT", "FREQ", "f")
    line = describe_value(s.c, b"k")  # DEBUG OBJECT: now, idle 0, as OBJECT IDLETIME
    assert f" lru:{s.srv.ks.clock.lru} lru_seconds_idle:0" in line, line
    s("CONFIG", "SET", "maxmemory", 0)


def test_accesses_store_the_clock_the_cron_ticked() -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    s("SET", "k", "v")
    clock._ms += 5000  # wall time moved, the cron has not ticked yet
    s("GET", "k")  # stores the last tick's value, as Redis's cached server.lruclock
    clock.tick()
    assert s("OBJECT", "IDLETIME", "k") == 5
    assert f"lru_clock:{clock.lru}\r\n".encode() in s("INFO", "server").text


def test_restore_idletime_and_freq_follow_the_policy() -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
    s("SET", "k", "v")
    payload = s("DUMP", "k")
    s("RESTORE", "a", 0, payload, "IDLETIME", 1000)
    assert s("OBJECT", "IDLETIME", "a") == 1000
    s("RESTORE", "b", 0, payload, "FREQ", 100)  # ignored: not an LFU policy
    assert s("OBJECT", "IDLETIME", "b") == 0
    # Redis's 24-bit clock wraps: an idle time past the clock's value is kept once around,
    # and one past a whole turn more (2**24 - 1 s, 194 days) comes out modulo the field
    now = s.srv.ks.clock.lru
    s("RESTORE", "w", 0, payload, "IDLETIME", now + 10)
    assert s("OBJECT", "IDLETIME", "w") == now + 10
    s("RESTORE", "x", 0, payload, "IDLETIME", now + LRU_CLOCK_MAX + 5)
    assert s("OBJECT", "IDLETIME", "x") == now + 4
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    s("RESTORE", "f", 0, payload, "FREQ", 100)
    s("RESTORE", "i", 0, payload, "IDLETIME", 100)
    assert (s("OBJECT", "FREQ", "f"), s("OBJECT", "FREQ", "i")) == (100, 5)
    clock.advance(2 * 60_000)
    assert s("OBJECT", "FREQ", "f") == 98  # lfu-decay-time 1: decremented from the RESTORE on


def test_debug_object_shows_the_access_clock() -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    s("SET", "k", "v")
    at = s.srv.ks.clock.lru
    clock.advance(42_000)
    line = describe_value(s.c, b"k")  # DEBUG OBJECT's line
    assert f" lru:{at} lru_seconds_idle:42" in line, line


def test_switching_policies_keeps_or_restarts_the_clock() -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("SET", "k", "v")
    clock.advance(10_000)
    s("CONFIG", "SET", "maxmemory-policy", "volatile-lru")  # the clock starts now
    assert s("OBJECT", "IDLETIME", "k") == 0
    clock.advance(10_000)
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")  # LRU to LRU: kept
    s("CONFIG", "SET", "maxmemory", "1gb")
    assert s("OBJECT", "IDLETIME", "k") == 10
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")  # the counters start afresh
    assert s.srv.ks.dbs[0].lru is None
    assert s("OBJECT", "FREQ", "k") == 5
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")  # and so do the access times
    clock.advance(3000)
    assert s("OBJECT", "IDLETIME", "k") == 3
    s("CONFIG", "SET", "maxmemory-policy", "noeviction")  # dropped
    assert all(db.lru is None and not db.clocked for db in s.srv.ks.dbs)
    assert s("OBJECT", "IDLETIME", "k") == 0
    s("CONFIG", "SET", "maxmemory", 0)


def test_access_times_leave_with_their_keys() -> None:
    s = InProcessServer()
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    db = s.srv.ks.dbs[0]
    for i in range(50):
        s("SET", f"k{i}", "v")
    s("RPUSH", "l", "a")
    s("LPOP", "l")  # emptied: removed
    s("DEL", "k0", "k1")
    s("PEXPIRE", "k2", 1)
    s("RENAME", "k3", "r")
    s("MOVE", "k4", 1)
    db.ks.undo = []  # what the script engine does for a script's run, then its rollback
    s("SET", "new", "v")
    s("DEL", "k5")
    for fn in reversed(db.ks.undo):
        fn()
    db.ks.undo = None
    assert b"new" not in db.data and b"k5" in db.data
    assert db.lru is not None and set(db.lru) <= set(db.data)
    assert set(s.srv.ks.dbs[1].lru or ()) == {b"k4"}
    s("SWAPDB", 0, 1)
    assert set(s.srv.ks.dbs[1].lru or ()) <= set(s.srv.ks.dbs[1].data)
    s("FLUSHALL")
    assert all(not d.lru for d in s.srv.ks.dbs)


def test_lfu_counter_decays_by_minutes() -> None:
    clock = ManualClock()
    s = InProcessServer(clock=clock)
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    s("CONFIG", "SET", "lfu-log-factor", 0)
    s("SET", "k", "v")
    for _ in range(20):
        s("GET", "k")
    assert s("OBJECT", "FREQ", "k") == 25
    clock.advance(3 * 60_000)
    assert s("OBJECT", "FREQ", "k") == 22  # lfu-decay-time 1: one less per minute
    s("CONFIG", "SET", "lfu-decay-time", 0)
    clock.advance(60 * 60_000)
    assert s("OBJECT", "FREQ", "k") == 25  # 0: never decays


def test_tracker_follows_the_policy_not_the_limit() -> None:
    s = _filled("noeviction", 10)
    assert all(db.tracker is None and db.lru is None for db in s.srv.ks.dbs)
    s("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    # An eviction policy keeps it with or without a limit: setting maxmemory later must not
    # find memory over it because of the tracker that setting made.
    assert len(s.srv.ks.dbs[0].tracker or ()) == 10
    used = s.srv.evictor.used_memory()
    s("CONFIG", "SET", "maxmemory", used + 1024)
    assert s.srv.evictor.used_memory() == used and s("DBSIZE") == 10
    s("CONFIG", "SET", "maxmemory", 0)
    assert len(s.srv.ks.dbs[0].tracker or ()) == 10
    s("CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert all(db.tracker is None for db in s.srv.ks.dbs)


def test_tenacity_zero_lets_the_command_through_and_a_timer_finishes() -> None:
    s = _filled("allkeys-random", 300)
    later: list[object] = []

    class Timers:
        def call_later(self, delay: float, fn: object) -> None:
            later.append(fn)

    s.srv.scheduler = Timers()
    s("CONFIG", "SET", "maxmemory-eviction-tenacity", 0)
    _limit_to_drop(s, 150)
    s("SET", "x", "y")  # not refused: eviction is still running (Redis's EVICT_RUNNING)
    assert 16 <= s.srv.stats["evicted_keys"] < 150
    s("CONFIG", "SET", "maxmemory-eviction-tenacity", 100)
    assert later
    later[0]()  # type: ignore[operator]
    assert s.srv.evictor.used_memory() <= s.srv.maxmemory


def test_a_replica_leaves_eviction_to_its_primary() -> None:
    s = _filled("allkeys-random", 50)

    class ReplicaNode:
        is_replica = True

    s.srv.replication = ReplicaNode()
    s("CONFIG", "SET", "maxmemory", 1)
    s("SET", "x", "y")  # neither evicted nor refused: the primary's DELs arrive by the stream
    assert len(s.data) == 51
    assert s.srv.stats["evicted_keys"] == 0
