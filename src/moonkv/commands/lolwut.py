"""LOLWUT [VERSION v] [...]: computer art and the Redis version, as Redis 7.0 draws it.

Version 5 draws Georg Nees's *Schotter* in braille characters, version 6 a city skyline in
the terminal's four grays; any other version (and LOLWUT without VERSION, which is Redis
7.0's own) prints only ``Redis ver. 7.0.15``.  The drawings use Redis's geometry, including
its single-precision arithmetic, so what is not random comes out byte for byte as Redis's;
the randomness (the tilt of Schotter's lower rows, the skyline) comes from Python's
``random`` instead of the C library's ``rand()``.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Final

from moonkv import REDIS_VERSION
from moonkv.commands._util import parse_int
from moonkv.commands.table import command
from moonkv.engine import Client
from moonkv.protocol import Verbatim

_F32: Final = struct.Struct("f")
_BRAILLE: Final = tuple(chr(0x2800 + bits).encode() for bits in range(256))
# LOLWUT 6's colors: black, the two grays, white; foreground and background both set.
_CELLS: Final = tuple(b"\x1b[%s \x1b[0m" % esc for esc in (b"0;30;40m", b"0;90;100m", b"0;37;47m",
                                                          b"0;97;107m"))


def _f32(v: float) -> float:
    """v rounded to single precision (C's float)."""
    return float(_F32.unpack(_F32.pack(v))[0])


def _c_round(v: float) -> int:
    """C's round(): halves away from zero."""
    a = abs(v)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return int(r if v >= 0 else -r)


def _clamp(v: int, hi: int) -> int:
    return 1 if v < 1 else hi if v > hi else v


class _Dots:
    """A sparse black-and-white canvas: the lit pixels, by row (Schotter lights few)."""

    __slots__ = ("height", "rows", "width")

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.rows: dict[int, set[int]] = {}

    def line(self, x1: int, y1: int, x2: int, y2: int) -> None:
        """Bresenham's line, both ends included (pixels off the canvas are dropped)."""
        width, height, rows = self.width, self.height, self.rows
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            if 0 <= x1 < width and 0 <= y1 < height:
                row = rows.get(y1)
                if row is None:
                    row = rows[y1] = set()
                row.add(x1)
            if x1 == x2 and y1 == y2:
                return
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def square(self, x: int, y: int, side: float, angle: float) -> None:
        """A square centred on x,y, its corners on the circle that holds it, turned by angle."""
        size = _f32(_c_round(_f32(side / 1.4142135623)))
        k = _f32(math.pi / 4 + angle)
        px, py = [], []
        for _ in range(4):
            px.append(_c_round(math.sin(k) * size + x))
            py.append(_c_round(math.cos(k) * size + y))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4])

    def braille(self) -> bytes:
        """Each 2x4 block of pixels as one braille character, rows of blocks on lines."""
        blank = _BRAILLE[0]
        ncells = (self.width + 1) // 2
        out = []
        for y in range(0, self.height, 4):
            cells: dict[int, int] = {}
            for i in range(4):
                row = self.rows.get(y + i)
                if row:
                    # Braille dots 1 2 3 7 run down a cell's left column, 4 5 6 8 its right.
                    left, right = (1, 2, 4, 64)[i], (8, 16, 32, 128)[i]
                    for x in row:
                        cells[x >> 1] = cells.get(x >> 1, 0) | (right if x & 1 else left)
            at = 0
            for cell in sorted(cells):
                out.append(blank * (cell - at))
                out.append(_BRAILLE[cells[cell]])
                at = cell + 1
            out.append(blank * (ncells - at))
            if y != self.height - 1:
                out.append(b"\n")
        return b"".join(out)


