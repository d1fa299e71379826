"""GEO commands against a real redis-server: every reply compared byte for byte.

Covers argument parsing and error texts (RESP2 and RESP3), degenerate
coordinates and scores, and seeded random searches (radius and box, around
the poles and the antimeridian, ASC/DESC, COUNT, COUNT ANY, duplicate
positions whose ties must come out in Redis's order, STORE/STOREDIST).
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import Differ

SICILY = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")


def _proto(diff: Differ, proto: str) -> None:
    diff.both("HELLO", proto)  # the client ids differ


@pytest.mark.parametrize("proto", ["2", "3"])
def test_basic_replies(diff: Differ, proto: str) -> None:
    _proto(diff, proto)
    diff("GEOADD", "k", *SICILY)
    diff("GEOADD", "k", *SICILY)
    diff("GEOADD", "k", "CH", "13", "38", "Palermo", "1", "2", "x")
    diff("GEOADD", "k", "NX", "CH", "1", "2", "Palermo", "3", "4", "new")
    diff("GEOADD", "k", "XX", "CH", "13.361389", "38.115556", "Palermo", "3", "4", "new2")
    diff("ZRANGE", "k", "0", "-1", "WITHSCORES")
    diff("GEOADD", "k", "-180", "-85.05112878", "sw", "180", "85.05112878", "ne", "-180", "85.05112878", "nw",
         "180", "-85.05112878", "se", "0", "0", "zero", "0x10", "1e-310", "hex")
    members = ("Palermo", "Catania", "sw", "ne", "nw", "se", "zero", "hex", "nope")
    diff("GEOPOS", "k", *members)
    diff("GEOHASH", "k", *members)
    diff("GEOPOS", "nokey", "a", "b")
    diff("GEOHASH", "nokey", "a")
    for a, b in (("Palermo", "Catania"), ("sw", "ne"), ("nw", "ne"), ("zero", "zero"), ("sw", "se"), ("a", "b")):
        for unit in ((), ("m",), ("KM",), ("ft",), ("Mi",)):
            diff("GEODIST", "k", a, b, *unit)
    diff("GEODIST", "nokey", "a", "b")
    diff("GEORADIUS", "k", "15", "37", "200", "km", "WITHCOORD", "WITHDIST", "WITHHASH", "ASC")
    diff("GEOSEARCH", "k", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km", "WITHCOORD", "DESC")
    diff("GEORADIUS", "k", "0", "0", "inf", "km", "WITHDIST", "ASC")
    diff("GEOSEARCH", "k", "FROMLONLAT", "0", "0", "BYBOX", "inf", "inf", "km", "WITHDIST", "ASC")
    diff("GEOSEARCH", "k", "FROMLONLAT", "0", "85", "BYBOX", "1e9", "10", "km", "WITHDIST", "ASC")
    diff("GEOSEARCH", "k", "FROMMEMBER", "sw", "BYRADIUS", "20000", "km", "WITHDIST", "ASC")
    diff("GEOSEARCH", "k", "FROMLONLAT", "180", "-85", "BYRADIUS", "0", "km", "WITHDIST")


def test_float_arguments(diff: Differ) -> None:
    diff("GEOADD", "k", *SICILY)
    for v in ("1e400", "1e-400", "0x10", "0x1p3", "0X.8P1", "nan", "inf", "-inf", "infinity", " 1", "1 ", "",
              "+1.5", "1e5", "1e-310", "1_0", "0x", "1e", ".5", "-.5e1", "abc", "\x001", "1\x00", "0x1p-2000"):
        diff("GEOADD", "v", v, "1", "m")
        diff("GEOADD", "v", "1", v, "m")
        diff("GEORADIUS", "k", "15", "37", v, "km")
        diff("GEOSEARCH", "k", "FROMLONLAT", "15", "37", "BYBOX", v, "1", "km")
        diff("GEOSEARCH", "k", "FROMLONLAT", "15", "37", "BYBOX", "1", v, "km")
        diff("GEORADIUS", "k", "15", "37", "100", "km", "COUNT", v)
    diff("ZRANGE", "v", "0", "-1", "WITHSCORES")


def test_errors(diff: Differ) -> None:
    diff("GEOADD", "k", *SICILY)
    diff("SET", "s", "x")
    for argv in (("GEOADD", "k"), ("GEOADD", "k", "1", "2"), ("GEODIST", "k", "a"), ("GEOHASH",), ("GEOPOS",),
                 ("GEORADIUS", "k", "1", "2", "3"), ("GEORADIUSBYMEMBER", "k", "a", "1"),
                 ("GEOSEARCH", "k", "a", "b", "c", "d"), ("GEOSEARCHSTORE", "a", "b", "c", "d", "e", "f"),
                 ("GEORADIUS_RO", "k"), ("GEORADIUSBYMEMBER_RO", "k"),
                 ("GEOADD", "k", "nx", "xx", "1", "2", "m"), ("GEOADD", "k", "ch", "ch", "ch"),
                 ("GEOADD", "k", "ch", "1", "2"), ("GEOADD", "k", "gt", "1", "2", "m"),
                 ("GEOADD", "k", "1", "2", "m", "200", "1", "m2"), ("GEOADD", "k", "180", "85.05112879", "m"),
                 ("GEOADD", "s", "1", "2", "m"), ("GEOADD", "s", "1", "200", "m"), ("GEOPOS", "s", "a"),
                 ("GEOHASH", "s", "a"), ("GEODIST", "s", "a", "b"), ("GEODIST", "k", "a", "b", "yd"),
                 ("GEODIST", "k", "a", "b", "km", "x"), ("GEODIST", "nokey", "a", "b", "yd"),
                 ("GEORADIUS", "k", "15", "37", "-1", "km"), ("GEORADIUS", "k", "15", "37", "1", "yd"),
                 ("GEORADIUS", "k", "15", "100", "1", "km"), ("GEORADIUS", "s", "15", "100", "1", "km"),
                 ("GEORADIUSBYMEMBER", "k", "nope", "1", "km"), ("GEORADIUSBYMEMBER", "k", "nope", "x", "km"),
                 ("GEORADIUSBYMEMBER", "k", "Palermo", "x", "km"), ("GEORADIUSBYMEMBER", "k", "Palermo", "1", "yd"),
                 ("GEORADIUSBYMEMBER", "nokey", "Palermo", "x", "yd"), ("GEORADIUSBYMEMBER", "s", "Palermo", "x", "yd")):
        diff(*argv)


RADIUS_OPTIONS = [
    ("COUNT", "0"), ("COUNT", "-1"), ("COUNT",), ("ANY",), ("COUNT", "1", "ANY"), ("ANY", "COUNT", "1"), ("STORE",),
    ("STORE", "d", "WITHDIST"), ("WITHHASH", "STOREDIST", "d"), ("WITHCOORD", "STORE", "d"), ("foo",), ("ASC", "DESC"),
    ("DESC", "ASC"), ("STORE", "d", "STOREDIST", "d2"), ("FROMLONLAT", "1", "2"), ("BYRADIUS", "1", "km"),
    ("withdist", "WithHash", "withcoord"), ("count", "1\x00"), ("count\x00x", "2"), ("STORE", "d"), ("STOREDIST", "d"),
    ("COUNT", "1", "STORE", "d"), ("COUNT", "99999999999999999999"),
]


@pytest.mark.parametrize("opts", RADIUS_OPTIONS)
def test_radius_options(diff: Differ, opts: tuple[str, ...]) -> None:
    diff("GEOADD", "k", *SICILY)
    for argv in (("GEORADIUS", "k", "15", "37", "200", "km"), ("GEORADIUS_RO", "k", "15", "37", "200", "km"),
                 ("GEORADIUSBYMEMBER", "k", "Palermo", "200", "km"),
                 ("GEORADIUSBYMEMBER_RO", "k", "Palermo", "200", "km"),
                 ("GEORADIUSBYMEMBER", "nokey", "Palermo", "200", "km"), ("GEORADIUS", "nokey", "15", "37", "200", "km")):
        diff(*argv, *opts)
        diff("ZRANGE", "d", "0", "-1", "WITHSCORES")
        diff("ZRANGE", "d2", "0", "-1", "WITHSCORES")


SEARCH_OPTIONS = [
    ("FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
    ("FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"),
    ("FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "200", "km"),
    ("FROMLONLAT", "15", "37", "FROMLONLAT", "13", "38", "BYRADIUS", "200", "km"),
    ("FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", "BYRADIUS", "300", "km"),
    ("FROMMEMBER", "Palermo", "BYBOX", "1", "1", "km", "BYBOX", "300", "300", "km"),
    ("FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", "BYBOX", "3", "3", "km"),
    ("FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
    ("FROMMEMBER", "Palermo", "BYRADIUS", "1"),
    ("FROMMEMBER", "Palermo", "BYBOX", "1", "1"),
    ("FROMMEMBER", "Palermo", "BYBOX", "-1", "1", "m"),
    ("FROMMEMBER", "Palermo", "BYBOX", "x", "-1", "m"),
    ("FROMMEMBER", "Palermo", "BYBOX", "1", "1", "yd"),
    ("FROMMEMBER", "Palermo", "BYRADIUS", "-1", "yd"),
    ("FROMLONLAT", "15", "37"),
    ("BYRADIUS", "1", "km"),
    ("ASC", "COUNT", "1"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "x"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "ANY", "WITHCOORD"),
    ("FROMLONLAT", "200", "37", "BYRADIUS", "200", "km"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "DESC", "WITHDIST", "WITHHASH"),
    ("FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST", "WITHDIST"),
    ("FROMMEMBER",), ("FROMLONLAT", "1"), ("BYBOX", "1", "2"),
]


@pytest.mark.parametrize("opts", SEARCH_OPTIONS)
def test_search_options(diff: Differ, opts: tuple[str, ...]) -> None:
    diff("GEOADD", "k", *SICILY)
    diff("SET", "s", "x")
    for argv in (("GEOSEARCH", "k"), ("GeoSearch", "nokey"), ("GEOSEARCH", "s"), ("GeoSearchStore", "d", "k"),
                 ("GEOSEARCHSTORE", "d", "nokey")):
        diff(*argv, *opts)
        diff("ZRANGE", "d", "0", "-1", "WITHSCORES")


def test_store_destination(diff: Differ) -> None:
    diff("GEOADD", "k", *SICILY)
    diff("SET", "d", "str")
    diff("GEOSEARCHSTORE", "d", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")
    diff("EXISTS", "d")
    diff("SET", "d", "str")
    diff("GEOSEARCHSTORE", "d", "k", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST")
    diff("ZRANGE", "d", "0", "-1", "WITHSCORES")
    diff("GEOSEARCHSTORE", "d", "k", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m")
    diff("EXISTS", "d")
    diff("GEORADIUS", "k", "15", "37", "200", "km", "STORE", "k")
    diff("ZRANGE", "k", "0", "-1", "WITHSCORES")
    diff("GEOADD", "k", "15", "37", "x" * 100)
    diff("GEORADIUS", "k", "15", "37", "200", "km", "STORE", "big")
    diff("OBJECT", "ENCODING", "big")
    diff("GEORADIUS", "k", "15", "37", "200", "km", "STORE", "small", "COUNT", "2")
    diff("OBJECT", "ENCODING", "small")


def test_non_geo_scores(diff: Differ) -> None:
    diff("ZADD", "w", "-1", "neg", "1.5", "frac", "1e20", "huge", "inf", "pinf", "-inf", "ninf", "4503599627370496",
         "b52", "9007199254740993", "b53", "-1e30", "nhuge", "0", "z", "1e19", "b63", "1.8446744073709552e19", "b64")
    mem = ("neg", "frac", "huge", "pinf", "ninf", "b52", "b53", "nhuge", "z", "b63", "b64")
    diff("GEOPOS", "w", *mem)
    diff("GEOHASH", "w", *mem)
    for a in mem:
        diff("GEODIST", "w", a, "z")
        diff("GEORADIUSBYMEMBER", "w", a, "50000", "km", "WITHHASH", "WITHCOORD", "WITHDIST", "ASC")
    diff("GEORADIUS", "w", "0", "0", "inf", "km", "WITHHASH", "WITHDIST")


def test_scripts_and_multi(diff: Differ) -> None:
    diff("GEOADD", "k", *SICILY, "0.0000000001", "0.00000001", "tiny")
    diff("EVAL", "return redis.call('GEOPOS', KEYS[1], 'Palermo', 'nope', 'tiny')", "1", "k")
    diff("EVAL", "return redis.call('GEORADIUS', KEYS[1], 15, 37, 200, 'km', 'WITHCOORD', 'WITHDIST', 'WITHHASH')", "1", "k")
    diff("EVAL", "return redis.call('GEODIST', KEYS[1], 'Palermo', 'Catania')", "1", "k")
    diff("EVAL", "return redis.call('GEOADD', KEYS[1], 1, 2, 'x')", "1", "k")
    diff("EVAL_RO", "return redis.call('GEORADIUS', KEYS[1], 15, 37, 200, 'km')", "1", "k")
    diff("EVAL_RO", "return redis.call('GEORADIUS_RO', KEYS[1], 15, 37, 200, 'km')", "1", "k")
    diff("MULTI")
    diff("GEOPOS", "k", "Palermo")
    diff("GEOADD", "k", "1", "2", "y")
    diff("GEORADIUS", "k", "15", "37", "200", "km", "WITHCOORD")
    diff("EXEC")


def test_ties_follow_redis_order(diff: Differ) -> None:
    """Many members on a few positions: COUNT takes Redis's partial quicksort path."""
    rnd = random.Random(5)
    for _ in range(12):
        diff("FLUSHALL")
        npts = rnd.choice([7, 8, 12, 41, 45, 100, 300])
        locs = [(rnd.uniform(10, 10.01), rnd.uniform(20, 20.01)) for _ in range(rnd.choice([1, 2, 3, 10]))]
        args: list[str] = []
        for _j in range(npts):
            lon, lat = rnd.choice(locs)
            args += [repr(lon), repr(lat), f"{rnd.getrandbits(32):08x}"]
        diff("GEOADD", "k", *args)
        for cnt in (1, 2, 3, 6, 7, 8, 40, 41, 99):
            for order in ("ASC", "DESC"):
                diff("GEORADIUS", "k", "10.005", "20.005", "10", "km", "COUNT", str(cnt), order)
                diff("GEOSEARCH", "k", "FROMLONLAT", "10.005", "20.005", "BYBOX", "10", "10", "km", "COUNT", str(cnt),
                     order, "WITHDIST")


