"""Finding the product in an edited image: where did the edit model put it, and how large?

An edit model (FLUX.1 Kontext, Qwen-Image-Edit) places the product by instruction: it may move
it, scale it, or change it. To measure what it kept (fidelity.py) and to put the product's own
pixels back where the edit placed it (run/compose.py, ``edit_keep_product = paste``), the cut-out
is searched for in the result: OpenCV's masked normalised cross-correlation
(``TM_CCORR_NORMED`` with the cut-out's alpha as the mask, so the backdrop it was shot on is
not searched for) over a range of scales, on images reduced to SEARCH_SIDE for speed; the best
match is scaled back to the image's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.core.formats import Box

SEARCH_SIDE = 256  # the long side the coarse search runs at (~20 ms a scale at this size)
SCALES = np.linspace(0.15, 0.95, 17)  # the product's height (or width) as a share of the image's
REFINE = np.linspace(0.9, 1.1, 11)  # then around the best share, in 2% steps
MIN_SIDE = 8  # px: smaller matches at the search size are noise


@dataclass(frozen=True, slots=True)
class Found:
    box: Box  # where the product is in the searched image, at its size
    match: float  # the correlation at that place, 0-1 (1: the same pixels)


def find_product(image: Image.Image, product: Image.Image) -> Found | None:
    """Where the RGBA ``product`` (a cut-out) best matches in ``image``; None when it has no
    opaque pixels or cannot fit at any scale."""
    alpha = np.asarray(product.getchannel("A"))
    if not (alpha >= 128).any():
        return None
    shrink = min(1.0, SEARCH_SIDE / max(image.size))
    small = _array(image, shrink)
    matches = [match for share in SCALES if (match := _match_at(small, product, share))]
    if not matches:
        return None
    best = max(matches, key=lambda match: match[0])
    refined = [match for factor in REFINE if (match := _match_at(small, product, best[2] * factor))]
    score, box, _ = max([best, *refined], key=lambda match: match[0])
    width, height = min(image.width, round(box.width / shrink)), min(image.height, round(box.height / shrink))
    # rounding may carry the box a pixel or two past the edge: moved in, never cut (same aspect)
    left = min(max(0, round(box.left / shrink)), image.width - width)
    top = min(max(0, round(box.top / shrink)), image.height - height)
    return Found(Box(left, top, left + width, top + height), score)


def _match_at(small: np.ndarray, product: Image.Image, share: float) -> tuple[float, Box, float] | None:
    """(correlation, box, share) of the product's best place at ``share`` of the image's size."""
    import cv2

    fit = share * min(small.shape[1] / product.width, small.shape[0] / product.height)
    width, height = round(product.width * fit), round(product.height * fit)
    if min(width, height) < MIN_SIDE or width > small.shape[1] or height > small.shape[0]:
        return None
    template = np.asarray(product.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), np.float32)
    mask = np.asarray(product.getchannel("A").resize((width, height), Image.Resampling.BILINEAR), np.float32) / 255
    scores = np.nan_to_num(cv2.matchTemplate(small, template, cv2.TM_CCORR_NORMED, mask=mask), nan=0.0, posinf=0.0)
    _, score, _, (left, top) = cv2.minMaxLoc(scores)
    return float(score), Box(left, top, left + width, top + height), share


def _array(image: Image.Image, scale: float) -> np.ndarray:
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), np.float32)
