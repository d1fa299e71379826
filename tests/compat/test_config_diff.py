"""CONFIG SET/GET with several parameters against real Redis: errors, order, rollback."""

from __future__ import annotations

import pytest

from tests.conftest import Differ

BAD_SETS = [
    ["maxmemory-clients", "200%"],
    ["maxmemory-clients", "-5%"],
    ["maxmemory-clients", "1.5%"],
    ["maxmemory-clients", "x"],
    ["MAXMEMORY-clients", "200%"],  # a bad value is reported by the directive's own name
    ["maxmemory", "10%"],
    ["maxmemory", "1", "maxmemory-clients", "200%", "nosuch", "2"],  # names first
    ["maxmemory", "1", "nosuch", "2", "databases", "3"],
    ["maxmemory", "1", "databases", "3", "nosuch", "2"],
    ["maxmemory-clients", "1", "MAXMEMORY-CLIENTS", "2"],
    ["maxmemory", "1", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid"],
    ["maxmemory", "1", "client-query-buffer-limit", "invalid", "maxmemory-clients", "200%"],
]


@pytest.mark.parametrize("args", BAD_SETS, ids=lambda a: " ".join(a))
def test_config_set_errors_and_rollback(diff: Differ, args: list[str]) -> None:
    for name in ("maxmemory", "maxmemory-clients", "client-query-buffer-limit"):
        diff("CONFIG", "GET", name)
    diff("CONFIG", "SET", *args)
    for name in ("maxmemory", "maxmemory-clients", "client-query-buffer-limit"):
        diff("CONFIG", "GET", name)  # nothing changed


def test_config_set_several(diff: Differ) -> None:
    diff("CONFIG", "SET", "maxmemory-clients", "10%", "maxmemory", "10000001", "save", "3000 5")
    for name in ("maxmemory-clients", "maxmemory", "save"):  # (several: Redis's dict order)
        diff("CONFIG", "GET", name)
    diff("CONFIG", "SET", "maxmemory-clients", "0%")
    diff("CONFIG", "GET", "maxmemory-clients")
    diff("CONFIG", "SET", "maxmemory-clients", "0", "maxmemory", "0", "save", "")
