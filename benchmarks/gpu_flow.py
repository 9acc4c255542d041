"""The whole flow on a real(-size) model: delivered images/s of generate-campaign.

    python benchmarks/gpu_flow.py --model FOLDER [--steps 4] [--variants 128] [--device cuda]

Square 1080x1080 PNG creatives (product, copy, AI label, watermark, XMP) from the model's
native-size scenes, through the Prefect flow (in-process server), default batch size,
finishing pool and shard size for the device. The model is loaded and a warm-up run of 8
variants done before timing (a served deployment has both). Ends with
``flow_images_per_second``; benchmarks/gpu_suite.sh divides it by render.py's figure.
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

from pixio_ads.render import loading  # noqa: E402
from pixio_ads.run import finishing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=0.0)
    parser.add_argument("--variants", type=int, default=128)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    device = loading.select_device(args.device)
    loading.load_model(args.model, device)
    settings = dict(model=args.model, steps=args.steps, guidance=args.guidance, device=device, safety_checker=False)
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        tmp = Path(tmp)
        # products x 2 audiences x 1 style x square x 2 seeds
        campaign = synthetic.write_campaign(
            tmp, "bench", max(1, args.variants // 4), "lifestyle", "runners; parents", "golden hour", "square", 2
        )
        generate_campaign(str(campaign), str(tmp / "warmup"), **from_options(limit=8, **settings))
        started = time.perf_counter()
        summary = generate_campaign(str(campaign), str(tmp / "flow"), **from_options(**settings))
        seconds = time.perf_counter() - started
    assert summary.rendered_now == summary.total, summary.describe()
    print(
        f"model={args.model} device={device} steps={args.steps} variants={summary.total} finish_workers={finishing.default_workers(device)}"
    )
    print(f"flow_seconds: {seconds:.2f}")
    print(f"flow_images_per_second: {summary.total / seconds:.2f}")


if __name__ == "__main__":
    main()
