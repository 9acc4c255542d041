"""Does memory stay flat over a long run? 5,000 variants on the embedded model, small formats.

    .venv/bin/python benchmarks/memory.py [--variants 5000] [--checkpoints 1000,5000]

Plans the campaign and renders its shards one after another in this process, as the flow's
default task runner does (runner.render_shard: render, screen, hand to the finishing pool,
flush), 1 denoising step at 320 px so the run is about process state, not pixels. At each
checkpoint it records the resident memory (RSS) and the open file descriptors of the render
process (this one) and of each finishing process. Ends with ``name: value`` lines;
``rss_growth_1k_to_5k`` is the render process's growth between the first and the last
checkpoint (goal <= 0.10), ``finish_rss_growth_1k_to_5k`` the largest of the finishing
processes'.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv  # noqa: E402
from PIL import Image  # noqa: E402

from pixio_ads.core.lifeline import live  # noqa: E402
from pixio_ads.run import (
    finishing,  # noqa: E402
    planning,  # noqa: E402
    runner,  # noqa: E402
)
from pixio_ads.settings import RenderSettings  # noqa: E402

AUDIENCES, STYLES, FORMATS = 10, 5, "320x320; 384x256"  # the smallest the copy fits


def campaign(folder: Path, variants: int) -> Path:
    """One row of 10 audiences x 5 styles x 2 formats x N seeds (N = variants / 100)."""
    (folder / "products").mkdir(parents=True)
    Image.open(EXAMPLE_CAMPAIGN.parent / "products" / "bottle.png").save(folder / "products" / "widget.png")
    row = good_row(
        audiences="; ".join(f"audience {i}" for i in range(AUDIENCES)),
        styles="; ".join(["minimal", "golden hour", "cozy evening", "warm pastel", "bold"][:STYLES]),
        formats=FORMATS,
        variants=str(max(1, variants // (AUDIENCES * STYLES * 2))),
        headline="Go",
        cta="Buy",
    )
    return write_csv(folder, [row])


def snapshot() -> dict:
    """RSS (MB) and open fds of this process and of each finishing process."""
    me = psutil.Process()
    pools = [pid for pool in finishing._pools.values() for pid in (getattr(pool, "_processes", None) or {})]
    finishers = live(pools)
    return {
        "render_rss_mb": me.memory_info().rss / 2**20,
        "render_fds": me.num_fds(),
        "finish_rss_mb": [p.memory_info().rss / 2**20 for p in finishers],
        "finish_fds": [p.num_fds() for p in finishers],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=5000)
    parser.add_argument("--checkpoints", default="1000,5000")
    args = parser.parse_args()
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        plan = planning.plan_campaign(campaign(Path(tmp) / "campaign", args.variants), out, RenderSettings(steps=1))
        done, seen = 0, {}

        def progress(count: int) -> None:
            nonlocal done
            done += count
            for checkpoint in checkpoints:
                if done >= checkpoint and checkpoint not in seen:
                    seen[checkpoint] = snapshot()
                    print(f"at {checkpoint}: {seen[checkpoint]}", flush=True)

        started = time.monotonic()
        shards = [runner.render_shard(plan.plan_path, ids, out, "cpu", 1, progress=progress) for ids in plan.shards]
        summary = runner.write_manifest(plan.plan_path, shards, out)
        seconds = time.monotonic() - started
    first, last = seen[checkpoints[0]], seen[checkpoints[-1]]
    finish_growth = (
        max((b - a) / a for a, b in zip(first["finish_rss_mb"], last["finish_rss_mb"]))
        if first["finish_rss_mb"] and len(first["finish_rss_mb"]) == len(last["finish_rss_mb"])
        else float("nan")
    )
    print(f"variants: {summary.total}")
    print(f"rendered: {summary.counts.get('rendered', 0)}")
    print(f"seconds: {seconds:.0f}")
    print(f"render_rss_mb_first: {first['render_rss_mb']:.0f}")
    print(f"render_rss_mb_last: {last['render_rss_mb']:.0f}")
    print(f"rss_growth_1k_to_5k: {(last['render_rss_mb'] - first['render_rss_mb']) / first['render_rss_mb']:.3f}")
    print(f"finish_rss_mb_last: {', '.join(f'{m:.0f}' for m in last['finish_rss_mb'])}")
    print(f"finish_rss_growth_1k_to_5k: {finish_growth:.3f}")
    print(f"render_fds_first: {first['render_fds']}")
    print(f"render_fds_last: {last['render_fds']}")
    print(f"finish_fds_last: {', '.join(map(str, last['finish_fds']))}")


if __name__ == "__main__":
    main()
