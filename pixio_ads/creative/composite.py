"""Compositing: the ad's layout, the product's placement and shadows, and the canvases the
inpainting modes start from. Plain functions on PIL images at the format's exact pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from pixio_ads.core.formats import AdFormat, Box, safe_box

ANCHORS = ("center", "bottom-center", "top-center", "left", "right", "bottom-left", "bottom-right")
SHADOWS = ("both", "contact", "drop", "none")
LOGO_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
DEFAULT_ANCHOR = "center"
DEFAULT_PRODUCT_SCALE = 0.6  # fraction of the canvas the product may fill (both sides)
DEFAULT_MARGIN = 0.03  # fraction of the canvas' short side kept clear inside the safe zone
DEFAULT_SHADOW = "both"
HEADLINE_BAND = 0.20  # share of the safe height for the headline
CTA_BAND = 0.12  # share of the safe height for the call-to-action button
CTA_WIDTH = 0.5  # share of the safe width for the button
LOGO_WIDTH = 0.2  # share of the safe width for the logo
LOGO_HEIGHT = 0.1  # share of the safe height for the logo
LABEL_WIDTH = 0.24  # share of the safe width for the "AI-generated" label (beside the button)
LABEL_HEIGHT = 0.045  # share of the safe height for the label
LABEL_MIN_HEIGHT = 16  # px: room for a 9 px label and its badge on small formats
INPAINT_FILL = (127, 127, 127)  # what the model sees where it will paint
INPAINT_DILATE = 0.006  # mask grows past the product by this share of the short side


def normalise_anchor(text: str) -> str:
    """``Centre``/``bottom_centre`` -> ``center``/``bottom-center``; ValueError when unknown."""
    key = text.strip().lower().replace("_", "-").replace(" ", "-").replace("centre", "center")
    if key not in ANCHORS:
        raise ValueError(f"unknown anchor {text!r}")
    return key


@dataclass(frozen=True, slots=True)
class Placement:
    anchor: str = DEFAULT_ANCHOR
    scale: float = DEFAULT_PRODUCT_SCALE
    margin: float = DEFAULT_MARGIN
    shadow: str = DEFAULT_SHADOW
    harmonize: float = 0.0  # 0-1: how far the product's colour cast moves toward the background's


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything goes on one format. All boxes lie inside ``safe``."""

    canvas: Box
    safe: Box
    headline: Box
    cta: Box
    logo: Box | None
    product_area: Box
    label: Box | None = None  # the visible AI-generated disclosure


def corner_box(inner: Box, corner: str, width: int, height: int) -> Box:
    left = inner.left if corner.endswith("left") else inner.right - width
    top = inner.top if corner.startswith("top") else inner.bottom - height
    return Box(left, top, left + width, top + height)


def layout(
    fmt: AdFormat, margin: float = DEFAULT_MARGIN, logo_position: str | None = None, label_position: str | None = None
) -> Layout:
    """Headline band at the top of the safe area, the button band at the bottom, the
    product between them; the logo and the AI label take corner slots (never the same one)
    and the headline stays centred and clear of them."""
    if logo_position and logo_position == label_position:
        raise ValueError(f"the logo and the AI label cannot share the {logo_position} corner")
    safe = safe_box(fmt)
    pad = round(min(fmt.width, fmt.height) * margin)
    inner = Box(safe.left + pad, safe.top + pad, safe.right - pad, safe.bottom - pad)
    gap = max(1, pad)
    headline_h, cta_h = round(inner.height * HEADLINE_BAND), round(inner.height * CTA_BAND)
    headline = Box(inner.left, inner.top, inner.right, inner.top + headline_h)
    cta_w = round(inner.width * CTA_WIDTH)
    cta_left = inner.left + (inner.width - cta_w) // 2
    cta = Box(cta_left, inner.bottom - cta_h, cta_left + cta_w, inner.bottom)
    logo = label = None
    side = 0  # width the corner slots take from the headline's sides
    if logo_position:
        logo_w = round(inner.width * LOGO_WIDTH)
        logo = corner_box(
            inner,
            logo_position,
            logo_w,
            min(round(inner.height * LOGO_HEIGHT), headline_h if logo_position.startswith("top") else cta_h),
        )
        side = logo_w if logo_position.startswith("top") else 0
    if label_position:
        label_w = min(round(inner.width * LABEL_WIDTH), cta.left - inner.left - gap)
        label = corner_box(
            inner, label_position, label_w, min(max(LABEL_MIN_HEIGHT, round(inner.height * LABEL_HEIGHT)), cta_h)
        )
        side = max(side, label_w if label_position.startswith("top") else 0)
    if side:  # keep the headline centred, clear of the corner slots on both sides
        headline = Box(inner.left + side + gap, headline.top, inner.right - side - gap, headline.bottom)
    product_area = Box(inner.left, headline.bottom + gap, inner.right, cta.top - gap)
    return Layout(Box(0, 0, fmt.width, fmt.height), safe, headline, cta, logo, product_area, label)


