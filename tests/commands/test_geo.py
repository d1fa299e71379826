"""GEO commands in process: geohash arithmetic, replies, errors, effects and rollback."""

from __future__ import annotations

import math
from typing import Any

import pytest

from moonkv.commands.geo import _double, _pqsort
from moonkv.errors import RespError
from moonkv.keyspace import geohash as gh
from moonkv.keyspace.types.zset import ZSet
from moonkv.protocol import NULL_ARRAY, OrderedSet, RawReply, encode
from tests.inprocess import InProcessServer


class Box(InProcessServer):
    def last_effects(self, *args: Any) -> list[tuple[int, list[bytes]]]:
        self.effects.clear()
        self(*args)
        return list(self.effects)

    def snap(self) -> dict[bytes, Any]:
        return {k: ((list(v.sl), dict(v.dict)) if type(v) is ZSet else v) for k, v in self.data.items()}


SICILY = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")


@pytest.fixture
def b() -> Box:
    b = Box()
    b("GEOADD", "Sicily", *SICILY)
    return b


# -- geohash arithmetic -------------------------------------------------------------------


def test_scores_and_decoding() -> None:
    # Values from Redis 7.0 (ZSCORE / GEOPOS / GEOHASH of the same input).
    assert gh.encode_score(13.361389, 38.115556) == 3479099956230698
    assert gh.encode_score(15.087269, 37.502669) == 3479447370796909
    lon, lat = gh.decode_score(3479099956230698.0)
    assert gh.human_double(lon) == b"13.36138933897018433"
    assert gh.human_double(lat) == b"38.11555639549629859"
    assert gh.geohash_string(3479099956230698.0) == b"sqc8b49rny0"
    assert gh.geohash_string(float(gh.encode_score(-5.6, 42.6))) == b"ezs42e44yx0"
    # The corners: latitude/longitude at their maxima set bit 52/53 (score >= 2**52).
    assert gh.encode_score(180, 85.05112878) == gh.interleave(1 << 26, 1 << 26)
    assert gh.decode_score(float(gh.encode_score(180, 85.05112878))) == (180.0, 85.05112878)
    assert gh.decode_score(0.0)[0] < -179.99999


def test_interleave_round_trip() -> None:
    for lat, lon in ((0, 0), (1, 2), (0x3FFFFFF, 0), (0, 0x3FFFFFF), (0x1234567, 0x2345678), (0xFFFFFFFF, 0xFFFFFFFF)):
        bits = gh.interleave(lat, lon)
        assert gh.deinterleave(bits) == (lat, lon)
    assert gh.interleave(1, 0) == 1 and gh.interleave(0, 1) == 2


def test_distance() -> None:
    p = gh.decode_score(3479099956230698.0)
    c = gh.decode_score(3479447370796909.0)
    assert b"%.4f" % gh.distance(*p, *c) == b"166274.1516"
    assert gh.distance(*p, *p) == 0.0
    # Same longitude: Redis's latitude-only shortcut.
    assert gh.distance(10, 20, 10, 21) == gh.EARTH_RADIUS * abs(21 * gh.D_R - 20 * gh.D_R)
    assert math.isnan(gh.distance(0, 0, math.inf, 0))


def test_neighbours_wrap() -> None:
    step = 2
    # Cell (lat 0, lon 0) at step 2: west wraps to lon 3, south wraps to lat 3.
    bits = gh.interleave(0, 0)
    assert gh.deinterleave(gh._move(bits, step, -1, 0)) == (0, 3)
    assert gh.deinterleave(gh._move(bits, step, 0, -1)) == (3, 0)
    assert gh.deinterleave(gh._move(gh.interleave(3, 3), step, 1, 1)) == (0, 0)


def test_estimate_steps() -> None:
    assert gh.estimate_steps(0, 0) == 26
    assert gh.estimate_steps(1, 0) == 24
    assert gh.estimate_steps(1, 70) == 23 and gh.estimate_steps(1, -81) == 22
    assert gh.estimate_steps(1e9, 0) == 1 and gh.estimate_steps(math.inf, 0) == 1


def test_search_cells_exclusion() -> None:
    bounds = gh.bounding_box(15, 37, 1000, 1000)
    cells = gh.search_cells(15, 37, 1000, bounds)
    assert len(cells) == 9 and cells[0] is not None
    assert any(c is None for c in cells[1:])  # a small radius does not need all neighbours


def test_human_double() -> None:
    assert gh.human_double(1.0) == b"1"
    assert gh.human_double(-0.0) == b"0"
    assert gh.human_double(-1e-30) == b"0"
    assert gh.human_double(0.5) == b"0.5"
    assert gh.human_double(math.inf) == b"inf"


