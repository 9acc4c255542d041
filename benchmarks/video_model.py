"""Image-to-video at real size with random weights (issue 41's GPU figure): LTX-Video 2B (0.9.x:
the diffusers classes' default configs, 1.92B transformer, its causal video VAE, T5 v1.1 XXL),
built on the device in bf16, saved, loaded back by the product's own path (render/video_models:
``from_pretrained`` of the family's class) and timed animating one still at the family's size and
frame count (121 frames at 24 fps: a 5 s clip), with the peak GPU memory.

    python benchmarks/video_model.py --arch ltx-video MODELS_DIR [--device cuda] [--steps 40] [--repeats 2]
    python benchmarks/video_model.py --model embedded:tiny-ltx-video --device cpu   # the wiring, on a CPU

Ends with ``name: value`` lines: seconds_per_clip (median), seconds_per_step, peak_gpu_memory_gb,
frames, width, height."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fullsize import weights_on  # noqa: E402
from fullsize_dit import T5_XXL  # noqa: E402

from pixio_ads.render.tiny_families import write_t5_tokenizer  # noqa: E402

ARCHS = ("ltx-video",)


def build(arch: str, out: Path, device: str) -> Path:
    """The pipeline folder with random bf16 weights drawn on ``device`` (skipped when built)."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    if (out / "model_index.json").is_file():
        return out
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with tempfile.TemporaryDirectory() as tmp, weights_on(device):
            tokenizer = write_t5_tokenizer(Path(tmp) / "t5")
            parts = dict(
                transformer=LTXVideoTransformer3DModel(),
                vae=AutoencoderKLLTXVideo(),
                text_encoder=T5EncoderModel(
                    T5Config(**T5_XXL, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
                ),
                tokenizer=tokenizer,
                scheduler=FlowMatchEulerDiscreteScheduler(),
            )
            LTXImageToVideoPipeline(**parts).save_pretrained(out, safe_serialization=True)
    finally:
        torch.set_default_dtype(default)
    return out


def measure(model: str, device: str, steps: int | None, repeats: int, frames: int | None) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from pixio_ads.render.tiny_video import TINY_VIDEO_MODELS
    from pixio_ads.render.video_models import VIDEO_STEPS, animate, load_video_model

    started = time.perf_counter()
    load_video_model(model, device)
    print(f"load_seconds: {time.perf_counter() - started:.1f}")
    scene = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1920, 1080, 3), dtype=np.uint8))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    seconds, shape = [], None
    for run in range(repeats):
        clip = animate(
            model, device, scene, "a bottle on a beach, waves rolling in", "", run, 1080 / 1920, steps, frames
        )
        seconds.append(clip.seconds)
        shape = clip.frames.shape
    used = steps or (2 if model in TINY_VIDEO_MODELS else VIDEO_STEPS[clip.family])
    print(f"seconds_runs: {', '.join(f'{s:.1f}' for s in seconds)}")
    print(f"frames: {shape[0]}\nwidth: {shape[2]}\nheight: {shape[1]}\nsteps: {used}")
    print(f"clip_seconds_of_video: {shape[0] / clip.fps:.2f}")
    print(f"seconds_per_clip: {statistics.median(seconds):.1f}")
    print(f"seconds_per_step: {statistics.median(seconds) / used:.2f}")
    if device.startswith("cuda"):
        print(f"peak_gpu_memory_gb: {torch.cuda.max_memory_allocated() / 2**30:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="?", type=Path, default=Path("/tmp/pixio-fullsize"))
    parser.add_argument("--arch", choices=ARCHS, default="ltx-video")
    parser.add_argument("--model", help="an existing checkpoint or embedded id instead of building --arch")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = args.model or str(build(args.arch, args.models / args.arch, args.device))
    measure(model, args.device, args.steps, args.repeats, args.frames)


if __name__ == "__main__":
    main()
