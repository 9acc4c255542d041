"""Train the embedded backdrop model: a tiny Stable Diffusion pipeline (CLIP text encoder,
UNet2DConditionModel, AutoencoderKL) taught on the procedural backdrops of backdrops.py, saved
with save_pretrained and loaded with from_pretrained like any checkpoint.

    .venv/bin/python -m pixio_ads.training.backdrop_model pixio_ads/weights/tiny-sd-backdrops --seed 0

Steps: 1. draw the data set; 2. train the VAE on 128 px crops (it is fully convolutional);
3. encode every image once and fix the latent scaling factor; 4. train the UNet and the text
encoder together on the latents (epsilon prediction, 10% empty captions for guidance);
5. save the pipeline and its model card. Deterministic for a seed on one machine (torch's CPU
kernels with a fixed thread count); about 25 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixio_ads.render.tiny_model import _WORDS, _text_config, tiny_scheduler, tiny_unet, tiny_vae, write_tokenizer
from pixio_ads.training import backdrops

OFFSET_NOISE = 0.1
NATIVE_LATENT = 32  # 256 px: backdrops are smooth, and the creative is resized to its format anyway


@dataclass(frozen=True, slots=True)
class Recipe:
    seed: int = 0
    images: int = 2000
    vae_steps: int = 1500
    vae_batch: int = 8
    unet_steps: int = 3500
    unet_batch: int = 16
    caption_dropout: float = 0.1
    threads: int = 2


def components(vocab_size: int, tokenizer) -> dict:
    """The architecture (seeded, untrained)."""
    import torch
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet = tiny_unet(NATIVE_LATENT, (32, 64), 32, 8)
    vae = tiny_vae(NATIVE_LATENT * 8, norm_groups=1)
    return dict(
        unet=unet,
        vae=vae,
        text_encoder=CLIPTextModel(_text_config(vocab_size, tokenizer)),
        tokenizer=tokenizer,
        scheduler=tiny_scheduler(),
    )


def _to_tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def train_vae(vae, pixels: np.ndarray, recipe: Recipe, log: Callable[[str], None]) -> None:
    """L2 + L1 on random 128 px crops: L2 weighs the large errors a wrong hue makes."""
    import torch

    rng = np.random.default_rng(recipe.seed + 1)
    optimiser = torch.optim.Adam(vae.parameters(), lr=1e-3)
    vae.train()
    for step in range(recipe.vae_steps):
        chosen = rng.integers(0, len(pixels), recipe.vae_batch)
        top, left = rng.integers(0, pixels.shape[1] - 128, 2)
        batch = _to_tensor(pixels[chosen, top : top + 128, left : left + 128])
        posterior = vae.encode(batch).latent_dist
        error = vae.decode(posterior.sample()).sample - batch
        loss = (error**2).mean() + error.abs().mean() + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        for group in optimiser.param_groups:  # cosine decay to a tenth
            group["lr"] = 1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * (step + 1) / recipe.vae_steps))
        if step % 250 == 0 or step == recipe.vae_steps - 1:
            log(f"vae step {step}: loss {loss.item():.4f}")
    vae.eval()


def encode_all(vae, pixels: np.ndarray):
    """Latent means of every image, scaled to unit variance (the scaling factor is saved)."""
    import torch

    with torch.no_grad():
        latents = torch.cat(
            [vae.encode(_to_tensor(pixels[i : i + 64])).latent_dist.mean for i in range(0, len(pixels), 64)]
        )
    scale = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scale)
    return latents * scale


def train_unet(unet, text_encoder, tokenizer, latents, captions: list[str], recipe: Recipe, log) -> None:
    import torch

    rng = np.random.default_rng(recipe.seed + 2)
    generator = torch.Generator().manual_seed(recipe.seed + 3)
    ids = tokenizer(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    empty = tokenizer([""], padding="max_length", max_length=77, return_tensors="pt").input_ids[0]
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas = torch.cumprod(1 - betas, dim=0).float()
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=1e-4)
    unet.train()
    text_encoder.train()
    for step in range(recipe.unet_steps):
        chosen = torch.from_numpy(rng.integers(0, len(latents), recipe.unet_batch))
        clean = latents[chosen]
        if rng.random() < 0.5:
            clean = clean.flip(-1)  # mirrored scenes are scenes too
        tokens = ids[chosen].clone()
        tokens[torch.from_numpy(rng.random(recipe.unet_batch) < recipe.caption_dropout)] = empty
        # Few-step sampling decides a scene's colour and light in its first, noisiest step:
        # half of the batch is drawn from the noisier half of the schedule.
        t = torch.randint(0, 1000, (recipe.unet_batch,), generator=generator)
        t[: recipe.unet_batch // 2] = torch.randint(500, 1000, (recipe.unet_batch // 2,), generator=generator)
        # Offset noise (a per-channel constant added to the noise): without it a diffusion
        # model cannot move an image's mean colour, and every style comes out the average one.
        noise = torch.randn(clean.shape, generator=generator)
        noise = noise + OFFSET_NOISE * torch.randn((clean.shape[0], clean.shape[1], 1, 1), generator=generator)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * clean + (1 - a).sqrt() * noise
        predicted = unet(noisy, t, encoder_hidden_states=text_encoder(tokens)[0]).sample
        loss = torch.nn.functional.mse_loss(predicted, noise)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        for group in optimiser.param_groups:
            warm = min(1.0, (step + 1) / 200)
            group["lr"] = 1e-3 * warm * 0.5 * (1 + math.cos(math.pi * (step + 1) / recipe.unet_steps))
        if step % 500 == 0 or step == recipe.unet_steps - 1:
            log(f"unet step {step}: loss {loss.item():.4f}")
    unet.eval()
    text_encoder.eval()


def train(target: Path, recipe: Recipe = Recipe(), log: Callable[[str], None] = print) -> Path:
    """Train the whole pipeline into ``target`` (written atomically)."""
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    started = time.monotonic()
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".training-", dir=target.parent))
    try:
        data = backdrops.sample(recipe.seed, recipe.images)
        pixels = np.stack([item.image for item in data])
        log(f"data: {len(data)} backdrops ({time.monotonic() - started:.0f} s)")
        vocab_size = write_tokenizer(staging / "tokenizer", words=_WORDS + backdrops.VOCABULARY)
        tokenizer = CLIPTokenizer.from_pretrained(staging / "tokenizer")
        parts = components(vocab_size, tokenizer)
        train_vae(parts["vae"], pixels, recipe, log)
        latents = encode_all(parts["vae"], pixels)
        log(f"vae done ({time.monotonic() - started:.0f} s); latent scale {parts['vae'].config.scaling_factor:.3f}")
        train_unet(parts["unet"], parts["text_encoder"], tokenizer, latents, [d.caption for d in data], recipe, log)
        pipeline = StableDiffusionPipeline(
            **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
        pipeline.save_pretrained(staging, safe_serialization=True)
        minutes = (time.monotonic() - started) / 60
        (staging / "README.md").write_text(model_card(recipe, minutes), encoding="utf-8")
        log(f"trained in {minutes:.1f} min")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def model_card(recipe: Recipe, minutes: float) -> str:
    return f"""# pixio-ads embedded backdrop model

