"""``motion = model``: a generated scene animated by an image-to-video pipeline, loaded once per
process and model (``from_pretrained`` of the family's own class), at the model's own size and
frame count. Returns the frames as pixels; compositing the product and the copy over them is
run/clips.py's (so the video model never touches them).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.render.tiny_video import TINY_VIDEO_MODELS, TINY_VIDEO_PIXELS
from pixio_ads.render.video_families import VideoFamily, clip_size, video_family, video_model_folder

logger = logging.getLogger(__name__)
VIDEO_STEPS = {"ltx-video": 40, "wan": 40}  # the model cards' defaults; tests pass fewer
VIDEO_GUIDANCE = {"ltx-video": 3.0, "wan": 5.0}


@dataclass(frozen=True, slots=True)
class Animation:
    frames: np.ndarray  # (count, height, width, 3) uint8, the model's own size
    fps: int  # what the frames are timed for
    family: str
    seconds: float  # the pipeline call's wall time


@dataclass(slots=True)
class _Loaded:
    pipeline: object
    family: VideoFamily


_loaded: dict[tuple[str, str], _Loaded] = {}
_lock = threading.Lock()


def load_video_model(model: str, device: str) -> _Loaded:
    """The model's pipeline on ``device`` (bf16 on CUDA, fp32 otherwise), once per process."""
    with _lock:
        if (model, device) not in _loaded:
            import diffusers
            import torch

            family = video_family(model)
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            pipeline = getattr(diffusers, family.pipeline).from_pretrained(video_model_folder(model), dtype=dtype)
            pipeline.set_progress_bar_config(disable=True)
            _loaded[(model, device)] = _Loaded(pipeline.to(device), family)
        return _loaded[(model, device)]


def animate(
    model: str,
    device: str,
    scene: Image.Image,
    prompt: str,
    negative_prompt: str,
    seed: int,
    aspect: float,
    steps: int | None = None,
    frames: int | None = None,
) -> Animation:
    """The scene set in motion as ``prompt`` describes, at the model's size for ``aspect`` and its
    own frame count (``frames``: fewer, for tests; rounded to the family's k * multiple + 1)."""
    import time

    import torch

    loaded = load_video_model(model, device)
    family = loaded.family
    if model in TINY_VIDEO_MODELS:  # the test models: a few frames, two steps
        frames, steps = frames or 9, steps or 2
    # the tiny test models at a tiny size: their frames are noise at any size
    width, height = clip_size(family, aspect, TINY_VIDEO_PIXELS if model in TINY_VIDEO_MODELS else None)
    count = frames or family.frames
    count = (max(1, count - 1) // family.frame_multiple) * family.frame_multiple + 1
    generator = torch.Generator("cpu").manual_seed(seed)
    started = time.perf_counter()
    with torch.inference_mode():
        output = loaded.pipeline(
            image=scene.convert("RGB").resize((width, height), Image.Resampling.LANCZOS),
            prompt=prompt,
            negative_prompt=negative_prompt or None,
            width=width,
            height=height,
            num_frames=count,
            num_inference_steps=steps or VIDEO_STEPS[family.name],
            guidance_scale=VIDEO_GUIDANCE[family.name],
            generator=generator,
            output_type="np",
        )
    pixels = np.asarray(output.frames[0])
    pixels = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    return Animation(pixels, family.fps, family.name, time.perf_counter() - started)
