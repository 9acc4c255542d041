"""The embedded models, so the whole product runs offline and fast (tests, CI, the demo).

- the default, ``embedded:tiny-sd-backdrops``: trained by the project on procedural
  backdrops (backdrop_model.py), shipped in the package under ``weights/``;
- tiny random-weight SD, SDXL and upscaler pipelines, built deterministically on first use,
  for tests where the pictures do not matter (their images are noise).

All are saved with ``save_pretrained`` and loaded with ``from_pretrained`` like any real checkpoint.
Sizes follow a measurement on 2 CPU cores: an 8x VAE without mid-block attention and
a (16, 32) UNet with cross-attention only at the lower resolution render 512 px in
about 0.3 s at 4 steps; a 2x VAE with attention everywhere needs over 4 s for 256 px.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from pixio_ads.core.errors import ModelLoadError
from pixio_ads.render.tiny_parts import (
    _WORDS,
    _byte_level_vocab,
    _byte_to_unicode_chars,
    _text_config,
    tiny_vae,
    write_tokenizer,
)

# tiny_parts.py's, imported from here by the trained backdrop model and the benchmarks
__all__ = ["_WORDS", "_byte_level_vocab", "_byte_to_unicode_chars", "_text_config", "tiny_vae", "write_tokenizer"]

# The default: a tiny model trained by the project on procedural backdrops (backdrop_model.py),
# shipped in the package. The random-weight ones below are built on first use: they exercise
# the code paths (SD, SDXL, upscaler) in tests where the pictures do not matter.
EMBEDDED_MODEL_ID = "embedded:tiny-sd-backdrops"
EMBEDDED_RANDOM_ID = "embedded:tiny-sd"
EMBEDDED_SDXL_ID = "embedded:tiny-sdxl"  # two text encoders: exercises the SDXL code path on CPU
EMBEDDED_UPSCALER_ID = "embedded:tiny-upscaler"  # a 4x StableDiffusionUpscalePipeline
EMBEDDED_MODELS = {
    EMBEDDED_MODEL_ID: "backdrops",
    EMBEDDED_RANDOM_ID: "sd",
    EMBEDDED_SDXL_ID: "sdxl",
    EMBEDDED_UPSCALER_ID: "upscaler",
    # one of each DiT family (tiny_families.py): their code paths on a CPU
    "embedded:tiny-sd3": "sd3",
    "embedded:tiny-flux": "flux-schnell",
    "embedded:tiny-flux-dev": "flux-dev",
    "embedded:tiny-flux-kontext": "flux-kontext",
    "embedded:tiny-flux2-klein": "flux2-klein",
    "embedded:tiny-qwen-image": "qwen-image",
}
BACKDROP_WEIGHTS = Path(str(resources.files("pixio_ads").joinpath("weights", "tiny-sd-backdrops")))
# Bump when the architecture or build recipe changes so caches are rebuilt.
EMBEDDED_MODEL_VERSION = "1"
EMBEDDED_DEFAULT_STEPS = 4
# The backdrop model follows its prompt without classifier-free guidance (measured: at 2 and
# above its colours overshoot), and one pass per step instead of two halves its render time.
EMBEDDED_BACKDROP_GUIDANCE = 1.0
NOISE_WARNING = (
    "Using an embedded tiny random-weight model: its images are noise. It exists for smoke tests. "
    "Pass --model with a local checkpoint folder or hub id for real images."
)
BACKDROP_NOTE = (
    "Using the embedded backdrop model: tiny, trained on synthetic backdrops; its scenes are smooth "
    "studio-like backgrounds, not photographs. Pass --model with a real checkpoint for real images."
)


def cache_dir() -> Path:
    """Where pixio-ads keeps built artefacts; override with PIXIO_ADS_CACHE."""
    root = os.environ.get("PIXIO_ADS_CACHE") or Path.home() / ".cache" / "pixio-ads"
    return Path(root)


def embedded_model_path(model_id: str = EMBEDDED_MODEL_ID) -> Path:
    kind = EMBEDDED_MODELS[model_id]
    if kind == "backdrops":
        return BACKDROP_WEIGHTS
    return cache_dir() / "models" / f"tiny-{kind}-v{EMBEDDED_MODEL_VERSION}"


def tiny_unet(sample_size: int, channels: tuple[int, int], cross_attention_dim: int, head_dim: int, **extra):
    """The 2-level conditional UNet of the embedded models (the random test models and the
    trained backdrop model differ in width, text width and head size)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=channels,
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=head_dim,
        norm_num_groups=8,
        **extra,
    )


