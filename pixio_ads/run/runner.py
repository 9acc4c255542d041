"""The shard loop and the merge: render one shard (render, retry, hand to finishing), then
merge the shards into the manifest. Planning is planning.py; finishing is finishing.py.

Plain functions over paths, ids and small values (so Prefect can cache and retry them, and
so they run without Prefect); the output layout is described in planning.py.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from itertools import groupby
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from PIL import Image

from pixio_ads.campaign.adapters import variant_loras
from pixio_ads.campaign.variants import Variant
from pixio_ads.core.errors import ModelLoadError
from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.formats import AdFormat, render_size
from pixio_ads.core.stall import DEFAULT_STALL_SECONDS, Watchdog
from pixio_ads.core.stepclock import PIPELINE, StepClock, busy_share, measuring, step
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
from pixio_ads.render import clip, loading, upscale
from pixio_ads.render import pipelines as render
from pixio_ads.render.adapters import use_adapters
from pixio_ads.run.compose import model_inputs
from pixio_ads.run.cores import default_workers
from pixio_ads.run.finishing import Finisher, Rendered, pin_for_device, result_row, shared_assets
from pixio_ads.run.planning import MANIFEST_FILE, RUN_FILE, SCREENED_FILE, SHARDS_DIR, shard_path
from pixio_ads.run.shards import RESULT_SUFFIX, ShardRows, complete_rows
from pixio_ads.settings import DEFAULT_RETRIES, DEFAULT_RETRY_DELAY, Safeguards
from pixio_ads.trust.image_policy import check_image
from pixio_ads.trust.policy import load_policy
from pixio_ads.trust.quota import settle_run

logger = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
# A process renders one batch at a time (pipelines are not thread-safe), but may run two
# shards at once (the flow's SHARDS_IN_FLIGHT): while one waits for its last batches to be
# finished, the other renders, so the end of a shard does not leave the GPU idle.
RENDER_LOCK = threading.Lock()


def _context(device: str, safety_checker: bool) -> dict:
    """The row values every variant of a batch shares: where and how it was rendered."""
    return {
        "device": device,
        "worker": WORKER,
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "safety_checker": "on" if safety_checker else "off",
    }


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
) -> ShardResult:
    """Render, composite and save the given variants; keep their rows in the shard's file.

    Variants whose earlier output is still on disk with its recorded sha256 are kept, not
    rendered again. The shard file is rewritten (atomically) at least every FLUSH_SECONDS,
    so a killed run loses at most that much work. A batch that raises is retried ``retries`` times
    with exponential backoff, then its variants are recorded ``failed``; the others go on.
    An image the checkpoint's safety checker flags is not saved; its row is ``blocked``.
    ``finish_workers``: finishing processes (0: a thread here; None: the cores rendering
    does not need, see cores.default_workers). ``progress(n)`` is called as n more
    variants are done (reused ones first). ``clip_model``: score prompt alignment (clip.py).
    ``stall_seconds``: a shard without progress for that long is given up (stall.py), its
    unfinished variants recorded failed. ``should_stop()``, asked before each batch: True
    stops the shard there (a cancelled run), keeping what is finished; the result says so.
    ``compile_mode``: render with the compiled UNet and VAE decoder (render/compiled.py),
    every forward pass padded to the batch size."""
    out_dir = Path(out_dir)
    by_id = _planned_variants(Path(plan_path), variant_ids)
    target = shard_path(out_dir, variant_ids)
    policy = load_policy(safeguards.policy)
    done = complete_rows(target, variant_ids, out_dir, policy.image_checks_id)
    rows = ShardRows(target, variant_ids, done, progress)
    todo = [by_id[vid] for vid in variant_ids if vid not in done]
    device = loading.select_device(device)
    batches = _batches(todo, batch_size or loading.default_batch_size(device))
    loads_before, seconds_before = loading.load_stats()
    # Finishing (composite, copy, watermark, encode, write) runs in other processes while
    # the next batch renders; a bounded queue holds rendering back only when they lag.
    workers = default_workers(device) if finish_workers is None else finish_workers
    if workers:
        pin_for_device(device)
    finisher = Finisher(out_dir, safeguards.signer(), workers)
    watchdog = Watchdog(stall_seconds, f"shard {target.stem} ({len(variant_ids)} variants)", finisher.abandon)
    render_batch = partial(
        _render_batch_with_retries,
        device=device,
        safety_checker=safety_checker,
        retries=retries,
        retry_delay=retry_delay,
        compiled=(compile_mode, batch_size or loading.default_batch_size(device)) if compile_mode else None,
    )
    align = partial(_align, clip_model=clip_model, device=device) if clip_model else None
    with measuring(StepClock()) as clock:
        stopped = _render_batches(batches, todo, rows, render_batch, align, policy, finisher, watchdog, should_stop)
    loads, load_seconds = loading.load_stats()
    rendered_now = rows.rendered(excluding=done)
    load = (loads - loads_before, load_seconds - seconds_before)
    timing = (clock.seconds, clock.started_at, clock.ended_at)
    return ShardResult(str(target), variant_ids, rendered_now, len(done), WORKER, *load, stopped, *timing)


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
                rendered = _screen_images(rendered, policy)
            watchdog.beat()
            finished = finisher.submit(rendered)
            watchdog.beat()
            with step("rows"):
                rows.absorb(finished)
                rows.flush_if_due()
        with step("shard end"):
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
    with step("waiting for the other shard"):
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


def _render_batch_with_retries(batch, device, safety_checker, retries, retry_delay, compiled=None) -> list[Rendered]:
    """Retry transient failures (I/O, a flaky device) with exponential backoff. Errors that
    cannot pass by waiting (a bad model path, invalid settings) fail at once."""
    for attempt in range(retries + 1):
        try:
            return _render_batch(batch, device, safety_checker, compiled)
        except (ModelLoadError, ValueError) as exc:
            error = exc
            break
        except Exception as exc:
            error = exc
            if attempt < retries:
                delay = retry_delay * 2**attempt
                logger.warning(
                    "batch of %d variant(s) failed (%s: %s); retry %d/%d in %.1fs",
                    len(batch),
                    exc.__class__.__name__,
                    exc,
                    attempt + 1,
                    retries,
                    delay,
                )
                time.sleep(delay)
    logger.error("batch of %d variant(s) failed: %s: %s", len(batch), error.__class__.__name__, error)
    context = _context(device, safety_checker)
    return [(v, None, {**context, "status": "failed", "error": f"{error.__class__.__name__}: {error}"}) for v in batch]


def _render_batch(
    batch: list[Variant], device: str, safety_checker: bool, compiled: tuple[str, int] | None = None
) -> list[Rendered]:
    """Render one batch (and upscale it when configured); raises on failure (the caller
    retries). Returns (variant, background or None, row values) per variant. ``compiled``:
    (torch.compile mode, the batch size every forward pass is padded to)."""
    first = batch[0]
    started = time.perf_counter()
    context = _context(device, safety_checker)
    model = _model_for(first, device, safety_checker, context, compiled[0] if compiled else None)
    context["render_width"], context["render_height"] = render_size(
        AdFormat(first.format, first.width, first.height), model.native_side
    )
    with step("model inputs"):
        inputs = [model_inputs(v, context["render_width"], context["render_height"], shared_assets()) for v in batch]
    init_images = None if first.mode == "compose" else [image for image, _ in inputs]
    masks = [mask for _, mask in inputs] if first.mode in ("inpaint", "replace", "expand") else None
    output = render.generate(
        model,
        [v.prompt for v in batch],
        [v.negative_prompt for v in batch],
        [v.seed for v in batch],
        context["render_width"],
        context["render_height"],
        first.steps,
        first.guidance,
        first.scheduler,
        init_images,
        masks,
        first.strength,
        shared_assets().image(first.style_image) if first.style_image else None,
        compiled[1] if compiled else None,
    )
    upscaler = upscale.load_upscaler(first.upscaler, device) if first.upscaler else None
    context["render_seconds"] = (time.perf_counter() - started) / len(batch)
    return [
        _result(v, pixels, flagged, context, upscaler) for v, pixels, flagged in zip(batch, output.pixels, output.nsfw)
    ]


_FLAGGED = "the checkpoint's safety checker flagged this image; it was not saved"


def _result(variant: Variant, pixels, flagged: bool, context: dict, upscaler) -> Rendered:
    """One variant's (variant, pixels or None, row values): blocked when the safety checker
    flagged it, else its pixels, enlarged by the upscaler model when one is set and needed."""
    if flagged:
        return variant, None, {**context, "status": "blocked", "error": _FLAGGED}
    resize_method = upscale.LANCZOS
    if upscaler is not None:
        image = Image.fromarray(pixels)
        if upscale.needs_upscale(image, variant.width, variant.height):
            with step("upscale"):
                image = upscale.upscale(upscaler, image, variant.prompt, variant.seed, variant.upscaler_steps)
            pixels, resize_method = np.asarray(image), upscaler.method
    return variant, pixels, {**context, "status": "rendered", "resize_method": resize_method}


def _model_for(
    first: Variant, device: str, safety_checker: bool, context: dict, compile_mode: str | None = None
) -> loading.LoadedModel:
    """The batch's model (loaded once per process) with the batch's adapters set on it."""
    model = loading.load_model(
        loading.ModelSpec(first.model_id, first.revision or None, first.dtype, safety_checker, compile_mode), device
    )
    context["torch_dtype"] = model.dtype
    if safety_checker and getattr(model.pipeline, "safety_checker", None) is None:
        context["safety_checker"] = "absent"
    ip_adapter = (first.ip_adapter, first.ip_adapter_sha256) if first.ip_adapter else None
    use_adapters(model, variant_loras(first), ip_adapter, first.style_scale)
    return model


def _screen_images(rendered: list[Rendered], policy) -> list[Rendered]:
    """The content policy's image checks (image_policy.py) on each rendered image: a match
    is ``blocked`` (with the checks' fingerprint, so a rerun keeps it) and its image dropped
    here, before anything is written."""
    if not policy.image_checkers:
        return rendered
    screened = []
    for variant, image, values in rendered:
        # user checkers are promised a PIL image (docs/policy): one per image, only here
        found = check_image(policy.image_checkers, Image.fromarray(image), variant) if image is not None else None
        if found is not None:
            reason = f"content policy: {found.category} {found.term!r} in the image; it was not saved"
            blocked = {
                **found.columns(),
                "policy_checks": policy.image_checks_id,
                "status": "blocked",
                "error": reason,
            }
            values, image = {**values, **blocked}, None
        screened.append((variant, image, values))
    return screened


def _align(rendered: list[Rendered], clip_model: str, device: str) -> list[Rendered]:
    """Prompt-alignment scores of the batch's generated scenes, in one CLIP pass."""
    kept = [index for index, (_, image, _) in enumerate(rendered) if image is not None]
    if not kept:
        return rendered
    scores = clip.clip_scores(
        clip_model, device, [Image.fromarray(rendered[i][1]) for i in kept], [rendered[i][0].prompt for i in kept]
    )
    aligned = list(rendered)
    for index, score in zip(kept, scores):
        variant, image, values = rendered[index]
        aligned[index] = (variant, image, {**values, **clip.alignment_columns(score)})
    return aligned


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
