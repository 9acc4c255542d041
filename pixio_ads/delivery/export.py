"""From a run's creatives to the files the ad platforms import.

- ``meta``: an Ads Manager bulk-import sheet (XLSX and UTF-8 CSV, headers as Ads Manager
  spells them, everything PAUSED), the images beside it under the names the sheet uses, and
  a zip of both.
- ``google``: a Google Ads Editor CSV of responsive display ads (status Paused), each ad's
  images in a folder named after the ad (Editor takes images through its image picker).
- ``csv``: one row per creative for any other tool.

Mapping (docs/export.md): one ad per idea (product x audience x style x seed); the idea's
formats are its images where the platform has a place for them. An ad set (Meta) / ad group
(Google) per product x audience, or the row's ``ad_set``. Only rows that name the platform in
their ``platforms`` column are exported to it (``validate`` checked them against its limits).

Every export is built in a temporary folder and renamed into place: an interrupted export
leaves the previous one whole.
"""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from openpyxl import Workbook

from pixio_ads.campaign.platforms import CALLS_TO_ACTION, file_size_problem, image_spec
from pixio_ads.core.errors import PixioError
from pixio_ads.core.fileio import replace_folder
from pixio_ads.core.formats import AdFormat
from pixio_ads.delivery.review import has_review, review_columns
from pixio_ads.outputs.manifest import read_table

TARGETS = ("meta", "google", "csv")
EXPORT_DIR = "export"

META_HEADERS = (
    "Campaign Name", "Campaign Status", "Campaign Objective", "Buying Type", "Ad Set Name", "Ad Set Run Status",
    "Ad Name", "Ad Status", "Creative Type", "Title", "Body", "Link Description", "Display Link", "Link",
    "Call to Action", "Image File Name", "URL Tags",
)  # fmt: skip
GOOGLE_HEADERS = (
    "Campaign", "Ad group", "Ad type", *(f"Headline {i}" for i in range(1, 6)), "Long headline",
    *(f"Description {i}" for i in range(1, 6)), "Business name", "Final URL", "Call to action", "Status", "Labels",
)  # fmt: skip
CSV_HEADERS = (
    "file", "bytes", "format", "width", "height", "headline", "cta", "primary_text", "description", "link",
    "call_to_action", "platforms", "campaign_id", "product_id", "audience", "style", "seed", "variant_id",
)  # fmt: skip
# Columns other issues add to the manifest (scores, review); exported when present.
OPTIONAL_CSV_COLUMNS = ("score", "rank", "review_status", "reviewed_by", "reviewed_at")

# Meta feed placements take one image: the first shape of this list the idea has.
META_FEED_ORDER = ("feed portrait", "feed square", "feed landscape")


class ExportError(PixioError):
    pass


@dataclass
class Ad:
    """One idea: a product x audience x style x seed, and its creatives by format."""

    key: tuple
    creatives: list[dict] = field(default_factory=list)

    @property
    def first(self) -> dict:
        return self.creatives[0]

    @property
    def name(self) -> str:
        row = self.first
        return " | ".join((row["product_id"], row["audience"], row["style"], f"v{row['seed_index'] + 1}"))

    @property
    def ad_set(self) -> str:
        return self.first["ad_set"] or f"{self.first['product_name']} - {self.first['audience']}"


@dataclass
class ExportResult:
    target: str
    folder: Path
    files: list[Path]
    ads: int
    images: int
    warnings: list[str] = field(default_factory=list)
    left_out: int = 0  # creatives the platform would refuse (file size)


def export(
    out_dir: str | Path, target: str, dest: str | Path | None = None, approved_only: bool | None = None
) -> ExportResult:
    """Write ``target``'s files for the rendered creatives of ``out_dir`` into ``dest``
    (default OUT/export/TARGET), replacing an earlier export there. ``approved_only``: only
    creatives approved in review (default: yes once a review exists)."""
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}: use one of {', '.join(TARGETS)}")
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
    if target != "csv":
        rows = [row for row in rows if target in _platforms(row)]
        if not rows:
            raise ExportError(
                f"{out_dir}: no rendered creative is for {target}: add {target} to the campaign's platforms column "
                "(validate then checks the platform's limits), run again, then export"
            )
    writer = {"meta": _write_meta, "google": _write_google, "csv": _write_csv}[target]
    return _into_place(dest, lambda folder: writer(out_dir, rows, folder))


