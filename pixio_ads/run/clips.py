"""A video variant's MP4: its still's layers set in motion (creative/motion.py), watermarked in
every frame, encoded (core/video.py) with XMP and, when signing is configured, a C2PA manifest.

The still itself (compose.finish) is made first: it is the clip's poster and gives the clip
its manifest values (scores, copy fit, fidelity), measured on what every frame shows once the
copy is in. The clip's layers are the still's own drawing (motion.layer_of), so a frame and
the poster agree to the pixel wherever the scene does not move.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from pixio_ads.campaign.adapters import adapter_summary
from pixio_ads.campaign.variants import Variant
from pixio_ads.core.fileio import atomic_write_bytes, sha256_file
from pixio_ads.core.stepclock import step
from pixio_ads.core.video import Clip, write_mp4
from pixio_ads.creative.composite import draw_shadows, fit_cover, harmonize
from pixio_ads.creative.motion import Camera, Overlays, fit_cover_array, frames, layer_of, looped
from pixio_ads.creative.overlay import overlay_copy, overlay_label
from pixio_ads.creative.scoring import scene_scores
from pixio_ads.run.compose import Assets, Creative, format_scene, placed_product, plan_layout
from pixio_ads.trust.credentials import C2paSigner, sidecar_path, sign_c2pa
from pixio_ads.trust.payload import frame_mark, payload_for
from pixio_ads.trust.provenance import xmp_packet


def clip_path(variant: Variant) -> Path:
    """Where a video variant's MP4 lives, relative to the output folder."""
    return Path("videos") / variant.campaign_id / variant.product_id / f"{variant.format}-{variant.variant_id}.mp4"


def motion_source(variant: Variant, generated: Image.Image, assets: Assets) -> Image.Image:
    """The still scene that moves, at the format's size: compose's generated scene without the
    product (it is a layer of its own); the other modes' whole scene. What a video model animates."""
    if variant.mode == "compose":
        return fit_cover(generated, variant.width, variant.height)
    return format_scene(variant, generated, assets)[0]


def clip_layers(variant: Variant, generated: Image.Image, still: Creative, assets: Assets):
    """(the scene that moves, at the format's size; the layers that do not; the product's exact
    pixels as a bool mask or None). compose: the scene without the product, the product and
    its shadow a layer; the other modes: the whole scene moves, but the pixels they keep
    exact (inpaint's product, an edit's pasted one) are a layer held still."""
    brand = assets.brand(variant)
    plan = plan_layout(variant, brand)
    size = (variant.width, variant.height)
    if variant.mode == "compose":
        background = motion_source(variant, generated, assets)
        product, _, box = placed_product(variant, assets)
        placed = harmonize(product, background.crop(box.as_tuple()), variant.harmonize)
        shade = assets.shade(variant, box)

        def draw_product(canvas: Image.Image) -> Image.Image:
            canvas = draw_shadows(canvas, shade)
            canvas.paste(placed, (box.left, box.top), placed)
            return canvas

        product_layer = layer_of(draw_product, size)
        scene = background
    else:  # the still's own scene (finish made it: an edit's product search is not done twice)
        scene, product_layer = still.scene, None
        if still.keep is not None:
            exact = scene.convert("RGBA")
            exact.putalpha(still.keep)
            product_layer = layer_of(lambda canvas: Image.alpha_composite(canvas.convert("RGBA"), exact), size)
    copy_layer = None
    if variant.source_has_copy != "yes":

        def draw_copy(canvas: Image.Image) -> Image.Image:
            drawn = overlay_copy(
                canvas, variant.headline, variant.cta, plan, brand, variant.language, False, still.image
            )
            return drawn[0]

        copy_layer = layer_of(draw_copy, size)
    label_layer = layer_of(lambda canvas: overlay_label(canvas, plan, brand, variant.language), size)
    keep_mask = _opaque_mask(product_layer, size)
    return np.asarray(scene.convert("RGB")), Overlays(product_layer, copy_layer, label_layer), keep_mask


