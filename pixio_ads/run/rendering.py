"""Rendering one batch: the model (loaded once per process, with the batch's adapters), its
inputs, the pipeline call with retries, the safety checker's and the content policy's
blocks, the upscaler, prompt alignment. Each variant comes out as (variant, pixels or None,
row values); the shard loop (runner.py) hands them to finishing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import numpy as np
from PIL import Image

from pixio_ads.campaign.adapters import variant_loras
from pixio_ads.campaign.variants import Variant
from pixio_ads.core.errors import ModelLoadError
from pixio_ads.core.formats import AdFormat, render_size
from pixio_ads.core.stepclock import step
from pixio_ads.render import clip, loading, upscale
from pixio_ads.render import pipelines as render
from pixio_ads.render.adapters import use_adapters
from pixio_ads.render.video_models import animate
from pixio_ads.run.clips import motion_source
from pixio_ads.run.compose import model_inputs
from pixio_ads.run.finishing import Rendered, shared_assets
from pixio_ads.trust.image_policy import check_image

logger = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"


def context_values(device: str, safety_checker: bool) -> dict:
    """The row values every variant of a batch shares: where and how it was rendered."""
    return {
        "device": device,
        "worker": WORKER,
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "safety_checker": "on" if safety_checker else "off",
    }


def render_batch_with_retries(
    batch, device, safety_checker, retries, retry_delay, compiled=None, offload=None
) -> list[Rendered]:
    """Retry transient failures (I/O, a flaky device) with exponential backoff. Errors that
    cannot pass by waiting (a bad model path, invalid settings) fail at once."""
    for attempt in range(retries + 1):
        try:
            return _render_batch(batch, device, safety_checker, compiled, offload)
        except (ModelLoadError, ValueError) as exc:
            error = exc
            break
        except Exception as exc:
            error = exc
            if attempt < retries:
                delay = retry_delay * 2**attempt
                logger.warning(
                    "batch of %d variant(s) failed (%s: %s); retry %d/%d in %.1fs",
                    len(batch),
                    exc.__class__.__name__,
                    exc,
                    attempt + 1,
                    retries,
                    delay,
                )
                time.sleep(delay)
    logger.error("batch of %d variant(s) failed: %s: %s", len(batch), error.__class__.__name__, error)
    context = context_values(device, safety_checker)
    return [(v, None, {**context, "status": "failed", "error": f"{error.__class__.__name__}: {error}"}) for v in batch]


def _render_batch(
    batch: list[Variant],
    device: str,
    safety_checker: bool,
    compiled: tuple[str, int] | None = None,
    offload: str | None = None,
) -> list[Rendered]:
    """Render one batch (and upscale it when configured); raises on failure (the caller
    retries). Returns (variant, background or None, row values) per variant. ``compiled``:
    (torch.compile mode, the batch size every forward pass is padded to)."""
    first = batch[0]
    started = time.perf_counter()
    context = context_values(device, safety_checker)
    with step("model and adapters"):  # loaded (and compiled) once per process, adapters when they change
        model = _model_for(first, device, safety_checker, context, compiled[0] if compiled else None, offload)
    context["render_width"], context["render_height"] = render_size(
        AdFormat(first.format, first.width, first.height), model.native_side, model.family.size_multiple
    )
    with step("model inputs"):
        inputs = [model_inputs(v, context["render_width"], context["render_height"], shared_assets()) for v in batch]
    init_images = None if first.mode == "compose" else [image for image, _ in inputs]
    masks = [mask for _, mask in inputs] if first.mode in ("inpaint", "replace", "expand") else None
    output = render.generate(
        model,
        [v.prompt for v in batch],
        [v.negative_prompt for v in batch],
        [v.seed for v in batch],
        context["render_width"],
        context["render_height"],
        first.steps,
        first.guidance,
        first.scheduler,
        init_images,
        masks,
        first.strength,
        shared_assets().image(first.style_image) if first.style_image else None,
        compiled[1] if compiled else None,
        edit=first.mode == "edit",
    )
    upscaler = upscale.load_upscaler(first.upscaler, device) if first.upscaler else None
    context["render_seconds"] = (time.perf_counter() - started) / len(batch)
    results = [
        _result(v, pixels, flagged, context, upscaler) for v, pixels, flagged in zip(batch, output.pixels, output.nsfw)
    ]
    return [_animated(rendered, device) for rendered in results]


def _animated(rendered: Rendered, device: str) -> Rendered:
    """motion = model: the scene (clips.motion_source: the format's scene, product and copy left
    out) set in motion by the row's video model, on this process's device; the frames go to
    finishing with the row values (``animation``, not a column)."""
    variant, pixels, values = rendered
    if variant.motion != "model" or pixels is None:
        return rendered
    with step("video model"):
        scene = motion_source(variant, Image.fromarray(pixels), shared_assets())
        animation = animate(
            variant.video_model, device, scene, variant.motion_prompt, variant.negative_prompt, variant.seed,
            variant.width / variant.height,
        )  # fmt: skip
    # the video model's GPU time is the variant's too (quotas' gpu_seconds_per_day count it)
    seconds = values.get("render_seconds", 0.0) + animation.seconds
    return variant, pixels, {**values, "animation": animation, "render_seconds": seconds}


_FLAGGED = "the checkpoint's safety checker flagged this image; it was not saved"


def _result(variant: Variant, pixels, flagged: bool, context: dict, upscaler) -> Rendered:
    """One variant's (variant, pixels or None, row values): blocked when the safety checker
    flagged it, else its pixels, enlarged by the upscaler model when one is set and needed."""
    if flagged:
        return variant, None, {**context, "status": "blocked", "error": _FLAGGED}
    resize_method = upscale.LANCZOS
    if upscaler is not None:
        image = Image.fromarray(pixels)
        if upscale.needs_upscale(image, variant.width, variant.height):
            with step("upscale"):
                image = upscale.upscale(upscaler, image, variant.prompt, variant.seed, variant.upscaler_steps)
            pixels, resize_method = np.asarray(image), upscaler.method
    return variant, pixels, {**context, "status": "rendered", "resize_method": resize_method}


def _model_for(
    first: Variant,
    device: str,
    safety_checker: bool,
    context: dict,
    compile_mode: str | None = None,
    offload: str | None = None,
) -> loading.LoadedModel:
    """The batch's model (loaded once per process) with the batch's adapters set on it."""
    model = loading.load_model(
        loading.ModelSpec(
            first.model_id,
            first.revision or None,
            first.dtype,
            safety_checker,
            compile_mode,
            first.vae or None,
            offload,
        ),
        device,
    )
    context["torch_dtype"] = model.dtype
    context["model_family"] = model.family.name
    if not model.family.safety_checker:
        context["safety_checker"] = "none"  # the family has none: only the content policy's image checks screen it
    elif safety_checker and getattr(model.pipeline, "safety_checker", None) is None:
        context["safety_checker"] = "absent"
    ip_adapter = (first.ip_adapter, first.ip_adapter_sha256) if first.ip_adapter else None
    use_adapters(model, variant_loras(first), ip_adapter, first.style_scale)
    return model


def screen_images(rendered: list[Rendered], policy) -> list[Rendered]:
    """The content policy's image checks (image_policy.py) on each rendered image: a match
    is ``blocked`` (with the checks' fingerprint, so a rerun keeps it) and its image dropped
    here, before anything is written."""
    if not policy.image_checkers:
        if any(values.get("safety_checker") == "none" for _, _, values in rendered):
            _warn_unscreened(rendered[0][2].get("model_family"))
        return rendered
    screened = []
    for variant, image, values in rendered:
        if values.get("safety_checker") == "none":  # no checker in the model: the policy's checks screen it
            values = {**values, "safety_checker": "policy"}
        # user checkers are promised a PIL image (docs/policy): one per image, only here
        found = check_image(policy.image_checkers, Image.fromarray(image), variant) if image is not None else None
        if found is not None:
            reason = f"content policy: {found.category} {found.term!r} in the image; it was not saved"
            blocked = {
                **found.columns(),
                "policy_checks": policy.image_checks_id,
                "status": "blocked",
                "error": reason,
            }
            values, image = {**values, **blocked}, None
        screened.append((variant, image, values))
    return screened


_WARNED: set = set()


def _warn_unscreened(family: str | None) -> None:
    """Once per process and family: its images go out with no image screen at all."""
    if family not in _WARNED:
        _WARNED.add(family)
        logger.warning(
            "the %s model has no safety checker and the content policy names no image checks: its images are not "
            "screened (recorded as safety_checker none); add image_classifiers to the policy (trust-and-safety.md)",
            family,
        )


def align(rendered: list[Rendered], clip_model: str, device: str) -> list[Rendered]:
    """Prompt-alignment scores of the batch's generated scenes, in one CLIP pass."""
    kept = [index for index, (_, image, _) in enumerate(rendered) if image is not None]
    if not kept:
        return rendered
    scores = clip.clip_scores(
        clip_model, device, [Image.fromarray(rendered[i][1]) for i in kept], [rendered[i][0].prompt for i in kept]
    )
    aligned = list(rendered)
    for index, score in zip(kept, scores):
        variant, image, values = rendered[index]
        aligned[index] = (variant, image, {**values, **clip.alignment_columns(score)})
    return aligned
