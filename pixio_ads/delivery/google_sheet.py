"""Google: a Google Ads Editor CSV that creates Display campaigns of responsive display ads.

Rows as Editor writes them: a campaign row (Campaign type Display, budget, bid strategy,
dates), an ad group row, then one responsive display ad per idea with its images attached by
path relative to the CSV (``images/...``): the landscape and square marketing images and the
brand kit's logo. A responsive display ad has no portrait image, so 4:5 creatives are not
used. Editor matches headers case- and space-insensitively (Editor help, "CSV file columns");
tests/fixtures/google_editor_headers.txt says where each spelling comes from. Everything is
created Paused.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from pixio_ads.campaign.adsettings import settings_of
from pixio_ads.campaign.copy import MAX_OPTIONS
from pixio_ads.campaign.platforms import CALLS_TO_ACTION, RATIO_TOLERANCE
from pixio_ads.creative.brand import brand_kit_at
from pixio_ads.delivery.adsheet import (
    Ad,
    ExportError,
    ExportResult,
    by_shape,
    copy_creative,
    group_ads,
    image_path,
    safe_name,
    text_options,
    url_tags,
    write_table_csv,
)

GOOGLE_HEADERS = (
    "Campaign", "Campaign type", "Campaign status", "Budget", "Budget type", "Bid strategy type", "Start date",
    "End date", "Ad group", "Ad group status", "Ad type", *(f"Headline {i}" for i in range(1, 6)), "Long headline",
    *(f"Description {i}" for i in range(1, 6)), "Business name", "Final URL", "Final URL suffix", "Call to action",
    "Marketing images", "Square marketing images", "Logo images", "Square logo images", "Status",
)  # fmt: skip
COLUMN = {name: index for index, name in enumerate(GOOGLE_HEADERS)}
CAMPAIGN_SETTINGS = ("Campaign type", "Budget", "Budget type", "Bid strategy type", "Start date", "End date")
# Google's logo shapes for responsive display ads: 4:1 (at least 512x128) and 1:1 (at least 128x128).
LANDSCAPE_LOGO, SQUARE_LOGO_MIN = (4.0, 512, 128), 128


def write_google(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("google", folder, [], 0, 0)
    images = folder / "images"
    images.mkdir()
    logos = _Logos(images / "logos")
    ads, sheet, seen = [], [], set()
    # clean images are alike across headline and CTA options: one ad takes them all as text
    for ad in group_ads(rows, by_copy_option=lambda row: image_path(row, "google") == row["output_path"]):
        shapes = by_shape(out_dir, "google", ad, result)
        if not {"landscape", "square"} <= shapes.keys():
            have = ", ".join(shapes) or "none"
            result.warnings.append(
                f"{ad.name}: left out: a responsive display ad needs a landscape and a square image (has {have})"
            )
            continue
        ad_folder = images / safe_name(ad.name)
        ad_folder.mkdir()
        paths = {}
        for shape, row in shapes.items():
            source = image_path(row, "google")  # the clean image, unless the row chose the creative
            clean = "-clean" if source != row["output_path"] else ""
            name = f"{shape}-{row['variant_id']}{clean}{Path(source).suffix}"
            copy_creative(out_dir, row, ad_folder, name, platform="google")
            paths[shape] = (ad_folder / name).relative_to(folder).as_posix()
            result.images += 1
        ads.append(_ad_row(ad, shapes["landscape"], paths, logos.of(ad.first["brand_kit"])))
    if not ads:
        raise ExportError(
            "no ad has the landscape and square images a responsive display ad needs: " + "; ".join(result.warnings)
        )
    for row in ads:  # each campaign and ad group once, before its first ad; the ad row keeps its own columns
        for level in (_campaign_row(row), _ad_group_row(row)):
            if tuple(level) not in seen:
                seen.add(tuple(level))
                sheet.append(level)
        sheet.append(["" if name in CAMPAIGN_SETTINGS else value for name, value in zip(GOOGLE_HEADERS, row)])
    result.ads = len(ads)
    result.files.append(write_table_csv(folder / "google-ads.csv", GOOGLE_HEADERS, sheet))
    return result


def _ad_row(ad: Ad, row: dict, images: dict[str, str], logos: tuple[str, str]) -> list:
    settings = settings_of(row["ad_settings"])["google"]
    values = dict.fromkeys(GOOGLE_HEADERS, "")
    values.update(
        {
            "Campaign": row["campaign_id"], "Campaign type": "Display", "Budget": settings["daily_budget"],
            "Budget type": "Daily", "Bid strategy type": settings["bid_strategy"],
            "Start date": settings["start_date"], "End date": settings["end_date"], "Ad group": ad.ad_set,
            "Ad type": "Responsive display ad", **_numbered("Headline", _headlines(row)),
            "Long headline": row["primary_text"] or row["headline"],
            **_numbered("Description", text_options(row, "descriptions") or [row["description"]]),
            "Business name": row["business_name"], "Final URL": row["link"],
            "Final URL suffix": _suffix(row), "Call to action": CALLS_TO_ACTION[row["call_to_action"]].google,
            "Marketing images": images["landscape"], "Square marketing images": images["square"],
            "Logo images": logos[0], "Square logo images": logos[1], "Status": "Paused",
        }
    )  # fmt: skip
    return list(values.values())


def _headlines(row: dict) -> list[str]:
    """The drawn headline first, then the language's other headline options."""
    return [row["headline"], *(text for text in text_options(row, "headlines") if text != row["headline"])]


