"""The units of work a flow schedules: plan a campaign, render one shard, write the manifest.

Plain functions over paths, ids and small values (so Prefect can cache and retry them,
and so they run without Prefect). Output layout under ``out_dir``::

    plan.parquet                      expanded variants (manifest schema, variant columns)
    shards/shard-<key>.parquet        one manifest shard per render task
    images/<campaign>/<product>/<format>-<variant_id>.<png|jpg|webp>
    manifest.parquet                  the merged manifest, one row per variant
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import pyarrow.compute as pc

from pixio_ads import render, upscale
from pixio_ads.brand import brand_kit_at
from pixio_ads.campaign import load_campaign
from pixio_ads.creative import model_inputs
from pixio_ads.errors import ModelLoadError
from pixio_ads.fileio import atomic_write_bytes, sha256_file
from pixio_ads.finishing import Finisher, Rendered, default_workers, result_row, shared_assets
from pixio_ads.formats import AdFormat, render_size
from pixio_ads.manifest import (
    MANIFEST_SCHEMA,
    PLAN_SCHEMA,
    ManifestError,
    merge,
    read_table,
    rows_to_table,
    status_counts,
    table_to_variants,
    variants_to_table,
    write_table,
)
from pixio_ads.policy import DEFAULT_POLICY, load_policy, screen
from pixio_ads.provenance import C2paSigner
from pixio_ads.quota import UsageStore, load_quotas, new_run_id
from pixio_ads.variants import Overrides, Variant, expand

logger = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 16  # on CPU: ~10 s of rendering per task with the embedded model
GPU_SHARD_SIZE = 64  # on a GPU 16 images are ~2 s of work: the tail of each shard (its last
# batches still finishing when rendering stops) and the task's own overhead would idle it
PLAN_FILE = "plan.parquet"
SHARDS_DIR = "shards"
DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY = 2.0  # seconds, doubled at each retry
FLUSH_SECONDS = 5.0  # how often a shard's rows are saved while it renders
MANIFEST_FILE = "manifest.parquet"
SCREENED_FILE = "screened.parquet"  # under SHARDS_DIR: rows blocked by policy or skipped by quota
RUN_FILE = "run.json"  # this run's id, start and quota reservations, for settling them
WORKER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Safeguards:
    """Trust-and-safety settings of a run (paths and small values, so tasks can take them)."""

    policy: str | None = None  # policy file; None: the packaged default
    quotas: str | None = None  # quota file; None: no quotas
    usage_db: str | None = None  # SQLite usage file; None: the default location
    c2pa_cert: str | None = None  # PEM chain, leaf first; None: C2PA signing off
    c2pa_key: str | None = None

    def signer(self) -> C2paSigner | None:
        return C2paSigner.from_files(self.c2pa_cert, self.c2pa_key) if self.c2pa_cert and self.c2pa_key else None


@dataclass(frozen=True, slots=True)
class Plan:
    plan_path: str
    shards: list[list[str]]  # variant ids, one list per render task
    total: int
    campaign_id: str  # the campaign id of the rows ("a+b" for a file with several)
    warnings: list[str] = field(default_factory=list)
    blocked: int = 0  # by the content policy, never rendered
    skipped: int = 0  # beyond a quota, never rendered


@dataclass(frozen=True, slots=True)
class ShardResult:
    path: str  # the shard's manifest file
    variant_ids: list[str]
    rendered: int  # images rendered by this call
    reused: int  # variants whose earlier output was verified and kept
    worker: str  # host:pid of the process that rendered it
    model_loads: int = 0  # pipelines this call had to load (0 when the process had them)
    model_load_seconds: float = 0.0


def model_loads(shards: list[ShardResult]) -> dict[str, tuple[int, float]]:
    """Per worker process: how many model loads its shards caused, and their seconds."""
    loads: dict[str, tuple[int, float]] = {}
    for shard in shards:
        count, seconds = loads.get(shard.worker, (0, 0.0))
        loads[shard.worker] = (count + shard.model_loads, seconds + shard.model_load_seconds)
    return loads


@dataclass(frozen=True, slots=True)
class Summary:
    manifest_path: str
    images_dir: str
    counts: dict[str, int]  # by status, over the whole manifest
    rendered_now: int = 0  # images rendered by this run (the rest were reused)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        counts = ", ".join(f"{count} {status}" for status, count in self.counts.items())
        return f"{self.total} variants: {counts} ({self.rendered_now} rendered by this run)"


def plan_campaign(
    campaign_path: str | Path,
    out_dir: str | Path,
    overrides: Overrides = Overrides(),
    limit: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    safeguards: Safeguards = Safeguards(),
) -> Plan:
    """Validate and expand the campaign, check its models resolve, screen every variant
    against the content policy and the quotas (before any rendering), write the plan."""
    out_dir = Path(out_dir)
    started_at = datetime.now(timezone.utc)
    campaign = load_campaign(campaign_path)
    variants = expand(campaign, overrides, limit)
    check_models(variants)
    signer = safeguards.signer()  # fails now, not after rendering, when the files are wrong
    if signer is None:
        logger.warning(
            "C2PA signing is not configured (--c2pa-cert/--c2pa-key): creatives carry the label, watermark and XMP, no C2PA manifest"
        )
    _remove_temp_files(out_dir)
    plan_path = write_table(variants_to_table(variants), out_dir / PLAN_FILE)
    earlier = _earlier_rows(out_dir, [v.variant_id for v in variants])
    blocked = screen(
        load_policy(Path(safeguards.policy) if safeguards.policy else DEFAULT_POLICY), variants, brand_name
    )
    allowed = [v for v in variants if v.variant_id not in blocked]
    skipped, reservations = _reserve_quota(allowed, earlier, out_dir, safeguards)
    screened = [_policy_row(v, blocked[v.variant_id]) for v in variants if v.variant_id in blocked]
    screened += [
        result_row(v, "skipped", {"error": f"quota reached: {skipped[v.variant_id]}"})
        for v in allowed
        if v.variant_id in skipped
    ]
    screened_path = out_dir / SHARDS_DIR / SCREENED_FILE
    if screened:
        write_table(rows_to_table(screened), screened_path)
    else:
        screened_path.unlink(missing_ok=True)
    run = {
        "run_id": reservations["run_id"],
        "started_at": started_at.isoformat(),
        "usage_db": safeguards.usage_db,
        "groups": reservations["groups"],
    }
    atomic_write_bytes(out_dir / RUN_FILE, json.dumps(run).encode())
    shards = shard_ids([v for v in allowed if v.variant_id not in skipped], shard_size)
    _seed_shards(out_dir, shards, earlier)
    campaign_id = "+".join(sorted({v.campaign_id for v in variants}))
    return Plan(str(plan_path), shards, len(variants), campaign_id, campaign.warnings, len(blocked), len(skipped))


def brand_name(variant: Variant) -> str:
    """The brand a variant speaks for: its brand kit's name ("" without a kit)."""
    return brand_kit_at(variant.brand_kit).name


