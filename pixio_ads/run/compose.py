"""From a variant and the model's output to the finished creative, per mode:

- compose: generated scene -> cover-crop to the format -> product cut-out with shadows
- inpaint: product placed first; the model paints everything else; product pixels put back
- restyle: the source image through image-to-image, cover-cropped to the format
- replace: the source image with the mask's white part repainted, the rest kept
- expand: the source image fitted into the format, the rest painted around it (expand.py)

then logo, headline and button on top, encoded as PNG, JPEG or WebP.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.campaign.deliverables import writes_clean
from pixio_ads.campaign.variants import Variant
from pixio_ads.core.formats import AdFormat, Box
from pixio_ads.core.images import open_image
from pixio_ads.creative.brand import BrandKit, brand_kit_at
from pixio_ads.creative.composite import (
    Layout,
    Placement,
    Shade,
    compose,
    fit_cover,
    inpaint_inputs,
    merge_masked,
    paste_product,
    product_box,
    scaled_product,
    shadow_shade,
)
from pixio_ads.creative.cutout import CutoutError, cut_out
from pixio_ads.creative.expand import expand_inputs, expand_scene
from pixio_ads.creative.fidelity import Fidelity, product_fidelity
from pixio_ads.creative.locate import find_product
from pixio_ads.creative.overlay import layout_for, overlay_copy, overlay_label
from pixio_ads.creative.scoring import Elements, scene_scores, score_columns
from pixio_ads.creative.scripts import is_rtl

FILE_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
RECENT_PLACEMENTS = 32  # scaled products and shadows a process keeps (~2 MB each at 1080 px)


class Assets:
    """Decoded inputs shared by a process's variants (a few product shots, many variants).
    Used from the render thread and a finishing thread, hence the lock."""

    def __init__(self, recent: int = RECENT_PLACEMENTS) -> None:
        self._cache: dict[tuple, object] = {}
        self._recent: OrderedDict[tuple, object] = OrderedDict()  # placed products, shades: the last few
        self._recent_size = recent
        self._lock = threading.RLock()  # product() builds through image()

    def _get(self, key: tuple, build):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _get_recent(self, key: tuple, build):
        """Like _get, keeping only the ``recent`` last used: a campaign of thousands of
        products and formats would otherwise keep a scaled copy of each."""
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
            else:
                self._recent[key] = build()
                while len(self._recent) > self._recent_size:
                    self._recent.popitem(last=False)
            return self._recent[key]

    def image(self, path: str) -> Image.Image:
        """Upright, sRGB, 8-bit, camera sizes reduced (images.open_image), once per path."""
        return self._get(("image", path), lambda: open_image(path))

    def product(self, variant: Variant) -> tuple[Image.Image, str]:
        """(RGBA product, cut-out method)."""
        mask = variant.product_mask or None
        return self._get(
            ("product", *_product_key(variant)),
            lambda: cut_out(
                self.image(variant.product_image), self.image(mask) if mask else None, mode=variant.cutout
            ),
        )

    def brand(self, variant: Variant) -> BrandKit:
        return brand_kit_at(variant.brand_kit)

    def placed(self, variant: Variant, box: Box) -> Image.Image:
        """The RGBA product scaled to ``box``: a campaign has many scenes per product and
        format, which all carry these pixels (a Lanczos resize each cost ~12 ms a creative)."""
        return self._get_recent(
            ("placed", *_product_key(variant), box), lambda: scaled_product(self.product(variant)[0], box)
        )

    def shade(self, variant: Variant, box: Box) -> Shade | None:
        """The product's shadows at ``box`` on the format's canvas (composite.shadow_shade),
        kept as the placed product is (~16 ms a creative to draw)."""
        size = (variant.width, variant.height)
        key = ("shade", *_product_key(variant), box, size, variant.shadow)
        return self._get_recent(key, lambda: shadow_shade(size, self.placed(variant, box), box, variant.shadow))


def _product_key(variant: Variant) -> tuple:
    """What selects a variant's cut-out product: its image, mask and cut-out mode."""
    return variant.product_image, variant.product_mask or None, variant.cutout


def placement(variant: Variant) -> Placement:
    return Placement(variant.anchor, variant.product_scale, variant.margin, variant.shadow, variant.harmonize)


def plan_layout(variant: Variant, brand: BrandKit) -> Layout:
    """The variant's layout; right-to-left copy mirrors the logo's and label's corners."""
    fmt = AdFormat(variant.format, variant.width, variant.height)
    return layout_for(fmt, variant.margin, brand, is_rtl(variant.headline))


def placed_product(variant: Variant, assets: Assets) -> tuple[Image.Image, str, Box]:
    """(the product scaled to its box, cut-out method, box)."""
    product, method = assets.product(variant)
    plan = plan_layout(variant, assets.brand(variant))
    box = product_box(product.size, plan.canvas, plan.product_area, placement(variant))
    return assets.placed(variant, box), method, box


