"""The embedded backdrop model against the tiny random one it replaced, side by side in one
run: how smooth its scenes are, whether prompt words move colour and light, and what a
render costs.

    .venv/bin/python benchmarks/backdrops.py [--runs 3]

- smooth share: the share of a background region's variance that survives 16x16 block
  averaging (1: all structure, no pixel noise), median over fixed seeds and styles;
- warmth: red minus blue of the mean colour, golden hour minus minimal studio;
- darkness: mean brightness, minimal studio minus cozy evening;
- render seconds: one image at the model's native size, 4 steps, its default guidance, median of
  ``--runs`` (the two models alternate, after a warm-up each).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixio_ads.campaign.models import DEFAULT_GUIDANCE  # noqa: E402
from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render import pipelines as render  # noqa: E402
from pixio_ads.render.tiny_model import EMBEDDED_BACKDROP_GUIDANCE, EMBEDDED_MODEL_ID, EMBEDDED_RANDOM_ID  # noqa: E402

STYLES = ("golden hour", "minimal studio", "cozy evening", "warm pastel")
SEEDS = (11, 22, 33)


def picture(model, style: str, seed: int) -> np.ndarray:
    """At the model's native size and its default guidance (campaign/models.resolve_settings)."""
    prompt = f"{style} studio backdrop for a product photo of a mug, seamless paper sweep, gentle gradient"
    side = model.native_side
    guidance = EMBEDDED_BACKDROP_GUIDANCE if model.spec.model_id == EMBEDDED_MODEL_ID else DEFAULT_GUIDANCE
    image = render.generate(model, [prompt], [""], [seed], side, side, 4, guidance).images[0]
    return np.asarray(image.convert("RGB").resize((256, 256)), dtype=np.float64)


def smooth_share(pixels: np.ndarray) -> float:
    region = pixels[16:240, 16:240].mean(axis=2)
    blocks = region.reshape(14, 16, 14, 16).mean(axis=(1, 3))
    return float(np.repeat(np.repeat(blocks, 16, 0), 16, 1).var() / max(region.var(), 1e-9))


def measure(model) -> dict[str, float]:
    means = {
        style: np.mean([picture(model, style, s).reshape(-1, 3).mean(axis=0) for s in SEEDS], axis=0)
        for style in STYLES
    }
    shares = [smooth_share(picture(model, style, seed)) for style in STYLES for seed in SEEDS]
    warmth = lambda rgb: float(rgb[0] - rgb[2])  # noqa: E731
    return {
        "smooth_share": statistics.median(shares),
        "warmth_golden_minus_minimal": warmth(means["golden hour"]) - warmth(means["minimal studio"]),
        "brightness_minimal_minus_cozy": float(means["minimal studio"].mean() - means["cozy evening"].mean()),
    }


def render_seconds(models: dict, runs: int) -> dict[str, float]:
    for model in models.values():
        picture(model, "warm pastel", 0)  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in models}
    for run in range(runs):
        for name, model in models.items():
            started = time.perf_counter()
            picture(model, "warm pastel", run + 1)
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    models = {
        "random": loading.load_model(EMBEDDED_RANDOM_ID, "cpu"),
        "backdrops": loading.load_model(EMBEDDED_MODEL_ID, "cpu"),
    }
    seconds = render_seconds(models, args.runs)
    results = {name: measure(model) for name, model in models.items()}
    for name, model in models.items():
        print(f"{name}: native {model.native_side} px, {seconds[name]:.3f} s per image, {results[name]}")
    for name in models:
        for key, value in results[name].items():
            print(f"{name}_{key}: {value:.3f}")
        print(f"{name}_render_seconds: {seconds[name]:.3f}")


if __name__ == "__main__":
    main()
