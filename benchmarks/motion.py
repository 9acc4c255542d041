"""Motion benchmark (issue 41): a 6 s 1080x1920 30 fps camera-motion clip with the product, the
copy and the watermark, on one core (the process pinned to it: x264's threads share it), end to end as a
run finishes it (still, layers, 180 frames composited and marked, H.264 encoded, MP4 written),
plus the frames/s of compositing alone and of encoding alone.

    .venv/bin/python benchmarks/motion.py [RUNS]

Goal: the whole clip in at most 2x its duration (<= 12 s). Ends with ``name: value`` lines."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = "1"
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
cv2.setNumThreads(1)

from helpers import good_row, write_csv  # noqa: E402

from pixio_ads.campaign.spreadsheet import load_campaign  # noqa: E402
from pixio_ads.campaign.variants import expand  # noqa: E402
from pixio_ads.core import video  # noqa: E402
from pixio_ads.creative import motion  # noqa: E402
from pixio_ads.run import clips  # noqa: E402
from pixio_ads.run.compose import finish  # noqa: E402
from pixio_ads.run.finishing import save_creative, shared_assets  # noqa: E402
from pixio_ads.trust.payload import frame_mark, payload_for  # noqa: E402


def _variant(folder: Path):
    (folder / "products").mkdir()
    product = Image.new("RGBA", (600, 900), (0, 0, 0, 0))
    product.paste((30, 110, 200, 255), (100, 50, 500, 850))
    product.save(folder / "products" / "widget.png")
    row = good_row(formats="story", audiences="makers", motion="zoom", duration="6", fps="30")
    return expand(load_campaign(write_csv(folder, [row])))[0]


def _scene() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(40, 215, (80, 45, 3), dtype=np.uint8)).resize((1080, 1920), Image.BICUBIC)


def main(runs: int = 3) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        variant, scene = _variant(Path(scratch)), _scene()
        save_creative(variant, scene, Path(scratch) / "warm", None)  # fonts, cut-out, brand kit loaded once
        whole, compositing, encoding = [], [], []
        for run in range(runs):
            started = time.perf_counter()
            save_creative(variant, scene, Path(scratch) / f"run{run}", None)
            whole.append(time.perf_counter() - started)
            compositing.append(_compositing_fps(variant, scene))
            encoding.append(_encoding_fps(Path(scratch) / f"enc{run}.mp4"))
    print(f"clip_seconds_median: {statistics.median(whole):.2f}")
    print(f"clip_seconds_runs: {', '.join(f'{s:.2f}' for s in whole)}")
    print(f"realtime_factor: {statistics.median(whole) / 6.0:.2f}")
    print(f"compositing_fps: {statistics.median(compositing):.1f}")
    print(f"encoding_fps: {statistics.median(encoding):.1f}")


def _compositing_fps(variant, scene: Image.Image) -> float:
    """Layers over the moving scene and the mark, 180 frames, no encoding."""
    still = finish(variant, scene, shared_assets())
    background, overlays, keep = clips.clip_layers(variant, scene, still, shared_assets())
    mark = frame_mark(np.asarray(still.image), payload_for(variant.variant_id), keep)
    camera = motion.Camera(background, "zoom")
    started = time.perf_counter()
    for _ in motion.frames(lambda i: camera.frame(i / 179), overlays, 180, 30, mark):
        pass
    return 180 / (time.perf_counter() - started)


def _encoding_fps(path: Path) -> float:
    """180 ready frames (colour conversion included) through x264 into an MP4."""
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (60, 34, 3), dtype=np.uint8), (1080, 1920), interpolation=cv2.INTER_CUBIC)
    frames = [np.roll(base, 4 * i, axis=1) for i in range(180)]
    started = time.perf_counter()
    video.write_mp4(path, video.Clip(1080, 1920, 30, 180), iter(frames))
    return 180 / (time.perf_counter() - started)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
