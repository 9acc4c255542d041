"""Scale-out on a local Dask cluster (2 worker processes) through prefect-dask."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN
from PIL import Image

from pixio_ads.run import rendering, shards

# score columns measured from the finished pixels
MEASURED_COLUMNS = (
    "sharpness", "clipped_share", "flat_share", "noisy_share", "image_quality_score", "brand_colour_delta_e",
    "brand_colour_score", "score", "product_ssim", "product_delta_e", "product_fidelity_score",
)  # fmt: skip

pytestmark = pytest.mark.slow
PER_RUN = {"render_seconds", "created_at", "worker"}  # differ between runs by nature


def run(out_dir: Path, workers: int | None, **parameters):
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.flows.runners import task_runner
    from pixio_ads.settings import from_options

    flow = generate_campaign.with_options(task_runner=task_runner(workers))
    return flow(str(EXAMPLE_CAMPAIGN), str(out_dir), **from_options(steps=2, shard_size=2, **parameters))


def comparable(summary) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in PER_RUN} for row in pq.read_table(summary.manifest_path).to_pylist()
    ]


def test_two_workers_give_the_same_manifest_and_images(prefect_harness, tmp_path):
    single = run(tmp_path / "single", None)
    double = run(tmp_path / "double", 2)
    assert double.rendered_now == single.rendered_now == 10
    # Same rows. Pixels: within 1/255, since a worker runs torch on 1 thread (its share of
    # the cores) and CPU float reductions round differently with the thread count.
    # Scores measured from the pixels (sharpness, colours, ...) move with them: compared apart.
    measured = {"output_sha256", "clean_sha256", "rank", *MEASURED_COLUMNS}  # file hashes move with the pixels
    strip = lambda rows: [{k: v for k, v in row.items() if k not in measured} for row in rows]  # noqa: E731
    assert strip(comparable(single)) == strip(comparable(double))
    for one, two in zip(comparable(single), comparable(double)):
        assert one["score"] == pytest.approx(two["score"], abs=0.01)
    # The 1/255 differences also move the invisible watermark's quantisation step in a few
    # 4x4 blocks, and a JPEG can flip a quantised coefficient of an 8x8 block: so beyond
    # 1/255 only a small share of pixels may differ (the manifest rows, watermark payloads
    # included, are equal above).
    for row in comparable(single):
        a = np.asarray(Image.open(tmp_path / "single" / row["output_path"]), dtype=np.int16)
        b = np.asarray(Image.open(tmp_path / "double" / row["output_path"]), dtype=np.int16)
        share = (np.abs(a - b) > 1).mean()
        assert share <= (0.005 if row["output_format"] == "png" else 0.05), (row["output_path"], share)
    workers = {row["worker"] for row in pq.read_table(double.manifest_path).to_pylist()}
    assert len(workers) == 2 and rendering.WORKER not in workers  # rendered in two other processes


def test_a_killed_worker_leaves_only_missing_variants_for_the_rerun(prefect_harness, tmp_path):
    out = tmp_path / "out"
    killed = []

    def kill_a_worker_mid_run():
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            shards = list((out / "shards").glob("shard-*.parquet")) if (out / "shards").is_dir() else []
            if len(shards) >= 2:
                workers = [
                    p
                    for p in psutil.Process().children(recursive=True)
                    if "multiprocessing" in " ".join(p.cmdline()) and p.children() == []
                ]
                if workers:
                    os.kill(workers[0].pid, signal.SIGKILL)
                    killed.append(workers[0].pid)
            time.sleep(0.1)

    watchdog = threading.Thread(target=kill_a_worker_mid_run, daemon=True)
    watchdog.start()
    try:
        run(out, 2)  # Dask may reschedule the lost shard on the other worker, or the run may fail
    except Exception:
        pass
    watchdog.join(5)
    assert killed, "no worker process was found to kill"
    complete = {
        row["variant_id"]
        for p in (out / "shards").glob("shard-*.parquet")
        for row in pq.read_table(p).to_pylist()
        if shards.is_complete(row, out)
    }
    rerun = run(out, None)
    assert rerun.rendered_now == 10 - len(complete)
    rows = pq.read_table(rerun.manifest_path).to_pylist()
    assert len(rows) == len({row["variant_id"] for row in rows}) == 10
    assert all(shards.is_complete(row, out) for row in rows)
