"""`pixio-ads validate` on a 50,000-row campaign whose every row has its own copy.

    .venv/bin/python benchmarks/validate.py [--rows 50000] [--repeats 3]

Each row: a distinct headline of 2-9 words drawn from a vocabulary (seeded), one of ten
CTAs, one audience, one style, two formats (square, story): 100,000 variants. Copy fitting
measures every (headline, CTA, format) against the fonts, so distinct copy defeats caches.
Runs the real command in a fresh process (start-up and imports included), the median of
--repeats runs. Goal on 2 cores: under 10 s. Ends with ``validate_50k_distinct_copy_seconds``.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402

VOCABULARY = (
    "bright fresh bold new summer winter spring autumn ready made better faster lighter "
    "smarter softer warmer cooler everyday favourite essential premium classic modern simple "
    "comfort style sale deal today only limited edition hydration coffee morning evening "
    "focus light energy travel home office studio garden kitchen outdoors city weekend "
    "together upgrade discover choose love enjoy feel meet your our the for with every"
).split()
CTAS = (
    "Shop now",
    "Buy now",
    "Learn more",
    "Get 20% off",
    "Discover",
    "Order today",
    "See more",
    "Try it",
    "Sign up",
    "Book now",
)


def write_campaign(folder: Path, rows: int) -> Path:
    (folder / "products").mkdir()
    Image.new("RGBA", (300, 500), (30, 120, 200, 255)).save(folder / "products" / "p.png")
    rng = random.Random(0)
    path = folder / "campaign.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(synthetic.HEADER)  # ..., variants, headline, cta
        for i in range(rows):
            headline = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(2, 9))).capitalize() + f" {i}"
            fixed = [
                "bench",
                f"p{i}",
                f"Product {i}",
                "products/p.png",
                "lifestyle",
                "runners",
                "minimal",
                "square; story",
            ]
            writer.writerow([*fixed, 1, headline, rng.choice(CTAS)])
    return path


def main() -> None:
    synthetic.validate_benchmark(__doc__.splitlines()[0], write_campaign, 50_000, "distinct_copy")


if __name__ == "__main__":
    main()