def tiny_scheduler():
    """Euler on SD's scaled-linear schedule, as the embedded pipelines ship it."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000, steps_offset=1
    )


def _components(kind: str, vocab_size: int, tokenizer) -> dict:
    """Seeded tiny components; ``kind`` 'sd' (one text encoder) or 'sdxl' (two, pooled + time ids)."""
    import torch
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    sdxl = kind == "sdxl"
    unet_extra = (
        # SDXL conditions on the pooled text embedding plus 6 size/crop ids of 8 dims each.
        dict(
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + 32,
        )
        if sdxl
        else {}
    )
    torch.manual_seed(0)
    # SDXL concatenates both encoders' hidden states: twice the text width
    unet = tiny_unet(64, (16, 32), 64 if sdxl else 32, 4, **unet_extra)
    torch.manual_seed(0)
    vae = tiny_vae(512)
    torch.manual_seed(0)
    components = dict(
        unet=unet,
        vae=vae,
        text_encoder=CLIPTextModel(_text_config(vocab_size, tokenizer)),
        tokenizer=tokenizer,
        scheduler=tiny_scheduler(),
    )
    if sdxl:
        torch.manual_seed(1)
        components.update(
            text_encoder_2=CLIPTextModelWithProjection(_text_config(vocab_size, tokenizer, projection_dim=32)),
            tokenizer_2=tokenizer,
        )
    else:
        components.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return components


def _upscaler_components(vocab_size: int, tokenizer) -> dict:
    """A tiny x4 upscaler: the VAE downsamples 4x, the UNet sees latents + the low-res image
    (4 + 3 channels) and the noise level as a class label."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    # No attention blocks at all: its latents are as large as the input image (a 512 px
    # render gives 512x512 latents), where self-attention over every position is far too
    # slow on a CPU. Real x4 upscalers are used on GPUs.
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=7,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        mid_block_type=None,
        cross_attention_dim=32,
        norm_num_groups=8,
        num_class_embeds=1000,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=(4, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        mid_block_add_attention=False,
        scaling_factor=0.08333,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_text_config(vocab_size, tokenizer))
    return dict(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"),
        max_noise_level=350,
    )


def build_tiny_pipeline(kind: str, target: Path) -> Path:
    """Build a tiny pipeline of ``kind`` (a value of EMBEDDED_MODELS but 'backdrops') into
    ``target`` atomically."""
    from diffusers import StableDiffusionPipeline, StableDiffusionUpscalePipeline, StableDiffusionXLPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers import CLIPTokenizer
    from transformers.utils import logging as transformers_logging

    from pixio_ads.render.tiny_families import BUILDERS, build_family_pipeline

    diffusers_logging.disable_progress_bar()  # "Writing model shards" bars for a build of a second
    transformers_logging.disable_progress_bar()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        vocab_size = write_tokenizer(staging / "tokenizer")
        tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")
        if kind in BUILDERS:
            pipeline = build_family_pipeline(kind, staging / ".scratch")
        elif kind == "upscaler":
            pipeline = StableDiffusionUpscalePipeline(**_upscaler_components(vocab_size, tokenizer))
        else:
            pipeline_class = StableDiffusionXLPipeline if kind == "sdxl" else StableDiffusionPipeline
            pipeline = pipeline_class(**_components(kind, vocab_size, tokenizer))
        pipeline.save_pretrained(staging, safe_serialization=True)
        shutil.rmtree(staging / ".scratch", ignore_errors=True)
        (staging / "PIXIO_ADS_EMBEDDED.txt").write_text(NOISE_WARNING + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_embedded_model(model_id: str = EMBEDDED_MODEL_ID) -> Path:
    """Path of a saved embedded model, building it on first use."""
    path = embedded_model_path(model_id)
    if EMBEDDED_MODELS[model_id] == "backdrops":
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"the embedded backdrop model is missing from {path}: reinstall pixio-ads, or train it with "
                f"`python -m pixio_ads.training.backdrop_model {path}`"
            )
        return path
    if not (path / "model_index.json").is_file():
        build_tiny_pipeline(EMBEDDED_MODELS[model_id], path)
    return path


def build_tiny_clip(target: Path, seed: int = 0) -> Path:
    """A tiny random CLIPModel with its processor (offline tokenizer, 32 px images), saved
    with save_pretrained: what --clip-model loads, for tests. Its scores mean nothing."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    target = Path(target)
    vocab_size = write_tokenizer(target)
    tokenizer = CLIPTokenizer.from_pretrained(target)
    torch.manual_seed(seed)
    text = _text_config(vocab_size, tokenizer).to_dict()
    vision = dict(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    model.save_pretrained(target)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(target)
    return target