def _policy_row(variant: Variant, match) -> dict:
    values = {"policy_category": match.category, "policy_term": match.term, "policy_field": match.field}
    return result_row(
        variant,
        "blocked",
        {**values, "error": f"content policy: {match.category} term {match.term!r} in the {match.field}"},
    )


def _reserve_quota(
    variants: list[Variant], earlier: dict[str, dict], out_dir: Path, safeguards: Safeguards
) -> tuple[dict[str, str], dict]:
    """Reserve quota for the variants this run will render (earlier complete ones cost
    nothing); returns the ids beyond quota with the reason, and the reservations."""
    run_id = new_run_id()
    if not safeguards.quotas:
        return {}, {"run_id": run_id, "groups": []}
    config = load_quotas(Path(safeguards.quotas))
    store = UsageStore(Path(safeguards.usage_db)) if safeguards.usage_db else UsageStore()
    todo: dict[tuple[str, str], list[str]] = {}
    for variant in variants:
        row = earlier.get(variant.variant_id)
        if (
            row is not None
            and row["status"] == "rendered"
            and row["output_path"]
            and (out_dir / row["output_path"]).is_file()
        ):
            continue
        todo.setdefault((brand_name(variant), variant.campaign_id), []).append(variant.variant_id)
    skipped: dict[str, str] = {}
    for (brand, campaign), ids in todo.items():
        grant = store.reserve(run_id, brand, campaign, len(ids), config)
        for vid in ids[grant.granted :]:
            skipped[vid] = grant.reason
        if grant.reason:
            logger.warning(
                "quota: %d of %d variant(s) of %s skipped: %s",
                len(ids) - grant.granted,
                len(ids),
                campaign,
                grant.reason,
            )
    return skipped, {"run_id": run_id, "groups": [list(key) for key in todo]}


