"""CLIENT KILL's argument errors and CLIENT INFO's cmd= field against real Redis."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, encode_command

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


def test_unblock_with_error_counts_an_error_reply_and_a_failed_call(diff: Differ) -> None:
    """CLIENT UNBLOCK ... ERROR: the -UNBLOCKED reply is an error reply (errorstats,
    total_error_replies) and a failed call of the blocked command (Redis's unit/info)."""
    seen = []
    for server in (diff.m, diff.real):
        port = server.sock.getpeername()[1]
        blocked = RawClient(port)
        try:
            server.call("CONFIG", "RESETSTAT")
            cid = blocked.call("CLIENT", "ID").decode()[1:-2]
            blocked.send_raw(encode_command(["BLPOP", "nolist", "0"]))
            deadline = time.monotonic() + 5
            while b"blocked_clients:1" not in server.call("INFO", "clients"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert server.call("CLIENT", "UNBLOCK", cid, "ERROR") == b":1\r\n"
            assert blocked.read_reply().startswith(b"-UNBLOCKED ")
            stats = server.call("INFO", "stats").decode()
            blpop = re.search(r"cmdstat_blpop:calls=(\d+),.*rejected_calls=(\d+),failed_calls=(\d+)",
                              server.call("INFO", "commandstats").decode())
            assert blpop is not None
            seen.append((server.call("INFO", "errorstats"), blpop.groups(),
                         re.search(r"total_error_replies:(\d+)", stats).group(1)))  # type: ignore[union-attr]
        finally:
            blocked.close()
    assert seen[0] == seen[1]
    assert seen[0][1] == ("1", "0", "1")
