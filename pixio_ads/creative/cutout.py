"""Product cut-out: the product shot as RGBA with a clean alpha, and how that alpha was made.

In order of preference: the image's own transparency, a user-supplied mask, or removal of
a plain studio background by flood fill from the borders. A photo without a plain
background is used as it is (an opaque rectangle) and says so.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

ALPHA, MASK, FLOOD_FILL, OPAQUE = "alpha", "mask", "flood-fill", "none"
CUTOUT_METHODS = (ALPHA, MASK, FLOOD_FILL, OPAQUE)
DEFAULT_TOLERANCE = 24  # max per-channel distance (0-255) from the backdrop colour
PLAIN_BORDER_SHARE = 0.9  # share of border pixels that must match the backdrop colour
FEATHER_PX = 1.0  # Gaussian radius softening the cut edge


def has_transparency(image: Image.Image) -> bool:
    """True when some pixel is not fully opaque (an alpha channel of all 255 does not count)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


def apply_mask(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The product with ``mask`` (white = product) as alpha; the mask is scaled to the image."""
    alpha = mask.convert("L")
    if alpha.size != image.size:
        alpha = alpha.resize(image.size, Image.Resampling.LANCZOS)
    product = image.convert("RGBA")
    product.putalpha(alpha)
    return product


def remove_plain_background(
    image: Image.Image, tolerance: int = DEFAULT_TOLERANCE, feather: float = FEATHER_PX
) -> Image.Image | None:
    """Flood-fill the backdrop from the borders: pixels within ``tolerance`` of the border's
    median colour and connected to the border become transparent; enclosed areas of the
    same colour (a white label on the product) stay. None when the border is not plain."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    backdrop = np.median(border, axis=0)
    close = np.abs(rgb - backdrop).max(axis=2) <= tolerance
    border_close = np.concatenate([close[0], close[-1], close[:, 0], close[:, -1]])
    if border_close.mean() < PLAIN_BORDER_SHARE:
        return None
    labels, _ = ndimage.label(close)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_labels[edge_labels > 0])
    alpha = Image.fromarray(np.where(background, 0, 255).astype(np.uint8))
    # Shrink by one pixel to drop the backdrop-tinted fringe, then soften the edge.
    alpha = alpha.filter(ImageFilter.MinFilter(3))
    if feather > 0:
        alpha = alpha.filter(ImageFilter.GaussianBlur(feather))
    product = image.convert("RGBA")
    product.putalpha(alpha)
    return product


def cut_out(
    image: Image.Image, mask: Image.Image | None = None, tolerance: int = DEFAULT_TOLERANCE
) -> tuple[Image.Image, str]:
    """(RGBA product, method) with method one of CUTOUT_METHODS."""
    if mask is not None:
        return apply_mask(image, mask), MASK
    if has_transparency(image):
        return image.convert("RGBA"), ALPHA
    removed = remove_plain_background(image, tolerance)
    if removed is not None:
        return removed, FLOOD_FILL
    return image.convert("RGBA"), OPAQUE
