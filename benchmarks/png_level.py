"""PNG compression level: file size against encoding time, on creative-like images.

    .venv/bin/python benchmarks/png_level.py [IMAGE ...]

Encodes each image (default: six synthetic 1080x1080 creatives from benchmarks/watermark.py,
three as they are, with sensor-like noise, and three smoothed like a clean studio render)
at zlib levels 0-9 with Pillow, 3 runs each, and prints the median time and the size per level.
Chooses the level pixio-ads uses: the fastest whose files are within 5% of level 9's size.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).parent))
from watermark import scene  # noqa: E402


def encode(image: Image.Image, level: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(3):
        buffer = io.BytesIO()
        started = time.perf_counter()
        image.save(buffer, format="PNG", compress_level=level)
        times.append(time.perf_counter() - started)
        size = buffer.tell()
    return statistics.median(times), size


def main() -> None:
    images = [Image.open(path).convert("RGB") for path in sys.argv[1:]] or [scene(seed) for seed in range(3)] + [
        scene(seed).filter(ImageFilter.GaussianBlur(2)) for seed in range(3)
    ]
    print(f"{len(images)} image(s); median of 3 encodes each")
    print(f"{'level':>5} {'ms/image':>9} {'KB/image':>9}")
    results = {}
    for level in range(10):
        measured = [encode(image, level) for image in images]
        results[level] = (statistics.mean(t for t, _ in measured), statistics.mean(s for _, s in measured))
        print(f"{level:>5} {1000 * results[level][0]:>9.1f} {results[level][1] / 1024:>9.0f}")
    smallest = results[9][1]
    chosen = min(
        (level for level in results if results[level][1] <= 1.05 * smallest), key=lambda level: results[level][0]
    )
    for level, (seconds, size) in results.items():
        print(f"png_level_{level}_ms: {1000 * seconds:.1f}")
        print(f"png_level_{level}_kb: {size / 1024:.0f}")
    print(f"png_level_chosen: {chosen}")


if __name__ == "__main__":
    main()