def _opaque_mask(layer, size: tuple[int, int]) -> np.ndarray | None:
    """Where the product layer hides the scene completely: its own pixels, left exact (no mark)."""
    if layer is None:
        return None
    mask = np.zeros((size[1], size[0]), bool)
    box = layer.box
    mask[box.top : box.bottom, box.left : box.right] = layer.opaque
    return mask


def write_clip(
    variant: Variant,
    generated: Image.Image,
    still: Creative,
    out_dir: Path,
    signer: C2paSigner | None,
    assets: Assets,
    animation=None,
) -> dict:
    """Make and write the variant's MP4 (temp + rename; signed, when configured, before the
    rename); its manifest values. ``animation``: the video model's frames (motion = model)."""
    scene, overlays, keep = clip_layers(variant, generated, still, assets)
    count = max(1, round(variant.duration * variant.fps))
    scene_at = _scene_source(variant, scene, count, animation)
    payload = payload_for(variant.variant_id)
    with step("clip watermark"):
        mark = frame_mark(np.asarray(still.image.convert("RGB")), payload, keep)
    relative = clip_path(variant)
    xmp = xmp_packet(variant.variant_id, payload, "video", variant.language, adapter_summary(variant))
    target = out_dir / relative
    unsigned = target.with_name(f".{target.stem}.unsigned.mp4") if signer else target
    clip = Clip(variant.width, variant.height, variant.fps, count)
    sampled: dict[int, np.ndarray] = {}
    with step("clip frames and encoding"):
        made = _sampling(frames(scene_at, overlays, count, variant.fps, mark), count, sampled)
        write_mp4(unsigned, clip, made, variant.audio or None, xmp)
    if signer is not None:
        data = unsigned.read_bytes()
        data, sidecar = sign_c2pa(data, "mp4", signer, variant.variant_id, relative.name, payload)
        atomic_write_bytes(out_dir / sidecar_path(relative.as_posix()), sidecar, fsync=False)
        atomic_write_bytes(target, data, fsync=False)
        os.unlink(unsigned)
    return {
        **_worst_frame_quality(sampled),
        "media_type": "video",
        "frames": count,
        "output_path": relative.as_posix(),
        "output_sha256": sha256_file(target),
        "watermark_payload": payload,
        "xmp_written": True,
        "c2pa_written": signer is not None,
        "signer": signer.name if signer else "",
    }


SCORED_AT = (1 / 3, 2 / 3, 1.0)  # where in the clip its frames are scored (after the copy is in)


def _sampling(made: Iterator[np.ndarray], count: int, sampled: dict[int, np.ndarray]) -> Iterator[np.ndarray]:
    """``made`` passed on, with a copy of the frames at SCORED_AT kept in ``sampled``."""
    wanted = {max(0, round(share * count) - 1) for share in SCORED_AT}
    for index, frame in enumerate(made):
        if index in wanted:
            sampled[index] = frame.copy()
        yield frame


def _worst_frame_quality(sampled: dict[int, np.ndarray]) -> dict:
    """The image-quality columns (scoring.image_quality: sharpness, clipping, flat and noisy
    shares) of the sampled frame that scores worst: a scene that blurs or clips as the camera
    moves or the video model animates it scores lower than its poster alone would."""
    scored = [scene_scores(Image.fromarray(frame), None) for frame in sampled.values()]
    return min(scored, key=lambda values: values["image_quality_score"]) if scored else {}


def _scene_source(variant: Variant, scene: np.ndarray, count: int, animation):
    """Frame index -> the scene of that frame (a fresh array): the camera's move over the
    still scene, or the video model's frames brought to the format (ping-pong looped)."""
    if variant.motion != "model":
        camera = Camera(scene, variant.motion)
        return lambda index: camera.frame(index / max(1, count - 1))
    indices = looped(count, len(animation.frames), variant.fps, animation.fps)
    return lambda index: fit_cover_array(animation.frames[indices[index]], variant.width, variant.height)
