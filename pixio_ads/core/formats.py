"""Ad formats: named platform sizes plus custom ``WxH``, and the model-friendly size to render at."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AdFormat:
    name: str
    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


NAMED_FORMATS: dict[str, AdFormat] = {
    fmt.name: fmt
    for fmt in (
        AdFormat("square", 1080, 1080),
        AdFormat("portrait", 1080, 1350),
        AdFormat("story", 1080, 1920),
        AdFormat("landscape", 1200, 628),
    )
}
_CUSTOM = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")
MIN_SIDE, MAX_SIDE = 64, 8192
FORMAT_HELP = (
    "use one of " + ", ".join(NAMED_FORMATS) + f" or a custom size WxH such as 1200x1200 ({MIN_SIDE}-{MAX_SIDE} px)"
)


def parse_format(text: str) -> AdFormat:
    """``square`` -> AdFormat('square', 1080, 1080); ``1200x900`` -> AdFormat('1200x900', ...).

    Raises ValueError with a message meant for the user."""
    key = text.strip().lower()
    if key in NAMED_FORMATS:
        return NAMED_FORMATS[key]
    match = _CUSTOM.match(key)
    if not match:
        raise ValueError(f"unknown ad format {text!r}")
    width, height = int(match[1]), int(match[2])
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValueError(f"custom size {text!r} is outside {MIN_SIDE}-{MAX_SIDE} px")
    return AdFormat(f"{width}x{height}", width, height)


def render_size(fmt: AdFormat, native_side: int, multiple: int = 64) -> tuple[int, int]:
    """The size to ask the model for: about its trained pixel count (native_side**2), the
    format's aspect ratio, each side a multiple of ``multiple``. The result is then
    resized and centre-cropped to the format's exact pixels."""
    area = native_side * native_side
    width = math.sqrt(area * fmt.aspect)
    height = width / fmt.aspect

    def snap(side: float) -> int:
        return max(multiple, int(round(side / multiple)) * multiple)

    return snap(width), snap(height)


@dataclass(frozen=True, slots=True)
class Box:
    """A pixel rectangle: left, top (inclusive), right, bottom (exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def contains(self, other: "Box") -> bool:
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def overlaps(self, other: "Box") -> bool:
        return (
            self.left < other.right and other.left < self.right and self.top < other.bottom and other.top < self.bottom
        )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)


# Fractions of the canvas (left, top, right, bottom) that platform UI covers: nothing that
# matters (product, copy, logo, AI label) may sit there. Stories/reels keep the top 14%
# (profile, progress bar) and the bottom 20% (reply box, CTA sticker) free; feeds only
# need a small breathing margin.
STORY_SAFE_INSETS = (0.06, 0.14, 0.06, 0.20)
FEED_SAFE_INSETS = (0.04, 0.04, 0.04, 0.04)
TALL_ASPECT = 0.7  # custom sizes narrower than this (e.g. 1080x1920) are treated as stories


def safe_insets(fmt: AdFormat) -> tuple[float, float, float, float]:
    return STORY_SAFE_INSETS if fmt.name == "story" or fmt.aspect < TALL_ASPECT else FEED_SAFE_INSETS


def safe_box(fmt: AdFormat) -> Box:
    """The part of the canvas that platform UI leaves visible."""
    left, top, right, bottom = safe_insets(fmt)
    return Box(
        round(fmt.width * left),
        round(fmt.height * top),
        fmt.width - round(fmt.width * right),
        fmt.height - round(fmt.height * bottom),
    )