def test_c_conversions() -> None:
    assert gh.to_u64(1.9) == 1
    assert gh.to_u64(-1.0) == 2**64 - 1
    assert gh.to_u64(2.0**63) == 2**63
    assert gh.to_u64(math.inf) == 0 and gh.to_u64(-math.inf) == 2**63
    assert gh.to_i64(1e30) == -(2**63) and gh.to_i64(-5.5) == -5


def test_double_parsing() -> None:
    assert _double(b"1.5") == 1.5 and _double(b"-1e5") == -1e5 and _double(b".5") == 0.5
    assert _double(b"0x10") == 16.0 and _double(b"0X.8P1") == 1.0
    assert _double(b"inf") == math.inf and _double(b"-Infinity") == -math.inf
    assert _double(b"0") == 0.0 and _double(b"-0.0") == 0.0
    assert _double(b"1e-310") > 0
    for bad in (b"", b" 1", b"1 ", b"nan", b"1e400", b"1e-400", b"0x1p-2000", b"1_0", b"0x", b"1e", b"abc", b"1\x00"):
        with pytest.raises(RespError):
            _double(bad)


def test_pqsort_partial_order() -> None:
    import random

    rnd = random.Random(7)
    for n in (1, 5, 7, 8, 40, 41, 100, 500):
        for k in (1, 2, 7, n):
            if k > n:
                continue
            v: list[Any] = [[rnd.choice((1.0, 2.0, 3.0, rnd.random())), i] for i in range(n)]
            want = sorted(p[0] for p in v)[:k]
            _pqsort(v, lambda a, b: (a[0] > b[0]) - (a[0] < b[0]), 0, k - 1)
            assert [p[0] for p in v[:k]] == want


# -- commands ---------------------------------------------------------------------------


def test_geoadd_options(b: Box) -> None:
    assert b("GEOADD", "Sicily", *SICILY) == 0
    assert b("GEOADD", "Sicily", "CH", "13", "38", "Palermo") == 1
    assert b("GEOADD", "Sicily", "NX", "1", "2", "Palermo", "3", "4", "new") == 1
    assert b("GEOADD", "Sicily", "XX", "CH", "1", "2", "Palermo", "3", "4", "other") == 1
    assert b"other" not in b.data[b"Sicily"]
    with pytest.raises(RespError, match="syntax error"):
        b("GEOADD", "Sicily", "NX", "XX", "1", "2", "m")
    with pytest.raises(RespError, match="syntax error"):
        b("GEOADD", "Sicily", "CH", "1", "2")
    with pytest.raises(RespError, match=r"^ERR invalid longitude,latitude pair 200\.000000,100\.000000$"):
        b("GEOADD", "Sicily", "1", "2", "ok", "200", "100", "bad")
    assert b"ok" not in b.data[b"Sicily"]  # coordinates are all checked before adding
    with pytest.raises(RespError, match="not a valid float"):
        b("GEOADD", "Sicily", "x", "2", "m")
    b("SET", "str", "v")
    with pytest.raises(RespError, match="WRONGTYPE"):
        b("GEOADD", "str", "1", "2", "m")