def _settle_quota(out_dir: Path, table) -> None:
    """Replace this run's reservations by what it rendered (failures are given back)."""
    run_path = out_dir / RUN_FILE
    if not run_path.is_file():
        return
    run = json.loads(run_path.read_text())
    if not run["groups"]:
        return
    store = UsageStore(Path(run["usage_db"])) if run["usage_db"] else UsageStore()
    started_at = datetime.fromisoformat(run["started_at"])
    counts: dict[tuple[str, str], list[float]] = {tuple(group): [0, 0.0] for group in run["groups"]}
    for row in table.to_pylist():
        key = (brand_kit_at(row["brand_kit"]).name, row["campaign_id"])
        if row["status"] == "rendered" and row["created_at"] >= started_at and key in counts:
            counts[key][0] += 1
            counts[key][1] += row["render_seconds"] or 0.0
    for (brand, campaign), (images, seconds) in counts.items():
        store.settle(run["run_id"], brand, campaign, int(images), seconds)


def _remove_temp_files(out_dir: Path) -> None:
    """Temp files of atomic writes that a killed run left behind (never a finished file)."""
    for folder in (out_dir / "images", out_dir / SHARDS_DIR):
        if folder.is_dir():
            for leftover in folder.rglob(".*.tmp"):
                leftover.unlink(missing_ok=True)


def shard_path(out_dir: Path, variant_ids: list[str]) -> Path:
    """A shard's manifest file, named by the variant ids it holds."""
    key = hashlib.sha256("\n".join(variant_ids).encode()).hexdigest()[:16]
    return Path(out_dir) / SHARDS_DIR / f"shard-{key}.parquet"


def _earlier_rows(out_dir: Path, wanted: list[str]) -> dict[str, dict]:
    """The newest earlier row of each wanted variant, from the manifest and any shard files
    (e.g. of a killed run, or of a different sharding)."""
    sources = sorted((out_dir / SHARDS_DIR).glob("shard-*.parquet")) if (out_dir / SHARDS_DIR).is_dir() else []
    if (out_dir / MANIFEST_FILE).is_file():
        sources.insert(0, out_dir / MANIFEST_FILE)
    if not sources:
        return {}
    return {row["variant_id"]: row for row in merge(wanted, [_read_or_empty(p) for p in sources]).to_pylist()}


def _seed_shards(out_dir: Path, shards: list[list[str]], earlier: dict[str, dict]) -> None:
    """Carry earlier results into this plan's shard files, so each render task finds the
    earlier rows of its own variants in one small file."""
    for ids in shards:
        target = shard_path(out_dir, ids)
        rows = [earlier[vid] for vid in ids if vid in earlier]
        if rows and not target.exists():
            write_table(rows_to_table(rows), target)


def _read_or_empty(path: Path):
    """An earlier manifest or shard; an unreadable one (older schema, damaged) counts as empty."""
    try:
        return read_table(path)
    except ManifestError as exc:
        logger.warning("ignoring %s", exc)
        return MANIFEST_SCHEMA.empty_table()


def check_models(variants: list[Variant]) -> None:
    """Fail before any rendering when a variant's model or upscaler path does not exist."""
    for model_id in sorted({v.model_id for v in variants} | {v.upscaler for v in variants if v.upscaler}):
        render.resolve_source(model_id)


def default_shard_size(device: str) -> int:
    return DEFAULT_SHARD_SIZE if device == "cpu" else GPU_SHARD_SIZE


