"""Differential checks of the stream commands: same commands, byte-identical replies.

IDs are explicit (auto IDs and idle/delivery times depend on each server's clock); node
layout (``~`` trimming, ``radix-tree-keys``/``radix-tree-nodes``) is compared under several
``stream-node-max-*`` settings, which are restored afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.conftest import Differ


@pytest.fixture
def d(diff: Differ) -> Iterator[Differ]:
    yield diff
    diff("CONFIG", "SET", "stream-node-max-entries", "100")
    diff("CONFIG", "SET", "stream-node-max-bytes", "4096")


def test_xadd_ids_and_errors(d: Differ) -> None:
    for args in (
        ("XADD", "s", "1-1", "a", "b"), ("XADD", "s", "1-*", "a", "b"), ("XADD", "s", "0-*", "a", "b"),
        ("XADD", "s", "01-5", "a", "b"), ("XADD", "s", "+1", "a", "b"), ("XADD", "s", " 2", "a", "b"),
        ("XADD", "s", "0-0", "a", "b"), ("XADD", "s", "1-1", "a", "b", "c"), ("XADD", "s"),
        ("XADD", "s", "MAXLEN", "-1", "*", "a", "b"), ("XADD", "s", "MAXLEN", "x", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b"), ("XADD", "s", "MINID", "x", "*", "a", "b"),
        ("XADD", "s", "LIMIT", "5", "*", "a", "b"), ("XADD", "s", "MAXLEN", "1", "LIMIT", "5", "*", "a", "b"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "a", "b"),
        ("XADD", "s", "abc", "a", "b"), ("XADD", "s", "18446744073709551616", "a", "b"),
        ("XADD", "s", "-1", "a", "b"), ("XADD", "s", "*-1", "a", "b"), ("XADD", "s", "-", "a", "b"),
        ("XADD", "s", "1-", "a", "b"), ("XADD", "s", "5-18446744073709551615", "a", "b"),
        ("XADD", "s", "5-*", "a", "b"), ("XADD", "nos", "NOMKSTREAM", "1-1", "a", "b"), ("EXISTS", "nos"),
        ("XADD", "z", "0-*", "a", "b"), ("XLEN", "s"), ("XLEN", "nokey"), ("SET", "str", "x"),
        ("XLEN", "str"), ("XADD", "str", "1-1", "a", "b"), ("XADD", "str", "bad", "a", "b"),
        ("TYPE", "s"), ("OBJECT", "ENCODING", "s"),
        ("XADD", "e", "18446744073709551615-18446744073709551615", "a", "b"), ("XADD", "e", "*", "a", "b"),
    ):
        d(*args)


def test_xrange_forms(d: Differ) -> None:
    for i, sid in enumerate(("0-1", "0-18446744073709551615", "1-0", "42-0", "42-42",
                             "18446744073709551615-18446744073709551614")):
        d("XADD", "v", sid, "f", str(i), *(["g", "h"] if i % 2 else []))
    for args in (
        ("-", "+"), ("(0-1", "+"), ("-", "(18446744073709551615-18446744073709551614"), ("(0-1", "(1-0"),
        ("(1-0", "(42-42"), ("42", "42"), ("(42", "+"), ("-", "(42"), ("(-", "+"), ("-", "(+"), ("(", "+"),
        ("(18446744073709551615-18446744073709551615", "+"), ("-", "(0-0"), ("5", "3"), ("x", "+"),
        ("-", "+", "COUNT", "2"), ("-", "+", "COUNT", "0"), ("-", "+", "COUNT", "-1"), ("-", "+", "COUNT"),
        ("-", "+", "FOO"), ("-", "+", "COUNT", "x"), ("1-", "+"),
    ):
        d("XRANGE", "v", *args)
        d("XREVRANGE", "v", args[1], args[0], *args[2:])
    d("XRANGE", "nokey", "-", "+", "COUNT", "0")
    d("SET", "str", "x")
    d("XRANGE", "str", "-", "+")


def test_xdel_xtrim_xsetid(d: Differ) -> None:
    for i in range(1, 8):
        d("XADD", "s", f"{i}-0", "f", str(i))
    for args in (
        ("XDEL", "s"), ("XDEL", "s", "1-0", "x"), ("XDEL", "nokey", "x"), ("XDEL", "s", "2-0", "2-0", "9"),
        ("XDEL", "s", "-"), ("XTRIM", "s"), ("XTRIM", "s", "MAXLEN"), ("XTRIM", "s", "FOO", "1"),
        ("XTRIM", "nokey", "MAXLEN", "1"), ("XTRIM", "nokey", "FOO", "1"), ("XTRIM", "s", "MAXLEN", "0", "LIMIT", "1"),
        ("XTRIM", "s", "LIMIT", "5", "x"), ("XTRIM", "s", "LIMIT", "0"), ("XTRIM", "s", "LIMIT", "5"),
        ("XTRIM", "s", "LIMIT", "5", "MAXLEN", "~", "1"), ("XTRIM", "s", "MAXLEN", "=", "x"),
        ("XTRIM", "s", "MINID", "~"), ("XTRIM", "s", "MINID", "3"), ("XTRIM", "s", "MAXLEN", "=", "3"),
        ("XINFO", "STREAM", "s"),
        ("XSETID", "s", "5"), ("XSETID", "nokey", "5"), ("XSETID", "s", "1-0"), ("XSETID", "s", "1-1", "0"),
        ("XSETID", "s", "1-1", "0-0"), ("XSETID", "s", "1-1", "ENTRIESADDED", "-1", "MAXDELETEDID", "0-0"),
        ("XSETID", "s", "99-0", "ENTRIESADDED", "1", "MAXDELETEDID", "0-0"),
        ("XSETID", "s", "99-0", "MAXDELETEDID", "100-0"),
        ("XSETID", "s", "99-0", "ENTRIESADDED", "50", "MAXDELETEDID", "98-0"), ("XINFO", "STREAM", "s"),
        ("XADD", "s", "MAXLEN", "0", "100-0", "a", "b"), ("XINFO", "STREAM", "s"),
    ):
        d(*args)


@pytest.mark.parametrize("max_entries,max_bytes", [(100, 4096), (3, 4096), (1, 0), (10, 100), (0, 300)])
def test_node_layout_matches(d: Differ, max_entries: int, max_bytes: int) -> None:
    d("CONFIG", "SET", "stream-node-max-entries", str(max_entries))
    d("CONFIG", "SET", "stream-node-max-bytes", str(max_bytes))
    rnd = random.Random(max_entries * 7919 + max_bytes)
    ms, seq, ids = 1, 0, []
    for step in range(150):
        op = rnd.random()
        if op < 0.65:
            if rnd.random() < 0.3:
                ms += rnd.randint(1, 5000)
                seq = 0
            else:
                seq += rnd.randint(1, 400)
            fields: list[str] = []
            for _ in range(rnd.randint(1, 3)):
                fields += [rnd.choice(["a", "b", "123", "-7"]), rnd.choice(["1", "x" * rnd.randint(0, 80), "-3"])]
            trim: list[str] = []
            if rnd.random() < 0.15:
                trim = [rnd.choice(["MAXLEN", "MINID"]), rnd.choice(["~", "="])]
                trim.append(str(rnd.randint(0, 25)) if trim[0] == "MAXLEN" else (rnd.choice(ids) if ids else "0"))
                if trim[1] == "~" and rnd.random() < 0.5:
                    trim += ["LIMIT", str(rnd.randint(0, 20))]
            d("XADD", "s", *trim, f"{ms}-{seq}", *fields)
            ids.append(f"{ms}-{seq}")
        elif op < 0.8 and ids:
            d("XDEL", "s", *rnd.sample(ids, min(len(ids), 3)))
        elif op < 0.9:
            t = [rnd.choice(["MAXLEN", "MINID"]), rnd.choice(["~", "="])]
            t.append(str(rnd.randint(0, 30)) if t[0] == "MAXLEN" else (rnd.choice(ids) if ids else "0"))
            d("XTRIM", "s", *t)
        else:
            d("XINFO", "STREAM", "s")
        if step % 25 == 0:
            d("XRANGE", "s", "-", "+")
    d("XINFO", "STREAM", "s", "FULL", "COUNT", "0")


def test_suite_trim_scenarios(d: Differ) -> None:
    d("CONFIG", "SET", "stream-node-max-entries", "100")
    for j in range(1000):
        d("XADD", "m", "MAXLEN", "~", "555", f"{j + 1}-0", "xitem", str(j))
    d("XLEN", "m")
    d("CONFIG", "SET", "stream-node-max-entries", "10")
    for j in range(100):
        d("XADD", "l", f"{j + 1}-0", "xitem", "v")
    d("XADD", "l", "MAXLEN", "~", "55", "LIMIT", "30", "200-0", "xitem", "v")
    d("XLEN", "l")
    d("XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "1")
    d("XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "20")
    d("XINFO", "STREAM", "l")


def test_consumer_groups(d: Differ) -> None:
    for i in range(1, 6):
        d("XADD", "s", f"{i}-0", "f", str(i))
    for args in (
        ("XGROUP", "CREATE", "s", "g1", "0"), ("XGROUP", "CREATE", "s", "g1", "0"),
        ("XGROUP", "CREATE", "s", "g2", "$", "MKSTREAM"), ("XGROUP", "CREATE", "s", "g3", "$", "ENTRIESREAD", "2"),
        ("XGROUP", "CREATE", "s", "g4", "$", "ENTRIESREAD", "-2"), ("XGROUP", "CREATE", "s", "g4", "$", "ENTRIESREAD", "x"),
        ("XGROUP", "CREATE", "s", "g4", "$", "FOO"), ("XGROUP", "create", "s", "g4", "$", "a", "b", "c", "d"),
        ("XGROUP", "CREATE", "nokey", "g", "$"), ("XGROUP", "CREATE", "nokey", "g", "x", "MKSTREAM"),
        ("XGROUP", "CREATE", "nokey2", "g", "0", "MKSTREAM"), ("SET", "str", "x"), ("XGROUP", "CREATE", "str", "g", "$"),
        ("XGROUP", "SETID", "nokey", "g", "$"), ("XGROUP", "SETID", "s", "nog", "$"),
        ("XGROUP", "SETID", "s", "g3", "-", "ENTRIESREAD", "x"), ("XGROUP", "SETID", "s", "g3", "-", "FOO", "5"),
        ("XGROUP", "SETID", "s", "g3", "-", "ENTRIESREAD", "-5"), ("XGROUP", "SETID", "s", "g3", "-", "ENTRIESREAD", "1", "x"),
        ("XGROUP", "DESTROY", "s", "nog"), ("XGROUP", "DESTROY", "nokey", "g"),
        ("XGROUP", "CREATECONSUMER", "s", "g1", "c1"), ("XGROUP", "CREATECONSUMER", "s", "g1", "c1"),
        ("XGROUP", "CREATECONSUMER", "s", "nog", "c1"), ("XGROUP", "DELCONSUMER", "s", "g1", "c2"),
        ("XGROUP", "HELP"), ("XGROUP", "HELP", "x"), ("XGROUP", "FOO"), ("XGROUP",),
        ("XINFO", "GROUPS", "s"), ("XINFO", "CONSUMERS", "s", "nog"), ("XINFO", "GROUPS", "nokey"),
        ("XINFO", "HELP"), ("XINFO", "FOO"), ("XINFO", "STREAM", "s", "FULLL"), ("XINFO", "STREAM", "s", "FULL", "COUNT"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g1", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", "$"), ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s"),
        ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", "nokey", ">", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", ">", "x"), ("XREADGROUP", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "NOACK", "COUNT", "1", "BLOCK", "10", "STREAMS", "s", ">"),
        ("XREAD", "GROUP", "g1", "bob", "STREAMS", "s", ">"), ("XREAD", "NOACK", "STREAMS", "s", ">"),
        ("XREAD", "STREAMS", "s", ">"), ("XREAD", "STREAMS", "s", "$"), ("XREAD", "COUNT", "1", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "-1", "STREAMS", "s", "0"), ("XREAD", "STREAMS", "s", "nokey", "str", "0", "0", "0"),
        ("XREAD", "STREAMS", "s", "nokey", "0", "0"), ("XREAD", "BLOCK", "x", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"), ("XREAD", "BLOCK", "10", "STREAMS", "s", "$"),
        ("XREAD", "FOO", "STREAMS", "s", "0"),
        ("XPENDING", "s", "g1"), ("XPENDING", "s", "g1", "-", "+"), ("XPENDING", "s", "g1", "-", "+", "x"),
        ("XPENDING", "s", "g1", "-", "+", "-1"), ("XPENDING", "s", "g1", "-", "+", "10", "nobody"),
        ("XPENDING", "s", "g1", "IDLE", "0", "-", "+"), ("XPENDING", "s", "g1", "IDLE", "99999999", "-", "+", "10"),
        ("XPENDING", "s", "nog"), ("XPENDING", "nokey", "g"), ("XPENDING", "s", "g2"),
        ("XPENDING", "s", "g1", "(", "+", "10"),
        ("XACK", "s", "g1", "1-0", "1-0", "x"), ("XACK", "s", "g1", "1-0", "1-0"), ("XACK", "s", "nog", "1-0"),
        ("XACK", "nokey", "g", "1"), ("XPENDING", "s", "g1"),
        ("XCLAIM", "s", "g1", "carol", "0", "2-0", "JUSTID"), ("XCLAIM", "s", "g1", "carol", "0", "9-0", "FORCE"),
        ("XCLAIM", "s", "g1", "carol", "x", "2-0"), ("XCLAIM", "s", "g1", "carol", "0", "2-0", "IDLE", "x"),
        ("XCLAIM", "s", "g1", "carol", "0", "2-0", "BOGUS"), ("XCLAIM", "s", "nog", "c", "0", "2-0"),
        ("XCLAIM", "s", "g1", "carol", "0", "2-0", "3-0", "RETRYCOUNT", "5", "JUSTID"),
        ("XPENDING", "s", "g1"), ("XAUTOCLAIM", "s", "g1", "dave", "0", "0", "COUNT", "1", "JUSTID"),
        ("XAUTOCLAIM", "s", "g1", "dave", "0", "0", "COUNT", "0"), ("XAUTOCLAIM", "s", "g1", "dave", "x", "0"),
        ("XAUTOCLAIM", "s", "g1", "dave", "0", "(", "COUNT", "1"), ("XAUTOCLAIM", "s", "g1", "dave", "0", "0", "FOO"),
        ("XAUTOCLAIM", "s", "g1", "d", "0", "3-0", "COUNT", "8070450532247928833"),
        ("XDEL", "s", "3-0"), ("XAUTOCLAIM", "s", "g1", "dave", "0", "0"), ("XPENDING", "s", "g1"),
        ("XGROUP", "DELCONSUMER", "s", "g1", "dave"), ("XINFO", "GROUPS", "s"), ("XGROUP", "DESTROY", "s", "g2"),
        ("XINFO", "GROUPS", "s"),
    ):
        d(*args)


def test_group_lag_and_read_counter(d: Differ) -> None:
    for i in range(1, 6):
        d("XADD", "x", f"{i}-0", "data", str(i))
    d("XDEL", "x", "3-0")
    d("XGROUP", "CREATE", "x", "g1", "0")
    d("XGROUP", "CREATE", "x", "g2", "0")
    for _ in range(4):
        d("XREADGROUP", "GROUP", "g1", "c", "COUNT", "1", "STREAMS", "x", ">")
        d("XINFO", "GROUPS", "x")
    d("XADD", "x", "6-0", "data", "f")
    d("XINFO", "GROUPS", "x")
    d("XTRIM", "x", "MINID", "=", "3-0")
    d("XINFO", "GROUPS", "x")
    d("XTRIM", "x", "MINID", "=", "5-0")
    d("XINFO", "GROUPS", "x")
    d("XGROUP", "SETID", "x", "g2", "$", "ENTRIESREAD", "3")
    d("XINFO", "GROUPS", "x")
    d("XGROUP", "CREATE", "e", "g", "0", "MKSTREAM")
    d("XADD", "e", "1-0", "data", "a")
    d("XDEL", "e", "1-0")
    d("XINFO", "GROUPS", "e")


def test_generated_group_sequences(d: Differ) -> None:
    rnd = random.Random(42)
    ids: list[str] = []
    ms = seq = 1
    for step in range(250):
        op = rnd.random()
        g = rnd.choice(["g1", "g2"])
        c = rnd.choice(["alice", "bob"])
        if op < 0.3:
            seq += 1
            d("XADD", "s", f"{ms}-{seq}", "f", str(step))
            ids.append(f"{ms}-{seq}")
        elif op < 0.35:
            d("XGROUP", "CREATE", "s", g, rnd.choice(["0", "$", *ids[-2:]]), "MKSTREAM")
        elif op < 0.38:
            d("XGROUP", "SETID", "s", g, rnd.choice(["0", "$", "-", *ids[-2:]]))
        elif op < 0.55:
            opts = ["COUNT", str(rnd.randint(1, 3))] if rnd.random() < 0.5 else []
            if rnd.random() < 0.2:
                opts.append("NOACK")
            d("XREADGROUP", "GROUP", g, c, *opts, "STREAMS", "s", rnd.choice([">", ">", "0"]))
        elif op < 0.62 and ids:
            d("XACK", "s", g, *rnd.sample(ids, min(len(ids), 2)))
        elif op < 0.68 and ids:
            d("XCLAIM", "s", g, c, "0", *rnd.sample(ids, min(len(ids), 2)), "JUSTID",
              *rnd.choice([[], ["FORCE"], ["LASTID", rnd.choice(ids)]]))
        elif op < 0.73:
            d("XAUTOCLAIM", "s", g, c, "0", "0", "COUNT", str(rnd.randint(1, 4)), "JUSTID")
        elif op < 0.78 and ids:
            d("XDEL", "s", rnd.choice(ids))
        elif op < 0.8:
            d("XTRIM", "s", "MAXLEN", str(rnd.randint(0, 8)))
        elif op < 0.83:
            d("XGROUP", rnd.choice(["DELCONSUMER", "CREATECONSUMER"]), "s", g, c)
        elif op < 0.84:
            d("XGROUP", "DESTROY", "s", g)
        else:
            d("XPENDING", "s", g)
            d("XINFO", "GROUPS", "s")