def test_read_commands(b: Box) -> None:
    assert b("GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert b("GEODIST", "Sicily", "Palermo", "Catania", "KM") == b"166.2742"
    assert b("GEODIST", "Sicily", "Palermo", "Catania", "mi") == b"103.3182"
    assert b("GEODIST", "Sicily", "Palermo", "nope") is None
    assert b("GEODIST", "nokey", "Palermo", "Catania") is None
    with pytest.raises(RespError, match="unsupported unit provided. please use M, KM, FT, MI"):
        b("GEODIST", "Sicily", "Palermo", "Catania", "yd")
    with pytest.raises(RespError, match="syntax error"):
        b("GEODIST", "Sicily", "Palermo", "Catania", "km", "x")
    assert b("GEOHASH", "Sicily", "Palermo", "nope") == [b"sqc8b49rny0", None]
    assert b("GEOHASH", "nokey", "a") == [None]
    assert b("GEOPOS", "Sicily", "Palermo", "nope") == [[b"13.36138933897018433", b"38.11555639549629859"], NULL_ARRAY]
    b.c.resp = 3
    pos = b("GEOPOS", "Sicily", "Palermo")
    assert encode(pos, 3) == b"*1\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n"
    assert isinstance(pos[0][0], RawReply)
    b.c.resp = 2


def test_search(b: Box) -> None:
    assert b("GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC") == [b"Catania", b"Palermo"]
    assert b("GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "COUNT", "1") == [b"Palermo"]
    assert b("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHHASH", "ASC") == [
        [b"Catania", b"56.4413", 3479447370796909],
        [b"Palermo", b"190.4424", 3479099956230698],
    ]
    assert b("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "ASC") == [b"Palermo", b"Catania"]
    assert b("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "km") == [b"Palermo"]
    assert b("GEORADIUS", "Sicily", "0", "0", "1", "km") == []
    assert b("GEORADIUS", "nokey", "0", "0", "1", "km") == []
    assert b("GEORADIUSBYMEMBER", "nokey", "m", "x", "yd") == []  # nothing else is parsed


def test_search_errors(b: Box) -> None:
    cases = [
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"), "COUNT must be > 0"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"), "value is not an integer or out of range"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"), "the ANY argument requires COUNT argument"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"),
         "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"), "syntax error"),
        (("GEORADIUS", "Sicily", "15", "37", "-1", "km"), "radius cannot be negative"),
        (("GEORADIUS", "Sicily", "15", "37", "x", "km"), "need numeric radius"),
        (("GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km"), "could not decode requested zset member"),
        (("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "ASC"), "exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
        (("GeoSearch", "Sicily", "FROMLONLAT", "1", "2", "ASC", "ASC"), "exactly one of BYRADIUS and BYBOX can be specified for GeoSearch"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"), "syntax error"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "-1", "km"), "height or width cannot be negative"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "a", "1", "km"), "need numeric width"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "a", "km"), "need numeric height"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STOREDIST"), "syntax error"),
        (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "WITHDIST"),
         "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    ]
    for argv, msg in cases:
        with pytest.raises(RespError) as e:
            b(*argv)
        assert str(e.value) == "ERR " + msg, argv
    b("SET", "str", "v")
    for argv2 in (("GEOPOS", "str", "a"), ("GEOHASH", "str", "a"), ("GEODIST", "str", "a", "b"),
                  ("GEORADIUS", "str", "x", "y", "z", "w"), ("GEOSEARCH", "str", "a", "b", "c", "d", "e"),
                  ("GEOSEARCHSTORE", "d", "str", "a", "b", "c", "d", "e")):
        with pytest.raises(RespError, match="WRONGTYPE"):
            b(*argv2)


def test_store(b: Box) -> None:
    assert b("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d") == 2
    assert b.data[b"d"].dict == b.data[b"Sicily"].dict
    assert b("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d", "ASC", "COUNT", "1") == 1
    member, dist = b("ZRANGE", "d", 0, -1, "WITHSCORES")
    assert member == b"Catania" and b"%.4f" % dist == b"56.4413"
    assert b("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST") == 2
    assert b("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km") == 0
    assert b"d" not in b.data
    b("SET", "d", "x")
    assert b("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km") == 0
    assert b"d" not in b.data


def test_effects(b: Box) -> None:
    eff = b.last_effects("GEOADD", "Sicily", "CH", "13.361389", "38.115556", "Palermo", "1", "2", "new")
    assert eff == [(0, [b"zadd", b"Sicily", b"ch", b"3479099956230698", b"Palermo", b"%d" % gh.encode_score(1, 2), b"new"])]
    assert b.last_effects("GEOADD", "Sicily", "1", "2", "new") == []  # nothing changed
    assert b.last_effects("GEORADIUS", "Sicily", "15", "37", "200", "km") == []
    argv = ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d"]
    assert b.last_effects(*argv) == [(0, [a.encode() for a in argv])]
    argv = ["GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"]
    assert b.last_effects(*argv) == [(0, [a.encode() for a in argv])]  # deleted d
    assert b.last_effects(*argv) == []  # nothing to delete any more


def test_undo(b: Box) -> None:
    b("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d")
    for argv in (
        ("GEOADD", "Sicily", "1", "2", "a", "3", "4", "Palermo"),
        ("GEOADD", "fresh", "1", "2", "a"),
        ("GEOADD", "Sicily", "1", "2", "b", "300", "4", "bad"),
        ("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d"),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ("GEOSEARCHSTORE", "new", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ):
        b.undone(*argv)


def test_command_info() -> None:
    b = Box()
    info = b("COMMAND", "INFO", "georadius", "geosearchstore", "geoadd")
    assert info[0][:6] == [b"georadius", -6, OrderedSet(["write", "denyoom", "movablekeys"]), 1, 1, 1]
    assert info[1][:6] == [b"geosearchstore", -8, OrderedSet(["write", "denyoom"]), 1, 2, 1]
    assert info[2][6] == OrderedSet(["@write", "@geo", "@slow"])
    assert b("COMMAND", "GETKEYS", "georadius", "k", "1", "1", "1", "km", "store", "a", "storedist", "b") == [b"k", b"a", b"b"]
