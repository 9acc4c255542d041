"""Our render path vs a bare diffusers loop: same model, prompts, seeds, steps and batch size.

    .venv/bin/python benchmarks/render.py                       # tiny embedded model on CPU
    .venv/bin/python benchmarks/render.py --model /models/sd15 --device cuda
    bash benchmarks/render_families.sh                          # every family's tiny model on CPU

"Ours" is ``pixio_ads.render.pipelines.generate`` (compel encoding, one generator per image,
length-grouped batches); "bare" calls diffusers' pipeline as it comes (plain prompt strings,
PIL output, its own safety-checker input and timestep search: streamline.as_diffusers_does),
sharing the same modules. Both run
on the same loaded weights, alternating, best of ``--repeats``. Ends with
``render_over_bare_ratio`` = our throughput / bare throughput at the device's default
batch size (goal >= 0.95).

``--compile-mode MODE`` (repeatable) also loads the model compiled in that mode
(render/compiled.py) and times the bare loop on it at batch 4 after a warm-up that compiles
(its seconds: ``compile_seconds_MODE``); ``compiled_over_eager_ratio_MODE`` = compiled bare
images/s over eager bare images/s at batch 4 (issue 24's goal on SD-Turbo: >= 1.5).
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render import pipelines as render  # noqa: E402
from pixio_ads.render.encoding import guidance_arguments, uses_negatives  # noqa: E402
from pixio_ads.render.streamline import as_diffusers_does  # noqa: E402
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID  # noqa: E402

PROMPTS = [
    f"{style} advertising photograph of a {item}, soft natural light, high detail"
    for style in ("golden hour", "minimal studio", "vintage", "neon night")
    for item in ("water bottle", "ceramic mug", "desk lamp", "sneaker")
]  # 16 prompts
SEEDS = list(range(1000, 1016))


def bare_loop(model: loading.LoadedModel, batch_size: int, size: int, steps: int, guidance: float) -> float:
    import torch

    pipeline = as_diffusers_does(model.pipeline)  # not streamline.py's changes: diffusers as it comes
    # what the family's guidance number drives, as a user of the bare pipeline would pass it
    call = guidance_arguments(model.family, guidance)
    true_cfg = uses_negatives(model.family, guidance) and "true_cfg_scale" in call
    if "max_area" in inspect.signature(type(pipeline).__call__).parameters:
        call["max_area"] = size * size  # FLUX Kontext: else it scales any size up to 1024 x 1024
    started = time.perf_counter()
    for start in range(0, len(PROMPTS), batch_size):
        prompts, seeds = PROMPTS[start : start + batch_size], SEEDS[start : start + batch_size]
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
        negative = {"negative_prompt": [" "] * len(prompts)} if true_cfg else {}  # Qwen-Image: CFG needs one
        with torch.inference_mode():
            pipeline(
                prompt=prompts,
                width=size,
                height=size,
                num_inference_steps=steps,
                generator=generators,
                **call,
                **negative,
            )
    _sync(model.device)
    return time.perf_counter() - started


def our_path(model: loading.LoadedModel, batch_size: int, size: int, steps: int, guidance: float) -> float:
    model._embeddings.clear()  # measure cold prompt encoding, as the bare loop does every time
    started = time.perf_counter()
    for start in range(0, len(PROMPTS), batch_size):
        prompts, seeds = PROMPTS[start : start + batch_size], SEEDS[start : start + batch_size]
        render.generate(model, prompts, [""] * len(prompts), seeds, size, size, steps, guidance)
    _sync(model.device)
    return time.perf_counter() - started


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None, description: str = "render") -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=EMBEDDED_MODEL_ID)
    parser.add_argument("--device", default=None)
    parser.add_argument("--size", type=int, default=None, help="square side in px (default: the model's native size)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=None, help="default: the model family's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--images", type=int, default=len(PROMPTS), help="prompts per run (at most 16; fewer for slow models)"
    )
    parser.add_argument("--compile-mode", action="append", default=[], help="also time the compiled bare loop")
    args = parser.parse_args(argv)
    del PROMPTS[args.images :], SEEDS[args.images :]

    model = loading.load_model(args.model, args.device)
    size = args.size or model.native_side
    if args.guidance is None:
        args.guidance = model.family.default_guidance
    default_batch = loading.default_batch_size(model.device)
    print(
        f"{description}: model={args.model} ({model.family.name}) device={model.device} dtype={model.dtype} "
        f"size={size} steps={args.steps} guidance={args.guidance} images={len(PROMPTS)}"
    )
    our_path(model, 1, size, 1, args.guidance)  # warm up both paths (allocations, kernels, compel)
    bare_loop(model, 1, size, 1, args.guidance)

    per_image: dict[tuple[str, int], float] = {}
    median_per_image: dict[tuple[str, int], float] = {}
    for batch_size in sorted({1, 4, default_batch}):
        timings: dict[str, list[float]] = {"ours": [], "bare": []}
        for _ in range(args.repeats):  # alternate so drift hits both sides alike
            timings["ours"].append(our_path(model, batch_size, size, args.steps, args.guidance))
            timings["bare"].append(bare_loop(model, batch_size, size, args.steps, args.guidance))
        for name, values in timings.items():
            per_image[name, batch_size] = min(values) / len(PROMPTS)
            median_per_image[name, batch_size] = statistics.median(values) / len(PROMPTS)
            print(
                f"batch {batch_size} {name}: {per_image[name, batch_size]:.4f} s/image (runs: {', '.join(f'{v:.2f}' for v in values)}; median {statistics.median(values):.2f} s)"
            )
    for batch_size in sorted({1, 4, default_batch}):
        print(f"images_per_second_ours_batch{batch_size}: {1 / per_image['ours', batch_size]:.2f}")
        print(f"images_per_second_bare_batch{batch_size}: {1 / per_image['bare', batch_size]:.2f}")
    print(f"render_over_bare_ratio: {per_image['bare', default_batch] / per_image['ours', default_batch]:.3f}")
    median_ratio = median_per_image["bare", default_batch] / median_per_image["ours", default_batch]
    print(f"render_over_bare_ratio_median: {median_ratio:.3f}")  # the medians' ratio: steadier on a shared CPU
    for mode in args.compile_mode:
        compiled_figures(args.model, model.device, mode, size, args, per_image["bare", 4])
    if model.device.startswith("cuda"):
        import torch

        print(f"peak_gpu_memory_gb: {torch.cuda.max_memory_allocated() / 2**30:.2f}")


def compiled_figures(model_id: str, device: str, mode: str, size: int, args, eager_per_image: float) -> None:
    """The bare loop at batch 4 on the model compiled in ``mode``: compile time (the warm-up,
    one batch shape) and images/s against the eager bare loop's."""
    compiled = loading.load_model(loading.ModelSpec(model_id, compile_mode=mode), device)
    started = time.perf_counter()
    bare_loop(compiled, 4, size, args.steps, args.guidance)  # compiles at the first call
    compile_seconds = time.perf_counter() - started
    runs = [bare_loop(compiled, 4, size, args.steps, args.guidance) for _ in range(args.repeats)]
    per_image = min(runs) / len(PROMPTS)
    key = mode.replace("-", "_")
    print(f"compiled {mode} batch 4 bare: {per_image:.4f} s/image (runs: {', '.join(f'{v:.2f}' for v in runs)})")
    print(f"compile_seconds_{key}: {compile_seconds:.1f}")
    print(f"images_per_second_bare_compiled_{key}_batch4: {1 / per_image:.2f}")
    print(f"compiled_over_eager_ratio_{key}: {eager_per_image / per_image:.3f}")


if __name__ == "__main__":
    main()
