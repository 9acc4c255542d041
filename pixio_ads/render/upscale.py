"""Optional upscaling of rendered backgrounds before they are cropped to the ad format.

Without an upscaler the background is resized with Lanczos (composite.fit_cover). With
one (``--upscaler``: a diffusers upscaler checkpoint such as
stabilityai/stable-diffusion-x4-upscaler), backgrounds smaller than their format are
enlarged by the model first; the manifest's ``resize_method`` says which was used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image

from pixio_ads.render import loading

logger = logging.getLogger(__name__)

LANCZOS = "lanczos"
DEFAULT_UPSCALER_STEPS = 20


@dataclass(frozen=True, slots=True)
class LoadedUpscaler:
    model_id: str
    pipeline: object  # e.g. StableDiffusionUpscalePipeline
    device: str

    @property
    def method(self) -> str:
        return f"upscaler:{self.model_id}"


def load_upscaler(model_id: str, device: str | None = None) -> LoadedUpscaler:
    from diffusers import DiffusionPipeline

    device = loading.select_device(device)
    _, torch_dtype = loading.torch_dtype_for("auto", device)

    def build() -> LoadedUpscaler:
        pipeline = loading.load_pipeline(
            model_id, lambda source: DiffusionPipeline.from_pretrained(source, dtype=torch_dtype), device
        )
        logger.info("loaded upscaler %s (%s) on %s", model_id, type(pipeline).__name__, device)
        return LoadedUpscaler(model_id, pipeline, device)

    return loading.cached(("upscaler", model_id, device), build)


def needs_upscale(image: Image.Image, width: int, height: int) -> bool:
    return image.width < width or image.height < height


def upscale(
    upscaler: LoadedUpscaler, image: Image.Image, prompt: str, seed: int, steps: int = DEFAULT_UPSCALER_STEPS
) -> Image.Image:
    """Enlarge one image with the upscaler, guided by the variant's prompt and seeded by it."""
    import torch

    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    with torch.inference_mode():
        output = upscaler.pipeline(
            prompt=prompt, image=image.convert("RGB"), num_inference_steps=steps, generator=generator
        )
    return output.images[0]
