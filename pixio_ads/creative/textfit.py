"""Copy fitting: the largest legible size and line breaks at which a text fits its box, and a
fast check that it surely fits (validate runs it on every row and format)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pixio_ads.core.formats import Box
from pixio_ads.creative.emoji import split_runs
from pixio_ads.creative.linebreak import HYPHEN, break_units, hyphenation_points
from pixio_ads.creative.typeface import Face, cached_face, chain_of, choose_font, font_coverage, truetype_font

MIN_FONT_SHARE = 0.022  # minimum legible size: this share of the canvas' short side...
MIN_FONT_PX = 12  # ...and never below this
MIN_LABEL_PX = 9  # the AI label is a small badge; it stays readable down to this
SHORT_LABEL = "AI"  # the label's text where the configured one does not fit
SHRINK_BEFORE_WRAP = 0.7  # a single line may shrink to this share of the box-filling size
HYPHENATE_BELOW = 0.8  # hyphenate when unhyphenated copy would be smaller than this share of the hyphenated
MAX_LINES = 3
LINE_SPACING = 1.1
SCRIM_PAD = 0.25  # scrim padding, as a share of the font size
CTA_PAD = 0.6  # button padding around its label, as a share of the font size


class TextFitError(ValueError):
    """Copy that cannot fit its box at the minimum legible size. ``failures`` lists
    (which text, message) when several texts were fitted at once."""

    def __init__(self, message: str, failures: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.failures = failures or []


@dataclass(frozen=True, slots=True)
class FittedText:
    lines: tuple[str, ...]
    font_path: str
    size: int
    width: int  # of the widest line
    height: int  # of the block
    missing: str  # characters no font covered, left out
    emoji_path: str | None = None  # the colour emoji font, when the text has emoji


def min_font_size(canvas: Box) -> int:
    return max(MIN_FONT_PX, round(min(canvas.width, canvas.height) * MIN_FONT_SHARE))


def measure(font: Face, line: str) -> int:
    left, _, right, _ = font.getbbox(line)
    return right - left


def _block_height(font: Face, lines: int) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * (1 + (lines - 1) * LINE_SPACING))


def _wrap(font: Face, units: tuple[str, ...], width: int, language: str | None = None) -> list[str] | None:
    """Greedy wrap at the break opportunities (``units``, linebreak.break_units); None when
    a unit is wider than the box. With ``language`` (a hyphenation pass), a unit that does
    not fit the line in hand is hyphenated at the last point that does."""
    lines: list[str] = []
    line = ""
    queue = list(units)
    while queue:
        unit = queue.pop(0)
        if measure(font, (line + unit).rstrip()) <= width:
            line += unit
            continue
        split = _hyphenate(font, line, unit, width, language) if language is not None else None
        if split:
            lines.append(line + split[0] + HYPHEN)
            line, queue = "", [split[1], *queue]
        elif line:
            lines.append(line.rstrip())
            line, queue = "", [unit, *queue]
        else:
            return None
    return lines + [line.rstrip()] if line.strip() else lines


def _hyphenate(font: Face, line: str, unit: str, width: int, language: str) -> tuple[str, str] | None:
    """(head, rest) of ``unit`` split at its last hyphenation point where the line, the head
    and a hyphen still fit ``width``."""
    for point in reversed(hyphenation_points(unit, language)):
        if measure(font, line + unit[:point] + HYPHEN) <= width:
            return unit[:point], unit[point:]
    return None


def _largest(low: int, high: int, fits) -> int | None:
    """The largest size in [low, high] where ``fits`` holds, by bisection: text grows with
    its size, so whether it fits changes once (~7 layouts instead of up to ~150)."""
    if high < low or not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


@lru_cache(maxsize=4096)
def fit_text(
    text: str,
    fonts: tuple[Path, ...],
    width: int,
    height: int,
    min_size: int,
    max_lines: int = MAX_LINES,
    emoji: str | None = None,
    language: str = "",
) -> FittedText:
    """The largest size at which ``text`` fits ``width`` x ``height``: one line first,
    shrinking down to SHRINK_BEFORE_WRAP of the box-filling size; then wrapped onto up to
    ``max_lines`` lines down to ``min_size``. ``emoji``: the colour emoji font, if any.
    ``language`` (BCP 47): where lines break (linebreak.py) and the hyphenation dictionary;
    a word is hyphenated only when that keeps the type clearly larger. Raises TextFitError
    when nothing fits."""
    path, drawable, missing = choose_font(text, fonts, emoji)
    line = " ".join(drawable.split())
    if not line:
        raise TextFitError(f"{text!r} has no characters the fonts can draw (missing: {missing!r})")
    units = break_units(line, language)
    emoji = emoji if emoji and _has_emoji(drawable, path, emoji) else None
    start = max(min_size, round(height / 1.25))  # a line's height (ascent + descent) is ~1.2x the size

    def single(size: int) -> FittedText | None:
        font = cached_face(path, size, emoji)
        w, h = measure(font, line), _block_height(font, 1)
        return FittedText((line,), path, size, w, h, missing, emoji) if w <= width and h <= height else None

    def wrapped(size: int, hyphenate: str | None = None) -> FittedText | None:
        return _wrapped(cached_face(path, size, emoji), units, (width, height, max_lines), hyphenate, missing)

    shrink_floor = max(min_size, round(start * SHRINK_BEFORE_WRAP))
    size = _largest(shrink_floor, start, single)
    if size is not None:
        return single(size)

    def either(size: int) -> FittedText | None:
        return wrapped(size) or (single(size) if size < shrink_floor else None)

    size = _largest(min_size, start, either)
    # A long word (a German compound) would shrink the type: hyphenated, it may stay larger.
    # Worth a search only where hyphenation fits clearly larger.
    floor = min_size if size is None else math.ceil(size / HYPHENATE_BELOW)
    # (one line has no room for a hyphenated word; a dictionary loads only if a word overflows)
    if max_lines > 1 and floor <= start and language and wrapped(floor, language):
        return wrapped(_largest(floor, start, lambda size: wrapped(size, language)), language)
    if size is not None:
        return either(size)
    raise TextFitError(
        f"{text!r} does not fit a {width}x{height} px box on {max_lines} line(s) at the minimum legible size of {min_size} px; shorten it"
    )


def _wrapped(font: Face, units: tuple[str, ...], box: tuple[int, int, int], hyphenate, missing) -> FittedText | None:
    """The units wrapped at the font's size into ``box`` (width, height, max lines), or None."""
    width, height, max_lines = box
    lines = _wrap(font, units, width, hyphenate)
    if lines is None or len(lines) > max_lines or _block_height(font, len(lines)) > height:
        return None
    width = max(measure(font, line) for line in lines)
    return FittedText(
        tuple(lines), font.path, font.size, width, _block_height(font, len(lines)), missing, font.emoji_path
    )


