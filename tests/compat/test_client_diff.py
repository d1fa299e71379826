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
