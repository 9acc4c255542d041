"""Does finishing keep up with a fast GPU? The real flow, fed by a stand-in renderer.

    .venv/bin/python benchmarks/throughput.py [--repeats 3] [--variants 200]

The stand-in replaces only ``loading.load_model``/``render.generate``/``loading.select_device``
(and setting adapters, which it has none of):
it returns pre-rendered 512 px scenes at a fixed rate of R images/s, sleeping (no CPU) as a
GPU would, on a "cuda" device, so everything else is what a GPU run does: the Prefect flow
(generate-campaign, in-process server), shards, batches of 4, the finishing pool at its
default size, 1080x1080 PNG creatives with product, copy, AI label, watermark and XMP,
thumbnails, manifest and contact sheet. Delivered images/s = variants / whole flow time.

Also measured, outside the flow on the same scenes:
- ``finish_ms_per_image``: the whole finishing path (finishing.finish_batch), one process;
- ``finish_pool_speedup_2_cores``: a pool of 2 finishing processes against a pool of 1.

From each flow run's summary (stepclock.py): ``gpu_busy_share_R*`` (the stand-in's sleep
over the render span) and ``render_process_ms_per_image``: the render loop's own work per
image (prompt handling, model inputs, pixels, hand-off, rows), its waits left out.

Medians of --repeats runs; ends with ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

# finish_ms_per_image is measured in this process on one core, as a finishing process runs
# (pixio_ads/run/finishing.py starts those with the same settings)
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

from pixio_ads.campaign.spreadsheet import load_campaign  # noqa: E402
from pixio_ads.campaign.variants import expand  # noqa: E402
from pixio_ads.core.stepclock import PIPELINE, WAITS, step  # noqa: E402
from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render import pipelines as render  # noqa: E402
from pixio_ads.run import cores, finishing, rendering  # noqa: E402

RATES = (2, 4, 8)
SCENES = [synthetic.scene(seed) for seed in range(8)]


class StandInRenderer:
    """``rate`` images/s, whatever the batch; sleeps instead of computing."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def install(self) -> None:
        loading.select_device = lambda requested=None: "cuda"
        loading.load_model = lambda spec, device=None: SimpleNamespace(
            dtype="fp16", native_side=512, pipeline=SimpleNamespace(safety_checker=None)
        )
        render.generate = self.generate
        rendering.use_adapters = lambda *args, **kwargs: None  # the stand-in has no adapters

    def generate(self, model, prompts, negative_prompts, seeds, width, height, *args, **kwargs) -> render.RenderOutput:
        with step(PIPELINE):
            time.sleep(len(prompts) / self.rate)
        return render.RenderOutput([scene_pixels(seed, width, height) for seed in seeds], [False] * len(prompts))


@lru_cache(maxsize=64)
def _scene_pixels(index: int, width: int, height: int) -> np.ndarray:
    return np.asarray(SCENES[index].resize((width, height)))


def scene_pixels(seed: int, width: int, height: int) -> np.ndarray:
    """A pre-rendered scene at the render size, a fresh copy as a pipeline's output is."""
    return _scene_pixels(seed % len(SCENES), width, height).copy()


def write_campaign(folder: Path, variants: int) -> Path:
    """20 products x 2 audiences x 1 style x square x N seeds, the example's product photos
    and brand kit (every score computed)."""
    return synthetic.write_campaign(
        folder, "bench", 20, "lifestyle", "runners; parents", "golden hour", "square", max(1, variants // 40), True
    )


def delivered_rate(campaign: Path, out: Path, rate: float) -> tuple[float, dict]:
    """(delivered images/s, the run's render-loop figures: gpu_busy_share and the render
    process's own work in ms per image, the stand-in's sleep and waits left out)."""
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    StandInRenderer(rate).install()
    started = time.perf_counter()
    summary = generate_campaign(str(campaign), str(out), **from_options(safety_checker=False))
    seconds = time.perf_counter() - started
    assert summary.rendered_now == summary.total, summary.describe()
    own = sum(value for name, value in summary.render_steps.items() if name not in (PIPELINE, *WAITS))
    return summary.total / seconds, {"busy": summary.gpu_busy_share, "own_ms": 1000 * own / summary.total}


def finishing_batches(campaign: Path, count: int) -> list[list[finishing.Rendered]]:
    variants = expand(load_campaign(campaign))[:count]
    values = {"status": "rendered", "device": "cuda", "render_width": 512, "render_height": 512}
    rendered = [(v, SCENES[i % len(SCENES)], dict(values)) for i, v in enumerate(variants)]
    return [rendered[i : i + 4] for i in range(0, len(rendered), 4)]


def finish_seconds_per_image(batches, out: Path) -> float:
    started = time.perf_counter()
    for batch in batches:
        finishing.finish_batch(batch, out, None)
    return (time.perf_counter() - started) / sum(map(len, batches))


def pool_seconds(batches, out: Path, workers: int) -> float:
    finisher = finishing.Finisher(out, None, workers)
    for batch in batches[: 2 * workers]:  # processes started and warm (imports, fonts, cut-out) before timing
        finisher.submit(batch)
    finisher.close()
    started = time.perf_counter()
    for batch in batches:
        finisher.submit(batch)
    finisher.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", type=int, default=200)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        campaign = write_campaign(tmp, args.variants)
        batches = finishing_batches(campaign, 40)
        finish_batch_warm = finish_seconds_per_image(batches[:1], tmp / "warm")  # fonts, cut-out, caches
        finish_ms = statistics.median(
            1000 * finish_seconds_per_image(batches, tmp / f"finish{i}") for i in range(args.repeats)
        )
        speedups = [
            pool_seconds(batches, tmp / f"pool1-{i}", 1) / pool_seconds(batches, tmp / f"pool2-{i}", 2)
            for i in range(args.repeats)
        ]
        delivered = {rate: [] for rate in RATES}
        loops = {rate: [] for rate in RATES}
        delivered_rate(campaign, tmp / "warmup", 8)  # server, pool and caches warm
        for repeat in range(args.repeats):
            for rate in RATES:
                images_per_second, loop = delivered_rate(campaign, tmp / f"flow-{rate}-{repeat}", rate)
                delivered[rate].append(images_per_second)
                loops[rate].append(loop)
    print(
        f"variants: {args.variants}  format: square 1080x1080 png  batch: 4  finish workers: {cores.default_workers('cuda')} (default for a GPU worker on {cores.worker_cores()} cores)"
    )
    print(f"first finishing batch (cold): {1000 * finish_batch_warm:.0f} ms/image")
    for rate in RATES:
        median = statistics.median(delivered[rate])
        print(
            f"R={rate}: delivered {median:.2f} images/s (runs: {', '.join(f'{value:.2f}' for value in delivered[rate])})"
        )
    for rate in RATES:
        print(f"delivered_images_per_s_R{rate}: {statistics.median(delivered[rate]):.2f}")
        print(f"delivered_over_requested_R{rate}: {statistics.median(delivered[rate]) / rate:.3f}")
        print(f"gpu_busy_share_R{rate}: {statistics.median(loop['busy'] for loop in loops[rate]):.3f}")
    own = statistics.median(loop["own_ms"] for rate in RATES for loop in loops[rate])
    print(f"render_process_ms_per_image: {own:.2f}")
    print(f"finish_ms_per_image: {finish_ms:.1f}")
    print(f"finish_pool_speedup_2_cores: {statistics.median(speedups):.3f}")


if __name__ == "__main__":
    main()