def shard_ids(variants: list[Variant], shard_size: int) -> list[list[str]]:
    """Group variants that share a forward pass together, then cut into shards."""
    ordered = sorted(variants, key=lambda v: v.batch_key)  # stable: keeps plan order within a key
    shards = []
    for _, group in groupby(ordered, key=lambda v: v.batch_key):
        ids = [v.variant_id for v in group]
        shards += [ids[i : i + shard_size] for i in range(0, len(ids), shard_size)]
    return shards


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
) -> ShardResult:
    """Render, composite and save the given variants; keep their rows in the shard's file.

    Variants whose earlier output is still on disk with its recorded sha256 are kept, not
    rendered again. The shard file is rewritten (atomically) at least every FLUSH_SECONDS,
    so a killed run loses at most that much work. A batch that raises is retried ``retries`` times
    with exponential backoff, then its variants are recorded ``failed``; the others go on.
    An image the checkpoint's safety checker flags is not saved; its row is ``blocked``.
    ``finish_workers``: finishing processes (0: a thread here; None: the cores rendering
    does not need, see finishing.default_workers)."""
    out_dir = Path(out_dir)
    plan = read_table(Path(plan_path), PLAN_SCHEMA)
    selected = plan.filter(
        pc.is_in(plan["variant_id"], value_set=pc.cast(variant_ids, plan.schema.field("variant_id").type))
    )
    by_id = {v.variant_id: v for v in table_to_variants(selected)}
    missing = [vid for vid in variant_ids if vid not in by_id]
    if missing:
        raise ValueError(f"{plan_path}: variant ids not in the plan: {', '.join(missing[:5])}")
    target = shard_path(out_dir, variant_ids)
    earlier = {row["variant_id"]: row for row in (_read_or_empty(target).to_pylist() if target.exists() else [])}
    done = {vid: earlier[vid] for vid in variant_ids if vid in earlier and is_complete(earlier[vid], out_dir)}
    _notify_progress(len(done))
    todo = [by_id[vid] for vid in variant_ids if vid not in done]
    device = render.select_device(device)
    batch_size = batch_size or render.default_batch_size(device)
    loads_before, seconds_before = render.load_stats()
    rows = dict(done)
    flushed_at = time.monotonic()

    def absorb(finished: list[dict]) -> None:
        for row in finished:
            rows[row["variant_id"]] = row
        _notify_progress(len(finished))

    def flush() -> None:
        write_table(rows_to_table([rows[vid] for vid in variant_ids if vid in rows]), target)

    # Finishing (composite, copy, watermark, encode, write) runs in other processes while
    # the next batch renders; a bounded queue holds rendering back only when they lag.
    finisher = Finisher(
        out_dir, safeguards.signer(), default_workers(device) if finish_workers is None else finish_workers
    )
    for batch in _batches(todo, batch_size):
        absorb(finisher.submit(_render_batch_with_retries(batch, device, safety_checker, retries, retry_delay)))
        if time.monotonic() - flushed_at >= FLUSH_SECONDS:
            flush()
            flushed_at = time.monotonic()
    absorb(finisher.close())
    flush()
    rendered_count = sum(rows[vid]["status"] == "rendered" for vid in variant_ids if vid not in done)
    loads, load_seconds = render.load_stats()
    return ShardResult(
        str(target),
        variant_ids,
        rendered_count,
        len(done),
        WORKER,
        loads - loads_before,
        load_seconds - seconds_before,
    )


def is_complete(row: dict, out_dir: Path) -> bool:
    """A row needs no new render: blocked by the safety checker, or rendered with its file on disk
    matching the recorded sha256 (a missing or corrupt file means render again)."""
    if row["status"] == "blocked":
        return not row.get("policy_category")  # a policy block is re-decided by every plan
    if row["status"] != "rendered" or not row["output_path"]:
        return False
    path = Path(out_dir) / row["output_path"]
    return path.is_file() and sha256_file(path) == row["output_sha256"]


def shard_complete(out_dir: str | Path, variant_ids: list[str]) -> bool:
    """Whether every variant of a shard has a complete row (see is_complete)."""
    target = shard_path(Path(out_dir), variant_ids)
    if not target.exists():
        return False
    rows = {row["variant_id"]: row for row in _read_or_empty(target).to_pylist()}
    return all(vid in rows and is_complete(rows[vid], Path(out_dir)) for vid in variant_ids)


_progress_listeners: list[Callable[[int], None]] = []


def add_progress_listener(listener: Callable[[int], None]) -> Callable[[], None]:
    """Call ``listener(n)`` whenever n more variants are finished in this process; returns
    a function that removes it. (The CLI's progress bar listens here.)"""
    _progress_listeners.append(listener)
    return lambda: _progress_listeners.remove(listener)


