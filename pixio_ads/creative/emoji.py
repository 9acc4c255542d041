"""Colour emoji in ad copy: which font draws them, which characters of a line are emoji,
and each emoji run as a colour image at the text's size.

Social ad copy carries emoji ("Summer sale 🔥", "Made for you 👍🏽"). Text fonts have none, so
the copy is split into runs: text drawn in the brand's font, emoji drawn in a colour emoji
font with Pillow's ``embedded_color``. Colour emoji fonts are mostly bitmap fonts with fixed
sizes (Noto Color Emoji: one 109 px strike; Apple Color Emoji: several), so a run is drawn
at the font's own size and scaled to the text's, keeping baselines aligned.

The font is the brand kit's ``fonts.emoji``, else ``PIXIO_ADS_EMOJI_FONT``, else the
system's (Debian/Ubuntu ``fonts-noto-color-emoji``, Fedora, macOS, Windows paths).
Without one, emoji are left out of the creative and ``validate`` names them.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

EMOJI_FONT_ENV = "PIXIO_ADS_EMOJI_FONT"
SYSTEM_EMOJI_FONTS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",  # Debian, Ubuntu: fonts-noto-color-emoji
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",  # Arch
    "/usr/share/fonts/google-noto-color-emoji-fonts/NotoColorEmoji.ttf",  # Fedora
    "/System/Library/Fonts/Apple Color Emoji.ttc",  # macOS
    "C:/Windows/Fonts/seguiemj.ttf",  # Windows (scalable COLR)
)
VS16, ZWJ, KEYCAP = "\ufe0f", "\u200d", "\u20e3"
# Characters that never need a glyph of their own: shaping consumes them (variation
# selectors, joiners). A font lacking them does not leave anything out.
IGNORABLE = frozenset("\ufe0e\ufe0f\u200c\u200d")
SCALABLE_SIZE = 109  # the size scalable colour fonts are drawn at before scaling


def _is_modifier(char: str) -> bool:
    """Characters that extend the emoji before them: skin tones, tags (subdivision flags),
    the keycap mark, variation selector 16 and the zero-width joiner."""
    code = ord(char)
    return 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F or char in (KEYCAP, VS16, ZWJ)


def is_emoji_candidate(char: str) -> bool:
    """Whether a colour emoji font would likely have ``char`` (symbols and pictographs): for
    telling the user that installing one would draw it."""
    code = ord(char)
    return code >= 0x1F000 or 0x2600 <= code <= 0x27BF or unicodedata.category(char) == "So"


def system_emoji_font() -> Path | None:
    """The colour emoji font to use when the brand kit names none: ``PIXIO_ADS_EMOJI_FONT``
    (a font file, or ``none`` to leave emoji out), else the first system font found."""
    named = os.environ.get(EMOJI_FONT_ENV, "")
    if named.lower() == "none":
        return None
    if named:
        return Path(named) if Path(named).is_file() else None
    return next((Path(path) for path in SYSTEM_EMOJI_FONTS if Path(path).is_file()), None)


@lru_cache(maxsize=8)
def native_size(path: str) -> int:
    """The size a colour font draws at: its bitmap strike (the largest), or SCALABLE_SIZE for
    a scalable (COLR) font."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        if "CBLC" in font:
            return max(strike.bitmapSizeTable.ppemY for strike in font["CBLC"].strikes)
        if "sbix" in font:
            return max(font["sbix"].strikes)
    return SCALABLE_SIZE


def split_runs(line: str, text_has, emoji_has) -> list[tuple[str, bool]]:
    """``line`` as (run, is_emoji) pieces. A character is emoji when the emoji font has it and
    the text font does not, or when VS16 asks for its emoji form (``❤️``, ``1️⃣``); modifiers
    (skin tones, joiners, keycaps, tags) stay with the emoji they follow."""
    runs: list[tuple[str, bool]] = []
    for index, char in enumerate(line):
        following = line[index + 1] if index + 1 < len(line) else ""
        in_emoji = bool(runs) and runs[-1][1]
        emoji = (in_emoji and (_is_modifier(char) or line[index - 1] == ZWJ)) or (
            emoji_has(char) and (not text_has(char) or following == VS16)
        )
        if runs and runs[-1][1] == emoji:
            runs[-1] = (runs[-1][0] + char, emoji)
        else:
            runs.append((char, emoji))
    return runs


@dataclass(frozen=True, slots=True)
class EmojiFace:
    """A colour emoji font at a text size: widths and images of emoji runs."""

    path: str
    size: int  # the text's size, px

    @property
    def scale(self) -> float:
        return self.size / native_size(self.path)

    def length(self, run: str) -> float:
        return _native_font(self.path).getlength(run) * self.scale

    def ascent(self) -> float:
        return _native_font(self.path).getmetrics()[0] * self.scale

    def height(self) -> int:
        """The height of every run's image (the font's ascent + descent, scaled): measuring a
        line needs no image drawn."""
        return _scaled(sum(_native_font(self.path).getmetrics()), self.path, self.size)

    def image(self, run: str) -> Image.Image:
        """The run in colour on a transparent image, scaled to the text size."""
        return _run_image(self.path, self.size, run)


def _scaled(pixels: float, path: str, size: int) -> int:
    """A length at the font's own size, at the text's size (at least 1 px)."""
    return max(1, round(pixels * size / native_size(path)))


@lru_cache(maxsize=8)
def _native_font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, native_size(path))


@lru_cache(maxsize=1024)
def _run_image(path: str, size: int, run: str) -> Image.Image:
    font = _native_font(path)
    ascent, descent = font.getmetrics()
    native = Image.new("RGBA", (max(1, round(font.getlength(run))), ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(native).text((0, 0), run, font=font, embedded_color=True)
    target = (_scaled(native.width, path, size), _scaled(native.height, path, size))
    return native.resize(target, Image.Resampling.LANCZOS)


def colour_font_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as the colour emoji font, or None."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True, fontNumber=0) as font:
            tables = set(font.keys())
        if not tables & {"CBDT", "sbix", "COLR"}:
            return "not a colour emoji font (no CBDT, sbix or COLR table); use e.g. Noto Color Emoji"
        ImageFont.truetype(str(path), native_size(str(path)))
    except (OSError, TTLibError) as exc:
        return f"not a readable font ({exc})"
    return None
