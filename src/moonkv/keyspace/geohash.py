"""Geohash arithmetic for the GEO commands (pure functions, no keyspace access).

A position is stored as a sorted set score: the 52-bit interleave of the
latitude and longitude cells at step 26 (26 bits each), over the ranges
longitude [-180, 180] and latitude [-85.05112878, 85.05112878] (the Web
Mercator limits).  Latitude bits sit at the even bit positions and longitude
bits at the odd ones, so a score range is a rectangle of the grid.

Everything here is computed in IEEE doubles in the same order of operations
as Redis 7.0, so decoded coordinates, distances and the set of grid cells a
search visits (and therefore the results and their order) are the same.
"""

from __future__ import annotations

import math
from array import array

LON_MIN = -180.0
LON_MAX = 180.0
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
STEP_MAX = 26
EARTH_RADIUS = 6372797.560856  # meters
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0

_LAT_SCALE = LAT_MAX - LAT_MIN
_LON_SCALE = LON_MAX - LON_MIN
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_TWO63 = 2.0**63
_TWO64 = 2.0**64

# Search cells: (bits, step), or None for a cell excluded from the search.
Cell = tuple[int, int] | None


# -- bit interleaving ------------------------------------------------------------------


def _spread(v: int) -> int:
    """The 32 bits of ``v`` moved to the even bit positions of a 64-bit word."""
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


def _squash(v: int) -> int:
    """The even bits of a 64-bit word packed into 32 bits (inverse of :func:`_spread`)."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


# Lookup tables (built once, ~1 MB): a 16-bit value spread to the even bits of 32, and a
# 16-bit chunk of an interleaved hash split into its 8 even bits | its 8 odd bits << 32.
_E8 = [_squash(i) for i in range(256)]
_O8 = [_squash(i >> 1) for i in range(256)]
_S8 = [_spread(i) for i in range(256)]
_SPREAD16 = array("Q", [_S8[i & 255] | (_S8[i >> 8] << 16) for i in range(65536)])
_SPLIT16 = array(
    "Q",
    [
        (_E8[i & 255] | (_E8[i >> 8] << 4)) | ((_O8[i & 255] | (_O8[i >> 8] << 4)) << 32)
        for i in range(65536)
    ],
)
del _E8, _O8, _S8


def interleave(lat_cell: int, lon_cell: int) -> int:
    """Latitude cell bits at even positions, longitude cell bits at odd ones."""
    return _spread(lat_cell & _U32) | (_spread(lon_cell & _U32) << 1)


def deinterleave(bits: int) -> tuple[int, int]:
    """(latitude cell, longitude cell) of an interleaved hash."""
    return _squash(bits), _squash(bits >> 1)


# -- conversions that C does implicitly ---------------------------------------------------


def to_u64(x: float) -> int:
    """``(uint64_t)x`` as gcc compiles it on x86-64 (out of range gives the
    integer-indefinite pattern of cvttsd2si rather than trapping)."""
    if x < _TWO63:  # also NaN falls to cvttsd2si on the small path
        if x != x or x < -_TWO63:
            return 1 << 63
        return int(x) & _U64
    y = x - _TWO63
    if y < _TWO63:
        return int(y) ^ (1 << 63)
    return 0  # indefinite (1 << 63) with the high bit flipped back


def to_i64(x: float) -> int:
    """``(long long)x`` on x86-64 (cvttsd2si)."""
    if x != x or not (-_TWO63 <= x < _TWO63):
        return -(1 << 63)
    return int(x)


def _cos(x: float) -> float:
    try:
        return math.cos(x)
    except ValueError:
        return math.nan


def _sin(x: float) -> float:
    try:
        return math.sin(x)
    except ValueError:
        return math.nan


def _asin(x: float) -> float:
    try:
        return math.asin(x)
    except ValueError:
        return math.nan


def _sqrt(x: float) -> float:
    try:
        return math.sqrt(x)
    except ValueError:
        return math.nan


def _div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


# -- encode / decode --------------------------------------------------------------------


def valid_lonlat(lon: float, lat: float) -> bool:
    return LON_MIN <= lon <= LON_MAX and LAT_MIN <= lat <= LAT_MAX


def encode(
    lon: float,
    lat: float,
    step: int = STEP_MAX,
    lon_min: float = LON_MIN,
    lon_max: float = LON_MAX,
    lat_min: float = LAT_MIN,
    lat_max: float = LAT_MAX,
) -> int | None:
    """The interleaved cell of (lon, lat) at ``step`` bits per axis, or None
    outside the supported coordinates or the given ranges."""
    if not (LON_MIN <= lon <= LON_MAX and LAT_MIN <= lat <= LAT_MAX):
        return None
    if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
        return None
    lat_off = (lat - lat_min) / (lat_max - lat_min)
    lon_off = (lon - lon_min) / (lon_max - lon_min)
    scale = float(1 << step)
    lat_off *= scale
    lon_off *= scale
    return interleave(int(lat_off), int(lon_off))


def encode_score(lon: float, lat: float) -> int:
    """The 52-bit score GEOADD stores for a valid (lon, lat)."""
    a = int((lat - LAT_MIN) / _LAT_SCALE * 67108864.0) & _U32
    o = int((lon - LON_MIN) / _LON_SCALE * 67108864.0) & _U32
    t = _SPREAD16
    return (t[a & 0xFFFF] | (t[a >> 16] << 32)) | ((t[o & 0xFFFF] | (t[o >> 16] << 32)) << 1)


def decode_area(
    bits: int,
    step: int,
    lon_min: float = LON_MIN,
    lon_max: float = LON_MAX,
    lat_min: float = LAT_MIN,
    lat_max: float = LAT_MAX,
) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) of the cell ``bits`` at ``step``."""
    ilat, ilon = deinterleave(bits)
    div = float(1 << step)
    lat_scale = lat_max - lat_min
    lon_scale = lon_max - lon_min
    return (
        lon_min + (ilon / div) * lon_scale,
        lon_min + (((ilon + 1) & _U32) / div) * lon_scale,
        lat_min + (ilat / div) * lat_scale,
        lat_min + (((ilat + 1) & _U32) / div) * lat_scale,
    )


