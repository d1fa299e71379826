"""CLIENT KILL's argument errors and CLIENT INFO's cmd= field against real Redis."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Differ

KILLS = [
    ["id", "10", "wrong_arg"],
    ["id", "str"],
    ["id", "-1"],
    ["id", "0"],
    ["type", "wrong_type"],
    ["user", "wrong_user"],
    ["user", "default", "skipme", "maybe"],
    ["skipme", "yes_or_no"],
    ["maxage", "10"],  # came in 7.2
    ["1.2.3.4:5"],
    ["addr", "1.2.3.4:5"],
    ["laddr", "1.2.3.4:5", "type", "pubsub"],
    ["user", "nosuch", "maxage", "1"],
]


@pytest.mark.parametrize("args", KILLS, ids=lambda a: " ".join(a))
def test_client_kill_arguments(diff: Differ, args: list[str]) -> None:
    diff("CLIENT", "KILL", *args)


def _cmd_field(reply: bytes) -> list[bytes]:
    return re.findall(rb" cmd=(\S+)", reply)


def test_client_info_names_the_subcommand(diff: Differ) -> None:
    m, real = diff.both("CLIENT", "INFO")
    assert _cmd_field(m) == _cmd_field(real) == [b"client|info"]
    for c in (diff.m, diff.real):
        my_id = c.call("CLIENT", "ID")[1:-2]
        assert _cmd_field(c.call("CLIENT", "LIST", "ID", my_id)) == [b"client|list"]


def _qbuf(reply: bytes) -> list[int]:
    return [int(q) for q in re.findall(rb" qbuf=(\d+) ", reply)]


def test_qbuf_counts_the_running_command(diff: Differ) -> None:
    # Redis's query buffer holds the command while it runs: 26 bytes for CLIENT INFO.
    m, real = diff.both("CLIENT", "INFO")
    assert _qbuf(m) == _qbuf(real) == [26]
    counts = []
    for c in (diff.m, diff.real):
        my_id = c.call("CLIENT", "ID")[1:-2]
        (q,) = _qbuf(c.call("CLIENT", "LIST", "ID", my_id, "1000000", "2000000"))
        counts.append(q - len(my_id))  # the ids of the two servers' clients may differ in length
    assert counts[0] == counts[1]