def rendered_creatives(out_dir: Path) -> list[dict]:
    """Manifest rows of creatives that exist, in manifest order."""
    manifest = out_dir / "manifest.parquet"
    if not manifest.is_file():
        raise ExportError(f"{out_dir}: no manifest.parquet (run `pixio-ads run CAMPAIGN --out {out_dir}` first)")
    rows = [row for row in read_table(manifest).to_pylist() if row["status"] == "rendered"]
    missing = [row["output_path"] for row in rows if not (out_dir / row["output_path"]).is_file()]
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


def group_ads(rows: Iterable[dict]) -> list[Ad]:
    ads: dict[tuple, Ad] = {}
    for row in rows:
        key = (row["campaign_id"], row["product_id"], row["audience"], row["style"], row["seed_index"])
        ads.setdefault(key, Ad(key)).creatives.append(row)
    return list(ads.values())


def _platforms(row: dict) -> tuple[str, ...]:
    return tuple(part.strip() for part in row["platforms"].split(";") if part.strip())


def _fmt(row: dict) -> AdFormat:
    return AdFormat(row["format"], row["width"], row["height"])


def _by_shape(out_dir: Path, platform: str, ad: Ad, result: ExportResult) -> dict[str, dict]:
    """The ad's creatives by the platform's image shape (the first of each shape), leaving out
    files the platform would refuse."""
    found: dict[str, dict] = {}
    for row in ad.creatives:
        spec = image_spec(platform, _fmt(row))
        if spec and spec.name not in found and _usable(out_dir, platform, row, result):
            found[spec.name] = row
    return found


def _usable(out_dir: Path, platform: str, row: dict, result: ExportResult) -> bool:
    """The platform would take the file (size); a warning names the one it would refuse."""
    problem = file_size_problem(platform, (out_dir / row["output_path"]).stat().st_size)
    if problem:
        result.warnings.append(f"{row['output_path']}: left out of the {platform} export: {problem}")
        result.left_out += 1
    return problem is None


# --- Meta -------------------------------------------------------------------------------


