"""Synthetic campaigns for the benchmarks: one product image shared by every row."""

from __future__ import annotations

import csv
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
