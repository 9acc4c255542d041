"""Typefaces: a font file at a size, with the colour emoji font for the emoji in a line; which
installed font covers a text's characters."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pixio_ads.creative.brand import Colour
from pixio_ads.creative.emoji import IGNORABLE, EmojiFace, split_runs
from pixio_ads.creative.scripts import split_spec


@lru_cache(maxsize=512)
def truetype_font(spec: str, size: int) -> ImageFont.FreeTypeFont:
    """A font file (or face ``#N`` of a collection, scripts.font_spec) at a size."""
    path, face = split_spec(spec)
    return ImageFont.truetype(path, size, index=face)


class Face:
    """A text font at a size, with a colour emoji font for the emoji in a line. Measures
    and draws a line run by run (text runs in the text font, emoji runs as colour images
    on the text's baseline); a line without emoji is one text run, as before."""

    def __init__(self, path: str, size: int, emoji_path: str | None):
        self.path, self.size, self.emoji_path = path, size, emoji_path
        self.font = truetype_font(path, size)
        self.emoji = EmojiFace(emoji_path, size) if emoji_path else None
        self._text_has = font_coverage(path).__contains__
        self._emoji_has = font_coverage(emoji_path).__contains__ if emoji_path else None

    def getmetrics(self) -> tuple[int, int]:
        return self.font.getmetrics()

    def runs(self, line: str) -> list[tuple[str, bool]]:
        return split_runs(line, self._text_has, self._emoji_has) if self.emoji else [(line, False)]

    def _placed_runs(self, line: str):
        """(run, is_emoji, x offset, ink box relative to the line's origin) per run."""
        x, ascent = 0.0, self.font.getmetrics()[0]
        for run, emoji in self.runs(line):
            if emoji:
                width, top = self.emoji.length(run), ascent - self.emoji.ascent()
                yield run, True, x, (x, top, x + width, top + self.emoji.height())
                x += width
            else:
                left, top, right, bottom = self.font.getbbox(run)
                yield run, False, x, (x + left, top, x + right, bottom)
                x += self.font.getlength(run)

    def getbbox(self, line: str) -> tuple[int, int, int, int]:
        boxes = [box for *_, box in self._placed_runs(line)]
        return (
            round(min(b[0] for b in boxes)),
            round(min(b[1] for b in boxes)),
            round(max(b[2] for b in boxes)),
            round(max(b[3] for b in boxes)),
        )

    def draw(self, canvas: Image.Image, xy: tuple[float, float], line: str, fill: Colour) -> None:
        draw = ImageDraw.Draw(canvas)
        for run, emoji, offset, box in self._placed_runs(line):
            if emoji:
                image = self.emoji.image(run)
                canvas.paste(image, (round(xy[0] + offset), round(xy[1] + box[1])), image)
            else:
                draw.text((xy[0] + offset, xy[1]), run, font=self.font, fill=fill)


@lru_cache(maxsize=512)
def cached_face(path: str, size: int, emoji_path: str | None) -> Face:
    return Face(path, size, emoji_path)


@lru_cache(maxsize=64)
def font_coverage(spec: str) -> frozenset[str]:
    """The characters the font (a file, or face ``#N`` of a collection) has glyphs for."""
    from fontTools.ttLib import TTFont

    path, face = split_spec(spec)
    with TTFont(path, lazy=True, fontNumber=face) as font:
        return frozenset(map(chr, font.getBestCmap() or {}))


def choose_font(text: str, fonts: tuple[Path, ...], emoji: str | None = None) -> tuple[str, str, str]:
    """(font path, text it can draw, characters left out): the first font that covers every
    character the emoji font (when given) does not, else the one covering most, with what
    neither has removed."""
    needed = {ch for ch in text if not ch.isspace() and ch not in IGNORABLE}
    if emoji:
        needed.difference_update(font_coverage(emoji))
    best = None
    for path in fonts:
        lacking = needed.difference(font_coverage(str(path)))
        if not lacking:
            return str(path), text, ""
        if best is None or len(lacking) < len(best[1]):
            best = (str(path), "".join(sorted(lacking)))
    path, missing = best
    # Without an emoji font, joiners and variation selectors of left-out emoji go too.
    return path, "".join(ch for ch in text if ch not in missing and (emoji or ch not in IGNORABLE)), missing
