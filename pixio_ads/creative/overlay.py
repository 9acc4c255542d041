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
from PIL import Image, ImageDraw

from pixio_ads.core.formats import AdFormat, Box
from pixio_ads.core.images import open_image
from pixio_ads.creative.brand import BrandKit, Colour
from pixio_ads.creative.composite import Layout, layout
from pixio_ads.creative.contrast import (
    BLACK,
    MIN_CONTRAST,
    WHITE,
    TextPlacement,
    contrast_ratio,
    pick_colour_and_scrim,
)
from pixio_ads.creative.labels import label_for
from pixio_ads.creative.scripts import fonts_for, is_rtl
from pixio_ads.creative.textfit import (
    CTA_PAD,
    LINE_SPACING,
    MAX_LINES,
    MIN_LABEL_PX,
    SCRIM_PAD,
    SHORT_LABEL,
    FittedText,
    TextFitError,
    fit_text,
    measure,
    min_font_size,
    surely_fits,
)
from pixio_ads.creative.typeface import cached_face


def _draw_lines(canvas: Image.Image, fitted: FittedText, box: Box, colour: Colour, align: str = "center") -> Box:
    """Draw the lines in ``box``, the block centred; each line centred, or with ``align``
    ``start`` against the block's start edge (the right one for right-to-left text).
    Returns the block's box."""
    font = cached_face(fitted.font_path, fitted.size, fitted.emoji_path)
    top = box.top + (box.height - fitted.height) // 2
    left = box.left + (box.width - fitted.width) // 2
    rtl = is_rtl("".join(fitted.lines))
    ascent, descent = font.getmetrics()
    for index, line in enumerate(fitted.lines):
        width = measure(font, line)
        if align == "start":
            x = left + (fitted.width - width if rtl else 0) - font.getbbox(line)[0]
        else:
            x = box.left + (box.width - width) // 2 - font.getbbox(line)[0]
        font.draw(canvas, (x, top + index * (ascent + descent) * LINE_SPACING), line, colour)
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


def draw_text(
    canvas: Image.Image,
    fitted: FittedText,
    box: Box,
    preferred: Colour,
    scrim: Colour,
    align: str = "center",
    behind: Image.Image | None = None,
) -> TextPlacement:
    """Draw the fitted text centred in ``box`` in a colour that meets MIN_CONTRAST against
    what is behind it (``behind``, else the canvas), over a scrim when no colour does on its own."""
    left = box.left + (box.width - fitted.width) // 2
    top = box.top + (box.height - fitted.height) // 2
    pad = round(fitted.size * SCRIM_PAD)
    panel = Box(
        max(box.left, left - pad),
        max(box.top, top - pad),
        min(box.right, left + fitted.width + pad),
        min(box.bottom, top + fitted.height + pad),
    )
    pixels = np.asarray((behind or canvas).crop(panel.as_tuple()).convert("RGB"))
    colour, scrim, opacity, contrast = pick_colour_and_scrim(preferred, scrim, pixels)
    if opacity:
        _translucent_panel(canvas, panel, pad, scrim, opacity)
    drawn = _draw_lines(canvas, fitted, box, colour, align)
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
    logo = _scaled_logo(logo_path, box.width, box.height)
    size = logo.size
    left = box.left if box.left < canvas.width / 2 else box.right - size[0]
    top = box.top if box.top < canvas.height / 2 else box.bottom - size[1]
    canvas.paste(logo, (left, top), logo)
    return Box(left, top, left + size[0], top + size[1])


@lru_cache(maxsize=64)
def _scaled_logo(logo_path: Path, width: int, height: int) -> Image.Image:
    """The logo (upright, sRGB) fitted into width x height: decoded and scaled once per
    process and size, not once per creative (~2.5 ms each)."""
    logo = open_image(logo_path).convert("RGBA")
    fit = min(width / logo.width, height / logo.height)
    return logo.resize((max(1, round(logo.width * fit)), max(1, round(logo.height * fit))), Image.Resampling.LANCZOS)


def layout_for(fmt: AdFormat, margin: float, brand: BrandKit, rtl: bool = False) -> Layout:
    """The format's layout with the brand's logo and AI-label corners, mirrored left to right
    for right-to-left copy when the kit allows it (``mirror_rtl``)."""
    logo, label = brand.logo_position, brand.label_position
    if rtl and brand.mirror_rtl:
        logo, label = _mirrored(logo), _mirrored(label)
    return _layout(fmt, margin, logo, label)


def _mirrored(corner: str | None) -> str | None:
    if corner is None:
        return None
    swap = {"left": "right", "right": "left"}
    return "-".join(swap.get(part, part) for part in corner.split("-"))


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


def copy_fonts(text: str, fonts: tuple, brand: BrandKit, language: str) -> tuple[str, ...]:
    """The brand's fonts for ``text``, with a font for each script it needs (scripts.py)."""
    if text.isascii():  # the brand's fonts and the bundled one draw it: no script font needed
        return fonts
    return fonts_for(text, tuple(fonts), language, kit_scripts=brand.script_fonts)


