"""Legibility of text over a picture: WCAG relative luminance and contrast ratios, judged on the
least contrasting pixels behind the text, and the text colour and scrim that reach the minimum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixio_ads.core.formats import Box
from pixio_ads.creative.brand import Colour

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
CONTRAST_PERCENTILE = 5  # judge contrast on the 5% least contrasting pixels behind the text


WHITE, BLACK = (255, 255, 255), (0, 0, 0)


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


def _luminance_under_scrim(behind: np.ndarray, scrim: Colour, opacity: float) -> np.ndarray:
    """relative_luminance of 8-bit pixels (N, 3) seen through ``scrim`` at ``opacity``, by
    a 256-entry table per channel (the blend, rounded to 8 bits, then linearised and weighted):
    the scrim search evaluates up to 20 opacities over every pixel behind the headline, and
    blending, rounding and linearising each pixel each time cost ~15 ms a creative."""
    blended = np.arange(256.0)[None, :] * (1 - opacity) + np.asarray(scrim, np.float64)[:, None] * opacity
    table = _LINEAR[np.clip(np.rint(blended), 0, 255).astype(np.intp)] * _WEIGHTS[:, None]
    return table[0][behind[:, 0]] + table[1][behind[:, 1]] + table[2][behind[:, 2]]


def pick_colour_and_scrim(preferred: Colour, scrim: Colour, behind: np.ndarray) -> tuple[Colour, Colour, float, float]:
    """(text colour, scrim colour, scrim opacity, contrast) for text over ``behind`` (8-bit
    RGB pixels). The brand colour when it reaches MIN_CONTRAST, else black or white; failing
    all three, the brand colour over a scrim (the brand's scrim colour if it contrasts with
    the text, else black or white) at the lowest opacity, in steps of 5%, that reaches it."""
    behind = np.asarray(behind, np.uint8).reshape(-1, 3)
    behind_luminance = _luminance_under_scrim(behind, BLACK, 0.0)  # once for the three candidates
    for colour in (preferred, WHITE, BLACK):
        contrast = _worst(relative_luminance(colour), behind_luminance)
        if contrast >= MIN_CONTRAST:
            return colour, scrim, 0.0, contrast
    colour = preferred
    if contrast_ratio(np.array(colour), np.array(scrim)) < MIN_CONTRAST:
        scrim = max((BLACK, WHITE), key=lambda s: float(contrast_ratio(np.array(colour), np.array(s))))
    colour_luminance = relative_luminance(colour)
    for step in range(1, 21):
        opacity = step / 20
        contrast = _worst(colour_luminance, _luminance_under_scrim(behind, scrim, opacity))
        if contrast >= MIN_CONTRAST:
            break
    return colour, scrim, opacity, contrast
