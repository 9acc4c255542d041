"""The units of work a flow schedules: plan a campaign, render one shard, write the manifest.

Plain functions over paths, ids and small values (so Prefect can cache and retry them,
and so they run without Prefect). Output layout under ``out_dir``::

    plan.parquet                      expanded variants (manifest schema, variant columns)
    shards/shard-<key>.parquet        one manifest shard per render task
    images/<campaign>/<product>/<format>-<variant_id>.png
    manifest.parquet                  the merged manifest, one row per variant
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import pyarrow.compute as pc
from PIL import Image

from pixio_ads import __version__
from pixio_ads.campaign import load_campaign
from pixio_ads.composite import fit_cover, place_product
from pixio_ads.fileio import atomic_write_bytes
from pixio_ads.formats import AdFormat, render_size
from pixio_ads.manifest import PLAN_SCHEMA, RESULT_COLUMNS, merge, read_table, rows_to_table, status_counts, table_to_variants, variants_to_table, write_table
from pixio_ads import render, upscale
from pixio_ads.variants import Overrides, Variant, expand

logger = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 16
PLAN_FILE = "plan.parquet"
MANIFEST_FILE = "manifest.parquet"


@dataclass(frozen=True, slots=True)
class Plan:
    plan_path: str
    shards: list[list[str]]  # variant ids, one list per render task
    total: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Summary:
    manifest_path: str
    images_dir: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def plan_campaign(
    campaign_path: str | Path,
    out_dir: str | Path,
    overrides: Overrides = Overrides(),
    limit: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> Plan:
    """Validate and expand the campaign, check its models resolve, write the plan."""
    campaign = load_campaign(campaign_path)
    variants = expand(campaign, overrides, limit)
    check_models(variants)
    plan_path = write_table(variants_to_table(variants), Path(out_dir) / PLAN_FILE)
    return Plan(str(plan_path), shard_ids(variants, shard_size), len(variants), campaign.warnings)


def check_models(variants: list[Variant]) -> None:
    """Fail before any rendering when a variant's model or upscaler path does not exist."""
    for model_id in sorted({v.model_id for v in variants} | {v.upscaler for v in variants if v.upscaler}):
        render.resolve_source(model_id)


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
) -> str:
    """Render, composite and save the given variants; write their manifest shard. Returns its path.

    A batch that raises marks its variants ``failed`` with the error; the others go on.
    An image the checkpoint's safety checker flags is not saved; its row is ``blocked``."""
    out_dir = Path(out_dir)
    plan = read_table(Path(plan_path), PLAN_SCHEMA)
    selected = plan.filter(pc.is_in(plan["variant_id"], value_set=pc.cast(variant_ids, plan.schema.field("variant_id").type)))
    by_id = {v.variant_id: v for v in table_to_variants(selected)}
    missing = [vid for vid in variant_ids if vid not in by_id]
    if missing:
        raise ValueError(f"{plan_path}: variant ids not in the plan: {', '.join(missing[:5])}")
    device = render.select_device(device)
    batch_size = batch_size or render.default_batch_size(device)
    products: dict[str, Image.Image] = {}
    rows: list[dict] = []
    for batch in _batches([by_id[vid] for vid in variant_ids], batch_size):
        rows += _render_batch(batch, out_dir, device, safety_checker, products)
    shard_key = hashlib.sha256("\n".join(variant_ids).encode()).hexdigest()[:16]
    shard_path = write_table(rows_to_table(rows), out_dir / "shards" / f"shard-{shard_key}.parquet")
    return str(shard_path)


def _batches(variants: list[Variant], batch_size: int) -> Iterator[list[Variant]]:
    for _, group in groupby(variants, key=lambda v: v.batch_key):
        group = list(group)
        yield from (group[i : i + batch_size] for i in range(0, len(group), batch_size))


def _render_batch(batch: list[Variant], out_dir: Path, device: str, safety_checker: bool, products: dict[str, Image.Image]) -> list[dict]:
    first = batch[0]
    started = time.perf_counter()
    context = {"device": device, "safety_checker": "on" if safety_checker else "off"}
    try:
        model = render.load_model(render.ModelSpec(first.model_id, first.revision or None, first.dtype, safety_checker), device)
        context["torch_dtype"] = model.dtype
        if safety_checker and getattr(model.pipeline, "safety_checker", None) is None:
            context["safety_checker"] = "absent"
        context["render_width"], context["render_height"] = render_size(AdFormat(first.format, first.width, first.height), model.native_side)
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
        )
        upscaler = upscale.load_upscaler(first.upscaler, device) if first.upscaler else None
        context["render_seconds"] = (time.perf_counter() - started) / len(batch)
        rows = []
        for variant, image, flagged in zip(batch, output.images, output.nsfw):
            if flagged:
                rows.append(_result(variant, "blocked", context, error="the checkpoint's safety checker flagged this image; it was not saved"))
                continue
            resize_method = upscale.LANCZOS
            if upscaler is not None and upscale.needs_upscale(image, variant.width, variant.height):
                image = upscale.upscale(upscaler, image, variant.prompt, variant.seed, variant.upscaler_steps)
                resize_method = upscaler.method
            path, sha = _save_creative(variant, image, out_dir, products)
            rows.append(_result(variant, "rendered", context, output_path=path, output_sha256=sha, resize_method=resize_method))
        return rows
    except Exception as exc:  # isolate the failure to this batch's variants
        logger.exception("batch of %d variant(s) failed", len(batch))
        context.pop("render_seconds", None)
        return [_result(v, "failed", context, error=f"{exc.__class__.__name__}: {exc}") for v in batch]


def _save_creative(variant: Variant, background: Image.Image, out_dir: Path, products: dict[str, Image.Image]) -> tuple[str, str]:
    """Composite and write the PNG atomically; returns (path relative to out_dir, sha256)."""
    if variant.product_image not in products:
        with Image.open(variant.product_image) as product:
            products[variant.product_image] = product.convert("RGBA")
    creative = place_product(fit_cover(background, variant.width, variant.height), products[variant.product_image])
    buffer = io.BytesIO()
    creative.save(buffer, format="PNG")
    data = buffer.getvalue()
    relative = Path("images") / variant.campaign_id / variant.product_id / f"{variant.format}-{variant.variant_id}.png"
    atomic_write_bytes(out_dir / relative, data)
    return relative.as_posix(), hashlib.sha256(data).hexdigest()


def _result(variant: Variant, status: str, context: dict, **values) -> dict:
    """A manifest row: the variant's columns, then the result columns (missing ones null)."""
    row = {name: getattr(variant, name) for name in PLAN_SCHEMA.names}
    row.update(dict.fromkeys(RESULT_COLUMNS))
    row.update(context, **values, status=status, pixio_ads_version=__version__, created_at=datetime.now(timezone.utc))
    return row


def write_manifest(plan_path: str | Path, shard_paths: list[str], out_dir: str | Path) -> Summary:
    """Merge the shards into ``manifest.parquet`` in plan order (atomically)."""
    out_dir = Path(out_dir)
    order = read_table(Path(plan_path), PLAN_SCHEMA).column("variant_id").to_pylist()
    table = merge(order, [read_table(Path(p)) for p in shard_paths])
    manifest_path = write_table(table, out_dir / MANIFEST_FILE)
    return Summary(str(manifest_path), str(out_dir / "images"), status_counts(table))
