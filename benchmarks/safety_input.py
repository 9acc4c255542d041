"""The safety checker's input: diffusers' PIL round trip against streamline.clip_pixels.

    .venv/bin/python benchmarks/safety_input.py [--repeats 5]

For a decoded batch of 4 (values -1..1, float32) at 512, 768 and 1024 px: diffusers'
``run_safety_checker`` input (``postprocess`` to PIL images, then SD 1.5's CLIP image
processor: 224 px bicubic, centre crop, normalise) against ``clip_pixels`` (the same steps
on the tensor). Both run on this machine's CPU, one thread, as a pinned render process does:
on a GPU diffusers' path costs the render process this CPU time plus two copies across PCIe,
while clip_pixels runs on the device (launches only). Also the largest difference of the
two inputs, in 8-bit levels. Medians of --repeats; ends with ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pixio_ads.render.streamline import clip_pixels  # noqa: E402

SIDES = (512, 768, 1024)


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    from diffusers.image_processor import VaeImageProcessor
    from transformers import CLIPImageProcessor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    postprocessor = VaeImageProcessor()
    processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    torch.manual_seed(0)
    figures = {}
    for side in SIDES:
        smooth = torch.nn.functional.interpolate(torch.rand(4, 3, 32, 32) * 2.2 - 1.1, size=(side, side))
        decoded = smooth + 0.05 * torch.randn(4, 3, side, side)

        def diffusers_input():
            return processor(postprocessor.postprocess(decoded, output_type="pil"), return_tensors="pt").pixel_values

        figures[f"safety_input_ms_diffusers_{side}"] = median_ms(diffusers_input, args.repeats)
        figures[f"safety_input_ms_on_tensor_cpu_{side}"] = median_ms(
            lambda: clip_pixels(decoded, processor), args.repeats
        )
        levels = (clip_pixels(decoded, processor) - diffusers_input()).abs().max() * 255 * min(processor.image_std)
        figures[f"safety_input_max_difference_levels_{side}"] = float(levels)
    print(f"batch of 4, one CPU thread, median of {args.repeats}")
    for name, value in figures.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
