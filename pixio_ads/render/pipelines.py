"""Rendering backgrounds with Hugging Face diffusers.

A checkpoint is loaded once per process (keyed by model, revision, dtype, device and
safety-checker setting) and reused; its family (families.py) gives the pipeline of each task,
sharing its modules (``from_pipe``). Prompts are encoded per image (encoding.py). Every image
gets its own CPU ``torch.Generator``
seeded from its variant, and only prompts whose embeddings have the same length share a
forward pass, so a variant's pixels do not depend on its batch neighbours, batch size or
order beyond float rounding.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from pixio_ads.core.stepclock import PIPELINE, step
from pixio_ads.render.compiled import padded
from pixio_ads.render.encoding import encode_prompts, guidance_arguments
from pixio_ads.render.loading import (
    DEFAULT_SCHEDULER,
    EDIT,
    IMG2IMG,
    INPAINT,
    TEXT2IMG,
    LoadedModel,
    check_scheduler,
)

logger = logging.getLogger(__name__)
__all__ = ["RenderOutput", "encode_prompts", "generate", "to_uint8"]


@dataclass(frozen=True, slots=True)
class RenderOutput:
    pixels: list[np.ndarray]  # per image: (height, width, 3) uint8 RGB
    nsfw: list[bool]  # True where the checkpoint's safety checker flagged the image

    @property
    def images(self) -> list[Image.Image]:
        """The pixels as PIL images (a copy each: the render loop hands on ``pixels``)."""
        return [Image.fromarray(pixels) for pixels in self.pixels]


def generate(
    model: LoadedModel,
    prompts: list[str],
    negative_prompts: list[str],
    seeds: list[int],
    width: int,
    height: int,
    steps: int,
    guidance: float,
    scheduler: str = DEFAULT_SCHEDULER,
    init_images: list[Image.Image] | None = None,
    masks: list[Image.Image] | None = None,
    strength: float = 1.0,
    style_image: Image.Image | None = None,
    pad_to: int | None = None,
    edit: bool = False,
) -> RenderOutput:
    """Render a batch; one generator per image. With ``init_images`` this is image-to-image
    at ``strength``; with ``masks`` too, inpainting of their white part; with ``edit``, the
    family's edit pipeline, the prompts instructions and ``init_images`` the references, the
    result made at ``width`` x ``height``; ``style_image``: the
    reference of the IP-Adapter the model runs with (adapters.use_adapters). On CUDA
    out-of-memory the batch is halved and retried down to single images; only then does
    the error propagate. ``pad_to``: a compiled model's batch size; shorter forward passes
    are padded to it (compiled.py), so it compiles once."""
    # 1. Check inputs
    if not (len(prompts) == len(negative_prompts) == len(seeds)) or not prompts:
        raise ValueError(
            f"prompts, negative_prompts and seeds must be equally long and non-empty, got {len(prompts)}, {len(negative_prompts)}, {len(seeds)}"
        )
    if width % 8 or height % 8:
        raise ValueError(f"`height` and `width` have to be divisible by 8 but are {height} and {width}.")
    check_scheduler(scheduler)
    if (masks is not None or edit) and init_images is None:
        raise ValueError("masks and edits need init_images")
    task = _task(init_images, masks, edit)
    pipeline = model.with_scheduler(scheduler, task)
    extras = _per_image_inputs(len(prompts), init_images, masks)
    call = _call_arguments(model, task, steps, guidance, width, height, strength, style_image)
    # 2. Encode prompts one by one
    with step("prompt encoding"):
        embeddings = encode_prompts(model, prompts, negative_prompts, guidance)
    # 3. Only equally long embeddings share a forward pass (no padding from neighbours)
    pixels: list = [None] * len(prompts)
    nsfw: list = [False] * len(prompts)
    # FLUX.2 reads a call's image list as every prompt's references: its edits go one by one
    for indices in _length_groups(embeddings, one_by_one=task == EDIT and model.family.references_per_prompt):
        size = max(len(indices), pad_to or 0) if model.compiled else None
        name = "compile" if model.first_call((size, width, height, task, guidance > 1)) else PIPELINE
        picked = ([embeddings[i] for i in indices], [extras[i] for i in indices], [seeds[i] for i in indices])
        out = _forward_with_oom_backoff(pipeline, *picked, call, size, name)
        for position, index in enumerate(indices):
            pixels[index], nsfw[index] = out.pixels[position], out.nsfw[position]
    return RenderOutput(pixels, nsfw)


def _call_arguments(model: LoadedModel, task: str, steps, guidance, width, height, strength, style_image) -> dict:
    """The pipeline call's arguments every image of a batch shares."""
    call = {
        "num_inference_steps": steps,
        **guidance_arguments(model.family, guidance),
        **_size(model.family.pipeline_class(task), width, height),
    }
    if task in (IMG2IMG, INPAINT):
        call["strength"] = strength
    if style_image is not None:  # one reference for the whole batch: the pipeline repeats its embedding
        call["ip_adapter_image"] = style_image
    return call


