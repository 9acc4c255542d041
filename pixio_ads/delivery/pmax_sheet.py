"""Google Performance Max: a Google Ads Editor CSV of Performance Max campaigns and their asset
groups, with the images to attach listed in ``google-images.csv`` (google_common.py).

A campaign row (Campaign type ``Performance max``, budget, bid strategy, EU political ads,
dates, Paused), then one asset group per product and language (Paused) with its final URL,
3-15 headlines, 1-5 long headlines, 2-5 descriptions and the business name, gathered from the
copy options of the rows that make it (assetgroups.py has the limits). Its images: the
approved (or every) image of each shape the group takes, landscape 1.91:1, square 1:1,
portrait 4:5 and tall 9:16, the clean ones unless the row chose the creatives, one per idea
and shape, 20 at most (best-ranked first, a landscape and a square always); its logos: the
brand kit's, as a square logo and, when 4:1, a landscape one. The spellings and where they come
from: tests/fixtures/export/pmax-header.csv.
"""

from __future__ import annotations

from pathlib import Path

from pixio_ads.campaign.assetgroups import MAX_IMAGES, TEXT_ASSETS
from pixio_ads.delivery.adsheet import (
    ExportError,
    ExportResult,
    by_shape,
    copy_creative,
    group_ads,
    image_path,
    safe_name,
    text_options,
    write_table_csv,
)
from pixio_ads.delivery.google_common import (
    CAMPAIGN_COLUMNS,
    AttachList,
    Logos,
    campaign_rows,
    final_url_suffix,
    image_file_name,
    numbered,
    without_videos,
)

LIMITS = {asset.kind: asset for asset in TEXT_ASSETS}
PLURAL = {"headline": "headlines", "primary_text": "primary_texts", "description": "descriptions"}  # copy_options keys
PMAX_HEADERS = (
    *CAMPAIGN_COLUMNS, "Asset group", "Asset group status", "Final URL", "Final URL suffix",
    *(f"Headline {i}" for i in range(1, LIMITS["headline"].maximum + 1)),
    *(f"Long headline {i}" for i in range(1, LIMITS["primary_text"].maximum + 1)),
    *(f"Description {i}" for i in range(1, LIMITS["description"].maximum + 1)), "Business name",
)  # fmt: skip
# Editor's names of an asset group's image fields (the API's MARKETING_IMAGE, SQUARE_MARKETING_IMAGE,
# PORTRAIT_MARKETING_IMAGE, TALL_PORTRAIT_MARKETING_IMAGE, LOGO, LANDSCAPE_LOGO).
IMAGE_FIELDS = {"landscape": "Landscape image", "square": "Square image", "portrait": "Portrait image",
                "tall": "Tall portrait image"}  # fmt: skip
REQUIRED_SHAPES = ("landscape", "square")


def write_pmax(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("pmax", folder, [], 0, 0, unit="asset group")
    rows = without_videos(out_dir, rows, folder, result)
    if not rows:  # videos only: their upload list is the export
        return result
    images, attach = folder / "images", AttachList(folder)
    images.mkdir()
    logos = Logos(images / "logos")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["campaign_id"], row["product_id"], row.get("language") or "en"), []).append(row)
    lines, used = [], []
    for members in groups.values():
        values = _asset_group(out_dir, members, images, attach, logos, result)
        if values is not None:
            lines.append(values)
            used += members
    if not lines:
        raise ExportError("no asset group has what Performance Max requires: " + "; ".join(result.warnings))
    campaigns = campaign_rows(used, "pmax", "Performance max", result)
    sheet, seen = [], set()
    for values in lines:
        if values["Campaign"] not in seen:
            seen.add(values["Campaign"])
            sheet.append([campaigns[values["Campaign"]].get(name, "") for name in PMAX_HEADERS])
        sheet.append([values.get(name, "") for name in PMAX_HEADERS])
    result.ads = len(lines)
    result.files += [write_table_csv(folder / "pmax-asset-groups.csv", PMAX_HEADERS, sheet), attach.write()]
    return result


