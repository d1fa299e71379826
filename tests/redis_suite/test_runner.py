"""The runner of Redis's own suite: how it reads the harness's output, judges a unit, keeps its
data files and derives its private apt sources. (Running the suite itself is
scripts/test.sh's last step.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.redis_suite import runner

LOG = """\
Cleanup: may take some time... OK
Starting test server at port 21079
[ready]: 1234
Testing unit/type/string
[\x1b[0;32mok\x1b[0m]: SET and GET an item (1 ms)
[ok]: SETNX target key exists (0 ms)
[skip]: trim on SET with big value
[ignore]: Not supported in tls mode
[\x1b[0;31merr\x1b[0m]: GETEX no option in tests/unit/type/string.tcl
Expected 'x' to equal 'y'
[1/1 \x1b[0;33mdone\x1b[0m]: unit/type/string (3 seconds)
"""


def test_parse_log_counts_results_and_closing_line() -> None:
    res = runner.parse_log("unit/type/string", LOG)
    assert (res.passed, res.failed, res.exceptions, res.timed_out) == (2, 1, 0, False)
    assert res.finished
    assert res.failures == ["GETEX no option"]


def test_parse_log_without_closing_line_is_unfinished() -> None:
    res = runner.parse_log("unit/x", LOG.rsplit("[1/1", 1)[0])
    assert not res.finished
    assert runner.verdict(res, 2, runner.NO_ALLOWANCE) == "harness-error"


def test_parse_log_timeout_and_exception() -> None:
    res = runner.parse_log("unit/x", "[ok]: a (1 ms)\n[TIMEOUT]: clients state report follows.\n")
    assert res.timed_out and runner.verdict(res, 1, runner.NO_ALLOWANCE) == "timeout"
    res = runner.parse_log("unit/x", "[ok]: a (1 ms)\n[exception]: Executing test client: boom\n")
    assert runner.verdict(res, 1, runner.NO_ALLOWANCE) == "exception"


def test_verdict_counts_against_redis_minus_allowance() -> None:
    res = runner.parse_log("unit/type/string", LOG)  # 2 passed, 1 failed
    getex = frozenset({"GETEX no option"})
    assert runner.verdict(res, 2, runner.NO_ALLOWANCE) == "failed"
    assert runner.verdict(res, 2, runner.Allowance(0, frozenset({"other"}), "r")) == "failed"
    assert runner.verdict(res, 2, runner.Allowance(0, getex, "r")) == "ok"
    assert runner.verdict(res, 3, runner.Allowance(0, getex, "r")) == "short"
    assert runner.verdict(res, 3, runner.Allowance(1, getex, "r")) == "ok"
    assert runner.verdict(res, None, runner.Allowance(0, getex, "r")) == "no-expected-count"


def test_every_ci_unit_has_a_measured_redis_count() -> None:
    expected = runner.read_expected()
    ci = runner.read_ci()
    for (unit, profile), allow in ci.items():
        assert expected.get((unit, profile), 0) > allow.missing, (unit, profile)
        assert (allow.missing == 0 and not allow.failures) or allow.reason, unit


def test_write_expected_round_trips_and_keeps_the_header(tmp_path: Path) -> None:
    path = tmp_path / "expected.tsv"
    path.write_text("# header\nunit/a\tfull\t3\told\n")
    counts = {("unit/b", "minimal"): 7, ("unit/a", "full"): 4}
    runner.write_expected(counts, {k: "note" for k in counts}, path)
    assert path.read_text() == "# header\nunit/a\tfull\t4\tnote\nunit/b\tminimal\t7\tnote\n"
    assert runner.read_expected(path) == counts


def test_private_apt_derives_deb_src_entries(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text("deb http://a.example/debian bookworm main\n# deb x\n")
    (etc / "sources.list.d" / "x.sources").write_text(
        "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n")
    (etc / "sources.list.d" / "off.list.disabled").write_text("deb http://c.example/ x main\n")
    work = tmp_path / "apt"
    opts = runner.private_apt(work, etc)
    assert f"Dir::Etc::SourceList={work / 'src.list'}" in opts
    assert (work / "src.list").read_text() == "deb-src http://a.example/debian bookworm main\n"
    assert (work / "parts" / "x.sources").read_text().startswith("Types: deb-src\n")
    assert sorted(p.name for p in (work / "parts").iterdir()) == ["x.sources"]


def test_ci_rows_name_their_profile() -> None:
    ci = runner.read_ci()
    assert ("unit/scripting", "minimal") in ci
    assert {p for _, p in ci} <= set(runner.PROFILES)
    assert any(p in runner.SPAWNED for _, p in ci)


def test_plan_runs_ci_rows_in_their_profiles_and_named_units_in_one() -> None:
    ci = {("unit/a", "minimal"): runner.NO_ALLOWANCE, ("unit/b", "spawned"): runner.NO_ALLOWANCE}
    expected = {("unit/a", "minimal"): 1, ("unit/c", "spawned-full"): 2}
    assert runner.plan([], None, expected, ci) == [("unit/a", "minimal"), ("unit/b", "spawned")]
    assert runner.plan([], "spawned", expected, ci) == [("unit/b", "spawned")]
    assert runner.plan(["tests/unit/x.tcl"], None, expected, ci) == [("unit/x", "minimal")]
    assert runner.plan(["all"], "spawned-full", expected, ci) == [("unit/c", "spawned-full")]


def test_spawned_runtest_starts_its_own_servers_with_the_profile_tags() -> None:
    external = runner.runtest_command("tclsh", "unit/info", ("127.0.0.1", 7000), "minimal", 120)
    assert external[external.index("--host") + 1] == "127.0.0.1"
    for profile, base in runner.SPAWNED.items():
        cmd = runner.runtest_command("tclsh", "unit/info", None, profile, 120)
        assert "--host" not in cmd and "--port" not in cmd and "--dump-logs" in cmd
        assert cmd[cmd.index("--tags") + 1] == runner.PROFILE_TAGS[base]
        assert cmd[-2:] == ["--single", "unit/info"]


def fake_tree(root: Path) -> Path:
    tree = root / "redis-7.0.15"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "version.h").write_text('#define REDIS_VERSION "7.0.15"\n')
    (tree / "runtest").write_text("#!/bin/sh\n")
    (tree / "tests" / "tmp").mkdir(parents=True)
    (tree / "tests" / "tmp" / "server.1.1").mkdir()
    (tree / "tests" / "test_helper.tcl").write_text("# harness\n")
    (tree / runner.MANIFEST).write_text(runner.tree_manifest(tree) + "\n")
    return tree


def test_spawn_tree_is_a_private_copy_with_a_launcher(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path / "cache")
    kind = runner.ServerKind("moonkv", "/opt/py thon")
    copy = runner.spawn_tree(tree, kind, tmp_path / "run")
    assert runner.intact(tree) and not (tree / runner.LAUNCHER).exists()
    assert (copy / "tests" / "test_helper.tcl").read_text() == "# harness\n"
    assert list((copy / "tests" / "tmp").iterdir()) == []  # other runs' servers stay behind
    assert runner.tree_version(copy) == "7.0.15"
    launcher = copy / runner.LAUNCHER
    assert os.access(launcher, os.X_OK)
    assert launcher.read_text().splitlines()[-1] == (
        "exec '/opt/py thon' -m moonkv server \"$@\" 2>&1")


# The directives of the suite's tests/assets/default.conf (Redis 7.0.15), which every server
# the harness spawns gets, plus the ones spawn adds (dir, port, unixsocket).
HARNESS_CONFIG = """\
always-show-logo yes
notify-keyspace-events KEA
daemonize no
pidfile /var/run/redis.pid
port {port}
timeout 0
bind 127.0.0.1
loglevel verbose
logfile ''
databases 16
latency-monitor-threshold 1
repl-diskless-sync-delay 0
save 900 1
rdbcompression yes
dbfilename dump.rdb
dir {dir}
slave-serve-stale-data yes
appendonly no
appendfsync everysec
no-appendfsync-on-rewrite no
activerehashing yes
enable-protected-configs yes
enable-debug-command yes
enable-module-command yes
propagation-error-behavior panic
unixsocket {dir}/socket
"""


def test_launcher_runs_moonkv_on_the_harness_config_under_its_own_pid(tmp_path: Path) -> None:
    """What the harness needs of a spawned server: the config file accepted, ` PID: <pid>`
    (the launcher's own pid: it execs) and `Ready to accept` in its stdout, a PONG."""
    tree = fake_tree(tmp_path / "cache")
    copy = runner.spawn_tree(tree, runner.ServerKind("moonkv", sys.executable), tmp_path / "run")
    port = runner.free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(HARNESS_CONFIG.format(port=port, dir=tmp_path / "data"))
    (tmp_path / "data").mkdir()
    out = tmp_path / "stdout"
    with out.open("wb") as f:
        proc = subprocess.Popen([str(copy / runner.LAUNCHER), str(conf)], stdout=f,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "Ready to accept" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        assert f" PID: {proc.pid}\n" in out.read_text()
        assert runner.pings("127.0.0.1", port)
    finally:
        runner.stop_group(proc, 10.0)
