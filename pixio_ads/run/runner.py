"""The shard loop and the merge: render one shard (render, retry, hand to finishing), then
merge the shards into the manifest. Planning is planning.py; finishing is finishing.py.

Plain functions over paths, ids and small values (so Prefect can cache and retry them, and
so they run without Prefect); the output layout is described in planning.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from itertools import groupby
from pathlib import Path

import pyarrow.compute as pc

from pixio_ads.campaign.variants import Variant
from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.stall import DEFAULT_STALL_SECONDS, Watchdog
from pixio_ads.core.stepclock import PIPELINE, SHARD_END, WAIT_OTHER_SHARD, StepClock, busy_share, measuring, step
from pixio_ads.delivery.review import with_rank_and_review
from pixio_ads.outputs.manifest import (
    PLAN_SCHEMA,
    ManifestError,
    merge,
    read_table,
    read_table_or_empty,
    status_counts,
    table_to_variants,
    with_plan_values,
    write_table,
)
from pixio_ads.render import loading
from pixio_ads.run import rendering
from pixio_ads.run.cores import default_workers
from pixio_ads.run.finishing import Finisher, pin_for_device, result_row
from pixio_ads.run.planning import MANIFEST_FILE, RUN_FILE, SCREENED_FILE, SHARDS_DIR, shard_path
from pixio_ads.run.shards import RESULT_SUFFIX, ShardRows, complete_rows
from pixio_ads.settings import DEFAULT_RETRIES, DEFAULT_RETRY_DELAY, Safeguards
from pixio_ads.trust.policy import load_policy
from pixio_ads.trust.quota import settle_run

logger = logging.getLogger(__name__)

# A process renders one batch at a time (pipelines are not thread-safe), but may run two
# shards at once (the flow's SHARDS_IN_FLIGHT): while one waits for its last batches to be
# finished, the other renders, so the end of a shard does not leave the GPU idle.
RENDER_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class ShardResult:
    path: str  # the shard's manifest file
    variant_ids: list[str]
    rendered: int  # images rendered by this call
    reused: int  # variants whose earlier output was verified and kept
    worker: str  # host:pid of the process that rendered it
    model_loads: int = 0  # pipelines this call had to load (0 when the process had them)
    model_load_seconds: float = 0.0
    stopped: bool = False  # stopped before its end (the run was cancelled); the rest is for a rerun
    steps: dict[str, float] | None = None  # seconds per step of the render loop (stepclock.py)
    started_at: float = 0.0  # epoch seconds: the render loop's span
    ended_at: float = 0.0


def save_result(result: ShardResult, run_id: str) -> Path:
    """Write a shard's result beside its rows, tagged with the flow run that rendered it: how a
    shard rendered by a fleet worker reports back to the campaign's run through the shared
    output folder (a flow's return value would need result storage both can reach)."""
    target = Path(result.path).with_suffix(RESULT_SUFFIX)  # shard-<key>.result.json
    return atomic_write_bytes(target, json.dumps({"run_id": run_id, **asdict(result)}).encode())


def load_result(out_dir: str | Path, variant_ids: list[str], run_id: str) -> ShardResult | None:
    """The result ``save_result`` wrote for this shard by that flow run (None: none, or another
    run's), its path in ``out_dir`` (the worker's may have been its own working copy)."""
    rows_file = shard_path(Path(out_dir), variant_ids)
    try:
        saved = json.loads(rows_file.with_suffix(RESULT_SUFFIX).read_text())
    except (OSError, ValueError):
        return None
    if saved.pop("run_id", None) != run_id:
        return None
    return ShardResult(**{**saved, "path": str(rows_file)})


def model_loads(shards: list[ShardResult]) -> dict[str, tuple[int, float]]:
    """Per worker process: how many model loads its shards caused, and their seconds."""
    loads: dict[str, tuple[int, float]] = {}
    for shard in shards:
        count, seconds = loads.get(shard.worker, (0, 0.0))
        loads[shard.worker] = (count + shard.model_loads, seconds + shard.model_load_seconds)
    return loads


def rows_in(shards: list[ShardResult]) -> int:
    """How many variants the shards' files hold a row for (finished, failed or blocked)."""
    return sum(read_table_or_empty(Path(shard.path)).num_rows for shard in shards if Path(shard.path).exists())


@dataclass(frozen=True, slots=True)
class Summary:
    manifest_path: str
    images_dir: str
    counts: dict[str, int]  # by status, over the whole manifest
    rendered_now: int = 0  # images rendered by this run (the rest were reused)
    render_steps: dict[str, float] | None = None  # seconds per render-loop step, all shards
    gpu_busy_share: float | None = None  # pipeline seconds over the render span (worst process)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        counts = ", ".join(f"{count} {status}" for status, count in self.counts.items())
        return f"{self.total} variants: {counts} ({self.rendered_now} rendered by this run)"


def render_shard(
    plan_path: str | Path,
    variant_ids: list[str],
    out_dir: str | Path,
    device: str | None = None,
    batch_size: int | None = None,
    safety_checker: bool = True,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    safeguards: Safeguards = Safeguards(),
    finish_workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    clip_model: str | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    should_stop: Callable[[], bool] | None = None,
    compile_mode: str | None = None,
    offload: str | None = None,
) -> ShardResult:
    """Render, composite and save the given variants; keep their rows in the shard's file.

    Variants whose earlier output is still on disk with its recorded sha256 are kept, not
    rendered again. The shard file is rewritten (atomically) at least every FLUSH_SECONDS, so a
    killed run loses at most that much work. A batch that raises is retried ``retries`` times with
    exponential backoff, then its variants are ``failed``; a flagged image is ``blocked``, unsaved.
    ``finish_workers``: finishing processes (0: a thread here; None: the cores rendering
    does not need, see cores.default_workers). ``progress(n)`` is called as n more
    variants are done (reused ones first). ``clip_model``: score prompt alignment (clip.py).
    ``stall_seconds``: a shard without progress for that long is given up (stall.py), its
    unfinished variants recorded failed. ``should_stop()``, asked before each batch: True
    stops the shard there (a cancelled run), keeping what is finished; the result says so.
    ``compile_mode``: render compiled (render/compiled.py), every forward pass padded to the
    batch size; ``offload``: diffusers' CPU offload (loading.OFFLOAD_MODES)."""
    out_dir = Path(out_dir)
    by_id = _planned_variants(Path(plan_path), variant_ids)
    target = shard_path(out_dir, variant_ids)
    policy = load_policy(safeguards.policy)
    done = complete_rows(target, variant_ids, out_dir, policy.image_checks_id)
    rows = ShardRows(target, variant_ids, done, progress)
    todo = [by_id[vid] for vid in variant_ids if vid not in done]
    device = loading.select_device(device)
    batch_size = batch_size or loading.default_batch_size(device)
    batches = _batches(todo, batch_size)
    loads_before, seconds_before = loading.load_stats()
    finisher = _finisher(out_dir, safeguards, device, finish_workers)
    watchdog = Watchdog(stall_seconds, f"shard {target.stem} ({len(variant_ids)} variants)", finisher.abandon)
    compiled = (compile_mode, batch_size) if compile_mode else None
    render_batch = partial(rendering.render_batch_with_retries, device=device, safety_checker=safety_checker)
    render_batch = partial(render_batch, retries=retries, retry_delay=retry_delay, compiled=compiled, offload=offload)
    align = partial(rendering.align, clip_model=clip_model, device=device) if clip_model else None
    with measuring(StepClock()) as clock:
        stopped = _render_batches(batches, todo, rows, render_batch, align, policy, finisher, watchdog, should_stop)
    loads, load_seconds = loading.load_stats()
    load = (loads - loads_before, load_seconds - seconds_before)
    rendered, timing = rows.rendered(excluding=done), (clock.seconds, clock.started_at, clock.ended_at)
    return ShardResult(str(target), variant_ids, rendered, len(done), rendering.WORKER, *load, stopped, *timing)


def _finisher(out_dir: Path, safeguards: Safeguards, device: str, workers: int | None) -> Finisher:
    """Finishing (composite, copy, watermark, encode, write) runs in other processes while
    the next batch renders; a bounded queue holds rendering back only when they lag. On a GPU
    worker the render process keeps cores of its own (cores.py)."""
    workers = default_workers(device) if workers is None else workers
    if workers:
        pin_for_device(device)
    return Finisher(out_dir, safeguards.signer(), workers)


def _render_batches(batches, todo, rows, render_batch, align, policy, finisher, watchdog, should_stop) -> bool:
    """The shard's loop: render, screen, hand to finishing, save as it goes. Returns whether it
    stopped early because ``should_stop()`` said so (a stall fails the rest instead)."""
    stopped = False
    try:
        for batch in batches:
            if watchdog.stalled or (stopped := bool(should_stop and should_stop())):
                break
            with _gpu_turn():
                rendered = render_batch(batch)
                if align:
                    with step("prompt alignment"):
                        rendered = align(rendered)
            with step("image checks"):
                rendered = rendering.screen_images(rendered, policy)
            watchdog.beat()
            finished = finisher.submit(rendered)
            watchdog.beat()
            with step("rows"):
                rows.absorb(finished)
                rows.flush_if_due()
        with step(SHARD_END):
            rows.absorb(finisher.close())
    finally:  # interrupted too (Ctrl-C, SIGTERM): the rows of finished images are kept for a rerun
        watchdog.stop()
        if watchdog.stalled:
            failed = {"error": watchdog.stalled}
            rows.absorb([result_row(v, "failed", failed) for v in todo if v.variant_id not in rows.rows])
        rows.flush()
    return stopped


@contextmanager
def _gpu_turn():
    """Hold RENDER_LOCK, timing the wait (the other shard in flight rendering)."""
    with step(WAIT_OTHER_SHARD):
        RENDER_LOCK.acquire()
    try:
        yield
    finally:
        RENDER_LOCK.release()


def _planned_variants(plan_path: Path, variant_ids: list[str]) -> dict[str, Variant]:
    """The given variants from the plan file, by id; an id the plan lacks is an error."""
    plan = read_table(plan_path, PLAN_SCHEMA)
    wanted = pc.cast(variant_ids, plan.schema.field("variant_id").type)
    by_id = {v.variant_id: v for v in table_to_variants(plan.filter(pc.is_in(plan["variant_id"], value_set=wanted)))}
    missing = [vid for vid in variant_ids if vid not in by_id]
    if missing:
        raise ValueError(f"{plan_path}: variant ids not in the plan: {', '.join(missing[:5])}")
    return by_id


def _batches(variants: list[Variant], batch_size: int) -> Iterator[list[Variant]]:
    for _, group in groupby(variants, key=lambda v: v.batch_key):
        group = list(group)
        yield from (group[i : i + batch_size] for i in range(0, len(group), batch_size))


def write_manifest(plan_path: str | Path, shards: list[ShardResult], out_dir: str | Path) -> Summary:
    """Merge the shards into ``manifest.parquet`` in plan order (atomically), then remove
    shard files that no longer belong to the plan (their rows were carried forward)."""
    out_dir = Path(out_dir)
    plan = read_table(Path(plan_path), PLAN_SCHEMA)
    order = plan.column("variant_id").to_pylist()
    screened = out_dir / SHARDS_DIR / SCREENED_FILE
    table = merge(
        order,
        [read_table(Path(shard.path)) for shard in shards] + ([read_table(screened)] if screened.is_file() else []),
    )
    if table.num_rows != len(order):
        raise ManifestError(f"{out_dir}: {len(order) - table.num_rows} planned variants have no manifest row")
    table = with_rank_and_review(with_plan_values(plan, table), out_dir)
    manifest_path = write_table(table, out_dir / MANIFEST_FILE)
    run_path = out_dir / RUN_FILE
    if run_path.is_file():
        settle_run(json.loads(run_path.read_text()), table.to_pylist())
    current = {Path(shard.path).name for shard in shards}
    for stale in (out_dir / SHARDS_DIR).glob("shard-*.*"):  # rows and results (save_result)
        if stale.name.split(".")[0] + ".parquet" not in current:
            stale.unlink(missing_ok=True)
    return Summary(
        str(manifest_path),
        str(out_dir / "images"),
        status_counts(table),
        sum(shard.rendered for shard in shards),
        *render_timing(shards),
    )


def render_timing(shards: list[ShardResult]) -> tuple[dict[str, float], float | None]:
    """(seconds per render-loop step over the shards, the lowest GPU busy share of the
    processes that rendered them: None when none rendered anything)."""
    steps: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float, float]]] = {}
    for shard in shards:
        if not shard.steps or not shard.rendered:
            continue
        for name, seconds in shard.steps.items():
            steps[name] = steps.get(name, 0.0) + seconds
        spans.setdefault(shard.worker, []).append((shard.started_at, shard.ended_at, shard.steps.get(PIPELINE, 0.0)))
    shares = [busy_share(worker_spans) for worker_spans in spans.values()]
    return steps, (round(min(shares), 4) if shares else None)