@lru_cache(maxsize=32)
def _call_parameters(pipeline_class) -> frozenset[str]:
    return frozenset(inspect.signature(pipeline_class.__call__).parameters)


def _size(pipeline_class, width: int, height: int) -> dict:
    """The output size as the pipeline class takes it: SD's img2img has none (the image's size);
    FLUX Kontext also caps its pixel count (``max_area``, else 1024² and the size scaled up to it)."""
    parameters = _call_parameters(pipeline_class)
    size = {"width": width, "height": height} if "width" in parameters else {}
    if "max_area" in parameters:
        size["max_area"] = width * height
    return size


def _task(init_images, masks, edit: bool) -> str:
    if edit:
        return EDIT
    return TEXT2IMG if init_images is None else INPAINT if masks is not None else IMG2IMG


def _length_groups(embeddings: list[dict], one_by_one: bool = False) -> list[list[int]]:
    """Indices of the embeddings of equal token lengths, in order of first appearance (each
    alone with ``one_by_one``)."""
    if one_by_one:
        return [[index] for index in range(len(embeddings))]
    groups: dict[tuple, list[int]] = {}
    for index, embeds in enumerate(embeddings):
        length = tuple(tensor.shape[1] for name, tensor in sorted(embeds.items()) if "pooled" not in name)
        groups.setdefault(length, []).append(index)
    return list(groups.values())


def _per_image_inputs(count: int, init_images, masks) -> list[dict]:
    """Per-image pipeline inputs, which follow each image through grouping and OOM halving."""
    extras: list[dict] = [{} for _ in range(count)]
    for name, values in (("image", init_images), ("mask_image", masks)):
        if values is not None:
            if len(values) != count:
                raise ValueError(f"{name}: {len(values)} given for {count} prompts")
            for extra, value in zip(extras, values):
                extra[name] = value
    return extras


def _forward_with_oom_backoff(pipeline, embeddings, extras, seeds, call, pad_to=None, name=PIPELINE) -> RenderOutput:
    import torch

    try:
        return _forward(pipeline, embeddings, extras, seeds, call, pad_to, name)
    except torch.OutOfMemoryError:
        if len(seeds) == 1:
            raise
        half = len(seeds) // 2
        logger.warning(
            "out of memory at batch size %d; retrying as batches of %d and %d", len(seeds), half, len(seeds) - half
        )
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        pad_to = pad_to and half  # a compiled model compiles the halved shape once more
        first = _forward_with_oom_backoff(pipeline, embeddings[:half], extras[:half], seeds[:half], call, pad_to, name)
        second = _forward_with_oom_backoff(
            pipeline, embeddings[half:], extras[half:], seeds[half:], call, pad_to, name
        )
        return RenderOutput(first.pixels + second.pixels, first.nsfw + second.nsfw)


def _forward(pipeline, embeddings, extras, seeds, call, pad_to=None, name=PIPELINE) -> RenderOutput:
    """One pipeline call; ``pad_to``: padded to that many images (the padding dropped from
    the output); ``name``: the step its time counts as (PIPELINE, or "compile" at a compiled
    model's first call of a shape)."""
    import torch

    count = len(seeds)
    embeddings, extras, seeds = padded(embeddings, pad_to), padded(extras, pad_to), padded(seeds, pad_to)
    # Generators on the CPU: the same noise whatever the device.
    with step("model inputs"):
        generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]
        stacked = {key: torch.cat([e[key] for e in embeddings]) for key in embeddings[0]}
        per_image = {key: [extra[key] for extra in extras] for key in extras[0]}
    with step(name), torch.inference_mode():
        # "pt": the decoded batch stays on the device (no per-image PIL conversion in here)
        output = pipeline(**stacked, **per_image, **call, generator=generators, output_type="pt")
        images = output.images
        if images.device.type == "cuda":
            torch.cuda.current_stream().synchronize()  # the GPU's work ends here, not in the copy below
    with step("to pixels"):
        batch = to_uint8(images[:count])
    flags = getattr(output, "nsfw_content_detected", None) or [False] * count
    return RenderOutput(list(batch), [bool(flag) for flag in flags[:count]])


_pinned: dict[tuple, object] = {}  # page-locked host buffers by batch shape, one per shape


def to_uint8(images) -> np.ndarray:
    """A decoded batch (B, 3, H, W, values 0-1, any float dtype, any device) as (B, H, W, 3)
    uint8 on the host: rounded as diffusers' PIL output is (float32, x255, round), on the
    device, so a CUDA batch crosses to the host once, a quarter of its float32 size, by DMA
    into page-locked memory. The result is a copy the caller owns."""
    import torch

    pixels = (images.float() * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    if pixels.device.type != "cuda":
        return pixels.contiguous().numpy().copy()
    shape = tuple(pixels.shape)
    if shape not in _pinned:
        _pinned[shape] = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
    host = _pinned[shape]
    host.copy_(pixels, non_blocking=True)
    torch.cuda.current_stream().synchronize()
    return host.numpy().copy()  # the buffer is the next batch's
