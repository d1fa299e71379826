"""The runner of Redis's own suite: how it reads the harness's output, judges a unit, keeps its
data files and derives its private apt sources. (Running the suite itself is
scripts/test.sh's last step.)"""

from __future__ import annotations

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
    assert "unit/scripting" in ci
    for unit, allow in ci.items():
        assert expected.get((unit, "minimal"), 0) > allow.missing, unit
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