def _has_emoji(text: str, path: str, emoji: str) -> bool:
    """Whether any run of ``text`` is drawn from the emoji font."""
    text_has = font_coverage(path)
    if "\ufe0f" not in text and all(char in text_has or char.isspace() for char in text):
        return False  # every character in the text fonts, none asking for its emoji form
    return any(
        is_emoji
        for _, is_emoji in split_runs(text, font_coverage(path).__contains__, font_coverage(emoji).__contains__)
    )


# Measured on the bundled fonts (sizes 10-120 px, mixed case, kerning pairs, ligatures,
# symbols): a line's ink width <= the sum of its characters' advances x 1.019 + 0.22 x the
# size. With a margin over that, a line that passes the estimate surely fits.
_ADVANCE_SLACK, _OVERHANG = 1.03, 0.3


@lru_cache(maxsize=256)
def _advances(path: str, size: int) -> dict[str, float]:
    return {}  # character -> advance in px, filled as characters are met


def _advance_sum(path: str, size: int, text: str) -> float:
    """The sum of the characters' advances at ``size`` (cached per character, no layout)."""
    advances = _advances(path, size)
    try:
        return sum(map(advances.__getitem__, text))
    except KeyError:
        advances.update((char, _char_advance(path, size, char)) for char in set(text) if char not in advances)
        return sum(map(advances.__getitem__, text))


def _char_advance(spec: str, size: int, char: str) -> float:
    """A character's advance in the first font of the chain that has it."""
    members = chain_of(spec)
    member = next((m for m in members if char in font_coverage(m)), members[0])
    return truetype_font(member, size).getlength(char)


def surely_fits(
    text: str,
    fonts: tuple[Path, ...],
    width: int,
    height: int,
    size: int,
    max_lines: int = MAX_LINES,
    emoji: str | None = None,
    language: str = "",
) -> bool:
    """Whether ``text`` fits at ``size``, on an estimate that errs towards 'no': greedy
    wrapping with upper-bound widths needs at least as many lines as with true widths.
    ~50x faster than laying the text out, for validating thousands of rows. Text with
    emoji is not estimated (False: it is laid out)."""
    estimate = _unit_advances(text, fonts, size, emoji, language)
    if estimate is None:
        return False
    path, units = estimate
    room = (width - _OVERHANG * size) / _ADVANCE_SLACK  # the advance sum a line may reach
    lines, line = 0, None
    for advance, trailing in units:
        if advance > room:
            return False
        if line is not None and line + advance <= room:
            line += advance + trailing
        else:
            lines, line = lines + 1, advance + trailing
    return lines <= max_lines and _block_height(cached_face(path, size, None), lines) <= height


@lru_cache(maxsize=8192)
def _unit_advances(text: str, fonts: tuple, size: int, emoji: str | None, language: str):
    """(font, [(advance, trailing space advance)] per break unit) at ``size``, or None when the
    text is not estimated (nothing drawable, or emoji). Shared by a text's formats, which
    validate checks at the same minimum size."""
    path, drawable, _ = choose_font(text, fonts, emoji)
    line_text = " ".join(drawable.split())
    if not line_text or (emoji and _has_emoji(drawable, path, emoji)):
        return None
    units = []
    for unit in break_units(line_text, language):
        word = unit.rstrip()
        units.append((_advance_sum(path, size, word), _advance_sum(path, size, unit[len(word) :])))
    return path, tuple(units)
