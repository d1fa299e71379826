"""Start-up as redis-server's: every ``bind`` address, the command line read as Redis reads it,
its FATAL CONFIG FILE ERROR block, and ``oom-score-adj``; each compared with a real redis-server.

203.0.113.1 (TEST-NET-3, a documentation range no machine has) is an address that cannot be
bound: binding it fails locally with EADDRNOTAVAIL, no packet leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import pytest

from tests.helpers import (
    REDIS_SERVER,
    RawClient,
    ServerHandle,
    both,
    free_port,
    running,
    start_from_file,
    start_moonkv,
)

NOT_LOCAL = "203.0.113.1"


def ping(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def run(kind: str, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A server that must not start: its exit code and output (stdin closed)."""
    cmd = [sys.executable, "-m", "moonkv", "server"] if kind == "moonkv" else [REDIS_SERVER]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_every_bind_address_answers_and_an_optional_one_is_skipped() -> None:
    with both(["--bind", "127.0.0.1", "127.0.0.2", f"-{NOT_LOCAL}"]) as (m, real):
        for h in (m, real):
            assert ping("127.0.0.1", h.port) == b"+PONG\r\n"
            assert ping("127.0.0.2", h.port) == b"+PONG\r\n"
            with pytest.raises(ConnectionRefusedError):
                ping("127.0.0.3", h.port)
        replies = [_config_get(h, "bind") for h in (m, real)]
        assert replies[0] == replies[1] == [b"*2\r\n$4\r\nbind\r\n$32\r\n127.0.0.1 127.0.0.2 -203.0.113.1\r\n"]
        assert f"Could not create server TCP listening socket {NOT_LOCAL}:{m.port}" in m.read_log()


def test_a_mandatory_address_that_cannot_be_bound_fails_start_up_as_redis() -> None:
    outs = []
    for kind in ("moonkv", "redis"):
        port = free_port()
        p = run(kind, ["--port", str(port), "--bind", "127.0.0.1", NOT_LOCAL, "--save", "", "--appendonly", "no",
                       "--dir", tempfile.mkdtemp(prefix="startup-")])
        assert p.returncode == 1
        outs.append((p.stdout + p.stderr).replace(str(port), "PORT"))
    for text in (
        f"Warning: Could not create server TCP listening socket {NOT_LOCAL}:PORT: bind: Cannot assign requested address",
        "Failed listening on port PORT (TCP), aborting.",
    ):
        assert all(text in out for out in outs), outs


def test_config_set_bind_rebinds_all_or_nothing() -> None:
    with both() as (m, real):
        replies = []
        for h in (m, real):
            c = RawClient(h.port)
            out = [c.call("CONFIG", "SET", "bind", "127.0.0.1 127.0.0.2")]
            assert ping("127.0.0.2", h.port) == b"+PONG\r\n"
            # One address that cannot be bound: refused, the old addresses listen again.
            out.append(c.call("CONFIG", "SET", "bind", f"127.0.0.3 {NOT_LOCAL}", "maxmemory", "1mb"))
            out.append(c.call("CONFIG", "GET", "bind"))
            out.append(c.call("CONFIG", "GET", "maxmemory"))
            assert ping("127.0.0.2", h.port) == b"+PONG\r\n"
            with pytest.raises(ConnectionRefusedError):
                ping("127.0.0.3", h.port)
            out.append(c.call("CONFIG", "SET", "bind", " ".join(f"127.0.0.{i}" for i in range(1, 18))))
            out.append(c.call("CONFIG", "SET", "bind", "127.0.0.3 -203.0.113.1"))
            assert ping("127.0.0.3", h.port) == b"+PONG\r\n"
            with pytest.raises(ConnectionRefusedError):
                ping("127.0.0.1", h.port)
            out.append(c.call("PING"))  # the connection outlives its listener
            c.close()
            replies.append(out)
        assert replies[0] == replies[1]
        assert replies[0][1] == (b"-ERR CONFIG SET failed (possibly related to argument 'bind') - "
                                 b"Failed to bind to specified addresses.\r\n")
        assert replies[0][4].endswith(b"Too many bind addresses specified.\r\n")


def _config_get(h: ServerHandle, *names: str) -> list[bytes]:
    c = RawClient(h.port)
    try:
        return [c.call("CONFIG", "GET", n) for n in names]
    finally:
        c.close()


