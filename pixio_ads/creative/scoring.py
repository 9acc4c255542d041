"""Scores for every finished creative, so a person chooses among the best few instead of
paging through hundreds: each a number in 0-1 (1 best) from the finished image and what the
run measured while making it, plus one weighted ``score`` (weights from the brand kit).

- legibility: the copy's measured contrast (WCAG; 3:1 scores 0, 7:1 scores 1) and its
  smallest text size against the format (3% of the short side scores 1);
- product_visibility: share of the product's pixels not under copy, logo or label, times how
  much of the canvas it fills (15% or more scores 1);
- safe_zone: share of the copy's, logo's and product's area inside the format's safe zone;
- text_coverage: share of the canvas under copy (up to 20% scores 1, 50% or more 0);
- brand_colour: CIEDE2000 distance from the scene's dominant colours to the brand kit's
  colours (0 scores 1, 40 or more 0); absent without a brand kit;
- image_quality: the scene's sharpness, clipped highlights and shadows, flat and noisy areas;
- prompt_alignment: CLIPScore of the prompt and the generated scene (absent without a CLIP
  model; clip.py).

A score that does not apply (no product in restyle mode, no brand kit, no CLIP model) is
left out of the weighted mean rather than counted as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from pixio_ads.core.formats import Box

COMPONENTS = (
    "legibility", "product_visibility", "safe_zone", "text_coverage", "brand_colour", "image_quality",
    "prompt_alignment", "product_fidelity",
)  # fmt: skip
DEFAULT_WEIGHTS = {
    "legibility": 0.25,
    "product_visibility": 0.2,
    "safe_zone": 0.1,
    "text_coverage": 0.1,
    "brand_colour": 0.1,
    "image_quality": 0.15,
    "prompt_alignment": 0.1,
    "product_fidelity": 0.1,  # 1 for a pasted product: it weighs where a mode repaints it
}
CONTRAST_RANGE = (3.0, 7.0)  # WCAG: 3:1 large-text minimum, 7:1 enhanced
LEGIBLE_TEXT_SHARE = 0.03  # of the short side: 32 px on a 1080 px square
PRODUCT_SHARE_GOAL = 0.15
TEXT_COVERAGE_RANGE = (0.2, 0.5)
DELTA_E_RANGE = (0.0, 40.0)
DOMINANT_COLOURS = 5
CLIPPED_LOW, CLIPPED_HIGH = 5, 250  # luminance of clipped shadows and highlights
QUALITY_BLOCK = 16  # px of the 512 px analysis image
FLAT_STD = 0.5  # a block this even is flat (an empty fill, a blown-out sky); grain or a gradient is more
NOISY_RESIDUAL = 10.0  # detail this strong after a 1 px blur is noise, not texture
SHARP_LAPLACIAN_VAR = 60.0


def ramp(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high`` (either may be the larger), clipped."""
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


@dataclass(frozen=True, slots=True)
class Elements:
    """Where the finished creative put things (boxes in canvas pixels)."""

    canvas: Box
    safe: Box
    headline: Box
    cta: Box
    logo: Box | None = None
    label: Box | None = None
    product: Box | None = None

    @property
    def copy(self) -> list[Box]:
        return [self.headline, self.cta] + ([self.label] if self.label else [])

    @property
    def covers(self) -> list[Box]:
        """What may sit over the product."""
        return self.copy + ([self.logo] if self.logo else [])


def legibility(contrasts: list[float], smallest_text_px: int, canvas: Box) -> float:
    contrast = ramp(min(contrasts), *CONTRAST_RANGE)
    size = ramp(smallest_text_px, 0, LEGIBLE_TEXT_SHARE * min(canvas.width, canvas.height))
    return round(0.6 * contrast + 0.4 * size, 4)


