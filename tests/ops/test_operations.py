"""The operator's commands (SLOWLOG, LATENCY, MEMORY, INFO latencystats, SCRIPT STATS),
compared with real Redis 7.0 where the reply is deterministic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.conftest import Differ


def _fields(v: object) -> dict[bytes, object]:
    """A map reply as a dict (RESP3 gives one; RESP2 a flat array)."""
    if isinstance(v, dict):
        return v
    assert isinstance(v, list)
    return dict(zip(v[::2], v[1::2], strict=True))


@pytest.fixture
def slow_all(r: redis.Redis, rr: redis.Redis) -> Iterator[None]:
    """Log every command on both servers for the test, then restore the defaults."""
    for c in (r, rr):
        c.config_set("slowlog-log-slower-than", 0)
        c.slowlog_reset()
    yield
    for c in (r, rr):
        c.config_set("slowlog-log-slower-than", 10000)
        c.config_set("slowlog-max-len", 128)
        c.slowlog_reset()


@pytest.mark.parametrize("cmd", [
    ("SLOWLOG", "HELP"), ("LATENCY", "HELP"), ("MEMORY", "HELP"),
    ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "x"), ("SLOWLOG", "LEN", "1"), ("SLOWLOG", "RESET", "1"),
    ("SLOWLOG", "FOO"), ("LATENCY", "FOO"), ("LATENCY", "HELP", "xxx"),
    ("LATENCY", "GRAPH", "nosuchevent"), ("LATENCY", "HISTORY", "nosuchevent"),
    ("LATENCY", "RESET", "nosuchevent"), ("LATENCY", "HISTOGRAM", "nosuchcommand"),
    ("MEMORY", "USAGE", "nokey"), ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
    ("MEMORY", "USAGE", "k", "SAMPLES", "-1"), ("MEMORY", "USAGE", "k", "FOO"), ("MEMORY", "PURGE"),
    ("CONFIG", "SET", "latency-tracking-info-percentiles", "10 50 a"),
    ("CONFIG", "SET", "latency-tracking-info-percentiles", "10 101"),
])
def test_replies_match_redis(diff: Differ, cmd: tuple[str, ...]) -> None:
    diff("SET", "k", "v")
    diff(*cmd)


def test_slowlog_trims_like_redis(r: redis.Redis, rr: redis.Redis, slow_all: None) -> None:
    for c in (r, rr):
        c.execute_command("SADD", "set", *range(3, 34))
        c.execute_command("SADD", "set", "foo", "A" * 129)
    got = [e[3] for e in r.execute_command("SLOWLOG", "GET", "2")]
    want = [e[3] for e in rr.execute_command("SLOWLOG", "GET", "2")]
    assert got == want
    assert got[1][-1] == b"... (2 more arguments)"
    assert got[0][-1] == b"A" * 128 + b"... (1 more bytes)"


def test_slowlog_entry_and_redaction(r: redis.Redis, rr: redis.Redis, slow_all: None) -> None:
    for c in (r, rr):
        c.client_setname("opsname")
        c.config_set("masterauth", "")
        c.execute_command("ACL", "SETUSER", "slowlog-test-user", "+get")
        c.eval("redis.call('set', KEYS[1], 'x') return 1", 1, "sk")
        c.execute_command("ACL", "DELUSER", "slowlog-test-user")
        c.client_setname("")
    got = r.execute_command("SLOWLOG", "GET", "5")
    want = rr.execute_command("SLOWLOG", "GET", "5")
    # argv and names as Redis keeps them; the script's own SET comes from its fake client
    assert [e[3] for e in got] == [e[3] for e in want]
    assert [e[5] for e in got] == [e[5] for e in want]
    assert [e[4] == b"?:0" for e in got] == [e[4] == b"?:0" for e in want]
    assert [len(e) for e in want] == [6] * 5
    # moonkv's note on the EVAL entry only: a 7th element naming the script
    assert [len(e) for e in got] == [6, 6, 7, 6, 6]  # setname, deluser, EVAL, its SET, setuser
    assert got[2][6] == b"script=" + r.script_load("redis.call('set', KEYS[1], 'x') return 1").encode()


def test_slowlog_names_a_stopped_script_and_its_line(r: redis.Redis) -> None:
    r.config_set("lua-kill-time-limit", 100)
    r.config_set("slowlog-log-slower-than", 50000)
    r.slowlog_reset()
    try:
        body = "redis.call('set', KEYS[1], 'x')\nlocal i = 0\nwhile true do i = i + 1 end"
        with pytest.raises(redis.ResponseError, match="time limit"):
            r.eval(body, 1, "stopped")
        entry = r.execute_command("SLOWLOG", "GET", "1")[0]
        sha = r.script_load(body)
        assert entry[6] == f"script={sha} stopped=time-budget line=3".encode()
        stats = r.execute_command("SCRIPT", "STATS", sha)[sha.encode()]
        fields = _fields(stats)
        assert fields[b"time_budget_stops"] == 1
        assert fields[b"rollbacks"] == 1
        assert fields[b"last_error_line"] == 3
        assert r.get("stopped") is None
    finally:
        r.config_set("lua-kill-time-limit", 0)
        r.config_set("slowlog-log-slower-than", 10000)
        r.slowlog_reset()


def test_script_stats_counts_outcomes(r: redis.Redis) -> None:
    r.config_resetstat()
    ok = r.script_load("redis.call('incr', KEYS[1]) return 1")
    bad = r.script_load("redis.call('set', KEYS[1], 'x')\nreturn redis.call('incr', KEYS[1])")
    for _ in range(3):
        r.evalsha(ok, 1, "n")
    with pytest.raises(redis.ResponseError):
        r.evalsha(bad, 1, "s")
    stats = r.execute_command("SCRIPT", "STATS", ok, bad)
    f = {sha: _fields(v) for sha, v in stats.items()}
    assert f[ok.encode()][b"calls"] == 3
    assert f[ok.encode()][b"successes"] == 3
    assert f[ok.encode()][b"keys_written"] == 3
    assert f[bad.encode()][b"errors"] == 1
    assert f[bad.encode()][b"rollbacks"] == 1
    assert f[bad.encode()][b"last_error_line"] == 2
    assert r.get("s") is None
    r.config_resetstat()
    again = r.execute_command("SCRIPT", "STATS", ok)[ok.encode()]
    assert _fields(again)[b"calls"] == 0


# Spins until ARGV[1] microseconds have passed (TIME in a script reads the clock).
_SPIN = """local t = redis.call('time')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('time') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1])
return 1"""


def test_script_stats_time_each_run_in_exec(r: redis.Redis) -> None:
    """A run's time is its own EVALSHA's (Server.call's measure), also inside EXEC,
    whose own duration covers all the queued runs."""
    r.config_resetstat()
    slow = r.script_load(_SPIN)
    fast = r.script_load("return 2")
    pipe = r.pipeline(transaction=True)
    pipe.evalsha(slow, 0, 100000)
    pipe.evalsha(fast, 0)
    pipe.evalsha("f" * 40, 0)
    replies = pipe.execute(raise_on_error=False)
    assert replies[:2] == [1, 2]
    assert isinstance(replies[2], redis.exceptions.NoScriptError)
    f = {sha: _fields(v) for sha, v in r.execute_command("SCRIPT", "STATS", slow, fast).items()}
    assert f[slow.encode()][b"calls"] == 1
    assert f[slow.encode()][b"total_usec"] >= 100000
    assert f[fast.encode()][b"calls"] == 1
    assert f[fast.encode()][b"total_usec"] < 100000


def test_function_callstats(r: redis.Redis) -> None:
    r.config_resetstat()
    r.function_load("#!lua name=opslib\nredis.register_function('opsf', function(k, a) return 1 end)",
                    replace=True)
    try:
        r.fcall("opsf", 0)
        st = r.execute_command("FUNCTION", "CALLSTATS", "opsf")[b"opsf"]
        assert _fields(st)[b"calls"] == 1
    finally:
        r.function_delete("opslib")


def test_latencystats_and_histogram(r: redis.Redis) -> None:
    r.config_resetstat()
    r.set("a", "b")
    r.set("a", "c")
    line = r.info("latencystats")["latency_percentiles_usec_set"]
    assert list(line) == ["p50", "p99", "p99.9"]
    h = r.execute_command("LATENCY", "HISTOGRAM", "set")
    assert h[b"set"][b"calls"] == 2
    assert sum(1 for _ in h[b"set"][b"histogram_usec"]) >= 1
    r.config_set("latency-tracking-info-percentiles", "0.0 50.0 100.0")
    try:
        assert r.config_get("latency-tracking-info-percentiles") == {
            "latency-tracking-info-percentiles": "0 50 100"}
    finally:
        r.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_latency_monitor_records_a_slow_command(r: redis.Redis) -> None:
    r.config_set("latency-monitor-threshold", 50)
    r.latency_reset()
    try:
        r.execute_command("DEBUG", "SLEEP", "0.08")
        latest = r.execute_command("LATENCY", "LATEST")
        assert latest[0][0] == b"command" and latest[0][2] >= 50
        assert len(r.execute_command("LATENCY", "HISTORY", "command")) == 1
        assert b"command - high" in r.execute_command("LATENCY", "GRAPH", "command")
        assert b"1. command: 1 latency spikes" in r.execute_command("LATENCY", "DOCTOR")
        assert r.execute_command("LATENCY", "RESET") == 1
    finally:
        r.config_set("latency-monitor-threshold", 0)


def test_memory_usage_and_stats(r: redis.Redis) -> None:
    r.delete("h")
    r.hset("h", mapping={f"f{i}": "v" * 10 for i in range(100)})
    full = r.memory_usage("h", samples=0)
    sampled = r.memory_usage("h")
    assert full is not None and sampled is not None
    assert full > 100 * 20
    assert abs(full - sampled) < full * 0.2  # five samples of a uniform hash
    stats = r.execute_command("MEMORY", "STATS")
    for field in (b"peak.allocated", b"total.allocated", b"startup.allocated", b"keys.count",
                  b"dataset.bytes", b"fragmentation", b"lua.caches", b"overhead.total"):
        assert field in stats
    assert stats[b"keys.count"] == r.dbsize()
