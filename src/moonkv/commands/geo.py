"""GEO commands: positions kept as sorted set scores (see :mod:`moonkv.keyspace.geohash`).

GEOADD is ZADD with computed scores and propagates as that ZADD (as Redis
does); GEORADIUS ... STORE and GEOSEARCHSTORE propagate as themselves
(their result depends only on the data).  Searches visit the same nine grid
cells in the same order as Redis and sort the same way (a stable sort, or
Redis's partial quicksort when COUNT cuts the result), so replies, including
the order of ties and of COUNT ANY, match byte for byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from moonkv.commands._util import parse_int
from moonkv.commands.table import KeySpec, command, keys, lookup
from moonkv.engine import Client
from moonkv.errors import RespError, not_float, syntax_error
from moonkv.keyspace import geohash as gh
from moonkv.keyspace.events import GENERIC, ZSET
from moonkv.keyspace.types import _limits
from moonkv.keyspace.types.zset import ZSet
from moonkv.protocol import NULL_ARRAY, RawReply

_G = "geo"

# Search flags (which command is parsing).
_COORDS = 1  # GEORADIUS[_RO]: centre given as lon lat
_MEMBER = 2  # GEORADIUSBYMEMBER[_RO]: centre given as a member
_NOSTORE = 4  # the _RO variants
_SEARCH = 8  # GEOSEARCH
_SEARCHSTORE = 16  # GEOSEARCHSTORE

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


# -- argument parsing -------------------------------------------------------------------


def _opt(b: bytes) -> bytes:
    """An option word as strcasecmp sees it (up to the first NUL, any case)."""
    if b"\0" in b:
        b = b[: b.index(b"\0")]
    return b.lower()


_DEC = re.compile(rb"[+-]?(\d*)\.?(\d*)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP][+-]?\d+)?")
_INF = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _double(b: bytes, err: str | None = None) -> float:
    """A double exactly as Redis's string2d (strtod over the whole argument,
    no leading space, no NaN, overflow and underflow to zero rejected)."""
    if not b.translate(None, b"0123456789.eE+-"):
        # Plain decimal text: Python and strtod read it alike; only range errors differ.
        try:
            v = float(b)
            if v != 0.0 and v - v == 0.0:
                return v
        except ValueError:
            pass
    try:
        if not b or b[0] in b" \t\n\r\v\f":
            raise ValueError
        m = _DEC.fullmatch(b)
        if m is not None and (m.group(1) or m.group(2)):
            v = float(b)
            if (math.isinf(v)) or (v == 0.0 and (m.group(1) + m.group(2)).strip(b"0")):
                raise ValueError  # ERANGE
            return v
        m = _HEX.fullmatch(b)
        if m is not None and (m.group(1) or m.group(2)):
            text = b.decode("ascii")
            if b"p" not in b.lower():
                text += "p0"
            v = float.fromhex(text)
            if v == 0.0 and (m.group(1) + m.group(2)).strip(b"0"):
                raise ValueError
            return v
        if _INF.fullmatch(b):
            return float(b)
        raise ValueError
    except (ValueError, OverflowError):
        raise RespError(err) if err else not_float() from None


def _lonlat(blon: bytes, blat: bytes) -> tuple[float, float]:
    lon = _double(blon)
    lat = _double(blat)
    if not gh.valid_lonlat(lon, lat):
        raise RespError(f"invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(b: bytes) -> float:
    u = _UNITS.get(_opt(b))
    if u is None:
        raise RespError("unsupported unit provided. please use M, KM, FT, MI")
    return u


def _radius(bdist: bytes, bunit: bytes) -> tuple[float, float]:
    """(radius, unit conversion to meters)."""
    d = _double(bdist, "need numeric radius")
    if d < 0:
        raise RespError("radius cannot be negative")
    return d, _unit(bunit)


def _box(bw: bytes, bh: bytes, bunit: bytes) -> tuple[float, float, float]:
    """(width, height, unit conversion to meters)."""
    w = _double(bw, "need numeric width")
    h = _double(bh, "need numeric height")
    if h < 0 or w < 0:
        raise RespError("height or width cannot be negative")
    return w, h, _unit(bunit)


# -- replies ----------------------------------------------------------------------------


def _read(c: Client, key: bytes) -> ZSet | None:
    return c.db.read_typed(key, ZSet)  # type: ignore[no-any-return]


def _coord(c: Client, x: float) -> object:
    """A coordinate as Redis's addReplyHumanLongDouble: a bulk string in RESP2,
    a double with the same text in RESP3."""
    text = gh.human_double(x)
    if c.resp == 3:
        if c.in_script:
            return float(text)
        return RawReply(b",%s\r\n" % text)
    return text


def _pos(c: Client, score: float) -> list[object]:
    lon, lat = gh.decode_score(score)
    return [_coord(c, lon), _coord(c, lat)]


# -- GEOADD / GEODIST / GEOHASH / GEOPOS --------------------------------------------------


@command("geoadd", -5, "write denyoom", keys=keys(1, flags="RW UPDATE"), group=_G, acl="geo",
         since="3.2.0", summary="Add one or more geospatial items in the geospatial index represented using a sorted set",
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.")
def geoadd(c: Client, argv: list[bytes]) -> object:
    n = len(argv)
    i = 2
    nx = xx = False
    opts: list[bytes] = []
    while i < n:
        o = _opt(argv[i])
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o != b"ch":
            break
        opts.append(o)
        i += 1
    if (n - i) % 3 or (nx and xx):
        raise syntax_error()
    zargv = [b"zadd", argv[1], *opts]
    for j in range(i, n, 3):
        lon, lat = _lonlat(argv[j], argv[j + 1])
        zargv.append(b"%d" % gh.encode_score(lon, lat))
        zargv.append(argv[j + 2])
    spec = lookup(b"zadd")
    assert spec is not None and spec.handler is not None
    ks = c.db.ks
    dirty = ks.dirty
    reply = spec.handler(c, zargv)
    if ks.dirty != dirty:
        c.server.emit(c.db.id, zargv)
    return reply


@command("geodist", -4, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo",
         since="3.2.0", summary="Returns the distance between two members of a geospatial index",
         complexity="O(log(N))")
def geodist(c: Client, argv: list[bytes]) -> object:
    to_m = 1.0
    if len(argv) == 5:
        to_m = _unit(argv[4])
    elif len(argv) > 5:
        raise syntax_error()
    z = _read(c, argv[1])
    if z is None:
        return None
    s1 = z.dict.get(argv[2])
    s2 = z.dict.get(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = gh.decode_score(s1)
    lon2, lat2 = gh.decode_score(s2)
    return b"%.4f" % (gh.distance(lon1, lat1, lon2, lat2) / to_m)


@command("geohash", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo",
         since="3.2.0", summary="Returns members of a geospatial index as standard geohash strings",
         complexity="O(log(N)) for each member requested, where N is the number of elements in the sorted set.")
def geohash(c: Client, argv: list[bytes]) -> object:
    z = _read(c, argv[1])
    d = z.dict if z is not None else {}
    out: list[object] = []
    for m in argv[2:]:
        s = d.get(m)
        out.append(None if s is None else gh.geohash_string(s))
    return out


@command("geopos", -2, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo",
         since="3.2.0", summary="Returns longitude and latitude of members of a geospatial index",
         complexity="O(N) where N is the number of members requested.")
def geopos(c: Client, argv: list[bytes]) -> object:
    z = _read(c, argv[1])
    d = z.dict if z is not None else {}
    out: list[object] = []
    for m in argv[2:]:
        s = d.get(m)
        out.append(NULL_ARRAY if s is None else _pos(c, s))
    return out


# -- searching --------------------------------------------------------------------------


class _Shape:
    __slots__ = ("lon", "lat", "box", "radius", "width", "height", "conversion")

    def __init__(self) -> None:
        self.lon = self.lat = 0.0
        self.box = False
        self.radius = self.width = self.height = 0.0
        self.conversion = 1.0


# One match: [distance in meters, score, member, lon, lat]
_Point = list[Any]


def _collect(z: ZSet, shape: _Shape, limit: int) -> list[_Point]:
    """Members inside the shape, visiting the cells as Redis does (``limit`` > 0
    stops once that many were found)."""
    conv = shape.conversion
    clon, clat = shape.lon, shape.lat
    if shape.box:
        half_w = conv * (shape.width / 2)
        half_h = conv * (shape.height / 2)
        w2 = shape.width / 2
        h2 = shape.height / 2
        radius_m = math.sqrt(w2 * w2 + h2 * h2) * conv
        width_m = shape.width * conv
        height_m = shape.height * conv
    else:
        half_w = half_h = conv * shape.radius
        radius_m = shape.radius * conv
        width_m = height_m = 0.0
    bounds = gh.bounding_box(clon, clat, half_w, half_h)
    cells = gh.search_cells(clon, clat, radius_m, bounds)
    sl = z.sl
    decode = gh.decode_score
    dist = gh.distance
    in_box = gh.in_box
    box = shape.box
    out: list[_Point] = []
    last = 0
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if last and cell == cells[last]:
            continue  # huge areas: a neighbour may repeat the previous cell
        if out and limit and len(out) >= limit:
            break
        lo, hi = gh.cell_range(cell)
        for score, member in sl.islice(sl.bisect_left((lo,))):
            if score >= hi:
                break
            lon, lat = decode(score)
            if box:
                d = in_box(width_m, height_m, clon, clat, lon, lat)
                if d is None:
                    continue
            else:
                d = dist(clon, clat, lon, lat)
                if d > radius_m:
                    continue
            out.append([d, score, member, lon, lat])
            if limit and len(out) >= limit:
                break
        last = i
    return out


def _asc(a: _Point, b: _Point) -> int:
    da, db = a[0], b[0]
    if da > db:
        return 1
    if da == db:
        return 0
    return -1


def _desc(a: _Point, b: _Point) -> int:
    return -_asc(a, b)


def _pqsort(v: list[_Point], cmp: Callable[[_Point, _Point], int], left: int, right: int) -> None:
    """Redis's partial quicksort (pqsort.c, a Bentley-McIlroy quicksort that only
    recurses into partitions overlapping [left, right]): same comparisons and
    swaps, so ties come out in the same order as in Redis."""

    def med3(x: int, y: int, z: int) -> int:
        if cmp(v[x], v[y]) < 0:
            if cmp(v[y], v[z]) < 0:
                return y
            return z if cmp(v[x], v[z]) < 0 else x
        if cmp(v[y], v[z]) > 0:
            return y
        return x if cmp(v[x], v[z]) < 0 else z

    def vecswap(x: int, y: int, k: int) -> None:
        for t in range(k):
            v[x + t], v[y + t] = v[y + t], v[x + t]

    def sort(a: int, n: int) -> None:
        while True:
            if n < 7:
                for pm in range(a + 1, a + n):
                    pl = pm
                    while pl > a and cmp(v[pl - 1], v[pl]) > 0:
                        v[pl], v[pl - 1] = v[pl - 1], v[pl]
                        pl -= 1
                return
            pm = a + n // 2
            if n > 7:
                pl = a
                pn = a + n - 1
                if n > 40:
                    d = n // 8
                    pl = med3(pl, pl + d, pl + 2 * d)
                    pm = med3(pm - d, pm, pm + d)
                    pn = med3(pn - 2 * d, pn - d, pn)
                pm = med3(pl, pm, pn)
            v[a], v[pm] = v[pm], v[a]
            pa = pb = a + 1
            pc = pd = a + n - 1
            while True:
                while pb <= pc:
                    r = cmp(v[pb], v[a])
                    if r > 0:
                        break
                    if r == 0:
                        v[pa], v[pb] = v[pb], v[pa]
                        pa += 1
                    pb += 1
                while pb <= pc:
                    r = cmp(v[pc], v[a])
                    if r < 0:
                        break
                    if r == 0:
                        v[pc], v[pd] = v[pd], v[pc]
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                v[pb], v[pc] = v[pc], v[pb]
                pb += 1
                pc -= 1
            pn = a + n
            r = min(pa - a, pb - pa)
            vecswap(a, pb - r, r)
            r = min(pd - pc, pn - pd - 1)
            vecswap(pb, pn - r, r)
            r = pb - pa
            if r > 1 and a <= right and left < a + r:
                sort(a, r)
            r = pd - pc
            if r <= 1:
                return
            a = pn - r
            n = r
            if not (a <= right and left < a + n):
                return

    sort(0, len(v))


def _georadius(c: Client, argv: list[bytes], src: int, flags: int) -> object:
    db = c.db
    z = _read(c, argv[src])
    shape = _Shape()
    storekey: bytes | None = None
    storedist = False
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.conversion = _radius(argv[4], argv[5])
    elif flags & _MEMBER and z is None:
        base = 5
    elif flags & _MEMBER:
        base = 5
        s = z.dict.get(argv[2]) if z is not None else None
        if s is None:
            raise RespError("could not decode requested zset member")
        shape.lon, shape.lat = gh.decode_score(s)
        shape.radius, shape.conversion = _radius(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            storekey = argv[1]

    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = 0  # 0 none, 1 asc, -1 desc
    any_ = False
    count = 0
    n = len(argv)
    i = base
    search = bool(flags & _SEARCH)
    while i < n:
        arg = _opt(argv[i])
        left = n - i - 1  # arguments after this one
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = 1
        elif arg == b"desc":
            sort = -1
        elif arg == b"count" and left >= 1:
            count = parse_int(argv[i + 1])
            if count <= 0:
                raise RespError("COUNT must be > 0")
            i += 1
        elif (arg == b"store" or arg == b"storedist") and left >= 1 and not flags & (_NOSTORE | _SEARCH):
            storekey = argv[i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and search and flags & _SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and left >= 1 and search and not fromloc:
            if z is not None:
                s = z.dict.get(argv[i + 1])
                if s is None:
                    raise RespError("could not decode requested zset member")
                shape.lon, shape.lat = gh.decode_score(s)
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and left >= 2 and search and not frommember:
            shape.lon, shape.lat = _lonlat(argv[i + 1], argv[i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and left >= 2 and search and not bybox:
            shape.radius, shape.conversion = _radius(argv[i + 1], argv[i + 2])
            shape.box = False
            byradius = True
            i += 2
        elif arg == b"bybox" and left >= 3 and search and not byradius:
            shape.width, shape.height, shape.conversion = _box(argv[i + 1], argv[i + 2], argv[i + 3])
            shape.box = True
            bybox = True
            i += 3
        else:
            raise syntax_error()
        i += 1

    if storekey is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise RespError(f"{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = argv[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc):
        raise RespError(f"exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if search and not (byradius or bybox):
        raise RespError(f"exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise RespError("the ANY argument requires COUNT argument")

    if z is None:
        if storekey is not None:
            if db.delete(storekey):
                db.notify(GENERIC, b"del", storekey)
            return 0
        return []

    if count and not sort and not any_:
        sort = 1
    found = _collect(z, shape, count if any_ else 0)
    if not found and storekey is None:
        return []
    total = len(found)
    returned = total if (count == 0 or total < count) else count
    if sort:
        if returned == total:
            found.sort(key=lambda p: p[0], reverse=sort < 0)
        else:
            _pqsort(found, _asc if sort > 0 else _desc, 0, returned - 1)
    conv = shape.conversion

    if storekey is None:
        if not (withdist or withhash or withcoord):
            return [found[k][2] for k in range(returned)]
        out: list[object] = []
        for k in range(returned):
            p = found[k]
            item: list[object] = [p[2]]
            if withdist:
                item.append(b"%.4f" % (p[0] / conv))
            if withhash:
                item.append(gh.to_i64(p[1]))
            if withcoord:
                item.append([_coord(c, p[3]), _coord(c, p[4])])
            out.append(item)
        return out

    if returned:
        pairs = [(p[2], p[0] / conv if storedist else p[1]) for p in found[:returned]]
        _limits.bind(c.server.config)
        db.set(storekey, ZSet.from_pairs(pairs))
        db.notify(ZSET, b"geosearchstore" if search else b"georadiusstore", storekey)
    elif db.delete(storekey):
        db.notify(GENERIC, b"del", storekey)
    return returned


_SEARCH_COMPLEXITY = (
    "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area "
    "delimited by center and radius and M is the number of items inside the index."
)


def _store_keys(start: int) -> tuple[KeySpec, ...]:
    return keys(1, flags="RO ACCESS") + (
        KeySpec(keyword=b"store", startfrom=start, flags=("OW", "UPDATE")),
        KeySpec(keyword=b"storedist", startfrom=start, flags=("OW", "UPDATE")),
    )


@command("georadius", -6, "write denyoom", keys=_store_keys(6), group=_G, acl="geo", since="3.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
         complexity=_SEARCH_COMPLEXITY)
def georadius(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 1, _COORDS)


@command("georadius_ro", -6, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo", since="3.2.10",
         summary="A read-only variant for GEORADIUS", complexity=_SEARCH_COMPLEXITY)
def georadius_ro(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 1, _COORDS | _NOSTORE)


@command("georadiusbymember", -5, "write denyoom", keys=_store_keys(5), group=_G, acl="geo", since="3.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
         complexity="O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.")
def georadiusbymember(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 1, _MEMBER)


@command("georadiusbymember_ro", -5, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo",
         since="3.2.10", summary="A read-only variant for GEORADIUSBYMEMBER", complexity=_SEARCH_COMPLEXITY)
def georadiusbymember_ro(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 1, _MEMBER | _NOSTORE)


@command("geosearch", -7, "readonly", keys=keys(1, flags="RO ACCESS"), group=_G, acl="geo", since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
         complexity="O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape")
def geosearch(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 1, _SEARCH)


@command("geosearchstore", -8, "write denyoom", keys=keys(1, flags="OW UPDATE") + keys(2, flags="RO ACCESS"),
         group=_G, acl="geo", since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
         complexity="O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape")
def geosearchstore(c: Client, argv: list[bytes]) -> object:
    return _georadius(c, argv, 2, _SEARCH | _SEARCHSTORE)