def product_visibility(alpha: np.ndarray, elements: Elements) -> tuple[float, float, float]:
    """(visible share, canvas share, score); ``alpha`` is the product's alpha (0-255) at its box."""
    box = elements.product
    present = alpha >= 128
    total = int(present.sum())
    if box is None or total == 0:
        return 0.0, 0.0, 0.0
    covered = np.zeros_like(present)
    for cover in elements.covers:
        left, top = max(cover.left, box.left) - box.left, max(cover.top, box.top) - box.top
        right, bottom = min(cover.right, box.right) - box.left, min(cover.bottom, box.bottom) - box.top
        if right > left and bottom > top:
            covered[top:bottom, left:right] = True
    visible = 1 - int((present & covered).sum()) / total
    share = total / (elements.canvas.width * elements.canvas.height)
    return round(visible, 4), round(share, 4), round(visible * ramp(share, 0, PRODUCT_SHARE_GOAL), 4)


def safe_zone(elements: Elements) -> tuple[bool, float]:
    """(everything inside, share of the elements' area inside the safe zone)."""
    boxes = elements.covers + ([elements.product] if elements.product else [])
    total = sum(b.width * b.height for b in boxes)
    inside = sum(_intersection(b, elements.safe) for b in boxes)
    return all(elements.safe.contains(b) for b in boxes), round(inside / total if total else 1.0, 4)


def text_coverage(elements: Elements) -> tuple[float, float]:
    """(share of the canvas under copy, score). Overlapping boxes count once."""
    canvas = elements.canvas
    mask = np.zeros((canvas.height, canvas.width), dtype=bool)
    for box in elements.copy:
        mask[max(box.top, 0) : box.bottom, max(box.left, 0) : box.right] = True
    share = float(mask.mean())
    return round(share, 4), round(ramp(share, TEXT_COVERAGE_RANGE[1], TEXT_COVERAGE_RANGE[0]), 4)


