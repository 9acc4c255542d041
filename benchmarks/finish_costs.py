"""What finishing one creative costs, step by step and score by score, on one core.

    .venv/bin/python benchmarks/finish_costs.py [--creatives 40] [--repeats 3]
        [--save-scores FILE] [--compare-scores FILE]

The creatives are throughput.py's: 1080x1080 PNG, the example's product photos pasted (two
on transparent backgrounds, one on white), the example brand kit (logo, colours: every score
the finishing process computes is computed), copy, AI label, watermark, XMP, thumbnail. Each
step is timed by wrapping the function that does it (inclusive times; the scores are inside
``scores``); ``other`` is what the steps leave of the whole. ``--save-scores`` writes every
creative's score columns; ``--compare-scores`` prints the largest difference from such a
file per column (a change to a score's computation must keep it within 0.01).

Medians of --repeats runs; ends with ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from functools import wraps
from pathlib import Path

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")  # as a finishing process
import cv2  # noqa: E402

cv2.setNumThreads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402
from throughput import finishing_batches  # noqa: E402

from pixio_ads.creative import scoring  # noqa: E402
from pixio_ads.outputs import report  # noqa: E402
from pixio_ads.run import compose, finishing  # noqa: E402
from pixio_ads.trust import provenance  # noqa: E402

# (module, function, step name): the steps of finishing.save_creative, in order
STEPS = (
    (compose, "_scene", "scene: fit, product, shadows"),
    (compose, "overlay_copy", "copy, logo, label"),
    (compose, "_scores", "scores"),
    (scoring, "product_visibility", "  product_visibility"),
    (scoring, "text_coverage", "  text_coverage"),
    (scoring, "brand_colour", "  brand_colour"),
    (scoring, "image_quality", "  image_quality"),
    (compose, "_fidelity", "product_fidelity"),
    (provenance, "embed_watermark", "watermark"),
    (provenance, "encode_with_xmp", "encode png + xmp"),
    (report, "thumbnail_bytes", "thumbnail"),
)
TOP_LEVEL = [name for _, _, name in STEPS if not name.startswith(" ")]
SCORE_PREFIXES = ("legibility", "product_visib", "product_visible", "product_canvas", "safe_zone", "text_coverage")
SCORE_PREFIXES += (
    "brand_colour",
    "sharpness",
    "clipped",
    "flat",
    "noisy",
    "image_quality",
    "product_fidelity",
    "score",
)


def timed(seconds: dict[str, float]):
    """Wrap every step's function so its inclusive time adds up in ``seconds``."""
    for module, attribute, name in STEPS:
        function = getattr(module, attribute)

        def wrapper(*args, _function=function, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _function(*args, **kwargs)
            finally:
                seconds[_name] += time.perf_counter() - started

        setattr(module, attribute, wraps(function)(wrapper))


def run(batches, out: Path, seconds: dict[str, float]) -> tuple[float, list[dict]]:
    seconds.clear()
    rows = []
    started = time.perf_counter()
    for batch in batches:
        rows += finishing.finish_batch(batch, out, None)
    total = time.perf_counter() - started
    failed = [row["error"] for row in rows if row["status"] != "rendered"]
    assert not failed, failed[:3]
    return total, rows


def score_values(rows: list[dict]) -> dict[str, dict[str, float]]:
    return {
        row["variant_id"]: {k: v for k, v in row.items() if k.startswith(SCORE_PREFIXES) and isinstance(v, float)}
        for row in rows
    }


def compare(saved: dict, now: dict) -> dict[str, float]:
    """Largest absolute difference per score column over the creatives both have."""
    worst: dict[str, float] = defaultdict(float)
    for variant_id, columns in now.items():
        for column, value in columns.items():
            before = saved.get(variant_id, {}).get(column)
            if before is not None and (column.endswith("_score") or column == "score"):
                worst[column] = max(worst[column], abs(value - before))
    return dict(worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creatives", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--save-scores", type=Path)
    parser.add_argument("--compare-scores", type=Path)
    args = parser.parse_args()
    seconds: dict[str, float] = defaultdict(float)
    timed(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        campaign = synthetic.write_campaign(
            tmp, "bench", 20, "lifestyle", "runners; parents", "golden hour", "square", 2, brand=True
        )
        batches = finishing_batches(campaign, args.creatives)
        run(batches[:1], tmp / "warm", seconds)  # fonts, cut-outs, caches
        runs = [(run(batches, tmp / f"run{i}", seconds), dict(seconds)) for i in range(args.repeats)]
    count = sum(map(len, batches))
    totals = [total for (total, _), _ in runs]
    median_run = runs[totals.index(statistics.median_low(totals))]
    (total, rows), steps = median_run
    print(
        f"creatives: {count}  1080x1080 png, product pasted, brand kit  runs: {', '.join(f'{t:.2f}' for t in totals)} s"
    )
    for name in (name for _, _, name in STEPS):
        print(f"{name:32s} {1000 * steps[name] / count:7.1f} ms")
    other = total - sum(steps[name] for name in TOP_LEVEL)
    print(f"{'other (rows, hashes, writes)':32s} {1000 * other / count:7.1f} ms")
    scores = score_values(rows)
    if args.save_scores:
        args.save_scores.write_text(json.dumps(scores, indent=1))
    if args.compare_scores:
        for column, difference in sorted(compare(json.loads(args.compare_scores.read_text()), scores).items()):
            print(f"max_difference_{column}: {difference:.4f}")
    for name in TOP_LEVEL:
        key = name.split(":")[0].replace(",", "").replace(" ", "_")
        print(f"finish_ms_{key}: {1000 * steps[name] / count:.1f}")
    print(f"finish_ms_per_image: {1000 * statistics.median(totals) / count:.1f}")


if __name__ == "__main__":
    main()