def _write_meta(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("meta", folder, [], 0, 0)
    images = folder / "images"
    images.mkdir()
    sheet: list[list] = []
    for ad in group_ads(rows):
        by_shape = _by_shape(out_dir, "meta", ad, result)
        feed = next((by_shape[name] for name in META_FEED_ORDER if name in by_shape), None)
        for placement, row in (("feed", feed), ("stories", by_shape.get("stories"))):
            if row is not None:
                file_name = _copy(out_dir, row, images)
                sheet.append(_meta_row(ad, row, placement, file_name))
                result.images += 1
        unused = [row["format"] for row in ad.creatives if row not in (feed, by_shape.get("stories"))]
        if unused:
            result.warnings.append(f"{ad.name}: {', '.join(unused)} not used (a Meta ad takes one feed image)")
    result.ads = len(sheet)
    result.files += [
        _write_table_csv(folder / "meta-ads.csv", META_HEADERS, sheet),
        _write_xlsx(folder / "meta-ads.xlsx", META_HEADERS, sheet),
    ]
    result.files.append(_zip(folder / "meta-ads.zip", folder, result.files + sorted(images.iterdir())))
    return result


def _meta_row(ad: Ad, row: dict, placement: str, file_name: str) -> list:
    objective = "Outcome " + row["objective"].replace("_", " ").title()
    tags = _url_tags(
        row["link"],
        utm_source="meta",
        utm_medium="paid_social",
        utm_campaign=row["campaign_id"],
        utm_content=row["variant_id"],  # joins the ad's results back to its manifest row
    )
    return [
        row["campaign_id"], "PAUSED", objective, "AUCTION", ad.ad_set, "PAUSED",
        f"{ad.name} | {placement}", "PAUSED", "Link Page Post Ad", row["headline"],
        row["primary_text"] or row["headline"], row["description"], row["display_link"], row["link"],
        CALLS_TO_ACTION[row["call_to_action"]].meta, file_name, tags,
    ]  # fmt: skip


def _url_tags(link: str, **tags: str) -> str:
    """Tracking parameters Meta appends to the link; those the link already sets are left to it."""
    present = {key for key, _ in parse_qsl(urlsplit(link).query)}
    return urlencode({key: value for key, value in tags.items() if key not in present})


# --- Google -----------------------------------------------------------------------------


def _write_google(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("google", folder, [], 0, 0)
    sheet: list[list] = []
    for ad in group_ads(rows):
        by_shape = _by_shape(out_dir, "google", ad, result)
        if not {"landscape", "square"} <= by_shape.keys():
            have = ", ".join(by_shape) or "none"
            result.warnings.append(
                f"{ad.name}: left out: a responsive display ad needs a landscape and a square image (has {have})"
            )
            continue
        ad_folder = folder / _safe_name(ad.name)
        ad_folder.mkdir()
        for shape, row in by_shape.items():
            _copy(out_dir, row, ad_folder, name=f"{shape}-{row['variant_id']}{Path(row['output_path']).suffix}")
            result.images += 1
        sheet.append(_google_row(ad, ad_folder.name))
    if not sheet:
        raise ExportError(
            "no ad has the landscape and square images a responsive display ad needs: " + "; ".join(result.warnings)
        )
    result.ads = len(sheet)
    result.files.append(_write_table_csv(folder / "google-ads.csv", GOOGLE_HEADERS, sheet))
    return result


def _google_row(ad: Ad, folder_name: str) -> list:
    row = ad.first
    return [
        row["campaign_id"], ad.ad_set, "Responsive display ad", row["headline"], "", "", "", "",
        row["primary_text"] or row["headline"], row["description"], "", "", "", "", row["business_name"],
        row["link"], CALLS_TO_ACTION[row["call_to_action"]].google, "Paused", folder_name,
    ]  # fmt: skip


# --- any other tool ---------------------------------------------------------------------


def _write_csv(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("csv", folder, [], 0, len(rows))
    images = folder / "images"
    images.mkdir()
    extra = [name for name in OPTIONAL_CSV_COLUMNS if name in rows[0]]
    table = []
    for row in rows:
        name = _copy(out_dir, row, images)
        size = (images / name).stat().st_size
        values = [f"images/{name}", size, *(row[column] for column in CSV_HEADERS[2:])]
        table.append(values + [row[column] for column in extra])
    result.ads = len(group_ads(rows))
    result.files.append(_write_table_csv(folder / "creatives.csv", (*CSV_HEADERS, *extra), table))
    return result


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


def _copy(out_dir: Path, row: dict, folder: Path, name: str = "") -> str:
    """Copy the creative into ``folder`` (as ``name``, default its own); returns the name."""
    source = out_dir / row["output_path"]
    name = name or source.name
    shutil.copyfile(source, folder / name)
    return name


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def _safe_name(text: str) -> str:
    """A folder name every OS accepts: ``bottle | runners`` -> ``bottle - runners``."""
    return _UNSAFE.sub("-", text.replace(" | ", " - ")).strip(" .-")[:120]


def _write_table_csv(path: Path, headers: tuple, rows: list[list]) -> Path:
    # UTF-8 with BOM: Excel and Ads Manager read the accents of copy correctly from it.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def _write_xlsx(path: Path, headers: tuple, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Ads"
    sheet.append(list(headers))
    for values in rows:
        sheet.append(values)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # copy is text, never a formula, whatever it starts with
    book.save(path)
    return path


def _zip(path: Path, folder: Path, files: list[Path]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(folder).as_posix())
    return path