@pytest.mark.parametrize("seed", range(6))
def test_random_searches(diff: Differ, seed: int) -> None:
    rnd = random.Random(seed)
    units = {"m": 1, "km": 1000, "mi": 1609.34, "ft": 0.3048, "KM": 1000}
    for _ in range(4):
        diff("FLUSHALL")
        clon = rnd.uniform(-180, 180)
        clat = rnd.uniform(-84, 84)
        if rnd.random() < 0.3:
            clat = rnd.choice([rnd.uniform(60, 85.05), rnd.uniform(-85.05, -60)])
        spread = rnd.choice([0.01, 0.5, 3, 20, 90, 180])
        npts = rnd.choice([5, 50, 300, 1000])
        args: list[str] = []
        for j in range(npts):
            if j and rnd.random() < 0.2:
                lon, lat = float(args[-3]), float(args[-2])  # same position: distance ties
            else:
                lon = max(-180, min(180, clon + rnd.uniform(-spread, spread)))
                lat = max(-85.05112878, min(85.05112878, clat + rnd.uniform(-spread, spread)))
            args += [repr(lon), repr(lat), f"m{j}"]
        diff("GEOADD", "k", *args)
        for _q in range(12):
            unit = rnd.choice(list(units))
            rad = rnd.choice([0, 1, 100, 1000, 10000, 100000, 1000000, 5000000, 20000000]) * rnd.random() / units[unit]
            opts: list[str] = []
            if rnd.random() < 0.5:
                opts.append(rnd.choice(["ASC", "DESC"]))
            if rnd.random() < 0.5:
                opts += ["COUNT", str(rnd.choice([1, 2, 3, 5, 10, 50, 200]))]
                if rnd.random() < 0.4:
                    opts.append("ANY")
            withs = [w for w in ("WITHDIST", "WITHHASH", "WITHCOORD") if rnd.random() < 0.3]
            qlon = repr(max(-180, min(180, clon + rnd.uniform(-spread, spread))))
            qlat = repr(max(-85.05, min(85.05, clat + rnd.uniform(-spread, spread))))
            member = f"m{rnd.randrange(npts)}"
            k = rnd.random()
            if k < 0.25:
                diff("GEORADIUS", "k", qlon, qlat, repr(rad), unit, *opts, *withs)
            elif k < 0.4:
                diff("GEORADIUSBYMEMBER_RO", "k", member, repr(rad), unit, *opts, *withs)
            elif k < 0.7:
                w, h = repr(rad * rnd.uniform(0.2, 2)), repr(rad * rnd.uniform(0.2, 2))
                diff("GEOSEARCH", "k", "FROMLONLAT", qlon, qlat, "BYBOX", w, h, unit, *opts, *withs)
            elif k < 0.85:
                diff("GEOSEARCH", "k", "FROMMEMBER", member, "BYRADIUS", repr(rad), unit, *opts, *withs)
            else:
                store = ["STOREDIST"] if rnd.random() < 0.5 else []
                diff("GEOSEARCHSTORE", "d", "k", "FROMLONLAT", qlon, qlat, "BYRADIUS", repr(rad), unit, *opts, *store)
                diff("ZRANGE", "d", "0", "-1", "WITHSCORES")


def test_radius_boundary_same_longitude(diff: Differ) -> None:
    """A radius equal to the distance, on the same meridian: Redis uses the latitude-only
    shortcut there, which differs from the full haversine in the last bit."""
    from moonkv.keyspace import geohash as gh

    rnd = random.Random(3)
    for _ in range(300):
        score = gh.encode_score(rnd.uniform(-179, 179), rnd.uniform(-80, 80))
        lon, lat = gh.decode_score(float(score))
        clat = rnd.uniform(-80, 80)
        d = gh.distance(lon, clat, lon, lat)
        diff("ZADD", "t", str(score), "p")
        diff("GEORADIUS", "t", repr(lon), repr(clat), repr(d), "m")
        diff("GEORADIUS", "t", repr(lon), repr(clat), repr(d * (1 - 2**-52)), "m")
        diff("DEL", "t")