def _flat_source(variant: Variant, assets: Assets) -> Image.Image:
    """The restyle/replace/expand input, transparency flattened onto white."""
    image = assets.image(variant.source_image or variant.product_image).convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, (0, 0), image)
    return flat


def _source(variant: Variant, assets: Assets) -> Image.Image:
    """The restyle/replace input at the format's size."""
    return fit_cover(_flat_source(variant, assets), variant.width, variant.height)


def model_inputs(
    variant: Variant, width: int, height: int, assets: Assets
) -> tuple[Image.Image | None, Image.Image | None]:
    """(init image, mask) for the pipeline at its render size; (None, None) for compose."""
    size = (width, height)
    if variant.mode == "compose":
        return None, None
    if variant.mode == "inpaint":
        product, _, box = placed_product(variant, assets)
        canvas, mask = inpaint_inputs((variant.width, variant.height), product, box)
    elif variant.mode == "restyle":
        return _source(variant, assets).resize(size, Image.Resampling.LANCZOS), None
    elif variant.mode == "expand":
        return expand_inputs(_flat_source(variant, assets), size, variant.anchor)
    elif variant.mode == "edit":  # the reference, whole: the edit model sizes it itself
        return _flat_source(variant, assets), None
    else:  # replace
        canvas = _source(variant, assets)
        mask = fit_cover(assets.image(variant.replace_mask).convert("L"), variant.width, variant.height)
    return canvas.resize(size, Image.Resampling.LANCZOS), mask.resize(size, Image.Resampling.BILINEAR)


@dataclass(frozen=True, slots=True)
class Creative:
    image: Image.Image
    values: dict  # manifest result columns describing how it was made
    keep: Image.Image | None = None  # pixels later steps (the watermark) must leave exact: white
    clean: Image.Image | None = None  # scene, product and AI label only, when the variant writes it
    scene: Image.Image | None = None  # the format's picture before copy and label (a video's moving layer)


def finish(variant: Variant, generated: Image.Image, assets: Assets) -> Creative:
    """The finished creative at the format's exact pixels, with its manifest values."""
    scene, keep, product, box, values = format_scene(variant, generated, assets)
    brand = assets.brand(variant)
    plan = plan_layout(variant, brand)
    if variant.source_has_copy == "yes":  # expand of a finished creative: its copy is already there
        creative = overlay_label(scene, plan, brand, variant.language)
        values.update(scene_scores(scene, brand.scoring_colours))
    else:
        creative, overlay = overlay_copy(scene, variant.headline, variant.cta, plan, brand, variant.language)
        values.update(
            headline_font_size=overlay.headline.font_size,
            headline_lines=overlay.headline.lines,
            headline_contrast=overlay.headline.contrast,
            headline_scrim=overlay.headline.scrim_opacity,
            cta_contrast=overlay.cta.contrast,
            missing_glyphs=overlay.missing_glyphs,
        )
        values.update(_scores(scene, plan, overlay, brand, product, box))
    values.update(_fidelity(variant, scene, assets, product, box))
    clean = overlay_label(scene, plan, brand, variant.language) if writes_clean(variant.deliverables) else None
    return Creative(creative, values, keep, clean, scene)


def format_scene(variant: Variant, generated: Image.Image, assets: Assets):
    """(scene, exact-pixel mask or None, product or None, product/source box or None, values):
    the model's output made into the format's picture, before copy, per mode."""
    size = (variant.width, variant.height)
    values: dict = {}
    keep, product, box = None, None, None
    if variant.mode in ("inpaint", "replace", "expand"):  # painted at the render size, not cropped
        painted = generated.resize(size, Image.Resampling.LANCZOS)
    if variant.mode in ("compose", "inpaint"):
        product, method, box = placed_product(variant, assets)
        values.update(cutout_method=method, product_box=list(box.as_tuple()))
        if variant.mode == "compose":
            scene = compose(fit_cover(generated, *size), product, box, placement(variant), assets.shade(variant, box))
        else:
            # inpaint promises the product's own pixels: the watermark must keep them too
            scene, keep = paste_product(painted, product, box)
    elif variant.mode == "restyle":
        scene = fit_cover(generated, *size)
    elif variant.mode == "edit":
        scene, keep, product, box, found = edit_scene(variant, fit_cover(generated, *size), assets)
        values.update(found)
    elif variant.mode == "expand":
        # The source's pixels are the model's to keep, not the watermark's: an expanded image
        # of the same shape as its source would otherwise carry no watermark at all.
        scene, box = expand_scene(painted, _flat_source(variant, assets), variant.anchor)
        values["product_box"] = list(box.as_tuple())
    else:
        mask = fit_cover(assets.image(variant.replace_mask).convert("L"), *size)
        scene = merge_masked(_source(variant, assets), painted, mask)
    return scene, keep, product, box, values


class ProductChanged(ValueError):
    """The product in the result is too unlike the source: the creative fails with this reason."""


