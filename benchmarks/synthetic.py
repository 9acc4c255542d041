"""Synthetic campaigns for the benchmarks: one product image shared by every row."""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

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
) -> Path:
    """``products`` rows, one per product; returns the CSV's path."""
    (folder / "products").mkdir()
    Image.new("RGBA", (300, 500), (30, 120, 200, 255)).save(folder / "products" / "p.png")
    path = folder / "campaign.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(products):
            writer.writerow(
                [
                    campaign_id,
                    f"p{i}",
                    f"Product {i}",
                    "products/p.png",
                    template,
                    audiences,
                    styles,
                    formats,
                    variants,
                    f"Headline {i}",
                    "Shop now",
                ]
            )
    return path


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
