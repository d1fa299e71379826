"""COMMAND GETKEYS and COMMAND LIST FILTERBY PATTERN against real Redis 7.0."""

from __future__ import annotations

import pytest

from tests.conftest import Differ

GETKEYS = [
    "eval x 0",  # no keys, and none mandatory: an empty array
    "eval x 1 a",
    "eval x 5 a",
    "fcall f 0",
    "eval x",
    "set a",  # arity is checked after "has keys"
    "ping x",
    "get a b",
    "nosuch a b",
    "zunionstore x 0 a",  # a bad key count: none named
    "lmpop 0 left",
    "spublish ch m",
    "georadius a 1 2 3 km store b",
    "sort abc store invalid store stillbad store def",  # the last STORE only
    "sort abc limit store x store",
    "sort abc get store store a foo store",
    "sort abc store store store",
    "sort abc by store desc store d",
    "xread streams a b",
    "xread streams a b c",  # an odd count: the keys of the whole pairs
    "xread count 1 streams a b c d e",
    "xread streams a b c d e f g",
    "xreadgroup group g c streams a b c",
    "xreadgroup group g c count 2 streams a b c d",
]


@pytest.mark.parametrize("cmd", GETKEYS)
def test_command_getkeys(diff: Differ, cmd: str) -> None:
    diff("COMMAND", "GETKEYS", *cmd.split())


@pytest.mark.parametrize("pattern", ["set", "config*", "config|*re*", "cl*help", "cluster|*", "non_exists*"])
def test_command_list_filterby_pattern(diff: Differ, pattern: str) -> None:
    m, real = diff.both("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern)
    got = sorted(m.split(b"\r\n")[1:])
    if pattern == "cluster|*":  # moonkv's own subcommands (docs/cluster.md), beside Redis's
        for own in (b"cluster|settopology", b"cluster|topology", b"cluster|importslots",
                    b"cluster|migrations"):
            got.remove(own)
            got.remove(b"$%d" % len(own))
    assert got == sorted(real.split(b"\r\n")[1:])