def _fidelity(variant: Variant, scene: Image.Image, assets: Assets, product, box: Box | None) -> dict:
    """The product fidelity columns (fidelity.py); raises ProductChanged below the row's minimum.
    ``product``: the product as placed (at its box's size), in compose and inpaint modes."""
    if variant.mode == "edit":
        return {}  # measured where the edit placed the product (edit_scene)
    if variant.mode == "expand" or (variant.mode == "compose" and not variant.harmonize) or variant.mode == "inpaint":
        # The scene carries the source's own pixels, put there and changed by nothing before
        # this (expand_scene's paste-back, compose's paste without harmonising, inpaint's
        # paste_product): measuring would compare them with themselves (~80 ms a creative).
        return Fidelity(1.0, 1.0, 0.0).columns()
    result = np.asarray(scene.convert("RGB"))
    if product is not None:  # compose with harmonising: the product as pasted, inside its box
        placed = np.asarray(product)
        window = (slice(box.top, box.bottom), slice(box.left, box.right))
        found = product_fidelity(placed[..., :3], result[window], placed[..., 3] == 255)
    else:  # restyle, replace: the source at the format's size, where its product is
        source = _source(variant, assets)
        found = product_fidelity(np.asarray(source), result, _source_product_region(variant, assets, source.size))
    if found is None:
        return {}
    if found.score < variant.min_product_fidelity:
        raise ProductChanged(
            f"product fidelity {found.score:.2f} is below the row's min_product_fidelity {variant.min_product_fidelity} "
            f"(SSIM {found.ssim:.2f}, colour difference {found.delta_e:.1f}): the product changed; lower the strength, "
            "or keep its pixels with mode compose or inpaint"
        )
    return found.columns()


def edit_scene(variant: Variant, edited: Image.Image, assets: Assets):
    """edit mode: (scene, exact-pixel mask or None, product as placed, its box, values). The
    product is found where the edit put it (locate.py) and its fidelity measured there; below
    the row's min_product_fidelity ``edit_keep_product`` decides: ``paste`` its own pixels back
    at that place with its shadow (at the layout's place where it is not found), ``fail``, or
    ``off`` (recorded only)."""
    product, method = assets.product(variant)
    found = find_product(edited, product)
    box = found.box if found else placed_product(variant, assets)[2]
    placed = assets.placed(variant, box)
    region = np.asarray(placed.getchannel("A")) == 255
    window = np.asarray(edited.convert("RGB").crop(box.as_tuple()))
    fidelity = product_fidelity(np.asarray(placed.convert("RGB")), window, region) if found else None
    values = {"cutout_method": method, "product_box": list(box.as_tuple()), "product_kept": "edit"}
    values.update(fidelity.columns() if fidelity else {"product_fidelity_score": 0.0})
    score = fidelity.score if fidelity else 0.0
    if score >= variant.min_product_fidelity or variant.edit_keep_product == "off":
        return edited, None, placed, box, values
    if variant.edit_keep_product == "fail":
        where = f"{score:.2f}" if found else "0 (the product was not found in the edit)"
        raise ProductChanged(
            f"product fidelity {where} is below the row's min_product_fidelity {variant.min_product_fidelity}: the "
            "edit changed the product; set edit_keep_product to paste to put its own pixels back"
        )
    shaded = compose(edited, placed, box, placement(variant), assets.shade(variant, box))
    _, keep = paste_product(shaded, placed, box)
    return shaded, keep, placed, box, {**values, "product_kept": "pasted"}


def _source_product_region(variant: Variant, assets: Assets, size: tuple[int, int]) -> np.ndarray:
    """Where the product is in the restyle/replace source: its own cut-out (transparency, a
    mask, a plain backdrop), else the replace mask's kept part, else the whole image."""
    image = assets.image(variant.source_image or variant.product_image)
    mask = assets.image(variant.product_mask) if variant.product_mask else None
    try:
        cut, method = cut_out(image, mask, mode=variant.cutout)
    except CutoutError:
        cut, method = image.convert("RGBA"), "none"
    if method != "none":
        return np.asarray(fit_cover(cut.getchannel("A"), *size)) >= 250
    if variant.mode == "replace":
        return np.asarray(fit_cover(assets.image(variant.replace_mask).convert("L"), *size)) < 128
    return np.ones((size[1], size[0]), bool)


def _scores(scene: Image.Image, plan, overlay, brand: BrandKit, product: Image.Image | None, box: Box | None) -> dict:
    """Score columns (scoring.py) from what finishing measured and placed (``product``, at
    its ``box``'s size, and the box: None in restyle and replace modes)."""
    alpha = np.asarray(product.getchannel("A")) if product is not None else None
    elements = Elements(
        plan.canvas, plan.safe, overlay.headline.box, overlay.cta.box, overlay.logo, overlay.label, box
    )
    return score_columns(
        scene,
        elements,
        alpha,
        [overlay.headline.contrast, overlay.cta.contrast],
        min(overlay.headline.font_size, overlay.cta.font_size),
        brand.scoring_colours,
    )
