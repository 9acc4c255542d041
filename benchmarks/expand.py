"""Expand a synthetic 100,000-variant campaign; print time and peak memory.

    .venv/bin/python benchmarks/expand.py

Goal on 2 CPU cores: expansion < 2 s and < 500 MB peak. The campaign is 1,000 product
rows x 2 audiences x 5 styles x 2 formats x 5 seeds, all sharing one product image.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402

from pixio_ads.campaign.spreadsheet import load_campaign  # noqa: E402
from pixio_ads.campaign.variants import expand  # noqa: E402

ROWS = 1_000


def write_campaign(folder: Path) -> Path:
    return synthetic.write_campaign(
        folder,
        "bench",
        ROWS,
        "lifestyle",
        "runners; parents",
        "golden hour; minimal; neon; pastel; vintage",
        "square; story",
        5,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_campaign(Path(tmp))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        campaign = load_campaign(path)
        loaded = time.perf_counter()
        tracemalloc.start()
        variants = expand(campaign)
        expanded = time.perf_counter()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(variants) == 100_000, len(variants)
    # Timing without tracemalloc (it slows allocation-heavy code): expand once more.
    again = time.perf_counter()
    expand(campaign)
    expand_seconds = time.perf_counter() - again
    print(f"rows: {ROWS}  variants: {len(variants)}")
    print(f"load_and_validate_seconds: {loaded - started:.3f}")
    print(f"expand_seconds_under_tracemalloc: {expanded - loaded:.3f}")
    print(f"expand_peak_python_mb: {traced_peak / 2**20:.1f}")
    print(f"process_peak_rss_mb: {max(rss_before, rss_after):.1f}")
    print(f"expand_100k_seconds: {expand_seconds:.3f}")


if __name__ == "__main__":
    main()
