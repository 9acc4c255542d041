"""Product cut-out: the product shot as RGBA with a clean alpha, and how that alpha was made.

In order of preference: the image's own transparency, a user-supplied mask, or removal of
a plain studio background by flood fill from the borders. A photo without a plain
background is used as it is (an opaque rectangle) and says so.

A packshot that fills its frame (a red cereal box photographed edge to edge) has a plain
border too, but it is the product's: flood fill would keep only what the box encloses (its
white label). So a plain border counts as a backdrop only when it is neutral (white, grey,
black, a pale tint: studio sweeps); a saturated border is the product reaching the edges,
and the whole image is kept. A neutral border whose removal would keep under MIN_KEPT_SHARE
of the image is ambiguous: ``cutout_problem`` makes it a validation error (give a mask, a
transparent PNG, or ``cutout`` none), and cutting it out anyway raises CutoutError, which
fails that creative with the reason instead of shipping a fragment of the product.
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
NEUTRAL_SATURATION = 0.3  # a backdrop's colour: at most this HSV saturation (pale tints pass)
MIN_KEPT_SHARE = 0.2  # a cut-out keeping less of the image than this took product for backdrop
CUTOUT_MODES = ("auto", "none", "mask")  # the campaign's `cutout` column


class CutoutError(ValueError):
    """The background removal would ship a fragment of the product."""


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


def plain_backdrop(image: Image.Image, tolerance: int = DEFAULT_TOLERANCE) -> tuple[np.ndarray, float] | None:
    """(background mask, the backdrop colour's saturation) when the border is plain: pixels
    within ``tolerance`` of the border's median colour and connected to the border; enclosed
    areas of the same colour (a white label on the product) are not background. None when
    the border is not plain."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    backdrop = np.median(border, axis=0)
    close = np.abs(rgb - backdrop).max(axis=2) <= tolerance
    border_close = np.concatenate([close[0], close[-1], close[:, 0], close[:, -1]])
    if border_close.mean() < PLAIN_BORDER_SHARE:
        return None
    labels, _ = ndimage.label(close)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    saturation = float((backdrop.max() - backdrop.min()) / max(backdrop.max(), 1))
    return np.isin(labels, edge_labels[edge_labels > 0]), saturation


def remove_plain_background(
    image: Image.Image, tolerance: int = DEFAULT_TOLERANCE, feather: float = FEATHER_PX
) -> Image.Image | None:
    """The product with a plain, neutral backdrop flood-filled away (plain_backdrop); None
    when the border is not plain or not neutral (the product reaching the edges)."""
    found = plain_backdrop(image, tolerance)
    if found is None or found[1] > NEUTRAL_SATURATION:
        return None
    background = found[0]
    alpha = Image.fromarray(np.where(background, 0, 255).astype(np.uint8))
    # Shrink by one pixel to drop the backdrop-tinted fringe, then soften the edge.
    alpha = alpha.filter(ImageFilter.MinFilter(3))
    if feather > 0:
        alpha = alpha.filter(ImageFilter.GaussianBlur(feather))
    product = image.convert("RGBA")
    product.putalpha(alpha)
    return product


def cut_out(
    image: Image.Image, mask: Image.Image | None = None, tolerance: int = DEFAULT_TOLERANCE, mode: str = "auto"
) -> tuple[Image.Image, str]:
    """(RGBA product, method) with method one of CUTOUT_METHODS; ``mode`` none keeps the
    image as it is. Raises CutoutError where the removal would keep a fragment of it."""
    if mask is not None:
        return apply_mask(image, mask), MASK
    if mode == "none":
        return image.convert("RGBA"), OPAQUE
    if has_transparency(image):
        return image.convert("RGBA"), ALPHA
    removed = remove_plain_background(image, tolerance)
    if removed is None:
        return image.convert("RGBA"), OPAQUE
    kept = float(np.asarray(removed.getchannel("A")).astype(bool).mean())
    if kept < MIN_KEPT_SHARE:
        raise CutoutError(
            f"removing the plain border would keep only {kept:.0%} of the product image (the product may fill "
            "its frame): give a product_mask or a transparent PNG, or set cutout to none"
        )
    return removed, FLOOD_FILL


def cutout_problem(image: Image.Image) -> str | None:
    """Why ``cut_out`` in auto mode would fail for this opaque image, for validate; None when
    it would not."""
    try:
        cut_out(image)
    except CutoutError as exc:
        return str(exc)
    return None
