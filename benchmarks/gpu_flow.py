"""The whole flow on a real(-size) model: delivered images/s of generate-campaign, and where
the render process's time goes.

    python benchmarks/gpu_flow.py --model FOLDER [--steps 4] [--variants 1024] [--device cuda]
        [--compile] [--compile-mode MODE] [--trace DIR] [--safety-checker] [--vae VAE]

Square 1080x1080 PNG creatives (the example's product photos pasted, brand kit, copy, AI
label, watermark, XMP) from the model's native-size scenes, through the Prefect flow
(in-process server), default batch size, finishing pool and shard size for the device. The
model is loaded (and compiled, with --compile) and a warm-up run of 8 variants done before
timing (a served deployment has both). Prints the render loop's steps (ms per image, summed
over its shards: what the render process did besides the pipeline call) and
``gpu_busy_share`` (pipeline-call seconds over the render span, stepclock.py), and ends with
``flow_images_per_second``; benchmarks/gpu_suite.sh divides it by render.py's figures.
``--trace DIR``: afterwards a 32-variant run under torch.profiler, its Chrome trace saved
in DIR (open in https://ui.perfetto.dev). ``--safety-checker``: keep the checkpoint's safety
checker on (off by default: SD-Turbo and SDXL ship none; SD 1.5 does); ``--vae``: decode with
that VAE (an fp16-safe SDXL VAE, benchmarks/fullsize.py saves one beside SDXL).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

from pixio_ads.core.stepclock import PIPELINE  # noqa: E402
from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render.compiled import DEFAULT_COMPILE_MODE  # noqa: E402
from pixio_ads.run import cores  # noqa: E402


def print_steps(summary, images: int) -> None:
    """The render loop's steps, ms per image, largest first."""
    steps = summary.render_steps or {}
    for name, seconds in sorted(steps.items(), key=lambda item: -item[1]):
        print(f"  {name:28s} {1000 * seconds / images:8.2f} ms/image")
    other = sum(seconds for name, seconds in steps.items() if name != PIPELINE)
    print(f"render_loop_ms_per_image_besides_pipeline: {1000 * other / images:.2f}")
    print(f"pipeline_ms_per_image: {1000 * steps.get(PIPELINE, 0.0) / images:.2f}")


def traced_run(flow, campaign: Path, out: Path, trace_dir: Path, options: dict) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from pixio_ads.settings import from_options

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as profiler:
        flow(str(campaign), str(out), **from_options(limit=32, **options))
    trace_dir.mkdir(parents=True, exist_ok=True)
    profiler.export_chrome_trace(str(trace_dir / "flow-trace.json"))
    print(f"trace: {trace_dir / 'flow-trace.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=0.0)
    parser.add_argument("--variants", type=int, default=1024)
    parser.add_argument("--device", default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--compile-mode", default=DEFAULT_COMPILE_MODE)
    parser.add_argument("--trace", type=Path)
    parser.add_argument("--safety-checker", action="store_true")
    parser.add_argument("--vae", default=None)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    device = loading.select_device(args.device)
    options = dict(
        model=args.model, steps=args.steps, guidance=args.guidance, device=device,
        safety_checker=args.safety_checker, vae=args.vae,
    )  # fmt: skip
    if args.compile:
        options.update(compile=True, compile_mode=args.compile_mode)
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        # products x 2 audiences x 1 style x square x 2 seeds
        campaign = synthetic.write_campaign(
            tmp, "bench", max(1, args.variants // 4), "lifestyle", "runners; parents", "golden hour", "square", 2, True
        )
        started = time.perf_counter()
        generate_campaign(str(campaign), str(tmp / "warmup"), **from_options(limit=8, **options))
        warmup = time.perf_counter() - started
        started = time.perf_counter()
        summary = generate_campaign(str(campaign), str(tmp / "flow"), **from_options(**options))
        seconds = time.perf_counter() - started
        if args.trace:
            traced_run(generate_campaign, campaign, tmp / "traced", args.trace, options)
    assert summary.rendered_now == summary.total, summary.describe()
    print(
        f"model={args.model} device={device} steps={args.steps} variants={summary.total} "
        f"finish_workers={cores.default_workers(device)} compile={args.compile_mode if args.compile else 'no'} "
        f"safety_checker={'on' if args.safety_checker else 'off'} vae={args.vae or 'the checkpoint s'}"
    )
    print(f"warm-up (load{', compile' if args.compile else ''}, 8 variants): {warmup:.1f} s")
    print_steps(summary, summary.total)
    print(f"flow_seconds: {seconds:.2f}")
    print(f"gpu_busy_share: {summary.gpu_busy_share or 0:.3f}")
    print(f"flow_images_per_second: {summary.total / seconds:.2f}")


if __name__ == "__main__":
    main()