@pytest.mark.parametrize("args", [
    ["--maxmemory 700mb", "--maxmemory-policy volatile-lru"],  # name and value in one argument
    ["--loglevel", "verbose", "--maxmemory '700mb'"],
    ["--save", "--loglevel", "verbose"],  # --save then an option: save ""
    ["--proc-title-template", "--my--title--template", "--loglevel", "verbose"],
    ["--shutdown-on-sigint", "nosave", "force", "now", "--shutdown-on-sigterm", "nosave force"],
    ["--loglevel", "verbose", "--save"],  # --save last
])
def test_command_line_forms_as_redis(args: list[str]) -> None:
    names = ("maxmemory", "maxmemory-policy", "loglevel", "save", "proc-title-template", "shutdown-on-sigint", "shutdown-on-sigterm")
    with both(args) as (m, real):
        assert _config_get(m, *names) == _config_get(real, *names)


def test_a_config_file_then_options_as_redis() -> None:
    got = []
    for kind in ("moonkv", "redis"):
        d = tempfile.mkdtemp(prefix="startup-")
        conf = os.path.join(d, "server.conf")
        port = free_port()
        with open(conf, "w") as f:
            f.write(f"port {port}\nbind 127.0.0.1 -::1\ndir {d}\nappendonly no\nsave \"\"\n"
                    "maxmemory 1mb\noom-score-adj no\nbind-source-addr 127.0.0.1\n")
        with running(start_from_file(kind, conf, port, ["--maxmemory", "2mb", "--hz 20"])) as h:
            got.append(_config_get(h, "maxmemory", "hz", "bind", "bind-source-addr"))
    assert got[0] == got[1]


@pytest.mark.parametrize("args", [
    ["--port"],
    ["--port", "6380", "--loglevel"],
    ["--port", "6379", "6380"],
    ["--port", "--loglevel", "verbose"],
    ["--port", "--bla", "--loglevel", "verbose"],
    ["--logfile", "--my--log--file", "--appendfsync", "--bla"],
    ["--shutdown-on-sigint"],
    ["--replicaof", "127.0.0.1", "abc"],
    ["--replicaof", "--127.0.0.1", "--abc"],
    ["--port 0", "--no-such-option 1"],
    ["--port", "0", "--maxmemory", "1", "2"],
    ["--port", "0", "--oom-score-adj-values", "1", "2", "5000"],
    ["--port", "0", "--oom-score-adj", "sometimes"],
    ["--port", "0", "--bind", *[f"127.0.0.{i}" for i in range(1, 18)]],
    ["--port", "0", "--user", "x", "on", "--save", "1"],
])
def test_bad_option_gives_redis_fatal_block(args: list[str]) -> None:
    m, real = run("moonkv", args), run("redis", args)
    assert (m.returncode, m.stderr) == (real.returncode, real.stderr) == (1, real.stderr)
    assert real.stderr.startswith("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n")


def test_bad_line_in_a_config_file_then_options() -> None:
    d = tempfile.mkdtemp(prefix="startup-")
    conf = os.path.join(d, "bad.conf")
    with open(conf, "w") as f:
        f.write("# a comment\nport 0\n\nappendonly maybe\n")
    m, real = run("moonkv", [conf, "--port", "1"]), run("redis", [conf, "--port", "1"])
    assert (m.returncode, m.stderr) == (real.returncode, real.stderr)
    assert ">>> 'appendonly maybe'\nargument must be 'yes' or 'no'\n" in real.stderr


def _oom(pid: int) -> int:
    with open(f"/proc/{pid}/oom_score_adj") as f:
        return int(f.read())


def test_oom_score_adj_as_redis() -> None:
    with both() as (m, real):
        seen = []
        for h in (m, real):
            c = RawClient(h.port)
            base = _oom(h.proc.pid)
            out: list[object] = [c.call("CONFIG", "GET", "oom-score-adj-values")]
            out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "1 2"))
            out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "1 2 x"))
            out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "1 2 2001"))
            out.append(c.call("CONFIG", "SET", "oom-score-adj", "maybe"))
            out.append(c.call("CONFIG", "SET", "oom-score-adj-values", "9 9 9", "oom-score-adj", "relative"))
            out.append((c.call("CONFIG", "GET", "oom-score-adj"), _oom(h.proc.pid) - base))
            out.append((c.call("CONFIG", "SET", "oom-score-adj", "absolute"), _oom(h.proc.pid)))
            out.append((c.call("CONFIG", "SET", "oom-score-adj-values", "12 20 30"), _oom(h.proc.pid)))
            # An apply error elsewhere (a port in use) rolls the score back too.
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                out.append((c.call("CONFIG", "SET", "oom-score-adj-values", "40 40 40",
                                   "port", taken.getsockname()[1]), _oom(h.proc.pid)))
            out.append((c.call("CONFIG", "SET", "oom-score-adj", "no"), _oom(h.proc.pid) - base))
            out.append(c.call("CONFIG", "GET", "oom-score-adj"))
            out.append(c.call("CONFIG", "GET", "oom-score-adj-values"))
            c.close()
            seen.append(out)
        assert seen[0] == seen[1]
        assert seen[0][6][1] == 9 and seen[0][7][1] == 9 and seen[0][8][1] == 12 and seen[0][9][1] == 12
        assert seen[0][10][1] == 0


