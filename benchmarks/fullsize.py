"""Real-size diffusion pipelines with random weights, for GPU figures without a download.

    python benchmarks/fullsize.py --arch sd15|sd21|sdxl OUT [--dtype fp16] [--device cuda]

A model's cost per image depends on its architecture, not on its weights: this builds the
published architecture of each family with random weights and saves it with
``save_pretrained``, so ``pixio-ads run --model OUT`` (and benchmarks/render.py) load it
through the same ``from_pretrained`` path as a downloaded checkpoint:

- sd15: Stable Diffusion 1.5. UNet 320/640/1280/1280 with cross-attention 768 (~860M),
  CLIP ViT-L/14 text encoder (~123M), the SD VAE (~84M); 512 px.
- sd21: Stable Diffusion 2.1 at 512 px, the SD-Turbo architecture. Heads of 64 channels,
  linear projections, cross-attention 1024 (~866M), OpenCLIP ViT-H text encoder (23 layers,
  ~340M), the SD VAE.
  With SD 1.5's safety checker (a CLIP ViT-L/14 image encoder, ~304M, and its 224 px image
  processor), as the released checkpoint ships it; its random concept thresholds flag nothing.
- sdxl: SDXL base. UNet 320/640/1280 with transformer depths 1/2/10, cross-attention 2048,
  pooled text + size/crop time ids (~2.57B), CLIP ViT-L and OpenCLIP ViT-bigG (~695M) text
  encoders, the SDXL VAE (force_upcast: decoded in float32); 1024 px. Also saved beside it,
  as OUT/vae-fp16-safe: the same VAE marked fp16-safe (force_upcast off, as
  madebyollin/sdxl-vae-fp16-fix is), for ``--vae`` (what decoding in fp16 costs).

The tokenizer is the embedded model's offline CLIP BPE (no hub); the text encoders keep the
real 49,408-token embedding tables. Weights are drawn on ``--device`` (a GPU builds SDXL in
seconds; a CPU needs ~10 GB of memory and minutes for it). ``parameter_counts(arch)`` builds
on the meta device (no memory) for the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pixio_ads.render.tiny_model import write_tokenizer  # noqa: E402

ARCHS = ("sd15", "sd21", "sdxl")
VOCAB = 49408  # CLIP's BPE vocabulary: the size of the real embedding tables

# Published parameter counts (diffusers/transformers models of the released checkpoints).
PUBLISHED = {
    # the safety checker: ~304M, its released safety_checker/model.safetensors is 1.22 GB in fp32
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480, "safety_checker": 304_000_000},
    "sd21": {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840},
    "sdxl": {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}

_SD_BLOCKS = dict(
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
)
UNETS = {
    "sd15": dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8, **_SD_BLOCKS),
    "sd21": dict(
        sample_size=64,
        cross_attention_dim=1024,
        attention_head_dim=(5, 10, 20, 20),
        use_linear_projection=True,
        **_SD_BLOCKS,
    ),
    "sdxl": dict(
        sample_size=128,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280),
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        cross_attention_dim=2048,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,  # pooled 1280 + 6 time ids x 256
    ),
}
# (hidden, intermediate, layers, heads, activation, projection)
VIT_L = (768, 3072, 12, 12, "quick_gelu", 768)
VIT_H_SD2 = (1024, 4096, 23, 16, "gelu", 512)  # SD 2 uses the penultimate layer: 23 of 24
VIT_BIGG = (1280, 5120, 32, 20, "gelu", 1280)
TEXT_ENCODERS = {"sd15": (VIT_L,), "sd21": (VIT_H_SD2,), "sdxl": (VIT_L, VIT_BIGG)}


def _text_encoder(spec: tuple, tokenizer, with_projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    hidden, intermediate, layers, heads, activation, projection = spec
    config = CLIPTextConfig(
        vocab_size=VOCAB, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, max_position_embeddings=77, hidden_act=activation, projection_dim=projection,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def _vae(arch: str):
    from diffusers import AutoencoderKL

    sdxl = arch == "sdxl"
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=1024 if sdxl else 512, scaling_factor=0.13025 if sdxl else 0.18215, force_upcast=sdxl,
    )  # fmt: skip


def _scheduler(arch: str):
    from diffusers import EulerDiscreteScheduler

    # SD-Turbo samples with trailing timesteps (1-4 steps); SD 1.5 and SDXL with leading ones.
    spacing = "trailing" if arch == "sd21" else "leading"
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing=spacing,
    )


def weights_on(device: str):
    """Where new modules' weights are made: nowhere ("meta": shapes only, for counting), the CPU,
    or the device they will run on (a GPU draws SDXL's or FLUX's in seconds)."""
    if device == "meta":
        from accelerate import init_empty_weights

        return init_empty_weights()
    if device == "cpu":
        return contextlib.nullcontext()
    import torch

    return torch.device(device)


def components(arch: str, tokenizer, device: str = "cpu") -> dict:
    """The pipeline's components with random weights, created on ``device`` ("meta": no memory)."""
    from diffusers import UNet2DConditionModel

    if arch not in ARCHS:
        raise SystemExit(f"unknown --arch {arch!r}: use one of {', '.join(ARCHS)}")
    with weights_on(device):
        parts = {
            "unet": UNet2DConditionModel(in_channels=4, out_channels=4, layers_per_block=2, **UNETS[arch]),
            "vae": _vae(arch),
        }
        encoders = TEXT_ENCODERS[arch]
        parts["text_encoder"] = _text_encoder(encoders[0], tokenizer, with_projection=False)
        if len(encoders) == 2:
            parts["text_encoder_2"] = _text_encoder(encoders[1], tokenizer, with_projection=True)
        if arch == "sd15":
            parts["safety_checker"] = _safety_checker()
    parts["scheduler"] = _scheduler(arch)
    parts["tokenizer"] = tokenizer
    if arch == "sdxl":
        parts["tokenizer_2"] = tokenizer
    elif arch == "sd15":
        parts["feature_extractor"] = _image_processor()
    else:
        parts.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return parts


