"""Headline, call-to-action and logo on the finished scene.

Text is fitted into its layout box (shrink, then wrap, then a clear error below a
legible size), drawn in the brand colour when that meets WCAG contrast (4.5:1) against
the pixels behind it, else black or white, else over a scrim just opaque enough to
reach it. Right-to-left and non-Latin text is shaped by Pillow's raqm layout when
available. Emoji are drawn in colour from a colour emoji font (emoji.py) beside the text
font; characters no font covers are left out and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixio_ads.brand import BrandKit, Colour
from pixio_ads.composite import Layout, layout
from pixio_ads.emoji import IGNORABLE, EmojiFace, split_runs
from pixio_ads.formats import AdFormat, Box
from pixio_ads.images import open_image

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
CONTRAST_PERCENTILE = 5  # judge contrast on the 5% least contrasting pixels behind the text
MIN_FONT_SHARE = 0.022  # minimum legible size: this share of the canvas' short side...
MIN_FONT_PX = 12  # ...and never below this
MIN_LABEL_PX = 9  # the AI label is a small badge; it stays readable down to this
SHORT_LABEL = "AI"  # the label's text where the configured one does not fit
SHRINK_BEFORE_WRAP = 0.7  # a single line may shrink to this share of the box-filling size
MAX_LINES = 3
LINE_SPACING = 1.1
SCRIM_PAD = 0.25  # scrim padding, as a share of the font size
CTA_PAD = 0.6  # button padding around its label, as a share of the font size
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


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


@lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


class Face:
    """A text font at a size, with a colour emoji font for the emoji in a line. Measures
    and draws a line run by run (text runs in the text font, emoji runs as colour images
    on the text's baseline); a line without emoji is one text run, as before."""

    def __init__(self, path: str, size: int, emoji_path: str | None):
        self.font = _font(path, size)
        self.emoji = EmojiFace(emoji_path, size) if emoji_path else None
        self._text_has = _coverage(path).__contains__
        self._emoji_has = _coverage(emoji_path).__contains__ if emoji_path else None

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
def _face(path: str, size: int, emoji_path: str | None) -> Face:
    return Face(path, size, emoji_path)


@lru_cache(maxsize=64)
def _coverage(path: str) -> frozenset[str]:
    """The characters the font has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        return frozenset(map(chr, font.getBestCmap() or {}))


def choose_font(text: str, fonts: tuple[Path, ...], emoji: str | None = None) -> tuple[str, str, str]:
    """(font path, text it can draw, characters left out): the first font that covers every
    character the emoji font (when given) does not, else the one covering most, with what
    neither has removed."""
    needed = {ch for ch in text if not ch.isspace() and ch not in IGNORABLE}
    if emoji:
        needed.difference_update(_coverage(emoji))
    best = None
    for path in fonts:
        lacking = needed.difference(_coverage(str(path)))
        if not lacking:
            return str(path), text, ""
        if best is None or len(lacking) < len(best[1]):
            best = (str(path), "".join(sorted(lacking)))
    path, missing = best
    # Without an emoji font, joiners and variation selectors of left-out emoji go too.
    return path, "".join(ch for ch in text if ch not in missing and (emoji or ch not in IGNORABLE)), missing


def min_font_size(canvas: Box) -> int:
    return max(MIN_FONT_PX, round(min(canvas.width, canvas.height) * MIN_FONT_SHARE))


def _measure(font: Face, line: str) -> int:
    left, _, right, _ = font.getbbox(line)
    return right - left


def _block_height(font: Face, lines: int) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * (1 + (lines - 1) * LINE_SPACING))


def _wrap(font: Face, words: list[str], width: int) -> list[str] | None:
    """Greedy word wrap; None when a single word is wider than the box."""
    lines: list[str] = []
    for word in words:
        if _measure(font, word) > width:
            return None
        if lines and _measure(font, lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


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
) -> FittedText:
    """The largest size at which ``text`` fits ``width`` x ``height``: one line first,
    shrinking down to SHRINK_BEFORE_WRAP of the box-filling size; then wrapped onto up to
    ``max_lines`` lines down to ``min_size``. ``emoji``: the colour emoji font, if any.
    Raises TextFitError when nothing fits."""
    path, drawable, missing = choose_font(text, fonts, emoji)
    words = drawable.split()
    if not words:
        raise TextFitError(f"{text!r} has no characters the fonts can draw (missing: {missing!r})")
    emoji = emoji if emoji and _has_emoji(drawable, path, emoji) else None
    start = max(min_size, round(height / 1.25))  # a line's height (ascent + descent) is ~1.2x the size

    def single(size: int) -> FittedText | None:
        font = _face(path, size, emoji)
        line = " ".join(words)
        w, h = _measure(font, line), _block_height(font, 1)
        return FittedText((line,), path, size, w, h, missing, emoji) if w <= width and h <= height else None

    def wrapped(size: int) -> FittedText | None:
        font = _face(path, size, emoji)
        lines = _wrap(font, words, width)
        if lines is None or len(lines) > max_lines or _block_height(font, len(lines)) > height:
            return None
        return FittedText(
            tuple(lines),
            path,
            size,
            max(_measure(font, line) for line in lines),
            _block_height(font, len(lines)),
            missing,
            emoji,
        )

    shrink_floor = max(min_size, round(start * SHRINK_BEFORE_WRAP))
    size = _largest(shrink_floor, start, single)
    if size is not None:
        return single(size)

    def either(size: int) -> FittedText | None:
        return wrapped(size) or (single(size) if size < shrink_floor else None)

    size = _largest(min_size, start, either)
    if size is not None:
        return either(size)
    raise TextFitError(
        f"{text!r} does not fit a {width}x{height} px box on {max_lines} line(s) at the minimum legible size of {min_size} px; shorten it"
    )


def _has_emoji(text: str, path: str, emoji: str) -> bool:
    """Whether any run of ``text`` is drawn from the emoji font."""
    return any(
        is_emoji for _, is_emoji in split_runs(text, _coverage(path).__contains__, _coverage(emoji).__contains__)
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
        font = _font(path, size)
        advances.update((char, font.getlength(char)) for char in set(text) if char not in advances)
        return sum(map(advances.__getitem__, text))


def surely_fits(
    text: str,
    fonts: tuple[Path, ...],
    width: int,
    height: int,
    size: int,
    max_lines: int = MAX_LINES,
    emoji: str | None = None,
) -> bool:
    """Whether ``text`` fits at ``size``, on an estimate that errs towards 'no': greedy
    wrapping with upper-bound widths needs at least as many lines as with true widths.
    ~50x faster than laying the text out, for validating thousands of rows. Text with
    emoji is not estimated (False: it is laid out)."""
    path, drawable, _ = choose_font(text, fonts, emoji)
    words = drawable.split()
    if not words or (emoji and _has_emoji(drawable, path, emoji)):
        return False
    room = (width - _OVERHANG * size) / _ADVANCE_SLACK  # the advance sum a line may reach
    space = _advance_sum(path, size, " ")
    lines, line = 0, None
    for word in words:
        advance = _advance_sum(path, size, word)
        if advance > room:
            return False
        if line is not None and line + space + advance <= room:
            line += space + advance
        else:
            lines, line = lines + 1, advance
    return lines <= max_lines and _block_height(_face(path, size, None), lines) <= height


_SRGB = np.arange(256) / 255.0
_LINEAR = np.where(_SRGB <= 0.04045, _SRGB / 12.92, ((_SRGB + 0.055) / 1.055) ** 2.4)  # per 8-bit value
_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


def relative_luminance(rgb) -> np.ndarray:
    """WCAG 2 relative luminance of 8-bit sRGB values, any shape ending in 3 channels
    (values are rounded to 8 bits, as they will be drawn)."""
    index = np.clip(np.rint(np.asarray(rgb, dtype=np.float64)), 0, 255).astype(np.intp)
    return _LINEAR[index] @ _WEIGHTS


def _ratio(la, lb) -> np.ndarray:
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def contrast_ratio(a, b) -> np.ndarray:
    return _ratio(relative_luminance(a), relative_luminance(b))


def worst_contrast(colour: Colour, behind: np.ndarray) -> float:
    """Contrast of ``colour`` against the pixels behind the text, judged on its least
    contrasting CONTRAST_PERCENTILE % (one stray pixel does not decide it)."""
    return _worst(relative_luminance(colour), relative_luminance(behind.reshape(-1, 3)))


def _worst(colour_luminance, behind_luminance: np.ndarray) -> float:
    return float(np.percentile(_ratio(colour_luminance, behind_luminance), CONTRAST_PERCENTILE))


@dataclass(frozen=True, slots=True)
class TextPlacement:
    box: Box  # where the text's pixels are
    colour: Colour
    contrast: float  # measured, after the scrim
    scrim_opacity: float  # 0 when none was needed
    font_size: int
    lines: int
    missing: str


def pick_colour_and_scrim(preferred: Colour, scrim: Colour, behind: np.ndarray) -> tuple[Colour, Colour, float, float]:
    """(text colour, scrim colour, scrim opacity, contrast). The brand colour when it reaches
    MIN_CONTRAST, else black or white; failing all three, the brand colour over a scrim
    (the brand's scrim colour if it contrasts with the text, else black or white) at the
    lowest opacity, in steps of 5%, that reaches it."""
    behind_luminance = relative_luminance(behind.reshape(-1, 3))  # once for the three candidates
    for colour in (preferred, WHITE, BLACK):
        contrast = _worst(relative_luminance(colour), behind_luminance)
        if contrast >= MIN_CONTRAST:
            return colour, scrim, 0.0, contrast
    colour = preferred
    if contrast_ratio(np.array(colour), np.array(scrim)) < MIN_CONTRAST:
        scrim = max((BLACK, WHITE), key=lambda s: float(contrast_ratio(np.array(colour), np.array(s))))
    for step in range(1, 21):
        opacity = step / 20
        contrast = worst_contrast(colour, behind * (1 - opacity) + np.array(scrim) * opacity)
        if contrast >= MIN_CONTRAST:
            break
    return colour, scrim, opacity, contrast


def _draw_lines(canvas: Image.Image, fitted: FittedText, box: Box, colour: Colour) -> Box:
    """Draw the lines centred in ``box``; returns the block's box."""
    font = _face(fitted.font_path, fitted.size, fitted.emoji_path)
    top = box.top + (box.height - fitted.height) // 2
    ascent, descent = font.getmetrics()
    for index, line in enumerate(fitted.lines):
        x = box.left + (box.width - _measure(font, line)) // 2 - font.getbbox(line)[0]
        font.draw(canvas, (x, top + index * (ascent + descent) * LINE_SPACING), line, colour)
    left = box.left + (box.width - fitted.width) // 2
    return Box(left, top, left + fitted.width, top + fitted.height)


def _translucent_panel(canvas: Image.Image, box: Box, radius: int, colour: Colour, opacity: float) -> None:
    """A rounded rectangle of ``colour`` at ``opacity`` over the canvas, in place (composited
    on the box's region only, not the whole canvas)."""
    region = canvas.crop(box.as_tuple()).convert("RGBA")
    layer = Image.new("RGBA", region.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rounded_rectangle(
        (0, 0, box.width - 1, box.height - 1), radius=radius, fill=(*colour, round(opacity * 255))
    )
    canvas.paste(Image.alpha_composite(region, layer).convert("RGB"), (box.left, box.top))


def draw_text(canvas: Image.Image, fitted: FittedText, box: Box, preferred: Colour, scrim: Colour) -> TextPlacement:
    """Draw the fitted text centred in ``box`` in a colour that meets MIN_CONTRAST against
    what is behind it, over a scrim when no colour does on its own."""
    left = box.left + (box.width - fitted.width) // 2
    top = box.top + (box.height - fitted.height) // 2
    pad = round(fitted.size * SCRIM_PAD)
    panel = Box(
        max(box.left, left - pad),
        max(box.top, top - pad),
        min(box.right, left + fitted.width + pad),
        min(box.bottom, top + fitted.height + pad),
    )
    behind = np.asarray(canvas.crop(panel.as_tuple()).convert("RGB"), dtype=np.float64)
    colour, scrim, opacity, contrast = pick_colour_and_scrim(preferred, scrim, behind)
    if opacity:
        _translucent_panel(canvas, panel, pad, scrim, opacity)
    drawn = _draw_lines(canvas, fitted, box, colour)
    return TextPlacement(drawn, colour, round(contrast, 2), opacity, fitted.size, len(fitted.lines), fitted.missing)


def draw_button(
    canvas: Image.Image, fitted: FittedText, box: Box, fill: Colour, preferred_text: Colour, shape: str
) -> TextPlacement:
    """A filled button around the label, centred in ``box``; the label's colour is the brand's
    when it contrasts enough with the fill, else black or white (one of them always does)."""
    pad = round(fitted.size * CTA_PAD)
    width, height = min(box.width, fitted.width + 2 * pad), min(box.height, fitted.height + pad)
    left, top = box.left + (box.width - width) // 2, box.top + (box.height - height) // 2
    button = Box(left, top, left + width, top + height)
    radius = {"pill": height // 2, "rounded": max(2, height // 5), "square": 0}[shape]
    ImageDraw.Draw(canvas).rounded_rectangle(button.as_tuple(), radius=radius, fill=fill)
    colour = preferred_text
    if contrast_ratio(np.array(colour), np.array(fill)) < MIN_CONTRAST:
        colour = max((WHITE, BLACK), key=lambda c: float(contrast_ratio(np.array(c), np.array(fill))))
    _draw_lines(canvas, fitted, button, colour)
    return TextPlacement(
        button,
        colour,
        round(float(contrast_ratio(np.array(colour), np.array(fill))), 2),
        0.0,
        fitted.size,
        1,
        fitted.missing,
    )


def paste_logo(canvas: Image.Image, logo_path: Path, box: Box) -> Box:
    """The logo scaled to fit ``box`` (keeping its aspect), aligned to the box's outer corner."""
    logo = open_image(logo_path).convert("RGBA")  # upright, sRGB
    fit = min(box.width / logo.width, box.height / logo.height)
    size = (max(1, round(logo.width * fit)), max(1, round(logo.height * fit)))
    logo = logo.resize(size, Image.Resampling.LANCZOS)
    left = box.left if box.left < canvas.width / 2 else box.right - size[0]
    top = box.top if box.top < canvas.height / 2 else box.bottom - size[1]
    canvas.paste(logo, (left, top), logo)
    return Box(left, top, left + size[0], top + size[1])


def layout_for(fmt: AdFormat, margin: float, brand: BrandKit) -> Layout:
    """The format's layout with the brand's logo and AI-label corners."""
    return _layout(fmt, margin, brand.logo_position, brand.label_position)


@lru_cache(maxsize=1024)
def _layout(fmt: AdFormat, margin: float, logo_position: str | None, label_position: str) -> Layout:
    return layout(fmt, margin, logo_position, label_position)  # a handful of distinct ones per campaign


def draw_label(canvas: Image.Image, fitted: FittedText, box: Box, opacity: float) -> Box:
    """The visible disclosure: white text on a dark rounded badge in the label's corner."""
    pad = max(2, round(fitted.size * 0.35))
    width, height = min(box.width, fitted.width + 2 * pad), min(box.height, fitted.height + pad)
    left = box.left if box.left + box.width / 2 < canvas.width / 2 else box.right - width
    top = box.top if box.top + box.height / 2 < canvas.height / 2 else box.bottom - height
    badge = Box(left, top, left + width, top + height)
    _translucent_panel(canvas, badge, height // 2, BLACK, opacity)
    _draw_lines(canvas, fitted, badge, WHITE)
    return badge


@dataclass(frozen=True, slots=True)
class CopyFit:
    headline: FittedText
    cta: FittedText
    label: FittedText | None


def _copy_boxes(headline: str, cta: str, plan: Layout, brand: BrandKit):
    """(name, text, fonts, width, height, max lines) of the headline and the CTA label."""
    for name, text, fonts, box, lines in (
        ("headline", headline, brand.headline_fonts, plan.headline, MAX_LINES),
        ("cta", cta, brand.cta_fonts, plan.cta, 1),
    ):
        # A button's label leaves room for its padding (CTA_PAD x the font size, which is
        # below the label's height).
        height = box.height if name == "headline" else round(box.height / (1 + CTA_PAD))
        width = box.width if name == "headline" else box.width - round(2 * CTA_PAD * height)
        yield name, text, fonts, width, height, lines


def _fit_label(plan: Layout, brand: BrandKit) -> FittedText | None:
    if plan.label is None:
        return None
    pad_share = 1.35  # the badge's padding around the text
    width, height = round(plan.label.width / pad_share), round(plan.label.height / pad_share)
    try:
        return fit_text(brand.label_text, brand.cta_fonts, width, height, MIN_LABEL_PX, 1, brand.emoji_path)
    except TextFitError as exc:
        try:  # small formats (e.g. 256x256) have room for "AI" only
            return fit_text(SHORT_LABEL, brand.cta_fonts, width, height, MIN_LABEL_PX, 1)
        except TextFitError:
            raise TextFitError(str(exc)) from None


def fit_copy(headline: str, cta: str, plan: Layout, brand: BrandKit, check_only: bool = False) -> CopyFit | None:
    """Fit both texts (and the AI label) for one format. Raises TextFitError whose
    ``failures`` name each text (headline, cta, ai_label) that does not fit.
    ``check_only`` (validation): texts that surely fit at the minimum size are not laid
    out; the rest are, so the verdict and the message are the same as when rendering."""
    minimum = min_font_size(plan.canvas)
    fitted, failures = {}, []
    for name, text, fonts, width, height, lines in _copy_boxes(headline, cta, plan, brand):
        if check_only and surely_fits(text, fonts, width, height, minimum, lines, brand.emoji_path):
            continue
        try:
            fitted[name] = fit_text(text, fonts, width, height, minimum, lines, brand.emoji_path)
        except TextFitError as exc:
            failures.append((name, str(exc)))
    try:
        label = _fit_label(plan, brand)
    except TextFitError as exc:
        failures.append(("ai_label", str(exc)))
    if failures:
        raise TextFitError("; ".join(f"{name}: {message}" for name, message in failures), failures)
    return None if check_only else CopyFit(fitted["headline"], fitted["cta"], label)


@dataclass(frozen=True, slots=True)
class OverlayResult:
    headline: TextPlacement
    cta: TextPlacement
    logo: Box | None
    label: Box | None

    @property
    def missing_glyphs(self) -> str:
        return "".join(sorted(set(self.headline.missing + self.cta.missing)))


def overlay_copy(
    canvas: Image.Image, headline: str, cta: str, plan: Layout, brand: BrandKit
) -> tuple[Image.Image, OverlayResult]:
    """Draw logo, headline, button and the AI label onto a copy of ``canvas``."""
    canvas = canvas.convert("RGB")
    fitted = fit_copy(headline, cta, plan, brand)
    logo = paste_logo(canvas, brand.logo, plan.logo) if brand.logo and plan.logo else None
    head = draw_text(canvas, fitted.headline, plan.headline, brand.text_colour, brand.scrim_colour)
    button = draw_button(canvas, fitted.cta, plan.cta, brand.cta_colour, brand.cta_text_colour, brand.cta_shape)
    label = draw_label(canvas, fitted.label, plan.label, brand.label_opacity) if fitted.label and plan.label else None
    return canvas, OverlayResult(head, button, logo, label)
