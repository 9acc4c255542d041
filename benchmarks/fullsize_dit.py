"""Real-size DiT pipelines with random weights (FLUX.1 schnell, SD 3.5 Medium), for GPU figures
without a download; the DiT counterpart of benchmarks/fullsize.py (same interface):

    python benchmarks/fullsize_dit.py --arch flux-schnell|sd35m OUT [--dtype bf16] [--device cuda]

- flux-schnell: FLUX.1 [schnell]. Transformer of 19 double and 38 single blocks, 24 heads of 128
  (~11.9B, no guidance embedding), CLIP ViT-L/14 text encoder (pooled, ~123M), T5 v1.1 XXL
  encoder (~4.76B), the FLUX VAE (16 latent channels); flow matching without a shift; 1024 px.
- sd35m: Stable Diffusion 3.5 Medium. MMDiT-X of 24 blocks, 24 heads of 64, dual attention in
  the first 13 (~2.5B), CLIP ViT-L and OpenCLIP ViT-bigG with projections (~124M + ~695M), T5 v1.1
  XXL, the SD3 VAE; flow matching with shift 3; 1024 px.

Configs as the released checkpoints' ``config.json`` files name them (black-forest-labs/FLUX.1-schnell,
stabilityai/stable-diffusion-3.5-medium), read from their model cards; parameter counts are
checked against the published sizes in tests/test_fullsize.py on the meta device. Tokenizers: the
offline CLIP BPE and T5 Unigram (render/tiny_families.py); the embedding tables keep the real
sizes (49,408 and 32,128 tokens). Weights are drawn on ``--device`` in bf16 (a GPU builds FLUX in
about a minute; saving its ~33 GB takes as long again).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fullsize import VIT_BIGG, VIT_L, _text_encoder, load_tokenizer, run_cli, weights_on  # noqa: E402

from pixio_ads.render.tiny_families import write_t5_tokenizer  # noqa: E402

ARCHS = ("flux-schnell", "sd35m")
T5_VOCAB = 32128
# Published sizes (model cards; the released safetensors' parameter counts), for the tests.
# Counted as a checkpoint stores them: parameters and persistent buffers (SD3's position table).
PUBLISHED = {
    # FLUX.1 dev's 11,901,408,320 less its guidance embedder (256 -> 3072 -> 3072: 10,229,760)
    "flux-schnell": {
        "transformer": 11_901_408_320 - 10_229_760,
        "text_encoder": 123_060_480,
        "text_encoder_2": 4_762_310_656,
    },
    # the model card's "2.5 billion parameters" (rounded: the tests allow 3%)
    "sd35m": {"transformer": 2_500_000_000, "text_encoder_3": 4_762_310_656, "text_encoder_2": 694_659_840},
}
T5_XXL = dict(
    vocab_size=T5_VOCAB, d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24,
    feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, relative_attention_max_distance=128,
)  # fmt: skip
TRANSFORMERS = {
    "flux-schnell": dict(
        patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
        num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=False,
        axes_dims_rope=(16, 56, 56),
    ),
    "sd35m": dict(
        sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24, attention_head_dim=64,
        num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048,
        pos_embed_max_size=384, qk_norm="rms_norm", dual_attention_layers=tuple(range(13)),
    ),
}  # fmt: skip
VAE_LATENT = {"flux-schnell": (0.3611, 0.1159), "sd35m": (1.5305, 0.0609)}  # scaling, shift


def components(arch: str, tokenizers: tuple, device: str = "cpu") -> dict:
    """The pipeline's components with random weights, created on ``device`` ("meta": no memory)."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel, SD3Transformer2DModel
    from transformers import T5Config, T5EncoderModel

    if arch not in ARCHS:
        raise SystemExit(f"unknown --arch {arch!r}: use one of {', '.join(ARCHS)}")
    clip, t5 = tokenizers
    scaling, shift = VAE_LATENT[arch]
    with weights_on(device):
        transformer_class = FluxTransformer2DModel if arch == "flux-schnell" else SD3Transformer2DModel
        parts = {
            "transformer": transformer_class(**TRANSFORMERS[arch]),
            "vae": AutoencoderKL(
                in_channels=3,
                out_channels=3,
                latent_channels=16,
                layers_per_block=2,
                block_out_channels=(128, 256, 512, 512),
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                sample_size=1024,
                scaling_factor=scaling,
                shift_factor=shift,
                use_quant_conv=False,
                use_post_quant_conv=False,
                force_upcast=True,
            ),  # fmt: skip
        }
        t5_encoder = T5EncoderModel(T5Config(**T5_XXL, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
        if arch == "flux-schnell":
            parts["text_encoder"] = _text_encoder(VIT_L, clip, with_projection=False)
            parts["text_encoder_2"] = t5_encoder
        else:
            parts["text_encoder"] = _text_encoder(VIT_L, clip, with_projection=True)
            parts["text_encoder_2"] = _text_encoder(VIT_BIGG, clip, with_projection=True)
            parts["text_encoder_3"] = t5_encoder
    if arch == "flux-schnell":
        parts.update(tokenizer=clip, tokenizer_2=t5, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0))
    else:
        parts.update(
            tokenizer=clip, tokenizer_2=clip, tokenizer_3=t5, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0)
        )
    return parts


def _tokenizers(folder: Path) -> tuple:
    return load_tokenizer(folder / "clip"), write_t5_tokenizer(folder / "t5")


def parameter_counts(arch: str) -> dict[str, int]:
    """Weights per model component as its checkpoint stores them (parameters and persistent
    buffers), built on the meta device (where T5's input embedding must be tied again)."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = components(arch, _tokenizers(Path(tmp)), device="meta")
    counts = {}
    for name, part in parts.items():
        if hasattr(part, "parameters"):
            if hasattr(part, "tie_weights"):
                part.tie_weights()
            buffers = sum(
                buffer.numel()
                for module in part.modules()
                for key, buffer in module._buffers.items()
                if buffer is not None and key not in module._non_persistent_buffers_set
            )
            counts[name] = sum(parameter.numel() for parameter in part.parameters()) + buffers
    return counts


def build(arch: str, out: Path, dtype: str = "bf16", device: str = "cpu") -> Path:
    """Build and save the pipeline folder; returns it."""
    import torch
    from diffusers import FluxPipeline, StableDiffusion3Pipeline

    torch.manual_seed(0)
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)  # drawn in bf16 directly: 12B fp32 weights would take 48 GB first
    try:
        with tempfile.TemporaryDirectory() as tmp:
            parts = components(arch, _tokenizers(Path(tmp)), device=device)
    finally:
        torch.set_default_dtype(default)
    pipeline = (FluxPipeline if arch == "flux-schnell" else StableDiffusion3Pipeline)(**parts)
    pipeline.save_pretrained(out, safe_serialization=True)
    return out


def main() -> None:
    run_cli(__doc__.splitlines()[0], ARCHS, build, parameter_counts, "bf16")


if __name__ == "__main__":
    main()
