"""Tiny random-weight image-to-video pipelines (LTX-Video and Wan 2.2 TI2V), built offline the
way diffusers' tests build them (tests/pipelines/ltx/test_ltx_image2video.py and
tests/pipelines/wan/test_wan_22_image_to_video.py: ``get_dummy_components``), with the T5
tokenizer made by tiny_families.write_t5_tokenizer instead of fetched. Saved with
``save_pretrained`` and loaded with ``from_pretrained`` as a real checkpoint is (embedded ids
``embedded:tiny-ltx-video`` and ``embedded:tiny-wan``): the whole ``motion = model`` path runs on
a CPU in tests. Their frames are noise around the still.
"""

from __future__ import annotations

import json
from pathlib import Path

from pixio_ads.render.tiny_model import EMBEDDED_MODEL_VERSION, cache_dir

TINY_VIDEO_MODELS = {"embedded:tiny-ltx-video": "ltx-video", "embedded:tiny-wan": "wan"}
TINY_VIDEO_PIXELS = 64 * 96  # what they render at (a real model: its family's size)


def _t5(scratch: Path):
    import torch
    from transformers import T5Config, T5EncoderModel

    from pixio_ads.render.tiny_families import write_t5_tokenizer

    tokenizer = write_t5_tokenizer(scratch / "t5")
    torch.manual_seed(0)
    encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        )
    )  # fmt: skip
    return encoder, tokenizer


def ltx_video_pipeline(scratch: Path):
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32,
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )  # fmt: skip
    encoder, tokenizer = _t5(scratch)
    return LTXImageToVideoPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=encoder,
        tokenizer=tokenizer,
    )  # fmt: skip


def wan_pipeline(scratch: Path):
    """Wan 2.2 TI2V's shape: a 48-channel VAE of 16x spatial compression, the still as the first
    latent frame (expand_timesteps), no image encoder."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanTransformer3DModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
        latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
    )  # fmt: skip
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    encoder, tokenizer = _t5(scratch)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=48, out_channels=48,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )  # fmt: skip
    return WanImageToVideoPipeline(
        transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=encoder, tokenizer=tokenizer,
        transformer_2=None, image_encoder=None, image_processor=None, boundary_ratio=None, expand_timesteps=True,
    )  # fmt: skip


_BUILDERS = {"ltx-video": ltx_video_pipeline, "wan": wan_pipeline}


def tiny_video_folder(model_id: str) -> Path:
    """The tiny pipeline's checkpoint folder, built and saved on first use (a second or two)."""
    kind = TINY_VIDEO_MODELS[model_id]
    folder = cache_dir() / "models" / f"tiny-video-{kind}-v{EMBEDDED_MODEL_VERSION}"
    if not (folder / "model_index.json").is_file():
        import tempfile

        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
            built = Path(scratch) / "pipeline"
            _BUILDERS[kind](Path(scratch) / "parts").save_pretrained(built)
            json.loads((built / "model_index.json").read_text())  # whole before it is moved in
            try:
                built.rename(folder)  # atomic: a concurrent builder's folder wins, this one is dropped
            except OSError:
                if not (folder / "model_index.json").is_file():
                    raise
    return folder
