"""Product fidelity: does the product in the finished scene still look like the source?

The most reported failure of product scenes is the product changing (a background swap that
alters the packaging, image-to-image turning a bottle into a pump dispenser). Inside the
product's region the result is compared with the source: structural similarity (SSIM, on
luminance, Gaussian window) for shape and print, and the mean CIEDE2000 colour difference for
colour. The score is SSIM (clipped at 0) times the colour part, 1 at no difference and 0 at a
mean difference of COLOUR_SCALE. A product pasted as it is (compose, inpaint's product put back)
scores 1 by construction; a restyled or repainted one less, as much as it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

COLOUR_SCALE = 20.0  # mean CIEDE2000 at which the colour part scores 0 (10: clearly another colour)
MIN_REGION_PX = 64  # below this the product region is too small to judge


@dataclass(frozen=True, slots=True)
class Fidelity:
    score: float  # 0-1
    ssim: float
    delta_e: float

    def columns(self) -> dict:
        return {
            "product_fidelity_score": round(self.score, 4),
            "product_ssim": round(self.ssim, 4),
            "product_delta_e": round(self.delta_e, 3),
        }


def product_fidelity(reference: np.ndarray, result: np.ndarray, region: np.ndarray) -> Fidelity | None:
    """``reference`` and ``result``: RGB arrays of one size; ``region``: True where the product
    is. None when the region is too small to judge."""
    if region.sum() < MIN_REGION_PX:
        return None
    # Outside the region the reference takes the result's pixels: SSIM's window at the product's
    # edge then sees only the product's own differences, not the scene behind it.
    reference = np.where(region[..., None], reference, result)
    rows, cols = np.nonzero(region)
    window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    ref, res, inside = reference[window].astype(np.float64), result[window].astype(np.float64), region[window]
    if min(inside.shape) < 7:  # SSIM's window
        return None
    _, ssim_map = structural_similarity(
        _luma(ref), _luma(res), data_range=255.0, gaussian_weights=True, sigma=1.5, full=True
    )
    ssim = float(ssim_map[inside].mean())
    delta_e = float(deltaE_ciede2000(rgb2lab(ref[inside] / 255.0), rgb2lab(res[inside] / 255.0)).mean())
    score = max(0.0, ssim) * max(0.0, 1.0 - delta_e / COLOUR_SCALE)
    return Fidelity(score, ssim, delta_e)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])
