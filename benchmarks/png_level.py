"""PNG compression: file size against encoding time, per zlib level and strategy.

    .venv/bin/python benchmarks/png_level.py [IMAGE ...]

Encodes each image (default: twelve creative-like images from benchmarks/watermark.py, four
formats on flat studio sweeps, textured scenes and trained-model backdrops, with a product
shape, a headline and a button; and three 1080x1080 model-output-like scenes from
synthetic.py, upscaled as finishing does) with Pillow at zlib levels 1-9 under the default
strategy and under Z_RLE (run-length matches only: after PNG's row filters a photograph has
few long repeats for the default's match search to find), with libpng (through OpenCV) under
Z_RLE per row filter, and with pixio-ads' own ``encode_png`` (libpng, fast filters, Z_RLE, an
XMP chunk spliced in), 3 runs each. Prints the median time and the mean size per setting, and
the fastest whose files are within 5% of the smallest.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from synthetic import scene  # noqa: E402
from watermark import creative  # noqa: E402

from pixio_ads.core.pngfile import encode_png  # noqa: E402

STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "rle": zlib.Z_RLE}
# libpng's row filters as OpenCV names them; "fast": none, sub or up chosen per row (libpng's
# heuristic), "all": the five (what Pillow and libpng do by default).
FILTERS = {
    name: getattr(cv2, f"IMWRITE_PNG_{suffix}")
    for name, suffix in (
        ("none", "FILTER_NONE"),
        ("sub", "FILTER_SUB"),
        ("up", "FILTER_UP"),
        ("avg", "FILTER_AVG"),
        ("paeth", "FILTER_PAETH"),
        ("fast", "FAST_FILTERS"),
        ("all", "ALL_FILTERS"),
    )
}


def timed(encode_once) -> tuple[float, int]:
    """Median seconds of 3 encodes, and the file's size."""
    times, size = [], 0
    for _ in range(3):
        started = time.perf_counter()
        size = len(encode_once())
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def pillow(image: Image.Image, level: int, strategy: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level, compress_type=strategy)
    return buffer.getvalue()


def libpng(pixels: np.ndarray, level: int, row_filter: int) -> bytes:
    """OpenCV's libpng under Z_RLE; ``pixels`` already in OpenCV's BGR order."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, level, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    return cv2.imencode(".png", pixels, [*params, cv2.IMWRITE_PNG_FILTER, row_filter])[1].tobytes()


def encoders(images: list[Image.Image]) -> dict[str, list]:
    """Each setting's encode calls, one per image: Pillow at every zlib level under both
    strategies, libpng under Z_RLE with each row filter, and what pixio-ads writes."""
    bgr = [cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR) for image in images]
    settings = {
        f"pillow_{name}_{level}": [lambda i=i, lv=level, st=strategy: pillow(i, lv, st) for i in images]
        for name, strategy in STRATEGIES.items()
        for level in range(1, 10)
    }
    for name, row_filter in FILTERS.items():
        for level in (1, 4):
            settings[f"libpng_rle_{name}_{level}"] = [
                lambda b=b, lv=level, f=row_filter: libpng(b, lv, f) for b in bgr
            ]
    settings["pixio_ads"] = [lambda i=i: encode_png(i, {"XML:com.adobe.xmp": "x" * 1500}) for i in images]
    return settings


def main() -> None:
    images = [Image.open(path).convert("RGB") for path in sys.argv[1:]] or [creative(i) for i in range(12)] + [
        scene(seed).resize((1080, 1080), Image.Resampling.LANCZOS) for seed in range(3)
    ]
    print(f"{len(images)} image(s); median of 3 encodes each")
    print(f"{'setting':>22} {'ms/image':>9} {'KB/image':>9}")
    results = {}
    for name, calls in encoders(images).items():
        measured = [timed(call) for call in calls]
        results[name] = statistics.mean(t for t, _ in measured), statistics.mean(s for _, s in measured)
        print(f"{name:>22} {1000 * results[name][0]:>9.1f} {results[name][1] / 1024:>9.0f}")
    smallest = min(size for _, size in results.values())
    chosen = min((key for key in results if results[key][1] <= 1.05 * smallest), key=lambda key: results[key][0])
    for name, (seconds, size) in results.items():
        print(f"png_{name}_ms: {1000 * seconds:.1f}")
        print(f"png_{name}_kb: {size / 1024:.0f}")
    print(f"png_fastest_within_5pct_of_smallest: {chosen}")


if __name__ == "__main__":
    main()