def dominant_colours(image: Image.Image, count: int = DOMINANT_COLOURS) -> tuple[np.ndarray, np.ndarray]:
    """(RGB colours, their shares) by median cut on a 64x64 thumbnail."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
    quantized = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = np.array(quantized.getpalette()[: 3 * count], dtype=np.float64).reshape(-1, 3)
    counts = np.bincount(np.asarray(quantized).ravel(), minlength=count)[: len(palette)]
    used = counts > 0
    return palette[used], counts[used] / counts.sum()


def brand_colour(scene: Image.Image, brand_colours: list[tuple[int, int, int]]) -> tuple[float, float]:
    """(mean CIEDE2000 distance of the dominant colours to their nearest brand colour, score)."""
    colours, shares = dominant_colours(scene)
    lab = rgb2lab(colours[None, :, :] / 255.0)[0]
    brand = rgb2lab(np.array(brand_colours, dtype=np.float64)[None, :, :] / 255.0)[0]
    distances = deltaE_ciede2000(lab[:, None, :], brand[None, :, :]).min(axis=1)
    delta = float((distances * shares).sum())
    return round(delta, 2), round(ramp(delta, DELTA_E_RANGE[1], DELTA_E_RANGE[0]), 4)


@dataclass(frozen=True, slots=True)
class Quality:
    sharpness: float  # variance of the Laplacian of the 512 px grey image
    clipped_share: float
    flat_share: float
    noisy_share: float
    score: float


def image_quality(scene: Image.Image) -> Quality:
    """Measured on the scene at 512 px on its long side, so every format is judged alike."""
    grey = scene.convert("L")
    grey.thumbnail((512, 512), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.float32)  # float64 cost 40% more, for digits no score uses
    # OpenCV's filters with scipy.ndimage's edge rule (reflect): the same values in half the time
    smooth = cv2.GaussianBlur(pixels, (9, 9), 1.0, borderType=cv2.BORDER_REFLECT)  # ndimage's 4-sigma radius
    sharpness = float(cv2.Laplacian(smooth, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT).var())
    clipped = float(((pixels <= CLIPPED_LOW) | (pixels >= CLIPPED_HIGH)).mean())
    residual = pixels - smooth
    rows, cols = pixels.shape[0] // QUALITY_BLOCK, pixels.shape[1] // QUALITY_BLOCK
    crop = (slice(0, rows * QUALITY_BLOCK), slice(0, cols * QUALITY_BLOCK))

    def per_block(values: np.ndarray) -> np.ndarray:
        return values[crop].reshape(rows, QUALITY_BLOCK, cols, QUALITY_BLOCK).std(axis=(1, 3))

    flat = float((per_block(pixels) < FLAT_STD).mean())
    noisy = float((per_block(residual) > NOISY_RESIDUAL).mean())
    # Clipping, flat and noisy areas each take their share away; a soft (not blurred) scene
    # keeps half: a smooth studio backdrop has little edge energy and is not a defect.
    score = (
        (1 - ramp(clipped, 0, 0.25)) * (1 - flat) * (1 - noisy) * (0.5 + 0.5 * ramp(sharpness, 0, SHARP_LAPLACIAN_VAR))
    )
    return Quality(round(sharpness, 2), round(clipped, 4), round(flat, 4), round(noisy, 4), round(score, 4))


def combined(components: dict[str, float | None], weights: dict[str, float]) -> float:
    """Weighted mean of the components that apply (None: left out)."""
    present = {name: value for name, value in components.items() if value is not None and weights.get(name, 0) > 0}
    total = sum(weights[name] for name in present)
    return round(sum(weights[name] * value for name, value in present.items()) / total, 4) if total else 0.0


def _intersection(a: Box, b: Box) -> int:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    return max(width, 0) * max(height, 0)


def score_columns(
    scene: Image.Image,
    elements: Elements,
    product_alpha: np.ndarray | None,
    contrasts: list[float],
    smallest_text_px: int,
    brand_colours: list[tuple[int, int, int]] | None,
) -> dict:
    """The manifest's score columns for one creative (all but prompt_alignment, measured where
    the model runs, and the combined score, which needs it)."""
    values: dict = {"smallest_text_px": smallest_text_px}
    values["legibility_score"] = legibility(contrasts, smallest_text_px, elements.canvas)
    if product_alpha is not None:
        visible, share, score = product_visibility(product_alpha, elements)
        values.update(product_visible_share=visible, product_canvas_share=share, product_visibility_score=score)
    values["safe_zone_ok"], values["safe_zone_score"] = safe_zone(elements)
    values["text_coverage"], values["text_coverage_score"] = text_coverage(elements)
    return values | scene_scores(scene, brand_colours)


def scene_scores(scene: Image.Image, brand_colours: list[tuple[int, int, int]] | None) -> dict:
    """The score columns of a picture we drew no copy on (an expanded finished creative):
    brand colour and image quality; the copy and product scores do not apply."""
    values: dict = {}
    if brand_colours:
        values["brand_colour_delta_e"], values["brand_colour_score"] = brand_colour(scene, brand_colours)
    quality = image_quality(scene)
    values.update(
        sharpness=quality.sharpness,
        clipped_share=quality.clipped_share,
        flat_share=quality.flat_share,
        noisy_share=quality.noisy_share,
        image_quality_score=quality.score,
    )
    return values


def overall(values: dict, weights: dict[str, float]) -> float:
    """The combined score of a creative's manifest values."""
    return combined({name: values.get(f"{name}_score") for name in COMPONENTS}, weights)


def ranks(rows: list[dict]) -> list[int | None]:
    """1 = best score among the rendered rows of the same campaign, product and format (ties
    by variant id, so ranks are stable); None for rows that were not rendered."""
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        if row["status"] == "rendered" and row.get("score") is not None:
            groups.setdefault((row["campaign_id"], row["product_id"], row["format"]), []).append(index)
    result: list[int | None] = [None] * len(rows)
    for members in groups.values():
        ordered = sorted(members, key=lambda i: (-rows[i]["score"], rows[i]["variant_id"]))
        for position, index in enumerate(ordered, start=1):
            result[index] = position
    return result
