"""Prompt encoding: one text-encoder pass per prompt vs the batch's new prompts in one pass.

    .venv/bin/python benchmarks/prompt_encoding.py [--arch sd21] [--repeats 3] [--device cpu]

Real-size text encoder of the architecture (random weights, benchmarks/fullsize.py) in the
embedded tiny pipeline, so ``render.encode_prompts`` runs its real code. 16 distinct prompts
(as benchmarks/render.py: cold cache, as a bare diffusers loop pays every time) in batches of
4, encoded (a) one prompt per call, the way render.generate did before, and (b) a batch per
call, as it does now; with classifier-free guidance (7.5: prompts + negatives) and without
(0, as turbo models sample: prompts only). Alternating, medians of --repeats. Ends with
``name: value`` lines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fullsize  # noqa: E402
from render import PROMPTS  # noqa: E402  (benchmarks/render.py's 16 prompts)

from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render import pipelines as render  # noqa: E402
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID  # noqa: E402


def model_with_real_text_encoder(arch: str, device: str) -> loading.LoadedModel:
    import dataclasses

    import torch

    tiny = loading.load_model(EMBEDDED_MODEL_ID, device)
    torch.manual_seed(0)
    encoder = fullsize._text_encoder(fullsize.TEXT_ENCODERS[arch][0], tiny.pipeline.tokenizer, with_projection=False)
    pipeline = type(tiny.pipeline)(**{**tiny.pipeline.components, "text_encoder": encoder.to(device).eval()})
    return dataclasses.replace(tiny, pipeline=pipeline, _embeddings={})


def seconds(model: loading.LoadedModel, per_call: int, guidance: float) -> float:
    model._embeddings.clear()
    started = time.perf_counter()
    for start in range(0, len(PROMPTS), 4):
        batch = PROMPTS[start : start + 4]
        for first in range(0, len(batch), per_call):
            chunk = batch[first : first + per_call]
            render.encode_prompts(model, chunk, [""] * len(chunk), guidance)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sd21", choices=sorted(fullsize.TEXT_ENCODERS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    model = model_with_real_text_encoder(args.arch, args.device)
    seconds(model, 4, 7.5)  # warm-up
    print(f"arch={args.arch} device={args.device} prompts={len(PROMPTS)} batch=4 repeats={args.repeats}")
    results = {}
    for guidance in (7.5, 0.0):
        runs = {1: [], 4: []}
        for _ in range(args.repeats):
            for per_call in (1, 4):
                runs[per_call].append(seconds(model, per_call, guidance))
        one, batched = statistics.median(runs[1]), statistics.median(runs[4])
        tag = "cfg" if guidance > 1 else "no_cfg"
        print(
            f"guidance {guidance}: one prompt per call {one:.3f} s {runs[1]}, a batch per call {batched:.3f} s {runs[4]}"
        )
        results[f"encode_ms_per_prompt_one_by_one_{tag}"] = 1000 * one / len(PROMPTS)
        results[f"encode_ms_per_prompt_batched_{tag}"] = 1000 * batched / len(PROMPTS)
        results[f"batched_speedup_{tag}"] = one / batched
    for name, value in results.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
