"""Compositing: bring a rendered background to the ad's exact pixels and place the product."""

from __future__ import annotations

from PIL import Image

# Fraction of the canvas the product may fill (both sides); issue-level placement rules build on this.
DEFAULT_PRODUCT_SCALE = 0.6


def fit_cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale (Lanczos) so the image covers width x height, then centre-crop to exactly that size."""
    scale = max(width / image.width, height / image.height)
    scaled_w, scaled_h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
    resized = image.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return resized.crop((left, top, left + width, top + height))


def place_product(background: Image.Image, product: Image.Image, scale: float = DEFAULT_PRODUCT_SCALE) -> Image.Image:
    """Paste the product, alpha-aware, centred and scaled to fit ``scale`` of the canvas."""
    canvas = background.convert("RGB")  # a copy: the caller's image is left as it was
    product = product.convert("RGBA")
    fit = min(canvas.width * scale / product.width, canvas.height * scale / product.height)
    size = (max(1, round(product.width * fit)), max(1, round(product.height * fit)))
    product = product.resize(size, Image.Resampling.LANCZOS)
    offset = ((canvas.width - size[0]) // 2, (canvas.height - size[1]) // 2)
    # Pasting with the product's own alpha as mask blends it over the opaque background,
    # the same pixels as alpha_composite without converting the whole canvas to RGBA.
    canvas.paste(product, offset, product)
    return canvas
