"""LOLWUT against a real redis-server.

What Redis draws without randomness is compared byte for byte: the version line, argument
errors and limits, Schotter with at most two rows of squares (Redis tilts only from the third
row on) and LOLWUT 6 one row tall (no building fits). Random drawings are compared by shape:
Schotter's size and lines, the skyline's lines and cells.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import Differ

DETERMINISTIC = [
    ("LOLWUT",),
    ("LOLWUT", "foo", "bar"),
    ("LOLWUT", "VERSION"),
    ("LOLWUT", "version", "7"),
    ("LOLWUT", "VERSION", "4"),
    ("LOLWUT", "VERSION", "-1"),
    ("LOLWUT", "VERSION", "0"),
    ("LOLWUT", "VERSION", "x"),
    ("LOLWUT", "VERSION", "5", "x"),
    ("LOLWUT", "VERSION", "5", "10", "2", "x"),
    ("LOLWUT", "VERSION", "6", "1", "x"),
    ("LOLWUT", "VERSION", "99999999999999999999"),
    ("LOLWUT", "VERSION", "4294967301", "10", "2", "2"),  # 2**32 + 5 wraps to 5, as in Redis
    ("LOLWUT", "VERSION", "5", "1", "1", "1"),
    ("LOLWUT", "VERSION", "5", "0", "-3", "0"),
    ("LOLWUT", "VERSION", "5", "3", "1", "2"),
    ("LOLWUT", "VERSION", "5", "33", "3", "1"),
    ("LOLWUT", "VERSION", "5", "66", "8", "2"),
    ("LOLWUT", "VERSION", "5", "7", "9", "2"),
    ("LOLWUT", "VERSION", "5", "100", "7", "2"),
    ("LOLWUT", "VERSION", "5", "500", "13", "2", "ignored"),
    ("LOLWUT", "VERSION", "5", "1000", "200", "2"),
    ("LOLWUT", "VERSION", "5", "5000", "500", "1"),  # clamped to 1000 columns, 200 squares
    ("LOLWUT", "VERSION", "6", "10", "1"),
    ("LOLWUT", "VERSION", "6", "0", "-5"),
    ("LOLWUT", "VERSION", "6", "2000", "1"),
]


@pytest.mark.parametrize("proto", ["2", "3"])
def test_deterministic_output_matches_redis(diff: Differ, proto: str) -> None:
    diff.both("HELLO", proto)
    for args in DETERMINISTIC:
        diff(*args)


def _text(reply: bytes) -> bytes:
    header, _, body = reply.partition(b"\r\n")
    assert header.startswith(b"$"), reply[:40]
    return body[:-2]


def test_schotter_has_redis_size_and_lines(diff: Differ) -> None:
    for args in (("LOLWUT", "VERSION", "5"), ("LOLWUT", "VERSION", "5", "40", "5", "9")):
        mine, theirs = (_text(r) for r in diff.both(*args))
        assert [len(line) for line in mine.split(b"\n")] == [len(line) for line in theirs.split(b"\n")]
        assert mine.split(b"\n")[-2:] == theirs.split(b"\n")[-2:]  # the caption
        # Squares are drawn down to the last rows, not only the first ones.
        art = [line for line in mine.split(b"\n")[:-2] if line]
        assert any(line.replace("\u2800".encode(), b"") for line in art[-len(art) // 4:])


CELL = re.compile(rb"\x1b\[0;(30;40|90;100|37;47|97;107)m \x1b\[0m")


def test_skyline_has_redis_lines_and_cells(diff: Differ) -> None:
    mine, theirs = (_text(r) for r in diff.both("LOLWUT", "VERSION", "6", "50", "12"))
    mine_lines, their_lines = mine.split(b"\n"), theirs.split(b"\n")
    assert mine_lines[-3:] == their_lines[-3:]  # the caption
    assert len(mine_lines) == len(their_lines) == 12 + 3
    for line in mine_lines[:12]:
        assert len(CELL.findall(line)) == 50 and CELL.sub(b"", line) == b""
    # Buildings stand on the ground: the bottom row is not all sky (white).
    assert set(CELL.findall(mine_lines[11])) != {b"97;107"}
