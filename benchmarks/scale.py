"""1 vs 2 Dask workers on the tiny model: images/s of the whole flow, side by side.

    .venv/bin/python benchmarks/scale.py [PRODUCTS]     # 8 variants per product; default 4

The same 32-variant campaign (square, 4 steps) renders through the flow on a local Dask
cluster of 1 worker with torch on all cores, 1 worker on one core, and 2 workers on one
core each, into fresh folders, in one run. Worker start-up and model loads are included,
as in production (the flow logs them per worker). Ends with ``two_worker_speedup`` (2
workers over 1 worker with the same per-worker resources; goal >= 1.6 on 2 cores).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

PRODUCTS = int(sys.argv[1]) if len(sys.argv) > 1 else 4  # optional: more products amortise start-up
VARIANTS = PRODUCTS * 8


def write_campaign(folder: Path) -> Path:
    """PRODUCTS x 2 audiences x 1 style x 1 format x 4 seeds (32 variants by default)."""
    return synthetic.write_campaign(folder, "scale", PRODUCTS, "studio", "runners; parents", "minimal", "square", 4)


def timed_run(campaign: Path, out: Path, workers: int, torch_threads: int | None = None) -> tuple[float, object]:
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.flows.runners import task_runner
    from pixio_ads.settings import from_options

    os.environ.pop("PIXIO_ADS_TORCH_THREADS", None)  # by default each run gives its workers their share
    if torch_threads:
        os.environ["PIXIO_ADS_TORCH_THREADS"] = str(torch_threads)
    flow = generate_campaign.with_options(task_runner=task_runner(workers))
    started = time.perf_counter()
    summary = flow(str(campaign), str(out), return_state=True, **from_options(steps=4, shard_size=4)).result()
    return time.perf_counter() - started, summary


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        campaign = write_campaign(tmp)
        results = {}
        # (label, workers, torch threads per worker): one worker on all cores is what a user
        # gets without --workers scaling; one worker on one core is the per-worker baseline.
        for label, workers, threads in (
            ("1_worker_all_cores", 1, None),
            ("1_worker_1_core", 1, 1),
            ("2_workers", 2, None),
        ):
            seconds, summary = timed_run(campaign, tmp / label, workers, threads)
            assert summary.rendered_now == VARIANTS, summary
            results[label] = seconds
            print(f"{label}: {seconds:.1f} s for {VARIANTS} images, {VARIANTS / seconds:.2f} images/s")
    for label, seconds in results.items():
        print(f"images_per_second_{label}: {VARIANTS / seconds:.2f}")
    print(f"two_workers_over_one_all_cores_worker: {results['1_worker_all_cores'] / results['2_workers']:.2f}")
    print(f"two_worker_speedup: {results['1_worker_1_core'] / results['2_workers']:.2f}")


if __name__ == "__main__":
    main()