def label_text(brand: BrandKit, language: str) -> str:
    """The AI label in ``language`` (labels.py; the kit's translations first)."""
    return label_for(language, brand.label_text, dict(brand.label_translations))


def _copy_boxes(headline: str, cta: str, plan: Layout, brand: BrandKit, language: str):
    """(name, text, fonts, width, height, max lines) of the headline and the CTA label."""
    for name, text, fonts, box, lines in (
        ("headline", headline, copy_fonts(headline, brand.headline_fonts, brand, language), plan.headline, MAX_LINES),
        ("cta", cta, copy_fonts(cta, brand.cta_fonts, brand, language), plan.cta, 1),
    ):
        # A button's label leaves room for its padding (CTA_PAD x the font size, which is
        # below the label's height).
        height = box.height if name == "headline" else round(box.height / (1 + CTA_PAD))
        width = box.width if name == "headline" else box.width - round(2 * CTA_PAD * height)
        yield name, text, fonts, width, height, lines


def _fit_label(plan: Layout, brand: BrandKit, language: str = "en") -> FittedText | None:
    """The AI label fitted into its badge (raises TextFitError); once per layout, kit and language."""
    fitted, error = _label_fit(plan, brand, language)
    if error:
        raise TextFitError(error)
    return fitted


@lru_cache(maxsize=1024)
def _label_fit(plan: Layout, brand: BrandKit, language: str) -> tuple[FittedText | None, str]:
    """(fitted label, "") or (None, why it does not fit): the same for every row of a format."""
    try:
        return _fit_label_text(plan, brand, language), ""
    except TextFitError as exc:
        return None, str(exc)


def _fit_label_text(plan: Layout, brand: BrandKit, language: str) -> FittedText | None:
    if plan.label is None:
        return None
    pad_share = 1.35  # the badge's padding around the text
    width, height = round(plan.label.width / pad_share), round(plan.label.height / pad_share)
    text = label_text(brand, language)
    fonts = copy_fonts(text, brand.cta_fonts, brand, language)
    try:
        return fit_text(text, fonts, width, height, MIN_LABEL_PX, 1, brand.emoji_path, language)
    except TextFitError as exc:
        try:  # small formats (e.g. 256x256) have room for "AI" only
            return fit_text(SHORT_LABEL, brand.cta_fonts, width, height, MIN_LABEL_PX, 1)
        except TextFitError:
            raise TextFitError(str(exc)) from None


def fit_copy(
    headline: str, cta: str, plan: Layout, brand: BrandKit, check_only: bool = False, language: str = "en"
) -> CopyFit | None:
    """Fit both texts (and the AI label) for one format. Raises TextFitError whose
    ``failures`` name each text (headline, cta, ai_label) that does not fit.
    ``check_only`` (validation): texts that surely fit at the minimum size are not laid
    out; the rest are, so the verdict and the message are the same as when rendering."""
    minimum = min_font_size(plan.canvas)
    fitted, failures = {}, []
    for name, text, fonts, width, height, lines in _copy_boxes(headline, cta, plan, brand, language):
        if check_only and surely_fits(text, fonts, width, height, minimum, lines, brand.emoji_path, language):
            continue
        try:
            fitted[name] = fit_text(text, fonts, width, height, minimum, lines, brand.emoji_path, language)
        except TextFitError as exc:
            failures.append((name, str(exc)))
    try:
        label = _fit_label(plan, brand, language)
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
    canvas: Image.Image,
    headline: str,
    cta: str,
    plan: Layout,
    brand: BrandKit,
    language: str = "en",
    with_label: bool = True,
    behind: Image.Image | None = None,
) -> tuple[Image.Image, OverlayResult]:
    """Draw logo, headline, button and (``with_label``) the AI label (in ``language``) onto a
    copy of ``canvas``; the headline's colour and scrim chosen against ``behind`` when given
    (a video's copy layer is drawn over black and white, its colours still the scene's)."""
    canvas = canvas.convert("RGB")
    fitted = fit_copy(headline, cta, plan, brand, language=language)
    logo = paste_logo(canvas, brand.logo, plan.logo) if brand.logo and plan.logo else None
    head = draw_text(
        canvas, fitted.headline, plan.headline, brand.text_colour, brand.scrim_colour, brand.text_align, behind
    )
    button = draw_button(canvas, fitted.cta, plan.cta, brand.cta_colour, brand.cta_text_colour, brand.cta_shape)
    label = None
    if with_label and fitted.label and plan.label:
        label = draw_label(canvas, fitted.label, plan.label, brand.label_opacity)
    return canvas, OverlayResult(head, button, logo, label)


def overlay_label(canvas: Image.Image, plan: Layout, brand: BrandKit, language: str = "en") -> Image.Image:
    """The clean image: only the AI label on a copy of ``canvas``, where and as the creative
    has it (no headline, button or logo)."""
    canvas = canvas.convert("RGB")
    fitted = _fit_label(plan, brand, language)
    if fitted and plan.label:
        draw_label(canvas, fitted, plan.label, brand.label_opacity)
    return canvas
