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

from pixio_ads.campaign.variants import Variant
from pixio_ads.core.errors import PixioError
from pixio_ads.core.fileio import atomic_write

logger = logging.getLogger(__name__)

# 2: ad platform columns (platforms ... call_to_action), scores and review; 3: ad_settings;
# 4: deliverables and the clean image's columns, language and copy options; 5: expand mode's
# source_has_copy, LoRA adapters and the style reference image (adapters.py); 6: vae; 7: model
# families (model_family) and edit mode (edit_keep_product, product_kept); 8: video creatives (motion ...
# audio_sha256; media_type, frames, poster_path, poster_sha256)
SCHEMA_VERSION = "8"
# Plan columns a version added, with the value older files read as (their variant ids are unchanged).
ADDED_PLAN_COLUMNS = {
    "3": {"ad_settings": ""},
    "4": {
        "deliverables": "creative",
        "language": "en",
        "headline_option": 1,
        "cta_option": 1,
        "copy_options": "",
        "cutout": "auto",
        "min_product_fidelity": 0.0,
    },
    "5": {
        "source_has_copy": "no",
        "lora": "",
        "lora_sha256": "",
        "style_image": "",
        "style_image_sha256": "",
        "ip_adapter": "",
        "ip_adapter_sha256": "",
        "style_scale": 0.0,
    },
    "6": {"vae": ""},
    "7": {"edit_keep_product": "paste"},
    "8": {
        "motion": "none",
        "duration": 6.0,
        "fps": 30,
        "video_model": "",
        "motion_prompt": "",
        "audio": "",
        "audio_sha256": "",
    },
}
VERSION_KEY = b"pixio_ads.schema_version"
STATUSES = ("rendered", "failed", "blocked", "skipped")

# The variant columns come from Variant's fields: Arrow types from the annotations, a wider
# one where a field's metadata names it (``field(metadata={"arrow": "int64"})``).
_ARROW_TYPES = {"str": pa.string(), "int": pa.int32(), "float": pa.float64(), "int64": pa.int64()}
_VARIANT_TYPES: dict[str, pa.DataType] = {
    f.name: _ARROW_TYPES[f.metadata.get("arrow", f.type)] for f in dataclasses.fields(Variant)
}

