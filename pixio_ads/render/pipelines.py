"""Rendering backgrounds with Hugging Face diffusers.

A checkpoint is loaded once per process (keyed by model, revision, dtype, device and
safety-checker setting) and reused; scheduler variants share its modules (``from_pipe``).
Prompts are encoded with compel (weighting such as ``(red dress)1.3`` or ``word++``, and
prompts longer than CLIP's 77 tokens). Every image gets its own CPU ``torch.Generator``
seeded from its variant, and only prompts whose embeddings have the same length share a
forward pass, so a variant's pixels do not depend on its batch neighbours, batch size or
order beyond float rounding.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.core.stepclock import PIPELINE, step
from pixio_ads.render.compiled import padded
from pixio_ads.render.loading import DEFAULT_SCHEDULER, IMG2IMG, INPAINT, TEXT2IMG, LoadedModel, check_scheduler

logger = logging.getLogger(__name__)

# compel's weighting and conjunction syntax: (word)1.3, word++, [word], .and(), .blend(), .swap()
_COMPEL_SYNTAX = re.compile(r"[()\[\]+\-]|\.(and|blend|swap)\(")
EMBEDDING_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class RenderOutput:
    pixels: list[np.ndarray]  # per image: (height, width, 3) uint8 RGB
    nsfw: list[bool]  # True where the checkpoint's safety checker flagged the image

    @property
    def images(self) -> list[Image.Image]:
        """The pixels as PIL images (a copy each: the render loop hands on ``pixels``)."""
        return [Image.fromarray(pixels) for pixels in self.pixels]


def _needs_compel_encoding(model: LoadedModel, text: str) -> bool:
    """Weighting syntax, or longer than the tokenizer's window (77 tokens for CLIP)."""
    if _COMPEL_SYNTAX.search(text):
        return True
    tokenizer = model.pipeline.tokenizer
    return len(tokenizer(text).input_ids) > tokenizer.model_max_length


def encode_prompts(
    model: LoadedModel, prompts: list[str], negative_prompts: list[str], guidance: float = 7.5
) -> list[dict]:
    """Per-image prompt embeddings, never depending on the other prompts of a batch. Returns
    the pipeline's embedding keyword arguments; the negative ones only when ``guidance``
    makes the pipeline use them (above 1: classifier-free guidance).

    Plain prompts that fit the tokenizer go through the pipeline's own ``encode_prompt``
    (what a bare diffusers call does; compel's parser costs ~60 ms a prompt on a CPU), the
    batch's new ones in one text-encoder pass: the pipeline pads each to the tokenizer's full
    window, so a neighbour changes nothing (a pass per prompt cost a fast GPU ~9% of its
    throughput at 4 steps). Weighted or long prompts go through compel, one at a time (it
    pads to the longest of a call). Results are cached per process."""
    import torch

    negatives = guidance > 1
    keys = [(prompt, negative, negatives, model.lora_key) for prompt, negative in zip(prompts, negative_prompts)]
    new = [key for key in dict.fromkeys(keys) if key not in model._embeddings]
    plain = [
        key for key in new if not (_needs_compel_encoding(model, key[0]) or _needs_compel_encoding(model, key[1]))
    ]
    with torch.inference_mode():
        computed = dict(zip(plain, _encode_with_pipeline(model, plain, negatives))) if plain else {}
        for key in new:
            if key not in computed:
                both = _encode_with_compel(model, key[0], key[1])
                computed[key] = {name: value for name, value in both.items() if negatives or "negative" not in name}
    for key, embeddings in computed.items():
        if len(model._embeddings) >= EMBEDDING_CACHE_SIZE:
            model._embeddings.pop(next(iter(model._embeddings)))  # oldest first
        model._embeddings[key] = embeddings
    return [computed.get(key) or model._embeddings[key] for key in keys]


def _encode_with_pipeline(model: LoadedModel, keys: list[tuple[str, str, bool]], negatives: bool) -> list[dict]:
    """The pipeline's ``encode_prompt`` over several (prompt, negative) pairs at once, split
    back into one embedding dict per pair."""
    names = ["prompt_embeds", "negative_prompt_embeds"]
    if model.is_sdxl:
        names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    tensors = model.pipeline.encode_prompt(
        prompt=[key[0] for key in keys],
        device=model.device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=negatives,
        negative_prompt=[key[1] for key in keys] if negatives else None,
    )
    batch = {name: tensor for name, tensor in zip(names, tensors) if tensor is not None}
    return [{name: tensor[index : index + 1] for name, tensor in batch.items()} for index in range(len(keys))]


def _encode_with_compel(model: LoadedModel, prompt: str, negative: str) -> dict:
    conditioner = model.conditioner()
    if model.is_sdxl:
        out = conditioner(main_prompt=prompt, negative_prompt=negative)
        return {
            "prompt_embeds": out.embeds,
            "negative_prompt_embeds": out.negative_embeds,
            "pooled_prompt_embeds": out.pooled_embeds,
            "negative_pooled_prompt_embeds": out.negative_pooled_embeds,
        }
    out = conditioner(prompt, negative_prompt=negative)
    return {"prompt_embeds": out.embeds, "negative_prompt_embeds": out.negative_embeds}


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
) -> RenderOutput:
    """Render a batch; one generator per image. With ``init_images`` this is image-to-image
    at ``strength``; with ``masks`` too, inpainting of their white part; ``style_image``: the
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
    if masks is not None and init_images is None:
        raise ValueError("masks need init_images")
    task = TEXT2IMG if init_images is None else INPAINT if masks is not None else IMG2IMG
    pipeline = model.with_scheduler(scheduler, task)
    extras = _per_image_inputs(len(prompts), init_images, masks)
    call = {"num_inference_steps": steps, "guidance_scale": guidance}
    if task != IMG2IMG:  # img2img takes its size from the image
        call.update(width=width, height=height)
    if task != TEXT2IMG:
        call["strength"] = strength
    if style_image is not None:  # one reference for the whole batch: the pipeline repeats its embedding
        call["ip_adapter_image"] = style_image
    # 2. Encode prompts one by one
    with step("prompt encoding"):
        embeddings = encode_prompts(model, prompts, negative_prompts, guidance)
    # 3. Only equally long embeddings share a forward pass (no padding from neighbours)
    pixels: list = [None] * len(prompts)
    nsfw: list = [False] * len(prompts)
    for indices in _length_groups(embeddings):
        size = max(len(indices), pad_to or 0) if model.compiled else None
        name = "compile" if model.first_call((size, width, height, task, guidance > 1)) else PIPELINE
        picked = ([embeddings[i] for i in indices], [extras[i] for i in indices], [seeds[i] for i in indices])
        out = _forward_with_oom_backoff(pipeline, *picked, call, size, name)
        for position, index in enumerate(indices):
            pixels[index], nsfw[index] = out.pixels[position], out.nsfw[position]
    return RenderOutput(pixels, nsfw)


def _length_groups(embeddings: list[dict]) -> list[list[int]]:
    """Indices of the embeddings of equal token lengths, in order of first appearance."""
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
