"""Typefaces: a font file at a size, with the colour emoji font for the emoji in a line; which
installed font covers a text's characters."""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from pixio_ads.creative.brand import Colour
from pixio_ads.creative.emoji import IGNORABLE, EmojiFace, is_emoji_candidate, split_runs
from pixio_ads.creative.scripts import is_rtl, split_spec


@lru_cache(maxsize=512)
def truetype_font(spec: str, size: int) -> ImageFont.FreeTypeFont:
    """A font file (or face ``#N`` of a collection, scripts.font_spec) at a size."""
    path, face = split_spec(spec)
    return ImageFont.truetype(path, size, index=face)


CHAIN = "|"  # a font chain spec: "primary|fallback|...", each member a font spec (scripts.font_spec)


def chain_of(spec: str) -> list[str]:
    return spec.split(CHAIN)


class Face:
    """A text font (or a chain of them) at a size, with a colour emoji font for the emoji in
    a line. Measures and draws a line run by run: each character in the first font of the
    chain that has it (Noto Sans Thai has no Latin letters or digits: those come from the
    next font), emoji as colour images on the text's baseline. A line one font draws whole
    is one run, as before. Runs of a right-to-left line are placed right to left."""

    def __init__(self, path: str, size: int, emoji_path: str | None):
        self.path, self.size, self.emoji_path = path, size, emoji_path
        self.fonts = [truetype_font(member, size) for member in chain_of(path)]
        self.font = self.fonts[0]
        self._has = [font_coverage(member).__contains__ for member in chain_of(path)]
        self.emoji = EmojiFace(emoji_path, size) if emoji_path else None
        self._text_has = font_coverage(path).__contains__
        self._emoji_has = font_coverage(emoji_path).__contains__ if emoji_path else None

    def getmetrics(self) -> tuple[int, int]:
        if len(self.fonts) == 1:
            return self.font.getmetrics()
        metrics = [font.getmetrics() for font in self.fonts]
        return max(m[0] for m in metrics), max(m[1] for m in metrics)

    def runs(self, line: str) -> list[tuple[str, int]]:
        """(run, font index; -1 for an emoji run)."""
        pieces = split_runs(line, self._text_has, self._emoji_has) if self.emoji else [(line, False)]
        runs: list[tuple[str, int]] = []
        for piece, emoji in pieces:
            runs += [(piece, -1)] if emoji else self._font_runs(piece)
        return runs

    def _font_runs(self, text: str) -> list[tuple[str, int]]:
        if len(self.fonts) == 1:
            return [(text, 0)]
        runs: list[tuple[str, int]] = []
        for char in text:
            has = [index for index, covers in enumerate(self._has) if covers(char)]
            # spaces and characters no font has stay with the run they are in
            index = runs[-1][1] if runs and (char.isspace() or not has or runs[-1][1] in has) else (has or [0])[0]
            if runs and runs[-1][1] == index:
                runs[-1] = (runs[-1][0] + char, index)
            else:
                runs.append((char, index))
        return runs

    def _placed_runs(self, line: str):
        """(run, font index or -1 for emoji, x offset, ink box relative to the line's origin) per run."""
        x, ascent = 0.0, self.getmetrics()[0]
        runs = self.runs(line)
        for run, index in reversed(runs) if len(runs) > 1 and is_rtl(line) else runs:
            if index < 0:
                width, top = self.emoji.length(run), ascent - self.emoji.ascent()
                yield run, index, x, (x, top, x + width, top + self.emoji.height())
                x += width
            else:
                font = self.fonts[index]
                shift = ascent - font.getmetrics()[0]  # baselines aligned
                left, top, right, bottom = font.getbbox(run)
                yield run, index, x, (x + left, top + shift, x + right, bottom + shift)
                x += font.getlength(run)

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
        ascent = self.getmetrics()[0]
        for run, index, offset, box in self._placed_runs(line):
            if index < 0:
                image = self.emoji.image(run)
                canvas.paste(image, (round(xy[0] + offset), round(xy[1] + box[1])), image)
            else:
                font = self.fonts[index]
                draw.text((xy[0] + offset, xy[1] + ascent - font.getmetrics()[0]), run, font=font, fill=fill)


@lru_cache(maxsize=512)
def cached_face(path: str, size: int, emoji_path: str | None) -> Face:
    return Face(path, size, emoji_path)


@lru_cache(maxsize=64)
def font_coverage(spec: str) -> frozenset[str]:
    """The characters the font (a file, or face ``#N`` of a collection; a chain: all its
    fonts) has glyphs for."""
    from fontTools.ttLib import TTFont

    spec = str(spec)
    if CHAIN in spec:
        return frozenset().union(*(font_coverage(member) for member in chain_of(spec)))
    path, face = split_spec(spec)
    with TTFont(path, lazy=True, fontNumber=face) as font:
        return frozenset(map(chr, font.getBestCmap() or {}))


@lru_cache(maxsize=8192)
def choose_font(text: str, fonts: tuple, emoji: str | None = None) -> tuple[str, str, str]:
    """(font spec, text it can draw, characters left out): the first font that covers every
    character (emoji the emoji font has aside), else a chain (``a|b``) of the font covering
    the most and the fonts after it that cover the rest, with what none has removed."""
    needed = {ch for ch in text if not ch.isspace() and ch not in IGNORABLE}
    if emoji:
        emoji_has = font_coverage(emoji)
        needed = {ch for ch in needed if not (emoji_has.__contains__(ch) and is_emoji_candidate(ch))}
    covered = [needed & font_coverage(str(path)) for path in fonts]
    for path, has in zip(fonts, covered):
        if has == needed:
            return str(path), text, ""
    primary = max(range(len(fonts)), key=lambda index: (len(covered[index]), -index))
    chain, left = [str(fonts[primary])], needed - covered[primary]
    for path, has in zip(fonts, covered):
        if left & has:
            chain.append(str(path))
            left -= has
    missing = "".join(sorted(left))
    drawable = "".join(ch for ch in text if ch not in left and (emoji or ch not in IGNORABLE))
    # Without an emoji font, joiners and variation selectors of left-out emoji go too.
    return CHAIN.join(chain), drawable, missing
