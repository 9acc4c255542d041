"""The Parquet manifest: one row per variant with everything to reproduce or audit it.

The schema is declared once, here, and versioned in the file's metadata. The plan (the
expanded variants before rendering) uses the variant columns of the same schema.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixio_ads.errors import PixioError
from pixio_ads.fileio import atomic_write
from pixio_ads.variants import Variant

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
VERSION_KEY = b"pixio_ads.schema_version"
STATUSES = ("rendered", "failed", "blocked", "skipped")

_VARIANT_TYPES: dict[str, pa.DataType] = {
    "variant_id": pa.string(),
    "campaign_id": pa.string(),
    "product_id": pa.string(),
    "product_name": pa.string(),
    "source_row": pa.int32(),
    "audience": pa.string(),
    "style": pa.string(),
    "format": pa.string(),
    "width": pa.int32(),
    "height": pa.int32(),
    "seed_index": pa.int32(),
    "seed": pa.int64(),
    "prompt": pa.string(),
    "negative_prompt": pa.string(),
    "template_name": pa.string(),
    "template_sha256": pa.string(),
    "model_id": pa.string(),
    "revision": pa.string(),
    "dtype": pa.string(),  # as requested (auto, fp16, bf16, fp32)
    "scheduler": pa.string(),
    "steps": pa.int32(),
    "guidance": pa.float64(),
    "upscaler": pa.string(),
    "upscaler_steps": pa.int32(),
    "headline": pa.string(),
    "cta": pa.string(),
    "product_image": pa.string(),
    "product_image_sha256": pa.string(),
    "mode": pa.string(),
    "strength": pa.float64(),
    "source_image": pa.string(),
    "source_image_sha256": pa.string(),
    "replace_mask": pa.string(),
    "replace_mask_sha256": pa.string(),
    "product_mask": pa.string(),
    "product_mask_sha256": pa.string(),
    "anchor": pa.string(),
    "product_scale": pa.float64(),
    "margin": pa.float64(),
    "shadow": pa.string(),
    "harmonize": pa.float64(),
    "brand_kit": pa.string(),
    "brand_kit_sha256": pa.string(),
    "output_format": pa.string(),
    "quality": pa.int32(),
}
assert list(_VARIANT_TYPES) == [f.name for f in dataclasses.fields(Variant)], "schema and Variant out of sync"

_RESULT_FIELDS = [
    pa.field("status", pa.string(), nullable=False),  # one of STATUSES
    pa.field("error", pa.string()),
    pa.field("output_path", pa.string()),  # relative to the manifest's folder
    pa.field("output_sha256", pa.string()),
    pa.field("render_width", pa.int32()),  # what the model was asked for, before resize/crop
    pa.field("render_height", pa.int32()),
    pa.field("render_seconds", pa.float64()),
    pa.field("device", pa.string()),
    pa.field("worker", pa.string()),  # host:pid of the process that rendered it
    pa.field("torch_dtype", pa.string()),  # what the weights ran in
    pa.field("safety_checker", pa.string()),  # on, off (disabled by the run) or absent (checkpoint has none)
    pa.field("resize_method", pa.string()),  # lanczos, or upscaler:<model id>
    pa.field("cutout_method", pa.string()),  # alpha, mask, flood-fill or none (product used as is)
    pa.field(
        "product_box", pa.list_(pa.field("element", pa.int32()))
    ),  # "element": how Parquet names list items  # left, top, right, bottom in the creative
    pa.field("headline_font_size", pa.int32()),
    pa.field("headline_lines", pa.int32()),
    pa.field("headline_contrast", pa.float64()),  # WCAG ratio against the pixels behind it
    pa.field("headline_scrim", pa.float64()),  # scrim opacity needed to reach it (0: none)
    pa.field("cta_contrast", pa.float64()),
    pa.field("missing_glyphs", pa.string()),  # characters no font could draw, left out
    pa.field("policy_category", pa.string()),  # why the content policy blocked it (null: it did not)
    pa.field("policy_term", pa.string()),
    pa.field("policy_field", pa.string()),  # prompt, negative_prompt, headline or cta
    pa.field("watermark_payload", pa.string()),  # 6 hex digits the invisible watermark carries
    pa.field("xmp_written", pa.bool_()),  # IPTC DigitalSourceType etc. embedded
    pa.field("c2pa_written", pa.bool_()),  # a signed C2PA manifest embedded
    pa.field("signer", pa.string()),  # the C2PA signing certificate's subject ("" unsigned)
    pa.field("pixio_ads_version", pa.string()),
    pa.field("created_at", pa.timestamp("us", tz="UTC")),
]

_METADATA = {VERSION_KEY: SCHEMA_VERSION.encode()}
PLAN_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=False) for name, kind in _VARIANT_TYPES.items()], metadata=_METADATA
)
MANIFEST_SCHEMA = pa.schema(list(PLAN_SCHEMA) + _RESULT_FIELDS, metadata=_METADATA)
RESULT_COLUMNS = [field.name for field in _RESULT_FIELDS]


class ManifestError(PixioError):
    pass


def variants_to_table(variants: list[Variant]) -> pa.Table:
    columns = {name: [getattr(v, name) for v in variants] for name in _VARIANT_TYPES}
    return pa.Table.from_pydict(columns, schema=PLAN_SCHEMA)


def table_to_variants(table: pa.Table) -> list[Variant]:
    return [Variant(**row) for row in table.select(list(_VARIANT_TYPES)).to_pylist()]


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Manifest rows (variant columns + result columns, as dicts) -> a table of MANIFEST_SCHEMA."""
    for row in rows:
        if row["status"] not in STATUSES:
            raise ValueError(f"status {row['status']!r} is not one of {STATUSES}")
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)


def write_table(table: pa.Table, path: Path) -> Path:
    """Write atomically: readers never see a half-written Parquet file."""
    return atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp))


def read_table(path: Path, schema: pa.Schema = MANIFEST_SCHEMA) -> pa.Table:
    """Read a plan or manifest, refusing files of another schema version."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ManifestError(f"{path}: cannot read as Parquet ({exc})") from None
    version = (table.schema.metadata or {}).get(VERSION_KEY, b"?").decode()
    if version != SCHEMA_VERSION:
        raise ManifestError(f"{path}: schema version {version}, this pixio-ads reads version {SCHEMA_VERSION}")
    return table.select(schema.names).cast(schema)


def merge(order: list[str], tables: list[pa.Table]) -> pa.Table:
    """One row per variant id in ``order`` (ids not in it are dropped); where tables repeat a
    variant the newest row (``created_at``) wins, the later table on a tie."""
    wanted = set(order)
    latest: dict[str, dict] = {}
    for table in tables:
        for row in table.to_pylist():
            vid = row["variant_id"]
            if vid in wanted and (vid not in latest or row["created_at"] >= latest[vid]["created_at"]):
                latest[vid] = row
    return rows_to_table([latest[vid] for vid in order if vid in latest])


def status_counts(table: pa.Table) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status in table.column("status").to_pylist():
        counts[status] += 1
    return counts


def read_table_or_empty(path: Path) -> pa.Table:
    """An earlier manifest or shard; an unreadable one (older schema, damaged) counts as
    empty, with a warning: its variants are rendered again."""
    try:
        return read_table(path)
    except ManifestError as exc:
        logger.warning("ignoring %s", exc)
        return MANIFEST_SCHEMA.empty_table()