def decode_score(score: float) -> tuple[float, float]:
    """(lon, lat) at the centre of a score's cell, clamped to the valid ranges."""
    if 0.0 <= score < 4503599627370496.0:
        bits = int(score)
    else:
        bits = to_u64(score)
    t = _SPLIT16
    x = (
        t[bits & 0xFFFF]
        | (t[(bits >> 16) & 0xFFFF] << 8)
        | (t[(bits >> 32) & 0xFFFF] << 16)
        | (t[bits >> 48] << 24)
    )
    ilat = x & _U32
    ilon = x >> 32
    lon = (
        (LON_MIN + (ilon / 67108864.0) * _LON_SCALE)
        + (LON_MIN + (((ilon + 1) & _U32) / 67108864.0) * _LON_SCALE)
    ) / 2
    if lon > LON_MAX:
        lon = LON_MAX
    if lon < LON_MIN:
        lon = LON_MIN
    lat = (
        (LAT_MIN + (ilat / 67108864.0) * _LAT_SCALE)
        + (LAT_MIN + (((ilat + 1) & _U32) / 67108864.0) * _LAT_SCALE)
    ) / 2
    if lat > LAT_MAX:
        lat = LAT_MAX
    if lat < LAT_MIN:
        lat = LAT_MIN
    return lon, lat


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """The 11-character standard geohash (latitude range [-90, 90]) of a score."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, STEP_MAX, -180.0, 180.0, -90.0, 90.0) or 0
    out = bytearray(11)
    for i in range(10):
        out[i] = _ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F]
    out[10] = _ALPHABET[0]
    return bytes(out)


# -- distances --------------------------------------------------------------------------


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in meters, as Redis computes it."""
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    try:
        v = math.sin((lon2r - lon1r) / 2)
        if v == 0.0:
            return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)
        lat1r = lat1 * D_R
        lat2r = lat2 * D_R
        u = math.sin((lat2r - lat1r) / 2)
        return 2.0 * EARTH_RADIUS * math.asin(math.sqrt(u * u + math.cos(lat1r) * math.cos(lat2r) * v * v))
    except ValueError:  # C answers NaN where Python raises (inf input, asin(x > 1))
        return _distance_nan(lon1, lat1, lon2, lat2)