def _notify_progress(count: int) -> None:
    if count:
        for listener in list(_progress_listeners):
            listener(count)


def _batches(variants: list[Variant], batch_size: int) -> Iterator[list[Variant]]:
    for _, group in groupby(variants, key=lambda v: v.batch_key):
        group = list(group)
        yield from (group[i : i + batch_size] for i in range(0, len(group), batch_size))


def _render_batch_with_retries(batch, device, safety_checker, retries, retry_delay) -> list[Rendered]:
    """Retry transient failures (I/O, a flaky device) with exponential backoff. Errors that
    cannot pass by waiting (a bad model path, invalid settings) fail at once."""
    for attempt in range(retries + 1):
        try:
            return _render_batch(batch, device, safety_checker)
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
    context = {"device": device, "worker": WORKER, "safety_checker": "on" if safety_checker else "off"}
    return [(v, None, {**context, "status": "failed", "error": f"{error.__class__.__name__}: {error}"}) for v in batch]


def _render_batch(batch: list[Variant], device: str, safety_checker: bool) -> list[Rendered]:
    """Render one batch (and upscale it when configured); raises on failure (the caller
    retries). Returns (variant, background or None, row values) per variant."""
    first = batch[0]
    started = time.perf_counter()
    context = {"device": device, "worker": WORKER, "safety_checker": "on" if safety_checker else "off"}
    model = render.load_model(
        render.ModelSpec(first.model_id, first.revision or None, first.dtype, safety_checker), device
    )
    context["torch_dtype"] = model.dtype
    if safety_checker and getattr(model.pipeline, "safety_checker", None) is None:
        context["safety_checker"] = "absent"
    context["render_width"], context["render_height"] = render_size(
        AdFormat(first.format, first.width, first.height), model.native_side
    )
    inputs = [model_inputs(v, context["render_width"], context["render_height"], shared_assets()) for v in batch]
    init_images = None if first.mode == "compose" else [image for image, _ in inputs]
    masks = [mask for _, mask in inputs] if first.mode in ("inpaint", "replace") else None
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
    )
    upscaler = upscale.load_upscaler(first.upscaler, device) if first.upscaler else None
    context["render_seconds"] = (time.perf_counter() - started) / len(batch)
    results = []
    for variant, image, flagged in zip(batch, output.images, output.nsfw):
        if flagged:
            results.append(
                (
                    variant,
                    None,
                    {
                        **context,
                        "status": "blocked",
                        "error": "the checkpoint's safety checker flagged this image; it was not saved",
                    },
                )
            )
            continue
        resize_method = upscale.LANCZOS
        if upscaler is not None and upscale.needs_upscale(image, variant.width, variant.height):
            image = upscale.upscale(upscaler, image, variant.prompt, variant.seed, variant.upscaler_steps)
            resize_method = upscaler.method
        results.append((variant, image, {**context, "status": "rendered", "resize_method": resize_method}))
    return results


def write_manifest(plan_path: str | Path, shards: list[ShardResult], out_dir: str | Path) -> Summary:
    """Merge the shards into ``manifest.parquet`` in plan order (atomically), then remove
    shard files that no longer belong to the plan (their rows were carried forward)."""
    out_dir = Path(out_dir)
    order = read_table(Path(plan_path), PLAN_SCHEMA).column("variant_id").to_pylist()
    screened = out_dir / SHARDS_DIR / SCREENED_FILE
    table = merge(
        order,
        [read_table(Path(shard.path)) for shard in shards] + ([read_table(screened)] if screened.is_file() else []),
    )
    if table.num_rows != len(order):
        raise ManifestError(f"{out_dir}: {len(order) - table.num_rows} planned variants have no manifest row")
    manifest_path = write_table(table, out_dir / MANIFEST_FILE)
    _settle_quota(out_dir, table)
    current = {Path(shard.path).name for shard in shards}
    for stale in (out_dir / SHARDS_DIR).glob("shard-*.parquet"):
        if stale.name not in current:
            stale.unlink()
    return Summary(
        str(manifest_path), str(out_dir / "images"), status_counts(table), sum(shard.rendered for shard in shards)
    )
