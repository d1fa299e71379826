"""DEBUG is one command, as in Redis (no subcommands in its table): COMMAND INFO, the errors for
an unknown subcommand or a wrong number of arguments, INFO commandstats and latencystats under
`debug`, and ACL rules such as `+debug|object` (a first-argument rule) as in Redis's unit/acl
and unit/info."""

from __future__ import annotations

import re

from tests.conftest import Differ


def test_debug_is_one_command(debug_diff: Differ) -> None:
    d = debug_diff
    d("COMMAND", "INFO", "debug")
    d("COMMAND", "GETKEYS", "debug", "object", "k")
    d("DEBUG")
    d("DEBUG", "NOSUCH")
    d("DEBUG", "SLEEP")
    d("DEBUG", "SLEEP", "0", "extra")
    d("DEBUG", "OBJECT")
    d("DEBUG", "x" * 200)


def test_debug_statistics_are_under_debug(debug_diff: Differ) -> None:
    d = debug_diff
    d("CONFIG", "RESETSTAT")
    d("DEBUG", "SLEEP", "0")
    d("DEBUG", "NOSUCH")
    for server in (d.m, d.real):
        stats = server.call("INFO", "commandstats").decode()
        assert re.search(r"cmdstat_debug:calls=2,.*rejected_calls=0,failed_calls=1", stats), stats
        assert "latency_percentiles_usec_debug:" in server.call("INFO", "latencystats").decode()


def _rules(d: Differ) -> list[str]:
    """The user's command rules on both servers, each in order (+@all/-@all first), the rest
    sorted: the order of single commands follows each server's command table."""
    out = []
    for server in (d.m, d.real):
        reply = server.call("ACL", "GETUSER", "dbg").decode()
        rules = reply.split("\r\n$8\r\ncommands\r\n", 1)[1].split("\r\n")[1].split()
        out.append(" ".join(rules[:1] + sorted(rules[1:])))
    assert out[0] == out[1]
    return out[0].split()


def test_acl_first_argument_rules_of_debug(debug_diff: Differ) -> None:
    d = debug_diff
    try:
        d("ACL", "SETUSER", "dbg", "reset", "on", "nopass", "-@all", "+debug|object", "+debug|a",
          "+incr", "~*")
        assert _rules(d) == ["-@all", "+debug|a", "+debug|object", "+incr"]
        d("ACL", "SETUSER", "dbg", "-debug", "+debug|digest")
        assert _rules(d) == ["-@all", "+debug|digest", "+incr"]
        d("ACL", "DRYRUN", "dbg", "DEBUG", "DIGEST")
        d("ACL", "DRYRUN", "dbg", "DEBUG", "SLEEP", "0")
        d("ACL", "SETUSER", "dbg", "+debug|digest|x")
    finally:
        d("ACL", "DELUSER", "dbg")
