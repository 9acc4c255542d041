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
SCALES = np.linspace(0.2, 0.95, 16)  # the product's height (or width) as a share of the image's
MIN_SIDE = 8  # px: smaller matches at the search size are noise


@dataclass(frozen=True, slots=True)
class Found:
    box: Box  # where the product is in the searched image, at its size
    match: float  # the correlation at that place, 0-1 (1: the same pixels)


def find_product(image: Image.Image, product: Image.Image) -> Found | None:
    """Where the RGBA ``product`` (a cut-out) best matches in ``image``; None when it has no
    opaque pixels or cannot fit at any scale."""
    import cv2

    alpha = np.asarray(product.getchannel("A"))
    if not (alpha >= 128).any():
        return None
    shrink = min(1.0, SEARCH_SIDE / max(image.size))
    small = _array(image, shrink)
    best: tuple[float, Box] | None = None
    for share in SCALES:
        fit = share * min(small.shape[1] / product.width, small.shape[0] / product.height)
        width, height = round(product.width * fit), round(product.height * fit)
        if min(width, height) < MIN_SIDE:
            continue
        template = np.asarray(product.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), np.float32)
        mask = np.asarray(product.getchannel("A").resize((width, height), Image.Resampling.BILINEAR), np.float32)
        scores = cv2.matchTemplate(small, template, cv2.TM_CCORR_NORMED, mask=mask / 255)
        scores = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
        _, score, _, (left, top) = cv2.minMaxLoc(scores)
        if best is None or score > best[0]:
            best = (float(score), Box(left, top, left + width, top + height))
    if best is None:
        return None
    score, box = best
    width, height = min(image.width, round(box.width / shrink)), min(image.height, round(box.height / shrink))
    # rounding may carry the box a pixel or two past the edge: moved in, never cut (same aspect)
    left = min(max(0, round(box.left / shrink)), image.width - width)
    top = min(max(0, round(box.top / shrink)), image.height - height)
    return Found(Box(left, top, left + width, top + height), score)


def _array(image: Image.Image, scale: float) -> np.ndarray:
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), np.float32)
