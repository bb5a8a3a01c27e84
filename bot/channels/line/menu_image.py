"""The rich menu's image, drawn with Pillow at LINE's full size (2500 x 1686 pixels).

Six tiles, three by two, each with its label in large Japanese type and a short
line under it. The type is Noto Sans CJK JP from Debian's `fonts-noto-cjk`
(`.ci/run` installs it); `RICHMENU_FONT` names another OpenType/TrueType file.
Nothing is downloaded; the same content draws the same PNG, byte for byte.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 2500, 1686     # LINE's large rich menu size
COLUMNS, ROWS = 3, 2
MAX_BYTES = 1024 * 1024         # LINE refuses a rich menu image over 1 MB
FONT_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
INK, PAPER, LINE_COLOR = "#1F2A24", "#FFFFFF", "#D5DBD7"


@dataclass(frozen=True)
class Tile:
    """One tappable area: its label, a short line under it, and its colours."""

    label: str
    note: str
    background: str = "#F3FAF5"
    ink: str = INK


class FontMissing(RuntimeError):
    """No font with Japanese glyphs was found: install fonts-noto-cjk or set RICHMENU_FONT."""


def find_font(override: str | None = None) -> Path:
    """The font file to draw with: RICHMENU_FONT if given, else Debian's Noto Sans CJK."""
    for candidate in ([override] if override else []) + list(FONT_PATHS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing("no Japanese font: apt-get install fonts-noto-cjk, or set RICHMENU_FONT "
                      f"to a font file (looked for {', '.join(FONT_PATHS)})")


def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """The Japanese face of a font file (index 0 of Noto's collection is JP)."""
    return ImageFont.truetype(str(path), size, index=0)


def bounds(index: int) -> tuple[int, int, int, int]:
    """x, y, width, height of tile `index`, left to right then top to bottom, covering all."""
    col, row = index % COLUMNS, index // COLUMNS
    x0, x1 = WIDTH * col // COLUMNS, WIDTH * (col + 1) // COLUMNS
    y0, y1 = HEIGHT * row // ROWS, HEIGHT * (row + 1) // ROWS
    return x0, y0, x1 - x0, y1 - y0


def _centered(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont,
              cx: float, cy: float, fill: str) -> None:
    draw.text((cx, cy), text, font=font, fill=fill, anchor="mm")


def _fitting(path: Path, text: str, size: int, width: int) -> ImageFont.FreeTypeFont:
    font = load_font(path, size)
    while font.getlength(text) > width and size > 20:
        size -= 4
        font = load_font(path, size)
    return font


def draw(tiles: list[Tile], font_path: Path) -> bytes:
    """The menu as PNG bytes: one tile per area, labels as large as their tile allows."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    ink = ImageDraw.Draw(image)
    width = bounds(0)[2]  # one size for every label, and one for every note: the largest all fit
    label = min((_fitting(font_path, t.label, 150, width - 120) for t in tiles), key=lambda f: f.size)
    note = min((_fitting(font_path, t.note, 68, width - 100) for t in tiles), key=lambda f: f.size)
    for i, tile in enumerate(tiles):
        x, y, w, h = bounds(i)
        ink.rectangle((x, y, x + w - 1, y + h - 1), fill=tile.background, outline=LINE_COLOR,
                      width=6)
        _centered(ink, tile.label, label, x + w / 2, y + h * 0.44, tile.ink)
        _centered(ink, tile.note, note, x + w / 2, y + h * 0.66, tile.ink)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_BYTES:
        raise ValueError(f"rich menu image of {len(data)} bytes; LINE takes at most {MAX_BYTES}")
    return data