def product_box(product_size: tuple[int, int], canvas: Box, area: Box, placement: Placement) -> Box:
    """Scale the product to ``placement.scale`` of the canvas (never beyond ``area``) and
    anchor it inside ``area``."""
    width, height = product_size
    fit = min(
        canvas.width * placement.scale / width,
        canvas.height * placement.scale / height,
        area.width / width,
        area.height / height,
    )
    w, h = max(1, min(area.width, round(width * fit))), max(1, min(area.height, round(height * fit)))
    anchor = placement.anchor
    if anchor.endswith("left"):
        left = area.left
    elif anchor.endswith("right"):
        left = area.right - w
    else:
        left = area.left + (area.width - w) // 2
    if anchor.startswith("bottom"):
        top = area.bottom - h
    elif anchor.startswith("top"):
        top = area.top
    else:
        top = area.top + (area.height - h) // 2
    return Box(left, top, left + w, top + h)


def fit_cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale (Lanczos) so the image covers width x height, then centre-crop to exactly that size."""
    scale = max(width / image.width, height / image.height)
    scaled_w, scaled_h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
    resized = image.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return resized.crop((left, top, left + width, top + height))


def scaled_product(product: Image.Image, box: Box) -> Image.Image:
    """The RGBA product at its box's size: the exact pixels the creative will carry (a copy
    when it is at that size already)."""
    return product.convert("RGBA").resize((box.width, box.height), Image.Resampling.LANCZOS)


def harmonize(product: Image.Image, background: Image.Image, strength: float) -> Image.Image:
    """Move the product's mean colour toward the background's by ``strength`` (0-1), keeping
    its alpha. A light touch (0.1-0.3) takes the edge off a studio shot on a warm scene."""
    if strength <= 0:
        return product
    pixels = np.asarray(product, dtype=np.float32)
    rgb, alpha = pixels[..., :3], pixels[..., 3:]
    weight = alpha / 255.0
    product_mean = (rgb * weight).sum(axis=(0, 1)) / max(float(weight.sum()), 1.0)
    target = np.asarray(background.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)
    gain = 1.0 + strength * (target / np.maximum(product_mean, 1.0) - 1.0)
    shifted = np.clip(rgb * gain, 0, 255)
    return Image.fromarray(np.concatenate([shifted, alpha], axis=2).round().astype(np.uint8), "RGBA")


@dataclass(frozen=True, slots=True)
class Shade:
    """How much a product's shadows darken the canvas (0-255) over ``region``, the part of
    the canvas around the product they reach."""

    region: Box
    mask: Image.Image  # "L", the region's size


def shadow_shade(canvas_size: tuple[int, int], placed: Image.Image, box: Box, shadow: str) -> Shade | None:
    """A soft drop shadow (the product's silhouette, offset and blurred) and a contact
    shadow (a dark flattened ellipse where the product meets the ground), for the product
    at its box's size (``placed``); None for ``shadow="none"``. It depends on the product,
    its box and the canvas only, so a process computes it once for all of a product's
    scenes (compose.Assets). Drawn on the region around the product only: blurring the
    whole canvas would cost 3x as much."""
    if shadow == "none":
        return None
    short = min(canvas_size)
    offset, blur = round(short * 0.015), max(1.0, short * 0.012)
    reach = offset + round(blur * 3) + round(box.height * 0.06)
    region = Box(
        max(0, box.left - reach),
        max(0, box.top - reach),
        min(canvas_size[0], box.right + reach),
        min(canvas_size[1], box.bottom + reach),
    )
    x, y = box.left - region.left, box.top - region.top  # the product's corner within the region
    shade = Image.new("L", (region.width, region.height), 0)
    if shadow in ("both", "drop"):
        shade.paste(placed.getchannel("A").point(lambda a: a * 0.35), (x + offset, y + offset))
        shade = shade.filter(ImageFilter.GaussianBlur(blur))
    if shadow in ("both", "contact"):
        contact = Image.new("L", shade.size, 0)
        bbox = placed.getchannel("A").getbbox() or (0, 0, box.width, box.height)
        foot_w, foot_h = (bbox[2] - bbox[0]) * 0.9, max(2.0, box.height * 0.06)
        centre_x, bottom = x + (bbox[0] + bbox[2]) / 2, y + bbox[3]
        ImageDraw.Draw(contact).ellipse(
            (centre_x - foot_w / 2, bottom - foot_h / 2, centre_x + foot_w / 2, bottom + foot_h / 2), fill=120
        )
        shade = ImageChops.lighter(shade, contact.filter(ImageFilter.GaussianBlur(max(1, foot_h / 2))))
    return Shade(region, shade)


def draw_shadows(canvas: Image.Image, shade: Shade | None) -> Image.Image:
    """The canvas (a copy) darkened by ``shade``."""
    if shade is None:
        return canvas
    canvas = canvas.copy()
    area = shade.region.as_tuple()
    black = Image.new("RGB", shade.mask.size, (0, 0, 0))
    canvas.paste(Image.composite(black, canvas.crop(area), shade.mask), area[:2])
    return canvas


def compose(
    background: Image.Image, product: Image.Image, box: Box, placement: Placement, shade: Shade | None = None
) -> Image.Image:
    """Background (already at the canvas size) + shadows + the product pasted with its alpha.
    ``shade``: the product's shadow_shade when the caller keeps one (else computed here)."""
    canvas = background.convert("RGB")  # a copy: the caller's image is left as it was
    placed = scaled_product(product, box)
    if shade is None:
        shade = shadow_shade(canvas.size, placed, box, placement.shadow)
    under = canvas.crop(box.as_tuple())
    placed = harmonize(placed, under, placement.harmonize)
    canvas = draw_shadows(canvas, shade)
    canvas.paste(placed, (box.left, box.top), placed)
    return canvas


def inpaint_inputs(size: tuple[int, int], product: Image.Image, box: Box) -> tuple[Image.Image, Image.Image]:
    """(canvas, mask) for painting a scene around the placed product: the product on a
    neutral fill, and a mask that is white (paint) everywhere except the product, grown
    by a few pixels so the model blends into its edge."""
    placed = scaled_product(product, box)
    canvas = Image.new("RGB", size, INPAINT_FILL)
    canvas.paste(placed, (box.left, box.top), placed)
    keep = Image.new("L", size, 0)
    keep.paste(placed.getchannel("A").point(lambda a: 255 if a >= 128 else 0), (box.left, box.top))
    keep = keep.filter(ImageFilter.MaxFilter(max(1, round(min(size) * INPAINT_DILATE)) * 2 + 1))  # odd size
    return canvas, ImageChops.invert(keep)


def paste_product(canvas: Image.Image, product: Image.Image, box: Box) -> tuple[Image.Image, Image.Image]:
    """Put the product's exact pixels back over a generated scene (inpaint mode): wherever
    the product is opaque the creative carries its pixels unchanged. Returns the canvas and
    that promise as a mask (white = an exact product pixel), for later steps to respect."""
    canvas = canvas.convert("RGB")
    placed = scaled_product(product, box)
    canvas.paste(placed, (box.left, box.top), placed)
    exact = Image.new("L", canvas.size, 0)
    exact.paste(placed.getchannel("A").point(lambda a: 255 if a == 255 else 0), (box.left, box.top))
    return canvas, exact


def merge_masked(
    original: Image.Image, generated: Image.Image, mask: Image.Image, feather: float = 2.0
) -> Image.Image:
    """Keep ``original`` outside the mask (white = replaced): the VAE round trip must not
    soften pixels the user did not ask to change."""
    soft = mask.convert("L").filter(ImageFilter.GaussianBlur(feather)) if feather > 0 else mask.convert("L")
    return Image.composite(generated.convert("RGB"), original.convert("RGB"), soft)