def _numbered(column: str, texts: list[str]) -> dict[str, str]:
    """``Headline 1`` ... ``Headline 5`` (the first five texts)."""
    return {f"{column} {number}": text for number, text in enumerate(texts[:MAX_OPTIONS], start=1)}


def _campaign_row(ad_row: list) -> list:
    row = [ad_row[COLUMN[name]] if name in ("Campaign", *CAMPAIGN_SETTINGS) else "" for name in GOOGLE_HEADERS]
    row[COLUMN["Campaign status"]] = "Paused"
    return row


def _ad_group_row(ad_row: list) -> list:
    row = [ad_row[COLUMN[name]] if name in ("Campaign", "Ad group") else "" for name in GOOGLE_HEADERS]
    row[COLUMN["Ad group status"]] = "Paused"
    return row


def _suffix(row: dict) -> str:
    """UTM parameters Google appends to the final URL; ``utm_content`` is the variant id of
    the ad's landscape image, which joins the ad's results back to the manifest."""
    return url_tags(
        row["link"], utm_source="google", utm_medium="display", utm_campaign=row["campaign_id"],
        utm_content=row["variant_id"],
    )  # fmt: skip


class _Logos:
    """The brand kits' logos as Google takes them, written once per kit: a 4:1 logo as the
    landscape logo, every logo as a square one (padded onto a transparent square)."""

    def __init__(self, folder: Path):
        self.folder, self.done = folder, {}

    def of(self, kit_path: str) -> tuple[str, str]:
        if kit_path not in self.done:
            self.done[kit_path] = self._write(kit_path)
        return self.done[kit_path]

    def _write(self, kit_path: str) -> tuple[str, str]:
        logo = brand_kit_at(kit_path).logo if kit_path else None
        if logo is None:
            return "", ""
        self.folder.mkdir(exist_ok=True)
        image = Image.open(logo).convert("RGBA")
        stem = safe_name(Path(kit_path).parent.name + "-" + logo.stem)
        landscape = ""
        ratio, min_w, min_h = LANDSCAPE_LOGO
        if (
            abs(image.width / image.height / ratio - 1) <= RATIO_TOLERANCE
            and image.width >= min_w
            and image.height >= min_h
        ):
            image.save(self.folder / f"{stem}-4x1.png")
            landscape = f"images/logos/{stem}-4x1.png"
        side = max(image.width, image.height, SQUARE_LOGO_MIN)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.alpha_composite(image, ((side - image.width) // 2, (side - image.height) // 2))
        square.save(self.folder / f"{stem}-1x1.png")
        return landscape, f"images/logos/{stem}-1x1.png"
