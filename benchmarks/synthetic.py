"""Synthetic campaigns for the benchmarks: the example campaign's three product photos (a
bottle and a lamp on transparent backgrounds, a mug on white, which the cut-out removes), one
per row in turn, so every creative is finished with a real product pasted (an opaque flat
rectangle, used before, is removed entirely by the cut-out: nothing was pasted)."""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

EXAMPLE = Path(__file__).resolve().parent.parent / "campaigns" / "spring-sale"
PRODUCTS = ("bottle.png", "lamp.png", "mug.png")
HEADER = [
    "campaign_id",
    "product_id",
    "product_name",
    "product_image",
    "template",
    "audiences",
    "styles",
    "formats",
    "variants",
    "headline",
    "cta",
]


def write_campaign(
    folder: Path,
    campaign_id: str,
    products: int,
    template: str,
    audiences: str,
    styles: str,
    formats: str,
    variants: int,
    brand: bool = False,
) -> Path:
    """``products`` rows, one per product, their photos taken in turn from PRODUCTS; returns
    the CSV's path. ``brand``: every row uses the example's brand kit (logo, colours: the
    brand-colour score is computed)."""
    (folder / "products").mkdir()
    for name in PRODUCTS:
        shutil.copyfile(EXAMPLE / "products" / name, folder / "products" / name)
    if brand:
        for name in ("brand.yaml", "logo.png"):
            shutil.copyfile(EXAMPLE / name, folder / name)
    path = folder / "campaign.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER + ["brand_kit"] * brand)
        for i in range(products):
            writer.writerow(
                [
                    campaign_id,
                    f"p{i}",
                    f"Product {i}",
                    f"products/{PRODUCTS[i % len(PRODUCTS)]}",
                    template,
                    audiences,
                    styles,
                    formats,
                    variants,
                    f"Headline {i}",
                    "Shop now",
                ]
                + ["brand.yaml"] * brand
            )
    return path


def scene(seed: int, side: int = 512) -> Image.Image:
    """A model-output-like scene: colour waves, sensor-like noise and four rounded shapes drawn
    at 1080 px, then resized to ``side`` and softened as a decoder's output is."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1080, 0:1080]
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack(
        [
            120 + 80 * np.sin(x / 90 + phase[0]),
            110 + 60 * np.cos(y / 70 + phase[1]),
            140 + 50 * np.sin((x + y) / 120 + phase[2]),
        ],
        axis=2,
    )
    image = Image.fromarray(np.clip(base + rng.normal(0, rng.uniform(3, 15), base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        left, top = rng.integers(0, 800, 2)
        fill = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.rounded_rectangle((int(left), int(top), int(left) + 250, int(top) + 250), radius=40, fill=fill)
    return image.resize((side, side)).filter(ImageFilter.GaussianBlur(1))


def validate_benchmark(description: str, write_campaign, default_rows: int, name: str) -> None:
    """A validate benchmark's command line: ``--rows`` and ``--repeats``, the campaign that
    ``write_campaign(folder, rows)`` makes timed by time_validate, and its ``name: value`` line
    (``validate_<rows/1000>k_<name>_seconds``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=default_rows)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        output, runs, median = time_validate(write_campaign(Path(tmp), args.rows), args.repeats)
    print(output)
    print(f"runs: {', '.join(f'{seconds:.2f}' for seconds in runs)} s")
    print(f"validate_{args.rows // 1000}k_{name}_seconds: {median:.2f}")


def time_validate(path: Path, repeats: int) -> tuple[str, list[float], float]:
    """`pixio-ads validate PATH` in a fresh process ``repeats`` times: (its output, each run's
    seconds, the median); exits naming the failure when validate fails."""
    command = [str(Path(sys.executable).parent / "pixio-ads"), "validate", str(path)]
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        runs.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"validate failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout.strip(), runs, statistics.median(runs)
