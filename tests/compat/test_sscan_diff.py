"""SSCAN's paging beside a real redis-server.

Redis 7.0 keeps a set of integers in an intset, which SSCAN returns whole (cursor 0), and
any other set in a hash table, which SSCAN pages with a cursor however small the set
(listpack sets came in 7.2). Which members land on which page depends on Redis's bucket
walk and its per-process hash seed: what is compared is the encoding, whether the first
call leaves a cursor to continue with, and that a full iteration returns every member.
The sets here have 8 members or more: Redis's walk stops once COUNT members are found, so
with a 3-member table (4 buckets) it may find them all before the last bucket and answer
cursor 0 at once, one time in a few dozen; moonkv pages by COUNT.
"""

from __future__ import annotations

import pytest

from tests.conftest import Differ
from tests.helpers import RawClient, parse_reply

SETUP = [
    ("SADD", "strings", *"abcdefghij"),
    ("SADD", "ints", *map(str, range(10))),
    ("SADD", "mixed", "a", "b", "1"),
    ("SUNIONSTORE", "union", "ints", "mixed"),
    ("SINTERSTORE", "inter", "ints", "ints"),
    ("SDIFFSTORE", "diff", "strings", "mixed"),
    ("SADD", "converted", *map(str, range(20))),
    ("SADD", "converted", "x"),
    ("SREM", "converted", "x"),
]


def _iterate(c: RawClient, key: str, count: int, match: str) -> tuple[bool, set[bytes]]:
    """(whether the first call returned a non-zero cursor, every member returned)."""
    cursor = b"0"
    first = True
    paged = False
    seen: set[bytes] = set()
    for _ in range(1000):
        _, (cur, (_, members)) = parse_reply(c.call("SSCAN", key, cursor, "COUNT", count, "MATCH", match))
        cursor = cur[1]
        if first:
            paged, first = cursor != b"0", False
        seen |= {m[1] for m in members}
        if cursor == b"0":
            return paged, seen
    raise AssertionError(f"SSCAN {key} did not end")


@pytest.mark.parametrize("key", ["strings", "ints", "union", "inter", "diff", "converted"])
@pytest.mark.parametrize(("count", "match"), [(1, "*"), (2, "*"), (3, "[a-e1]*")])
def test_sscan_pages_as_redis(diff: Differ, key: str, count: int, match: str) -> None:
    for args in SETUP:
        diff(*args)
    diff("OBJECT", "ENCODING", key)
    assert _iterate(diff.m, key, count, match) == _iterate(diff.real, key, count, match)
