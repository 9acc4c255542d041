"""PNG compression: file size against encoding time, per zlib level and strategy.

    .venv/bin/python benchmarks/png_level.py [IMAGE ...]

Encodes each image (default: twelve creative-like images from benchmarks/watermark.py, four
formats on flat studio sweeps, textured scenes and trained-model backdrops, with a product
shape, a headline and a button; and three 1080x1080 model-output-like scenes from
synthetic.py, upscaled as finishing does) with Pillow at zlib levels 1-9 under the default
strategy and under Z_RLE (run-length matches only: after PNG's row filters a photograph has
few long repeats for the default's match search to find), 3 runs each. Prints the median
time and the mean size per setting, and chooses the one pixio-ads uses: the fastest whose
files are within 5% of the smallest.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import zlib
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from synthetic import scene  # noqa: E402
from watermark import creative  # noqa: E402

STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "rle": zlib.Z_RLE}


def encode(image: Image.Image, level: int, strategy: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(3):
        buffer = io.BytesIO()
        started = time.perf_counter()
        image.save(buffer, format="PNG", compress_level=level, compress_type=strategy)
        times.append(time.perf_counter() - started)
        size = buffer.tell()
    return statistics.median(times), size


def main() -> None:
    images = [Image.open(path).convert("RGB") for path in sys.argv[1:]] or [creative(i) for i in range(12)] + [
        scene(seed).resize((1080, 1080), Image.Resampling.LANCZOS) for seed in range(3)
    ]
    print(f"{len(images)} image(s); median of 3 encodes each")
    print(f"{'strategy':>8} {'level':>5} {'ms/image':>9} {'KB/image':>9}")
    results = {}
    for name, strategy in STRATEGIES.items():
        for level in range(1, 10):
            measured = [encode(image, level, strategy) for image in images]
            seconds, size = statistics.mean(t for t, _ in measured), statistics.mean(s for _, s in measured)
            results[name, level] = seconds, size
            print(f"{name:>8} {level:>5} {1000 * seconds:>9.1f} {size / 1024:>9.0f}")
    smallest = min(size for _, size in results.values())
    chosen = min((key for key in results if results[key][1] <= 1.05 * smallest), key=lambda key: results[key][0])
    for (name, level), (seconds, size) in results.items():
        print(f"png_{name}_{level}_ms: {1000 * seconds:.1f}")
        print(f"png_{name}_{level}_kb: {size / 1024:.0f}")
    print(f"png_chosen_strategy: {chosen[0]}")
    print(f"png_chosen_level: {chosen[1]}")


if __name__ == "__main__":
    main()