def schotter(cols: int, per_row: int, per_col: int) -> bytes:
    """Georg Nees's Schotter: per_row x per_col squares, tilted and shifted more and more
    (at random) from the third row down, on a canvas cols characters wide."""
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32(float(width - padding * 2) / per_row)
    dots = _Dots(width, int(_f32(_f32(side * per_col) + padding * 2)))
    half = _f32(side / 2)
    centres = [int(_f32(_f32(_f32(i * side) + half) + padding)) for i in range(max(per_row, per_col))]
    for y in range(per_col):
        for x in range(per_row):
            sx, sy = centres[x], centres[y]
            angle = 0.0
            if y > 1:
                r1, r2, r3 = (_f32(_f32(_f32(random.random()) / per_col) * y) for _ in range(3))
                r1, r2, r3 = (r if random.getrandbits(1) else -r for r in (r1, r2, r3))
                angle = r1
                sx = int(_f32(sx + _f32(_f32(r2 * side) / 3)))
                sy = int(_f32(sy + _f32(_f32(r3 * side) / 3)))
            dots.square(sx, sy, side, angle)
    return dots.braille()


def _skyscraper(canvas: bytearray, width: int, height: int, xoff: int, w: int, h: int,
                color: int, windows: bool) -> None:
    """One building from the ground up, its roof two pixels narrower on each side; with
    windows, two pixels wide and one tall, each a random gray (the wall is black)."""
    starty = height - 1
    endy = starty - h + 1
    for y in range(starty, endy - 1, -1):
        base = y * width
        lo, hi = (xoff + 2, xoff + w - 2) if y == endy else (xoff, xoff + w)
        lo, hi = max(lo, 0), min(hi, width)
        if lo < hi:
            canvas[base + lo:base + hi] = bytes((color,)) * (hi - lo)
        if windows and endy + 1 < y < starty - 1 and (y - endy - 1) % 2:
            for x in range(max(xoff + 2, 0), min(xoff + w - 2, width)):
                relx = x - xoff - 1
                if (relx >> 1) & 1:
                    # The right pixel of a window takes the left one's color.
                    if relx & 1:
                        canvas[base + x] = canvas[base + x - 1] if x > 0 else 0
                    else:
                        canvas[base + x] = random.choice((1, 2))


def skyline(cols: int, rows: int) -> bytes:
    """A city skyline after the parallax backgrounds of 8-bit games: two rows of plain
    buildings in the grays (the lighter behind), then black ones with lit windows."""
    canvas = bytearray([3]) * (cols * rows)
    for color in (2, 1):
        offset = -10
        while offset < cols:
            offset += random.randrange(8)
            w = 10 + random.randrange(9)
            h = rows // 2 + random.randrange(rows) // (2 if color == 2 else 3)
            _skyscraper(canvas, cols, rows, offset, w, h, color, False)
            offset += w // 2 if color == 2 else w + 1
    offset = -10
    while offset < cols:
        offset += random.randrange(8)
        w = 5 + random.randrange(14)
        if w % 4:
            w += w % 3
        h = rows // 3 + random.randrange(rows) // 2
        _skyscraper(canvas, cols, rows, offset, w, h, 0, True)
        offset += w + 5
    lines = [b"".join([_CELLS[p] for p in canvas[y * cols:(y + 1) * cols]]) for y in range(rows)]
    return b"\n".join(lines)


@command("lolwut", -1, "readonly fast", group="server", since="5.0.0",
         summary="Displays computer art and the Redis version")
def lolwut(c: Client, argv: list[bytes]) -> object:
    version = 0
    if len(argv) >= 3 and argv[1].lower() == b"version":
        version = parse_int(argv[2]) & 0xFFFFFFFF  # Redis formats it as an unsigned int
        argv = argv[2:]
    ver = REDIS_VERSION.encode()
    if version == 5:
        nums = [parse_int(a) for a in argv[1:4]]
        cols, per_row, per_col = nums + [66, 8, 12][len(nums):]
        art = schotter(_clamp(cols, 1000), _clamp(per_row, 200), _clamp(per_col, 200))
        return Verbatim(art + b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. "
                        + ver + b"\n")
    if version == 6:
        nums = [parse_int(a) for a in argv[1:3]]
        cols, rows = nums + [80, 20][len(nums):]
        art = skyline(_clamp(cols, 1000), _clamp(rows, 1000))
        return Verbatim(art + b"\nDedicated to the 8 bit game developers of past and present.\n"
                        b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. "
                        + ver + b"\n")
    return Verbatim(b"Redis ver. " + ver + b"\n")