def _distance_nan(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * _asin(_sqrt(a))


def in_box(
    width_m: float, height_m: float, lon1: float, lat1: float, lon2: float, lat2: float
) -> float | None:
    """Distance from the box centre (lon1, lat1) to (lon2, lat2) if inside the box."""
    if lat_distance(lat2, lat1) > height_m / 2:
        return None
    if distance(lon2, lat2, lon1, lat2) > width_m / 2:
        return None
    return distance(lon1, lat1, lon2, lat2)


# -- search areas -----------------------------------------------------------------------


def bounding_box(lon: float, lat: float, half_width_m: float, half_height_m: float) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) around a search centre."""
    lat_delta = (half_height_m / EARTH_RADIUS) / D_R
    top = _div(_div(half_width_m / EARTH_RADIUS, _cos((lat + lat_delta) * D_R)), D_R)
    bottom = _div(_div(half_width_m / EARTH_RADIUS, _cos((lat - lat_delta) * D_R)), D_R)
    if lat < 0:
        return lon - bottom, lat - lat_delta, lon + bottom, lat + lat_delta
    return lon - top, lat - lat_delta, lon + top, lat + lat_delta


def estimate_steps(range_m: float, lat: float) -> int:
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(26, step))


def _move(bits: int, step: int, dx: int, dy: int) -> int:
    """The cell ``dx`` columns east and ``dy`` rows north (wrapping around)."""
    shift = 64 - step * 2
    x = bits & _ODD
    y = bits & _EVEN
    if dx:
        zz = _EVEN >> shift
        if dx > 0:
            x = x + (zz + 1)
        else:
            x = (x | zz) - (zz + 1)
        x &= _ODD >> shift
    if dy:
        zz = _ODD >> shift
        if dy > 0:
            y = y + (zz + 1)
        else:
            y = (y | zz) - (zz + 1)
        y &= _EVEN >> shift
    return x | y


# Order in which Redis visits the cells: centre, N, S, E, W, NE, NW, SE, SW.
_DIRS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def search_cells(lon: float, lat: float, radius_m: float, bounds: tuple[float, float, float, float]) -> list[Cell]:
    """The nine cells (centre first) a search around (lon, lat) visits.

    ``radius_m`` is the radius (or, for a box, half its diagonal) in meters;
    ``bounds`` comes from :func:`bounding_box`.  Cells that cannot hold a
    match are None.
    """
    min_lon, min_lat, max_lon, max_lat = bounds
    steps = estimate_steps(radius_m, lat)
    bits = encode(lon, lat, steps) or 0
    cells = [_move(bits, steps, dx, dy) for dx, dy in _DIRS]
    # N, S, E, W: if one of them does not reach past the search area, go one step coarser.
    north = decode_area(cells[0], steps)
    south = decode_area(cells[1], steps)
    east = decode_area(cells[2], steps)
    west = decode_area(cells[3], steps)
    if steps > 1 and (
        north[3] < max_lat or south[2] > min_lat or east[1] < max_lon or west[0] > min_lon
    ):
        steps -= 1
        bits = encode(lon, lat, steps) or 0
        cells = [_move(bits, steps, dx, dy) for dx, dy in _DIRS]
    out: list[Cell] = [(bits, steps)]
    out.extend((b, steps) for b in cells)
    if steps >= 2:
        a_lon_min, a_lon_max, a_lat_min, a_lat_max = decode_area(bits, steps)
        n, s, e, w, ne, nw, se, sw = 1, 2, 3, 4, 5, 6, 7, 8
        if a_lat_min < min_lat:
            out[s] = out[sw] = out[se] = None
        if a_lat_max > max_lat:
            out[n] = out[ne] = out[nw] = None
        if a_lon_min < min_lon:
            out[w] = out[sw] = out[nw] = None
        if a_lon_max > max_lon:
            out[e] = out[se] = out[ne] = None
    return out


def cell_range(cell: tuple[int, int]) -> tuple[int, int]:
    """[min, max) of the 52-bit scores inside a cell."""
    bits, step = cell
    shift = 52 - step * 2
    return bits << shift, (bits + 1) << shift


# -- reply formatting -------------------------------------------------------------------


def human_double(x: float) -> bytes:
    """Redis's human long double text (``%.17Lf`` without trailing zeros)."""
    if math.isinf(x):
        return b"inf" if x > 0 else b"-inf"
    s = b"%.17f" % x
    if b"." in s:
        s = s.rstrip(b"0")
        if s.endswith(b"."):
            s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s
