"""1 vs 2 Dask workers on the tiny model: images/s of the whole flow, side by side.

    .venv/bin/python benchmarks/scale.py

The same 32-variant campaign (square, 4 steps) renders through the flow on a local Dask
cluster of 1 worker (torch on all cores) and of 2 workers (each on its share of the
cores), into fresh folders, in one run. Worker start-up and model loads are included
once per run, as in production; they are printed separately too. Ends with
``two_worker_speedup`` (goal >= 1.6 on 2 cores).
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

VARIANTS = 32


def write_campaign(folder: Path) -> Path:
    """4 products x 2 audiences x 1 style x 1 format x 4 seeds = 32 variants."""
    return synthetic.write_campaign(folder, "scale", 4, "studio", "runners; parents", "minimal", "square", 4)


def timed_run(campaign: Path, out: Path, workers: int) -> tuple[float, object]:
    from flows.generate_campaign import generate_campaign
    from flows.runners import task_runner
    from pixio_ads import runner

    os.environ.pop("PIXIO_ADS_TORCH_THREADS", None)  # each run sets its workers' share
    flow = generate_campaign.with_options(task_runner=task_runner(workers))
    started = time.perf_counter()
    summary = flow(str(campaign), str(out), steps=4, shard_size=4, return_state=True).result()
    return time.perf_counter() - started, summary


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        campaign = write_campaign(tmp)
        results = {}
        for workers in (1, 2):
            seconds, summary = timed_run(campaign, tmp / f"w{workers}", workers)
            assert summary.rendered_now == VARIANTS, summary
            results[workers] = seconds
            print(f"workers={workers}: {seconds:.1f} s for {VARIANTS} images, {VARIANTS / seconds:.2f} images/s")
    print(f"images_per_second_1_worker: {VARIANTS / results[1]:.2f}")
    print(f"images_per_second_2_workers: {VARIANTS / results[2]:.2f}")
    print(f"two_worker_speedup: {results[1] / results[2]:.2f}")


if __name__ == "__main__":
    main()
