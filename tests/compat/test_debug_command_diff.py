"""DEBUG is one command, as in Redis (no subcommands in its table): COMMAND INFO, the errors for
an unknown subcommand or a wrong number of arguments, INFO commandstats and latencystats under
`debug`, and ACL rules such as `+debug|object` (a first-argument rule) as in Redis's unit/acl
and unit/info."""

from __future__ import annotations

import re
import time

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


# Each subcommand moonkv has, with arguments that Redis takes (None: no more, so a wrong count
# is tested on both sides of it).
_SUBCOMMANDS = {
    "SLEEP": ["0"], "SET-ACTIVE-EXPIRE": ["1"], "QUICKLIST-PACKED-THRESHOLD": ["0"],
    "STRINGMATCH-TEST": [], "CHANGE-REPL-ID": [], "PROTOCOL": ["integer"], "OBJECT": ["k"],
    "HELP": [], "DIGEST": [], "ERROR": ["x"], "SET-DISABLE-DENY-SCRIPTS": ["0"],
    "PAUSE-CRON": ["0"], "REPLYBUFFER": ["RESIZING", "1"],
}


def test_debug_wrong_number_of_arguments(debug_diff: Differ) -> None:
    d = debug_diff
    d("SET", "k", "v")
    d("DEBUG")
    d("DEBUG", "JMAP")
    d("DEBUG", "JMAP", "x")
    d("DEBUG", "STRINGMATCH-LEN", "x")  # not a Redis subcommand
    try:
        for sub, args in _SUBCOMMANDS.items():
            if args:
                d("DEBUG", sub, *args[:-1])  # one too few
            d("DEBUG", sub, *args, "extra")  # one too many
    finally:
        d("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_debug_arguments_read_as_redis_reads_them(debug_diff: Differ) -> None:
    """atoi and strtod (the leading number, else 0), memtoull with Redis's bound, RELOAD's options."""
    d = debug_diff
    try:
        for value in ("x", " 1x", "0", "-3", "+1"):
            d("DEBUG", "SET-ACTIVE-EXPIRE", value)
        for value in ("0x", "0.001abc", "-1", "nan", "x"):
            d("DEBUG", "SLEEP", value)
        for value in ("10", "0", "5gb", "-1", "1x", "4293918720", "4293918721", "4294967295"):
            d("DEBUG", "QUICKLIST-PACKED-THRESHOLD", value)
        for value in ("0", "x", "-1", "2"):
            d("DEBUG", "PAUSE-CRON", value)
        d("DEBUG", "PAUSE-CRON", "0")
        for args in (("RESIZING", "0"), ("resizing", "x"), ("RESIZING", "1"), ("PEAK-RESET-TIME", "NEVER"),
                     ("peak-reset-time", "reset"), ("PEAK-RESET-TIME", "100"), ("PEAK-RESET-TIME", "-5"),
                     ("PEAK-RESET-TIME", "1.5"), ("PEAK-RESET-TIME", "x"), ("PEAK-RESET-TIME", "99999999999999999999"),
                     ("PEAK-RESET-TIME", "RESET"), ("SIZE", "1"), ("x", "y")):
            d("DEBUG", "REPLYBUFFER", *args)
        d("DEBUG", "RELOAD", "bad")
        d("DEBUG", "RELOAD", "NOSAVE", "x")
        # Redis's reply, not asked of Redis here: its ten million rounds take half a minute.
        assert d.m.call("DEBUG", "STRINGMATCH-TEST") == b"+Apparently Redis did not crash: test passed\r\n"
    finally:
        d("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        d("DEBUG", "PAUSE-CRON", "0")


def test_pause_cron_stops_the_periodic_tasks(debug_diff: Differ) -> None:
    """DEBUG PAUSE-CRON 1 stops Redis's serverCron, moonkv's periodic tasks: a key past its
    TTL stays (in DBSIZE) until the cron runs again (its active expiry)."""
    d = debug_diff
    try:
        d("DEBUG", "PAUSE-CRON", "1")
        d("SET", "k", "v", "PX", "20")
        time.sleep(0.5)
        d("DBSIZE")  # 1 on both: no active expiry
        d("DEBUG", "PAUSE-CRON", "0")
        deadline = time.monotonic() + 5
        while d.both("DBSIZE") != (b":0\r\n", b":0\r\n"):
            assert time.monotonic() < deadline, "the cron did not run again"
            time.sleep(0.05)
    finally:
        d("DEBUG", "PAUSE-CRON", "0")


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
