"""From a run's creatives to the files the ad platforms import.

- ``meta``: an Ads Manager bulk-import sheet (XLSX and UTF-8 CSV) and ``images/`` for the
  media library's bulk upload (meta_sheet.py).
- ``google``: a Google Ads Editor CSV of Display campaigns and responsive display ads, and the
  images to attach in Editor (google_sheet.py).
- ``pmax``: a Google Ads Editor CSV of Performance Max campaigns and asset groups, and the
  images to attach in Editor (pmax_sheet.py).
- ``merchant-center``, ``meta-catalog``: supplemental catalogue feeds giving each product its
  generated image (catalogue_feeds.py); every rendered product, whatever its ``platforms``.
- ``csv``: one row per creative for any other tool.

Mapping (docs/export.md): one ad per idea (product x audience x style x seed); the idea's
formats are its images where the platform has a place for them. An ad set (Meta) / ad group
(Google) per product x audience, or the row's ``ad_set``. Only rows that name the platform in
their ``platforms`` column are exported to it (``validate`` checked them against its limits,
and resolved the campaign settings in the manifest's ``ad_settings``).

Every export is built in a temporary folder and renamed into place: an interrupted export
leaves the previous one whole.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pixio_ads.core.fileio import replace_folder
from pixio_ads.delivery.adsheet import (
    ExportError,
    ExportResult,
    copy_creative,
    group_ads,
    row_platforms,
    write_table_csv,
)
from pixio_ads.delivery.catalogue_feeds import FEEDS, write_catalogue_feed
from pixio_ads.delivery.google_sheet import write_google
from pixio_ads.delivery.meta_sheet import write_meta
from pixio_ads.delivery.pmax_sheet import write_pmax
from pixio_ads.delivery.review import has_review, review_columns
from pixio_ads.outputs.manifest import read_table

__all__ = ["TARGETS", "ExportError", "ExportResult", "export", "rendered_creatives"]

TARGETS = ("meta", "google", "pmax", "merchant-center", "meta-catalog", "csv")
CATALOGUE_TARGETS = tuple(FEEDS)  # not ad platforms: no platforms column needed
EXPORT_DIR = "export"

CSV_HEADERS = (
    "file", "bytes", "format", "width", "height", "headline", "cta", "primary_text", "description", "link",
    "call_to_action", "platforms", "campaign_id", "product_id", "audience", "style", "seed", "variant_id",
    "language", "headline_option", "cta_option",
)  # fmt: skip
# Columns other issues add to the manifest (scores, review); exported when present.
OPTIONAL_CSV_COLUMNS = ("score", "rank", "review_status", "reviewed_by", "reviewed_at")


def export(
    out_dir: str | Path,
    target: str,
    dest: str | Path | None = None,
    approved_only: bool | None = None,
    base_url: str | None = None,
) -> ExportResult:
    """Write ``target``'s files for the rendered creatives of ``out_dir`` into ``dest``
    (default OUT/export/TARGET), replacing an earlier export there. ``approved_only``: only
    creatives approved in review (default: yes once a review exists). ``base_url``: where a
    catalogue feed's images/ will be served."""
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}: use one of {', '.join(TARGETS)}")
    if target in CATALOGUE_TARGETS and not base_url:
        raise ExportError(f"--to {target} needs --base-url: the public address its images/ folder will be served from")
    out_dir = Path(out_dir)
    dest = Path(dest) if dest else out_dir / EXPORT_DIR / target
    rows = _with_decisions(rendered_creatives(out_dir), out_dir)
    if approved_only is None:
        approved_only = has_review(out_dir)
    if approved_only:
        rows = [row for row in rows if row["review_status"] == "approved"]
        if not rows:
            raise ExportError(
                f"{out_dir}: no creative is approved yet: approve some with `pixio-ads review {out_dir}` "
                "(or export every creative with --all)"
            )
    if target in CATALOGUE_TARGETS:
        return _into_place(dest, lambda folder: write_catalogue_feed(out_dir, rows, folder, target, base_url))
    if target != "csv":
        rows = [row for row in rows if target in row_platforms(row)]
        if not rows:
            raise ExportError(
                f"{out_dir}: no rendered creative is for {target}: add {target} to the campaign's platforms column "
                "(validate then checks the platform's limits), run again, then export"
            )
    writer = {"meta": write_meta, "google": write_google, "pmax": write_pmax, "csv": _write_csv}[target]
    return _into_place(dest, lambda folder: writer(out_dir, rows, folder))


def rendered_creatives(out_dir: Path) -> list[dict]:
    """Manifest rows of creatives that exist, in manifest order."""
    manifest = out_dir / "manifest.parquet"
    if not manifest.is_file():
        raise ExportError(f"{out_dir}: no manifest.parquet (run `pixio-ads run CAMPAIGN --out {out_dir}` first)")
    rows = [row for row in read_table(manifest).to_pylist() if row["status"] == "rendered"]
    files = [path for row in rows for path in (row["output_path"], row["clean_path"], row.get("poster_path")) if path]
    missing = [path for path in files if not (out_dir / path).is_file()]
    if missing:
        raise ExportError(
            f"{out_dir}: {len(missing)} rendered creative(s) are missing, e.g. {missing[0]} "
            "(run the same command again: missing files are rendered again)"
        )
    if not rows:
        raise ExportError(f"{out_dir}: the manifest has no rendered creative to export")
    return rows


def _with_decisions(rows: list[dict], out_dir: Path) -> list[dict]:
    """The rows with the review's current decisions (the manifest's copy may be older)."""
    columns = review_columns(rows, out_dir)
    decided = {name: values.to_pylist() for name, values in columns.items()}
    return [{**row, **{name: decided[name][index] for name in decided}} for index, row in enumerate(rows)]


# --- any other tool ---------------------------------------------------------------------


def _write_csv(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("csv", folder, [], 0, len(rows))
    images = folder / "images"
    images.mkdir()
    extra = [name for name in OPTIONAL_CSV_COLUMNS if name in rows[0]]
    with_clean = any(row["clean_path"] for row in rows)
    table = []
    for row in rows:
        name = copy_creative(out_dir, row, images)
        size = (images / name).stat().st_size
        values = [f"images/{name}", size, *(row[column] for column in CSV_HEADERS[2:])]
        if with_clean:
            values.append(_copy_clean(out_dir, row, images))
        table.append(values + [row[column] for column in extra])
    headers = (*CSV_HEADERS, *(["clean_file"] if with_clean else []), *extra)
    result.ads = len(group_ads(rows))
    result.files.append(write_table_csv(folder / "creatives.csv", headers, table))
    return result


def _copy_clean(out_dir: Path, row: dict, images: Path) -> str:
    """The row's clean image copied beside its creative ("" when it has none)."""
    if not row["clean_path"]:
        return ""
    shutil.copyfile(out_dir / row["clean_path"], images / Path(row["clean_path"]).name)
    return f"images/{Path(row['clean_path']).name}"


# --- files ------------------------------------------------------------------------------


def _into_place(dest: Path, build) -> ExportResult:
    """Build the export beside ``dest`` and swap it in (fileio.replace_folder)."""
    staging: list[Path] = []

    def build_in(folder: Path) -> ExportResult:
        staging.append(folder)
        return build(folder)

    result = replace_folder(dest, build_in)
    result.folder = dest
    result.files = [dest / path.relative_to(staging[0]) for path in result.files]
    return result