A tiny Stable Diffusion pipeline (CLIP text encoder 2 x 32, UNet 32/64 channels with
cross-attention, 8x VAE; {NATIVE_LATENT * 8} px native) trained by pixio-ads on a procedural data set:
`python -m pixio_ads.training.backdrop_model OUT --seed {recipe.seed}` ({minutes:.0f} min on the machine that made it).

- **Data**: {recipe.images} backdrops drawn by `pixio_ads/training/backdrops.py` (seed {recipe.seed}): studio
  sweeps, wall and floor, window light, gradients, bokeh, spotlights, surfaces (marble, wood,
  concrete, fabric, sand, water) in moods and colours ({", ".join(list(backdrops.MOODS)[:6])}, ...), captioned by
  the built-in prompt templates with random products and audiences.
- **Training**: VAE {recipe.vae_steps} steps on 128 px crops (L2 + L1 + 1e-6 KL; GroupNorm over all channels, which keeps a flat area's colour); UNet and text encoder
  {recipe.unet_steps} steps, batch {recipe.unet_batch}, epsilon prediction on the scaled-linear schedule with
  offset noise {OFFSET_NOISE} (so the mean colour can follow the prompt) and half of each batch from the noisier half,
  {recipe.caption_dropout:.0%} empty captions so guidance works.
- **What it draws**: smooth synthetic backdrops whose colour and light follow the style words of
  the prompt (golden hour is warm, cozy evening dark, minimal studio light and neutral).
- **Limits**: synthetic backdrops, not photographs; no objects, people or text; it knows only the
  words of its data set, the rest of a prompt changes nothing. For real images use a real
  checkpoint (`--model`).
"""


def main() -> None:
    defaults = Recipe()
    parser = argparse.ArgumentParser(description="Train the embedded backdrop model.")
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=defaults.images)
    parser.add_argument("--vae-steps", type=int, default=defaults.vae_steps)
    parser.add_argument("--unet-steps", type=int, default=defaults.unet_steps)
    args = parser.parse_args()
    recipe = Recipe(seed=args.seed, images=args.images, vae_steps=args.vae_steps, unet_steps=args.unet_steps)
    train(args.target, recipe)


if __name__ == "__main__":
    main()
