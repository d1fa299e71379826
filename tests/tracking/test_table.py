"""The tracking table's representation: shared key objects, read-only re-reads."""

from __future__ import annotations

from tests.inprocess import InProcessServer


def test_stored_key_is_the_databases_own_object() -> None:
    srv = InProcessServer()
    db = srv.srv.ks.dbs[0]
    key = b"key:%d" % 1
    srv("SET", key, b"v")
    other = b"key:%d" % 1
    assert other is not key
    assert db.stored_key(other) is key
    missing = b"nokey:%d" % 1
    assert db.stored_key(missing) is missing


def test_tracked_keys_share_the_databases_key_and_a_reread_changes_nothing() -> None:
    srv = InProcessServer()
    stored = b"key:%d" % 7
    srv("SET", stored, b"v")
    srv("CLIENT", "TRACKING", "on")
    srv("GET", b"key:%d" % 7)
    tracker = srv.srv.tracker
    state = srv.c.tracking
    assert [k for k in tracker.table if k is stored] == [stored]
    assert [k for k in state.keys if k is stored] == [stored]
    table = dict(tracker.table)
    srv("GET", b"key:%d" % 7)
    srv("MGET", b"key:%d" % 7, b"key:%d" % 7)
    assert tracker.table == table and tracker.items == 1 and state.keys == {stored}
    srv("GET", b"missing")  # a key the database does not hold is tracked too
    assert tracker.info() == (2, 2, 0) and state.keys == {stored, b"missing"}


def test_a_changed_key_leaves_the_readers_sets() -> None:
    srv = InProcessServer()
    a, b = srv.c, srv.client()
    for c in (a, b):
        srv("CLIENT", "TRACKING", "on", c=c)
        srv("MGET", "x", "y", c=c)
    tracker = srv.srv.tracker
    assert tracker.info() == (2, 4, 0)
    srv("SET", "x", "1", c=b)
    assert tracker.info() == (1, 2, 0)
    assert a.tracking.keys == {b"y"} and b.tracking.keys == {b"y"}
    srv("CONFIG", "SET", "tracking-table-max-keys", "1")
    srv("GET", "z", c=a)  # over the limit: the oldest key (y) goes
    assert list(tracker.table) == [b"z"]
    assert a.tracking.keys == {b"z"} and b.tracking.keys == set()
    srv("FLUSHALL", c=b)
    assert tracker.info() == (0, 0, 0) and a.tracking.keys == set()