_RESULT_FIELDS = [
    pa.field("status", pa.string(), nullable=False),  # one of STATUSES
    pa.field("error", pa.string()),
    pa.field("output_path", pa.string()),  # relative to the manifest's folder
    pa.field("output_sha256", pa.string()),
    pa.field("media_type", pa.string()),  # image or video (an MP4 at output_path)
    pa.field("frames", pa.int32()),  # a video's frame count
    pa.field("poster_path", pa.string()),  # a video's poster (its still, copy and all)
    pa.field("poster_sha256", pa.string()),
    pa.field("clean_path", pa.string()),  # the clean image (no copy, button or logo), when written
    pa.field("clean_sha256", pa.string()),
    pa.field("render_width", pa.int32()),  # what the model was asked for, before resize/crop
    pa.field("render_height", pa.int32()),
    pa.field("render_seconds", pa.float64()),
    pa.field("device", pa.string()),
    pa.field("worker", pa.string()),  # host:pid of the process that rendered it
    pa.field("visible_devices", pa.string()),  # its CUDA_VISIBLE_DEVICES (null: unset)
    pa.field("torch_dtype", pa.string()),  # what the weights ran in
    pa.field("model_family", pa.string()),  # render/families.py: sd, sdxl, sd3, flux-dev, ...
    # on, off (disabled by the run), absent (the checkpoint has none), policy (its family has none: the
    # content policy's image checks screened it) or none (nothing screened the image)
    pa.field("safety_checker", pa.string()),
    pa.field("resize_method", pa.string()),  # lanczos, or upscaler:<model id>
    pa.field("cutout_method", pa.string()),  # alpha, mask, flood-fill or none (product used as is)
    # left, top, right, bottom in the creative; "element": how Parquet names list items
    pa.field("product_box", pa.list_(pa.field("element", pa.int32()))),
    pa.field("headline_font_size", pa.int32()),
    pa.field("headline_lines", pa.int32()),
    pa.field("headline_contrast", pa.float64()),  # WCAG ratio against the pixels behind it
    pa.field("headline_scrim", pa.float64()),  # scrim opacity needed to reach it (0: none)
    pa.field("cta_contrast", pa.float64()),
    pa.field("missing_glyphs", pa.string()),  # characters no font could draw, left out
    # scores (scoring.py): each 0-1, 1 best; null where it does not apply
    pa.field("smallest_text_px", pa.int32()),
    pa.field("legibility_score", pa.float64()),
    pa.field("product_visible_share", pa.float64()),
    pa.field("product_canvas_share", pa.float64()),
    pa.field("product_visibility_score", pa.float64()),
    pa.field("safe_zone_ok", pa.bool_()),
    pa.field("safe_zone_score", pa.float64()),
    pa.field("text_coverage", pa.float64()),
    pa.field("text_coverage_score", pa.float64()),
    pa.field("brand_colour_delta_e", pa.float64()),
    pa.field("brand_colour_score", pa.float64()),
    pa.field("sharpness", pa.float64()),
    pa.field("clipped_share", pa.float64()),
    pa.field("flat_share", pa.float64()),
    pa.field("noisy_share", pa.float64()),
    pa.field("image_quality_score", pa.float64()),
    pa.field("clip_score", pa.float64()),
    pa.field("prompt_alignment_score", pa.float64()),
    pa.field("product_ssim", pa.float64()),  # the product's region, result against source (fidelity.py)
    pa.field("product_delta_e", pa.float64()),
    pa.field("product_fidelity_score", pa.float64()),
    pa.field("product_kept", pa.string()),  # edit mode: "edit" (as the model made it) or "pasted" (its own pixels)
    pa.field("score", pa.float64()),
    pa.field("rank", pa.int32()),  # 1 = best of its product x format (rendered creatives only)
    # review (review.py): the last decision on this very file (its sha256)
    pa.field("review_status", pa.string()),  # approved, rejected or unreviewed
    pa.field("reviewed_by", pa.string()),
    pa.field("reviewed_at", pa.timestamp("us", tz="UTC")),
    pa.field("policy_category", pa.string()),  # why the content policy blocked it (null: it did not)
    pa.field("policy_term", pa.string()),
    pa.field("policy_field", pa.string()),  # prompt, negative_prompt, headline, cta or image
    pa.field("policy_checks", pa.string()),  # fingerprint of the image checks that blocked it
    pa.field("watermark_payload", pa.string()),  # 6 hex digits the invisible watermark carries
    pa.field("clean_watermark_payload", pa.string()),  # the clean image's own
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

# What each column means, for docs/manifest.md (generated; a test keeps it complete).
COLUMN_DOCS: dict[str, str] = {
    "variant_id": "Hash of everything that determines the pixels, plus the row's identity; file names use it.",
    "campaign_id": "The row's campaign_id.",
    "product_id": "The row's product_id.",
    "product_name": "The row's product_name.",
    "source_row": "Spreadsheet row the variant comes from (header = row 1).",
    "audience": "One of the row's audiences.",
    "style": "One of the row's styles.",
    "format": "Ad format name (square, portrait, story, landscape) or WxH.",
    "width": "Creative width in pixels.",
    "height": "Creative height in pixels.",
    "seed_index": "0, 1, ... for the row's `variants` images of one combination.",
    "seed": "Random seed of the render.",
    "prompt": "The prompt the template produced.",
    "negative_prompt": "What the model was asked to avoid.",
    "template_name": "Prompt template used.",
    "template_sha256": "Hash of the template file.",
    "model_id": "Checkpoint folder, file, hub id or embedded model.",
    "revision": "Hub revision (empty for local models).",
    "dtype": "Weights precision as requested (auto, fp16, bf16, fp32).",
    "vae": "VAE the images were decoded with instead of the checkpoint's (empty: the checkpoint's own).",
    "scheduler": "Sampler (default = the checkpoint's own).",
    "steps": "Denoising steps.",
    "guidance": "Classifier-free guidance scale.",
    "upscaler": "Upscaler checkpoint (empty: Lanczos resize).",
    "upscaler_steps": "Denoising steps of the upscaler.",
    "headline": "Headline copy.",
    "cta": "Call-to-action copy.",
    "language": "BCP 47 tag of the copy and the AI label (`languages` column; `en` by default).",
    "headline_option": "Which of the language's headline options (1 = `headline`, 2 = `headline_2`, ...).",
    "cta_option": "Which of its CTA options.",
    "copy_options": "JSON: the language's headline, primary text and description options and the row's languages, for the exports.",
    "product_image": "Product shot as written in the spreadsheet.",
    "product_image_sha256": "Hash of the product shot.",
    "mode": "compose, inpaint, restyle, replace or expand.",
    "strength": "How much restyle/replace/inpaint may change (0.05-1).",
    "source_image": "Image restyle/replace/expand started from (empty: the product image).",
    "source_image_sha256": "Its hash.",
    "source_has_copy": "expand: yes when the source carried its own copy (only the AI label was drawn), else no.",
    "replace_mask": "Mask of the replace mode.",
    "replace_mask_sha256": "Its hash.",
    "product_mask": "Cut-out mask of the product.",
    "product_mask_sha256": "Its hash.",
    "cutout": "How the product was to be cut out: auto, none (pasted as it is) or mask.",
    "min_product_fidelity": "The row's product fidelity minimum (0: none): below it the creative is recorded failed "
    "(edit mode: as edit_keep_product says).",
    "edit_keep_product": "edit mode, below min_product_fidelity: paste (the product's own pixels put back where the "
    "edit placed it), fail, or off (recorded only).",
    "lora": "LoRA adapters it rendered with, `path:weight; ...` (the brand kit's and the row's).",
    "lora_sha256": "Their hashes, in the same order.",
    "style_image": "Reference image for style (IP-Adapter); empty: none.",
    "style_image_sha256": "Its hash.",
    "ip_adapter": "IP-Adapter weights the style image went through.",
    "ip_adapter_sha256": "Its hash.",
    "style_scale": "How strongly the style image steered the scene (0: no style image).",
    "anchor": "Product position in its area.",
    "product_scale": "Largest share of the canvas the product may fill.",
    "margin": "Clear margin inside the safe zone (share of the short side).",
    "shadow": "Shadow under the product.",
    "harmonize": "Pull of the product's colour toward the scene's (0-1).",
    "brand_kit": "Brand kit file (empty: the default look).",
    "brand_kit_sha256": "Hash of the kit and its assets.",
    "output_format": "png, jpeg or webp.",
    "quality": "JPEG/WebP quality.",
    "motion": "none (a still), zoom, pan, parallax (camera motion over the still scene) or model (animated by video_model).",
    "duration": "A video's length in seconds.",
    "fps": "A video's frame rate.",
    "video_model": "motion model: the image-to-video checkpoint (empty otherwise).",
    "motion_prompt": "motion model: what the video model was asked to move (empty otherwise).",
    "audio": "The video's music bed (empty: silent).",
    "audio_sha256": "Its hash.",
    "deliverables": "Files written: `creative`, or `creative; clean` with the clean image (scene, product and AI label only).",
    "platforms": "Ad platforms the row is for (`meta; google`), checked by validate, used by export.",
    "link": "Landing page URL.",
    "primary_text": "Ad body (Meta primary text, Google long headline).",
    "description": "Meta link description, Google description.",
    "display_link": "Link shown on Meta ads.",
    "business_name": "Advertiser name on Google ads.",
    "ad_set": "Ad set / ad group name (empty: product name and audience).",
    "objective": "Meta campaign objective.",
    "call_to_action": "Platform call-to-action key (e.g. SHOP_NOW); empty when no platform is named.",
    "ad_settings": "JSON per platform: Page, budget, dates, countries, ages, special ad categories, optimisation, bid strategy (docs/export.md).",
    "status": "rendered, failed, blocked or skipped.",
    "error": "Why it failed, was blocked or skipped (null when rendered).",
    "output_path": "The creative's file, relative to the manifest's folder.",
    "output_sha256": "Hash of that file; a rerun re-renders when it no longer matches.",
    "media_type": "image, or video: output_path is an MP4 (H.264, faststart; docs/outputs.md).",
    "frames": "A video's frame count (duration x fps); null for images.",
    "poster_path": "A video's poster image: its still with the copy in (the thumbnail platforms show before it plays); null for images.",
    "poster_sha256": "Its hash.",
    "clean_path": "The clean image (no copy, button or logo; AI label, watermark, XMP and C2PA of its own), relative to the manifest's folder; null when not written.",
    "clean_sha256": "Hash of the clean image; a rerun re-renders when it no longer matches.",
    "render_width": "Width the model was asked for, before resize and crop.",
    "render_height": "Height the model was asked for.",
    "render_seconds": "Render time per image of its batch.",
    "device": "cuda, mps or cpu.",
    "worker": "host:pid of the process that rendered it.",
    "visible_devices": "CUDA_VISIBLE_DEVICES of that process (which GPU a fleet worker had); null when unset.",
    "torch_dtype": "Precision the weights ran in.",
    "model_family": "The model's family (docs/models.md): sd, sdxl, sd3, flux-dev, flux-schnell, flux-kontext, qwen-image.",
    "safety_checker": "on, off (disabled by the run), absent (the checkpoint has none), policy (its family has no "
    "safety checker; the content policy's image checks screened it) or none (no image screen at all).",
    "resize_method": "lanczos, or upscaler:MODEL.",
    "cutout_method": "alpha, mask, flood-fill or none (product used as is).",
    "product_box": "Where the product (expand: the source image) landed: left, top, right, bottom.",
    "headline_font_size": "Headline size in pixels.",
    "headline_lines": "Lines the headline was wrapped onto.",
    "headline_contrast": "WCAG contrast ratio of the headline against the pixels behind it.",
    "headline_scrim": "Scrim opacity needed to reach it (0: none).",
    "cta_contrast": "WCAG contrast of the button label against the button.",
    "missing_glyphs": "Characters no font could draw, left out.",
    "smallest_text_px": "Size of the smallest copy (headline or button label) in pixels.",
    "legibility_score": "0-1: the copy's worst contrast (3:1 -> 0, 7:1 -> 1) and smallest size (3% of the short side -> 1).",
    "product_visible_share": "Share of the product's pixels not under copy, logo or label.",
    "product_canvas_share": "Share of the canvas the product fills.",
    "product_visibility_score": "0-1: visible share x canvas share (15% or more -> full marks). Null without a product (restyle, replace).",
    "safe_zone_ok": "Copy, logo, label and product all inside the format's safe zone.",
    "safe_zone_score": "0-1: share of their area inside the safe zone.",
    "text_coverage": "Share of the canvas under copy (headline, button, label).",
    "text_coverage_score": "0-1: up to 20% -> 1, 50% or more -> 0.",
    "brand_colour_delta_e": "Mean CIEDE2000 distance of the scene's 5 dominant colours to the nearest brand colour.",
    "brand_colour_score": "0-1: distance 0 -> 1, 40 or more -> 0. Null without a brand kit.",
    "sharpness": "Variance of the Laplacian of the scene (grey, 512 px, 1 px blur first).",
    "clipped_share": "Share of the scene's pixels crushed to black or blown to white.",
    "flat_share": "Share of the scene's 16 px blocks with no detail at all.",
    "noisy_share": "Share of blocks whose fine detail is noise-like.",
    "image_quality_score": "0-1: clipping, flat and noisy areas take their share; a soft scene keeps half.",
    "clip_score": "CLIPScore of prompt and generated scene, 100 x cosine (with --clip-model).",
    "prompt_alignment_score": "0-1: clip_score / 35. Null without a CLIP model.",
    "product_ssim": "Structural similarity of the product's region in the result and in the source (null: no region known).",
    "product_delta_e": "Mean CIEDE2000 colour difference in that region.",
    "product_fidelity_score": "0-1: SSIM x (1 - delta E / 20); 1 where the product's pixels are pasted (compose, inpaint); "
    "in edit mode measured where the edit placed the product, before any paste.",
    "product_kept": "edit mode: edit (the product as the model made it) or pasted (its own pixels put back).",
    "score": "0-1: weighted mean of the component scores that apply (weights: brand kit `scoring.weights`).",
    "rank": "1 = highest score among the rendered creatives of the same campaign, product and format.",
    "review_status": "approved, rejected or unreviewed (the last decision on this file; a re-render is unreviewed).",
    "reviewed_by": "Who made the last decision.",
    "reviewed_at": "When (UTC).",
    "policy_category": "Content-policy category that blocked it (null: none).",
    "policy_term": "The term or pattern that matched.",
    "policy_field": "prompt, negative_prompt, headline, cta, or image (the policy's image checks).",
    "policy_checks": "For an image the policy's image checks blocked: their fingerprint; a rerun under the same checks keeps the block instead of rendering it again.",
    "watermark_payload": "6 hex digits the invisible watermark carries (a hash of the variant id).",
    "clean_watermark_payload": "The clean image's watermark payload (a hash of the variant id and `clean`).",
    "xmp_written": "IPTC/XMP DigitalSourceType (trainedAlgorithmicMedia) embedded.",
    "c2pa_written": "A signed C2PA manifest embedded.",
    "signer": "Subject of the C2PA signing certificate (empty: unsigned).",
    "pixio_ads_version": "Version that wrote the row.",
    "created_at": "When the row was written (UTC).",
}


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
    """Read a plan or manifest, refusing files of another schema version. Result columns added
    within a version (nullable, e.g. ``policy_checks``) read as null from older files."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ManifestError(f"{path}: cannot read as Parquet ({exc})") from None
    version = (table.schema.metadata or {}).get(VERSION_KEY, b"?").decode()
    if version != SCHEMA_VERSION and version not in _READABLE_VERSIONS:
        raise ManifestError(f"{path}: schema version {version}, this pixio-ads reads version {SCHEMA_VERSION}")
    table = _upgrade(table, version)
    for field in schema:
        if field.name not in table.column_names and field.nullable and field.name in RESULT_COLUMNS:
            table = table.append_column(field.name, pa.nulls(len(table), field.type))
    return table.select(schema.names).cast(schema)


_READABLE_VERSIONS = ("2", "3", "4", "5", "6")  # older versions this one upgrades on reading


def _upgrade(table: pa.Table, version: str) -> pa.Table:
    """A table of an older version with the plan columns later versions added, at their defaults."""
    for added_in, columns in ADDED_PLAN_COLUMNS.items():
        if int(version) < int(added_in):
            for name, value in columns.items():
                if name not in table.column_names:
                    table = table.append_column(name, pa.array([value] * len(table), _VARIANT_TYPES[name]))
    return table


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


def with_plan_values(plan: pa.Table, table: pa.Table) -> pa.Table:
    """``table`` (rows in plan order) with the plan's variant columns. Rows carried forward from
    earlier runs have the same pixels (same variant id) but may be stale in what does not
    touch them (a link, the ad copy for the platforms, the row number): the plan's values win."""
    if plan.column("variant_id") != table.column("variant_id"):
        raise ValueError("manifest rows are not in plan order")
    return pa.Table.from_arrays(plan.columns + table.select(RESULT_COLUMNS).columns, schema=MANIFEST_SCHEMA)


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
