"""The GPU suite's summary: every figure of benchmarks/gpu_suite.sh's output folder as
``name: value`` lines, and issue 24's ratios.

    python benchmarks/gpu_summary.py OUT

Reads render-ARCH.txt (benchmarks/render.py), flow-ARCH.txt, flow-ARCH-compiled.txt and
flow-ARCH-fp16vae.txt (benchmarks/gpu_flow.py) and finish.txt (benchmarks/finish_costs.py)
and video-ARCH.txt (benchmarks/video_model.py) for whichever models the folder has. ``gpu_flow_over_bare_ratio_ARCH``: the fastest of the
model's flows (eager, compiled, fp16-safe VAE) over the bare eager loop's images/s at batch 4;
``gpu_flow_images_per_second_sdxl``: the fastest SDXL flow; ``finishing_cores_per_gpu``: the CPU
cores that finish creatives as fast as the fastest SD-Turbo flow renders, plus one for the
render process.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

ARCHS = ("sd21", "sd15", "sdxl", "flux", "sd35m")
FLOWS = {"eager": "", "compiled": "-compiled", "fp16vae": "-fp16vae"}  # gpu_flow.py runs: label, file suffix


def values(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    return {key: float(value) for key, value in re.findall(r"^(\w+): ([-\d.]+)$", path.read_text(), re.M)}


def arch_figures(out: Path, arch: str) -> dict[str, float]:
    render = values(out / f"render-{arch}.txt")
    flows = {label: values(out / f"flow-{arch}{suffix}.txt") for label, suffix in FLOWS.items()}
    figures = {
        f"{arch}_{key}": value
        for key, value in render.items()
        if key.startswith(("images_per_second", "compile", "peak_gpu"))
    }
    figures[f"{arch}_render_over_bare_ratio"] = render.get("render_over_bare_ratio", math.nan)
    bare = render.get("images_per_second_bare_batch4", math.nan)
    for label, run in flows.items():
        if run:
            figures[f"{arch}_flow_{label}_images_per_second"] = run["flow_images_per_second"]
            figures[f"{arch}_flow_{label}_gpu_busy_share"] = run["gpu_busy_share"]
            figures[f"{arch}_flow_{label}_render_loop_ms_besides_pipeline"] = run[
                "render_loop_ms_per_image_besides_pipeline"
            ]
    best = max((run["flow_images_per_second"] for run in flows.values() if run), default=math.nan)
    figures[f"gpu_flow_images_per_second_{arch}"] = best
    figures[f"gpu_flow_over_bare_ratio_{arch}"] = best / bare
    return figures


def main() -> None:
    out = Path(sys.argv[1])
    print((out / "gpu.txt").read_text().strip())
    figures: dict[str, float] = {}
    for arch in ARCHS:
        if (out / f"render-{arch}.txt").is_file():
            figures.update(arch_figures(out, arch))
    sd21 = values(out / "render-sd21.txt")
    modes = [key.removeprefix("compiled_over_eager_ratio_") for key in sd21 if key.startswith("compiled_over_eager")]
    if modes:
        figures["gpu_compiled_over_eager_ratio"] = max(sd21[f"compiled_over_eager_ratio_{mode}"] for mode in modes)
    sdturbo = figures.get("gpu_flow_images_per_second_sd21", 0)
    figures["gpu_flow_images_per_second_sdturbo"] = sdturbo
    shares = [value for key, value in figures.items() if key.endswith("gpu_busy_share")]
    figures["gpu_busy_share"] = min(shares) if shares else math.nan
    figures["gpu_flow_over_bare_ratio"] = min(
        (v for k, v in figures.items() if k.startswith("gpu_flow_over_bare_ratio_")), default=math.nan
    )
    for path in sorted(out.glob("video-*.txt")):  # image-to-video (benchmarks/video_model.py)
        arch = path.stem.removeprefix("video-")
        for key in ("seconds_per_clip", "seconds_per_step", "peak_gpu_memory_gb", "clip_seconds_of_video"):
            if key in (found := values(path)):
                figures[f"video_{arch}_{key}"] = found[key]
    finish_ms = values(out / "finish.txt").get("finish_ms_per_image", math.nan)
    figures["finish_ms_per_image_host"] = finish_ms
    figures["finishing_cores_per_gpu"] = (
        math.ceil(sdturbo * finish_ms / 1000) + 1 if not math.isnan(sdturbo * finish_ms) and sdturbo else math.nan
    )
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
