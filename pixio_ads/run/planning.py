"""Planning a run: validate and expand the campaign, screen every variant against the
content policy and the quotas (before any rendering), carry earlier results forward, and cut
the rest into shards (one render task each).

Output layout under ``out_dir`` (runner.py renders and merges into it)::

    plan.parquet                      expanded variants (manifest schema, variant columns)
    run.json                          this run's id, start and quota reservations
    shards/shard-<key>.parquet        one manifest shard per render task
    shards/screened.parquet           rows blocked by the policy or skipped by quota
    images/<campaign>/<product>/<format>-<variant_id>.<png|jpg|webp>
    manifest.parquet                  the merged manifest, one row per variant
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pixio_ads.campaign.deliverables import writes_clean
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import Variant, expand
from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.creative.brand import brand_name
from pixio_ads.outputs.manifest import merge, read_table_or_empty, rows_to_table, variants_to_table, write_table
from pixio_ads.render import loading
from pixio_ads.run.finishing import result_row
from pixio_ads.settings import RenderSettings, Safeguards
from pixio_ads.trust.image_policy import kept_block
from pixio_ads.trust.policy import load_policy, screen
from pixio_ads.trust.quota import reserve_for_run, settle_run

logger = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 16  # on CPU: ~10 s of rendering per task with the embedded model
GPU_SHARD_SIZE = 64  # on a GPU 16 images are ~2 s of work: the tail of each shard (its last
# batches still finishing when rendering stops) and the task's own overhead would idle it
PLAN_FILE = "plan.parquet"
SHARDS_DIR = "shards"
MANIFEST_FILE = "manifest.parquet"
SCREENED_FILE = "screened.parquet"  # under SHARDS_DIR: rows blocked by policy or skipped by quota
RUN_FILE = "run.json"  # this run's id, start and quota reservations, for settling them


@dataclass(frozen=True, slots=True)
class Plan:
    plan_path: str
    shards: list[list[str]]  # variant ids, one list per render task
    total: int
    campaign_id: str  # the campaign id of the rows ("a+b" for a file with several)
    warnings: list[str] = field(default_factory=list)
    blocked: int = 0  # by the content policy, never rendered
    skipped: int = 0  # beyond a quota, never rendered


def plan_campaign(
    campaign_path: str | Path,
    out_dir: str | Path,
    overrides: RenderSettings = RenderSettings(),
    limit: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    safeguards: Safeguards = Safeguards(),
    recipe: str | Path | None = None,
) -> Plan:
    """Validate and expand the campaign, check its models resolve, screen every variant
    against the content policy and the quotas (before any rendering), write the plan."""
    out_dir = Path(out_dir)
    started_at = datetime.now(timezone.utc)
    campaign = load_campaign(campaign_path, recipe)
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
    _settle_previous_run(out_dir, earlier)
    policy = load_policy(safeguards.policy)
    blocked = screen(policy, variants, brand_name)
    allowed = [v for v in variants if v.variant_id not in blocked]
    # quota is reserved for what this run will render: earlier complete images cost nothing,
    # nor do images the unchanged image checks blocked before (they are not rendered again)
    to_render = [v for v in allowed if not _done_before(earlier.get(v.variant_id), out_dir, policy.image_checks_id)]
    skipped, reservations = reserve_for_run(to_render, brand_name, safeguards.quotas, safeguards.usage_db)
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
        "image_checks": policy.image_checks_id,  # for shards.shard_complete
        "campaign": str(campaign.path),  # where next-round finds the campaign's rows (results/nextround.py)
    }
    atomic_write_bytes(out_dir / RUN_FILE, json.dumps(run).encode())
    shards = shard_ids([v for v in allowed if v.variant_id not in skipped], shard_size)
    _seed_shards(out_dir, shards, earlier)
    campaign_id = "+".join(sorted({v.campaign_id for v in variants}))
    return Plan(str(plan_path), shards, len(variants), campaign_id, campaign.warnings, len(blocked), len(skipped))


def _policy_row(variant: Variant, match) -> dict:
    values = match.columns()
    return result_row(
        variant,
        "blocked",
        {**values, "error": f"content policy: {match.category} term {match.term!r} in the {match.field}"},
    )


def _done_before(row: dict | None, out_dir: Path, image_checks_id: str) -> bool:
    """An earlier row this run will not render again: a rendered file on disk, or an image the
    same image checks blocked (shards.is_complete has the exact rule, with the sha256)."""
    if row is None:
        return False
    if kept_block(row, image_checks_id):
        return True
    if row["status"] != "rendered" or not row["output_path"] or not (out_dir / row["output_path"]).is_file():
        return False
    return not writes_clean(row.get("deliverables") or "") or bool(
        row.get("clean_path") and (out_dir / row["clean_path"]).is_file()
    )


def _settle_previous_run(out_dir: Path, earlier: dict[str, dict]) -> None:
    """A run killed before its end never settled its quota reservation: settle it now to what
    it rendered (its rows kept in the shards), so each image is charged once, by the run that
    rendered it. Settling a run that did settle changes nothing (settle only lowers)."""
    path = out_dir / RUN_FILE
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except ValueError:  # cut short by a crash without fsync: its reservation stays (errs toward less)
            return
        settle_run(previous, list(earlier.values()))


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
    return {row["variant_id"]: row for row in merge(wanted, [read_table_or_empty(p) for p in sources]).to_pylist()}


def _seed_shards(out_dir: Path, shards: list[list[str]], earlier: dict[str, dict]) -> None:
    """Carry earlier results into this plan's shard files, so each render task finds the
    earlier rows of its own variants in one small file."""
    for ids in shards:
        target = shard_path(out_dir, ids)
        rows = [earlier[vid] for vid in ids if vid in earlier]
        if rows and not target.exists():
            write_table(rows_to_table(rows), target)


def check_models(variants: list[Variant]) -> None:
    """Fail before any rendering when a variant's model, upscaler or VAE path does not exist."""
    for model_id in sorted({v.model_id for v in variants} | {v.upscaler for v in variants if v.upscaler}):
        loading.resolve_source(model_id)
    for vae in sorted({v.vae for v in variants if v.vae}):
        loading.resolve_vae(vae)


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


def reroot_plan(plan_path: str | Path, moves: dict[str, str], dest: str | Path) -> Path:
    """The plan with every path under an ``old`` folder of ``moves`` moved under its ``new``
    one, written to ``dest``: how a fleet worker renders a plan whose campaign files the
    campaign's run fetched into its own cache, from the copy fetched into the worker's."""
    table = pq.read_table(plan_path)
    for index, column in enumerate(table.schema):
        if not pa.types.is_string(column.type):
            continue
        values = table.column(index)
        for old, new in moves.items():
            if old != new:
                values = pc.replace_substring_regex(values, pattern="^" + re.escape(old), replacement=new)
        table = table.set_column(index, column, values)
    return write_table(table, Path(dest))
