"""Helpers shared by the tests (fixtures stay in conftest.py): paths, campaign rows and
files, a creative-like image."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixio_ads.core.formats import NAMED_FORMATS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CAMPAIGN = REPO / "campaigns" / "spring-sale" / "campaign.csv"
SIZES = [(f.width, f.height) for f in NAMED_FORMATS.values()]


def good_row(**changes) -> dict:
    row = {
        "campaign_id": "test-campaign",
        "product_id": "widget",
        "product_name": "Widget",
        "product_image": "products/widget.png",
        "template": "studio",
        "audiences": "makers; parents",
        "styles": "minimal",
        "formats": "square; story",
        "headline": "Build more",
        "cta": "Buy now",
    }
    row.update(changes)
    return row


def write_csv(folder: Path, rows: list[dict], name: str = "campaign.csv") -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def scene(width: int = 1080, height: int = 1080) -> Image.Image:
    """A creative-like image: gradient, shapes, texture."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([120 + 80 * np.sin(x / 90), 110 + 60 * np.cos(y / 70), 140 + 50 * np.sin((x + y) / 120)], axis=2)
    image = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((380, 300, 700, 860), radius=60, fill=(30, 90, 200))
    draw.ellipse((100, 100, 300, 300), fill=(240, 200, 60))
    return image
