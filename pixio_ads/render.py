"""Rendering backgrounds with Hugging Face diffusers.

A pipeline is loaded once per process (keyed by model, device, dtype) and reused. Every
image gets its own CPU ``torch.Generator`` seeded from its variant, so its pixels do not
depend on batch size, batch order or device type of the noise.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pixio_ads.errors import ModelLoadError
from pixio_ads.tiny_model import EMBEDDED_MODEL_ID, NOISE_WARNING, ensure_embedded_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    model_id: str
    pipeline: object  # a diffusers text-to-image pipeline
    device: str
    native_side: int  # the side length (px) the model was trained at

    @property
    def is_embedded(self) -> bool:
        return self.model_id == EMBEDDED_MODEL_ID


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_PIPELINES: dict[tuple[str, str, str], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def select_device(requested: str | None = None) -> str:
    """cuda > mps > cpu unless ``requested`` names one."""
    import torch

    if requested:
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_batch_size(device: str) -> int:
    """Measured on 2 CPU cores: a bare diffusers loop is 7-10% slower per image at batch 4
    than at batch 1 (compute-bound), so CPUs render one at a time; GPUs gain from batching."""
    return 4 if device.startswith("cuda") else 1


def resolve_source(model_id: str) -> str:
    """What from_pretrained gets: the embedded model's folder (built on first use), a local
    checkpoint folder, or a hub id. Raises ModelLoadError naming a bad local path."""
    if model_id == EMBEDDED_MODEL_ID:
        return str(ensure_embedded_model())
    path = Path(model_id).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "model_index.json").is_file():
            raise ModelLoadError(f"model folder {model_id!r} has no model_index.json: point --model at a diffusers checkpoint folder")
        return str(path)
    if not _HUB_ID.match(model_id):
        raise ModelLoadError(f"model path {model_id!r} does not exist (and it is not a hub id like 'org/name')")
    return model_id


def load_model(model_id: str, device: str | None = None) -> LoadedModel:
    """Load (or reuse) a text-to-image pipeline. fp16 on CUDA, fp32 elsewhere."""
    import torch
    from diffusers import AutoPipelineForText2Image
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    device = select_device(device)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    key = (model_id, device, str(dtype))
    with _LOAD_LOCK:
        if key in _PIPELINES:
            return _PIPELINES[key]
        source = resolve_source(model_id)
        if model_id == EMBEDDED_MODEL_ID:
            logger.warning(NOISE_WARNING)
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        try:
            pipeline = AutoPipelineForText2Image.from_pretrained(source, dtype=dtype)
        except Exception as exc:  # OSError, ValueError, HF hub errors...
            raise ModelLoadError(
                f"cannot load model {model_id!r}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
                "Pass a local diffusers checkpoint folder, or a hub id already in the local Hugging Face cache"
            ) from None
        pipeline = pipeline.to(device)
        pipeline.set_progress_bar_config(disable=True)
        native_side = int(pipeline.unet.config.sample_size) * int(pipeline.vae_scale_factor)
        loaded = LoadedModel(model_id, pipeline, device, native_side)
        _PIPELINES[key] = loaded
        logger.info("loaded model %s on %s (%s, native %d px)", model_id, device, dtype, native_side)
        return loaded


def generate(
    model: LoadedModel,
    prompts: list[str],
    negative_prompts: list[str],
    seeds: list[int],
    width: int,
    height: int,
    steps: int,
    guidance: float,
) -> list[Image.Image]:
    """One forward pass for a batch; one generator per image."""
    import torch

    # 1. Check inputs
    if not (len(prompts) == len(negative_prompts) == len(seeds)) or not prompts:
        raise ValueError(f"prompts, negative_prompts and seeds must be equally long and non-empty, got {len(prompts)}, {len(negative_prompts)}, {len(seeds)}")
    if width % 8 or height % 8:
        raise ValueError(f"`height` and `width` have to be divisible by 8 but are {height} and {width}.")
    # 2. One generator per image, on the CPU so the noise is the same on any device
    generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]
    # 3. Denoise
    with torch.inference_mode():
        output = model.pipeline(
            prompt=prompts,
            negative_prompt=negative_prompts if any(negative_prompts) else None,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generators,
            output_type="pil",
        )
    return list(output.images)
