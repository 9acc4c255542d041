"""Expand mode: a source image (a photo, or a finished creative) carried to another format by
outpainting, as Meta's Advantage+ "expand image" does.

The source is scaled to the largest size that fits the format and placed by the row's
anchor; the model paints only outside it (the mask), and its pixels are put back exactly
afterwards. Where the painted area meets the source, the model's pixels fade into the
source's own edge pixels over a short band, so no seam shows even where the model's
colours drift (tiny or fast models often do).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from pixio_ads.core.formats import Box
from pixio_ads.creative.composite import Placement, product_box

SEAM_BAND = 0.04  # share of the format's short side over which painted pixels fade into the source's edge
FILL_BLUR = 0.05  # the init image outside the source: its edge pixels spread and blurred by this share


def source_box(source_size: tuple[int, int], size: tuple[int, int], anchor: str) -> Box:
    """Where the source goes: the largest size that fits ``size``, placed by ``anchor``
    (the anchors of compose mode: ``left`` puts it against the left edge, and so on)."""
    canvas = Box(0, 0, *size)
    return product_box(source_size, canvas, canvas, Placement(anchor=anchor, scale=1.0))


def placed_source(source: Image.Image, box: Box) -> Image.Image:
    """The source at the box's size, the exact pixels the expanded image keeps."""
    source = source.convert("RGB")
    if source.size == (box.width, box.height):
        return source
    return source.resize((box.width, box.height), Image.Resampling.LANCZOS)


def edge_extended(placed: Image.Image, box: Box, size: tuple[int, int]) -> np.ndarray:
    """The canvas filled by repeating the source's outermost pixels outward (H x W x 3 floats)."""
    pixels = np.asarray(placed, dtype=np.float32)
    widths = ((box.top, size[1] - box.bottom), (box.left, size[0] - box.right), (0, 0))
    return np.pad(pixels, widths, mode="edge")


def expand_inputs(source: Image.Image, size: tuple[int, int], anchor: str) -> tuple[Image.Image, Image.Image]:
    """(init image, mask) for the inpainting pipeline at the format's ``size``: the placed
    source with its edges spread and blurred outward, and a mask that is white (paint)
    everywhere outside the source."""
    box = source_box(source.size, size, anchor)
    placed = placed_source(source, box)
    spread = Image.fromarray(edge_extended(placed, box, size).astype(np.uint8))
    canvas = spread.filter(ImageFilter.GaussianBlur(max(1, round(min(size) * FILL_BLUR))))
    canvas.paste(placed, (box.left, box.top))
    mask = Image.new("L", size, 255)
    mask.paste(0, box.as_tuple())
    return canvas, mask


def expand_scene(generated: Image.Image, source: Image.Image, anchor: str) -> tuple[Image.Image, Box]:
    """The expanded scene at ``generated``'s size: the source's exact pixels in its box, the
    painted pixels outside, blended into the source's edge over SEAM_BAND. Returns it and
    the source's box."""
    size = generated.size
    box = source_box(source.size, size, anchor)
    placed = placed_source(source, box)
    outside = np.ones((size[1], size[0]), bool)
    outside[box.top : box.bottom, box.left : box.right] = False
    band = max(1.0, SEAM_BAND * min(size))
    # 1 at the source's edge, falling to 0 a band away from it
    weight = np.clip(1.0 - ndimage.distance_transform_edt(outside) / band, 0.0, 1.0)[..., None]
    painted = np.asarray(generated.convert("RGB"), dtype=np.float32)
    blended = painted * (1.0 - weight) + edge_extended(placed, box, size) * weight
    scene = Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    scene.paste(placed, (box.left, box.top))
    return scene, box
