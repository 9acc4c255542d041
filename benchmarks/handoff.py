"""What handing a rendered batch to a finishing process costs the render process.

    .venv/bin/python benchmarks/handoff.py [--batches 40] [--repeats 3]

Side by side in one run, for batches of 4 scenes at 512, 768 and 1024 px: the hand-off used
before (PIL images pickled through the process pool's pipe) and the one used now (pixels
copied once into shared memory, handoff.py, only a small parcel pickled). The finishing
process does nothing but receive (decode the pixels into PIL images and return), so what is
measured is the transport. Two figures per way: the render process's CPU time per image
(what the GPU's feeder loses) and the wall time per image of a round trip.

Medians of --repeats runs; ends with ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixio_ads.run.handoff import Ring, unpack  # noqa: E402

SIDES = (512, 768, 1024)
BATCH = 4


def receive_images(images: list[Image.Image]) -> int:
    return sum(image.width for image in images)


def receive_parcel(parcel) -> int:
    return sum(Image.fromarray(pixels).width for pixels in unpack(parcel))


def pickled(pool, batches: list[list[np.ndarray]]) -> tuple[float, float]:
    """(render-process CPU seconds, wall seconds) to send every batch as PIL images and get
    the answers: the render process made the PIL images (as the pipeline's "pil" output did)."""
    cpu, wall = time.process_time(), time.perf_counter()
    futures = [pool.submit(receive_images, [Image.fromarray(pixels) for pixels in batch]) for batch in batches]
    for future in futures:
        future.result()
    return time.process_time() - cpu, time.perf_counter() - wall


def shared(pool, batches: list[list[np.ndarray]], ring: Ring) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    parcels = [ring.pack(batch) for batch in batches[:4]]  # a ring of 4 in flight, as the Finisher's queue
    futures = [pool.submit(receive_parcel, parcel) for parcel in parcels]
    for index, batch in enumerate(batches[4:] + [None] * 4):
        futures[index].result()
        ring.release(parcels[index])
        if batch is not None:
            parcels.append(ring.pack(batch))
            futures.append(pool.submit(receive_parcel, parcels[-1]))
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    context = multiprocessing.get_context("spawn")
    ring = Ring()
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(receive_images, []).result()  # started
        for side in SIDES:
            scenes = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(BATCH)]
            batches = [[scene.copy() for scene in scenes] for _ in range(args.batches)]
            shared(pool, batches[:8], ring)  # blocks made and mapped
            for _ in range(args.repeats):
                results.setdefault(("pickled", side), []).append(pickled(pool, batches))
                results.setdefault(("shared", side), []).append(shared(pool, batches, ring))
    ring.close()
    images = args.batches * BATCH
    print(f"batches of {BATCH}, {args.batches} batches, one receiving process; per image:")
    print(f"{'way':>8} {'side':>5} {'render CPU ms':>14} {'wall ms':>8}")
    figures = {}
    for (way, side), runs in results.items():
        cpu = 1000 * statistics.median(c for c, _ in runs) / images
        wall = 1000 * statistics.median(w for _, w in runs) / images
        figures[way, side] = cpu
        print(f"{way:>8} {side:>5} {cpu:>14.2f} {wall:>8.2f}")
    for side in SIDES:
        print(f"handoff_pickled_render_cpu_ms_{side}: {figures['pickled', side]:.2f}")
        print(f"handoff_shared_render_cpu_ms_{side}: {figures['shared', side]:.2f}")
        print(
            f"handoff_cpu_ratio_pickled_over_shared_{side}: {figures['pickled', side] / figures['shared', side]:.2f}"
        )


if __name__ == "__main__":
    main()
