"""Our Prefect flow vs a bare diffusers loop on 64 variants, then a rerun of the flow.

    .venv/bin/python benchmarks/flow_overhead.py

Both sides use the tiny embedded model on the CPU with the same prompts, seeds, steps
(4), size and batch size (1). The bare loop is plain diffusers plus the same library calls
for the deliverable (creative.finish: cut-out, layout, shadows, copy, label; then
provenance.disclose: watermark and XMP), one image after another; the flow adds Prefect, the
manifest, shards, hashes, contact sheet and artifacts, and overlaps the finishing with the
next render in its finishing process (pixio_ads/run/finishing.py). Also printed: the flow against a
bare loop that only saves the raw 512 px output (``flow_over_raw_bare_ratio``).
The Prefect server (Prefect's test harness) and the model are started/loaded before
timing: a served deployment has both running already. Ends with
``flow_over_bare_ratio`` (goal <= 1.10) and ``rerun_over_first_ratio`` (goal <= 0.05).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

from pixio_ads.campaign.spreadsheet import load_campaign  # noqa: E402
from pixio_ads.campaign.variants import expand  # noqa: E402
from pixio_ads.render import loading  # noqa: E402
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID  # noqa: E402
from pixio_ads.run.compose import Assets, finish  # noqa: E402
from pixio_ads.trust.provenance import disclose  # noqa: E402

STEPS = 4


def write_campaign(folder: Path) -> Path:
    """4 products x 2 audiences x 2 styles x 1 format x 4 seeds = 64 variants."""
    return synthetic.write_campaign(
        folder, "bench", 4, "lifestyle", "runners; parents", "golden hour; minimal", "square", 4
    )


def bare_loop(campaign: Path, out: Path, deliverable: bool) -> float:
    """Plain diffusers. ``deliverable``: also finish and disclose each image with the same
    library calls the flow makes; otherwise save the raw 512 px output."""
    import torch

    variants = expand(load_campaign(campaign))
    assets = Assets()
    pipeline = loading.load_model(EMBEDDED_MODEL_ID, "cpu").pipeline  # the same loaded weights
    side = loading.load_model(EMBEDDED_MODEL_ID, "cpu").native_side
    out.mkdir()
    started = time.perf_counter()
    for v in variants:
        with torch.inference_mode():
            image = pipeline(
                prompt=v.prompt, negative_prompt=v.negative_prompt or None, width=side, height=side, num_inference_steps=STEPS,
                guidance_scale=v.guidance, generator=torch.Generator().manual_seed(v.seed),
            ).images[0]  # fmt: skip
        if deliverable:
            creative = finish(v, image, assets)
            (out / f"{v.variant_id}.png").write_bytes(
                disclose(creative.image, v.variant_id, v.output_format, v.quality, "bench", None, creative.keep).data
            )
        else:
            image.save(out / f"{v.variant_id}.png")
    return time.perf_counter() - started


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        campaign = write_campaign(tmp)
        loading.load_model(EMBEDDED_MODEL_ID, "cpu")  # load before timing, for both sides
        bare_loop(campaign, tmp / "warmup", deliverable=False)  # first-call allocations
        bare = bare_loop(campaign, tmp / "bare", deliverable=True)
        raw = bare_loop(campaign, tmp / "raw", deliverable=False)
        started = time.perf_counter()
        settings = from_options(steps=STEPS, device="cpu", batch_size=1)
        first = generate_campaign(str(campaign), str(tmp / "flow"), **settings)
        flow_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rerun = generate_campaign(str(campaign), str(tmp / "flow"), **settings)
        rerun_seconds = time.perf_counter() - started
    assert first.rendered_now == 64 and rerun.rendered_now == 0, (first, rerun)
    print(f"variants: 64  steps: {STEPS}  device: cpu  batch: 1")
    print(f"bare_loop_raw_512px_seconds: {raw:.2f}")
    print(f"bare_loop_seconds: {bare:.2f}")
    print(f"flow_seconds: {flow_seconds:.2f}")
    print(f"rerun_seconds: {rerun_seconds:.2f}")
    print(f"flow_over_raw_bare_ratio: {flow_seconds / raw:.3f}")
    print(f"flow_over_bare_ratio: {flow_seconds / bare:.3f}")
    print(f"rerun_over_first_ratio: {rerun_seconds / flow_seconds:.3f}")


if __name__ == "__main__":
    main()
