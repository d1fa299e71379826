"""The topology record (moonkv.cluster.topology): validation errors and the canonical JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moonkv.cluster.slots import crc16, key_slot
from moonkv.cluster.topology import Topology, TopologyError
from tests.cluster.conftest import topology

A, B, C = "a" * 40, "b" * 40, "c" * 40


def record(**changes: Any) -> dict[str, Any]:
    top = topology(3, [(A, 7001, [(0, 8191)]), (B, 7002, [(8192, 16383)])], [(C, 7003, A)])
    top.update(changes)
    return top


def test_round_trip_is_canonical() -> None:
    top = Topology.from_json(json.dumps(record(), indent=2))
    again = Topology.from_json(top.to_json())
    assert again.to_json() == top.to_json()
    assert b" " not in top.to_json() and top.to_json().startswith(b'{"migrations":[],"name":"moonkv"')
    assert top.owner(0).id == A and top.owner(16383).id == B  # type: ignore[union-attr]
    assert [n.id for n in top.replicas_of(A)] == [C]
    assert [n.id for n in top.primaries()] == [A, B]
    assert top.assigned() == 16384


def test_adjacent_ranges_merge_and_sort() -> None:
    top = record()
    top["nodes"][0]["slots"] = [[100, 8191], [0, 99]]
    assert Topology.from_dict(top).node(A).slots == ((0, 8191),)  # type: ignore[union-attr]


def test_slot_of_a_tagged_key_matches_its_tag() -> None:
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers") == key_slot(b"user1000")
    assert crc16(b"123456789") == 0x31C3  # CRC16/XMODEM's check value (Redis's crc16.c comment)


def _nodes(fn: Any) -> Any:
    def change(top: dict[str, Any]) -> None:
        fn(top["nodes"])
    return change


BAD: list[tuple[str, Any]] = [
    ("topology has no 'version'", lambda t: t.pop("version")),
    ("'version' must be an integer of at least 1", lambda t: t.update(version=0)),
    ("'version' must be an integer of at least 1", lambda t: t.update(version=True)),
    ("'name' must be a non-empty string", lambda t: t.update(name="")),
    ("topology has unknown field 'extra'", lambda t: t.update(extra=1)),
    ("'id' must be 40 lowercase hexadecimal digits", _nodes(lambda n: n[0].update(id="A" * 40))),
    ("node " + A + " appears twice", _nodes(lambda n: n.append(dict(n[0], slots=[])))),
    ("slot 8192 is assigned to both", _nodes(lambda n: n[0].update(slots=[[0, 8192]]))),
    ("has slot range [0, 16384] outside 0..16383", _nodes(lambda n: n[0].update(slots=[[0, 16384]]))),
    ("has slot range [5, 4] outside 0..16383 or reversed", _nodes(lambda n: n[0].update(slots=[[5, 4]]))),
    ("lists slot 3 twice", _nodes(lambda n: n[0].update(slots=[[0, 5], [3, 8191]]))),
    ("'slots' must be an array of [first, last] ranges", _nodes(lambda n: n[0].update(slots=[[1]]))),
    ("names an unknown primary", _nodes(lambda n: n[2].update(primary="d" * 40))),
    ("is a replica: only primaries own slots", _nodes(lambda n: n[2].update(slots=[[0, 0]]))),
    ("'role' must be 'primary' or 'replica'", _nodes(lambda n: n[0].update(role="master"))),
    ("'port' must be an integer in 0..65535", _nodes(lambda n: n[0].update(port=70000))),
    ("needs a 'port' or a 'tls_port'", _nodes(lambda n: n[0].update(port=0))),
    ("'host' must be a non-empty host name or address", _nodes(lambda n: n[0].update(host="a b"))),
    ("migration of slot 9000 is not from its owner",
     lambda t: t.update(migrations=[{"slot": 9000, "from": A, "to": B}])),
    ("must go between two different primaries",
     lambda t: t.update(migrations=[{"slot": 1, "from": A, "to": C}])),
    ("migration 0 'slot' must be an integer in 0..16383",
     lambda t: t.update(migrations=[{"slot": -1, "from": A, "to": B}])),
]


@pytest.mark.parametrize(("message", "change"), BAD, ids=[m for m, _ in BAD])
def test_malformed_records_are_refused_with_a_clear_message(message: str, change: Any) -> None:
    top = record()
    change(top)
    with pytest.raises(TopologyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Topology.from_dict(top)


def test_not_json() -> None:
    with pytest.raises(TopologyError, match="topology is not valid JSON"):
        Topology.from_json(b"{nope")
    with pytest.raises(TopologyError, match="topology must be a JSON object"):
        Topology.from_json(b"[]")