def test_debian_redis_conf_starts() -> None:
    """Debian's /etc/redis/redis.conf (installed with redis-server), with its port and
    directories moved: it loads, and the server listens on its `bind 127.0.0.1 -::1`."""
    d = tempfile.mkdtemp(prefix="startup-")
    port = free_port()
    moved = {"port": str(port), "dir": d, "logfile": '""', "pidfile": os.path.join(d, "redis.pid")}
    lines = []
    with open("/etc/redis/redis.conf") as f:
        for line in f:
            name = line.split(maxsplit=1)[0] if line.strip() else ""
            lines.append(f"{name} {moved[name]}\n" if name in moved else line)
    assert any(line.startswith("bind 127.0.0.1 -::1") for line in lines)
    conf = os.path.join(d, "redis.conf")
    with open(conf, "w") as f:
        f.writelines(lines)
    with running(start_from_file("moonkv", conf, port)) as h:
        assert _config_get(h, "bind") == [b"*2\r\n$4\r\nbind\r\n$14\r\n127.0.0.1 -::1\r\n"]
        assert ping("127.0.0.1", port) == b"+PONG\r\n"
        if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
            with open("/proc/net/if_inet6") as f:
                if any(row.startswith("0" * 31 + "1") for row in f):  # ::1 is up
                    assert ping("::1", port) == b"+PONG\r\n"


def test_rename_command_as_redis() -> None:
    with both(["--rename-command", "flushdb", "badger", "--rename-command", "get", ""]) as (m, real):
        seen = []
        for h in (m, real):
            c = RawClient(h.port)
            seen.append([c.call("FLUSHDB"), c.call("badger"), c.call("BADGER"), c.call("GET", "x"),
                         c.call("EVAL", "return redis.pcall('get', 'x')['err']", "0")])
            c.close()
        assert seen[0] == seen[1]
        assert seen[0][1] == b"+OK\r\n" and seen[0][0].startswith(b"-ERR unknown command 'FLUSHDB'")
    for args in (["nosuch", "x"], ["get", "set"], ["get"]):
        a = ["--port", "0", "--rename-command", *args]
        mp, rp = run("moonkv", a), run("redis", a)
        assert (mp.returncode, mp.stderr) == (rp.returncode, rp.stderr)


def test_oom_score_follows_the_role_as_redis() -> None:
    dead = free_port()  # nothing listens there: the replica keeps trying, on loopback
    with both() as (m, real):
        seen = []
        for h in (m, real):
            c = RawClient(h.port)
            base = _oom(h.proc.pid)
            c.call("CONFIG", "SET", "oom-score-adj-values", "10 20 30", "oom-score-adj", "yes")
            scores = [_oom(h.proc.pid) - base]
            c.call("REPLICAOF", "127.0.0.1", dead)
            scores.append(_oom(h.proc.pid) - base)
            c.call("REPLICAOF", "NO", "ONE")
            scores.append(_oom(h.proc.pid) - base)
            c.close()
            seen.append(scores)
        assert seen[0] == seen[1] == [10, 20, 10]


def test_bind_source_addr_is_the_replication_link_source() -> None:
    """A replica with bind-source-addr 127.0.0.2 shows up as ip=127.0.0.2 on its primary (as
    unit/networking checks Redis)."""
    with running(start_moonkv(["--appendonly", "no", "--save", "", "--protected-mode", "no"])) as primary, \
            running(start_moonkv(["--appendonly", "no", "--save", ""])) as replica:
        r = RawClient(replica.port)
        p = RawClient(primary.port)
        try:
            assert r.call("CONFIG", "SET", "bind-source-addr", "127.0.0.2") == b"+OK\r\n"
            assert r.call("REPLICAOF", "127.0.0.1", primary.port) == b"+OK\r\n"
            deadline = time.monotonic() + 20
            while b"slave0:ip=127.0.0.2," not in p.call("INFO", "replication"):
                assert time.monotonic() < deadline, p.call("INFO", "replication")
                time.sleep(0.1)
        finally:
            r.close()
            p.close()