def _safety_checker():
    """SD 1.5's safety checker: CLIP ViT-L/14 at 224 px, projection 768 (its config)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    vision = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16)
    return StableDiffusionSafetyChecker(
        CLIPConfig(vision_config=dict(**vision, image_size=224, patch_size=14), projection_dim=768)
    ).eval()


def _image_processor():
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})


def load_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    write_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(folder)


def parameter_counts(arch: str) -> dict[str, int]:
    """Parameters per model component, built on the meta device."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = components(arch, load_tokenizer(Path(tmp)), device="meta")
    return {
        name: sum(p.numel() for p in part.parameters()) for name, part in parts.items() if hasattr(part, "parameters")
    }


def build(arch: str, out: Path, dtype: str = "fp16", device: str = "cpu") -> Path:
    """Build and save the pipeline folder; returns it."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        parts = components(arch, load_tokenizer(Path(tmp)), device=device)
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    for part in parts.values():
        if isinstance(part, torch.nn.Module):
            part.to(torch_dtype)
    pipeline = (StableDiffusionXLPipeline if arch == "sdxl" else StableDiffusionPipeline)(**parts)
    pipeline.save_pretrained(out, safe_serialization=True)
    if arch == "sdxl":
        pipeline.vae.register_to_config(force_upcast=False)
        pipeline.vae.save_pretrained(out / "vae-fp16-safe", safe_serialization=True)
    return out


def run_cli(description: str, archs: tuple[str, ...], build, parameter_counts, dtype: str) -> None:
    """The command line of this script and of fullsize_dit.py: build ``--arch`` into OUT, then
    print its parameter counts and the seconds the build took."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--arch", choices=archs, required=True)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dtype", choices=("fp16", "bf16", "fp32"), default=dtype)
    parser.add_argument(
        "--device", default=None, help="where weights are drawn (default: cuda when present, else cpu)"
    )
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    started = time.perf_counter()
    build(args.arch, args.out, args.dtype, device)
    for name, count in parameter_counts(args.arch).items():
        print(f"{args.arch}_{name}_parameters: {count}")
    print(f"{args.arch}_build_seconds: {time.perf_counter() - started:.1f}")


def main() -> None:
    run_cli(__doc__.splitlines()[0], ARCHS, build, parameter_counts, "fp16")


if __name__ == "__main__":
    main()