def group_name(row: dict) -> str:
    """The product's name, and the language where the row has several."""
    several = len(text_options(row, "languages")) > 1
    return row["product_name"] + (f" | {row['language']}" if several else "")


def _asset_group(
    out_dir: Path, members: list[dict], images: Path, attach: AttachList, logos: Logos, result: ExportResult
) -> dict | None:
    """The asset group's row values, its images copied and listed; None (with a warning) when
    it lacks what Performance Max requires."""
    first, name = members[0], group_name(members[0])
    texts = {kind: _texts(members, kind) for kind in LIMITS}
    chosen = _images(out_dir, members, result)
    landscape_logo, square_logo = logos.of(first["brand_kit"])
    lacking = [shape for shape in REQUIRED_SHAPES if shape not in {shape for shape, _ in chosen}]
    lacking += [LIMITS[kind].name for kind, found in texts.items() if len(found) < LIMITS[kind].minimum]
    lacking += ["a logo (the brand kit has none)"] * (square_logo is None)
    if lacking:
        result.warnings.append(f"{name}: left out: Performance Max needs {', '.join(lacking)}")
        return None
    for kind, found in texts.items():
        if len(found) > LIMITS[kind].maximum:
            result.warnings.append(f"{name}: {len(found) - LIMITS[kind].maximum} {LIMITS[kind].name} left out")
    group_folder = images / safe_name(f"{first['campaign_id']} - {name}")
    group_folder.mkdir()
    for shape, row in chosen:
        file = copy_creative(out_dir, row, group_folder, image_file_name(row, "pmax", shape), "pmax")
        attach.add(first["campaign_id"], name, "", IMAGE_FIELDS[shape], group_folder / file, row["variant_id"])
    for field, logo in (("Logo", square_logo), ("Landscape logo", landscape_logo)):
        if logo is not None:
            attach.add(first["campaign_id"], name, "", field, logo)
    result.images += len(chosen)
    return {
        "Campaign": first["campaign_id"], "Asset group": name, "Asset group status": "Paused",
        "Final URL": first["link"], "Final URL suffix": final_url_suffix(first, "pmax", first["product_id"]),
        **numbered("Headline", texts["headline"], LIMITS["headline"].maximum),
        **numbered("Long headline", texts["primary_text"], LIMITS["primary_text"].maximum),
        **numbered("Description", texts["description"], LIMITS["description"].maximum),
        "Business name": first["business_name"],
    }  # fmt: skip


def _texts(members: list[dict], kind: str) -> list[str]:
    """Every option of ``kind`` the group's rows carry, in order, each once: the drawn headline
    first; a long headline falls back to the headline, a description to the row's one."""
    found: list[str] = []
    for row in members:
        options = text_options(row, PLURAL[kind]) or ([row[kind]] if row[kind] else [])
        if kind == "headline" or (kind == "primary_text" and not options):
            options = [row["headline"], *options]
        for text in options:
            if text not in found:
                found.append(text)
    return found


def _images(out_dir: Path, members: list[dict], result: ExportResult) -> list[tuple[str, dict]]:
    """(shape, row) of the images the group takes: one per idea and shape (the clean images of
    its copy options are alike), best-ranked first, a landscape and a square kept, 20 at most."""
    candidates = []
    for ad in group_ads(members, by_copy_option=lambda row: image_path(row, "pmax") == row["output_path"]):
        candidates += by_shape(out_dir, "pmax", ad, result).items()
    candidates.sort(key=lambda item: (item[1].get("rank") or 1_000_000, item[1]["variant_id"]))
    keep = [next(item for item in candidates if item[0] == shape) for shape in REQUIRED_SHAPES
            if any(item[0] == shape for item in candidates)]  # fmt: skip
    keep += [item for item in candidates if item not in keep][: MAX_IMAGES - len(keep)]
    if len(candidates) > MAX_IMAGES:
        result.warnings.append(
            f"{group_name(members[0])}: {len(candidates) - MAX_IMAGES} images left out (20 at most)"
        )
    return keep
